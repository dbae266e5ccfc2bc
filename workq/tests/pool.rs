//! Integration tests of the self-sizing pool (`Pool`, the kernel's slow-work):
//! starting threads on demand and culling them when idle, spawn failures and
//! back-off, the very slow class and its cap, owners and unregister, the runtime
//! tunables, `sleep_till_thread_needed`, panics, the runqueue snapshot, destroy
//! and the drop of the last handle.
//!
//! No test measures time. Time-dependent behaviour (idle cull, spawn back-off)
//! uses short settings and waits for the expected state with `wait_until` under
//! the watchdog; sleeps only make races likely. Every blocking call runs under a
//! watchdog, so a hang fails the test instead of stalling CI. The pool's stress
//! test is in `tests/pool_stress.rs`.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::thread;
use std::time::{Duration, Instant};
use workq::{Error, ManualClock, Pool, Queued, Work};

/// Shared counters of a set of items: how many run right now, the most that ran
/// at once, and how many runs finished.
#[derive(Default, Debug)]
struct Concurrency {
    running: AtomicUsize,
    peak: AtomicUsize,
    started: AtomicUsize,
    finished: AtomicUsize,
}

impl Concurrency {
    fn enter(&self) {
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
        self.started.fetch_add(1, Ordering::SeqCst);
    }

    fn leave(&self) {
        self.running.fetch_sub(1, Ordering::SeqCst);
        self.finished.fetch_add(1, Ordering::SeqCst);
    }

    fn running(&self) -> usize {
        self.running.load(Ordering::SeqCst)
    }

    fn peak(&self) -> usize {
        self.peak.load(Ordering::SeqCst)
    }

    fn started(&self) -> usize {
        self.started.load(Ordering::SeqCst)
    }

    fn finished(&self) -> usize {
        self.finished.load(Ordering::SeqCst)
    }
}

/// An item that counts itself in `c` and blocks on `gate` while it runs.
fn gated(name: String, very_slow: bool, gate: &Gate, c: &Arc<Concurrency>) -> Work {
    let (gate, c) = (gate.clone(), c.clone());
    let f = move |_: &workq::WorkCtx<'_>| {
        c.enter();
        gate.wait();
        c.leave();
    };
    if very_slow {
        Work::very_slow(name, f)
    } else {
        Work::named(name, f)
    }
}

/// An item that adds one to `count` per run.
fn counted(name: String, count: &Arc<AtomicUsize>) -> Work {
    let count = count.clone();
    Work::named(name, move |_| {
        count.fetch_add(1, Ordering::SeqCst);
    })
}

fn threads(pool: &Pool) -> usize {
    pool.snapshot().threads.len()
}

/// The documented very slow cap for `threads` threads (ARCHITECTURE.md, "The
/// pool's sizing"): `min(max(1, threads * percent / 100), max(1, max - 1))`.
fn vslow_cap(threads: usize, max: usize, percent: usize) -> usize {
    (threads * percent / 100)
        .max(1)
        .min(max.saturating_sub(1).max(1))
}

// ---------------------------------------------------------------------------
// 1. Threads start on demand and are named after the pool.
// ---------------------------------------------------------------------------

/// Waits (under the watchdog) until Linux shows the threads of slots
/// `0..slots` of pool `pool` under their names, truncated to 15 bytes.
fn check_os_names(pool: &str, slots: usize) {
    let Some(_) = os_thread_names() else {
        eprintln!("no /proc: OS thread names not checked");
        return;
    };
    let expected: Vec<String> = (0..slots)
        .map(|n| os_thread_name(&format!("{pool}/{n}")))
        .collect();
    wait_until("the pool's OS threads carry their names", || {
        let names = os_thread_names().unwrap_or_default();
        expected.iter().all(|e| {
            let want = expected.iter().filter(|x| *x == e).count();
            names.iter().filter(|n| *n == e).count() == want
        })
    });
}

#[test]
fn unused_pool_owns_no_threads_and_first_queue_starts_min_named_threads() {
    let _w = watchdog(4 * WATCHDOG_SECS, "first-use test");
    let pool = Pool::builder()
        .name("wq-names")
        .min_threads(3)
        .max_threads(3)
        .build()
        .unwrap();

    // Unused: no thread, and the calls that do not queue start none.
    let owner = pool.register("idle-owner");
    assert_eq!(owner.outstanding(), 0);
    assert!(!flush_pool(&pool));
    drain_pool(&pool);
    pool.set_min_threads(2).unwrap();
    pool.set_min_threads(3).unwrap();
    pool.set_max_threads(3).unwrap();
    let s = pool.snapshot();
    assert!(s.threads.is_empty(), "{s}");
    assert!(s.waiting.is_empty());
    assert_eq!(s.stats.threads_started, 0);
    assert_eq!(s.stats.threads_exited, 0);
    assert_eq!((s.min_threads, s.max_threads), (3, 3));
    if let Some(names) = os_thread_names() {
        assert!(
            !names.iter().any(|n| n.starts_with("wq-names/")),
            "an unused pool owns no OS thread: {names:?}"
        );
    }

    // First use starts the minimum, before the queue call returns.
    let runs = Arc::new(AtomicUsize::new(0));
    let work = counted("first".into(), &runs);
    assert!(matches!(pool.queue(&work), Ok(Queued::Scheduled)));
    let s = pool.snapshot();
    assert_eq!(s.stats.threads_started, 3, "{s}");
    assert_eq!(s.threads.len(), 3, "{s}");
    let names: BTreeSet<String> = s.threads.iter().map(|t| t.name.clone()).collect();
    let expected: BTreeSet<String> = (0..3).map(|n| format!("wq-names/{n}")).collect();
    assert_eq!(names, expected);
    flush_work(&work);
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    check_os_names("wq-names", 3);
    drop(owner);
    drop_pool(pool);

    // A long pool name: Linux shows the first 15 bytes of "name/N".
    let long = "a-pool-with-a-long-name";
    let pool = Pool::builder()
        .name(long)
        .min_threads(2)
        .max_threads(2)
        .build()
        .unwrap();
    let work = counted("first".into(), &runs);
    pool.queue(&work).unwrap();
    flush_work(&work);
    let s = pool.snapshot();
    let names: BTreeSet<String> = s.threads.iter().map(|t| t.name.clone()).collect();
    let expected: BTreeSet<String> = (0..2).map(|n| format!("{long}/{n}")).collect();
    assert_eq!(names, expected, "snapshot names are not truncated");
    assert_eq!(os_thread_name(&format!("{long}/0")), "a-pool-with-a-l");
    check_os_names(long, 2);
    drop_pool(pool);
}

/// Many threads making the first queue calls at once start no more than the
/// maximum ("one start at a time, up to the maximum").
#[test]
fn first_use_from_many_threads_starts_no_more_than_max() {
    const CALLERS: usize = 8;
    let _w = watchdog(6 * WATCHDOG_SECS, "first-use race");
    let mut worst = 0;
    for round in 0..40 {
        let pool = Pool::builder()
            .name(format!("first-race-{round}"))
            .min_threads(2)
            .max_threads(2)
            .idle_timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        let barrier = Arc::new(Barrier::new(CALLERS));
        let runs = Arc::new(AtomicUsize::new(0));
        let callers: Vec<_> = (0..CALLERS)
            .map(|i| {
                let (pool, barrier, work) = (
                    pool.clone(),
                    barrier.clone(),
                    counted(format!("c{i}"), &runs),
                );
                spawn_bounded("first queue call", move || {
                    barrier.wait();
                    let r = pool.queue(&work);
                    (r, work)
                })
            })
            .collect();
        for c in callers {
            let (r, work) = c.join();
            assert!(matches!(r, Ok(Queued::Scheduled)), "{r:?}");
            flush_work(&work);
        }
        assert_eq!(runs.load(Ordering::SeqCst), CALLERS);
        let s = pool.snapshot();
        worst = worst.max(s.stats.threads_started);
        assert!(
            s.stats.threads_started <= 2,
            "round {round}: {} threads started for max_threads 2\n{s}",
            s.stats.threads_started
        );
        assert_eq!(s.threads.len(), 2, "{s}");
        drop_pool(pool);
    }
    eprintln!("first-use race: at most {worst} thread(s) started");
}

// ---------------------------------------------------------------------------
// 2. Burst then idle.
// ---------------------------------------------------------------------------

#[test]
fn burst_then_idle_settles_to_min_and_never_below() {
    const ITEMS: usize = 200;
    const MIN: usize = 2;
    const MAX: usize = 8;
    let idle = Duration::from_millis(30);
    let _w = watchdog(4 * WATCHDOG_SECS, "burst then idle");
    let spawns = PoolSpawns::new();
    let pool = Pool::builder()
        .name("burst")
        .min_threads(MIN)
        .max_threads(MAX)
        .idle_timeout(idle)
        .spawner(spawns.spawner())
        .build()
        .unwrap();
    let c = Arc::new(Concurrency::default());
    let items: Vec<Work> = (0..ITEMS)
        .map(|i| {
            let c = c.clone();
            Work::named(format!("burst-{i}"), move |_| {
                c.enter();
                thread::sleep(Duration::from_millis(2));
                c.leave();
            })
        })
        .collect();
    for w in &items {
        assert!(matches!(pool.queue(w), Ok(Queued::Scheduled)));
    }
    let mut peak_threads = 0;
    wait_until("the burst ran", || {
        peak_threads = peak_threads.max(threads(&pool));
        c.finished() == ITEMS
    });
    flush_pool(&pool);
    let s = pool.snapshot();
    assert_eq!(s.stats.runs, ITEMS as u64);
    assert!(c.peak() <= MAX, "{} items ran at once", c.peak());
    assert!(peak_threads <= MAX, "{peak_threads} threads seen");
    assert!(
        s.stats.threads_started > MIN as u64 && spawns.peak_live() > MIN,
        "the pool did not grow: {} started, peak {} live\n{s}",
        s.stats.threads_started,
        spawns.peak_live()
    );
    assert_eq!(s.stats.threads_started, spawns.started() as u64);
    eprintln!(
        "burst: {} threads started, peak {} live, {} items at once",
        s.stats.threads_started,
        spawns.peak_live(),
        c.peak()
    );

    // Idle: back to exactly min, never below.
    let mut lowest = usize::MAX;
    wait_until("the idle pool settles to min", || {
        let n = threads(&pool);
        lowest = lowest.min(n);
        n == MIN
    });
    for _ in 0..4 {
        thread::sleep(idle * 2); // lets further (wrong) culls happen
        let s = pool.snapshot();
        lowest = lowest.min(s.threads.len());
        assert_eq!(s.threads.len(), MIN, "{s}");
        assert_eq!(
            s.stats.threads_started - s.stats.threads_exited,
            MIN as u64,
            "{s}"
        );
    }
    assert!(lowest >= MIN, "the pool went below min: {lowest}");
    assert_eq!(spawns.started() - spawns.exited(), MIN);
    drop_pool(pool);
    assert_eq!(spawns.started(), spawns.exited());
}

// ---------------------------------------------------------------------------
// 3. Queue calls racing the idle cull strand nothing.
// ---------------------------------------------------------------------------

