//! Shutting queues down: from awkward places (the last handle dropped on the
//! worker's own thread), armed items at destroy (cancelled and counted, or run
//! now), closures whose drop panics, destroy with a deadline, shutdown_now and
//! destroy_async.
#![allow(clippy::unwrap_used)]

mod common;

use common::{
    bounded30, gate, lock, spawn_bounded, spawn_until_asleep, test_guard, wait_until, watchdog,
    DropCounter, Gate, Signal,
};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use workq::{ArmedAtShutdown, Error, ManualClock, Pool, ShutdownReport, Work, WorkQueue, Worker};

/// A queue call on some front end.
type QueueFn = Box<dyn Fn(&Work) -> Result<workq::Queued, Error>>;
/// A shutdown call on some front end.
type StopFn = Box<dyn FnOnce() -> Result<ShutdownReport, Error> + Send>;

/// Set in a child process that runs one scenario which may abort.
const CHILD: &str = "WORKQ_SHUTDOWN_CHILD";

/// Panics when dropped (after counting the drop).
struct PanicOnDrop(#[allow(dead_code)] DropCounter);

impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        panic!("closure drop panics");
    }
}

fn counting(name: &str) -> (Work, Arc<AtomicUsize>) {
    let runs = Arc::new(AtomicUsize::new(0));
    let r = runs.clone();
    let work = Work::named(name, move |_| {
        r.fetch_add(1, Ordering::SeqCst);
    });
    (work, runs)
}

/// An item counting its runs, with a drop counter in its closure.
fn counted(name: &str, runs: &Arc<AtomicUsize>, drops: &Arc<AtomicUsize>) -> Work {
    let (r, token) = (runs.clone(), DropCounter::on(drops));
    Work::named(name, move |_| {
        let _keep = &token;
        r.fetch_add(1, Ordering::SeqCst);
    })
}

/// An item that signals its start, then holds its thread until the gate opens,
/// then counts its finished runs.
fn gate_item(started: &Signal, gate: &Gate, finished: &Arc<AtomicUsize>) -> Work {
    let (s, g, f) = (started.clone(), gate.clone(), finished.clone());
    Work::named("gate", move |_| {
        s.notify();
        g.wait();
        f.fetch_add(1, Ordering::SeqCst);
    })
}

/// Runs this test binary again on one test with `CHILD` set to `scenario`, and
/// checks that the child passed (an abort is a failure, not the end of the run).
fn in_child(test: &str, scenario: &str) {
    let exe = std::env::current_exe().unwrap();
    let mut child = std::process::Command::new(exe)
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, scenario)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(common::WATCHDOG_SECS);
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            common::hung(&format!("child scenario {scenario}"), common::WATCHDOG_SECS);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && text.contains("scenario passed"),
        "scenario {scenario} failed ({:?}):\n{text}",
        out.status
    );
}

/// The scenario of `armed_closures_whose_drop_panics_do_not_abort_a_shutdown`:
/// two armed items whose closures panic when dropped, the last references held
/// by the timer; the shutdown `how` ("destroy", "drop", "pool") drops them.
fn panicking_drops_scenario(how: &str) {
    let panics = Arc::new(AtomicUsize::new(0));
    let p = panics.clone();
    let hook = move |_: &workq::PanicReport<'_>| {
        p.fetch_add(1, Ordering::SeqCst);
    };
    let clock = ManualClock::new();
    let drops: Vec<Arc<AtomicUsize>> = (0..2).map(|_| Arc::new(AtomicUsize::new(0))).collect();
    let arm = |queue_after: &dyn Fn(&Work) -> Result<workq::Queued, Error>| {
        for d in &drops {
            let bomb = PanicOnDrop(DropCounter::on(d));
            let work = Work::new(move |_| {
                let _keep = &bomb;
            });
            queue_after(&work).unwrap();
            // The timer holds the last reference.
        }
    };
    let hour = Duration::from_secs(3600);
    match how {
        "pool" => {
            let pool = Pool::builder()
                .name("panicky-drops")
                .manual_clock(&clock)
                .on_panic(hook)
                .build()
                .unwrap();
            arm(&|w| pool.queue_after(w, hour));
            let report = bounded30("pool destroy", move || pool.destroy().unwrap());
            assert_eq!(report.armed_cancelled(), 2);
        }
        _ => {
            let worker = Worker::builder()
                .name("panicky-drops")
                .manual_clock(&clock)
                .on_panic(hook)
                .build()
                .unwrap();
            arm(&|w| worker.queue_after(w, hour));
            if how == "drop" {
                bounded30("last drop", move || drop(worker));
            } else {
                let report = bounded30("destroy", move || worker.destroy().unwrap());
                assert_eq!(report.armed_cancelled(), 2);
            }
        }
    }
    assert_eq!(panics.load(Ordering::SeqCst), 2, "the hook sees each panic");
    for d in &drops {
        assert_eq!(d.load(Ordering::SeqCst), 1, "each closure dropped once");
    }
    println!("scenario passed");
}

