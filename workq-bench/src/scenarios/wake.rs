//! Scenario 2, wake latency: an idle pool gets one item; the time from just before
//! the submit until the item starts. The producer sleeps between samples so that
//! the pool's threads are asleep when the next item comes.
//!
//! The measured value is the start time the job records first thing; the job
//! then wakes the measuring thread, which blocks on a condition variable
//! meanwhile (it never spins or yields, so it takes no CPU from the system under
//! test).

use crate::measure::rounds::{in_rounds, Contender};
use crate::measure::stats::{nanos, percentile};
use crate::measure::sync::Countdown;
use crate::options::{Scenario, Sizes};
use crate::peers::{self, PeerKind, COLUMNS};
use crate::progress::Progress;
use crate::report::{Better, Row, Section, Target};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};
use workq::{Queued, Submit, Work};

/// The samples of each system are taken in this many rounds (`measure::rounds`).
const ROUNDS: usize = 5;

/// Progress steps: workq Pool, workq Worker, one per peer and the reference, each
/// once per round.
pub(crate) const STEPS: usize = (3 + PeerKind::ALL.len()) * ROUNDS;

/// Samples taken and thrown away before measuring.
const WARM_UP: usize = 20;

/// When the item of the current sample started (ns since [`base`]; 0: not yet).
static STARTED: AtomicU64 = AtomicU64::new(0);

fn base() -> Instant {
    static BASE: OnceLock<Instant> = OnceLock::new();
    *BASE.get_or_init(Instant::now)
}

fn now_ns() -> u64 {
    nanos(base().elapsed()).max(1)
}

/// Hit by the job after it recorded its start; the measuring thread blocks on it.
static RAN: Countdown = Countdown::new(0);

/// The job: records its start, then wakes the measuring thread.
fn job() {
    STARTED.store(now_ns(), Ordering::Release);
    RAN.hit();
}

/// Latencies (ns, sorted) of `samples` samples: sleep `gap`, submit, wait for the
/// start. Returns them and the samples whose submit did not find the pool idle.
fn sample(samples: usize, gap: Duration, mut submit: impl FnMut() -> bool) -> (Vec<u64>, usize) {
    let _ = base();
    let mut lat = Vec::with_capacity(samples);
    let mut not_idle = 0;
    for i in 0..WARM_UP + samples {
        std::thread::sleep(gap);
        STARTED.store(0, Ordering::Release);
        RAN.reset(1);
        let t0 = now_ns();
        let idle = submit();
        // Parks until the job wakes it (the job's own clock read is measured).
        let ran = RAN.wait_timeout(Duration::from_secs(5));
        assert!(ran, "wake: an item did not start within 5 s");
        if i >= WARM_UP {
            lat.push(STARTED.load(Ordering::Acquire).saturating_sub(t0));
            not_idle += usize::from(!idle);
        }
    }
    lat.sort_unstable();
    (lat, not_idle)
}

/// The floor: a bare std `Mutex` + `Condvar` handoff to one sleeping thread (the
/// notify after the unlock), with the same job and the same gaps.
struct CondvarReference {
    /// (an item is due, stop) and the waiter's condition variable.
    pair: Arc<(Mutex<(bool, bool)>, Condvar)>,
    waiter: std::thread::JoinHandle<()>,
}

impl CondvarReference {
    fn start() -> CondvarReference {
        let pair = Arc::new((Mutex::new((false, false)), Condvar::new()));
        let p = pair.clone();
        let waiter = std::thread::spawn(move || {
            let (m, cv) = &*p;
            let mut g = m.lock().unwrap_or_else(PoisonError::into_inner);
            loop {
                while !g.0 && !g.1 {
                    g = cv.wait(g).unwrap_or_else(PoisonError::into_inner);
                }
                if g.1 {
                    return;
                }
                g.0 = false;
                job();
            }
        });
        CondvarReference { pair, waiter }
    }

    fn sample(&self, samples: usize, gap: Duration) -> Vec<u64> {
        let (m, cv) = &*self.pair;
        sample(samples, gap, || {
            m.lock().unwrap_or_else(PoisonError::into_inner).0 = true;
            cv.notify_one();
            true
        })
        .0
    }

    fn stop(self) {
        let (m, cv) = &*self.pair;
        m.lock().unwrap_or_else(PoisonError::into_inner).1 = true;
        cv.notify_one();
        let _ = self.waiter.join();
    }
}

/// p50, p99, p99.9 in µs.
fn pcts(sorted: &[u64]) -> [f64; 3] {
    [50.0, 99.0, 99.9].map(|p| percentile(sorted, p) as f64 / 1e3)
}

