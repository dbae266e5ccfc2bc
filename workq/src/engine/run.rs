//! The run-one-item step, written once for every consumer: take the item off its
//! list and clear `PENDING` (under the lock), run it with panics caught (no lock),
//! then clear `RUNNING` and put it back if it was queued during the run (under the
//! lock). And the consumer loop that repeats it.

use super::{QueueGuard, QueueState, RunQueue};
use crate::engine::item::handle::WorkCtx;
use crate::engine::item::state::RunEnd;
use crate::engine::item::{Class, WorkInner};
use crate::support::current::RunMark;
use crate::support::panic;
use crate::support::sync::{lock, Arc, Ordering};
use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Instant;

/// What the caller of a run's end does next: whether an item the run's end puts
/// back on the list (queued again during its run) needs a thread found for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Then {
    /// The caller takes its next item under the same lock (the consumer loop, a
    /// pump): it is the thread for the item put back (or for an earlier waiting
    /// item, whose own thread then takes this one). No other thread is woken, and
    /// none started, for it: a pool whose item keeps queueing itself no longer
    /// wakes a second thread after every run.
    TakeNext,
    /// Like `TakeNext`, and when the item put back is the one the caller would
    /// take next anyway (nothing else waits and a run may start), its next run
    /// starts at once, in place: the caller runs it again (the consumer loop). The
    /// outcome is the same as putting it on the list and taking it off under the
    /// same lock, without the list entry, a second RMW of the state word, the
    /// clock read and the handle's reference-count traffic.
    Again,
    /// The caller stops after this run (or releases the lock first): an item put
    /// back gets a thread like any queued item.
    Stop,
}

/// When a run's end counts the run as done for flushes (`RunQueue::finish`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Done {
    /// At the end itself.
    Now,
    /// Later, by `count_done`, once its panic has been reported (a flush returns
    /// only after the panic hook).
    AfterReport,
}

impl RunQueue {
    /// Takes the next item off its list and marks it running, on consumer `slot`;
    /// with latency histograms, returns it with the stamp at which its run became
    /// runnable (`mark_queued`; its wait ends when the run starts:
    /// `run_and_finish`).
    /// `PENDING` is cleared here, before the run starts: a queue call from now on
    /// adds a run.
    /// No clock is read (see `Slot::current`).
    pub(crate) fn start_next(
        &self,
        g: &mut QueueState,
        slot: Option<usize>,
    ) -> Option<(Arc<WorkInner>, Option<u64>)> {
        let (entry, very_slow) = match g.pick() {
            Some(next) => next,
            // The lists ran dry: take the inbox's items in one batch.
            None if self.unshelve(g) => g.pick()?,
            None => return None,
        };
        let color = entry.color(&g.colors);
        // With latency histograms: when the run became runnable (`mark_queued`).
        let listed = self
            .latency
            .is_some()
            .then(|| entry.work.wait_tag.load(Ordering::Relaxed));
        let work = entry.work;
        work.state.start_run();
        self.begin(g, &work, color, very_slow, slot);
        Some((work, listed))
    }

    /// The bookkeeping of a run that starts (lock held, `PENDING` just cleared and
    /// `RUNNING` set): its flush colour, the item's and the queue's counts, the
    /// consumer's slot in the runqueue view.
    fn begin(
        &self,
        g: &mut QueueState,
        work: &Arc<WorkInner>,
        color: u64,
        very_slow: bool,
        slot: Option<usize>,
    ) {
        if work.run_color.load(Ordering::Relaxed) != color {
            // Skipped when unchanged: a producer queueing this item reads its line.
            work.run_color.store(color, Ordering::Relaxed);
        }
        // The colour of a next run queued without the lock during this one
        // (`finish`); a locked queue call overwrites it with its own.
        let current = g.colors.current();
        if work.color.load(Ordering::Relaxed) != current {
            work.color.store(current, Ordering::Relaxed);
        }
        // One writer at a time, so no RMW: runs start only under the lock of the
        // queue the item is bound to, and a move to another queue goes through
        // RMWs of the state word, which order this store before the next one.
        let started = work.started.load(Ordering::Relaxed);
        work.started.store(started + 1, Ordering::Relaxed);
        g.runs.start(very_slow);
        g.count_start();
        if g.runs.limits().max_waiting != usize::MAX {
            // A bounded queue: room for one more waiting item.
            self.notify_done(g);
        }
        crate::support::log::event!(
            trace,
            "start '{}' on '{}'",
            work.name().unwrap_or("<unnamed>"),
            self.name
        );
        if let Some(s) = g.threads.slot_mut(slot) {
            s.start(work);
        }
    }

