//! The dedicated worker: one named thread running one FIFO queue (the kernel's
//! `kthread_worker`).

mod builder;
mod waits;

pub use builder::WorkerBuilder;

use crate::engine::{Limit, QueueCall, RunQueue};
use crate::error::Error;
use crate::shutdown::{ArmedAtShutdown, Plan, ShutdownReport};
use crate::support::sync::{lock, Arc, Mutex};
use std::fmt;
use std::thread::{JoinHandle, ThreadId};

// Named in the docs of the methods the face macros write.
#[cfg(doc)]
use crate::front::work::{Queued, Work};

/// One named OS thread that runs queued [`Work`] items one at a time, in the order
/// they were queued.
///
/// Handles are cheap to clone. When the last handle is dropped the worker is
/// destroyed: it drains its queue, stops and its thread is joined.
///
/// # Example
/// ```
/// use workq::{Work, Worker};
///
/// let worker = Worker::builder().name("disk-flusher").build()?;
/// let work = Work::named("sync", |ctx| println!("running {:?} on {}", ctx.name(), ctx.queue_name()));
/// worker.queue(&work)?;
/// worker.flush()?;
/// worker.destroy()?;
/// assert!(worker.queue(&work).is_err());
/// # Ok::<(), workq::Error>(())
/// ```
#[derive(Clone)]
pub struct Worker {
    handle: Arc<Handle>,
}

/// Shared by the handles; its drop destroys the worker.
struct Handle {
    queue: Arc<RunQueue>,
    thread_id: ThreadId,
    thread: Mutex<Option<JoinHandle<()>>>,
    armed_at_shutdown: ArmedAtShutdown,
}

impl crate::front::face::Face for Worker {
    #[inline]
    fn face_queue(&self) -> &Arc<RunQueue> {
        &self.handle.queue
    }

    /// A worker has no bound on waiting items: the plain call, which keeps the
    /// engine's lock-free paths.
    #[inline]
    fn face_call(&self, _limit: Limit) -> QueueCall {
        QueueCall::NOW
    }
}

/// A worker's shutdown also stops and joins its thread, so a destroy from that
/// thread is refused.
impl crate::front::face::Lifecycle for Worker {
    const OWN_DESTROY: &'static str = "destroying a worker from one of its own items";

    fn inside(&self) -> bool {
        std::thread::current().id() == self.handle.thread_id
    }

    fn armed_at_shutdown(&self) -> ArmedAtShutdown {
        self.handle.armed_at_shutdown
    }

    fn shut_down(&self, plan: Plan) -> ShutdownReport {
        self.handle.shut_down(plan)
    }
}

crate::front::face::delayed_face!(Worker, "worker", "workq::Worker::new(\"delayed\")?");
crate::front::job::spawn::jobs_face!(Worker, "worker", "workq::Worker::new(\"jobs\")?");

crate::front::face::queue_face! {
    impl Worker {
        /// Queues `work` to run on this worker. See [`Queued`] for the three outcomes.
        ///
        /// # Errors
        /// * [`Error::Busy`]: the item is pending or running on another queue.
        /// * [`Error::Canceling`]: a `cancel_sync` of the item is in progress.
        /// * [`Error::Destroyed`]: the worker is being or has been destroyed.
        /// * [`Error::Draining`]: the worker is draining and the caller is not one of its items.
        ///
        /// ```
        /// use workq::{Queued, Work, Worker};
        /// let worker = Worker::builder().name("q").freezable(true).build()?;
        /// worker.freeze()?;
        /// let work = Work::new(|_| {});
        /// assert_eq!(worker.queue(&work)?, Queued::Scheduled);
        /// assert_eq!(worker.queue(&work)?, Queued::AlreadyPending);
        /// worker.thaw()?;
        /// # Ok::<(), workq::Error>(())
        /// ```
        fn queue;
    }
}

