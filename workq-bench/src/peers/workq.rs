//! workq's front ends as the scenarios use them.

use std::time::Duration;
use workq::{Pool, Worker};

/// A pool of `min..=max` threads with the given idle timeout.
pub(crate) fn pool(name: &str, min: usize, max: usize, idle_timeout: Duration) -> Pool {
    Pool::builder()
        .name(name)
        .min_threads(min)
        .max_threads(max)
        .idle_timeout(idle_timeout)
        .build()
        .expect("build a workq pool")
}

/// A dedicated worker thread.
pub(crate) fn worker(name: &str) -> Worker {
    Worker::new(name).expect("start a workq worker")
}
