//! Delayed work: deadlines on a manual clock and on real time, modify, cancel,
//! flush of armed items, destroy with armed items, overflowing delays, periodic work.
#![allow(clippy::unwrap_used)]

mod common;

use common::{bounded30, watchdog, DropCounter, OverlapDetector, Rng};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use workq::{Error, ManualClock, Queued, Repeat, Work, Worker};

fn manual_worker(name: &str) -> (Worker, ManualClock) {
    let clock = ManualClock::new();
    let worker = Worker::builder()
        .name(name)
        .manual_clock(&clock)
        .build()
        .expect("worker");
    (worker, clock)
}

fn counting(name: &str) -> (Work, Arc<AtomicUsize>) {
    let runs = Arc::new(AtomicUsize::new(0));
    let r = runs.clone();
    let work = Work::named(name, move |_| {
        r.fetch_add(1, Ordering::SeqCst);
    });
    (work, runs)
}

fn flush(worker: &Worker) {
    let w = worker.clone();
    bounded30("flush the worker", move || w.flush().expect("flush"));
}

/// 1,024 random deadlines on a manual clock: after every step, exactly the items
/// due by then have run, each once.
#[test]
fn manual_clock_fires_exactly_the_due_items() {
    let _dog = watchdog(120, "manual_clock_fires_exactly_the_due_items");
    let (worker, clock) = manual_worker("manual-1024");
    let t0 = clock.now();
    let mut rng = Rng::new(0x5eed);
    let items: Vec<(u64, Work, Arc<AtomicUsize>)> = (0..1024)
        .map(|i| {
            let ms = 1 + (rng.next_u64() % 100_000);
            let (w, runs) = counting(&format!("item-{i}"));
            let q = worker
                .queue_at(&w, t0 + Duration::from_millis(ms))
                .expect("arm");
            assert_eq!(q, Queued::Scheduled);
            (ms, w, runs)
        })
        .collect();
    let mut now = 0u64;
    while now < 100_001 {
        let step = 1 + rng.next_u64() % 3_000;
        clock.advance(Duration::from_millis(step));
        now += step;
        flush(&worker);
        for (ms, w, runs) in &items {
            let expected = usize::from(*ms <= now);
            assert_eq!(
                runs.load(Ordering::SeqCst),
                expected,
                "{:?} due at {ms} ms, clock at {now} ms",
                w.name()
            );
        }
    }
    assert_eq!(clock.armed(), 0);
}

/// Under real time no run starts before its deadline.
#[test]
fn never_early_in_real_time() {
    let _dog = watchdog(120, "never_early_in_real_time");
    let worker = Worker::new("never-early").expect("worker");
    let early = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let mut rng = Rng::new(7);
    let mut items = Vec::new();
    for _ in 0..200 {
        let delay = Duration::from_micros(100 + rng.next_u64() % 30_000);
        let deadline = Instant::now() + delay;
        let (e, d) = (early.clone(), done.clone());
        let work = Work::new(move |_| {
            if Instant::now() < deadline {
                e.fetch_add(1, Ordering::SeqCst);
            }
            d.fetch_add(1, Ordering::SeqCst);
        });
        worker.queue_at(&work, deadline).expect("arm");
        items.push(work);
    }
    common::wait_until("all 200 delayed items ran", || {
        done.load(Ordering::SeqCst) == 200
    });
    assert_eq!(
        early.load(Ordering::SeqCst),
        0,
        "runs started before their deadline"
    );
}

/// Queue-after on a pending item changes nothing; a zero delay queues at once.
#[test]
fn delayed_queue_outcomes() {
    let (worker, clock) = manual_worker("outcomes");
    let (w, runs) = counting("w");
    assert_eq!(
        worker.queue_after(&w, Duration::from_secs(5)).unwrap(),
        Queued::Scheduled
    );
    assert_eq!(
        worker.queue_after(&w, Duration::from_secs(1)).unwrap(),
        Queued::AlreadyPending,
        "armed counts as pending"
    );
    assert_eq!(worker.queue(&w).unwrap(), Queued::AlreadyPending);
    clock.advance(Duration::from_secs(1));
    flush(&worker);
    assert_eq!(
        runs.load(Ordering::SeqCst),
        0,
        "the first deadline still holds"
    );
    clock.advance(Duration::from_secs(4));
    flush(&worker);
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    // Zero delay: no trip through the timer.
    assert_eq!(
        worker.queue_after(&w, Duration::ZERO).unwrap(),
        Queued::Scheduled
    );
    assert_eq!(clock.armed(), 0);
    flush(&worker);
    assert_eq!(runs.load(Ordering::SeqCst), 2);
}

