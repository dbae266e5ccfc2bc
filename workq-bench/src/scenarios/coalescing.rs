//! Scenario 3, coalescing: millions of queue calls on one item whose run takes
//! about 1 µs. workq coalesces by itself; each peer uses the hand-rolled
//! [`Flag`]. Measured: ns per call, runs, and two contract checks:
//!
//! * lost calls: the producer writes `seq = i` before call `i`; each run records
//!   the largest seq it saw at its start. After every epoch the producer flushes
//!   (waits until nothing is pending or running) and checks that some run saw the
//!   epoch's last seq; the calls after the largest seq seen are lost.
//! * overlapping runs: a run that starts while another run of the item is in
//!   progress (an active-runs counter).
//!
//! A bare `AtomicBool::swap` loop (the same loop without a pool) is the reference
//! for the cost of a call.

use crate::measure::rounds::{in_rounds, Contender};
use crate::measure::stats::ns_per;
use crate::measure::sync::{busy, InFlight};
use crate::options::{Scenario, Sizes};
use crate::peers::{self, Flag, Peer, PeerKind, COLUMNS};
use crate::progress::Progress;
use crate::report::{Better, Row, Section, Target};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use workq::{Submit, Work};

/// Passes per system, measured in rounds (`measure::rounds`).
const PASSES: usize = 3;

/// Progress steps: the reference, workq Pool, workq Worker and one per peer, each
/// once per pass.
pub(crate) const STEPS: usize = (3 + PeerKind::ALL.len()) * PASSES;

/// Keeps a value on its own cache line, so the producer's writes do not slow the
/// consumer's counters (and the other way round).
#[repr(align(128))]
#[derive(Default)]
struct Line<T>(T);

/// What the runs record.
#[derive(Default)]
struct Probe {
    /// Written by the producer before every call.
    seq: Line<AtomicU64>,
    /// The peers' hand-rolled pending flag.
    flag: Line<Flag>,
    /// Peers: jobs submitted and not finished (the flush blocks on it).
    inflight: Line<InFlight>,
    /// Largest seq a run saw at its start.
    max_seen: AtomicU64,
    /// Runs in progress.
    active: AtomicU32,
    /// Runs that started while another was in progress.
    overlaps: AtomicU64,
    runs: AtomicU64,
    run_cost: Duration,
}

impl Probe {
    fn new(run_cost: Duration) -> Arc<Probe> {
        Arc::new(Probe {
            run_cost,
            ..Probe::default()
        })
    }

    /// One run of the item.
    fn run(&self) {
        if self.active.fetch_add(1, Ordering::AcqRel) != 0 {
            self.overlaps.fetch_add(1, Ordering::Relaxed);
        }
        let seen = self.seq.0.load(Ordering::Acquire);
        self.max_seen.fetch_max(seen, Ordering::AcqRel);
        busy(self.run_cost);
        self.runs.fetch_add(1, Ordering::Relaxed);
        self.active.fetch_sub(1, Ordering::AcqRel);
    }
}

/// What one system did.
#[derive(Clone, Copy, Default)]
struct Outcome {
    ns_per_call: f64,
    runs: u64,
    lost: u64,
    overlaps: u64,
    /// Queue calls that returned an error (workq).
    refused: u64,
}

/// Runs the epochs: `call(i)` is the producer's call for seq `i` (it writes the
/// seq itself), `flush` waits until nothing is pending or running.
fn drive(
    sizes: &Sizes,
    probe: &Probe,
    mut call: impl FnMut(u64) -> bool,
    mut flush: impl FnMut(),
) -> Outcome {
    let (n, epoch) = (sizes.coalesce_calls, sizes.coalesce_epoch.max(1));
    let mut out = Outcome::default();
    let mut calls = Duration::ZERO;
    let mut next: u64 = 1;
    let mut left = n;
    while left > 0 {
        let m = left.min(epoch) as u64;
        let start = Instant::now();
        for i in next..next + m {
            if !call(i) {
                out.refused += 1;
            }
        }
        calls += start.elapsed();
        next += m;
        left -= m as usize;
        flush();
        let last = next - 1;
        out.lost += last.saturating_sub(probe.max_seen.load(Ordering::Acquire));
    }
    out.ns_per_call = ns_per(calls, n);
    out.runs = probe.runs.load(Ordering::Acquire);
    out.overlaps = probe.overlaps.load(Ordering::Acquire);
    out
}