    /// Runs a started item once, without the lock. A panic is caught and returned,
    /// to be reported (`report_panic`) once the run is finished
    /// (`run_and_finish` counts the run and the panic).
    pub(crate) fn run(this: &Arc<Self>, work: &Arc<WorkInner>) -> Option<Box<dyn Any + Send>> {
        let ctx = WorkCtx { work, queue: this };
        let outcome = {
            let _mark = RunMark::enter(WorkInner::addr(work), this.id);
            catch_unwind(AssertUnwindSafe(|| work.call(&ctx)))
        };
        outcome.err()
    }

    /// Drops a handle of an item on a workq thread: a panic in the closure's `Drop`
    /// is caught and reported through the queue's hook.
    pub(crate) fn release<T>(&self, value: T) {
        panic::drop_caught(value, &self.on_panic, &self.name);
    }

    /// Passes a caught panic to the queue's hook. Called with no lock held, after
    /// `finish`: the hook sees the item idle (or queued again), so it may flush or
    /// cancel it.
    pub(crate) fn report_panic(&self, work: &WorkInner, payload: Box<dyn Any + Send>) {
        panic::report(&self.on_panic, work.name(), &self.name, payload);
    }

    /// Ends a run (lock held): clears `RUNNING`; if the item was queued during the
    /// run, puts it back on its list (or leaves it to the timer, if armed),
    /// otherwise returns it to idle and unbinds it.
    /// With `Done::AfterReport` the run is not yet counted as done for flushes
    /// (the caller reports a panic first, then calls `count_done`).
    /// Returns whether the item's next run started in place (`Then::Again`).
    pub(crate) fn finish(
        &self,
        g: &mut QueueState,
        work: &Arc<WorkInner>,
        slot: Option<usize>,
        done: Done,
        then: Then,
    ) -> bool {
        let very_slow = work.class == Class::VerySlow && self.elastic().is_some();
        g.runs.end(very_slow);
        crate::support::log::event!(
            trace,
            "finish '{}' on '{}'",
            work.name().unwrap_or("<unnamed>"),
            self.name
        );
        let run_color = work.run_color.load(Ordering::Relaxed);
        if done == Done::Now {
            // Before the item can go idle and be queued elsewhere: a flush there
            // must not see this run's count arrive late. (Its flush colour is
            // uncounted below, under the same lock.)
            work.finished.fetch_add(1, Ordering::Relaxed);
        }
        // Under the queue's lock only three things can change the state word now:
        // the cancel and disable counters, and a queue call that adds the next run
        // without the lock (`UNCOUNTED`). A run queued again during this one
        // keeps the queue bits, so it needs no binding lock (one line fewer of
        // writes for a producer that keeps queueing the item); returning to idle
        // clears them, under the binding lock.
        let mut binding = None;
        let mut takes_next = None;
        let mut cur = work.state.peek();
        let end = loop {
            if !cur.is_pending() && binding.is_none() {
                binding = Some(lock(&work.binding));
                // The word may have changed meanwhile.
                cur = work.state.peek();
                continue;
            }
            let again = then == Then::Again
                && cur.is_pending()
                && !cur.is_armed()
                && *takes_next.get_or_insert_with(|| self.would_take_next(g, very_slow));
            let end = if again {
                // Still RUNNING: the next run starts here (`begin` below).
                RunEnd::Again
            } else if cur.is_pending() {
                RunEnd::Requeue
            } else {
                RunEnd::Idle
            };
            match work.state.end_run(cur, end) {
                Ok(()) => break end,
                Err(now) => cur = now,
            }
        };
        let again = end == RunEnd::Again;
        if cur.is_uncounted() {
            // The next run was added without the lock during this one: it is
            // counted under the colour current when this run began (`begin`),
            // which this run's own count keeps from being done. A flush that
            // began after the queue call waits for it; one that began during this
            // run may wait for it too (one run, never more: it cannot livelock).
            g.colors.add_at(work.color.load(Ordering::Relaxed));
            g.count_rerun();
        }
        if done == Done::Now {
            // The waiters it can concern are woken at the end (`notify_run_end`).
            g.colors.remove(run_color);
        }
        if !again {
            if let Some(s) = g.threads.slot_mut(slot) {
                s.end();
            }
        }
        if !cur.is_pending() {
            // The binding stays (see `WorkInner::binding`): with the queue bits
            // cleared it no longer counts.
            g.disown(work.owner());
        } else if again {
            self.begin(g, work, work.color.load(Ordering::Relaxed), very_slow, slot);
        } else if !cur.is_armed() {
            let color = work.color.load(Ordering::Relaxed);
            let now = super::stamp(Instant::now());
            match then {
                Then::TakeNext | Then::Again => self.push_listed(g, work.clone(), color, now),
                Then::Stop => self.push_runnable(g, work.clone(), color, now),
            }
        }
        drop(binding);
        self.notify_run_end(g, work);
        again
    }

