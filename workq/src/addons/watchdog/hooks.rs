//! Stall hooks, called off the patrol thread.
//!
//! Each watched queue with a hook has a `HookLine`: its reports waiting for the
//! hook, and at most one thread (`workq-stall-hook`) that hands them to the hook
//! one at a time and exits when none is left. A hook that blocks holds up only its
//! own queue's later reports (up to `MAX_WAITING`; more are dropped and counted),
//! and the patrol reports it once per call that has not returned after the
//! queue's threshold. A hook thread that cannot start is reported and retried by
//! the patrol with the patrol thread's own back-off (10 ms doubling to 5 s).

// std's primitives: the watchdog runs outside every model (it is compiled out
// under loom), and its registry is a process-wide static.
#![allow(clippy::disallowed_types)]

use super::{Stall, StallHook, StallReport};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// Reports kept for a hook that has not returned; later ones are dropped.
const MAX_WAITING: usize = 64;

/// One queue's hook and the reports on their way to it.
pub(super) struct HookLine {
    queue: Arc<str>,
    hook: StallHook,
    state: Mutex<LineState>,
}

#[derive(Default)]
struct LineState {
    waiting: VecDeque<Stall>,
    /// A hook thread runs (or is being started).
    thread: bool,
    /// The hook call in progress began then.
    calling_since: Option<Instant>,
    /// The call in progress was reported as not returning.
    stuck_reported: bool,
    /// Reports dropped because too many waited.
    dropped: u64,
    /// Failed thread starts in a row, and when the next start may be tried
    /// (the patrol's back-off: a start that keeps failing is not retried, nor
    /// reported, every round).
    failed_starts: u32,
    retry_at: Option<Instant>,
}

impl HookLine {
    pub(super) fn new(queue: Arc<str>, hook: StallHook) -> Arc<HookLine> {
        Arc::new(HookLine {
            queue,
            hook,
            state: Mutex::new(LineState::default()),
        })
    }

    fn state(&self) -> MutexGuard<'_, LineState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Hands `stall` to the hook, on the line's thread (started if needed).
    pub(super) fn post(self: &Arc<Self>, stall: Stall) {
        {
            let mut s = self.state();
            if s.waiting.len() >= MAX_WAITING {
                s.dropped += 1;
                return;
            }
            s.waiting.push_back(stall);
        }
        self.start_thread();
    }

    /// Called by the patrol each round: starts a thread for reports left waiting
    /// by a failed start, and reports a hook call that has not returned after
    /// `threshold` (once per call).
    pub(super) fn check(self: &Arc<Self>, threshold: Duration, now: Instant) {
        let stuck = {
            let mut s = self.state();
            match s.calling_since {
                Some(since)
                    if !s.stuck_reported && now.saturating_duration_since(since) > threshold =>
                {
                    s.stuck_reported = true;
                    Some((
                        now.saturating_duration_since(since),
                        s.waiting.len(),
                        s.dropped,
                    ))
                }
                _ => None,
            }
        };
        if let Some((for_, waiting, dropped)) = stuck {
            crate::support::log::trouble!(
                warn,
                "workq: the stall hook of '{}' has not returned for {for_:.1?}; {waiting} later report(s) of the queue wait for it, {dropped} dropped",
                self.queue
            );
        }
        self.start_thread();
    }

    /// Starts the line's thread if reports wait, none runs, and a failed start
    /// is not in its back-off.
    fn start_thread(self: &Arc<Self>) {
        let now = Instant::now();
        {
            let mut s = self.state();
            if s.thread || s.waiting.is_empty() || s.retry_at.is_some_and(|at| now < at) {
                return;
            }
            s.thread = true;
        }
        let line = self.clone();
        match super::start::spawn("workq-stall-hook", Box::new(move || line.drain())) {
            Ok(()) => {
                let mut s = self.state();
                s.failed_starts = 0;
                s.retry_at = None;
            }
            Err(error) => {
                let (attempt, delay) = {
                    let mut s = self.state();
                    s.thread = false;
                    s.failed_starts = s.failed_starts.saturating_add(1);
                    let delay = super::start::back_off(s.failed_starts);
                    s.retry_at = Some(now + delay);
                    (s.failed_starts, delay)
                };
                crate::support::log::trouble!(
                    error,
                    "workq: could not start a thread for the stall hook of '{}' (attempt {attempt}): {error}; retrying in {delay:?}",
                    self.queue
                );
            }
        }
    }

    /// The line's thread: hands the waiting reports to the hook, one at a time,
    /// and exits when none is left.
    fn drain(&self) {
        loop {
            let stall = {
                let mut s = self.state();
                match s.waiting.pop_front() {
                    Some(stall) => {
                        s.calling_since = Some(Instant::now());
                        s.stuck_reported = false;
                        stall
                    }
                    None => {
                        s.thread = false;
                        return;
                    }
                }
            };
            let report = StallReport {
                queue: &self.queue,
                stall,
            };
            crate::support::panic::quietly(|| (self.hook)(&report));
            self.state().calling_since = None;
        }
    }
}
