//! Thread starts that fail: after k successful starts, or always.
//!
//! Documented behaviour (`PoolBuilder::spawner`, `PoolBuilder::spawn_backoff`,
//! `Pool::queue`, ARCHITECTURE "The pool's sizing", I11, I15):
//!
//! * a failed start is counted (`Stats::spawn_failures`), passed to the
//!   spawn-failure hook, and no start is tried for the back-off period;
//! * work goes on on the threads the pool has; with no thread at all a queue call
//!   fails with `Error::Spawn` (the start failed) or `Error::NoThreads` (during the
//!   back-off) and queues nothing;
//! * a workqueue with a rescuer still makes progress on such a pool; one without
//!   refuses the work with the pool's error.
//!
//! Never a hang: every wait below is under a watchdog.

use crate::common::*;
use crate::support::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};
use workq::{Error, Events, ManualClock, Pool, WorkQueue};

/// Items queued by the producers of [`hammer_failing_pool`], with their outcome.
type Queued = Arc<Mutex<Vec<(Probe, Result<(), String>)>>>;

/// Two producers queue fresh items (each blocked on `gate`, so the pool keeps
/// wanting more threads) on `pool` until the spawner has refused `failures`
/// starts. Returns every item with the outcome of its one queue call.
fn hammer_failing_pool(
    pool: &Pool,
    spawns: &Arc<PoolSpawns>,
    gate: &Gate,
    failures: usize,
) -> Vec<(Probe, Result<(), String>)> {
    let out: Queued = Arc::default();
    let producers: Vec<_> = (0..2)
        .map(|p| {
            let (pool, spawns, gate, out) =
                (pool.clone(), spawns.clone(), gate.clone(), out.clone());
            spawn_bounded("a producer on a failing pool", move || {
                let deadline = Instant::now() + Duration::from_secs(WATCHDOG_SECS);
                let mut n = 0;
                while spawns.failures() < failures {
                    if Instant::now() > deadline {
                        hung("waiting for failed thread starts", WATCHDOG_SECS);
                    }
                    let g = gate.clone();
                    let probe = Probe::new(&format!("blocked-{p}-{n}"), false, move |_, _| {
                        g.wait();
                    });
                    n += 1;
                    let r = probe.queue_with(|w| pool.queue(w));
                    let r = match r {
                        Ok(q) => {
                            assert!(q.added_run(), "a fresh item: {q:?}");
                            Ok(())
                        }
                        Err(e) => {
                            assert!(is_no_thread_error(&e), "unexpected {e:?}");
                            assert!(!probe.work.is_pending(), "refused but queued");
                            Err(e.to_string())
                        }
                    };
                    lock(&out).push((probe, r));
                    thread::sleep(Duration::from_micros(300));
                }
            })
        })
        .collect();
    for p in producers {
        p.join();
    }
    let items = std::mem::take(&mut *lock(&out));
    items
}

