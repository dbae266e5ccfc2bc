//! The async forms of a pool's and an owner's waiting calls; the futures
//! themselves are in `addons/wait.rs`.

use crate::addons::wait::Waiting;
use crate::engine::OwnerCancel;
use crate::error::Error;
use crate::front::pool::{Owner, Pool};
use crate::support::sync::{lock, Arc, Mutex};

crate::front::face::waits_face! {
    impl Pool {
        /// The async form of [`Pool::flush`].
        ///
        /// The flush starts when this is called: the future waits for the runs
        /// queued before the call, not before its first poll (as `queue_async`
        /// queues at the call; see [`Waiting`](crate::Waiting)).
        ///
        /// # Errors
        /// The future resolves to the errors of [`Pool::flush`].
        ///
        /// ```
        /// # let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
        /// # rt.block_on(async {
        /// use std::sync::atomic::{AtomicUsize, Ordering};
        /// use std::sync::Arc;
        /// let pool = workq::Pool::new("flush-async")?;
        /// let done = Arc::new(AtomicUsize::new(0));
        /// let items: Vec<workq::Work> = (0..4)
        ///     .map(|_| {
        ///         let d = done.clone();
        ///         workq::Work::new(move |_| {
        ///             d.fetch_add(1, Ordering::SeqCst);
        ///         })
        ///     })
        ///     .collect();
        /// for w in &items {
        ///     pool.queue(w)?;
        /// }
        /// pool.flush_async().await?;
        /// assert_eq!(done.load(Ordering::SeqCst), 4);
        /// # Ok::<(), workq::Error>(())
        /// # })?;
        /// # Ok::<(), workq::Error>(())
        /// ```
        fn flush_async;

        /// The async form of [`Pool::drain`].
        ///
        /// The drain begins when this is called (other callers get
        /// [`Error::Draining`] from then on), not when the future is first polled;
        /// dropping the future ends it.
        ///
        /// # Errors
        /// The future resolves to the errors of [`Pool::drain`].
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
        /// let pool = workq::Pool::new("drain-async")?;
        /// pool.queue(&chain)?;
        /// pool.drain_async().await?;
        /// assert_eq!(left.load(Ordering::SeqCst), 0);
        /// # Ok::<(), workq::Error>(())
        /// # })?;
        /// # Ok::<(), workq::Error>(())
        /// ```
        fn drain_async;

        /// The async form of [`Pool::destroy`]; see [`Destroying`](crate::Destroying).
        ///
        /// # Errors
        /// The future resolves to the errors of [`Pool::destroy`].
        ///
        /// ```
        /// # let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
        /// # rt.block_on(async {
        /// let pool = workq::Pool::new("destroy-async")?;
        /// pool.queue(&workq::Work::new(|_| {}))?;
        /// assert_eq!(pool.destroy_async().await?.discarded(), 0);
        /// # Ok::<(), workq::Error>(())
        /// # })?;
        /// # Ok::<(), workq::Error>(())
        /// ```
        fn destroy_async;
    }
}

impl Owner {
    /// The async form of [`Owner::unregister`].
    ///
    /// # Errors
    /// The future resolves to the errors of [`Owner::unregister`].
    ///
    /// ```
    /// # let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    /// # rt.block_on(async {
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    /// let pool = workq::Pool::new("owners")?;
    /// let owner = pool.register("module");
    /// let runs = Arc::new(AtomicUsize::new(0));
    /// let r = runs.clone();
    /// owner.queue(&workq::Work::new(move |_| {
    ///     r.fetch_add(1, Ordering::SeqCst);
    /// }))?;
    /// owner.unregister_async().await?; // waits for the owner's items
    /// assert_eq!(runs.load(Ordering::SeqCst), 1);
    /// # Ok::<(), workq::Error>(())
    /// # })?;
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn unregister_async(self) -> Waiting<Result<(), Error>> {
        let (q, id) = match self.give_up() {
            Err(e) => return Waiting::ready(Err(e)),
            Ok(p) => p,
        };
        Waiting::on(
            q,
            Box::new(move |g| (g.owned(id) == 0).then_some(Ok(()))),
            None,
        )
    }

    /// The async form of [`Owner::unregister_cancel`]: the owner's pending runs
    /// are cancelled when this is called; the future waits for the runs in
    /// progress (cancelling what they queue meanwhile). Until it completes or is
    /// dropped, queue calls on the owner's running items fail with
    /// [`Error::Canceling`]; dropping it lifts that, and the owner stays given up.
    ///
    /// # Errors
    /// The future resolves to the errors of [`Owner::unregister_cancel`] (known
    /// when this is called: the future is then ready at once).
    ///
    /// ```
    /// # let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    /// # rt.block_on(async {
    /// use std::time::Duration;
    /// let pool = workq::Pool::new("owners")?;
    /// let owner = pool.register("retries");
    /// let retry = workq::Work::new(|_| {});
    /// owner.queue_after(&retry, Duration::from_secs(3600))?;
    /// assert_eq!(owner.unregister_cancel_async().await?, 1); // the armed run
    /// assert!(!retry.is_pending());
    /// # Ok::<(), workq::Error>(())
    /// # })?;
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn unregister_cancel_async(self) -> Waiting<Result<usize, Error>> {
        let (q, id) = match self.give_up() {
            Err(e) => return Waiting::ready(Err(e)),
            Ok(p) => p,
        };
        let mut cancel = OwnerCancel::new(id);
        if !cancel.pass(&q, &mut q.lock()) {
            let removed = cancel.removed();
            cancel.end(&q);
            return Waiting::ready(Ok(removed));
        }
        // Shared by the check (a pass per wake-up) and the clean-up (which lifts
        // the block once the future completes or is dropped, with no lock held).
        let cancel = Arc::new(Mutex::new(Some(cancel)));
        let (watched, end) = (q.clone(), q.clone());
        let ending = cancel.clone();
        Waiting::on(
            q,
            Box::new(move |g| {
                let mut cancel = lock(&cancel);
                let c = cancel.as_mut()?;
                (!c.pass(&watched, g)).then(|| Ok(c.removed()))
            }),
            Some(Box::new(move || {
                if let Some(c) = lock(&ending).take() {
                    c.end(&end);
                }
            })),
        )
    }
}
