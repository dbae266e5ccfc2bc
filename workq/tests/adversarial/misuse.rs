//! Misuse: calls made at the wrong time or from the wrong place, and invalid
//! settings. README: "Misuse is an error, not a hang"; `Error`: "no method panics
//! or blocks forever because it was called at the wrong time or from the wrong
//! place". Each test checks the exact error, and that nothing was lost or run
//! twice because of the misuse.

use crate::common::*;
use crate::support::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};
use workq::{Error, Events, Pool, Queued, Repeat, Work, WorkQueue, Worker};

/// Per round, (racer, outcome) of each racing queue call.
type Outcomes = Arc<Mutex<Vec<Vec<(usize, String)>>>>;

/// One item, two workers, a pool and a workqueue.
///
/// Documented (the state table in `engine/item/state.rs`, `Error::Busy`): an item pending or
/// running on one queue cannot be queued on another (`Busy`, naming the queue the
/// call was made on); it runs once per `Scheduled` / `Rerun`; once idle it may
/// move.
#[test]
fn one_item_on_two_queues_is_busy_and_runs_once() {
    let _guard = test_guard();
    quiet_injected_panics();
    let a = frozen_worker("busy-a");
    let b = frozen_worker("busy-b");
    let pool = Pool::builder()
        .name("busy-pool")
        .min_threads(1)
        .build()
        .unwrap();
    let q = WorkQueue::builder("busy-q")
        .pool(&pool)
        .freezable(true)
        .build()
        .unwrap();
    q.freeze().unwrap();
    let (gate, opener) = gate();
    let started = Signal::new();
    let s = started.clone();
    let item = Arc::new(Probe::new("nomad", false, move |_, run| {
        if run == 1 {
            s.notify();
            gate.wait();
        }
    }));

    // Three threads race to queue the pending-or-idle item on three queues:
    // exactly one wins each round, the others get Busy naming their queue.
    let fronts = [
        Front::Worker(a.clone()),
        Front::Worker(b.clone()),
        Front::Queue(q.clone()),
    ];
    const ROUNDS: usize = 100;
    let barrier = Arc::new(Barrier::new(fronts.len()));
    let results: Outcomes = Arc::default();
    let racers: Vec<_> = fronts
        .iter()
        .enumerate()
        .map(|(i, front)| {
            let (front, item, barrier, results) = (
                front.clone(),
                item.clone(),
                barrier.clone(),
                results.clone(),
            );
            spawn_bounded("a racing queue call", move || {
                for round in 0..ROUNDS {
                    barrier.wait();
                    let r = item.queue_with(|w| front.queue(w));
                    let outcome = match r {
                        Ok(Queued::Scheduled) => "scheduled".to_string(),
                        Err(Error::Busy { queue }) => {
                            assert_eq!(queue, front.name(), "Busy names the called queue");
                            "busy".to_string()
                        }
                        other => panic!("round {round}: unexpected {other:?}"),
                    };
                    {
                        let mut res = lock(&results);
                        if res.len() <= round {
                            res.resize(round + 1, Vec::new());
                        }
                        res[round].push((i, outcome));
                    }
                    barrier.wait();
                    // One thread cleans up between rounds.
                    if i == 0 {
                        assert!(item.work.cancel(), "the winner's run was pending");
                        // Cancelled: not counted as an added run any more.
                        item.added.fetch_sub(1, Ordering::SeqCst);
                    }
                    barrier.wait();
                }
            })
        })
        .collect();
    for r in racers {
        r.join();
    }
    for (round, res) in lock(&results).iter().enumerate() {
        let wins = res.iter().filter(|(_, o)| o == "scheduled").count();
        assert_eq!(wins, 1, "round {round}: {res:?}");
        assert_eq!(res.len(), 3);
    }
    assert_eq!(item.runs(), 0, "frozen and cancelled: nothing ran");

    // Running on the pool: every other queue says Busy; the pool says Rerun.
    let r = item.queue_with(|w| pool.queue(w));
    assert_eq!(r.unwrap(), Queued::Scheduled);
    started.wait_for(1, "the item runs on the pool");
    for front in &fronts {
        let r = item.queue_with(|w| front.queue(w));
        assert!(matches!(r, Err(Error::Busy { .. })), "{r:?}");
    }
    assert_eq!(item.queue_with(|w| pool.queue(w)).unwrap(), Queued::Rerun);
    opener.open();
    flush_work(&item.work);
    assert_eq!(item.runs(), 2, "one run per Scheduled / Rerun");
    item.check_nothing_lost("running on the pool");

    // Idle again: it may move to a worker.
    thaw(&b);
    assert_eq!(item.queue_with(|w| b.queue(w)).unwrap(), Queued::Scheduled);
    flush_work(&item.work);
    assert_eq!(item.runs(), 3);
    item.check_nothing_lost("moved to a worker");

    thaw(&a);
    q.thaw().unwrap();
    for front in &fronts {
        front.destroy();
    }
    drop(fronts);
    drop((a, b, q));
    destroy_pool(&pool);
    let item = Arc::try_unwrap(item).ok().expect("the racers are gone");
    let d = item.drops.clone();
    drop(item);
    assert_eq!(d.load(Ordering::SeqCst), 1);
}

