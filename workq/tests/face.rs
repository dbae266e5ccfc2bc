//! The front ends' common face: Worker, Pool, Owner and WorkQueue have the same
//! delayed-work methods (queue_at, queue_after, modify_at, modify, periodic),
//! with the same results. Time moves only when a `ManualClock` is advanced.

mod common;

use common::{bounded30, test_guard};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use workq::{ManualClock, Pool, Queued, Repeat, Work, WorkQueue, Worker};

const HOUR: Duration = Duration::from_secs(3600);

/// The front ends under test, each on `clock` except the workqueue (whose timer
/// is its pool's).
struct Fronts {
    worker: Worker,
    pool: Pool,
    owner: workq::Owner,
    wq: WorkQueue,
}

fn fronts(clock: &ManualClock, name: &str) -> Fronts {
    let worker = Worker::builder()
        .name(name)
        .manual_clock(clock)
        .build()
        .expect("worker");
    let pool = Pool::builder()
        .name(name)
        .manual_clock(clock)
        .build()
        .expect("pool");
    let owner = pool.register("owner");
    let wq = WorkQueue::builder(name)
        .pool(&pool)
        .build()
        .expect("workqueue");
    Fronts {
        worker,
        pool,
        owner,
        wq,
    }
}

fn counted() -> (Work, Arc<AtomicUsize>) {
    let runs = Arc::new(AtomicUsize::new(0));
    let r = runs.clone();
    let work = Work::new(move |_| {
        r.fetch_add(1, Ordering::SeqCst);
    });
    (work, runs)
}

/// Runs `check` once per front end, with the same calls.
fn each(
    fronts: &Fronts,
    mut check: impl FnMut(&str, &dyn Fn(&Work, Duration) -> Result<bool, workq::Error>),
) {
    check("worker", &|w, d| fronts.worker.modify(w, d));
    check("pool", &|w, d| fronts.pool.modify(w, d));
    check("owner", &|w, d| fronts.owner.modify(w, d));
    check("workqueue", &|w, d| fronts.wq.modify(w, d));
}

#[test]
fn modify_at_moves_an_armed_run_to_now_on_every_front_end() {
    let _guard = test_guard();
    let clock = ManualClock::new();
    let f = fronts(&clock, "face-modify-at");
    let now = clock.now();
    for (name, queue_after, modify_at) in [
        (
            "worker",
            Box::new(|w: &Work| f.worker.queue_after(w, HOUR)) as Box<dyn Fn(&Work) -> _>,
            Box::new(|w: &Work| f.worker.modify_at(w, now)) as Box<dyn Fn(&Work) -> _>,
        ),
        (
            "pool",
            Box::new(|w: &Work| f.pool.queue_after(w, HOUR)),
            Box::new(|w: &Work| f.pool.modify_at(w, now)),
        ),
        (
            "owner",
            Box::new(|w: &Work| f.owner.queue_after(w, HOUR)),
            Box::new(|w: &Work| f.owner.modify_at(w, now)),
        ),
        (
            "workqueue",
            Box::new(|w: &Work| f.wq.queue_after(w, HOUR)),
            Box::new(|w: &Work| f.wq.modify_at(w, now)),
        ),
    ] {
        let (work, runs) = counted();
        assert_eq!(queue_after(&work).ok(), Some(Queued::Scheduled), "{name}");
        assert!(work.is_pending(), "{name}: armed");
        assert_eq!(modify_at(&work).ok(), Some(true), "{name}: was pending");
        let w = work.clone();
        bounded30("flush the item", move || w.flush().expect("flush"));
        assert_eq!(
            runs.load(Ordering::SeqCst),
            1,
            "{name}: ran once, no clock move"
        );
    }
}

#[test]
fn modify_arms_an_idle_item_and_rearms_a_pending_one_on_every_front_end() {
    let _guard = test_guard();
    let clock = ManualClock::new();
    let f = fronts(&clock, "face-modify");
    each(&f, |name, modify| {
        let (work, runs) = counted();
        assert!(!modify(&work, HOUR).expect("modify"), "{name}: idle");
        assert!(modify(&work, 2 * HOUR).expect("modify"), "{name}: re-armed");
        assert!(work.cancel(), "{name}: armed until cancelled");
        assert_eq!(runs.load(Ordering::SeqCst), 0, "{name}");
    });
}

#[test]
fn periodic_runs_once_per_period_on_every_front_end() {
    let _guard = test_guard();
    let clock = ManualClock::new();
    let f = fronts(&clock, "face-periodic");
    let n = Arc::new(AtomicUsize::new(0));
    let counter = |n: &Arc<AtomicUsize>| {
        let n = n.clone();
        move |_: &workq::WorkCtx<'_>| {
            n.fetch_add(1, Ordering::SeqCst);
        }
    };
    let every = Repeat::FixedRate(Duration::from_secs(1));
    let started = [
        f.worker.periodic("w", every, counter(&n)).expect("worker"),
        f.pool.periodic("p", every, counter(&n)).expect("pool"),
        f.owner.periodic("o", every, counter(&n)).expect("owner"),
        f.wq.periodic("q", every, counter(&n)).expect("workqueue"),
    ];
    assert!(
        matches!(
            f.pool
                .periodic("zero", Repeat::FixedDelay(Duration::ZERO), |_| {}),
            Err(workq::Error::InvalidConfig {
                setting: "period",
                ..
            })
        ),
        "a zero period is refused"
    );
    for round in 1..=3 {
        clock.advance(Duration::from_secs(1));
        let want = 4 * round;
        let n2 = n.clone();
        bounded30("every front end ran", move || {
            while n2.load(Ordering::SeqCst) < want {
                std::thread::yield_now();
            }
        });
        assert_eq!(n.load(Ordering::SeqCst), want, "round {round}");
        for p in &started {
            let w = p.work().clone();
            bounded30("re-armed", move || {
                while !w.is_pending() {
                    std::thread::yield_now();
                }
            });
        }
    }
    for p in started {
        assert!(p.stop().expect("stop"), "armed until stopped");
    }
}

#[test]
fn a_workqueue_reports_frozen_and_its_counters() {
    let _guard = test_guard();
    let wq = WorkQueue::builder("face-frozen")
        .freezable(true)
        .build()
        .expect("workqueue");
    assert!(!wq.is_frozen());
    wq.freeze().expect("freeze");
    assert!(wq.is_frozen());
    let (work, runs) = counted();
    wq.queue(&work).expect("queue");
    assert_eq!(wq.stats().runs, 0, "frozen: nothing runs");
    wq.thaw().expect("thaw");
    assert!(!wq.is_frozen());
    let q = wq.clone();
    bounded30("flush", move || q.flush().expect("flush"));
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    assert_eq!(wq.stats().runs, 1);
    let pool = Pool::new("face-stats").expect("pool");
    pool.queue(&work).expect("queue");
    let p = pool.clone();
    bounded30("flush", move || p.flush().expect("flush"));
    assert_eq!(pool.stats().runs, 1);
}
