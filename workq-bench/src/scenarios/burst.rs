//! Scenario 5, burst: items that each block for 1 ms, on pools that may use up to
//! 16 threads. Measured: the time until the last one finished, the most threads
//! the process had meanwhile, and the threads left a while later (workq culls
//! threads idle past its idle timeout, down to its minimum; tokio's blocking pool
//! has a keep-alive; the fixed pools keep every thread).
//!
//! Threads are counted from `/proc/self/task`, minus the count before the pool
//! was built (workq's snapshot is shown in a note as a cross-check).

use crate::measure::procfs::{quiet_threads, settle_threads, thread_count};
use crate::measure::sync::Countdown;
use crate::options::{Scenario, Sizes};
use crate::peers::{self, PeerKind, COLUMNS};
use crate::progress::Progress;
use crate::report::{Better, Row, Section, Target};
use std::sync::Arc;
use std::time::{Duration, Instant};
use workq::Work;

/// Progress steps: workq and one per peer.
pub(crate) const STEPS: usize = 2 + PeerKind::ALL.len();

/// workq's minimum threads in the burst (its threads left after the idle timeout).
const WORKQ_MIN: usize = 2;

/// What one system did.
#[derive(Clone, Copy, Default)]
struct Burst {
    ms: f64,
    peak: usize,
    left: usize,
}

/// Threads over `baseline` now (0 if /proc is not readable).
fn over(baseline: usize) -> usize {
    thread_count().map_or(0, |c| c.saturating_sub(baseline))
}

/// Waits for `done`, sampling the thread count every millisecond; returns the
/// peak over `baseline`.
fn watch(done: &Countdown, baseline: usize, timeout: Duration) -> usize {
    let give_up = Instant::now() + timeout;
    let mut peak = over(baseline);
    while !done.wait_timeout(Duration::from_millis(1)) {
        peak = peak.max(over(baseline));
        assert!(Instant::now() < give_up, "burst: items never finished");
    }
    peak
}

fn workq(sizes: &Sizes) -> (Burst, String) {
    let baseline = quiet_threads();
    let pool = peers::workq::pool(
        "bench-burst",
        WORKQ_MIN,
        sizes.burst_threads,
        sizes.burst_idle_timeout,
    );
    let warm = Work::new(|_| {});
    pool.queue(&warm).expect("queue");
    warm.flush().expect("flush");
    let done = Arc::new(Countdown::new(sizes.burst_items));
    let block = sizes.burst_block;
    let items: Vec<Work> = (0..sizes.burst_items)
        .map(|_| {
            let d = done.clone();
            Work::new(move |_| {
                std::thread::sleep(block);
                d.hit();
            })
        })
        .collect();
    let start = Instant::now();
    for w in &items {
        pool.queue(w).expect("queue a burst item");
    }
    let peak = watch(&done, baseline, Duration::from_secs(60));
    let ms = start.elapsed().as_secs_f64() * 1e3;
    let snap_peak = pool.snapshot().stats.threads_started;
    std::thread::sleep(sizes.burst_settle);
    let left = over(baseline);
    let snap_left = pool.snapshot().threads.len();
    pool.destroy().expect("destroy the pool");
    settle_threads(baseline, Duration::from_secs(5));
    let note = format!(
        "workq's own view: {snap_peak} threads started in all, {snap_left} left after the settle"
    );
    (Burst { ms, peak, left }, note)
}

fn peer(kind: PeerKind, sizes: &Sizes) -> Burst {
    let baseline = quiet_threads();
    let p = kind.build(sizes.burst_threads, sizes.burst_idle_timeout);
    let warm = Arc::new(Countdown::new(1));
    let w = warm.clone();
    p.spawn(move || w.hit());
    warm.wait_timeout(Duration::from_secs(5));
    let done = Arc::new(Countdown::new(sizes.burst_items));
    let block = sizes.burst_block;
    let start = Instant::now();
    for _ in 0..sizes.burst_items {
        let d = done.clone();
        p.spawn(move || {
            std::thread::sleep(block);
            d.hit();
        });
    }
    let peak = watch(&done, baseline, Duration::from_secs(60));
    let ms = start.elapsed().as_secs_f64() * 1e3;
    // Only tokio's pool shrinks; the fixed pools are counted right away.
    if kind == PeerKind::Tokio {
        std::thread::sleep(sizes.burst_settle);
    }
    let left = over(baseline);
    p.shutdown();
    settle_threads(baseline, Duration::from_secs(5));
    Burst { ms, peak, left }
}