#[test]
fn queue_racing_a_cull_strands_nothing() {
    const ROUNDS: usize = 2_000;
    const ITEMS: usize = 4;
    let _w = watchdog(10 * WATCHDOG_SECS, "queue racing a cull");
    let seed = std::env::var("WORKQ_STRESS_SEED")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        });
    eprintln!("queue racing a cull: seed {seed} (replay with WORKQ_STRESS_SEED={seed})");
    let mut rng = Rng::new(seed);
    let pool = Pool::builder()
        .name("cull-race")
        .min_threads(1)
        .max_threads(4)
        .idle_timeout(Duration::from_millis(2))
        .build()
        .unwrap();
    let counts: Vec<Arc<AtomicUsize>> = (0..ITEMS).map(|_| Arc::default()).collect();
    let items: Vec<Work> = (0..ITEMS)
        .map(|i| counted(format!("cull-{i}"), &counts[i]))
        .collect();
    let mut expected = [0usize; ITEMS];
    for _ in 0..ROUNDS {
        // 0 to 6 ms: around the idle timeout, so that the queue call meets a
        // thread deciding to exit.
        thread::sleep(Duration::from_micros(rng.below(6_001) as u64));
        // One to three items at once, so that the pool grows above min.
        let k = 1 + rng.below(3);
        let first = rng.below(ITEMS);
        let batch: Vec<usize> = (0..k).map(|j| (first + j) % ITEMS).collect();
        for &i in &batch {
            let r = pool.queue(&items[i]);
            assert!(matches!(r, Ok(Queued::Scheduled)), "{r:?}");
            expected[i] += 1;
        }
        for &i in &batch {
            flush_work(&items[i]);
        }
    }
    let got: Vec<usize> = counts.iter().map(|c| c.load(Ordering::SeqCst)).collect();
    assert_eq!(got, expected.to_vec());
    let s = pool.snapshot();
    assert_eq!(s.stats.runs, expected.iter().sum::<usize>() as u64);
    assert_eq!(s.stats.spawn_failures, 0);
    assert!((1..=4).contains(&s.threads.len()), "{s}");
    assert!(
        s.stats.threads_exited > 0,
        "no thread was culled: the race was not exercised\n{s}"
    );
    eprintln!(
        "queue racing a cull: {} threads started, {} exited",
        s.stats.threads_started, s.stats.threads_exited
    );
    drop_pool(pool);
}

// ---------------------------------------------------------------------------
// 4. and 5. Spawn failures.
// ---------------------------------------------------------------------------

/// What the spawn-failure hook saw.
#[derive(Clone, Debug)]
struct FailureReport {
    pool: String,
    thread: String,
    threads: usize,
    backoff: Duration,
    error: String,
}

type Reports = Arc<Mutex<Vec<FailureReport>>>;

