//! The report as JSON, for programs (`workq bench --json`).

use super::{Report, Row, Section};
use serde_json::{json, Map, Value};

/// The report as a JSON value. Numbers that are not finite become `null`.
///
/// Shape: `{ "machine": {...}, "command", "quick", "counting_allocator",
/// "seconds", "workq_violations", "scenarios": [ { "name", "title", "systems":
/// [...], "seconds", "notes": [...], "rows": [ { "metric", "unit", "better",
/// "values": { system: number | null }, "best_peer", "workq_vs_best_peer",
/// "verdict", "target": { "label", "bound", "upper", "met", "context" } | null,
/// "counting_allocator" } ] } ] }`.
pub fn to_json(report: &Report) -> Value {
    let m = &report.machine;
    json!({
        "machine": {
            "nproc": m.nproc,
            "cpu_model": m.cpu_model,
            "kernel": m.kernel,
            "date": m.date,
            "build": m.build,
            "revision": m.revision,
            "load": m.load,
        },
        "command": report.command,
        "quick": report.quick,
        "counting_allocator": report.counting_allocator,
        "seconds": num(report.seconds),
        "workq_violations": report.workq_violations(),
        "scenarios": report.sections.iter().map(section).collect::<Vec<_>>(),
    })
}

fn section(s: &Section) -> Value {
    json!({
        "name": s.scenario.name(),
        "title": s.title,
        "systems": s.systems,
        "seconds": num(s.seconds),
        "notes": s.notes,
        "rows": s.rows.iter().map(|r| row(s, r)).collect::<Vec<_>>(),
    })
}

fn row(s: &Section, r: &Row) -> Value {
    let values: Map<String, Value> = s
        .systems
        .iter()
        .zip(&r.values)
        .map(|(sys, v)| (sys.to_string(), v.map_or(Value::Null, num)))
        .collect();
    let target = r.target.as_ref().map_or(Value::Null, |t| {
        json!({
            "label": t.label,
            "bound": num(t.bound),
            "upper": t.upper,
            "met": r.target_met(),
            "context": t.context,
        })
    });
    json!({
        "metric": r.metric,
        "unit": r.unit,
        "better": r.better.name(),
        "values": values,
        "best_peer": r.best_peer().map_or(Value::Null, num),
        "workq_vs_best_peer": r.ratio().map_or(Value::Null, num),
        "verdict": r.verdict(),
        "target": target,
        "counting_allocator": r.counting_allocator,
    })
}

fn num(v: f64) -> Value {
    serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number)
}
