//! Behaviour tests of the dedicated `Worker`: drain, destroy, freeze / thaw, panics,
//! misuse errors, flush, the drop of the last handle, FIFO order, builder errors.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;
use workq::{Error, Queued, Work, Worker};

/// A value shared with work items and hooks.
type Shared<T> = Arc<Mutex<T>>;

/// What a panic hook saw: item name, worker name, message.
type Report = (Option<String>, String, String);

thread_local! {
    /// A token parked in a worker thread's thread-local storage: it is dropped when
    /// that thread exits, which is how the tests see the thread end.
    static EXIT_TOKEN: RefCell<Option<DropCounter>> = const { RefCell::new(None) };
}

/// An item that parks a token in the thread-local storage of the thread running
/// it; the returned count becomes 1 when that thread exits.
fn thread_exit_probe(name: &str) -> (Work, Arc<AtomicUsize>) {
    let (token, exits) = DropCounter::new();
    let token = Mutex::new(Some(token));
    let work = Work::named(name, move |_ctx| {
        if let Some(t) = lock(&token).take() {
            EXIT_TOKEN.with(|slot| *slot.borrow_mut() = Some(t));
        }
    });
    (work, exits)
}

/// `drain` with an item that requeues itself 1,000 times: all 1,001 runs happen;
/// meanwhile every outside queue call (a new item, or the running item itself) gets
/// Draining, while the item's own requeues succeed. The first run blocks until the
/// test has seen the refusal, so the drain is in progress deterministically.
///
/// Fails if drain returns early (fewer runs), refuses the item's own requeue, lets
/// outside work in, or leaves the worker refusing work afterwards.
#[test]
fn drain_runs_a_self_requeueing_item_to_the_end_and_refuses_outside_work() {
    let _guard = test_guard();
    const REQUEUES: usize = 1_000;
    let worker = Worker::new("wk-drain").expect("worker");
    let (gate, opener) = gate();
    let started = Signal::new();
    let runs = Arc::new(AtomicUsize::new(0));
    let bad: Arc<Mutex<Vec<String>>> = Arc::default();
    let chain = {
        let (started, runs, bad) = (started.clone(), runs.clone(), bad.clone());
        Work::named("chain", move |ctx| {
            let n = runs.fetch_add(1, Ordering::SeqCst) + 1;
            if n == 1 {
                started.notify();
                gate.wait();
            }
            if n <= REQUEUES {
                match ctx.requeue() {
                    Ok(Queued::Rerun) => {}
                    other => lock(&bad).push(format!("run {n}: {other:?}")),
                }
            }
        })
    };
    let (outsider, outsider_runs) = counting_work("outsider");
    assert!(matches!(worker.queue(&chain), Ok(Queued::Scheduled)));
    started.wait_for(1, "chain started");
    let drainer = {
        let w = worker.clone();
        spawn_bounded("Worker::drain", move || w.drain())
    };
    // Until the drain has begun, an outside call succeeds; it is undone at once (the
    // worker is blocked in `chain`, so the outsider cannot have run).
    let mut refusal = None;
    wait_until("the drain refuses outside work", || {
        match worker.queue(&outsider) {
            Ok(Queued::Scheduled) => {
                assert!(outsider.cancel(), "the outsider was pending");
                false
            }
            Ok(other) => panic!("outsider: unexpected {other:?}"),
            Err(e) => {
                refusal = Some(e);
                true
            }
        }
    });
    assert!(
        matches!(&refusal, Some(Error::Draining { queue }) if queue == "wk-drain"),
        "{refusal:?}"
    );
    // The running item queued from outside: refused too (no Rerun sneaks in).
    let r = worker.queue(&chain);
    assert!(matches!(r, Err(Error::Draining { .. })), "{r:?}");
    opener.open();
    let r = drainer.join();
    assert!(matches!(r, Ok(())), "{r:?}");
    assert_eq!(
        runs.load(Ordering::SeqCst),
        REQUEUES + 1,
        "drain returned early"
    );
    assert!(
        lock(&bad).is_empty(),
        "own requeues refused: {:?}",
        lock(&bad)
    );
    assert!(!chain.is_pending() && !chain.is_running());
    assert_eq!(outsider_runs.load(Ordering::SeqCst), 0);
    assert_eq!(worker.stats().runs, REQUEUES as u64 + 1);
    // After the drain the worker takes outside work again.
    assert!(matches!(worker.queue(&outsider), Ok(Queued::Scheduled)));
    flush_work(&outsider);
    assert_eq!(outsider_runs.load(Ordering::SeqCst), 1);
}

/// `destroy` drains like `drain`: the worker's own items may still queue (here one
/// requeues itself 100 times, starting only once destroy is waiting), outside calls
/// are refused with Destroyed, and destroy returns once the chain is done.
///
/// Fails if destroy stops the worker without draining (the requeues would get
/// Destroyed and the chain be cut short), or lets outside work in.
#[test]
fn destroy_drains_a_self_requeueing_item_to_the_end() {
    let _guard = test_guard();
    const REQUEUES: usize = 100;
    let worker = Worker::new("wk-destroy-chain").expect("worker");
    let (gate, opener) = gate();
    let started = Signal::new();
    let runs = Arc::new(AtomicUsize::new(0));
    let bad: Shared<Vec<String>> = Arc::default();
    let chain = {
        let (started, runs, bad) = (started.clone(), runs.clone(), bad.clone());
        Work::named("chain", move |ctx| {
            let n = runs.fetch_add(1, Ordering::SeqCst) + 1;
            if n == 1 {
                started.notify();
                gate.wait();
            }
            if n <= REQUEUES {
                match ctx.requeue() {
                    Ok(Queued::Rerun) => {}
                    other => lock(&bad).push(format!("run {n}: {other:?}")),
                }
            }
        })
    };
    assert!(matches!(worker.queue(&chain), Ok(Queued::Scheduled)));
    started.wait_for(1, "chain started");
    // Asleep inside destroy: it has closed the worker and waits for the chain.
    let destroyer = {
        let w = worker.clone();
        spawn_until_asleep("Worker::destroy", move || w.destroy())
    };
    let (outsider, outsider_runs) = counting_work("outsider");
    let r = worker.queue(&outsider);
    assert!(
        matches!(&r, Err(Error::Destroyed { queue }) if queue == "wk-destroy-chain"),
        "{r:?}"
    );
    opener.open();
    let r = destroyer.join();
    assert!(r.is_ok(), "{r:?}");
    assert!(
        lock(&bad).is_empty(),
        "own requeues refused: {:?}",
        lock(&bad)
    );
    assert_eq!(
        runs.load(Ordering::SeqCst),
        REQUEUES + 1,
        "the chain was cut short"
    );
    assert_eq!(outsider_runs.load(Ordering::SeqCst), 0);
    assert!(!chain.is_pending() && !chain.is_running());
}

