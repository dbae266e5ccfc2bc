//! The lines both views of `workq top` print: the one-row-per-queue table (like
//! the kernel's `wq_monitor.py`), a queue's detail, a report, the time of day.

use super::protocol::{Latency, Queue, Report};
use super::state::{Rates, State};
use crate::view::text::{running_for, short};
use std::fmt::Write as _;

/// The table's columns: heading, width when wide, width when narrow (`0`: left
/// out; a narrow table fits in 78 columns, and the panels' titles carry the
/// rates it leaves out).
const COLUMNS: [(&str, usize, usize); 10] = [
    ("queue", 24, 20),
    ("runs", 10, 9),
    ("infl", 6, 5),
    ("wait", 6, 5),
    ("runs/s", 10, 9),
    ("queued/s", 10, 0),
    ("merged/s", 10, 0),
    ("panics", 8, 7),
    ("merged", 10, 9),
    ("p99 wait", 10, 9),
];

/// The width of a wide table; a narrower view gets the narrow one.
pub const WIDE: usize = 104;

/// One line of the table: the first cell left-aligned (and cut to fit), the
/// others right-aligned.
fn layout(cells: [String; 10], narrow: bool) -> String {
    let mut line = String::new();
    for (i, (cell, (_, wide_w, narrow_w))) in cells.iter().zip(COLUMNS).enumerate() {
        let w = if narrow { narrow_w } else { wide_w };
        if w == 0 {
            continue;
        }
        if i == 0 {
            let cut: String = cell.chars().take(w - 1).collect();
            let _ = write!(line, "{cut:<w$}");
        } else {
            let _ = write!(line, "{cell:>w$}");
        }
    }
    line
}

/// The table's header.
pub fn header(narrow: bool) -> String {
    layout(COLUMNS.map(|(h, _, _)| h.to_string()), narrow)
}

/// The table's row of `q` (`-` where a value is missing: no rates yet, merges
/// not counted, latency not measured).
pub fn row(q: &Queue, rates: Option<Rates>, narrow: bool) -> String {
    let rate = |r: Option<f64>| r.map_or_else(|| "-".to_string(), |r| format!("{r:.1}"));
    let cells = [
        label(q),
        q.stats.runs.to_string(),
        q.in_flight().to_string(),
        q.waiting.len().to_string(),
        rate(rates.map(|r| r.runs)),
        rate(rates.map(|r| r.queued)),
        rate(rates.and_then(|r| r.merged)),
        q.stats.panics.to_string(),
        q.stats
            .merged
            .map_or_else(|| "-".to_string(), |m| m.to_string()),
        q.stats
            .wait
            .map_or_else(|| "-".to_string(), |w| short(w.p99)),
    ];
    layout(cells, narrow)
}

/// The table (wide): its header and a row per queue of the latest snapshot.
pub fn table(state: &State) -> Vec<String> {
    let mut lines = vec![header(false)];
    if let Some(s) = &state.latest {
        lines.extend(s.queues.iter().map(|q| row(q, state.rates_of(q), false)));
    }
    lines
}

/// `name#id`, so queues of the same name stay apart.
pub fn label(q: &Queue) -> String {
    format!("{}#{}", q.name, q.id)
}

/// What kind of queue, in words, with its sizing.
pub fn describe(q: &Queue) -> String {
    let frozen = if q.frozen { ", FROZEN" } else { "" };
    format!("{}{frozen}", describe_plain(q))
}

/// [`describe`] without the frozen mark (the live view draws its own).
pub fn describe_plain(q: &Queue) -> String {
    match q.kind.as_str() {
        "Pool" => format!(
            "pool {}: {} thread(s) (min {}, max {}, very slow share {}%)",
            label(q),
            q.threads.len(),
            q.min_threads,
            q.max_threads,
            q.very_slow_percent
        ),
        "WorkQueue" => match q.max_active {
            Some(n) => format!("workqueue {} (max_active {n})", label(q)),
            None => format!("workqueue {}", label(q)),
        },
        "Worker" => format!("worker {}", label(q)),
        other => format!("{} {}", other.to_lowercase(), label(q)),
    }
}

/// What a running or waiting item is called.
pub fn item_name(work: Option<&str>, very_slow: bool) -> String {
    let mut s = work.unwrap_or("<unnamed>").to_string();
    if very_slow {
        s.push_str(" (very slow)");
    }
    s
}

/// A latency summary on one line.
pub fn latency(what: &str, l: &Latency) -> String {
    format!(
        "{what}: {} sample(s), p50 {}, p90 {}, p99 {}, max {}, mean {}",
        l.count,
        short(l.p50),
        short(l.p90),
        short(l.p99),
        short(l.max),
        short(l.mean)
    )
}

