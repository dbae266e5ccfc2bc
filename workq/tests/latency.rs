//! Latency histograms (`latency_histograms(true)`): what is counted, where, and
//! `None` when off. No assertion here depends on how long anything took.

mod common;

use common::test_guard;
use std::sync::mpsc;
use std::time::Duration;
use workq::{Latency, ManualClock, Pool, Stats, Work, WorkQueue, Worker};

const N: u64 = 100;

/// Counts `n`, and its percentiles in order.
fn assert_summary(what: &str, l: Option<Latency>, n: u64) {
    let l = l.unwrap_or_else(|| panic!("{what}: not measured"));
    assert_eq!(l.count, n, "{what}: {l:?}");
    assert!(
        l.p50 <= l.p90 && l.p90 <= l.p99 && l.p99 <= l.max,
        "{what}: out of order: {l:?}"
    );
}

/// A worker built with latency histograms.
fn timed_worker(name: &str) -> Worker {
    Worker::builder()
        .name(name)
        .latency_histograms(true)
        .build()
        .expect("worker")
}

/// Queues `N` distinct items on `queue` and waits for their runs.
fn run_items<T>(queue: impl Fn(&Work), flush: impl Fn() -> T) -> Vec<Work> {
    let items: Vec<Work> = (0..N).map(|_| Work::new(|_| {})).collect();
    for w in &items {
        queue(w);
    }
    let _ = flush();
    items
}

#[test]
fn a_worker_with_histograms_counts_every_wait_and_run() {
    let _guard = test_guard();
    let worker = timed_worker("lat-worker");
    let _items = run_items(
        |w| {
            worker.queue(w).expect("queue");
        },
        || worker.flush().expect("flush"),
    );
    let st: Stats = worker.stats();
    assert_eq!(st.runs, N);
    assert_summary("wait", st.wait, N);
    assert_summary("run", st.run, N);
}

#[test]
fn without_histograms_nothing_is_measured() {
    let _guard = test_guard();
    let worker = Worker::new("lat-off-worker").expect("worker");
    let pool = Pool::new("lat-off-pool").expect("pool");
    let wq = WorkQueue::builder("lat-off-wq")
        .pool(&pool)
        .build()
        .expect("wq");
    let work = Work::new(|_| {});
    worker.queue(&work).expect("queue");
    work.flush().expect("flush");
    pool.queue(&work).expect("queue");
    work.flush().expect("flush");
    wq.queue(&work).expect("queue");
    work.flush().expect("flush");
    for (name, st) in [
        ("worker", worker.stats()),
        ("pool", pool.stats()),
        ("wq", wq.stats()),
    ] {
        assert!(st.runs >= 1, "{name}"); // the pool also ran the pump
        assert_eq!((st.wait, st.run), (None, None), "{name}");
    }
    let text = worker.snapshot().to_string();
    assert!(!text.contains("p50"), "{text}");
}

#[test]
fn a_pool_with_histograms_counts_every_run() {
    let _guard = test_guard();
    let pool = Pool::builder()
        .name("lat-pool")
        .max_threads(4)
        .latency_histograms(true)
        .build()
        .expect("pool");
    let _items = run_items(
        |w| {
            pool.queue(w).expect("queue");
        },
        || pool.flush().expect("flush"),
    );
    let st = pool.stats();
    assert_summary("wait", st.wait, N);
    assert_summary("run", st.run, N);
}

/// A workqueue's items run inside pumps on its pool: their runs count on the
/// workqueue, the pumps' on the pool.
#[test]
fn a_workqueue_s_runs_count_on_the_workqueue_not_its_pool() {
    let _guard = test_guard();
    let plain = Pool::new("lat-plain-pool").expect("pool");
    let wq = WorkQueue::builder("lat-wq")
        .pool(&plain)
        .max_active(2)
        .latency_histograms(true)
        .build()
        .expect("wq");
    let _items = run_items(
        |w| {
            wq.queue(w).expect("queue");
        },
        || wq.flush().expect("flush"),
    );
    assert_summary("wq wait", wq.stats().wait, N);
    assert_summary("wq run", wq.stats().run, N);
    assert_eq!(plain.stats().run, None);

    let timed = Pool::builder()
        .name("lat-timed-pool")
        .latency_histograms(true)
        .build()
        .expect("pool");
    let untimed = WorkQueue::builder("lat-untimed-wq")
        .pool(&timed)
        .build()
        .expect("wq");
    let _items = run_items(
        |w| {
            untimed.queue(w).expect("queue");
        },
        || untimed.flush().expect("flush"),
    );
    assert_eq!(untimed.stats().run, None);
    // The flush above waits for the workqueue's items, not for the pumps' runs
    // that carried them: let those end too before comparing two counts.
    timed.drain().expect("drain the pool");
    let pumps = timed.stats().run.expect("measured");
    // Pump runs, however many there were (a pump may find nothing to run).
    assert!(pumps.count >= 1, "{pumps:?}");
    assert_eq!(pumps.count, timed.stats().runs);
}

