//! The self-sizing pool (the kernel's slow-work): threads shared by many users,
//! started on demand and culled when idle, with a very slow class that can never
//! take every thread, and owners whose unregister waits for their items.

mod builder;
mod owner;
mod waits;

pub use builder::PoolBuilder;
pub use owner::Owner;

use crate::engine::{Limit, QueueCall, RunQueue};
use crate::error::Error;
#[cfg(doc)]
use crate::front::work::{Queued, Work};
use crate::shutdown::{ArmedAtShutdown, Plan, ShutdownReport};
use crate::support::current;
use crate::support::sync::{lock, Arc, Mutex};
use std::fmt;

/// A set of threads shared by many users, sized by demand.
///
/// Work is queued with the same contract as on a [`Worker`](crate::Worker): the same
/// [`Work`] items, the same three-way [`Queued`] result, delayed work, cancel,
/// `cancel_sync` and flush. Runs of one item never overlap, across all the pool's
/// threads: an item queued while it runs on one thread runs again after that run,
/// never on another thread at the same time.
///
/// A pool nobody has used owns no threads. The first queue call starts the minimum
/// number; more start while items wait and no thread is idle (one at a time, up to
/// the maximum), started by the pool's own threads or, when every thread is busy,
/// on the `workq-timer` thread: a queue call never starts a thread once the pool
/// has one. After a failed start no start is tried for the back-off period, then
/// growth resumes by itself while items wait. Threads idle for longer than the
/// idle timeout exit, never below the minimum. Threads are named after the pool and a number (`name/3`).
/// Dropping the last handle (every [`Owner`] holds one) drains the pool and joins
/// its threads.
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use std::sync::Arc;
/// use workq::{Pool, Work};
///
/// let pool = Pool::builder().name("fscache").min_threads(1).max_threads(4).build()?;
/// let done = Arc::new(AtomicUsize::new(0));
/// let items: Vec<Work> = (0..8)
///     .map(|i| {
///         let d = done.clone();
///         Work::named(format!("lookup-{i}"), move |_| {
///             d.fetch_add(1, Ordering::SeqCst);
///         })
///     })
///     .collect();
/// for w in &items {
///     pool.queue(w)?;
/// }
/// pool.flush()?;
/// assert_eq!(done.load(Ordering::SeqCst), 8);
/// # Ok::<(), workq::Error>(())
/// ```
#[derive(Clone)]
pub struct Pool {
    pub(crate) handle: Arc<Handle>,
}

/// Shared by the handles and owners; its drop shuts the pool down.
pub(crate) struct Handle {
    pub(crate) queue: Arc<RunQueue>,
    pub(crate) armed_at_shutdown: ArmedAtShutdown,
    /// The workqueues this pool feeds (each removed by its own shutdown): a
    /// shutdown that discards their pumps discards their waiting items too.
    pub(crate) fed: Mutex<Vec<Arc<RunQueue>>>,
    /// Built with a bound on waiting items: queue calls take the locked path
    /// that checks it (unbounded pools keep the inbox's lock-free path).
    pub(crate) bounded: bool,
}

impl Handle {
    /// Remembers a workqueue fed by this pool (and forgets destroyed ones).
    pub(crate) fn register_fed(&self, q: &Arc<RunQueue>) {
        let mut fed = lock(&self.fed);
        fed.retain(|f| !f.lock().life.stopping());
        fed.push(q.clone());
    }

    /// Forgets a fed workqueue once it has shut down, so that the pool does not
    /// keep its queue (and the references its lists held) alive.
    pub(crate) fn forget_fed(&self, q: &Arc<RunQueue>) {
        lock(&self.fed).retain(|f| !Arc::ptr_eq(f, q));
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        let report = RunQueue::shut_down(&self.queue, false, Plan::drain(self.armed_at_shutdown));
        crate::support::log::shutdown_report(&self.queue.name, &report, true);
    }
}

impl crate::front::face::Face for Pool {
    #[inline]
    fn face_queue(&self) -> &Arc<RunQueue> {
        &self.handle.queue
    }

    #[inline]
    fn face_call(&self, limit: Limit) -> QueueCall {
        self.bounded(QueueCall::NOW.limit(limit))
    }
}

/// A pool's shutdown also discards the waiting items of the workqueues it feeds
/// when it discards their pumps; its async destroy holds the queue, not a handle.
impl crate::front::face::Lifecycle for Pool {
    const OWN_DESTROY: &'static str = "destroying a pool from one of its own threads";

