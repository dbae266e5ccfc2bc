//! The one engine behind every front end.
//!
//! A [`RunQueue`] is a FIFO list of pending items with the lock, condition
//! variables and flush colours around it. It owns the item state machine's
//! transitions (`enqueue` here, the run step in `run.rs`, cancel and item flush in
//! `cancel.rs`). [`Worker`](crate::Worker) is one consumer thread on a `RunQueue`;
//! later front ends (pools, workqueues) are more consumers on the same code.

mod batch;
mod call;
mod cancel;
mod clock;
mod colors;
mod delay;
mod elastic;
mod feeder;
mod grow;
mod guard;
mod inbox;
pub(crate) mod item;
pub(crate) mod latency;
mod lifecycle;
mod owner_cancel;
mod queue_state;
pub(crate) mod registry;
mod run;
mod shutdown;
pub(crate) mod timer;
pub(crate) mod waiters;

pub(crate) use call::{Limit, OwnerId, QueueCall};
pub(crate) use cancel::{flushed, not_running};
pub(crate) use clock::ensure_driven;
pub use clock::ManualClock;
pub(crate) use elastic::{Elastic, ElasticSettings, Starter};
pub use elastic::{SpawnFailure, SpawnHook, Spawner};
pub(crate) use feeder::{FedSettings, Feeder};
pub(crate) use guard::QueueGuard;
pub(crate) use owner_cancel::OwnerCancel;
pub(crate) use queue_state::{Counters, Counts, Limits, QueueState, Waiting};
use queue_state::{Sizing, Threads};

use crate::engine::item::handle::Queued;
use crate::engine::item::state::{Answer, Observed};
use crate::engine::item::WorkInner;
use crate::engine::timer::{Timer, TimerKey};
use crate::error::Error;
use crate::support::current;
use crate::support::padded::Padded;
use crate::support::panic::PanicHook;
use crate::support::sync::{lock, Arc, AtomicU64, Condvar, Mutex, Ordering};
use std::time::Instant;

/// Source of queue ids (0 means "no queue").
static NEXT_QUEUE_ID: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(1);

fn next_queue_id() -> u32 {
    loop {
        let id = NEXT_QUEUE_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if id != 0 {
            return id;
        }
    }
}

/// A FIFO run queue: the engine shared by every front end.
pub(crate) struct RunQueue {
    /// Unique, non-zero: the id stored in the state word of bound items.
    pub(crate) id: u32,
    pub(crate) name: std::sync::Arc<str>,
    /// One consumer thread: an item of this queue waiting for another would deadlock.
    pub(crate) single_consumer: bool,
    /// Whether already-pending queue calls are counted (`Stats::merged`): the
    /// count costs a thread-local store on the coalesced path, so it is asked
    /// for, not paid by default (docs/design-notes.md).
    pub(crate) count_merged: bool,
    /// The wait and run-time histograms, on queues built with
    /// `latency_histograms(true)`: they cost clock reads per run, so they are
    /// asked for; `None` is the one check the run path makes otherwise.
    pub(crate) latency: Option<Box<latency::Latencies>>,
    /// Whether `freeze` / `thaw` are allowed.
    pub(crate) freezable: bool,
    pub(crate) on_panic: PanicHook,
    /// Where this queue's delayed items wait.
    pub(crate) timer: Arc<Timer>,
    /// How the queue's items find threads: fixed, elastic or fed.
    mode: Mode,
    pub(crate) counters: Counters,
    /// The queue's lock and what it guards, on cache lines of its own: the
    /// consumers write it at every run, and queue calls that take the inbox
    /// read the fields around it without the lock.
    pub(crate) state: Padded<Mutex<QueueState>>,
    /// Flush, drain, freeze and cancel_sync wait here for runs to end.
    pub(crate) done_cv: Condvar,
    /// Items in `sleep_till_thread_needed` wait here.
    pub(crate) needed_cv: Condvar,
    /// Items put on a run list under the lock so far: idle consumers watch it (and
    /// the inbox's count, `RunQueue::activity`) before sleeping.
    pub(crate) pushes: Padded<AtomicU64>,
    /// Idle items queued without the lock, on their way to the lists.
    pub(crate) inbox: Padded<inbox::Inbox>,
}

