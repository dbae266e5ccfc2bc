//! The report as a plain-text table, one block per scenario.

use super::{allocator_cell, cell, ratio_cell, target_cell, Report, Section};
use std::fmt::Write as _;

/// The report as text for a terminal.
pub fn to_table(report: &Report) -> String {
    let mut out = String::new();
    let m = &report.machine;
    let _ = writeln!(
        out,
        "workq-bench{}: {} CPUs ({}), load {}, {}, {} build{}",
        if report.quick { " --quick" } else { "" },
        m.nproc,
        m.cpu_model,
        m.load.map_or("?".to_string(), |l| format!("{l:.2}")),
        m.date,
        m.build,
        m.revision
            .as_ref()
            .map_or(String::new(), |r| format!(", code {r}"))
    );
    for section in &report.sections {
        out.push('\n');
        section_table(&mut out, section);
    }
    let violations = report.workq_violations();
    let _ = writeln!(
        out,
        "\nworkq contract violations: {violations}{}   (run took {:.1} s)",
        if violations == 0 { " (ok)" } else { " (FAIL)" },
        report.seconds
    );
    out
}

fn section_table(out: &mut String, s: &Section) {
    let _ = writeln!(out, "== {} ({:.1} s) ==", s.title, s.seconds);
    let mut header = vec!["metric".to_string(), "unit".to_string()];
    header.extend(s.systems.iter().map(|n| n.to_string()));
    header.extend([
        "workq/best".to_string(),
        "".to_string(),
        "target".to_string(),
        "allocator".to_string(),
    ]);
    let rows: Vec<Vec<String>> = s
        .rows
        .iter()
        .map(|r| {
            let mut line = vec![r.metric.clone(), r.unit.to_string()];
            line.extend(r.values.iter().map(|v| cell(*v, r.decimals)));
            line.push(ratio_cell(r));
            line.push(r.verdict().unwrap_or("").to_string());
            line.push(target_cell(r));
            line.push(allocator_cell(r).to_string());
            line
        })
        .collect();
    let widths: Vec<usize> = (0..header.len())
        .map(|c| {
            rows.iter()
                .map(|r| r[c].chars().count())
                .chain([header[c].chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let last = header.len() - 1;
    // The verdict, target and allocator columns are text.
    let first_text = header.len() - 3;
    let line = |out: &mut String, cells: &[String]| {
        let mut text = String::new();
        for (c, v) in cells.iter().enumerate() {
            let w = widths[c];
            // Text columns left, numbers right.
            if c < 2 || c >= first_text {
                let _ = write!(text, "{v:<w$}  ");
            } else {
                let _ = write!(text, "{v:>w$}  ");
            }
        }
        let _ = writeln!(out, "{}", text.trim_end());
    };
    line(out, &header);
    let _ = writeln!(
        out,
        "{}",
        "-".repeat(widths.iter().sum::<usize>() + 2 * last)
    );
    for r in &rows {
        line(out, r);
    }
    for note in &s.notes {
        let _ = writeln!(out, "  * {note}");
    }
}
