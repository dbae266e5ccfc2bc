//! The async forms of a worker's waiting calls (flush, drain, destroy); the
//! futures themselves are in `addons/wait.rs`.

use crate::front::worker::Worker;

crate::front::face::waits_face! {
    impl Worker {
        /// The async form of [`Worker::flush`].
        ///
        /// The flush starts when this is called: the future waits for the runs
        /// queued before the call, not before its first poll (as `queue_async`
        /// queues at the call; see [`Waiting`](crate::Waiting)).
        ///
        /// # Errors
        /// The future resolves to the errors of [`Worker::flush`].
        ///
        /// ```
        /// # let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
        /// # rt.block_on(async {
        /// let worker = workq::Worker::new("flush-async")?;
        /// let work = workq::Work::new(|_| {});
        /// worker.queue(&work)?;
        /// worker.flush_async().await?;
        /// assert!(!work.is_pending());
        /// assert_eq!(worker.stats().runs, 1);
        /// # Ok::<(), workq::Error>(())
        /// # })?;
        /// # Ok::<(), workq::Error>(())
        /// ```
        fn flush_async;

        /// The async form of [`Worker::drain`].
        ///
        /// The drain begins when this is called (other callers get
        /// [`Error::Draining`](crate::Error::Draining) from then on), not when the future is first polled;
        /// dropping the future ends it.
        ///
        /// # Errors
        /// The future resolves to the errors of [`Worker::drain`].
        ///
        /// ```
        /// # let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
        /// # rt.block_on(async {
        /// use std::sync::atomic::{AtomicUsize, Ordering};
        /// use std::sync::Arc;
        /// let left = Arc::new(AtomicUsize::new(3));
        /// let l = left.clone();
        /// let chain = workq::Work::new(move |ctx| {
        ///     if l.fetch_sub(1, Ordering::SeqCst) > 1 {
        ///         ctx.requeue().expect("requeue"); // chained work: drain waits for it too
        ///     }
        /// });
        /// let worker = workq::Worker::new("drain-async")?;
        /// worker.queue(&chain)?;
        /// worker.drain_async().await?;
        /// assert_eq!(left.load(Ordering::SeqCst), 0);
        /// # Ok::<(), workq::Error>(())
        /// # })?;
        /// # Ok::<(), workq::Error>(())
        /// ```
        fn drain_async;

        /// The async form of [`Worker::destroy`]; see [`Destroying`](crate::Destroying) for when the
        /// destroy begins and what dropping the future does.
        ///
        /// # Errors
        /// The future resolves to the errors of [`Worker::destroy`] (known when this is
        /// called: the future is then ready at once).
        ///
        /// ```
        /// # let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
        /// # rt.block_on(async {
        /// let worker = workq::Worker::new("destroy-async")?;
        /// worker.destroy_async().await?;
        /// assert!(worker.destroy_async().await?.is_empty()); // a second time: nothing to do
        /// # Ok::<(), workq::Error>(())
        /// # })?;
        /// # Ok::<(), workq::Error>(())
        /// ```
        fn destroy_async;
    }
}