/// Results of calls made from inside a run: (what, `{:?}` of the result, refused).
type Calls = Arc<Mutex<Vec<(String, String, bool)>>>;

fn record<T: std::fmt::Debug>(calls: &Calls, what: &str, r: Result<T, Error>) {
    let refused = matches!(r, Err(Error::WouldDeadlock { .. }));
    lock(calls).push((what.to_string(), format!("{r:?}"), refused));
}

/// Checks that every recorded call was refused with `WouldDeadlock`.
fn all_refused(calls: &Calls, expected: usize, what: &str) {
    let calls = lock(calls).clone();
    assert_eq!(calls.len(), expected, "{what}: {calls:?}");
    for (call, r, refused) in &calls {
        assert!(refused, "{what}: {call} returned {r}, not WouldDeadlock");
    }
}

/// Waits that could never end, called from inside a run: flushing, draining,
/// destroying or freezing one's own worker / pool / workqueue, flushing or
/// cancel_sync'ing one's own item (and their async forms), flushing another item
/// pending on one's own single-thread worker, unregistering a pool owner from a
/// pool item.
///
/// Documented (`Error::WouldDeadlock`, each method's "Errors" section): each
/// returns `WouldDeadlock` at once; afterwards the item is quiet and its queue
/// works.
#[test]
fn waits_on_ones_own_queue_or_item_would_deadlock() {
    let _guard = test_guard();
    quiet_injected_panics();

    // A worker.
    let worker = Worker::builder()
        .name("self-wait-worker")
        .freezable(true)
        .build()
        .unwrap();
    let calls: Calls = Arc::default();
    let other = Probe::plain("other");
    let x = {
        let (w, calls, other) = (worker.clone(), calls.clone(), other.work.clone());
        Probe::new("x", false, move |ctx, _| {
            let me = ctx.work();
            record(&calls, "Worker::flush", w.flush());
            record(&calls, "Worker::drain", w.drain());
            record(&calls, "Worker::destroy", w.destroy());
            record(&calls, "Worker::freeze", w.freeze());
            record(&calls, "Work::flush (own)", me.flush());
            record(&calls, "Work::cancel_sync (own)", me.cancel_sync());
            record(&calls, "Work::disable_sync (own)", me.disable_sync());
            record(&calls, "Worker::flush_async", block_on(w.flush_async()));
            record(&calls, "Worker::drain_async", block_on(w.drain_async()));
            record(
                &calls,
                "Work::flush_async (own)",
                block_on(me.flush_async()),
            );
            record(
                &calls,
                "Work::cancel_sync_async (own)",
                block_on(me.cancel_sync_async()),
            );
            // Another item, pending behind this run on the single thread.
            w.queue(&other).expect("queue from an own item");
            record(&calls, "Work::flush (other, same worker)", other.flush());
        })
    };
    x.queue_with(|w| worker.queue(w)).unwrap();
    flush_work(&x.work);
    flush_worker(&worker);
    all_refused(&calls, 12, "worker");
    assert!(
        !x.work.is_disabled(),
        "a refused disable_sync changed nothing"
    );
    x.check_nothing_lost("worker");
    assert_eq!(other.runs(), 1, "the other item ran after the refusal");
    Front::Worker(worker.clone()).still_works("worker after refusals");

    // A pool (several threads, but the waits still need the caller's thread).
    let pool = Pool::builder()
        .name("self-wait-pool")
        .min_threads(2)
        .max_threads(4)
        .build()
        .unwrap();
    let owner = Arc::new(Mutex::new(Some(pool.register("self-owner"))));
    let pcalls: Calls = Arc::default();
    let y = {
        let (p, calls, owner) = (pool.clone(), pcalls.clone(), owner.clone());
        Probe::new("y", false, move |ctx, _| {
            let me = ctx.work();
            record(&calls, "Pool::flush", p.flush());
            record(&calls, "Pool::drain", p.drain());
            record(&calls, "Pool::destroy", p.destroy());
            record(&calls, "Work::flush (own)", me.flush());
            record(&calls, "Work::cancel_sync (own)", me.cancel_sync());
            record(&calls, "Pool::flush_async", block_on(p.flush_async()));
            if let Some(o) = lock(&owner).take() {
                record(&calls, "Owner::unregister", o.unregister());
            }
        })
    };
    let owner_queue = lock(&owner)
        .as_ref()
        .map(|o| y.queue_with(|w| o.queue(w)))
        .unwrap();
    owner_queue.unwrap();
    flush_work(&y.work);
    flush_pool(&pool);
    all_refused(&pcalls, 7, "pool");
    y.check_nothing_lost("pool");
    Front::Pool(pool.clone()).still_works("pool after refusals");

    // A workqueue on that pool.
    let wq = WorkQueue::builder("self-wait-q")
        .pool(&pool)
        .freezable(true)
        .build()
        .unwrap();
    let qcalls: Calls = Arc::default();
    let z = {
        let (q, calls) = (wq.clone(), qcalls.clone());
        Probe::new("z", false, move |ctx, _| {
            let me = ctx.work();
            record(&calls, "WorkQueue::flush", q.flush());
            record(&calls, "WorkQueue::drain", q.drain());
            record(&calls, "WorkQueue::destroy", q.destroy());
            record(&calls, "WorkQueue::freeze", q.freeze());
            record(&calls, "Work::flush (own)", me.flush());
            record(&calls, "Work::cancel_sync (own)", me.cancel_sync());
            record(&calls, "WorkQueue::drain_async", block_on(q.drain_async()));
        })
    };
    z.queue_with(|w| wq.queue(w)).unwrap();
    flush_work(&z.work);
    all_refused(&qcalls, 7, "workqueue");
    z.check_nothing_lost("workqueue");
    Front::Queue(wq.clone()).still_works("workqueue after refusals");

    // An events handler flushing its own events.
    let ecalls: Calls = Arc::default();
    let handler_item: Arc<Mutex<Option<Work>>> = Arc::default();
    let events = {
        let (calls, item) = (ecalls.clone(), handler_item.clone());
        Events::builder("self-flush")
            .kinds(1)
            .build(worker.clone(), move |_, _| {
                let me = lock(&item).clone();
                if let Some(me) = me {
                    record(&calls, "Events flush from its handler", me.flush());
                }
            })
            .unwrap()
    };
    *lock(&handler_item) = Some(events.work().clone());
    events.raise(0).unwrap();
    let e = events.work().clone();
    bounded30("flush the events", move || e.flush()).unwrap();
    all_refused(&ecalls, 1, "events");
    *lock(&handler_item) = None;
    drop(events);

    let w = wq.clone();
    bounded30("destroy the workqueue", move || w.destroy()).unwrap();
    destroy(&worker);
    destroy_pool(&pool);
    drop((wq, worker, pool));
    let drops: Vec<_> = [&x, &y, &z, &other]
        .iter()
        .map(|p| p.drops.clone())
        .collect();
    drop((x, y, z, other));
    assert!(drops.iter().all(|d| d.load(Ordering::SeqCst) == 1));
}