    fn inside(&self) -> bool {
        current::consuming(self.handle.queue.id)
    }

    fn armed_at_shutdown(&self) -> ArmedAtShutdown {
        self.handle.armed_at_shutdown
    }

    fn shut_down(&self, plan: Plan) -> ShutdownReport {
        let mut report = RunQueue::shut_down(&self.handle.queue, false, plan);
        if plan.until.is_some() {
            // Pumps discarded: the waiting items of the fed workqueues can no
            // longer run on this pool.
            let fed = std::mem::take(&mut *lock(&self.handle.fed));
            for q in fed {
                report.merge(q.discard_orphaned());
            }
        }
        report
    }

    fn finish_destroy(&self) -> Box<dyn FnOnce() -> ShutdownReport + Send + Sync> {
        let q = self.handle.queue.clone();
        Box::new(move || RunQueue::shut_down(&q, false, Plan::drain(ArmedAtShutdown::Cancel)))
    }
}

crate::front::face::delayed_face!(Pool, "pool", "workq::Pool::new(\"delayed\")?");
crate::front::job::spawn::jobs_face!(Pool, "pool", "workq::Pool::new(\"jobs\")?", bounded);

crate::front::face::queue_face! {
    impl Pool {
        /// Queues `work` on the pool (with no owner). See [`Queued`]. On a pool with a
        /// bound on waiting items ([`PoolBuilder::max_waiting`]) that is full, waits
        /// for room (see [`try_queue`](Pool::try_queue) and
        /// [`queue_async`](Pool::queue_async)); queueing an item that is already
        /// pending or running never waits, nor does a call from the pool's own items.
        ///
        /// The call never starts a thread once the pool has one (see
        /// [`PoolBuilder::start_attempts`] for a pool whose first start fails).
        ///
        /// # Errors
        /// * [`Error::Busy`], [`Error::Canceling`], [`Error::Destroyed`], [`Error::Draining`]
        ///   as for [`Worker::queue`](crate::Worker::queue);
        /// * [`Error::Spawn`] or [`Error::NoThreads`]: the pool has no thread and gave
        ///   up starting one (the item was not queued);
        /// * [`Error::WouldDeadlock`]: the pool is full and the caller is one of its
        ///   threads outside a run (a hook), which cannot wait for room.
        ///
        /// ```
        /// let pool = workq::Pool::new("q")?;
        /// let work = workq::Work::new(|_| {});
        /// assert!(pool.queue(&work)?.added_run());
        /// # Ok::<(), workq::Error>(())
        /// ```
        fn queue;

        /// Queues `work`, failing at once with [`Error::Full`] instead of waiting when
        /// the pool's bound on waiting items ([`PoolBuilder::max_waiting`]) is reached.
        /// Without a bound it is [`Pool::queue`].
        ///
        /// # Errors
        /// As [`Pool::queue`], and [`Error::Full`].
        ///
        /// ```
        /// let pool = workq::Pool::builder().name("try").max_waiting(8).build()?;
        /// let work = workq::Work::new(|_| {});
        /// assert!(pool.try_queue(&work)?.added_run());
        /// pool.flush()?;
        /// # Ok::<(), workq::Error>(())
        /// ```
        fn try_queue;

        /// The async form of [`Pool::queue`]: on a bounded pool that is full, the
        /// future waits for room instead of blocking a thread. Queueing an item that
        /// is already pending never waits.
        ///
        /// The queue call is made when this is called, as `flush_async` starts its
        /// flush at the call: with room, the item is queued (or refused) before the
        /// future is polled. Only on a full pool does the future wait, and queue
        /// the item when a poll finds room ([`QueueAsync`](crate::QueueAsync)).
        ///
        /// # Errors
        /// The future resolves to the errors of [`Pool::try_queue`], except
        /// [`Error::Full`]: it waits for room instead.
        ///
        /// ```
        /// # let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
        /// # rt.block_on(async {
        /// let pool = workq::Pool::builder().name("async-q").max_waiting(4).build()?;
        /// let work = workq::Work::new(|_| {});
        /// assert_eq!(pool.queue_async(&work).await?, workq::Queued::Scheduled);
        /// pool.flush()?;
        /// # Ok::<(), workq::Error>(())
        /// # })?;
        /// # Ok::<(), workq::Error>(())
        /// ```
        fn queue_async;
    }
}

