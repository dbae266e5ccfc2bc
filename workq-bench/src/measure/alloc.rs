//! Heap bytes from the counting allocator of stats_alloc.
//!
//! The workspace forbids unsafe code, so the allocator wrapper comes from a crate.
//! A front end that wants the memory rows installs it as its global allocator:
//!
//! ```ignore
//! #[global_allocator]
//! static GLOBAL: &workq_bench::StatsAlloc<std::alloc::System> =
//!     &workq_bench::INSTRUMENTED_SYSTEM;
//! ```
//!
//! Without it the counters stay at zero and the memory rows say "n/a".

use stats_alloc::INSTRUMENTED_SYSTEM;

/// Live heap bytes and blocks at one instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Heap {
    /// Bytes requested and not yet freed.
    pub bytes: i64,
    /// Blocks allocated and not yet freed.
    pub blocks: i64,
}

impl Heap {
    /// The counters now.
    pub fn now() -> Heap {
        let s = INSTRUMENTED_SYSTEM.stats();
        // stats_alloc adds growing reallocations to bytes_allocated and shrinking
        // ones to bytes_deallocated.
        let signed = |v: usize| i64::try_from(v).unwrap_or(i64::MAX);
        Heap {
            bytes: signed(s.bytes_allocated) - signed(s.bytes_deallocated),
            blocks: signed(s.allocations) - signed(s.deallocations),
        }
    }

    /// Bytes per item added since `earlier`, over `n` items.
    pub fn bytes_per(self, earlier: Heap, n: usize) -> f64 {
        (self.bytes - earlier.bytes) as f64 / n.max(1) as f64
    }

    /// Blocks per item added since `earlier`, over `n` items.
    pub fn blocks_per(self, earlier: Heap, n: usize) -> f64 {
        (self.blocks - earlier.blocks) as f64 / n.max(1) as f64
    }
}

/// Allocation calls and bytes requested since the process started (frees not
/// subtracted): what a piece of code allocated, whatever it freed again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Totals {
    /// Allocations and reallocations made.
    pub calls: u64,
    /// Bytes requested by them (a growing reallocation counts its growth).
    pub bytes: u64,
}

impl Totals {
    /// The counters now.
    pub fn now() -> Totals {
        let s = INSTRUMENTED_SYSTEM.stats();
        let wide = |v: usize| u64::try_from(v).unwrap_or(u64::MAX);
        Totals {
            calls: wide(s.allocations) + wide(s.reallocations),
            bytes: wide(s.bytes_allocated),
        }
    }

    /// (allocation calls, bytes) per item made since `earlier`, over `n` items.
    pub fn per(self, earlier: Totals, n: usize) -> (f64, f64) {
        let n = n.max(1) as f64;
        (
            self.calls.saturating_sub(earlier.calls) as f64 / n,
            self.bytes.saturating_sub(earlier.bytes) as f64 / n,
        )
    }
}

/// Whether the counting allocator is this process's global allocator (an
/// allocation moves its counters).
pub fn counting() -> bool {
    let before = INSTRUMENTED_SYSTEM.stats().allocations;
    let probe = std::hint::black_box(Box::new([0u8; 64]));
    let after = INSTRUMENTED_SYSTEM.stats().allocations;
    drop(probe);
    after > before
}