/// modify to a later, an earlier and a zero deadline, and on an idle item: one run
/// each time, never before the last deadline set.
#[test]
fn modify_moves_the_deadline() {
    let (worker, clock) = manual_worker("modify");
    let (w, runs) = counting("retry");
    // Idle: armed; reports "was not pending".
    assert!(!worker.modify(&w, Duration::from_secs(10)).unwrap());
    // Later.
    assert!(worker.modify(&w, Duration::from_secs(20)).unwrap());
    clock.advance(Duration::from_secs(15));
    flush(&worker);
    assert_eq!(runs.load(Ordering::SeqCst), 0, "fired at the old deadline");
    clock.advance(Duration::from_secs(5));
    flush(&worker);
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    // Earlier.
    worker.queue_after(&w, Duration::from_secs(100)).unwrap();
    assert!(worker.modify(&w, Duration::from_secs(1)).unwrap());
    clock.advance(Duration::from_secs(1));
    flush(&worker);
    assert_eq!(runs.load(Ordering::SeqCst), 2);
    clock.advance(Duration::from_secs(200));
    flush(&worker);
    assert_eq!(runs.load(Ordering::SeqCst), 2, "the old deadline fired too");
    // Zero: queued now.
    worker.queue_after(&w, Duration::from_secs(100)).unwrap();
    assert!(worker.modify(&w, Duration::ZERO).unwrap());
    flush(&worker);
    assert_eq!(runs.load(Ordering::SeqCst), 3);
    assert_eq!(clock.armed(), 0);
}

/// A queued (not yet started) item moved back to the timer by modify.
#[test]
fn modify_moves_a_queued_item_back_to_the_timer() {
    let clock = ManualClock::new();
    let worker = Worker::builder()
        .name("modify-queued")
        .freezable(true)
        .manual_clock(&clock)
        .build()
        .unwrap();
    worker.freeze().unwrap();
    let (w, runs) = counting("queued");
    worker.queue(&w).unwrap();
    assert!(worker.modify(&w, Duration::from_secs(3)).unwrap());
    worker.thaw().unwrap();
    flush(&worker);
    assert_eq!(
        runs.load(Ordering::SeqCst),
        0,
        "ran although moved to the timer"
    );
    assert!(w.is_pending());
    clock.advance(Duration::from_secs(3));
    flush(&worker);
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}

/// cancel disarms an armed item at once; it never runs.
#[test]
fn cancel_disarms() {
    let (worker, clock) = manual_worker("cancel-armed");
    let (w, runs) = counting("armed");
    worker.queue_after(&w, Duration::from_secs(1)).unwrap();
    assert_eq!(clock.armed(), 1);
    assert!(w.cancel());
    assert_eq!(clock.armed(), 0);
    assert!(!w.is_pending());
    clock.advance(Duration::from_secs(2));
    flush(&worker);
    assert_eq!(runs.load(Ordering::SeqCst), 0);
    assert!(!w.cancel());
}

/// cancel against a firing timer on real threads: a cancel that reports success
/// means no run; otherwise exactly one run.
#[test]
fn cancel_vs_firing_stress() {
    let _dog = watchdog(120, "cancel_vs_firing_stress");
    let (worker, clock) = manual_worker("cancel-stress");
    for i in 0..2_000 {
        let (w, runs) = counting("racer");
        worker.queue_after(&w, Duration::from_millis(1)).unwrap();
        let c = clock.clone();
        let firer = std::thread::spawn(move || c.advance(Duration::from_millis(1)));
        if i % 2 == 0 {
            std::thread::yield_now();
        }
        let cancelled = w.cancel();
        firer.join().unwrap();
        flush(&worker);
        assert_eq!(
            runs.load(Ordering::SeqCst),
            usize::from(!cancelled),
            "iteration {i}"
        );
    }
}

