//! The hand-rolled "queue unless already pending" that a closure pool needs for a
//! coalescing item.

use std::sync::atomic::{AtomicBool, Ordering};

/// The usual `AtomicBool` flag: the producer swaps it to `true` before submitting
/// and submits only if it was `false`; the job swaps it back to `false` first
/// thing. Both sides are read-modify-writes with acquire-release ordering, so a
/// job that clears the flag sees everything the producers wrote before their swaps
/// (a plain store in the job would lose wake-ups). What the flag cannot give is
/// "never two runs at once": once the job cleared it, the next call submits a
/// second job that another thread may start while the first still runs.
#[derive(Default)]
pub(crate) struct Flag(AtomicBool);

impl Flag {
    /// The producer's side: whether the caller must submit a job.
    #[inline]
    pub(crate) fn raise(&self) -> bool {
        !self.0.swap(true, Ordering::AcqRel)
    }

    /// The job's side, first thing in the job.
    #[inline]
    pub(crate) fn clear(&self) {
        self.0.swap(false, Ordering::AcqRel);
    }
}
