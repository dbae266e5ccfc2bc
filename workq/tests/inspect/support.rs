//! Helpers of the inspection tests: the test binary re-run as another process in
//! a role (a program, a client), a private temporary directory, and a client
//! reading protocol lines with a watchdog on every read.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use workq::inspect::Message;

/// The environment variable that selects a re-run test binary's role.
pub const ROLE: &str = "WORKQ_INSPECT_TEST_ROLE";
/// The bound on every wait of these tests: past it, the test fails.
pub const WATCHDOG: Duration = Duration::from_secs(30);
/// What a role prints before each line the test waits for.
pub const MARK: &str = "@@ ";

/// The role this process plays, if it is a re-run test binary.
pub fn role() -> Option<String> {
    std::env::var(ROLE).ok()
}

/// Prints a line the parent test waits for.
pub fn mark(line: &str) {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{MARK}{line}").expect("stdout");
    out.flush().expect("stdout");
}

/// A fresh directory of this user, mode 0700, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("wqi-{}-{n}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .expect("create a temporary directory");
        TempDir(dir)
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// The id of the user running the tests (the directory's owner).
    pub fn uid(&self) -> u32 {
        std::fs::metadata(&self.0).expect("metadata").uid()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// This test binary re-run as a separate process in `role`; its output lines
/// are collected on threads.
pub struct Proc {
    pub name: String,
    pub child: Child,
    pub stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    stderr: Arc<Mutex<String>>,
    stderr_thread: Option<std::thread::JoinHandle<()>>,
}

impl Proc {
    /// Starts the test named `test` of this binary in `role` with `env`.
    pub fn start(test: &str, role: &str, env: &[(&str, &str)]) -> Proc {
        let exe = std::env::current_exe().expect("the test binary");
        let mut cmd = Command::new(exe);
        cmd.args([test, "--exact", "--nocapture", "--test-threads=1"])
            .env(ROLE, role)
            .env_remove("WORKQ_INSPECT")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("start the test binary again");
        let stdout = child.stdout.take().expect("stdout");
        let stderr_pipe = child.stderr.take().expect("stderr");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                // The harness may have begun the line ("test role_entry ... ").
                if let Some(at) = line.find(MARK) {
                    if tx.send(line[at + MARK.len()..].to_string()).is_err() {
                        break;
                    }
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = stderr.clone();
        let stderr_thread = std::thread::spawn(move || {
            for line in BufReader::new(stderr_pipe).lines().map_while(Result::ok) {
                let mut s = sink.lock().expect("stderr sink");
                s.push_str(&line);
                s.push('\n');
            }
        });
        Proc {
            name: role.to_string(),
            stdin: child.stdin.take(),
            child,
            lines,
            stderr,
            stderr_thread: Some(stderr_thread),
        }
    }

    /// The next marked line; fails the test after the watchdog.
    pub fn line(&self) -> String {
        match self.lines.recv_timeout(WATCHDOG) {
            Ok(line) => line,
            Err(e) => panic!(
                "{}: no marked line ({e}); its stderr:\n{}",
                self.name,
                self.stderr()
            ),
        }
    }

    /// Waits for the marked line `want`.
    pub fn expect(&self, want: &str) {
        let got = self.line();
        assert_eq!(got, want, "{}: stderr:\n{}", self.name, self.stderr());
    }

    /// What the process wrote to standard error so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().expect("stderr sink").clone()
    }

    /// Writes a command line to the process's standard input.
    pub fn tell(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        writeln!(stdin, "{line}").expect("write to the child");
        stdin.flush().expect("flush to the child");
    }

    /// Closes its standard input.
    pub fn close_stdin(&mut self) {
        drop(self.stdin.take());
    }

    /// Closes its standard input and waits for its exit (bounded).
    pub fn finish(mut self) -> (ExitStatus, String) {
        drop(self.stdin.take());
        let deadline = std::time::Instant::now() + WATCHDOG;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                // The stderr thread ends at the pipe's end, which the exit closed.
                if let Some(t) = self.stderr_thread.take() {
                    let _ = t.join();
                }
                return (status, self.stderr());
            }
            if std::time::Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("{} did not exit; stderr:\n{}", self.name, self.stderr());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Like [`finish`](Proc::finish), failing unless the exit is a success.
    pub fn succeed(self) -> String {
        let name = self.name.clone();
        let (status, stderr) = self.finish();
        assert!(
            status.success(),
            "{name} failed ({status}); stderr:\n{stderr}"
        );
        stderr
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A client of an endpoint, reading lines with a read timeout as a watchdog.
pub struct Client {
    pub reader: BufReader<UnixStream>,
}

impl Client {
    pub fn connect(path: &Path) -> Client {
        let stream = UnixStream::connect(path)
            .unwrap_or_else(|e| panic!("connect to {}: {e}", path.display()));
        stream.set_read_timeout(Some(WATCHDOG)).expect("timeout");
        stream.set_write_timeout(Some(WATCHDOG)).expect("timeout");
        Client {
            reader: BufReader::new(stream),
        }
    }

    pub fn stream(&self) -> &UnixStream {
        self.reader.get_ref()
    }

    /// The next raw line, `None` at the end of the stream (or a reset after it).
    pub fn raw_line(&mut self) -> Option<String> {
        let mut line = String::new();
        match self.reader.read_line(&mut line) {
            Ok(0) => None,
            Ok(_) => Some(line),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => None,
            Err(e) => panic!("reading a line: {e}"),
        }
    }

    /// The next message; fails at the end of the stream or on a line that does
    /// not parse.
    pub fn message(&mut self) -> Message {
        let line = self
            .raw_line()
            .expect("a line before the end of the stream");
        assert!(line.ends_with('\n'), "an unterminated line: {line:?}");
        let value: serde_json::Value = serde_json::from_str(&line).expect("a JSON line");
        assert_eq!(value["v"], 1, "every line has v:1: {line}");
        assert!(value["type"].is_string(), "every line has a type: {line}");
        Message::from_line(&line).unwrap_or_else(|e| panic!("{e}: {line}"))
    }
}
