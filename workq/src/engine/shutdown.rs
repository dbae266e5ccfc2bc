//! The orderly shutdown that front ends run on destroy, destroy_timeout,
//! shutdown_now and on drop of their last handle: close, handle the armed items,
//! drain (until a deadline, then discard), stop the consumers, and count what was
//! discarded, cancelled and fired (`ShutdownReport`).
//!
//! # Armed items are counted exactly once
//!
//! An armed item of the queue is, at any moment, on the timer's wheel, in a
//! delivery under way (taken off the wheel, its queue not told yet), or no longer
//! armed. A shutdown takes the queue's entries off the wheel (`Timer::remove_queue`)
//! and learns which deliveries had begun by then (a `DeliveryMark`); after waiting
//! for those (`Timer::wait_delivered`) no armed item of the queue is in flight:
//!
//! * at the start (`begin_shut_down`), after the close: what the shutdown took off
//!   the wheel it cancels or fires, and counts; what a delivery took first is
//!   delivered before the shutdown goes on (before its drain), as a normal run;
//! * at the end (`end_shut_down`), the queue is stopped first, under its lock, so
//!   no item of it is armed from then on (`admit` refuses every queue call of a
//!   stopped queue, and arming happens under the queue lock); then the items its
//!   own items armed meanwhile are taken off the wheel and counted, and a delivery
//!   begun before that either told the queue before it stopped (a normal run, which
//!   the consumers finish before they exit) or found it stopped and cancelled the
//!   run: the delivery counts that for the queue in the timer when it ends
//!   (`Delivered::cancelled_late`), and the shutdown adds it to its report after
//!   the wait (`Timer::take_cancelled_late`).
//!
//! The fire path takes no lock it did not take before (the ticket is taken and
//! given back under the timer locks it already took); the arm path is unchanged.

use super::{QueueGuard, QueueState, RunQueue, Waiting};
use crate::engine::item::WorkInner;
use crate::engine::timer::DeliveryMark;
use crate::shutdown::{ArmedAtShutdown, Plan, ShutdownReport};
use crate::support::current;
use crate::support::sync::{lock, Arc, Ordering};
use std::collections::HashMap;
use std::time::Instant;

#[cfg(all(test, not(any(loom, shuttle))))]
mod tests;

/// What a shutdown did so far.
#[derive(Default)]
pub(crate) struct Tally {
    pub(crate) report: ShutdownReport,
    /// Items fired at the shutdown (`RunNow` with a deadline), whose fired run a
    /// deadline may discard after all: by address, with the item's count of
    /// started runs when it fired. The entry holds a reference to the item, so
    /// no other item can have its address while the tally lives; and runs of an
    /// item start only under its queue's lock, as firing and discarding happen,
    /// so a count still equal at the discard means the fired run never started
    /// (a run queued again after the fired one ran is not the fired run).
    fired: HashMap<usize, Fired>,
}

struct Fired {
    work: Arc<WorkInner>,
    started: u64,
}

impl Tally {
    /// `work` was fired (queue lock held).
    fn note_fired(&mut self, work: &Arc<WorkInner>) {
        let started = work.started.load(Ordering::Relaxed);
        self.fired.insert(
            WorkInner::addr(work),
            Fired {
                work: work.clone(),
                started,
            },
        );
    }

    /// A waiting run of `work` was discarded (queue lock held): if it was the
    /// fired run, the item is no longer counted as run.
    fn note_discarded(&mut self, work: &Arc<WorkInner>) {
        self.report.add_discarded(work.name());
        let key = WorkInner::addr(work);
        if let Some(f) = self.fired.get_mut(&key) {
            if f.started == work.started.load(Ordering::Relaxed) {
                self.report.fired_then_discarded();
                // A later discard is not of the fired run.
                f.started = u64::MAX;
            }
        }
    }

    /// Ends the tally (no lock held): gives back the references it held, one at
    /// a time (a panicking drop is one caught panic), and returns the report.
    fn finish(self, queue: &RunQueue) -> ShutdownReport {
        for (_, f) in self.fired {
            queue.release(f.work);
        }
        self.report
    }
}

impl RunQueue {
    /// Shuts the queue down as `plan` says: closes it to outside work, thaws it,
    /// cancels or fires its armed items, drains it (until the plan's deadline, then
    /// discards what waits and waits for the runs in progress), and tells consumers
    /// to exit. Safe to call more than once and from several threads; only the call
    /// that closes the queue handles the items armed then. Returns what it
    /// discarded, cancelled and fired.
    ///
    /// `on_consumer` says the caller is one of the queue's consumer threads (for
    /// instance dropping the last handle of a worker, held by an item's closure):
    /// it cannot wait for itself, so the queue is only closed and the consumers
    /// finish the list by themselves before they exit.
    pub(crate) fn shut_down(this: &Arc<Self>, on_consumer: bool, plan: Plan) -> ShutdownReport {
        let on_consumer = on_consumer || current::consuming(this.id);
        let mut tally = Self::begin_shut_down(this, plan);
        let this: &RunQueue = this;
        let waits = !on_consumer && !current::running_on(this.id);
        if waits {
            let g = this.lock();
            let g = match plan.until {
                None => this.drain_locked(g),
                Some(deadline) => this.drain_until(g, deadline, &mut tally),
            };
            drop(g);
        }
        this.end_shut_down(on_consumer, &mut tally.report);
        tally.finish(this)
    }

