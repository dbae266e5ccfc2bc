//! Scenario `chain`: a job that queues its own next run, a million times over.
//!
//! The kernel's pattern for polling and for work that comes in pieces: a workq
//! item calls `ctx.requeue()` from its closure, and the same item runs again. A
//! peer has no reusable item: its job submits a new closure for the next step,
//! which needs a handle to the pool inside the job (an `Arc` of it here). Each
//! step decrements one shared countdown; the time runs from the first submit
//! until the last step ran. Nothing else runs meanwhile, so this measures the
//! cost of one step: end a run, queue the next, start it.

use crate::measure::rounds::{in_rounds, Contender};
use crate::measure::stats::{median, ns_per};
use crate::measure::sync::{wait_until, Countdown};
use crate::options::{Scenario, Sizes};
use crate::peers::{self, Peer, PeerKind, COLUMNS};
use crate::progress::Progress;
use crate::report::{Better, Row, Section};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use workq::{Submit, Work};

/// Measured runs per system (the median is shown).
const REPS: usize = 3;

/// Systems measured: workq on a Pool and on a Worker, and every peer.
/// workq's Pool and Worker, the peers, then workq's Pool and Worker with latency
/// histograms.
const SYSTEMS: usize = 4 + PeerKind::ALL.len();

/// Progress steps: one per system and round.
pub(crate) const STEPS: usize = SYSTEMS * REPS;

/// Counts the chain's last step; one chain at a time.
static DONE: Countdown = Countdown::new(0);

/// ns per step of one chain of `n` steps started by `start`, whose steps count
/// down `left`.
fn timed(n: usize, left: &AtomicUsize, start: impl FnOnce()) -> f64 {
    left.store(n, Ordering::Relaxed);
    DONE.reset(1);
    let t = Instant::now();
    start();
    assert!(
        DONE.wait_timeout(Duration::from_secs(300)),
        "chain: {} of {n} steps never ran",
        left.load(Ordering::Relaxed)
    );
    ns_per(t.elapsed(), n)
}

/// One step: the last one reports the end, any other asks for the next.
fn step(left: &AtomicUsize) -> bool {
    if left.fetch_sub(1, Ordering::AcqRel) == 1 {
        DONE.hit();
        false
    } else {
        true
    }
}

/// A workq item that queues itself again until the countdown ends.
fn workq_chain<S: Submit>(q: &S, n: usize) -> f64 {
    let left = Arc::new(AtomicUsize::new(0));
    let l = left.clone();
    let work = Work::named("chain", move |ctx| {
        if step(&l) {
            ctx.requeue().expect("queue the next run of the chain");
        }
    });
    let ns = timed(n, &left, || {
        q.submit(&work).expect("queue the chain's first run");
    });
    work.flush().expect("flush the chain's item");
    ns
}

/// A peer's chain: every job submits the next one.
struct PeerChain {
    peer: Peer,
    left: AtomicUsize,
}

fn peer_step(chain: Arc<PeerChain>) {
    if step(&chain.left) {
        let next = chain.clone();
        chain.peer.spawn(move || peer_step(next));
    }
}

fn peer_chain(chain: &Arc<PeerChain>, n: usize) -> f64 {
    let first = chain.clone();
    let ns = timed(n, &chain.left, || {
        chain.peer.spawn(move || peer_step(first))
    });
    // The last job's handle goes away just after it counted down.
    wait_until(Duration::from_secs(30), || Arc::strong_count(chain) == 1);
    ns
}

