//! Scenario 4, timers: delayed items (1..200 ms) on workq and on the peers that
//! have timers: tokio (`sleep_until` tasks on a 2-worker runtime, and tokio-util's
//! `DelayQueue`) and scheduled-thread-pool. Rows: the cost of arming and of
//! cancelling, how late items start (every second one cancelled right after it is
//! armed), that no cancelled item ran and none ran early, and the CPU the process
//! burns while items are armed an hour ahead and nothing happens. Heap bytes per
//! armed item are in the memory scenario.
//!
//! (This is what `workq/benches/timers.rs` measured, folded into the suite.)

mod arm;
mod idle;
mod late;

use crate::options::{Scenario, Sizes};
use crate::progress::Progress;
use crate::report::{Better, Row, Section, Target};

/// The columns.
pub(crate) const SYSTEMS: [&str; 4] = ["workq", "tokio", "tokio-dq", "sched-tp"];

/// Progress steps: arm/cancel, lateness and idle CPU for each system.
pub(crate) const STEPS: usize = 3 * SYSTEMS.len();

/// An hour: "never fires during the run".
pub(crate) const HOUR: std::time::Duration = std::time::Duration::from_secs(3600);

pub(crate) fn run(sizes: &Sizes, progress: &mut Progress) -> Section {
    let n = sizes.timer_items;
    let mut ac = Vec::new();
    for (i, sys) in SYSTEMS.iter().enumerate() {
        progress.step(&format!("arm / cancel: {sys}"));
        ac.push(arm::measure(i, sizes));
    }
    let clock = arm::clock_read_ns();
    let mut late = Vec::new();
    for (i, sys) in SYSTEMS.iter().enumerate() {
        progress.step(&format!("lateness: {sys}"));
        let runs: Vec<late::Lateness> = (0..sizes.timer_reps.max(1))
            .map(|rep| late::measure(i, &late::Plan::new(n, rep as u64)))
            .collect();
        late.push(late::Lateness::combine(&runs));
    }
    let mut idle = Vec::new();
    for (i, sys) in SYSTEMS.iter().enumerate() {
        progress.step(&format!("idle CPU: {sys}"));
        idle.push(idle::measure(i, sizes));
    }

    let mut s = Section::new(
        Scenario::Timers,
        format!(
            "timers: {} delayed items (1..200 ms), every second one cancelled",
            super::count(n)
        ),
        &SYSTEMS,
    );
    let all = |f: &dyn Fn(usize) -> Option<f64>| (0..SYSTEMS.len()).map(f).collect::<Vec<_>>();
    let dq = &ac[2];
    s.push(
        Row::new(
            "arm (queue_after) while half the items fire",
            "ns/op",
            Better::Lower,
            all(&|i| Some(ac[i].arm_ns)),
        )
        .target(
            Target::at_most(1.2 * dq.arm_ns, "<= 1.2x tokio-dq").context(format!(
                "tokio-dq (one owner, no locks, a clock read per insert): {:.1} ns; a clock \
                 read alone (Instant::now) takes {clock:.1} ns here; the earlier absolute \
                 goal was <= 50 ns",
                dq.arm_ns
            )),
        )
        .headline("arm"),
    );
    s.push(
        Row::new(
            "cancel an armed item while half the items fire",
            "ns/op",
            Better::Lower,
            all(&|i| Some(ac[i].cancel_ns)),
        )
        .target(
            Target::at_most(1.2 * dq.cancel_ns, "<= 1.2x tokio-dq").context(format!(
                "tokio-dq (one owner, no locks): {:.1} ns; the earlier absolute goal was \
                 <= 40 ns",
                dq.cancel_ns
            )),
        )
        .headline("cancel"),
    );
    let us = |ns: f64| Some(ns / 1e3);
    s.push(
        Row::new(
            "lateness p50",
            "us",
            Better::Lower,
            all(&|i| us(late[i].p50)),
        )
        .decimals(0),
    );
    s.push(
        Row::new(
            "lateness p99",
            "us",
            Better::Lower,
            all(&|i| us(late[i].p99)),
        )
        .decimals(0)
        .target(Target::at_most(1500.0, "<= 1.5 ms"))
        .headline("lateness p99"),
    );
    s.push(
        Row::new(
            "lateness max",
            "us",
            Better::Lower,
            all(&|i| us(late[i].max)),
        )
        .decimals(0),
    );
    s.push(Row::new(
        "cancelled items that ran (must be 0)",
        "items",
        Better::Zero,
        all(&|i| Some(late[i].cancelled_ran as f64)),
    ));
    s.push(Row::new(
        "items run early (must be 0)",
        "items",
        Better::Zero,
        all(&|i| Some(late[i].early as f64)),
    ));
    s.push(Row::new(
        "items never run or run twice (must be 0)",
        "items",
        Better::Zero,
        all(&|i| Some((late[i].missed + late[i].doubled) as f64)),
    ));
    s.push(
        Row::new(
            format!(
                "idle CPU, {} armed 1 h ahead, {:.1} s",
                super::count(sizes.idle_items),
                sizes.idle_time.as_secs_f64()
            ),
            "ms",
            Better::Lower,
            all(&|i| idle[i].map(|x| x.0)),
        )
        .decimals(2),
    );
    s.push(
        Row::new(
            "idle wake-ups (context switches)",
            "count",
            Better::Lower,
            all(&|i| idle[i].map(|x| x.1)),
        )
        .decimals(0),
    );
    s.note(
        "workq: one Worker (1 thread) + the process-wide workq-timer thread (250 us ticks). tokio: \
         tokio::time::sleep_until tasks on a 2-worker multi-thread runtime, cancelled with \
         JoinHandle::abort (arm = spawn). tokio-dq: tokio-util DelayQueue, single owner (&mut); \
         arm/cancel inside block_on on a current-thread runtime, lateness polled by one task on it. \
         sched-tp: execute_after / JobHandle::cancel on 2 threads. Heap bytes per armed \
         item: see the memory scenario.",
    );
    s.note(format!(
        "arm / cancel: {} items per pass in batches of {}: the even items get 50 us..1 ms and \
         fire while the producer goes on, the odd ones get the plan's 1..200 ms and are \
         cancelled after their batch's arms; so the wheel is never idle. Only the arm calls \
         and the cancel calls are timed; median of {} passes after a warm-up. workq, tokio \
         and sched-tp fire on their own threads meanwhile; tokio-dq's single owner fires its \
         expired items between two batches (a zero-timeout driver turn and a drain of \
         poll_expired, not timed). Lateness: start - deadline of the items not cancelled, \
         medians over {} run(s) of {} items (deadline = clock read before the call + delay).",
        super::count(n),
        arm::BATCH,
        arm::PASSES,
        sizes.timer_reps.max(1),
        super::count(n)
    ));
    let raced: Vec<String> = SYSTEMS
        .iter()
        .zip(&late)
        .map(|(s, l)| format!("{s} {}", l.raced))
        .collect();
    s.note(format!(
        "Cancels that came after the run had started (legitimate, not counted): {}. Arm calls \
         that did not schedule, cancels that found nothing or short items that never fired \
         in the arm/cancel passes: {}.",
        raced.join(", "),
        SYSTEMS
            .iter()
            .zip(&ac)
            .map(|(s, a)| format!("{s} {}", a.misses))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    s.note(
        "Idle CPU: CPU time of all threads (/proc/self/task/*/schedstat) while the main thread \
         sleeps; tokio-dq has no thread of its own.",
    );
    s
}
