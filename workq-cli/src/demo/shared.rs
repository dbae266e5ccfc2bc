//! What the scenario's threads and the views share: the clock of the run, the quit
//! and finished flags, the phase, the feed of reports, the counters, the queue
//! handles the views take snapshots of, and the per-item checkers (overlap
//! detector and drop counter).

use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::thread;
use std::time::{Duration, Instant};
use workq::{Pool, WorkQueue, Worker};

/// How many reports the feed keeps (older ones are forgotten; the counters keep
/// the totals).
const FEED_KEEP: usize = 500;

/// Locks `m`, going on with the data if a panicking thread poisoned it (every
/// value behind these mutexes stays consistent between statements).
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What went wrong in the demo itself (as opposed to a failed check).
#[derive(Debug)]
pub enum DemoError {
    /// A workq call failed where the scenario needed it to succeed.
    Workq(workq::Error),
    /// A demo thread could not be started, or terminal output failed.
    Io(std::io::Error),
    /// A demo thread panicked.
    Panicked(&'static str),
}

impl fmt::Display for DemoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DemoError::Workq(e) => write!(f, "{e}"),
            DemoError::Io(e) => write!(f, "{e}"),
            DemoError::Panicked(what) => write!(f, "the {what} thread panicked"),
        }
    }
}

impl From<workq::Error> for DemoError {
    fn from(e: workq::Error) -> Self {
        DemoError::Workq(e)
    }
}

impl From<std::io::Error> for DemoError {
    fn from(e: std::io::Error) -> Self {
        DemoError::Io(e)
    }
}

/// Starts a named demo thread.
pub fn spawn<T, F>(name: &str, f: F) -> Result<thread::JoinHandle<T>, DemoError>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    Ok(thread::Builder::new().name(name.to_string()).spawn(f)?)
}

/// What a report in the feed is about (the views colour them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReportKind {
    /// A step of the scenario (freeze, cancel, unregister, ...).
    Timeline,
    /// A backlog report of the events (`Events` `on_backlog`).
    Backlog,
    /// A stall report of the watchdog (`WorkQueue` `on_stall`).
    Stall,
    /// A caught panic of a work item (a queue's `on_panic`).
    Panic,
    /// A workq call that failed unexpectedly inside the scenario.
    Error,
}

/// One line of the feed.
#[derive(Clone, Debug)]
pub struct Report {
    /// Its number in the feed, from 1.
    pub seq: u64,
    /// Time since the start of the run.
    pub at: Duration,
    /// What it is about.
    pub kind: ReportKind,
    /// The text.
    pub text: String,
}

/// The feed: the latest reports, numbered.
#[derive(Default)]
struct Feed {
    last_seq: u64,
    recent: VecDeque<Report>,
}

/// The handles of the three queues the views show.
#[derive(Clone)]
pub struct Queues {
    /// The shared pool (fills, readahead, the workqueue's pumps).
    pub pool: Pool,
    /// The network device's worker.
    pub worker: Worker,
    /// The ordered workqueue of metadata writes.
    pub meta: WorkQueue,
}

/// The two cache owners, by index.
pub const OWNERS: [&str; 2] = ["nfs", "afs"];

/// The three event kinds of the network device, by index.
pub const EVENT_NAMES: [&str; 3] = ["rx", "tx", "link"];

