//! Jobs: one-shot closures with a result, on every front end.
//!
//! Every wait is bounded (`WATCHDOG`): a bug shows as a failure, not a hang.

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;
use workq::{ArmedAtShutdown, Error, Job, JobError, ManualClock, Pool, WorkQueue, Worker};

/// The longest any wait in these tests may take before it counts as a hang.
const WATCHDOG: Duration = Duration::from_secs(60);

/// Joins `job` within the watchdog.
fn join<R>(mut job: Job<R>) -> Result<R, JobError> {
    match job.join_timeout(WATCHDOG) {
        Err(JobError::TimedOut) => panic!("a job did not end within {WATCHDOG:?}"),
        other => other,
    }
}

/// A freezable worker, frozen: the jobs spawned on it wait until the thaw.
fn frozen_worker(name: &str) -> Worker {
    let worker = Worker::builder()
        .name(name)
        .freezable(true)
        .build()
        .expect("worker");
    worker.freeze().expect("freeze");
    worker
}

/// Counts drops of the value it is captured in.
struct DropCount(Arc<AtomicUsize>);

impl Drop for DropCount {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn every_front_end_runs_a_job_and_returns_its_result() {
    let pool = Pool::new("jobs-pool").expect("pool");
    let worker = Worker::new("jobs-worker").expect("worker");
    let wq = WorkQueue::builder("jobs-wq").build().expect("workqueue");
    let owner = pool.register("jobs-owner");
    let data = vec![1u64, 2, 3];
    let d = data.clone();
    assert_eq!(
        join(pool.spawn(move || d.iter().sum::<u64>())).expect("the job's result"),
        6
    );
    assert_eq!(
        join(worker.spawn(|| "worker")).expect("the job's result"),
        "worker"
    );
    assert_eq!(join(wq.spawn(|| 7u8)).expect("the job's result"), 7);
    assert_eq!(
        join(owner.spawn(|| String::from("owner"))).expect("the job's result"),
        "owner"
    );
    assert_eq!(
        join(workq::spawn(move || data.len())).expect("the job's result"),
        3
    );
    owner.unregister().expect("unregister");
}

#[test]
fn a_panic_comes_back_to_the_join_and_not_to_the_hook() {
    let hooked = Arc::new(AtomicUsize::new(0));
    let h = hooked.clone();
    let worker = Worker::builder()
        .name("jobs-panic")
        .on_panic(move |_| {
            h.fetch_add(1, Ordering::SeqCst);
        })
        .build()
        .expect("worker");
    let err = join(worker.spawn(|| -> u32 { panic!("bad input") })).expect_err("an error");
    assert!(err.is_panic());
    assert_eq!(err.panic_message(), Some("bad input"));
    assert_eq!(err.to_string(), "the job panicked: bad input");
    worker.flush().expect("flush");
    assert_eq!(hooked.load(Ordering::SeqCst), 0);
    // The worker goes on.
    assert_eq!(join(worker.spawn(|| 1)).expect("the job's result"), 1);
}

#[test]
fn a_panic_of_a_detached_job_goes_to_the_hook() {
    let hooked = Arc::new(AtomicUsize::new(0));
    let h = hooked.clone();
    let worker = Worker::builder()
        .name("jobs-detached")
        .freezable(true)
        .on_panic(move |_| {
            h.fetch_add(1, Ordering::SeqCst);
        })
        .build()
        .expect("worker");
    worker.freeze().expect("freeze");
    drop(worker.spawn(|| panic!("nobody joins me")));
    worker.thaw().expect("thaw");
    worker.flush().expect("flush");
    assert_eq!(hooked.load(Ordering::SeqCst), 1);
}

#[test]
fn cancel_drops_the_closure_at_once_and_the_job_never_runs() {
    let worker = frozen_worker("jobs-cancel");
    let runs = Arc::new(AtomicUsize::new(0));
    let drops = Arc::new(AtomicUsize::new(0));
    let (r, d) = (runs.clone(), DropCount(drops.clone()));
    let job = worker.spawn(move || {
        let _d = &d;
        r.fetch_add(1, Ordering::SeqCst);
    });
    assert!(!job.is_finished());
    assert!(job.cancel());
    assert_eq!(drops.load(Ordering::SeqCst), 1, "closure dropped by cancel");
    assert!(job.is_finished());
    assert!(!job.cancel(), "a second cancel finds nothing");
    worker.thaw().expect("thaw");
    worker.drain().expect("drain");
    assert_eq!(runs.load(Ordering::SeqCst), 0);
    assert!(matches!(join(job), Err(JobError::Cancelled)));
    assert_eq!(drops.load(Ordering::SeqCst), 1);
}

#[test]
fn cancel_of_a_finished_job_is_refused_and_keeps_the_result() {
    let worker = Worker::new("jobs-cancel-late").expect("worker");
    let job = worker.spawn(|| 5);
    worker.flush().expect("flush");
    assert!(job.is_finished());
    assert!(!job.cancel());
    assert_eq!(join(job).expect("the job's result"), 5);
}

#[test]
fn a_job_discarded_by_shutdown_says_so_and_its_closure_is_dropped_once() {
    let worker = frozen_worker("jobs-discard");
    let drops = Arc::new(AtomicUsize::new(0));
    let d = DropCount(drops.clone());
    let job = worker.spawn(move || {
        let _d = &d;
    });
    let report = worker.shutdown_now().expect("shutdown");
    assert_eq!(report.discarded(), 1);
    assert!(matches!(join(job), Err(JobError::Discarded)));
    assert_eq!(drops.load(Ordering::SeqCst), 1);
}

#[test]
fn a_job_on_a_destroyed_queue_is_refused() {
    let pool = Pool::new("jobs-destroyed").expect("pool");
    pool.destroy().expect("destroy");
    let drops = Arc::new(AtomicUsize::new(0));
    let d = DropCount(drops.clone());
    let job = pool.spawn(move || {
        let _d = &d;
    });
    assert!(job.is_finished());
    match join(job) {
        Err(JobError::Refused(Error::Destroyed { .. })) => {}
        other => panic!("expected Refused(Destroyed), got {other:?}"),
    }
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    assert!(matches!(
        pool.try_spawn(|| ()),
        Err(Error::Destroyed { .. })
    ));
}

#[test]
fn try_spawn_on_a_full_queue_answers_full_and_drops_the_closure() {
    let wq = WorkQueue::builder("jobs-full")
        .freezable(true)
        .max_waiting(1)
        .build()
        .expect("workqueue");
    wq.freeze().expect("freeze");
    let first = wq.try_spawn(|| 1).expect("room for one");
    let drops = Arc::new(AtomicUsize::new(0));
    let d = DropCount(drops.clone());
    let refused = wq.try_spawn(move || {
        let _d = &d;
    });
    assert!(matches!(refused, Err(Error::Full { .. })), "{refused:?}");
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    wq.thaw().expect("thaw");
    assert_eq!(join(first).expect("the job's result"), 1);
}

#[test]
fn join_timeout_leaves_the_job_joinable_then_takes_the_result_once() {
    let worker = frozen_worker("jobs-timeout");
    let mut job = worker.spawn(|| "done");
    assert!(matches!(
        job.join_timeout(Duration::ZERO),
        Err(JobError::TimedOut)
    ));
    worker.thaw().expect("thaw");
    assert_eq!(
        job.join_timeout(WATCHDOG).expect("the job's result"),
        "done"
    );
    assert!(matches!(
        job.join_timeout(WATCHDOG),
        Err(JobError::AlreadyJoined)
    ));
}

#[test]
fn a_job_is_a_future_of_its_result() {
    let pool = Pool::new("jobs-future").expect("pool");
    let (tx, rx) = std::sync::mpsc::channel();
    // The runtime runs on its own thread, so that this one can bound the wait.
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let out = rt.block_on(async {
            let a = pool.spawn(|| 20);
            let b = pool.spawn_async(|| 22).await.expect("room");
            a.await.expect("a") + b.await.expect("b")
        });
        let _ = tx.send(out);
    });
    assert_eq!(rx.recv_timeout(WATCHDOG).expect("watchdog"), 42);
}

