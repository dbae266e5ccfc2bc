//! Behaviour tests of one work item: the queueing contract (coalescing, re-runs, the
//! last run seeing the last write), cancel / cancel_sync / flush of an item, the
//! state queries, and when the closure is dropped.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::thread;
use std::time::Duration;
use workq::{Error, Queued, Work, Worker};

/// Writes `x = i; queue()` for i in 1..=N while the item runs and reads x: the last
/// run sees N, every call returned Ok, and every run a call added did happen.
///
/// Fails if the already-pending fast path loses the ordering with the run (a run
/// that misses the last write), if a Rerun is lost, or if a call errs.
#[test]
fn last_run_sees_the_last_write() {
    let _guard = test_guard();
    const N: u64 = 100_000;
    let worker = Worker::new("wi-last-write").expect("worker");
    let x = Arc::new(AtomicU64::new(0));
    let seen = Arc::new(AtomicU64::new(0));
    let runs = Arc::new(AtomicU64::new(0));
    let backwards = Arc::new(AtomicU64::new(0));
    let work = {
        let (x, seen, runs, backwards) = (x.clone(), seen.clone(), runs.clone(), backwards.clone());
        Work::named("reader", move |_ctx| {
            // Relaxed on purpose: the library's queue/run handshake must order it.
            let v = x.load(Ordering::Relaxed);
            if v < seen.load(Ordering::Relaxed) {
                backwards.fetch_add(1, Ordering::SeqCst);
            }
            seen.store(v, Ordering::Relaxed);
            runs.fetch_add(1, Ordering::SeqCst);
        })
    };
    let (w, wk) = (worker.clone(), work.clone());
    let (oks, errors, added) = bounded30("100,000 queue calls", move || {
        let (mut oks, mut errors, mut added) = (0u64, Vec::new(), 0u64);
        for i in 1..=N {
            x.store(i, Ordering::Relaxed);
            match w.queue(&wk) {
                Ok(q) => {
                    oks += 1;
                    added += u64::from(q.added_run());
                }
                Err(e) => errors.push(format!("{e:?}")),
            }
        }
        (oks, errors, added)
    });
    flush_work(&work);
    assert!(errors.is_empty(), "queue calls failed: {errors:?}");
    assert_eq!(oks, N);
    assert_eq!(
        seen.load(Ordering::Relaxed),
        N,
        "the last run must see the last write"
    );
    assert_eq!(
        backwards.load(Ordering::SeqCst),
        0,
        "a run saw an older x than the previous run"
    );
    flush_worker(&worker);
    let runs = runs.load(Ordering::SeqCst);
    assert!(runs >= 1);
    assert_eq!(runs, added, "every Scheduled/Rerun adds exactly one run");
    let stats = worker.stats();
    assert_eq!(stats.scheduled + stats.reruns, added);
    assert_eq!(stats.runs, added);
}

/// One phase of [`requeue_from_own_run_and_from_another_thread_adds_exactly_one_run`].
fn requeue_twice_during_one_run(requeue_first: bool) {
    let name = if requeue_first {
        "wi-requeue-first"
    } else {
        "wi-outside-first"
    };
    let worker = Worker::new(name).expect("worker");
    let (gate, opener) = gate();
    let started = Signal::new();
    let runs = Arc::new(AtomicUsize::new(0));
    let own_result: Arc<Mutex<Option<Result<Queued, String>>>> = Arc::new(Mutex::new(None));
    let work = {
        let (started, runs, own_result) = (started.clone(), runs.clone(), own_result.clone());
        Work::named("requeued", move |ctx| {
            if runs.fetch_add(1, Ordering::SeqCst) > 0 {
                return; // the second run only counts itself
            }
            let requeue = || ctx.requeue().map_err(|e| format!("{e:?}"));
            if requeue_first {
                *lock(&own_result) = Some(requeue());
                started.notify();
                gate.wait();
            } else {
                started.notify();
                gate.wait();
                *lock(&own_result) = Some(requeue());
            }
        })
    };
    assert!(matches!(worker.queue(&work), Ok(Queued::Scheduled)));
    started.wait_for(1, "first run started");
    // The first run is in progress (blocked on the gate) during this call.
    let outside = worker.queue(&work);
    opener.open();
    flush_work(&work);
    flush_worker(&worker);
    let own = lock(&own_result).clone();
    if requeue_first {
        assert_eq!(
            own,
            Some(Ok(Queued::Rerun)),
            "requeue from the running item"
        );
        assert!(
            matches!(outside, Ok(Queued::AlreadyPending)),
            "outside call after the requeue: {outside:?}"
        );
    } else {
        assert!(
            matches!(outside, Ok(Queued::Rerun)),
            "outside call during the run: {outside:?}"
        );
        assert_eq!(
            own,
            Some(Ok(Queued::AlreadyPending)),
            "requeue after the outside call"
        );
    }
    assert_eq!(runs.load(Ordering::SeqCst), 2, "exactly one more run");
    let stats = worker.stats();
    assert_eq!((stats.scheduled, stats.reruns, stats.runs), (1, 1, 2));
    assert!(!work.is_pending() && !work.is_running());
}

