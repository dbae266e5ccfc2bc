//! tokio's blocking pool as a thread pool: `spawn_blocking` on a runtime with no
//! worker threads (current-thread flavour, not driven) and `max_blocking_threads`.

use std::time::Duration;
use tokio::runtime::{Builder, Runtime};

/// A tokio runtime used only for its blocking pool.
pub(crate) struct Blocking {
    rt: Runtime,
}

impl Blocking {
    /// At most `threads` blocking threads, each exiting after `keep_alive` idle.
    pub(crate) fn new(threads: usize, keep_alive: Duration) -> Blocking {
        let rt = Builder::new_current_thread()
            .max_blocking_threads(threads)
            .thread_keep_alive(keep_alive)
            .thread_name("tokio-blocking")
            .build()
            .expect("build a tokio runtime");
        Blocking { rt }
    }

    #[inline]
    pub(crate) fn spawn<F: FnOnce() + Send + 'static>(&self, f: F) {
        drop(self.rt.spawn_blocking(f));
    }

    /// Runs `f` on the blocking pool; its handle gives the result.
    pub(crate) fn spawn_job<F, R>(&self, f: F) -> tokio::task::JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        self.rt.spawn_blocking(f)
    }

    /// Drives `future` to its end on the calling thread.
    pub(crate) fn block_on<T>(&self, future: impl std::future::Future<Output = T>) -> T {
        self.rt.block_on(future)
    }

    /// Shuts the runtime down, waiting up to 10 s for its blocking threads.
    pub(crate) fn shutdown(self) {
        self.rt.shutdown_timeout(Duration::from_secs(10));
    }
}

/// A tokio runtime with `workers` worker threads and the timer enabled.
pub(crate) fn multi_thread(workers: usize) -> Runtime {
    Builder::new_multi_thread()
        .worker_threads(workers)
        .thread_name("tokio-worker")
        .enable_time()
        .build()
        .expect("build a tokio runtime")
}

/// A current-thread tokio runtime with the timer enabled (for `DelayQueue`).
pub(crate) fn current_thread() -> Runtime {
    Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("build a tokio runtime")
}
