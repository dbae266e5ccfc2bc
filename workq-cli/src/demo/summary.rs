//! The summary printed at the end: what happened, then the checks of workq's
//! guarantees, each `[ ok ]`, `[FAIL]` or `[skip]` (a step the run did not reach
//! because it was quit early) with a line under it that says in plain words what
//! was checked. The demo exits non-zero if any check failed.

use super::scenario::Outcome;
use super::shared::{EVENT_NAMES, OWNERS};
use crate::view::text::short;
use std::io::{self, Write};

/// Prints the checks as they are made and remembers whether all passed.
struct Checks<'a, W: Write> {
    out: &'a mut W,
    ok: bool,
}

impl<W: Write> Checks<'_, W> {
    /// One check: the numbers (`what`), then what it means (`plain`).
    fn check(&mut self, what: String, plain: &str, pass: bool) -> io::Result<()> {
        self.ok &= pass;
        writeln!(
            self.out,
            "  [{}] {what}",
            if pass { " ok " } else { "FAIL" }
        )?;
        self.note(plain)
    }

    fn skip(&mut self, what: &str) -> io::Result<()> {
        writeln!(self.out, "  [skip] {what}: not reached (quit early)")
    }

    fn note(&mut self, line: &str) -> io::Result<()> {
        writeln!(self.out, "         {line}")
    }
}

