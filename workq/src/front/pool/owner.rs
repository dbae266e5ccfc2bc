//! Owners: the users of a pool, whose unregister waits for their items (the
//! kernel's slow-work module registration).

use super::Pool;
use crate::engine::{Limit, OwnerCancel, OwnerId, QueueCall, RunQueue};
use crate::error::Error;
#[cfg(doc)]
use crate::front::work::{Queued, Work};
use crate::support::current;
use crate::support::sync::Arc;
use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

static NEXT_OWNER: AtomicU32 = AtomicU32::new(1);

/// A registered user of a [`Pool`], made by [`Pool::register`].
///
/// An idle item queued through the owner is counted for it from that queue call
/// until the item is idle again (queued, armed, running, or re-queueing itself).
/// A queue call through the owner on an item that is already pending or running
/// (for another owner or none) does not move it to this owner.
/// [`unregister`](Owner::unregister) (or dropping the owner) waits until the count
/// is zero; other owners are untouched. An item that keeps queueing itself keeps
/// the count above zero: [`unregister_cancel`](Owner::unregister_cancel) cancels
/// the owner's items first, [`unregister_timeout`](Owner::unregister_timeout)
/// gives up waiting after a time limit.
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use std::sync::Arc;
/// let pool = workq::Pool::new("shared")?;
/// let owner = pool.register("module-a");
/// let runs = Arc::new(AtomicUsize::new(0));
/// let r = runs.clone();
/// owner.queue(&workq::Work::new(move |_| {
///     r.fetch_add(1, Ordering::SeqCst);
/// }))?;
/// owner.unregister()?;
/// assert_eq!(runs.load(Ordering::SeqCst), 1);
/// # Ok::<(), workq::Error>(())
/// ```
pub struct Owner {
    pool: Pool,
    id: OwnerId,
    name: String,
    done: bool,
}

impl crate::front::face::Face for Owner {
    fn face_queue(&self) -> &Arc<RunQueue> {
        &self.pool.handle.queue
    }

    fn face_owner(&self) -> Option<crate::engine::OwnerId> {
        Some(self.id)
    }

    #[inline]
    fn face_call(&self, limit: Limit) -> QueueCall {
        self.pool
            .bounded(QueueCall::NOW.owner(Some(self.id)).limit(limit))
    }
}

crate::front::face::delayed_face!(
    Owner,
    "owner",
    "workq::Pool::new(\"delayed\")?.register(\"me\")"
);

crate::front::job::spawn::jobs_face!(
    Owner,
    "owner",
    "workq::Pool::new(\"jobs\")?.register(\"me\")",
    bounded
);

impl Owner {
    pub(crate) fn new(pool: Pool, name: String) -> Owner {
        // Numbers wrap after 2^32 owners; 0 is skipped (it stands for none).
        let id = loop {
            if let Some(id) = OwnerId::new(NEXT_OWNER.fetch_add(1, Ordering::Relaxed)) {
                break id;
            }
        };
        Owner {
            pool,
            id,
            name,
            done: false,
        }
    }

    /// The owner's name.
    ///
    /// ```
    /// let pool = workq::Pool::new("shared")?;
    /// assert_eq!(pool.register("cache").name(), "cache");
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The pool the owner belongs to.
    ///
    /// ```
    /// let pool = workq::Pool::new("shared")?;
    /// let owner = pool.register("cache");
    /// assert_eq!(owner.pool().name(), "shared");
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn pool(&self) -> &Pool {
        &self.pool
    }
}

