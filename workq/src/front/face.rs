//! The face every front end shows, written once.
//!
//! `Worker`, `Pool`, `Owner` and `WorkQueue` each implement [`Face`] (which
//! queue they feed, and the owner their calls are counted for) and get the same
//! delayed-work methods from [`delayed_face!`]: `queue_at`, `queue_after`,
//! `modify_at`, `modify` and `periodic`, with the same semantics, errors and
//! docs, so the four cannot drift apart.
//!
//! All four get `queue` from [`queue_face!`] (and the bounded `Pool`, `Owner`
//! and `WorkQueue` `try_queue` and `queue_async`), each saying through
//! [`Face::face_call`] which call it makes. `Worker`, `Pool` and `WorkQueue`
//! own their queue, so they also implement
//! [`Lifecycle`] (who counts as inside, and what their shutdown adds to the
//! engine's) and get their waiting and shutdown calls from [`lifecycle_face!`]
//! (`flush`, `drain`, `destroy`, `destroy_timeout`, `shutdown_now`, `stats`,
//! `snapshot`) and [`waits_face!`] (`flush_async`, `drain_async`,
//! `destroy_async`); the freezable ones (`Worker`, `WorkQueue`) get `freeze`,
//! `thaw` and `is_frozen` from [`freeze_face!`]. Those macros take each
//! method's docs from the front end (their examples show that front end), and
//! write its signature and body here, once.

use crate::addons::snapshot::{Snapshot, Stats};
use crate::addons::wait::{drain_queue, flush_queue, Destroying, QueueAsync, Waiting};
use crate::engine::{Limit, OwnerId, QueueCall, RunQueue};
use crate::error::Error;
use crate::front::work::{Queued, Work};
use crate::shutdown::{ArmedAtShutdown, Plan, ShutdownReport};
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

    /// The call `queue` (`Limit::Block`) and `try_queue` (`Limit::Try`) make:
    /// by default now, for `face_owner`, with that limit.
    #[inline]
    fn face_call(&self, limit: Limit) -> QueueCall {
        QueueCall::NOW.owner(self.face_owner()).limit(limit)
    }
}

/// What a front end that owns its queue tells the shared lifecycle methods:
/// where a destroy would wait for itself, and what its shutdown adds to the
/// engine's (joining a thread, releasing fed queues or pumps).
pub(crate) trait Lifecycle: Face + Clone + Send + Sync + 'static {
    /// The `what` of the [`Error::WouldDeadlock`] a destroy from inside gets.
    const OWN_DESTROY: &'static str;

    /// Whether the caller is inside the front end (one of its items or
    /// threads), where a destroy would wait for itself.
    fn inside(&self) -> bool;

    /// The shutdown policy for armed items.
    fn armed_at_shutdown(&self) -> ArmedAtShutdown;

    /// The blocking shutdown under `plan`, with what the front end adds.
    fn shut_down(&self, plan: Plan) -> ShutdownReport;

    /// The end of an async destroy, run once drained: the blocking shutdown,
    /// which then has nothing left to drain.
    fn finish_destroy(&self) -> Box<dyn FnOnce() -> ShutdownReport + Send + Sync> {
        let me = self.clone();
        Box::new(move || me.shut_down(Plan::drain(ArmedAtShutdown::Cancel)))
    }
}

/// Queues `work` on `f`'s queue now, waiting for room if `f` is bounded.
#[inline]
pub(crate) fn queue(f: &impl Face, work: &Work) -> Result<Queued, Error> {
    RunQueue::enqueue_now(f.face_queue(), &work.inner, || f.face_call(Limit::Block))
}

/// Queues `work` on `f`'s queue now, failing if `f` is bounded and full.
pub(crate) fn try_queue(f: &impl Face, work: &Work) -> Result<Queued, Error> {
    RunQueue::enqueue_now(f.face_queue(), &work.inner, || f.face_call(Limit::Try))
}

/// The async `queue`: queues now if there is room; otherwise the future waits
/// for room without blocking a thread.
pub(crate) fn queue_async(f: &impl Face, work: &Work) -> QueueAsync {
    QueueAsync::started(f.face_queue().clone(), work.clone(), f.face_owner())
}