/// Two armed items whose closures panic in `Drop`: destroy, the last drop and a
/// pool's destroy each drop them one at a time (two hook calls, each closure
/// dropped once), instead of aborting the process.
#[test]
fn armed_closures_whose_drop_panics_do_not_abort_a_shutdown() {
    if let Ok(how) = std::env::var(CHILD) {
        panicking_drops_scenario(&how);
        return;
    }
    let _guard = test_guard();
    for how in ["destroy", "drop", "pool"] {
        in_child(
            "armed_closures_whose_drop_panics_do_not_abort_a_shutdown",
            how,
        );
    }
}

/// The default policy cancels armed items at destroy, counts them, drops each
/// closure once, and nothing fires afterwards.
#[test]
fn destroy_cancels_and_counts_armed_items_by_default() {
    let _guard = test_guard();
    let clock = ManualClock::new();
    let worker = Worker::builder()
        .name("cancel-armed")
        .manual_clock(&clock)
        .build()
        .unwrap();
    let (runs, drops) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    for i in 0..5 {
        let w = counted(&format!("armed-{i}"), &runs, &drops);
        worker.queue_after(&w, Duration::from_secs(3600)).unwrap();
    }
    let w = worker.clone();
    let report = bounded30("destroy", move || w.destroy().unwrap());
    assert_eq!(report.armed_cancelled(), 5);
    assert_eq!(report.armed_run(), 0);
    assert_eq!(report.discarded(), 0);
    assert!(report.lost_work());
    assert_eq!(drops.load(Ordering::SeqCst), 5, "each closure dropped once");
    clock.advance(Duration::from_secs(7200));
    assert_eq!(
        runs.load(Ordering::SeqCst),
        0,
        "fired into a destroyed worker"
    );
    assert_eq!(clock.armed(), 0);
    assert_eq!(worker.destroy().unwrap(), ShutdownReport::default());
}

/// With `RunNow`, each armed item runs exactly once before destroy returns, on a
/// worker, a pool and a workqueue (the manual clock never reaches the deadline).
#[test]
fn run_now_runs_each_armed_item_once_before_destroy_returns() {
    let _guard = test_guard();
    let hour = Duration::from_secs(3600);
    for kind in ["worker", "pool", "workqueue"] {
        let clock = ManualClock::new();
        let (runs, drops) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let items: Vec<Work> = (0..4)
            .map(|i| counted(&format!("{kind}-{i}"), &runs, &drops))
            .collect();
        let destroy: StopFn = match kind {
            "worker" => {
                let worker = Worker::builder()
                    .name("run-now")
                    .manual_clock(&clock)
                    .armed_at_shutdown(ArmedAtShutdown::RunNow)
                    .build()
                    .unwrap();
                for w in &items {
                    worker.queue_after(w, hour).unwrap();
                }
                Box::new(move || worker.destroy())
            }
            "pool" => {
                let pool = Pool::builder()
                    .name("run-now")
                    .manual_clock(&clock)
                    .armed_at_shutdown(ArmedAtShutdown::RunNow)
                    .build()
                    .unwrap();
                for w in &items {
                    pool.queue_after(w, hour).unwrap();
                }
                Box::new(move || pool.destroy())
            }
            _ => {
                let pool = Pool::builder()
                    .name("run-now-pool")
                    .manual_clock(&clock)
                    .build()
                    .unwrap();
                let wq = WorkQueue::builder("run-now")
                    .pool(&pool)
                    .armed_at_shutdown(ArmedAtShutdown::RunNow)
                    .build()
                    .unwrap();
                for w in &items {
                    wq.queue_after(w, hour).unwrap();
                }
                Box::new(move || wq.destroy())
            }
        };
        assert_eq!(runs.load(Ordering::SeqCst), 0);
        let report = bounded30("destroy", destroy).unwrap();
        assert_eq!(report.armed_run(), 4, "{kind}");
        assert_eq!(report.armed_cancelled(), 0, "{kind}");
        assert_eq!(runs.load(Ordering::SeqCst), 4, "{kind}: ran before return");
        assert!(items.iter().all(|w| !w.is_pending()), "{kind}");
        clock.advance(2 * hour);
        assert_eq!(runs.load(Ordering::SeqCst), 4, "{kind}: ran once each");
        drop(items);
        assert_eq!(drops.load(Ordering::SeqCst), 4, "{kind}: dropped once each");
    }
}

