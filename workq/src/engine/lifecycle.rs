//! A queue's life beyond single items: flush, drain, freeze / thaw, and the
//! orderly shutdown that front ends run on destroy and on drop of their last handle.

use super::{QueueGuard, QueueState, RunQueue, Waiting};
use crate::current;
use crate::error::Error;
use crate::shutdown::{ArmedAtShutdown, Plan, ShutdownReport};
use crate::state::{self, ARMED, CANCEL_MASK, PENDING, RUNNING, UNCOUNTED};
use crate::sync::{lock, Arc, Ordering};
use crate::work::WorkInner;
use std::time::Instant;

/// What a shutdown did so far.
#[derive(Default)]
pub(crate) struct Tally {
    pub(crate) report: ShutdownReport,
    /// Items fired at the shutdown (by address), when a deadline may discard
    /// them after all.
    fired: std::collections::HashSet<usize>,
}

impl RunQueue {
    pub(crate) fn refuse_own(&self, what: &'static str) -> Result<(), Error> {
        // From one of the queue's own items, or from one of its threads outside a
        // run (a panic hook): the wait could need this very thread.
        if current::running_on(self.id) || current::consuming(self.id) {
            Err(Error::WouldDeadlock { what })
        } else {
            Ok(())
        }
    }

    /// Waits until every run scheduled before the call has finished or been
    /// cancelled. Returns whether it had to wait.
    pub(crate) fn flush(&self) -> Result<bool, Error> {
        self.refuse_own("flushing a queue from one of its own items")?;
        let g = self.lock();
        Ok(self.flush_locked(g).1)
    }

