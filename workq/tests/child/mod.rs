//! Runs one test of the current test binary again in a child process: for what
//! only a fresh process shows (the first start of the process-wide watchdog
//! thread, whether a line reaches standard error with or without a `tracing`
//! subscriber installed).
//!
//! The test checks [`is_child`] first: in the child it does the work and asserts
//! what the child can see; in the parent it calls [`run`] and asserts the child's
//! exit status and output.
#![allow(dead_code)]

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The environment variable naming the test a child process runs.
const ROLE: &str = "WORKQ_TEST_CHILD";

/// How long a child may run before it is killed and the test fails.
const CHILD_SECS: u64 = 90;

/// Whether this process is the child run of `test`.
pub fn is_child(test: &str) -> bool {
    std::env::var(ROLE).as_deref() == Ok(test)
}

/// What a child run left.
pub struct Output {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    /// The lines of standard error that start with `prefix`.
    pub fn stderr_lines(&self, prefix: &str) -> Vec<&str> {
        self.stderr
            .lines()
            .filter(|l| l.starts_with(prefix))
            .collect()
    }
}

impl std::fmt::Display for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "success: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.success, self.stdout, self.stderr
        )
    }
}

/// Runs test `test` of this binary alone (`--exact`, output not captured) in a
/// child process and returns what it left; kills it and panics if it has not
/// ended after `CHILD_SECS`.
pub fn run(test: &str) -> Output {
    let exe = std::env::current_exe().expect("the test binary's path");
    let mut child = Command::new(exe)
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(ROLE, test)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the child process");
    let read = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    };
    let stdout = read(Box::new(child.stdout.take().expect("stdout")));
    let stderr = read(Box::new(child.stderr.take().expect("stderr")));
    let deadline = Instant::now() + Duration::from_secs(CHILD_SECS);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the child") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the child run of '{test}' did not end after {CHILD_SECS} s");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    Output {
        success: status.success(),
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    }
}

#[cfg(feature = "tracing")]
pub mod collect;
