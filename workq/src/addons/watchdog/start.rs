//! How the watchdog starts its threads: the process-wide spawner, and the patrol
//! thread's start, retried with back-off when it fails.
//!
//! A failed start of the patrol thread is reported (one log line per failure) and
//! retried after 10 ms, then after twice the previous delay each time, up to 5 s
//! between attempts, for as long as it keeps failing. The retry is a delayed item
//! on the process-wide default pool (whose timer and threads already exist or
//! start on demand); if even that cannot be queued, the next queue built with a
//! watchdog retries. A failure is never remembered beyond its back-off.

#[cfg(not(loom))]
use crate::engine::item::{Class, WorkInner};
#[cfg(not(loom))]
use crate::engine::RunQueue;
use crate::engine::Spawner;
#[cfg(not(loom))]
use crate::support::sync::Arc;
use std::io;
use std::sync::PoisonError;
use std::thread::{Builder, JoinHandle};
#[cfg(not(loom))]
use std::time::Duration;

/// The spawner set by [`set_watchdog_spawner`] (`None`: `builder.spawn(body)`).
/// std's lock: a process-wide static (no model runs the watchdog).
#[allow(clippy::disallowed_types)]
static SPAWNER: std::sync::Mutex<Option<Spawner>> = std::sync::Mutex::new(None);

/// Sets how the stall watchdog starts its threads, for the whole process
/// (default: `builder.spawn(body)`): the patrol thread (`workq-watchdog`) and the
/// threads that call stall hooks (`workq-stall-hook`). Takes effect at the next
/// thread start; a patrol thread already running keeps running. For programs
/// that start their threads their own way, and for tests that make thread starts
/// fail.
///
/// When the patrol thread cannot start, the failure is reported (a log line: an
/// event with a `tracing` subscriber installed, else a line on standard error)
/// and the start is retried after 10 ms, then after twice the previous delay each
/// time, up to 5 s between attempts, until it succeeds: a transient failure never
/// turns stall detection off for good.
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use std::sync::Arc;
/// let starts = Arc::new(AtomicUsize::new(0));
/// let s = starts.clone();
/// workq::set_watchdog_spawner(move |builder, body| {
///     s.fetch_add(1, Ordering::SeqCst);
///     builder.spawn(body)
/// });
/// # Ok::<(), workq::Error>(())
/// ```
pub fn set_watchdog_spawner<F>(spawn: F)
where
    F: Fn(Builder, Box<dyn FnOnce() + Send>) -> io::Result<JoinHandle<()>> + Send + Sync + 'static,
{
    *SPAWNER.lock().unwrap_or_else(PoisonError::into_inner) = Some(std::sync::Arc::new(spawn));
}

/// Starts a watchdog thread named `name` running `body` through the spawner (user
/// code: called with no workq lock held, a panic of it is an error).
#[cfg(not(loom))]
pub(super) fn spawn(name: &str, body: Box<dyn FnOnce() + Send>) -> io::Result<()> {
    let spawner = SPAWNER
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    let builder = Builder::new().name(name.to_string());
    let started = match spawner {
        None => builder.spawn(body),
        Some(spawner) => {
            match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| spawner(builder, body)))
            {
                Ok(started) => started,
                Err(payload) => {
                    let message = crate::support::panic::message(&*payload).to_string();
                    crate::support::panic::swallow(payload);
                    Err(io::Error::other(format!("the spawner panicked: {message}")))
                }
            }
        }
    };
    started.map(drop)
}

/// The patrol thread's state.
#[cfg(not(loom))]
enum Patrol {
    /// Not started, and no start is in progress or scheduled.
    Down {
        failures: u32,
    },
    /// A start is in progress, or scheduled on the default pool.
    Starting,
    Running,
}

#[cfg(not(loom))]
// std's lock: a process-wide static (no model runs the watchdog).
#[allow(clippy::disallowed_types)]
static PATROL: std::sync::Mutex<Patrol> = std::sync::Mutex::new(Patrol::Down { failures: 0 });

/// The first retry's delay, and the longest.
#[cfg(not(loom))]
const FIRST_RETRY: Duration = Duration::from_millis(10);
#[cfg(not(loom))]
const LAST_RETRY: Duration = Duration::from_secs(5);

/// The delay before the retry that follows the `failures`-th failure.
#[cfg(not(loom))]
pub(super) fn back_off(failures: u32) -> Duration {
    FIRST_RETRY
        .saturating_mul(1 << failures.saturating_sub(1).min(20))
        .min(LAST_RETRY)
}

/// Starts the patrol thread unless it runs, or a start is in progress or
/// scheduled.
#[cfg(not(loom))]
pub(super) fn ensure_patrol(retry_on: super::RetryQueue) {
    let failures = {
        let mut patrol = PATROL.lock().unwrap_or_else(PoisonError::into_inner);
        match *patrol {
            Patrol::Down { failures } => {
                *patrol = Patrol::Starting;
                failures
            }
            Patrol::Starting | Patrol::Running => return,
        }
    };
    attempt(failures, retry_on);
}

/// One start attempt (the state is `Starting`); on failure, reports it and
/// schedules the next.
#[cfg(not(loom))]
fn attempt(failures: u32, retry_on: super::RetryQueue) {
    let error = match spawn("workq-watchdog", Box::new(super::patrol::run)) {
        Ok(()) => {
            *PATROL.lock().unwrap_or_else(PoisonError::into_inner) = Patrol::Running;
            if failures > 0 {
                crate::support::log::trouble!(
                    warn,
                    "workq: the stall watchdog thread started after {failures} failed attempt(s)"
                );
            }
            return;
        }
        Err(error) => error,
    };
    let failures = failures.saturating_add(1);
    let delay = back_off(failures);
    crate::support::log::trouble!(
        error,
        "workq: could not start the stall watchdog thread (attempt {failures}): {error}; retrying in {delay:?}"
    );
    if let Err(error) = schedule_retry(failures, delay, retry_on) {
        *PATROL.lock().unwrap_or_else(PoisonError::into_inner) = Patrol::Down { failures };
        crate::support::log::trouble!(
            error,
            "workq: could not schedule a retry of the stall watchdog thread's start: {error}; the next queue built with a watchdog retries"
        );
    }
}

/// Queues the next attempt on `retry_on`'s queue (the default pool) after `delay`.
#[cfg(not(loom))]
fn schedule_retry(
    failures: u32,
    delay: Duration,
    retry_on: super::RetryQueue,
) -> Result<(), crate::Error> {
    let retry = Arc::new(WorkInner::new(
        Some("workq-watchdog-start".into()),
        Class::Normal,
        move |_| attempt(failures, retry_on),
    ));
    let queue = retry_on();
    RunQueue::enqueue_with(&queue, &retry, queue.due_after(delay)).map(drop)
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn back_off_doubles_up_to_five_seconds() {
        assert_eq!(back_off(1), Duration::from_millis(10));
        assert_eq!(back_off(2), Duration::from_millis(20));
        assert_eq!(back_off(5), Duration::from_millis(160));
        assert_eq!(back_off(10), LAST_RETRY);
        assert_eq!(back_off(u32::MAX), LAST_RETRY);
    }
}