/// Every counter of the run. Monotonic unless said otherwise.
#[derive(Default)]
pub struct Counters {
    /// Successful raises per event kind (counted just before the raise).
    pub raised: [AtomicU64; 3],
    /// Raises per kind seen by handler runs.
    pub seen: [AtomicU64; 3],
    /// Raise outcomes: scheduled, already pending, rerun.
    pub raise_outcomes: [AtomicU64; 3],
    /// Runs of the events handler.
    pub handler_runs: AtomicU64,
    /// Backlog reports of the events.
    pub backlog_reports: AtomicU64,
    /// Runs of the self-requeueing link poller.
    pub polls: AtomicU64,
    /// Ticks of the periodic tx watchdog.
    pub watchdog_ticks: AtomicU64,
    /// Successful fills per owner.
    pub fills: [AtomicU64; 2],
    /// Failed fills per owner (each is retried).
    pub failed: [AtomicU64; 2],
    /// Fills retried per owner.
    pub retried: [AtomicU64; 2],
    /// `modify` calls that armed an idle (or running) retry.
    pub retry_armed: AtomicU64,
    /// `modify` calls that re-armed a retry already waiting on its timer.
    pub retry_rearmed: AtomicU64,
    /// Very slow readaheads finished.
    pub readahead_done: AtomicU64,
    /// Times a readahead gave its thread back (`sleep_till_thread_needed`).
    pub gave_back: AtomicU64,
    /// Items counted for each owner right now (published by its filler).
    pub outstanding: [AtomicU64; 2],
    /// Whether each owner has unregistered.
    pub unregistered: [AtomicBool; 2],
    /// Metadata writes run (journal commits included).
    pub meta_writes: AtomicU64,
    /// Journal commits run.
    pub commits: AtomicU64,
    /// Metadata writes running right now (the ordered queue's detector).
    pub meta_inside: AtomicUsize,
    /// The most metadata writes ever seen running at once.
    pub meta_max: AtomicUsize,
    /// Stall reports of the watchdog.
    pub stall_reports: AtomicU64,
    /// Panic reports of the queues' hooks.
    pub panic_reports: AtomicU64,
    /// Unexpected errors of workq calls in the scenario's items and threads.
    pub errors: AtomicU64,
    /// Runs of one item that overlapped an earlier run of the same item.
    pub overlaps: AtomicU64,
    /// Closures made (each holds a drop counter).
    pub created: AtomicU64,
    /// Closures dropped.
    pub dropped: AtomicU64,
}

/// A copy of the counters at one instant, for the views (plain data, so tests can
/// make one).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CounterValues {
    /// See [`Counters::raised`].
    pub raised: [u64; 3],
    /// See [`Counters::seen`].
    pub seen: [u64; 3],
    /// See [`Counters::raise_outcomes`].
    pub raise_outcomes: [u64; 3],
    /// See [`Counters::handler_runs`].
    pub handler_runs: u64,
    /// See [`Counters::backlog_reports`].
    pub backlog_reports: u64,
    /// See [`Counters::polls`].
    pub polls: u64,
    /// See [`Counters::watchdog_ticks`].
    pub watchdog_ticks: u64,
    /// See [`Counters::fills`].
    pub fills: [u64; 2],
    /// See [`Counters::failed`].
    pub failed: [u64; 2],
    /// See [`Counters::retried`].
    pub retried: [u64; 2],
    /// See [`Counters::retry_armed`].
    pub retry_armed: u64,
    /// See [`Counters::retry_rearmed`].
    pub retry_rearmed: u64,
    /// See [`Counters::readahead_done`].
    pub readahead_done: u64,
    /// See [`Counters::gave_back`].
    pub gave_back: u64,
    /// See [`Counters::outstanding`].
    pub outstanding: [u64; 2],
    /// See [`Counters::unregistered`].
    pub unregistered: [bool; 2],
    /// See [`Counters::meta_writes`].
    pub meta_writes: u64,
    /// See [`Counters::commits`].
    pub commits: u64,
    /// See [`Counters::meta_max`].
    pub meta_max: usize,
    /// See [`Counters::stall_reports`].
    pub stall_reports: u64,
    /// See [`Counters::panic_reports`].
    pub panic_reports: u64,
    /// See [`Counters::errors`].
    pub errors: u64,
    /// See [`Counters::overlaps`].
    pub overlaps: u64,
    /// See [`Counters::created`].
    pub created: u64,
    /// See [`Counters::dropped`].
    pub dropped: u64,
}