crate::front::face::lifecycle_face! {
    impl Pool {
        /// Waits until every run queued on the pool before the call has finished.
        /// Armed delayed items are not waited for (see [`crate::shutdown`]).
        ///
        /// # Errors
        /// [`Error::WouldDeadlock`] when called from one of the pool's items.
        ///
        /// ```
        /// let pool = workq::Pool::new("flush")?;
        /// pool.queue(&workq::Work::new(|_| {}))?;
        /// pool.flush()?;
        /// # Ok::<(), workq::Error>(())
        /// ```
        fn flush;

        /// Flushes until nothing is pending or running; meanwhile only the pool's own
        /// items may queue onto it. Armed delayed items stay armed and are not waited
        /// for (see [`crate::shutdown`]).
        ///
        /// # Errors
        /// [`Error::WouldDeadlock`] when called from one of the pool's items.
        ///
        /// ```
        /// let pool = workq::Pool::new("drain")?;
        /// pool.drain()?;
        /// # Ok::<(), workq::Error>(())
        /// ```
        fn drain;

        /// Drains the pool, stops its threads and joins them; queue calls fail
        /// afterwards. Dropping the last handle does the same. Armed delayed items are
        /// cancelled or run now, as [`PoolBuilder::armed_at_shutdown`] says; the report
        /// counts them (a second call returns an empty report). See
        /// [`crate::shutdown`] for every shutdown call.
        ///
        /// # Errors
        /// [`Error::WouldDeadlock`] when called from one of the pool's threads.
        ///
        /// ```
        /// let pool = workq::Pool::new("short")?;
        /// assert!(pool.destroy()?.is_empty());
        /// assert!(pool.queue(&workq::Work::new(|_| {})).is_err());
        /// # Ok::<(), workq::Error>(())
        /// ```
        fn destroy;

        /// Like [`destroy`](Pool::destroy), but runs waiting items only until `timeout`
        /// has passed; then the items that have not started are discarded (dropped
        /// without running, and reported), the runs in progress are waited for, and
        /// nothing runs after the call returns. Armed items are cancelled, unless the
        /// pool fires them at shutdown and the deadline has not passed.
        ///
        /// # Errors
        /// [`Error::WouldDeadlock`] when called from one of the pool's threads.
        ///
        /// ```
        /// let pool = workq::Pool::new("bounded-exit")?;
        /// pool.queue(&workq::Work::new(|_| {}))?;
        /// let report = pool.destroy_timeout(std::time::Duration::from_secs(10))?;
        /// assert_eq!(report.discarded(), 0); // it had time to run
        /// # Ok::<(), workq::Error>(())
        /// ```
        fn destroy_timeout;

        /// Stops the pool at once: waiting items are discarded (reported), armed items
        /// cancelled, the runs in progress waited for; nothing runs after the call
        /// returns.
        ///
        /// # Errors
        /// [`Error::WouldDeadlock`] when called from one of the pool's threads.
        ///
        /// ```
        /// let pool = workq::Pool::new("stop-now")?;
        /// let work = workq::Work::new(|_| {});
        /// pool.queue_after(&work, std::time::Duration::from_secs(3600))?;
        /// let report = pool.shutdown_now()?;
        /// assert_eq!(report.armed_cancelled(), 1);
        /// assert!(!work.is_pending());
        /// # Ok::<(), workq::Error>(())
        /// ```
        fn shutdown_now;

        /// The pool's counters (the same as its snapshot's `stats`, without the
        /// lists).
        ///
        /// ```
        /// let pool = workq::Pool::new("counted")?;
        /// let work = workq::Work::new(|_| {});
        /// pool.queue(&work)?;
        /// pool.flush()?;
        /// assert_eq!(pool.stats().runs, 1);
        /// # Ok::<(), workq::Error>(())
        /// ```
        fn stats;

        /// A picture of the pool: every thread and what it runs, every waiting item, the
        /// counters (the kernel's slow-work runqueue listing, as data).
        ///
        /// ```
        /// let pool = workq::Pool::new("view")?;
        /// assert!(pool.snapshot().threads.is_empty()); // unused: no threads
        /// # Ok::<(), workq::Error>(())
        /// ```
        fn snapshot;
    }
}

impl Pool {
    /// The engine's queue behind this pool.
    pub(crate) fn run_queue(&self) -> &Arc<RunQueue> {
        &self.handle.queue
    }

