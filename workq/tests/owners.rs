//! Owners whose items never stop on their own: `unregister_cancel` (and its
//! async form) cancels them and returns, `unregister_timeout` gives up waiting.
//! Every wait is bounded; events are ordered by the items' own runs (signals),
//! never by time.

mod common;

use common::{bounded30, gate, spawn_bounded, test_guard, DropCounter, Signal};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;
use workq::{Error, Pool, Work};

fn pool(name: &str) -> Pool {
    Pool::builder()
        .name(name)
        .min_threads(1)
        .max_threads(3)
        .build()
        .expect("pool")
}

/// An item that queues itself again from every run, forever; counts its runs
/// (and signals each), and its closure's drops.
fn forever(runs: &Arc<AtomicUsize>, ran: &Signal) -> (Work, Arc<AtomicUsize>) {
    let (dc, drops) = DropCounter::new();
    let (runs, ran) = (runs.clone(), ran.clone());
    let work = Work::named("forever", move |ctx| {
        let _keep = &dc;
        runs.fetch_add(1, Ordering::SeqCst);
        ran.notify();
        let _ = ctx.requeue();
    });
    (work, drops)
}

fn flush(pool: &Pool) {
    let p = pool.clone();
    bounded30("flush the pool", move || p.flush().expect("flush"));
}

#[test]
fn unregister_cancel_stops_items_that_queue_themselves_forever() {
    let _guard = test_guard();
    let pool = pool("cancel-owner");
    let owner = pool.register("looping");
    let (runs, ran) = (Arc::new(AtomicUsize::new(0)), Signal::new());
    let (looping, loop_drops) = forever(&runs, &ran);
    // Re-armed from its run, on a timer, forever.
    let (rearms, rearmed) = (Arc::new(AtomicUsize::new(0)), Signal::new());
    let (dc, rearm_drops) = DropCounter::new();
    let rearming = {
        let (rearms, rearmed) = (rearms.clone(), rearmed.clone());
        Work::named("rearming", move |ctx| {
            let _keep = &dc;
            rearms.fetch_add(1, Ordering::SeqCst);
            rearmed.notify();
            let _ = ctx.requeue_after(Duration::from_micros(300));
        })
    };
    // Armed an hour away: only a cancel ends its count.
    let (far, far_runs) = common::counting_work("far");
    // Another owner's item and an item with no owner: untouched.
    let other = pool.register("other");
    let (theirs, their_runs) = common::counting_work("theirs");
    let (nobody, nobody_runs) = common::counting_work("nobody");
    let (hold, opener) = gate();
    let held = {
        let hold = hold.clone();
        Work::named("held", move |_| {
            hold.wait();
        })
    };
    owner.queue(&looping).expect("queue looping");
    owner.queue(&rearming).expect("queue rearming");
    owner
        .queue_after(&far, Duration::from_secs(3600))
        .expect("arm far");
    other.queue(&held).expect("queue held");
    other
        .queue_after(&theirs, Duration::from_secs(3600))
        .expect("arm theirs");
    pool.queue_after(&nobody, Duration::from_secs(3600))
        .expect("arm nobody");
    ran.wait_for(3, "the looping item runs again and again");
    rearmed.wait_for(3, "the re-arming item runs again and again");

    let removed = bounded30("unregister_cancel", move || owner.unregister_cancel())
        .expect("unregister_cancel");
    let (after_loop, after_rearm) = (runs.load(Ordering::SeqCst), rearms.load(Ordering::SeqCst));
    assert!(
        removed >= 1,
        "at least the far armed run was cancelled: {removed}"
    );
    for w in [&looping, &rearming, &far] {
        assert!(!w.is_pending() && !w.is_running(), "{w:?} is idle");
    }
    // The other owner's items and the item with no owner are untouched.
    assert!(held.is_pending() || held.is_running());
    assert!(theirs.is_pending() && nobody.is_pending(), "still armed");
    assert_eq!(other.outstanding(), 2);
    opener.open();
    // Nothing of the owner runs again, and its items can be queued again.
    flush(&pool);
    assert_eq!(runs.load(Ordering::SeqCst), after_loop);
    assert_eq!(rearms.load(Ordering::SeqCst), after_rearm);
    assert_eq!(far_runs.load(Ordering::SeqCst), 0);
    assert!(pool.queue(&far).expect("queue far again").added_run());
    for w in [&theirs, &nobody] {
        let w = w.clone();
        bounded30("fire and flush an armed item", move || w.flush()).expect("flush");
    }
    bounded30("unregister the other owner", move || other.unregister()).expect("unregister");
    flush(&pool);
    assert_eq!(far_runs.load(Ordering::SeqCst), 1);
    assert_eq!(their_runs.load(Ordering::SeqCst), 1);
    assert_eq!(nobody_runs.load(Ordering::SeqCst), 1);
    // Each closure is dropped once, after its last handle goes (the pool's
    // threads, joined by the pool's drop, may hold the last one briefly).
    assert_eq!(loop_drops.load(Ordering::SeqCst), 0);
    drop((looping, rearming));
    common::drop_pool(pool);
    assert_eq!(loop_drops.load(Ordering::SeqCst), 1);
    assert_eq!(rearm_drops.load(Ordering::SeqCst), 1);
}

