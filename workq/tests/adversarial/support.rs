//! Helpers shared by the modules of the adversarial suite (on top of
//! `tests/common`): a *probe* (an item wrapped with a drop counter, an overlap
//! detector and run accounting), a log of panic reports, tokens that panic when
//! dropped, a minimal `block_on`, and the silencing of the panics the suite
//! injects on purpose.
#![allow(dead_code)]

use crate::common::{lock, DropCounter, OverlapDetector, SpawnCall};
use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Once};
use std::task::{Context, Poll, Wake, Waker};
use std::thread;
use std::time::Duration;
use workq::{Error, PanicReport, Pool, Queued, Stats, Work, WorkCtx, WorkQueue, Worker};

/// Every panic the suite injects on purpose has a message starting with this.
pub const INJECTED: &str = "injected";

/// Installs (once per process) a panic hook that keeps quiet about the panics the
/// suite injects on purpose (a message starting with [`INJECTED`], or a [`Bomb`]
/// payload) and hands every other panic to the previous hook, so a real failure
/// is still printed in full.
pub fn quiet_injected_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let p = info.payload();
            let msg = p
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| p.downcast_ref::<String>().map(String::as_str));
            let injected = msg.is_some_and(|m| m.starts_with(INJECTED)) || p.is::<Bomb>();
            if !injected {
                previous(info);
            }
        }));
    });
}

/// A panic payload whose own drop panics (outside an unwind): the worst payload a
/// panic can carry. Code that catches a panic must also catch the drop of its
/// payload.
#[derive(Debug)]
pub struct Bomb;

impl Drop for Bomb {
    fn drop(&mut self) {
        if !thread::panicking() {
            panic!("{INJECTED}: the drop of a panic payload");
        }
    }
}

/// Panics with a [`Bomb`] payload.
pub fn panic_with_bomb() -> ! {
    std::panic::panic_any(Bomb)
}

/// A token to move into a closure: counts its drop, then panics (unless the
/// thread is already unwinding, which would abort the process).
#[derive(Debug)]
pub struct PanicOnDrop {
    drops: Arc<AtomicUsize>,
}

impl PanicOnDrop {
    /// A token and the count of its drops.
    pub fn new() -> (PanicOnDrop, Arc<AtomicUsize>) {
        let drops = Arc::new(AtomicUsize::new(0));
        (
            PanicOnDrop {
                drops: drops.clone(),
            },
            drops,
        )
    }
}

impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::SeqCst);
        if !thread::panicking() {
            panic!("{INJECTED}: closure drop");
        }
    }
}

