//! Named workqueues on shared pools: max_active, ordering, priority, freeze,
//! drain, destroy, rescuer, independent flushes, disable / enable, the watchdog.
#![allow(clippy::unwrap_used)]

mod common;

use common::{bounded30, wait_until, watchdog, DropCounter};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;
use workq::{Error, Pool, Queued, Stall, Work, WorkQueue};

fn pool(name: &str, max: usize) -> Pool {
    Pool::builder()
        .name(name)
        .min_threads(1)
        .max_threads(max)
        .build()
        .unwrap()
}

/// Counts how many runs are inside at once, and the most ever seen.
#[derive(Default)]
struct Concurrency {
    now: AtomicUsize,
    peak: AtomicUsize,
}

impl Concurrency {
    fn enter(&self) {
        let n = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(n, Ordering::SeqCst);
    }
    fn exit(&self) {
        self.now.fetch_sub(1, Ordering::SeqCst);
    }
}

fn flush(wq: &WorkQueue) {
    let w = wq.clone();
    bounded30("flush the workqueue", move || w.flush().unwrap());
}

/// At most max_active items of a queue run at once, even on a bigger pool, and
/// max_active of them do run at once.
///
/// Ordered by the runs themselves: every run waits on a gate until the test has
/// seen three runs inside at once, so the parallelism does not depend on how
/// long a run takes against how fast the pool starts threads.
#[test]
fn max_active_is_never_exceeded() {
    let _dog = watchdog(120, "max_active_is_never_exceeded");
    let p = pool("wq-max", 8);
    let wq = WorkQueue::builder("limited")
        .pool(&p)
        .max_active(3)
        .build()
        .unwrap();
    let c = Arc::new(Concurrency::default());
    let done = Arc::new(AtomicUsize::new(0));
    let (hold, opener) = common::gate();
    let items: Vec<Work> = (0..60)
        .map(|_| {
            let (c, d, hold) = (c.clone(), done.clone(), hold.clone());
            Work::new(move |_| {
                c.enter();
                hold.wait();
                std::thread::yield_now();
                c.exit();
                d.fetch_add(1, Ordering::SeqCst);
            })
        })
        .collect();
    for w in &items {
        wq.queue(w).unwrap();
    }
    wait_until("three runs at once", || c.now.load(Ordering::SeqCst) >= 3);
    opener.open();
    flush(&wq);
    assert_eq!(done.load(Ordering::SeqCst), 60, "items lost");
    let peak = c.peak.load(Ordering::SeqCst);
    assert_eq!(peak, 3, "{peak} ran at once with max_active 3");
}

/// An ordered queue runs its items one at a time in queueing order.
#[test]
fn ordered_is_fifo_one_at_a_time() {
    let _dog = watchdog(120, "ordered_is_fifo_one_at_a_time");
    let p = pool("wq-ordered", 4);
    let wq = WorkQueue::builder("ordered")
        .pool(&p)
        .ordered()
        .build()
        .unwrap();
    let order = Arc::new(Mutex::new(Vec::new()));
    let c = Arc::new(Concurrency::default());
    let items: Vec<Work> = (0..200)
        .map(|i| {
            let (o, c) = (order.clone(), c.clone());
            Work::new(move |_| {
                c.enter();
                common::lock(&o).push(i);
                c.exit();
            })
        })
        .collect();
    for w in &items {
        wq.queue(w).unwrap();
    }
    flush(&wq);
    assert_eq!(*common::lock(&order), (0..200).collect::<Vec<_>>());
    assert_eq!(c.peak.load(Ordering::SeqCst), 1);
}

