//! The face every front end shows for delayed and periodic work, written once.
//!
//! `Worker`, `Pool`, `Owner` and `WorkQueue` each implement [`Face`] (which
//! queue they feed, and the owner their calls are counted for) and get the same
//! methods from [`delayed_face!`]: `queue_at`, `queue_after`, `modify_at`,
//! `modify` and `periodic`, with the same semantics, errors and docs, so the
//! four cannot drift apart.

use crate::engine::{OwnerId, QueueCall, RunQueue};
use crate::error::Error;
use crate::front::work::{Queued, Work};
use crate::support::sync::Arc;
use std::time::{Duration, Instant};

/// What a front end tells the shared methods.
pub(crate) trait Face {
    /// The queue its calls go to.
    fn face_queue(&self) -> &Arc<RunQueue>;

    /// The pool owner its calls are counted for.
    fn face_owner(&self) -> Option<OwnerId> {
        None
    }
}

/// Arms `work` on `f`'s queue for `deadline` (queued now if it has passed).
pub(crate) fn queue_at(f: &impl Face, work: &Work, deadline: Instant) -> Result<Queued, Error> {
    let queue = f.face_queue();
    let call = queue.due_at(deadline).owner(f.face_owner());
    RunQueue::enqueue_with(queue, &work.inner, call)
}

/// Arms `work` on `f`'s queue to run after `delay` (queued now for zero).
pub(crate) fn queue_after(f: &impl Face, work: &Work, delay: Duration) -> Result<Queued, Error> {
    let queue = f.face_queue();
    let call = queue.due_after(delay).owner(f.face_owner());
    RunQueue::enqueue_with(queue, &work.inner, call)
}

/// Moves `work`'s pending run to `call`'s tick, whatever its state.
fn modify(f: &impl Face, work: &Work, call: QueueCall) -> Result<bool, Error> {
    RunQueue::modify(f.face_queue(), &work.inner, call.owner(f.face_owner()))
}

/// `modify` for a deadline.
pub(crate) fn modify_at(f: &impl Face, work: &Work, deadline: Instant) -> Result<bool, Error> {
    modify(f, work, f.face_queue().due_at(deadline))
}

/// `modify` for a delay.
pub(crate) fn modify_after(f: &impl Face, work: &Work, delay: Duration) -> Result<bool, Error> {
    modify(f, work, f.face_queue().due_after(delay))
}