fn report_into(reports: &Reports) -> impl Fn(&workq::SpawnFailure<'_>) + Send + Sync + 'static {
    let reports = reports.clone();
    move |f| {
        lock(&reports).push(FailureReport {
            pool: f.pool.to_string(),
            thread: f.thread.to_string(),
            threads: f.threads,
            backoff: f.backoff,
            error: f.error.to_string(),
        });
    }
}

#[test]
fn spawn_fails_after_k_starts_work_continues_backoff_respected_then_recovers() {
    const K: usize = 2;
    const MAX: usize = 6;
    const EXTRAS: usize = 40;
    let backoff = Duration::from_millis(200);
    let _w = watchdog(4 * WATCHDOG_SECS, "spawn failures after k starts");
    let spawns = PoolSpawns::failing_from(K);
    let reports: Reports = Arc::default();
    let pool = Pool::builder()
        .name("spawn-k")
        .min_threads(K)
        .max_threads(MAX)
        .idle_timeout(Duration::from_secs(30))
        .spawn_backoff(backoff)
        .spawner(spawns.spawner())
        .on_spawn_failure(report_into(&reports))
        .build()
        .unwrap();

    // Both threads busy on a gate.
    let (gate1, opener1) = common::gate();
    let busy = Arc::new(Concurrency::default());
    let blockers: Vec<Work> = (0..K)
        .map(|i| gated(format!("busy-{i}"), false, &gate1, &busy))
        .collect();
    for b in &blockers {
        assert!(matches!(pool.queue(b), Ok(Queued::Scheduled)));
    }
    wait_until("both threads run a blocker", || busy.running() == K);

    // Many more items: no thread is free and none may start.
    let done = Arc::new(AtomicUsize::new(0));
    let extras: Vec<Work> = (0..EXTRAS)
        .map(|i| counted(format!("extra-{i}"), &done))
        .collect();
    let mut in_window = 0;
    for (i, w) in extras.iter().enumerate() {
        let r = pool.queue(w);
        assert!(matches!(r, Ok(Queued::Scheduled)), "{r:?}");
        if i == 0 {
            // The start is made off the caller's thread (the timer's, every
            // pool thread being busy): wait for its failure.
            wait_until("a start is tried and fails", || spawns.failures() >= 1);
        }
        let first_failure = spawns.calls().into_iter().find(|c| !c.ok);
        let first_failure = first_failure.expect("a start was tried and failed");
        if Instant::now() < first_failure.at + backoff {
            in_window += 1;
        }
    }
    let calls = spawns.calls();
    let t_fail = calls.iter().find(|c| !c.ok).unwrap().at;
    assert_eq!(calls.iter().filter(|c| c.ok).count(), K, "{calls:?}");
    assert!(calls[..K].iter().all(|c| c.ok), "{calls:?}");
    assert_eq!(
        calls
            .iter()
            .filter(|c| !c.ok && c.at < t_fail + backoff)
            .count(),
        1,
        "one failed start per back-off window: {calls:?}"
    );
    for pair in calls.windows(2) {
        if !pair[0].ok {
            assert!(
                pair[1].at >= pair[0].at + backoff,
                "a start was tried during the back-off: {calls:?}"
            );
        }
    }
    if in_window == 0 {
        eprintln!("spawn-k: the machine was too slow to queue during the back-off window");
    }
    eprintln!("spawn-k: {in_window} of {EXTRAS} queue calls made during the first back-off");

    // Failures are counted and reported, once each. While the extras wait the
    // pool retries after each back-off by itself: the counts are compared
    // between two failures (each is seen by the spawner, counted, reported).
    let mut failures = 0;
    wait_until("the failure counts agree between two retries", || {
        let reported = lock(&reports).len();
        let counted = pool.snapshot().stats.spawn_failures;
        failures = spawns.failures();
        assert!(reported as u64 <= counted && counted <= failures as u64);
        reported == failures
    });
    let s = pool.snapshot();
    assert!(failures >= 1);
    let seen = lock(&reports).clone();
    assert_eq!(seen[0].pool, "spawn-k");
    assert_eq!(seen[0].thread, format!("spawn-k/{K}"));
    assert_eq!(seen[0].threads, K);
    assert_eq!(seen[0].backoff, backoff);
    assert!(seen[0].error.contains("refused"), "{}", seen[0].error);

    // The items wait; none is lost.
    // The view also lists a retry's thread while its start is in flight.
    assert!((K..=K + 1).contains(&s.threads.len()), "{s}");
    assert_eq!(spawns.live(), K);
    assert_eq!(s.stats.threads_started, K as u64);
    assert_eq!(s.waiting.len(), EXTRAS, "{s}");
    assert!(extras.iter().all(Work::is_pending));
    assert_eq!(done.load(Ordering::SeqCst), 0);
    opener1.open();
    flush_pool(&pool);
    assert_eq!(done.load(Ordering::SeqCst), EXTRAS);
    assert_eq!(busy.finished(), K);

    // Recovery: thread starts succeed again; after the back-off the pool grows.
    spawns.heal();
    // A retry that was in the spawner when the extras ran out ends first.
    wait_until("no start in flight", || spawns.in_flight() == 0);
    let failures_before = pool.snapshot().stats.spawn_failures;
    let (gate2, opener2) = common::gate();
    let busy2 = Arc::new(Concurrency::default());
    let blockers2: Vec<Work> = (0..MAX)
        .map(|i| gated(format!("busy2-{i}"), false, &gate2, &busy2))
        .collect();
    for b in &blockers2 {
        assert!(matches!(pool.queue(b), Ok(Queued::Scheduled)));
    }
    let poked = Arc::new(AtomicUsize::new(0));
    let mut pokes = Vec::new();
    wait_until("the pool grows back to max", || {
        if threads(&pool) < MAX {
            // A queue call finds no idle thread: a start is owed once the
            // back-off has passed.
            let w = counted(format!("poke-{}", pokes.len()), &poked);
            assert!(matches!(pool.queue(&w), Ok(Queued::Scheduled)));
            pokes.push(w);
        }
        busy2.running() == MAX
    });
    let s = pool.snapshot();
    assert_eq!(s.threads.len(), MAX, "{s}");
    assert_eq!(s.stats.threads_started, MAX as u64, "{s}");
    assert_eq!(s.stats.spawn_failures, failures_before, "{s}");
    assert_eq!(spawns.started(), MAX);
    assert_eq!(lock(&reports).len() as u64, failures_before);
    opener2.open();
    flush_pool(&pool);
    assert_eq!(busy2.finished(), MAX);
    assert_eq!(poked.load(Ordering::SeqCst), pokes.len());
    drop(blockers);
    drop_pool(pool);
    assert_eq!(spawns.started(), spawns.exited());
}

#[test]
fn no_threads_and_spawning_fails_is_an_error_not_a_hang() {
    let _w = watchdog(4 * WATCHDOG_SECS, "no threads");
    let spawns = PoolSpawns::failing_from(0);
    let reports: Reports = Arc::default();
    let pool = Pool::builder()
        .name("no-threads")
        .min_threads(1)
        .max_threads(2)
        // Long: every call below is surely made during the back-off.
        .spawn_backoff(Duration::from_secs(60))
        // Give up at the first failed start: the call that made it is refused
        // (with more attempts the pool would hold the item for a retry).
        .start_attempts(1)
        .spawner(spawns.spawner())
        .on_spawn_failure(report_into(&reports))
        .build()
        .unwrap();
    let (token, drops) = DropCounter::new();
    let ran = Arc::new(AtomicBool::new(false));
    let r = ran.clone();
    let work = Work::named("never", move |_| {
        let _held = &token;
        r.store(true, Ordering::SeqCst);
    });

    // First use: the start fails, the call says so.
    let (p, w) = (pool.clone(), work.clone());
    let first = bounded30("queue on a pool that cannot start a thread", move || {
        p.queue(&w)
    });
    match &first {
        Err(Error::Spawn { thread, source }) => {
            assert_eq!(thread, "no-threads/0");
            assert!(source.to_string().contains("refused"), "{source}");
        }
        other => panic!("expected Err(Spawn), got {other:?}"),
    }
    assert!(!work.is_pending() && !work.is_running());

    // During the back-off: NoThreads, with no start tried.
    let (p, w) = (pool.clone(), work.clone());
    let second = bounded30("queue during the back-off", move || p.queue(&w));
    match &second {
        Err(Error::NoThreads { queue, retry_in }) => {
            assert_eq!(queue, "no-threads");
            assert!(*retry_in <= Duration::from_secs(60), "{retry_in:?}");
        }
        other => panic!("expected Err(NoThreads), got {other:?}"),
    }
    let (p, w) = (pool.clone(), work.clone());
    let delayed = bounded30("queue_after during the back-off", move || {
        p.queue_after(&w, Duration::from_millis(5))
    });
    assert!(
        matches!(delayed, Err(Error::NoThreads { .. })),
        "{delayed:?}"
    );
    let (p, w) = (pool.clone(), work.clone());
    let modified = bounded30("modify during the back-off", move || {
        p.modify(&w, Duration::from_millis(5))
    });
    assert!(
        matches!(modified, Err(Error::NoThreads { .. })),
        "{modified:?}"
    );
    let owner = pool.register("o");
    let by_owner = owner.queue(&work);
    assert!(
        matches!(by_owner, Err(Error::NoThreads { .. })),
        "{by_owner:?}"
    );
    assert_eq!(owner.outstanding(), 0);
    let o = owner;
    bounded30("unregister an owner with nothing queued", move || {
        o.unregister()
    })
    .unwrap();

    assert!(!work.is_pending() && !work.is_running());
    assert!(!flush_work(&work));
    assert!(!flush_pool(&pool));
    assert!(!ran.load(Ordering::SeqCst));
    assert_eq!(spawns.attempts(), 1, "no start during the back-off");
    assert_eq!(lock(&reports).len(), 1);
    let s = pool.snapshot();
    assert!(s.threads.is_empty(), "{s}");
    assert!(s.waiting.is_empty(), "{s}");
    assert_eq!(s.stats.spawn_failures, 1);
    assert_eq!(s.stats.scheduled, 0);

    // The pool holds no reference: the closure goes with the handle.
    assert_eq!(drops.load(Ordering::SeqCst), 0);
    drop(work);
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    drop_pool(pool);
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    assert_eq!(spawns.started(), 0);
}

#[test]
fn set_min_threads_reports_a_failed_start_and_keeps_the_new_min() {
    let _w = watchdog(4 * WATCHDOG_SECS, "set_min_threads with failing starts");
    let spawns = PoolSpawns::new();
    let reports: Reports = Arc::default();
    let pool = Pool::builder()
        .name("min-fails")
        .min_threads(1)
        .max_threads(4)
        .spawn_backoff(Duration::from_secs(60))
        .spawner(spawns.spawner())
        .on_spawn_failure(report_into(&reports))
        .build()
        .unwrap();
    let (w, runs) = counting_work("warm-up");
    pool.queue(&w).unwrap();
    flush_work(&w);
    let n = threads(&pool);
    assert!((1..=2).contains(&n));

    spawns.break_now();
    let r = pool.set_min_threads(n + 1);
    assert!(matches!(r, Err(Error::Spawn { .. })), "{r:?}");
    let s = pool.snapshot();
    assert_eq!(s.min_threads, n + 1, "the new minimum stays");
    assert_eq!(s.threads.len(), n);
    let r = pool.set_min_threads(n + 1);
    assert!(matches!(r, Err(Error::NoThreads { .. })), "{r:?}");
    assert_eq!(spawns.failures(), 1, "no start during the back-off");
    assert_eq!(lock(&reports).len(), 1);

    // Work goes on on the threads the pool has.
    for _ in 0..3 {
        assert!(matches!(pool.queue(&w), Ok(Queued::Scheduled)));
        flush_work(&w);
    }
    assert_eq!(runs.load(Ordering::SeqCst), 4);
    assert_eq!(spawns.failures(), 1);
    assert_eq!(pool.snapshot().stats.spawn_failures, 1);
    drop_pool(pool);
    assert_eq!(spawns.started(), spawns.exited());
}

// ---------------------------------------------------------------------------
// 6. Very slow flood.
// ---------------------------------------------------------------------------

/// Floods a pool with `VS` very slow items blocked on a gate plus ordinary items;
/// checks the cap while the gate is closed and that the ordinary items complete.
/// Returns the most very slow items seen running at once.
fn very_slow_flood(name: &str, min: usize, max: usize, percent: usize) -> usize {
    const VS: usize = 20;
    const ORDINARY: usize = 10;
    let pool = Pool::builder()
        .name(name)
        .min_threads(min)
        .max_threads(max)
        .very_slow_percent(percent)
        .idle_timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let cap = vslow_cap(max, max, percent);
    let (gate, opener) = common::gate();
    let vs = Arc::new(Concurrency::default());
    let slow: Vec<Work> = (0..VS)
        .map(|i| gated(format!("{name}-vs-{i}"), true, &gate, &vs))
        .collect();
    for w in &slow {
        assert!(w.is_very_slow());
        assert!(matches!(pool.queue(w), Ok(Queued::Scheduled)));
    }
    wait_until("a very slow item runs", || vs.running() >= 1);

    // Ordinary items keep moving while every very slow item is blocked.
    let done = Arc::new(AtomicUsize::new(0));
    let ordinary: Vec<Work> = (0..ORDINARY)
        .map(|i| counted(format!("{name}-ord-{i}"), &done))
        .collect();
    for (i, w) in ordinary.iter().enumerate() {
        assert!(matches!(pool.queue(w), Ok(Queued::Scheduled)));
        if i % 3 == 0 {
            thread::sleep(Duration::from_millis(1)); // lets the pool grow meanwhile
        }
    }
    for w in &ordinary {
        flush_work(w);
    }
    assert_eq!(done.load(Ordering::SeqCst), ORDINARY);
    assert!(!gate.is_open());
    assert_eq!(vs.finished(), 0);

    // The cap, at every thread count the snapshot shows.
    for _ in 0..5 {
        let s = pool.snapshot();
        let running_vs = s
            .threads
            .iter()
            .filter(|t| t.running.as_ref().is_some_and(|r| r.very_slow))
            .count();
        assert!(
            running_vs <= vslow_cap(s.threads.len(), max, percent),
            "{running_vs} very slow items run on {} threads\n{s}",
            s.threads.len()
        );
        assert!(s.threads.len() <= max, "{s}");
        assert_eq!(s.waiting.len(), VS - running_vs, "{s}");
        assert!(s.waiting.iter().all(|w| w.very_slow), "{s}");
        thread::sleep(Duration::from_millis(2));
    }
    let peak = vs.peak();
    assert!(
        (1..=cap).contains(&peak),
        "{name}: {peak} very slow items ran at once (cap {cap})"
    );

    opener.open();
    flush_pool(&pool);
    assert_eq!(vs.finished(), VS);
    assert_eq!(vs.started(), VS);
    assert!(
        vs.peak() <= cap,
        "{name}: {} at once (cap {cap})",
        vs.peak()
    );
    let s = pool.snapshot();
    assert_eq!(s.stats.runs, (VS + ORDINARY) as u64);
    drop_pool(pool);
    peak
}

#[test]
fn very_slow_flood_cap_holds_and_ordinary_items_keep_moving() {
    let _w = watchdog(4 * WATCHDOG_SECS, "very slow flood, share 50");
    // Up to 4 threads, share 50: at most 2 very slow at once.
    let peak = very_slow_flood("vs-50", 2, 4, 50);
    eprintln!("vs-50: peak {peak}");
}

#[test]
fn very_slow_flood_full_pool_reaches_the_cap() {
    let _w = watchdog(4 * WATCHDOG_SECS, "very slow flood, 4 threads");
    // Four threads from the start: the cap is exactly 2, and it is reached.
    let pool = Pool::builder()
        .name("vs-full")
        .min_threads(4)
        .max_threads(4)
        .very_slow_percent(50)
        .build()
        .unwrap();
    let (gate, opener) = common::gate();
    let vs = Arc::new(Concurrency::default());
    let slow: Vec<Work> = (0..10)
        .map(|i| gated(format!("vs-full-{i}"), true, &gate, &vs))
        .collect();
    for w in &slow {
        pool.queue(w).unwrap();
    }
    wait_until("two very slow items run", || vs.running() == 2);
    let done = Arc::new(AtomicUsize::new(0));
    let ordinary: Vec<Work> = (0..10).map(|i| counted(format!("o{i}"), &done)).collect();
    for w in &ordinary {
        pool.queue(w).unwrap();
    }
    for w in &ordinary {
        flush_work(w);
    }
    assert_eq!(done.load(Ordering::SeqCst), 10);
    thread::sleep(Duration::from_millis(20)); // lets a third start, if it (wrongly) could
    assert_eq!(vs.peak(), 2);
    assert_eq!(vs.finished(), 0);
    opener.open();
    flush_pool(&pool);
    assert_eq!(vs.finished(), 10);
    assert_eq!(vs.peak(), 2);
    drop_pool(pool);
}

#[test]
fn very_slow_flood_small_share_still_runs_one_at_a_time() {
    let _w = watchdog(4 * WATCHDOG_SECS, "very slow flood, share 10");
    // threads x share < 100 at every size: exactly one at a time, never none.
    let peak = very_slow_flood("vs-10", 2, 4, 10);
    assert_eq!(peak, 1);
    let peak = very_slow_flood("vs-10-full", 4, 4, 10);
    assert_eq!(peak, 1);
}

#[test]
fn very_slow_flood_with_two_threads_leaves_one_for_ordinary_items() {
    let _w = watchdog(4 * WATCHDOG_SECS, "very slow flood, max 2");
    let peak = very_slow_flood("vs-max2", 1, 2, 50);
    assert_eq!(peak, 1);
    let peak = very_slow_flood("vs-max2-99", 2, 2, 99);
    assert_eq!(peak, 1);
}

// ---------------------------------------------------------------------------
// 7. Owners.
// ---------------------------------------------------------------------------

#[test]
fn unregister_waits_for_queued_armed_running_and_self_requeueing_items() {
    const SELF_RUNS: usize = 5;
    let _w = watchdog(4 * WATCHDOG_SECS, "owners");
    let clock = ManualClock::new();
    let pool = Pool::builder()
        .name("owners")
        .min_threads(2)
        .max_threads(2)
        .idle_timeout(Duration::from_secs(30))
        .manual_clock(&clock)
        .build()
        .unwrap();
    let a = pool.register("module-a");
    let b = pool.register("module-b");
    assert_eq!(a.name(), "module-a");
    assert_eq!(a.pool().name(), "owners");

    // B's long item takes one thread, A's running item the other.
    let b_long = Blocker::new("b-long");
    assert!(matches!(b.queue(&b_long.work), Ok(Queued::Scheduled)));
    b_long.started.wait_for(1, "b-long starts");
    let Blocker {
        work: a_running,
        started: a_started,
        finished: a_finished,
        opener: a_opener,
    } = Blocker::new("a-running");
    assert!(matches!(a.queue(&a_running), Ok(Queued::Scheduled)));
    a_started.wait_for(1, "a-running starts");

    // A queued item (no thread is free), an armed one, a self-requeueing one.
    let (a_queued, a_queued_runs) = counting_work("a-queued");
    assert!(matches!(a.queue(&a_queued), Ok(Queued::Scheduled)));
    let (a_armed, a_armed_runs) = counting_work("a-armed");
    assert!(matches!(
        a.queue_after(&a_armed, Duration::from_secs(10)),
        Ok(Queued::Scheduled)
    ));
    let self_runs = Arc::new(AtomicUsize::new(0));
    let requeues: Arc<Mutex<Vec<String>>> = Arc::default();
    let a_self = {
        let (runs, requeues) = (self_runs.clone(), requeues.clone());
        Work::named("a-self", move |ctx| {
            if runs.fetch_add(1, Ordering::SeqCst) + 1 < SELF_RUNS {
                let r = ctx.requeue();
                if !matches!(r, Ok(Queued::Rerun)) {
                    lock(&requeues).push(format!("{r:?}"));
                }
            }
        })
    };
    assert!(matches!(a.queue(&a_self), Ok(Queued::Scheduled)));

    assert_eq!(a.outstanding(), 4);
    assert_eq!(b.outstanding(), 1);
    assert!(a_queued.is_pending() && a_armed.is_pending() && a_self.is_pending());
    assert!(a_running.is_running());

    // Unregister A: it waits.
    let opened = Arc::new(AtomicBool::new(false));
    let advanced = Arc::new(AtomicBool::new(false));
    let unregister = {
        let (opened, advanced) = (opened.clone(), advanced.clone());
        let a_finished = a_finished.clone();
        let (qr, ar, sr) = (
            a_queued_runs.clone(),
            a_armed_runs.clone(),
            self_runs.clone(),
        );
        spawn_until_asleep("Owner::unregister", move || {
            let r = a.unregister();
            (
                r,
                opened.load(Ordering::SeqCst),
                advanced.load(Ordering::SeqCst),
                a_finished.count(),
                qr.load(Ordering::SeqCst),
                ar.load(Ordering::SeqCst),
                sr.load(Ordering::SeqCst),
            )
        })
    };
    assert!(unregister.try_join().is_none());

    // Another thread opens A's gate after a while.
    let o = opened.clone();
    let opening = spawn_bounded("open a-running's gate", move || {
        thread::sleep(Duration::from_millis(20));
        o.store(true, Ordering::SeqCst);
        a_opener.open();
    });
    opening.join();
    wait_until("A's runnable items ran", || {
        a_finished.count() == 1
            && a_queued_runs.load(Ordering::SeqCst) == 1
            && self_runs.load(Ordering::SeqCst) == SELF_RUNS
            && !a_self.is_pending()
            && !a_self.is_running()
    });
    // The armed item still holds it.
    thread::sleep(Duration::from_millis(10));
    assert!(
        unregister.try_join().is_none(),
        "unregister returned while an armed item was outstanding"
    );
    assert!(a_armed.is_pending());

    // Another thread fires the armed item.
    let (adv, clk) = (advanced.clone(), clock.clone());
    let advancing = spawn_bounded("advance the clock", move || {
        thread::sleep(Duration::from_millis(10));
        adv.store(true, Ordering::SeqCst);
        clk.advance(Duration::from_secs(10));
    });
    let (r, was_opened, was_advanced, running_done, queued_runs, armed_runs, own_runs) =
        unregister.join();
    advancing.join();
    assert!(r.is_ok(), "{r:?}");
    assert!(
        was_opened,
        "unregister returned before the running item's gate opened"
    );
    assert!(
        was_advanced,
        "unregister returned before the armed item fired"
    );
    assert_eq!(running_done, 1);
    assert_eq!(queued_runs, 1);
    assert_eq!(armed_runs, 1);
    assert_eq!(own_runs, SELF_RUNS);
    assert!(lock(&requeues).is_empty(), "{:?}", lock(&requeues));

    // B is untouched.
    assert!(b_long.work.is_running());
    assert_eq!(b_long.finished.count(), 0);
    assert_eq!(b.outstanding(), 1);
    b_long.release();
    bounded30("unregister module-b", move || b.unregister()).unwrap();
    assert_eq!(b_long.finished.count(), 1);
    drop_pool(pool);
}

#[test]
fn owner_outstanding_counts_items_until_idle() {
    let _w = watchdog(4 * WATCHDOG_SECS, "owner outstanding");
    let clock = ManualClock::new();
    let pool = Pool::builder()
        .name("outstanding")
        .min_threads(1)
        .max_threads(2)
        .manual_clock(&clock)
        .build()
        .unwrap();
    let owner = pool.register("counted");
    let other = pool.register("other");
    let blocker = Blocker::new("held");
    owner.queue(&blocker.work).unwrap();
    blocker.started.wait_for(1, "held starts");
    assert_eq!(owner.outstanding(), 1);
    let (armed, armed_runs) = counting_work("armed");
    owner.queue_after(&armed, Duration::from_secs(5)).unwrap();
    assert_eq!(owner.outstanding(), 2);
    // Queued again while pending: counted once.
    assert!(matches!(
        owner.queue_after(&armed, Duration::from_secs(5)),
        Ok(Queued::AlreadyPending)
    ));
    assert_eq!(owner.outstanding(), 2);
    assert_eq!(other.outstanding(), 0);
    // Cancelled: uncounted.
    assert!(armed.cancel());
    assert_eq!(owner.outstanding(), 1);
    // modify arms it again, for the owner.
    assert!(!owner.modify(&armed, Duration::from_secs(5)).unwrap());
    assert_eq!(owner.outstanding(), 2);
    clock.advance(Duration::from_secs(5));
    flush_work(&armed);
    assert_eq!(armed_runs.load(Ordering::SeqCst), 1);
    assert_eq!(owner.outstanding(), 1);
    blocker.release();
    flush_work(&blocker.work);
    assert_eq!(owner.outstanding(), 0);
    // Dropping an owner waits like unregister (nothing left here).
    bounded30("drop owners", move || {
        drop(owner);
        drop(other);
    });
    drop_pool(pool);
}

#[test]
fn unregister_from_a_pool_item_would_deadlock() {
    let _w = watchdog(4 * WATCHDOG_SECS, "unregister from an item");
    let pool = Pool::builder()
        .name("owner-self")
        .min_threads(1)
        .max_threads(2)
        .build()
        .unwrap();
    let slot: Arc<Mutex<Option<workq::Owner>>> = Arc::default();
    let result: Arc<Mutex<Option<Result<(), Error>>>> = Arc::default();
    let (gate, opener) = common::gate();
    let work = {
        let (slot, result) = (slot.clone(), result.clone());
        Work::named("unregisters-its-owner", move |_| {
            gate.wait();
            let owner = lock(&slot).take();
            if let Some(owner) = owner {
                *lock(&result) = Some(owner.unregister());
            }
        })
    };
    let owner = pool.register("self");
    owner.queue(&work).unwrap();
    *lock(&slot) = Some(owner);
    opener.open();
    flush_work(&work);
    let r = lock(&result).take();
    assert!(
        matches!(r, Some(Err(Error::WouldDeadlock { .. }))),
        "expected Some(Err(WouldDeadlock)), got {r:?}"
    );
    // The pool goes on.
    let (w, runs) = counting_work("after");
    pool.queue(&w).unwrap();
    flush_work(&w);
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    drop_pool(pool);
}

// ---------------------------------------------------------------------------
// 8. Runtime tunables.
// ---------------------------------------------------------------------------

#[test]
fn set_max_threads_lower_drops_idle_threads_to_new_max_never_below_min() {
    let _w = watchdog(4 * WATCHDOG_SECS, "set_max_threads");
    let pool = Pool::builder()
        .name("tune-max")
        .min_threads(2)
        .max_threads(6)
        // Long: threads leave because of the maximum, not the idle timeout.
        .idle_timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let (gate, opener) = common::gate();
    let c = Arc::new(Concurrency::default());
    let items: Vec<Work> = (0..6)
        .map(|i| gated(format!("tm-{i}"), false, &gate, &c))
        .collect();
    for w in &items {
        pool.queue(w).unwrap();
    }
    wait_until("six threads busy", || c.running() == 6);
    assert_eq!(threads(&pool), 6);

    pool.set_max_threads(3).unwrap();
    let s = pool.snapshot();
    assert_eq!(s.max_threads, 3);
    assert_eq!(s.threads.len(), 6, "busy threads finish their runs: {s}");
    opener.open();
    flush_pool(&pool);
    assert_eq!(c.finished(), 6);
    wait_until("the pool shrinks to the new max", || threads(&pool) == 3);
    for _ in 0..3 {
        thread::sleep(Duration::from_millis(10));
        let s = pool.snapshot();
        assert_eq!(s.threads.len(), 3, "{s}");
        assert_eq!(s.stats.threads_started - s.stats.threads_exited, 3);
    }

    // Down to min; a maximum under min is refused, the pool stays at min.
    pool.set_max_threads(2).unwrap();
    wait_until("the pool shrinks to 2", || threads(&pool) == 2);
    let r = pool.set_max_threads(1);
    assert!(matches!(r, Err(Error::InvalidConfig { .. })), "{r:?}");
    for _ in 0..3 {
        thread::sleep(Duration::from_millis(10));
        assert_eq!(threads(&pool), 2);
    }
    let s = pool.snapshot();
    assert_eq!((s.min_threads, s.max_threads), (2, 2));

    // Work still runs at the new size, and never on more threads.
    let (gate2, opener2) = common::gate();
    let c2 = Arc::new(Concurrency::default());
    let items2: Vec<Work> = (0..5)
        .map(|i| gated(format!("tm2-{i}"), false, &gate2, &c2))
        .collect();
    for w in &items2 {
        pool.queue(w).unwrap();
    }
    wait_until("two run", || c2.running() == 2);
    thread::sleep(Duration::from_millis(10));
    assert_eq!(threads(&pool), 2);
    opener2.open();
    flush_pool(&pool);
    assert_eq!(c2.finished(), 5);
    assert_eq!(c2.peak(), 2);
    drop_pool(pool);
}

#[test]
fn set_min_threads_higher_starts_threads_now() {
    let _w = watchdog(4 * WATCHDOG_SECS, "set_min_threads");
    let idle = Duration::from_millis(20);
    let pool = Pool::builder()
        .name("tune-min")
        .min_threads(1)
        .max_threads(4)
        .idle_timeout(idle)
        .build()
        .unwrap();
    let (w, runs) = counting_work("first");
    pool.queue(&w).unwrap();
    flush_work(&w);
    wait_until("one thread", || threads(&pool) == 1);

    pool.set_min_threads(3).unwrap();
    let s = pool.snapshot();
    assert_eq!(s.min_threads, 3);
    assert_eq!(s.threads.len(), 3, "started by the call: {s}");
    // They are kept although idle.
    for _ in 0..4 {
        thread::sleep(idle * 2);
        assert_eq!(threads(&pool), 3);
    }
    // Lower again: the idle extras are culled, down to the new min.
    pool.set_min_threads(1).unwrap();
    wait_until("culled to the new min", || threads(&pool) == 1);
    for _ in 0..3 {
        thread::sleep(idle * 2);
        assert_eq!(threads(&pool), 1);
    }
    pool.queue(&w).unwrap();
    flush_work(&w);
    assert_eq!(runs.load(Ordering::SeqCst), 2);
    let s = pool.snapshot();
    assert_eq!(
        s.stats.threads_started - s.stats.threads_exited,
        s.threads.len() as u64
    );
    drop_pool(pool);
}

#[test]
fn invalid_tunables_are_refused_and_change_nothing() {
    let pool = Pool::builder()
        .name("tune-bad")
        .min_threads(2)
        .max_threads(4)
        .build()
        .unwrap();
    let cases: Vec<(&str, Result<(), Error>, &str)> = vec![
        ("min > max", pool.set_min_threads(5), "min_threads"),
        ("max 0", pool.set_max_threads(0), "max_threads"),
        (
            "share 0",
            pool.set_very_slow_percent(0),
            "very_slow_percent",
        ),
        (
            "share 100",
            pool.set_very_slow_percent(100),
            "very_slow_percent",
        ),
    ];
    for (what, r, setting) in cases {
        match r {
            Err(Error::InvalidConfig { setting: s, .. }) => assert_eq!(s, setting, "{what}"),
            other => panic!("{what}: expected InvalidConfig, got {other:?}"),
        }
    }
    let r = pool.set_max_threads(1);
    assert!(
        matches!(r, Err(Error::InvalidConfig { .. })),
        "max < min: {r:?}"
    );
    let s = pool.snapshot();
    assert_eq!(
        (s.min_threads, s.max_threads, s.very_slow_percent),
        (2, 4, 50)
    );
    assert!(s.threads.is_empty());
    // Edge values are fine.
    pool.set_very_slow_percent(1).unwrap();
    pool.set_very_slow_percent(99).unwrap();
    pool.set_min_threads(4).unwrap();
    pool.set_max_threads(4).unwrap();
    let s = pool.snapshot();
    assert_eq!(
        (s.min_threads, s.max_threads, s.very_slow_percent),
        (4, 4, 99)
    );
    drop_pool(pool);
}

#[test]
fn set_very_slow_percent_changes_the_cap() {
    let _w = watchdog(4 * WATCHDOG_SECS, "set_very_slow_percent");
    let pool = Pool::builder()
        .name("tune-share")
        .min_threads(4)
        .max_threads(4)
        .very_slow_percent(25)
        .build()
        .unwrap();
    let (gate, opener) = common::gate();
    let vs = Arc::new(Concurrency::default());
    let slow: Vec<Work> = (0..6)
        .map(|i| gated(format!("share-{i}"), true, &gate, &vs))
        .collect();
    for w in &slow {
        pool.queue(w).unwrap();
    }
    // 4 threads x 25 % = 1.
    wait_until("one very slow item runs", || vs.running() == 1);
    thread::sleep(Duration::from_millis(20)); // lets a second start, if it (wrongly) could
    assert_eq!(vs.peak(), 1);

    // 4 x 50 % = 2: a second one starts without any new queue call.
    pool.set_very_slow_percent(50).unwrap();
    assert_eq!(pool.snapshot().very_slow_percent, 50);
    wait_until("two very slow items run", || vs.running() == 2);
    thread::sleep(Duration::from_millis(20));
    assert_eq!(vs.peak(), 2);

    // 4 x 99 % = 3, and one thread is always left for ordinary items.
    pool.set_very_slow_percent(99).unwrap();
    wait_until("three very slow items run", || vs.running() == 3);
    let (w, runs) = counting_work("ordinary");
    pool.queue(&w).unwrap();
    flush_work(&w);
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    thread::sleep(Duration::from_millis(20));
    assert_eq!(vs.peak(), 3);
    let s = pool.snapshot();
    assert_eq!(s.waiting.len(), 3, "{s}");

    opener.open();
    flush_pool(&pool);
    assert_eq!(vs.finished(), 6);
    assert_eq!(vs.peak(), 3);
    drop_pool(pool);
}

// ---------------------------------------------------------------------------
// 9. sleep_till_thread_needed.
// ---------------------------------------------------------------------------

#[test]
fn sleep_till_thread_needed_wakes_when_another_item_waits() {
    let _w = watchdog(4 * WATCHDOG_SECS, "sleep_till_thread_needed");
    let pool = Pool::builder()
        .name("give-back")
        .min_threads(1)
        .max_threads(1)
        .build()
        .unwrap();
    let other_runs = Arc::new(AtomicUsize::new(0));
    let other = counted("other".into(), &other_runs);
    let sleeper_runs = Arc::new(AtomicUsize::new(0));
    let needed: Arc<Mutex<Option<bool>>> = Arc::default();
    let requeued: Arc<Mutex<Option<String>>> = Arc::default();
    let other_seen_by_second_run = Arc::new(AtomicUsize::new(usize::MAX));
    let entered = Signal::new();
    let sleeper = {
        let (runs, needed, requeued, seen, other_runs, entered) = (
            sleeper_runs.clone(),
            needed.clone(),
            requeued.clone(),
            other_seen_by_second_run.clone(),
            other_runs.clone(),
            entered.clone(),
        );
        Work::named("sleeper", move |ctx| {
            if runs.fetch_add(1, Ordering::SeqCst) == 0 {
                entered.notify();
                // Far longer than the watchdog: only "needed" ends it in time.
                let n = ctx.sleep_till_thread_needed(Duration::from_secs(3 * WATCHDOG_SECS));
                *lock(&needed) = Some(n);
                if n {
                    *lock(&requeued) = Some(format!("{:?}", ctx.requeue()));
                }
            } else {
                seen.store(other_runs.load(Ordering::SeqCst), Ordering::SeqCst);
            }
        })
    };
    pool.queue(&sleeper).unwrap();
    entered.wait_for(1, "the sleeper runs");
    thread::sleep(Duration::from_millis(5)); // likely inside the sleep by now
    assert!(matches!(pool.queue(&other), Ok(Queued::Scheduled)));
    wait_until("the sleeper gave its thread back and ran again", || {
        sleeper_runs.load(Ordering::SeqCst) == 2 && !sleeper.is_pending() && !sleeper.is_running()
    });
    flush_pool(&pool);
    assert_eq!(*lock(&needed), Some(true));
    assert_eq!(lock(&requeued).as_deref(), Some("Ok(Rerun)"));
    assert_eq!(other_runs.load(Ordering::SeqCst), 1);
    assert_eq!(
        other_seen_by_second_run.load(Ordering::SeqCst),
        1,
        "the other item ran before the sleeper's second run"
    );
    drop_pool(pool);
}

#[test]
fn sleep_till_thread_needed_times_out_when_not_needed() {
    let _w = watchdog(4 * WATCHDOG_SECS, "sleep_till_thread_needed timeout");
    let pool = Pool::builder()
        .name("give-back-idle")
        .min_threads(1)
        .max_threads(1)
        .build()
        .unwrap();
    let needed: Arc<Mutex<Vec<bool>>> = Arc::default();
    let n = needed.clone();
    let sleeper = Work::named("lonely", move |ctx| {
        lock(&n).push(ctx.sleep_till_thread_needed(Duration::from_millis(20)));
    });
    pool.queue(&sleeper).unwrap();
    flush_work(&sleeper);
    assert_eq!(*lock(&needed), vec![false]);
    assert_eq!(pool.snapshot().stats.runs, 1);
    drop_pool(pool);
}

// ---------------------------------------------------------------------------
// 11. Dropping the last handle with work pending.
// ---------------------------------------------------------------------------

/// Queues plenty of work on a pool, drops the test's item handles and then the
/// last pool handle while an item still blocks (opened by another thread soon
/// after): every queued item ran, every closure is dropped once, every thread
/// that was started has exited when the drop returns.
fn drop_with_pending(name: &str, max: usize, spawn_delay: Duration, rearm: usize) {
    const ORDINARY: usize = 30;
    const ARMED: usize = 3;
    let spawns = PoolSpawns::new();
    spawns.set_delay(spawn_delay);
    let pool = Pool::builder()
        .name(name)
        .min_threads(1)
        .max_threads(max)
        .idle_timeout(Duration::from_millis(5))
        .spawner(spawns.spawner())
        .build()
        .unwrap();
    let drops_plain = Arc::new(AtomicUsize::new(0));
    let drops_rearm = Arc::new(AtomicUsize::new(0));
    let drops_armed = Arc::new(AtomicUsize::new(0));
    let runs = Arc::new(AtomicUsize::new(0));
    let rearm_runs = Arc::new(AtomicUsize::new(0));
    let armed_runs = Arc::new(AtomicUsize::new(0));
    let (gate, opener) = common::gate();
    let mut items = Vec::new();
    let first = {
        let (token, gate, runs) = (DropCounter::on(&drops_plain), gate.clone(), runs.clone());
        Work::named("gated", move |_| {
            let _held = &token;
            gate.wait();
            runs.fetch_add(1, Ordering::SeqCst);
        })
    };
    pool.queue(&first).unwrap();
    items.push(first);
    for i in 0..ORDINARY {
        let (token, runs) = (DropCounter::on(&drops_plain), runs.clone());
        let w = Work::named(format!("plain-{i}"), move |_| {
            let _held = &token;
            // Keeps the threads busy while the re-armed items fire.
            thread::sleep(Duration::from_micros(500));
            runs.fetch_add(1, Ordering::SeqCst);
        });
        pool.queue(&w).unwrap();
        items.push(w);
    }
    for i in 0..rearm {
        let (token, runs) = (DropCounter::on(&drops_rearm), rearm_runs.clone());
        let w = Work::named(format!("rearm-{i}"), move |ctx| {
            let _held = &token;
            runs.fetch_add(1, Ordering::SeqCst);
            // Until the shutdown refuses it (Err(Destroyed)).
            let _ = ctx.requeue_after(Duration::from_millis(1));
        });
        pool.queue(&w).unwrap();
        items.push(w);
    }
    for i in 0..ARMED {
        let (token, runs) = (DropCounter::on(&drops_armed), armed_runs.clone());
        let w = Work::named(format!("armed-{i}"), move |_| {
            let _held = &token;
            runs.fetch_add(1, Ordering::SeqCst);
        });
        pool.queue_after(&w, Duration::from_secs(60)).unwrap();
        items.push(w);
    }
    // Only the pool holds the items now.
    drop(items);
    if max == 1 {
        // Everything waits behind the gated item.
        assert_eq!(drops_plain.load(Ordering::SeqCst), 0);
        assert_eq!(runs.load(Ordering::SeqCst), 0);
    }
    let opening = spawn_bounded("open the gate", move || {
        thread::sleep(Duration::from_millis(10));
        opener.open();
    });
    drop_pool(pool);
    let (in_flight, started, exited, attempts) = (
        spawns.in_flight(),
        spawns.started(),
        spawns.exited(),
        spawns.attempts(),
    );
    eprintln!(
        "{name}: {attempts} start(s) tried, {} re-armed runs",
        rearm_runs.load(Ordering::SeqCst)
    );
    opening.join();

    // Drained: every queued item ran once; armed ones were cancelled.
    assert_eq!(runs.load(Ordering::SeqCst), ORDINARY + 1);
    assert_eq!(armed_runs.load(Ordering::SeqCst), 0);
    assert!(rearm_runs.load(Ordering::SeqCst) >= rearm);
    assert_eq!(drops_plain.load(Ordering::SeqCst), ORDINARY + 1);
    assert_eq!(drops_armed.load(Ordering::SeqCst), ARMED);
    // A re-armed item cancelled by the shutdown may be released by the timer
    // thread a moment later; exactly once all the same.
    wait_until("re-armed items released", || {
        drops_rearm.load(Ordering::SeqCst) >= rearm
    });
    thread::sleep(Duration::from_millis(5));
    assert_eq!(drops_rearm.load(Ordering::SeqCst), rearm);
    // Joined: every thread started has exited, and no start was in progress or
    // happens afterwards.
    assert!(started >= 1);
    assert_eq!(
        in_flight, 0,
        "{name}: a thread start was in progress when the drop returned"
    );
    assert_eq!(
        started, exited,
        "{name}: {started} threads started, {exited} exited when the drop returned"
    );
    thread::sleep(Duration::from_millis(10)); // lets a late start show
    assert_eq!(
        spawns.attempts(),
        attempts,
        "{name}: a thread start was tried after the drop returned"
    );
    assert_eq!(spawns.started(), spawns.exited());
    assert_eq!(spawns.live(), 0);
}

#[test]
fn dropping_last_handle_with_work_pending_drains_drops_once_and_joins_every_thread() {
    let _w = watchdog(6 * WATCHDOG_SECS, "drop with work pending");
    // One thread: everything is still queued when the drop begins (items that
    // re-arm themselves included: no thread can start during the shutdown).
    drop_with_pending("drop-1", 1, Duration::ZERO, 4);
    // Several threads, starting slowly, culled fast. No timer fires during the
    // shutdown, so no thread start races it (see the next test for that).
    for round in 0..10 {
        drop_with_pending(&format!("drop-4-{round}"), 4, Duration::from_millis(3), 0);
    }
}

/// As above, with items re-arming themselves every millisecond while the pool
/// shuts down: a timer firing during the drain finds no idle thread and starts
/// one, and that start races the drop (a race this test caught now and then,
/// mostly under load; `drop_waits_for_a_thread_start_in_progress` makes it
/// deterministic).
#[test]
fn dropping_last_handle_while_timers_fire_joins_every_thread() {
    let _w = watchdog(6 * WATCHDOG_SECS, "drop while timers fire");
    for round in 0..30 {
        drop_with_pending(
            &format!("drop-rearm-{round}"),
            4,
            Duration::from_millis(3),
            4,
        );
    }
}

/// The last handle is dropped while a thread start is in progress (the timer
/// fired an item, found no idle thread and is starting one; thread starts can be
/// slow): the drop must not return before that thread has started and been
/// joined, or the pool leaves a thread running that nobody joins.
#[test]
fn drop_waits_for_a_thread_start_in_progress() {
    let _w = watchdog(4 * WATCHDOG_SECS, "drop during a thread start");
    let clock = ManualClock::new();
    let block_next = Arc::new(AtomicBool::new(false));
    let (spawn_gate, spawn_opener) = common::gate();
    let in_spawner = Signal::new();
    let started = Arc::new(AtomicUsize::new(0));
    let exited = Arc::new(AtomicUsize::new(0));
    let in_flight = Arc::new(AtomicUsize::new(0));
    let spawner = {
        let (block_next, started, exited, in_flight, in_spawner) = (
            block_next.clone(),
            started.clone(),
            exited.clone(),
            in_flight.clone(),
            in_spawner.clone(),
        );
        move |builder: thread::Builder, body: Box<dyn FnOnce() + Send>| {
            in_flight.fetch_add(1, Ordering::SeqCst);
            if block_next.swap(false, Ordering::SeqCst) {
                in_spawner.notify();
                spawn_gate.wait(); // a slow thread start
            }
            let exited = exited.clone();
            let r = builder.spawn(move || {
                body();
                exited.fetch_add(1, Ordering::SeqCst);
            });
            if r.is_ok() {
                started.fetch_add(1, Ordering::SeqCst);
            }
            in_flight.fetch_sub(1, Ordering::SeqCst);
            r
        }
    };
    let pool = Pool::builder()
        .name("drop-vs-start")
        .min_threads(1)
        .max_threads(2)
        .idle_timeout(Duration::from_millis(5))
        .manual_clock(&clock)
        .spawner(spawner)
        .build()
        .unwrap();
    // Warm up, then back to one thread.
    let (w, _) = counting_work("warm-up");
    pool.queue(&w).unwrap();
    flush_work(&w);
    wait_until("one thread left", || threads(&pool) == 1);

    // The thread is busy; an armed item waits for the clock.
    let busy = Blocker::new("busy");
    pool.queue(&busy.work).unwrap();
    busy.started.wait_for(1, "busy starts");
    let (armed, armed_runs) = counting_work("armed");
    pool.queue_after(&armed, Duration::from_secs(10)).unwrap();
    drop(armed);

    // Another thread moves the clock: the item fires, no thread is idle, a start
    // begins (and is slow).
    block_next.store(true, Ordering::SeqCst);
    let c = clock.clone();
    let advancing = spawn_bounded("advance the clock", move || {
        c.advance(Duration::from_secs(10))
    });
    in_spawner.wait_for(1, "a thread start is in progress");

    // The pool is dropped meanwhile; the start completes a little later.
    busy.release();
    let released = Arc::new(AtomicBool::new(false));
    let r = released.clone();
    let releasing = spawn_bounded("finish the thread start", move || {
        thread::sleep(Duration::from_millis(50));
        r.store(true, Ordering::SeqCst);
        spawn_opener.open();
    });
    drop(busy);
    drop_pool(pool);
    let at_return = (
        released.load(Ordering::SeqCst),
        in_flight.load(Ordering::SeqCst),
        started.load(Ordering::SeqCst),
        exited.load(Ordering::SeqCst),
    );
    releasing.join();
    advancing.join();
    // Whatever happened, let the late thread finish before asserting.
    wait_until("every started thread exits", || {
        in_flight.load(Ordering::SeqCst) == 0
            && started.load(Ordering::SeqCst) == exited.load(Ordering::SeqCst)
    });
    assert_eq!(
        armed_runs.load(Ordering::SeqCst),
        1,
        "the fired item was drained"
    );
    let (was_released, in_flight_then, started_then, exited_then) = at_return;
    assert!(
        was_released && in_flight_then == 0,
        "the drop returned while a thread start was in progress"
    );
    assert_eq!(
        started_then, exited_then,
        "threads started and exited when the drop returned"
    );
}

// ---------------------------------------------------------------------------
// 12. Panics.
// ---------------------------------------------------------------------------

#[test]
fn panic_on_pool_thread_is_reported_once_and_pool_goes_on() {
    let _w = watchdog(4 * WATCHDOG_SECS, "panics");
    // (work, queue, message) of every report.
    type Seen = Arc<Mutex<Vec<(Option<String>, String, String)>>>;
    let seen: Seen = Arc::default();
    let s = seen.clone();
    let pool = Pool::builder()
        .name("panicky")
        .min_threads(1)
        .max_threads(2)
        .on_panic(move |r| {
            lock(&s).push((
                r.work.map(str::to_string),
                r.queue.to_string(),
                r.message.to_string(),
            ));
        })
        .build()
        .unwrap();
    let boom = Work::named("boom", |_| panic!("kaboom from a pool item"));
    pool.queue(&boom).unwrap();
    flush_work(&boom);
    wait_until("the panic is reported", || !lock(&seen).is_empty());
    let (w, runs) = counting_work("after");
    for _ in 0..3 {
        pool.queue(&w).unwrap();
        flush_work(&w);
    }
    assert_eq!(runs.load(Ordering::SeqCst), 3);
    flush_pool(&pool);
    let reports = lock(&seen).clone();
    assert_eq!(
        reports,
        vec![(
            Some("boom".to_string()),
            "panicky".to_string(),
            "kaboom from a pool item".to_string()
        )]
    );
    let s = pool.snapshot();
    assert_eq!(s.stats.panics, 1);
    assert_eq!(s.stats.runs, 4);
    assert!(!boom.is_pending() && !boom.is_running());
    drop_pool(pool);
}

// ---------------------------------------------------------------------------
// 13. Snapshot.
// ---------------------------------------------------------------------------

#[test]
fn snapshot_lists_running_and_waiting_items() {
    let _w = watchdog(4 * WATCHDOG_SECS, "snapshot");
    let pool = Pool::builder()
        .name("snap-pool")
        .min_threads(1)
        .max_threads(1)
        .very_slow_percent(50)
        .build()
        .unwrap();
    let busy = Blocker::new("busy");
    pool.queue(&busy.work).unwrap();
    busy.started.wait_for(1, "busy starts");
    let done = Arc::new(AtomicUsize::new(0));
    let ordinary = counted("w-ordinary".into(), &done);
    let d = done.clone();
    let slow = Work::very_slow("w-slow", move |_| {
        d.fetch_add(1, Ordering::SeqCst);
    });
    let d = done.clone();
    let unnamed = Work::new(move |_| {
        d.fetch_add(1, Ordering::SeqCst);
    });
    pool.queue(&ordinary).unwrap();
    pool.queue(&slow).unwrap();
    pool.queue(&unnamed).unwrap();

    let mut s = pool.snapshot();
    wait_until("the busy item has been running a while", || {
        s = pool.snapshot();
        s.threads
            .first()
            .and_then(|t| t.running.as_ref())
            .is_some_and(|r| r.running_for > Duration::ZERO)
    });
    assert_eq!(s.name, "snap-pool");
    assert_eq!(
        (s.min_threads, s.max_threads, s.very_slow_percent),
        (1, 1, 50)
    );
    assert!(!s.frozen);
    assert_eq!(s.threads.len(), 1, "{s}");
    assert_eq!(s.threads[0].name, "snap-pool/0");
    let running = s.threads[0].running.as_ref().unwrap();
    assert_eq!(running.work.as_deref(), Some("busy"));
    assert!(!running.very_slow);
    let waiting: Vec<(Option<&str>, bool)> = s
        .waiting
        .iter()
        .map(|w| (w.work.as_deref(), w.very_slow))
        .collect();
    assert_eq!(waiting.len(), 3, "{s}");
    for expected in [
        (Some("w-ordinary"), false),
        (Some("w-slow"), true),
        (None, false),
    ] {
        assert!(waiting.contains(&expected), "{expected:?} in {waiting:?}");
    }
    // Oldest first within a class.
    let pos = |name: Option<&str>| waiting.iter().position(|w| w.0 == name).unwrap();
    assert!(pos(Some("w-ordinary")) < pos(None));
    assert_eq!(s.stats.scheduled, 4);
    assert_eq!(s.stats.runs, 0);
    assert_eq!(s.stats.threads_started, 1);
    let text = s.to_string();
    for needle in [
        "snap-pool",
        "snap-pool/0",
        "busy",
        "w-ordinary",
        "w-slow (very slow)",
        "<unnamed>",
    ] {
        assert!(text.contains(needle), "{needle:?} in:\n{text}");
    }

    busy.release();
    flush_pool(&pool);
    assert_eq!(done.load(Ordering::SeqCst), 3);
    let s = pool.snapshot();
    assert!(s.waiting.is_empty(), "{s}");
    assert!(s.threads.iter().all(|t| t.running.is_none()), "{s}");
    assert_eq!(s.stats.runs, 4);
    let text = s.to_string();
    assert!(text.contains("idle"), "{text}");
    assert!(text.contains("nothing waiting"), "{text}");
    drop_pool(pool);
}

// ---------------------------------------------------------------------------
// 14. destroy.
// ---------------------------------------------------------------------------

#[test]
fn destroy_runs_pending_items_then_refuses_work() {
    let _w = watchdog(4 * WATCHDOG_SECS, "destroy");
    let pool = Pool::builder()
        .name("destroyed")
        .min_threads(1)
        .max_threads(1)
        .build()
        .unwrap();
    let busy = Blocker::new("busy");
    pool.queue(&busy.work).unwrap();
    busy.started.wait_for(1, "busy starts");
    let done = Arc::new(AtomicUsize::new(0));
    let pending: Vec<Work> = (0..5).map(|i| counted(format!("p{i}"), &done)).collect();
    for w in &pending {
        pool.queue(w).unwrap();
    }
    let owner = pool.register("o");
    let p = pool.clone();
    let destroying = spawn_until_asleep("Pool::destroy", move || p.destroy());
    // Outside work is refused as soon as the destroy has begun; probes queued
    // before that are drained like the rest.
    let probes = Arc::new(AtomicUsize::new(0));
    let mut queued_probes = Vec::new();
    wait_until("queue calls are refused", || {
        let probe = counted("probe".into(), &probes);
        match pool.queue(&probe) {
            Ok(_) => {
                queued_probes.push(probe);
                false
            }
            Err(Error::Destroyed { queue }) => {
                assert_eq!(queue, "destroyed");
                true
            }
            Err(e) => panic!("unexpected {e:?}"),
        }
    });
    assert!(
        destroying.try_join().is_none(),
        "destroy waits for the busy item"
    );
    busy.release();
    destroying.join().unwrap();
    assert_eq!(busy.finished.count(), 1);
    assert_eq!(done.load(Ordering::SeqCst), 5);
    assert_eq!(probes.load(Ordering::SeqCst), queued_probes.len());

    let (w, runs) = counting_work("late");
    assert!(matches!(pool.queue(&w), Err(Error::Destroyed { .. })));
    assert!(matches!(
        pool.queue_after(&w, Duration::from_millis(1)),
        Err(Error::Destroyed { .. })
    ));
    assert!(matches!(owner.queue(&w), Err(Error::Destroyed { .. })));
    assert!(!w.is_pending());
    assert_eq!(runs.load(Ordering::SeqCst), 0);
    destroy_pool(&pool); // twice: Ok
    assert!(!flush_pool(&pool));
    let s = pool.snapshot();
    assert!(s.threads.is_empty(), "{s}");
    assert_eq!(s.stats.threads_started, s.stats.threads_exited);
    bounded30("unregister after destroy", move || owner.unregister()).unwrap();
    drop_pool(pool);
}

#[test]
fn destroy_flush_drain_from_a_pool_item_would_deadlock() {
    let _w = watchdog(4 * WATCHDOG_SECS, "destroy from an item");
    let pool = Pool::builder()
        .name("self-destroy")
        .min_threads(1)
        .max_threads(2)
        .build()
        .unwrap();
    let handle: Arc<Mutex<Option<Pool>>> = Arc::new(Mutex::new(Some(pool.clone())));
    // Results of destroy, flush and drain called from the item.
    type Calls = Arc<Mutex<Option<[Result<(), Error>; 3]>>>;
    let result: Calls = Arc::default();
    let work = {
        let (handle, result) = (handle.clone(), result.clone());
        Work::named("destroys-its-pool", move |_| {
            let p = lock(&handle).take();
            if let Some(p) = p {
                *lock(&result) = Some([p.destroy().map(drop), p.flush().map(drop), p.drain()]);
            }
        })
    };
    pool.queue(&work).unwrap();
    flush_work(&work);
    let r = lock(&result).take().expect("the item ran");
    for (what, r) in ["destroy", "flush", "drain"].iter().zip(r) {
        assert!(
            matches!(r, Err(Error::WouldDeadlock { .. })),
            "{what} from a pool item: expected Err(WouldDeadlock), got {r:?}"
        );
    }
    // Untouched.
    let (w, runs) = counting_work("after");
    pool.queue(&w).unwrap();
    flush_work(&w);
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    destroy_pool(&pool);
    drop_pool(pool);
}

// ---------------------------------------------------------------------------
// 15. Builder validation.
// ---------------------------------------------------------------------------

#[test]
fn builder_validation_errors() {
    let cases: Vec<(&str, workq::PoolBuilder, &str)> = vec![
        ("empty name", Pool::builder().name(""), "name"),
        ("NUL in name", Pool::builder().name("a\0b"), "name"),
        (
            "min > max",
            Pool::builder().min_threads(5).max_threads(2),
            "min_threads",
        ),
        ("max 0", Pool::builder().max_threads(0), "max_threads"),
        (
            "share 0",
            Pool::builder().very_slow_percent(0),
            "very_slow_percent",
        ),
        (
            "share 100",
            Pool::builder().very_slow_percent(100),
            "very_slow_percent",
        ),
        (
            "idle timeout 0",
            Pool::builder().idle_timeout(Duration::ZERO),
            "idle_timeout",
        ),
        (
            "stack under 16 KiB",
            Pool::builder().stack_size(16 * 1024 - 1),
            "stack_size",
        ),
    ];
    for (what, builder, setting) in cases {
        match builder.build() {
            Err(Error::InvalidConfig { setting: s, reason }) => {
                assert_eq!(s, setting, "{what}");
                assert!(!reason.is_empty(), "{what}");
            }
            Err(e) => panic!("{what}: expected InvalidConfig, got {e:?}"),
            Ok(p) => panic!("{what}: built {p:?}"),
        }
    }
    assert!(matches!(
        Pool::new(""),
        Err(Error::InvalidConfig {
            setting: "name",
            ..
        })
    ));
    // The limits themselves are accepted.
    let edge = Pool::builder()
        .name("edge")
        .min_threads(1)
        .max_threads(1)
        .very_slow_percent(1)
        .idle_timeout(Duration::from_nanos(1))
        .stack_size(16 * 1024)
        .build();
    assert!(edge.is_ok(), "{edge:?}");
    let defaults = Pool::builder().build().unwrap();
    assert_eq!(defaults.name(), "workq-pool");
    let s = defaults.snapshot();
    assert_eq!((s.min_threads, s.very_slow_percent), (2, 50));
    assert!(s.max_threads >= 4);
    // A pool with the smallest stack runs work.
    let small = Pool::builder()
        .name("small-stack")
        .min_threads(1)
        .max_threads(1)
        .stack_size(16 * 1024)
        .build()
        .unwrap();
    let (w, runs) = counting_work("small");
    small.queue(&w).unwrap();
    flush_work(&w);
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    drop_pool(small);
}

/// The snapshot counts coalesced (already pending) queue calls, in batches of 64
/// per thread, on a pool built to count them; a default pool counts none.
#[test]
fn snapshot_counts_merged_queue_calls() {
    for count in [true, false] {
        let clock = ManualClock::new();
        let pool = Pool::builder()
            .name("merged-count")
            .min_threads(1)
            .max_threads(1)
            .manual_clock(&clock)
            .count_merged(count)
            .build()
            .unwrap();
        let (w, _) = counting_work("merged");
        pool.queue_after(&w, Duration::from_secs(60)).unwrap();
        for _ in 0..640 {
            assert!(matches!(pool.queue(&w), Ok(Queued::AlreadyPending)));
        }
        assert_eq!(
            pool.snapshot().stats.merged,
            count.then_some(640),
            "count_merged({count})"
        );
        assert!(w.cancel());
        drop_pool(pool);
    }
}

// ---------------------------------------------------------------------------
// Where thread starts happen, held work, and the bound on waiting items
// ---------------------------------------------------------------------------

/// One spawner call: its number and the name of the thread that made it.
type SpawnerCalls = Arc<Mutex<Vec<(usize, String)>>>;

/// A spawner over `spawns` that fails the calls whose numbers (0-based) `fail`
/// accepts and records, for every call, the name of the calling thread.
fn recording_spawner(
    spawns: &Arc<PoolSpawns>,
    calls: &SpawnerCalls,
    fail: impl Fn(usize) -> bool + Send + Sync + 'static,
) -> impl Fn(thread::Builder, Box<dyn FnOnce() + Send>) -> std::io::Result<thread::JoinHandle<()>>
       + Send
       + Sync
       + 'static {
    let (inner, calls) = (spawns.spawner(), calls.clone());
    move |builder, body| {
        let name = thread::current().name().unwrap_or("<unnamed>").to_string();
        let n = {
            let mut calls = lock(&calls);
            let n = calls.len();
            calls.push((n, name));
            n
        };
        if fail(n) {
            return Err(std::io::Error::other("injected: start refused"));
        }
        inner(builder, body)
    }
}