/// Of the passes of one system, the one with the median ns per call, with the
/// lost calls, overlapping runs and refusals of all passes added up (a violation
/// in any pass shows).
fn median_pass(mut passes: Vec<Outcome>) -> Outcome {
    let (lost, overlaps, refused) = passes.iter().fold((0, 0, 0), |(l, o, r), p| {
        (l + p.lost, o + p.overlaps, r + p.refused)
    });
    passes.sort_by(|a, b| a.ns_per_call.total_cmp(&b.ns_per_call));
    let mut median = passes.swap_remove(passes.len() / 2);
    median.lost = lost;
    median.overlaps = overlaps;
    median.refused = refused;
    median
}

fn workq_run<S: Submit>(q: &S, sizes: &Sizes) -> Outcome {
    let probe = Probe::new(sizes.coalesce_run);
    let p = probe.clone();
    let work = Work::named("coalesced", move |_| p.run());
    drive(
        sizes,
        &probe,
        |i| {
            probe.seq.0.store(i, Ordering::Relaxed);
            q.submit(&work).is_ok()
        },
        || {
            work.flush().expect("flush the coalesced item");
        },
    )
}

fn peer_run(peer: &Peer, sizes: &Sizes) -> Outcome {
    let probe = Probe::new(sizes.coalesce_run);
    drive(
        sizes,
        &probe,
        |i| {
            probe.seq.0.store(i, Ordering::Relaxed);
            if probe.flag.0.raise() {
                probe.inflight.0.enter();
                let p = probe.clone();
                peer.spawn(move || {
                    p.flag.0.clear();
                    p.run();
                    p.inflight.0.leave();
                });
            }
            true
        },
        || {
            // Blocks (no spinning that would take a core from the peer's threads).
            assert!(
                probe.inflight.0.wait_zero(Duration::from_secs(30)),
                "coalescing: a peer's job never finished"
            );
        },
    )
}

/// ns per iteration of the same loop with a bare swap instead of a queue call.
fn bare_swap(n: usize) -> f64 {
    let seq = Line(AtomicU64::new(0));
    let flag = Line(AtomicBool::new(false));
    let start = Instant::now();
    for i in 1..=n as u64 {
        std::hint::black_box(&seq).0.store(i, Ordering::Relaxed);
        std::hint::black_box(std::hint::black_box(&flag).0.swap(true, Ordering::AcqRel));
    }
    ns_per(start.elapsed(), n)
}