/// How to build a [`RunQueue`].
pub(crate) struct QueueConfig {
    pub(crate) name: String,
    pub(crate) single_consumer: bool,
    pub(crate) count_merged: bool,
    /// Whether waits and run times are kept in histograms (`latency.rs`).
    pub(crate) latency_histograms: bool,
    pub(crate) freezable: bool,
    pub(crate) on_panic: PanicHook,
    pub(crate) timer: Arc<Timer>,
    pub(crate) mode: Mode,
    /// At most this many runs at once, and waiting items for bounded calls.
    pub(crate) limits: Limits,
}

/// How a queue's items find threads, with each way's own settings.
pub(crate) enum Mode {
    /// A fixed set of consumers that the front end starts (a worker's one
    /// thread; the models' consumers).
    Fixed {
        /// How many.
        consumers: usize,
    },
    /// Threads started on demand and culled when idle (a pool; `elastic.rs`,
    /// `grow.rs`).
    Elastic {
        sizing: Elastic,
        min: usize,
        max: usize,
        /// The very slow items' share of the threads, in percent.
        very_slow_percent: usize,
    },
    /// No threads of its own: run by pumps queued on a pool (a workqueue;
    /// `feeder.rs`).
    Fed(Feeder),
}

/// A process-wide origin for the ages shown in the runqueue view.
fn origin() -> Instant {
    static ORIGIN: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    *ORIGIN.get_or_init(Instant::now)
}

/// Nanoseconds from the process-wide origin to `t`.
pub(crate) fn stamp(t: Instant) -> u64 {
    u64::try_from(t.saturating_duration_since(origin()).as_nanos()).unwrap_or(u64::MAX)
}

/// The instant of a [`stamp`].
pub(crate) fn unstamp(nanos: u64) -> Instant {
    origin() + std::time::Duration::from_nanos(nanos)
}

impl RunQueue {
    pub(crate) fn new(config: QueueConfig) -> Arc<RunQueue> {
        let (threads, sizing) = match &config.mode {
            Mode::Fixed { consumers } => {
                (*consumers, Sizing::new(*consumers, (*consumers).max(1), 50))
            }
            Mode::Fed(_) => (0, Sizing::new(0, 1, 50)),
            Mode::Elastic {
                min,
                max,
                very_slow_percent,
                ..
            } => (0, Sizing::new(*min, *max, *very_slow_percent)),
        };
        let state = QueueState::new(Threads::with_count(threads), sizing, config.limits);
        // Panic reports carry the panic's location: std gives it to a panic hook
        // only (not under the model checkers, which own their threads' panics).
        #[cfg(not(any(loom, shuttle)))]
        crate::support::panic::install_location_hook();
        let queue = Arc::new(RunQueue {
            id: next_queue_id(),
            name: std::sync::Arc::from(config.name.as_str()),
            single_consumer: config.single_consumer,
            count_merged: config.count_merged,
            latency: config
                .latency_histograms
                .then(|| Box::new(latency::Latencies::new())),
            freezable: config.freezable,
            on_panic: config.on_panic,
            timer: config.timer,
            mode: config.mode,
            counters: Counters::default(),
            state: Padded(Mutex::new(state)),
            done_cv: Condvar::new(),
            needed_cv: Condvar::new(),
            pushes: Padded(AtomicU64::new(0)),
            inbox: Padded(inbox::Inbox::new()),
        });
        #[cfg(not(any(loom, shuttle)))]
        registry::register(&queue);
        queue
    }

    /// The elastic sizing of a pool's queue; `None` for fixed and fed queues.
    #[inline]
    pub(crate) fn elastic(&self) -> Option<&Elastic> {
        match &self.mode {
            Mode::Elastic { sizing, .. } => Some(sizing),
            _ => None,
        }
    }

    /// The feeding of a workqueue's queue; `None` for fixed and elastic queues.
    #[inline]
    pub(crate) fn feeder(&self) -> Option<&Feeder> {
        match &self.mode {
            Mode::Fed(feeder) => Some(feeder),
            _ => None,
        }
    }