/// Whether a spawner call was made where the pool documents starts after its
/// first: on one of its threads or on the timer's.
fn off_the_caller(pool: &str, thread: &str) -> bool {
    thread == "workq-timer" || thread.starts_with(&format!("{pool}/"))
}

/// Issue 16, item 6: 40 items queued at once on a pool of at most 4 threads whose
/// second thread start fails. Once the back-off has passed, the pool grows to its
/// maximum with no further queue call (before: it stayed at one thread until a
/// later queue call). Ordered by spawner calls and runs, never by the back-off.
#[test]
fn growth_resumes_after_a_failed_start_with_no_further_queue_call() {
    let _w = test_guard();
    let spawns = PoolSpawns::new();
    let calls: SpawnerCalls = Arc::default();
    let reports: Reports = Arc::default();
    let pool = Pool::builder()
        .name("regrow")
        .min_threads(1)
        .max_threads(4)
        .idle_timeout(Duration::from_secs(60))
        .spawn_backoff(Duration::from_millis(300))
        .spawner(recording_spawner(&spawns, &calls, |n| n == 1))
        .on_spawn_failure(report_into(&reports))
        .build()
        .unwrap();
    let (gate, opener) = common::gate();
    let busy = Arc::new(Concurrency::default());
    let items: Vec<Work> = (0..40)
        .map(|i| gated(format!("item-{i}"), false, &gate, &busy))
        .collect();
    for w in &items {
        assert!(matches!(pool.queue(w), Ok(Queued::Scheduled)));
    }
    // No queue call from here on.
    wait_until("the pool grows to its maximum", || spawns.started() == 4);
    wait_until("four items run at once", || busy.running() == 4);
    let made = lock(&calls).clone();
    assert_eq!(made.len(), 5, "one failed start, four threads: {made:?}");
    assert_eq!(spawns.failures(), 0, "PoolSpawns itself refused nothing");
    assert_eq!(lock(&reports).len(), 1);
    assert_eq!(lock(&reports)[0].thread, "regrow/1");
    let s = pool.snapshot();
    assert_eq!(s.stats.spawn_failures, 1, "{s}");
    assert_eq!(s.threads.len(), 4, "{s}");
    // The retry waited for the back-off: the failed call's successor comes from
    // the timer (every thread was busy), and the rest from pool threads.
    for (n, thread) in &made[1..] {
        assert!(off_the_caller("regrow", thread), "call {n} on '{thread}'");
    }
    opener.open();
    flush_pool(&pool);
    assert_eq!(busy.finished(), 40);
    assert_eq!(busy.peak.load(Ordering::SeqCst), 4);
    drop(items);
    drop_pool(pool);
    assert_eq!(spawns.started(), spawns.exited());
}

