//! Panics everywhere user code runs: in items, periodic items, a closure's drop,
//! the panic hook, a spawner (and the spawn-failure hook), an `Events` handler,
//! a backlog hook and a stall hook.
//!
//! The documented behaviour for each is written on its test. Common to all: no
//! deadlock, nothing left marked running (`is_running` false afterwards, flush
//! returns), the thread that met the panic goes on working (another item runs
//! afterwards), each closure is dropped exactly once.

use crate::common::*;
use crate::support::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;
use workq::{Events, ManualClock, Pool, Repeat, Stall, Work, WorkQueue, Worker};

/// Checks an item is quiet: not pending, not running, and its flush returns.
fn assert_quiet(work: &Work, what: &str) {
    assert!(!work.is_running(), "{what}: still marked running: {work:?}");
    assert!(!work.is_pending(), "{what}: still pending: {work:?}");
    assert!(
        !flush_work(work),
        "{what}: flush of a quiet item had to wait"
    );
}

/// Panics in runs, on a worker, a pool and a workqueue.
///
/// Documented (README "A panic in a run is caught and reported; the worker goes
/// on", `PanicReport`, ARCHITECTURE "Panics"): the panic is caught, counted in
/// `Stats::panics` and passed once to the queue's panic hook (item name, queue
/// name, message), on the thread that ran the item, which already sees the item
/// idle (or queued again, if it was queued during the run); flush and cancel of
/// the item return; the queue runs the next items.
#[test]
fn panics_in_items_are_caught_reported_and_leave_nothing_running() {
    let _guard = test_guard();
    quiet_injected_panics();
    for kind in KINDS {
        let log = PanicLog::new();
        let front = Front::build(kind, &format!("item-panics-{kind:?}"), &log);
        // Panics on every run.
        let always = Probe::new("always", false, |_, _| panic!("{INJECTED}: always"));
        // Panics on odd runs.
        let odd = Probe::new("odd", false, |_, run| {
            if run % 2 == 1 {
                panic!("{INJECTED}: odd run {run}");
            }
        });
        // Queues itself again, then panics: the re-queued run still happens.
        let requeue = Probe::new("requeue-then-panic", false, |ctx, run| {
            if run == 1 {
                ctx.requeue().expect("requeue from the own run");
                panic!("{INJECTED}: after requeue");
            }
        });
        for _ in 0..4 {
            always.queue_with(|w| front.queue(w)).unwrap();
            flush_work(&always.work);
            assert_quiet(&always.work, "always");
            odd.queue_with(|w| front.queue(w)).unwrap();
            flush_work(&odd.work);
            assert_quiet(&odd.work, "odd");
        }
        requeue.queue_with(|w| front.queue(w)).unwrap();
        wait_until("the re-queued run after a panic", || {
            requeue.finished() == 2
        });
        assert_quiet(&requeue.work, "requeue");
        assert_eq!(requeue.runs(), 2);

        front.flush();
        for p in [&always, &odd] {
            p.check_nothing_lost(&format!("{kind:?}"));
        }
        assert_eq!(requeue.overlap.violations(), 0);
        assert_eq!(always.runs(), 4);
        assert_eq!(odd.runs(), 4);
        let reports = log.reports();
        assert_eq!(log.count_for("always"), 4, "{reports:?}");
        assert_eq!(log.count_for("odd"), 2, "{reports:?}");
        assert_eq!(log.count_for("requeue-then-panic"), 1, "{reports:?}");
        assert_eq!(reports.len(), 7, "{reports:?}");
        for r in &reports {
            assert_eq!(r.queue, front.name());
            assert!(r.message.starts_with(INJECTED), "{r:?}");
            assert!(
                r.thread.is_some(),
                "the hook runs on the queue's (named) thread"
            );
        }
        assert_eq!(front.stats().panics, 7);
        front.still_works(&format!("{kind:?} after item panics"));

        front.destroy();
        drop(front);
        let drops: Vec<_> = [&always, &odd, &requeue]
            .iter()
            .map(|p| p.drops.clone())
            .collect();
        drop((always, odd, requeue));
        assert!(drops.iter().all(|d| d.load(Ordering::SeqCst) == 1));
    }
}

