//! Scenario 2, wake latency: an idle pool gets one item; the time from just before
//! the submit until the item starts. The producer sleeps between samples so that
//! the pool's threads are asleep when the next item comes.

use crate::measure::stats::{nanos, percentile};
use crate::measure::sync::wait_until;
use crate::options::{Scenario, Sizes};
use crate::peers::{self, PeerKind, COLUMNS};
use crate::progress::Progress;
use crate::report::{Better, Row, Section, Target};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};
use workq::{Queued, Submit, Work};

/// Progress steps: workq Pool, workq Worker, one per peer, the reference.
pub(crate) const STEPS: usize = 3 + PeerKind::ALL.len();

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

/// The job: records its start.
fn job() {
    STARTED.store(now_ns(), Ordering::Release);
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
        let t0 = now_ns();
        let idle = submit();
        let ran = wait_until(Duration::from_secs(5), || {
            STARTED.load(Ordering::Acquire) != 0
        });
        assert!(ran, "wake: an item did not start within 5 s");
        if i >= WARM_UP {
            lat.push(STARTED.load(Ordering::Acquire).saturating_sub(t0));
            not_idle += usize::from(!idle);
        }
    }
    lat.sort_unstable();
    (lat, not_idle)
}

fn workq_sample<S: Submit>(q: &S, sizes: &Sizes) -> (Vec<u64>, usize) {
    let w = Work::new(|_| job());
    sample(sizes.wake_samples, sizes.wake_gap, || {
        q.submit(&w).expect("queue") == Queued::Scheduled
    })
}

/// The floor: a bare std `Mutex` + `Condvar` handoff to one sleeping thread (the
/// notify after the unlock), with the same job and the same gaps.
fn condvar_reference(sizes: &Sizes) -> Vec<u64> {
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
    let (m, cv) = &*pair;
    let (lat, _) = sample(sizes.wake_samples, sizes.wake_gap, || {
        m.lock().unwrap_or_else(PoisonError::into_inner).0 = true;
        cv.notify_one();
        true
    });
    m.lock().unwrap_or_else(PoisonError::into_inner).1 = true;
    cv.notify_one();
    let _ = waiter.join();
    lat
}

/// p50, p99, p99.9 in µs.
fn pcts(sorted: &[u64]) -> [f64; 3] {
    [50.0, 99.0, 99.9].map(|p| percentile(sorted, p) as f64 / 1e3)
}

pub(crate) fn run(sizes: &Sizes, progress: &mut Progress) -> Section {
    let threads = sizes.threads;
    progress.step("workq Pool");
    let pool = peers::workq::pool("bench-wake", threads, threads, Duration::from_secs(60));
    let (pool_lat, pool_busy) = workq_sample(&pool, sizes);
    pool.destroy().expect("destroy the pool");
    progress.step("workq Worker");
    let worker = peers::workq::worker("bench-wake-w");
    let (worker_lat, worker_busy) = workq_sample(&worker, sizes);
    worker.destroy().expect("destroy the worker");

    let mut peer_pcts = Vec::new();
    for kind in PeerKind::ALL {
        progress.step(kind.name());
        let peer = kind.build(threads, Duration::from_secs(60));
        let (lat, _) = sample(sizes.wake_samples, sizes.wake_gap, || {
            peer.spawn(job);
            true
        });
        peer.shutdown();
        peer_pcts.push(pcts(&lat));
    }
    progress.step("reference: bare Condvar");
    let reference = pcts(&condvar_reference(sizes));

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
                row = row.target(Target::at_most(t, format!("<= {t} us")));
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
         item, the item reads the clock first thing; {WARM_UP} warm-up samples are dropped. The \
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