/// destroy_timeout on a backlog: the only thread is held by a gate item, so no
/// backlog item can start; once the deadline has passed the backlog is discarded
/// (observable: its items are no longer pending while the gate is still shut),
/// the call waits for the gate item and returns; nothing of the backlog ever runs.
#[test]
fn destroy_timeout_discards_the_backlog_once_the_deadline_has_passed() {
    let _guard = test_guard();
    const N: usize = 50;
    for kind in ["worker", "pool"] {
        let (g, opener) = gate();
        let (started, finished) = (Signal::new(), Arc::new(AtomicUsize::new(0)));
        let blocker = gate_item(&started, &g, &finished);
        let (runs, drops) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let backlog: Vec<Work> = (0..N)
            .map(|i| counted(&format!("backlog-{i}"), &runs, &drops))
            .collect();
        let (queue, destroy): (QueueFn, StopFn) = if kind == "worker" {
            let worker = Worker::new("deadline").unwrap();
            let w = worker.clone();
            (
                Box::new(move |work| worker.queue(work)),
                Box::new(move || w.destroy_timeout(Duration::from_millis(20))),
            )
        } else {
            let pool = Pool::builder()
                .name("deadline")
                .min_threads(1)
                .max_threads(1)
                .build()
                .unwrap();
            let p = pool.clone();
            (
                Box::new(move |work| pool.queue(work)),
                Box::new(move || p.destroy_timeout(Duration::from_millis(20))),
            )
        };
        queue(&blocker).unwrap();
        started.wait_for(1, "the gate item runs");
        for w in &backlog {
            queue(w).unwrap();
        }
        let destroyer = spawn_bounded("destroy_timeout", destroy);
        wait_until("the backlog is discarded", || {
            backlog.iter().all(|w| !w.is_pending())
        });
        assert!(
            destroyer.try_join().is_none(),
            "returned before the run ended"
        );
        assert_eq!(finished.load(Ordering::SeqCst), 0);
        opener.open();
        let report = destroyer.join().unwrap();
        assert_eq!(
            finished.load(Ordering::SeqCst),
            1,
            "{kind}: waited for the run"
        );
        assert_eq!(report.discarded(), N, "{kind}");
        let names: Vec<String> = (0..N).map(|i| format!("backlog-{i}")).collect();
        assert_eq!(report.discarded_names(), &names[..], "{kind}");
        assert_eq!(
            runs.load(Ordering::SeqCst),
            0,
            "{kind}: a discarded item ran"
        );
        drop(backlog);
        assert_eq!(drops.load(Ordering::SeqCst), N, "{kind}: dropped once each");
        assert!(matches!(queue(&blocker), Err(Error::Destroyed { .. })));
    }
}

/// destroy_timeout with time to spare runs everything, like destroy.
#[test]
fn destroy_timeout_with_time_left_runs_everything() {
    let _guard = test_guard();
    let worker = Worker::new("time-left").unwrap();
    let (runs, drops) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let items: Vec<Work> = (0..10)
        .map(|i| counted(&format!("i{i}"), &runs, &drops))
        .collect();
    for w in &items {
        worker.queue(w).unwrap();
    }
    let w = worker.clone();
    let report = bounded30("destroy_timeout", move || {
        w.destroy_timeout(Duration::from_secs(3600)).unwrap()
    });
    assert!(report.is_empty(), "{report:?}");
    assert_eq!(runs.load(Ordering::SeqCst), 10);
}