/// A periodic item that panics.
///
/// Documented (`Periodic`, `Periodic::failure`): the repetition stops; the panic
/// goes to the worker's panic hook like any other; `failure()` returns its
/// message; the item is left neither pending nor running, `stop` returns, and the
/// worker goes on.
#[test]
fn panicking_periodic_items_stop_loudly() {
    let _guard = test_guard();
    quiet_injected_panics();
    let clock = ManualClock::new();
    let log = PanicLog::new();
    let worker = Worker::builder()
        .name("periodic-panics")
        .manual_clock(&clock)
        .on_panic(log.hook())
        .build()
        .unwrap();
    let period = Duration::from_millis(10);
    for (name, repeat) in [
        ("rate", Repeat::FixedRate(period)),
        ("delay", Repeat::FixedDelay(period)),
    ] {
        let (token, drops) = DropCounter::new();
        let overlap = Arc::new(OverlapDetector::default());
        let runs = Arc::new(AtomicUsize::new(0));
        let (o, r) = (overlap.clone(), runs.clone());
        let p = worker
            .periodic(name, repeat, move |_| {
                let _held = &token;
                let _inside = o.enter();
                if r.fetch_add(1, Ordering::SeqCst) + 1 == 3 {
                    panic!("{INJECTED}: periodic {name}");
                }
            })
            .unwrap();
        for run in 1..=3 {
            clock.advance(period);
            wait_until("the periodic run", || runs.load(Ordering::SeqCst) == run);
            flush_worker(&worker);
        }
        // Stopped: more time passes, nothing runs.
        for _ in 0..5 {
            clock.advance(period);
        }
        flush_worker(&worker);
        assert_eq!(runs.load(Ordering::SeqCst), 3);
        assert_eq!(
            p.failure().as_deref(),
            Some(format!("{INJECTED}: periodic {name}").as_str())
        );
        assert_quiet(p.work(), name);
        assert_eq!(log.count_for(name), 1, "{:?}", log.reports());
        let w = p.work().clone();
        let stopped = bounded30("stop a failed periodic", move || w.cancel_sync()).unwrap();
        assert!(!stopped, "nothing was pending");
        let (p, stopped) = bounded30("Periodic::stop", move || {
            let r = p.stop();
            (p, r)
        });
        assert!(!stopped.unwrap(), "nothing was pending");
        assert_eq!(overlap.violations(), 0);
        drop(p);
        assert_eq!(
            drops.load(Ordering::SeqCst),
            1,
            "{name}: closure dropped once"
        );
    }
    assert_eq!(worker.stats().panics, 2);
    Front::Worker(worker.clone()).still_works("worker after periodic panics");
    destroy(&worker);
}

/// The closure's drop panics when the last handle goes away on a worker, pool or
/// workqueue thread (the test drops its handle while the item runs).
///
/// Documented (ARCHITECTURE I7, `RunQueue::release`, "a panic in the closure's
/// `Drop` is caught and reported through the queue's hook"): the panic is caught
/// and reported through the panic hook (as item `<closure drop>`), on that
/// thread, and the thread keeps working: another item runs afterwards, on the
/// same worker thread, and no pool thread was lost.
#[test]
fn panic_in_a_closure_drop_on_a_workq_thread_is_reported_and_the_thread_goes_on() {
    let _guard = test_guard();
    quiet_injected_panics();
    for kind in KINDS {
        let log = PanicLog::new();
        let front = Front::build(kind, &format!("drop-panics-{kind:?}"), &log);
        let (token, drops) = PanicOnDrop::new();
        let ran_on = Arc::new(Mutex::new(None::<String>));
        let (gate, opener) = gate();
        let started = Signal::new();
        let work = {
            let (ran_on, started) = (ran_on.clone(), started.clone());
            Work::named("doomed", move |_| {
                let _held = &token;
                *lock(&ran_on) = thread::current().name().map(str::to_string);
                started.notify();
                gate.wait();
            })
        };
        front.queue(&work).unwrap();
        started.wait_for(1, "the doomed item runs");
        drop(work); // the queue now holds the last handle
        opener.open();
        wait_until("the closure is dropped on the workq thread", || {
            drops.load(Ordering::SeqCst) == 1
        });
        wait_until("the drop's panic is reported", || log.count() == 1);
        let reports = log.reports();
        let r = &reports[0];
        assert_eq!(r.work.as_deref(), Some("<closure drop>"), "{r:?}");
        assert_eq!(r.queue, front.name());
        assert_eq!(r.message, format!("{INJECTED}: closure drop"));
        assert_eq!(
            r.thread,
            *lock(&ran_on),
            "reported on the thread that ran it"
        );

        // The same thread goes on.
        let again = Arc::new(Mutex::new(None::<String>));
        let a = again.clone();
        let next = Probe::new("next", false, move |_, _| {
            *lock(&a) = thread::current().name().map(str::to_string);
        });
        next.queue_with(|w| front.queue(w)).unwrap();
        flush_work(&next.work);
        next.check_nothing_lost("after a closure drop panic");
        if kind == Kind::Worker {
            assert_eq!(*lock(&again), *lock(&ran_on), "the worker thread survived");
        }
        let stats = front.stats();
        assert_eq!(stats.threads_exited, 0, "no pool thread died: {stats:?}");
        assert_eq!(stats.panics, 0, "a drop is not a run: {stats:?}");
        front.destroy();
        drop(front);
        assert_eq!(drops.load(Ordering::SeqCst), 1);
        let d = next.drops.clone();
        drop(next);
        assert_eq!(d.load(Ordering::SeqCst), 1);
    }
}

