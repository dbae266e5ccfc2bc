//! The `threadpool` crate: N threads on a channel of boxed jobs.

/// A `threadpool::ThreadPool`.
pub(crate) struct Plain {
    pool: threadpool::ThreadPool,
}

impl Plain {
    pub(crate) fn new(threads: usize) -> Plain {
        let pool = threadpool::Builder::new()
            .num_threads(threads)
            .thread_name("threadpool".to_string())
            .build();
        Plain { pool }
    }

    #[inline]
    pub(crate) fn spawn<F: FnOnce() + Send + 'static>(&self, f: F) {
        self.pool.execute(f);
    }

    /// Waits for the queued jobs, then drops the pool (its threads exit in the
    /// background once the channel closes).
    pub(crate) fn shutdown(self) {
        self.pool.join();
    }
}