/// One run of the scenario of [`spawn_failing_after_k_starts_under_concurrent_producers`]
/// with starts failing from the (k+1)-th on.
fn fail_after(k: usize) {
    let backoff = Duration::from_millis(20);
    let spawns = PoolSpawns::failing_from(k);
    // A slow spawner widens the window in which other callers race a start.
    spawns.set_delay(Duration::from_millis(2));
    let reported = Arc::new(AtomicUsize::new(0));
    let panics = PanicLog::new();
    let r = reported.clone();
    let pool = Pool::builder()
        .name(format!("fail-after-{k}"))
        .min_threads(1)
        .max_threads(4)
        // A pool with no thread gives up at its first failed start: the call
        // that made it is refused (not held for a retry).
        .start_attempts(1)
        .idle_timeout(Duration::from_secs(60))
        .spawn_backoff(backoff)
        .spawner(spawns.spawner())
        .on_spawn_failure(move |f| {
            assert!(f.error.to_string().contains("refused"), "{f}");
            assert_eq!(f.backoff, Duration::from_millis(20));
            r.fetch_add(1, Ordering::SeqCst);
        })
        .on_panic(panics.hook())
        .build()
        .unwrap();
    let (gate, opener) = gate();
    let items = hammer_failing_pool(&pool, &spawns, &gate, 3);

    let ok = items.iter().filter(|(_, r)| r.is_ok()).count();
    let expected = if k == 0 { 0 } else { items.len() };
    if ok != expected {
        let stranded = items.iter().filter(|(p, _)| p.work.is_pending()).count();
        // The pool cannot drain what it accepted without a thread: leak it so
        // the failure is reported instead of a hang in its drop.
        std::mem::forget(pool);
        panic!(
            "k = {k}: {ok} of {} queue calls returned Ok (expected {expected}); {stranded} \
             items pending on a pool with {} thread(s)",
            items.len(),
            spawns.started()
        );
    }

    // The back-off was honoured between every failed start and the next.
    let calls = spawns.calls();
    assert_backoff_honoured(&calls, backoff, &format!("k = {k}"));
    assert_eq!(calls.iter().filter(|c| c.ok).count(), k, "{calls:?}");
    assert!(calls[..k].iter().all(|c| c.ok), "{calls:?}");
    // Every failure is counted and reported once. While items wait with no
    // thread for them the pool retries after each back-off by itself, so the
    // three counts are compared between two failures: each failure is seen by
    // the spawner, then counted, then reported.
    let mut failures = 0;
    wait_until("the failure counts agree between two retries", || {
        let reported = reported.load(Ordering::SeqCst);
        let counted = pool.snapshot().stats.spawn_failures;
        failures = spawns.failures();
        assert!(reported as u64 <= counted && counted <= failures as u64);
        reported == failures
    });
    assert!(failures >= 3);
    let s = pool.snapshot();
    assert_eq!(s.stats.threads_started, k as u64, "{s}");
    // The view also lists a retry's thread while its start is in flight.
    assert!((k..=k + 1).contains(&s.threads.len()), "{s}");
    assert_eq!(spawns.live(), k);

    // Work goes on: the k threads run everything once the gate opens.
    opener.open();
    flush_pool(&pool);
    for (probe, r) in &items {
        probe.check_nothing_lost(&format!("k = {k}"));
        assert_eq!(probe.runs(), usize::from(r.is_ok()));
    }
    assert!(panics.reports().is_empty());
    let drops: Vec<_> = items.iter().map(|(p, _)| p.drops.clone()).collect();
    drop(items);
    drop_pool(pool);
    assert!(drops.iter().all(|d| d.load(Ordering::SeqCst) == 1));
    assert_eq!(spawns.started(), k);
    assert_eq!(spawns.exited(), k, "every thread started was joined");
    eprintln!("k = {k}: {failures} failed starts, {} calls", calls.len());
}

/// Thread starts fail from the (k+1)-th on (k = 1, 2) while two producers queue
/// items that keep every thread busy. Work goes on: every queue call is `Ok` and
/// every item runs once the gate opens, never a hang; after every failed start
/// the next one waits out the back-off (spawner-call timestamps); every failure
/// is counted and reported once; no overlap, every closure dropped once, every
/// thread started is joined.
#[test]
fn spawn_failing_after_k_starts_under_concurrent_producers() {
    let _guard = test_guard();
    quiet_injected_panics();
    for k in 1..3 {
        fail_after(k);
    }
}

/// The same with k = 0: no thread can ever start. Every queue call must fail
/// (`Spawn`, or `NoThreads` during the back-off) and queue nothing (README: "a
/// pool with no thread refuses work", I11), the back-off is honoured, nothing
/// runs, nothing hangs.
#[test]
fn always_failing_spawner_under_concurrent_producers_refuses_every_call() {
    let _guard = test_guard();
    quiet_injected_panics();
    fail_after(0);
}