pub(crate) fn run(sizes: &Sizes, progress: &mut Progress) -> Section {
    let (n, threads) = (sizes.chain_steps, sizes.threads);
    let pool = peers::workq::pool("bench-chain", threads, threads, Duration::from_secs(5));
    let worker = peers::workq::worker("bench-chain-w");
    // The same front ends with latency histograms on: the cost per run of the
    // two clock reads and two histogram samples of every run.
    let pool_h = workq::Pool::builder()
        .name("bench-chain-h")
        .min_threads(threads)
        .max_threads(threads)
        .idle_timeout(Duration::from_secs(5))
        .latency_histograms(true)
        .build()
        .expect("build a workq pool with histograms");
    let worker_h = workq::Worker::builder()
        .name("bench-chain-wh")
        .latency_histograms(true)
        .build()
        .expect("start a workq worker with histograms");
    let chains: Vec<Arc<PeerChain>> = PeerKind::ALL
        .iter()
        .map(|kind| {
            Arc::new(PeerChain {
                peer: kind.build(threads, Duration::from_secs(10)),
                left: AtomicUsize::new(0),
            })
        })
        .collect();
    // Warm-up: every system starts its threads and runs a short chain.
    workq_chain(&pool, 64);
    workq_chain(&worker, 64);
    workq_chain(&pool_h, 64);
    workq_chain(&worker_h, 64);
    for c in &chains {
        peer_chain(c, 64);
    }
    let mut contenders = vec![
        Contender::new("workq Pool", || workq_chain(&pool, n)),
        Contender::new("workq Worker", || workq_chain(&worker, n)),
    ];
    for (kind, chain) in PeerKind::ALL.iter().zip(&chains) {
        contenders.push(Contender::new(kind.name(), move || peer_chain(chain, n)));
    }
    contenders.push(Contender::new("workq Pool, histograms", || {
        workq_chain(&pool_h, n)
    }));
    contenders.push(Contender::new("workq Worker, histograms", || {
        workq_chain(&worker_h, n)
    }));
    let results = in_rounds(REPS, &mut contenders, progress);
    drop(contenders);
    pool.destroy().expect("destroy the pool");
    worker.destroy().expect("destroy the worker");
    pool_h.destroy().expect("destroy the pool with histograms");
    worker_h
        .destroy()
        .expect("destroy the worker with histograms");
    for chain in chains {
        match Arc::try_unwrap(chain) {
            Ok(c) => c.peer.shutdown(),
            Err(_) => eprintln!("chain: a peer's job still holds its pool; left running"),
        }
    }
    let medians: Vec<f64> = results.into_iter().map(median).collect();
    let peers_end = 2 + PeerKind::ALL.len();
    let peer_ns: Vec<Option<f64>> = medians[2..peers_end].iter().copied().map(Some).collect();
    let (pool_hist, worker_hist) = (medians[peers_end], medians[peers_end + 1]);
    let alone = |w: f64| {
        let mut v = vec![Some(w)];
        v.extend(PeerKind::ALL.iter().map(|_| None));
        v
    };
    let with = |w: f64| {
        let mut v = vec![Some(w)];
        v.extend_from_slice(&peer_ns);
        v
    };
    let mut s = Section::new(
        Scenario::Chain,
        format!(
            "chain: a job that queues its own next run, {} runs",
            super::count(n)
        ),
        &COLUMNS,
    );
    s.push(
        Row::new(
            format!("ns per run, Pool({threads})"),
            "ns/run",
            Better::Lower,
            with(medians[0]),
        )
        .decimals(1)
        .headline("chain"),
    );
    s.push(
        Row::new(
            "ns per run, Worker (1 thread)",
            "ns/run",
            Better::Lower,
            with(medians[1]),
        )
        .decimals(1),
    );
    for (what, on, off) in [
        (format!("Pool({threads})"), pool_hist, medians[0]),
        ("Worker (1 thread)".to_string(), worker_hist, medians[1]),
    ] {
        s.push(
            Row::new(
                format!("ns per run with latency histograms, {what}"),
                "ns/run",
                Better::Lower,
                alone(on),
            )
            .decimals(1),
        );
        s.push(
            Row::new(
                format!("latency histograms' cost per run, {what}"),
                "ns/run",
                Better::Info,
                alone(on - off),
            )
            .decimals(1),
        );
    }
    s.note(format!(
        "workq: one item whose closure calls ctx.requeue() until a shared countdown ends (the \
         consumer starts the next run in place when nothing else waits). Peers ({threads} \
         threads each): every job submits a new closure for the next step, holding an Arc of \
         the pool. Each step decrements one shared atomic; time from the first submit until the \
         last step ran; median of {REPS} runs, measured in rounds. The histogram rows run the \
         same chain on a Pool and a Worker built with latency_histograms(true) (a run started \
         in place has no wait sample: the cost is the run-time sample's two clock reads); the \
         cost row is that median minus the plain one."
    ));
    s
}