/// Waits for the runs queued on `f` before the call.
pub(crate) fn flush(f: &impl Face) -> Result<bool, Error> {
    f.face_queue().flush()
}

/// Flushes `f` until nothing is pending or running.
pub(crate) fn drain(f: &impl Face) -> Result<(), Error> {
    f.face_queue().drain()
}

/// Freezes `f`'s queue.
pub(crate) fn freeze(f: &impl Face) -> Result<(), Error> {
    f.face_queue().freeze()
}

/// Thaws `f`'s queue.
pub(crate) fn thaw(f: &impl Face) -> Result<(), Error> {
    RunQueue::thaw(f.face_queue())
}

/// Whether `f`'s queue is frozen.
pub(crate) fn is_frozen(f: &impl Face) -> bool {
    f.face_queue().is_frozen()
}

/// `f`'s counters.
pub(crate) fn stats(f: &impl Face) -> Stats {
    f.face_queue().stats()
}

/// A picture of `f`'s queue.
pub(crate) fn snapshot(f: &impl Face) -> Snapshot {
    f.face_queue().snapshot()
}

/// Refuses a destroy from inside `f`.
fn refuse_own_destroy<F: Lifecycle>(f: &F) -> Result<(), Error> {
    if f.inside() {
        return Err(Error::WouldDeadlock {
            what: F::OWN_DESTROY,
        });
    }
    Ok(())
}

/// The blocking shutdowns: refused from inside, logged once done.
fn shut_down_with(f: &impl Lifecycle, plan: Plan) -> Result<ShutdownReport, Error> {
    refuse_own_destroy(f)?;
    let report = f.shut_down(plan);
    crate::support::log::shutdown_report(&f.face_queue().name, &report, false);
    Ok(report)
}

/// `destroy`: drains, then shuts down.
pub(crate) fn destroy(f: &impl Lifecycle) -> Result<ShutdownReport, Error> {
    shut_down_with(f, Plan::drain(f.armed_at_shutdown()))
}

/// `destroy_timeout`: drains until `timeout`, then discards.
pub(crate) fn destroy_timeout(
    f: &impl Lifecycle,
    timeout: Duration,
) -> Result<ShutdownReport, Error> {
    shut_down_with(f, Plan::timeout(f.armed_at_shutdown(), timeout))
}

/// `shutdown_now`: discards at once.
pub(crate) fn shutdown_now(f: &impl Lifecycle) -> Result<ShutdownReport, Error> {
    shut_down_with(f, Plan::now(f.armed_at_shutdown()))
}

/// The async `flush`.
pub(crate) fn flush_async(f: &impl Face) -> Waiting<Result<bool, Error>> {
    flush_queue(f.face_queue())
}

/// The async `drain`.
pub(crate) fn drain_async(f: &impl Face) -> Waiting<Result<(), Error>> {
    drain_queue(f.face_queue())
}