    /// Whether an item whose run just ended and that was queued again during it
    /// would be the next item its consumer takes (lock held): nothing waits on the
    /// lists or in the inbox (whose items go first), and `pick` would let a run
    /// of its kind start.
    fn would_take_next(&self, g: &mut QueueState, very_slow: bool) -> bool {
        self.unshelve(g);
        g.lists_empty() && g.may_start(very_slow)
    }

    /// Counts a finished run of `work` of flush colour `color` for item and
    /// queue flushes, and wakes the waiters it can concern.
    pub(crate) fn count_done(&self, g: &mut QueueState, work: &WorkInner, color: u64) {
        work.finished.fetch_add(1, Ordering::Relaxed);
        g.colors.remove(color);
        self.notify_run_end(g, work);
    }

    /// Runs a started item (no lock held on entry) and finishes it; a panic is
    /// reported once the item is finished, with no lock held. Returns the lock,
    /// and whether the item's next run has started in place (only with
    /// `Then::Again`, and never after a panic: the caller then runs it again).
    /// `listed`: the stamp at which the run became runnable (`None` without
    /// latency histograms, and for a run started in place), for its wait.
    #[inline(always)]
    pub(crate) fn run_and_finish<'a>(
        this: &'a Arc<Self>,
        work: &Arc<WorkInner>,
        slot: Option<usize>,
        then: Then,
        listed: Option<u64>,
    ) -> (QueueGuard<'a>, bool) {
        // Timed on the queue that owns the item: a workqueue's run inside its
        // pump counts on the workqueue (the pump's run on the pool). One clock
        // read at the start (the wait's end too) and one at the end, no lock held.
        let panicked = match &this.latency {
            None => Self::run(this, work),
            Some(latency) => {
                let started = Instant::now();
                if let Some(listed) = listed {
                    latency
                        .wait
                        .record(super::stamp(started).saturating_sub(listed));
                }
                let panicked = Self::run(this, work);
                latency.run.record_duration(started.elapsed());
                panicked
            }
        };
        let mut g = this.lock_consumer();
        g.count_run(panicked.is_some());
        let mut again = false;
        match panicked {
            None => again = this.finish(&mut g, work, slot, Done::Now, then),
            Some(payload) => {
                // The hook sees the item idle (or queued again), and flushes
                // return only once the report is made.
                let color = work.run_color.load(Ordering::Relaxed);
                // The lock is released for the report: a run put back gets a
                // thread now.
                let _ = this.finish(&mut g, work, slot, Done::AfterReport, Then::Stop);
                drop(g);
                this.report_panic(work, payload);
                g = this.lock();
                this.count_done(&mut g, work, color);
                // The item may have moved to another queue meanwhile: its item
                // flushes wait there, for this count too.
                if let Some(other) = work.bound_queue() {
                    if !Arc::ptr_eq(&other, this) {
                        drop(g);
                        let mut og = other.lock();
                        other.notify_done(&mut og);
                        drop(og);
                        g = this.lock();
                    }
                }
            }
        }
        (g, again)
    }

    /// The consumer loop of a thread (`slot`: its place in the runqueue view): runs
    /// items until the queue stops, or, on an elastic queue, until the thread has
    /// been idle too long or the queue has more threads than allowed.
    pub(crate) fn consume(this: &Arc<Self>, slot: Option<usize>) {
        let idle_timeout = this.elastic().map(|e| e.settings.idle_timeout);
        crate::support::current::become_consumer(this.id);
        let mut g = this.lock_consumer();
        this.arrived(&mut g);
        // Before sleeping, a consumer that ran out of work watches the queue for a
        // moment without the lock: under a steady stream it takes the next item
        // without a sleep and a wake-up (a futex call for the producer). Not after
        // an item it was woken for alone (one push while it slept): items then
        // come further apart than a watch lasts, and a thread that spins before
        // every sleep is no longer let to preempt the producer when it is woken,
        // which makes the wake-up slower (docs/design-notes.md). A consumer woken into a
        // stream (several pushes while it slept) keeps watching.
        let mut may_spin = true;
        let mut woken_alone = false;
        // Where this consumer sleeps (see `QueueState::parked`).
        let park = Arc::new(crate::support::sync::Condvar::new());
        // The item of the previous run, dropped outside the lock: dropping the last
        // handle runs the closure's destructor, which is user code.
        let mut last: Option<Arc<WorkInner>> = None;
        // An item whose next run its last run's end started in place.
        let mut again: Option<Arc<WorkInner>> = None;
        loop {
            // Too many threads (the maximum was lowered): leave the rest to others
            // (after the run started here, if any).
            if last.is_none()
                && again.is_none()
                && this.elastic().is_some()
                && g.threads.count() > g.sizing.max()
            {
                break;
            }
            let restart = again.take();
            let in_place = restart.is_some();
            let next = match restart {
                Some(work) => Some((work, None)),
                None => this.start_next(&mut g, slot),
            };
            if let Some((work, listed)) = next {
                // Items left behind with no thread for them: this thread starts
                // one before its run (pools; see `grow.rs`). Not after a run
                // started in place: its run's end found nothing else waiting,
                // under this same lock.
                let start = if in_place {
                    None
                } else {
                    Self::grow_on_take(this, &mut g)
                };
                drop(g);
                if let Some(start) = start {
                    let _ = Self::start_reserved(this, start);
                }
                this.release(last.take());
                let restarted;
                (g, restarted) = Self::run_and_finish(this, &work, slot, Then::Again, listed);
                if restarted {
                    again = Some(work);
                } else {
                    last = Some(work);
                }
                may_spin = !woken_alone;
                woken_alone = false;
                continue;
            }
            if last.is_some() {
                drop(g);
                this.release(last.take());
                g = this.lock_consumer();
                continue;
            }
            if g.life.stopping() && g.lists_empty() {
                break;
            }
            if this.should_retire(&g, false) {
                break;
            }
            if may_spin && !g.life.stopping() {
                may_spin = false;
                let seen = this.activity();
                g.sleepers.begin_spin();
                drop(g);
                spin_until_changed(this, seen);
                g = this.lock_consumer();
                g.sleepers.end_spin();
                continue;
            }
            g.sleepers.park(&park);
            let before = Instant::now();
            let pushed = this.activity();
            g = g.wait(&park, idle_timeout);
            g.sleepers.unpark(&park);
            woken_alone = this.activity().wrapping_sub(pushed) <= 1;
            let timed_out = idle_timeout.is_some_and(|t| before.elapsed() >= t);
            if this.should_retire(&g, timed_out) {
                break;
            }
        }
        g.threads.exited(slot);
        if let Some(elastic) = this.elastic() {
            if g.threads.count() == 0 && !g.life.stopping() {
                // A minimum of 0 let the last thread go: the pool is unused again,
                // and the next queue call starts a thread itself (`start_minimum`).
                elastic
                    .started
                    .store(false, std::sync::atomic::Ordering::Release);
            }
        }
        this.unshelve(&mut g);
        if g.has_runnable() {
            // Leaving with work waiting (the maximum was lowered): hand it on.
            this.wake_or_grow(&mut g);
        }
        if this.elastic().is_some() {
            this.counters.threads_exited.fetch_add(1, Ordering::Relaxed);
            crate::support::log::event!(
                debug,
                "thread {:?} of '{}' exits ({} left)",
                slot,
                this.name,
                g.threads.count()
            );
        }
        this.notify_done(&mut g);
    }

    /// Runs the next item if there is one, without blocking. For models and tests.
    #[cfg(test)]
    pub(crate) fn run_one(this: &Arc<Self>) -> bool {
        let (work, listed) = {
            let mut g = this.lock();
            match this.start_next(&mut g, None) {
                Some(w) => w,
                None => return false,
            }
        };
        drop(Self::run_and_finish(this, &work, None, Then::Stop, listed).0);
        drop(work);
        true
    }
}