fn assert_destroyed<T: std::fmt::Debug>(what: &str, r: Result<T, Error>) {
    assert!(
        matches!(r, Err(Error::Destroyed { .. })),
        "{what} after destroy: {r:?}"
    );
}

/// Every way of queueing, on every front end, after its destroy.
///
/// Documented (`Worker::destroy`, `Pool::destroy`, `WorkQueue::destroy`,
/// `Events::raise`): each queue call fails with `Destroyed` and queues (or arms)
/// nothing; the item is never run and the queue keeps no reference to it (its
/// closure goes with the caller's last handle); destroy, flush and drain again
/// return `Ok`. A workqueue whose pool was destroyed refuses work the same way.
#[test]
fn queue_after_destroy_is_destroyed() {
    let _guard = test_guard();
    quiet_injected_panics();
    let item = Probe::new("late", false, |_, _| unreachable!("queued after destroy"));
    let soon = Instant::now() + Duration::from_millis(1);
    let after = Duration::from_millis(1);

    let worker = Worker::new("dead-worker").unwrap();
    destroy(&worker);
    assert_destroyed("Worker::queue", item.queue_with(|w| worker.queue(w)));
    assert_destroyed("Worker::queue_after", worker.queue_after(&item.work, after));
    assert_destroyed("Worker::queue_at", worker.queue_at(&item.work, soon));
    assert_destroyed("Worker::modify", worker.modify(&item.work, after));
    assert_destroyed("Worker::modify_at", worker.modify_at(&item.work, soon));
    let periodic = worker.periodic("p", Repeat::FixedDelay(after), |_| {});
    assert_destroyed("Worker::periodic", periodic.map(drop));
    let events = Events::builder("dead-events")
        .kinds(1)
        .build(worker.clone(), |_, _| unreachable!())
        .unwrap();
    assert_destroyed("Events::raise", events.raise(0));
    assert_eq!(events.stats().raised[0], 1);
    assert_eq!(events.stats().seen[0], 0);
    destroy(&worker);
    assert!(!flush_worker(&worker));

    let pool = Pool::new("dead-pool").unwrap();
    let owner = pool.register("o");
    destroy_pool(&pool);
    assert_destroyed("Pool::queue", item.queue_with(|w| pool.queue(w)));
    assert_destroyed("Pool::queue_after", pool.queue_after(&item.work, after));
    assert_destroyed("Pool::queue_at", pool.queue_at(&item.work, soon));
    assert_destroyed("Pool::modify", pool.modify(&item.work, after));
    assert_destroyed("Owner::queue", owner.queue(&item.work));
    assert_destroyed("late Owner::queue", pool.register("late").queue(&item.work));
    destroy_pool(&pool);
    drain_pool(&pool);
    let o = owner;
    bounded30("unregister on a destroyed pool", move || o.unregister()).unwrap();

    let pool2 = Pool::new("wq-pool").unwrap();
    let wq = WorkQueue::builder("dead-q")
        .pool(&pool2)
        .max_waiting(4)
        .build()
        .unwrap();
    let w = wq.clone();
    bounded30("destroy the workqueue", move || w.destroy()).unwrap();
    assert_destroyed("WorkQueue::queue", item.queue_with(|w| wq.queue(w)));
    assert_destroyed("WorkQueue::try_queue", wq.try_queue(&item.work));
    assert_destroyed("WorkQueue::queue_after", wq.queue_after(&item.work, after));
    assert_destroyed("WorkQueue::queue_at", wq.queue_at(&item.work, soon));
    assert_destroyed("WorkQueue::modify", wq.modify(&item.work, after));
    let w = wq.clone();
    let i = item.work.clone();
    let r = bounded30("queue_async on a destroyed queue", move || {
        block_on(w.queue_async(&i))
    });
    assert_destroyed("WorkQueue::queue_async", r);
    let w = wq.clone();
    bounded30("destroy the workqueue again", move || w.destroy()).unwrap();

    // The pool under a live workqueue is destroyed.
    let live = WorkQueue::builder("orphan-q").pool(&pool2).build().unwrap();
    destroy_pool(&pool2);
    match item.queue_with(|w| live.queue(w)) {
        Err(Error::Destroyed { queue }) => assert_eq!(queue, "wq-pool"),
        other => panic!("queue on a workqueue whose pool is destroyed: {other:?}"),
    }
    let w = live.clone();
    bounded30("destroy an orphaned workqueue", move || w.destroy()).unwrap();

    assert!(!item.work.is_pending() && !item.work.is_running());
    assert_eq!(item.runs(), 0);
    assert_eq!(item.added(), 0);
    let d = item.drops.clone();
    drop(item);
    assert_eq!(d.load(Ordering::SeqCst), 1, "no queue kept a reference");
    drop((events, worker, pool, pool2, wq, live));
}

