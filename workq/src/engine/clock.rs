//! What drives the timer (`timer/`): the process-wide `workq-timer` thread and
//! the [`ManualClock`] of tests, and the hand-over of what expired to the
//! queues (`fire_due`, which gives it to `RunQueue::deliver`).

use crate::engine::timer::{Drive, Timer};
use crate::engine::RunQueue;
use crate::error::Error;
use crate::support::sync::Arc;
use std::fmt;
use std::time::{Duration, Instant};

/// Makes sure something will drive `timer`: starts the system timer's thread
/// (`workq-timer`) at the first delayed item of the process.
///
/// # Errors
/// [`Error::Spawn`] when the timer thread cannot be started.
#[inline]
pub(crate) fn ensure_driven(timer: &Arc<Timer>) -> Result<(), Error> {
    if timer.is_driven() {
        return Ok(());
    }
    start_thread(timer)
}

#[cold]
fn start_thread(timer: &Arc<Timer>) -> Result<(), Error> {
    Timer::start_driver(timer, |timer| {
        std::thread::Builder::new()
            .name("workq-timer".to_string())
            .spawn(move || drive(&timer))
            .map(drop)
    })
}

/// The system timer's thread: fires what is due, sleeps until the next deadline.
fn drive(timer: &Arc<Timer>) {
    loop {
        fire_due(timer, timer.now_tick(Instant::now()));
        timer.sleep_till_due();
    }
}

/// Hands every entry of `timer` due by `now_tick` to its queue, ends the
/// delivery, then does what the delivery left to do with no lock held.
fn fire_due(timer: &Timer, now_tick: u64) {
    let Some(due) = timer.take_due(now_tick) else {
        return;
    };
    let delivered = RunQueue::deliver(due.expired);
    timer.end_delivery(due.ticket, &delivered.cancelled_late);
    delivered.finish();
}

/// A clock that moves only when told to, for testing code that uses delayed work.
///
/// Give it to [`WorkerBuilder::manual_clock`](crate::WorkerBuilder::manual_clock):
/// the worker's delayed items then fire when [`advance`](ManualClock::advance)
/// passes their deadline, on the thread that calls it, and never otherwise. The
/// clock's time starts at the [`Instant`] it was created.
///
/// ```
/// use std::time::Duration;
/// use workq::{ManualClock, Work, Worker};
///
/// let clock = ManualClock::new();
/// let worker = Worker::builder().name("manual").manual_clock(&clock).build()?;
/// let work = Work::new(|_| {});
/// worker.queue_after(&work, Duration::from_secs(60))?;
/// clock.advance(Duration::from_secs(59));
/// assert!(work.is_pending());
/// clock.advance(Duration::from_secs(1));
/// work.flush()?;
/// assert!(!work.is_pending());
/// # Ok::<(), workq::Error>(())
/// ```
#[derive(Clone)]
pub struct ManualClock {
    pub(crate) timer: Arc<Timer>,
}

impl ManualClock {
    /// A clock standing at the current instant.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let before = Instant::now();
    /// let clock = workq::ManualClock::new();
    /// assert!(clock.now() >= before); // starts at the current instant...
    /// clock.advance(Duration::from_secs(3600));
    /// assert!(clock.now() >= before + Duration::from_secs(3600)); // ...and moves only by hand
    /// assert_eq!(clock.armed(), 0);
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn new() -> ManualClock {
        ManualClock {
            timer: Timer::new(Drive::Manual),
        }
    }

    /// The clock's current time.
    ///
    /// ```
    /// let clock = workq::ManualClock::new();
    /// let t0 = clock.now();
    /// clock.advance(std::time::Duration::from_millis(5));
    /// assert_eq!(clock.now() - t0, std::time::Duration::from_millis(5));
    /// ```
    pub fn now(&self) -> Instant {
        self.timer.now()
    }

    /// Moves the clock forward by `by` (in whole ticks of 250 µs, rounded down) and
    /// queues every item whose deadline has been reached, before returning.
    ///
    /// ```
    /// let clock = workq::ManualClock::new();
    /// clock.advance(std::time::Duration::from_secs(3600));
    /// ```
    pub fn advance(&self, by: Duration) {
        let now = self.timer.advance_manual(by);
        fire_due(&self.timer, now);
    }

    /// Items armed on this clock and not yet fired or cancelled.
    ///
    /// ```
    /// assert_eq!(workq::ManualClock::new().armed(), 0);
    /// ```
    pub fn armed(&self) -> usize {
        self.timer.armed()
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        ManualClock::new()
    }
}

impl fmt::Debug for ManualClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManualClock")
            .field("armed", &self.armed())
            .finish()
    }
}
