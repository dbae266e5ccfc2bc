//! Events that are never lost: counts add up under stress, on a worker and on a
//! pool; "backlogged" is reported under a slow handler and never otherwise.
#![allow(clippy::unwrap_used)]

mod common;

use common::watchdog;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use workq::{BacklogReason, Error, Events, Pool, Submit, Worker};

const KINDS: usize = 3;

fn stress_on<T: Submit + 'static>(target: T, threads: usize, per_thread: u64) {
    let seen: Arc<Vec<AtomicU64>> = Arc::new((0..KINDS).map(|_| AtomicU64::new(0)).collect());
    let s = seen.clone();
    let events = Arc::new(
        Events::builder("stress")
            .kinds(KINDS)
            .counted(true)
            .backlog_age(None)
            .build(target, move |raised, _| {
                for (kind, n) in raised.iter() {
                    s[usize::from(kind)].fetch_add(n, Ordering::SeqCst);
                }
            })
            .unwrap(),
    );
    let producers: Vec<_> = (0..threads)
        .map(|t| {
            let e = events.clone();
            std::thread::spawn(move || {
                for i in 0..per_thread {
                    let kind = ((t as u64 + i) % KINDS as u64) as u8;
                    e.raise(kind).unwrap();
                }
            })
        })
        .collect();
    for p in producers {
        p.join().unwrap();
    }
    let e = events.clone();
    common::bounded30("flush the handler", move || e.flush().unwrap());
    let stats = events.stats();
    let total: u64 = (0..KINDS).map(|k| seen[k].load(Ordering::SeqCst)).sum();
    assert_eq!(total, threads as u64 * per_thread, "raises lost or doubled");
    for k in 0..KINDS {
        assert_eq!(seen[k].load(Ordering::SeqCst), stats.raised[k], "kind {k}");
        assert_eq!(stats.seen[k], stats.raised[k], "kind {k}");
    }
    assert!(stats.runs >= 1);
}

/// N threads raise M events each on a worker: the handlers' counts add up to N x M.
#[test]
fn counts_add_up_on_a_worker() {
    let _dog = watchdog(120, "counts_add_up_on_a_worker");
    stress_on(Worker::new("ev-worker").unwrap(), 4, 50_000);
}

/// The same on a pool, where the handler may run on any thread.
#[test]
fn counts_add_up_on_a_pool() {
    let _dog = watchdog(120, "counts_add_up_on_a_pool");
    let pool = Pool::builder()
        .name("ev-pool")
        .max_threads(4)
        .build()
        .unwrap();
    stress_on(pool.register("ev-owner"), 4, 50_000);
}

/// Plain mode: every kind raised shows up in a run's set.
#[test]
fn plain_mode_sees_every_kind() {
    let worker = Worker::new("ev-plain").unwrap();
    let union = Arc::new(AtomicU64::new(0));
    let u = union.clone();
    let events = Events::builder("plain")
        .build(worker, move |raised, _| {
            u.fetch_or(raised.set().bits(), Ordering::SeqCst);
            assert!(raised.iter().all(|(_, n)| n == 1));
        })
        .unwrap();
    for kind in [0u8, 5, 63] {
        events.raise(kind).unwrap();
    }
    events.flush().unwrap();
    assert_eq!(union.load(Ordering::SeqCst), 1 | (1 << 5) | (1 << 63));
    assert!(matches!(
        events.raise(64),
        Err(Error::InvalidKind {
            kind: 64,
            kinds: 64,
            ..
        })
    ));
}

/// A handler held up: events wait past the age threshold, and the run is
/// reported as backlogged, never as dropped; every raise is still seen.
///
/// Ordered by the handler's own run (it blocks on a gate after it started), not
/// by a race between a slow handler and the raises: the 19 later raises wait
/// behind the held run for at least 10 ms (a sleep is a lower bound whatever the
/// load), twice the 5 ms threshold.
#[test]
fn backlog_is_reported_under_a_slow_handler() {
    let _dog = watchdog(120, "backlog_is_reported_under_a_slow_handler");
    let worker = Worker::new("ev-slow").unwrap();
    let reports = Arc::new(Mutex::new(Vec::<String>::new()));
    let r = reports.clone();
    let seen = Arc::new(AtomicU64::new(0));
    let s = seen.clone();
    let (hold, opener) = common::gate();
    let started = common::Signal::new();
    let st = started.clone();
    let events = Events::builder("slow")
        .counted(true)
        .backlog_age(Some(Duration::from_millis(5)))
        .on_backlog(move |report| common::lock(&r).push(report.to_string()))
        .build(worker, move |raised, _| {
            s.fetch_add(raised.iter().map(|(_, n)| n).sum::<u64>(), Ordering::SeqCst);
            st.notify();
            hold.wait();
        })
        .unwrap();
    events.raise(1).unwrap();
    started.wait_for(1, "the handler's first run");
    for _ in 0..19 {
        events.raise(1).unwrap();
    }
    std::thread::sleep(Duration::from_millis(10));
    opener.open();
    let handler = events.work().clone();
    common::bounded30("flush the events", move || handler.flush()).unwrap();
    assert_eq!(seen.load(Ordering::SeqCst), 20, "nothing may be lost");
    let reports = common::lock(&reports);
    assert!(
        !reports.is_empty(),
        "raises held 10 ms behind a run with a 5 ms threshold must backlog"
    );
    assert!(reports
        .iter()
        .all(|r| r.contains("backlogged") && !r.contains("dropped")));
    assert_eq!(events.stats().backlogged as usize, reports.len());
}