#[test]
fn unregister_cancel_of_idle_and_finished_items_returns_at_once() {
    let _guard = test_guard();
    let pool = pool("cancel-idle");
    let owner = pool.register("idle");
    let (work, runs) = common::counting_work("once");
    owner.queue(&work).expect("queue");
    flush(&pool);
    let removed = bounded30("unregister_cancel", move || owner.unregister_cancel());
    assert_eq!(removed.expect("unregister_cancel"), 0);
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}

/// A waker that does nothing.
struct Noop;

impl Wake for Noop {
    fn wake(self: Arc<Self>) {}
}

/// Polls `f` once with a waker that does nothing.
fn poll_once<F: Future + Unpin>(f: &mut F) -> Poll<F::Output> {
    let waker = Waker::from(Arc::new(Noop));
    Pin::new(f).poll(&mut Context::from_waker(&waker))
}

#[test]
fn a_dropped_unregister_cancel_async_lifts_its_block() {
    let _guard = test_guard();
    let pool = pool("cancel-async-drop");
    let owner = pool.register("held");
    let (hold, opener) = gate();
    let started = Signal::new();
    let (dc, drops) = DropCounter::new();
    let work = {
        let started = started.clone();
        Work::named("held", move |_| {
            let _keep = &dc;
            started.notify();
            hold.wait();
        })
    };
    owner.queue(&work).expect("queue");
    started.wait_for(1, "the item runs");
    let mut cancel = owner.unregister_cancel_async();
    assert!(poll_once(&mut cancel).is_pending(), "a run is in progress");
    assert!(
        matches!(pool.queue(&work), Err(Error::Canceling)),
        "queue calls of the running item are refused"
    );
    drop(cancel); // abandoned: the block is lifted
    assert_eq!(
        pool.queue(&work).expect("queue again"),
        workq::Queued::Rerun
    );
    opener.open();
    started.wait_for(2, "the run queued after the drop");
    flush(&pool);
    assert!(!work.is_pending() && !work.is_running());
    drop(work);
    common::drop_pool(pool);
    assert_eq!(drops.load(Ordering::SeqCst), 1);
}

#[test]
fn unregister_cancel_async_stops_items_that_queue_themselves_forever() {
    let _guard = test_guard();
    let pool = pool("cancel-async");
    let owner = pool.register("looping");
    let (runs, ran) = (Arc::new(AtomicUsize::new(0)), Signal::new());
    let (work, drops) = forever(&runs, &ran);
    owner.queue(&work).expect("queue");
    ran.wait_for(3, "the item runs again and again");
    let removed = bounded30("unregister_cancel_async", move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        rt.block_on(owner.unregister_cancel_async())
    })
    .expect("unregister_cancel_async");
    let after = runs.load(Ordering::SeqCst);
    assert!(removed <= 1, "{removed}");
    assert!(!work.is_pending() && !work.is_running());
    flush(&pool);
    assert_eq!(runs.load(Ordering::SeqCst), after);
    drop(work);
    common::drop_pool(pool);
    assert_eq!(drops.load(Ordering::SeqCst), 1);
}