/// cancel_sync of an armed item whose timer fires during the cancel: nothing runs.
#[test]
fn cancel_sync_vs_timer_and_modify_stress() {
    let _dog = watchdog(120, "cancel_sync_vs_timer_and_modify_stress");
    let (worker, clock) = manual_worker("cancel-sync-stress");
    for i in 0..1_000 {
        let (w, runs) = counting("racer");
        worker.queue_after(&w, Duration::from_millis(2)).unwrap();
        let c = clock.clone();
        let firer = std::thread::spawn(move || c.advance(Duration::from_millis(2)));
        let (w2, k2) = (w.clone(), worker.clone());
        let modifier = std::thread::spawn(move || k2.modify(&w2, Duration::from_millis(1)));
        w.cancel_sync().unwrap();
        assert!(!w.is_running(), "iteration {i}");
        let at_cancel = runs.load(Ordering::SeqCst);
        let modified = modifier.join().unwrap();
        firer.join().unwrap();
        clock.advance(Duration::from_millis(5));
        flush(&worker);
        let n = runs.load(Ordering::SeqCst);
        // Only a modify that went through after the cancel may add a run.
        match modified {
            Err(Error::Canceling) => assert_eq!(n, at_cancel, "iteration {i}"),
            Err(e) => panic!("unexpected error {e}"),
            Ok(_) => assert!(n <= at_cancel + 1, "iteration {i}"),
        }
        w.cancel_sync().unwrap();
    }
    assert_eq!(clock.armed(), 0);
}

/// flush of an armed item fires it now and waits for the run.
#[test]
fn flush_fires_an_armed_item_now() {
    let (_worker, clock) = manual_worker("flush-armed");
    let (w, runs) = counting("armed");
    _worker.queue_after(&w, Duration::from_secs(3600)).unwrap();
    let w2 = w.clone();
    assert!(bounded30("flush armed", move || w2.flush().unwrap()));
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    assert_eq!(clock.armed(), 0);
    clock.advance(Duration::from_secs(3600));
    let w3 = w.clone();
    assert!(!bounded30("flush idle", move || w3.flush().unwrap()));
    assert_eq!(
        runs.load(Ordering::SeqCst),
        1,
        "the disarmed timer fired later"
    );
}

/// Armed while running: the timer fires before the run ends, the item runs again
/// right after, never concurrently.
#[test]
fn armed_while_running_runs_again_after() {
    let _dog = watchdog(60, "armed_while_running_runs_again_after");
    let (worker, clock) = manual_worker("armed-running");
    let overlap = Arc::new(OverlapDetector::default());
    let (gate_tx, gate_rx) = std::sync::mpsc::channel::<()>();
    let gate_rx = Mutex::new(gate_rx);
    let (started_tx, started_rx) = std::sync::mpsc::channel::<()>();
    let started_tx = Mutex::new(started_tx);
    let o = overlap.clone();
    let runs = Arc::new(AtomicUsize::new(0));
    let r = runs.clone();
    let w = Work::new(move |_| {
        let _g = o.enter();
        if r.fetch_add(1, Ordering::SeqCst) == 0 {
            let _ = common::lock(&started_tx).send(());
            let _ = common::lock(&gate_rx).recv_timeout(Duration::from_secs(30));
        }
    });
    worker.queue(&w).unwrap();
    started_rx.recv_timeout(Duration::from_secs(30)).unwrap();
    assert_eq!(
        worker.queue_after(&w, Duration::from_millis(5)).unwrap(),
        Queued::Rerun
    );
    clock.advance(Duration::from_millis(5));
    assert_eq!(runs.load(Ordering::SeqCst), 1, "ran concurrently");
    gate_tx.send(()).unwrap();
    let w2 = w.clone();
    bounded30("flush", move || w2.flush().unwrap());
    flush(&worker);
    assert_eq!(runs.load(Ordering::SeqCst), 2);
    assert_eq!(overlap.violations(), 0);
}

/// Destroying a worker with armed items cancels them and drops each closure once;
/// the timer never fires into the destroyed worker.
#[test]
fn destroy_cancels_armed_items() {
    let (worker, clock) = manual_worker("destroy-armed");
    let (token, drops) = DropCounter::new();
    let token = Arc::new(token);
    let runs = Arc::new(AtomicUsize::new(0));
    for _ in 0..100 {
        let (t, r) = (token.clone(), runs.clone());
        let w = Work::new(move |_| {
            let _keep = &t;
            r.fetch_add(1, Ordering::SeqCst);
        });
        worker.queue_after(&w, Duration::from_secs(10)).unwrap();
    }
    drop(token);
    assert_eq!(clock.armed(), 100);
    let k = worker.clone();
    let report = bounded30("destroy", move || k.destroy().unwrap());
    assert_eq!(report.armed_cancelled(), 100, "cancelled silently");
    assert_eq!(report.armed_run(), 0);
    assert_eq!(clock.armed(), 0, "armed items left on the timer");
    assert_eq!(
        drops.load(Ordering::SeqCst),
        1,
        "closures not dropped by destroy"
    );
    clock.advance(Duration::from_secs(20));
    assert_eq!(
        runs.load(Ordering::SeqCst),
        0,
        "fired into a destroyed worker"
    );
    let (w, _) = counting("late");
    assert!(matches!(
        worker.queue_after(&w, Duration::from_secs(1)),
        Err(Error::Destroyed { .. })
    ));
}