/// Many raises folded into one run (the worker is frozen meanwhile) are reported
/// when over the fold threshold.
#[test]
fn folds_over_the_threshold_are_reported() {
    let worker = Worker::builder()
        .name("ev-folds")
        .freezable(true)
        .build()
        .unwrap();
    worker.freeze().unwrap();
    let reasons = Arc::new(Mutex::new(Vec::new()));
    let r = reasons.clone();
    let events = Events::builder("folds")
        .counted(true)
        .backlog_age(None)
        .backlog_folds(Some(10))
        .on_backlog(move |report| common::lock(&r).push(report.reason))
        .build(worker.clone(), |_, _| {})
        .unwrap();
    for _ in 0..100 {
        events.raise(0).unwrap();
    }
    worker.thaw().unwrap();
    events.flush().unwrap();
    assert_eq!(*common::lock(&reasons), vec![BacklogReason::Folded(100)]);
    let st = events.stats();
    assert_eq!(
        (st.raised[0], st.seen[0], st.folded[0], st.runs),
        (100, 100, 99, 1)
    );
}

/// A fast handler with the default thresholds is never reported.
#[test]
fn no_backlog_without_a_slow_handler() {
    let worker = Worker::new("ev-fast").unwrap();
    let reports = Arc::new(AtomicUsize::new(0));
    let r = reports.clone();
    let events = Events::builder("fast")
        .counted(true)
        .on_backlog(move |_| {
            r.fetch_add(1, Ordering::SeqCst);
        })
        .build(worker, |_, _| {})
        .unwrap();
    for i in 0..10_000u32 {
        events.raise((i % 4) as u8).unwrap();
    }
    events.flush().unwrap();
    assert_eq!(reports.load(Ordering::SeqCst), 0);
    assert_eq!(events.stats().backlogged, 0);
}

/// The kinds of a user enum, named in the builder; clones of the handle raise on
/// the same events from several threads; stats and backlog reports carry names.
#[test]
fn named_enum_kinds_on_cloned_handles() {
    #[derive(Clone, Copy)]
    enum Kind {
        Rx,
        Tx,
        Link,
    }
    impl From<Kind> for u8 {
        fn from(k: Kind) -> u8 {
            k as u8
        }
    }
    let _dog = watchdog(60, "named_enum_kinds_on_cloned_handles");
    let worker = Worker::builder()
        .name("ev-named")
        .freezable(true)
        .build()
        .expect("worker");
    worker.freeze().expect("freeze");
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let l = lines.clone();
    let events = Events::builder("nic")
        .kind_names(["rx", "tx", "link"])
        .counted(true)
        .backlog_age(None)
        .backlog_folds(Some(0))
        .on_backlog(move |report| common::lock(&l).push(report.to_string()))
        .build(worker.clone(), |_, _| {})
        .expect("events");
    assert_eq!(events.kinds(), 3);
    let raisers: Vec<_> = [Kind::Rx, Kind::Tx, Kind::Rx]
        .into_iter()
        .map(|kind| {
            let e = events.clone();
            std::thread::spawn(move || e.raise(kind).map(drop))
        })
        .collect();
    for r in raisers {
        r.join().expect("raiser").expect("raise");
    }
    assert!(matches!(
        events.raise(3u8),
        Err(Error::InvalidKind {
            kind: 3,
            kinds: 3,
            ..
        })
    ));
    worker.thaw().expect("thaw");
    let e = events.clone();
    common::bounded30("flush the events", move || e.flush()).expect("flush");
    let st = events.stats();
    assert_eq!(st.raised, [2, 1, 0]);
    assert_eq!(
        st.names,
        [Some("rx".into()), Some("tx".into()), Some("link".into())]
    );
    assert_eq!(events.kind_name(Kind::Link), Some("link"));
    let lines = common::lock(&lines);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].contains("rx (kind 0) x2"), "{}", lines[0]);
    assert!(lines[0].contains("tx (kind 1) x1"), "{}", lines[0]);
}
