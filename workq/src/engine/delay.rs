//! Delayed work: the timer's delivery of an armed item, and modify (the kernel's
//! `mod_delayed_work`). Arming itself is `add_run` with a deadline.

use super::RunQueue;
use crate::error::Error;
use crate::state::{ARMED, CANCEL_MASK, PENDING, RUNNING};
use crate::sync::{lock, Arc, Ordering};
use crate::timer::{Timer, TimerKey};
use crate::work::WorkInner;

impl RunQueue {
    /// The timer reached the deadlines of `expired` (in deadline order): makes each
    /// pending run runnable. A stale entry (the item was disarmed, re-armed or
    /// cancelled since) is ignored; a firing that meets a `cancel_sync` in progress,
    /// or a stopped queue, cancels the run instead. Consecutive entries bound to the
    /// same queue are delivered under one lock of it (one wake-up, one thread start
    /// decision), so a tick that fires thousands of items costs little more than
    /// their list pushes. The timer's references are dropped afterwards, with no
    /// lock held.
    pub(crate) fn fire_all(expired: Vec<(TimerKey, Arc<WorkInner>)>) {
        let now = super::stamp(std::time::Instant::now());
        let mut stash = Vec::new();
        let mut fired: Vec<Arc<RunQueue>> = Vec::new();
        // Pools whose grow entry (bound to no queue, see `grow.rs`) fired.
        let mut grow = Vec::new();
        let mut i = 0;
        while let Some((_, first)) = expired.get(i) {
            let Some(q) = first.bound_queue() else {
                // Idle: cancelled since it was armed, or a grow entry.
                grow.extend(RunQueue::grow_entry_of(first));
                i += 1;
                continue;
            };
            let mut g = q.lock();
            let mut any = false;
            while let Some((key, work)) = expired.get(i) {
                let mut binding = lock(&work.binding);
                let s = work.state.load(Ordering::Relaxed);
                let here = binding.as_ref().is_some_and(|b| Arc::ptr_eq(b, &q))
                    && crate::state::queue_of(s) == q.id;
                if !here {
                    if crate::state::queue_of(s) == 0 {
                        drop(binding);
                        grow.extend(RunQueue::grow_entry_of(work));
                        i += 1; // idle: stale, or a grow entry
                        continue;
                    }
                    break; // bound elsewhere: the outer loop locks that queue
                }
                i += 1;
                if s & ARMED == 0 || work.wait_tag.load(Ordering::Relaxed) != key.to_bits() {
                    continue;
                }
                if s & CANCEL_MASK != 0 || g.stopping {
                    stash.push(q.take_pending(&mut g, &mut binding, work).1);
                    continue;
                }
                work.state.fetch_and(!ARMED, Ordering::AcqRel);
                q.make_runnable(&mut g, work, s & RUNNING != 0, now);
                any = true;
            }
            drop(g);
            if any && !fired.iter().any(|f| Arc::ptr_eq(f, &q)) {
                fired.push(q);
            }
        }
        for q in &fired {
            RunQueue::settle(q);
        }
        for q in &grow {
            RunQueue::grow_fired(q);
        }
        // On the timer thread: a panic in a closure's drop must not end it. One at a
        // time, so that two panicking drops are two caught panics, not an abort.
        let hook = crate::panic::default_hook();
        let handles = stash.into_iter().flatten();
        for work in handles.chain(expired.into_iter().map(|(_, w)| w)) {
            // Possibly the last handle (a cancelled item).
            crate::panic::drop_caught(work, &hook, "workq-timer");
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
            let added = Self::add_run(this, &mut g, &mut binding, work, at, owner, Some(now));
            (added.map(|_| was_pending), stash)
        };
        drop(stash);
        Self::settle(this);
        result
    }
}