    /// The first part of a shutdown, which never blocks for long: closes the queue,
    /// thaws it, and handles the items armed now (the call that closes the queue
    /// only), and lets deliveries of its items under way end (see the module docs).
    /// Returns what it cancelled and fired.
    pub(crate) fn begin_shut_down(this: &Arc<Self>, plan: Plan) -> Tally {
        let (owed, first) = {
            let mut g = this.lock();
            let first = !g.life.closed();
            g.life.close();
            if plan.expired() {
                // No time left (`shutdown_now`): no run starts from now on.
                g.life.freeze();
            } else if g.life.frozen() {
                // Thaw: what was held runs now (a fed queue's pumps are kicked).
                g.life.thaw();
                if g.has_runnable() && (this.elastic().is_some() || this.feeder().is_some()) {
                    g.sizing.owe_settle();
                }
            }
            if this.feeder().is_some() && g.has_runnable() {
                // Kick the pumps: if the pool has stopped (and discarded them), the
                // items this queue accepted run on the caller's thread.
                g.sizing.owe_settle();
            }
            this.wake_all_consumers(&mut g);
            this.needed_cv.notify_all();
            (g.sizing.settle_owed(), first)
        };
        if owed {
            Self::settle(this);
        }
        let mut tally = Tally::default();
        let mark = if first && plan.armed == ArmedAtShutdown::RunNow && !plan.expired() {
            Self::fire_armed(this, &mut tally, plan.until.is_some())
        } else {
            this.disarm_all(&mut tally.report)
        };
        // What a delivery took off the wheel first becomes runnable before the
        // drain (the queue is closed, not stopped): a normal run.
        this.timer.wait_delivered(mark);
        tally
    }

    /// Whether a shutdown's drain is over: nothing of the queue waits or runs.
    pub(crate) fn drained(g: &QueueState) -> bool {
        g.colors.outstanding() == 0
    }

    /// The last part of a shutdown, once drained (or not waiting): stops the
    /// queue, cancels what the queue's own items armed meanwhile (counting also
    /// what a delivery under way cancels, see the module docs), and joins the
    /// consumers.
    pub(crate) fn end_shut_down(&self, on_consumer: bool, report: &mut ShutdownReport) {
        {
            let mut g = self.lock();
            // From here on no item of this queue is armed (`admit`).
            g.life.stop();
            g.life.thaw();
            self.wake_all_consumers(&mut g);
            self.needed_cv.notify_all();
        }
        // Armed by the queue's own items while it drained (also by an item still
        // running: a consumer's own shutdown).
        let mark = self.disarm_all(report);
        self.timer.wait_delivered(mark);
        for _ in 0..self.timer.take_cancelled_late(self.id) {
            report.add_armed_cancelled();
        }
        if !on_consumer {
            self.join_consumers();
            // Idle items may keep this queue's memory alive (their binding): give
            // the room of the lists back.
            self.release_memory(&mut self.lock());
        }
    }

