//! Named workqueues on shared pools (the kernel's cmwq): a queue is a domain for
//! flush, ordering, concurrency limits, freezing and forward progress, while the
//! threads belong to a [`Pool`](crate::Pool) shared by many queues.

mod builder;
mod system;
mod waits;

pub use builder::{WorkQueueBuilder, MAX_ACTIVE};
pub use system::{queue, spawn, system, system_long};

use crate::engine::{Limit, QueueCall, RunQueue};
use crate::front::pool::Pool;
use crate::shutdown::{ArmedAtShutdown, Plan, ShutdownReport};
use crate::support::current;
use crate::support::sync::{lock, Arc, Mutex};
use std::fmt;
use std::thread::JoinHandle;

// Named in the docs of the methods the face macros write.
#[cfg(doc)]
use crate::error::Error;
#[cfg(doc)]
use crate::front::work::{Queued, Work};

/// A named queue whose items run on a shared [`Pool`].
///
/// Items queued here follow the same contract as everywhere ([`Queued`], no
/// overlapping runs, cancel / flush on the item). The queue adds:
///
/// * `max_active`: at most this many of its items run at once; the others wait in
///   the queue's FIFO list, never lost;
/// * ordered queues (`max_active` 1, strict FIFO, one at a time), like a
///   [`Worker`](crate::Worker) without a dedicated thread;
/// * high priority: its items are taken before the pool's other waiting work;
/// * freeze / thaw, flush, drain and destroy of just this queue;
/// * a rescuer: one thread of its own, started up front, that runs the queue's
///   items when the pool cannot (no thread and none can start, or everything busy
///   for too long), so the queue always makes progress.
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use std::sync::Arc;
/// use workq::{Pool, Work, WorkQueue};
///
/// let pool = Pool::new("shared")?;
/// let disk = WorkQueue::builder("disk-io").pool(&pool).max_active(2).build()?;
/// let net = WorkQueue::builder("net").pool(&pool).ordered().build()?;
/// let n = Arc::new(AtomicUsize::new(0));
/// let c = n.clone();
/// let item = Work::new(move |_| {
///     c.fetch_add(1, Ordering::SeqCst);
/// });
/// disk.queue(&item)?;
/// disk.flush()?; // waits for this queue's items only
/// assert_eq!(n.load(Ordering::SeqCst), 1);
/// net.queue(&Work::new(|_| {}))?;
/// net.flush()?;
/// # Ok::<(), workq::Error>(())
/// ```
#[derive(Clone)]
pub struct WorkQueue {
    handle: Arc<Handle>,
}

/// Shared by the handles; its drop destroys the queue.
struct Handle {
    queue: Arc<RunQueue>,
    pool: Pool,
    rescuer: Mutex<Option<JoinHandle<()>>>,
    armed_at_shutdown: ArmedAtShutdown,
    /// Whether `max_waiting` was set: only then does a queue call carry the
    /// limit that checks it (unbounded queues keep the lock-free paths).
    bounded: bool,
}

impl Drop for Handle {
    fn drop(&mut self) {
        let report = shut_down(self, Plan::drain(self.armed_at_shutdown));
        crate::support::log::shutdown_report(&self.queue.name, &report, true);
    }
}

fn shut_down(h: &Handle, plan: Plan) -> ShutdownReport {
    let report = RunQueue::shut_down(&h.queue, false, plan);
    // The pool no longer needs to reach this queue: let its items go.
    h.pool.handle.forget_fed(&h.queue);
    h.queue.drop_pumps();
    let rescuer = lock(&h.rescuer).take();
    if let Some(r) = rescuer {
        if r.thread().id() != std::thread::current().id() {
            let _ = r.join();
        }
    }
    report
}

impl crate::front::face::Face for WorkQueue {
    #[inline]
    fn face_queue(&self) -> &Arc<RunQueue> {
        &self.handle.queue
    }

    #[inline]
    fn face_call(&self, limit: Limit) -> QueueCall {
        QueueCall::NOW
            .limit(limit)
            .limit_if_bounded(self.handle.bounded)
    }
}

/// A workqueue's shutdown also lets the pool forget it, releases its pumps and
/// joins its rescuer; the pool lives on.
impl crate::front::face::Lifecycle for WorkQueue {
    const OWN_DESTROY: &'static str = "destroying a workqueue from one of its own items";