/// Issue 16, item 6: once the pool has a thread, a queue call never runs the
/// spawner (before: every caller that found no idle thread started one). The
/// pool still grows to its maximum under a burst: its threads start the others.
#[test]
fn queue_calls_never_run_the_spawner_once_the_pool_has_a_thread() {
    let _w = test_guard();
    let spawns = PoolSpawns::new();
    let calls: SpawnerCalls = Arc::default();
    let pool = Pool::builder()
        .name("no-caller-starts")
        .min_threads(1)
        .max_threads(6)
        .idle_timeout(Duration::from_secs(60))
        .spawner(recording_spawner(&spawns, &calls, |_| false))
        .build()
        .unwrap();
    let (gate, opener) = common::gate();
    let busy = Arc::new(Concurrency::default());
    let items: Vec<Work> = (0..30)
        .map(|i| gated(format!("burst-{i}"), false, &gate, &busy))
        .collect();
    let me = thread::current().name().unwrap_or("<unnamed>").to_string();
    assert!(!off_the_caller("no-caller-starts", &me));
    for w in &items {
        assert!(matches!(pool.queue(w), Ok(Queued::Scheduled)));
    }
    wait_until("the pool grows to its maximum", || busy.running() == 6);
    let made = lock(&calls).clone();
    assert_eq!(made.len(), 6, "{made:?}");
    // The first start is the first use's, on the caller's thread.
    assert_eq!(made[0].1, me, "{made:?}");
    for (n, thread) in &made[1..] {
        assert!(
            off_the_caller("no-caller-starts", thread),
            "call {n} ran on '{thread}': {made:?}"
        );
    }
    opener.open();
    flush_pool(&pool);
    assert_eq!(busy.finished(), 30);
    drop(items);
    drop_pool(pool);
    assert_eq!(spawns.started(), spawns.exited());
}