/// The deterministic form: one caller's first-use thread start is in progress
/// (the spawner is slow, then fails) when a second caller queues.
///
/// Documented (`Pool::queue`, `PoolBuilder::start_attempts`, ARCHITECTURE I11:
/// a pool with no thread holds work only while a retry is pending): the second
/// call fails too (or waits for the start and then fails); it never returns `Ok`
/// for an item no thread will run.
#[test]
fn queue_during_a_failing_first_start_is_refused_not_stranded() {
    let _guard = test_guard();
    quiet_injected_panics();
    let spawns = PoolSpawns::failing_from(0);
    spawns.set_delay(Duration::from_millis(300));
    let pool = Pool::builder()
        .name("slow-fail")
        .min_threads(1)
        .max_threads(2)
        // A pool with no thread gives up at its first failed start: the call
        // that made it is refused (not held for a retry).
        .start_attempts(1)
        .spawn_backoff(Duration::from_secs(60))
        .spawner(spawns.spawner())
        .on_spawn_failure(|_| {})
        .build()
        .unwrap();
    let first = Probe::plain("first");
    let (p, w) = (pool.clone(), first.work.clone());
    let first_call = spawn_bounded("the first queue call", move || p.queue(&w));
    wait_until("the first start is in the spawner", || {
        spawns.in_flight() == 1
    });
    let second = Probe::plain("second");
    let (p, w) = (pool.clone(), second.work.clone());
    let r2 = bounded30("a queue call during the start", move || p.queue(&w));
    let r1 = first_call.join();
    assert!(matches!(&r1, Err(Error::Spawn { .. })), "{r1:?}");
    let later = Probe::plain("later");
    let (p, w) = (pool.clone(), later.work.clone());
    let r3 = bounded30("a queue call after the failure", move || p.queue(&w));
    let stranded = second.work.is_pending() || later.work.is_pending();
    if stranded {
        std::mem::forget(pool.clone()); // its drop would wait for them forever
    }
    assert!(
        matches!(&r2, Err(e) if is_no_thread_error(e)),
        "second call: {r2:?}, item {:?}",
        second.work
    );
    assert!(
        matches!(&r3, Err(e) if is_no_thread_error(e)),
        "later call: {r3:?}, item {:?}",
        later.work
    );
    assert!(!stranded);
    assert_eq!(spawns.started(), 0);
    drop_pool(pool);
}