/// Items queued on a frozen worker or workqueue, then the queue destroyed.
///
/// Documented (`Worker::destroy`: "A frozen worker is thawed first, so no queued
/// item is lost"; ARCHITECTURE: "`destroy` closes the queue to outside work,
/// thaws it, drains it"; I10: armed items are cancelled, their closures dropped
/// once): every queued item ran exactly once, including a run it queued itself
/// during the drain; the armed item never ran; the queue is no longer frozen.
#[test]
fn queue_on_a_frozen_worker_then_destroy_runs_everything_once() {
    let _guard = test_guard();
    quiet_injected_panics();
    frozen_then_destroyed(Kind::Worker);
}

/// The same on a frozen workqueue (`WorkQueue::freeze`: "holds every waiting and
/// newly queued item until thaw. Nothing is lost"; `WorkQueue::destroy`: "Drains
/// the queue").
#[test]
fn queue_on_a_frozen_workqueue_then_destroy_runs_everything_once() {
    let _guard = test_guard();
    quiet_injected_panics();
    frozen_then_destroyed(Kind::Queue);
}

/// Items (plain, self-requeueing once, armed) queued on a frozen `kind`, then
/// the queue destroyed; see the two tests above.
fn frozen_then_destroyed(kind: Kind) {
    const N: usize = 20;
    {
        let pool = Pool::builder()
            .name("frozen-pool")
            .min_threads(1)
            .build()
            .unwrap();
        let front = match kind {
            Kind::Worker => Front::Worker(frozen_worker("frozen-w")),
            _ => {
                let q = WorkQueue::builder("frozen-q")
                    .pool(&pool)
                    .freezable(true)
                    .max_active(3)
                    .build()
                    .unwrap();
                q.freeze().unwrap();
                Front::Queue(q)
            }
        };
        let items: Vec<Probe> = (0..N).map(|i| Probe::plain(&format!("f-{i}"))).collect();
        for item in &items {
            assert_eq!(
                item.queue_with(|w| front.queue(w)).unwrap(),
                Queued::Scheduled
            );
            assert_eq!(
                item.queue_with(|w| front.queue(w)).unwrap(),
                Queued::AlreadyPending
            );
        }
        // Re-queues itself once from its first run, during the destroy's drain.
        let chained = Probe::new("chained", false, |ctx, run| {
            if run == 1 {
                assert!(ctx.requeue().unwrap().added_run());
            }
        });
        chained.queue_with(|w| front.queue(w)).unwrap();
        chained.added.fetch_add(1, Ordering::SeqCst); // the requeue's run
        let armed = Probe::new("armed", false, |_, _| unreachable!("cancelled by destroy"));
        match &front {
            Front::Worker(w) => w.queue_after(&armed.work, Duration::from_secs(3600)),
            Front::Queue(q) => q.queue_after(&armed.work, Duration::from_secs(3600)),
            Front::Pool(_) => unreachable!(),
        }
        .unwrap();
        assert!(items.iter().all(|i| i.runs() == 0), "frozen: nothing ran");

        front.destroy();
        for item in &items {
            item.check_nothing_lost(&format!("{kind:?} frozen then destroyed"));
            assert_eq!(item.runs(), 1);
        }
        chained.check_nothing_lost("chained");
        assert_eq!(chained.runs(), 2);
        assert_eq!(armed.runs(), 0);
        assert!(!armed.work.is_pending());
        if let Front::Worker(w) = &front {
            assert!(!w.is_frozen(), "destroy thawed it");
        }
        assert_destroyed("queue after the destroy", front.queue(&items[0].work));
        drop(front);
        destroy_pool(&pool);
        let drops: Vec<_> = items
            .iter()
            .chain([&chained, &armed])
            .map(|p| p.drops.clone())
            .collect();
        drop((items, chained, armed));
        assert!(drops.iter().all(|d| d.load(Ordering::SeqCst) == 1));
    }
}