/// The delayed-work methods of a front end. `$ty` implements [`Face`]; `$make`
/// is an expression (in doc examples) that builds one, bound to `$var`.
macro_rules! delayed_face {
    ($ty:ident, $var:literal, $make:literal) => {
        impl $ty {
            /// Queues `work` to run at `deadline` (never earlier). A deadline that
            /// has passed queues it now, with no trip through the timer.
            ///
            /// * idle: armed, returns [`Queued::Scheduled`](crate::Queued::Scheduled);
            /// * pending (queued or armed): nothing changes, returns
            ///   [`Queued::AlreadyPending`](crate::Queued::AlreadyPending) (use
            ///   `modify_at` to move it);
            /// * running: armed, returns [`Queued::Rerun`](crate::Queued::Rerun); if
            ///   the deadline passes before the run ends, the item runs again right
            ///   after it (never concurrently).
            ///
            /// The first delayed item of the process starts the `workq-timer` thread
            /// (unless the queue uses a [`ManualClock`](crate::ManualClock)).
            ///
            /// # Errors
            /// As `queue`, and [`Error::Spawn`](crate::Error::Spawn) if the timer
            /// thread cannot start.
            ///
            /// ```
            /// use std::time::{Duration, Instant};
            #[doc = concat!("let ", $var, " = ", $make, ";")]
            /// let work = workq::Work::new(|_| {});
            #[doc = concat!($var, ".queue_at(&work, Instant::now() + Duration::from_millis(10))?;")]
            /// work.flush()?; // fires it now and waits for the run
            /// # Ok::<(), workq::Error>(())
            /// ```
            pub fn queue_at(
                &self,
                work: &crate::Work,
                deadline: std::time::Instant,
            ) -> Result<crate::Queued, crate::Error> {
                crate::front::face::queue_at(self, work, deadline)
            }

            /// Queues `work` to run after `delay` (never earlier); see `queue_at`.
            /// A zero delay queues it now. A delay too long to represent (such as
            /// `Duration::MAX`) is clamped to about 30 years.
            ///
            /// # Errors
            /// As `queue_at`.
            ///
            /// ```
            /// use std::time::Duration;
            #[doc = concat!("let ", $var, " = ", $make, ";")]
            /// let work = workq::Work::new(|_| {});
            #[doc = concat!($var, ".queue_after(&work, Duration::from_secs(3600))?;")]
            /// assert!(work.is_pending());
            /// assert!(work.cancel()); // disarms it at once
            /// # Ok::<(), workq::Error>(())
            /// ```
            pub fn queue_after(
                &self,
                work: &crate::Work,
                delay: std::time::Duration,
            ) -> Result<crate::Queued, crate::Error> {
                crate::front::face::queue_after(self, work, delay)
            }

            /// Arms `work` for `deadline` whatever its state (the kernel's
            /// `mod_delayed_work`): a queued item goes back to the timer, an armed
            /// one is re-armed, an idle or running one is armed. A deadline that has
            /// passed queues it now. Returns whether a run was pending before the
            /// call.
            ///
            /// # Errors
            /// As `queue_at`.
            ///
            /// ```
            /// use std::time::{Duration, Instant};
            #[doc = concat!("let ", $var, " = ", $make, ";")]
            /// let work = workq::Work::new(|_| {});
            #[doc = concat!($var, ".queue_after(&work, Duration::from_secs(3600))?;")]
            #[doc = concat!("let was_pending = ", $var, ".modify_at(&work, Instant::now())?; // run it now instead")]
            /// assert!(was_pending);
            /// work.flush()?;
            /// # Ok::<(), workq::Error>(())
            /// ```
            pub fn modify_at(
                &self,
                work: &crate::Work,
                deadline: std::time::Instant,
            ) -> Result<bool, crate::Error> {
                crate::front::face::modify_at(self, work, deadline)
            }

            /// Arms `work` to run after `delay` whatever its state; see
            /// `modify_at`. A zero delay queues it now.
            ///
            /// # Errors
            /// As `queue_at`.
            ///
            /// ```
            /// use std::time::Duration;
            #[doc = concat!("let ", $var, " = ", $make, ";")]
            /// let retry = workq::Work::new(|_| {});
            #[doc = concat!("assert!(!", $var, ".modify(&retry, Duration::from_secs(10))?); // idle: armed")]
            #[doc = concat!("assert!(", $var, ".modify(&retry, Duration::from_secs(30))?); // re-armed later")]
            /// retry.cancel();
            /// # Ok::<(), workq::Error>(())
            /// ```
            pub fn modify(
                &self,
                work: &crate::Work,
                delay: std::time::Duration,
            ) -> Result<bool, crate::Error> {
                crate::front::face::modify_after(self, work, delay)
            }

            /// Starts running `f` repeatedly here; the first run is one period from
            /// now. A period too long to represent (such as `Duration::MAX`) is
            /// clamped to about 30 years, as in `queue_after`: it never comes. See
            /// [`Periodic`](crate::Periodic) for how it stops.
            ///
            /// # Errors
            /// [`Error::InvalidConfig`](crate::Error::InvalidConfig) for a zero
            /// period; otherwise as `queue_at`.
            ///
            /// ```
            /// use std::time::Duration;
            #[doc = concat!("let ", $var, " = ", $make, ";")]
            #[doc = concat!("let p = ", $var, ".periodic(\"poll\", workq::Repeat::FixedDelay(Duration::from_secs(1)), |_| {})?;")]
            /// assert!(p.work().is_pending());
            /// p.stop()?;
            /// # Ok::<(), workq::Error>(())
            /// ```
            pub fn periodic<F>(
                &self,
                name: impl Into<String>,
                repeat: crate::Repeat,
                f: F,
            ) -> Result<crate::Periodic, crate::Error>
            where
                F: Fn(&crate::WorkCtx<'_>) + Send + Sync + 'static,
            {
                let queue = crate::front::face::Face::face_queue(self);
                let owner = crate::front::face::Face::face_owner(self);
                crate::addons::periodic::start(queue, owner, name.into(), repeat, f)
            }
        }
    };
}

pub(crate) use delayed_face;
