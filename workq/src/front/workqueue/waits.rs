//! The async forms of a workqueue's waiting calls; the futures themselves are
//! in `addons/wait.rs`.

use crate::addons::wait::QueueAsync;
use crate::front::work::Work;
use crate::front::workqueue::WorkQueue;

crate::front::face::waits_face! {
    impl WorkQueue {
        /// The async form of [`WorkQueue::flush`].
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

impl WorkQueue {
    /// The async form of [`WorkQueue::queue`]: on a bounded queue that is full, the
    /// future waits for room instead of blocking a thread. Queueing an item that is
    /// already pending never waits.
    ///
    /// # Errors
    /// The future resolves to the errors of [`WorkQueue::try_queue`], except
    /// [`Error::Full`](crate::Error::Full): it waits for room instead.
    ///
    /// ```
    /// # let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    /// # rt.block_on(async {
    /// use std::future::{poll_fn, Future};
    /// use std::pin::Pin;
    /// use std::task::Poll;
    /// use workq::{Pool, Queued, Work, WorkQueue};
    /// let pool = Pool::new("bounded-pool")?;
    /// let wq = WorkQueue::builder("bounded").pool(&pool).max_waiting(1).freezable(true).build()?;
    /// wq.freeze()?; // hold the items, so the queue fills up
    /// let (a, b) = (Work::new(|_| {}), Work::new(|_| {}));
    /// assert_eq!(wq.queue_async(&a).await?, Queued::Scheduled); // room: at once
    /// let mut queue_b = wq.queue_async(&b);
    /// // Polled once, it finds the queue full and waits (no thread is blocked).
    /// let waits = poll_fn(|cx| Poll::Ready(Pin::new(&mut queue_b).poll(cx).is_pending())).await;
    /// assert!(waits);
    /// wq.thaw()?; // `a` runs: room for `b`
    /// assert_eq!(queue_b.await?, Queued::Scheduled);
    /// wq.flush_async().await?;
    /// # Ok::<(), workq::Error>(())
    /// # })?;
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn queue_async(&self, work: &Work) -> QueueAsync {
        QueueAsync::new(self.run_queue().clone(), work.clone())
    }
}