crate::front::face::queue_face! {
    impl Owner {
        /// Queues `work` on the pool for this owner. On a pool with a bound on waiting
        /// items ([`PoolBuilder::max_waiting`](crate::PoolBuilder::max_waiting)) it
        /// waits for room exactly as [`Pool::queue`] does.
        ///
        /// # Errors
        /// As [`Pool::queue`].
        ///
        /// ```
        /// let pool = workq::Pool::new("shared")?;
        /// let owner = pool.register("cache");
        /// let work = workq::Work::new(|_| {});
        /// assert!(owner.queue(&work)?.added_run());
        /// work.flush()?;
        /// assert_eq!(owner.outstanding(), 0); // idle again: no longer counted
        /// # Ok::<(), workq::Error>(())
        /// ```
        fn queue;

        /// Queues `work` for this owner, failing at once with [`Error::Full`] instead
        /// of waiting when the pool's bound on waiting items is reached (as
        /// [`Pool::try_queue`]).
        ///
        /// # Errors
        /// As [`Pool::try_queue`].
        ///
        /// ```
        /// use workq::{Error, Pool, Work};
        /// let pool = Pool::builder().name("owned").min_threads(1).max_threads(1).max_waiting(1).build()?;
        /// let owner = pool.register("cache");
        /// let (tx, rx) = std::sync::mpsc::channel::<()>();
        /// let rx = std::sync::Mutex::new(rx);
        /// let (started_tx, started) = std::sync::mpsc::channel::<()>();
        /// let gate = Work::new(move |_| {
        ///     let _ = started_tx.send(());
        ///     let _ = rx.lock().map(|rx| rx.recv()); // holds the only thread
        /// });
        /// owner.queue(&gate)?;
        /// started.recv().expect("the gate runs");
        /// let (a, b) = (Work::new(|_| {}), Work::new(|_| {}));
        /// owner.try_queue(&a)?; // waits: the pool is full
        /// assert!(matches!(owner.try_queue(&b), Err(Error::Full { max_waiting: 1, .. })));
        /// tx.send(()).expect("release the gate");
        /// owner.unregister()?; // waits for the gate and `a`
        /// # Ok::<(), workq::Error>(())
        /// ```
        fn try_queue;

        /// The async form of [`Owner::queue`]: on a bounded pool that is full, the
        /// future waits for room instead of blocking a thread (as [`Pool::queue_async`]:
        /// the queue call is made when this is called).
        ///
        /// # Errors
        /// The future resolves to the errors of [`Owner::try_queue`], except
        /// [`Error::Full`]: it waits for room instead.
        ///
        /// ```
        /// # let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
        /// # rt.block_on(async {
        /// let pool = workq::Pool::builder().name("owned-async").max_waiting(4).build()?;
        /// let owner = pool.register("cache");
        /// let work = workq::Work::new(|_| {});
        /// assert_eq!(owner.queue_async(&work).await?, workq::Queued::Scheduled);
        /// work.flush()?;
        /// # Ok::<(), workq::Error>(())
        /// # })?;
        /// # Ok::<(), workq::Error>(())
        /// ```
        fn queue_async;
    }
}

impl Owner {
    /// Items counted for this owner right now.
    ///
    /// ```
    /// let pool = workq::Pool::new("count")?;
    /// let owner = pool.register("o");
    /// assert_eq!(owner.outstanding(), 0);
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn outstanding(&self) -> usize {
        self.pool.handle.queue.lock().owned(self.id)
    }

    /// Waits until every item this owner queued has finished or been cancelled,
    /// then gives up the owner.
    ///
    /// # Errors
    /// [`Error::WouldDeadlock`] when called from one of the pool's threads (the
    /// owner is then given up without waiting).
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    /// let pool = workq::Pool::new("shared")?;
    /// let owner = pool.register("module");
    /// let runs = Arc::new(AtomicUsize::new(0));
    /// let items: Vec<workq::Work> = (0..3)
    ///     .map(|_| {
    ///         let r = runs.clone();
    ///         workq::Work::new(move |_| {
    ///             r.fetch_add(1, Ordering::SeqCst);
    ///         })
    ///     })
    ///     .collect();
    /// for w in &items {
    ///     owner.queue(w)?;
    /// }
    /// owner.unregister()?; // waits for the three runs
    /// assert_eq!(runs.load(Ordering::SeqCst), 3);
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn unregister(mut self) -> Result<(), Error> {
        self.wait_for_items()
    }