/// The async `destroy`: refused from inside at once, else begun now and
/// finished by the front end's blocking shutdown once drained.
pub(crate) fn destroy_async(f: &impl Lifecycle) -> Destroying {
    if let Err(e) = refuse_own_destroy(f) {
        return Destroying::refused(e);
    }
    Destroying::begin(f.face_queue(), f.armed_at_shutdown(), f.finish_destroy())
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

/// The queue calls of a front end (`$ty` implements [`Face`]): `queue`, and for
/// a front end with a bound on waiting items `try_queue` and `queue_async`
/// too; each method's docs come from the front end, in this order.
macro_rules! queue_face {
    (impl $ty:ident {
        $(#[$queue:meta])* fn queue;
        $(#[$try_queue:meta])* fn try_queue;
        $(#[$queue_async:meta])* fn queue_async;
    }) => {
        crate::front::face::queue_face! {
            impl $ty {
                $(#[$queue])* fn queue;
            }
        }

        impl $ty {
            $(#[$try_queue])*
            pub fn try_queue(&self, work: &crate::Work) -> Result<crate::Queued, crate::Error> {
                crate::front::face::try_queue(self, work)
            }

            $(#[$queue_async])*
            pub fn queue_async(&self, work: &crate::Work) -> crate::QueueAsync {
                crate::front::face::queue_async(self, work)
            }
        }
    };
    (impl $ty:ident {
        $(#[$queue:meta])* fn queue;
    }) => {
        impl $ty {
            $(#[$queue])*
            #[inline]
            pub fn queue(&self, work: &crate::Work) -> Result<crate::Queued, crate::Error> {
                crate::front::face::queue(self, work)
            }
        }
    };
}

pub(crate) use queue_face;

/// The waiting and shutdown methods of a front end that owns its queue. `$ty`
/// implements [`Lifecycle`]; each method's docs (with its example) come from
/// the front end, in this order.
macro_rules! lifecycle_face {
    (impl $ty:ident {
        $(#[$flush:meta])* fn flush;
        $(#[$drain:meta])* fn drain;
        $(#[$destroy:meta])* fn destroy;
        $(#[$timeout:meta])* fn destroy_timeout;
        $(#[$now:meta])* fn shutdown_now;
        $(#[$stats:meta])* fn stats;
        $(#[$snapshot:meta])* fn snapshot;
    }) => {
        impl $ty {
            $(#[$flush])*
            pub fn flush(&self) -> Result<bool, crate::Error> {
                crate::front::face::flush(self)
            }

            $(#[$drain])*
            pub fn drain(&self) -> Result<(), crate::Error> {
                crate::front::face::drain(self)
            }

            $(#[$destroy])*
            pub fn destroy(&self) -> Result<crate::ShutdownReport, crate::Error> {
                crate::front::face::destroy(self)
            }

            $(#[$timeout])*
            pub fn destroy_timeout(
                &self,
                timeout: std::time::Duration,
            ) -> Result<crate::ShutdownReport, crate::Error> {
                crate::front::face::destroy_timeout(self, timeout)
            }

            $(#[$now])*
            pub fn shutdown_now(&self) -> Result<crate::ShutdownReport, crate::Error> {
                crate::front::face::shutdown_now(self)
            }

            $(#[$stats])*
            pub fn stats(&self) -> crate::Stats {
                crate::front::face::stats(self)
            }

            $(#[$snapshot])*
            pub fn snapshot(&self) -> crate::Snapshot {
                crate::front::face::snapshot(self)
            }
        }
    };
}

pub(crate) use lifecycle_face;

/// `freeze`, `thaw` and `is_frozen` of a freezable front end (`$ty` implements
/// [`Face`]); each method's docs come from the front end, in this order.
macro_rules! freeze_face {
    (impl $ty:ident {
        $(#[$freeze:meta])* fn freeze;
        $(#[$thaw:meta])* fn thaw;
        $(#[$frozen:meta])* fn is_frozen;
    }) => {
        impl $ty {
            $(#[$freeze])*
            pub fn freeze(&self) -> Result<(), crate::Error> {
                crate::front::face::freeze(self)
            }

            $(#[$thaw])*
            pub fn thaw(&self) -> Result<(), crate::Error> {
                crate::front::face::thaw(self)
            }

            $(#[$frozen])*
            pub fn is_frozen(&self) -> bool {
                crate::front::face::is_frozen(self)
            }
        }
    };
}

pub(crate) use freeze_face;

/// The async forms of a front end's waiting calls (`$ty` implements
/// [`Lifecycle`]); each method's docs come from the front end, in this order.
macro_rules! waits_face {
    (impl $ty:ident {
        $(#[$flush:meta])* fn flush_async;
        $(#[$drain:meta])* fn drain_async;
        $(#[$destroy:meta])* fn destroy_async;
    }) => {
        impl $ty {
            $(#[$flush])*
            pub fn flush_async(&self) -> crate::Waiting<Result<bool, crate::Error>> {
                crate::front::face::flush_async(self)
            }

            $(#[$drain])*
            pub fn drain_async(&self) -> crate::Waiting<Result<(), crate::Error>> {
                crate::front::face::drain_async(self)
            }

            $(#[$destroy])*
            pub fn destroy_async(&self) -> crate::Destroying {
                crate::front::face::destroy_async(self)
            }
        }
    };
}

pub(crate) use waits_face;