#[test]
fn unregister_timeout_reports_what_remains_of_an_endless_owner() {
    let _guard = test_guard();
    let pool = pool("timeout-owner");
    let owner = pool.register("endless");
    let (runs, ran) = (Arc::new(AtomicUsize::new(0)), Signal::new());
    let (work, drops) = forever(&runs, &ran);
    owner.queue(&work).expect("queue");
    ran.wait_for(2, "the item runs again and again");
    // The item never finishes, whatever the time limit: plain `unregister` would
    // never return here.
    let err = bounded30("unregister_timeout", move || {
        owner.unregister_timeout(Duration::from_millis(20))
    })
    .expect_err("times out");
    assert!(matches!(err, Error::TimedOut { remaining: 1, .. }), "{err}");
    // It keeps running, no longer waited for; a cancel stops it.
    let w = work.clone();
    bounded30("cancel_sync", move || w.cancel_sync()).expect("cancel_sync");
    drop(work);
    common::drop_pool(pool);
    assert_eq!(drops.load(Ordering::SeqCst), 1);
}

#[test]
fn unregister_timeout_returns_once_the_items_finish() {
    let _guard = test_guard();
    let pool = pool("timeout-ok");
    let owner = pool.register("finishing");
    let (hold, opener) = gate();
    let started = Signal::new();
    let work = {
        let started = started.clone();
        Work::named("held", move |_| {
            started.notify();
            hold.wait();
        })
    };
    owner.queue(&work).expect("queue");
    started.wait_for(1, "the item runs");
    let unregister = spawn_bounded("unregister_timeout", move || {
        owner.unregister_timeout(Duration::MAX)
    });
    opener.open();
    unregister.join().expect("unregister_timeout");
    assert!(!work.is_pending() && !work.is_running());
}

#[test]
fn unregister_cancel_from_a_pool_thread_would_deadlock() {
    let _guard = test_guard();
    let pool = pool("cancel-from-inside");
    let owner = std::sync::Mutex::new(Some(pool.register("inside")));
    let result = Arc::new(std::sync::Mutex::new(None));
    let work = {
        let result = result.clone();
        Work::named("unregisters", move |_| {
            if let Some(o) = common::lock(&owner).take() {
                *common::lock(&result) = Some(o.unregister_cancel());
            }
        })
    };
    pool.queue(&work).expect("queue");
    flush(&pool);
    let r = common::lock(&result).take();
    assert!(matches!(r, Some(Err(Error::WouldDeadlock { .. }))), "{r:?}");
}

/// An owner's queue calls obey the pool's bound on waiting items like the
/// pool's own: `try_queue` fails with `Full`, `queue` waits for room (the item
/// is not pending while it waits) and goes through once the gate item ends.
#[test]
fn owner_queue_calls_obey_the_pools_bound() {
    let _guard = test_guard();
    let pool = Pool::builder()
        .name("bounded-owner")
        .min_threads(1)
        .max_threads(1)
        .max_waiting(1)
        .build()
        .expect("pool");
    let owner = Arc::new(pool.register("bounded"));
    let (g, opener) = gate();
    let started = Signal::new();
    let s = started.clone();
    let holder = Work::named("holder", move |_| {
        s.notify();
        g.wait();
    });
    owner.queue(&holder).expect("queue the holder");
    started.wait_for(1, "the holder runs");
    let (a, b) = (Work::new(|_| {}), Work::new(|_| {}));
    owner.try_queue(&a).expect("room for one");
    assert!(matches!(
        owner.try_queue(&b),
        Err(Error::Full { max_waiting: 1, .. })
    ));
    assert!(owner.try_queue(&a).is_ok(), "already pending: never counts");
    let (o, w) = (owner.clone(), b.clone());
    let blocked =
        common::spawn_until_asleep("an owner's queue call on a full pool", move || o.queue(&w));
    assert!(
        !b.is_pending(),
        "the call waits for room instead of queueing"
    );
    opener.open();
    assert!(blocked
        .join()
        .expect("queued once there is room")
        .added_run());
    flush(&pool);
    assert!(!a.is_pending() && !b.is_pending());
    match Arc::try_unwrap(owner) {
        Ok(owner) => bounded30("unregister", move || owner.unregister()).expect("unregister"),
        Err(_) => panic!("the owner is still shared"),
    }
}