/// A queue call from the item's own run and one from another thread while it runs
/// coalesce into exactly one more run, in both orders.
///
/// Fails if the second call adds a run (3 runs), if a Rerun is lost (1 run), or if
/// the outcomes are misreported.
#[test]
fn requeue_from_own_run_and_from_another_thread_adds_exactly_one_run() {
    let _guard = test_guard();
    requeue_twice_during_one_run(false);
    requeue_twice_during_one_run(true);
}

/// A self-requeueing item stopped by `cancel_sync`: afterwards nothing is pending or
/// running and the run count no longer changes; the item can be queued again.
/// Repeated so that the cancel lands both while the item is pending and running.
///
/// Fails if a run slips through after cancel_sync returned, if the requeue inside
/// the run reports anything but Ok/Canceling, or if the cancel count is not
/// released (the next queue would get Canceling).
#[test]
fn cancel_sync_stops_a_self_requeueing_item() {
    let _guard = test_guard();
    let worker = Worker::new("wi-self-requeue").expect("worker");
    let (marker, marker_runs) = counting_work("marker");
    let runs = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let canceling = Arc::new(AtomicUsize::new(0));
    let unexpected: Arc<Mutex<Vec<String>>> = Arc::default();
    let work = {
        let (runs, stop, canceling, unexpected) = (
            runs.clone(),
            stop.clone(),
            canceling.clone(),
            unexpected.clone(),
        );
        Work::named("forever", move |ctx| {
            runs.fetch_add(1, Ordering::SeqCst);
            if stop.load(Ordering::SeqCst) {
                return;
            }
            match ctx.requeue() {
                Ok(Queued::Rerun) => {}
                Err(Error::Canceling) => {
                    canceling.fetch_add(1, Ordering::SeqCst);
                }
                other => lock(&unexpected).push(format!("{other:?}")),
            }
        })
    };
    for round in 0..20 {
        stop.store(false, Ordering::SeqCst);
        let before = runs.load(Ordering::SeqCst);
        assert!(
            matches!(worker.queue(&work), Ok(Queued::Scheduled)),
            "round {round}: the cancelled item is idle and can be queued again"
        );
        wait_until("the item requeued itself 100 times", || {
            runs.load(Ordering::SeqCst) >= before + 100
        });
        cancel_sync(&work);
        assert!(
            !work.is_pending(),
            "round {round}: pending after cancel_sync"
        );
        assert!(
            !work.is_running(),
            "round {round}: running after cancel_sync"
        );
        let after = runs.load(Ordering::SeqCst);
        // Give a lingering run every chance to show up, then check nothing ran:
        // the marker, queued now, runs after anything that was still on the list.
        thread::sleep(Duration::from_millis(5));
        let m = marker_runs.load(Ordering::SeqCst);
        worker.queue(&marker).expect("queue the marker");
        flush_worker(&worker);
        assert_eq!(marker_runs.load(Ordering::SeqCst), m + 1);
        assert_eq!(
            runs.load(Ordering::SeqCst),
            after,
            "round {round}: the item ran after cancel_sync returned"
        );
        assert!(!work.is_pending() && !work.is_running());
    }
    assert!(
        lock(&unexpected).is_empty(),
        "requeue results: {:?}",
        lock(&unexpected)
    );
    // Queueable again, and runs once (stop flag set: no more self-requeue).
    stop.store(true, Ordering::SeqCst);
    let before = runs.load(Ordering::SeqCst);
    assert!(matches!(worker.queue(&work), Ok(Queued::Scheduled)));
    flush_work(&work);
    assert_eq!(runs.load(Ordering::SeqCst), before + 1);
}