/// Issue 16, item 6: a fresh pool whose first start fails (once) accepts the
/// work, holds it, and runs it after the retry at the end of the back-off, with
/// no further queue call (before: the call failed with `Spawn`, and every call
/// for the whole back-off with `NoThreads`).
#[test]
fn a_fresh_pool_whose_first_start_fails_holds_the_work_and_runs_it_after_the_retry() {
    let _w = test_guard();
    let spawns = PoolSpawns::new();
    let calls: SpawnerCalls = Arc::default();
    let reports: Reports = Arc::default();
    let pool = Pool::builder()
        .name("held")
        .min_threads(1)
        .max_threads(2)
        .spawn_backoff(Duration::from_millis(20))
        .spawner(recording_spawner(&spawns, &calls, |n| n == 0))
        .on_spawn_failure(report_into(&reports))
        .build()
        .unwrap();
    let (a, ran_a) = counting_work("a");
    let (b, ran_b) = counting_work("b");
    let (p, w) = (pool.clone(), a.clone());
    let r = bounded30("first use, whose start fails", move || p.queue(&w));
    assert!(matches!(r, Ok(Queued::Scheduled)), "{r:?}");
    let r = bounded30("a second call, the retry pending", {
        let (p, w) = (pool.clone(), b.clone());
        move || p.queue(&w)
    });
    assert!(matches!(r, Ok(Queued::Scheduled)), "{r:?}");
    flush_work(&a);
    flush_work(&b);
    assert_eq!(ran_a.load(Ordering::SeqCst), 1);
    assert_eq!(ran_b.load(Ordering::SeqCst), 1);
    assert_eq!(lock(&reports).len(), 1);
    let made = lock(&calls).clone();
    // The failure, the retry, and maybe a second thread for the second item.
    assert!(made.len() >= 2, "{made:?}");
    assert_eq!(made[1].1, "workq-timer", "the retry: {made:?}");
    for (n, thread) in &made[1..] {
        assert!(off_the_caller("held", thread), "call {n} on '{thread}'");
    }
    let s = pool.snapshot();
    assert_eq!(s.stats.spawn_failures, 1, "{s}");
    assert_eq!(s.stats.runs, 2, "{s}");
    drop_pool(pool);
    assert_eq!(spawns.started(), spawns.exited());
}

