//! Periodic work with periods at the edges of what a clock can represent, on a
//! `ManualClock` (time moves only when the test says so): a period too long to
//! represent never comes and never spins, and a fixed rate skips any number of
//! missed start times in one step.

mod common;

use common::{bounded30, test_guard};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use workq::{ManualClock, Periodic, Repeat, WorkCtx, Worker};

const YEAR: Duration = Duration::from_secs(86_400 * 365);

fn counter(n: &Arc<AtomicUsize>) -> impl Fn(&WorkCtx<'_>) + Send + Sync + 'static {
    let n = n.clone();
    move |_| {
        n.fetch_add(1, Ordering::SeqCst);
    }
}

fn flush(worker: &Worker) {
    let w = worker.clone();
    bounded30("flush the worker", move || w.flush().expect("flush"));
}

/// Stops `p` (bounded) and returns whether a run was still pending.
fn stop(p: Periodic) -> bool {
    bounded30("stop the repetition", move || p.stop().expect("stop"))
}

#[test]
fn a_period_too_long_to_represent_never_comes() {
    let _guard = test_guard();
    for repeat in [
        Repeat::FixedRate(Duration::MAX),
        Repeat::FixedDelay(Duration::MAX),
    ] {
        let clock = ManualClock::new();
        let worker = Worker::builder()
            .name("huge-period")
            .manual_clock(&clock)
            .build()
            .expect("worker");
        let runs = Arc::new(AtomicUsize::new(0));
        let p = worker
            .periodic("huge", repeat, counter(&runs))
            .expect("periodic");
        flush(&worker);
        let at_start = runs.load(Ordering::SeqCst);
        clock.advance(10 * YEAR);
        flush(&worker);
        let after_ten_years = runs.load(Ordering::SeqCst);
        let armed = p.work().is_pending();
        // Stopped before asserting: a spinning item would keep the worker's
        // drop (which drains it) from ever ending.
        let was_pending = stop(p);
        let after_stop = runs.load(Ordering::SeqCst);
        assert_eq!(
            (at_start, after_ten_years, after_stop),
            (0, 0, 0),
            "{repeat:?}: runs at the start, after ten years, after the stop"
        );
        assert!(
            armed && was_pending,
            "{repeat:?}: its first run stays armed"
        );
    }
}

#[test]
fn a_fixed_rate_skips_any_number_of_missed_starts_at_once() {
    let _guard = test_guard();
    let clock = ManualClock::new();
    let worker = Worker::builder()
        .name("skips")
        .manual_clock(&clock)
        .build()
        .expect("worker");
    let runs = Arc::new(AtomicUsize::new(0));
    let period = Duration::from_micros(500);
    let p = worker
        .periodic("rate", Repeat::FixedRate(period), counter(&runs))
        .expect("periodic");
    // About 6 * 10^10 start times missed: one run, then the next start is the
    // first one after the clock's time, not one of the missed ones.
    clock.advance(YEAR);
    flush(&worker);
    let after_jump = runs.load(Ordering::SeqCst);
    clock.advance(period / 2); // before the next start time
    flush(&worker);
    let before_next = runs.load(Ordering::SeqCst);
    clock.advance(period);
    flush(&worker);
    let after_next = runs.load(Ordering::SeqCst);
    stop(p);
    assert_eq!((after_jump, before_next, after_next), (1, 1, 2));
}