/// Two `cancel_sync` calls racing on a running item (which loops until it sees the
/// cancel) both return Ok(false), and neither returns before the run has ended.
///
/// Fails if one call hangs (watchdog), errs, returns before the run ended, or if the
/// cancel count is left non-zero (the next round's queue would fail).
#[test]
fn racing_cancel_syncs_on_a_running_item_both_return() {
    let _guard = test_guard();
    const ROUNDS: usize = 10;
    let worker = Worker::new("wi-racing-cancels").expect("worker");
    let started = Signal::new();
    let ended = Arc::new(AtomicUsize::new(0));
    let quick = Arc::new(AtomicBool::new(false));
    let work = {
        let (started, ended, quick) = (started.clone(), ended.clone(), quick.clone());
        Work::named("spinner", move |ctx| {
            if !quick.load(Ordering::SeqCst) {
                started.notify();
                while !ctx.is_canceling() {
                    thread::yield_now();
                }
                // Only makes it likely that the second cancel_sync arrives while
                // the run is still in progress.
                thread::sleep(Duration::from_millis(20));
            }
            ended.fetch_add(1, Ordering::SeqCst);
        })
    };
    for round in 0..ROUNDS {
        assert!(
            matches!(worker.queue(&work), Ok(Queued::Scheduled)),
            "round {round}: queue after the cancels"
        );
        started.wait_for(round + 1, "the spinner started");
        let barrier = Arc::new(Barrier::new(2));
        let cancellers: Vec<_> = (0..2)
            .map(|_| {
                let (work, barrier, ended) = (work.clone(), barrier.clone(), ended.clone());
                spawn_bounded("racing cancel_sync", move || {
                    barrier.wait();
                    let r = work.cancel_sync();
                    (r, ended.load(Ordering::SeqCst))
                })
            })
            .collect();
        for c in cancellers {
            let (r, ended_at_return) = c.join();
            assert!(matches!(r, Ok(false)), "round {round}: {r:?}");
            assert_eq!(
                ended_at_return,
                round + 1,
                "round {round}: cancel_sync returned before the run ended"
            );
        }
        assert!(!work.is_pending() && !work.is_running());
    }
    quick.store(true, Ordering::SeqCst);
    assert!(matches!(worker.queue(&work), Ok(Queued::Scheduled)));
    flush_work(&work);
    assert_eq!(ended.load(Ordering::SeqCst), ROUNDS + 1);
    assert_eq!(worker.stats().runs, ROUNDS as u64 + 1);
}

/// I3: the closure is dropped exactly once, after its last run, even when the last
/// handle is dropped inside the item's own run.
///
/// Fails if dropping the handle inside the run frees the closure while it runs (the
/// drop counter would be 1 during the run), or if it is never freed or freed twice.
#[test]
fn closure_outlives_its_run_when_the_last_handle_is_dropped_inside_it() {
    let _guard = test_guard();
    let worker = frozen_worker("wi-i3");
    let (token, drops) = DropCounter::new();
    let (gate, opener) = gate();
    let dropped = Signal::new();
    let slot: Arc<Mutex<Option<Work>>> = Arc::default();
    let took_handle = Arc::new(AtomicBool::new(false));
    let drops_in_run = Arc::new(AtomicUsize::new(usize::MAX));
    let after_gate = Arc::new(AtomicUsize::new(0));
    let work = {
        let (slot, took_handle, drops_in_run, after_gate, drops, dropped) = (
            slot.clone(),
            took_handle.clone(),
            drops_in_run.clone(),
            after_gate.clone(),
            drops.clone(),
            dropped.clone(),
        );
        Work::named("drops-itself", move |ctx| {
            let _held = &token;
            let last = lock(&slot).take();
            took_handle.store(last.is_some(), Ordering::SeqCst);
            drop(last); // the last handle outside the library
            drops_in_run.store(drops.load(Ordering::SeqCst), Ordering::SeqCst);
            dropped.notify();
            gate.wait();
            // Still alive: use the closure's state and the context.
            assert_eq!(ctx.name(), Some("drops-itself"));
            after_gate.fetch_add(1, Ordering::SeqCst);
        })
    };
    assert!(matches!(worker.queue(&work), Ok(Queued::Scheduled)));
    *lock(&slot) = Some(work); // the test keeps no handle
    thaw(&worker);
    dropped.wait_for(1, "the run dropped the last handle");
    assert!(took_handle.load(Ordering::SeqCst));
    assert_eq!(
        drops_in_run.load(Ordering::SeqCst),
        0,
        "dropped during its own run"
    );
    assert_eq!(
        drops.load(Ordering::SeqCst),
        0,
        "dropped while the run is blocked"
    );
    opener.open();
    wait_until("the closure is dropped after its run", || {
        drops.load(Ordering::SeqCst) >= 1
    });
    assert_eq!(
        after_gate.load(Ordering::SeqCst),
        1,
        "the run went on after the drop"
    );
    flush_worker(&worker);
    destroy(&worker);
    drop(worker);
    assert_eq!(drops.load(Ordering::SeqCst), 1, "dropped exactly once");
}