/// After `destroy` (which runs what was pending, even on a frozen worker, and may
/// be called twice) every queue call gets Destroyed naming the worker; the refused
/// item is left idle and usable elsewhere; its closure is dropped exactly once, when
/// the last handle goes, not before.
///
/// Fails if destroy loses pending work, a queue call after it succeeds or reports
/// another error, the worker keeps a reference to a refused item, or the closure is
/// dropped early or twice.
#[test]
fn queue_after_destroy_is_refused_and_the_closure_is_dropped_once() {
    let _guard = test_guard();
    let worker = frozen_worker("wk-destroy");
    let (token, drops) = DropCounter::new();
    let runs: Arc<Mutex<Vec<String>>> = Arc::default();
    let work = {
        let runs = runs.clone();
        Work::named("survivor", move |ctx| {
            let _held = &token;
            lock(&runs).push(ctx.queue_name().to_string());
        })
    };
    assert!(matches!(worker.queue(&work), Ok(Queued::Scheduled)));
    destroy(&worker); // thaws, drains, stops, joins
    assert_eq!(
        *lock(&runs),
        vec!["wk-destroy"],
        "destroy ran the pending item"
    );
    destroy(&worker); // a second call is fine
    for _ in 0..2 {
        let r = worker.queue(&work);
        assert!(
            matches!(&r, Err(Error::Destroyed { queue }) if queue == "wk-destroy"),
            "{r:?}"
        );
    }
    let (fresh, fresh_runs) = counting_work("fresh");
    assert!(matches!(worker.queue(&fresh), Err(Error::Destroyed { .. })));
    assert!(!work.is_pending() && !work.is_running());
    assert_eq!(
        drops.load(Ordering::SeqCst),
        0,
        "dropped while handles remain"
    );

    // The refused item is not stuck: it runs on another worker.
    let other = Worker::new("wk-after-destroy").expect("worker");
    assert!(matches!(other.queue(&work), Ok(Queued::Scheduled)));
    flush_work(&work);
    assert_eq!(*lock(&runs), vec!["wk-destroy", "wk-after-destroy"]);
    destroy(&other);
    drop(other);
    drop(worker);

    let clone = work.clone();
    drop(work);
    assert_eq!(
        drops.load(Ordering::SeqCst),
        0,
        "dropped while a handle remains"
    );
    drop(clone);
    assert_eq!(
        drops.load(Ordering::SeqCst),
        1,
        "dropped exactly once with the last handle"
    );
    assert_eq!(fresh_runs.load(Ordering::SeqCst), 0);
}

/// `freeze` waits for the running item to end; items queued while frozen stay
/// pending and none runs; a worker flush waits for the thaw; after `thaw`
/// everything ran exactly once.
///
/// Fails if freeze returns while an item runs, a frozen worker runs anything, thaw
/// loses or duplicates an item, or the flush returns before the thaw.
#[test]
fn freeze_waits_for_the_running_item_holds_new_ones_and_thaw_runs_them_once() {
    let _guard = test_guard();
    let worker = freezable_worker("wk-freeze");
    let blocker = Blocker::new("running-at-freeze");
    assert!(matches!(worker.queue(&blocker.work), Ok(Queued::Scheduled)));
    blocker.started.wait_for(1, "blocker started");
    let freezer = {
        let (w, finished) = (worker.clone(), blocker.finished.clone());
        spawn_bounded("Worker::freeze", move || {
            let r = w.freeze();
            (r, finished.count())
        })
    };
    // Freeze has begun (it marks the worker frozen first) and cannot have returned:
    // the running item is still blocked on its gate.
    wait_until("the worker is marked frozen", || worker.is_frozen());
    blocker.release();
    let (r, finished_at_return) = freezer.join();
    assert!(matches!(r, Ok(())), "{r:?}");
    assert_eq!(
        finished_at_return, 1,
        "freeze returned while the item was still running"
    );
    assert!(worker.is_frozen());

    let items: Vec<(Work, Arc<AtomicUsize>)> = (0..10)
        .map(|i| counting_work(&format!("frozen-{i}")))
        .collect();
    for (w, _) in &items {
        assert!(matches!(worker.queue(w), Ok(Queued::Scheduled)));
        assert!(matches!(worker.queue(w), Ok(Queued::AlreadyPending)));
    }
    assert!(matches!(worker.queue(&blocker.work), Ok(Queued::Scheduled)));
    // Gives a worker that wrongly runs items while frozen the chance to do so.
    thread::sleep(Duration::from_millis(50));
    for (w, runs) in &items {
        assert_eq!(runs.load(Ordering::SeqCst), 0, "ran while frozen");
        assert!(w.is_pending());
    }
    assert_eq!(blocker.started.count(), 1, "ran while frozen");
    assert_eq!(worker.stats().runs, 1);

    let flusher = {
        let w = worker.clone();
        spawn_until_asleep("Worker::flush of a frozen worker", move || w.flush())
    };
    assert!(
        flusher.try_join().is_none(),
        "flush returned before the thaw"
    );
    thaw(&worker);
    assert!(!worker.is_frozen());
    let r = flusher.join();
    assert!(matches!(r, Ok(true)), "{r:?}");
    for (w, runs) in &items {
        assert_eq!(runs.load(Ordering::SeqCst), 1, "{:?}", w.name());
        assert!(!w.is_pending() && !w.is_running());
    }
    assert_eq!(blocker.started.count(), 2);
    assert_eq!(worker.stats().runs, 12);
}