pub(crate) fn run(sizes: &Sizes, progress: &mut Progress) -> Section {
    let threads = sizes.threads;
    // Every system is built first, then measured in rounds: a slow spell of the
    // machine hits every system alike.
    bare_swap(sizes.coalesce_calls / 10); // warm-up
    let pool = peers::workq::pool("bench-coal", threads, threads, Duration::from_secs(60));
    let worker = peers::workq::worker("bench-coal-w");
    let peers: Vec<peers::Peer> = PeerKind::ALL
        .iter()
        .map(|kind| kind.build(threads, Duration::from_secs(60)))
        .collect();
    let mut contenders = vec![
        Contender::new("bare AtomicBool swap", || Outcome {
            ns_per_call: bare_swap(sizes.coalesce_calls),
            ..Outcome::default()
        }),
        Contender::new("workq Pool", || workq_run(&pool, sizes)),
        Contender::new("workq Worker", || workq_run(&worker, sizes)),
    ];
    for (kind, peer) in PeerKind::ALL.iter().zip(&peers) {
        contenders.push(Contender::new(kind.name(), move || peer_run(peer, sizes)));
    }
    let passes = in_rounds(PASSES, &mut contenders, progress);
    drop(contenders);
    pool.destroy().expect("destroy the pool");
    worker.destroy().expect("destroy the worker");
    for peer in peers {
        peer.shutdown();
    }
    let mut outcomes = passes.into_iter().map(median_pass);
    let mut next = || outcomes.next().unwrap_or_default();
    let swap_ns = next().ns_per_call;
    let pool_out = next();
    let worker_out = next();
    let peer_out: Vec<Outcome> = PeerKind::ALL.iter().map(|_| next()).collect();

    let mut s = Section::new(
        Scenario::Coalescing,
        format!(
            "coalescing: {} queue calls on one item that runs ~{} us, {threads} threads",
            super::count(sizes.coalesce_calls),
            sizes.coalesce_run.as_micros()
        ),
        &COLUMNS,
    );
    let row = |metric: String, unit, better, w: f64, f: fn(&Outcome) -> f64| {
        let mut values = vec![Some(w)];
        values.extend(peer_out.iter().map(|o| Some(f(o))));
        Row::new(metric, unit, better, values)
    };
    let best_flag = peer_out
        .iter()
        .map(|o| o.ns_per_call)
        .fold(f64::NAN, f64::min);
    let swap_target = || {
        Target::at_most(swap_ns, format!("<= bare swap ({swap_ns:.1} ns)")).context(format!(
            "the swap's line is touched by no run; every run of an item moves its state \
             word's line between the cores; the peers' flags (which let runs overlap): \
             {best_flag:.2} ns at best"
        ))
    };
    for (front, o) in [
        (format!("Pool({threads})"), &pool_out),
        ("Worker".to_string(), &worker_out),
    ] {
        let mut r = row(
            format!("queue call, {front}"),
            "ns/call",
            Better::Lower,
            o.ns_per_call,
            |o| o.ns_per_call,
        )
        .decimals(2)
        .target(swap_target());
        if front.starts_with("Pool") {
            r = r.headline("ns per call");
        }
        s.push(r);
        s.push(
            row(
                format!("runs, {front}"),
                "runs",
                Better::Info,
                o.runs as f64,
                |o| o.runs as f64,
            )
            .decimals(0),
        );
        s.push(row(
            format!("lost calls (must be 0), {front}"),
            "calls",
            Better::Zero,
            (o.lost + o.refused) as f64,
            |o| (o.lost + o.refused) as f64,
        ));
        s.push(row(
            format!("overlapping runs (must be 0), {front}"),
            "runs",
            Better::Zero,
            o.overlaps as f64,
            |o| o.overlaps as f64,
        ));
    }
    let mut reference = vec![None; COLUMNS.len()];
    reference[0] = Some(swap_ns);
    s.push(
        Row::new(
            "reference: bare AtomicBool::swap loop, no pool",
            "ns/call",
            Better::Info,
            reference,
        )
        .decimals(2),
    );
    s.note(format!(
        "The producer writes seq = i, then queues; every {} calls it flushes and checks that a run \
         saw the last seq (lost calls), an active-runs counter catches overlapping runs.",
        super::count(sizes.coalesce_epoch)
    ));
    s.note(
        "workq's queues are built with their defaults: already-pending calls are not counted \
         (`count_merged(false)`; counting them adds a thread-local store per call).",
    );
    s.note(
        "Peers have no \"queue unless pending\": they use an AtomicBool flag (swap(true) before \
         submit, submit only if it was false; the job swaps it to false first thing, both \
         acquire-release). Their rows are the same in the Pool and Worker lines. Once a job has \
         cleared the flag the next call submits another job, which the second thread may start \
         while the first still runs: the overlapping runs.",
    );
    s.note(
        "ns/call times only the call loops (not the flushes), median of 3 passes, measured in \
         rounds (every system once per round) so that a slow spell of the machine hits every \
         system alike (runs from the median pass; lost calls and overlapping runs summed over all \
         3); the reference is the same loop (seq store + swap) with no pool and nobody else \
         touching the flag.",
    );
    s
}
