//! Helpers shared by the integration tests.
//!
//! Nothing here measures time: every timeout below is a watchdog, generous on
//! purpose, whose only job is to turn a hang (a bug) into a test failure instead of
//! a CI job that never ends.
//!
//! Each test file includes this module with `mod common;` and uses only part of it.
#![allow(dead_code)]

use std::any::Any;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};
use workq::{Work, Worker};

/// How long a blocking call may take before the watchdog calls it hung.
pub const WATCHDOG_SECS: u64 = 30;

/// How long a hung test may keep the process alive after the watchdog fired (for
/// instance while unwinding drops a `Worker` whose thread is stuck), before the
/// process is ended so that CI reports the failure instead of timing out.
const GRACE_SECS: u64 = 20;

/// Locks `m`, ignoring poisoning (a failed assertion on another thread must not
/// turn into a cascade of unrelated panics).
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Reports a hang: arms a last-resort exit of the whole process (once), then
/// panics with a clear message so the test fails.
pub fn hung(what: &str, secs: u64) -> ! {
    static ARMED: AtomicBool = AtomicBool::new(false);
    let msg = format!(
        "WATCHDOG: `{what}` did not finish within {secs} s: hung (deadlock or lost wake-up?)"
    );
    eprintln!("{msg}");
    if !ARMED.swap(true, Ordering::SeqCst) {
        let what = what.to_string();
        thread::spawn(move || {
            thread::sleep(Duration::from_secs(GRACE_SECS));
            eprintln!(
                "WATCHDOG: the process is still running {GRACE_SECS} s after `{what}` hung; exiting"
            );
            std::process::exit(101);
        });
    }
    panic!("{msg}");
}

/// Runs `f` on a helper thread and returns its result, or panics if it has not
/// finished after `secs` seconds. A panic of `f` is re-raised on the caller.
pub fn bounded<T, F>(secs: u64, what: &str, f: F) -> T
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let (tx, rx) = mpsc::channel::<Result<T, Box<dyn Any + Send>>>();
    thread::Builder::new()
        .name(format!("bounded: {what}"))
        .spawn(move || {
            // `f` (and whatever it captured) is consumed before the result is sent.
            let r = catch_unwind(AssertUnwindSafe(f));
            let _ = tx.send(r);
        })
        .expect("spawn the bounded helper thread");
    match rx.recv_timeout(Duration::from_secs(secs)) {
        Ok(Ok(v)) => v,
        Ok(Err(payload)) => resume_unwind(payload),
        Err(RecvTimeoutError::Timeout) => hung(what, secs),
        Err(RecvTimeoutError::Disconnected) => panic!("`{what}`: helper thread vanished"),
    }
}

/// [`bounded`] with the default [`WATCHDOG_SECS`].
pub fn bounded30<T, F>(what: &str, f: F) -> T
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    bounded(WATCHDOG_SECS, what, f)
}

/// Runs `f` on a helper thread without waiting for it; [`Pending::join`] waits for
/// the result under the watchdog. For calls that must block until the test does
/// something else (release a gate, thaw a worker, ...).
pub struct Pending<T> {
    what: String,
    rx: mpsc::Receiver<Result<T, Box<dyn Any + Send>>>,
}

/// Starts `f` on a helper thread; see [`Pending`].
pub fn spawn_bounded<T, F>(what: &str, f: F) -> Pending<T>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let (tx, rx) = mpsc::channel();
    thread::Builder::new()
        .name(format!("pending: {what}"))
        .spawn(move || {
            let r = catch_unwind(AssertUnwindSafe(f));
            let _ = tx.send(r);
        })
        .expect("spawn a helper thread");
    Pending {
        what: what.to_string(),
        rx,
    }
}

impl<T> Pending<T> {
    /// Waits for the result (at most [`WATCHDOG_SECS`]); re-raises a panic of `f`.
    pub fn join(self) -> T {
        self.join_within(WATCHDOG_SECS)
    }

