//! `workq top` against the real thing: `workq demo` serves its queues on the
//! library's inspection endpoint, and `workq top <pid> --once --json` reads a
//! snapshot of them. Every wait is bounded (30 s); the demo is killed at the end.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

const WATCHDOG: Duration = Duration::from_secs(30);

/// A demo child process, killed when dropped.
struct Demo(Child);

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A directory of the test's own (the demo's `XDG_RUNTIME_DIR`), removed when
/// dropped.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn top_reads_the_demos_queues_from_its_endpoint() {
    let dir = TempDir(std::env::temp_dir().join(format!("workq-top-demo-{}", std::process::id())));
    let _ = std::fs::remove_dir_all(&dir.0);
    std::fs::create_dir_all(&dir.0).expect("create the test's dir");
    let mut child = Command::new(env!("CARGO_BIN_EXE_workq"))
        .args(["demo", "--plain", "--duration", "60s"])
        .env("XDG_RUNTIME_DIR", &dir.0)
        .env_remove("WORKQ_INSPECT")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run workq demo");
    let stderr = child.stderr.take().expect("the demo's stderr");
    let demo = Demo(child);
    let pid = demo.0.id();

    // The demo says where it serves once its endpoint is up.
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut lines = BufReader::new(stderr).lines();
        for line in lines.by_ref().map_while(Result::ok) {
            if line.contains("workq top") {
                let _ = tx.send(line);
                break;
            }
        }
        // Keep draining, so the demo never blocks on a full pipe.
        for _ in lines {}
    });
    let said = rx
        .recv_timeout(WATCHDOG)
        .expect("the demo said how to watch it within 30 s");
    assert!(said.contains(&format!("workq top {pid}")), "{said}");
    let socket = dir.0.join("workq").join(format!("{pid}.sock"));
    assert!(said.contains(&socket.display().to_string()), "{said}");

    // Snapshots stream twice a second; the demo builds its queues as its
    // scenario starts, so the lines are read until one shows all three.
    let mut top = Command::new(env!("CARGO_BIN_EXE_workq"))
        .args(["top", &pid.to_string(), "--json"])
        .env("XDG_RUNTIME_DIR", &dir.0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("run workq top");
    let out = top.stdout.take().expect("top's stdout");
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let wanted = ["demo-pool", "netdev", "metadata-writes"];
    let deadline = std::time::Instant::now() + WATCHDOG;
    let mut snapshots = 0;
    let found = loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let Ok(line) = rx.recv_timeout(left) else {
            break None;
        };
        let msg: serde_json::Value =
            serde_json::from_str(&line).expect("top --json prints JSON lines");
        assert_eq!(msg["v"], 1, "{line}");
        if msg["type"] != "snapshot" {
            continue;
        }
        snapshots += 1;
        let names: Vec<String> = msg["queues"]
            .as_array()
            .expect("a snapshot's queues")
            .iter()
            .filter_map(|q| q["name"].as_str().map(str::to_string))
            .collect();
        if wanted.iter().all(|w| names.iter().any(|n| n == w)) {
            break Some(names);
        }
    };
    let _ = top.kill();
    let _ = top.wait();
    let names = found.unwrap_or_else(|| {
        panic!("no snapshot with the demo's queues {wanted:?} within 30 s ({snapshots} snapshots)")
    });
    assert!(names.len() >= wanted.len(), "{names:?}");
    drop(demo);
}