/// The closure's drop panics when a destroy cancels the armed item that held the
/// last handle.
///
/// Documented (I10: "destroying a worker cancels its armed items (closures
/// dropped once)", `drop_caught`): the drop's panic is caught and reported
/// through the worker's hook; destroy returns.
#[test]
fn panic_in_the_drop_of_an_armed_item_cancelled_by_destroy() {
    let _guard = test_guard();
    quiet_injected_panics();
    let log = PanicLog::new();
    let worker = Worker::builder()
        .name("armed-drop")
        .on_panic(log.hook())
        .build()
        .unwrap();
    let (token, drops) = PanicOnDrop::new();
    let work = Work::named("armed", move |_| {
        let _held = &token;
        unreachable!("cancelled by the destroy before it was due");
    });
    worker
        .queue_after(&work, Duration::from_secs(3600))
        .unwrap();
    drop(work);
    assert_eq!(drops.load(Ordering::SeqCst), 0);
    destroy(&worker);
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    let reports = log.reports();
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert_eq!(reports[0].work.as_deref(), Some("<closure drop>"));
    assert_eq!(worker.stats().runs, 0);
}

/// The panic hook itself panics, for run panics and for closure-drop panics.
///
/// Documented (ARCHITECTURE "Panics": "A panic inside the hook, or in dropping
/// the panic payload, is caught and ignored"; `panic::report`): the hook's panic
/// is ignored; the thread goes on; nothing is left running.
#[test]
fn panic_in_the_panic_hook_is_contained() {
    let _guard = test_guard();
    quiet_injected_panics();
    for kind in KINDS {
        let calls = Arc::new(AtomicUsize::new(0));
        let c = calls.clone();
        let hook = move |_: &workq::PanicReport<'_>| {
            c.fetch_add(1, Ordering::SeqCst);
            panic!("{INJECTED}: the panic hook");
        };
        let name = format!("hook-panics-{kind:?}");
        let front = match kind {
            Kind::Worker => Front::Worker(
                Worker::builder()
                    .name(&name)
                    .on_panic(hook)
                    .build()
                    .unwrap(),
            ),
            Kind::Pool => Front::Pool(
                Pool::builder()
                    .name(&name)
                    .min_threads(1)
                    .max_threads(2)
                    .on_panic(hook)
                    .build()
                    .unwrap(),
            ),
            Kind::Queue => {
                let pool = Pool::builder()
                    .name(format!("{name}-pool"))
                    .build()
                    .unwrap();
                Front::Queue(
                    WorkQueue::builder(&name)
                        .pool(&pool)
                        .on_panic(hook)
                        .build()
                        .unwrap(),
                )
            }
        };
        let boom = Probe::new("boom", false, |_, _| panic!("{INJECTED}: boom"));
        for _ in 0..3 {
            boom.queue_with(|w| front.queue(w)).unwrap();
            flush_work(&boom.work);
            assert_quiet(&boom.work, "boom");
        }
        // And a closure-drop panic reported through the panicking hook.
        let (token, drops) = PanicOnDrop::new();
        let (gate, opener) = gate();
        let started = Signal::new();
        let s = started.clone();
        let doomed = Work::named("doomed", move |_| {
            let _held = &token;
            s.notify();
            gate.wait();
        });
        front.queue(&doomed).unwrap();
        started.wait_for(1, "the doomed item runs");
        drop(doomed);
        opener.open();
        wait_until("both panics reached the hook", || {
            calls.load(Ordering::SeqCst) == 4
        });
        assert_eq!(drops.load(Ordering::SeqCst), 1);
        boom.check_nothing_lost(&format!("{kind:?}"));
        assert_eq!(front.stats().panics, 3);
        front.still_works(&format!("{kind:?} after the hook panicked"));
        front.destroy();
        drop(front);
        let d = boom.drops.clone();
        drop(boom);
        assert_eq!(d.load(Ordering::SeqCst), 1);
    }
}

