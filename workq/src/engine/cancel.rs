//! Cancel, cancel_sync and the flush of one item.
//!
//! Each finds the item's queue through its binding, takes that queue's lock and
//! checks that the binding still holds (it may have changed in between); under the
//! lock the state word can only change by the lock-free fast path (which changes
//! nothing) and the `CANCELING` counter.

use super::{QueueGuard, RunQueue};
use crate::engine::item::{bound_to, in_own_run, WorkInner};
use crate::engine::timer::TimerKey;
use crate::error::Error;
use crate::support::sync::{lock, Arc, MutexGuard, Ordering};

/// The item's queue with its lock held, while the item is bound to it, and the
/// item's binding lock (taken after the queue's; drop it before waiting).
pub(crate) struct Bound<'a> {
    pub(crate) queue: &'a Arc<RunQueue>,
    pub(crate) guard: QueueGuard<'a>,
    pub(crate) binding: MutexGuard<'a, Option<Arc<RunQueue>>>,
}

/// Calls `f` with the queue `work` is bound to, locked; `None` if it is unbound.
pub(crate) fn with_bound<R>(work: &Arc<WorkInner>, f: impl FnOnce(Bound<'_>) -> R) -> Option<R> {
    loop {
        let queue = work.bound_queue()?;
        let guard = queue.lock();
        let binding = lock(&work.binding);
        let still = binding.as_ref().is_some_and(|b| Arc::ptr_eq(b, &queue))
            && work.state.read().is_on(queue.id);
        if still {
            return Some(f(Bound {
                queue: &queue,
                guard,
                binding,
            }));
        }
        // The binding changed between reading it and locking the queue: look again.
    }
}

impl RunQueue {
    /// Removes a pending run that has not started (queued or armed). Returns
    /// whether it did.
    pub(crate) fn cancel_pending(work: &Arc<WorkInner>) -> bool {
        let (removed, stash) = with_bound(work, |mut b| {
            b.queue.take_pending(&mut b.guard, &mut b.binding, work)
        })
        .unwrap_or((false, None));
        // The list's or the timer's reference is dropped here, outside every lock
        // (never the last one: the caller holds a handle).
        drop(stash);
        removed
    }

    /// Cancels and waits for a run in progress; see [`crate::Work::cancel_sync`].
    pub(crate) fn cancel_sync(work: &Arc<WorkInner>) -> Result<bool, Error> {
        let removed = Self::begin_cancel(work)?;
        Self::wait_not_running(work);
        Self::end_cancel(work);
        Ok(removed)
    }

    /// Waits until a run of `work` in progress has finished.
    fn wait_not_running(work: &Arc<WorkInner>) {
        with_bound(work, |b| {
            // Never held while waiting: the run's end takes it.
            drop(b.binding);
            let q = b.queue;
            let mut g = b.guard;
            while !not_running(work, q) {
                g = q.wait_item(g, work);
            }
        });
    }

    /// Disables `work` (queueing fails until a matching enable) and cancels its
    /// pending run; with `sync`, also waits for a run in progress. Returns whether a
    /// pending run was removed.
    pub(crate) fn disable(work: &Arc<WorkInner>, sync: bool) -> Result<bool, Error> {
        if sync && in_own_run(work) {
            return Err(Error::WouldDeadlock {
                what: "disable_sync of a work item from its own run",
            });
        }
        work.state.disable().map_err(|_| Error::TooManyCancels)?;
        let removed = Self::cancel_pending(work);
        if sync {
            Self::wait_not_running(work);
        }
        Ok(removed)
    }

    /// Undoes one `disable`. Returns whether the item can be queued again.
    pub(crate) fn enable(work: &Arc<WorkInner>) -> Result<bool, Error> {
        work.state.enable().map_err(|_| Error::NotDisabled)
    }

    /// Waits until the last run queued before the call has finished. An armed item
    /// is fired now.
    pub(crate) fn flush_item(work: &Arc<WorkInner>) -> Result<bool, Error> {
        let Some((q, target)) = Self::prepare_flush(work)? else {
            return Ok(false);
        };
        let mut g = q.lock();
        while !flushed(work, &q, target) {
            g = q.wait_item(g, work);
        }
        Ok(true)
    }

    /// The first half of an item flush: refuses a flush that could never end,
    /// fires an armed item now, and returns the queue to watch and the number of
    /// finished runs to wait for (`None`: nothing to wait for).
    pub(crate) fn prepare_flush(
        work: &Arc<WorkInner>,
    ) -> Result<Option<(Arc<RunQueue>, u64)>, Error> {
        if in_own_run(work) {
            return Err(Error::WouldDeadlock {
                what: "flushing a work item from its own run",
            });
        }
        let mut stash = None;
        let prepared = with_bound(work, |b| {
            // Not needed here, and never held while waiting for a thread start.
            drop(b.binding);
            let q = b.queue;
            let mut g = b.guard;
            let s = work.state.read();
            if s.is_idle() {
                return Ok(None);
            }
            // Wait until every run started so far, and the pending one, is done.
            // Counting from `started` (not `finished`) keeps a run that has ended
            // but is not yet counted as done (its panic being reported, possibly on
            // another queue) from satisfying the wait for a later run.
            let target = work.started.load(Ordering::Relaxed) + u64::from(s.is_pending());
            if q.single_consumer
                && (crate::support::current::running_on(q.id)
                    || crate::support::current::consuming(q.id))
            {
                return Err(Error::WouldDeadlock {
                    what: "flushing an item pending on the single-thread worker running the caller",
                });
            }
            if s.is_armed() {
                // Fire it now: off the timer, onto the list.
                let key = TimerKey::from_bits(work.wait_tag.load(Ordering::Relaxed));
                stash = q.timer.remove(key);
                work.state.fire();
                let now = super::stamp(std::time::Instant::now());
                q.make_runnable(&mut g, work, s.is_running(), now);
                if g.sizing.settle_owed() {
                    // A thread or a pump is owed: provide it before waiting.
                    drop(g);
                    RunQueue::settle(q);
                }
            }
            Ok(Some((q.clone(), target)))
        })
        .unwrap_or(Ok(None));
        drop(stash);
        prepared
    }

    /// The first half of `cancel_sync`: refuses it from the item's own run, blocks
    /// queueing, cancels the pending run. Returns whether it removed one; the caller
    /// waits for `not_running`, then calls `end_cancel`.
    pub(crate) fn begin_cancel(work: &Arc<WorkInner>) -> Result<bool, Error> {
        if in_own_run(work) {
            return Err(Error::WouldDeadlock {
                what: "cancel_sync of a work item from its own run",
            });
        }
        work.state
            .cancel_enter()
            .map_err(|_| Error::TooManyCancels)?;
        Ok(Self::cancel_pending(work))
    }

    /// Lets the item be queued again after `begin_cancel`.
    pub(crate) fn end_cancel(work: &WorkInner) {
        work.state.cancel_exit();
    }
}

/// Whether an item flush that waits for `target` done runs on `q` is over: the
/// runs are done, or the item became idle (cancelled) or left the queue, with no
/// run of it still being wrapped up (a panic report in progress).
pub(crate) fn flushed(work: &WorkInner, q: &RunQueue, target: u64) -> bool {
    let s = work.state.read();
    let finished = work.finished.load(Ordering::Relaxed);
    finished >= target
        || ((s.is_idle() || !bound_to(s, q)) && finished >= work.started.load(Ordering::Relaxed))
}

/// Whether no run of `work` is in progress on `q`.
pub(crate) fn not_running(work: &WorkInner, q: &RunQueue) -> bool {
    let s = work.state.read();
    !s.is_running() || !bound_to(s, q)
}