/// Issue 16, item 6: a pool whose starts keep failing gives up after
/// `start_attempts` failures in a row: the items it held are cancelled (idle
/// again, never run, reported to the hook with their number), and queue calls
/// are refused from then on. Nothing hangs: flush, drain and drop return.
#[test]
fn a_pool_whose_starts_keep_failing_gives_up_after_start_attempts() {
    let _w = test_guard();
    let spawns = PoolSpawns::failing_from(0);
    let cancelled = Arc::new(Mutex::new(Vec::<usize>::new()));
    let c = cancelled.clone();
    let pool = Pool::builder()
        .name("gives-up")
        .min_threads(1)
        .max_threads(2)
        .spawn_backoff(Duration::from_millis(10))
        .start_attempts(3)
        .spawner(spawns.spawner())
        .on_spawn_failure(move |f| lock(&c).push(f.cancelled))
        .build()
        .unwrap();
    let (token, drops) = DropCounter::new();
    let ran = Arc::new(AtomicUsize::new(0));
    let r = ran.clone();
    let held = Work::named("held", move |_| {
        let _t = &token;
        r.fetch_add(1, Ordering::SeqCst);
    });
    let (p, w) = (pool.clone(), held.clone());
    let r = bounded30("first use, whose start fails", move || p.queue(&w));
    assert!(matches!(r, Ok(Queued::Scheduled)), "{r:?}");
    wait_until("the pool gives up", || lock(&cancelled).len() == 3);
    assert_eq!(
        *lock(&cancelled),
        [0, 0, 1],
        "the third failure cancels the held item"
    );
    assert!(!held.is_pending() && !held.is_running());
    assert!(!flush_work(&held));
    assert_eq!(ran.load(Ordering::SeqCst), 0);
    assert_eq!(spawns.attempts(), 3);
    let s = pool.snapshot();
    assert!(s.waiting.is_empty(), "{s}");
    assert_eq!(s.stats.spawn_failures, 3, "{s}");
    // Refused from now on, and nothing queued by the refusal.
    let later = Work::new(|_| {});
    let (p, w) = (pool.clone(), later.clone());
    let r = bounded30("a call after giving up", move || p.queue(&w));
    assert!(
        matches!(r, Err(Error::Spawn { .. } | Error::NoThreads { .. })),
        "{r:?}"
    );
    assert!(!later.is_pending());
    assert!(!flush_pool(&pool));
    drain_pool(&pool);
    drop_pool(pool);
    assert_eq!(drops.load(Ordering::SeqCst), 0, "the caller still holds it");
    drop(held);
    assert_eq!(drops.load(Ordering::SeqCst), 1);
}