/// An item panics with a payload whose own drop panics.
///
/// Documented (ARCHITECTURE "Panics": "A panic inside the hook, or in dropping
/// the panic payload, is caught and ignored"): the run's panic is reported (with
/// a placeholder message) and the payload's drop panic ignored; the thread goes
/// on. The same for a periodic item (its failure is recorded).
#[test]
fn panic_payload_whose_drop_panics_is_contained() {
    let _guard = test_guard();
    quiet_injected_panics();
    for kind in KINDS {
        let log = PanicLog::new();
        let front = Front::build(kind, &format!("bomb-{kind:?}"), &log);
        let bomb = Probe::new("bomb", false, |_, _| panic_with_bomb());
        for _ in 0..2 {
            bomb.queue_with(|w| front.queue(w)).unwrap();
            flush_work(&bomb.work);
            assert_quiet(&bomb.work, "bomb");
        }
        front.flush(); // waits for the reports too
        assert_eq!(log.count_for("bomb"), 2);
        assert!(log.reports()[0].message.contains("non-string"));
        bomb.check_nothing_lost(&format!("{kind:?}"));
        front.still_works(&format!("{kind:?} after a bomb payload"));
        front.destroy();
    }
    let clock = ManualClock::new();
    let log = PanicLog::new();
    let worker = Worker::builder()
        .name("periodic-bomb")
        .manual_clock(&clock)
        .on_panic(log.hook())
        .build()
        .unwrap();
    let p = worker
        .periodic("tick", Repeat::FixedRate(Duration::from_millis(5)), |_| {
            panic_with_bomb()
        })
        .unwrap();
    clock.advance(Duration::from_millis(5));
    wait_until("the periodic failure is recorded", || p.failure().is_some());
    flush_worker(&worker);
    assert_quiet(p.work(), "periodic bomb");
    assert_eq!(log.count_for("tick"), 1);
    Front::Worker(worker.clone()).still_works("after a periodic bomb");
    destroy(&worker);
}

/// A spawner that panics, and a spawn-failure hook that panics too.
///
/// Documented (`start_reserved`: "The spawner is user code: a panic in it counts
/// as a failed start"; `PoolBuilder::spawner`, `on_spawn_failure`,
/// `start_attempts`): the panic is a failed start: counted in
/// `Stats::spawn_failures`, passed to the spawn-failure hook (whose own panic is
/// ignored), followed by the back-off and a retry with no further queue call. At
/// first use the queue call is accepted and its item held until the retry
/// starts a thread; later, the caller is unaffected (it never runs the
/// spawner) and the item that wanted a thread gets one after the back-off.
///
/// Every step is ordered by the library's signals (runs, spawner calls, the
/// failure count), never by the back-off's length.
#[test]
fn panicking_spawner_counts_as_a_failed_start() {
    let _guard = test_guard();
    quiet_injected_panics();
    let backoff = Duration::from_millis(20);
    let spawns = PoolSpawns::new();
    let calls = Arc::new(AtomicUsize::new(0));
    // Spawner calls after the first made elsewhere than on a pool thread or the
    // timer's (that is: by a queue caller).
    let on_caller = Arc::new(AtomicUsize::new(0));
    // Calls number 0 and 2 panic; the others start threads.
    let spawner = {
        let (inner, calls, on_caller) = (spawns.spawner(), calls.clone(), on_caller.clone());
        move |b: thread::Builder, body: Box<dyn FnOnce() + Send>| {
            let n = calls.fetch_add(1, Ordering::SeqCst);
            let name = thread::current().name().unwrap_or("").to_string();
            if n > 0 && !(name == "workq-timer" || name.starts_with("spawner-panics/")) {
                on_caller.fetch_add(1, Ordering::SeqCst);
            }
            if n == 0 || n == 2 {
                panic!("{INJECTED}: spawner call {n}");
            }
            inner(b, body)
        }
    };
    let hooked = Arc::new(Mutex::new(Vec::<String>::new()));
    let h = hooked.clone();
    let log = PanicLog::new();
    let pool = Pool::builder()
        .name("spawner-panics")
        .min_threads(1)
        .max_threads(3)
        .spawn_backoff(backoff)
        .idle_timeout(Duration::from_secs(60))
        .spawner(spawner)
        .on_spawn_failure(move |f| {
            lock(&h).push(f.error.to_string());
            panic!("{INJECTED}: the spawn-failure hook");
        })
        .on_panic(log.hook())
        .build()
        .unwrap();

    // First use: the only start panics (call 0); the call is accepted and the
    // item held until the retry (call 1) starts a thread.
    let first = Probe::plain("first");
    let (p, w) = (pool.clone(), first.work.clone());
    let r = bounded30("first use with a panicking spawner", move || p.queue(&w));
    assert!(matches!(r, Ok(workq::Queued::Scheduled)), "{r:?}");
    flush_work(&first.work);
    assert_eq!(first.runs(), 1);
    assert!(calls.load(Ordering::SeqCst) >= 2);
    assert_eq!(pool.snapshot().stats.spawn_failures, 1);
    assert!(lock(&hooked)[0].contains("spawner call 0"), "{hooked:?}");

    // An item holds the thread; the next item wants a second one: the start
    // panics (call 2), and after the back-off the retry (call 3) starts the
    // thread that runs it, while the holder still holds the first.
    let holder = Blocker::new("holder");
    let r = bounded30("queue the holder", {
        let (p, w) = (pool.clone(), holder.work.clone());
        move || p.queue(&w)
    });
    assert!(r.is_ok(), "{r:?}");
    holder.started.wait_for(1, "the holder runs");
    let waiting = Probe::plain("waiting");
    let (p, w) = (pool.clone(), waiting.work.clone());
    let r = bounded30("a queue call that wants a second thread", move || {
        p.queue(&w)
    });
    assert!(r.is_ok(), "{r:?}");
    wait_until("the second failure is counted", || {
        pool.snapshot().stats.spawn_failures == 2
    });
    flush_work(&waiting.work);
    assert_eq!(waiting.runs(), 1);
    assert_eq!(holder.finished.count(), 0, "ran beside the holder");
    assert!(calls.load(Ordering::SeqCst) >= 4);
    holder.release();
    flush_work(&holder.work);
    assert_quiet(&holder.work, "holder");

    let hooked = lock(&hooked).clone();
    assert_eq!(hooked.len(), 2, "{hooked:?}");
    assert!(
        hooked.iter().all(|e| e.contains("the spawner panicked")),
        "{hooked:?}"
    );
    assert!(log.reports().is_empty());
    assert_eq!(
        on_caller.load(Ordering::SeqCst),
        0,
        "the spawner ran on a queue caller's thread"
    );
    assert_eq!(spawns.exited(), 0, "no pool thread died");
    Front::Pool(pool.clone()).still_works("after spawner panics");
    drop_pool(pool);
    assert_eq!(spawns.started(), spawns.exited());
    let d = [first.drops.clone(), waiting.drops.clone()];
    drop((first, waiting));
    assert!(d.iter().all(|d| d.load(Ordering::SeqCst) == 1));
}