/// With the pool's only thread busy, items of a high-priority queue run before the
/// normal queue's items that were waiting already.
#[test]
fn high_priority_goes_first() {
    let _dog = watchdog(120, "high_priority_goes_first");
    let p = pool("wq-prio", 1);
    let normal = WorkQueue::builder("normal").pool(&p).build().unwrap();
    let urgent = WorkQueue::builder("urgent")
        .pool(&p)
        .high_priority(true)
        .build()
        .unwrap();
    let (release, gate) = mpsc::channel::<()>();
    let gate = Mutex::new(gate);
    let (started_tx, started) = mpsc::channel::<()>();
    let started_tx = Mutex::new(started_tx);
    let blocker = Work::new(move |_| {
        let _ = common::lock(&started_tx).send(());
        let _ = common::lock(&gate).recv_timeout(Duration::from_secs(30));
    });
    normal.queue(&blocker).unwrap();
    started.recv_timeout(Duration::from_secs(30)).unwrap();
    let order = Arc::new(Mutex::new(Vec::new()));
    let mk = |tag: &'static str| {
        let o = order.clone();
        Work::new(move |_| common::lock(&o).push(tag))
    };
    let (n1, n2, u1, u2) = (mk("n1"), mk("n2"), mk("u1"), mk("u2"));
    normal.queue(&n1).unwrap();
    normal.queue(&n2).unwrap();
    urgent.queue(&u1).unwrap();
    urgent.queue(&u2).unwrap();
    release.send(()).unwrap();
    flush(&normal);
    flush(&urgent);
    let order = common::lock(&order).clone();
    let pos = |t| order.iter().position(|x| *x == t).unwrap();
    assert!(pos("u1") < pos("n1") && pos("u2") < pos("n1"), "{order:?}");
    assert!(pos("n1") < pos("n2") && pos("u1") < pos("u2"), "{order:?}");
}

/// Freeze holds items, thaw runs them: nothing lost, nothing run while frozen.
#[test]
fn freeze_thaw_loses_nothing() {
    let p = pool("wq-freeze", 2);
    let wq = WorkQueue::builder("freezable")
        .pool(&p)
        .freezable(true)
        .build()
        .unwrap();
    let runs = Arc::new(AtomicUsize::new(0));
    let items: Vec<Work> = (0..20)
        .map(|_| {
            let r = runs.clone();
            Work::new(move |_| {
                r.fetch_add(1, Ordering::SeqCst);
            })
        })
        .collect();
    wq.freeze().unwrap();
    for w in &items {
        wq.queue(w).unwrap();
    }
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(runs.load(Ordering::SeqCst), 0, "ran while frozen");
    assert_eq!(wq.snapshot().waiting.len(), 20);
    wq.thaw().unwrap();
    flush(&wq);
    assert_eq!(runs.load(Ordering::SeqCst), 20);
    let plain = WorkQueue::builder("plain").pool(&p).build().unwrap();
    assert!(matches!(plain.freeze(), Err(Error::NotFreezable { .. })));
}

/// drain with chained work (each item queues the next, 100 deep) ends with all
/// run; an outside queue call meanwhile gets Draining.
#[test]
fn drain_with_chained_work_ends() {
    let _dog = watchdog(120, "drain_with_chained_work_ends");
    let p = pool("wq-drain", 2);
    let wq = WorkQueue::builder("chain").pool(&p).build().unwrap();
    let runs = Arc::new(AtomicUsize::new(0));
    let (r, q2) = (runs.clone(), wq.clone());
    let chain = Work::new(move |ctx| {
        if r.fetch_add(1, Ordering::SeqCst) < 99 {
            std::thread::sleep(Duration::from_micros(200));
            q2.queue(&ctx.work()).unwrap();
        }
    });
    wq.queue(&chain).unwrap();
    let w = wq.clone();
    let drainer = std::thread::spawn(move || w.drain());
    wait_until("the drain started", || {
        matches!(wq.queue(&Work::new(|_| {})), Err(Error::Draining { .. }))
            || runs.load(Ordering::SeqCst) >= 100
    });
    drainer.join().unwrap().unwrap();
    assert_eq!(runs.load(Ordering::SeqCst), 100);
}