    fn flush_locked<'a>(&'a self, mut g: QueueGuard<'a>) -> (QueueGuard<'a>, bool) {
        let color = g.colors.cut();
        let mut waited = false;
        while !g.colors.is_done(color) {
            waited = true;
            g = self.wait_done(g);
        }
        (g, waited)
    }

    /// Flushes until nothing is pending or running. While it runs, only the queue's
    /// own items may queue onto it.
    pub(crate) fn drain(&self) -> Result<(), Error> {
        self.refuse_own("draining a queue from one of its own items")?;
        let mut g = self.lock();
        g.draining += 1;
        let mut g = self.drain_locked(g);
        g.draining -= 1;
        Ok(())
    }

    fn drain_locked<'a>(&'a self, mut g: QueueGuard<'a>) -> QueueGuard<'a> {
        loop {
            g = self.flush_locked(g).0;
            if g.colors.outstanding() == 0 {
                return g;
            }
        }
    }

    /// Stops consumers from taking items and waits for the runs in progress.
    pub(crate) fn freeze(&self) -> Result<(), Error> {
        self.check_freezable()?;
        self.refuse_own("freezing a queue from one of its own items")?;
        let mut g = self.lock();
        g.frozen = true;
        while g.running > 0 {
            g = self.wait_done(g);
        }
        Ok(())
    }

    fn check_freezable(&self) -> Result<(), Error> {
        if self.freezable {
            Ok(())
        } else {
            Err(Error::NotFreezable {
                queue: self.name.to_string(),
            })
        }
    }

    /// Lets consumers take items again.
    pub(crate) fn thaw(this: &Arc<Self>) -> Result<(), Error> {
        this.check_freezable()?;
        {
            let mut g = this.lock();
            if g.frozen {
                g.frozen = false;
                // For the stall watchdog: the time frozen is not a stall.
                g.reset_quiet(Instant::now());
                this.wake_all_consumers(&mut g);
                if g.has_runnable()
                    && g.idle_consumers == 0
                    && (this.elastic.is_some() || this.feeder.is_some())
                {
                    g.settle_owed = true;
                }
            }
        }
        Self::settle(this);
        Ok(())
    }

    pub(crate) fn is_frozen(&self) -> bool {
        self.lock().frozen
    }

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
        tally.report
    }

    /// The first part of a shutdown, which never blocks for long: closes the queue,
    /// thaws it, and handles the items armed now (the call that closes the queue
    /// only). Returns what it cancelled and fired.
    pub(crate) fn begin_shut_down(this: &Arc<Self>, plan: Plan) -> Tally {
        let (owed, first) = {
            let mut g = this.lock();
            let first = !g.closed;
            g.closed = true;
            if plan.expired() {
                // No time left (`shutdown_now`): no run starts from now on.
                g.frozen = true;
            } else if g.frozen {
                // Thaw: what was held runs now (a fed queue's pumps are kicked).
                g.frozen = false;
                if g.has_runnable() && (this.elastic.is_some() || this.feeder.is_some()) {
                    g.settle_owed = true;
                }
            }
            if this.feeder.is_some() && g.has_runnable() {
                // Kick the pumps: if the pool has stopped (and discarded them), the
                // items this queue accepted run on the caller's thread.
                g.settle_owed = true;
            }
            this.wake_all_consumers(&mut g);
            this.needed_cv.notify_all();
            (g.settle_owed, first)
        };
        if owed {
            Self::settle(this);
        }
        let mut tally = Tally::default();
        if first && plan.armed == ArmedAtShutdown::RunNow && !plan.expired() {
            Self::fire_armed(this, &mut tally, plan.until.is_some());
        } else {
            this.disarm_all(&mut tally.report);
        }
        tally
    }

    /// Whether a shutdown's drain is over: nothing of the queue waits or runs.
    pub(crate) fn drained(g: &QueueState) -> bool {
        g.colors.outstanding() == 0
    }

    /// The last part of a shutdown, once drained (or not waiting): cancels what
    /// the queue's own items armed meanwhile, stops the consumers and joins them.
    pub(crate) fn end_shut_down(&self, on_consumer: bool, report: &mut ShutdownReport) {
        // Items armed by the queue's own items while it drained.
        self.disarm_all(report);
        {
            let mut g = self.lock();
            g.stopping = true;
            g.frozen = false;
            self.wake_all_consumers(&mut g);
            self.needed_cv.notify_all();
        }
        // Armed by an item that was still running (a consumer's own shutdown).
        self.disarm_all(report);
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
                g.waiters += 1;
                g = g.wait(&self.done_cv, Some(deadline - now));
                g.waiters -= 1;
            }
            if Self::drained(&g) {
                return g;
            }
        }
        // Past the deadline: no run starts from now on (a frozen queue starts
        // none, also not a run queued again in place), what waits is discarded,
        // and each run's end is awaited, discarding what it put back.
        g.frozen = true;
        let mut stash = Vec::new();
        loop {
            let from = stash.len();
            self.discard_all_listed(&mut g, &mut stash);
            for work in &stash[from..] {
                tally.report.add_discarded(work.name());
                if tally.fired.remove(&WorkInner::addr(work)) {
                    tally.report.fired_then_discarded();
                }
            }
            self.notify_done(&mut g);
            if g.running == 0 {
                break;
            }
            g = self.wait_done(g);
        }
        // Stopped before the thaw: no consumer takes anything again, and every
        // queue call is refused.
        g.stopping = true;
        g.frozen = false;
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
        let Some(feeder) = &self.feeder else {
            return report;
        };
        if !feeder.pool.lock().stopping {
            return report;
        }
        let mut stash = Vec::new();
        {
            let mut g = self.lock();
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
        for list in [
            std::mem::take(&mut g.hi),
            std::mem::take(&mut g.vslow),
            std::mem::take(&mut g.list),
        ] {
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
        let mut cur = work.state.load(Ordering::Relaxed);
        loop {
            debug_assert_eq!(cur & (PENDING | RUNNING | ARMED), PENDING);
            let new = state::with_queue(cur & !(PENDING | UNCOUNTED), 0);
            match work
                .state
                .compare_exchange(cur, new, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => break,
                Err(now) => cur = now,
            }
        }
        g.colors.remove(color);
        *binding = None;
        g.disown(work.owner.load(Ordering::Relaxed));
        drop(binding);
        work
    }

    /// Fires every item of this queue that waits on the timer: each becomes
    /// runnable now (a run behind one in progress stays behind it).
    /// With `remember`, their addresses go into `tally.fired` (a deadline may
    /// discard them after all).
    fn fire_armed(this: &Arc<Self>, tally: &mut Tally, remember: bool) {
        let mut stash = Vec::new();
        let owed = {
            let mut g = this.lock();
            let entries = this.timer.remove_queue(this.id);
            let now = super::stamp(Instant::now());
            for (key, work) in &entries {
                let mut binding = lock(&work.binding);
                let s = work.state.load(Ordering::Relaxed);
                if s & ARMED == 0
                    || state::queue_of(s) != this.id
                    || work.wait_tag.load(Ordering::Relaxed) != key.to_bits()
                {
                    continue;
                }
                if s & CANCEL_MASK != 0 {
                    // A cancel_sync is under way: it wins.
                    stash.push(this.take_pending(&mut g, &mut binding, work).1);
                    tally.report.add_armed_cancelled();
                    continue;
                }
                work.state.fetch_and(!ARMED, Ordering::AcqRel);
                if remember {
                    tally.fired.insert(WorkInner::addr(work));
                }
                this.make_runnable(&mut g, work, s & RUNNING != 0, now);
                tally.report.add_armed_run();
            }
            stash.extend(entries.into_iter().map(|(_, w)| Some(w)));
            g.settle_owed
        };
        if owed {
            Self::settle(this);
        }
        // The wheel's references, one at a time, outside every lock.
        for work in stash.into_iter().flatten() {
            this.release(work);
        }
    }

    /// Cancels every item of this queue that waits on the timer, counting each.
    fn disarm_all(&self, report: &mut ShutdownReport) {
        let mut stash = Vec::new();
        {
            let mut g = self.lock();
            let entries = self.timer.remove_queue(self.id);
            for (key, work) in &entries {
                let mut binding = lock(&work.binding);
                let s = work.state.load(Ordering::Relaxed);
                if s & ARMED != 0
                    && state::queue_of(s) == self.id
                    && work.wait_tag.load(Ordering::Relaxed) == key.to_bits()
                {
                    stash.push(self.take_pending(&mut g, &mut binding, work).1);
                    report.add_armed_cancelled();
                }
            }
            stash.extend(entries.into_iter().map(|(_, w)| Some(w)));
        }
        // The wheel's references are dropped here, outside every lock, one at a
        // time: two closures whose drop panics are two caught panics, not an
        // abort (a panic while a batch unwinds).
        for work in stash.into_iter().flatten() {
            self.release(work);
        }
    }
}
