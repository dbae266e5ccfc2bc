//! Models of the queues that find their threads themselves: an elastic queue (a
//! pool: threads started on demand, culled when idle, starts that fail) and a fed
//! queue (a workqueue run by pumps queued on another queue). The pool's own
//! invariant is checked here: it never strands an item — every queue call that
//! was accepted is followed by a run, whatever thread starts, fails or exits
//! meanwhile. A stranded item hangs a flush below (loom reports a deadlock;
//! elsewhere the test watchdog fails it).
//!
//! The pool's threads are the model checker's (`Starter::Model`); its grow
//! entry is on the model's manual clock, fired only where a model advances it.
//! The idle timeout is zero, so a consumer woken with nothing to do is culled
//! (down to the minimum) at once: the cull races every queue call.

use super::{model, probe, Probe};
use crate::engine::item::Class;
use crate::engine::{
    Elastic, ElasticSettings, FedSettings, Limits, ManualClock, Mode, QueueConfig, RunQueue,
    Starter,
};
use crate::shutdown::{ArmedAtShutdown, Plan};
use crate::support::sync::{thread, Arc, AtomicUsize, Ordering};
use std::time::Duration;

/// An elastic queue of `min` to `max` model threads that refuses the first
/// `refuse` thread starts and gives up after `attempts` failed starts in a row
/// with no thread. Returns the queue, the clock of its grow entry, and the
/// number of items the spawn-failure reports say were cancelled.
fn pool(
    min: usize,
    max: usize,
    refuse: usize,
    attempts: u32,
) -> (Arc<RunQueue>, ManualClock, Arc<AtomicUsize>) {
    let clock = ManualClock::new();
    let cancelled = Arc::new(AtomicUsize::new(0));
    let r = cancelled.clone();
    let sizing = Elastic::new(
        "pool-model",
        ElasticSettings {
            idle_timeout: Duration::ZERO,
            backoff: Duration::ZERO,
            stack_size: None,
            starter: Starter::Model {
                refuse: Arc::new(AtomicUsize::new(refuse)),
            },
            on_spawn_failure: std::sync::Arc::new(move |f: &crate::SpawnFailure<'_>| {
                r.fetch_add(f.cancelled, Ordering::Relaxed);
            }),
            start_attempts: attempts,
            grow_timer: clock.timer.clone(),
        },
    );
    let q = RunQueue::new(QueueConfig {
        name: "pool-model".to_string(),
        single_consumer: false,
        count_merged: true,
        latency_histograms: false,
        freezable: false,
        on_panic: crate::support::panic::default_hook(),
        timer: clock.timer.clone(),
        mode: Mode::Elastic {
            sizing,
            min,
            max,
            very_slow_percent: 50,
        },
        limits: Limits::NONE,
    });
    (q, clock, cancelled)
}

/// Shuts `q` down as a pool's destroy does (drains it, stops and joins its
/// threads).
fn destroy(q: &Arc<RunQueue>) {
    let report = RunQueue::shut_down(q, false, Plan::drain(ArmedAtShutdown::Cancel));
    assert_eq!(report.discarded(), 0, "a drain discarded items");
}

/// Queues `p` on `q`: returns whether the call was accepted (a run follows).
fn queue(q: &Arc<RunQueue>, p: &Probe) -> bool {
    RunQueue::enqueue(q, &p.work.inner).is_ok()
}

/// Flushes `p` (it must have no run left) and checks its runs.
fn assert_ran(p: &Probe, runs: usize) {
    RunQueue::flush_item(&p.work.inner).expect("flush");
    assert_eq!(
        p.runs.load(Ordering::Relaxed),
        runs,
        "runs of an item queued once"
    );
    assert!(!p.work.is_pending());
}

/// Queue calls racing the idle cull and the growth of a pool of one to two
/// threads: a consumer that takes an item starts a second thread for the item
/// left; a consumer woken with nothing to do exits (the timeout is zero) while
/// the next call queues an item. Every item queued runs exactly once.
#[test]
fn models_pool_queue_vs_idle_cull() {
    model(|| {
        let (q, _clock, _) = pool(1, 2, 0, 1);
        let items = [probe(), probe(), probe()];
        // The first call starts the minimum (one thread) on this thread.
        for p in &items {
            assert!(queue(&q, p));
        }
        for p in &items {
            assert_ran(p, 1);
        }
        destroy(&q);
        assert_eq!(q.lock().threads.count(), 0, "threads left after destroy");
    });
}

/// A pool with a minimum of 0: its only thread exits as soon as it is idle
/// (the timeout is zero), racing the next queue call, which finds either the
/// thread or the pool unused again (and starts one itself). Every item queued
/// runs once; none is stranded.
#[test]
fn models_pool_min_zero_last_exit_vs_queue() {
    model(|| {
        let (q, _clock, _) = pool(0, 1, 0, 1);
        let (a, b) = (probe(), probe());
        assert!(queue(&q, &a));
        assert!(queue(&q, &b));
        assert_ran(&a, 1);
        assert_ran(&b, 1);
        destroy(&q);
        assert_eq!(q.lock().threads.count(), 0, "threads left after destroy");
    });
}

