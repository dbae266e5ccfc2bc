//! The cost of arming a delayed item and of cancelling it, on a wheel that is
//! firing: half of the items armed have short delays (50 µs..1 ms) and fire
//! while the producer goes on arming and cancelling; the other half have the
//! plan's delays (1..200 ms) and are cancelled.
//!
//! Items are armed in batches of [`BATCH`]; after a batch's arms its long items
//! are cancelled. workq's and the peers' timer threads fire the short items
//! meanwhile on their own threads; tokio-util's `DelayQueue` has one owner, so
//! that owner fires its expired items between two batches (a zero-timeout turn
//! of its runtime's driver and a drain of `poll_expired`, not timed). The time of
//! the arm calls and of the cancel calls is measured, nothing else.

use super::late::Plan;
use crate::measure::stats::{median, ns_per};
use crate::measure::sync::Countdown;
use crate::peers;
use std::future::poll_fn;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};
use tokio_util::time::DelayQueue;
use workq::{Queued, Work};

/// Items armed at a time (half of them then cancelled).
pub(crate) const BATCH: usize = 1_000;

/// Measured passes over all the items (after one warm-up pass).
pub(crate) const PASSES: usize = 3;

/// How long to wait for the short items of a pass to fire before counting the
/// rest as misses.
const FIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// Median ns per arm and per cancel over the passes.
pub(crate) struct ArmCancel {
    pub(crate) arm_ns: f64,
    pub(crate) cancel_ns: f64,
    /// Arms that did not schedule, cancels that removed nothing, and short items
    /// that did not fire.
    pub(crate) misses: usize,
}

/// The delays of one pass: item `i` fires (a short delay) when `i` is even, and
/// is cancelled (the plan's delay, at least 1 ms) when it is odd.
struct Delays(Vec<Duration>);

impl Delays {
    fn new(n: usize) -> Delays {
        let plan = Plan::new(n, 99);
        let delays = plan
            .delays
            .iter()
            .enumerate()
            .map(|(i, d)| {
                if fires(i) {
                    // 50 µs..1 ms, from the same generator.
                    Duration::from_micros(50 + (d.as_micros() % 950) as u64)
                } else {
                    *d
                }
            })
            .collect();
        Delays(delays)
    }

    /// Items that fire in a pass.
    fn firing(&self) -> usize {
        self.0.len().div_ceil(2)
    }
}

/// Whether item `i` fires (else it is cancelled).
fn fires(i: usize) -> bool {
    i.is_multiple_of(2)
}

/// Times of one pass: arm calls, cancel calls, misses.
#[derive(Default)]
struct Pass {
    arm: Duration,
    cancel: Duration,
    misses: usize,
}

