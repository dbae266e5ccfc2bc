//! The async forms of a workqueue's waiting calls; the futures themselves are
//! in `addons/wait.rs`.

use crate::front::workqueue::WorkQueue;

crate::front::face::waits_face! {
    impl WorkQueue {
        /// The async form of [`WorkQueue::flush`].
        ///
        /// The flush starts when this is called: the future waits for the runs
        /// queued before the call, not before its first poll (as `queue_async`
        /// queues at the call; see [`Waiting`](crate::Waiting)).
        ///
        /// # Errors
        /// The future resolves to the errors of [`WorkQueue::flush`].
        ///
        /// ```
        /// # let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
        /// # rt.block_on(async {
        /// let wq = workq::WorkQueue::builder("flush-async").build()?;
        /// let work = workq::Work::new(|_| {});
        /// wq.queue(&work)?;
        /// wq.flush_async().await?; // waits for this queue's runs only
        /// assert!(!work.is_pending());
        /// # Ok::<(), workq::Error>(())
        /// # })?;
        /// # Ok::<(), workq::Error>(())
        /// ```
        fn flush_async;

        /// The async form of [`WorkQueue::drain`].
        ///
        /// The drain begins when this is called (other callers get
        /// [`Error::Draining`](crate::Error::Draining) from then on), not when the future is first polled;
        /// dropping the future ends it.
        ///
        /// # Errors
        /// The future resolves to the errors of [`WorkQueue::drain`].
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
        /// let wq = workq::WorkQueue::builder("drain-async").build()?;
        /// wq.queue(&chain)?;
        /// wq.drain_async().await?;
        /// assert_eq!(left.load(Ordering::SeqCst), 0);
        /// # Ok::<(), workq::Error>(())
        /// # })?;
        /// # Ok::<(), workq::Error>(())
        /// ```
        fn drain_async;

        /// The async form of [`WorkQueue::destroy`]; see [`Destroying`](crate::Destroying).
        ///
        /// # Errors
        /// The future resolves to the errors of [`WorkQueue::destroy`].
        ///
        /// ```
        /// # let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
        /// # rt.block_on(async {
        /// let wq = workq::WorkQueue::builder("destroy-async").build()?;
        /// wq.queue(&workq::Work::new(|_| {}))?;
        /// wq.destroy_async().await?;
        /// assert!(wq.queue(&workq::Work::new(|_| {})).is_err());
        /// # Ok::<(), workq::Error>(())
        /// # })?;
        /// # Ok::<(), workq::Error>(())
        /// ```
        fn destroy_async;
    }
}
