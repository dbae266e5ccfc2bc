//! The stall watchdog: one process-wide thread, started when the first queue asks
//! to be watched, that looks at the watched queues a few times per threshold and
//! reports, once per episode, an item running longer than the threshold, or items
//! waiting with nothing started for longer than the threshold.

use crate::engine::RunQueue;
use crate::sync::Arc;
use std::fmt;
use std::time::Duration;
#[cfg(not(loom))]
use {
    std::collections::HashSet,
    std::sync::{Mutex, OnceLock, PoisonError},
    std::time::Instant,
};

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
        }
    }
}

/// The stall hook.
///
/// [`WorkQueueBuilder::on_stall`](crate::WorkQueueBuilder::on_stall) takes any
/// closure; keep a hook in this type to share one between several queues.
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

/// One watched queue.
#[cfg(not(loom))]
struct Watched {
    queue: std::sync::Weak<RunQueue>,
    threshold: Duration,
    hook: Option<StallHook>,
    /// Runs already reported: (item address, start).
    reported: HashSet<(usize, Instant)>,
    /// The waiting episode already reported (until a run starts): the queue's
    /// count of started runs when it was.
    waiting_reported: Option<u64>,
}

#[cfg(not(loom))]
fn registry() -> &'static Mutex<Vec<Watched>> {
    static WATCHED: OnceLock<Mutex<Vec<Watched>>> = OnceLock::new();
    WATCHED.get_or_init(|| Mutex::new(Vec::new()))
}

/// Watches `queue` with `threshold`; starts the watchdog thread on first use. If
/// the thread cannot start, the queue is simply not watched.
#[cfg(not(loom))]
pub(crate) fn watch(queue: &Arc<RunQueue>, threshold: Duration, hook: Option<StallHook>) {
    static STARTED: OnceLock<bool> = OnceLock::new();
    registry()
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(Watched {
            queue: Arc::downgrade(queue),
            threshold,
            hook,
            reported: HashSet::new(),
            waiting_reported: None,
        });
    STARTED.get_or_init(|| {
        std::thread::Builder::new()
            .name("workq-watchdog".to_string())
            .spawn(patrol)
            .is_ok()
    });
}

/// Under loom the watchdog is not modelled.
#[cfg(loom)]
pub(crate) fn watch(_: &Arc<RunQueue>, _: Duration, _: Option<StallHook>) {}

#[cfg(not(loom))]
fn patrol() {
    loop {
        let period = {
            let mut watched = registry().lock().unwrap_or_else(PoisonError::into_inner);
            // A queue is dropped with its last handle, or stopped (idle items
            // bound to it last may keep its memory a while).
            watched.retain(|w| {
                w.queue.upgrade().is_some_and(|q| {
                    let g = q.lock();
                    !(g.stopping && g.threads == 0)
                })
            });
            let mut reports = Vec::new();
            for w in watched.iter_mut() {
                if let Some(q) = w.queue.upgrade() {
                    inspect(&q, w, &mut reports);
                }
            }
            drop(watched);
            for (hook, name, stall) in reports {
                let report = StallReport {
                    queue: &name,
                    stall,
                };
                crate::log::trouble!(warn, "{report}");
                if let Some(hook) = hook {
                    crate::panic::quietly(|| hook(&report));
                }
            }
            let watched = registry().lock().unwrap_or_else(PoisonError::into_inner);
            watched
                .iter()
                .map(|w| w.threshold / 4)
                .min()
                .unwrap_or(Duration::from_secs(1))
                .clamp(Duration::from_millis(5), Duration::from_secs(1))
        };
        std::thread::sleep(period);
    }
}

#[cfg(not(loom))]
type Pending = Vec<(Option<StallHook>, String, Stall)>;

/// Looks at one queue under its lock and collects what to report.
#[cfg(not(loom))]
fn inspect(q: &RunQueue, w: &mut Watched, out: &mut Pending) {
    let now = Instant::now();
    let mut g = q.lock();
    let mut still_running = HashSet::new();
    for slot in g.slots.iter_mut().flatten() {
        if let Some((work, since)) = slot.running_since(now) {
            let key = (Arc::as_ptr(work) as *const () as usize, since);
            still_running.insert(key);
            let running_for = now.saturating_duration_since(since);
            if running_for > w.threshold && w.reported.insert(key) {
                out.push((
                    w.hook.clone(),
                    q.name.to_string(),
                    Stall::Running {
                        work: work.name().map(str::to_string),
                        running_for,
                    },
                ));
            }
        }
    }
    w.reported.retain(|k| still_running.contains(k));
    // Waiting with nothing started: a new episode begins at each run start.
    if w.waiting_reported.is_some() && Some(g.starts) != w.waiting_reported {
        w.waiting_reported = None;
    }
    let quiet = g.quiet_for(now).map_or(true, |d| d > w.threshold);
    if let Some(oldest) = g.oldest_wait(now) {
        if quiet && oldest > w.threshold && w.waiting_reported.is_none() && !g.frozen {
            w.waiting_reported = Some(g.starts);
            out.push((
                w.hook.clone(),
                q.name.to_string(),
                Stall::Waiting {
                    waiting: g.waiting(),
                    oldest,
                },
            ));
        }
    }
}
