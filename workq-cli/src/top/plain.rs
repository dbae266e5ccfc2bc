//! The plain view of `workq top` (`--plain`, or when standard output is not a
//! terminal): one text frame per snapshot, with no terminal control.

use super::state::State;
use super::table;
use std::fmt::Write as _;

/// The frame of the latest snapshot: a header, the table, each queue in detail,
/// and the reports that came since the previous frame (which it takes).
pub fn frame(state: &mut State) -> String {
    let mut s = String::new();
    let who = match &state.hello {
        Some(h) => format!("{} (pid {})", h.program, h.pid),
        None => "a program".to_string(),
    };
    let (seq, at) = state.latest.as_ref().map_or((0, 0), |l| (l.seq, l.unix_ms));
    let _ = writeln!(
        s,
        "--- workq top: {who}, snapshot {seq} at {} UTC ---",
        table::clock(at)
    );
    for line in table::table(state) {
        s.push_str(line.trim_end());
        s.push('\n');
    }
    if let Some(latest) = &state.latest {
        for q in &latest.queues {
            s.push('\n');
            s.push_str(&table::detail(q, state.rates_of(q)));
        }
    }
    let fresh = std::mem::take(&mut state.fresh_reports);
    let skipped = std::mem::take(&mut state.fresh_skipped);
    if !fresh.is_empty() {
        s.push_str("\nreports:\n");
        if skipped > 0 {
            let _ = writeln!(s, "  ({skipped} earlier report(s) not shown)");
        }
        for r in &fresh {
            let _ = writeln!(s, "  {}", table::report(r));
        }
    }
    s.push('\n');
    s
}
