//! Timer benchmark: workq's delayed work side by side with its peers, all measured
//! in the same run: tokio (tokio-util's `DelayQueue`, and `sleep_until` tasks) and
//! scheduled-thread-pool.
//!
//! ```text
//! cargo bench -p workq --bench timers              # full run (well under a minute)
//! cargo bench -p workq --bench timers -- --quick   # smaller counts, for a smoke run
//! ```
//!
//! Rows: the cost of arming and of cancelling an item, how late armed items start,
//! the heap bytes an armed item costs, and the CPU the process burns while items
//! are armed an hour ahead and nothing happens. Timings are printed, never
//! asserted. Correctness counts (cancelled items that ran, items that ran early,
//! ran twice or never ran) are printed too, and the run exits non-zero when workq
//! violates one of them.
//!
//! Heap bytes come from a counting global allocator (stats_alloc), which is in
//! place for the whole run: every allocation pays for its counters, in every row.

#![allow(clippy::unwrap_used)]

use stats_alloc::{StatsAlloc, INSTRUMENTED_SYSTEM};
use std::alloc::System;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use scheduled_thread_pool::{JobHandle, OnPoolDropBehavior, ScheduledThreadPool};
use tokio_util::time::DelayQueue;
use workq::{Queued, Work, Worker};

// ---------------------------------------------------------------------------
// Counting allocator
// ---------------------------------------------------------------------------

/// `System`, counting allocations (the wrapper is stats_alloc's: workq forbids
/// unsafe code, even in its benches).
#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Live heap bytes and blocks right now.
#[derive(Clone, Copy)]
struct Mem {
    bytes: isize,
    blocks: isize,
}

fn mem() -> Mem {
    let s = GLOBAL.stats();
    // stats_alloc adds growing reallocations to bytes_allocated and shrinking ones
    // to bytes_deallocated.
    Mem {
        bytes: s.bytes_allocated as isize - s.bytes_deallocated as isize,
        blocks: s.allocations as isize - s.deallocations as isize,
    }
}

/// Bytes per item added between two snapshots.
fn per_item_bytes(from: Mem, to: Mem, n: usize) -> f64 {
    (to.bytes - from.bytes) as f64 / n as f64
}

/// Blocks per item added between two snapshots.
fn per_item_blocks(from: Mem, to: Mem, n: usize) -> f64 {
    (to.blocks - from.blocks) as f64 / n as f64
}

// ---------------------------------------------------------------------------
// Settings and small helpers
// ---------------------------------------------------------------------------

const HOUR: Duration = Duration::from_secs(3600);

struct Config {
    quick: bool,
    /// Items armed and cancelled in the arm / cancel rows (and the bytes rows).
    arm_n: usize,
    /// Measured repetitions of the arm / cancel rows (after one warm-up).
    reps: usize,
    /// Items in one lateness run.
    late_n: usize,
    /// Lateness runs per system.
    late_reps: usize,
    /// Items armed during the idle measurement.
    idle_n: usize,
    /// Length of the idle measurement.
    idle: Duration,
}

impl Config {
    fn from_args() -> Config {
        // `cargo bench` passes `--bench`; anything but `--quick` is ignored.
        let quick = std::env::args().skip(1).any(|a| a == "--quick");
        if quick {
            Config {
                quick,
                arm_n: 20_000,
                reps: 3,
                late_n: 2_000,
                late_reps: 1,
                idle_n: 10_000,
                idle: Duration::from_millis(500),
            }
        } else {
            Config {
                quick,
                arm_n: 200_000,
                reps: 5,
                late_n: 20_000,
                late_reps: 3,
                idle_n: 10_000,
                idle: Duration::from_secs(3),
            }
        }
    }
}

/// Which system a value belongs to: the table's columns.
const SYSTEMS: [&str; 3] = ["workq", "tokio", "sched-thread-pool"];
const WORKQ: usize = 0;
const TOKIO: usize = 1;
const STP: usize = 2;

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let mid = v.len() / 2;
    if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    }
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ns_per(elapsed: Duration, n: usize) -> f64 {
    elapsed.as_nanos() as f64 / n as f64
}