    /// A queue with `consumers` fixed consumers (started by the caller) whose
    /// timers `timer` drives: the queues of the models and unit tests.
    #[cfg(test)]
    pub(crate) fn for_test(name: &str, consumers: usize, timer: Arc<Timer>) -> Arc<RunQueue> {
        RunQueue::new(QueueConfig {
            name: name.to_string(),
            single_consumer: consumers == 1,
            count_merged: true,
            latency_histograms: false,
            freezable: false,
            on_panic: crate::support::panic::default_hook(),
            timer,
            mode: Mode::Fixed { consumers },
            limits: Limits::NONE,
        })
    }

    /// Stops the consumer loops of a test queue (they exit once nothing is
    /// runnable).
    #[cfg(test)]
    pub(crate) fn stop_for_test(&self) {
        let mut g = self.lock();
        g.life.stop();
        self.wake_all_consumers(&mut g);
    }

    /// Adds a run slot for a consumer that the front end runs (a worker's
    /// thread, a workqueue's pump or rescuer), named `thread` in the runqueue
    /// view. Returns its number.
    pub(crate) fn add_slot(&self, thread: &str) -> usize {
        self.lock().threads.add_slot(thread)
    }

    /// The queue's limits, as built.
    pub(crate) fn limits(&self) -> Limits {
        self.lock().runs.limits()
    }

