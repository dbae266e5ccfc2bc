//! How late armed items start, and whether cancelled items stay cancelled.

use crate::measure::stats::{median, nanos, percentile, Rng};
use crate::peers;
use std::future::poll_fn;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::time::DelayQueue;
use workq::{Queued, Work};

/// The delays of one run, the same for every system.
pub(crate) struct Plan {
    pub(crate) delays: Vec<Duration>,
}

impl Plan {
    /// `n` delays spread uniformly over 1..200 ms (µs granularity).
    pub(crate) fn new(n: usize, seed: u64) -> Plan {
        let mut rng = Rng::new(0x9e37_79b9_7f4a_7c15 ^ seed);
        let delays = (0..n)
            .map(|_| Duration::from_micros(1_000 + rng.next_u64() % 199_001))
            .collect();
        Plan { delays }
    }

    /// Every second item is cancelled right after it is armed.
    fn is_cancelled(i: usize) -> bool {
        i % 2 == 1
    }
}

/// What the items of one run did: the first start of each (ns since `base`, 0:
/// never) and how many times each ran.
struct Record {
    base: Instant,
    start: Vec<AtomicU64>,
    runs: Vec<AtomicU32>,
}

impl Record {
    fn new(n: usize) -> Arc<Record> {
        Arc::new(Record {
            base: Instant::now(),
            start: (0..n).map(|_| AtomicU64::new(0)).collect(),
            runs: (0..n).map(|_| AtomicU32::new(0)).collect(),
        })
    }

    fn ns(&self, t: Instant) -> u64 {
        nanos(t.saturating_duration_since(self.base))
    }

    fn now_ns(&self) -> u64 {
        self.ns(Instant::now())
    }

    /// Called first thing in item `i`'s run.
    fn hit(&self, i: usize) {
        let t = self.now_ns() + 1;
        let _ = self.start[i].compare_exchange(0, t, Ordering::AcqRel, Ordering::Acquire);
        self.runs[i].fetch_add(1, Ordering::AcqRel);
    }

    /// Items that must run (not cancelled) and have not run yet.
    fn left(&self) -> usize {
        (0..self.runs.len())
            .step_by(2)
            .filter(|&i| self.runs[i].load(Ordering::Acquire) == 0)
            .count()
    }

