//! The stall watchdog: a backlog is reported while runs keep starting, a stall
//! hook that blocks does not silence other queues, and a failed start of the
//! watchdog thread is retried and reported.
//!
//! Every wait is bounded (a failure, not a hang). The watchdog runs on real time:
//! the tests order events with hook calls and the spawner's calls, never with a
//! time window. With the `tracing` feature, every test of this binary installs a
//! collecting subscriber (`Collect::global`), so the library's log lines are
//! events the tests can count; the start-failure tests run each in a child process of
//! its own (a fresh process, whose watchdog threads have not started yet).
#![allow(clippy::unwrap_used)]

mod child;
mod common;

use common::*;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;
use workq::{Pool, Stall, StallReport, Work, WorkQueue};

/// Stall reports seen by a hook.
type Stalls = Arc<Mutex<Vec<Stall>>>;

/// Installs the collecting subscriber (with the `tracing` feature).
fn collect_logs() {
    #[cfg(feature = "tracing")]
    child::collect::Collect::global();
}

/// An item that runs until `release` is dropped or sent to (bounded: 60 s).
fn stuck(name: &str) -> (Work, mpsc::Sender<()>) {
    let (release, released) = mpsc::channel::<()>();
    let released = Mutex::new(released);
    let work = Work::named(name, move |_| {
        let _ = lock(&released).recv_timeout(Duration::from_secs(60));
    });
    (work, release)
}

/// A queue whose items each run for a millisecond and queue themselves again,
/// one at a time (`max_active(1)`): runs keep starting, a few hundred a second,
/// while every waiting item waits for the 199 others, far longer than the 50 ms
/// threshold. The watchdog reports the backlog (`Stall::Backlog`, with the wait
/// of the oldest over the threshold) once for the episode, and nothing else.
/// Before `Stall::Backlog` the watchdog reported only queues where nothing
/// started, so this backlog went unreported.
#[test]
fn a_backlog_is_reported_once_while_runs_keep_starting() {
    let _guard = test_guard();
    collect_logs();
    let threshold = Duration::from_millis(50);
    let pool = Pool::builder()
        .name("backlog-pool")
        .min_threads(1)
        .max_threads(2)
        .build()
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let stalls: Stalls = Arc::default();
    let (s, st) = (stalls.clone(), stop.clone());
    let wq = WorkQueue::builder("backlogged")
        .pool(&pool)
        .max_active(1)
        .watchdog(Some(threshold))
        .on_stall(move |r: &StallReport<'_>| {
            if matches!(r.stall, Stall::Backlog { .. }) {
                st.store(true, Ordering::SeqCst);
            }
            lock(&s).push(r.stall.clone());
        })
        .build()
        .unwrap();
    let runs = Arc::new(AtomicUsize::new(0));
    let items: Vec<Work> = (0..200)
        .map(|_| {
            let (stop, wq, runs) = (stop.clone(), wq.clone(), runs.clone());
            Work::new(move |ctx| {
                runs.fetch_add(1, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(1));
                if !stop.load(Ordering::SeqCst) {
                    wq.queue(&ctx.work()).unwrap();
                }
            })
        })
        .collect();
    for item in &items {
        wq.queue(item).unwrap();
    }
    wait_until("the watchdog reports the backlog", || {
        lock(&stalls)
            .iter()
            .any(|s| matches!(s, Stall::Backlog { .. }))
    });
    let w = wq.clone();
    bounded30("flush the backlogged queue", move || w.flush()).unwrap();
    let stalls = lock(&stalls).clone();
    let backlogs: Vec<_> = stalls
        .iter()
        .filter_map(|s| match s {
            Stall::Backlog { waiting, oldest } => Some((*waiting, *oldest)),
            _ => None,
        })
        .collect();
    assert_eq!(backlogs.len(), 1, "{stalls:?}");
    let (waiting, oldest) = backlogs[0];
    assert!(waiting > 0 && waiting < 200, "{stalls:?}");
    assert!(oldest > threshold, "{stalls:?}");
    assert!(runs.load(Ordering::SeqCst) >= 200);
    assert!(items.iter().all(|w| !w.is_pending() && !w.is_running()));
    let w = wq.clone();
    bounded30("destroy the backlogged queue", move || w.destroy()).unwrap();
}

