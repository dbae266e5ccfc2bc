//! Heap per job: allocation calls and bytes requested per fresh job, from the
//! counting allocator (cumulative counters, so what a job allocates and frees
//! again counts).

use super::fresh::Systems;
use super::COLUMNS;
use crate::measure::alloc::{counting, Totals};
use crate::report::{Better, Row, Target};

/// What a job itself must hold: its 64-byte closure and its 8-byte result.
const CLOSURE_AND_RESULT: f64 = 64.0 + 8.0;

/// workq's goal: one allocation per job, at most this much beyond the closure
/// and the result.
const OVERHEAD_GOAL: f64 = 64.0;

/// (allocation calls, bytes) per job of one fresh run of `n` jobs on system
/// `i`; NaN without the counting allocator. The handle vectors get their room
/// before the count starts: they are the caller's, not the system's.
pub(crate) fn per_job(systems: &Systems, i: usize, n: usize) -> (f64, f64) {
    if !counting() {
        return (f64::NAN, f64::NAN);
    }
    let mut handles = Vec::with_capacity(n);
    let mut tokio_handles = Vec::with_capacity(n);
    let before = Totals::now();
    let sum = systems.spawn_and_collect(i, n, &mut handles, &mut tokio_handles);
    let after = Totals::now();
    super::check(COLUMNS[i], n, sum);
    after.per(before, n)
}

/// The rows: allocations per job and bytes per job, workq's goals on both.
pub(crate) fn rows(heap: &[(f64, f64)]) -> Vec<Row> {
    let calls = heap.iter().map(|h| Some(h.0)).collect();
    let bytes = heap.iter().map(|h| Some(h.1)).collect();
    let goal = CLOSURE_AND_RESULT + OVERHEAD_GOAL;
    vec![
        Row::new(
            "heap: allocation calls per fresh job",
            "allocs/job",
            Better::Lower,
            calls,
        )
        .decimals(2)
        .target(Target::at_most(1.0, "1 per job")),
        Row::new(
            "heap: bytes allocated per fresh job",
            "B/job",
            Better::Lower,
            bytes,
        )
        .decimals(0)
        .target(
            Target::at_most(goal, format!("<= {goal:.0} B")).context(format!(
                "the job's own data: a 64 B closure and an 8 B result; the goal allows \
                 {OVERHEAD_GOAL:.0} B beyond them (counted with the counting allocator: all \
                 allocation calls of spawn, run and join, whatever was freed again)"
            )),
        ),
    ]
}
