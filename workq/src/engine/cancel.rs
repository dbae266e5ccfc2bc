//! Cancel, cancel_sync and the flush of one item.
//!
//! Each finds the item's queue through its binding, takes that queue's lock and
//! checks that the binding still holds (it may have changed in between); under the
//! lock the state word can only change by the lock-free fast path (which changes
//! nothing) and the `CANCELING` counter.

use super::{QueueState, RunQueue};
use crate::error::Error;
use crate::state::{
    self, ARMED, CANCEL_MASK, CANCEL_ONE, DISABLE_MASK, DISABLE_ONE, PENDING, RUNNING,
};
use crate::sync::{lock, Arc, MutexGuard, Ordering};
use crate::timer::TimerKey;
use crate::work::{bound_to, in_own_run, WorkInner};

/// The item's queue with its lock held, while the item is bound to it.
pub(crate) struct Bound<'a> {
    pub(crate) queue: &'a Arc<RunQueue>,
    pub(crate) guard: MutexGuard<'a, QueueState>,
}

/// Calls `f` with the queue `work` is bound to, locked; `None` if it is unbound.
pub(crate) fn with_bound<R>(work: &Arc<WorkInner>, f: impl FnOnce(Bound<'_>) -> R) -> Option<R> {
    loop {
        let queue = work.bound_queue()?;
        let guard = queue.lock();
        let still = lock(&work.binding)
            .as_ref()
            .is_some_and(|b| Arc::ptr_eq(b, &queue));
        if still {
            return Some(f(Bound {
                queue: &queue,
                guard,
            }));
        }
        // The binding changed between reading it and locking the queue: look again.
    }
}

/// Adds one to the counter field `mask` of the state word (lock-free), refusing to
/// overflow it.
fn counter_up(work: &WorkInner, one: u64, mask: u64) -> Result<(), Error> {
    let mut cur = work.state.load(Ordering::Relaxed);
    loop {
        if cur & mask == mask {
            return Err(Error::TooManyCancels);
        }
        match work
            .state
            .compare_exchange_weak(cur, cur + one, Ordering::AcqRel, Ordering::Relaxed)
        {
            Ok(_) => return Ok(()),
            Err(now) => cur = now,
        }
    }
}

impl RunQueue {
    /// Removes a pending run that has not started (queued or armed). Returns
    /// whether it did.
    pub(crate) fn cancel_pending(work: &Arc<WorkInner>) -> bool {
        let (removed, stash) = with_bound(work, |mut b| {
            let mut binding = lock(&work.binding);
            b.queue.take_pending(&mut b.guard, &mut binding, work)
        })
        .unwrap_or((false, None));
        // The list's or the timer's reference is dropped here, outside every lock.
        drop(stash);
        removed
    }

    /// Cancels and waits for a run in progress; see [`crate::Work::cancel_sync`].
    pub(crate) fn cancel_sync(work: &Arc<WorkInner>) -> Result<bool, Error> {
        if in_own_run(work) {
            return Err(Error::WouldDeadlock {
                what: "cancel_sync of a work item from its own run",
            });
        }
        counter_up(work, CANCEL_ONE, CANCEL_MASK)?;
        let removed = Self::cancel_pending(work);
        Self::wait_not_running(work);
        work.state.fetch_sub(CANCEL_ONE, Ordering::AcqRel);
        Ok(removed)
    }

    /// Waits until a run of `work` in progress has finished.
    fn wait_not_running(work: &Arc<WorkInner>) {
        with_bound(work, |b| {
            let q = b.queue;
            let mut g = b.guard;
            while work.state.load(Ordering::Acquire) & RUNNING != 0
                && bound_to(work.state.load(Ordering::Relaxed), q)
            {
                g = q.wait_done(g);
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
        counter_up(work, DISABLE_ONE, DISABLE_MASK)?;
        let removed = Self::cancel_pending(work);
        if sync {
            Self::wait_not_running(work);
        }
        Ok(removed)
    }

    /// Undoes one `disable`. Returns whether the item can be queued again.
    pub(crate) fn enable(work: &Arc<WorkInner>) -> Result<bool, Error> {
        let mut cur = work.state.load(Ordering::Relaxed);
        loop {
            if cur & DISABLE_MASK == 0 {
                return Err(Error::NotDisabled);
            }
            match work.state.compare_exchange_weak(
                cur,
                cur - DISABLE_ONE,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Ok((cur - DISABLE_ONE) & DISABLE_MASK == 0),
                Err(now) => cur = now,
            }
        }
    }

    /// Waits until the last run queued before the call has finished. An armed item
    /// is fired now.
    pub(crate) fn flush_item(work: &Arc<WorkInner>) -> Result<bool, Error> {
        if in_own_run(work) {
            return Err(Error::WouldDeadlock {
                what: "flushing a work item from its own run",
            });
        }
        let mut stash = None;
        let waited = with_bound(work, |b| {
            let q = b.queue;
            let mut g = b.guard;
            let s = work.state.load(Ordering::Acquire);
            let finished = work.finished.load(Ordering::Relaxed);
            let target = finished + u64::from(s & RUNNING != 0) + u64::from(s & PENDING != 0);
            if target == finished {
                return Ok(false);
            }
            if q.single_consumer && crate::current::running_on(q.id) {
                return Err(Error::WouldDeadlock {
                    what: "flushing an item pending on the single-thread worker running the caller",
                });
            }
            if s & ARMED != 0 {
                // Fire it now: off the timer, onto the list.
                let key = TimerKey::from_bits(work.wait_tag.load(Ordering::Relaxed));
                stash = q.timer.remove(key);
                work.state.fetch_and(!ARMED, Ordering::AcqRel);
                q.make_runnable(&mut g, work, s & RUNNING != 0);
                if q.elastic.is_some() {
                    // A thread may be owed: pay it before waiting.
                    drop(g);
                    RunQueue::settle(q);
                    g = q.lock();
                }
            }
            while work.finished.load(Ordering::Relaxed) < target
                && !state::is_idle(work.state.load(Ordering::Relaxed))
                && bound_to(work.state.load(Ordering::Relaxed), q)
            {
                g = q.wait_done(g);
            }
            Ok(true)
        })
        .unwrap_or(Ok(false));
        drop(stash);
        waited
    }
}
