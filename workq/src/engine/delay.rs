//! Delayed work: the timer's delivery of an armed item, and modify (the kernel's
//! `mod_delayed_work`). Arming itself is `add_run` with a deadline.

use super::cancel::with_bound;
use super::RunQueue;
use crate::error::Error;
use crate::state::{ARMED, CANCEL_MASK, PENDING, RUNNING};
use crate::sync::{lock, Arc, Ordering};
use crate::timer::{Timer, TimerKey};
use crate::work::WorkInner;

impl RunQueue {
    /// The timer reached the deadline of entry `key` of `work`: make its pending run
    /// runnable. A stale entry (the item was disarmed, re-armed or cancelled since)
    /// is ignored; a firing that meets a `cancel_sync` in progress, or a stopped
    /// queue, cancels the run instead.
    pub(crate) fn fire(work: &Arc<WorkInner>, key: TimerKey) {
        let now = super::stamp(std::time::Instant::now());
        let outcome = with_bound(work, |mut b| {
            let q = b.queue;
            let g = &mut *b.guard;
            let mut binding = lock(&work.binding);
            let s = work.state.load(Ordering::Relaxed);
            if s & ARMED == 0 || work.wait_tag.load(Ordering::Relaxed) != key.to_bits() {
                return (None, None);
            }
            if s & CANCEL_MASK != 0 || g.stopping {
                return (q.take_pending(g, &mut binding, work).1, None);
            }
            work.state.fetch_and(!ARMED, Ordering::AcqRel);
            q.make_runnable(g, work, s & RUNNING != 0, now);
            (None, Some(q.clone()))
        });
        if let Some((stash, queue)) = outcome {
            // On the timer thread: a panic in a closure's drop must not end it.
            crate::panic::drop_caught(stash, &crate::panic::default_hook(), "workq-timer");
            if let Some(q) = queue {
                RunQueue::settle(&q);
            }
        }
    }

    /// Arms `work` for tick `at` (or queues it now, for `None`) whatever its state:
    /// a queued run goes back to the timer, an armed one is re-armed, an idle item is
    /// armed. Returns whether a run was pending before.
    pub(crate) fn modify(
        this: &Arc<Self>,
        work: &Arc<WorkInner>,
        at: Option<u64>,
        owner: u32,
    ) -> Result<bool, Error> {
        if at.is_some() {
            Timer::ensure_driven(&this.timer)?;
        }
        Self::ensure_consumers(this)?;
        this.check_pool()?;
        let now = super::stamp(std::time::Instant::now());
        let (result, stash) = {
            let mut g = this.lock();
            this.admit(&g)?;
            let mut binding = lock(&work.binding);
            let s = work.state.load(Ordering::Relaxed);
            if s & crate::state::DISABLE_MASK != 0 {
                return Err(Error::Disabled);
            }
            if s & CANCEL_MASK != 0 {
                return Err(Error::Canceling);
            }
            if s & (PENDING | RUNNING) != 0 && !crate::work::bound_to(s, this) {
                return Err(Error::Busy {
                    queue: this.name.to_string(),
                });
            }
            let (was_pending, stash) = this.take_pending(&mut g, &mut binding, work);
            let added = Self::add_run(this, &mut g, &mut binding, work, at, owner, now);
            (added.map(|_| was_pending), stash)
        };
        drop(stash);
        Self::settle(this);
        result
    }
}