/// I3 with a re-run: the run requeues itself, then drops the last handle; the
/// closure must survive until the requested run has also finished.
///
/// Fails if the queue does not keep the item alive for a deferred re-run (the
/// second run would be lost or the closure freed early).
#[test]
fn closure_outlives_a_rerun_requested_before_the_last_handle_is_dropped() {
    let _guard = test_guard();
    let worker = frozen_worker("wi-i3-rerun");
    let (token, drops) = DropCounter::new();
    let slot: Arc<Mutex<Option<Work>>> = Arc::default();
    let runs = Arc::new(AtomicUsize::new(0));
    let drops_at_run_start: Arc<Mutex<Vec<usize>>> = Arc::default();
    let requeue: Arc<Mutex<Option<Result<Queued, String>>>> = Arc::default();
    let work = {
        let (slot, runs, drops_at, requeue, drops) = (
            slot.clone(),
            runs.clone(),
            drops_at_run_start.clone(),
            requeue.clone(),
            drops.clone(),
        );
        Work::named("rerun-then-drop", move |ctx| {
            let _held = &token;
            lock(&drops_at).push(drops.load(Ordering::SeqCst));
            if runs.fetch_add(1, Ordering::SeqCst) == 0 {
                *lock(&requeue) = Some(ctx.requeue().map_err(|e| format!("{e:?}")));
                drop(lock(&slot).take());
            }
        })
    };
    assert!(matches!(worker.queue(&work), Ok(Queued::Scheduled)));
    *lock(&slot) = Some(work);
    thaw(&worker);
    wait_until("the closure is dropped after the second run", || {
        drops.load(Ordering::SeqCst) >= 1
    });
    destroy(&worker);
    assert_eq!(*lock(&requeue), Some(Ok(Queued::Rerun)));
    assert_eq!(runs.load(Ordering::SeqCst), 2, "the requested run happened");
    assert_eq!(*lock(&drops_at_run_start), vec![0, 0]);
    assert_eq!(drops.load(Ordering::SeqCst), 1);
}

/// The three outcomes: Scheduled on an idle item, AlreadyPending on a pending one
/// (held by a frozen worker), Rerun on a running one (and AlreadyPending again once
/// the re-run is requested).
///
/// Fails if an outcome is misreported or the counters disagree with it.
#[test]
fn queue_reports_scheduled_already_pending_and_rerun() {
    let _guard = test_guard();
    let worker = frozen_worker("wi-outcomes");
    let (work, runs) = counting_work("counted");
    assert!(matches!(worker.queue(&work), Ok(Queued::Scheduled)));
    assert!(matches!(worker.queue(&work), Ok(Queued::AlreadyPending)));
    assert!(matches!(worker.queue(&work), Ok(Queued::AlreadyPending)));
    thaw(&worker);
    flush_work(&work);
    assert_eq!(
        runs.load(Ordering::SeqCst),
        1,
        "three calls on a pending item: one run"
    );

    let blocker = Blocker::new("blocked");
    assert!(matches!(worker.queue(&blocker.work), Ok(Queued::Scheduled)));
    blocker.started.wait_for(1, "blocker started");
    assert!(matches!(worker.queue(&blocker.work), Ok(Queued::Rerun)));
    assert!(matches!(
        worker.queue(&blocker.work),
        Ok(Queued::AlreadyPending)
    ));
    blocker.release();
    flush_worker(&worker);
    assert_eq!(blocker.finished.count(), 2, "one run plus the one re-run");
    // Idle again: Scheduled again.
    assert!(matches!(worker.queue(&work), Ok(Queued::Scheduled)));
    flush_work(&work);
    assert_eq!(runs.load(Ordering::SeqCst), 2);
    let stats = worker.stats();
    assert_eq!((stats.scheduled, stats.reruns, stats.runs), (3, 1, 4));
}