/// shutdown_now waits for the item in progress and discards the waiting ones and
/// the armed one, on a worker and on a workqueue (whose pool lives on).
#[test]
fn shutdown_now_waits_for_the_running_item_and_discards_the_rest() {
    let _guard = test_guard();
    const N: usize = 20;
    for kind in ["worker", "workqueue"] {
        let (g, opener) = gate();
        let (started, finished) = (Signal::new(), Arc::new(AtomicUsize::new(0)));
        let blocker = gate_item(&started, &g, &finished);
        let (runs, drops) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let backlog: Vec<Work> = (0..N)
            .map(|i| counted(&format!("w{i}"), &runs, &drops))
            .collect();
        let armed = counted("armed", &runs, &drops);
        let pool = Pool::new("now-pool").unwrap();
        let (queue, arm, stop): (QueueFn, QueueFn, StopFn) = if kind == "worker" {
            let worker = Worker::new("now").unwrap();
            let (w1, w2) = (worker.clone(), worker.clone());
            (
                Box::new(move |work| w1.queue(work)),
                Box::new(move |work| w2.queue_after(work, Duration::from_secs(3600))),
                Box::new(move || worker.shutdown_now()),
            )
        } else {
            let wq = WorkQueue::builder("now")
                .pool(&pool)
                .ordered()
                .build()
                .unwrap();
            let (w1, w2) = (wq.clone(), wq.clone());
            (
                Box::new(move |work| w1.queue(work)),
                Box::new(move |work| w2.queue_after(work, Duration::from_secs(3600))),
                Box::new(move || wq.shutdown_now()),
            )
        };
        queue(&blocker).unwrap();
        started.wait_for(1, "the gate item runs");
        for w in &backlog {
            queue(w).unwrap();
        }
        arm(&armed).unwrap();
        let stopper = spawn_until_asleep("shutdown_now", stop);
        assert!(
            stopper.try_join().is_none(),
            "returned before the run ended"
        );
        opener.open();
        let report = stopper.join().unwrap();
        assert_eq!(
            finished.load(Ordering::SeqCst),
            1,
            "{kind}: waited for the run"
        );
        assert_eq!(report.discarded(), N, "{kind}");
        assert_eq!(report.discarded_names().len(), N, "{kind}");
        assert_eq!(report.armed_cancelled(), 1, "{kind}");
        assert_eq!(
            runs.load(Ordering::SeqCst),
            0,
            "{kind}: a discarded item ran"
        );
        assert!(backlog.iter().all(|w| !w.is_pending()) && !armed.is_pending());
        drop((backlog, armed));
        assert_eq!(
            drops.load(Ordering::SeqCst),
            N + 1,
            "{kind}: dropped once each"
        );
        // The pool is not the workqueue's to stop.
        let after = Work::new(|_| {});
        pool.queue(&after).unwrap();
        bounded30("the pool still runs", move || after.flush().unwrap());
    }
}

/// The shutdown calls refuse to run from the queue's own item, as destroy does.
#[test]
fn shutdown_calls_from_an_own_item_would_deadlock() {
    let _guard = test_guard();
    let worker = Worker::new("own").unwrap();
    let results = Arc::new(Mutex::new(Vec::new()));
    let (w, r) = (worker.clone(), results.clone());
    let item = Work::new(move |_| {
        let mut r = lock(&r);
        r.push(w.destroy_timeout(Duration::ZERO));
        r.push(w.shutdown_now());
    });
    worker.queue(&item).unwrap();
    let f = item.clone();
    bounded30("flush", move || f.flush().unwrap());
    let results = lock(&results);
    assert_eq!(results.len(), 2);
    assert!(results
        .iter()
        .all(|r| matches!(r, Err(Error::WouldDeadlock { .. }))));
}

/// destroy_async resolves under a current-thread runtime without blocking its only
/// thread: the item the drain waits for is released by a task on that same thread,
/// which could not run if the future blocked. It returns the report (an armed item
/// run now).
#[test]
fn destroy_async_does_not_block_the_executor_and_returns_the_report() {
    let _guard = test_guard();
    let clock = ManualClock::new();
    let worker = Worker::builder()
        .name("async-destroy")
        .manual_clock(&clock)
        .armed_at_shutdown(ArmedAtShutdown::RunNow)
        .build()
        .unwrap();
    let (g, opener) = gate();
    let (started, finished) = (Signal::new(), Arc::new(AtomicUsize::new(0)));
    let blocker = gate_item(&started, &g, &finished);
    let (runs, drops) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let armed = counted("armed", &runs, &drops);
    worker.queue(&blocker).unwrap();
    started.wait_for(1, "the gate item runs");
    worker
        .queue_after(&armed, Duration::from_secs(3600))
        .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let w = worker.clone();
    let report = bounded30("destroy_async", move || {
        rt.block_on(async move {
            let destroying = w.destroy_async();
            // Runs on this thread only once the destroy future has returned Pending.
            let opener_task = tokio::spawn(async move { opener.open() });
            let report = destroying.await;
            opener_task.await.unwrap();
            report
        })
    })
    .unwrap();
    assert_eq!(finished.load(Ordering::SeqCst), 1);
    assert_eq!(report.armed_run(), 1);
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    assert!(matches!(worker.queue(&armed), Err(Error::Destroyed { .. })));
}