    /// A pool with default settings.
    ///
    /// # Errors
    /// As [`PoolBuilder::build`].
    ///
    /// ```
    /// let pool = workq::Pool::new("default-pool")?;
    /// assert_eq!(pool.name(), "default-pool");
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn new(name: impl Into<String>) -> Result<Pool, Error> {
        Pool::builder().name(name).build()
    }

    /// A builder with every setting.
    ///
    /// ```
    /// let pool = workq::Pool::builder().name("p").max_threads(8).build()?;
    /// # drop(pool);
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn builder() -> PoolBuilder {
        PoolBuilder::new()
    }

    /// The pool's name.
    ///
    /// ```
    /// assert_eq!(workq::Pool::new("named")?.name(), "named");
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn name(&self) -> &str {
        &self.handle.queue.name
    }

    /// Spawns `f` as a job of the *very slow* class (see
    /// [`Work::very_slow`](crate::Work::very_slow)): at most the pool's very slow
    /// share of its threads runs such jobs at once, so they never take every
    /// thread from ordinary work.
    ///
    /// ```
    /// let pool = workq::Pool::new("slow-jobs")?;
    /// let scan = pool.spawn_very_slow(|| "scanned");
    /// assert_eq!(scan.join()?, "scanned");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn spawn_very_slow<F, R>(&self, f: F) -> crate::Job<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        crate::front::job::spawn::spawn(self, crate::engine::item::Class::VerySlow, f)
    }

    /// Registers a user of the pool. Items queued through the owner are counted
    /// for it until they are idle again; [`Owner::unregister`] waits for them.
    ///
    /// ```
    /// let pool = workq::Pool::new("owned")?;
    /// let cache = pool.register("cache");
    /// cache.queue(&workq::Work::new(|_| {}))?;
    /// cache.unregister()?; // waits for the item
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn register(&self, name: impl Into<String>) -> Owner {
        Owner::new(self.clone(), name.into())
    }

    /// `call` on this pool: unbounded pools ignore its limit (and so keep the
    /// inbox's lock-free path).
    #[inline]
    pub(crate) fn bounded(&self, call: QueueCall) -> QueueCall {
        call.limit_if_bounded(self.handle.bounded)
    }

    /// Changes the minimum number of threads. If the pool is in use and has fewer,
    /// threads start now. 0 lets the pool shrink to no thread when idle (see
    /// [`PoolBuilder::min_threads`]).
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] unless `min <= max`; [`Error::Spawn`] /
    /// [`Error::NoThreads`] if a thread could not start (the new minimum stays).
    ///
    /// ```
    /// let pool = workq::Pool::builder().name("tune").min_threads(1).max_threads(4).build()?;
    /// pool.set_min_threads(2)?;
    /// pool.set_min_threads(0)?; // may shrink to no thread
    /// assert!(pool.set_min_threads(5).is_err());
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn set_min_threads(&self, min: usize) -> Result<(), Error> {
        RunQueue::retune(
            &self.handle.queue,
            Some(min),
            None,
            None,
            builder::check_threads,
        )
    }

    /// Changes the maximum number of threads; threads over it exit when next idle.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] unless `max >= min` and `max >= 1`.
    ///
    /// ```
    /// let pool = workq::Pool::builder().name("tune-max").min_threads(1).max_threads(4).build()?;
    /// pool.set_max_threads(2)?;
    /// assert!(pool.set_max_threads(0).is_err());
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn set_max_threads(&self, max: usize) -> Result<(), Error> {
        RunQueue::retune(&self.handle.queue, None, Some(max), None, |min, max| {
            builder::check_threads(min, max).map_err(|e| match e {
                Error::InvalidConfig { reason, .. } => Error::InvalidConfig {
                    setting: "max_threads",
                    reason,
                },
                other => other,
            })
        })
    }

    /// Changes the share of threads very slow items may use, in percent (1 to 99).
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] outside 1..=99.
    ///
    /// ```
    /// let pool = workq::Pool::new("share")?;
    /// pool.set_very_slow_percent(25)?;
    /// assert!(pool.set_very_slow_percent(100).is_err());
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn set_very_slow_percent(&self, percent: usize) -> Result<(), Error> {
        builder::check_percent(percent)?;
        RunQueue::retune(&self.handle.queue, None, None, Some(percent), |_, _| Ok(()))
    }
}

impl fmt::Debug for Pool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool").field("name", &self.name()).finish()
    }
}