/// The body of a probe: the run's context and its number (1 for the first run).
pub type Body = dyn Fn(&WorkCtx<'_>, usize) + Send + Sync + 'static;

/// A work item and everything the checks need about it: its closure's drop count,
/// an overlap detector around every run, the runs started and finished, the epoch
/// seen by the latest run, and the runs its queue calls added.
pub struct Probe {
    pub work: Work,
    pub drops: Arc<AtomicUsize>,
    pub overlap: Arc<OverlapDetector>,
    started: Arc<AtomicUsize>,
    finished: Arc<AtomicUsize>,
    /// Bumped by the test before a queue call ("the data the run must see").
    pub epoch: Arc<AtomicU64>,
    /// The largest epoch read at the start of a run.
    pub seen: Arc<AtomicU64>,
    /// The largest epoch of a queue call that returned `Ok`.
    pub ok_epoch: AtomicU64,
    /// Queue calls that returned `Scheduled` or `Rerun`.
    pub added: AtomicUsize,
}

impl Probe {
    /// A probe named `name` that does nothing but count.
    pub fn plain(name: &str) -> Probe {
        Probe::new(name, false, |_, _| {})
    }

    /// A probe running `body` inside the accounting (also when `body` panics).
    pub fn new<F>(name: &str, very_slow: bool, body: F) -> Probe
    where
        F: Fn(&WorkCtx<'_>, usize) + Send + Sync + 'static,
    {
        let (token, drops) = DropCounter::new();
        let overlap = Arc::new(OverlapDetector::default());
        let started = Arc::new(AtomicUsize::new(0));
        let finished = Arc::new(AtomicUsize::new(0));
        let epoch = Arc::new(AtomicU64::new(0));
        let seen = Arc::new(AtomicU64::new(0));
        let f = {
            let (overlap, started, finished, epoch, seen) = (
                overlap.clone(),
                started.clone(),
                finished.clone(),
                epoch.clone(),
                seen.clone(),
            );
            move |ctx: &WorkCtx<'_>| {
                let _held = &token;
                let _inside = overlap.enter();
                seen.fetch_max(epoch.load(Ordering::SeqCst), Ordering::SeqCst);
                let n = started.fetch_add(1, Ordering::SeqCst) + 1;
                // Counted as finished also when the body panics.
                struct Done<'a>(&'a AtomicUsize);
                impl Drop for Done<'_> {
                    fn drop(&mut self) {
                        self.0.fetch_add(1, Ordering::SeqCst);
                    }
                }
                let _done = Done(&finished);
                body(ctx, n);
            }
        };
        let work = if very_slow {
            Work::very_slow(name, f)
        } else {
            Work::named(name, f)
        };
        Probe {
            work,
            drops,
            overlap,
            started,
            finished,
            epoch,
            seen,
            ok_epoch: AtomicU64::new(0),
            added: AtomicUsize::new(0),
        }
    }

    /// Runs started.
    pub fn runs(&self) -> usize {
        self.started.load(Ordering::SeqCst)
    }

    /// Runs finished (returned or panicked).
    pub fn finished(&self) -> usize {
        self.finished.load(Ordering::SeqCst)
    }

    /// How many times the closure was dropped.
    pub fn drops(&self) -> usize {
        self.drops.load(Ordering::SeqCst)
    }

    /// A queue call with the epoch scheme: bumps the epoch, makes the call, and
    /// books an `Ok` (its epoch, and whether it added a run).
    pub fn queue_with(
        &self,
        call: impl FnOnce(&Work) -> Result<Queued, Error>,
    ) -> Result<Queued, Error> {
        let e = self.epoch.fetch_add(1, Ordering::SeqCst) + 1;
        let r = call(&self.work);
        if let Ok(q) = &r {
            self.ok_epoch.fetch_max(e, Ordering::SeqCst);
            if q.added_run() {
                self.added.fetch_add(1, Ordering::SeqCst);
            }
        }
        r
    }

    /// Runs added by `Ok` queue calls so far.
    pub fn added(&self) -> usize {
        self.added.load(Ordering::SeqCst)
    }

    /// Checks, once nothing runs any more, that every `Ok` queue call was followed
    /// by a run that started after it (the latest run saw at least the epoch of
    /// the latest `Ok` call), that with no cancel involved every added run
    /// happened, and that no two runs overlapped.
    pub fn check_nothing_lost(&self, what: &str) {
        let name = self.work.name().unwrap_or("<unnamed>").to_string();
        assert!(
            !self.work.is_pending() && !self.work.is_running(),
            "{what}: '{name}' is still pending or running: {:?}",
            self.work
        );
        assert_eq!(
            self.runs(),
            self.finished(),
            "{what}: '{name}': a run never finished"
        );
        assert_eq!(
            self.runs(),
            self.added(),
            "{what}: '{name}': runs != runs added by Ok queue calls"
        );
        assert!(
            self.seen.load(Ordering::SeqCst) >= self.ok_epoch.load(Ordering::SeqCst),
            "{what}: '{name}': an Ok queue call (epoch {}) was not followed by a run (latest run saw {})",
            self.ok_epoch.load(Ordering::SeqCst),
            self.seen.load(Ordering::SeqCst)
        );
        assert_eq!(
            self.overlap.violations(),
            0,
            "{what}: '{name}': runs overlapped"
        );
    }
}

/// One panic report, as a hook saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    pub work: Option<String>,
    pub queue: String,
    pub message: String,
    /// The name of the thread the hook ran on.
    pub thread: Option<String>,
}

/// Collects the reports a panic hook is given.
#[derive(Clone, Debug, Default)]
pub struct PanicLog(Arc<Mutex<Vec<Report>>>);

impl PanicLog {
    /// An empty log.
    pub fn new() -> PanicLog {
        PanicLog::default()
    }