/// How long `thread::sleep(block)` really takes here, on average (µs).
fn sleep_us(block: Duration) -> f64 {
    let n = 200;
    let start = Instant::now();
    for _ in 0..n {
        std::thread::sleep(block);
    }
    start.elapsed().as_secs_f64() * 1e6 / f64::from(n)
}

pub(crate) fn run(sizes: &Sizes, progress: &mut Progress) -> Section {
    progress.step("the real length of a sleep");
    let slept = sleep_us(sizes.burst_block);
    progress.step("workq Pool");
    let (w, snap_note) = workq(sizes);
    let mut results = vec![w];
    for kind in PeerKind::ALL {
        progress.step(kind.name());
        results.push(peer(kind, sizes));
    }
    let threads = sizes.burst_threads;
    let ideal = sizes.burst_items as f64 * sizes.burst_block.as_secs_f64() * 1e3 / threads as f64;
    let mut s = Section::new(
        Scenario::Burst,
        format!(
            "burst: {} items that block {} ms each, at most {threads} threads",
            super::count(sizes.burst_items),
            sizes.burst_block.as_millis()
        ),
        &COLUMNS,
    );
    let col = |f: fn(&Burst) -> f64| results.iter().map(|b| Some(f(b))).collect::<Vec<_>>();
    // The goal, 135 ms, is for 2,000 items; scaled for other sizes.
    let goal = 135.0 * ideal / 125.0;
    s.push(
        Row::new("completion time", "ms", Better::Lower, col(|b| b.ms))
            .target(
                Target::at_most(goal, format!("<= {goal:.0} ms")).context(format!(
                    "thread::sleep({} ms) takes {slept:.0} us here: no pool of {threads} threads \
                     can finish before ~{:.0} ms; the best peer (fixed threads): {:.1} ms",
                    sizes.burst_block.as_millis(),
                    sizes.burst_items as f64 * slept / 1e3 / threads as f64,
                    results[1..].iter().map(|b| b.ms).fold(f64::NAN, f64::min)
                )),
            )
            .headline("completion"),
    );
    s.push(
        Row::new(
            "peak threads",
            "threads",
            Better::Info,
            col(|b| b.peak as f64),
        )
        .decimals(0),
    );
    s.push(
        Row::new(
            format!(
                "threads left {:.1} s later",
                sizes.burst_settle.as_secs_f64()
            ),
            "threads",
            Better::Info,
            col(|b| b.left as f64),
        )
        .decimals(0)
        .target(Target::at_most(
            WORKQ_MIN as f64,
            format!("back to min ({WORKQ_MIN})"),
        )),
    );
    s.note(format!(
        "Ideal completion: {} items x {} ms / {threads} threads = {ideal:.0} ms. But \
         thread::sleep({} ms) takes {slept:.0} us on average here (200 measured), so no pool \
         can finish before about {:.0} ms. Threads: /proc/self/task minus the count before the \
         pool was built, sampled every ms.",
        super::count(sizes.burst_items),
        sizes.burst_block.as_millis(),
        sizes.burst_block.as_millis(),
        sizes.burst_items as f64 * slept / 1e3 / threads as f64
    ));
    s.note(format!(
        "workq: Pool min {WORKQ_MIN}, max {threads}, idle_timeout {:.1} s; tokio: spawn_blocking \
         with max_blocking_threads({threads}), thread_keep_alive({:.1} s); rayon, threadpool, \
         sched-tp and crossbeam: fixed pools of {threads} threads with no idle timeout (counted \
         right after the burst). Each pool ran one warm-up job first.",
        sizes.burst_idle_timeout.as_secs_f64(),
        sizes.burst_idle_timeout.as_secs_f64()
    ));
    s.note(snap_note);
    s
}