/// Delays that overflow `Instant` are clamped: no panic, and nearer timers fire.
#[test]
fn overflowing_delays_are_clamped() {
    let (worker, clock) = manual_worker("overflow");
    let (far, far_runs) = counting("far");
    let (near, near_runs) = counting("near");
    worker.queue_after(&far, Duration::MAX).unwrap();
    worker.modify(&far, Duration::MAX).unwrap();
    worker.queue_after(&near, Duration::from_millis(1)).unwrap();
    clock.advance(Duration::from_millis(1));
    flush(&worker);
    assert_eq!(near_runs.load(Ordering::SeqCst), 1);
    assert_eq!(far_runs.load(Ordering::SeqCst), 0);
    assert!(far.cancel());
    // The same on the real clock.
    let real = Worker::new("overflow-real").unwrap();
    let (far2, _) = counting("far2");
    real.queue_after(&far2, Duration::MAX).unwrap();
    real.queue_at(&far2, Instant::now()).unwrap();
    assert!(far2.cancel());
}

/// A million arm + cancel cycles with one-hour delays leave nothing armed and drop
/// every closure.
#[test]
fn million_arm_cancel_cycles() {
    let _dog = watchdog(300, "million_arm_cancel_cycles");
    let (worker, clock) = manual_worker("million");
    let drops = Arc::new(AtomicUsize::new(0));
    let mut cancelled = 0;
    for _ in 0..1_000_000 {
        let t = DropCounter::on(&drops);
        let w = Work::new(move |_| {
            let _keep = &t;
        });
        worker.queue_after(&w, Duration::from_secs(3600)).unwrap();
        cancelled += usize::from(w.cancel());
    }
    assert_eq!(cancelled, 1_000_000);
    assert_eq!(clock.armed(), 0);
    assert_eq!(drops.load(Ordering::SeqCst), 1_000_000);
}

/// Fixed-delay and fixed-rate repetition run until stopped; nothing runs after stop.
#[test]
fn periodic_repeats_until_stopped() {
    let (worker, clock) = manual_worker("periodic");
    for repeat in [
        Repeat::FixedDelay(Duration::from_millis(10)),
        Repeat::FixedRate(Duration::from_millis(10)),
    ] {
        let runs = Arc::new(AtomicUsize::new(0));
        let r = runs.clone();
        let p = worker
            .periodic("tick", repeat, move |_| {
                r.fetch_add(1, Ordering::SeqCst);
            })
            .unwrap();
        for expected in 1..=5 {
            clock.advance(Duration::from_millis(10));
            flush(&worker);
            assert_eq!(runs.load(Ordering::SeqCst), expected, "{repeat:?}");
        }
        assert!(p.stop().unwrap(), "the next run was armed");
        clock.advance(Duration::from_millis(100));
        flush(&worker);
        assert_eq!(runs.load(Ordering::SeqCst), 5, "{repeat:?} ran after stop");
        assert_eq!(p.failure(), None);
    }
    assert!(matches!(
        worker.periodic("zero", Repeat::FixedRate(Duration::ZERO), |_| {}),
        Err(Error::InvalidConfig { .. })
    ));
}

/// A panicking periodic item stops repeating and the failure is reported.
#[test]
fn periodic_panic_stops_and_is_reported() {
    let clock = ManualClock::new();
    let reports = Arc::new(Mutex::new(Vec::new()));
    let rep = reports.clone();
    let worker = Worker::builder()
        .name("periodic-panic")
        .manual_clock(&clock)
        .on_panic(move |r| common::lock(&rep).push(r.message.to_string()))
        .build()
        .unwrap();
    let runs = Arc::new(AtomicUsize::new(0));
    let r = runs.clone();
    let p = worker
        .periodic(
            "flaky",
            Repeat::FixedDelay(Duration::from_millis(5)),
            move |_| {
                if r.fetch_add(1, Ordering::SeqCst) == 2 {
                    panic!("third run fails");
                }
            },
        )
        .unwrap();
    for _ in 0..10 {
        clock.advance(Duration::from_millis(5));
        flush(&worker);
    }
    assert_eq!(
        runs.load(Ordering::SeqCst),
        3,
        "kept repeating after the panic"
    );
    assert_eq!(p.failure().as_deref(), Some("third run fails"));
    assert_eq!(*common::lock(&reports), vec!["third run fails".to_string()]);
    assert_eq!(worker.stats().panics, 1);
    assert!(!p.work().is_pending());
}