/// Queue A's stall hook blocks (until the end of the test); a stuck item on
/// queue B is still reported to B's hook, and A's hook, not returning after A's
/// threshold, is reported as a log line. Before the hooks ran off the patrol
/// thread, A's hook blocked the one process-wide patrol and B was never reported.
#[test]
fn a_stall_hook_that_blocks_holds_up_only_its_own_queue() {
    let _guard = test_guard();
    collect_logs();
    let threshold = Duration::from_millis(20);
    let pool = Pool::builder()
        .name("hooks-pool")
        .min_threads(2)
        .max_threads(4)
        .build()
        .unwrap();
    let a_calls = Arc::new(AtomicUsize::new(0));
    let (unblock, blocked) = mpsc::channel::<()>();
    let blocked = Mutex::new(blocked);
    let calls = a_calls.clone();
    let qa = WorkQueue::builder("hook-a")
        .pool(&pool)
        .watchdog(Some(threshold))
        .on_stall(move |_| {
            calls.fetch_add(1, Ordering::SeqCst);
            // Blocks until the test ends (bounded: 60 s).
            let _ = lock(&blocked).recv_timeout(Duration::from_secs(60));
        })
        .build()
        .unwrap();
    let b_stalls: Stalls = Arc::default();
    let s = b_stalls.clone();
    let qb = WorkQueue::builder("hook-b")
        .pool(&pool)
        .watchdog(Some(threshold))
        .on_stall(move |r| lock(&s).push(r.stall.clone()))
        .build()
        .unwrap();

    let (sa, release_a) = stuck("stuck-a");
    qa.queue(&sa).unwrap();
    wait_until("A's hook is called (and blocks)", || {
        a_calls.load(Ordering::SeqCst) > 0
    });
    let (sb, release_b) = stuck("stuck-b");
    qb.queue(&sb).unwrap();
    wait_until("B's stuck item is reported while A's hook blocks", || {
        lock(&b_stalls)
            .iter()
            .any(|s| matches!(s, Stall::Running { work: Some(w), .. } if w == "stuck-b"))
    });
    #[cfg(feature = "tracing")]
    wait_until("A's hook is reported as not returning", || {
        child::collect::Collect::global().count(
            tracing::Level::WARN,
            "workq: the stall hook of 'hook-a' has not returned for",
        ) == 1
    });
    assert_eq!(a_calls.load(Ordering::SeqCst), 1);

    drop((unblock, release_a, release_b));
    for (q, name) in [(qa, "hook-a"), (qb, "hook-b")] {
        bounded30(&format!("destroy {name}"), move || q.destroy()).unwrap();
    }
    assert!(!sa.is_running() && !sb.is_running());
}

