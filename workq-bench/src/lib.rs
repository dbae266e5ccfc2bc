//! # workq-bench: workq against its peers
//!
//! The benchmark scenarios of workq, written once and run by two front ends: the
//! the `workq-bench` binary command and `cargo bench -p workq-bench` (a `harness = false`
//! bench). Each scenario runs workq and its peers, each on the same thread budget,
//! and returns a [`Section`] of rows; every row shows workq's ratio to the best
//! peer and, where workq has one, its target (shown, never asserted).
//!
//! | scenario | what |
//! |----------|------|
//! | `throughput` | 1,000,000 tiny items from one producer into 2 threads |
//! | `wake` | idle pool, one item: submit -> start p50 / p99 / p99.9 |
//! | `coalescing` | 10,000,000 queue calls on one item that runs ~1 µs; lost calls, overlapping runs |
//! | `chain` | a job that queues its own next run, 1,000,000 runs: ns per run |
//! | `timers` | 200,000 delayed items (1..200 ms), every second one cancelled |
//! | `burst` | 2,000 items that block 1 ms, at most 16 threads; threads left after the idle timeout |
//! | `memory` | heap bytes per idle, queued and armed item |
//! | `flush` | a held backlog emptied while a flush waits; many async flushers |
//! | `jobs` | one-shot jobs with results into 2 threads: spawn + join, batch spawn, heap per job |
//!
//! Peers: tokio (`spawn_blocking`, timers, tokio-util's `DelayQueue`), rayon
//! (`ThreadPool::spawn`), threadpool, scheduled-thread-pool and a hand-rolled
//! crossbeam-channel pool. A peer that lacks "queue unless already pending" uses
//! the usual `AtomicBool` flag.
//!
//! The memory rows need the counting allocator of stats_alloc as the global
//! allocator of the binary (the workspace forbids unsafe code, so it comes from a
//! crate); both front ends install it:
//!
//! ```ignore
//! #[global_allocator]
//! static GLOBAL: &workq_bench::StatsAlloc<std::alloc::System> =
//!     &workq_bench::INSTRUMENTED_SYSTEM;
//! ```
//!
//! ```no_run
//! use workq_bench::{Options, Scenario, Sizes};
//! let options = Options {
//!     scenarios: vec![Scenario::Coalescing],
//!     sizes: Sizes::quick(),
//!     quick: true,
//!     progress: false,
//! };
//! let report = workq_bench::run(&options, "example");
//! assert_eq!(report.workq_violations(), 0);
//! println!("{}", workq_bench::report::to_table(&report));
//! ```

pub mod cli;
mod machine;
pub mod measure;
mod options;
mod peers;
pub mod plot;
mod progress;
pub mod report;
mod scenarios;

pub use machine::Machine;
pub use options::{Options, Scenario, Sizes};
pub use progress::Progress;
pub use report::{Better, Report, Row, Section, Target};
/// The JSON library of [`report::to_json`], for programs that read the results.
pub use serde_json;
pub use stats_alloc::{StatsAlloc, INSTRUMENTED_SYSTEM};

use std::time::Instant;

/// Runs the scenarios of `options` and collects their results. `command` is
/// recorded in the report (how to reproduce it).
pub fn run(options: &Options, command: &str) -> Report {
    let start = Instant::now();
    let machine = Machine::current();
    let mut progress = Progress::new(options.progress, options.scenarios.len());
    // The global allocator cannot change while the process runs: what it is now
    // is what every row was measured with.
    let counting = measure::alloc::counting();
    let sections = options
        .scenarios
        .iter()
        .map(|&s| {
            let mut section = scenarios::run(s, &options.sizes, &mut progress);
            for row in &mut section.rows {
                row.counting_allocator = counting;
            }
            section
        })
        .collect();
    progress.finish();
    Report {
        machine,
        command: command.to_string(),
        quick: options.quick,
        counting_allocator: counting,
        sections,
        seconds: start.elapsed().as_secs_f64(),
    }
}