/// A small deterministic generator (xorshift64*), so every system gets the same
/// delays.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

fn stp_pool(threads: usize) -> ScheduledThreadPool {
    ScheduledThreadPool::builder()
        .num_threads(threads)
        .thread_name_pattern("stp-{}")
        .on_drop_behavior(OnPoolDropBehavior::DiscardPendingScheduled)
        .build()
}

fn tokio_current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap()
}

fn tokio_multi_thread(workers: usize) -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_time()
        .build()
        .unwrap()
}

// ---------------------------------------------------------------------------
// Rows 1 and 2: arm and cancel
// ---------------------------------------------------------------------------

/// Median ns per arm and per cancel, and the number of calls that did not do what
/// they should (an arm that did not schedule, a cancel that removed nothing).
struct ArmCancel {
    arm_ns: f64,
    cancel_ns: f64,
    failures: usize,
}

fn arm_cancel_workq(cfg: &Config) -> ArmCancel {
    let worker = Worker::new("bench-arm").unwrap();
    let works: Vec<Work> = (0..cfg.arm_n).map(|_| Work::new(|_| {})).collect();
    let (mut arms, mut cancels, mut failures) = (Vec::new(), Vec::new(), 0);
    for rep in 0..=cfg.reps {
        let t = Instant::now();
        for w in &works {
            if worker.queue_after(w, HOUR).unwrap() != Queued::Scheduled {
                failures += 1;
            }
        }
        let arm = t.elapsed();
        let t = Instant::now();
        for w in &works {
            if !w.cancel() {
                failures += 1;
            }
        }
        let cancel = t.elapsed();
        if rep > 0 {
            arms.push(ns_per(arm, cfg.arm_n));
            cancels.push(ns_per(cancel, cfg.arm_n));
        }
    }
    worker.destroy().unwrap();
    ArmCancel {
        arm_ns: median(arms),
        cancel_ns: median(cancels),
        failures,
    }
}

fn arm_cancel_tokio(cfg: &Config) -> ArmCancel {
    let rt = tokio_current_thread();
    let _ctx = rt.enter();
    let mut dq: DelayQueue<()> = DelayQueue::new();
    let mut keys = Vec::with_capacity(cfg.arm_n);
    let (mut arms, mut cancels, mut failures) = (Vec::new(), Vec::new(), 0);
    for rep in 0..=cfg.reps {
        let t = Instant::now();
        for _ in 0..cfg.arm_n {
            keys.push(dq.insert((), HOUR));
        }
        let arm = t.elapsed();
        let t = Instant::now();
        for k in keys.drain(..) {
            if dq.try_remove(&k).is_none() {
                failures += 1;
            }
        }
        let cancel = t.elapsed();
        if rep > 0 {
            arms.push(ns_per(arm, cfg.arm_n));
            cancels.push(ns_per(cancel, cfg.arm_n));
        }
    }
    ArmCancel {
        arm_ns: median(arms),
        cancel_ns: median(cancels),
        failures,
    }
}

fn arm_cancel_stp(cfg: &Config) -> ArmCancel {
    let pool = stp_pool(2);
    let mut handles: Vec<JobHandle> = Vec::with_capacity(cfg.arm_n);
    let (mut arms, mut cancels) = (Vec::new(), Vec::new());
    for rep in 0..=cfg.reps {
        let t = Instant::now();
        for _ in 0..cfg.arm_n {
            handles.push(pool.execute_after(HOUR, || {}));
        }
        let arm = t.elapsed();
        let t = Instant::now();
        for h in handles.drain(..) {
            h.cancel();
        }
        let cancel = t.elapsed();
        if rep > 0 {
            arms.push(ns_per(arm, cfg.arm_n));
            cancels.push(ns_per(cancel, cfg.arm_n));
        }
    }
    ArmCancel {
        arm_ns: median(arms),
        cancel_ns: median(cancels),
        failures: 0, // JobHandle::cancel reports nothing
    }
}