/// A panicking run: the hook is called once with the item's name, the worker's name
/// and the message; the worker goes on with the next item; the item is idle and
/// can be queued again; flushes return; the counters count it.
///
/// Fails if the panic kills the worker thread (later items never run, flushes hang:
/// watchdog), leaves the item stuck, or is reported wrongly or more than once.
#[test]
fn a_panicking_run_is_reported_once_and_the_worker_goes_on() {
    let _guard = test_guard();
    let reports: Shared<Vec<Report>> = Arc::default();
    let worker = {
        let reports = reports.clone();
        Worker::builder()
            .name("wk-panic")
            .on_panic(move |r| {
                lock(&reports).push((
                    r.work.map(str::to_string),
                    r.queue.to_string(),
                    r.message.to_string(),
                ));
            })
            .build()
            .expect("worker")
    };
    let boom_runs = Arc::new(AtomicUsize::new(0));
    let boom = {
        let runs = boom_runs.clone();
        Work::named("boom", move |_ctx| {
            if runs.fetch_add(1, Ordering::SeqCst) == 0 {
                panic!("kaboom {}", 42);
            }
        })
    };
    let (after, after_runs) = counting_work("after");
    assert!(matches!(worker.queue(&boom), Ok(Queued::Scheduled)));
    assert!(matches!(worker.queue(&after), Ok(Queued::Scheduled)));
    flush_worker(&worker);
    assert_eq!(after_runs.load(Ordering::SeqCst), 1, "the worker went on");
    assert_eq!(boom_runs.load(Ordering::SeqCst), 1);
    assert!(!boom.is_pending() && !boom.is_running());
    assert!(!flush_work(&boom), "idle after the panic");
    assert!(!cancel_sync(&boom), "nothing to cancel after the panic");

    assert!(matches!(worker.queue(&boom), Ok(Queued::Scheduled)));
    flush_work(&boom);
    assert_eq!(
        boom_runs.load(Ordering::SeqCst),
        2,
        "queued again after the panic"
    );
    assert!(matches!(worker.queue(&after), Ok(Queued::Scheduled)));
    flush_worker(&worker);
    assert_eq!(after_runs.load(Ordering::SeqCst), 2);

    assert_eq!(
        *lock(&reports),
        vec![(
            Some("boom".to_string()),
            "wk-panic".to_string(),
            "kaboom 42".to_string()
        )]
    );
    let stats = worker.stats();
    assert_eq!(stats.panics, 1);
    assert_eq!(stats.runs, 4);
}

/// A run that is queued again during the run and then panics still gets its re-run.
///
/// Fails if the panic path drops the requested run (or its flush colour, which would
/// make the worker flush below hang: watchdog).
#[test]
fn a_rerun_requested_before_a_panic_still_happens() {
    let _guard = test_guard();
    let panics = Arc::new(AtomicUsize::new(0));
    let worker = {
        let panics = panics.clone();
        Worker::builder()
            .name("wk-panic-rerun")
            .on_panic(move |_r| {
                panics.fetch_add(1, Ordering::SeqCst);
            })
            .build()
            .expect("worker")
    };
    let runs = Arc::new(AtomicUsize::new(0));
    let work = {
        let runs = runs.clone();
        Work::named("requeue-then-panic", move |ctx| {
            if runs.fetch_add(1, Ordering::SeqCst) == 0 {
                ctx.requeue().expect("requeue");
                panic!("after requeue");
            }
        })
    };
    assert!(matches!(worker.queue(&work), Ok(Queued::Scheduled)));
    flush_work(&work);
    flush_worker(&worker);
    assert_eq!(runs.load(Ordering::SeqCst), 2);
    assert_eq!(panics.load(Ordering::SeqCst), 1);
    assert_eq!(worker.stats().panics, 1);
}

/// What the PanicReport docs promise: "The queue that ran the item has already
/// recovered when the hook sees this: the item is idle again [...] and flushes and
/// cancels of it return normally."
///
/// Fails if the hook runs before the run is finished: the item is then still
/// RUNNING, and `cancel_sync` / `flush` of it from the hook wait for a run that can
/// only finish after the hook returns (a permanent deadlock of the worker, caught
/// by the watchdog). That was a real bug, fixed by "Report a run's panic after the
/// run is finished, so the hook sees the item idle".
#[test]
fn the_panic_hook_sees_the_item_idle() {
    let _guard = test_guard();
    let slot: Arc<Mutex<Option<Work>>> = Arc::default();
    let seen: Shared<Vec<String>> = Arc::default();
    let worker = {
        let (slot, seen) = (slot.clone(), seen.clone());
        Worker::builder()
            .name("wk-hook-state")
            .on_panic(move |_r| {
                let Some(w) = lock(&slot).clone() else {
                    return;
                };
                let state = (w.is_pending(), w.is_running());
                let flushed = w.flush();
                let cancelled = w.cancel_sync();
                lock(&seen).push(format!("{state:?} {flushed:?} {cancelled:?}"));
            })
            .build()
            .expect("worker")
    };
    let work = Work::named("boom", |_ctx| panic!("boom"));
    *lock(&slot) = Some(work.clone());
    assert!(matches!(worker.queue(&work), Ok(Queued::Scheduled)));
    flush_worker(&worker);
    lock(&slot).take();
    assert_eq!(
        *lock(&seen),
        vec!["(false, false) Ok(false) Ok(false)"],
        "(is_pending, is_running), flush and cancel_sync of the item, from the hook"
    );
    // The cancel_sync from the hook left nothing behind: the item queues and runs.
    assert!(matches!(worker.queue(&work), Ok(Queued::Scheduled)));
    flush_worker(&worker);
    assert_eq!(worker.stats().panics, 2);
}

/// Calls from the panic hook (which runs on the worker's thread, outside any run)
/// that would wait for the worker's other work: `Worker::flush`, `Worker::drain`
/// and `Work::flush` of another item pending on the worker. Only the worker's own
/// thread could run that work, so waiting can never end; like the same calls from
/// an item, they must be refused with WouldDeadlock ("misuse gives an Error, never a
/// hang").
///
/// Fails (watchdog) if any of them waits: the worker thread is then stuck for good.
/// That was a real bug, fixed by "refuse waits from a queue's own threads outside
/// a run (panic hook) with WouldDeadlock".
#[test]
fn waits_from_the_panic_hook_are_refused() {
    let _guard = test_guard();
    let slot: Shared<Option<(Worker, Work)>> = Arc::default();
    let results: Shared<Vec<(&'static str, String, bool)>> = Arc::default();
    let worker = {
        let (slot, results) = (slot.clone(), results.clone());
        Worker::builder()
            .name("wk-hook-waits")
            .freezable(true)
            .on_panic(move |_r| {
                let Some((w, other)) = lock(&slot).clone() else {
                    return;
                };
                let record = |what: &'static str, r: Result<(), Error>| {
                    let refused = matches!(r, Err(Error::WouldDeadlock { .. }));
                    lock(&results).push((what, format!("{r:?}"), refused));
                };
                record("Worker::flush", w.flush().map(drop));
                record("Worker::drain", w.drain());
                record(
                    "Work::flush of an item pending here",
                    other.flush().map(drop),
                );
            })
            .build()
            .expect("worker")
    };
    let (other, other_runs) = counting_work("other");
    // The slot keeps a Worker handle, so a failing test does not hang in the drop.
    *lock(&slot) = Some((worker.clone(), other.clone()));
    bounded30("freeze", {
        let w = worker.clone();
        move || w.freeze()
    })
    .expect("freeze");
    let boom = Work::named("boom", |_ctx| panic!("boom"));
    assert!(matches!(worker.queue(&boom), Ok(Queued::Scheduled)));
    assert!(matches!(worker.queue(&other), Ok(Queued::Scheduled)));
    thaw(&worker);
    flush_work(&other);
    lock(&slot).take();
    assert_eq!(other_runs.load(Ordering::SeqCst), 1);
    let results = lock(&results).clone();
    assert_eq!(results.len(), 3, "{results:?}");
    for (what, r, refused) in &results {
        assert!(refused, "{what} from the panic hook: {r}");
    }
}

