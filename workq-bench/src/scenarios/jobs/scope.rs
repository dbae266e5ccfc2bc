//! A scope of borrowing jobs: 10,000 jobs, each summing its own piece of a
//! local slice into a local total, all borrowed (nothing `'static`, nothing
//! moved into an `Arc`).
//!
//! workq: `pool.scope(|s| for piece ... { s.spawn(|| ...) })` on the jobs
//! scenario's `Pool`; rayon: `pool.scope` with `s.spawn` per piece on its
//! `ThreadPool`; the reference: `std::thread::scope` with 2 threads that split
//! the same pieces between them (two thread starts per scope, no job per
//! piece). The other peers have no scope.

use super::fresh::Systems;
use crate::measure::rounds::{in_rounds, Contender};
use crate::measure::stats::{median, ns_per};
use crate::options::Sizes;
use crate::progress::Progress;
use crate::report::{Better, Row};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// `u64`s in one piece of work.
const PIECE: usize = 16;

/// Scopes per measurement (the time of one scope of 10,000 jobs is short).
const SCOPES: usize = 10;

/// Systems measured: workq, rayon, `std::thread::scope`.
pub(crate) const SYSTEMS: usize = 3;

/// What the scope rows show (ns per piece): workq, rayon, std.
pub(crate) struct ScopeTimes {
    pieces: usize,
    workq: f64,
    rayon: f64,
    std: f64,
}

/// The sum of one piece.
fn piece_sum(piece: &[u64]) -> u64 {
    std::hint::black_box(piece)
        .iter()
        .fold(0u64, |sum, v| sum.wrapping_add(*v))
}

/// Checks a scope's total (the sum of `0..len`).
fn check(system: &str, data: &[u64], total: &AtomicU64) {
    let len = data.len() as u64;
    assert_eq!(
        total.load(Ordering::Acquire),
        len * len.saturating_sub(1) / 2,
        "jobs: {system}'s scope lost work"
    );
}

/// `SCOPES` scopes of `system` over `data`: their time.
fn timed(system: &str, data: &[u64], mut one: impl FnMut(&AtomicU64)) -> Duration {
    let start = Instant::now();
    for _ in 0..SCOPES {
        let total = AtomicU64::new(0);
        one(&total);
        check(system, data, &total);
    }
    start.elapsed()
}

fn workq(systems: &Systems, data: &[u64]) -> Duration {
    timed("workq", data, |total| {
        systems.pool().scope(|s| {
            for piece in data.chunks(PIECE) {
                s.spawn(move || {
                    total.fetch_add(piece_sum(piece), Ordering::Relaxed);
                });
            }
        });
    })
}

fn rayon(systems: &Systems, data: &[u64]) -> Duration {
    timed("rayon", data, |total| {
        systems.rayon_pool().scope(|s| {
            for piece in data.chunks(PIECE) {
                s.spawn(move |_| {
                    total.fetch_add(piece_sum(piece), Ordering::Relaxed);
                });
            }
        });
    })
}

fn std_threads(data: &[u64], threads: usize) -> Duration {
    let pieces = data.len().div_ceil(PIECE);
    let share = pieces.div_ceil(threads.max(1)) * PIECE;
    timed("std::thread::scope", data, |total| {
        std::thread::scope(|s| {
            for part in data.chunks(share.max(1)) {
                s.spawn(move || {
                    for piece in part.chunks(PIECE) {
                        total.fetch_add(piece_sum(piece), Ordering::Relaxed);
                    }
                });
            }
        });
    })
}

/// Measures the three systems in `reps` rounds.
pub(crate) fn measure(systems: &Systems, sizes: &Sizes, progress: &mut Progress) -> ScopeTimes {
    let pieces = sizes.scope_pieces.max(1);
    let data: Vec<u64> = (0..(pieces * PIECE) as u64).collect();
    let data = &data[..];
    // Warm-up: every system once, untimed.
    workq(systems, data);
    rayon(systems, data);
    std_threads(data, sizes.threads);
    let mut contenders = vec![
        Contender::new("workq: scope", || workq(systems, data)),
        Contender::new("rayon: scope", || rayon(systems, data)),
        Contender::new("std::thread::scope", || std_threads(data, sizes.threads)),
    ];
    let runs = in_rounds(sizes.jobs_reps.max(1), &mut contenders, progress);
    drop(contenders);
    let per_piece =
        |t: &[Duration]| median(t.iter().map(|d| ns_per(*d, SCOPES * pieces)).collect());
    ScopeTimes {
        pieces,
        workq: per_piece(&runs[0]),
        rayon: per_piece(&runs[1]),
        std: per_piece(&runs[2]),
    }
}

/// The scope row (workq against rayon; the other peers have no scope) and the
/// `std::thread::scope` reference, in the columns of [`super::COLUMNS`].
pub(crate) fn rows(t: &ScopeTimes, threads: usize) -> Vec<Row> {
    let n = super::super::count(t.pieces);
    let mut reference = vec![None; super::COLUMNS.len()];
    reference[0] = Some(t.std);
    vec![
        Row::new(
            format!("scope of {n} borrowing jobs, Pool({threads})"),
            "ns/job",
            Better::Lower,
            vec![Some(t.workq), None, Some(t.rayon), None, None],
        )
        .headline("scope"),
        Row::new(
            format!("reference: std::thread::scope, {threads} threads split the {n} pieces"),
            "ns/piece",
            Better::Info,
            reference,
        ),
    ]
}

/// What the section says about the scope rows.
pub(crate) fn note(threads: usize) -> String {
    format!(
        "Scope: {SCOPES} scopes per measurement; in each, every piece ({PIECE} u64 of a local \
         Vec) is summed into a local AtomicU64 by its own job, borrowed, not moved. workq: \
         Pool::scope + Scope::spawn per piece; rayon: ThreadPool::scope + spawn per piece; \
         the reference: std::thread::scope with {threads} threads each summing half of the \
         pieces (two thread starts per scope, no job per piece). tokio, threadpool and \
         crossbeam have no scope."
    )
}