/// destroy drains, then refuses work; every closure is dropped once.
#[test]
fn destroy_drains_then_refuses() {
    let p = pool("wq-destroy", 2);
    let wq = WorkQueue::builder("doomed").pool(&p).build().unwrap();
    let (token, drops) = DropCounter::new();
    let runs = Arc::new(AtomicUsize::new(0));
    let r = runs.clone();
    let w = Work::new(move |_| {
        let _keep = &token;
        r.fetch_add(1, Ordering::SeqCst);
    });
    wq.queue(&w).unwrap();
    let q = wq.clone();
    bounded30("destroy", move || q.destroy().unwrap());
    assert_eq!(runs.load(Ordering::SeqCst), 1, "destroy did not drain");
    assert!(matches!(wq.queue(&w), Err(Error::Destroyed { .. })));
    wq.destroy().unwrap();
    drop(w);
    assert_eq!(drops.load(Ordering::SeqCst), 1);
}

/// A queue with a rescuer makes progress on a pool whose thread starts always fail.
#[test]
fn rescuer_makes_progress_without_pool_threads() {
    let _dog = watchdog(120, "rescuer_makes_progress_without_pool_threads");
    let p = Pool::builder()
        .name("no-threads")
        .min_threads(1)
        .max_threads(2)
        .spawner(|_, _| Err(std::io::Error::other("no threads today")))
        .on_spawn_failure(|_| {})
        .build()
        .unwrap();
    let plain = WorkQueue::builder("unrescued").pool(&p).build().unwrap();
    let w0 = Work::new(|_| {});
    assert!(
        plain.queue(&w0).is_err(),
        "without a rescuer the queue call must fail, not hang later"
    );
    let wq = WorkQueue::builder("rescued")
        .pool(&p)
        .rescuer(true)
        .build()
        .unwrap();
    let runs = Arc::new(AtomicUsize::new(0));
    let items: Vec<Work> = (0..10)
        .map(|_| {
            let r = runs.clone();
            Work::new(move |_| {
                r.fetch_add(1, Ordering::SeqCst);
            })
        })
        .collect();
    for w in &items {
        wq.queue(w).unwrap();
    }
    flush(&wq);
    assert_eq!(runs.load(Ordering::SeqCst), 10);
    assert!(wq
        .snapshot()
        .threads
        .iter()
        .any(|t| t.name.ends_with("/rescuer")));
}

/// Two queues on one pool flush independently: a flush of one does not wait for
/// the other's blocked item.
#[test]
fn two_queues_flush_independently() {
    let _dog = watchdog(120, "two_queues_flush_independently");
    let p = pool("wq-two", 4);
    let a = WorkQueue::builder("a").pool(&p).build().unwrap();
    let b = WorkQueue::builder("b").pool(&p).build().unwrap();
    let (release, gate) = mpsc::channel::<()>();
    let gate = Mutex::new(gate);
    let blocked = Work::new(move |_| {
        let _ = common::lock(&gate).recv_timeout(Duration::from_secs(30));
    });
    b.queue(&blocked).unwrap();
    let ran = Arc::new(AtomicUsize::new(0));
    let r = ran.clone();
    a.queue(&Work::new(move |_| {
        r.fetch_add(1, Ordering::SeqCst);
    }))
    .unwrap();
    flush(&a);
    assert_eq!(ran.load(Ordering::SeqCst), 1);
    assert!(
        blocked.is_running() || blocked.is_pending(),
        "b's item is still busy"
    );
    release.send(()).unwrap();
    flush(&b);
    assert!(!blocked.is_running() && !blocked.is_pending());
}