impl Counters {
    /// A copy of every counter.
    pub fn values(&self) -> CounterValues {
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        CounterValues {
            raised: self.raised.each_ref().map(l),
            seen: self.seen.each_ref().map(l),
            raise_outcomes: self.raise_outcomes.each_ref().map(l),
            handler_runs: l(&self.handler_runs),
            backlog_reports: l(&self.backlog_reports),
            polls: l(&self.polls),
            watchdog_ticks: l(&self.watchdog_ticks),
            fills: self.fills.each_ref().map(l),
            failed: self.failed.each_ref().map(l),
            retried: self.retried.each_ref().map(l),
            retry_armed: l(&self.retry_armed),
            retry_rearmed: l(&self.retry_rearmed),
            readahead_done: l(&self.readahead_done),
            gave_back: l(&self.gave_back),
            outstanding: self.outstanding.each_ref().map(l),
            unregistered: self
                .unregistered
                .each_ref()
                .map(|b| b.load(Ordering::Relaxed)),
            meta_writes: l(&self.meta_writes),
            commits: l(&self.commits),
            meta_max: self.meta_max.load(Ordering::Relaxed),
            stall_reports: l(&self.stall_reports),
            panic_reports: l(&self.panic_reports),
            errors: l(&self.errors),
            overlaps: l(&self.overlaps),
            created: l(&self.created),
            dropped: self.dropped.load(Ordering::SeqCst),
        }
    }
}

/// Adds one to a counter.
pub fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// The state shared by the scenario and the views.
pub struct Shared {
    /// When the run started.
    pub start: Instant,
    /// How long the producers run.
    pub duration: Duration,
    /// The counters.
    pub counters: Counters,
    quit: AtomicBool,
    finished: AtomicBool,
    phase: Mutex<String>,
    feed: Mutex<Feed>,
    queues: OnceLock<Queues>,
    panic_texts: Mutex<Vec<String>>,
}

impl Shared {
    /// A run of `duration` starting now.
    pub fn new(duration: Duration) -> Arc<Shared> {
        Arc::new(Shared {
            start: Instant::now(),
            duration,
            counters: Counters::default(),
            quit: AtomicBool::new(false),
            finished: AtomicBool::new(false),
            phase: Mutex::new("starting".to_string()),
            feed: Mutex::new(Feed::default()),
            queues: OnceLock::new(),
            panic_texts: Mutex::new(Vec::new()),
        })
    }

    /// Time since the start.
    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    /// Asks the scenario to skip to its wind-down (the TUI's `q`).
    pub fn request_quit(&self) {
        if !self.quit.swap(true, Ordering::SeqCst) {
            self.report(ReportKind::Timeline, "quit asked: winding down early");
        }
    }

    /// Whether a quit was asked.
    pub fn quit_requested(&self) -> bool {
        self.quit.load(Ordering::SeqCst)
    }

    /// Marks the scenario finished (the views then stop).
    pub fn finish(&self) {
        self.finished.store(true, Ordering::SeqCst);
    }

    /// Whether the scenario has finished.
    pub fn is_finished(&self) -> bool {
        self.finished.load(Ordering::SeqCst)
    }

    /// Sleeps until `at` (measured from the start); `false` if a quit was asked
    /// meanwhile (then it returns at once).
    pub fn wait_until(&self, at: Duration) -> bool {
        loop {
            if self.quit_requested() {
                return false;
            }
            let left = at.saturating_sub(self.elapsed());
            if left.is_zero() {
                return true;
            }
            thread::sleep(left.min(Duration::from_millis(20)));
        }
    }

    /// The phase shown in the views' header.
    pub fn phase(&self) -> String {
        lock(&self.phase).clone()
    }

    /// Changes the phase.
    pub fn set_phase(&self, phase: impl Into<String>) {
        *lock(&self.phase) = phase.into();
    }

    /// Adds a report to the feed (and, for the timeline, a trace event for
    /// `--log`).
    pub fn report(&self, kind: ReportKind, text: impl Into<String>) {
        let text = text.into();
        if kind == ReportKind::Timeline {
            tracing::info!(target: "workq::demo", "{text}");
        }
        let at = self.elapsed();
        let mut feed = lock(&self.feed);
        feed.last_seq += 1;
        let seq = feed.last_seq;
        feed.recent.push_back(Report {
            seq,
            at,
            kind,
            text,
        });
        if feed.recent.len() > FEED_KEEP {
            feed.recent.pop_front();
        }
    }