/// A run that was queued again and then panics: a `Work::flush` made while the
/// panic is being reported waits for the requested re-run too. (The first run's
/// hook blocks until the flush is waiting; the re-run blocks until the test has
/// checked that the flush is still waiting.)
///
/// Fails if the flush counts the panicked run as finished only after computing
/// what to wait for (it then returns as soon as the panicked run is counted, while
/// the re-run has not finished).
#[test]
fn flush_during_a_panic_report_waits_for_the_requested_rerun() {
    let _guard = test_guard();
    let (hook_gate, hook_opener) = gate();
    let in_hook = Signal::new();
    let worker = {
        let (hook_gate, in_hook) = (hook_gate.clone(), in_hook.clone());
        Worker::builder()
            .name("wk-panic-flush")
            .on_panic(move |_r| {
                in_hook.notify();
                hook_gate.wait();
            })
            .build()
            .expect("worker")
    };
    let (rerun_gate, rerun_opener) = gate();
    let rerun_started = Signal::new();
    let rerun_finished = Signal::new();
    let runs = Arc::new(AtomicUsize::new(0));
    let work = {
        let (runs, rerun_started, rerun_finished) =
            (runs.clone(), rerun_started.clone(), rerun_finished.clone());
        Work::named("rerun-after-panic", move |ctx| {
            if runs.fetch_add(1, Ordering::SeqCst) == 0 {
                ctx.requeue().expect("requeue");
                panic!("first run");
            }
            rerun_started.notify();
            rerun_gate.wait();
            rerun_finished.notify();
        })
    };
    assert!(matches!(worker.queue(&work), Ok(Queued::Scheduled)));
    in_hook.wait_for(1, "the panic hook runs");
    assert!(work.is_pending(), "the re-run is still to come");
    let flusher = {
        let (work, rerun_finished) = (work.clone(), rerun_finished.clone());
        spawn_until_asleep("Work::flush during the panic report", move || {
            let r = work.flush();
            (r, rerun_finished.count())
        })
    };
    hook_opener.open();
    rerun_started.wait_for(1, "the re-run starts");
    // The re-run cannot finish before its gate opens, so a correct flush is still
    // waiting; the sleep only gives a wrong one the time to return.
    thread::sleep(Duration::from_millis(50));
    let early = flusher.try_join();
    rerun_opener.open();
    assert!(
        early.is_none(),
        "Work::flush returned {early:?} while the requested re-run was still running"
    );
    let (r, finished_at_return) = flusher.join();
    assert!(matches!(r, Ok(true)), "{r:?}");
    assert_eq!(finished_at_return, 1);
}

/// An item whose run panics on worker B is queued on worker A while B reports the
/// panic (the hook sees the item idle, so it may move). A `Work::flush` of it on A
/// must wait for its run on A; A is frozen, so the flush cannot return before the
/// thaw. (B's hook blocks until the flush is waiting; then any event on A wakes
/// the flusher, which must go back to waiting.)
///
/// Fails if the item's count of finished runs is raised by B after the item is
/// already bound to A: the flush on A then takes B's panicked run for the run it
/// waits for. Without a panic the same window exists, only narrow: between
/// `finish` making the item idle and counting the run done (found by
/// tests/stress.rs).
#[test]
fn flush_on_another_worker_is_not_satisfied_by_the_previous_workers_run() {
    let _guard = test_guard();
    let (hook_gate, hook_opener) = gate();
    let in_hook = Signal::new();
    let b = {
        let (hook_gate, in_hook) = (hook_gate.clone(), in_hook.clone());
        Worker::builder()
            .name("wk-move-b")
            .on_panic(move |_r| {
                in_hook.notify();
                hook_gate.wait();
            })
            .build()
            .expect("worker")
    };
    let a = frozen_worker("wk-move-a");
    let ran_on: Shared<Vec<String>> = Arc::default();
    let work = {
        let ran_on = ran_on.clone();
        Work::named("mover", move |ctx| {
            lock(&ran_on).push(ctx.queue_name().to_string());
            if ctx.queue_name() == "wk-move-b" {
                panic!("first run, on B");
            }
        })
    };
    assert!(matches!(b.queue(&work), Ok(Queued::Scheduled)));
    in_hook.wait_for(1, "B's panic hook runs");
    assert!(
        !work.is_pending() && !work.is_running(),
        "idle during the hook"
    );
    assert!(matches!(a.queue(&work), Ok(Queued::Scheduled)));
    let flusher = {
        let (work, ran_on) = (work.clone(), ran_on.clone());
        spawn_until_asleep("Work::flush on A", move || {
            let r = work.flush();
            (r, lock(&ran_on).len())
        })
    };
    hook_opener.open();
    // B has counted its run once its flush returns.
    flush_worker(&b);
    // Wake the flusher: cancelling another item on A notifies A's waiters.
    let (other, _) = counting_work("other");
    assert!(matches!(a.queue(&other), Ok(Queued::Scheduled)));
    assert!(other.cancel());
    // A correct flush goes back to waiting (the item is still pending on frozen A);
    // the sleep only gives a wrong one the time to return.
    thread::sleep(Duration::from_millis(50));
    let early = flusher.try_join();
    thaw(&a);
    assert!(
        early.is_none(),
        "Work::flush on A returned {early:?} while the item was still pending there \
         (ran on: {:?})",
        lock(&ran_on)
    );
    let (r, runs_at_return) = flusher.join();
    assert!(matches!(r, Ok(true)), "{r:?}");
    assert_eq!(runs_at_return, 2, "the run on A had finished");
    assert_eq!(*lock(&ran_on), vec!["wk-move-b", "wk-move-a"]);
}

