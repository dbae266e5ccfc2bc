//! The stall watchdog: one process-wide patrol thread, started when the first
//! queue asks to be watched, that looks at the watched queues a few times per
//! threshold and reports, once per episode, an item running longer than the
//! threshold, items waiting with nothing started for longer than the threshold,
//! or a backlog whose oldest item has waited longer than the threshold while runs
//! keep starting.
//!
//! * `start`: how the watchdog starts its threads (the process-wide spawner) and
//!   the patrol thread's start, retried with back-off when it fails;
//! * `patrol`: the watched queues and what the patrol looks at;
//! * `hooks`: the stall hooks, called off the patrol thread, one call at a time
//!   per queue, so that a hook that blocks silences only its own queue's hook.
//!
//! Threads: the patrol thread (`workq-watchdog`, one per process, never exits),
//! and, per watched queue with a stall hook, at most one hook thread
//! (`workq-stall-hook`) while a report for that queue is being handed to its hook.

#[cfg(not(loom))]
mod hooks;
#[cfg(not(loom))]
mod patrol;
mod start;

use crate::engine::RunQueue;
use crate::support::sync::Arc;
use std::fmt;
use std::time::Duration;

pub use start::set_watchdog_spawner;

/// What the watchdog saw.
///
/// ```
/// use std::sync::{mpsc, Mutex};
/// use std::time::Duration;
/// use workq::{Stall, Work, WorkQueue};
///
/// let (report_tx, reports) = mpsc::channel();
/// let wq = WorkQueue::builder("watched")
///     .watchdog(Some(Duration::from_millis(1)))
///     .on_stall(move |report| match &report.stall {
///         Stall::Running { work, running_for } => {
///             let _ = report_tx.send((work.clone(), *running_for));
///         }
///         // Items waiting with nothing of the queue started (here: if the pool
///         // was slow to start a thread).
///         Stall::Waiting { .. } => {}
///         _ => {} // the enum is non-exhaustive
///     })
///     .build()?;
/// let (release, released) = mpsc::channel::<()>();
/// let released = Mutex::new(released);
/// let stuck = Work::named("stuck", move |_| {
///     // Runs until released: longer than the watchdog's threshold.
///     let _ = released.lock().expect("lock").recv();
/// });
/// wq.queue(&stuck)?;
/// let (work, running_for) = reports.recv_timeout(Duration::from_secs(10)).expect("a report");
/// release.send(()).expect("release");
/// wq.flush()?;
/// assert_eq!(work.as_deref(), Some("stuck"));
/// assert!(running_for > Duration::from_millis(1));
/// # Ok::<(), workq::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Stall {
    /// An item has been running longer than the threshold.
    Running {
        /// The item's name, if it has one.
        work: Option<String>,
        /// How long it has been running.
        running_for: Duration,
    },
    /// Items have been waiting with nothing of the queue started for longer than
    /// the threshold.
    Waiting {
        /// How many items wait.
        waiting: usize,
        /// How long the oldest has waited.
        oldest: Duration,
    },
    /// Runs keep starting, but the oldest waiting item has waited longer than
    /// the threshold: the queue falls behind. Reported once per episode: the
    /// episode ends when the patrol sees the oldest wait at or under the
    /// threshold (or nothing waiting); a later backlog is reported again.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicBool, Ordering};
    /// use std::sync::{mpsc, Arc};
    /// use std::time::Duration;
    /// use workq::{Stall, Work, WorkQueue};
    ///
    /// let stop = Arc::new(AtomicBool::new(false));
    /// let (report_tx, reports) = mpsc::channel();
    /// let s = stop.clone();
    /// let wq = WorkQueue::builder("behind")
    ///     .max_active(1)
    ///     .watchdog(Some(Duration::from_millis(20)))
    ///     .on_stall(move |report| {
    ///         if let Stall::Backlog { waiting, oldest } = report.stall {
    ///             s.store(true, Ordering::SeqCst);
    ///             let _ = report_tx.send((waiting, oldest));
    ///         }
    ///     })
    ///     .build()?;
    /// // 50 items that each run for a millisecond and queue themselves again:
    /// // runs keep starting, yet each item waits for the 49 others.
    /// let items: Vec<Work> = (0..50)
    ///     .map(|_| {
    ///         let (s, wq) = (stop.clone(), wq.clone());
    ///         Work::new(move |ctx| {
    ///             std::thread::sleep(Duration::from_millis(1));
    ///             if !s.load(Ordering::SeqCst) {
    ///                 let _ = wq.queue(&ctx.work());
    ///             }
    ///         })
    ///     })
    ///     .collect();
    /// for item in &items {
    ///     wq.queue(item)?;
    /// }
    /// let (waiting, oldest) = reports.recv_timeout(Duration::from_secs(30)).expect("a report");
    /// assert!(waiting > 0 && oldest > Duration::from_millis(20));
    /// wq.flush()?;
    /// # Ok::<(), workq::Error>(())
    /// ```
    Backlog {
        /// How many items wait.
        waiting: usize,
        /// How long the oldest has waited.
        oldest: Duration,
    },
}