/// An `Events` handler that panics on every other run.
///
/// Documented (`Events`, I16, and the run panic contract): a handler panic is a
/// panic of the handler item's run: caught and reported through the target's
/// hook; the events that run took were given to the handler and count as seen;
/// later raises run the handler again; nothing is lost: `raised == seen` once the
/// handler has caught up.
#[test]
fn panicking_events_handler_loses_no_event() {
    let _guard = test_guard();
    quiet_injected_panics();
    const RAISES: u64 = 300;
    for kind in KINDS {
        let log = PanicLog::new();
        let front = Front::build(kind, &format!("events-{kind:?}"), &log);
        let handled = Arc::new(AtomicUsize::new(0));
        let runs = Arc::new(AtomicUsize::new(0));
        let overlap = Arc::new(OverlapDetector::default());
        let (token, drops) = DropCounter::new();
        let (h, r, o) = (handled.clone(), runs.clone(), overlap.clone());
        let handler = move |raised: &workq::Raised, _: &workq::WorkCtx<'_>| {
            let _held = &token;
            let _inside = o.enter();
            h.fetch_add(
                raised.iter().map(|(_, n)| n as usize).sum(),
                Ordering::SeqCst,
            );
            if r.fetch_add(1, Ordering::SeqCst) % 2 == 0 {
                panic!("{INJECTED}: handler");
            }
        };
        let builder = Events::builder("kevent").kinds(4).counted(true);
        let events = Arc::new(
            match &front {
                Front::Worker(w) => builder.build(w.clone(), handler),
                Front::Pool(p) => builder.build(p.clone(), handler),
                Front::Queue(q) => builder.build(q.clone(), handler),
            }
            .unwrap(),
        );
        let raisers: Vec<_> = (0..2u8)
            .map(|t| {
                let events = events.clone();
                spawn_bounded("raise events", move || {
                    for i in 0..RAISES {
                        events.raise(t * 2 + (i % 2) as u8).unwrap();
                        if i % 50 == 0 {
                            events.flush().unwrap();
                        }
                    }
                })
            })
            .collect();
        for r in raisers {
            r.join();
        }
        let e = events.clone();
        bounded30("flush the events", move || e.flush()).unwrap();
        // The item is idle before its panic is reported (so that the hook may
        // flush it): a queue flush is what waits for the reports.
        front.flush();
        assert_quiet(events.work(), "handler");
        let st = events.stats();
        for k in 0..4 {
            assert_eq!(st.raised[k], RAISES / 2, "kind {k}: {st:?}");
            assert_eq!(st.seen[k], st.raised[k], "kind {k}: {st:?}");
        }
        assert_eq!(handled.load(Ordering::SeqCst) as u64, 2 * RAISES);
        let handler_runs = runs.load(Ordering::SeqCst);
        assert_eq!(
            log.count_for("kevent"),
            handler_runs.div_ceil(2),
            "{:?}",
            log.reports()
        );
        assert_eq!(overlap.violations(), 0);
        // Later raises still run the handler.
        events.raise(0).unwrap();
        let e = events.clone();
        bounded30("flush the events", move || e.flush()).unwrap();
        assert_eq!(runs.load(Ordering::SeqCst), handler_runs + 1);
        front.still_works(&format!("{kind:?} after handler panics"));
        drop(events);
        front.destroy();
        drop(front);
        assert_eq!(drops.load(Ordering::SeqCst), 1);
    }
}