/// `flush`, `drain`, `destroy` and `freeze` of a worker from one of its own items,
/// and the flush of another item pending on the same worker, are refused with
/// WouldDeadlock and have no effect (not frozen, not destroyed, the other item
/// still runs once).
///
/// Fails if any of them hangs the worker (watchdog on the flush below), is not
/// refused, or half-happens.
#[test]
fn worker_calls_from_its_own_items_would_deadlock() {
    let _guard = test_guard();
    let worker = frozen_worker("wk-own-calls");
    let slot: Arc<Mutex<Option<Worker>>> = Arc::new(Mutex::new(Some(worker.clone())));
    let (other, other_runs) = counting_work("other");
    let results: Shared<Vec<(&'static str, String, bool)>> = Arc::default();
    let caller = {
        let (slot, other, results) = (slot.clone(), other.clone(), results.clone());
        Work::named("caller", move |_ctx| {
            let Some(w) = lock(&slot).clone() else {
                return;
            };
            let record = |what: &'static str, r: Result<(), Error>| {
                let refused = matches!(r, Err(Error::WouldDeadlock { .. }));
                lock(&results).push((what, format!("{r:?}"), refused));
            };
            record("Worker::flush", w.flush().map(drop));
            record("Worker::drain", w.drain());
            record("Worker::destroy", w.destroy().map(drop));
            record("Worker::freeze", w.freeze());
            record(
                "Work::flush of an item pending here",
                other.flush().map(drop),
            );
        })
    };
    assert!(matches!(worker.queue(&caller), Ok(Queued::Scheduled)));
    assert!(matches!(worker.queue(&other), Ok(Queued::Scheduled)));
    thaw(&worker);
    flush_worker(&worker);
    let results = lock(&results).clone();
    assert_eq!(results.len(), 5, "{results:?}");
    for (what, r, refused) in &results {
        assert!(refused, "{what} from the worker's own item: {r}");
    }
    assert!(!worker.is_frozen(), "a refused freeze froze the worker");
    assert_eq!(other_runs.load(Ordering::SeqCst), 1);
    // Not destroyed: the worker still takes and runs work.
    let (later, later_runs) = counting_work("later");
    assert!(matches!(worker.queue(&later), Ok(Queued::Scheduled)));
    flush_worker(&worker);
    assert_eq!(later_runs.load(Ordering::SeqCst), 1);
    lock(&slot).take();
}

/// An item pending or running on worker A cannot be queued on worker B (Busy, naming
/// B); it still runs exactly once on A; once idle it can be queued on B.
///
/// Fails if the item moves while busy, runs twice or on the wrong worker, or stays
/// refused once idle.
#[test]
fn an_item_busy_on_one_worker_cannot_be_queued_on_another() {
    let _guard = test_guard();
    let a = frozen_worker("wk-busy-a");
    let b = Worker::new("wk-busy-b").expect("worker");
    let ran_on: Arc<Mutex<Vec<String>>> = Arc::default();
    let work = {
        let ran_on = ran_on.clone();
        Work::named("mover", move |ctx| {
            lock(&ran_on).push(ctx.queue_name().to_string());
        })
    };
    // Pending on A.
    assert!(matches!(a.queue(&work), Ok(Queued::Scheduled)));
    let r = b.queue(&work);
    assert!(
        matches!(&r, Err(Error::Busy { queue }) if queue == "wk-busy-b"),
        "{r:?}"
    );
    assert!(work.is_pending());
    thaw(&a);
    flush_work(&work);
    flush_worker(&b);
    assert_eq!(*lock(&ran_on), vec!["wk-busy-a"]);
    // Idle: may move to B.
    assert!(matches!(b.queue(&work), Ok(Queued::Scheduled)));
    flush_work(&work);
    assert_eq!(*lock(&ran_on), vec!["wk-busy-a", "wk-busy-b"]);

    // Running on B.
    let blocker = Blocker::new("busy-runner");
    assert!(matches!(b.queue(&blocker.work), Ok(Queued::Scheduled)));
    blocker.started.wait_for(1, "blocker started");
    let r = a.queue(&blocker.work);
    assert!(
        matches!(&r, Err(Error::Busy { queue }) if queue == "wk-busy-a"),
        "{r:?}"
    );
    blocker.release();
    flush_work(&blocker.work);
    flush_worker(&a);
    assert_eq!(blocker.finished.count(), 1, "ran once, on B");
    assert!(matches!(a.queue(&blocker.work), Ok(Queued::Scheduled)));
    flush_work(&blocker.work);
    assert_eq!(blocker.finished.count(), 2);
    assert_eq!(a.stats().runs, 2);
    assert_eq!(b.stats().runs, 2);
}

/// `freeze` / `thaw` on a worker not built freezable: NotFreezable naming it, and no
/// effect.
///
/// Fails if the call is accepted or freezes the worker anyway.
#[test]
fn freeze_and_thaw_need_a_freezable_worker() {
    let _guard = test_guard();
    let worker = Worker::new("wk-not-freezable").expect("worker");
    let w = worker.clone();
    let r = bounded30("freeze of a non-freezable worker", move || w.freeze());
    assert!(
        matches!(&r, Err(Error::NotFreezable { queue }) if queue == "wk-not-freezable"),
        "{r:?}"
    );
    let r = worker.thaw();
    assert!(
        matches!(&r, Err(Error::NotFreezable { queue }) if queue == "wk-not-freezable"),
        "{r:?}"
    );
    assert!(!worker.is_frozen());
    let (work, runs) = counting_work("still-runs");
    assert!(matches!(worker.queue(&work), Ok(Queued::Scheduled)));
    flush_work(&work);
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}

