//! The progress line on standard error: which scenario and system runs now.

use std::io::{IsTerminal, Write};
use std::time::Instant;

/// Reports progress on standard error: one updating line on a terminal, one line
/// per step otherwise, nothing when disabled.
pub struct Progress {
    enabled: bool,
    tty: bool,
    start: Instant,
    scenario: String,
    index: usize,
    total: usize,
    step: usize,
    steps: usize,
}

impl Progress {
    /// A progress reporter for `total` scenarios.
    pub fn new(enabled: bool, total: usize) -> Progress {
        Progress {
            enabled,
            tty: std::io::stderr().is_terminal(),
            start: Instant::now(),
            scenario: String::new(),
            index: 0,
            total,
            step: 0,
            steps: 0,
        }
    }

    /// A scenario starts; it will report `steps` steps.
    pub fn scenario(&mut self, name: &str, steps: usize) {
        self.index += 1;
        self.scenario = name.to_string();
        self.step = 0;
        self.steps = steps;
    }

    /// The next step of the current scenario starts.
    pub fn step(&mut self, what: &str) {
        self.step += 1;
        if !self.enabled {
            return;
        }
        let line = format!(
            "[{}/{} {} {:>2}/{}] {:>5.1}s  {what}",
            self.index,
            self.total,
            self.scenario,
            self.step.min(self.steps.max(self.step)),
            self.steps.max(self.step),
            self.start.elapsed().as_secs_f64()
        );
        let mut err = std::io::stderr().lock();
        if self.tty {
            let _ = write!(err, "\r\x1b[2K{line}");
        } else {
            let _ = writeln!(err, "{line}");
        }
        let _ = err.flush();
    }

    /// Clears the line at the end.
    pub fn finish(&mut self) {
        if self.enabled && self.tty {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K");
            let _ = err.flush();
        }
    }
}