/// A backlog hook that panics on every report.
///
/// Documented (`EventsBuilder::on_backlog`, `check_backlog`): the hook's panic is
/// caught and ignored; it is not a panic of the handler's run (the queue's panic
/// hook sees nothing); every backlogged run is still counted; nothing is lost.
#[test]
fn panicking_backlog_hook_is_contained() {
    let _guard = test_guard();
    quiet_injected_panics();
    let log = PanicLog::new();
    let worker = Worker::builder()
        .name("backlog-panics")
        .freezable(true)
        .on_panic(log.hook())
        .build()
        .unwrap();
    let hook_calls = Arc::new(AtomicUsize::new(0));
    let hc = hook_calls.clone();
    let handled = Arc::new(AtomicUsize::new(0));
    let h = handled.clone();
    let (token, drops) = DropCounter::new();
    let overlap = Arc::new(OverlapDetector::default());
    let o = overlap.clone();
    let events = Events::builder("backlogged")
        .kinds(2)
        .counted(true)
        .backlog_folds(Some(1))
        .on_backlog(move |_| {
            hc.fetch_add(1, Ordering::SeqCst);
            panic!("{INJECTED}: the backlog hook");
        })
        .build(worker.clone(), move |raised, _| {
            let _held = &token;
            let _inside = o.enter();
            h.fetch_add(
                raised.iter().map(|(_, n)| n as usize).sum(),
                Ordering::SeqCst,
            );
        })
        .unwrap();
    for round in 0..5 {
        // Frozen: the raises pile up into one run, which is backlogged.
        let w = worker.clone();
        bounded30("freeze", move || w.freeze()).unwrap();
        for i in 0..10 {
            events.raise((i % 2) as u8).unwrap();
        }
        thaw(&worker);
        let e = events.work().clone();
        bounded30("flush the events", move || e.flush()).unwrap();
        assert_eq!(hook_calls.load(Ordering::SeqCst), round + 1);
    }
    assert_quiet(events.work(), "backlogged handler");
    let st = events.stats();
    assert_eq!(st.backlogged, 5);
    assert_eq!(st.raised, st.seen);
    assert_eq!(handled.load(Ordering::SeqCst), 50);
    assert!(log.reports().is_empty(), "{:?}", log.reports());
    assert_eq!(worker.stats().panics, 0);
    Front::Worker(worker.clone()).still_works("after backlog hook panics");
    assert_eq!(overlap.violations(), 0);
    drop(events);
    destroy(&worker);
    drop(worker);
    assert_eq!(drops.load(Ordering::SeqCst), 1, "the handler dropped once");
}

/// A stall hook that panics on every report.
///
/// Documented (`WorkQueueBuilder::on_stall`, `watchdog::patrol`): the hook's
/// panic is caught; the watchdog goes on reporting later stalls (a second
/// episode is reported too); the stalled item is not disturbed and, released,
/// ends normally.
#[test]
fn panicking_stall_hook_is_contained() {
    let _guard = test_guard();
    quiet_injected_panics();
    let pool = Pool::builder()
        .name("stall-panics")
        .min_threads(1)
        .max_threads(2)
        .build()
        .unwrap();
    let stalls = Arc::new(Mutex::new(Vec::<Stall>::new()));
    let s = stalls.clone();
    let wq = WorkQueue::builder("stall-panics-q")
        .pool(&pool)
        .watchdog(Some(Duration::from_millis(20)))
        .on_stall(move |r| {
            lock(&s).push(r.stall.clone());
            panic!("{INJECTED}: the stall hook");
        })
        .build()
        .unwrap();
    for episode in 1..=2 {
        let b = Blocker::new(&format!("slow-{episode}"));
        wq.queue(&b.work).unwrap();
        b.started.wait_for(1, "the slow item runs");
        wait_until("the stall is reported", || {
            lock(&stalls).iter().any(|st| {
                matches!(st, Stall::Running { work: Some(w), .. } if *w == format!("slow-{episode}"))
            })
        });
        b.release();
        flush_work(&b.work);
        assert_quiet(&b.work, "stalled item");
    }
    Front::Queue(wq.clone()).still_works("after stall hook panics");
    let w = wq.clone();
    bounded30("destroy the workqueue", move || w.destroy()).unwrap();
    drop(wq);
    destroy_pool(&pool);
}

