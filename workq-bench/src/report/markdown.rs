//! The report as markdown (docs/benchmarks.md).

use super::{allocator_cell, cell, ratio_cell, target_cell, Report, Section};
use std::fmt::Write as _;

/// The report as a markdown document; `plot` is the file name of the SVG plot to
/// show, if any.
pub fn to_markdown(report: &Report, plot: Option<&str>) -> String {
    let m = &report.machine;
    let mut out = String::new();
    let _ = writeln!(out, "# workq benchmarks\n");
    let _ = writeln!(
        out,
        "workq against its peers, each on the same thread budget, measured in one run by \
         the `workq-bench` crate (its `workq-bench` binary and `cargo bench -p workq-bench` \
         run the same code). This file and the plot were written by that run; to \
         reproduce them run the command below.\n"
    );
    let _ = writeln!(out, "| | |\n|-|-|");
    let _ = writeln!(out, "| command | `{}` |", report.command);
    if let Some(rev) = &m.revision {
        let _ = writeln!(out, "| code (`git describe --dirty`) | `{rev}` |");
    }
    let _ = writeln!(out, "| date | {} |", m.date);
    let _ = writeln!(out, "| CPUs (`nproc`) | {} |", m.nproc);
    let _ = writeln!(out, "| CPU model | {} |", m.cpu_model);
    let _ = writeln!(out, "| kernel | {} |", m.kernel);
    if let Some(load) = m.load {
        let _ = writeln!(out, "| load average (1 min) at the start | {load:.2} |");
    }
    let _ = writeln!(
        out,
        "| build | {}{} |",
        m.build,
        if report.quick {
            ", `--quick` sizes"
        } else {
            ""
        }
    );
    let _ = writeln!(out, "| run time | {:.1} s |", report.seconds);
    let _ = writeln!(
        out,
        "| workq contract violations | {} |\n",
        report.workq_violations()
    );
    if let Some(plot) = plot {
        let _ = writeln!(
            out,
            "![workq vs the best peer per scenario]({plot})\n\n\
             The plot shows each system's result divided by the best peer's (1 = best \
             peer; above 1 is better, whichever way the metric goes; log scale).\n"
        );
    }
    let _ = writeln!(
        out,
        "How to read the tables: `workq/best` is workq's value divided by the best \
         peer's value (for times and bytes below 1 is better, for rates above 1 is \
         better; the next column says which). The allocator column says whether the \
         counting allocator (atomic counters on every allocation and free) was the global \
         allocator while the row was measured. Targets are workq's goals; they are shown, \
         never asserted; the last column of the targets table says what bounds each on \
         this machine, measured in the same run where it can be. Rows marked *must be 0* count broken guarantees; a run in which \
         workq breaks one exits non-zero.\n"
    );
    let _ = writeln!(out, "## Targets\n");
    let _ = writeln!(
        out,
        "| scenario | metric | workq | target | what bounds it here |\n|-|-|-:|-|-|"
    );
    for (s, r) in report.targets() {
        let _ = writeln!(
            out,
            "| {} | {} | {} {} | {} | {} |",
            s.scenario,
            r.metric,
            cell(r.workq(), r.decimals),
            r.unit,
            target_cell(r),
            r.target
                .as_ref()
                .and_then(|t| t.context.as_deref())
                .unwrap_or("")
        );
    }
    out.push('\n');
    for s in &report.sections {
        section(&mut out, s);
    }
    out
}

fn section(out: &mut String, s: &Section) {
    let _ = writeln!(out, "## {}\n", s.title);
    let _ = write!(out, "| metric | unit |");
    for sys in &s.systems {
        let _ = write!(out, " {sys} |");
    }
    let _ = writeln!(out, " workq/best | | target | allocator |");
    let _ = write!(out, "|-|-|");
    for _ in &s.systems {
        out.push_str("-:|");
    }
    let _ = writeln!(out, "-:|-|-|-|");
    for r in &s.rows {
        let _ = write!(out, "| {} | {} |", r.metric, r.unit);
        for v in &r.values {
            let _ = write!(out, " {} |", cell(*v, r.decimals));
        }
        let _ = writeln!(
            out,
            " {} | {} | {} | {} |",
            ratio_cell(r),
            r.verdict().unwrap_or(""),
            target_cell(r),
            allocator_cell(r)
        );
    }
    out.push('\n');
    for note in &s.notes {
        let _ = writeln!(out, "* {note}");
    }
    let _ = writeln!(out, "\n({:.1} s)\n", s.seconds);
}