// ---------------------------------------------------------------------------
// Row 3: lateness and correctness
// ---------------------------------------------------------------------------

/// What the items of one lateness run did: the first start of each, and how many
/// times each ran. Times are ns since `base`.
struct Record {
    base: Instant,
    start: Vec<AtomicU64>,
    runs: Vec<AtomicU32>,
}

impl Record {
    fn new(n: usize) -> Arc<Record> {
        Arc::new(Record {
            base: Instant::now(),
            start: (0..n).map(|_| AtomicU64::new(0)).collect(),
            runs: (0..n).map(|_| AtomicU32::new(0)).collect(),
        })
    }

    fn ns(&self, t: Instant) -> u64 {
        t.saturating_duration_since(self.base).as_nanos() as u64
    }

    fn now_ns(&self) -> u64 {
        self.ns(Instant::now())
    }

    /// Called first thing in item `i`'s run.
    fn hit(&self, i: usize) {
        let t = self.now_ns() + 1; // 0 means "never ran"
        let _ = self.start[i].compare_exchange(0, t, Ordering::AcqRel, Ordering::Acquire);
        self.runs[i].fetch_add(1, Ordering::AcqRel);
    }

    /// Waits until the last deadline has passed and every item that must run (the
    /// even ones: the odd ones are cancelled) has run, or a generous timeout.
    fn wait_done(&self, last_deadline: Instant) {
        let give_up = last_deadline + Duration::from_secs(3);
        std::thread::sleep(last_deadline.saturating_duration_since(Instant::now()));
        loop {
            let left = (0..self.runs.len())
                .step_by(2)
                .filter(|&i| self.runs[i].load(Ordering::Acquire) == 0)
                .count();
            if left == 0 || Instant::now() >= give_up {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        // Room for a wrongly surviving cancelled item to show itself.
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The delays and deadlines of one lateness run, the same for every system.
struct Plan {
    delays: Vec<Duration>,
}

impl Plan {
    /// `n` delays spread uniformly over 1..200 ms (µs granularity).
    fn new(n: usize, seed: u64) -> Plan {
        let mut rng = Rng(seed | 1);
        let delays = (0..n)
            .map(|_| Duration::from_micros(1_000 + rng.next() % 199_001))
            .collect();
        Plan { delays }
    }

    fn is_cancelled(i: usize) -> bool {
        i % 2 == 1
    }
}

/// A cancel of item `i`: when it returned (ns since the record's base), and
/// whether the system said the run was removed (`None`: it does not say).
#[derive(Clone, Copy)]
struct Cancel {
    end: u64,
    removed: Option<bool>,
}

#[derive(Default, Clone)]
struct Lateness {
    /// Lateness of the items that were not cancelled, ns.
    p50: f64,
    p99: f64,
    max: f64,
    /// Cancelled items that ran although the cancel removed them (or, for a system
    /// that does not say, ran after the cancel returned).
    cancelled_ran: usize,
    /// Items that started before their deadline.
    early: usize,
    /// Items that were not cancelled and never ran.
    missed: usize,
    /// Items that ran more than once.
    doubled: usize,
    /// Cancelled items that legitimately ran first (the cancel came too late).
    raced: usize,
    /// Arm calls that failed or did not schedule.
    arm_failures: usize,
}

fn analyze(rec: &Record, deadline_ns: &[u64], cancels: &[Option<Cancel>]) -> Lateness {
    let mut out = Lateness::default();
    let mut late = Vec::with_capacity(deadline_ns.len());
    for (i, &deadline) in deadline_ns.iter().enumerate() {
        let runs = rec.runs[i].load(Ordering::Acquire);
        let start = rec.start[i].load(Ordering::Acquire).saturating_sub(1);
        if runs > 1 {
            out.doubled += 1;
        }
        if runs > 0 && start < deadline {
            out.early += 1;
        }
        match cancels[i] {
            None if runs == 0 => out.missed += 1,
            None => late.push(start.saturating_sub(deadline)),
            Some(_) if runs == 0 => {}
            Some(c) => {
                let violation = match c.removed {
                    Some(removed) => removed,
                    None => start >= c.end,
                };
                if violation {
                    out.cancelled_ran += 1;
                } else {
                    out.raced += 1;
                }
            }
        }
    }
    late.sort_unstable();
    out.p50 = percentile(&late, 50.0) as f64;
    out.p99 = percentile(&late, 99.0) as f64;
    out.max = late.last().copied().unwrap_or(0) as f64;
    out
}

fn late_workq(plan: &Plan) -> Lateness {
    let n = plan.delays.len();
    let worker = Worker::new("bench-late").unwrap();
    let rec = Record::new(n);
    let works: Vec<Work> = (0..n)
        .map(|i| {
            let r = rec.clone();
            Work::new(move |_| r.hit(i))
        })
        .collect();
    let mut deadline_ns = vec![0; n];
    let mut cancels = vec![None; n];
    let mut arm_failures = 0;
    let mut last = Instant::now();
    for (i, w) in works.iter().enumerate() {
        let deadline = Instant::now() + plan.delays[i];
        last = last.max(deadline);
        deadline_ns[i] = rec.ns(deadline);
        if !matches!(worker.queue_at(w, deadline), Ok(Queued::Scheduled)) {
            arm_failures += 1;
        }
        if Plan::is_cancelled(i) {
            let removed = w.cancel();
            let end = rec.now_ns();
            cancels[i] = Some(Cancel {
                end,
                removed: Some(removed),
            });
        }
    }
    rec.wait_done(last);
    worker.destroy().unwrap();
    Lateness {
        arm_failures,
        ..analyze(&rec, &deadline_ns, &cancels)
    }
}

fn late_tokio(plan: &Plan) -> Lateness {
    let n = plan.delays.len();
    let rt = tokio_multi_thread(2);
    let rec = Record::new(n);
    let mut deadline_ns = vec![0; n];
    let mut cancels = vec![None; n];
    let mut aborted = Vec::with_capacity(n / 2);
    let mut last = Instant::now();
    for (i, &delay) in plan.delays.iter().enumerate() {
        let deadline = Instant::now() + delay;
        last = last.max(deadline);
        deadline_ns[i] = rec.ns(deadline);
        let r = rec.clone();
        let handle = rt.spawn(async move {
            tokio::time::sleep_until(deadline.into()).await;
            r.hit(i);
        });
        if Plan::is_cancelled(i) {
            handle.abort();
            let end = rec.now_ns();
            aborted.push((i, handle, end));
        }
    }
    rec.wait_done(last);
    rt.block_on(async {
        for (i, handle, end) in aborted {
            // Cancelled: the abort removed the run. Ok: it had finished first.
            let removed = matches!(handle.await, Err(e) if e.is_cancelled());
            cancels[i] = Some(Cancel {
                end,
                removed: Some(removed),
            });
        }
    });
    rt.shutdown_background();
    analyze(&rec, &deadline_ns, &cancels)
}

fn late_stp(plan: &Plan) -> Lateness {
    let n = plan.delays.len();
    let pool = stp_pool(2);
    let rec = Record::new(n);
    let mut deadline_ns = vec![0; n];
    let mut cancels = vec![None; n];
    let mut last = Instant::now();
    for (i, &delay) in plan.delays.iter().enumerate() {
        // Taken just before the call, so never later than the pool's own deadline.
        let deadline = Instant::now() + delay;
        last = last.max(deadline);
        deadline_ns[i] = rec.ns(deadline);
        let r = rec.clone();
        let handle = pool.execute_after(delay, move || r.hit(i));
        if Plan::is_cancelled(i) {
            handle.cancel();
            let end = rec.now_ns();
            cancels[i] = Some(Cancel { end, removed: None });
        }
    }
    rec.wait_done(last);
    drop(pool);
    analyze(&rec, &deadline_ns, &cancels)
}

/// Medians of the percentiles over the runs, sums of the counts.
fn combine(runs: &[Lateness]) -> Lateness {
    let pick = |f: fn(&Lateness) -> f64| median(runs.iter().map(f).collect());
    let sum = |f: fn(&Lateness) -> usize| runs.iter().map(f).sum();
    Lateness {
        p50: pick(|l| l.p50),
        p99: pick(|l| l.p99),
        max: pick(|l| l.max),
        cancelled_ran: sum(|l| l.cancelled_ran),
        early: sum(|l| l.early),
        missed: sum(|l| l.missed),
        doubled: sum(|l| l.doubled),
        raced: sum(|l| l.raced),
        arm_failures: sum(|l| l.arm_failures),
    }
}

// ---------------------------------------------------------------------------
// Row 4: heap bytes per armed item
// ---------------------------------------------------------------------------

#[derive(Default, Clone, Copy)]
struct Bytes {
    /// Heap bytes of one idle item (before arming).
    item: f64,
    /// Heap bytes added by arming it.
    arm: f64,
    /// Heap blocks added by arming it.
    arm_blocks: f64,
    /// Heap bytes per item still held once every item was cancelled.
    after_cancel: f64,
}

fn bytes_workq(n: usize) -> Bytes {
    let worker = Worker::new("bench-bytes").unwrap();
    // Start the timer thread (and its one-time allocations) before measuring.
    let warm = Work::new(|_| {});
    worker.queue_after(&warm, HOUR).unwrap();
    warm.cancel();
    let mut works = Vec::with_capacity(n);
    let m0 = mem();
    for _ in 0..n {
        works.push(Work::new(|_| {}));
    }
    let m1 = mem();
    for w in &works {
        worker.queue_after(w, HOUR).unwrap();
    }
    let m2 = mem();
    for w in &works {
        w.cancel();
    }
    let m3 = mem();
    drop(works);
    worker.destroy().unwrap();
    Bytes {
        item: per_item_bytes(m0, m1, n),
        arm: per_item_bytes(m1, m2, n),
        arm_blocks: per_item_blocks(m1, m2, n),
        after_cancel: per_item_bytes(m1, m3, n),
    }
}

fn bytes_tokio(n: usize) -> Bytes {
    let rt = tokio_current_thread();
    let _ctx = rt.enter();
    let mut dq: DelayQueue<()> = DelayQueue::new();
    let mut keys = Vec::with_capacity(n);
    let m1 = mem();
    for _ in 0..n {
        keys.push(dq.insert((), HOUR));
    }
    let m2 = mem();
    for k in keys.drain(..) {
        dq.remove(&k);
    }
    let m3 = mem();
    drop(dq);
    Bytes {
        item: 0.0,
        arm: per_item_bytes(m1, m2, n),
        arm_blocks: per_item_blocks(m1, m2, n),
        after_cancel: per_item_bytes(m1, m3, n),
    }
}

fn bytes_stp(n: usize) -> Bytes {
    let pool = stp_pool(2);
    let mut handles: Vec<JobHandle> = Vec::with_capacity(n);
    let m1 = mem();
    for _ in 0..n {
        handles.push(pool.execute_after(HOUR, || {}));
    }
    let m2 = mem();
    for h in handles.drain(..) {
        h.cancel();
    }
    let m3 = mem();
    drop(pool);
    Bytes {
        item: 0.0,
        arm: per_item_bytes(m1, m2, n),
        arm_blocks: per_item_blocks(m1, m2, n),
        after_cancel: per_item_bytes(m1, m3, n),
    }
}

// ---------------------------------------------------------------------------
// Row 5: CPU while idle
// ---------------------------------------------------------------------------

/// CPU time and context switches of the whole process so far.
#[derive(Clone, Copy)]
struct Cpu {
    /// Sum over the live threads of /proc/self/task/*/schedstat (ns on a CPU), if
    /// readable.
    sched_ns: Option<u64>,
    /// utime + stime of /proc/self/stat, in clock ticks.
    ticks: Option<u64>,
    /// Voluntary + involuntary context switches of the live threads: wake-ups.
    switches: Option<u64>,
}

fn cpu() -> Cpu {
    let ticks = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            // Fields after the command name, which ends at the last ')': state is
            // field 3, utime 14, stime 15.
            let rest: Vec<&str> = s.get(s.rfind(')')? + 1..)?.split_whitespace().collect();
            let utime: u64 = rest.get(11)?.parse().ok()?;
            let stime: u64 = rest.get(12)?.parse().ok()?;
            Some(utime + stime)
        });
    let mut sched_ns = None;
    let mut switches = None;
    if let Ok(dir) = std::fs::read_dir("/proc/self/task") {
        for task in dir.flatten() {
            let path = task.path();
            if let Some(ns) = std::fs::read_to_string(path.join("schedstat"))
                .ok()
                .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
            {
                *sched_ns.get_or_insert(0) += ns;
            }
            if let Ok(status) = std::fs::read_to_string(path.join("status")) {
                for line in status.lines() {
                    if line.starts_with("voluntary_ctxt_switches:")
                        || line.starts_with("nonvoluntary_ctxt_switches:")
                    {
                        if let Some(v) = line
                            .split_whitespace()
                            .nth(1)
                            .and_then(|v| v.parse::<u64>().ok())
                        {
                            *switches.get_or_insert(0) += v;
                        }
                    }
                }
            }
        }
    }
    Cpu {
        sched_ns,
        ticks,
        switches,
    }
}

/// CPU ms used and wake-ups over `idle` of doing nothing (the main thread sleeps).
struct Idle {
    cpu_ms: f64,
    switches: f64,
}

fn measure_idle(idle: Duration) -> Idle {
    let a = cpu();
    std::thread::sleep(idle);
    let b = cpu();
    let cpu_ms = match (a.sched_ns, b.sched_ns, a.ticks, b.ticks) {
        (Some(x), Some(y), _, _) => y.saturating_sub(x) as f64 / 1e6,
        // USER_HZ is 100 on Linux: one tick is 10 ms.
        (_, _, Some(x), Some(y)) => y.saturating_sub(x) as f64 * 10.0,
        _ => f64::NAN,
    };
    let switches = match (a.switches, b.switches) {
        (Some(x), Some(y)) => y.saturating_sub(x) as f64,
        _ => f64::NAN,
    };
    Idle { cpu_ms, switches }
}

fn idle_workq(cfg: &Config) -> Idle {
    let worker = Worker::new("bench-idle").unwrap();
    let works: Vec<Work> = (0..cfg.idle_n).map(|_| Work::new(|_| {})).collect();
    for w in &works {
        worker.queue_after(w, HOUR).unwrap();
    }
    std::thread::sleep(Duration::from_millis(50)); // let the timer thread settle
    let idle = measure_idle(cfg.idle);
    for w in &works {
        w.cancel();
    }
    worker.destroy().unwrap();
    idle
}

fn idle_tokio(cfg: &Config) -> Idle {
    let rt = tokio_multi_thread(2);
    let handles: Vec<_> = (0..cfg.idle_n)
        .map(|_| rt.spawn(async { tokio::time::sleep(HOUR).await }))
        .collect();
    std::thread::sleep(Duration::from_millis(50)); // let every task register its timer
    let idle = measure_idle(cfg.idle);
    for h in &handles {
        h.abort();
    }
    rt.shutdown_background();
    idle
}

fn idle_stp(cfg: &Config) -> Idle {
    let pool = stp_pool(2);
    let handles: Vec<JobHandle> = (0..cfg.idle_n)
        .map(|_| pool.execute_after(HOUR, || {}))
        .collect();
    std::thread::sleep(Duration::from_millis(50));
    let idle = measure_idle(cfg.idle);
    for h in &handles {
        h.cancel();
    }
    drop(pool);
    idle
}

// ---------------------------------------------------------------------------
// Machine, date, table
// ---------------------------------------------------------------------------

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".to_string())
}

/// The UTC date and time, from the system clock (days to civil date after Howard
/// Hinnant's algorithm).
fn utc_now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// One line of the table.
struct Row {
    name: String,
    values: [Option<f64>; 3],
    decimals: usize,
    /// Whether to print workq's ratio to the best (lowest) peer.
    ratio: bool,
}

impl Row {
    fn new(name: impl Into<String>, values: [Option<f64>; 3], decimals: usize) -> Row {
        Row {
            name: name.into(),
            values,
            decimals,
            ratio: true,
        }
    }