/// A pool of one thread whose first `refuse` thread starts fail, and two queue
/// calls racing them. A failed start is retried on the grow entry (fired here
/// by advancing the clock) until `attempts` starts in a row have failed; then
/// the pool gives up and cancels what it holds, reported to the spawn-failure
/// hook. Every accepted item runs once or is reported cancelled; an item
/// refused is not pending; none is left pending with no thread and no retry.
fn failed_start_vs_queue_calls(refuse: usize, attempts: u32) {
    model(move || {
        let (q, clock, cancelled) = pool(1, 1, refuse, attempts);
        let (a, b) = (probe(), probe());
        let q2 = q.clone();
        let b_work = b.work.clone();
        let other = thread::spawn(move || RunQueue::enqueue(&q2, &b_work.inner).is_ok());
        let a_ok = queue(&q, &a);
        let b_ok = other.join().expect("other caller");
        if q.lock().threads.count() == 0 && (a.work.is_pending() || b.work.is_pending()) {
            let g = q.lock();
            assert!(
                clock.armed() > 0,
                "items held with no thread and no retry: a {a_ok} {:?} b {b_ok} {:?}, starting {}, failures {}, waiting {}, cancelled {}, grow armed {}, owed {}, threads {}",
                a.work.inner.state.peek(),
                b.work.inner.state.peek(),
                g.threads.starting(),
                g.sizing.start_failures(),
                g.waiting(),
                cancelled.load(Ordering::Relaxed),
                g.sizing.grow_armed(),
                g.sizing.settle_owed(),
                g.threads.count(),
            );
        }
        clock.advance(Duration::from_secs(1));
        let mut runs = 0;
        for (p, ok) in [(&a, a_ok), (&b, b_ok)] {
            RunQueue::flush_item(&p.work.inner).expect("flush");
            assert!(!p.work.is_pending(), "an item left pending");
            let n = p.runs.load(Ordering::Relaxed);
            assert!(n <= usize::from(ok), "{n} runs of an item accepted: {ok}");
            runs += n;
        }
        let accepted = usize::from(a_ok) + usize::from(b_ok);
        assert_eq!(runs + cancelled.load(Ordering::Relaxed), accepted);
        destroy(&q);
    });
}

/// One failed start, retried: both calls' items run.
#[test]
fn models_pool_failed_start_is_retried() {
    failed_start_vs_queue_calls(1, 2);
}

/// Two failed starts: the pool gives up once, cancelling what it held.
#[test]
fn models_pool_failed_starts_give_up() {
    failed_start_vs_queue_calls(2, 2);
}

/// A fed queue named `name` (one pump: `max_active` 1) on a one-thread test
/// queue whose consumer loop runs on a thread of the model. Returns the pool's
/// queue, its consumer and the fed queue.
fn fed_queue(name: &str) -> (Arc<RunQueue>, thread::JoinHandle<()>, Arc<RunQueue>) {
    let pool_q = RunQueue::for_test("pool-of-fed", 1, ManualClock::new().timer);
    let consumer = {
        let pool_q = pool_q.clone();
        thread::spawn(move || RunQueue::consume(&pool_q, None))
    };
    let fed = RunQueue::new_fed(
        &pool_q,
        FedSettings {
            name: name.to_string(),
            count_merged: true,
            latency_histograms: false,
            freezable: false,
            on_panic: crate::support::panic::default_hook(),
            max_active: 1,
            max_waiting: usize::MAX,
            class: Class::Normal,
            rescue_after: None,
        },
    );
    (pool_q, consumer, fed)
}

/// A fed queue's pump kick racing its shutdown: the item queued either runs
/// (its pump is kicked onto the pool, or the drain runs it) or the call is
/// refused; the shutdown never waits for a pump that was not kicked.
#[test]
fn models_fed_pump_kick_vs_stop() {
    model(|| {
        let (pool_q, consumer, fed) = fed_queue("fed-model");
        let p = probe();
        let (fed2, work) = (fed.clone(), p.work.clone());
        let caller = thread::spawn(move || RunQueue::enqueue(&fed2, &work.inner).is_ok());
        destroy(&fed);
        fed.drop_pumps();
        let ok = caller.join().expect("caller");
        pool_q.stop_for_test();
        consumer.join().expect("pool consumer");
        assert_eq!(p.runs.load(Ordering::Relaxed), usize::from(ok));
        assert!(!p.work.is_pending());
    });
}

/// A fed queue's second queue call racing its pump on the pool's thread. The
/// call that kicks the pump opens the inbox (a pump is queued for the one run
/// the queue may start), so the second item is shelved before the pump's lock
/// (which moves it onto the list), queued under the lock while the pump runs,
/// or queued after the pump found nothing and left, when its kick must queue
/// the pump again (the kick once read a pump's word twice and could miss a
/// pump whose run ended between the reads). Both items run once, and the
/// flush never waits for an item no pump will take (loom reports a deadlock).
#[test]
fn models_fed_second_call_vs_pump() {
    model(|| {
        let (pool_q, consumer, fed) = fed_queue("fed-inbox-model");
        let (a, b) = (probe(), probe());
        assert!(queue(&fed, &a), "the first call was refused");
        let (fed2, work) = (fed.clone(), b.work.clone());
        let caller = thread::spawn(move || RunQueue::enqueue(&fed2, &work.inner).is_ok());
        assert!(
            caller.join().expect("caller"),
            "the second call was refused"
        );
        fed.flush().expect("flush the fed queue");
        assert_eq!(a.runs.load(Ordering::Relaxed), 1);
        assert_eq!(b.runs.load(Ordering::Relaxed), 1);
        destroy(&fed);
        fed.drop_pumps();
        pool_q.stop_for_test();
        consumer.join().expect("pool consumer");
    });
}
