//! Async callers: the futures under tokio and under a minimal hand-written
//! executor, dropping pending futures, and back-pressure under stress.
#![allow(clippy::unwrap_used)]

mod common;

use common::watchdog;
use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::Thread;
use std::time::{Duration, Instant};
use workq::{Error, Pool, Work, WorkQueue, Worker};

/// A minimal executor: polls on the calling thread, parks until woken, and counts
/// wake-ups. Panics (fails the test) if the future is not done within 30 s.
struct Unparker {
    thread: Thread,
    woken: AtomicUsize,
}

impl Wake for Unparker {
    fn wake(self: Arc<Self>) {
        self.woken.fetch_add(1, Ordering::SeqCst);
        self.thread.unpark();
    }
}

fn block_on<F: Future>(fut: F) -> F::Output {
    let unparker = Arc::new(Unparker {
        thread: std::thread::current(),
        woken: AtomicUsize::new(0),
    });
    let waker = Waker::from(unparker.clone());
    let mut cx = Context::from_waker(&waker);
    let mut fut = pin!(fut);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "future not done after 30 s: lost wake-up?"
        );
        std::thread::park_timeout(Duration::from_millis(200));
    }
}

/// Polls once with a waker that records whether it was woken.
fn poll_once<F: Future + Unpin>(fut: &mut F, flag: &Arc<Flag>) -> Poll<F::Output> {
    let waker = Waker::from(flag.clone());
    let mut cx = Context::from_waker(&waker);
    std::pin::Pin::new(fut).poll(&mut cx)
}

#[derive(Default)]
struct Flag(AtomicBool);

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// An item blocked on a channel until the test releases it.
fn gated(name: &str) -> (Work, mpsc::Sender<()>, mpsc::Receiver<()>) {
    let (release, gate) = mpsc::channel::<()>();
    let (started_tx, started) = mpsc::channel::<()>();
    let gate = Mutex::new(gate);
    let started_tx = Mutex::new(started_tx);
    let work = Work::named(name, move |_| {
        let _ = common::lock(&started_tx).send(());
        let _ = common::lock(&gate).recv_timeout(Duration::from_secs(30));
    });
    (work, release, started)
}

/// The item flush future is pending while the run is blocked, is woken when it
/// ends, and then reports that it waited.
#[test]
fn flush_async_is_woken_when_the_run_ends() {
    let _dog = watchdog(60, "flush_async_is_woken_when_the_run_ends");
    let worker = Worker::new("async-flush").unwrap();
    let (work, release, started) = gated("blocked");
    worker.queue(&work).unwrap();
    started.recv_timeout(Duration::from_secs(30)).unwrap();
    let flag = Arc::new(Flag::default());
    let mut fut = work.flush_async();
    assert!(poll_once(&mut fut, &flag).is_pending());
    assert!(
        !flag.0.load(Ordering::SeqCst),
        "woken while the run goes on"
    );
    release.send(()).unwrap();
    common::wait_until("the future's waker is called", || {
        flag.0.load(Ordering::SeqCst)
    });
    assert!(matches!(poll_once(&mut fut, &flag), Poll::Ready(Ok(true))));
}