/// The watchdog thread's first two starts fail (a spawner that injects the
/// failure, in a fresh process): each failure is one line on standard error (no
/// subscriber in the child), the start is retried with back-off until it
/// succeeds, and the watched queue's stuck item is then reported. Before the
/// retry, one failed start turned the watchdog off for the life of the process.
#[test]
fn a_failed_watchdog_start_is_retried_and_reported() {
    const NAME: &str = "a_failed_watchdog_start_is_retried_and_reported";
    if !child::is_child(NAME) {
        let out = child::run(NAME);
        assert!(out.success, "{out}");
        let failures = out.stderr_lines("workq: could not start the stall watchdog thread");
        assert_eq!(failures.len(), 2, "{out}");
        assert!(failures[0].contains("(attempt 1): injected EAGAIN; retrying in 10ms"));
        assert!(failures[1].contains("(attempt 2): injected EAGAIN; retrying in 20ms"));
        let started = "workq: the stall watchdog thread started after 2 failed attempt(s)";
        assert_eq!(out.stderr_lines(started).len(), 1, "{out}");
        let stall = "workq: stall on 'retried': item 'stuck' has been running for";
        assert_eq!(out.stderr_lines(stall).len(), 1, "{out}");
        return;
    }
    let _guard = test_guard();
    let spawns = Arc::new(AtomicUsize::new(0));
    let s = spawns.clone();
    workq::set_watchdog_spawner(move |builder, body| {
        if s.fetch_add(1, Ordering::SeqCst) < 2 {
            return Err(std::io::Error::other("injected EAGAIN"));
        }
        builder.spawn(body)
    });
    let (report_tx, reports) = mpsc::channel();
    let report_tx = Mutex::new(report_tx);
    let wq = WorkQueue::builder("retried")
        .watchdog(Some(Duration::from_millis(20)))
        .on_stall(move |r| {
            let _ = lock(&report_tx).send(r.stall.clone());
        })
        .build()
        .unwrap();
    let (work, release) = stuck("stuck");
    wq.queue(&work).unwrap();
    let stall = reports
        .recv_timeout(Duration::from_secs(WATCHDOG_SECS))
        .expect("a stall report once the watchdog thread has started");
    assert!(matches!(stall, Stall::Running { work: Some(ref w), .. } if w == "stuck"));
    // Two failed starts, the patrol thread, the thread calling the hook.
    assert_eq!(spawns.load(Ordering::SeqCst), 4);
    drop(release);
    bounded30("destroy the watched queue", move || wq.destroy()).unwrap();
}

/// The thread that would call a stall hook cannot start the first time (the
/// spawner's second call, after the patrol thread's, fails; in a fresh process):
/// the failure is one line on standard error, and the patrol starts the thread
/// again after its back-off, so the report still reaches the hook.
#[test]
fn a_failed_hook_thread_start_is_retried_and_reported() {
    const NAME: &str = "a_failed_hook_thread_start_is_retried_and_reported";
    if !child::is_child(NAME) {
        let out = child::run(NAME);
        assert!(out.success, "{out}");
        let failure = "workq: could not start a thread for the stall hook of 'hook-retried' (attempt 1): injected EAGAIN; retrying in 10ms";
        assert_eq!(out.stderr_lines(failure).len(), 1, "{out}");
        assert_eq!(out.stderr_lines("workq: could not start").len(), 1, "{out}");
        return;
    }
    let _guard = test_guard();
    let spawns = Arc::new(AtomicUsize::new(0));
    let s = spawns.clone();
    workq::set_watchdog_spawner(move |builder, body| {
        if s.fetch_add(1, Ordering::SeqCst) == 1 {
            return Err(std::io::Error::other("injected EAGAIN"));
        }
        builder.spawn(body)
    });
    let (report_tx, reports) = mpsc::channel();
    let report_tx = Mutex::new(report_tx);
    let wq = WorkQueue::builder("hook-retried")
        .watchdog(Some(Duration::from_millis(20)))
        .on_stall(move |r| {
            let _ = lock(&report_tx).send(r.stall.clone());
        })
        .build()
        .unwrap();
    let (work, release) = stuck("stuck");
    wq.queue(&work).unwrap();
    let stall = reports
        .recv_timeout(Duration::from_secs(WATCHDOG_SECS))
        .expect("the stall report, once the hook's thread has started");
    assert!(matches!(stall, Stall::Running { work: Some(ref w), .. } if w == "stuck"));
    // The patrol thread, the failed start, the hook's thread.
    assert_eq!(spawns.load(Ordering::SeqCst), 3);
    drop(release);
    bounded30("destroy the watched queue", move || wq.destroy()).unwrap();
}
