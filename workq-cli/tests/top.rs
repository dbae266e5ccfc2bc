//! Runs `workq top` against a fake server: a real Unix socket in a temp dir,
//! served by a thread of the test that writes the protocol's lines as JSON text.
//! Every wait is bounded: the child is killed after 30 s (a failure), and the
//! server's reads time out.

use std::io::{Read, Write};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// The longest a run of `workq` or a server's wait may take.
const WATCHDOG: Duration = Duration::from_secs(30);

const HELLO: &str =
    r#"{"v":1,"type":"hello","pid":4242,"program":"fake-server","interval_ms":1000}"#;
const REPORT: &str = r#"{"v":1,"type":"report","unix_ms":1700000000500,"level":"warn","text":"workq: 'disk' stalled for 2.0s"}"#;

/// A snapshot of one pool (`disk`, id 3) whose counters say `runs` and `scheduled`,
/// taken at `unix_ms`.
fn snapshot(seq: u64, unix_ms: u64, runs: u64, scheduled: u64) -> String {
    format!(
        concat!(
            r#"{{"v":1,"type":"snapshot","seq":{seq},"unix_ms":{unix_ms},"queues":["#,
            r#"{{"name":"disk","id":3,"kind":"Pool","max_active":null,"min_threads":1,"max_threads":2,"very_slow_percent":50,"#,
            r#""threads":[{{"name":"disk/0","running":{{"work":"flush","very_slow":false,"running_for":{{"secs":2,"nanos":0}}}}}},"#,
            r#"{{"name":"disk/1","running":null}}],"#,
            r#""waiting":[{{"work":"sync","very_slow":true,"waited":{{"secs":0,"nanos":3000000}}}}],"frozen":false,"#,
            r#""stats":{{"scheduled":{scheduled},"merged":7,"reruns":0,"runs":{runs},"panics":1,"threads_started":2,"#,
            r#""threads_exited":0,"spawn_failures":0,"#,
            r#""wait":{{"count":4,"mean":{{"secs":0,"nanos":1000}},"p50":{{"secs":0,"nanos":1000}},"p90":{{"secs":0,"nanos":2000}},"p99":{{"secs":0,"nanos":700000}},"max":{{"secs":0,"nanos":900000}}}},"#,
            r#""run":null}}}},"#,
            r#"{{"name":"events","id":5,"kind":"Worker","max_active":null,"min_threads":1,"max_threads":1,"very_slow_percent":0,"#,
            r#""threads":[{{"name":"events","running":null}}],"waiting":[],"frozen":true,"#,
            r#""stats":{{"scheduled":9,"merged":null,"reruns":0,"runs":9,"panics":0,"threads_started":0,"threads_exited":0,"spawn_failures":0,"wait":null,"run":null}}}}]}}"#
        ),
        seq = seq,
        unix_ms = unix_ms,
        runs = runs,
        scheduled = scheduled
    )
}

/// An empty directory of the test's own, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl std::ops::Deref for TempDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn temp_dir(name: &str) -> TempDir {
    let dir = std::env::temp_dir().join(format!("workq-top-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create the test's dir");
    TempDir(dir)
}

/// What the fake server does once it has written its lines.
#[derive(Clone, Copy, PartialEq)]
enum Then {
    /// Closes the connection.
    Close,
    /// Keeps it open until the client closes it (bounded by the watchdog).
    WaitForClient,
}

/// A fake server's thread.
struct Server {
    done: mpsc::Receiver<()>,
    thread: JoinHandle<()>,
}

impl Server {
    /// Waits (at most 30 s) for the server to finish, and checks it did not
    /// panic.
    fn finish(self) {
        let finished = self.done.recv_timeout(WATCHDOG);
        assert!(
            finished.is_ok() || self.thread.is_finished(),
            "the fake server did not finish within 30 s (no client came?)"
        );
        self.thread.join().expect("the fake server panicked");
    }
}

