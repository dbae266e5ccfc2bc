//! Scenario `jobs`: one-shot closures with a result, spawned from one producer
//! into 2 threads and joined.
//!
//! Rows (workq against every peer of the same run, as ratios):
//!
//! * fresh jobs with results (`fresh.rs`): each job captures 64 bytes of its
//!   own ([`Payload`], moved into the closure, so every system stores and, where
//!   it boxes closures, allocates what a real job carries) and returns a `u64`;
//!   the producer spawns all of them, then collects every result.
//! * batch spawn (`batch.rs`): the same jobs handed to workq's `spawn_batch` in
//!   one call; the peers have no batch call, so their column is their loop of
//!   spawns (the fresh measurement).
//! * heap per job (`heap.rs`): allocation calls and bytes per fresh job, from
//!   the counting allocator.
//! * a scope of 10,000 borrowing jobs (`scope.rs`): workq's `Pool::scope`
//!   against rayon's `scope`, with `std::thread::scope` as a reference.
//!
//! Systems: a workq `Pool` of min = max = 2 threads (`spawn` + `Job::join`);
//! tokio's blocking pool with `max_blocking_threads(2)` (`spawn_blocking`, the
//! `JoinHandle`s awaited in one `block_on`); a rayon `ThreadPool` of 2
//! (`spawn`, the result sent on a channel); `threadpool` of 2 (`execute`,
//! result on a channel); and the baseline, a crossbeam channel of boxed
//! closures read by 2 threads with the result on a channel (no state per job
//! beyond the boxed closure).

mod batch;
mod fresh;
mod heap;
mod scope;

use crate::measure::rounds::{in_rounds, Contender};
use crate::measure::stats::{median, mops};
use crate::options::{Scenario, Sizes};
use crate::progress::Progress;
use crate::report::{Better, Row, Section, Target};
use fresh::Systems;
use std::time::Duration;

/// The columns: workq, then the peers.
pub(crate) const COLUMNS: [&str; 5] = ["workq", "tokio", "rayon", "threadpool", "crossbeam"];

/// Progress steps: the fresh run of every system and workq's batch run, each
/// once per round, one heap measurement per system, then the scope systems
/// once per round.
pub(crate) fn steps(sizes: &Sizes) -> usize {
    (COLUMNS.len() + 1 + scope::SYSTEMS) * sizes.jobs_reps.max(1) + COLUMNS.len()
}

/// What every job captures: 64 bytes of its own.
pub(crate) type Payload = [u64; 8];

/// The data of job `i`.
pub(crate) fn payload(i: usize) -> Payload {
    [i as u64; 8]
}

/// The job's work: reads its data and returns their sum (`8 * i` for job `i`).
pub(crate) fn work(data: &Payload) -> u64 {
    std::hint::black_box(data)
        .iter()
        .fold(0u64, |sum, v| sum.wrapping_add(*v))
}

/// The sum of the results of jobs `0..n`, which every run checks.
pub(crate) fn expected_sum(n: usize) -> u64 {
    let n = n as u64;
    8 * (n * n.saturating_sub(1) / 2)
}

/// Checks a run's sum of results.
fn check(system: &str, n: usize, sum: u64) {
    assert_eq!(
        sum,
        expected_sum(n),
        "jobs: {system} returned wrong results for {n} jobs"
    );
}