/// disable nests, cancels the pending run and blocks queueing until the matching
/// enable.
#[test]
fn disable_nests_and_blocks_queueing() {
    let p = pool("wq-disable", 2);
    let wq = WorkQueue::builder("dis")
        .pool(&p)
        .freezable(true)
        .build()
        .unwrap();
    let runs = Arc::new(AtomicUsize::new(0));
    let r = runs.clone();
    let w = Work::new(move |_| {
        r.fetch_add(1, Ordering::SeqCst);
    });
    wq.freeze().unwrap();
    wq.queue(&w).unwrap();
    assert!(w.disable().unwrap(), "the pending run was cancelled");
    assert!(!w.disable().unwrap());
    assert!(matches!(wq.queue(&w), Err(Error::Disabled)));
    assert!(!w.enable().unwrap(), "one disable left");
    assert!(matches!(wq.queue(&w), Err(Error::Disabled)));
    assert!(w.enable().unwrap());
    assert!(matches!(w.enable(), Err(Error::NotDisabled)));
    wq.thaw().unwrap();
    flush(&wq);
    assert_eq!(runs.load(Ordering::SeqCst), 0, "a disabled run ran");
    wq.queue(&w).unwrap();
    flush(&wq);
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}

/// The watchdog reports a stuck item, and items waiting behind it, once each.
#[test]
fn watchdog_reports_a_stuck_item_once() {
    let _dog = watchdog(120, "watchdog_reports_a_stuck_item_once");
    let p = pool("wq-watch", 2);
    let stalls = Arc::new(Mutex::new(Vec::new()));
    let s = stalls.clone();
    let wq = WorkQueue::builder("watched")
        .pool(&p)
        .ordered()
        .watchdog(Some(Duration::from_millis(40)))
        .on_stall(move |r| common::lock(&s).push(r.stall.clone()))
        .build()
        .unwrap();
    let (release, gate) = mpsc::channel::<()>();
    let gate = Mutex::new(gate);
    let stuck = Work::named("stuck", move |_| {
        let _ = common::lock(&gate).recv_timeout(Duration::from_secs(30));
    });
    let behind = Work::named("behind", |_| {});
    wq.queue(&stuck).unwrap();
    wq.queue(&behind).unwrap();
    wait_until("both stalls reported", || common::lock(&stalls).len() >= 2);
    // Several more watchdog periods: still reported once each.
    std::thread::sleep(Duration::from_millis(150));
    release.send(()).unwrap();
    flush(&wq);
    let stalls = common::lock(&stalls).clone();
    let running: Vec<_> = stalls
        .iter()
        .filter(|s| matches!(s, Stall::Running { .. }))
        .collect();
    let waiting: Vec<_> = stalls
        .iter()
        .filter(|s| matches!(s, Stall::Waiting { .. }))
        .collect();
    assert_eq!(running.len(), 1, "{stalls:?}");
    assert_eq!(waiting.len(), 1, "{stalls:?}");
    assert!(matches!(running[0], Stall::Running { work: Some(n), .. } if n == "stuck"));
}

/// The process-wide queues work with no set-up.
#[test]
fn system_queues_work() {
    let runs = Arc::new(AtomicUsize::new(0));
    let (a, b) = (runs.clone(), runs.clone());
    let w1 = Work::new(move |_| {
        a.fetch_add(1, Ordering::SeqCst);
    });
    let w2 = Work::new(move |_| {
        b.fetch_add(1, Ordering::SeqCst);
    });
    workq::queue(&w1).unwrap();
    workq::system_long().queue(&w2).unwrap();
    let (f1, f2) = (w1.clone(), w2.clone());
    bounded30("flush", move || {
        f1.flush().unwrap();
        f2.flush().unwrap();
    });
    assert_eq!(runs.load(Ordering::SeqCst), 2);
}

/// An item that, when it runs, says so and then blocks until released: runs
/// `then` after its release. Returns the item, where it says it started, and
/// its release.
fn gate(then: impl Fn() + Send + Sync + 'static) -> (Work, mpsc::Receiver<()>, mpsc::Sender<()>) {
    let (started_tx, started) = mpsc::channel::<()>();
    let (release, released) = mpsc::channel::<()>();
    let started_tx = Mutex::new(started_tx);
    let released = Mutex::new(released);
    let gate = Work::new(move |_| {
        started_tx.lock().unwrap().send(()).unwrap();
        released
            .lock()
            .unwrap()
            .recv_timeout(Duration::from_secs(30))
            .expect("released within 30 s");
        then();
    });
    (gate, started, release)
}