    /// Waits for the result (at most `secs` seconds); re-raises a panic of `f`.
    pub fn join_within(self, secs: u64) -> T {
        match self.rx.recv_timeout(Duration::from_secs(secs)) {
            Ok(Ok(v)) => v,
            Ok(Err(payload)) => resume_unwind(payload),
            Err(RecvTimeoutError::Timeout) => hung(&self.what, secs),
            Err(RecvTimeoutError::Disconnected) => {
                panic!("`{}`: helper thread vanished", self.what)
            }
        }
    }

    /// The result if `f` has already finished, without waiting.
    pub fn try_join(&self) -> Option<T> {
        match self.rx.try_recv() {
            Ok(Ok(v)) => Some(v),
            Ok(Err(payload)) => resume_unwind(payload),
            Err(_) => None,
        }
    }
}

/// Starts `f` on a helper thread and returns once that thread is asleep (blocked
/// inside `f`) or finished; see [`wait_until_asleep`]. `f` should be just the
/// blocking library call, so that the sleep is the call's own wait.
pub fn spawn_until_asleep<T, F>(what: &str, f: F) -> Pending<T>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let tid: Arc<Mutex<Option<Option<u64>>>> = Arc::default();
    let t = tid.clone();
    let pending = spawn_bounded(what, move || {
        *lock(&t) = Some(current_tid());
        f()
    });
    wait_until(&format!("{what}: helper thread started"), || {
        lock(&tid).is_some()
    });
    let tid = lock(&tid).take().flatten();
    wait_until_asleep(tid, &format!("{what}: helper thread blocks"));
    pending
}

/// Polls `cond` (with short sleeps) until it is true; panics if that takes longer
/// than [`WATCHDOG_SECS`].
pub fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(WATCHDOG_SECS);
    while !cond() {
        if Instant::now() > deadline {
            hung(what, WATCHDOG_SECS);
        }
        thread::sleep(Duration::from_millis(1));
    }
}

/// The kernel's id of the calling thread, where `/proc` has it (Linux).
pub fn current_tid() -> Option<u64> {
    let link = std::fs::read_link("/proc/thread-self").ok()?; // "<pid>/task/<tid>"
    link.file_name()?.to_str()?.parse().ok()
}

/// The scheduler state of thread `tid` of this process (`'R'`, `'S'`, ...), or
/// `None` if it has exited or `/proc` is not there.
pub fn thread_state(tid: u64) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).ok()?;
    // "tid (comm) S ...": the comm may contain anything, so look after its last ')'.
    let (_, rest) = stat.rsplit_once(')')?;
    rest.trim_start().chars().next()
}

/// Waits (under the watchdog) until thread `tid` is asleep in the kernel (state
/// `S`), or has exited: the way to know that a helper thread has reached a blocking
/// wait inside the library without any sleep-based guess. Without `/proc` (no
/// `tid`), falls back to a short sleep.
pub fn wait_until_asleep(tid: Option<u64>, what: &str) {
    match tid {
        Some(tid) => wait_until(what, || matches!(thread_state(tid), None | Some('S'))),
        None => thread::sleep(Duration::from_millis(50)),
    }
}

/// A guard for a whole test: if it is still alive after `secs` seconds the process
/// prints `what` and exits with a failure (a hung test cannot be failed any other
/// way). Dropping the guard disarms it.
pub struct Watchdog {
    _disarm: mpsc::Sender<()>,
}

/// Arms a [`Watchdog`].
pub fn watchdog(secs: u64, what: &str) -> Watchdog {
    let (tx, rx) = mpsc::channel::<()>();
    let what = what.to_string();
    thread::spawn(move || {
        if let Err(RecvTimeoutError::Timeout) = rx.recv_timeout(Duration::from_secs(secs)) {
            eprintln!("WATCHDOG: `{what}` still running after {secs} s: hung; exiting");
            std::process::exit(101);
        }
    });
    Watchdog { _disarm: tx }
}

/// Increments a shared counter when dropped. Move one into a work item's closure
/// to count how many times the closure is dropped.
#[derive(Debug)]
pub struct DropCounter {
    drops: Arc<AtomicUsize>,
}

