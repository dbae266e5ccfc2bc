//! Runs `workq demo` as a user (or CI) would and checks its output and exit status.

use std::process::{Command, Output};

/// Runs the `workq` binary with `args`, standard output and error captured (so
/// not a terminal), `RUST_LOG` unset.
fn workq(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_workq"))
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("run workq")
}

/// Checks that the summary is there and every check passed.
fn assert_summary_passed(out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "demo failed ({:?}):\n{stdout}\n--- stderr:\n{stderr}",
        out.status
    );
    for line in [
        "\nsummary: ran ",
        "[ ok ] rx events raised = seen: ",
        "[ ok ] tx events raised = seen: ",
        "[ ok ] link events raised = seen: ",
        "[ ok ] overlapping runs of one item: 0 ",
        "[ ok ] ordered queue ran one item at a time: at most 1 at once",
        "[ ok ] no poll after cancel_sync returned: ",
        "[ ok ] owner 'nfs' unregistered with its items idle: true",
        "[ ok ] every failed fill retried: ",
        "[ ok ] unexpected errors of workq calls: 0",
        "[ ok ] queue after destroy is an error: true",
        "[ ok ] every closure dropped exactly once: ",
        "all checks passed",
    ] {
        assert!(stdout.contains(line), "missing '{line}' in:\n{stdout}");
    }
    assert!(!stdout.contains("[FAIL]"), "{stdout}");
    assert!(!stdout.contains("SOME CHECKS FAILED"), "{stdout}");
    // Raised = seen, and the drop counters add up: the numbers on both sides match.
    for line in stdout.lines().filter(|l| {
        l.contains("events raised = seen: ") || l.contains("every closure dropped exactly once: ")
    }) {
        let nums: Vec<&str> = line
            .split(|c: char| !c.is_ascii_digit())
            .filter(|s| !s.is_empty())
            .collect();
        assert_eq!(nums.len(), 2, "{line}");
        assert_eq!(nums[0], nums[1], "{line}");
        assert_ne!(nums[0], "0", "{line}");
    }
    stdout
}

#[test]
fn plain_demo_passes_its_own_checks() {
    let out = workq(&["demo", "--plain", "--duration", "3s"]);
    let stdout = assert_summary_passed(&out);
    // Every step of the timeline was reached and checked.
    for line in [
        "[ ok ] handler held while frozen: 0 runs in ",
        "[ ok ] metadata writes held while frozen: 0 runs",
        "[ ok ] held events reported as backlogged after the thaw, none lost: ",
        "[ ok ] panic reported once: 1 report(s), 1 counted",
        "workq: work item 'nfs-fill-corrupt' on 'demo-pool' panicked: simulated failure",
        "[ ok ] stall watchdog reported the stalled journal-commit: true",
        "[ ok ] owner 'afs' unregistered mid-run with its items idle: true",
    ] {
        assert!(stdout.contains(line), "missing '{line}' in:\n{stdout}");
    }
    assert!(!stdout.contains("[skip]"), "{stdout}");
    // Event kinds by name in the reports, plain words under each check.
    assert!(!stdout.contains("kind 0 x"), "{stdout}");
    assert!(
        stdout.contains("every rx event raised reached the handler: none lost"),
        "{stdout}"
    );
    // The periodic view: each queue's snapshot, the counters, the reports.
    for part in [
        "--- 1.0s of 3.0s: ",
        "pool demo-pool: ",
        "worker netdev",
        "workqueue metadata-writes (max_active 1)",
        "counters:\n  events (raised/seen): rx ",
        "reports:\n",
        "suspend: froze 'netdev' and 'metadata-writes'",
        "stall: workq: stall on 'metadata-writes': item 'journal-commit'",
        "backlog: workq: events 'eth0-kevent' backlogged",
        "nothing lost, all handled in one run: rx ×",
        "owner 'afs' unregistered: waited ",
    ] {
        assert!(stdout.contains(part), "missing '{part}' in:\n{stdout}");
    }
}

/// The README's main job runs in CI with standard output not a terminal: the plain
/// view is chosen by itself (no escape sequences), and the summary ends it.
#[test]
fn without_a_terminal_the_plain_view_is_chosen() {
    let out = workq(&["demo", "--duration", "1s"]);
    let stdout = assert_summary_passed(&out);
    assert!(stdout.contains("reports:\n"), "{stdout}");
    assert!(!stdout.contains('\u{1b}'), "escape sequences in:\n{stdout}");
}

/// `--log` in the plain view writes trace events to standard error: the demo's
/// timeline and the library's own events (default filter `workq=debug`).
#[test]
fn log_goes_to_stderr_in_the_plain_view() {
    let out = workq(&["demo", "--plain", "--log", "--duration", "1s"]);
    assert_summary_passed(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("workq::demo: started for"),
        "no demo event in:\n{stderr}"
    );
    assert!(
        stderr.lines().any(|l| l.contains(" workq: ")),
        "no library event in:\n{stderr}"
    );
    // The panic on purpose is routed to the log, not printed by std's hook.
    assert!(
        !stderr.contains("note: run with `RUST_BACKTRACE"),
        "{stderr}"
    );
}

#[test]
fn bad_arguments_are_refused() {
    let refused = |args: &[&str], expected: &str| {
        let out = workq(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains(expected),
            "{args:?}: no '{expected}' in {stderr}"
        );
    };
    refused(
        &["demo", "--duration", "soon"],
        "expected a duration like 20s",
    );
    refused(&["demo", "--duration", "0"], "expected a positive duration");
    refused(&["demo", "--duration", "5"], "a unit is needed, like 5s");
    refused(&["demo", "--fast"], "unexpected argument '--fast'");
}

/// Every subcommand answers `--help`; `help <command>` is that command's help;
/// `--version` prints the version.
#[test]
fn help_and_version() {
    let stdout = |args: &[&str]| {
        let out = workq(args);
        assert!(out.status.success(), "{args:?}: {out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert!(stdout(&["demo", "--help"]).contains("--duration <TIME>"));
    assert!(stdout(&["help", "demo"]).contains("--duration <TIME>"));
    assert!(stdout(&["help", "bench"]).contains("Usage: workq bench"));
    assert!(stdout(&["--version"]).starts_with("workq 0.1.0"));
    // `workq bench` says which command runs the benchmark.
    let out = workq(&["bench", "--quick"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cargo run --release -p workq-bench -- --quick"),
        "{stderr}"
    );
}
