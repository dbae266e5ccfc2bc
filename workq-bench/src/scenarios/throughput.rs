//! Scenario 1, throughput: tiny items from one producer into two threads.
//!
//! workq runs on a `Pool` with min = max = 2 threads and on a `Worker` (one
//! thread), with items made beforehand (a workq item is reusable) and with an item
//! made for every queue call. Each peer gets a new closure per job: that is the
//! only way to use them. Every job closure, on every system, captures the same
//! 64 bytes of data ([`Payload`]) and reads them, then does one atomic decrement
//! of a shared countdown; the time runs from the first submit until the last job
//! ran.

use crate::measure::rounds::{in_rounds, Contender};
use crate::measure::stats::{median, mops, ns_per};
use crate::measure::sync::Countdown;
use crate::options::{Scenario, Sizes};
use crate::peers::{self, PeerKind, COLUMNS};
use crate::progress::Progress;
use crate::report::{Better, Row, Section, Target};
use std::time::{Duration, Instant};
use workq::{Submit, Work};

/// Systems measured: four workq runs and one per peer.
const SYSTEMS: usize = 4 + PeerKind::ALL.len();

/// Progress steps: one per system and round.
pub(crate) fn steps(sizes: &Sizes) -> usize {
    SYSTEMS * sizes.throughput_reps.max(1)
}

/// What the jobs count down; one run at a time.
static DONE: Countdown = Countdown::new(0);

/// What every job captures: 64 bytes, so that each system stores (and where it
/// boxes closures, allocates) the state a real job carries.
type Payload = [u64; 8];

/// The data of job `i`.
fn payload(i: usize) -> Payload {
    [i as u64; 8]
}

/// The job: reads its data, then counts down.
fn job(data: &Payload) {
    std::hint::black_box(data);
    DONE.hit();
}

/// One timed run: the producer's time for the submits, and the time until the
/// last job ran.
#[derive(Clone, Copy)]
struct Timing {
    submit: Duration,
    total: Duration,
}

fn finish(start: Instant, submitted: Instant, n: usize) -> Timing {
    let submit = submitted - start;
    assert!(
        DONE.wait_timeout(Duration::from_secs(300)),
        "throughput: {} of {n} jobs never ran",
        DONE.left()
    );
    Timing {
        submit,
        total: start.elapsed(),
    }
}

/// The medians of the rate (M items/s) and of ns per submit over `runs`.
fn summarize(runs: &[Timing], n: usize) -> (f64, f64) {
    (
        median(runs.iter().map(|t| mops(t.total, n)).collect()),
        median(runs.iter().map(|t| ns_per(t.submit, n)).collect()),
    )
}

fn workq_premade<S: Submit>(q: &S, n: usize) -> Timing {
    let items: Vec<Work> = (0..n)
        .map(|i| {
            let data = payload(i);
            Work::new(move |_| job(&data))
        })
        .collect();
    DONE.reset(n);
    let start = Instant::now();
    for w in &items {
        q.submit(w).expect("queue a pre-made item");
    }
    let t = finish(start, Instant::now(), n);
    drop(items);
    t
}

fn workq_create<S: Submit>(q: &S, n: usize) -> Timing {
    DONE.reset(n);
    let start = Instant::now();
    for i in 0..n {
        let data = payload(i);
        q.submit(&Work::new(move |_| job(&data)))
            .expect("queue a new item");
    }
    finish(start, Instant::now(), n)
}

/// Lets a front end start its threads before it is timed.
fn warm<S: Submit>(q: &S) {
    let w = Work::new(|_| {});
    q.submit(&w).expect("queue a warm-up item");
    w.flush().expect("flush the warm-up item");
}

fn peer_run(peer: &peers::Peer, n: usize) -> Timing {
    DONE.reset(n);
    let start = Instant::now();
    for i in 0..n {
        let data = payload(i);
        peer.spawn(move || job(&data));
    }
    finish(start, Instant::now(), n)
}