/// Writes the summary of `o` and returns whether every check passed.
///
/// # Errors
/// Writing to `out` failed.
pub fn write(out: &mut impl Write, o: &Outcome) -> io::Result<bool> {
    let c = &o.counters;
    writeln!(
        out,
        "\nsummary: ran {:.1}s{}",
        o.elapsed.as_secs_f64(),
        if o.quit_early { " (quit early)" } else { "" }
    )?;
    let raised: u64 = c.raised.iter().sum();
    let [sched, pending, rerun] = c.raise_outcomes;
    writeln!(
        out,
        "  events 'eth0-kevent': {raised} raised by the interrupt threads, taken by {} handler \
         runs ({:.1} events per run); {sched} raises started a run, {pending} joined a run \
         already waiting, {rerun} came while the handler ran and got one more run; {} report(s) \
         of the handler falling behind",
        c.handler_runs,
        raised as f64 / c.handler_runs.max(1) as f64,
        c.backlog_reports
    )?;
    writeln!(
        out,
        "  worker 'netdev': {} runs ({} asked for while the item was running), {} panics; \
         the link poller ran {} times, the periodic tx check {} times",
        o.worker.runs, o.worker.reruns, o.worker.panics, c.polls, c.watchdog_ticks
    )?;
    writeln!(
        out,
        "  pool 'demo-pool': {} runs, {} panics; {} threads started and {} stopped as the \
         load changed",
        o.pool.runs, o.pool.panics, o.pool.threads_started, o.pool.threads_exited
    )?;
    let mut owners = Vec::new();
    for (i, name) in OWNERS.iter().enumerate() {
        owners.push(format!(
            "{name} {} fills ({} failed, {} retried)",
            c.fills[i], c.failed[i], c.retried[i]
        ));
    }
    writeln!(
        out,
        "  owners: {}; retry timers armed {}, pushed back by modify {}; readaheads {} \
         (while waiting they let other items use their thread {} times)",
        owners.join(", "),
        c.retry_armed,
        c.retry_rearmed,
        c.readahead_done,
        c.gave_back
    )?;
    writeln!(
        out,
        "  workqueue 'metadata-writes': {} writes ({} journal commits), {} runs; {} stall report(s)",
        c.meta_writes, c.commits, o.meta.runs, c.stall_reports
    )?;

    let mut checks = Checks { out, ok: true };
    for (k, name) in EVENT_NAMES.iter().enumerate() {
        let (raised, seen) = (c.raised[k], c.seen[k]);
        let stats_raised = o.events.raised.get(k).copied().unwrap_or(0);
        let stats_seen = o.events.seen.get(k).copied().unwrap_or(0);
        let agree = stats_raised == raised && stats_seen == seen;
        checks.check(
            format!(
                "{name} events raised = seen: {raised} = {seen}{}",
                if agree {
                    String::new()
                } else {
                    format!(" (the Events' own count: {stats_raised} raised, {stats_seen} seen)")
                }
            ),
            &format!(
                "every {name} event raised reached the handler: none lost, none counted twice"
            ),
            raised == seen && agree,
        )?;
    }
    checks.check(
        format!(
            "overlapping runs of one item: {} (detectors in {} closures)",
            c.overlaps, c.created
        ),
        "no item ever ran on two threads at once",
        c.overlaps == 0,
    )?;
    checks.check(
        format!(
            "ordered queue ran one item at a time: at most {} at once",
            c.meta_max
        ),
        "the ordered workqueue never ran two of its items at the same time",
        c.meta_max <= 1,
    )?;
    checks.check(
        format!(
            "no poll after cancel_sync returned: {} = {} (it removed a pending run: {}){}",
            o.poll.at_cancel,
            c.polls,
            o.poll.removed,
            if o.poll.at_wind_down {
                " (cancelled at the wind-down)"
            } else {
                ""
            }
        ),
        "once cancel_sync returned, the link poller never ran again",
        o.poll.at_cancel == c.polls,
    )?;
    match &o.freeze {
        Some(f) => {
            checks.check(
                format!(
                    "handler held while frozen: {} runs in {} (pending: {})",
                    f.handler_runs,
                    short(f.hold),
                    f.handler_pending
                ),
                "while the worker was frozen, the event handler did not run",
                f.handler_runs == 0,
            )?;
            checks.check(
                format!("metadata writes held while frozen: {} runs", f.meta_writes),
                "while the workqueue was frozen, no metadata write ran",
                f.meta_writes == 0,
            )?;
            checks.check(
                format!(
                    "held events reported as backlogged after the thaw, none lost: {} report(s)",
                    f.backlog_reports
                ),
"events raised while frozen waited, were reported as late, and were all handled after the thaw",
                f.backlog_reports > 0,
            )?;
        }
        None => checks.skip("freeze / thaw")?,
    }
    let panics = o.worker.panics + o.pool.panics + o.meta.panics;
    if o.panic_reached {
        let named = o.panic_texts.iter().all(|t| t.contains("nfs-fill-corrupt"));
        checks.check(
            format!(
                "panic reported once: {} report(s), {panics} counted",
                o.panic_texts.len()
            ),
            "the item that panics on purpose was reported once, and its thread went on working",
            o.panic_texts.len() == 1 && panics == 1 && named,
        )?;
    } else {
        checks.check(
            format!(
                "no panic before the panicking item: {} report(s)",
                o.panic_texts.len()
            ),
            "no item panicked before the one that panics on purpose",
            o.panic_texts.is_empty() && panics == 0,
        )?;
    }
    for line in &o.panic_texts {
        checks.note(line)?;
    }
    match o.stall {
        Some(seen) => checks.check(
            format!("stall watchdog reported the stalled journal-commit: {seen}"),
            "the watchdog noticed the journal commit that hung in fsync",
            seen,
        )?,
        None => checks.skip("stalled journal commit")?,
    }
    for (i, name) in OWNERS.iter().enumerate() {
        match &o.owners[i] {
            Some(u) => checks.check(
                format!(
                    "owner '{name}' unregistered{} with its items idle: {} (waited {} for {} item(s))",
                    if i == 1 && o.afs_mid_run {
                        " mid-run"
                    } else {
                        ""
                    },
                    u.all_idle,
                    short(u.waited),
                    u.outstanding
                ),
&format!("unregistering owner '{name}' waited until none of its items was queued or running"),
                u.all_idle,
            )?,
            None => checks.check(
                format!("owner '{name}' unregistered: no"),
                "the owner was not unregistered",
                false,
            )?,
        }
    }
    let (failed, retried): (u64, u64) = (c.failed.iter().sum(), c.retried.iter().sum());
    checks.check(
        format!("every failed fill retried: {failed} = {retried}"),
        "every cache fill that failed was tried again",
        failed == retried,
    )?;
    checks.check(
        format!("unexpected errors of workq calls: {}", c.errors),
        "no workq call returned an error the demo did not expect",
        c.errors == 0,
    )?;
    checks.check(
        format!(
            "queue after destroy is an error: {}",
            match &o.after_destroy {
                Ok(q) => format!("no, Ok({q:?})"),
                Err(e) => format!("true ({e})"),
            }
        ),
        "queueing on a destroyed worker is refused with an error, not silently dropped",
        matches!(o.after_destroy, Err(workq::Error::Destroyed { .. })),
    )?;
    checks.check(
        format!(
            "every closure dropped exactly once: {} of {}",
            c.dropped, c.created
        ),
        "every closure given to workq was freed exactly once: no leak, no double free",
        c.dropped == c.created,
    )?;
    let ok = checks.ok;
    writeln!(
        checks.out,
        "{}",
        if ok {
            "all checks passed"
        } else {
            "SOME CHECKS FAILED"
        }
    )?;
    Ok(ok)
}