    /// Waits until the last deadline passed and every item that must run ran (or a
    /// generous timeout), then a little longer for a wrongly surviving cancelled
    /// item to show itself.
    fn wait_done(&self, last_deadline: Instant) {
        let give_up = last_deadline + Duration::from_secs(3);
        std::thread::sleep(last_deadline.saturating_duration_since(Instant::now()));
        while self.left() > 0 && Instant::now() < give_up {
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A cancel of an item: when it returned, and whether the system said the run was
/// removed (`None`: it does not say).
#[derive(Clone, Copy)]
struct Cancel {
    end: u64,
    removed: Option<bool>,
}

/// The results of one or more runs.
#[derive(Default, Clone)]
pub(crate) struct Lateness {
    /// Lateness of the items not cancelled, ns.
    pub(crate) p50: f64,
    pub(crate) p99: f64,
    pub(crate) max: f64,
    /// Cancelled items that ran although the cancel removed them (or, for a
    /// system that does not say, ran after the cancel returned).
    pub(crate) cancelled_ran: usize,
    /// Items that started before their deadline.
    pub(crate) early: usize,
    /// Items not cancelled that never ran.
    pub(crate) missed: usize,
    /// Items that ran more than once.
    pub(crate) doubled: usize,
    /// Cancelled items that legitimately ran first (the cancel came too late).
    pub(crate) raced: usize,
}

impl Lateness {
    /// Medians of the percentiles, sums of the counts.
    pub(crate) fn combine(runs: &[Lateness]) -> Lateness {
        let pick = |f: fn(&Lateness) -> f64| median(runs.iter().map(f).collect());
        let sum = |f: fn(&Lateness) -> usize| runs.iter().map(f).sum();
        Lateness {
            p50: pick(|l| l.p50),
            p99: pick(|l| l.p99),
            max: pick(|l| l.max),
            cancelled_ran: sum(|l| l.cancelled_ran),
            early: sum(|l| l.early),
            missed: sum(|l| l.missed),
            doubled: sum(|l| l.doubled),
            raced: sum(|l| l.raced),
        }
    }
}

/// What one run armed: each item's deadline and cancel.
struct Armed {
    deadline_ns: Vec<u64>,
    cancels: Vec<Option<Cancel>>,
    last: Instant,
    /// workq: arm calls that did not schedule (counted as missed runs).
    failures: usize,
}

impl Armed {
    fn new(n: usize) -> Armed {
        Armed {
            deadline_ns: vec![0; n],
            cancels: vec![None; n],
            last: Instant::now(),
            failures: 0,
        }
    }

    /// Item `i` gets `deadline`.
    fn deadline(&mut self, rec: &Record, i: usize, deadline: Instant) {
        self.last = self.last.max(deadline);
        self.deadline_ns[i] = rec.ns(deadline);
    }

    fn analyze(&self, rec: &Record) -> Lateness {
        let mut out = Lateness::default();
        let mut late = Vec::with_capacity(self.deadline_ns.len());
        for (i, &deadline) in self.deadline_ns.iter().enumerate() {
            let runs = rec.runs[i].load(Ordering::Acquire);
            let start = rec.start[i].load(Ordering::Acquire).saturating_sub(1);
            if runs > 1 {
                out.doubled += 1;
            }
            if runs > 0 && start < deadline {
                out.early += 1;
            }
            match self.cancels[i] {
                None if runs == 0 => out.missed += 1,
                None => late.push(start.saturating_sub(deadline)),
                Some(_) if runs == 0 => {}
                Some(c) => {
                    let violation = c.removed.unwrap_or(start >= c.end);
                    if violation {
                        out.cancelled_ran += 1;
                    } else {
                        out.raced += 1;
                    }
                }
            }
        }
        late.sort_unstable();
        out.p50 = percentile(&late, 50.0) as f64;
        out.p99 = percentile(&late, 99.0) as f64;
        out.max = late.last().copied().unwrap_or(0) as f64;
        out.missed = out.missed.max(self.failures);
        out
    }
}

/// One lateness run of system `i` of [`super::SYSTEMS`].
pub(crate) fn measure(i: usize, plan: &Plan) -> Lateness {
    match i {
        0 => workq(plan),
        1 => tokio_tasks(plan),
        2 => tokio_dq(plan),
        _ => stp(plan),
    }
}

fn workq(plan: &Plan) -> Lateness {
    let n = plan.delays.len();
    let worker = peers::workq::worker("bench-late");
    let rec = Record::new(n);
    let works: Vec<Work> = (0..n)
        .map(|i| {
            let r = rec.clone();
            Work::new(move |_| r.hit(i))
        })
        .collect();
    let mut armed = Armed::new(n);
    for (i, w) in works.iter().enumerate() {
        let deadline = Instant::now() + plan.delays[i];
        armed.deadline(&rec, i, deadline);
        if !matches!(worker.queue_at(w, deadline), Ok(Queued::Scheduled)) {
            armed.failures += 1;
        }
        if Plan::is_cancelled(i) {
            let removed = w.cancel();
            armed.cancels[i] = Some(Cancel {
                end: rec.now_ns(),
                removed: Some(removed),
            });
        }
    }
    rec.wait_done(armed.last);
    worker.destroy().expect("destroy the worker");
    armed.analyze(&rec)
}

fn tokio_tasks(plan: &Plan) -> Lateness {
    let n = plan.delays.len();
    let rt = peers::tokio_multi_thread(2);
    let rec = Record::new(n);
    let mut armed = Armed::new(n);
    let mut aborted = Vec::with_capacity(n / 2);
    for (i, &delay) in plan.delays.iter().enumerate() {
        let deadline = Instant::now() + delay;
        armed.deadline(&rec, i, deadline);
        let r = rec.clone();
        let handle = rt.spawn(async move {
            tokio::time::sleep_until(deadline.into()).await;
            r.hit(i);
        });
        if Plan::is_cancelled(i) {
            handle.abort();
            aborted.push((i, handle, rec.now_ns()));
        }
    }
    rec.wait_done(armed.last);
    rt.block_on(async {
        for (i, handle, end) in aborted {
            // Cancelled: the abort removed the run. Ok: it had finished first.
            let removed = matches!(handle.await, Err(e) if e.is_cancelled());
            armed.cancels[i] = Some(Cancel {
                end,
                removed: Some(removed),
            });
        }
    });
    rt.shutdown_timeout(Duration::from_secs(5));
    armed.analyze(&rec)
}

fn tokio_dq(plan: &Plan) -> Lateness {
    let n = plan.delays.len();
    let rt = peers::tokio_current_thread();
    let rec = Record::new(n);
    let mut armed = Armed::new(n);
    rt.block_on(async {
        let mut dq: DelayQueue<usize> = DelayQueue::with_capacity(n);
        for (i, &delay) in plan.delays.iter().enumerate() {
            let deadline = Instant::now() + delay;
            armed.deadline(&rec, i, deadline);
            let key = dq.insert_at(i, deadline.into());
            if Plan::is_cancelled(i) {
                let removed = dq.try_remove(&key).is_some();
                armed.cancels[i] = Some(Cancel {
                    end: rec.now_ns(),
                    removed: Some(removed),
                });
            }
        }
        // Every item left expires within 200 ms; the queue then reports empty.
        while let Some(expired) = poll_fn(|cx| dq.poll_expired(cx)).await {
            rec.hit(expired.into_inner());
        }
    });
    std::thread::sleep(Duration::from_millis(20));
    armed.analyze(&rec)
}

fn stp(plan: &Plan) -> Lateness {
    let n = plan.delays.len();
    let pool = peers::stp_pool(2);
    let rec = Record::new(n);
    let mut armed = Armed::new(n);
    for (i, &delay) in plan.delays.iter().enumerate() {
        // Read just before the call, so never later than the pool's own deadline.
        let deadline = Instant::now() + delay;
        armed.deadline(&rec, i, deadline);
        let r = rec.clone();
        let handle = pool.execute_after(delay, move || r.hit(i));
        if Plan::is_cancelled(i) {
            handle.cancel();
            armed.cancels[i] = Some(Cancel {
                end: rec.now_ns(),
                removed: None,
            });
        }
    }
    rec.wait_done(armed.last);
    drop(pool);
    armed.analyze(&rec)
}