/// A worker whose last handle is held by one of its own items' closures: when that
/// closure is dropped on the worker's thread, the worker shuts down instead of
/// waiting for itself.
#[test]
fn last_handle_dropped_on_the_worker_thread() {
    let _dog = watchdog(60, "last_handle_dropped_on_the_worker_thread");
    let name = "self-owned-wq";
    let worker = Worker::new(name).unwrap();
    // Hold the worker busy so that the next two items wait on its list.
    let (release, gate) = std::sync::mpsc::channel::<()>();
    let gate = Mutex::new(gate);
    let blocker = Work::new(move |_| {
        let _ = common::lock(&gate).recv_timeout(Duration::from_secs(30));
    });
    worker.queue(&blocker).unwrap();
    let (token, drops) = DropCounter::new();
    let inner = worker.clone();
    let owner = Work::new(move |_| {
        let _keep = (&inner, &token);
    });
    let (after, after_runs) = counting("after");
    worker.queue(&owner).unwrap();
    worker.queue(&after).unwrap();
    drop(owner);
    drop(worker);
    release.send(()).unwrap();
    common::wait_until("the closure is dropped", || {
        drops.load(Ordering::SeqCst) == 1
    });
    common::wait_until("the worker thread exits", || !thread_named(name));
    assert_eq!(
        after_runs.load(Ordering::SeqCst),
        1,
        "the item behind it ran"
    );
}

fn thread_named(name: &str) -> bool {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return false;
    };
    tasks
        .flatten()
        .any(|t| std::fs::read_to_string(t.path().join("comm")).is_ok_and(|c| c.trim_end() == name))
}

/// A pool's shutdown_now discards the pumps of a workqueue it feeds, and with
/// them that queue's waiting items (no pump will come for them): both in the
/// pool's report. A destroy of the workqueue waiting for them meanwhile returns
/// instead of hanging. Once with the pool's only thread held by a pool item (the
/// pump waits on the pool's list), once by an item of the workqueue (the pump
/// runs, and stops after that item).
#[test]
fn a_pools_shutdown_now_discards_the_waiting_items_of_its_workqueues() {
    let _guard = test_guard();
    for held_by in ["pool", "workqueue"] {
        let pool = Pool::builder()
            .name("stopped-pool")
            .min_threads(1)
            .max_threads(1)
            .build()
            .unwrap();
        let wq = WorkQueue::builder("fed")
            .pool(&pool)
            .ordered()
            .build()
            .unwrap();
        let (g, opener) = gate();
        let (started, finished) = (Signal::new(), Arc::new(AtomicUsize::new(0)));
        let blocker = gate_item(&started, &g, &finished);
        if held_by == "pool" {
            pool.queue(&blocker).unwrap();
        } else {
            wq.queue(&blocker).unwrap();
        }
        started.wait_for(1, "the gate item holds the pool's only thread");
        let (item, runs) = counting("accepted");
        wq.queue(&item).unwrap();
        let w = wq.clone();
        let destroyer = spawn_until_asleep("the workqueue's destroy", move || w.destroy());
        let p = pool.clone();
        let stopper = spawn_until_asleep("the pool's shutdown_now", move || p.shutdown_now());
        opener.open();
        let report = stopper.join().unwrap();
        assert_eq!(finished.load(Ordering::SeqCst), 1, "{held_by}");
        let names = report.discarded_names();
        assert!(
            names.contains(&"accepted".to_string()),
            "{held_by}: {names:?}"
        );
        assert_eq!(
            runs.load(Ordering::SeqCst),
            0,
            "{held_by}: a discarded item ran"
        );
        assert!(!item.is_pending(), "{held_by}");
        let report = destroyer.join().unwrap();
        assert!(report.is_empty(), "{held_by}: {report:?}");
        assert_eq!(runs.load(Ordering::SeqCst), 0, "{held_by}");
    }
}