/// Builder errors: empty name, name with NUL, stack below 16 KiB (InvalidConfig
/// naming the setting), a CPU that does not exist (InvalidCpu with the CPUs that
/// do). The limits themselves are accepted: a 16 KiB stack, an available CPU.
///
/// Fails if a bad setting is accepted (or panics, e.g. the NUL name reaching
/// `std::thread::Builder`), or a valid one is refused.
#[test]
fn builder_refuses_bad_settings() {
    let _guard = test_guard();
    let r = Worker::builder().name("").build();
    assert!(
        matches!(
            r,
            Err(Error::InvalidConfig {
                setting: "name",
                ..
            })
        ),
        "{r:?}"
    );
    let r = Worker::new("");
    assert!(
        matches!(
            r,
            Err(Error::InvalidConfig {
                setting: "name",
                ..
            })
        ),
        "{r:?}"
    );
    let r = Worker::builder().name("bad\0name").build();
    assert!(
        matches!(
            r,
            Err(Error::InvalidConfig {
                setting: "name",
                ..
            })
        ),
        "{r:?}"
    );
    for bytes in [0, 1, 16 * 1024 - 1] {
        let r = Worker::builder()
            .name("wk-tiny-stack")
            .stack_size(bytes)
            .build();
        assert!(
            matches!(
                r,
                Err(Error::InvalidConfig {
                    setting: "stack_size",
                    ..
                })
            ),
            "{bytes}: {r:?}"
        );
    }
    // The accepted side of each limit.
    let small = Worker::builder()
        .name("wk-16k-stack")
        .stack_size(16 * 1024)
        .build()
        .expect("16 KiB is the minimum, and allowed");
    #[allow(unused_mut)]
    let mut accepted = vec![small];
    #[cfg(feature = "cpu-affinity")]
    {
        let r = Worker::builder()
            .name("wk-no-such-cpu")
            .cpu(100_000)
            .build();
        let available = match r {
            Err(Error::InvalidCpu {
                cpu: 100_000,
                available,
            }) => available,
            other => panic!("cpu 100_000: {other:?}"),
        };
        assert!(!available.is_empty(), "this process may run somewhere");
        assert!(!available.contains(&100_000));
        let pinned = Worker::builder()
            .name("wk-pinned")
            .cpu(available[0])
            .build()
            .expect("an available CPU");
        accepted.push(pinned);
    }
    for w in &accepted {
        let (work, runs) = counting_work("on-limit");
        assert!(matches!(w.queue(&work), Ok(Queued::Scheduled)));
        flush_work(&work);
        assert_eq!(runs.load(Ordering::SeqCst), 1, "{}", w.name());
    }
}

/// `Worker::flush` returns false on an idle worker; it waits for every run queued
/// before the call and for nothing queued after it: a producer queueing another
/// item nonstop does not keep it from returning. The producer's item never leaves
/// the worker idle: each of its runs lasts until the producer has queued it again,
/// so there is always a run outstanding while the producer is active.
///
/// Fails if flush returns before an earlier item finished, or waits for the
/// producer's later runs, e.g. until nothing is outstanding (it would not return
/// while the producer runs: watchdog).
#[test]
fn worker_flush_waits_for_earlier_runs_only() {
    let _guard = test_guard();
    let worker = Worker::new("wk-flush").expect("worker");
    assert!(
        !flush_worker(&worker),
        "nothing to wait for on an idle worker"
    );

    let blocker = Blocker::new("first");
    assert!(matches!(worker.queue(&blocker.work), Ok(Queued::Scheduled)));
    blocker.started.wait_for(1, "blocker started");
    let earlier: Vec<(Work, Arc<AtomicUsize>)> = (0..5)
        .map(|i| counting_work(&format!("earlier-{i}")))
        .collect();
    for (w, _) in &earlier {
        assert!(matches!(worker.queue(w), Ok(Queued::Scheduled)));
    }

    let stop = Arc::new(AtomicBool::new(false));
    let produced = Arc::new(AtomicUsize::new(0));
    let hot_runs = Arc::new(AtomicUsize::new(0));
    let hot = {
        let (runs, stop) = (hot_runs.clone(), stop.clone());
        Work::named("hot", move |ctx| {
            runs.fetch_add(1, Ordering::SeqCst);
            // Ends only once the producer has asked for the next run.
            while !ctx.work().is_pending() && !stop.load(Ordering::SeqCst) {
                thread::yield_now();
            }
        })
    };
    let producer = {
        let (w, hot, stop, produced) =
            (worker.clone(), hot.clone(), stop.clone(), produced.clone());
        spawn_bounded("producer", move || {
            let mut errors = Vec::new();
            while !stop.load(Ordering::SeqCst) {
                match w.queue(&hot) {
                    Ok(_) => {
                        produced.fetch_add(1, Ordering::SeqCst);
                    }
                    Err(e) => errors.push(format!("{e:?}")),
                }
            }
            errors
        })
    };
    wait_until("the producer is queueing", || {
        produced.load(Ordering::SeqCst) > 0
    });

    let counters: Vec<Arc<AtomicUsize>> = earlier.iter().map(|(_, r)| r.clone()).collect();
    let finished = blocker.finished.clone();
    let flusher = {
        let w = worker.clone();
        spawn_until_asleep("Worker::flush under a busy producer", move || {
            let r = w.flush();
            let done: Vec<usize> = counters.iter().map(|c| c.load(Ordering::SeqCst)).collect();
            (r, done, finished.count())
        })
    };
    blocker.release();
    let (r, done, blocker_done) = flusher.join();
    let produced_at_return = produced.load(Ordering::SeqCst);
    stop.store(true, Ordering::SeqCst);
    let errors = producer.join();
    assert!(matches!(r, Ok(true)), "{r:?}");
    assert_eq!(
        blocker_done, 1,
        "flush returned before an earlier run ended"
    );
    assert_eq!(
        done,
        vec![1; 5],
        "flush returned before an earlier run ended"
    );
    assert!(errors.is_empty(), "producer: {errors:?}");
    assert!(produced_at_return > 0);
    flush_worker(&worker);
    assert!(hot_runs.load(Ordering::SeqCst) >= 1);
}

/// Dropping the last `Worker` handle destroys it: the item running and the items
/// pending run first, then the thread exits (its thread-local storage is torn
/// down). A queued item whose handle the test dropped is dropped by the worker
/// after its run, once.
///
/// Fails if the drop loses pending items, does not wait for them, leaks the queued
/// closure, or leaves the thread running.
#[test]
fn dropping_the_last_handle_drains_then_stops_the_thread() {
    let _guard = test_guard();
    let worker = Worker::new("wk-drop-last").expect("worker");
    let blocker = Blocker::new("running-at-drop");
    let (probe, exits) = thread_exit_probe("exit-probe");
    let (token, drops) = DropCounter::new();
    let queued_runs = Arc::new(AtomicUsize::new(0));
    let queued = {
        let r = queued_runs.clone();
        Work::named("queued", move |_ctx| {
            let _held = &token;
            r.fetch_add(1, Ordering::SeqCst);
        })
    };
    assert!(matches!(worker.queue(&probe), Ok(Queued::Scheduled)));
    assert!(matches!(worker.queue(&blocker.work), Ok(Queued::Scheduled)));
    blocker.started.wait_for(1, "blocker started");
    assert!(matches!(worker.queue(&queued), Ok(Queued::Scheduled)));
    drop(queued); // only the worker's queue holds it now
    drop(probe);
    assert_eq!(drops.load(Ordering::SeqCst), 0);

    let dropper = spawn_until_asleep("drop of the last Worker handle", move || drop(worker));
    // The drop is waiting for the blocked item (it cannot have finished).
    assert!(
        dropper.try_join().is_none(),
        "the drop did not wait for the running item"
    );
    assert_eq!(queued_runs.load(Ordering::SeqCst), 0);
    blocker.release();
    dropper.join();
    assert_eq!(blocker.finished.count(), 1);
    assert_eq!(
        queued_runs.load(Ordering::SeqCst),
        1,
        "the pending item ran before the stop"
    );
    assert_eq!(
        drops.load(Ordering::SeqCst),
        1,
        "the queued closure was dropped once"
    );
    assert_eq!(exits.load(Ordering::SeqCst), 1, "the worker thread exited");
}

