//! Shutdown: what each way of stopping or emptying a queue does with its items,
//! the builders' choice for armed items, and the report a shutdown returns.
//!
//! # Shutdown and armed items
//!
//! A queue's items are in one of three places: *waiting* (queued, not started),
//! *running*, or *armed* (a delayed item, on the timer until its deadline). This is
//! what each call does with them, on a [`Worker`](crate::Worker), a
//! [`Pool`](crate::Pool) and a [`WorkQueue`](crate::WorkQueue) alike:
//!
//! | call | waiting | running | armed |
//! |------|---------|---------|-------|
//! | `flush` | runs queued before the call are waited for | waited for | not waited for: they count once they fire |
//! | `drain` | run, until nothing is waiting or running | waited for | not waited for; they stay armed (`is_pending` stays true) and fire later |
//! | `destroy` (and dropping the last handle) | run | waited for | [`ArmedAtShutdown::Cancel`]: cancelled (closures dropped, counted in [`ShutdownReport::armed_cancelled`]); [`ArmedAtShutdown::RunNow`]: fired now and run before it returns ([`ShutdownReport::armed_run`]) |
//! | `destroy_timeout(d)` | run until the deadline, then discarded ([`ShutdownReport::discarded`]) | waited for, also past the deadline | as `destroy`, but with `RunNow` fired only if the deadline has not passed (otherwise cancelled); a fired item not started by the deadline is discarded |
//! | `shutdown_now` | discarded | waited for | cancelled |
//! | `destroy_async` | as `destroy`, without blocking the executor | | |
//!
//! Item flushes ([`Work::flush`](crate::Work::flush)) are different: flushing an
//! armed item fires it now and waits for that run.
//!
//! Every shutdown closes the queue to outside callers first. Items armed by the
//! queue's own items while it shuts down are cancelled whatever the setting (a
//! [`Periodic`](crate::Periodic) item would otherwise re-arm itself for ever).
//! Nothing fires into a destroyed queue, and nothing runs on it once the call has
//! returned. An armed item whose deadline comes while a shutdown runs is either
//! run (the timer reached it first) or counted in the report, never both and
//! never neither. Every discarded or cancelled run drops the queue's reference to its
//! item; a closure is dropped (once) when its last handle goes, and a panic in
//! its `Drop` on the way is caught and passed to the queue's panic hook, one item
//! at a time.
//!
//! The deadline of `destroy_timeout` is in real time, also for a queue whose timers
//! follow a [`ManualClock`](crate::ManualClock).
//!
//! A pool's waiting items include the *pumps* of the workqueues it feeds (named
//! `<queue>#<n>`): past its deadline a pool's `destroy_timeout` or `shutdown_now`
//! discards them, a pump running then stops after its current item, and the
//! waiting items of those workqueues are discarded too (no pump will come for
//! them). All of them are in the pool's report. A workqueue's own shutdown never
//! stops its pool.
//!
//! ```
//! use std::time::Duration;
//! use workq::{ArmedAtShutdown, Work, Worker};
//!
//! let worker = Worker::builder()
//!     .name("debounced-writer")
//!     .armed_at_shutdown(ArmedAtShutdown::RunNow)
//!     .build()?;
//! let write = Work::named("trailing-write", |_| println!("written"));
//! worker.queue_after(&write, Duration::from_secs(3600))?;
//! let report = worker.destroy()?; // the trailing write runs now, not never
//! assert_eq!(report.armed_run(), 1);
//! assert!(!write.is_pending());
//! # Ok::<(), workq::Error>(())
//! ```

use std::fmt;
use std::time::Instant;

/// What a shutdown does with items armed on the timer (delayed items whose
/// deadline has not come): see the [module docs](crate::shutdown) for the whole
/// picture.
///
/// ```
/// use workq::{ArmedAtShutdown, Pool};
/// let pool = Pool::builder().name("p").armed_at_shutdown(ArmedAtShutdown::RunNow).build()?;
/// assert_eq!(ArmedAtShutdown::default(), ArmedAtShutdown::Cancel);
/// # drop(pool);
/// # Ok::<(), workq::Error>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ArmedAtShutdown {
    /// Cancel them (the kernel's behaviour): they never run. The default.
    #[default]
    Cancel,
    /// Fire them now: they run before the shutdown returns (a debounced trailing
    /// write is not lost).
    RunNow,
}

/// What a shutdown did with the items that did not run normally: the waiting runs
/// it discarded and the armed items it cancelled or fired.
///
/// A second shutdown of the same queue returns an empty report.
///
/// ```
/// use std::time::Duration;
/// use workq::{Work, Worker};
/// let worker = Worker::new("reported")?;
/// let later = Work::named("later", |_| {});
/// worker.queue_after(&later, Duration::from_secs(3600))?;
/// let report = worker.destroy()?;
/// assert_eq!(report.armed_cancelled(), 1);
/// assert_eq!(report.discarded(), 0);
/// assert!(worker.destroy()?.is_empty());
/// # Ok::<(), workq::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShutdownReport {
    discarded: usize,
    discarded_names: Vec<String>,
    armed_cancelled: usize,
    armed_run: usize,
}