impl DropCounter {
    /// A counter token and the count it increments (0 until the token drops).
    pub fn new() -> (DropCounter, Arc<AtomicUsize>) {
        let drops = Arc::new(AtomicUsize::new(0));
        (
            DropCounter {
                drops: drops.clone(),
            },
            drops,
        )
    }

    /// A token incrementing an existing count.
    pub fn on(drops: &Arc<AtomicUsize>) -> DropCounter {
        DropCounter {
            drops: drops.clone(),
        }
    }
}

impl Drop for DropCounter {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::SeqCst);
    }
}

/// Detects overlapping runs of one item: every run calls [`enter`] and keeps the
/// guard until it ends; a second run entering while one is inside is a violation.
///
/// [`enter`]: OverlapDetector::enter
#[derive(Debug, Default)]
pub struct OverlapDetector {
    inside: AtomicUsize,
    entries: AtomicUsize,
    violations: AtomicUsize,
}

/// Held for the duration of one run; see [`OverlapDetector`].
pub struct OverlapGuard<'a> {
    detector: &'a OverlapDetector,
}

impl OverlapDetector {
    /// Marks the start of a run.
    pub fn enter(&self) -> OverlapGuard<'_> {
        if self.inside.fetch_add(1, Ordering::SeqCst) != 0 {
            self.violations.fetch_add(1, Ordering::SeqCst);
        }
        self.entries.fetch_add(1, Ordering::SeqCst);
        OverlapGuard { detector: self }
    }

    /// How many times a run started while another was inside.
    pub fn violations(&self) -> usize {
        self.violations.load(Ordering::SeqCst)
    }

    /// How many runs started.
    pub fn entries(&self) -> usize {
        self.entries.load(Ordering::SeqCst)
    }
}