crate::front::face::lifecycle_face! {
    impl Worker {
        /// Waits until every run queued on this worker before the call has finished.
        /// Runs queued after the call do not extend the wait. Returns whether it had to
        /// wait. On a frozen worker it waits for the thaw. Armed delayed items are not
        /// waited for (see [`crate::shutdown`]).
        ///
        /// # Errors
        /// [`Error::WouldDeadlock`] when called from one of this worker's items.
        ///
        /// ```
        /// let worker = workq::Worker::new("flusher")?;
        /// let work = workq::Work::new(|_| {});
        /// worker.queue(&work)?;
        /// worker.flush()?;
        /// assert!(!work.is_pending());
        /// # Ok::<(), workq::Error>(())
        /// ```
        fn flush;

        /// Flushes until nothing is pending or running. While it runs, only items
        /// running on this worker may queue onto it; other callers get
        /// [`Error::Draining`]. Items that keep queueing themselves keep it going.
        /// Armed delayed items stay armed and are not waited for (see
        /// [`crate::shutdown`]).
        ///
        /// # Errors
        /// [`Error::WouldDeadlock`] when called from one of this worker's items.
        ///
        /// ```
        /// let worker = workq::Worker::new("drainer")?;
        /// worker.queue(&workq::Work::new(|_| {}))?;
        /// worker.drain()?;
        /// # Ok::<(), workq::Error>(())
        /// ```
        fn drain;

        /// Drains the worker, stops its thread and joins it. Afterwards every queue call
        /// fails with [`Error::Destroyed`]. Calling it again returns `Ok` with an empty
        /// report. A frozen worker is thawed first, so no queued item is lost. Armed
        /// delayed items are cancelled or run now, as
        /// [`WorkerBuilder::armed_at_shutdown`] says; the report counts them. See
        /// [`crate::shutdown`] for what each shutdown does with waiting, running and
        /// armed items.
        ///
        /// # Errors
        /// [`Error::WouldDeadlock`] when called from one of this worker's items.
        ///
        /// ```
        /// let worker = workq::Worker::new("short-lived")?;
        /// assert!(worker.destroy()?.is_empty());
        /// worker.destroy()?;
        /// assert!(matches!(
        ///     worker.queue(&workq::Work::new(|_| {})),
        ///     Err(workq::Error::Destroyed { .. })
        /// ));
        /// # Ok::<(), workq::Error>(())
        /// ```
        fn destroy;

        /// Like [`destroy`](Worker::destroy), but runs waiting items only until
        /// `timeout` has passed: then the items that have not started are discarded
        /// (dropped without running, and reported), the run in progress is waited for,
        /// and nothing runs after the call returns. Armed items are cancelled, unless
        /// the worker fires them at shutdown and the deadline has not passed.
        ///
        /// # Errors
        /// [`Error::WouldDeadlock`] when called from one of this worker's items.
        ///
        /// ```
        /// use std::time::Duration;
        /// let worker = workq::Worker::builder().name("bounded-exit").freezable(true).build()?;
        /// worker.freeze()?; // hold the backlog
        /// let work = workq::Work::named("backlog", |_| {});
        /// worker.queue(&work)?;
        /// // A destroy thaws first; with no time left the backlog is discarded.
        /// let report = worker.destroy_timeout(Duration::ZERO)?;
        /// assert_eq!(report.discarded(), 1);
        /// assert_eq!(report.discarded_names(), ["backlog"]);
        /// assert!(!work.is_pending());
        /// # Ok::<(), workq::Error>(())
        /// ```
        fn destroy_timeout;

        /// Stops the worker at once: waiting items are discarded (reported), armed
        /// items cancelled, the run in progress waited for; nothing runs after the call
        /// returns.
        ///
        /// # Errors
        /// [`Error::WouldDeadlock`] when called from one of this worker's items.
        ///
        /// ```
        /// let worker = workq::Worker::new("stop")?;
        /// let report = worker.shutdown_now()?;
        /// assert_eq!(report.discarded(), 0);
        /// assert!(worker.queue(&workq::Work::new(|_| {})).is_err());
        /// # Ok::<(), workq::Error>(())
        /// ```
        fn shutdown_now;

        /// The worker's counters.
        ///
        /// ```
        /// let worker = workq::Worker::new("counted")?;
        /// let work = workq::Work::new(|_| {});
        /// worker.queue(&work)?;
        /// worker.flush()?;
        /// assert_eq!(worker.stats().runs, 1);
        /// # Ok::<(), workq::Error>(())
        /// ```
        fn stats;

        /// A picture of the worker: its thread and the item it runs, the items waiting,
        /// and its counters.
        ///
        /// ```
        /// let worker = workq::Worker::new("viewed")?;
        /// let snap = worker.snapshot();
        /// assert_eq!(snap.threads.len(), 1);
        /// assert_eq!(snap.threads[0].name, "viewed");
        /// # Ok::<(), workq::Error>(())
        /// ```
        fn snapshot;
    }
}