/// `cancel` removes a pending run (true, and it never runs; the queue's reference is
/// released), returns false on an idle item, and never waits for a run in progress
/// (false while running; true when it removes a requested re-run, which then does
/// not happen).
///
/// Fails if cancel misreports, if a cancelled run still happens, if the list keeps a
/// reference (drop counter), or if cancel blocks on a running item (watchdog).
#[test]
fn cancel_removes_pending_runs_and_never_waits() {
    let _guard = test_guard();
    // Idle, never queued.
    let (idle, idle_runs) = counting_work("idle");
    assert!(!idle.cancel());

    // Pending on a frozen worker.
    let worker = frozen_worker("wi-cancel");
    let (token, drops) = DropCounter::new();
    let pending_runs = Arc::new(AtomicUsize::new(0));
    let pending = {
        let r = pending_runs.clone();
        Work::named("pending", move |_ctx| {
            let _held = &token;
            r.fetch_add(1, Ordering::SeqCst);
        })
    };
    assert!(matches!(worker.queue(&pending), Ok(Queued::Scheduled)));
    assert!(worker.queue(&idle).is_ok());
    assert!(idle.cancel(), "a pending run is removed");
    assert!(pending.cancel(), "a pending run is removed");
    assert!(!pending.cancel(), "nothing left to remove");
    assert!(!pending.is_pending() && !pending.is_running());
    drop(pending);
    assert_eq!(
        drops.load(Ordering::SeqCst),
        1,
        "the queue released the cancelled item"
    );
    thaw(&worker);
    let (marker, marker_runs) = counting_work("marker");
    worker.queue(&marker).expect("queue the marker");
    flush_worker(&worker);
    assert_eq!(marker_runs.load(Ordering::SeqCst), 1);
    assert_eq!(
        pending_runs.load(Ordering::SeqCst),
        0,
        "a cancelled run happened"
    );
    assert_eq!(
        idle_runs.load(Ordering::SeqCst),
        0,
        "a cancelled run happened"
    );

    // Running: cancel returns false at once (if it waited, it would wait forever:
    // the run only ends when the test opens the gate, after cancel returned).
    let blocker = Blocker::new("running");
    assert!(matches!(worker.queue(&blocker.work), Ok(Queued::Scheduled)));
    blocker.started.wait_for(1, "blocker started");
    let w = blocker.work.clone();
    assert!(!bounded30("cancel of a running item", move || w.cancel()));
    assert!(
        blocker.work.is_running(),
        "cancel does not stop a run in progress"
    );
    // Running with a re-run requested: the re-run is removed, the run goes on.
    assert!(matches!(worker.queue(&blocker.work), Ok(Queued::Rerun)));
    let w = blocker.work.clone();
    assert!(bounded30("cancel of a requested re-run", move || w.cancel()));
    assert!(!blocker.work.is_pending());
    assert!(blocker.work.is_running());
    blocker.release();
    flush_work(&blocker.work);
    flush_worker(&worker);
    assert_eq!(blocker.started.count(), 1, "the cancelled re-run happened");
    assert_eq!(blocker.finished.count(), 1);
    assert_eq!(
        worker.stats().runs,
        2,
        "the marker and the blocker's one run"
    );
}

