//! Delayed work on a [`Worker`]: queue at a deadline or after a delay, and modify.

use super::Worker;
use crate::engine::RunQueue;
use crate::error::Error;
use crate::front::work::{Queued, Work};
use std::time::{Duration, Instant};

impl Worker {
    /// Queues `work` to run at `deadline` (never earlier). A deadline that has
    /// passed queues it now, with no trip through the timer.
    ///
    /// * idle: armed, returns [`Queued::Scheduled`];
    /// * pending (queued or armed): nothing changes, returns
    ///   [`Queued::AlreadyPending`] (use [`modify_at`](Worker::modify_at) to move it);
    /// * running: armed, returns [`Queued::Rerun`]; if the deadline passes before the
    ///   run ends, the item runs again right after it (never concurrently).
    ///
    /// The first delayed item of the process starts the `workq-timer` thread (unless
    /// the worker uses a [`ManualClock`](crate::ManualClock)).
    ///
    /// # Errors
    /// As [`Worker::queue`], and [`Error::Spawn`] if the timer thread cannot start.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let worker = workq::Worker::new("at")?;
    /// let work = workq::Work::new(|_| {});
    /// worker.queue_at(&work, Instant::now() + Duration::from_millis(10))?;
    /// work.flush()?; // fires it now and waits for the run
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn queue_at(&self, work: &Work, deadline: Instant) -> Result<Queued, Error> {
        let queue = &self.handle.queue;
        RunQueue::enqueue_with(queue, &work.inner, queue.due_at(deadline))
    }

    /// Queues `work` to run after `delay` (never earlier); see
    /// [`queue_at`](Worker::queue_at). A zero delay queues it now. A delay too long
    /// to represent (such as `Duration::MAX`) is clamped to about 30 years.
    ///
    /// # Errors
    /// As [`Worker::queue_at`].
    ///
    /// ```
    /// use std::time::Duration;
    /// let worker = workq::Worker::new("after")?;
    /// let work = workq::Work::new(|_| {});
    /// worker.queue_after(&work, Duration::from_secs(3600))?;
    /// assert!(work.is_pending());
    /// assert!(work.cancel()); // disarms it at once
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn queue_after(&self, work: &Work, delay: Duration) -> Result<Queued, Error> {
        let queue = &self.handle.queue;
        RunQueue::enqueue_with(queue, &work.inner, queue.due_after(delay))
    }

    /// Arms `work` for `deadline` whatever its state (the kernel's
    /// `mod_delayed_work`): a queued item goes back to the timer, an armed one is
    /// re-armed, an idle or running one is armed. A deadline that has passed queues
    /// it now. Returns whether a run was pending before the call.
    ///
    /// # Errors
    /// As [`Worker::queue_at`].
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let worker = workq::Worker::new("modify-at")?;
    /// let work = workq::Work::new(|_| {});
    /// worker.queue_after(&work, Duration::from_secs(3600))?;
    /// let was_pending = worker.modify_at(&work, Instant::now())?; // run it now instead
    /// assert!(was_pending);
    /// work.flush()?;
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn modify_at(&self, work: &Work, deadline: Instant) -> Result<bool, Error> {
        let queue = &self.handle.queue;
        RunQueue::modify(queue, &work.inner, queue.due_at(deadline))
    }

    /// Arms `work` to run after `delay` whatever its state; see
    /// [`modify_at`](Worker::modify_at). A zero delay queues it now.
    ///
    /// # Errors
    /// As [`Worker::queue_at`].
    ///
    /// ```
    /// use std::time::Duration;
    /// let worker = workq::Worker::new("modify")?;
    /// let retry = workq::Work::new(|_| {});
    /// assert!(!worker.modify(&retry, Duration::from_secs(10))?); // idle: armed
    /// assert!(worker.modify(&retry, Duration::from_secs(30))?); // re-armed later
    /// retry.cancel();
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn modify(&self, work: &Work, delay: Duration) -> Result<bool, Error> {
        let queue = &self.handle.queue;
        RunQueue::modify(queue, &work.inner, queue.due_after(delay))
    }
}

impl Worker {
    /// The current time of the clock that drives this worker's timers.
    pub(crate) fn timer_now(&self) -> Instant {
        self.handle.queue.timer.now()
    }
}