pub(crate) fn run(sizes: &Sizes, progress: &mut Progress) -> Section {
    let threads = sizes.threads;
    // Every system is built first; the samples are taken in rounds (each system's
    // share of a round in a row), so a slow spell of the machine hits every system
    // alike.
    let per_round = sizes.wake_samples.div_ceil(ROUNDS);
    let gap = sizes.wake_gap;
    let pool = peers::workq::pool("bench-wake", threads, threads, Duration::from_secs(60));
    let worker = peers::workq::worker("bench-wake-w");
    let peers: Vec<peers::Peer> = PeerKind::ALL
        .iter()
        .map(|kind| kind.build(threads, Duration::from_secs(60)))
        .collect();
    let reference = CondvarReference::start();
    let pool_item = Work::new(|_| job());
    let worker_item = Work::new(|_| job());
    let workq_submit = |q: &dyn Fn(&Work) -> Result<Queued, workq::Error>, w: &Work| {
        sample(per_round, gap, || q(w).expect("queue") == Queued::Scheduled)
    };
    let mut contenders = vec![
        Contender::new("workq Pool", || {
            workq_submit(&|w| pool.submit(w), &pool_item)
        }),
        Contender::new("workq Worker", || {
            workq_submit(&|w| worker.submit(w), &worker_item)
        }),
        Contender::new("reference: bare Condvar", || {
            (reference.sample(per_round, gap), 0)
        }),
    ];
    for (kind, peer) in PeerKind::ALL.iter().zip(&peers) {
        contenders.push(Contender::new(kind.name(), move || {
            sample(per_round, gap, || {
                peer.spawn(job);
                true
            })
        }));
    }
    let rounds = in_rounds(ROUNDS, &mut contenders, progress);
    drop(contenders);
    pool.destroy().expect("destroy the pool");
    worker.destroy().expect("destroy the worker");
    for peer in peers {
        peer.shutdown();
    }
    reference.stop();
    // Each system's samples of all rounds, sorted, and its busy submits.
    let mut merged = rounds.into_iter().map(|parts| {
        let mut lat: Vec<u64> = Vec::new();
        let mut busy = 0;
        for (part, b) in parts {
            lat.extend(part);
            busy += b;
        }
        lat.sort_unstable();
        (lat, busy)
    });
    let mut next = || merged.next().unwrap_or_default();
    let (pool_lat, pool_busy) = next();
    let (worker_lat, worker_busy) = next();
    let reference = pcts(&next().0);
    let peer_pcts: Vec<[f64; 3]> = PeerKind::ALL.iter().map(|_| pcts(&next().0)).collect();

    let mut s = Section::new(
        Scenario::Wake,
        format!(
            "wake latency: idle pool of {threads} threads, one item, submit -> start, {} samples",
            super::count(sizes.wake_samples)
        ),
        &COLUMNS,
    );
    let targets = [Some(3.0), Some(10.0), None];
    for (front, lat) in [
        (format!("Pool({threads})"), &pool_lat),
        ("Worker".to_string(), &worker_lat),
    ] {
        let w = pcts(lat);
        for (i, name) in ["p50", "p99", "p99.9"].into_iter().enumerate() {
            let mut values = vec![Some(w[i])];
            values.extend(peer_pcts.iter().map(|p| Some(p[i])));
            let mut row =
                Row::new(format!("{name}, {front}"), "us", Better::Lower, values).decimals(1);
            if let Some(t) = targets[i] {
                row = row.target(Target::at_most(t, format!("<= {t} us")).context(format!(
                    "a bare condvar handoff to a sleeping thread: {:.1} us",
                    reference[i]
                )));
                if front.starts_with("Pool") {
                    row = row.headline(if i == 0 { "p50" } else { "p99" });
                }
            }
            s.push(row);
        }
    }
    for (i, name) in ["p50", "p99"].into_iter().enumerate() {
        let mut values = vec![None; COLUMNS.len()];
        values[0] = Some(reference[i]);
        s.push(
            Row::new(
                format!("reference: bare std Condvar handoff, {name}"),
                "us",
                Better::Info,
                values,
            )
            .decimals(1),
        );
    }
    s.note(format!(
        "Each sample: sleep {} us (the pool's threads go to sleep), read the clock, submit one \
         item, the item reads the clock first thing and then wakes the measuring thread, \
         which blocks on a condition variable meanwhile (no spinning); {WARM_UP} warm-up \
         samples are dropped. The \
         samples are taken in {ROUNDS} rounds (every system's share of a round in a row, then \
         the next system), so that a slow spell of the machine hits every system alike. The \
         reference is the floor for a sleeping thread on this machine: one waiting thread, \
         the flag set under a std Mutex, notify_one after the unlock.",
        sizes.wake_gap.as_micros()
    ));
    s.note(format!(
        "Peers have {threads} threads each and the same job; tokio is spawn_blocking. Samples \
         where workq's queue call did not find the item idle: Pool {pool_busy}, Worker \
         {worker_busy} (should be 0)."
    ));
    s
}