crate::front::face::freeze_face! {
    impl Worker {
        /// Waits for the item in progress to end and holds every item queued from now
        /// on until [`thaw`](Worker::thaw). Nothing queued is lost.
        ///
        /// # Errors
        /// [`Error::NotFreezable`] unless built with [`WorkerBuilder::freezable`];
        /// [`Error::WouldDeadlock`] when called from one of this worker's items.
        ///
        /// ```
        /// let worker = workq::Worker::builder().name("fz").freezable(true).build()?;
        /// worker.freeze()?;
        /// assert!(worker.is_frozen());
        /// let work = workq::Work::new(|_| {});
        /// worker.queue(&work)?;
        /// assert!(work.is_pending());
        /// worker.thaw()?;
        /// work.flush()?;
        /// # Ok::<(), workq::Error>(())
        /// ```
        fn freeze;

        /// Lets a frozen worker run its items again.
        ///
        /// # Errors
        /// [`Error::NotFreezable`] unless built with [`WorkerBuilder::freezable`].
        ///
        /// ```
        /// let worker = workq::Worker::builder().name("th").freezable(true).build()?;
        /// worker.thaw()?; // thawing a worker that is not frozen does nothing
        /// # Ok::<(), workq::Error>(())
        /// ```
        fn thaw;

        /// Whether the worker is frozen.
        ///
        /// ```
        /// assert!(!workq::Worker::new("warm")?.is_frozen());
        /// # Ok::<(), workq::Error>(())
        /// ```
        fn is_frozen;
    }
}

impl Worker {
    /// A worker with default settings and the given thread name.
    ///
    /// # Errors
    /// As [`WorkerBuilder::build`].
    ///
    /// ```
    /// let worker = workq::Worker::new("events")?;
    /// assert_eq!(worker.name(), "events");
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn new(name: impl Into<String>) -> Result<Worker, Error> {
        Worker::builder().name(name).build()
    }

    /// A builder for a worker with more settings.
    ///
    /// ```
    /// let worker = workq::Worker::builder().name("frozen-at-night").freezable(true).build()?;
    /// worker.freeze()?;
    /// worker.thaw()?;
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn builder() -> WorkerBuilder {
        WorkerBuilder::new()
    }

    /// The worker's name (also its thread's name).
    ///
    /// ```
    /// assert_eq!(workq::Worker::new("net-rx")?.name(), "net-rx");
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn name(&self) -> &str {
        &self.handle.queue.name
    }

    /// The worker's engine (for the engine's tests).
    #[cfg(test)]
    pub(crate) fn run_queue(&self) -> &Arc<RunQueue> {
        &self.handle.queue
    }
}

impl Handle {
    /// Drains, stops and joins; safe to call twice and from several threads. From
    /// the worker's own thread it only tells the thread to stop (it cannot join
    /// itself); the thread then exits after its current list.
    fn shut_down(&self, plan: Plan) -> ShutdownReport {
        let on_worker = std::thread::current().id() == self.thread_id;
        let report = RunQueue::shut_down(&self.queue, on_worker, plan);
        if on_worker {
            return report;
        }
        let thread = lock(&self.thread).take();
        if let Some(thread) = thread {
            // The consumer loop catches every panic of user code, so the thread
            // cannot end by panicking; nothing to report if it somehow did.
            let _ = thread.join();
        }
        report
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        let report = self.shut_down(Plan::drain(self.armed_at_shutdown));
        crate::support::log::shutdown_report(&self.queue.name, &report, true);
    }
}

impl fmt::Debug for Worker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Worker")
            .field("name", &self.name())
            .field("freezable", &self.handle.queue.freezable)
            .field("stats", &self.stats())
            .finish()
    }
}