/// Serves one connection on a socket at `path`: writes `lines`, then `then`.
fn serve(path: &Path, lines: Vec<String>, then: Then) -> Server {
    let listener = UnixListener::bind(path).expect("bind the fake server's socket");
    let (tx, done) = mpsc::channel();
    let thread = thread::spawn(move || {
        let (mut conn, _) = listener.accept().expect("accept");
        conn.set_read_timeout(Some(WATCHDOG)).expect("read timeout");
        conn.set_write_timeout(Some(WATCHDOG))
            .expect("write timeout");
        for line in lines {
            // The client may have gone already (--once): later lines are lost.
            if conn.write_all(format!("{line}\n").as_bytes()).is_err() {
                let _ = tx.send(());
                return;
            }
        }
        if then == Then::WaitForClient {
            let mut rest = Vec::new();
            let read = conn.read_to_end(&mut rest);
            assert!(
                read.is_ok(),
                "the client did not close within 30 s: {read:?}"
            );
        }
        let _ = tx.send(());
    });
    Server { done, thread }
}

/// Runs `workq` with `args` (and `env`), killed after 30 s (a failure).
fn workq(args: &[&str], env: &[(&str, &Path)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_workq"));
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("run workq");
    let (tx, rx) = mpsc::channel();
    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let tx2 = tx.clone();
    thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stdout.read_to_end(&mut buf);
        let _ = tx.send((true, buf));
    });
    thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stderr.read_to_end(&mut buf);
        let _ = tx2.send((false, buf));
    });
    let (mut out, mut err) = (Vec::new(), Vec::new());
    for _ in 0..2 {
        match rx.recv_timeout(WATCHDOG) {
            Ok((true, buf)) => out = buf,
            Ok((false, buf)) => err = buf,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("workq {args:?} did not end within 30 s");
            }
        }
    }
    let status = child.wait().expect("wait for workq");
    Output {
        status,
        stdout: out,
        stderr: err,
    }
}

/// Runs `workq top` with `flags` on the socket at `sock`.
fn top_at(sock: &Path, flags: &[&str]) -> Output {
    let sock = sock.to_str().expect("utf-8");
    let mut args = vec!["top"];
    args.extend_from_slice(flags);
    args.extend(["--socket", sock]);
    workq(&args, &[])
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Checks that `out` failed with exactly one line on standard error, which
/// contains `expected`; returns the line.
fn assert_one_line_error(out: &Output, expected: &str) -> String {
    let err = text(&out.stderr);
    assert!(!out.status.success(), "succeeded; stderr: {err}");
    assert_eq!(err.lines().count(), 1, "not one line: {err}");
    assert!(err.starts_with("workq top: "), "{err}");
    assert!(err.contains(expected), "missing {expected:?} in {err}");
    err
}

#[test]
fn once_plain_prints_the_first_snapshot_and_exits_0() {
    let dir = temp_dir("once-plain");
    let sock = dir.join("s.sock");
    let lines = vec![
        HELLO.to_string(),
        REPORT.to_string(),
        snapshot(1, 1_700_000_001_000, 100, 120),
        snapshot(2, 1_700_000_002_000, 150, 170),
    ];
    let server = serve(&sock, lines, Then::WaitForClient);
    let out = top_at(&sock, &["--once", "--plain"]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    for part in [
        "workq top: fake-server (pid 4242), snapshot 1 at 22:13:21.000 UTC",
        "pool disk#3: 2 thread(s) (min 1, max 2, very slow share 50%)",
        "disk/0               flush for 2.00s",
        "disk/1               idle",
        "waiting: sync (very slow) for 3ms",
        "wait: 4 sample(s), p50 1µs, p90 2µs, p99 700µs, max 900µs, mean 1µs",
        "worker events#5, FROZEN",
        "[22:13:20.500] warn: workq: 'disk' stalled for 2.0s",
    ] {
        assert!(stdout.contains(part), "missing {part:?} in\n{stdout}");
    }
    assert!(!stdout.contains("snapshot 2"), "{stdout}");
    // The table: one row per queue, with every column.
    let row = |name: &str| -> Vec<String> {
        stdout
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_string)
            .collect()
    };
    // queue, runs, in flight, waiting, runs/s, queued/s, merged/s, panics, merged, p99 wait
    assert_eq!(
        row("disk#3"),
        ["disk#3", "100", "1", "1", "-", "-", "-", "1", "7", "700µs"]
    );
    assert_eq!(
        row("events#5"),
        ["events#5", "9", "0", "0", "-", "-", "-", "0", "-", "-"]
    );
    server.finish();
}

#[test]
fn rates_are_computed_over_two_snapshots() {
    let dir = temp_dir("rates");
    let sock = dir.join("s.sock");
    let lines = vec![
        HELLO.to_string(),
        snapshot(1, 1_700_000_000_000, 100, 120),
        snapshot(2, 1_700_000_002_000, 300, 170),
    ];
    let server = serve(&sock, lines, Then::Close);
    let out = top_at(&sock, &["--plain"]);
    let stdout = text(&out.stdout);
    // The server closed without a message: an error, after both frames.
    assert_one_line_error(&out, "the program closed the connection");
    let frames: Vec<&str> = stdout.split("--- workq top: ").skip(1).collect();
    assert_eq!(frames.len(), 2, "{stdout}");
    let cells_of = |frame: &str, queue: &str| -> Vec<String> {
        frame
            .lines()
            .find(|l| l.starts_with(queue))
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_string)
            .collect()
    };
    let cells = |frame: &str| cells_of(frame, "disk#3");
    // 200 runs, 50 queued in 2 s; merged stayed at 7.
    assert_eq!(cells(frames[0])[4..7], ["-", "-", "-"], "{stdout}");
    assert_eq!(cells(frames[1])[4..7], ["100.0", "25.0", "0.0"], "{stdout}");
    assert!(
        frames[1].contains("rates: 100.0 runs/s, 25.0 queued/s, 0.0 merged/s"),
        "{stdout}"
    );
    // The worker ran nothing new and does not count merges: no merged rate.
    assert_eq!(
        cells_of(frames[1], "events#5")[4..7],
        ["0.0", "0.0", "-"],
        "{stdout}"
    );
    server.finish();
}