/// The medians over the measured passes (the first pass is the warm-up).
fn summarize(n: usize, passes: Vec<Pass>) -> ArmCancel {
    let cancelled = n / 2;
    let misses = passes.iter().map(|p| p.misses).sum();
    let measured = &passes[1.min(passes.len())..];
    ArmCancel {
        arm_ns: median(measured.iter().map(|p| ns_per(p.arm, n)).collect()),
        cancel_ns: median(
            measured
                .iter()
                .map(|p| ns_per(p.cancel, cancelled))
                .collect(),
        ),
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
    let delays = Delays::new(sizes.timer_items.max(2));
    let n = delays.0.len();
    let passes = match i {
        0 => workq(&delays),
        1 => tokio_tasks(&delays),
        2 => tokio_dq(&delays),
        _ => stp(&delays),
    };
    summarize(n, passes)
}

/// Counts the short items of a pass that fired.
fn fired_counter(delays: &Delays) -> Arc<Countdown> {
    Arc::new(Countdown::new(delays.firing()))
}

/// Waits (blocking) until every short item of the pass fired; the ones that did
/// not are misses.
fn wait_fired(fired: &Countdown) -> usize {
    if fired.wait_timeout(FIRE_TIMEOUT) {
        0
    } else {
        fired.left()
    }
}

fn workq(delays: &Delays) -> Vec<Pass> {
    let worker = peers::workq::worker("bench-arm");
    let fired = fired_counter(delays);
    // One item per index: a short item of one batch may still be pending when
    // the next batch is armed.
    let works: Vec<Work> = (0..delays.0.len())
        .map(|i| {
            let f = fired.clone();
            Work::new(move |_| {
                if fires(i) {
                    f.hit();
                }
            })
        })
        .collect();
    let passes = (0..=PASSES)
        .map(|_| {
            fired.reset(delays.firing());
            let mut pass = Pass::default();
            for (ws, ds) in works.chunks(BATCH).zip(delays.0.chunks(BATCH)) {
                let t = Instant::now();
                for (w, d) in ws.iter().zip(ds) {
                    if !matches!(worker.queue_after(w, *d), Ok(Queued::Scheduled)) {
                        pass.misses += 1;
                    }
                }
                pass.arm += t.elapsed();
                let t = Instant::now();
                for w in ws.iter().skip(1).step_by(2) {
                    if !w.cancel() {
                        pass.misses += 1;
                    }
                }
                pass.cancel += t.elapsed();
            }
            pass.misses += wait_fired(&fired);
            pass
        })
        .collect();
    worker.destroy().expect("destroy the worker");
    passes
}

fn tokio_tasks(delays: &Delays) -> Vec<Pass> {
    let rt = peers::tokio_multi_thread(2);
    let fired = fired_counter(delays);
    let (mut short, mut long) = (Vec::with_capacity(BATCH), Vec::with_capacity(BATCH));
    let passes = (0..=PASSES)
        .map(|_| {
            fired.reset(delays.firing());
            let mut pass = Pass::default();
            for (b, ds) in delays.0.chunks(BATCH).enumerate() {
                let t = Instant::now();
                for (j, d) in ds.iter().enumerate() {
                    let (d, f) = (*d, fired.clone());
                    if fires(b * BATCH + j) {
                        short.push(rt.spawn(async move {
                            tokio::time::sleep(d).await;
                            f.hit();
                        }));
                    } else {
                        long.push(rt.spawn(async move {
                            tokio::time::sleep(d).await;
                            drop(f);
                        }));
                    }
                }
                pass.arm += t.elapsed();
                let t = Instant::now();
                for h in long.drain(..) {
                    h.abort();
                }
                pass.cancel += t.elapsed();
                short.clear();
            }
            pass.misses += wait_fired(&fired);
            pass
        })
        .collect();
    rt.shutdown_timeout(Duration::from_secs(5));
    passes
}

fn tokio_dq(delays: &Delays) -> Vec<Pass> {
    let rt = peers::tokio_current_thread();
    let mut long = Vec::with_capacity(BATCH);
    rt.block_on(async {
        let mut dq: DelayQueue<usize> = DelayQueue::new();
        let mut passes = Vec::new();
        for _ in 0..=PASSES {
            let mut pass = Pass::default();
            let mut fired = 0;
            for (b, ds) in delays.0.chunks(BATCH).enumerate() {
                let t = Instant::now();
                for (j, d) in ds.iter().enumerate() {
                    let key = dq.insert(b * BATCH + j, *d);
                    if !fires(b * BATCH + j) {
                        long.push(key);
                    }
                }
                pass.arm += t.elapsed();
                let t = Instant::now();
                for k in long.drain(..) {
                    if dq.try_remove(&k).is_none() {
                        pass.misses += 1;
                    }
                }
                pass.cancel += t.elapsed();
                // The owner fires what expired (not timed): one zero-timeout turn
                // of the driver, then every expired item.
                tokio::task::yield_now().await;
                while let Some(Some(_)) = poll_fn(|cx| match dq.poll_expired(cx) {
                    Poll::Ready(item) => Poll::Ready(Some(item)),
                    Poll::Pending => Poll::Ready(None),
                })
                .await
                {
                    fired += 1;
                }
            }
            // The rest of the short items (the queue is empty once they fired).
            while let Ok(Some(_)) =
                tokio::time::timeout(FIRE_TIMEOUT, poll_fn(|cx| dq.poll_expired(cx))).await
            {
                fired += 1;
            }
            pass.misses += delays.firing().saturating_sub(fired);
            passes.push(pass);
        }
        passes
    })
}

fn stp(delays: &Delays) -> Vec<Pass> {
    let pool = peers::stp_pool(2);
    let fired = fired_counter(delays);
    let (mut short, mut long) = (Vec::with_capacity(BATCH), Vec::with_capacity(BATCH));
    let passes = (0..=PASSES)
        .map(|_| {
            fired.reset(delays.firing());
            let mut pass = Pass::default();
            for (b, ds) in delays.0.chunks(BATCH).enumerate() {
                let t = Instant::now();
                for (j, d) in ds.iter().enumerate() {
                    let f = fired.clone();
                    if fires(b * BATCH + j) {
                        short.push(pool.execute_after(*d, move || f.hit()));
                    } else {
                        long.push(pool.execute_after(*d, move || drop(f)));
                    }
                }
                pass.arm += t.elapsed();
                let t = Instant::now();
                for h in long.drain(..) {
                    h.cancel();
                }
                pass.cancel += t.elapsed();
                short.clear();
            }
            pass.misses += wait_fired(&fired);
            pass
        })
        .collect();
    drop(pool);
    passes
}