/// Dropping the last handle of a frozen worker thaws it: its pending items run,
/// each closure is dropped once, and the thread exits.
///
/// Fails if a frozen worker's drop hangs (watchdog) or drops pending work unrun.
#[test]
fn dropping_the_last_handle_of_a_frozen_worker_runs_its_pending_items() {
    let _guard = test_guard();
    let worker = frozen_worker("wk-drop-frozen");
    let (probe, exits) = thread_exit_probe("exit-probe");
    assert!(matches!(worker.queue(&probe), Ok(Queued::Scheduled)));
    drop(probe);
    let mut counts = Vec::new();
    for i in 0..5 {
        let (token, drops) = DropCounter::new();
        let runs = Arc::new(AtomicUsize::new(0));
        let r = runs.clone();
        let work = Work::named(format!("pending-{i}"), move |_ctx| {
            let _held = &token;
            r.fetch_add(1, Ordering::SeqCst);
        });
        assert!(matches!(worker.queue(&work), Ok(Queued::Scheduled)));
        counts.push((runs, drops));
    }
    drop_worker(worker);
    for (i, (runs, drops)) in counts.iter().enumerate() {
        assert_eq!(runs.load(Ordering::SeqCst), 1, "pending-{i} runs");
        assert_eq!(drops.load(Ordering::SeqCst), 1, "pending-{i} drops");
    }
    assert_eq!(exits.load(Ordering::SeqCst), 1, "the worker thread exited");
}

/// The last handle dropped inside one of the worker's own items (it cannot join
/// itself): the items already pending still run, the closures are dropped once and
/// the thread exits by itself.
///
/// Fails if that drop deadlocks the worker, loses the pending items or leaves the
/// thread running.
#[test]
fn dropping_the_last_handle_inside_an_own_item_lets_pending_items_finish() {
    let _guard = test_guard();
    let worker = frozen_worker("wk-drop-inside");
    let slot: Arc<Mutex<Option<Worker>>> = Arc::default();
    let (probe, exits) = thread_exit_probe("exit-probe");
    let dropped_inside = Arc::new(AtomicBool::new(false));
    let (gate, opener) = gate();
    let dropper = {
        let (slot, dropped_inside) = (slot.clone(), dropped_inside.clone());
        Work::named("drops-the-worker", move |_ctx| {
            gate.wait(); // until the slot holds the last handle
            let last = lock(&slot).take();
            dropped_inside.store(last.is_some(), Ordering::SeqCst);
            drop(last);
        })
    };
    let (after, after_runs) = counting_work("after");
    assert!(matches!(worker.queue(&probe), Ok(Queued::Scheduled)));
    assert!(matches!(worker.queue(&dropper), Ok(Queued::Scheduled)));
    assert!(matches!(worker.queue(&after), Ok(Queued::Scheduled)));
    *lock(&slot) = Some(worker.clone());
    thaw(&worker);
    drop(worker); // the slot holds the last handle
    drop(probe);
    opener.open();
    wait_until("the worker thread exits", || {
        exits.load(Ordering::SeqCst) == 1
    });
    assert!(dropped_inside.load(Ordering::SeqCst));
    assert_eq!(after_runs.load(Ordering::SeqCst), 1, "the pending item ran");
    assert!(!after.is_pending() && !after.is_running());
}

/// The closure of an item holds the last `Worker` handle; the worker thread drops
/// that closure after the item's run (outside any run), which destroys the worker
/// from its own thread while another item is already taken off the list. The worker
/// must not wait for itself: the next item runs, the closure is dropped once and the
/// thread exits.
///
/// Fails if the drop on the worker thread drains (it would wait for the next item,
/// which only that very thread can run: permanent deadlock, caught by the
/// watchdog). That was a real bug, fixed by "Worker: dropping the last handle on the
/// worker's own thread closes instead of waiting for itself".
#[test]
fn last_handle_dropped_with_a_closure_on_the_worker_thread() {
    let _guard = test_guard();
    let worker = Worker::new("wk-handle-in-closure").expect("worker");
    let (gate, opener) = gate();
    let started = Signal::new();
    let (probe, exits) = thread_exit_probe("exit-probe");
    let (token, drops) = DropCounter::new();
    let holder = {
        let (w, started) = (worker.clone(), started.clone());
        Work::named("holds-the-worker", move |_ctx| {
            let _held = (&w, &token); // e.g. to queue follow-up work on the worker
            started.notify();
            gate.wait();
        })
    };
    let (next, next_runs) = counting_work("next");
    assert!(matches!(worker.queue(&probe), Ok(Queued::Scheduled)));
    assert!(matches!(worker.queue(&holder), Ok(Queued::Scheduled)));
    started.wait_for(1, "holder started");
    assert!(matches!(worker.queue(&next), Ok(Queued::Scheduled)));
    drop(probe);
    drop(holder);
    drop(worker); // the running item's closure now holds the last Worker handle
    opener.open();
    wait_until("the next pending item runs", || {
        next_runs.load(Ordering::SeqCst) == 1
    });
    wait_until("the worker thread exits", || {
        exits.load(Ordering::SeqCst) == 1
    });
    assert_eq!(
        drops.load(Ordering::SeqCst),
        1,
        "the holder's closure, once"
    );
    assert_eq!(next_runs.load(Ordering::SeqCst), 1);
    assert!(!next.is_pending() && !next.is_running());
}

