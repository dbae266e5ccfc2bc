//! Runs `workq demo` as a user would and checks its summary.

use std::process::Command;

#[test]
fn demo_passes_its_own_checks() {
    let out = Command::new(env!("CARGO_BIN_EXE_workq"))
        .args(["demo", "--duration", "1s"])
        .output()
        .expect("run workq demo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "demo failed:\n{stdout}");
    for line in [
        "rx events raised = seen",
        "overlapping runs of one item: 0",
        "panic reported once: 1 report(s)",
        "every closure dropped exactly once: 3 of 3",
        "all checks passed",
    ] {
        assert!(stdout.contains(line), "missing '{line}' in:\n{stdout}");
    }
    assert!(!stdout.contains("FAIL"), "{stdout}");
}

#[test]
fn bad_arguments_are_refused() {
    let out = Command::new(env!("CARGO_BIN_EXE_workq"))
        .args(["demo", "--duration", "soon"])
        .output()
        .expect("run workq demo");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read 'soon'"));
}