impl Drop for OverlapGuard<'_> {
    fn drop(&mut self) {
        self.detector.inside.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A count that threads can wait on: `notify` adds one, `wait_for(n)` blocks
/// (under the watchdog) until at least `n` notifications happened.
#[derive(Clone, Debug, Default)]
pub struct Signal {
    inner: Arc<(Mutex<usize>, Condvar)>,
}

impl Signal {
    /// A signal with count 0.
    pub fn new() -> Signal {
        Signal::default()
    }

    /// Adds one to the count and wakes the waiters.
    pub fn notify(&self) {
        let (m, cv) = &*self.inner;
        *lock(m) += 1;
        cv.notify_all();
    }

    /// The count now.
    pub fn count(&self) -> usize {
        *lock(&self.inner.0)
    }

    /// Waits until the count is at least `n`; panics after [`WATCHDOG_SECS`].
    pub fn wait_for(&self, n: usize, what: &str) {
        let (m, cv) = &*self.inner;
        let deadline = Instant::now() + Duration::from_secs(WATCHDOG_SECS);
        let mut g = lock(m);
        while *g < n {
            let now = Instant::now();
            if now >= deadline {
                drop(g);
                hung(what, WATCHDOG_SECS);
            }
            g = cv
                .wait_timeout(g, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}

/// The waiting side of a gate: work items call [`Gate::wait`] to block until the
/// test opens the gate with the matching [`GateOpener`].
#[derive(Clone, Debug)]
pub struct Gate {
    inner: Arc<(Mutex<bool>, Condvar)>,
}

/// Opens the gate; also opens it when dropped, so that a failing test (unwinding)
/// releases blocked items and the drop of its `Worker` can finish.
#[derive(Debug)]
pub struct GateOpener {
    inner: Arc<(Mutex<bool>, Condvar)>,
}

/// A closed gate and its opener.
pub fn gate() -> (Gate, GateOpener) {
    let inner = Arc::new((Mutex::new(false), Condvar::new()));
    (
        Gate {
            inner: inner.clone(),
        },
        GateOpener { inner },
    )
}

impl Gate {
    /// Blocks until the gate is open. Returns false if it was still closed after
    /// twice the watchdog time (the test must have failed already; this only keeps
    /// a leaked worker thread from blocking forever).
    pub fn wait(&self) -> bool {
        let (m, cv) = &*self.inner;
        let deadline = Instant::now() + Duration::from_secs(2 * WATCHDOG_SECS);
        let mut open = lock(m);
        while !*open {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            open = cv
                .wait_timeout(open, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        true
    }

    /// Whether the gate is open.
    pub fn is_open(&self) -> bool {
        *lock(&self.inner.0)
    }
}

impl GateOpener {
    /// Opens the gate for good.
    pub fn open(&self) {
        let (m, cv) = &*self.inner;
        *lock(m) = true;
        cv.notify_all();
    }
}

impl Drop for GateOpener {
    fn drop(&mut self) {
        self.open();
    }
}

/// A freezable worker.
pub fn freezable_worker(name: &str) -> Worker {
    Worker::builder()
        .name(name)
        .freezable(true)
        .build()
        .expect("build a freezable worker")
}

/// A freezable worker that is frozen: whatever is queued on it stays pending until
/// the test thaws it. Freezing an idle worker does not wait.
pub fn frozen_worker(name: &str) -> Worker {
    let worker = freezable_worker(name);
    let w = worker.clone();
    bounded30("freeze an idle worker", move || w.freeze()).expect("freeze");
    assert!(worker.is_frozen());
    worker
}

/// Thaws `worker` (which must be freezable).
pub fn thaw(worker: &Worker) {
    worker.thaw().expect("thaw a freezable worker");
}

/// `worker.flush()` under the watchdog.
pub fn flush_worker(worker: &Worker) -> bool {
    let w = worker.clone();
    bounded30("Worker::flush", move || w.flush()).expect("Worker::flush")
}

/// `work.flush()` under the watchdog.
pub fn flush_work(work: &Work) -> bool {
    let w = work.clone();
    bounded30("Work::flush", move || w.flush()).expect("Work::flush")
}

/// `work.cancel_sync()` under the watchdog.
pub fn cancel_sync(work: &Work) -> bool {
    let w = work.clone();
    bounded30("Work::cancel_sync", move || w.cancel_sync()).expect("Work::cancel_sync")
}

/// `worker.destroy()` under the watchdog.
pub fn destroy(worker: &Worker) {
    let w = worker.clone();
    bounded30("Worker::destroy", move || w.destroy()).expect("Worker::destroy");
}

/// Drops what is probably the last handle of a worker (which destroys it: drain,
/// stop, join) under the watchdog.
pub fn drop_worker(worker: Worker) {
    bounded30("drop of the last Worker handle", move || drop(worker));
}

/// An item that counts its runs.
pub fn counting_work(name: &str) -> (Work, Arc<AtomicUsize>) {
    let runs = Arc::new(AtomicUsize::new(0));
    let r = runs.clone();
    let work = Work::named(name, move |_ctx| {
        r.fetch_add(1, Ordering::SeqCst);
    });
    (work, runs)
}

/// An item whose runs block on a gate: each run notifies `started`, waits until
/// the test opens the gate (it stays open afterwards), then counts itself in
/// `finished`.
pub struct Blocker {
    /// The item.
    pub work: Work,
    /// Notified at the start of every run.
    pub started: Signal,
    /// Notified at the end of every run.
    pub finished: Signal,
    /// Opens the gate the runs wait on.
    pub opener: GateOpener,
}

impl Blocker {
    /// A blocked item named `name`.
    pub fn new(name: &str) -> Blocker {
        let (gate, opener) = gate();
        let started = Signal::new();
        let finished = Signal::new();
        let (s, f) = (started.clone(), finished.clone());
        let work = Work::named(name, move |_ctx| {
            s.notify();
            gate.wait();
            f.notify();
        });
        Blocker {
            work,
            started,
            finished,
            opener,
        }
    }

    /// Lets every run (present and future) through.
    pub fn release(&self) {
        self.opener.open();
    }
}

/// A small deterministic PRNG (xorshift64*), so the stress test needs no
/// dependency and a failing seed can be replayed.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed` (any value).
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A value in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        // n is small in the tests; the modulo bias is irrelevant.
        (self.next_u64() % n as u64) as usize
    }
}