    /// Locks the queue; items queued through the inbox are on the lists then.
    pub(crate) fn lock(&self) -> QueueGuard<'_> {
        QueueGuard::lock(self)
    }

    /// Locks the queue for its consumer loop, leaving the inbox alone: the loop
    /// empties it only when the lists run dry (`start_next`), in larger batches.
    pub(crate) fn lock_consumer(&self) -> QueueGuard<'_> {
        QueueGuard::lock_consumer(self)
    }

    /// What a queue call on this queue must answer for an item in state `s`
    /// without changing anything (`Observed::verdict`, shared with `modify`);
    /// `None` when the call has to change the state.
    pub(crate) fn verdict(&self, s: Observed) -> Option<Result<Queued, Error>> {
        s.verdict(self.id).map(|answer| self.answer(answer))
    }

    /// A queue call's result for an answer given without a change of state.
    fn answer(&self, answer: Answer) -> Result<Queued, Error> {
        match answer {
            Answer::Disabled => Err(Error::Disabled),
            Answer::Canceling => Err(Error::Canceling),
            Answer::AlreadyPending => Ok(Queued::AlreadyPending),
            Answer::Busy => Err(self.busy()),
        }
    }

    fn busy(&self) -> Error {
        Error::Busy {
            queue: self.name.to_string(),
        }
    }

    /// Queues `work` now, following the kernel's contract (see `state.rs`).
    #[inline]
    pub(crate) fn enqueue(this: &Arc<Self>, work: &Arc<WorkInner>) -> Result<Queued, Error> {
        Self::enqueue_now(this, work, || QueueCall::NOW)
    }

    /// Queues `work` now, with the settings `call` makes (its owner and limit;
    /// its deadline must be none). `call` is made only when the item is not
    /// already pending: the fast path is the read-modify-write alone, with no
    /// store before it (a store ahead of the locked instruction makes the
    /// instruction wait for it).
    #[inline]
    pub(crate) fn enqueue_now(
        this: &Arc<Self>,
        work: &Arc<WorkInner>,
        call: impl FnOnce() -> QueueCall,
    ) -> Result<Queued, Error> {
        // The fast path: one read-modify-write (`coalesce`: never a load alone,
        // see its docs).
        let seen = work.state.coalesce();
        if seen.is_pending_on(this.id) {
            return Ok(this.already_pending());
        }
        let call = call();
        debug_assert!(!call.is_delayed(), "enqueue_now with a deadline");
        Self::enqueue_slow(this, work, call, seen)
    }

    /// Queues `work` as `call` says: now or armed on the timer for its tick; an
    /// idle item is counted for its owner until it is idle again; the queue's
    /// bound on waiting items honoured as its limit says.
    #[inline]
    pub(crate) fn enqueue_with(
        this: &Arc<Self>,
        work: &Arc<WorkInner>,
        call: QueueCall,
    ) -> Result<Queued, Error> {
        // The fast path: one read-modify-write (`coalesce`: never a load alone,
        // see its docs).
        let seen = match call.due_tick() {
            None => work.state.coalesce(),
            // An arm call mostly finds the item idle, and the slow path changes
            // the word with a compare-exchange under the queue's lock: the RMW is
            // made only where its answer would be "already pending". (A pending
            // run found later, under the lock, is started only under that lock,
            // which orders the caller's writes before it.)
            Some(_) => match work.state.peek() {
                s if s.is_pending() => work.state.coalesce(),
                s => s,
            },
        };
        if seen.is_pending_on(this.id) {
            return Ok(this.already_pending());
        }
        Self::enqueue_slow(this, work, call, seen)
    }

    /// The answer to a queue call that found the item pending here: counted as
    /// a merge if the queue counts them.
    #[inline]
    fn already_pending(&self) -> Queued {
        if self.count_merged {
            current::count_merge(self.id, &self.counters.merged);
        }
        Queued::AlreadyPending
    }

    /// A queue call from the item's own run (`WorkCtx::requeue`). The item runs
    /// on this thread, so its word most likely says running and not pending: a
    /// plain load guesses that, and the compare-exchange that adds the run
    /// (`add_rerun_unlocked`, or the locked path if it fails) checks the guess.
    /// A word that says pending takes the queue call's read-modify-write
    /// (`coalesce`), as every already-pending answer must. One locked
    /// instruction fewer per re-queue than `enqueue`.
    #[inline]
    pub(crate) fn requeue_own(this: &Arc<Self>, work: &Arc<WorkInner>) -> Result<Queued, Error> {
        let guess = work.state.peek();
        if guess.is_pending() {
            return Self::enqueue(this, work);
        }
        Self::enqueue_slow(this, work, QueueCall::NOW, guess)
    }

    /// Everything but the already-pending case of a queue call (out of line, so
    /// that the already-pending path inlines into the caller).
    #[inline(never)]
    fn enqueue_slow(
        this: &Arc<Self>,
        work: &Arc<WorkInner>,
        call: QueueCall,
        seen: Observed,
    ) -> Result<Queued, Error> {
        if let Some(verdict) = this.verdict(seen) {
            return verdict;
        }
        if call.is_plain() && seen.is_running() && !seen.is_pending() && this.admits_everyone() {
            // Running here (the verdict refused a run elsewhere): add the next run
            // without the lock. Its flush colour and rerun count are booked when
            // the run in progress ends (`UNCOUNTED`, see `run::finish`); the
            // compare-exchange fails if that end, a cancel or a disable came first.
            if work.state.add_rerun_unlocked(seen) {
                crate::support::log::event!(
                    trace,
                    "queue '{}' on '{}': Rerun (no lock)",
                    work.name().unwrap_or("<unnamed>"),
                    this.name
                );
                return Ok(Queued::Rerun);
            }
        }
        if call.is_delayed() {
            ensure_driven(&this.timer)?;
        }
        Self::ensure_consumers(this)?;
        let limit = call.limit_kind();
        if limit == Limit::Internal {
            // A pump is not held by a pool with no thread: refused, its queue's
            // rescuer steps in.
            this.require_thread()?;
        }
        this.check_pool()?;
        // The inbox takes idle items only: a running item's call (the re-queue of
        // a coalesced item) does not lock the item and the shelf to find that out.
        if call.is_plain() && seen.is_idle() {
            if let Some(outcome) = Self::shelve(this, work) {
                crate::support::log::event!(
                    trace,
                    "queue '{}' on '{}': {:?} (inbox)",
                    work.name().unwrap_or("<unnamed>"),
                    this.name,
                    outcome
                );
                return Ok(outcome);
            }
        }
        // Read the clock before taking the lock: the critical section stays short.
        // Only a list entry needs the time (an armed item gets it when it fires, a
        // running item's runner puts it on the list); `add_run` reads it under the
        // lock if the item stopped running meanwhile.
        let now = (!call.is_delayed() && !seen.is_running()).then(|| stamp(Instant::now()));
        let (outcome, owed) = {
            let mut g = this.lock();
            if limit == Limit::Internal {
                if g.life.stopping() {
                    return Err(Error::Destroyed {
                        queue: this.name.to_string(),
                    });
                }
            } else {
                this.admit(&g)?;
            }
            if !call.is_delayed() {
                g = this.wait_for_room(g, work, limit)?;
            }
            let mut binding = lock(&work.binding);
            let outcome = Self::add_run(this, &mut g, &mut binding, work, call, now);
            (outcome, g.sizing.settle_owed())
        };
        if owed {
            Self::settle(this);
        }
        outcome
    }

    /// Waits (`Limit::Block`) until the queue has room for `work`, or answers
    /// `Full` (`Limit::Try`); other limits do not wait. Lock held, the caller
    /// admitted; the queue is admitted again after each wait.
    pub(crate) fn wait_for_room<'a>(
        &'a self,
        mut g: QueueGuard<'a>,
        work: &WorkInner,
        limit: Limit,
    ) -> Result<QueueGuard<'a>, Error> {
        if !matches!(limit, Limit::Try | Limit::Block) {
            return Ok(g);
        }
        while self.is_full(&g, work) {
            if limit == Limit::Try {
                return Err(Error::Full {
                    queue: self.name.to_string(),
                    max_waiting: g.runs.limits().max_waiting,
                });
            }
            if current::consuming(self.id) {
                // One of the queue's threads outside a run (a hook): the
                // room it would wait for may need this very thread.
                return Err(Error::WouldDeadlock {
                    what: "waiting for room in a full queue on one of its own threads",
                });
            }
            g = self.wait_done(g);
            self.admit(&g)?;
        }
        Ok(g)
    }

    /// Whether a queue call for `work` must wait for room: the queue's bound on
    /// waiting items is reached, the item is idle (queueing it would add a waiting
    /// item; an item already pending or running never counts), and the caller is
    /// not one of the queue's own items (which never wait for room).
    pub(crate) fn is_full(&self, g: &QueueState, work: &WorkInner) -> bool {
        g.waiting() >= g.runs.limits().max_waiting
            && work.state.read().is_idle()
            && !current::running_on(self.id)
    }

    /// A fed queue refuses work its pool could never run: when the pool is going
    /// away, or has no thread running (unless a rescuer stands by).
    #[inline]
    pub(crate) fn check_pool(&self) -> Result<(), Error> {
        match self.feeder() {
            None => Ok(()),
            Some(f) => self.check_feeding_pool(f),
        }
    }

    fn check_feeding_pool(&self, f: &Feeder) -> Result<(), Error> {
        // The pool's hint says whether it took every thread's calls when its
        // lock was last released (so was neither stopping nor closed then): no
        // lock needed while it does. A destroy that returned released that lock.
        let closing = !f.pool.admits_everyone() && {
            let pg = f.pool.lock();
            pg.life.stopping() || pg.life.closed()
        };
        if closing {
            return Err(Error::Destroyed {
                queue: f.pool.name.to_string(),
            });
        }
        // A pool with no thread holds its own work for a retry, not a fed
        // queue's: without a rescuer, such a queue refuses it.
        match Self::ensure_consumers(&f.pool).and_then(|()| f.pool.require_thread()) {
            Err(e) if f.rescue_after.is_none() => Err(e),
            _ => Ok(()),
        }
    }

    /// Whether the queue takes work from the calling thread now.
    pub(crate) fn admit(&self, g: &QueueState) -> Result<(), Error> {
        let own = current::running_on(self.id);
        if g.life.stopping() || (g.life.closed() && !own) {
            return Err(Error::Destroyed {
                queue: self.name.to_string(),
            });
        }
        if g.life.draining() > 0 && !own {
            return Err(Error::Draining {
                queue: self.name.to_string(),
            });
        }
        Ok(())
    }

    /// The state change of a queue call (queue lock and binding lock held): adds a
    /// run, on the list (due now) or on the timer.
    pub(crate) fn add_run(
        this: &Arc<Self>,
        g: &mut QueueState,
        binding: &mut Option<Arc<RunQueue>>,
        work: &Arc<WorkInner>,
        call: QueueCall,
        now: Option<u64>,
    ) -> Result<Queued, Error> {
        let at = call.due_tick();
        let running = match work.state.add_run(this.id, at.is_some()) {
            Ok(before) => before.is_running(),
            Err(answer) => return this.answer(answer),
        };
        if !running {
            WorkInner::bind(binding, this);
            work.set_owner(call.owner_id());
            g.own(call.owner_id());
        }
        match at {
            Some(tick) => {
                let key = this.timer.insert(tick, work.clone());
                work.wait_tag.store(key.to_bits(), Ordering::Relaxed);
            }
            None => {
                let now = match now {
                    Some(now) => now,
                    // Not used: the runner puts the item on the list.
                    None if running => 0,
                    None => stamp(Instant::now()),
                };
                this.make_runnable(g, work, running, now);
            }
        }
        let outcome = if running {
            g.count_rerun();
            Queued::Rerun
        } else {
            g.count_scheduled(1);
            Queued::Scheduled
        };
        crate::support::log::event!(
            trace,
            "queue '{}' on '{}': {:?}{}",
            work.name().unwrap_or("<unnamed>"),
            this.name,
            outcome,
            if at.is_some() { " (armed)" } else { "" }
        );
        Ok(outcome)
    }

    /// A pending run that no longer waits for a timer: counted for flushes and, unless
    /// the item is running (its runner then puts it back), put on the list.
    /// `now` is the current `stamp` (read before taking the lock where possible).
    pub(crate) fn make_runnable(
        &self,
        g: &mut QueueState,
        work: &Arc<WorkInner>,
        running: bool,
        now: u64,
    ) {
        let color = g.colors.add();
        // Kept in the item for a run behind the one in progress: its runner puts
        // it on the list with this colour.
        work.color.store(color, Ordering::Relaxed);
        if !running {
            self.push_runnable(g, work.clone(), color, now);
        }
    }

    /// Puts a runnable item (its pending run of flush colour `color`) at the tail
    /// of its list and finds a thread for it.
    pub(crate) fn push_runnable(
        &self,
        g: &mut QueueState,
        work: Arc<WorkInner>,
        color: u64,
        now: u64,
    ) {
        self.push_listed(g, work, color, now);
        self.wake_or_grow(g);
    }

    /// Puts a runnable item at the tail of its list without finding a thread for
    /// it: for a run's end whose thread takes its next item under the same lock
    /// (`run::Then::TakeNext`).
    pub(crate) fn push_listed(
        &self,
        g: &mut QueueState,
        work: Arc<WorkInner>,
        color: u64,
        now: u64,
    ) {
        // Items on the inbox were queued earlier: they go first (FIFO).
        self.unshelve(g);
        self.mark_queued(&work, now);
        // Written only under the queue's lock: a plain store (watchers only read).
        let pushes = self.pushes.load(Ordering::Relaxed);
        self.pushes.store(pushes.wrapping_add(1), Ordering::Relaxed);
        g.push(Waiting::new(work, color, now), self.elastic().is_some());
    }

    /// With latency histograms, keeps the exact `stamp` at which `work`'s run
    /// became runnable, for its wait (`run::start_next`). In the item's
    /// `wait_tag`, which holds a timer key only while the item is `ARMED`: a run
    /// on a list or on the shelf is not.
    #[inline]
    pub(crate) fn mark_queued(&self, work: &WorkInner, now: u64) {
        if self.latency.is_some() {
            debug_assert!(
                !work.state.peek().is_armed(),
                "an armed item keeps its timer key"
            );
            work.wait_tag.store(now, Ordering::Relaxed);
        }
    }

    /// Removes the pending run of `work` wherever it waits: on the list, on the
    /// timer, or behind the run in progress (queue lock and binding lock held).
    /// Returns whether there was one, and a reference to drop once the locks are
    /// released.
    pub(crate) fn take_pending(
        &self,
        g: &mut QueueState,
        binding: &mut Option<Arc<RunQueue>>,
        work: &Arc<WorkInner>,
    ) -> (bool, Option<Arc<WorkInner>>) {
        // A queue call that shelved the item before the caller took the binding
        // lock left it on the shelf: onto the lists with it first.
        self.unshelve(g);
        let Some(cur) = work.state.take_pending() else {
            return (false, None);
        };
        let mut stash = None;
        if cur.is_armed() {
            let key = TimerKey::from_bits(work.wait_tag.load(Ordering::Relaxed));
            stash = self.timer.remove(key);
        } else if !cur.is_running() {
            let entry = g.unlist(work);
            debug_assert!(entry.is_some(), "a runnable pending item is on a list");
            if let Some(entry) = entry {
                let color = entry.color(&g.colors);
                g.colors.remove(color);
                stash = Some(entry.work);
            }
        } else if !cur.is_uncounted() {
            // Behind the run in progress: not on a list yet.
            g.colors.remove(work.color.load(Ordering::Relaxed));
        }
        if !cur.is_running() {
            *binding = None;
            g.disown(work.owner());
        }
        self.notify_done(g);
        (true, stash)
    }

    /// Wakes every sleeping consumer (once the lock is released): the queue's
    /// state changed in a way each must look at (stop, thaw, new limits).
    pub(crate) fn wake_all_consumers(&self, g: &mut QueueState) {
        g.sleepers.wake_all();
    }

    /// Waits on `done_cv` for the next change the queue reports (`notify_done`),
    /// counted so that the reporter knows to notify.
    pub(crate) fn wait_done<'a>(&'a self, g: QueueGuard<'a>) -> QueueGuard<'a> {
        self.wait_done_timeout(g, None)
    }

    /// The same, for at most `timeout`.
    pub(crate) fn wait_done_timeout<'a>(
        &'a self,
        mut g: QueueGuard<'a>,
        timeout: Option<std::time::Duration>,
    ) -> QueueGuard<'a> {
        g.waits.block();
        let mut g = g.wait(&self.done_cv, timeout);
        g.waits.unblock();
        g
    }

    /// Waits until flush colour `color` is done, or a spurious wake-up: woken
    /// only by the change that completes the colour, not by every run's end.
    pub(crate) fn wait_color<'a>(&'a self, mut g: QueueGuard<'a>, color: u64) -> QueueGuard<'a> {
        let cv = Arc::new(Condvar::new());
        let ticket = g.waits.register(
            waiters::Until::Color(color),
            waiters::Who::Thread(cv.clone()),
        );
        let mut g = g.wait(&cv, None);
        g.waits.remove(ticket);
        g
    }

    /// Waits until a change to `work` (its run ended, or another change the
    /// queue reports), or a spurious wake-up: not woken by other items' runs.
    pub(crate) fn wait_item<'a>(
        &'a self,
        mut g: QueueGuard<'a>,
        work: &WorkInner,
    ) -> QueueGuard<'a> {
        let cv = Arc::new(Condvar::new());
        let ticket = g.waits.register(
            waiters::Until::Item(waiters::item_key(work)),
            waiters::Who::Thread(cv.clone()),
        );
        let mut g = g.wait(&cv, None);
        g.waits.remove(ticket);
        g
    }

    /// Reports a change (a pending run was cancelled, the queue's state
    /// changed): wakes the waiters whose condition it can have met, once the
    /// lock is released.
    pub(crate) fn notify_done(&self, g: &mut QueueState) {
        self.notify(g, None);
    }

    /// Reports the end of a run of `work`: as `notify_done`, but of the waiters
    /// for one item only `work`'s are woken.
    pub(crate) fn notify_run_end(&self, g: &mut QueueState, work: &WorkInner) {
        self.notify(g, Some(waiters::item_key(work)));
    }

    /// `notify_done` (`item` `None`) or `notify_run_end` of the item keyed `item`.
    fn notify(&self, g: &mut QueueState, item: Option<usize>) {
        if g.waits.blocked() > 0 {
            self.done_cv.notify_all();
        }
        let QueueState { waits, colors, .. } = g;
        waits.wake(item, |color| colors.is_done(color));
    }
}
