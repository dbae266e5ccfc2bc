//! The cost of arming a delayed item and of cancelling it.

use super::late::Plan;
use crate::measure::stats::{median, ns_per};
use crate::peers;
use std::time::{Duration, Instant};
use tokio_util::time::DelayQueue;
use workq::{Queued, Work};

/// Items armed, then cancelled, at a time: all delays are at least 1 ms and a
/// batch takes well under that, so nothing fires between the arm and the cancel.
pub(crate) const BATCH: usize = 1_000;

/// Measured passes over all the items (after one warm-up pass).
pub(crate) const PASSES: usize = 3;

/// Median ns per arm and per cancel over the passes.
pub(crate) struct ArmCancel {
    pub(crate) arm_ns: f64,
    pub(crate) cancel_ns: f64,
    /// Arms that did not schedule or cancels that removed nothing.
    pub(crate) misses: usize,
}

/// Times `PASSES` passes of `pass(delays) -> (arm time, cancel time, misses)` over
/// batches of the plan's delays.
fn passes(
    n: usize,
    mut batch: impl FnMut(&[Duration]) -> (Duration, Duration, usize),
) -> ArmCancel {
    let plan = Plan::new(n, 99);
    let (mut arms, mut cancels, mut misses) = (Vec::new(), Vec::new(), 0);
    for pass in 0..=PASSES {
        let (mut arm, mut cancel) = (Duration::ZERO, Duration::ZERO);
        for delays in plan.delays.chunks(BATCH) {
            let (a, c, m) = batch(delays);
            arm += a;
            cancel += c;
            misses += m;
        }
        if pass > 0 {
            arms.push(ns_per(arm, n));
            cancels.push(ns_per(cancel, n));
        }
    }
    ArmCancel {
        arm_ns: median(arms),
        cancel_ns: median(cancels),
        misses,
    }
}

/// ns per `Instant::now()`, the median of 5 loops of 1,000,000 reads: what
/// every arm call pays before anything else (a deadline is "now + delay").
pub(crate) fn clock_read_ns() -> f64 {
    const READS: usize = 1_000_000;
    let loops = (0..5)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..READS {
                std::hint::black_box(Instant::now());
            }
            ns_per(t.elapsed(), READS)
        })
        .collect();
    median(loops)
}

/// Arm / cancel for system `i` of [`super::SYSTEMS`].
pub(crate) fn measure(i: usize, sizes: &crate::options::Sizes) -> ArmCancel {
    let n = sizes.timer_items;
    match i {
        0 => workq(n),
        1 => tokio_tasks(n),
        2 => tokio_dq(n),
        _ => stp(n),
    }
}

fn workq(n: usize) -> ArmCancel {
    let worker = peers::workq::worker("bench-arm");
    let works: Vec<Work> = (0..BATCH).map(|_| Work::new(|_| {})).collect();
    let out = passes(n, |delays| {
        let mut misses = 0;
        let t = Instant::now();
        for (w, d) in works.iter().zip(delays) {
            if !matches!(worker.queue_after(w, *d), Ok(Queued::Scheduled)) {
                misses += 1;
            }
        }
        let arm = t.elapsed();
        let t = Instant::now();
        for w in &works[..delays.len()] {
            if !w.cancel() {
                misses += 1;
            }
        }
        (arm, t.elapsed(), misses)
    });
    worker.destroy().expect("destroy the worker");
    out
}

fn tokio_tasks(n: usize) -> ArmCancel {
    let rt = peers::tokio_multi_thread(2);
    let mut handles = Vec::with_capacity(BATCH);
    let out = passes(n, |delays| {
        let t = Instant::now();
        for d in delays {
            let d = *d;
            handles.push(rt.spawn(async move { tokio::time::sleep(d).await }));
        }
        let arm = t.elapsed();
        let t = Instant::now();
        for h in handles.drain(..) {
            h.abort();
        }
        (arm, t.elapsed(), 0)
    });
    rt.shutdown_timeout(Duration::from_secs(5));
    out
}

fn tokio_dq(n: usize) -> ArmCancel {
    let rt = peers::tokio_current_thread();
    let _ctx = rt.enter();
    let mut dq: DelayQueue<()> = DelayQueue::new();
    let mut keys = Vec::with_capacity(BATCH);
    passes(n, |delays| {
        let mut misses = 0;
        let t = Instant::now();
        for d in delays {
            keys.push(dq.insert((), *d));
        }
        let arm = t.elapsed();
        let t = Instant::now();
        for k in keys.drain(..) {
            if dq.try_remove(&k).is_none() {
                misses += 1;
            }
        }
        (arm, t.elapsed(), misses)
    })
}

fn stp(n: usize) -> ArmCancel {
    let pool = peers::stp_pool(2);
    let mut handles = Vec::with_capacity(BATCH);
    let out = passes(n, |delays| {
        let t = Instant::now();
        for d in delays {
            handles.push(pool.execute_after(*d, || {}));
        }
        let arm = t.elapsed();
        let t = Instant::now();
        for h in handles.drain(..) {
            h.cancel();
        }
        (arm, t.elapsed(), 0)
    });
    drop(pool);
    out
}