    /// A count that must be 0: no ratio.
    fn count(name: impl Into<String>, values: [Option<f64>; 3]) -> Row {
        Row {
            name: name.into(),
            values,
            decimals: 0,
            ratio: false,
        }
    }

    fn ratio_text(&self) -> String {
        if !self.ratio {
            return "-".to_string();
        }
        let best = self.values[1..]
            .iter()
            .flatten()
            .copied()
            .filter(|v| v.is_finite())
            .reduce(f64::min);
        match (self.values[WORKQ], best) {
            (Some(w), Some(b)) if b > 0.0 => format!("{:.2}x", w / b),
            (Some(w), Some(b)) if b == 0.0 && w == 0.0 => "1.00x".to_string(),
            (Some(_), Some(_)) => "inf".to_string(),
            _ => "-".to_string(),
        }
    }
}

fn print_table(rows: &[Row]) {
    let name_w = rows.iter().map(|r| r.name.len()).max().unwrap_or(10).max(6);
    let col_w = 18;
    print!("{:<name_w$}", "metric");
    for s in SYSTEMS {
        print!(" {s:>col_w$}");
    }
    println!(" {:>12}", "workq/best");
    println!("{}", "-".repeat(name_w + 4 * (col_w + 1) - 6));
    for r in rows {
        print!("{:<name_w$}", r.name);
        for v in r.values {
            let text = match v {
                Some(v) if v.is_finite() => format!("{v:.prec$}", prec = r.decimals),
                Some(_) => "n/a".to_string(),
                None => "-".to_string(),
            };
            print!(" {text:>col_w$}");
        }
        println!(" {:>12}", r.ratio_text());
    }
}

fn main() {
    let cfg = Config::from_args();
    let started = Instant::now();
    if cfg!(debug_assertions) {
        eprintln!("warning: built with debug assertions; use `cargo bench` for real numbers");
    }
    println!(
        "workq timer benchmark{}",
        if cfg.quick { " (--quick)" } else { "" }
    );
    println!("date:    {}", utc_now());
    println!(
        "machine: {} CPUs (nproc), {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        cpu_model()
    );
    println!();

    // Bytes first, so workq's process-wide timer wheel is measured from empty.
    eprintln!("measuring bytes per armed item ({} items)...", cfg.arm_n);
    let bytes = [
        bytes_workq(cfg.arm_n),
        bytes_tokio(cfg.arm_n),
        bytes_stp(cfg.arm_n),
    ];

    eprintln!(
        "measuring arm / cancel ({} items x {} reps)...",
        cfg.arm_n, cfg.reps
    );
    let ac = [
        arm_cancel_workq(&cfg),
        arm_cancel_tokio(&cfg),
        arm_cancel_stp(&cfg),
    ];

    eprintln!(
        "measuring lateness ({} items x {} runs per system)...",
        cfg.late_n, cfg.late_reps
    );
    let mut late_runs: [Vec<Lateness>; 3] = Default::default();
    for rep in 0..cfg.late_reps {
        let plan = Plan::new(cfg.late_n, 0x9e37_79b9_7f4a_7c15 ^ rep as u64);
        late_runs[WORKQ].push(late_workq(&plan));
        late_runs[TOKIO].push(late_tokio(&plan));
        late_runs[STP].push(late_stp(&plan));
    }
    let late = late_runs.map(|runs| combine(&runs));

    eprintln!(
        "measuring idle CPU ({} items armed 1 h ahead, {:?} each)...",
        cfg.idle_n, cfg.idle
    );
    let idle = [idle_workq(&cfg), idle_tokio(&cfg), idle_stp(&cfg)];

    let all = |f: &dyn Fn(usize) -> f64| [Some(f(0)), Some(f(1)), Some(f(2))];
    let us = |ns: f64| ns / 1e3;
    let rows = vec![
        Row::new(
            format!("1. arm, ns/op ({} items, 1 h)", cfg.arm_n),
            all(&|s| ac[s].arm_ns),
            1,
        ),
        Row::new(
            "2. cancel an armed item, ns/op",
            all(&|s| ac[s].cancel_ns),
            1,
        ),
        Row::new(
            format!("3. lateness p50, us ({} items, 1..200 ms)", cfg.late_n),
            all(&|s| us(late[s].p50)),
            0,
        ),
        Row::new("   lateness p99, us", all(&|s| us(late[s].p99)), 0),
        Row::new("   lateness max, us", all(&|s| us(late[s].max)), 0),
        Row::count(
            "   cancelled items that ran (must be 0)",
            all(&|s| late[s].cancelled_ran as f64),
        ),
        Row::count(
            "   items run early (must be 0)",
            all(&|s| late[s].early as f64),
        ),
        Row::count(
            "   items never run / run twice (must be 0)",
            all(&|s| (late[s].missed + late[s].doubled) as f64),
        ),
        Row::new(
            "4. bytes/armed item: the idle item",
            [Some(bytes[WORKQ].item), None, None],
            1,
        ),
        Row::new("   bytes/armed item: arming", all(&|s| bytes[s].arm), 1),
        Row::new(
            "   bytes/armed item: total",
            all(&|s| bytes[s].item + bytes[s].arm),
            1,
        ),
        Row::new("   heap blocks per arm", all(&|s| bytes[s].arm_blocks), 2),
        Row::new(
            "   bytes/item still held after cancel",
            all(&|s| bytes[s].after_cancel),
            1,
        ),
        Row::new(
            format!(
                "5. idle CPU, ms in {:.1} s ({} armed 1 h)",
                cfg.idle.as_secs_f64(),
                cfg.idle_n
            ),
            all(&|s| idle[s].cpu_ms),
            2,
        ),
        Row::new(
            "   idle wake-ups (context switches)",
            all(&|s| idle[s].switches),
            0,
        ),
    ];
    print_table(&rows);

    println!();
    println!("workq: one Worker, items made beforehand; the process-wide workq-timer thread (1 ms ticks).");
    println!("tokio: rows 1, 2, 4: tokio-util DelayQueue on a current_thread runtime context (single-owner, &mut,");
    println!("       not polled); rows 3, 5: tokio::time::sleep_until tasks on a 2-worker multi-thread runtime,");
    println!("       cancelled with JoinHandle::abort.");
    println!("sched-thread-pool: execute_after / JobHandle::cancel on a pool of 2 threads.");
    println!("Arm / cancel: median of {} runs after a warm-up; lateness: median of {} runs (start - deadline of the", cfg.reps, cfg.late_reps);
    println!("items not cancelled); bytes: requested heap bytes (malloc's per-block overhead excluded), payloads");
    println!("are zero-sized closures / (); idle: CPU of all threads (/proc/self/task/*/schedstat) while asleep.");
    let raced: Vec<String> = SYSTEMS
        .iter()
        .zip(&late)
        .map(|(s, l)| format!("{s} {}", l.raced))
        .collect();
    println!(
        "Cancels that came after the run had started (legitimate, not counted): {}",
        raced.join(", ")
    );
    println!(
        "Calls that did not do what they should (arm not Scheduled, cancel removed nothing): workq {} (arm/cancel) + {} (lateness), tokio {}",
        ac[WORKQ].failures, late[WORKQ].arm_failures, ac[TOKIO].failures
    );
    println!("bench took {:.1} s", started.elapsed().as_secs_f64());

    let w = &late[WORKQ];
    let workq_violations =
        w.cancelled_ran + w.early + w.missed + w.doubled + w.arm_failures + ac[WORKQ].failures;
    for (s, l) in SYSTEMS.iter().zip(&late).skip(1) {
        if l.cancelled_ran + l.early + l.missed + l.doubled > 0 {
            println!("note: peer {s} violated a correctness count (not fatal)");
        }
    }
    if workq_violations > 0 {
        eprintln!("FAIL: workq violated {workq_violations} correctness count(s)");
        std::process::exit(1);
    }
}