/// Issue 16, item 4: a pool's bound on waiting items. `try_queue` fails with
/// `Full`; `queue` waits until a run makes room; `queue_async` waits without
/// blocking a thread and resolves once there is room; items already pending or
/// running never count. Ordered by a gate item holding the pool's only thread.
#[test]
fn pool_max_waiting_bounds_the_items_waiting() {
    use std::future::Future as _;
    let _w = test_guard();
    let pool = Pool::builder()
        .name("bounded-pool")
        .min_threads(1)
        .max_threads(1)
        .max_waiting(2)
        .build()
        .unwrap();
    let (gate, opener) = common::gate();
    let holder = Arc::new(Concurrency::default());
    let g = gated("gate".to_string(), false, &gate, &holder);
    assert_eq!(pool.try_queue(&g).unwrap(), Queued::Scheduled);
    wait_until("the gate item holds the thread", || holder.running() == 1);
    let done = Arc::new(AtomicUsize::new(0));
    let items: Vec<Work> = (0..4).map(|i| counted(format!("w-{i}"), &done)).collect();
    assert_eq!(pool.try_queue(&items[0]).unwrap(), Queued::Scheduled);
    assert_eq!(pool.queue(&items[1]).unwrap(), Queued::Scheduled);
    let full = pool.try_queue(&items[2]);
    assert!(
        matches!(&full, Err(Error::Full { queue, max_waiting: 2 }) if queue == "bounded-pool"),
        "{full:?}"
    );
    assert!(!items[2].is_pending(), "refused: not queued");
    // Pending and running items never count.
    assert_eq!(pool.try_queue(&items[0]).unwrap(), Queued::AlreadyPending);
    assert_eq!(pool.queue(&items[1]).unwrap(), Queued::AlreadyPending);
    assert_eq!(pool.try_queue(&g).unwrap(), Queued::Rerun);

    // `queue` waits for room; `queue_async` too, without a thread.
    let (p, w) = (pool.clone(), items[2].clone());
    let blocked = spawn_until_asleep("queue on a full pool", move || p.queue(&w));
    assert!(blocked.try_join().is_none(), "returned on a full pool");
    assert!(!items[2].is_pending());
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut fut = pool.queue_async(&items[3]);
    let first_poll = rt.block_on(std::future::poll_fn(|cx| {
        std::task::Poll::Ready(std::pin::Pin::new(&mut fut).poll(cx).is_pending())
    }));
    assert!(first_poll, "queue_async on a full pool waits");
    assert!(!items[3].is_pending());
    opener.open();
    assert_eq!(blocked.join().unwrap(), Queued::Scheduled);
    let r = bounded30("queue_async resolves once there is room", move || {
        rt.block_on(fut)
    });
    assert_eq!(r.unwrap(), Queued::Scheduled);
    flush_pool(&pool);
    assert_eq!(done.load(Ordering::SeqCst), 4);
    assert_eq!(holder.finished(), 2, "the gate ran twice (its rerun)");
    drop_pool(pool);
}

/// Issue 16, item 6: destroying a pool that holds work (no thread, a retry
/// pending) returns once the pending retry has failed too: the held items are
/// cancelled and reported, never stranded; with starts that work again the held
/// items would have run instead.
#[test]
fn destroying_a_pool_that_holds_work_cancels_it_after_the_pending_retry_fails() {
    let _w = test_guard();
    let spawns = PoolSpawns::failing_from(0);
    let cancelled = Arc::new(Mutex::new(Vec::<usize>::new()));
    let c = cancelled.clone();
    let pool = Pool::builder()
        .name("destroy-held")
        .min_threads(1)
        .max_threads(2)
        .spawn_backoff(Duration::from_millis(10))
        .start_attempts(100)
        .spawner(spawns.spawner())
        .on_spawn_failure(move |f| lock(&c).push(f.cancelled))
        .build()
        .unwrap();
    let (held, runs) = counting_work("held");
    let (p, w) = (pool.clone(), held.clone());
    let r = bounded30("first use, whose start fails", move || p.queue(&w));
    assert!(matches!(r, Ok(Queued::Scheduled)), "{r:?}");
    assert!(held.is_pending());
    destroy_pool(&pool);
    assert!(!held.is_pending() && !held.is_running());
    assert_eq!(runs.load(Ordering::SeqCst), 0);
    // The report follows the cancel (the hook runs with no lock held).
    wait_until("the give-up is reported", || {
        lock(&cancelled).iter().sum::<usize>() == 1
    });
    let seen = lock(&cancelled).clone();
    assert_eq!(seen.last(), Some(&1), "the last failure gave up: {seen:?}");
    assert_eq!(spawns.started(), 0);
    let r = pool.queue(&held);
    assert!(matches!(r, Err(Error::Destroyed { .. })), "{r:?}");
}

/// Issue 16, item 6: a pool of minimum 2 whose first start fails reaches its
/// minimum after the retry with no queue call starting a thread: the retry and
/// the rest of the minimum are started off the caller's thread.
#[test]
fn a_held_pool_reaches_its_minimum_off_the_caller() {
    let _w = test_guard();
    let spawns = PoolSpawns::new();
    let calls: SpawnerCalls = Arc::default();
    let pool = Pool::builder()
        .name("held-min")
        .min_threads(2)
        .max_threads(4)
        .idle_timeout(Duration::from_secs(60))
        .spawn_backoff(Duration::from_millis(10))
        .spawner(recording_spawner(&spawns, &calls, |n| n == 0))
        .on_spawn_failure(|_| {})
        .build()
        .unwrap();
    let (w, runs) = counting_work("held");
    let p = pool.clone();
    let me = bounded30("first use, whose start fails", move || {
        let r = p.queue(&w).map(|_| w);
        (r, thread::current().name().map(str::to_string))
    });
    let w = me.0.unwrap();
    flush_work(&w);
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    // More calls: none of them starts a thread, and the minimum is reached.
    for _ in 0..3 {
        pool.queue(&w).unwrap();
        flush_work(&w);
    }
    wait_until("the pool reaches its minimum", || spawns.started() >= 2);
    let made = lock(&calls).clone();
    assert!(made.len() >= 3, "{made:?}");
    assert_eq!(Some(&made[0].1), me.1.as_ref(), "{made:?}");
    for (n, thread) in &made[1..] {
        assert!(off_the_caller("held-min", thread), "call {n} on '{thread}'");
    }
    drop_pool(pool);
    assert_eq!(spawns.started(), spawns.exited());
}

/// Raising the maximum while every thread is busy and items wait starts a
/// thread for them at once: the waiting item runs while the gate item still
/// holds the pool's only thread (no queue call, no item end is needed).
#[test]
fn raising_max_threads_starts_a_thread_for_waiting_items() {
    let _guard = test_guard();
    let pool = Pool::builder()
        .name("raise-max")
        .min_threads(1)
        .max_threads(1)
        .build()
        .expect("pool");
    let (g, opener) = gate();
    let held = Signal::new();
    let h = held.clone();
    let holder = Work::named("holder", move |_| {
        h.notify();
        g.wait();
    });
    pool.queue(&holder).expect("queue the holder");
    held.wait_for(1, "the holder runs");
    let ran = Signal::new();
    let r = ran.clone();
    let waiting = Work::named("waiting", move |_| r.notify());
    pool.queue(&waiting).expect("queue the waiting item");
    pool.set_max_threads(2).expect("raise the maximum");
    ran.wait_for(1, "the waiting item runs on a new thread");
    assert!(holder.is_running(), "the holder still holds its thread");
    opener.open();
    flush_pool(&pool);
    drop_pool(pool);
}

/// `set_min_threads` and `set_max_threads` racing each other never leave the
/// minimum above the maximum: each checks the pair it makes under the pool's
/// lock (a check made before taking it let one call undo the other's check).
#[test]
fn racing_retunes_never_leave_min_above_max() {
    let pool = Pool::builder()
        .name("retune-race")
        .min_threads(1)
        .max_threads(4)
        .build()
        .unwrap();
    let p = pool.clone();
    let raising_min = std::thread::spawn(move || {
        for i in 0..2_000 {
            let _ = p.set_min_threads(if i % 2 == 0 { 3 } else { 1 });
        }
    });
    for i in 0..2_000 {
        let _ = pool.set_max_threads(if i % 2 == 0 { 2 } else { 4 });
        let s = pool.snapshot();
        assert!(
            s.min_threads <= s.max_threads,
            "min {} > max {}",
            s.min_threads,
            s.max_threads
        );
    }
    raising_min.join().unwrap();
    let s = pool.snapshot();
    assert!(s.min_threads <= s.max_threads, "{s}");
}

// ---------------------------------------------------------------------------
// Sizing defaults that adapt, and a pool that shrinks to no thread.
// ---------------------------------------------------------------------------

/// Only one limit set: the other default adapts to it.
#[test]
fn one_limit_set_adapts_the_other_default() {
    let single = Pool::builder()
        .name("single")
        .max_threads(1)
        .build()
        .expect("max 1 alone builds");
    let snap = single.snapshot();
    assert_eq!((snap.min_threads, snap.max_threads), (1, 1));
    let work = Work::new(|_| {});
    single.queue(&work).expect("queue");
    flush_work(&work);
    let wide = Pool::builder()
        .name("wide")
        .min_threads(100)
        .build()
        .expect("min 100 alone builds");
    let snap = wide.snapshot();
    assert_eq!(snap.min_threads, 100);
    assert!(snap.max_threads >= 100, "{}", snap.max_threads);
    // Both set: still checked against each other.
    assert!(matches!(
        Pool::builder().min_threads(3).max_threads(2).build(),
        Err(Error::InvalidConfig {
            setting: "min_threads",
            ..
        })
    ));
    destroy_pool(&single);
    destroy_pool(&wide);
}

/// `min_threads(0)`: idle threads exit down to none; a queue call then starts a
/// thread again and the item runs; so does a delayed item that fires on the
/// empty pool.
#[test]
fn min_zero_shrinks_to_no_thread_and_restarts_on_demand() {
    let _dog = watchdog(60, "min_zero_shrinks_to_no_thread_and_restarts_on_demand");
    let spawns = PoolSpawns::new();
    let clock = ManualClock::new();
    let pool = Pool::builder()
        .name("to-zero")
        .min_threads(0)
        .max_threads(2)
        .idle_timeout(Duration::from_millis(5))
        .manual_clock(&clock)
        .spawner(spawns.spawner())
        .build()
        .expect("min 0 builds");
    let (work, runs) = counting_work("first");
    pool.queue(&work).expect("queue on an unused pool");
    flush_work(&work);
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    wait_until("the pool shrinks to no thread", || {
        pool.snapshot().threads.is_empty()
    });
    wait_until("the exited threads end", || spawns.live() == 0);
    let started = pool.snapshot().stats.threads_started;
    assert!(started >= 1);

    // A queue call on the empty pool starts a thread; the item runs.
    pool.queue(&work).expect("queue on an empty pool");
    flush_work(&work);
    assert_eq!(runs.load(Ordering::SeqCst), 2);
    assert!(pool.snapshot().stats.threads_started > started);

    // A delayed item armed now, fired once the pool is empty again.
    let (late, late_runs) = counting_work("late");
    pool.queue_after(&late, Duration::from_secs(10))
        .expect("queue_after");
    wait_until("the pool shrinks to no thread again", || {
        pool.snapshot().threads.is_empty()
    });
    clock.advance(Duration::from_secs(10));
    wait_until("the delayed item runs on a restarted thread", || {
        late_runs.load(Ordering::SeqCst) == 1
    });
    flush_work(&late);
    destroy_pool(&pool);
    drop_pool(pool);
}