#[test]
fn json_passes_the_lines_through_and_reports_the_servers_error() {
    let dir = temp_dir("json");
    let sock = dir.join("s.sock");
    let lines = vec![
        HELLO.to_string(),
        snapshot(1, 1_700_000_001_000, 100, 120),
        REPORT.to_string(),
        r#"{"v":1,"type":"gossip","about":"the future"}"#.to_string(),
        r#"{"v":1,"type":"error","message":"the program is shutting down"}"#.to_string(),
    ];
    let server = serve(&sock, lines.clone(), Then::Close);
    let out = top_at(&sock, &["--json"]);
    let stdout = text(&out.stdout);
    let got: Vec<&str> = stdout.lines().collect();
    assert_eq!(got, lines, "{stdout}");
    assert_one_line_error(
        &out,
        "the program closed the connection: the program is shutting down",
    );
    server.finish();

    // --once: the first snapshot's line alone.
    let sock = dir.join("once.sock");
    let server = serve(&sock, lines.clone(), Then::WaitForClient);
    let out = top_at(&sock, &["--json", "--once"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), format!("{}\n", lines[1]));
    server.finish();
}

#[test]
fn unknown_fields_and_types_are_ignored() {
    let dir = temp_dir("unknown");
    let sock = dir.join("s.sock");
    let snap = snapshot(1, 1_700_000_001_000, 100, 120)
        .replace(r#""seq":1,"#, r#""seq":1,"host":{"name":"x"},"#)
        .replace(r#""id":3,"#, r#""id":3,"colour":"blue","#)
        .replace(r#""panics":1,"#, r#""panics":1,"cpu_ns":12345,"#)
        .replace(r#""very_slow":false,"#, r#""very_slow":false,"cpu":3,"#);
    let lines = vec![
        r#"{"v":1,"type":"hello","pid":4242,"program":"fake-server","interval_ms":1000,"features":["a"]}"#.to_string(),
        r#"{"v":1,"type":"heartbeat"}"#.to_string(),
        r#"{"v":1,"type":"report","unix_ms":1700000000500,"level":"info","text":"new level","id":9}"#
            .to_string(),
        snap,
    ];
    let server = serve(&sock, lines, Then::WaitForClient);
    let out = top_at(&sock, &["--once", "--plain"]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    for part in [
        "fake-server (pid 4242)",
        "disk#3",
        "flush for 2.00s",
        "info: new level",
    ] {
        assert!(stdout.contains(part), "missing {part:?} in\n{stdout}");
    }
    server.finish();
}

#[test]
fn a_wrong_version_is_a_clear_error() {
    let dir = temp_dir("version");
    let sock = dir.join("s.sock");
    let lines = vec![HELLO.replace(r#""v":1"#, r#""v":2"#)];
    let server = serve(&sock, lines, Then::WaitForClient);
    let out = top_at(&sock, &["--plain"]);
    assert_one_line_error(
        &out,
        "the program speaks protocol version 2; this workq top speaks version 1",
    );
    server.finish();
}

#[test]
fn a_malformed_line_is_a_clear_error() {
    let dir = temp_dir("malformed");
    let sock = dir.join("s.sock");
    let lines = vec![
        HELLO.to_string(),
        r#"{"v":1,"type":"snapshot","queues":["#.to_string(),
    ];
    let server = serve(&sock, lines, Then::WaitForClient);
    let out = top_at(&sock, &["--json"]);
    assert_one_line_error(&out, "line 2 from the program: malformed line: ");
    // The valid line before it was passed through.
    assert_eq!(text(&out.stdout), format!("{HELLO}\n"));
    server.finish();
}

#[test]
fn a_missing_socket_is_a_clear_error() {
    let dir = temp_dir("missing");
    let sock = dir.join("nobody.sock");
    let out = top_at(&sock, &[]);
    assert_one_line_error(&out, &format!("no socket at {}", sock.display()));
    // A PID's socket is under $XDG_RUNTIME_DIR/workq.
    let out = workq(&["top", "12345"], &[("XDG_RUNTIME_DIR", &dir)]);
    let expected = dir.join("workq").join("12345.sock");
    assert_one_line_error(&out, &format!("no socket at {}", expected.display()));
}

#[test]
fn a_socket_nobody_listens_on_is_refused() {
    let dir = temp_dir("refused");
    let sock = dir.join("s.sock");
    drop(UnixListener::bind(&sock).expect("bind"));
    let out = top_at(&sock, &[]);
    assert_one_line_error(&out, "connection refused at");
}

#[test]
fn a_socket_not_ours_is_permission_denied() {
    use std::os::unix::fs::PermissionsExt;
    let dir = temp_dir("permission");
    let sock = dir.join("s.sock");
    let _listener = UnixListener::bind(&sock).expect("bind");
    std::fs::set_permissions(&sock, std::fs::Permissions::from_mode(0o000)).expect("chmod");
    if std::os::unix::net::UnixStream::connect(&sock).is_ok() {
        // Privileged (root): permissions do not apply; nothing to check here.
        return;
    }
    let out = top_at(&sock, &[]);
    assert_one_line_error(&out, "permission denied on");
}

#[test]
fn without_a_pid_the_only_socket_is_used_else_the_candidates_are_listed() {
    let dir = temp_dir("discover");
    let env = [("XDG_RUNTIME_DIR", &*dir)];
    let out = workq(&["top", "--plain"], &env);
    assert_one_line_error(&out, "no program serves its queues: no socket in");

    let sockets = dir.join("workq");
    std::fs::create_dir_all(&sockets).expect("create the sockets' dir");
    // A socket left behind by a program that has exited (no process has this
    // PID: it is past the kernel's limit) is passed over.
    drop(UnixListener::bind(sockets.join("4000000000.sock")).expect("bind"));
    let out = workq(&["top", "--plain"], &env);
    assert_one_line_error(&out, "but 1 left by programs that have exited");
    // This test's own PID: a live process.
    let me = std::process::id();
    let lines = vec![HELLO.to_string(), snapshot(1, 1_700_000_001_000, 1, 1)];
    let server = serve(
        &sockets.join(format!("{me}.sock")),
        lines,
        Then::WaitForClient,
    );
    let out = workq(&["top", "--once", "--plain"], &env);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("fake-server (pid 4242)"));
    server.finish();

    // A second live program (the test's parent): which one is for the user to say.
    let parent = std::os::unix::process::parent_id();
    let _second = UnixListener::bind(sockets.join(format!("{parent}.sock"))).expect("bind");
    let out = workq(&["top", "--plain"], &env);
    let err = text(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("2 programs serve their queues"), "{err}");
    assert!(err.contains(&format!("  {me}  ")), "{err}");
    assert!(err.contains(&format!("  {parent}  ")), "{err}");
    assert!(!err.contains("4000000000"), "{err}");
}

#[test]
fn the_help_says_how_to_make_a_program_serve() {
    let out = workq(&["top", "--help"], &[]);
    assert!(out.status.success());
    let help = text(&out.stdout);
    for part in [
        "WORKQ_INSPECT=1 ./your-program",
        "workq::inspect::serve()",
        "--once",
        "--json",
    ] {
        assert!(help.contains(part), "missing {part:?} in\n{help}");
    }
}