/// A workqueue draining a backlog on a one-thread pool gives the thread back
/// when other work waits on the pool: the pool's own item, queued before the
/// backlog, runs right after the workqueue's current item, not after its whole
/// backlog (the workqueue's own pumps queued on the pool, which are not other
/// work, must not hide it).
#[test]
fn a_draining_workqueue_lets_the_pools_other_work_in() {
    let pool = pool("wq-fair", 1);
    let wq = WorkQueue::builder("wq-fair-q").pool(&pool).build().unwrap();
    let order = Arc::new(Mutex::new(Vec::new()));
    let o = order.clone();
    let (first, started, release) = gate(move || o.lock().unwrap().push("wq 0".to_string()));
    wq.queue(&first).unwrap();
    started
        .recv_timeout(Duration::from_secs(30))
        .expect("the first item started within 30 s");
    let o = order.clone();
    let other = Work::new(move |_| o.lock().unwrap().push("pool".to_string()));
    pool.queue(&other).unwrap();
    let backlog: Vec<Work> = (1..=10)
        .map(|i| {
            let o = order.clone();
            Work::new(move |_| o.lock().unwrap().push(format!("wq {i}")))
        })
        .collect();
    for w in &backlog {
        wq.queue(w).unwrap();
    }
    release.send(()).unwrap();
    flush(&wq);
    pool.flush().unwrap();
    let order = order.lock().unwrap().clone();
    assert_eq!(order.len(), 12, "{order:?}");
    let at = order.iter().position(|s| s == "pool").unwrap();
    assert!(at <= 2, "the pool's item waited for the backlog: {order:?}");
}

/// A pool shut down with no time left while its threads are busy discards the
/// items waiting on the workqueues it feeds, and its report names them: also
/// those an ordered workqueue took through its inbox while its one pump waited
/// on the pool. None of them runs, the workqueue refuses further calls, and its
/// flush does not wait for items no pump will take.
#[test]
fn a_pools_shutdown_now_reports_its_workqueues_waiting_items() {
    let _dog = watchdog(
        60,
        "a_pools_shutdown_now_reports_its_workqueues_waiting_items",
    );
    let pool = pool("wq-orphan", 1);
    let wq = WorkQueue::builder("wq-orphan-q")
        .pool(&pool)
        .ordered()
        .build()
        .unwrap();
    let (gate, started, release) = gate(|| {});
    pool.queue(&gate).unwrap();
    started
        .recv_timeout(Duration::from_secs(30))
        .expect("the gate started within 30 s");
    let runs = Arc::new(AtomicUsize::new(0));
    let items: Vec<Work> = (0..10)
        .map(|i| {
            let r = runs.clone();
            Work::named(format!("orphan-{i}"), move |_| {
                r.fetch_add(1, Ordering::SeqCst);
            })
        })
        .collect();
    for w in &items {
        assert_eq!(wq.queue(w).unwrap(), Queued::Scheduled);
    }
    let p = pool.clone();
    let shutdown = thread::spawn(move || p.shutdown_now());
    let probe = Work::new(|_| {});
    wait_until("the pool's shutdown began", || pool.queue(&probe).is_err());
    release.send(()).unwrap();
    let report = shutdown.join().unwrap().unwrap();
    for i in 0..10 {
        let name = format!("orphan-{i}");
        assert!(
            report.discarded_names().contains(&name),
            "{name} not reported: {:?}",
            report.discarded_names()
        );
    }
    assert_eq!(runs.load(Ordering::SeqCst), 0);
    assert!(items.iter().all(|w| !w.is_pending()));
    assert!(wq.queue(&Work::new(|_| {})).is_err());
    let w = wq.clone();
    bounded30("flush a workqueue whose pool is gone", move || w.flush()).unwrap();
}