#[test]
fn spawn_after_runs_once_the_clock_reaches_the_delay() {
    let clock = ManualClock::new();
    let worker = Worker::builder()
        .name("jobs-after")
        .manual_clock(&clock)
        .build()
        .expect("worker");
    let ran = Arc::new(AtomicUsize::new(0));
    let r = ran.clone();
    let job = worker.spawn_after(Duration::from_secs(10), move || {
        r.fetch_add(1, Ordering::SeqCst);
    });
    clock.advance(Duration::from_secs(9));
    worker.flush().expect("flush");
    assert_eq!(ran.load(Ordering::SeqCst), 0, "never early");
    assert!(!job.is_finished());
    clock.advance(Duration::from_secs(1));
    join(job).expect("the job's result");
    assert_eq!(ran.load(Ordering::SeqCst), 1);
}

#[test]
fn a_cancelled_timer_job_never_runs() {
    let clock = ManualClock::new();
    let worker = Worker::builder()
        .name("jobs-after-cancel")
        .manual_clock(&clock)
        .armed_at_shutdown(ArmedAtShutdown::Cancel)
        .build()
        .expect("worker");
    let job = worker.spawn_at(clock.now() + Duration::from_secs(5), || unreachable!());
    assert!(job.cancel());
    clock.advance(Duration::from_secs(5));
    worker.flush().expect("flush");
    assert!(matches!(join(job), Err(JobError::Cancelled)));
}

