//! Delayed work: the timer's delivery of an armed item, and modify (the kernel's
//! `mod_delayed_work`). Arming itself is `add_run` with a deadline.

use super::{QueueCall, RunQueue};
use crate::engine::item::WorkInner;
use crate::engine::timer::TimerKey;
use crate::error::Error;
use crate::support::sync::{lock, Arc, Ordering};

/// What a delivery leaves to do once its queues have been told, with no lock held:
/// thread starts and pump kicks, and the drops of the timer's references.
pub(crate) struct Delivered {
    /// Armed items cancelled because their queue had stopped, by queue id: the
    /// timer hands the counts to that queue's shutdown.
    pub(crate) cancelled_late: Vec<(u32, usize)>,
    settle: Vec<Arc<RunQueue>>,
    /// Pools whose grow entry (bound to no queue, see `grow.rs`) fired.
    grow: Vec<Arc<RunQueue>>,
    stash: Vec<Option<Arc<WorkInner>>>,
    expired: Vec<(TimerKey, Arc<WorkInner>)>,
}

impl Delivered {
    /// Settles the queues that got runnable items and drops the timer's
    /// references (user code: the caller holds no lock and has ended the delivery).
    pub(crate) fn finish(self) {
        for q in &self.settle {
            RunQueue::settle(q);
        }
        for q in &self.grow {
            RunQueue::grow_fired(q);
        }
        // On the timer thread: a panic in a closure's drop must not end it. One at a
        // time, so that two panicking drops are two caught panics, not an abort.
        let hook = crate::support::panic::default_hook();
        let handles = self.stash.into_iter().flatten();
        for work in handles.chain(self.expired.into_iter().map(|(_, w)| w)) {
            // Possibly the last handle (a cancelled item).
            crate::support::panic::drop_caught(work, &hook, "workq-timer");
        }
    }
}

impl RunQueue {
    /// The timer reached the deadlines of `expired` (in deadline order): makes each
    /// pending run runnable. A stale entry (the item was disarmed, re-armed or
    /// cancelled since) is ignored; a firing that meets a `cancel_sync` in progress,
    /// or a stopped queue, cancels the run instead. Consecutive entries bound to the
    /// same queue are delivered under one lock of it (one wake-up, one thread start
    /// decision), so a tick that fires thousands of items costs little more than
    /// their list pushes. What is left to do with no lock held is returned.
    ///
    /// A run cancelled because its queue had stopped is counted for that queue's
    /// shutdown (`Delivered::cancelled_late`): the shutdown took the queue's
    /// entries off the wheel after it stopped the queue, and waits for the
    /// deliveries begun before that (`Timer::wait_delivered`), so such an entry
    /// was in this delivery, and the shutdown adds the count to its report.
    pub(crate) fn deliver(expired: Vec<(TimerKey, Arc<WorkInner>)>) -> Delivered {
        #[cfg(all(test, not(any(loom, shuttle))))]
        test_hook::before_delivery();
        let now = super::stamp(std::time::Instant::now());
        let mut stash = Vec::new();
        let mut fired: Vec<Arc<RunQueue>> = Vec::new();
        let mut cancelled_late: Vec<(u32, usize)> = Vec::new();
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
            let mut late = 0;
            while let Some((key, work)) = expired.get(i) {
                let mut binding = lock(&work.binding);
                let s = work.state.peek();
                let here = binding.as_ref().is_some_and(|b| Arc::ptr_eq(b, &q)) && s.is_on(q.id);
                if !here {
                    if s.queue_id() == 0 {
                        drop(binding);
                        grow.extend(RunQueue::grow_entry_of(work));
                        i += 1; // idle: stale, or a grow entry
                        continue;
                    }
                    break; // bound elsewhere: the outer loop locks that queue
                }
                i += 1;
                if !s.is_armed() || work.wait_tag.load(Ordering::Relaxed) != key.to_bits() {
                    continue;
                }
                if s.is_canceling() || g.life.stopping() {
                    stash.push(q.take_pending(&mut g, &mut binding, work).1);
                    if !s.is_canceling() {
                        late += 1;
                    }
                    continue;
                }
                work.state.fire();
                q.make_runnable(&mut g, work, s.is_running(), now);
                any = true;
            }
            drop(g);
            if late > 0 {
                match cancelled_late.iter_mut().find(|(id, _)| *id == q.id) {
                    Some((_, n)) => *n += late,
                    None => cancelled_late.push((q.id, late)),
                }
            }
            if any && !fired.iter().any(|f| Arc::ptr_eq(f, &q)) {
                fired.push(q);
            }
        }
        Delivered {
            cancelled_late,
            settle: fired,
            grow,
            stash,
            expired,
        }
    }

    /// A queue call due at `deadline` on this queue's timer (due now if it has
    /// passed).
    pub(crate) fn due_at(&self, deadline: std::time::Instant) -> QueueCall {
        QueueCall::NOW.due(self.timer.due_at(deadline))
    }

    /// A queue call due `delay` from now on this queue's timer.
    pub(crate) fn due_after(&self, delay: std::time::Duration) -> QueueCall {
        QueueCall::NOW.due(self.timer.due_after(delay))
    }

    /// Arms `work` for the tick `call` is due at (or queues it now) whatever its state:
    /// a queued run goes back to the timer, an armed one is re-armed, an idle item is
    /// armed. Returns whether a run was pending before.
    pub(crate) fn modify(
        this: &Arc<Self>,
        work: &Arc<WorkInner>,
        call: QueueCall,
    ) -> Result<bool, Error> {
        if call.is_delayed() {
            super::ensure_driven(&this.timer)?;
        }
        Self::ensure_consumers(this)?;
        this.check_pool()?;
        let now = super::stamp(std::time::Instant::now());
        let (result, stash) = {
            let mut g = this.lock();
            this.admit(&g)?;
            let mut binding = lock(&work.binding);
            // The queue call's verdict, except that a run already pending here
            // is moved, not kept.
            if let Some(Err(refused)) = this.verdict(work.state.peek()) {
                return Err(refused);
            }
            let (was_pending, stash) = this.take_pending(&mut g, &mut binding, work);
            let added = Self::add_run(this, &mut g, &mut binding, work, call, Some(now));
            (added.map(|_| was_pending), stash)
        };
        drop(stash);
        Self::settle(this);
        result
    }
}

/// A pause point for unit tests: runs on the delivering thread after the entries
/// left the wheel and before any queue is told (the window a shutdown must cover).
#[cfg(all(test, not(any(loom, shuttle))))]
pub(crate) mod test_hook {
    use std::cell::RefCell;

    std::thread_local! {
        static BEFORE_DELIVERY: RefCell<Option<Box<dyn FnMut()>>> = const { RefCell::new(None) };
    }

    /// Sets the hook of the calling thread's next deliveries.
    pub(crate) fn set_before_delivery(hook: impl FnMut() + 'static) {
        BEFORE_DELIVERY.with(|h| *h.borrow_mut() = Some(Box::new(hook)));
    }

    pub(super) fn before_delivery() {
        BEFORE_DELIVERY.with(|h| {
            if let Some(hook) = h.borrow_mut().as_mut() {
                hook();
            }
        });
    }
}