pub(crate) fn run(sizes: &Sizes, progress: &mut Progress) -> Section {
    let (n, threads, reps) = (sizes.jobs_items, sizes.threads, sizes.jobs_reps.max(1));
    let systems = Systems::build(threads);
    systems.warm();
    let mut contenders: Vec<Contender<'_, Duration>> = (0..COLUMNS.len())
        .map(|i| {
            let systems = &systems;
            Contender::new(format!("{}: fresh jobs", COLUMNS[i]), move || {
                systems.fresh(i, n)
            })
        })
        .collect();
    contenders.push(Contender::new("workq: spawn_batch", || {
        batch::workq(systems.pool(), n)
    }));
    let timings = in_rounds(reps, &mut contenders, progress);
    drop(contenders);
    let heap: Vec<(f64, f64)> = (0..COLUMNS.len())
        .map(|i| {
            progress.step(&format!("{}: heap per job", COLUMNS[i]));
            heap::per_job(&systems, i, sizes.jobs_heap_items)
        })
        .collect();
    let scope_times = scope::measure(&systems, sizes, progress);
    systems.shutdown();

    let rate = |runs: &[Duration]| median(runs.iter().map(|t| mops(*t, n)).collect());
    let fresh: Vec<f64> = timings[..COLUMNS.len()].iter().map(|t| rate(t)).collect();
    let batch = rate(&timings[COLUMNS.len()]);

    let mut s = Section::new(
        Scenario::Jobs,
        format!(
            "jobs: {} one-shot jobs with results from one producer into {threads} threads",
            super::count(n)
        ),
        &COLUMNS,
    );
    let with = |w: f64| {
        let mut v = vec![Some(w)];
        v.extend(fresh[1..].iter().map(|r| Some(*r)));
        v
    };
    s.push(
        Row::new(
            format!("fresh jobs with results, Pool({threads})"),
            "M jobs/s",
            Better::Higher,
            with(fresh[0]),
        )
        .decimals(2)
        .target(fresh_target(&fresh))
        .headline("jobs"),
    );
    s.push(
        Row::new(
            format!("batch spawn (peers: loop of spawns), Pool({threads})"),
            "M jobs/s",
            Better::Higher,
            with(batch),
        )
        .decimals(2),
    );
    for row in heap::rows(&heap) {
        s.push(row);
    }
    for row in scope::rows(&scope_times, threads) {
        s.push(row);
    }
    s.note(format!(
        "Rate: jobs / time from the first spawn until the producer has every result; median \
         of {reps} run(s), measured in rounds (every system once per round). Each job \
         captures 64 bytes ([u64; 8] moved into the closure) and returns their sum; the \
         producer checks the sum of all results."
    ));
    s.note(format!(
        "workq: Pool (min = max = {threads}) spawn + Job::join in spawn order. tokio: \
         spawn_blocking on a runtime with max_blocking_threads({threads}), the JoinHandles \
         awaited in one block_on. rayon: ThreadPool({threads})::spawn, each job sends its \
         result on one crossbeam channel; threadpool({threads}): execute, same channel; \
         crossbeam: the baseline, an unbounded channel of boxed closures read by {threads} \
         threads, same result channel (no state per job beyond the boxed closure)."
    ));
    s.note(
        "Batch spawn: workq's spawn_batch with an iterator of the same closures, then every \
         join; tokio, rayon and threadpool have no batch call, so their column is their loop \
         of spawns (the fresh row's measurement).",
    );
    s.note(scope::note(threads));
    s
}

/// The goal for fresh jobs: at least 2x threadpool and rayon, and at
/// least half the crossbeam baseline.
fn fresh_target(fresh: &[f64]) -> Target {
    let (rayon, plain, channel) = (fresh[2], fresh[3], fresh[4]);
    let bound = (2.0 * rayon.max(plain)).max(0.5 * channel);
    Target::at_least(bound, ">= 2x threadpool & rayon, >= 0.5x crossbeam").context(format!(
        "2x rayon: {:.2}, 2x threadpool: {:.2}, 0.5x the crossbeam baseline: {:.2} M jobs/s",
        2.0 * rayon,
        2.0 * plain,
        0.5 * channel
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_add_up() {
        let sum: u64 = (0..100).map(|i| work(&payload(i))).sum();
        assert_eq!(sum, expected_sum(100));
        assert_eq!(expected_sum(0), 0);
        assert_eq!(std::mem::size_of::<Payload>(), 64);
    }
}