/// With `RunNow` and a deadline, an armed item fired at the shutdown whose fired
/// run started stays counted in `armed_run` when a later run of it is discarded:
/// the fired run of `fired` queues `hold` and queues itself again; `hold` holds
/// the only thread until the deadline has discarded that second run (observable:
/// `fired` is no longer pending). One discarded run, one fired run that ran.
#[test]
fn a_fired_item_that_ran_stays_counted_when_its_next_run_is_discarded() {
    let _guard = test_guard();
    let worker = Worker::builder()
        .name("fired-requeued")
        .armed_at_shutdown(ArmedAtShutdown::RunNow)
        .build()
        .unwrap();
    let fired_slot: Arc<Mutex<Option<Work>>> = Arc::new(Mutex::new(None));
    let slot = fired_slot.clone();
    let hold = Work::named("hold", move |_| {
        let fired = lock(&slot).clone().unwrap();
        wait_until("the deadline discards the second run", || {
            !fired.is_pending()
        });
    });
    let runs = Arc::new(AtomicUsize::new(0));
    let (r, w, h) = (runs.clone(), Mutex::new(Some(worker.clone())), hold.clone());
    let fired = Work::named("fired", move |ctx| {
        if r.fetch_add(1, Ordering::SeqCst) == 0 {
            // One of the queue's own items: taken while the queue shuts down.
            let worker = lock(&w).take().unwrap();
            worker.queue(&h).unwrap();
            ctx.requeue().unwrap();
        }
    });
    *lock(&fired_slot) = Some(fired.clone());
    worker
        .queue_after(&fired, Duration::from_secs(3600))
        .unwrap();
    let w = worker.clone();
    let report = bounded30("destroy_timeout", move || {
        w.destroy_timeout(Duration::from_secs(1)).unwrap()
    });
    assert_eq!(runs.load(Ordering::SeqCst), 1, "{report}");
    assert_eq!(report.discarded_names(), ["fired"], "{report}");
    assert_eq!(report.armed_run(), 1, "the fired run ran: {report}");
    assert_eq!(report.armed_cancelled(), 0, "{report}");
    *lock(&fired_slot) = None;
}

/// Timer deliveries racing destroy, many times, with both policies: a thread
/// moves a manual clock through the deadlines of armed items while destroy
/// runs. Each item runs once or is counted as cancelled, never both, never
/// neither (with `RunNow` each runs), and each closure is dropped once.
#[test]
fn armed_items_racing_the_timer_at_destroy_are_run_or_counted() {
    let _guard = test_guard();
    const N: usize = 8;
    for round in 0..200 {
        let armed = if round % 2 == 0 {
            ArmedAtShutdown::Cancel
        } else {
            ArmedAtShutdown::RunNow
        };
        let clock = ManualClock::new();
        let worker = Worker::builder()
            .name("racing-timer")
            .manual_clock(&clock)
            .armed_at_shutdown(armed)
            .build()
            .unwrap();
        let (runs, drops) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let items: Vec<Work> = (0..N)
            .map(|i| counted(&format!("armed-{i}"), &runs, &drops))
            .collect();
        for (i, w) in items.iter().enumerate() {
            let at = Duration::from_millis(1 + (i % 4) as u64);
            worker.queue_after(w, at).unwrap();
        }
        let c = clock.clone();
        let ticker = spawn_bounded("ticker", move || {
            for _ in 0..5 {
                c.advance(Duration::from_millis(1));
            }
        });
        let w = worker.clone();
        let report = bounded30("destroy", move || w.destroy().unwrap());
        ticker.join();
        let ran = runs.load(Ordering::SeqCst);
        let what = format!("{armed:?} round {round}: {ran} ran, {report}");
        assert_eq!(ran + report.armed_cancelled(), N, "{what}");
        assert!(report.armed_run() <= ran, "{what}");
        if armed == ArmedAtShutdown::RunNow {
            assert_eq!(ran, N, "{what}");
        }
        assert!(items.iter().all(|w| !w.is_pending()), "{what}");
        drop(items);
        assert_eq!(drops.load(Ordering::SeqCst), N, "{what}");
    }
}