/// Every async form under the hand-written executor.
#[test]
fn every_async_form_under_a_minimal_executor() {
    let _dog = watchdog(60, "every_async_form_under_a_minimal_executor");
    let worker = Worker::new("async-all").unwrap();
    let runs = Arc::new(AtomicUsize::new(0));
    let r = runs.clone();
    let work = Work::new(move |ctx| {
        if r.fetch_add(1, Ordering::SeqCst) < 50 {
            let _ = ctx.requeue();
        }
    });
    worker.queue(&work).unwrap();
    block_on(worker.drain_async()).unwrap();
    assert_eq!(runs.load(Ordering::SeqCst), 51);
    worker.queue(&work).unwrap();
    block_on(worker.flush_async()).unwrap();
    assert_eq!(runs.load(Ordering::SeqCst), 52);
    assert!(
        !block_on(work.flush_async()).unwrap(),
        "idle: nothing to wait for"
    );
    assert!(!block_on(work.cancel_sync_async()).unwrap());

    let pool = Pool::builder()
        .name("async-pool")
        .max_threads(2)
        .build()
        .unwrap();
    let owner = pool.register("async-owner");
    let (w2, release, started) = gated("owned");
    owner.queue(&w2).unwrap();
    started.recv_timeout(Duration::from_secs(30)).unwrap();
    // Ordered by the run itself: the future is polled while the run is blocked
    // (it must wait), and the run is released only then.
    let mut unregister = owner.unregister_async();
    let flag = Arc::new(Flag::default());
    assert!(
        poll_once(&mut unregister, &flag).is_pending(),
        "unregister_async was ready while the owner's item was running"
    );
    release.send(()).unwrap();
    block_on(unregister).unwrap();
    assert!(
        !w2.is_running() && !w2.is_pending(),
        "unregister returned too early"
    );
    block_on(pool.flush_async()).unwrap();
    block_on(pool.drain_async()).unwrap();

    let wq = WorkQueue::builder("async-wq").pool(&pool).build().unwrap();
    let w3 = Work::new(|_| {});
    block_on(wq.queue_async(&w3)).unwrap();
    block_on(wq.flush_async()).unwrap();
    block_on(wq.drain_async()).unwrap();
    assert!(!w3.is_pending());
}

/// cancel_sync_async: queue calls fail while it is in progress; the self-requeueing
/// item stops; dropping a pending cancel future lets the item be queued again.
#[test]
fn cancel_sync_async_and_dropping_it() {
    let _dog = watchdog(60, "cancel_sync_async_and_dropping_it");
    let worker = Worker::new("async-cancel").unwrap();
    let (work, release, started) = gated("running");
    worker.queue(&work).unwrap();
    started.recv_timeout(Duration::from_secs(30)).unwrap();
    let flag = Arc::new(Flag::default());
    let mut fut = work.cancel_sync_async();
    assert!(poll_once(&mut fut, &flag).is_pending());
    assert!(matches!(worker.queue(&work), Err(Error::Canceling)));
    drop(fut); // cancel-safe: the item accepts queue calls again
    assert!(
        worker.queue(&work).is_ok(),
        "a dropped cancel future still blocks queueing"
    );
    release.send(()).unwrap();
    release.send(()).unwrap();
    block_on(work.flush_async()).unwrap();
    assert!(!work.is_pending() && !work.is_running());
}

/// Dropping a pending drain future stops holding the queue in drain: outside
/// queue calls are accepted again.
#[test]
fn dropping_a_drain_future_releases_the_queue() {
    let _dog = watchdog(60, "dropping_a_drain_future_releases_the_queue");
    let worker = Worker::new("async-drain-drop").unwrap();
    let (work, release, started) = gated("long");
    worker.queue(&work).unwrap();
    started.recv_timeout(Duration::from_secs(30)).unwrap();
    let flag = Arc::new(Flag::default());
    let mut fut = worker.drain_async();
    assert!(poll_once(&mut fut, &flag).is_pending());
    let other = Work::new(|_| {});
    assert!(matches!(worker.queue(&other), Err(Error::Draining { .. })));
    drop(fut);
    assert!(worker.queue(&other).is_ok());
    release.send(()).unwrap();
    block_on(worker.flush_async()).unwrap();
}

