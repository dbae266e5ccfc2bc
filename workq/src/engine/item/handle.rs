//! The public types of a work item: the handle ([`Work`]), what a queue call
//! did ([`Queued`]) and what a run sees ([`WorkCtx`]). Defined here, beside the
//! engine's side of the item, because the engine calls the closure with a
//! `WorkCtx` and answers with `Queued`; their methods are in `front/work.rs`.

use crate::engine::item::WorkInner;
use crate::engine::RunQueue;
use crate::support::sync::Arc;

/// A unit of deferred work: a closure that may run many times, and the state that
/// makes queueing it follow the Linux kernel's contract.
///
/// * Queueing an idle item schedules a run ([`Queued::Scheduled`]).
/// * Queueing an item that is pending and has not started changes nothing
///   ([`Queued::AlreadyPending`]); that path is one atomic operation, no lock.
/// * Queueing an item that is running makes it run once more after the current run
///   ([`Queued::Rerun`]).
///
/// Every successful queue call is followed by a run that starts after the call and
/// sees everything the caller wrote before it. Runs of one item never overlap. The
/// closure is dropped exactly once, when the last handle (including the queue's own,
/// held while the item is pending or running) goes away.
///
/// `Work` is a cheap handle: clones share one item.
///
/// # Example
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use std::sync::Arc;
/// use workq::{Queued, Work, Worker};
///
/// let worker = Worker::new("example")?;
/// let runs = Arc::new(AtomicUsize::new(0));
/// let r = runs.clone();
/// let work = Work::named("count", move |_ctx| {
///     r.fetch_add(1, Ordering::SeqCst);
/// });
/// assert_eq!(worker.queue(&work)?, Queued::Scheduled);
/// work.flush()?;
/// assert_eq!(runs.load(Ordering::SeqCst), 1);
/// # Ok::<(), workq::Error>(())
/// ```
#[derive(Clone)]
pub struct Work {
    pub(crate) inner: Arc<WorkInner>,
}

/// What a successful queue call did.
///
/// All three mean the same for correctness: a run of the item will start after the
/// call. They differ in whether the call added a run.
///
/// ```
/// use std::sync::{Arc, OnceLock};
/// use workq::{Queued, Work, Worker};
///
/// let worker = Worker::builder().name("queued").freezable(true).build()?;
/// worker.freeze()?; // hold runs, so the item stays pending
/// let from_run = Arc::new(OnceLock::new());
/// let f = from_run.clone();
/// let work = Work::new(move |ctx| {
///     f.get_or_init(|| ctx.requeue().expect("requeue")); // first run only
/// });
/// assert_eq!(worker.queue(&work)?, Queued::Scheduled); // idle: a run is added
/// assert_eq!(worker.queue(&work)?, Queued::AlreadyPending); // coalesced
/// worker.thaw()?;
/// worker.drain()?; // the first run and the one it asked for
/// assert_eq!(from_run.get(), Some(&Queued::Rerun)); // queued while running
/// # Ok::<(), workq::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Queued {
    /// The item was idle; a run is now scheduled.
    Scheduled,
    /// The item was already pending and had not started; nothing changed. The pending
    /// run will see everything the caller wrote before the call.
    AlreadyPending,
    /// The item was running; it will run once more after the current run ends.
    Rerun,
}

impl Queued {
    /// Whether this call added a run (`Scheduled` or `Rerun`), as the kernel's
    /// `queue_work` returning true.
    ///
    /// ```
    /// use workq::Queued;
    /// assert!(Queued::Scheduled.added_run());
    /// assert!(Queued::Rerun.added_run());
    /// assert!(!Queued::AlreadyPending.added_run());
    /// ```
    pub fn added_run(self) -> bool {
        !matches!(self, Queued::AlreadyPending)
    }
}

/// What a running item can see and do about its own run.
///
/// Passed to the closure on every run.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// let seen = Arc::new(Mutex::new(String::new()));
/// let s = seen.clone();
/// let work = workq::Work::named("report", move |ctx| {
///     let name = ctx.name().unwrap_or("<unnamed>");
///     *s.lock().expect("lock") = format!("{name} on {}", ctx.queue_name());
/// });
/// let worker = workq::Worker::new("ctx-demo")?;
/// worker.queue(&work)?;
/// work.flush()?;
/// assert_eq!(*seen.lock().expect("lock"), "report on ctx-demo");
/// # Ok::<(), workq::Error>(())
/// ```
pub struct WorkCtx<'a> {
    pub(crate) work: &'a Arc<WorkInner>,
    pub(crate) queue: &'a Arc<RunQueue>,
}