/// Watches the queue's `activity` for a change from `seen` for a few microseconds (about
/// 150 pause instructions), without yielding: a yield per round made an idle consumer burn
/// ~60 µs of CPU each time the queue ran dry, and a sleep is cheaper than that.
fn spin_until_changed(queue: &RunQueue, seen: u64) {
    // In the models a short watch covers the same interleavings.
    let (spins, yields) = if cfg!(any(loom, shuttle)) {
        (1, 1)
    } else {
        (SPINS, 0)
    };
    for i in 0..spins + yields {
        if queue.activity() != seen {
            return;
        }
        if i < spins {
            std::hint::spin_loop();
        } else {
            crate::support::sync::yield_now();
        }
    }
}

/// Rounds of `spin_until_changed` on real threads.
const SPINS: u32 = 160;

#[cfg(all(test, not(any(loom, shuttle))))]
mod tests {
    use super::RunQueue;
    use crate::engine::ManualClock;
    use crate::front::work::Work;
    use crate::support::sync::{Arc, Mutex};
    use std::thread::JoinHandle;
    use std::time::{Duration, Instant};

    /// A test queue with `n` consumer threads running its consumer loop.
    fn with_consumers(name: &str, n: usize) -> (Arc<RunQueue>, Vec<JoinHandle<()>>) {
        let q = RunQueue::for_test(name, n, ManualClock::new().timer);
        let consumers = (0..n)
            .map(|_| {
                let q = q.clone();
                std::thread::spawn(move || RunQueue::consume(&q, None))
            })
            .collect();
        (q, consumers)
    }

