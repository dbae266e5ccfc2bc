//! Cancel, cancel_sync and the flush of one item.
//!
//! Each finds the item's queue through its binding, takes that queue's lock and
//! checks that the binding still holds (it may have changed in between); under the
//! lock the state word can only change by the lock-free fast path (which changes
//! nothing) and the `CANCELING` counter.

use super::{QueueState, RunQueue};
use crate::error::Error;
use crate::state::{self, CANCEL_MASK, CANCEL_ONE, PENDING, RUNNING};
use crate::sync::{lock, Arc, MutexGuard, Ordering};
use crate::work::{bound_to, in_own_run, WorkInner};

/// The item's queue with its lock held, while the item is bound to it.
struct Bound<'a> {
    queue: &'a Arc<RunQueue>,
    guard: MutexGuard<'a, QueueState>,
}

/// Calls `f` with the queue `work` is bound to, locked; `None` if it is unbound.
fn with_bound<R>(work: &Arc<WorkInner>, f: impl FnOnce(Bound<'_>) -> R) -> Option<R> {
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

impl RunQueue {
    /// Removes a pending run that has not started. Returns whether it did.
    pub(crate) fn cancel_pending(work: &Arc<WorkInner>) -> bool {
        let mut removed_entry = None;
        let removed = with_bound(work, |mut b| {
            let q = b.queue;
            let g = &mut *b.guard;
            let mut binding = lock(&work.binding);
            let mut cur = work.state.load(Ordering::Relaxed);
            loop {
                if cur & PENDING == 0 {
                    return false;
                }
                let running = cur & RUNNING != 0;
                let new = if running {
                    cur & !PENDING
                } else {
                    state::with_queue(cur & !PENDING, 0)
                };
                match work
                    .state
                    .compare_exchange(cur, new, Ordering::AcqRel, Ordering::Relaxed)
                {
                    Ok(_) => break,
                    Err(now) => cur = now,
                }
            }
            if cur & RUNNING == 0 {
                // Pending and not running: it is on the list.
                let at = g.list.iter().position(|w| Arc::ptr_eq(w, work));
                debug_assert!(
                    at.is_some(),
                    "a pending item that is not running is on the list"
                );
                removed_entry = at.and_then(|at| g.list.remove(at));
                binding.take();
            }
            drop(binding);
            g.colors.remove(work.color.load(Ordering::Relaxed));
            q.notify_done(g);
            true
        })
        .unwrap_or(false);
        // The list's reference is dropped here, outside every lock.
        drop(removed_entry);
        removed
    }

    /// Cancels and waits for a run in progress; see [`crate::Work::cancel_sync`].
    pub(crate) fn cancel_sync(work: &Arc<WorkInner>) -> Result<bool, Error> {
        if in_own_run(work) {
            return Err(Error::WouldDeadlock {
                what: "cancel_sync of a work item from its own run",
            });
        }
        let mut cur = work.state.load(Ordering::Relaxed);
        loop {
            if cur & CANCEL_MASK == CANCEL_MASK {
                return Err(Error::TooManyCancels);
            }
            match work.state.compare_exchange_weak(
                cur,
                cur + CANCEL_ONE,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(now) => cur = now,
            }
        }
        let removed = Self::cancel_pending(work);
        with_bound(work, |b| {
            let q = b.queue;
            let mut g = b.guard;
            while work.state.load(Ordering::Acquire) & RUNNING != 0
                && bound_to(work.state.load(Ordering::Relaxed), q)
            {
                g = q.wait_done(g);
            }
        });
        work.state.fetch_sub(CANCEL_ONE, Ordering::AcqRel);
        Ok(removed)
    }

    /// Waits until the last run queued before the call has finished.
    pub(crate) fn flush_item(work: &Arc<WorkInner>) -> Result<bool, Error> {
        if in_own_run(work) {
            return Err(Error::WouldDeadlock {
                what: "flushing a work item from its own run",
            });
        }
        with_bound(work, |b| {
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
            while work.finished.load(Ordering::Relaxed) < target
                && !state::is_idle(work.state.load(Ordering::Relaxed))
                && bound_to(work.state.load(Ordering::Relaxed), q)
            {
                g = q.wait_done(g);
            }
            Ok(true)
        })
        .unwrap_or(Ok(false))
    }
}