#[test]
fn spawn_batch_keeps_the_order_of_its_handles() {
    let pool = Pool::new("jobs-batch").expect("pool");
    let jobs = pool.spawn_batch((0..100u32).map(|i| move || i * 2));
    assert_eq!(jobs.len(), 100);
    for (i, job) in jobs.into_iter().enumerate() {
        assert_eq!(join(job).expect("the job's result"), i as u32 * 2);
    }
}

#[test]
fn a_batch_runs_in_order_within_the_bound_of_a_full_queue() {
    let _guard = common::test_guard();
    // Ordered, and at most 3 jobs waiting: the batch of 200 waits for room
    // job by job, and runs in batch order.
    let wq = WorkQueue::builder("jobs-batch-bounded")
        .ordered()
        .max_waiting(3)
        .build()
        .expect("workqueue");
    let order = Arc::new(std::sync::Mutex::new(Vec::new()));
    let jobs = wq.spawn_batch((0..200u32).map(|i| {
        let order = order.clone();
        move || order.lock().expect("order").push(i)
    }));
    for job in jobs {
        join(job).expect("ran");
    }
    let order = order.lock().expect("order").clone();
    assert_eq!(order, (0..200).collect::<Vec<u32>>());
}

#[test]
fn a_batch_on_a_destroyed_queue_refuses_every_job_and_drops_its_closures() {
    let _guard = common::test_guard();
    let pool = Pool::new("jobs-batch-refused").expect("pool");
    pool.destroy().expect("destroy");
    let drops = Arc::new(AtomicUsize::new(0));
    let jobs = pool.spawn_batch((0..5).map(|_| {
        let token = DropCount(drops.clone());
        move || drop(token)
    }));
    assert_eq!(drops.load(Ordering::SeqCst), 5);
    for job in jobs {
        assert!(matches!(
            join(job),
            Err(JobError::Refused(Error::Destroyed { .. }))
        ));
    }
}

#[test]
fn a_join_inside_the_jobs_own_worker_runs_it_there() {
    let _guard = common::test_guard();
    let worker = Worker::new("jobs-self-join").expect("worker");
    let inner = worker.clone();
    let outer = worker.spawn(move || {
        let now = inner.spawn(|| 20);
        // Armed for later: joined once it is due, on this same thread.
        let mut later = inner.spawn_after(Duration::from_millis(2), || 22);
        let a = now.join().expect("the job spawned now");
        let b = later
            .join_timeout(WATCHDOG)
            .expect("the job armed for later");
        a + b
    });
    assert_eq!(join(outer).expect("the outer job"), 42);
}

#[test]
fn a_join_inside_an_ordered_workqueue_runs_the_job_there() {
    let _guard = common::test_guard();
    let wq = WorkQueue::builder("jobs-ordered-self-join")
        .ordered()
        .build()
        .expect("workqueue");
    let inner = wq.clone();
    let outer = wq.spawn(move || inner.spawn(|| "inner").join());
    assert_eq!(join(outer).expect("the outer job").expect("inner"), "inner");
}