// ---------------------------------------------------------------------------
// Hooks and spawners that panic with a payload whose own drop panics (a
// `Bomb`). The library's containment of a user panic must also contain the drop
// of its payload, as it does for a run's payload.
// ---------------------------------------------------------------------------

/// Runs `f`; a panic escaping from it becomes `Err(its message)` (its payload,
/// maybe another bomb, is forgotten rather than dropped).
fn escaped<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|p| {
        let msg = p
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "<non-string payload>".to_string());
        std::mem::forget(p);
        msg
    })
}

/// The panic hook panics with a bomb payload.
///
/// Documented (ARCHITECTURE "Panics": "A panic inside the hook ... is caught and
/// ignored"; `panic::report`: "a faulty hook cannot take a worker thread down"):
/// the worker thread goes on, the item is left quiet and its flush returns.
#[test]
fn panic_hook_panicking_with_a_bomb_payload_is_contained() {
    let _guard = test_guard();
    quiet_injected_panics();
    let worker = Worker::builder()
        .name("hook-bomb")
        .on_panic(|_| panic_with_bomb())
        .build()
        .unwrap();
    let boom = Probe::new("boom", false, |_, _| panic!("{INJECTED}: boom"));
    boom.queue_with(|w| worker.queue(w)).unwrap();
    let w = boom.work.clone();
    let flushed = bounded(5, "flush the panicked item", move || w.flush());
    assert!(flushed.is_ok());
    assert_quiet(&boom.work, "boom");
    Front::Worker(worker.clone()).still_works("after a bomb in the hook");
    destroy(&worker);
}

/// The spawner panics with a bomb payload at first use.
///
/// Documented ("a panic in the spawner counts as a failed start"): the queue call
/// returns `Error::Spawn`; no panic reaches the caller; the pool's destroy ends.
#[test]
fn spawner_panicking_with_a_bomb_payload_counts_as_a_failed_start() {
    let _guard = test_guard();
    quiet_injected_panics();
    let pool = Pool::builder()
        .name("spawner-bomb")
        .min_threads(1)
        .max_threads(2)
        // Give up at the first failed start: the call that made it fails.
        .start_attempts(1)
        .spawner(|_, _| panic_with_bomb())
        .on_spawn_failure(|_| {})
        .build()
        .unwrap();
    let work = Work::new(|_| {});
    let (p, w) = (pool.clone(), work.clone());
    let r = bounded30("queue with a bomb-panicking spawner", move || {
        escaped(|| p.queue(&w).map_err(|e| e.to_string()))
    });
    if let Err(msg) = &r {
        // The pool may be left with a start counted in flight: its drop would
        // wait for it forever.
        std::mem::forget(pool);
        panic!("a panic escaped Pool::queue: {msg}");
    }
    let r = r.unwrap();
    assert!(
        r.as_ref().is_err_and(|e| e.contains("spawner panicked")),
        "{r:?}"
    );
    let p = pool.clone();
    bounded(5, "destroy the pool", move || p.destroy()).unwrap();
}

/// The spawn-failure hook panics with a bomb payload.
///
/// Documented (`on_spawn_failure`; `spawn_consumer` calls the hook under
/// `catch_unwind`): the hook's panic is contained: the queue call returns its
/// error and no panic reaches the caller (nor the timer or pool threads, which
/// also start threads).
#[test]
fn spawn_failure_hook_panicking_with_a_bomb_payload_is_contained() {
    let _guard = test_guard();
    quiet_injected_panics();
    let pool = Pool::builder()
        .name("spawn-hook-bomb")
        .min_threads(1)
        .max_threads(2)
        // Give up at the first failed start: the call that made it fails.
        .start_attempts(1)
        .spawner(|_, _| Err(std::io::Error::other("refused")))
        .on_spawn_failure(|_| panic_with_bomb())
        .build()
        .unwrap();
    let work = Work::new(|_| {});
    let (p, w) = (pool.clone(), work.clone());
    let r = bounded30("queue with a bomb-panicking spawn hook", move || {
        escaped(|| p.queue(&w).map_err(|e| e.to_string()))
    });
    let r = r.unwrap_or_else(|msg| panic!("a panic escaped Pool::queue: {msg}"));
    assert!(r.is_err(), "{r:?}");
    let p = pool.clone();
    bounded(5, "destroy the pool", move || p.destroy()).unwrap();
}