impl ShutdownReport {
    /// Waiting runs dropped without running (by `destroy_timeout` past its
    /// deadline, or `shutdown_now`).
    ///
    /// ```
    /// assert_eq!(workq::Worker::new("w")?.shutdown_now()?.discarded(), 0);
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn discarded(&self) -> usize {
        self.discarded
    }

    /// The names of the discarded items that have one ([`Work::named`](crate::Work::named)),
    /// in queueing order (on a pool: high-priority items first, then very slow
    /// ones, then the others).
    ///
    /// ```
    /// assert!(workq::Worker::new("w")?.shutdown_now()?.discarded_names().is_empty());
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn discarded_names(&self) -> &[String] {
        &self.discarded_names
    }

    /// Armed items cancelled: they never ran.
    ///
    /// ```
    /// assert_eq!(workq::Worker::new("w")?.destroy()?.armed_cancelled(), 0);
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn armed_cancelled(&self) -> usize {
        self.armed_cancelled
    }

    /// Armed items fired at the shutdown ([`ArmedAtShutdown::RunNow`]) that ran
    /// before it returned.
    ///
    /// ```
    /// assert_eq!(workq::Worker::new("w")?.destroy()?.armed_run(), 0);
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn armed_run(&self) -> usize {
        self.armed_run
    }

    /// Whether the shutdown discarded, cancelled and fired nothing.
    ///
    /// ```
    /// assert!(workq::Worker::new("w")?.destroy()?.is_empty());
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.discarded == 0 && self.armed_cancelled == 0 && self.armed_run == 0
    }

    /// Whether some work was lost: a waiting run discarded or an armed item
    /// cancelled.
    ///
    /// ```
    /// assert!(!workq::Worker::new("w")?.destroy()?.lost_work());
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn lost_work(&self) -> bool {
        self.discarded > 0 || self.armed_cancelled > 0
    }

    pub(crate) fn add_discarded(&mut self, name: Option<&str>) {
        self.discarded += 1;
        if let Some(name) = name {
            self.discarded_names.push(name.to_string());
        }
    }

    pub(crate) fn add_armed_cancelled(&mut self) {
        self.armed_cancelled += 1;
    }

    pub(crate) fn add_armed_run(&mut self) {
        self.armed_run += 1;
    }

    /// A fired armed item that was discarded after all (the deadline passed).
    pub(crate) fn fired_then_discarded(&mut self) {
        self.armed_run = self.armed_run.saturating_sub(1);
    }

    /// Adds what a later phase of the same shutdown did.
    pub(crate) fn merge(&mut self, other: ShutdownReport) {
        self.discarded += other.discarded;
        self.discarded_names.extend(other.discarded_names);
        self.armed_cancelled += other.armed_cancelled;
        self.armed_run += other.armed_run;
    }
}

impl fmt::Display for ShutdownReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} waiting run(s) discarded, {} armed item(s) cancelled, {} armed item(s) run now",
            self.discarded, self.armed_cancelled, self.armed_run
        )?;
        if !self.discarded_names.is_empty() {
            write!(f, " (discarded: {})", self.discarded_names.join(", "))?;
        }
        Ok(())
    }
}

/// How one shutdown goes: the armed policy and how long waiting items may run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Plan {
    pub(crate) armed: ArmedAtShutdown,
    /// `None`: run every waiting item (`destroy`). `Some(t)`: run waiting items
    /// until `t`, then discard the rest (`destroy_timeout`; `shutdown_now` is a
    /// deadline that has passed).
    pub(crate) until: Option<Instant>,
}

impl Plan {
    /// `destroy` and the last drop.
    pub(crate) fn drain(armed: ArmedAtShutdown) -> Plan {
        Plan { armed, until: None }
    }

    /// `destroy_timeout(d)`: the deadline is `d` from now (saturating: a
    /// deadline too far to represent is no deadline).
    pub(crate) fn timeout(armed: ArmedAtShutdown, d: std::time::Duration) -> Plan {
        Plan {
            armed,
            until: Instant::now().checked_add(d),
        }
    }

    /// `shutdown_now`.
    pub(crate) fn now(armed: ArmedAtShutdown) -> Plan {
        Plan {
            armed,
            until: Some(Instant::now()),
        }
    }

    /// Whether the deadline has passed.
    pub(crate) fn expired(&self) -> bool {
        self.until.is_some_and(|t| Instant::now() >= t)
    }
}