#[test]
fn an_owner_unregister_waits_for_its_jobs() {
    let pool = Pool::new("jobs-owner-wait").expect("pool");
    let owner = pool.register("waits");
    let gate = Arc::new(Barrier::new(2));
    let done = Arc::new(AtomicUsize::new(0));
    let (g, d) = (gate.clone(), done.clone());
    let job = owner.spawn(move || {
        g.wait();
        d.fetch_add(1, Ordering::SeqCst);
    });
    gate.wait(); // the job has started
    owner.unregister().expect("unregister");
    assert_eq!(done.load(Ordering::SeqCst), 1);
    join(job).expect("the job's result");
}

#[test]
fn very_slow_jobs_leave_a_thread_for_ordinary_work() {
    let pool = Pool::builder()
        .name("jobs-vslow")
        .min_threads(2)
        .max_threads(2)
        .build()
        .expect("pool");
    let release = Arc::new(Barrier::new(2));
    let r = release.clone();
    // Holds the very slow share (one of two threads) until released.
    let slow = pool.spawn_very_slow(move || {
        r.wait();
    });
    let queued_behind = pool.spawn_very_slow(|| "second");
    // An ordinary job still gets the other thread.
    assert_eq!(
        join(pool.spawn(|| "ordinary")).expect("the job's result"),
        "ordinary"
    );
    assert!(!queued_behind.is_finished());
    release.wait();
    join(slow).expect("the job's result");
    assert_eq!(join(queued_behind).expect("the job's result"), "second");
}

#[test]
fn racing_cancels_and_runs_end_every_job_once_and_drop_every_closure_once() {
    let pool = Pool::builder()
        .name("jobs-race")
        .min_threads(2)
        .max_threads(2)
        .build()
        .expect("pool");
    let n = 5_000;
    let runs = Arc::new(AtomicUsize::new(0));
    let drops = Arc::new(AtomicUsize::new(0));
    let jobs: Vec<Job<usize>> = (0..n)
        .map(|i| {
            let (r, d) = (runs.clone(), DropCount(drops.clone()));
            pool.spawn(move || {
                let _d = &d;
                r.fetch_add(1, Ordering::SeqCst);
                i
            })
        })
        .collect();
    let mut cancelled = 0;
    let mut joined = 0;
    for (i, job) in jobs.into_iter().enumerate() {
        let c = i % 2 == 0 && job.cancel();
        match join(job) {
            Ok(v) => {
                assert!(!c, "a cancelled job ran");
                assert_eq!(v, i);
                joined += 1;
            }
            Err(JobError::Cancelled) => {
                assert!(c, "cancelled without a cancel");
                cancelled += 1;
            }
            Err(e) => panic!("job {i}: {e}"),
        }
    }
    pool.drain().expect("drain");
    assert_eq!(joined + cancelled, n);
    assert_eq!(runs.load(Ordering::SeqCst), joined);
    assert_eq!(drops.load(Ordering::SeqCst), n);
}

#[test]
fn a_job_panic_does_not_unwind_into_the_joiner_until_asked() {
    let pool = Pool::new("jobs-resume").expect("pool");
    let err = join(pool.spawn(|| -> () { std::panic::panic_any(17u32) })).expect_err("an error");
    let payload = err.into_panic().expect("a panic");
    let caught = catch_unwind(AssertUnwindSafe(|| std::panic::resume_unwind(payload)));
    assert_eq!(
        caught.expect_err("an error").downcast_ref::<u32>(),
        Some(&17)
    );
}

#[test]
fn a_job_sees_what_was_written_before_its_spawn() {
    let pool = Pool::new("jobs-visibility").expect("pool");
    for i in 0..1_000u64 {
        let v = Arc::new(AtomicUsize::new(0));
        v.store(i as usize + 1, Ordering::Relaxed);
        let seen = v.clone();
        let got = join(pool.spawn(move || seen.load(Ordering::Relaxed))).expect("the job's result");
        assert_eq!(got, i as usize + 1);
    }
}

#[test]
fn a_cancelled_job_leaves_its_queue_at_once() {
    let pool = Pool::new("jobs-cancel-leaves").expect("pool");
    let owner = pool.register("armed");
    let job = owner.spawn_after(Duration::from_secs(3600), || unreachable!());
    assert!(job.cancel());
    // The armed run is gone: unregister has nothing to wait for.
    owner
        .unregister_timeout(WATCHDOG)
        .expect("nothing left to wait for");
    assert!(matches!(job.join(), Err(JobError::Cancelled)));
}
