//! The watched queues, and the patrol thread that looks at them a few times per
//! threshold.

// std's primitives: the watchdog runs outside every model (it is compiled out
// under loom), and its registry is a process-wide static.
#![allow(clippy::disallowed_types)]

use super::hooks::HookLine;
use super::{Stall, StallHook, StallReport};
use crate::engine::RunQueue;
use crate::support::sync::Arc;
use std::collections::HashSet;
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

/// One watched queue.
struct Watched {
    queue: std::sync::Weak<RunQueue>,
    threshold: Duration,
    hook: Option<std::sync::Arc<HookLine>>,
    /// Runs already reported: (item address, start).
    reported: HashSet<(usize, Instant)>,
    /// The waiting episode already reported (until a run starts): the queue's
    /// count of started runs when it was.
    waiting_reported: Option<u64>,
    /// A backlog episode was reported (until the oldest wait is back at or under
    /// the threshold, or nothing waits).
    backlog_reported: bool,
}

fn registry() -> &'static Mutex<Vec<Watched>> {
    static WATCHED: OnceLock<Mutex<Vec<Watched>>> = OnceLock::new();
    WATCHED.get_or_init(|| Mutex::new(Vec::new()))
}

/// Adds `queue` to the watched queues.
pub(super) fn add(queue: &Arc<RunQueue>, threshold: Duration, hook: Option<StallHook>) {
    let hook = hook.map(|hook| HookLine::new(queue.name.clone(), hook));
    registry()
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(Watched {
            queue: Arc::downgrade(queue),
            threshold,
            hook,
            reported: HashSet::new(),
            waiting_reported: None,
            backlog_reported: false,
        });
}

/// What one round found: the queue's name, its hook line, what to report.
type Found = Vec<(std::sync::Arc<str>, Option<std::sync::Arc<HookLine>>, Stall)>;

/// The patrol thread's body: never returns.
pub(super) fn run() {
    loop {
        let (found, lines, period) = round();
        // Reports go out with no workq lock held: the log line here, the hook on
        // its queue's hook thread.
        for (queue, line, stall) in found {
            crate::support::log::trouble!(
                warn,
                "{}",
                StallReport {
                    queue: &queue,
                    stall: stall.clone()
                }
            );
            if let Some(line) = line {
                line.post(stall);
            }
        }
        let now = Instant::now();
        for (line, threshold) in lines {
            line.check(threshold, now);
        }
        std::thread::sleep(period);
    }
}

/// One look at every watched queue: what to report, the hook lines to check
/// (with their thresholds), and how long to sleep before the next round.
fn round() -> (Found, Vec<(std::sync::Arc<HookLine>, Duration)>, Duration) {
    let mut watched = registry().lock().unwrap_or_else(PoisonError::into_inner);
    // A queue is dropped with its last handle, or stopped (idle items bound to
    // it last may keep its memory a while).
    watched.retain(|w| {
        w.queue.upgrade().is_some_and(|q| {
            let g = q.lock();
            !(g.life.stopping() && g.threads.count() == 0)
        })
    });
    let mut found = Vec::new();
    for w in watched.iter_mut() {
        if let Some(q) = w.queue.upgrade() {
            inspect(&q, w, &mut found);
        }
    }
    let lines = watched
        .iter()
        .filter_map(|w| w.hook.clone().map(|l| (l, w.threshold)))
        .collect();
    let period = watched
        .iter()
        .map(|w| w.threshold / 4)
        .min()
        .unwrap_or(Duration::from_secs(1))
        .clamp(Duration::from_millis(5), Duration::from_secs(1));
    (found, lines, period)
}

/// Looks at one queue under its lock and collects what to report.
fn inspect(q: &RunQueue, w: &mut Watched, out: &mut Found) {
    let now = Instant::now();
    let mut g = q.lock();
    let mut still_running = HashSet::new();
    for slot in g.threads.slots_mut() {
        if let Some((work, since)) = slot.running_since(now) {
            let key = (Arc::as_ptr(work) as *const () as usize, since);
            still_running.insert(key);
            let running_for = now.saturating_duration_since(since);
            if running_for > w.threshold && w.reported.insert(key) {
                out.push((
                    q.name.clone(),
                    w.hook.clone(),
                    Stall::Running {
                        work: work.name().map(str::to_string),
                        running_for,
                    },
                ));
            }
        }
    }
    w.reported.retain(|k| still_running.contains(k));
    // Waiting with nothing started: a new episode begins at each run start.
    if w.waiting_reported.is_some() && Some(g.starts()) != w.waiting_reported {
        w.waiting_reported = None;
    }
    let quiet = g.quiet_for(now).is_none_or(|d| d > w.threshold);
    let oldest = g.oldest_wait(now).filter(|&d| d > w.threshold);
    if oldest.is_none() {
        w.backlog_reported = false;
    }
    let Some(oldest) = oldest else { return };
    if g.life.frozen() {
        return;
    }
    let stall = if quiet {
        if w.waiting_reported.is_some() {
            return;
        }
        w.waiting_reported = Some(g.starts());
        Stall::Waiting {
            waiting: g.waiting(),
            oldest,
        }
    } else {
        // Runs keep starting, yet the oldest item has waited too long.
        if w.backlog_reported {
            return;
        }
        w.backlog_reported = true;
        Stall::Backlog {
            waiting: g.waiting(),
            oldest,
        }
    };
    out.push((q.name.clone(), w.hook.clone(), stall));
}
