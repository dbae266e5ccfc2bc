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

pub mod epoch_item;

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

/// Writes a line straight to the process's standard error. `eprintln!` would not
/// do: the test harness captures it (also on threads spawned by a test) and only
/// shows it when the test ends, so it is lost if the process has to be ended.
pub fn say(msg: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{msg}");
}

/// Reports a hang: arms a last-resort exit of the whole process (once), then
/// panics with a clear message so the test fails.
pub fn hung(what: &str, secs: u64) -> ! {
    static ARMED: AtomicBool = AtomicBool::new(false);
    let msg = format!(
        "WATCHDOG: `{what}` did not finish within {secs} s: hung (deadlock or lost wake-up?)"
    );
    say(&msg);
    if !ARMED.swap(true, Ordering::SeqCst) {
        let what = what.to_string();
        thread::spawn(move || {
            thread::sleep(Duration::from_secs(GRACE_SECS));
            say(&format!(
                "WATCHDOG: the process is still running {GRACE_SECS} s after `{what}` hung; exiting"
            ));
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
            say(&format!(
                "WATCHDOG: `{what}` still running after {secs} s: hung; exiting"
            ));
            std::process::exit(101);
        }
    });
    Watchdog { _disarm: tx }
}

/// How long one behaviour test may take in all before [`test_guard`] ends the
/// process. Generous: the tests take well under a second each.
pub const TEST_SECS: u64 = 120;

thread_local! {
    /// Set on a test's own thread by [`test_guard`].
    static GUARDED_TEST: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// The first line of every behaviour test. A library bug that hangs often hangs a
/// second time while the failing test unwinds (dropping a `Worker` drains it), so
/// the failure would never be reported. The guard
/// * arms a [`watchdog`] for the whole test ([`TEST_SECS`]), named after the test;
/// * echoes a panic of the test's own thread straight to standard error (see
///   [`say`]), so the assertion that failed is visible even if the watchdog has to
///   end the process afterwards.
pub fn test_guard() -> Watchdog {
    test_guard_for(TEST_SECS)
}

/// [`test_guard`] with a time limit of `secs` seconds.
pub fn test_guard_for(secs: u64) -> Watchdog {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if GUARDED_TEST.with(std::cell::Cell::get) {
                let name = thread::current().name().unwrap_or("<unnamed>").to_string();
                say(&format!("test thread '{name}' panicked: {info}"));
            }
            previous(info);
        }));
    });
    GUARDED_TEST.with(|g| g.set(true));
    let name = thread::current()
        .name()
        .unwrap_or("<unnamed test>")
        .to_string();
    watchdog(secs, &name)
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

// ---------------------------------------------------------------------------
// Pool helpers (tests/pool.rs, tests/pool_stress.rs).
// ---------------------------------------------------------------------------

/// `pool.flush()` under the watchdog.
pub fn flush_pool(pool: &workq::Pool) -> bool {
    let p = pool.clone();
    bounded30("Pool::flush", move || p.flush()).expect("Pool::flush")
}

/// `pool.drain()` under the watchdog.
pub fn drain_pool(pool: &workq::Pool) {
    let p = pool.clone();
    bounded30("Pool::drain", move || p.drain()).expect("Pool::drain");
}

/// `pool.destroy()` under the watchdog.
pub fn destroy_pool(pool: &workq::Pool) {
    let p = pool.clone();
    bounded30("Pool::destroy", move || p.destroy()).expect("Pool::destroy");
}

/// Drops what is probably the last handle of a pool (which drains it, stops its
/// threads and joins them) under the watchdog.
pub fn drop_pool(pool: workq::Pool) {
    bounded30("drop of the last Pool handle", move || drop(pool));
}

/// One call of a [`PoolSpawns`] spawner: when it was made (after the pool decided
/// to start a thread) and whether the start succeeded.
#[derive(Clone, Copy, Debug)]
pub struct SpawnCall {
    /// When the spawner decided (after any delay; for a failure: before the pool
    /// saw it).
    pub at: Instant,
    /// Whether the thread was started.
    pub ok: bool,
}

/// Counts and controls the thread starts of a pool: pass [`PoolSpawns::spawner`]
/// to `PoolBuilder::spawner`. Every call is logged; calls from number
/// `fail_from` on (0-based) fail until [`heal`](PoolSpawns::heal); the thread
/// body is wrapped so that thread exits are counted too.
#[derive(Debug)]
pub struct PoolSpawns {
    fail_from: AtomicUsize,
    delay_us: std::sync::atomic::AtomicU64,
    calls: Mutex<Vec<SpawnCall>>,
    started: AtomicUsize,
    exited: AtomicUsize,
    live: AtomicUsize,
    peak_live: AtomicUsize,
    in_flight: AtomicUsize,
}

/// Marks the end of a spawner call when dropped.
struct InFlight<'a>(&'a AtomicUsize);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Counts a pool thread's exit when dropped (also on unwind).
struct PoolThreadExit(Arc<PoolSpawns>);