/// A spawner that always fails, seen from every front end: a pool's queue,
/// delayed queue, modify and owner calls fail with `Spawn` / `NoThreads` and
/// queue (or arm) nothing; its flush and drain return at once; a workqueue
/// without a rescuer refuses work with the pool's error; one with a rescuer runs
/// it on the rescuer thread; `Events` on the pool keep the raise and report the
/// error; once the spawner heals and the back-off has passed, the pool works.
#[test]
fn always_failing_spawner_is_an_error_never_a_hang() {
    let _guard = test_guard();
    quiet_injected_panics();
    let backoff = Duration::from_millis(30);
    let spawns = PoolSpawns::failing_from(0);
    let clock = ManualClock::new();
    let pool = Pool::builder()
        .name("never-starts")
        .min_threads(1)
        .max_threads(2)
        // A pool with no thread gives up at its first failed start: the call
        // that made it is refused (not held for a retry).
        .start_attempts(1)
        .spawn_backoff(backoff)
        .spawner(spawns.spawner())
        .on_spawn_failure(|_| {})
        .manual_clock(&clock)
        .build()
        .unwrap();

    let item = Probe::plain("refused");
    let calls: Vec<(&str, Result<(), Error>)> = {
        let (p, w) = (pool.clone(), item.work.clone());
        bounded30(
            "queue calls on a pool that cannot start a thread",
            move || {
                let owner = p.register("o");
                let out = vec![
                    ("queue", p.queue(&w).map(drop)),
                    (
                        "queue_after",
                        p.queue_after(&w, Duration::from_millis(5)).map(drop),
                    ),
                    ("queue_at", p.queue_at(&w, Instant::now()).map(drop)),
                    ("modify", p.modify(&w, Duration::from_millis(5)).map(drop)),
                    ("owner queue", owner.queue(&w).map(drop)),
                ];
                owner.unregister().unwrap();
                out
            },
        )
    };
    for (what, r) in &calls {
        match r {
            Err(e) if is_no_thread_error(e) => {}
            other => panic!("{what}: expected Spawn / NoThreads, got {other:?}"),
        }
    }
    assert!(!item.work.is_pending() && !item.work.is_running());
    assert_eq!(clock.armed(), 0, "a refused delayed call armed nothing");
    assert!(!flush_pool(&pool));
    drain_pool(&pool);

    // Workqueues on that pool.
    let plain = WorkQueue::builder("no-rescuer")
        .pool(&pool)
        .build()
        .unwrap();
    let r = item.queue_with(|w| plain.queue(w));
    assert!(matches!(&r, Err(e) if is_no_thread_error(e)), "{r:?}");
    assert!(!item.work.is_pending());
    let rescued = WorkQueue::builder("with-rescuer")
        .pool(&pool)
        .rescuer(true)
        .rescue_after(Duration::from_millis(10))
        .build()
        .unwrap();
    let thread_name = Arc::new(Mutex::new(None::<String>));
    let t = thread_name.clone();
    let on_rescuer = Probe::new("on-rescuer", false, move |_, _| {
        *lock(&t) = thread::current().name().map(str::to_string);
    });
    for _ in 0..3 {
        let r = on_rescuer.queue_with(|w| rescued.queue(w));
        assert!(
            r.is_ok(),
            "a rescuer queue takes work the pool cannot run: {r:?}"
        );
        flush_work(&on_rescuer.work);
    }
    on_rescuer.check_nothing_lost("rescuer");
    assert_eq!(on_rescuer.runs(), 3);
    assert_eq!(lock(&thread_name).as_deref(), Some("with-rescuer/rescuer"));

    // Events on the pool: the raise is kept, the error comes back.
    let seen = Arc::new(AtomicUsize::new(0));
    let s = seen.clone();
    let events = Events::builder("pool-events")
        .counted(true)
        .build(pool.clone(), move |raised, _| {
            s.fetch_add(raised.count(3) as usize, Ordering::SeqCst);
        })
        .unwrap();
    let r = events.raise(3);
    assert!(matches!(&r, Err(e) if is_no_thread_error(e)), "{r:?}");
    assert_eq!(events.stats().raised[3], 1);
    assert_eq!(events.stats().seen[3], 0);

    // No start was tried during a back-off, and none succeeded.
    assert_backoff_honoured(&spawns.calls(), backoff, "always failing");
    assert_eq!(spawns.started(), 0);
    let failures = spawns.failures();
    assert!(failures >= 1);
    assert_eq!(pool.snapshot().stats.spawn_failures, failures as u64);

    // Recovery: the spawner heals; once the back-off has passed a call gets a
    // thread, and the event raised while nothing could run is seen.
    spawns.heal();
    let recovered = Probe::plain("recovered");
    wait_until(
        "a queue call succeeds once the spawner heals",
        || match recovered.queue_with(|w| pool.queue(w)) {
            Ok(_) => true,
            Err(e) if is_no_thread_error(&e) => false,
            Err(e) => panic!("unexpected {e:?}"),
        },
    );
    flush_work(&recovered.work);
    recovered.check_nothing_lost("after healing");
    events.raise(3).unwrap();
    let ev = events.work().clone();
    bounded30("flush the events", move || ev.flush()).unwrap();
    let st = events.stats();
    assert_eq!(st.raised[3], 2);
    assert_eq!(
        st.seen[3], 2,
        "the raise made while nothing could run is not lost"
    );
    assert_eq!(seen.load(Ordering::SeqCst), 2);
    assert_backoff_honoured(&spawns.calls(), backoff, "after healing");

    let w = plain.clone();
    bounded30("destroy a workqueue", move || w.destroy()).unwrap();
    let w = rescued.clone();
    bounded30("destroy a rescuer workqueue", move || w.destroy()).unwrap();
    drop((plain, rescued, events));
    destroy_pool(&pool);
    drop(pool);
    let drops: Vec<_> = [&item, &on_rescuer, &recovered]
        .iter()
        .map(|p| p.drops.clone())
        .collect();
    drop((item, on_rescuer, recovered));
    assert!(drops.iter().all(|d| d.load(Ordering::SeqCst) == 1));
    assert_eq!(spawns.started(), spawns.exited());
}