/// A stall report, passed to the hook.
///
/// ```
/// use std::sync::{mpsc, Mutex};
/// use std::time::Duration;
/// use workq::{Stall, StallReport, Work, WorkQueue};
///
/// let (report_tx, reports) = mpsc::channel();
/// let wq = WorkQueue::builder("watched")
///     .watchdog(Some(Duration::from_millis(1)))
///     .on_stall(move |report: &StallReport<'_>| {
///         if matches!(report.stall, Stall::Running { .. }) {
///             let _ = report_tx.send((report.queue.to_string(), report.to_string()));
///         }
///     })
///     .build()?;
/// let (release, released) = mpsc::channel::<()>();
/// let released = Mutex::new(released);
/// let stuck = Work::named("stuck", move |_| {
///     // Runs until released: longer than the watchdog's threshold.
///     let _ = released.lock().expect("lock").recv();
/// });
/// wq.queue(&stuck)?;
/// let (queue, line) = reports.recv_timeout(Duration::from_secs(10)).expect("a stall report");
/// release.send(()).expect("release");
/// wq.flush()?;
/// assert_eq!(queue, "watched");
/// assert!(line.starts_with("workq: stall on 'watched': item 'stuck' has been running for"));
/// # Ok::<(), workq::Error>(())
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct StallReport<'a> {
    /// The queue's name.
    pub queue: &'a str,
    /// What stalls.
    pub stall: Stall,
}

impl fmt::Display for StallReport<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.stall {
            Stall::Running { work, running_for } => write!(
                f,
                "workq: stall on '{}': item '{}' has been running for {running_for:.1?}",
                self.queue,
                work.as_deref().unwrap_or("<unnamed>")
            ),
            Stall::Waiting { waiting, oldest } => write!(
                f,
                "workq: stall on '{}': {waiting} item(s) waiting, the oldest for {oldest:.1?}, with nothing started",
                self.queue
            ),
            Stall::Backlog { waiting, oldest } => write!(
                f,
                "workq: backlog on '{}': {waiting} item(s) waiting, the oldest for {oldest:.1?}, while runs keep starting",
                self.queue
            ),
        }
    }
}

/// The stall hook.
///
/// [`WorkQueueBuilder::on_stall`](crate::WorkQueueBuilder::on_stall) takes any
/// closure; keep a hook in this type to share one between several queues.
///
/// The hook is called on a thread of its own (`workq-stall-hook`), never on the
/// watchdog's patrol thread, one call at a time per queue: while a queue's hook
/// call has not returned, that queue's later reports wait for it (up to 64; more
/// are dropped and counted), and other queues' reports are not held up. A hook
/// call that has not returned after the queue's threshold is itself reported,
/// once, as a log line (`the stall hook of '...' has not returned for ...`).
/// Every stall report is also a log line, with a hook or without one (see the
/// crate's features: an event when a `tracing` subscriber is installed, else one
/// line on standard error).
///
/// ```
/// use std::sync::{mpsc, Arc, Mutex};
/// use std::time::Duration;
/// use workq::{StallHook, Work, WorkQueue};
///
/// let (report_tx, reports) = mpsc::channel();
/// let hook: StallHook = Arc::new(move |report| {
///     let _ = report_tx.send(report.queue.to_string());
/// });
/// let watchdog = Some(Duration::from_millis(1));
/// let (h1, h2) = (hook.clone(), hook.clone());
/// let disk = WorkQueue::builder("disk").watchdog(watchdog).on_stall(move |r| h1(r)).build()?;
/// let net = WorkQueue::builder("net").watchdog(watchdog).on_stall(move |r| h2(r)).build()?;
/// let (release, released) = mpsc::channel::<()>();
/// let released = Mutex::new(released);
/// let stuck = Work::named("stuck", move |_| {
///     // Runs until released: longer than the watchdog's threshold.
///     let _ = released.lock().expect("lock").recv();
/// });
/// net.queue(&stuck)?;
/// let stalled = reports.recv_timeout(Duration::from_secs(10)).expect("a stall report");
/// release.send(()).expect("release");
/// net.flush()?;
/// assert_eq!(stalled, "net");
/// # Ok::<(), workq::Error>(())
/// ```
pub type StallHook = std::sync::Arc<dyn Fn(&StallReport<'_>) + Send + Sync>;

/// The queue that runs the retries of a failed patrol start (the process-wide
/// default pool's), asked for only when a start fails.
pub(crate) type RetryQueue = fn() -> Arc<RunQueue>;

/// Watches `queue` with `threshold`, reporting to `hook` (besides the log line);
/// starts the watchdog's patrol thread on first use, retrying a failed start
/// from a delayed item on `retry_on`'s queue (see `start`).
#[cfg(not(loom))]
pub(crate) fn watch(
    queue: &Arc<RunQueue>,
    threshold: Duration,
    hook: Option<StallHook>,
    retry_on: RetryQueue,
) {
    patrol::add(queue, threshold, hook);
    start::ensure_patrol(retry_on);
}

/// Under loom the watchdog is not modelled.
#[cfg(loom)]
pub(crate) fn watch(_: &Arc<RunQueue>, _: Duration, _: Option<StallHook>, _: RetryQueue) {}