/// Checks `r` is `InvalidConfig` for `setting`, with a message naming it.
fn assert_invalid<T: std::fmt::Debug>(r: Result<T, Error>, setting: &str) {
    match r {
        Err(e @ Error::InvalidConfig { .. }) => {
            let Error::InvalidConfig { setting: s, reason } = &e else {
                unreachable!()
            };
            assert_eq!(*s, setting, "{e}");
            assert!(!reason.is_empty());
            assert!(e.to_string().contains(setting), "{e}");
        }
        other => panic!("expected InvalidConfig for {setting}, got {other:?}"),
    }
}

/// Invalid settings for `Worker`, `Pool` (and its runtime tunables),
/// `WorkQueue`, `Events` and periodic work.
///
/// Documented (each builder's `build` "Errors" section, `Pool::set_*`,
/// `Events::raise`, `Worker::periodic`): a clear `InvalidConfig` (or
/// `InvalidCpu`, or `InvalidKind` for a raise) naming the setting, every time; no thread is started; a refused
/// tunable changes nothing; work queued before the refusal is not lost; closures
/// given to a refused builder are dropped once.
#[test]
fn invalid_settings_are_refused_clearly_and_lose_nothing() {
    let _guard = test_guard();
    quiet_injected_panics();

    // Worker.
    assert_invalid(Worker::builder().name("").build(), "name");
    assert_invalid(Worker::builder().name("a\0b").build(), "name");
    assert_invalid(
        Worker::builder()
            .name("tiny-stack")
            .stack_size(1024)
            .build(),
        "stack_size",
    );
    #[cfg(feature = "cpu-affinity")]
    match Worker::builder()
        .name("no-such-cpu")
        .cpu(usize::MAX)
        .build()
    {
        Err(e @ Error::InvalidCpu { .. }) => {
            let Error::InvalidCpu { cpu, available } = &e else {
                unreachable!()
            };
            assert_eq!(*cpu, usize::MAX);
            assert!(!available.is_empty(), "{e}");
            assert!(e.to_string().contains("not available"), "{e}");
        }
        other => panic!("expected InvalidCpu, got {other:?}"),
    }
    if let Some(names) = os_thread_names() {
        for n in ["tiny-stack", "no-such-cpu"] {
            assert!(
                !names.contains(&n.to_string()),
                "a thread was started for {n}"
            );
        }
    }

    // Pool.
    let spawns = PoolSpawns::new();
    let bad: Vec<(workq::PoolBuilder, &str)> = vec![
        (Pool::builder().name(""), "name"),
        (Pool::builder().name("x").max_threads(0), "max_threads"),
        (
            Pool::builder().name("x").min_threads(5).max_threads(2),
            "min_threads",
        ),
        (
            Pool::builder().name("x").very_slow_percent(0),
            "very_slow_percent",
        ),
        (
            Pool::builder().name("x").very_slow_percent(100),
            "very_slow_percent",
        ),
        (
            Pool::builder().name("x").idle_timeout(Duration::ZERO),
            "idle_timeout",
        ),
        (Pool::builder().name("x").stack_size(100), "stack_size"),
    ];
    for (b, setting) in bad {
        assert_invalid(b.spawner(spawns.spawner()).build(), setting);
    }
    assert_eq!(spawns.attempts(), 0, "a refused pool started no thread");

    // Pool tunables, refused while work is queued: nothing changes, nothing lost.
    let pool = Pool::builder()
        .name("tunables")
        .min_threads(2)
        .max_threads(3)
        .very_slow_percent(40)
        .spawner(spawns.spawner())
        .build()
        .unwrap();
    let holders: Vec<Blocker> = (0..3).map(|i| Blocker::new(&format!("h-{i}"))).collect();
    for h in &holders {
        pool.queue(&h.work).unwrap();
    }
    let queued: Vec<Probe> = (0..5).map(|i| Probe::plain(&format!("q-{i}"))).collect();
    for p in &queued {
        p.queue_with(|w| pool.queue(w)).unwrap();
    }
    assert_invalid(pool.set_min_threads(4), "min_threads");
    assert_invalid(pool.set_max_threads(0), "max_threads");
    assert_invalid(pool.set_max_threads(1), "max_threads");
    assert_invalid(pool.set_very_slow_percent(0), "very_slow_percent");
    assert_invalid(pool.set_very_slow_percent(100), "very_slow_percent");
    let s = pool.snapshot();
    assert_eq!(
        (s.min_threads, s.max_threads, s.very_slow_percent),
        (2, 3, 40),
        "{s}"
    );
    for h in &holders {
        h.release();
    }
    flush_pool(&pool);
    for p in &queued {
        p.check_nothing_lost("after refused tunables");
        assert_eq!(p.runs(), 1);
    }

    // WorkQueue.
    let bad: Vec<(workq::WorkQueueBuilder, &str)> = vec![
        (WorkQueue::builder(""), "name"),
        (WorkQueue::builder("a\0b"), "name"),
        (WorkQueue::builder("x").max_active(0), "max_active"),
        (WorkQueue::builder("x").max_active(513), "max_active"),
        (
            WorkQueue::builder("x").watchdog(Some(Duration::ZERO)),
            "watchdog",
        ),
        (WorkQueue::builder("x").max_waiting(0), "max_waiting"),
        (
            WorkQueue::builder("x")
                .rescuer(true)
                .rescue_after(Duration::ZERO),
            "rescue_after",
        ),
    ];
    for (b, setting) in bad {
        assert_invalid(b.pool(&pool).build(), setting);
    }

    // Events: the refused builder drops the handler (and its target) once.
    let worker = Worker::new("events-target").unwrap();
    for kinds in [0, 65] {
        let (token, drops) = DropCounter::new();
        let r = Events::builder("bad-kinds")
            .kinds(kinds)
            .build(worker.clone(), move |_, _| {
                let _held = &token;
            });
        assert_invalid(r, "kinds");
        assert_eq!(drops.load(Ordering::SeqCst), 1);
    }
    let handled = Arc::new(AtomicUsize::new(0));
    let h = handled.clone();
    let events = Events::builder("four-kinds")
        .kinds(4)
        .build(worker.clone(), move |_, _| {
            h.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap();
    for kind in [4u8, 255] {
        match events.raise(kind) {
            Err(e @ Error::InvalidKind { .. }) => {
                assert!(
                    matches!(&e, Error::InvalidKind { events, kind: k, kinds: 4 } if events == "four-kinds" && *k == kind),
                    "{e}"
                );
                assert!(e.to_string().contains("four-kinds"), "{e}");
            }
            other => panic!("expected InvalidKind for kind {kind}, got {other:?}"),
        }
    }
    assert_eq!(
        events.stats().raised,
        vec![0; 4],
        "a refused raise counts nothing"
    );
    events.raise(3).unwrap();
    let e = events.work().clone();
    bounded30("flush the events", move || e.flush()).unwrap();
    assert_eq!(handled.load(Ordering::SeqCst), 1);

    // Periodic work with a zero period.
    let (token, drops) = DropCounter::new();
    let r = worker.periodic("zero", Repeat::FixedRate(Duration::ZERO), move |_| {
        let _held = &token;
    });
    assert_invalid(r.map(drop), "period");
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    Front::Worker(worker.clone()).still_works("worker after refused settings");

    drop(events);
    destroy(&worker);
    drop(holders);
    drop_pool(pool);
    assert_eq!(spawns.started(), spawns.exited());
    let drops: Vec<_> = queued.iter().map(|p| p.drops.clone()).collect();
    drop(queued);
    assert!(drops.iter().all(|d| d.load(Ordering::SeqCst) == 1));
}