    /// Records a workq call that failed unexpectedly inside the scenario.
    pub fn error(&self, what: &str, e: &workq::Error) {
        bump(&self.counters.errors);
        tracing::error!(target: "workq::demo", "{what}: {e}");
        self.report(ReportKind::Error, format!("{what}: {e}"));
    }

    /// Records a panic report of a queue's hook.
    pub fn panic_report(&self, text: String) {
        tracing::error!(target: "workq::demo", "{text}");
        bump(&self.counters.panic_reports);
        lock(&self.panic_texts).push(text.clone());
        self.report(ReportKind::Panic, text);
    }

    /// Every panic report so far.
    pub fn panic_texts(&self) -> Vec<String> {
        lock(&self.panic_texts).clone()
    }

    /// The latest `n` reports, oldest first.
    pub fn recent(&self, n: usize) -> Vec<Report> {
        let feed = lock(&self.feed);
        let skip = feed.recent.len().saturating_sub(n);
        feed.recent.iter().skip(skip).cloned().collect()
    }

    /// The reports after number `seq`, oldest first, and how many of them the feed
    /// no longer holds.
    pub fn since(&self, seq: u64) -> (Vec<Report>, u64) {
        let feed = lock(&self.feed);
        let reports: Vec<Report> = feed
            .recent
            .iter()
            .filter(|r| r.seq > seq)
            .cloned()
            .collect();
        let first = reports.first().map_or(feed.last_seq + 1, |r| r.seq);
        (reports, first.saturating_sub(seq + 1))
    }

    /// Publishes the queues for the views (once).
    pub fn set_queues(&self, queues: Queues) {
        let _ = self.queues.set(queues);
    }

    /// The queues, once the scenario has built them.
    pub fn queues(&self) -> Option<&Queues> {
        self.queues.get()
    }

    /// The checkers of one new item: a drop counter (counted as made now) and an
    /// overlap detector.
    pub fn item(self: &Arc<Self>) -> ItemCheck {
        self.counters.created.fetch_add(1, Ordering::SeqCst);
        ItemCheck {
            shared: self.clone(),
            inside: AtomicUsize::new(0),
        }
    }
}

/// Held by each closure of the demo: counts its drop, and detects overlapping
/// runs of its item.
pub struct ItemCheck {
    /// The run's shared state (items reach the counters through it).
    pub shared: Arc<Shared>,
    inside: AtomicUsize,
}

impl ItemCheck {
    /// Marks a run of the item as started until the returned guard drops (also when
    /// the run panics); a run that starts while another is inside is an overlap.
    pub fn enter(&self) -> Inside<'_> {
        if self.inside.fetch_add(1, Ordering::SeqCst) != 0 {
            bump(&self.shared.counters.overlaps);
        }
        Inside(&self.inside)
    }

    /// The counters.
    pub fn counters(&self) -> &Counters {
        &self.shared.counters
    }
}

impl Drop for ItemCheck {
    fn drop(&mut self) {
        self.shared.counters.dropped.fetch_add(1, Ordering::SeqCst);
    }
}

/// A run in progress (see [`ItemCheck::enter`]).
pub struct Inside<'a>(&'a AtomicUsize);

impl Drop for Inside<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A small xorshift generator: the demo's randomness, seeded so runs are alike.
pub struct Rng(u64);

impl Rng {
    /// A generator from a (non-zero-ised) seed.
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// The next number.
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// A number in `lo..hi` (`lo` if the range is empty).
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        if hi <= lo {
            lo
        } else {
            lo + self.next() % (hi - lo)
        }
    }
}

/// A generator shared by the runs of one item (runs never overlap, but they may
/// happen on different threads).
pub struct SharedRng(Mutex<Rng>);

impl SharedRng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> SharedRng {
        SharedRng(Mutex::new(Rng::new(seed)))
    }

    /// A number in `lo..hi`.
    pub fn range(&self, lo: u64, hi: u64) -> u64 {
        lock(&self.0).range(lo, hi)
    }
}