    /// Cancels every pending run (queued or armed) of the items counted for this
    /// owner, waits for the runs in progress, then gives up the owner. Returns the
    /// number of pending runs it cancelled.
    ///
    /// Unlike [`unregister`](Owner::unregister), it returns even while an item
    /// queues itself again from its own run: until it returns, queue calls on the
    /// owner's running items (also from their own closures, such as
    /// [`WorkCtx::requeue`](crate::WorkCtx::requeue)) fail with
    /// [`Error::Canceling`], as during [`Work::cancel_sync`]. Items that were
    /// queued without this owner are untouched. Each closure is still dropped
    /// exactly once, when its last handle goes.
    ///
    /// # Errors
    /// [`Error::WouldDeadlock`] when called from one of the pool's threads (the
    /// owner is then given up without cancelling or waiting).
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    /// let pool = workq::Pool::new("shared")?;
    /// let owner = pool.register("poller");
    /// let runs = Arc::new(AtomicUsize::new(0));
    /// let r = runs.clone();
    /// let poll = workq::Work::new(move |ctx| {
    ///     r.fetch_add(1, Ordering::SeqCst);
    ///     let _ = ctx.requeue(); // forever, until cancelled
    /// });
    /// owner.queue(&poll)?;
    /// owner.unregister_cancel()?; // `unregister` would never return here
    /// let after = runs.load(Ordering::SeqCst);
    /// pool.flush()?;
    /// assert_eq!(runs.load(Ordering::SeqCst), after); // it runs no more
    /// assert!(!poll.is_pending());
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn unregister_cancel(self) -> Result<usize, Error> {
        let (q, id) = self.give_up()?;
        let mut cancel = OwnerCancel::new(id);
        {
            let mut g = q.lock();
            while cancel.pass(&q, &mut g) {
                g = q.wait_done(g);
            }
        }
        let removed = cancel.removed();
        cancel.end(&q);
        Ok(removed)
    }

    /// [`unregister`](Owner::unregister) with a time limit: waits at most
    /// `timeout` for the owner's items to finish. The owner is given up either
    /// way; on a timeout its items keep running (and are no longer waited for).
    /// To stop items that queue themselves again, use
    /// [`unregister_cancel`](Owner::unregister_cancel) instead.
    ///
    /// # Errors
    /// [`Error::TimedOut`] with the number of items still counted for the owner
    /// when the time ran out; [`Error::WouldDeadlock`] when called from one of the
    /// pool's threads.
    ///
    /// ```
    /// use std::time::Duration;
    /// use workq::Error;
    /// let pool = workq::Pool::new("shared")?;
    /// let owner = pool.register("slow");
    /// let (tx, rx) = std::sync::mpsc::channel::<()>();
    /// let rx = std::sync::Mutex::new(rx);
    /// let work = workq::Work::new(move |_| {
    ///     let _ = rx.lock().map(|rx| rx.recv()); // runs until told to end
    /// });
    /// owner.queue(&work)?;
    /// let err = owner.unregister_timeout(Duration::from_millis(1)).unwrap_err();
    /// assert!(matches!(err, Error::TimedOut { remaining: 1, .. }));
    /// drop(tx); // the run ends
    /// work.flush()?;
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn unregister_timeout(self, timeout: Duration) -> Result<(), Error> {
        let (q, id) = self.give_up()?;
        // An unrepresentable deadline waits as long as `unregister` does.
        let deadline = Instant::now().checked_add(timeout);
        let mut g = q.lock();
        while g.owned(id) > 0 {
            let left = match deadline {
                None => None,
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Err(Error::TimedOut {
                            what: "unregistering a pool owner",
                            remaining: g.owned(id),
                        });
                    }
                    Some(left)
                }
            };
            g = q.wait_done_timeout(g, left);
        }
        Ok(())
    }

    /// Gives the owner up without waiting: returns the queue and the owner id to
    /// wait on.
    pub(crate) fn give_up(mut self) -> Result<(Arc<RunQueue>, OwnerId), Error> {
        self.done = true;
        let q = self.pool.handle.queue.clone();
        if current::consuming(q.id) {
            return Err(Error::WouldDeadlock {
                what: "unregistering a pool owner from one of the pool's threads",
            });
        }
        Ok((q, self.id))
    }

    fn wait_for_items(&mut self) -> Result<(), Error> {
        if self.done {
            return Ok(());
        }
        self.done = true;
        let q = &self.pool.handle.queue;
        if current::consuming(q.id) {
            return Err(Error::WouldDeadlock {
                what: "unregistering a pool owner from one of the pool's threads",
            });
        }
        let mut g = q.lock();
        while g.owned(self.id) > 0 {
            g = q.wait_done(g);
        }
        Ok(())
    }
}

impl Drop for Owner {
    fn drop(&mut self) {
        let _ = self.wait_for_items();
    }
}

impl fmt::Debug for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Owner")
            .field("name", &self.name)
            .field("pool", &self.pool.name())
            .field("outstanding", &self.outstanding())
            .finish()
    }
}