    fn inside(&self) -> bool {
        current::running_on(self.handle.queue.id)
    }

    fn armed_at_shutdown(&self) -> ArmedAtShutdown {
        self.handle.armed_at_shutdown
    }

    fn shut_down(&self, plan: Plan) -> ShutdownReport {
        shut_down(&self.handle, plan)
    }
}

crate::front::face::delayed_face!(
    WorkQueue,
    "wq",
    "workq::WorkQueue::builder(\"delayed\").build()?"
);

crate::front::job::spawn::jobs_face!(
    WorkQueue,
    "wq",
    "workq::WorkQueue::builder(\"jobs\").build()?",
    bounded
);

crate::front::face::queue_face! {
    impl WorkQueue {
        /// Queues `work` on this queue. See [`Queued`]. On a queue with a bound on
        /// waiting items ([`WorkQueueBuilder::max_waiting`]) that is full, waits for room
        /// (see [`try_queue`](WorkQueue::try_queue) and
        /// [`queue_async`](WorkQueue::queue_async)); queueing an item that is already
        /// pending or running never waits, nor does a call from the queue's own items.
        ///
        /// # Errors
        /// As [`Worker::queue`](crate::Worker::queue); [`Error::Disabled`] for a
        /// disabled item.
        ///
        /// ```
        /// use workq::{Queued, Work, WorkQueue};
        /// let wq = WorkQueue::builder("q").freezable(true).build()?;
        /// wq.freeze()?;
        /// let work = Work::new(|_| {});
        /// assert_eq!(wq.queue(&work)?, Queued::Scheduled);
        /// assert_eq!(wq.queue(&work)?, Queued::AlreadyPending); // coalesced
        /// wq.thaw()?;
        /// work.flush()?;
        /// # Ok::<(), workq::Error>(())
        /// ```
        fn queue;

        /// Queues `work`, failing at once with [`Error::Full`] instead of waiting when
        /// the queue's bound on waiting items is reached.
        ///
        /// # Errors
        /// As [`WorkQueue::queue`], and [`Error::Full`].
        ///
        /// ```
        /// let pool = workq::Pool::new("bp")?;
        /// let wq = workq::WorkQueue::builder("bounded").pool(&pool).max_waiting(1).freezable(true).build()?;
        /// wq.freeze()?;
        /// let (a, b) = (workq::Work::new(|_| {}), workq::Work::new(|_| {}));
        /// wq.try_queue(&a)?;
        /// assert!(matches!(wq.try_queue(&b), Err(workq::Error::Full { .. })));
        /// assert!(wq.try_queue(&a).is_ok()); // already pending: never counts
        /// wq.thaw()?;
        /// # Ok::<(), workq::Error>(())
        /// ```
        fn try_queue;

        /// The async form of [`WorkQueue::queue`]: on a bounded queue that is full, the
        /// future waits for room instead of blocking a thread. Queueing an item that is
        /// already pending never waits.
        ///
        /// The queue call is made when this is called, as `flush_async` starts its
        /// flush at the call: with room, the item is queued (or refused) before the
        /// future is polled, and the future hands over that outcome. Only on a full
        /// queue does the future wait, and queue the item when a poll finds room
        /// ([`QueueAsync`](crate::QueueAsync)).
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
        /// // The call finds the queue full: polled, the future waits (no thread is blocked).
        /// let waits = poll_fn(|cx| Poll::Ready(Pin::new(&mut queue_b).poll(cx).is_pending())).await;
        /// assert!(waits);
        /// wq.thaw()?; // `a` runs: room for `b`
        /// assert_eq!(queue_b.await?, Queued::Scheduled);
        /// wq.flush_async().await?;
        /// # Ok::<(), workq::Error>(())
        /// # })?;
        /// # Ok::<(), workq::Error>(())
        /// ```
        fn queue_async;
    }
}

