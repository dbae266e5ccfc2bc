//! Runs the `workq-bench` binary as a user would: the coalescing scenario at the quick sizes,
//! as JSON, and checks that workq kept its guarantees.

use std::process::Command;
use workq_bench::serde_json::{self, Value};

fn workq_bench(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_workq-bench"))
        .args(args)
        .output()
        .expect("run workq")
}

#[test]
fn coalescing_json_reports_no_violation() {
    let out = workq_bench(&[
        "--quick",
        "--scenario",
        "coalescing",
        "--json",
        "--no-progress",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "workq-bench failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_str(&stdout).expect("the output is JSON");
    assert_eq!(report["workq_violations"], 0, "{stdout}");
    let scenarios = report["scenarios"].as_array().expect("scenarios");
    assert_eq!(scenarios.len(), 1);
    assert_eq!(scenarios[0]["name"], "coalescing");
    let rows = scenarios[0]["rows"].as_array().expect("rows");
    let zero_rows: Vec<&Value> = rows.iter().filter(|r| r["better"] == "zero").collect();
    assert!(zero_rows.len() >= 4, "lost-call and overlap rows: {stdout}");
    for row in zero_rows {
        assert_eq!(row["values"]["workq"], 0.0, "{}", row["metric"]);
    }
    let calls = rows
        .iter()
        .find(|r| {
            r["metric"]
                .as_str()
                .is_some_and(|m| m.starts_with("queue call"))
        })
        .expect("a queue call row");
    assert!(calls["values"]["workq"].as_f64().is_some_and(|v| v > 0.0));
}

#[test]
fn bench_refuses_bad_arguments() {
    let out = workq_bench(&["--scenario", "nope"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("invalid value 'nope'"), "{err}");
    assert!(err.contains("expected one of: throughput, wake"), "{err}");
    let out = workq_bench(&["--help"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("--scenario <NAME>"));
    let out = workq_bench(&["--version"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("workq-bench 0.1.0"));
}