/// The backlog hook panics with a bomb payload.
///
/// Documented (`check_backlog` calls the hook under `catch_unwind`): the hook's
/// panic is contained in the hook; it is not a panic of the handler's run.
#[test]
fn backlog_hook_panicking_with_a_bomb_payload_is_contained() {
    let _guard = test_guard();
    quiet_injected_panics();
    let log = PanicLog::new();
    let worker = Worker::builder()
        .name("backlog-bomb")
        .on_panic(log.hook())
        .build()
        .unwrap();
    let events = Events::builder("bomb-backlog")
        .kinds(1)
        .counted(true)
        .backlog_folds(Some(0))
        .on_backlog(|_| panic_with_bomb())
        .build(worker.clone(), |_, _| {})
        .unwrap();
    events.raise(0).unwrap();
    let e = events.work().clone();
    bounded30("flush the events", move || e.flush()).unwrap();
    assert_quiet(events.work(), "handler");
    assert_eq!(events.stats().backlogged, 1);
    assert_eq!(events.stats().raised, events.stats().seen);
    assert!(log.reports().is_empty(), "{:?}", log.reports());
    assert_eq!(worker.stats().panics, 0);
    drop(events);
    destroy(&worker);
}

/// The stall hook panics with a bomb payload.
///
/// Documented (`watchdog::patrol` calls the hook under `catch_unwind`): the
/// watchdog goes on and reports the next stall too.
///
/// Run it alone (`--ignored --exact`): while the bug is there it ends the
/// process-wide watchdog thread, which silences every later stall report of the
/// test process (the `deadlock` test relies on them).
#[test]
fn stall_hook_panicking_with_a_bomb_payload_is_contained() {
    let _guard = test_guard();
    quiet_injected_panics();
    let pool = Pool::builder()
        .name("stall-bomb")
        .min_threads(1)
        .build()
        .unwrap();
    let reports = Arc::new(AtomicUsize::new(0));
    let r = reports.clone();
    let wq = WorkQueue::builder("stall-bomb-q")
        .pool(&pool)
        .watchdog(Some(Duration::from_millis(20)))
        .on_stall(move |_| {
            r.fetch_add(1, Ordering::SeqCst);
            panic_with_bomb();
        })
        .build()
        .unwrap();
    for episode in 1..=2 {
        let b = Blocker::new(&format!("slow-{episode}"));
        wq.queue(&b.work).unwrap();
        b.started.wait_for(1, "the slow item runs");
        wait_until("the stall is reported", || {
            reports.load(Ordering::SeqCst) >= episode
        });
        b.release();
        flush_work(&b.work);
    }
    let w = wq.clone();
    bounded30("destroy the workqueue", move || w.destroy()).unwrap();
}

/// A waker that panics when woken (an executor bug, or a hostile one).
struct PanickyWaker(Arc<AtomicUsize>);

impl std::task::Wake for PanickyWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
        panic!("{INJECTED}: waker");
    }
}

/// An async waiter's waker panics when the worker thread wakes it. Not in the
/// documented list of hooks, but the same kind of user code on a workq thread.
///
/// Expected by the README's contract ("the worker goes on"; every other piece of
/// user code the library calls on its threads is contained): the waker's panic
/// does not end the worker thread; later items run.
#[test]
fn panicking_waker_does_not_kill_the_worker_thread() {
    use std::future::Future;
    let _guard = test_guard();
    quiet_injected_panics();
    let worker = Worker::new("waker-panics").unwrap();
    let blocker = Blocker::new("blocked");
    worker.queue(&blocker.work).unwrap();
    blocker.started.wait_for(1, "the item runs");
    let woken = Arc::new(AtomicUsize::new(0));
    let waker = std::task::Waker::from(Arc::new(PanickyWaker(woken.clone())));
    let mut cx = std::task::Context::from_waker(&waker);
    let mut fut = blocker.work.flush_async();
    assert!(std::pin::Pin::new(&mut fut).poll(&mut cx).is_pending());
    blocker.release();
    wait_until("the waker is woken", || woken.load(Ordering::SeqCst) > 0);
    Front::Worker(worker.clone()).still_works("after a panicking waker");
    drop(fut);
    destroy(&worker);
}
