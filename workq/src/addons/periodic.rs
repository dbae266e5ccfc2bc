//! Periodic work: repetition built on re-arming, that stops loudly on a panic.

use crate::engine::timer::instant_after;
use crate::engine::{OwnerId, RunQueue};
use crate::error::Error;
use crate::front::work::{Work, WorkCtx};
use crate::support::panic::message;
use crate::support::sync::Arc;
use crate::support::sync::{lock, Mutex};
use std::fmt;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::Arc as StdArc;
use std::time::{Duration, Instant};

/// How a [`Periodic`] item repeats.
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use std::sync::Arc;
/// use std::time::Duration;
/// use workq::{ManualClock, Repeat, WorkCtx, Worker};
///
/// fn counter(n: &Arc<AtomicUsize>) -> impl Fn(&WorkCtx<'_>) + Send + Sync + 'static {
///     let n = n.clone();
///     move |_| {
///         n.fetch_add(1, Ordering::SeqCst);
///     }
/// }
/// let clock = ManualClock::new();
/// let worker = Worker::builder().name("repeat").manual_clock(&clock).build()?;
/// let (rate, delay) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
/// let period = Duration::from_secs(10);
/// let _r = worker.periodic("rate", Repeat::FixedRate(period), counter(&rate))?;
/// let _d = worker.periodic("delay", Repeat::FixedDelay(period), counter(&delay))?;
/// let runs = || (rate.load(Ordering::SeqCst), delay.load(Ordering::SeqCst));
///
/// clock.advance(Duration::from_secs(25)); // both were due at 10 s: one run each
/// worker.flush()?;
/// assert_eq!(runs(), (1, 1));
/// clock.advance(Duration::from_secs(5)); // 30 s: the rate's next start (20 s was skipped)
/// worker.flush()?;
/// assert_eq!(runs(), (2, 1));
/// clock.advance(Duration::from_secs(5)); // 35 s: 10 s after the delay's run ended
/// worker.flush()?;
/// assert_eq!(runs(), (2, 2));
/// # Ok::<(), workq::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Repeat {
    /// The next run starts this long after the previous run *ended*.
    FixedDelay(Duration),
    /// Runs start at `start + k * period`. A run that ends after its successor's
    /// start time skips the start times already missed (no burst of catch-up runs).
    FixedRate(Duration),
}

impl Repeat {
    fn period(self) -> Duration {
        match self {
            Repeat::FixedDelay(p) | Repeat::FixedRate(p) => p,
        }
    }
}

/// What the periodic closure and its handle share.
struct Shared {
    /// The panic message of the run that stopped the repetition.
    failure: Mutex<Option<String>>,
    /// Fixed rate: the start time of the next run.
    next: Mutex<Instant>,
}

/// A work item that repeats on a worker, pool, owner or workqueue until stopped.
///
/// Dropping the handle does not stop the repetition (the queue keeps the item);
/// call [`stop`](Periodic::stop), or destroy the queue.
///
/// Built by `periodic` ([`Worker::periodic`](crate::Worker::periodic),
/// [`Pool::periodic`](crate::Pool::periodic), [`Owner::periodic`](crate::Owner::periodic),
/// [`WorkQueue::periodic`](crate::WorkQueue::periodic)). If a run panics, the
/// repetition stops: the panic goes to the queue's panic hook like any other, and
/// [`failure`](Periodic::failure) returns its message. Nothing fails silently.
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use std::sync::Arc;
/// use std::time::Duration;
/// use workq::{Repeat, Worker};
///
/// let worker = Worker::new("heartbeat")?;
/// let beats = Arc::new(AtomicUsize::new(0));
/// let b = beats.clone();
/// let hb = worker.periodic("beat", Repeat::FixedRate(Duration::from_millis(1)), move |_| {
///     b.fetch_add(1, Ordering::SeqCst);
/// })?;
/// while beats.load(Ordering::SeqCst) < 3 {
///     std::thread::sleep(Duration::from_millis(1));
/// }
/// hb.stop()?;
/// let after = beats.load(Ordering::SeqCst);
/// worker.flush()?;
/// assert_eq!(beats.load(Ordering::SeqCst), after); // nothing runs after stop
/// # Ok::<(), workq::Error>(())
/// ```
pub struct Periodic {
    work: Work,
    shared: StdArc<Shared>,
}

