//! Trouble in the library's own machinery is never silent: with no `tracing`
//! subscriber installed (or without the `tracing` feature), a panic in a run with
//! no panic hook of the user's, a failed thread start with no spawn-failure hook,
//! a stall and an events backlog each print exactly one line on standard error;
//! with a subscriber installed they are events and nothing goes to standard
//! error.
//!
//! Each test runs itself again in a child process (a fresh process, with or
//! without a global subscriber) and checks the child's standard error.
#![allow(clippy::unwrap_used)]

mod child;
mod common;

use common::*;
use std::sync::{mpsc, Mutex};
use std::time::Duration;
use workq::{Events, Pool, Stall, Work, WorkQueue, Worker};

/// The lines each kind of trouble prints (their start).
const PANIC: &str = "workq: work item 'boom' on 'visible' panicked: kaboom";
const SPAWN: &str = "workq: pool 'starved' could not start thread 'starved/0': no threads";
const STALL: &str = "workq: stall on 'stalled': item 'stuck' has been running for";
const BACKLOG: &str = "workq: events 'rx' backlogged";
const ALL: [&str; 4] = [PANIC, SPAWN, STALL, BACKLOG];

/// Makes each kind of trouble happen once, and returns once each has been
/// reported.
fn make_trouble() {
    // A panic in a run, with the default panic hook. The worker's drop joins its
    // thread, which reports the panic right after the run.
    let worker = Worker::new("visible").unwrap();
    let boom = Work::named("boom", |_| panic!("kaboom"));
    worker.queue(&boom).unwrap();
    bounded30("drop the panicking worker", move || drop(worker));

    // A failed thread start, with the default spawn-failure hook (called before
    // the queue call returns its error: one attempt, so the pool gives up at once).
    let starved = Pool::builder()
        .name("starved")
        .min_threads(1)
        .max_threads(1)
        .start_attempts(1)
        .spawner(|_, _| Err(std::io::Error::other("no threads")))
        .build()
        .unwrap();
    assert!(starved.queue(&Work::new(|_| {})).is_err());
    bounded30("drop the starved pool", move || drop(starved));

    // A stall: the log line comes before the hook call.
    let (report_tx, reports) = mpsc::channel();
    let report_tx = Mutex::new(report_tx);
    let stalled = WorkQueue::builder("stalled")
        .watchdog(Some(Duration::from_millis(20)))
        .on_stall(move |r| {
            let _ = lock(&report_tx).send(r.stall.clone());
        })
        .build()
        .unwrap();
    let (release, released) = mpsc::channel::<()>();
    let released = Mutex::new(released);
    let stuck = Work::named("stuck", move |_| {
        let _ = lock(&released).recv_timeout(Duration::from_secs(60));
    });
    stalled.queue(&stuck).unwrap();
    let stall = reports
        .recv_timeout(Duration::from_secs(WATCHDOG_SECS))
        .expect("a stall report");
    assert!(matches!(stall, Stall::Running { .. }));
    drop(release);
    bounded30("destroy the stalled queue", move || stalled.destroy()).unwrap();

    // An events backlog (two raises folded into one run; the limit is none),
    // with no backlog hook: reported in the handler's run.
    let handler = Worker::builder()
        .name("handler")
        .freezable(true)
        .build()
        .unwrap();
    handler.freeze().unwrap();
    let rx = Events::builder("rx")
        .backlog_age(None)
        .backlog_folds(Some(0))
        .build(handler.clone(), |_, _| {})
        .unwrap();
    rx.raise(0).unwrap();
    rx.raise(0).unwrap();
    handler.thaw().unwrap();
    bounded30("flush the events", move || rx.flush()).unwrap();
    bounded30("drop the handler's worker", move || drop(handler));
}

/// No subscriber installed: each kind of trouble is exactly one line on standard
/// error. Before, with the default `tracing` feature, they printed nothing
/// (beyond std's own panic message).
#[test]
fn trouble_with_no_subscriber_is_one_line_on_stderr() {
    const NAME: &str = "trouble_with_no_subscriber_is_one_line_on_stderr";
    if child::is_child(NAME) {
        let _guard = test_guard();
        make_trouble();
        return;
    }
    let out = child::run(NAME);
    assert!(out.success, "{out}");
    for line in ALL {
        assert_eq!(out.stderr_lines(line).len(), 1, "{line}\n{out}");
    }
}

/// A global subscriber installed: each kind of trouble is an event (a warning or
/// an error) and no line of the library's reaches standard error.
#[cfg(feature = "tracing")]
#[test]
fn trouble_with_a_subscriber_goes_to_tracing_only() {
    const NAME: &str = "trouble_with_a_subscriber_goes_to_tracing_only";
    if child::is_child(NAME) {
        let _guard = test_guard();
        let collect = child::collect::Collect::global();
        make_trouble();
        use tracing::Level;
        assert_eq!(collect.count(Level::ERROR, PANIC), 1);
        assert_eq!(collect.count(Level::WARN, SPAWN), 1);
        assert_eq!(collect.count(Level::WARN, STALL), 1);
        assert_eq!(collect.count(Level::WARN, BACKLOG), 1);
        return;
    }
    let out = child::run(NAME);
    assert!(out.success, "{out}");
    assert_eq!(out.stderr_lines("workq:"), Vec::<&str>::new(), "{out}");
}
