//! The plain view (`--plain`, or when standard output is not a terminal): every
//! second, the `Display` of each queue's snapshot, the counters and the reports
//! that came in since the previous print.

use super::model::Model;
use super::shared::{Report, ReportKind, Shared, EVENT_NAMES, OWNERS};
use std::fmt::Write as _;
use std::io::{self, Write};
use std::thread;
use std::time::Duration;

/// Prints the view every `every` until the scenario finishes, then the reports
/// that are left.
///
/// # Errors
/// Writing to `out` failed.
pub fn run(shared: &Shared, out: &mut impl Write, every: Duration) -> io::Result<()> {
    let mut seq = 0;
    let mut next = every;
    loop {
        while !shared.is_finished() && shared.elapsed() < next {
            thread::sleep(Duration::from_millis(20));
        }
        let (reports, skipped) = shared.since(seq);
        if let Some(last) = reports.last() {
            seq = last.seq;
        }
        if shared.is_finished() {
            out.write_all(render_reports(&reports, skipped).as_bytes())?;
            out.flush()?;
            return Ok(());
        }
        let model = Model::capture(shared, 0);
        out.write_all(render(&model, &reports, skipped).as_bytes())?;
        out.flush()?;
        // On the next whole multiple of `every`, skipping ticks missed meanwhile.
        while next <= shared.elapsed() {
            next += every;
        }
    }
}

/// One print of the view: a header, the queues, the counters, the new reports.
pub fn render(model: &Model, reports: &[Report], skipped: u64) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "--- {:.1}s of {:.1}s: {} ---",
        model.elapsed.as_secs_f64(),
        model.duration.as_secs_f64(),
        model.phase
    );
    for (_, snap) in model.queues() {
        let _ = writeln!(s, "{snap}");
    }
    s.push_str(&counters(model));
    s.push_str(&render_reports(reports, skipped));
    s
}

/// The counters, a few lines.
fn counters(model: &Model) -> String {
    let c = &model.counters;
    let mut s = String::from("counters:\n  events (raised/seen):");
    for (k, name) in EVENT_NAMES.iter().enumerate() {
        let _ = write!(s, " {name} {}/{}", c.raised[k], c.seen[k]);
    }
    let _ = writeln!(
        s,
        "; handler runs {}; backlog reports {}",
        c.handler_runs, c.backlog_reports
    );
    s.push_str("  fills:");
    for (i, owner) in OWNERS.iter().enumerate() {
        let _ = write!(
            s,
            " {owner} {} (failed {}, retried {}{})",
            c.fills[i],
            c.failed[i],
            c.retried[i],
            if c.unregistered[i] {
                ", unregistered"
            } else {
                ""
            }
        );
    }
    let _ = writeln!(
        s,
        "; retries armed {}, re-armed by modify {}; readaheads done {}, gave thread back {}",
        c.retry_armed, c.retry_rearmed, c.readahead_done, c.gave_back
    );
    let _ = writeln!(
        s,
        "  metadata writes {} (commits {}, at most {} at once); stall reports {}; panics {}; \
         overlaps {}; errors {}; closures dropped {} of {}",
        c.meta_writes,
        c.commits,
        c.meta_max,
        c.stall_reports,
        c.panic_reports,
        c.overlaps,
        c.errors,
        c.dropped,
        c.created
    );
    s
}

/// The reports, one line each, after a note of how many were lost to the feed's
/// bound.
pub fn render_reports(reports: &[Report], skipped: u64) -> String {
    let mut s = String::new();
    if reports.is_empty() && skipped == 0 {
        return s;
    }
    s.push_str("reports:\n");
    if skipped > 0 {
        let _ = writeln!(s, "  ({skipped} earlier report(s) not shown)");
    }
    for r in reports {
        let _ = writeln!(s, "  [{:>7}] {}{}", short_at(r), tag(r.kind), r.text);
    }
    s
}

/// A report's time, seconds with two decimals.
fn short_at(r: &Report) -> String {
    format!("{:.2}s", r.at.as_secs_f64())
}

/// A tag for the kinds of report that are not timeline steps.
pub fn tag(kind: ReportKind) -> &'static str {
    match kind {
        ReportKind::Timeline => "",
        ReportKind::Backlog => "backlog: ",
        ReportKind::Stall => "stall: ",
        ReportKind::Panic => "panic: ",
        ReportKind::Error => "ERROR: ",
    }
}