crate::front::face::lifecycle_face! {
    impl WorkQueue {
        /// Waits until every run queued on this queue before the call has finished;
        /// other queues on the same pool do not extend the wait. Armed delayed items
        /// are not waited for (see [`crate::shutdown`]).
        ///
        /// # Errors
        /// [`Error::WouldDeadlock`] when called from one of this queue's items.
        ///
        /// ```
        /// use std::sync::atomic::{AtomicUsize, Ordering};
        /// use std::sync::Arc;
        /// let wq = workq::WorkQueue::builder("flushed").build()?;
        /// let runs = Arc::new(AtomicUsize::new(0));
        /// let r = runs.clone();
        /// let work = workq::Work::new(move |_| {
        ///     r.fetch_add(1, Ordering::SeqCst);
        /// });
        /// wq.queue(&work)?;
        /// wq.flush()?;
        /// assert_eq!(runs.load(Ordering::SeqCst), 1);
        /// # Ok::<(), workq::Error>(())
        /// ```
        fn flush;

        /// Flushes until the queue is empty; meanwhile only the queue's own items may
        /// queue onto it (chained work), others get [`Error::Draining`]. Armed delayed
        /// items stay armed and are not waited for (see [`crate::shutdown`]).
        ///
        /// # Errors
        /// [`Error::WouldDeadlock`] when called from one of this queue's items.
        ///
        /// ```
        /// use std::sync::atomic::{AtomicUsize, Ordering};
        /// use std::sync::Arc;
        /// let wq = workq::WorkQueue::builder("drained").build()?;
        /// let left = Arc::new(AtomicUsize::new(3));
        /// let l = left.clone();
        /// let chain = workq::Work::new(move |ctx| {
        ///     if l.fetch_sub(1, Ordering::SeqCst) > 1 {
        ///         ctx.requeue().expect("requeue"); // chained work: drain waits for it too
        ///     }
        /// });
        /// wq.queue(&chain)?;
        /// wq.drain()?;
        /// assert_eq!(left.load(Ordering::SeqCst), 0);
        /// # Ok::<(), workq::Error>(())
        /// ```
        fn drain;

        /// Drains the queue and releases it; queueing afterwards fails with
        /// [`Error::Destroyed`]. Calling it again returns `Ok` with an empty report.
        /// Armed delayed items are cancelled or run now, as
        /// [`WorkQueueBuilder::armed_at_shutdown`] says; the report counts them. See
        /// [`crate::shutdown`] for every shutdown call.
        ///
        /// # Errors
        /// [`Error::WouldDeadlock`] when called from one of the queue's items.
        ///
        /// ```
        /// let wq = workq::WorkQueue::builder("short-lived").build()?;
        /// let work = workq::Work::new(|_| {});
        /// wq.queue(&work)?;
        /// wq.destroy()?; // drains first: the item has run
        /// assert!(!work.is_pending());
        /// assert!(wq.destroy()?.is_empty());
        /// assert!(matches!(wq.queue(&work), Err(workq::Error::Destroyed { .. })));
        /// assert_eq!(wq.pool().name(), "workq"); // the pool lives on
        /// # Ok::<(), workq::Error>(())
        /// ```
        fn destroy;

        /// Like [`destroy`](WorkQueue::destroy), but runs waiting items only until
        /// `timeout` has passed; then the items that have not started are discarded
        /// (dropped without running, and reported), the runs in progress are waited
        /// for, and nothing of the queue runs after the call returns. Armed items are
        /// cancelled, unless the queue fires them at shutdown and the deadline has not
        /// passed.
        ///
        /// # Errors
        /// [`Error::WouldDeadlock`] when called from one of the queue's items.
        ///
        /// ```
        /// let wq = workq::WorkQueue::builder("bounded-exit").freezable(true).build()?;
        /// wq.freeze()?;
        /// let work = workq::Work::named("held", |_| {});
        /// wq.queue(&work)?;
        /// let report = wq.destroy_timeout(std::time::Duration::ZERO)?;
        /// assert_eq!(report.discarded_names(), ["held"]);
        /// # Ok::<(), workq::Error>(())
        /// ```
        fn destroy_timeout;

        /// Stops the queue at once: waiting items are discarded (reported), armed
        /// items cancelled, the runs in progress waited for; nothing of the queue runs
        /// after the call returns. The pool lives on.
        ///
        /// # Errors
        /// [`Error::WouldDeadlock`] when called from one of the queue's items.
        ///
        /// ```
        /// let wq = workq::WorkQueue::builder("stop-now").build()?;
        /// assert!(wq.shutdown_now()?.is_empty());
        /// assert!(wq.queue(&workq::Work::new(|_| {})).is_err());
        /// # Ok::<(), workq::Error>(())
        /// ```
        fn shutdown_now;

        /// The queue's counters (the same as its snapshot's `stats`, without the
        /// lists).
        ///
        /// ```
        /// let wq = workq::WorkQueue::builder("counted").build()?;
        /// let work = workq::Work::new(|_| {});
        /// wq.queue(&work)?;
        /// wq.flush()?;
        /// assert_eq!(wq.stats().runs, 1);
        /// # Ok::<(), workq::Error>(())
        /// ```
        fn stats;

        /// A picture of the queue: its runs in progress (one line per pump or the
        /// rescuer), waiting items and counters.
        ///
        /// ```
        /// let pool = workq::Pool::new("shared")?;
        /// let wq = workq::WorkQueue::builder("disk-io").pool(&pool).max_active(2).build()?;
        /// let snap = wq.snapshot();
        /// assert_eq!(snap.kind, workq::QueueKind::WorkQueue);
        /// assert_eq!(snap.max_active, Some(2));
        /// assert_eq!(snap.threads.len(), 2); // one run slot per max_active
        /// assert!(snap.waiting.is_empty());
        /// # Ok::<(), workq::Error>(())
        /// ```
        fn snapshot;
    }
}

