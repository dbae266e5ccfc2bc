//! A rayon `ThreadPool` of N threads, fed with `spawn`.

use crate::measure::sync::Countdown;
use std::sync::Arc;
use std::time::Duration;

/// A rayon pool that can wait for its threads to exit.
pub(crate) struct Rayon {
    pool: rayon::ThreadPool,
    exited: Arc<Countdown>,
}

impl Rayon {
    pub(crate) fn new(threads: usize) -> Rayon {
        let exited = Arc::new(Countdown::new(threads));
        let e = exited.clone();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("rayon-{i}"))
            .exit_handler(move |_| e.hit())
            .build()
            .expect("build a rayon pool");
        Rayon { pool, exited }
    }

    #[inline]
    pub(crate) fn spawn<F: FnOnce() + Send + 'static>(&self, f: F) {
        self.pool.spawn(f);
    }

    /// The rayon pool itself.
    pub(crate) fn pool(&self) -> &rayon::ThreadPool {
        &self.pool
    }

    /// Drops the pool (rayon stops its threads in the background) and waits until
    /// every thread ran its exit handler.
    pub(crate) fn shutdown(self) {
        drop(self.pool);
        self.exited.wait_timeout(Duration::from_secs(10));
    }
}
