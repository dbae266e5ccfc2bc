//! Batch spawn: workq's `spawn_batch` with the fresh jobs, then every join.
//! The peers have no batch call; their column is their loop of spawns.

use super::{check, payload, work};
use std::time::{Duration, Instant};
use workq::Pool;

/// One run of `n` jobs handed to `pool.spawn_batch` in one call: the time from
/// the call until the producer joined every job.
pub(crate) fn workq(pool: &Pool, n: usize) -> Duration {
    let start = Instant::now();
    let jobs = pool.spawn_batch((0..n).map(|i| {
        let data = payload(i);
        move || work(&data)
    }));
    let sum: u64 = jobs
        .into_iter()
        .map(|j| j.join().expect("a batch job ran to its end"))
        .sum();
    let elapsed = start.elapsed();
    check("workq spawn_batch", n, sum);
    elapsed
}