/// `Work::flush` returns false on an idle item and true when it had to wait;
/// `is_pending` / `is_running` in every state (idle, pending, running, running with a
/// re-run requested, from inside the run, idle again).
///
/// Fails if a query misreports a state, or flush misreports whether it waited, or
/// returns before the run ended.
#[test]
fn flush_result_and_state_queries() {
    let _guard = test_guard();
    let worker = frozen_worker("wi-flush-state");
    let inside: Arc<Mutex<Vec<(bool, bool)>>> = Arc::default();
    let (gate, opener) = gate();
    let started = Signal::new();
    let ended = Arc::new(AtomicUsize::new(0));
    let work = {
        let (inside, started, ended) = (inside.clone(), started.clone(), ended.clone());
        Work::named("observed", move |ctx| {
            let me = ctx.work();
            lock(&inside).push((me.is_pending(), me.is_running()));
            started.notify();
            gate.wait();
            ended.fetch_add(1, Ordering::SeqCst);
        })
    };
    let state = |w: &Work| (w.is_pending(), w.is_running());

    // Idle.
    assert_eq!(state(&work), (false, false));
    assert!(!flush_work(&work), "nothing to wait for on an idle item");

    // Pending (frozen worker).
    assert!(matches!(worker.queue(&work), Ok(Queued::Scheduled)));
    assert_eq!(state(&work), (true, false));

    // Running.
    thaw(&worker);
    started.wait_for(1, "run started");
    assert_eq!(state(&work), (false, true));
    // Running with a re-run requested.
    assert!(matches!(worker.queue(&work), Ok(Queued::Rerun)));
    assert_eq!(state(&work), (true, true));

    // Flush while the item runs (blocked on the gate): it has to wait, so it
    // returns true, and only once both runs (the current one and the requested
    // one) have ended.
    // The gate opens only once the flusher is asleep inside flush (nothing else
    // can put it to sleep: the worker thread is blocked on the gate and workq's
    // locks are free), so the flush is called while the item runs.
    let flusher = {
        let (work, ended) = (work.clone(), ended.clone());
        spawn_until_asleep("Work::flush of a running item", move || {
            let r = work.flush();
            (r, ended.load(Ordering::SeqCst))
        })
    };
    opener.open();
    let (r, ended_at_return) = flusher.join();
    assert!(matches!(r, Ok(true)), "flush of a running item: {r:?}");
    assert_eq!(
        ended_at_return, 2,
        "flush returned before the requested re-run ended"
    );
    assert_eq!(state(&work), (false, false));
    assert!(!flush_work(&work), "idle again: nothing to wait for");
    assert_eq!(
        *lock(&inside),
        vec![(false, true), (false, true)],
        "(is_pending, is_running) seen from inside each run"
    );
}

/// `flush` and `cancel_sync` of an item from its own run are refused with
/// WouldDeadlock, and leave the item usable (queueable, cancel count untouched).
///
/// Fails if either call hangs the worker (watchdog on the flush below), is not
/// refused, or leaves the item in the Canceling state.
#[test]
fn flush_and_cancel_sync_from_own_run_would_deadlock() {
    let _guard = test_guard();
    let worker = Worker::new("wi-own-run").expect("worker");
    let results: Arc<Mutex<Vec<String>>> = Arc::default();
    let refused = Arc::new(AtomicUsize::new(0));
    let runs = Arc::new(AtomicUsize::new(0));
    let work = {
        let (results, refused, runs) = (results.clone(), refused.clone(), runs.clone());
        Work::named("self-flush", move |ctx| {
            if runs.fetch_add(1, Ordering::SeqCst) > 0 {
                return;
            }
            let me = ctx.work();
            let f = me.flush();
            let c = me.cancel_sync();
            for r in [&f, &c] {
                if matches!(r, Err(Error::WouldDeadlock { .. })) {
                    refused.fetch_add(1, Ordering::SeqCst);
                }
            }
            lock(&results).push(format!("flush: {f:?}, cancel_sync: {c:?}"));
            // Neither call may have left a cancel in progress.
            assert!(!ctx.is_canceling());
        })
    };
    assert!(matches!(worker.queue(&work), Ok(Queued::Scheduled)));
    flush_work(&work);
    assert_eq!(refused.load(Ordering::SeqCst), 2, "{:?}", lock(&results));
    assert!(
        matches!(worker.queue(&work), Ok(Queued::Scheduled)),
        "the item is queueable after the refused calls"
    );
    flush_work(&work);
    assert_eq!(runs.load(Ordering::SeqCst), 2);
    assert_eq!(worker.stats().panics, 0);
}