pub(crate) fn run(sizes: &Sizes, progress: &mut Progress) -> Section {
    let (n, threads, reps) = (sizes.throughput_items, sizes.threads, sizes.throughput_reps);
    // Every system is built and warmed up first, then measured in rounds
    // (`measure::rounds`): the idle ones sleep meanwhile.
    let pool = peers::workq::pool("bench-tput", threads, threads, Duration::from_secs(5));
    warm(&pool);
    let worker = peers::workq::worker("bench-tput-w");
    warm(&worker);
    let peers: Vec<peers::Peer> = PeerKind::ALL
        .iter()
        .map(|kind| {
            let peer = kind.build(threads, Duration::from_secs(10));
            // Start the threads of the pools that start them on demand.
            let _ = peer_run(&peer, 64);
            peer
        })
        .collect();
    let mut contenders = vec![
        Contender::new("workq Pool, pre-made items", || workq_premade(&pool, n)),
        Contender::new("workq Pool, create-and-queue", || workq_create(&pool, n)),
        Contender::new("workq Worker, pre-made items", || workq_premade(&worker, n)),
        Contender::new("workq Worker, create-and-queue", || {
            workq_create(&worker, n)
        }),
    ];
    for (kind, peer) in PeerKind::ALL.iter().zip(&peers) {
        contenders.push(Contender::new(kind.name(), move || peer_run(peer, n)));
    }
    let timings = in_rounds(reps.max(1), &mut contenders, progress);
    drop(contenders);
    pool.destroy().expect("destroy the pool");
    worker.destroy().expect("destroy the worker");
    for peer in peers {
        peer.shutdown();
    }
    let [pool_pre, pool_new, worker_pre, worker_new] =
        [0, 1, 2, 3].map(|i| summarize(&timings[i], n));
    let (peer_rate, peer_submit): (Vec<_>, Vec<_>) = timings[4..]
        .iter()
        .map(|t| {
            let (rate, submit) = summarize(t, n);
            (Some(rate), Some(submit))
        })
        .unzip();

    let with = |w: f64, peers: &[Option<f64>]| {
        let mut v = vec![Some(w)];
        v.extend_from_slice(peers);
        v
    };
    let best_rate = peer_rate.iter().flatten().copied().fold(f64::NAN, f64::max);
    let two_x = || {
        Target::at_least(2.0 * best_rate, ">= 2x best peer").context(format!(
            "the best peer is the crossbeam baseline, a channel of boxed jobs (64 bytes \
             captured) with no other state per job: 2x is {:.0} M items/s, {:.1} ns of CPU per item for \
             producer and consumers together on {} cores",
            2.0 * best_rate,
            threads as f64 * 1e3 / (2.0 * best_rate),
            threads
        ))
    };
    let mut s = Section::new(
        Scenario::Throughput,
        format!(
            "throughput: {} tiny items from one producer into {threads} threads",
            super::count(n)
        ),
        &COLUMNS,
    );
    s.push(
        Row::new(
            format!("pre-made items, Pool({threads})"),
            "M items/s",
            Better::Higher,
            with(pool_pre.0, &peer_rate),
        )
        .decimals(2)
        .target(two_x())
        .headline("pre-made"),
    );
    s.push(
        Row::new(
            format!("create-and-queue, Pool({threads})"),
            "M items/s",
            Better::Higher,
            with(pool_new.0, &peer_rate),
        )
        .decimals(2)
        .target(two_x())
        .headline("create+queue"),
    );
    s.push(
        Row::new(
            "pre-made items, Worker (1 thread)",
            "M items/s",
            Better::Higher,
            with(worker_pre.0, &peer_rate),
        )
        .decimals(2),
    );
    s.push(
        Row::new(
            "create-and-queue, Worker (1 thread)",
            "M items/s",
            Better::Higher,
            with(worker_new.0, &peer_rate),
        )
        .decimals(2),
    );
    s.push(Row::new(
        format!("producer: queue call, pre-made, Pool({threads})"),
        "ns/call",
        Better::Lower,
        with(pool_pre.1, &peer_submit),
    ));
    s.push(Row::new(
        format!("producer: queue call, create-and-queue, Pool({threads})"),
        "ns/call",
        Better::Lower,
        with(pool_new.1, &peer_submit),
    ));
    s.note(format!(
        "Rate: items / time from the first submit until the last job ran; median of {reps} run(s), \
         measured in rounds (every system once per round, the rounds repeated), so that a slow \
         spell of the machine hits every system alike. Every job, on every system, captures the \
         same 64 bytes ([u64; 8], moved into the closure), reads them and decrements one \
         shared atomic counter."
    ));
    s.note(format!(
        "Peers ({threads} threads each) take a new closure per job, so one measurement fills all \
         their rows; tokio is spawn_blocking with max_blocking_threads({threads}), crossbeam is \
         an unbounded channel of boxed closures read by {threads} threads."
    ));
    s.note(
        "workq pre-made: the items exist before the timer starts (a workq item is reusable); \
         create-and-queue: Work::new + queue for every job.",
    );
    s.note(
        "The counting allocator (for the memory rows) is this binary's global allocator: every \
         allocation and free also updates shared atomic counters. An A/B run of this scenario \
         without it (2 runs each) moved every system within its run-to-run noise (rayon ~5-10 % \
         faster without it; threadpool varies between 10 and 33 M items/s either way).",
    );
    s
}