/// The async forms under a real tokio runtime, awaited from several tasks.
#[test]
fn under_tokio() {
    let _dog = watchdog(60, "under_tokio");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let pool = Pool::builder()
        .name("tokio-pool")
        .max_threads(4)
        .build()
        .unwrap();
    let wq = WorkQueue::builder("tokio-wq")
        .pool(&pool)
        .max_waiting(4)
        .build()
        .unwrap();
    let done = Arc::new(AtomicUsize::new(0));
    rt.block_on(async {
        let mut tasks = Vec::new();
        for t in 0..8 {
            let (wq, done) = (wq.clone(), done.clone());
            tasks.push(tokio::spawn(async move {
                for i in 0..50 {
                    let d = done.clone();
                    let w = Work::named(format!("t{t}-{i}"), move |_| {
                        std::thread::sleep(Duration::from_micros(100));
                        d.fetch_add(1, Ordering::SeqCst);
                    });
                    wq.queue_async(&w).await.unwrap();
                    if i % 10 == 0 {
                        w.flush_async().await.unwrap();
                    }
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        wq.flush_async().await.unwrap();
    });
    assert_eq!(done.load(Ordering::SeqCst), 400);
}

/// Back-pressure: producers on several threads never see more than the bound of
/// waiting items; try_queue fails at once on a full queue; blocking queue waits.
#[test]
fn the_bound_holds_under_stress() {
    let _dog = watchdog(120, "the_bound_holds_under_stress");
    const BOUND: usize = 8;
    let pool = Pool::builder()
        .name("bp-pool")
        .max_threads(2)
        .build()
        .unwrap();
    let wq = WorkQueue::builder("bp")
        .pool(&pool)
        .max_active(2)
        .max_waiting(BOUND)
        .build()
        .unwrap();
    let peak = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let full = Arc::new(AtomicUsize::new(0));
    let producers: Vec<_> = (0..4)
        .map(|p| {
            let (wq, peak, done, full) = (wq.clone(), peak.clone(), done.clone(), full.clone());
            std::thread::spawn(move || {
                for i in 0..300 {
                    let d = done.clone();
                    let w = Work::new(move |_| {
                        std::thread::sleep(Duration::from_micros(50));
                        d.fetch_add(1, Ordering::SeqCst);
                    });
                    if (p + i) % 3 == 0 {
                        match wq.try_queue(&w) {
                            Ok(_) => {}
                            Err(Error::Full { .. }) => {
                                full.fetch_add(1, Ordering::SeqCst);
                                wq.queue(&w).unwrap();
                            }
                            Err(e) => panic!("{e}"),
                        }
                    } else {
                        wq.queue(&w).unwrap();
                    }
                    peak.fetch_max(wq.snapshot().waiting.len(), Ordering::SeqCst);
                }
            })
        })
        .collect();
    for p in producers {
        p.join().unwrap();
    }
    let q = wq.clone();
    common::bounded30("flush", move || q.flush().unwrap());
    assert_eq!(done.load(Ordering::SeqCst), 1200, "items lost");
    let peak = peak.load(Ordering::SeqCst);
    assert!(peak <= BOUND, "{peak} items waited with a bound of {BOUND}");
    eprintln!(
        "peak waiting {peak}, try_queue found it full {} times",
        full.load(Ordering::SeqCst)
    );
}

/// The async calls start at the call, alike: `flush_async` cuts its flush and
/// `queue_async` queues its item before any poll; only on a full queue does
/// `queue_async` wait (and a drop then leaves the item unqueued). The futures
/// are `Send` and `Sync`.
#[test]
fn async_calls_start_at_the_call_and_are_sync() {
    fn send_sync<T: Send + Sync>(_: &T) {}
    let _dog = watchdog(60, "async_calls_start_at_the_call_and_are_sync");
    let pool = Pool::new("eager-pool").expect("pool");
    let wq = WorkQueue::builder("eager")
        .pool(&pool)
        .max_waiting(1)
        .freezable(true)
        .build()
        .expect("workqueue");
    wq.freeze().expect("freeze");
    let (a, b) = (Work::new(|_| {}), Work::new(|_| {}));
    let queue_a = wq.queue_async(&a);
    send_sync(&queue_a);
    assert!(a.is_pending(), "queued by the call, before any poll");
    // The flush is cut now: `a` is in it, a later item is not waited for.
    let flush = wq.flush_async();
    send_sync(&flush);
    // Full: the call for `b` does not queue it; dropping its future leaves it idle.
    let queue_b = wq.queue_async(&b);
    assert!(!b.is_pending());
    drop(queue_b);
    assert!(!b.is_pending());
    // A dropped future of a call that queued its item: the item stays queued.
    drop(queue_a);
    assert!(a.is_pending());
    wq.thaw().expect("thaw");
    // `a` runs before the flush's first poll: the flush still says it had a
    // run to wait for (decided at the call, where it was cut).
    common::wait_until("a ran after the thaw", || !a.is_pending());
    assert!(block_on(flush).expect("flush"));
    let destroying = wq.destroy_async();
    send_sync(&destroying);
    block_on(destroying).expect("destroy");
    pool.destroy().expect("destroy the pool");
}