/// A queue in detail: what it is, its threads and what each runs for how long,
/// its waiting items with their ages, its rates and latencies (indented by two).
pub fn detail(q: &Queue, rates: Option<Rates>) -> String {
    let mut s = describe(q);
    s.push('\n');
    for t in &q.threads {
        match &t.running {
            None => {
                let _ = writeln!(s, "  {:<20} idle", t.name);
            }
            Some(r) => {
                // A run seen for the first time has no time yet (see running_for).
                let since = if r.running_for.is_zero() {
                    " (new)".to_string()
                } else {
                    format!(" for {}", running_for(r.running_for))
                };
                let _ = writeln!(
                    s,
                    "  {:<20} {}{since}",
                    t.name,
                    item_name(r.work.as_deref(), r.very_slow),
                );
            }
        }
    }
    if q.waiting.is_empty() {
        s.push_str("  nothing waiting\n");
    }
    for w in &q.waiting {
        let _ = writeln!(
            s,
            "  waiting: {} for {}",
            item_name(w.work.as_deref(), w.very_slow),
            short(w.waited)
        );
    }
    if let Some(r) = rates {
        let merged = r
            .merged
            .map_or_else(|| "-".to_string(), |m| format!("{m:.1}"));
        let _ = writeln!(
            s,
            "  rates: {:.1} runs/s, {:.1} queued/s, {merged} merged/s",
            r.runs, r.queued
        );
    }
    for (what, l) in [("wait", &q.stats.wait), ("run", &q.stats.run)] {
        if let Some(l) = l {
            let _ = writeln!(s, "  {}", latency(what, l));
        }
    }
    s
}

/// A report on one line: its time of day, level and text.
pub fn report(r: &Report) -> String {
    format!("[{}] {}: {}", clock(r.unix_ms), r.level, r.text)
}

/// The time of day (UTC) of a Unix time in milliseconds: `12:34:56.789`.
pub fn clock(unix_ms: u64) -> String {
    let ms = unix_ms % 86_400_000;
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::top::protocol::{Running, Stats, Thread, Waiting};
    use std::time::Duration;

    fn queue() -> Queue {
        Queue {
            name: "disk".into(),
            id: 4,
            kind: "Pool".into(),
            min_threads: 1,
            max_threads: 2,
            threads: vec![
                Thread {
                    name: "disk/0".into(),
                    running: Some(Running {
                        work: Some("flush".into()),
                        very_slow: false,
                        running_for: Duration::from_millis(1500),
                    }),
                },
                Thread {
                    name: "disk/1".into(),
                    running: None,
                },
            ],
            waiting: vec![Waiting {
                work: None,
                very_slow: true,
                waited: Duration::from_millis(12),
            }],
            stats: Stats {
                runs: 77,
                panics: 2,
                merged: Some(9),
                wait: Some(Latency {
                    count: 77,
                    p99: Duration::from_micros(850),
                    ..Latency::default()
                }),
                ..Stats::default()
            },
            ..Queue::default()
        }
    }

    #[test]
    fn a_row_has_every_column() {
        let rates = Rates {
            runs: 12.5,
            queued: 3.0,
            merged: None,
        };
        let wide = row(&queue(), Some(rates), false);
        let cells: Vec<&str> = wide.split_whitespace().collect();
        assert_eq!(
            cells,
            ["disk#4", "77", "1", "1", "12.5", "3.0", "-", "2", "9", "850µs"]
        );
        assert_eq!(header(false).split_whitespace().count(), 11); // "p99 wait": two words
        assert_eq!(header(false).chars().count(), WIDE);
        // Narrow: without queued/s and merged/s, in 78 columns.
        let narrow = row(&queue(), Some(rates), true);
        let cells: Vec<&str> = narrow.split_whitespace().collect();
        assert_eq!(cells, ["disk#4", "77", "1", "1", "12.5", "2", "9", "850µs"]);
        assert!(header(true).chars().count() <= 78, "{}", header(true));
        assert!(!header(true).contains("queued/s"));
        // A long name is cut, leaving a space before the next column.
        let long = Queue {
            name: "a-very-long-queue-name-indeed".into(),
            ..queue()
        };
        assert!(row(&long, None, true).starts_with("a-very-long-queue-n "));
    }

    #[test]
    fn the_detail_shows_runs_waits_and_latency() {
        let d = detail(&queue(), None);
        for part in [
            "pool disk#4: 2 thread(s) (min 1, max 2",
            "disk/0               flush for 1.50s",
            "disk/1               idle",
            "waiting: <unnamed> (very slow) for 12ms",
            "wait: 77 sample(s)",
        ] {
            assert!(d.contains(part), "missing {part:?} in\n{d}");
        }
    }

    #[test]
    fn the_clock_is_utc_time_of_day() {
        assert_eq!(clock(0), "00:00:00.000");
        assert_eq!(clock(86_400_000 + 3_723_004), "01:02:03.004");
    }
}