/// Starts `f` repeating on `queue` (counted for `owner`); the front ends'
/// `periodic` (`front/face.rs`).
pub(crate) fn start<F>(
    queue: &Arc<RunQueue>,
    owner: Option<OwnerId>,
    name: String,
    repeat: Repeat,
    f: F,
) -> Result<Periodic, Error>
where
    F: Fn(&WorkCtx<'_>) + Send + Sync + 'static,
{
    let period = repeat.period();
    if period.is_zero() {
        return Err(Error::InvalidConfig {
            setting: "period",
            reason: "must be greater than zero".to_string(),
        });
    }
    // A period too long to represent is clamped as `queue_after` clamps a delay:
    // the first run never comes, rather than coming at once.
    let first = instant_after(queue.timer.now(), period);
    let shared = StdArc::new(Shared {
        failure: Mutex::new(None),
        next: Mutex::new(first),
    });
    let s = shared.clone();
    let work = Work::named(name, move |ctx| {
        match catch_unwind(AssertUnwindSafe(|| f(ctx))) {
            Ok(()) => {
                // Fails only while a stop (cancel_sync) is in progress or the
                // queue is going away: then the repetition ends, as asked.
                let _ = rearm(ctx, repeat, &s);
            }
            Err(payload) => {
                let msg = message(&*payload).to_string();
                *lock(&s.failure) = Some(msg);
                // Hand the panic to the queue: it is counted and reported through
                // the hook like every other panic.
                resume_unwind(payload);
            }
        }
    });
    RunQueue::enqueue_with(queue, &work.inner, queue.due_at(first).owner(owner))?;
    Ok(Periodic { work, shared })
}

fn rearm(ctx: &WorkCtx<'_>, repeat: Repeat, shared: &Shared) -> Result<(), Error> {
    match repeat {
        Repeat::FixedDelay(period) => ctx.requeue_after(period).map(drop),
        Repeat::FixedRate(period) => {
            let now = ctx.now();
            let next = {
                let mut next = lock(&shared.next);
                *next = next_start(*next, now, period);
                *next
            };
            ctx.requeue_at(next).map(drop)
        }
    }
}

/// The first start time `start + k * period` (k >= 0) after `now`: the start times
/// already missed are skipped in one step, however many there are, and the
/// answer is always later than `now` (a step too long to represent is clamped
/// as in `queue_after`), so a fixed rate never runs again at once.
fn next_start(start: Instant, now: Instant, period: Duration) -> Instant {
    if start > now {
        return start;
    }
    let period_ns = period.as_nanos().max(1);
    let missed = now.duration_since(start).as_nanos() / period_ns + 1;
    let step_ns = missed.saturating_mul(period_ns);
    let step = u64::try_from(step_ns / 1_000_000_000).map_or(Duration::MAX, |secs| {
        // The remainder is below 10^9: it fits.
        Duration::new(secs, (step_ns % 1_000_000_000) as u32)
    });
    let next = instant_after(start, step);
    if next > now {
        next
    } else {
        instant_after(now, period)
    }
}

impl Periodic {
    /// Stops the repetition: cancels the next run and waits for a run in progress.
    /// Returns whether a run was pending.
    ///
    /// # Errors
    /// As [`Work::cancel_sync`] (for example when called from the item's own run).
    ///
    /// ```
    /// use std::time::Duration;
    /// let worker = workq::Worker::new("stoppable")?;
    /// let p = worker.periodic("poll", workq::Repeat::FixedDelay(Duration::from_secs(3600)), |_| {})?;
    /// assert!(p.stop()?); // the armed next run was cancelled
    /// assert!(!p.work().is_pending());
    /// assert!(!p.stop()?); // nothing left to stop
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn stop(&self) -> Result<bool, Error> {
        self.work.cancel_sync()
    }

    /// The panic message of the run that stopped the repetition, if one panicked.
    ///
    /// ```
    /// use std::time::Duration;
    /// let worker = workq::Worker::builder().name("p").on_panic(|_| {}).build()?;
    /// let p = worker.periodic("fails", workq::Repeat::FixedDelay(Duration::from_millis(1)), |_| {
    ///     panic!("sensor gone");
    /// })?;
    /// while p.failure().is_none() {
    ///     std::thread::sleep(Duration::from_millis(1));
    /// }
    /// assert_eq!(p.failure().as_deref(), Some("sensor gone"));
    /// assert!(!p.work().is_pending()); // the repetition stopped
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn failure(&self) -> Option<String> {
        lock(&self.shared.failure).clone()
    }

    /// The underlying work item (to flush it, or look at its state).
    ///
    /// ```
    /// use std::time::Duration;
    /// let worker = workq::Worker::new("poller")?;
    /// let p = worker.periodic("poll", workq::Repeat::FixedDelay(Duration::from_secs(3600)), |_| {})?;
    /// assert_eq!(p.work().name(), Some("poll"));
    /// assert!(p.work().is_pending()); // armed for its first run
    /// p.stop()?;
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn work(&self) -> &Work {
        &self.work
    }
}

impl fmt::Debug for Periodic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Periodic")
            .field("work", &self.work)
            .field("failure", &self.failure())
            .finish()
    }
}