    /// Drains until `deadline`; then discards every waiting run and waits for the
    /// runs in progress (discarding what they queue again), with consumers held
    /// off meanwhile. Returns with the queue stopped if it discarded.
    fn drain_until<'a>(
        &'a self,
        mut g: QueueGuard<'a>,
        deadline: Instant,
        tally: &mut Tally,
    ) -> QueueGuard<'a> {
        'drain: loop {
            let color = g.colors.cut();
            while !g.colors.is_done(color) {
                let now = Instant::now();
                if now >= deadline {
                    break 'drain;
                }
                g = self.wait_done_timeout(g, Some(deadline - now));
            }
            if Self::drained(&g) {
                return g;
            }
        }
        // Past the deadline: no run starts from now on (a frozen queue starts
        // none, also not a run queued again in place), what waits is discarded,
        // and each run's end is awaited, discarding what it put back.
        g.life.freeze();
        let mut stash = Vec::new();
        loop {
            let from = stash.len();
            self.discard_all_listed(&mut g, &mut stash);
            for work in &stash[from..] {
                tally.note_discarded(work);
            }
            self.notify_done(&mut g);
            if g.runs.running() == 0 {
                break;
            }
            g = self.wait_done(g);
        }
        // Stopped before the thaw: no consumer takes anything again, and every
        // queue call is refused.
        g.life.stop();
        g.life.thaw();
        self.wake_all_consumers(&mut g);
        drop(g);
        // One at a time: a panicking drop is one caught panic, not an abort.
        for work in stash {
            self.release(work);
        }
        self.lock()
    }

    /// For a fed queue whose pool has stopped (its pumps discarded by a pool's
    /// `destroy_timeout` or `shutdown_now`): discards the waiting runs, which no
    /// pump will come for, and wakes the waiters (a drain in progress ends).
    pub(crate) fn discard_orphaned(&self) -> ShutdownReport {
        let mut report = ShutdownReport::default();
        let Some(feeder) = self.feeder() else {
            return report;
        };
        if !feeder.pool.lock().life.stopping() {
            return report;
        }
        let mut stash = Vec::new();
        {
            let mut g = self.lock();
            // The pumps the pool held are gone: none is on its way, so the
            // inbox closes (at this lock's release) and a queue call racing
            // this one kicks again, finds the pool stopped and runs its item
            // on its own thread or the rescuer's.
            g.sizing.forget_kicks();
            self.discard_all_listed(&mut g, &mut stash);
            for work in &stash {
                report.add_discarded(work.name());
            }
            self.notify_done(&mut g);
        }
        for work in stash {
            self.release(work);
        }
        report
    }

    /// Discards every listed run (lock held, inbox emptied), into `stash`.
    fn discard_all_listed(&self, g: &mut QueueState, stash: &mut Vec<Arc<WorkInner>>) {
        self.unshelve(g);
        for list in g.lists.take_all() {
            for entry in list {
                stash.push(self.discard_listed(g, entry));
            }
        }
    }

    /// Takes a waiting run off the lists for good (lock held, entry already off
    /// its list): the item goes idle and unbound. Returns the list's reference,
    /// to drop with no lock held.
    fn discard_listed(&self, g: &mut QueueState, entry: Waiting) -> Arc<WorkInner> {
        let color = entry.color(&g.colors);
        let work = entry.work;
        let mut binding = lock(&work.binding);
        work.state.discard_waiting();
        g.colors.remove(color);
        *binding = None;
        g.disown(work.owner());
        drop(binding);
        work
    }

    /// Fires every item of this queue that waits on the timer: each becomes
    /// runnable now (a run behind one in progress stays behind it). With
    /// `remember`, the tally notes them (a deadline may discard them after all).
    /// Returns the deliveries begun by the time the entries left the wheel.
    fn fire_armed(this: &Arc<Self>, tally: &mut Tally, remember: bool) -> DeliveryMark {
        let mut stash = Vec::new();
        let (owed, mark) = {
            let mut g = this.lock();
            let (entries, mark) = this.timer.remove_queue(this.id);
            let now = super::stamp(Instant::now());
            for (key, work) in &entries {
                let mut binding = lock(&work.binding);
                let s = work.state.peek();
                if !s.is_armed()
                    || !s.is_on(this.id)
                    || work.wait_tag.load(Ordering::Relaxed) != key.to_bits()
                {
                    continue;
                }
                if s.is_canceling() {
                    // A cancel_sync is under way: it wins.
                    stash.push(this.take_pending(&mut g, &mut binding, work).1);
                    tally.report.add_armed_cancelled();
                    continue;
                }
                work.state.fire();
                if remember {
                    tally.note_fired(work);
                }
                this.make_runnable(&mut g, work, s.is_running(), now);
                tally.report.add_armed_run();
            }
            stash.extend(entries.into_iter().map(|(_, w)| Some(w)));
            (g.sizing.settle_owed(), mark)
        };
        if owed {
            Self::settle(this);
        }
        // The wheel's references, one at a time, outside every lock.
        for work in stash.into_iter().flatten() {
            this.release(work);
        }
        mark
    }

    /// Cancels every item of this queue that waits on the timer, counting each.
    /// Returns the deliveries begun by the time the entries left the wheel.
    fn disarm_all(&self, report: &mut ShutdownReport) -> DeliveryMark {
        let mut stash = Vec::new();
        let mark = {
            let mut g = self.lock();
            let (entries, mark) = self.timer.remove_queue(self.id);
            for (key, work) in &entries {
                let mut binding = lock(&work.binding);
                let s = work.state.peek();
                if s.is_armed()
                    && s.is_on(self.id)
                    && work.wait_tag.load(Ordering::Relaxed) == key.to_bits()
                {
                    stash.push(self.take_pending(&mut g, &mut binding, work).1);
                    report.add_armed_cancelled();
                }
            }
            stash.extend(entries.into_iter().map(|(_, w)| Some(w)));
            mark
        };
        // The wheel's references are dropped here, outside every lock, one at a
        // time: two closures whose drop panics are two caught panics, not an
        // abort (a panic while a batch unwinds).
        for work in stash.into_iter().flatten() {
            self.release(work);
        }
        mark
    }
}