/// FIFO: 100 items queued on a frozen worker run in queueing order after the thaw;
/// an item queued again while running goes to the tail, behind an item queued
/// during its run.
///
/// Fails if the list is not first-in first-out, or a re-run jumps the queue.
#[test]
fn items_run_in_queueing_order() {
    let _guard = test_guard();
    let worker = frozen_worker("wk-fifo");
    let order: Arc<Mutex<Vec<usize>>> = Arc::default();
    let items: Vec<Work> = (0..100)
        .map(|i| {
            let order = order.clone();
            Work::named(format!("fifo-{i}"), move |_ctx| lock(&order).push(i))
        })
        .collect();
    for w in &items {
        assert!(matches!(worker.queue(w), Ok(Queued::Scheduled)));
    }
    thaw(&worker);
    flush_worker(&worker);
    assert_eq!(*lock(&order), (0..100).collect::<Vec<_>>());

    // A (running, queued again), then B queued during A's run: A, B, A.
    lock(&order).clear();
    let (gate, opener) = gate();
    let started = Signal::new();
    let a = {
        let (order, started) = (order.clone(), started.clone());
        Work::named("a", move |_ctx| {
            lock(&order).push(1000);
            started.notify();
            gate.wait();
        })
    };
    assert!(matches!(worker.queue(&a), Ok(Queued::Scheduled)));
    started.wait_for(1, "a started");
    assert!(matches!(worker.queue(&a), Ok(Queued::Rerun)));
    assert!(matches!(worker.queue(&items[7]), Ok(Queued::Scheduled)));
    opener.open();
    flush_worker(&worker);
    assert_eq!(*lock(&order), vec![1000, 7, 1000]);
}

/// A queue call that asks a running item to run again takes no lock when the item
/// runs on that worker: the worker's `reruns` count books it only when the run in
/// progress ends (`Stats::reruns`). A worker flush that starts after the call
/// waits for that second run too: it is still asleep while the second run is
/// held, and returns once that run is let go.
///
/// Fails if the flush returns while the second run is held (the run counted under
/// a flush colour later than the flush's), if the rerun is lost (the second run
/// or the flush never comes: watchdog), or if the count is off.
#[test]
fn worker_flush_waits_for_a_rerun_asked_for_during_the_run() {
    let _guard = test_guard();
    let worker = Worker::new("wk-rerun").expect("worker");
    // Each run waits for a permit of its own.
    let permits = Arc::new((Mutex::new(0usize), std::sync::Condvar::new()));
    let (started, finished) = (Signal::new(), Signal::new());
    let work = {
        let (permits, s, f) = (permits.clone(), started.clone(), finished.clone());
        Work::named("held", move |_| {
            s.notify();
            let (m, cv) = &*permits;
            let mut left = lock(m);
            while *left == 0 {
                left = cv.wait(left).expect("permits");
            }
            *left -= 1;
            f.notify();
        })
    };
    let permit = || {
        *lock(&permits.0) += 1;
        permits.1.notify_all();
    };
    // A failing assertion must not leave the worker's run held (the worker's drop
    // would wait for it): every run goes through once this is dropped.
    struct LetAllThrough(Arc<(Mutex<usize>, std::sync::Condvar)>);
    impl Drop for LetAllThrough {
        fn drop(&mut self) {
            *lock(&self.0 .0) += 1_000;
            self.0 .1.notify_all();
        }
    }
    let _let_all_through = LetAllThrough(permits.clone());
    assert!(matches!(worker.queue(&work), Ok(Queued::Scheduled)));
    started.wait_for(1, "the first run started");
    assert!(matches!(worker.queue(&work), Ok(Queued::Rerun)));
    assert!(work.is_pending() && work.is_running());
    assert_eq!(
        worker.stats().reruns,
        0,
        "a rerun asked for without the lock is counted when the run ends"
    );
    let tid: Arc<Mutex<Option<Option<u64>>>> = Arc::default();
    let flusher = {
        let (w, t) = (worker.clone(), tid.clone());
        spawn_bounded("Worker::flush", move || {
            *lock(&t) = Some(current_tid());
            w.flush()
        })
    };
    wait_until("the flusher started", || lock(&tid).is_some());
    let tid = lock(&tid).take().flatten();
    wait_until_asleep(tid, "the flush waits");
    permit();
    started.wait_for(2, "the second run started");
    wait_until_asleep(tid, "the flusher is asleep or done");
    assert!(
        flusher.try_join().is_none(),
        "the flush returned while the rerun it had to wait for was held"
    );
    assert_eq!(worker.stats().reruns, 1);
    permit();
    assert!(
        matches!(flusher.join(), Ok(true)),
        "the flush had runs to wait for"
    );
    assert_eq!(finished.count(), 2);
    assert!(!work.is_pending() && !work.is_running());
    worker.destroy().expect("destroy");
}

/// A panic report carries the payload (downcastable) and where the panic
/// happened; a payload re-raised with `resume_unwind` (no panic hook runs) gets
/// no location, not the location of an earlier panic on the same thread.
#[test]
fn panic_report_carries_payload_and_location() {
    #[derive(Debug)]
    struct Code(u32);
    type Seen = (Option<u32>, String, Option<workq::PanicLocation>);
    let _dog = watchdog(60, "panic_report_carries_payload_and_location");
    let seen: Arc<Mutex<Vec<Seen>>> = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    let worker = Worker::builder()
        .name("located")
        .on_panic(move |report| {
            lock(&s).push((
                report.payload.downcast_ref::<Code>().map(|c| c.0),
                report.message.to_string(),
                report.location.cloned(),
            ));
        })
        .build()
        .expect("worker");
    let line = line!() + 1;
    let typed = Work::new(|_| std::panic::panic_any(Code(42)));
    worker.queue(&typed).expect("queue");
    flush_work(&typed);
    // A panic caught inside the item leaves a record behind on the thread; the
    // re-raised payload that follows must not take it.
    let reraised = Work::new(|_| {
        let _ = std::panic::catch_unwind(|| panic!("caught inside"));
        std::panic::resume_unwind(Box::new("re-raised"))
    });
    worker.queue(&reraised).expect("queue");
    flush_work(&reraised);
    let seen = lock(&seen);
    assert_eq!(seen.len(), 2, "{seen:?}");
    let (code, message, at) = &seen[0];
    assert_eq!(*code, Some(42));
    assert_eq!(message, "<non-string panic payload>");
    let at = at
        .as_ref()
        .expect("the location of a panic that ran the hook");
    assert!(at.file.ends_with("worker.rs"), "{at}");
    assert_eq!(at.line, line);
    let (code, message, at) = &seen[1];
    assert_eq!((*code, message.as_str()), (None, "re-raised"));
    assert_eq!(*at, None, "no hook ran for a re-raised payload");
}