    /// A hook (for `on_panic`) that records into this log.
    pub fn hook(&self) -> impl Fn(&PanicReport<'_>) + Send + Sync + 'static {
        let log = self.0.clone();
        move |r| {
            lock(&log).push(Report {
                work: r.work.map(str::to_string),
                queue: r.queue.to_string(),
                message: r.message.to_string(),
                thread: thread::current().name().map(str::to_string),
            });
        }
    }

    /// Every report so far.
    pub fn reports(&self) -> Vec<Report> {
        lock(&self.0).clone()
    }

    /// How many reports so far.
    pub fn count(&self) -> usize {
        lock(&self.0).len()
    }

    /// How many reports name item `work`.
    pub fn count_for(&self, work: &str) -> usize {
        lock(&self.0)
            .iter()
            .filter(|r| r.work.as_deref() == Some(work))
            .count()
    }
}

/// Wakes a parked thread.
struct Unpark(thread::Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// Runs a future to completion on the calling thread (no runtime): polls, parks
/// until woken. Call it inside a watchdog (`bounded30`).
pub fn block_on<F: Future>(fut: F) -> F::Output {
    let waker = Waker::from(Arc::new(Unpark(thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut fut = pin!(fut);
    loop {
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
        // A bounded park: a lost wake-up shows as slowness here and as a hang in
        // the caller's watchdog, never as a wrong result.
        thread::park_timeout(Duration::from_millis(50));
    }
}

/// Checks the spawner-call log of a pool: after a failed start, the next start is
/// tried no earlier than `backoff` later.
pub fn assert_backoff_honoured(calls: &[SpawnCall], backoff: Duration, what: &str) {
    for pair in calls.windows(2) {
        if !pair[0].ok {
            let gap = pair[1].at.saturating_duration_since(pair[0].at);
            assert!(
                gap >= backoff,
                "{what}: a thread start was tried {gap:?} after a failed one, inside the \
                 back-off of {backoff:?}: {calls:?}"
            );
        }
    }
}

/// Whether `e` is one of the errors a pool gives when it has no thread and cannot
/// start one.
pub fn is_no_thread_error(e: &Error) -> bool {
    matches!(e, Error::Spawn { .. } | Error::NoThreads { .. })
}

/// The three places items run: a dedicated worker, a pool, a workqueue on a pool.
#[derive(Clone, Debug)]
pub enum Front {
    Worker(Worker),
    Pool(Pool),
    Queue(WorkQueue),
}

/// Which kind of [`Front`] to build.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Worker,
    Pool,
    Queue,
}

/// Every kind.
pub const KINDS: [Kind; 3] = [Kind::Worker, Kind::Pool, Kind::Queue];

impl Front {
    /// A front end of `kind` named `name` whose panics go to `log` (for a
    /// workqueue: the queue's hook; its pool gets a fresh pool of its own).
    pub fn build(kind: Kind, name: &str, log: &PanicLog) -> Front {
        match kind {
            Kind::Worker => Front::Worker(
                Worker::builder()
                    .name(name)
                    .on_panic(log.hook())
                    .build()
                    .unwrap(),
            ),
            Kind::Pool => Front::Pool(
                Pool::builder()
                    .name(name)
                    .min_threads(1)
                    .max_threads(2)
                    .on_panic(log.hook())
                    .build()
                    .unwrap(),
            ),
            Kind::Queue => {
                let pool = Pool::builder()
                    .name(format!("{name}-pool"))
                    .min_threads(1)
                    .max_threads(2)
                    .build()
                    .unwrap();
                Front::Queue(
                    WorkQueue::builder(name)
                        .pool(&pool)
                        .max_active(2)
                        .on_panic(log.hook())
                        .build()
                        .unwrap(),
                )
            }
        }
    }

    /// The queue's name (what panic reports name).
    pub fn name(&self) -> &str {
        match self {
            Front::Worker(w) => w.name(),
            Front::Pool(p) => p.name(),
            Front::Queue(q) => q.name(),
        }
    }

    /// Queues `work` here.
    pub fn queue(&self, work: &Work) -> Result<Queued, Error> {
        match self {
            Front::Worker(w) => w.queue(work),
            Front::Pool(p) => p.queue(work),
            Front::Queue(q) => q.queue(work),
        }
    }

    /// Flushes the whole front end (under the watchdog).
    pub fn flush(&self) -> bool {
        let f = self.clone();
        crate::common::bounded30("flush a front end", move || match &f {
            Front::Worker(w) => w.flush(),
            Front::Pool(p) => p.flush(),
            Front::Queue(q) => q.flush(),
        })
        .unwrap()
    }

    /// Destroys it (under the watchdog); a workqueue's pool goes with its last
    /// handle.
    pub fn destroy(&self) {
        let f = self.clone();
        crate::common::bounded30("destroy a front end", move || match &f {
            Front::Worker(w) => w.destroy(),
            Front::Pool(p) => p.destroy(),
            Front::Queue(q) => q.destroy(),
        })
        .unwrap();
    }

    /// Its counters.
    pub fn stats(&self) -> Stats {
        match self {
            Front::Worker(w) => w.stats(),
            Front::Pool(p) => p.snapshot().stats,
            Front::Queue(q) => q.snapshot().stats,
        }
    }

    /// Queues a fresh probe here, flushes it, and checks it ran once: the front
    /// end still works.
    pub fn still_works(&self, what: &str) {
        let probe = Probe::plain(&format!("{what}-after"));
        probe.queue_with(|w| self.queue(w)).unwrap();
        crate::common::flush_work(&probe.work);
        probe.check_nothing_lost(what);
        assert_eq!(
            probe.runs(),
            1,
            "{what}: {} no longer runs items",
            self.name()
        );
    }
}