    /// Stops `q` and joins its consumer threads.
    fn stop(q: &RunQueue, consumers: Vec<JoinHandle<()>>) {
        q.stop_for_test();
        for c in consumers {
            c.join().expect("consumer");
        }
    }

    /// Waits (at most 10 s) until all `n` consumers of `q` sleep.
    fn all_asleep(q: &RunQueue, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while q.lock().sleepers.idle() < n {
            assert!(Instant::now() < deadline, "consumers never went to sleep");
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Wake-ups go to the consumer that slept last: an item queued again and
    /// again on an idle three-thread queue runs on one thread every time (the
    /// others stay asleep, and a pool's would reach their idle timeout).
    #[test]
    fn the_consumer_that_slept_last_is_woken_first() {
        let (q, consumers) = with_consumers("lifo", 3);
        let ran_on = Arc::new(Mutex::new(Vec::new()));
        let r = ran_on.clone();
        let work =
            Work::new(move |_| crate::support::sync::lock(&r).push(std::thread::current().id()));
        for _ in 0..20 {
            all_asleep(&q, 3);
            RunQueue::enqueue(&q, &work.inner).expect("queue");
            RunQueue::flush_item(&work.inner).expect("flush");
        }
        stop(&q, consumers);
        let ran_on = crate::support::sync::lock(&ran_on);
        assert_eq!(ran_on.len(), 20);
        assert!(
            ran_on.iter().all(|t| *t == ran_on[0]),
            "runs spread over threads: {ran_on:?}"
        );
    }

    /// A run's end that puts its item back (queued again during the run) wakes no
    /// other consumer: the thread that ran it takes it next (`Then::TakeNext`).
    #[test]
    fn an_item_put_back_at_the_end_of_its_run_wakes_no_other_consumer() {
        let (q, consumers) = with_consumers("take-next", 2);
        let runs = Arc::new(Mutex::new(0u32));
        let r = runs.clone();
        let work = Work::new(move |ctx| {
            let mut n = crate::support::sync::lock(&r);
            *n += 1;
            if *n < 10 {
                ctx.requeue().expect("requeue");
            }
        });
        all_asleep(&q, 2);
        let before = crate::support::sync::lock(&q.state).sleepers.wakeups();
        RunQueue::enqueue(&q, &work.inner).expect("queue");
        let watchdog = Instant::now() + Duration::from_secs(10);
        while *crate::support::sync::lock(&runs) < 10 {
            assert!(Instant::now() < watchdog, "the runs did not finish");
            std::thread::sleep(Duration::from_millis(1));
        }
        RunQueue::flush_item(&work.inner).expect("flush");
        let wakeups = crate::support::sync::lock(&q.state).sleepers.wakeups() - before;
        stop(&q, consumers);
        assert_eq!(*crate::support::sync::lock(&runs), 10);
        assert_eq!(
            wakeups, 1,
            "only the first queue call should wake a consumer"
        );
    }
}