crate::front::face::freeze_face! {
    impl WorkQueue {
        /// Waits for the queue's runs in progress and holds every waiting and newly
        /// queued item until [`thaw`](WorkQueue::thaw). Nothing is lost.
        ///
        /// # Errors
        /// [`Error::NotFreezable`] unless built freezable; [`Error::WouldDeadlock`]
        /// from one of the queue's items.
        ///
        /// ```
        /// let wq = workq::WorkQueue::builder("fz").freezable(true).build()?;
        /// wq.freeze()?;
        /// let work = workq::Work::new(|_| {});
        /// wq.queue(&work)?;
        /// assert!(work.is_pending()); // held until the thaw
        /// assert!(wq.snapshot().frozen);
        /// wq.thaw()?;
        /// work.flush()?;
        /// assert!(!work.is_pending());
        /// # Ok::<(), workq::Error>(())
        /// ```
        fn freeze;

        /// Lets a frozen queue run again.
        ///
        /// # Errors
        /// [`Error::NotFreezable`] unless built freezable.
        ///
        /// ```
        /// let wq = workq::WorkQueue::builder("th").freezable(true).build()?;
        /// wq.thaw()?; // thawing a queue that is not frozen does nothing
        /// let plain = workq::WorkQueue::builder("plain").build()?;
        /// assert!(matches!(plain.thaw(), Err(workq::Error::NotFreezable { .. })));
        /// # Ok::<(), workq::Error>(())
        /// ```
        fn thaw;

        /// Whether the queue is frozen (`freeze` without a `thaw` since).
        ///
        /// ```
        /// let wq = workq::WorkQueue::builder("cold").freezable(true).build()?;
        /// wq.freeze()?;
        /// assert!(wq.is_frozen());
        /// wq.thaw()?;
        /// assert!(!wq.is_frozen());
        /// # Ok::<(), workq::Error>(())
        /// ```
        fn is_frozen;
    }
}

impl WorkQueue {
    /// A builder for a workqueue named `name`.
    ///
    /// ```
    /// let wq = workq::WorkQueue::builder("events").build()?; // on the default pool
    /// # drop(wq);
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn builder(name: impl Into<String>) -> WorkQueueBuilder {
        WorkQueueBuilder::new(name.into())
    }

    /// The queue's name.
    ///
    /// ```
    /// let wq = workq::WorkQueue::builder("events").build()?;
    /// assert_eq!(wq.name(), "events");
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn name(&self) -> &str {
        &self.handle.queue.name
    }

    /// The pool the queue's items run on.
    ///
    /// ```
    /// let pool = workq::Pool::new("io")?;
    /// let wq = workq::WorkQueue::builder("writeback").pool(&pool).build()?;
    /// assert_eq!(wq.pool().name(), "io");
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn pool(&self) -> &Pool {
        &self.handle.pool
    }
}

impl fmt::Debug for WorkQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkQueue")
            .field("name", &self.name())
            .field("pool", &self.handle.pool.name())
            .finish()
    }
}