#[test]
fn a_panicking_run_is_timed_too() {
    let _guard = test_guard();
    let worker = Worker::builder()
        .name("lat-panic")
        .latency_histograms(true)
        .on_panic(|_| {})
        .build()
        .expect("worker");
    let work = Work::new(|_| panic!("on purpose"));
    worker.queue(&work).expect("queue");
    work.flush().expect("flush");
    let st = worker.stats();
    assert_eq!(st.panics, 1);
    assert_summary("run", st.run, 1);
}

/// A delayed item's wait counts from when its timer made it runnable.
#[test]
fn a_delayed_item_s_wait_is_counted_once_it_runs() {
    let _guard = test_guard();
    let clock = ManualClock::new();
    let worker = Worker::builder()
        .name("lat-delayed")
        .manual_clock(&clock)
        .latency_histograms(true)
        .build()
        .expect("worker");
    let (tx, rx) = mpsc::channel();
    let work = Work::new(move |_| {
        let _ = tx.send(());
    });
    worker
        .queue_after(&work, Duration::from_secs(3600))
        .expect("queue");
    assert_eq!(worker.stats().wait.expect("measured").count, 0);
    clock.advance(Duration::from_secs(3600));
    rx.recv_timeout(Duration::from_secs(20)).expect("the run");
    work.flush().expect("flush");
    assert_summary("wait", worker.stats().wait, 1);
    assert_summary("run", worker.stats().run, 1);
}

/// The runqueue view shows the summaries when measured.
#[test]
fn the_runqueue_view_shows_the_histograms() {
    let _guard = test_guard();
    let worker = timed_worker("lat-view");
    let work = Work::new(|_| {});
    worker.queue(&work).expect("queue");
    work.flush().expect("flush");
    let snap = worker.snapshot();
    assert_summary("snapshot run", snap.stats.run, 1);
    let text = snap.to_string();
    assert!(text.contains("\n  wait: 1 sample(s), p50 "), "{text}");
    assert!(text.contains("\n  run: 1 sample(s), p50 "), "{text}");
}

/// An item queued again during its run, and started in place when that run
/// ends, has its run timed but no wait recorded.
#[test]
fn a_run_started_in_place_is_timed() {
    let _guard = test_guard();
    let worker = timed_worker("lat-again");
    let left = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(N));
    let l = left.clone();
    let work = Work::new(move |ctx| {
        if l.fetch_sub(1, std::sync::atomic::Ordering::SeqCst) > 1 {
            ctx.requeue().expect("requeue");
        }
    });
    worker.queue(&work).expect("queue");
    common::wait_until("all runs", || {
        left.load(std::sync::atomic::Ordering::SeqCst) == 0
    });
    work.flush().expect("flush");
    let st = worker.stats();
    assert_eq!(st.runs, N);
    assert_summary("run", st.run, N);
    let waits = st.wait.expect("measured").count;
    assert!((1..=N).contains(&waits), "{waits}");
}

/// A wait lies between the queue call and the run's start, so the longest
/// wait recorded is at most the time this test measured around the call and
/// the flush (an upper bound the test takes itself, never a deadline).
#[test]
fn a_recorded_wait_is_never_longer_than_the_call_and_the_flush_around_it() {
    let _guard = test_guard();
    let pool = Pool::builder()
        .name("lat-bound")
        .min_threads(1)
        .max_threads(1)
        .latency_histograms(true)
        .build()
        .expect("pool");
    let worker = timed_worker("lat-bound-worker");
    let work = Work::new(|_| {});
    let (mut pool_bound, mut worker_bound) = (Duration::ZERO, Duration::ZERO);
    for round in 0..20 {
        let started = std::time::Instant::now();
        pool.queue(&work).expect("queue on the pool");
        work.flush().expect("flush");
        pool_bound = pool_bound.max(started.elapsed());
        let started = std::time::Instant::now();
        worker.queue(&work).expect("queue on the worker");
        work.flush().expect("flush");
        worker_bound = worker_bound.max(started.elapsed());
        for (what, stats, bound) in [
            ("pool", pool.stats(), pool_bound),
            ("worker", worker.stats(), worker_bound),
        ] {
            let wait = stats.wait.expect("measured");
            assert_eq!(wait.count, round + 1, "{what}");
            // Every wait is within its own call and flush, so within the
            // longest of them.
            assert!(wait.max <= bound, "{what}: {wait:?} > {bound:?}");
        }
    }
}
