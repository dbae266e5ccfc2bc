//! The `scheduled-thread-pool` crate: N threads, immediate and delayed jobs.

use scheduled_thread_pool::{OnPoolDropBehavior, ScheduledThreadPool};

/// A `ScheduledThreadPool`.
pub(crate) struct Stp {
    pub(crate) pool: ScheduledThreadPool,
}

impl Stp {
    pub(crate) fn new(threads: usize) -> Stp {
        Stp {
            pool: pool(threads),
        }
    }

    #[inline]
    pub(crate) fn spawn<F: FnOnce() + Send + 'static>(&self, f: F) {
        drop(self.pool.execute(f));
    }

    /// Drops the pool (its threads exit in the background).
    pub(crate) fn shutdown(self) {
        drop(self.pool);
    }
}

/// A pool of `threads` threads that discards delayed jobs when dropped.
pub(crate) fn pool(threads: usize) -> ScheduledThreadPool {
    ScheduledThreadPool::builder()
        .num_threads(threads)
        .thread_name_pattern("sched-tp-{}")
        .on_drop_behavior(OnPoolDropBehavior::DiscardPendingScheduled)
        .build()
}
