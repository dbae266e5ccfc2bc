//! Fresh jobs with results: the systems of the scenario, and one timed run of
//! `n` jobs on each (spawn them all, then collect every result).

use super::{check, payload, work, COLUMNS};
use crate::peers::crossbeam::Channel;
use crate::peers::rayon::Rayon;
use crate::peers::threadpool::Plain;
use crate::peers::tokio::Blocking;
use std::time::{Duration, Instant};
use workq::{Job, Pool};

/// Every system of the scenario, each with the same number of threads.
pub(crate) struct Systems {
    pool: Pool,
    tokio: Blocking,
    rayon: Rayon,
    plain: Plain,
    channel: Channel,
}

impl Systems {
    /// Builds every system with `threads` threads.
    pub(crate) fn build(threads: usize) -> Systems {
        let keep_alive = Duration::from_secs(60);
        Systems {
            pool: crate::peers::workq::pool("bench-jobs", threads, threads, keep_alive),
            tokio: Blocking::new(threads, keep_alive),
            rayon: Rayon::new(threads),
            plain: Plain::new(threads),
            channel: Channel::new(threads),
        }
    }

    /// The workq pool.
    pub(crate) fn pool(&self) -> &Pool {
        &self.pool
    }

    /// The rayon pool.
    pub(crate) fn rayon_pool(&self) -> &rayon::ThreadPool {
        self.rayon.pool()
    }

    /// Starts every system's threads (a short run each), untimed.
    pub(crate) fn warm(&self) {
        for i in 0..COLUMNS.len() {
            self.fresh(i, 256);
        }
    }

    /// One run of `n` fresh jobs on system `i` of [`COLUMNS`]: the time from the
    /// first spawn until the producer holds every result.
    pub(crate) fn fresh(&self, i: usize, n: usize) -> Duration {
        let start = Instant::now();
        let sum = self.spawn_and_collect(i, n, &mut Vec::new(), &mut Vec::new());
        let elapsed = start.elapsed();
        check(COLUMNS[i], n, sum);
        elapsed
    }

    /// Spawns jobs `0..n` on system `i` and returns the sum of their results.
    /// `handles` and `tokio_handles` hold the handles meanwhile (a caller that
    /// must not count their growth passes them with room for `n`).
    pub(crate) fn spawn_and_collect(
        &self,
        i: usize,
        n: usize,
        handles: &mut Vec<Job<u64>>,
        tokio_handles: &mut Vec<tokio::task::JoinHandle<u64>>,
    ) -> u64 {
        match i {
            0 => {
                handles.extend((0..n).map(|j| {
                    let data = payload(j);
                    self.pool.spawn(move || work(&data))
                }));
                handles
                    .drain(..)
                    .map(|h| h.join().expect("a workq job ran to its end"))
                    .sum()
            }
            1 => {
                tokio_handles.extend((0..n).map(|j| {
                    let data = payload(j);
                    self.tokio.spawn_job(move || work(&data))
                }));
                self.tokio.block_on(async {
                    let mut sum = 0;
                    for h in tokio_handles.drain(..) {
                        sum += h.await.expect("a tokio blocking job ran to its end");
                    }
                    sum
                })
            }
            _ => {
                let (tx, rx) = crossbeam_channel::unbounded::<u64>();
                for j in 0..n {
                    let (data, tx) = (payload(j), tx.clone());
                    let job = move || {
                        tx.send(work(&data))
                            .expect("the producer holds the receiver");
                    };
                    match i {
                        2 => self.rayon.pool().spawn(job),
                        3 => self.plain.spawn(job),
                        _ => self.channel.spawn(job),
                    }
                }
                drop(tx);
                rx.iter().take(n).sum()
            }
        }
    }

    /// Stops every system.
    pub(crate) fn shutdown(self) {
        self.pool.destroy().expect("destroy the pool");
        self.tokio.shutdown();
        self.rayon.shutdown();
        self.plain.shutdown();
        self.channel.shutdown();
    }
}