impl Drop for PoolThreadExit {
    fn drop(&mut self) {
        self.0.live.fetch_sub(1, Ordering::SeqCst);
        self.0.exited.fetch_add(1, Ordering::SeqCst);
    }
}

impl PoolSpawns {
    /// A spawner whose starts all succeed.
    pub fn new() -> Arc<PoolSpawns> {
        PoolSpawns::failing_from(usize::MAX)
    }

    /// A spawner whose calls number `k` and later (0-based) fail: `k` starts
    /// succeed, then every start fails until [`heal`](PoolSpawns::heal).
    pub fn failing_from(k: usize) -> Arc<PoolSpawns> {
        Arc::new(PoolSpawns {
            fail_from: AtomicUsize::new(k),
            delay_us: std::sync::atomic::AtomicU64::new(0),
            calls: Mutex::new(Vec::new()),
            started: AtomicUsize::new(0),
            exited: AtomicUsize::new(0),
            live: AtomicUsize::new(0),
            peak_live: AtomicUsize::new(0),
            in_flight: AtomicUsize::new(0),
        })
    }

    /// From now on every start succeeds.
    pub fn heal(&self) {
        self.fail_from.store(usize::MAX, Ordering::SeqCst);
    }

    /// From now on every start fails.
    pub fn break_now(&self) {
        self.fail_from.store(0, Ordering::SeqCst);
    }

    /// Each call sleeps this long before it decides (to widen race windows).
    pub fn set_delay(&self, delay: Duration) {
        let us = u64::try_from(delay.as_micros()).unwrap_or(u64::MAX);
        self.delay_us.store(us, Ordering::SeqCst);
    }

    /// The spawner to give to `PoolBuilder::spawner`.
    pub fn spawner(
        self: &Arc<Self>,
    ) -> impl Fn(thread::Builder, Box<dyn FnOnce() + Send>) -> std::io::Result<thread::JoinHandle<()>>
           + Send
           + Sync
           + 'static {
        let this = self.clone();
        move |builder, body| {
            this.in_flight.fetch_add(1, Ordering::SeqCst);
            let _done = InFlight(&this.in_flight);
            let us = this.delay_us.load(Ordering::SeqCst);
            if us > 0 {
                thread::sleep(Duration::from_micros(us));
            }
            let fail = {
                let mut calls = lock(&this.calls);
                let fail = calls.len() >= this.fail_from.load(Ordering::SeqCst);
                calls.push(SpawnCall {
                    at: Instant::now(),
                    ok: !fail,
                });
                fail
            };
            if fail {
                return Err(std::io::Error::other("PoolSpawns: thread start refused"));
            }
            let me = this.clone();
            let spawned = builder.spawn(move || {
                let live = me.live.fetch_add(1, Ordering::SeqCst) + 1;
                me.peak_live.fetch_max(live, Ordering::SeqCst);
                let _exit = PoolThreadExit(me);
                body();
            });
            match spawned {
                Ok(handle) => {
                    this.started.fetch_add(1, Ordering::SeqCst);
                    Ok(handle)
                }
                Err(e) => {
                    if let Some(last) = lock(&this.calls).last_mut() {
                        last.ok = false;
                    }
                    Err(e)
                }
            }
        }
    }

    /// Every call so far, in order.
    pub fn calls(&self) -> Vec<SpawnCall> {
        lock(&self.calls).clone()
    }

    /// Calls so far.
    pub fn attempts(&self) -> usize {
        lock(&self.calls).len()
    }

    /// Calls that failed so far.
    pub fn failures(&self) -> usize {
        lock(&self.calls).iter().filter(|c| !c.ok).count()
    }

    /// Threads started.
    pub fn started(&self) -> usize {
        self.started.load(Ordering::SeqCst)
    }

    /// Threads whose body has returned.
    pub fn exited(&self) -> usize {
        self.exited.load(Ordering::SeqCst)
    }

    /// Threads running their body now.
    pub fn live(&self) -> usize {
        self.live.load(Ordering::SeqCst)
    }

    /// Spawner calls in progress (the pool is starting a thread right now).
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::SeqCst)
    }

    /// The most threads that ran their body at once.
    pub fn peak_live(&self) -> usize {
        self.peak_live.load(Ordering::SeqCst)
    }
}

/// The names (`comm`) of this process's OS threads, as Linux shows them (at most
/// 15 bytes); `None` without `/proc`.
pub fn os_thread_names() -> Option<Vec<String>> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir("/proc/self/task").ok()? {
        let Ok(entry) = entry else { continue };
        // A thread may exit between the listing and the read.
        if let Ok(comm) = std::fs::read_to_string(entry.path().join("comm")) {
            names.push(comm.trim_end_matches('\n').to_string());
        }
    }
    Some(names)
}

/// The name Linux shows for a thread named `name`: its first 15 bytes.
pub fn os_thread_name(name: &str) -> String {
    let bytes = &name.as_bytes()[..name.len().min(15)];
    String::from_utf8_lossy(bytes).into_owned()
}
