//! Thread starts of an elastic queue (a pool): who starts a thread, when, and
//! what a failed start does.
//!
//! Where the spawner (user code, never run under a workq lock) is called:
//! * the first queue call of an unused pool starts the minimum number of
//!   threads, on the caller's thread (`start_minimum`);
//! * afterwards, a pool thread that takes an item and leaves runnable items
//!   behind, with no thread idle and none on its way, starts one more before it
//!   runs its item (`grow_on_take`); a new thread does the same with its first
//!   item, so a burst grows the pool one thread after another;
//! * the *grow entry*, the pool's entry on the process-wide timer, starts one
//!   on the `workq-timer` thread when a queue call finds every thread busy (and
//!   none on its way), and when a back-off ends while items wait (`grow_fired`):
//!   growth resumes with no further queue call, even when every thread is busy
//!   on long items or there is no thread at all;
//! * `Pool::set_min_threads` starts the missing threads on its caller's thread.
//! * a pool with a minimum of 0 whose last thread exited is unused again: the
//!   next queue call starts a thread as the first use does (`start_minimum`,
//!   which starts at least one); an item that becomes runnable without a queue
//!   call (a delayed item firing) has one started by the grow entry.
//!
//! Queue calls never run the spawner while the pool has a thread.
//!
//! A failed start stops further tries for the back-off period. A pool with no
//! thread (its first start failed) still accepts work and holds it while a
//! retry is pending; the held items run once a start succeeds. After
//! `start_attempts` failed starts in a row with no thread, or when a start
//! fails while the pool is being drained or destroyed, the pool gives up: it
//! cancels the items it holds (reported to the spawn-failure hook, with their
//! number) and refuses queue calls until a start succeeds.

use super::queue_state::Reservation;
use super::{QueueState, RunQueue};
use crate::engine::item::WorkInner;
use crate::error::Error;
use crate::support::sync::{lock, Arc, Ordering};
use std::io;
use std::time::Instant;

impl RunQueue {
    /// Whether a runnable item needs a new thread (lock held), back-off aside:
    /// items are runnable, more than the threads on their way will take (each
    /// takes one and checks again), no thread is idle or watching the queue, no
    /// start is in flight, and the maximum is not reached.
    pub(crate) fn wants_thread(&self, g: &QueueState) -> bool {
        self.elastic().is_some()
            && !g.life.stopping()
            && g.threads.starting() == 0
            && g.threads.count() < g.sizing.max()
            && g.sleepers.none_free()
            && g.has_runnable()
            && g.waiting() > g.threads.arriving()
    }

    /// The end of the back-off in force at `now`, if any.
    fn backoff_at(g: &QueueState, now: Instant) -> Option<Instant> {
        g.sizing.backoff_at(now)
    }

    /// Arms the grow entry for `at` unless it is armed already (an earlier entry
    /// re-arms itself when it finds a back-off). Lock held.
    fn arm_grow(this: &Arc<Self>, g: &mut QueueState, at: Instant) {
        let Some(elastic) = this.elastic() else {
            return;
        };
        if g.sizing.grow_armed() || g.life.stopping() {
            return;
        }
        // The entry finds its queue through its binding (a reference cycle only
        // while it is armed: the firing, or the shutdown, clears it).
        WorkInner::bind(&mut lock(&elastic.grow_item.binding), this);
        let tick = elastic.settings.grow_timer.tick_of(at);
        g.sizing.arm(
            elastic
                .settings
                .grow_timer
                .insert(tick, elastic.grow_item.clone()),
        );
    }

    /// Pays a start owed by a queue call (`settle`, no lock held): a thread
    /// starts on the timer thread, now or when the back-off ends.
    pub(crate) fn owe_start(this: &Arc<Self>) {
        let Some(elastic) = this.elastic() else {
            return;
        };
        // The grow entry's timer thread starts when a pool first needs it.
        if super::ensure_driven(&elastic.settings.grow_timer).is_err() {
            // No timer thread: the pool's threads start more as they take items.
            return;
        }
        let mut g = this.lock();
        if !g.sizing.take_settle() {
            return;
        }
        if this.wants_thread(&g) {
            let now = Instant::now();
            let at = Self::backoff_at(&g, now).unwrap_or(now);
            Self::arm_grow(this, &mut g, at);
        }
    }

    /// A consumer took an item (lock held): if runnable items are left with no
    /// thread for them, reserves a start for the caller to make once it has
    /// released the lock, or arms the grow entry for the end of a back-off.
    #[inline]
    pub(crate) fn grow_on_take(this: &Arc<Self>, g: &mut QueueState) -> Option<Reservation> {
        if !this.wants_thread(g) {
            return None;
        }
        if let Some(until) = Self::backoff_at(g, Instant::now()) {
            Self::arm_grow(this, g, until);
            return None;
        }
        this.reserve(g, g.sizing.max())
    }

    /// A new consumer reached its loop (lock held): it is no longer on its way.
    pub(crate) fn arrived(&self, g: &mut QueueState) {
        if self.elastic().is_some() {
            g.threads.arrived();
        }
    }

    /// The timer entry `work` fired with nothing bound to it: if it is a pool's
    /// grow entry, returns the pool.
    pub(crate) fn grow_entry_of(work: &Arc<WorkInner>) -> Option<Arc<RunQueue>> {
        let q = lock(&work.binding).clone()?;
        let mine = q
            .elastic()
            .as_ref()
            .is_some_and(|e| Arc::ptr_eq(&e.grow_item, work));
        mine.then_some(q)
    }

    /// The grow entry fired (on the timer thread): starts threads while items
    /// wait for them, or up to the minimum for a pool that has some; re-arms for
    /// the end of a back-off. At most `GROW_BATCH` starts per firing, so that
    /// the process's other timers wait for little: then it re-arms for now.
    pub(crate) fn grow_fired(this: &Arc<Self>) {
        const GROW_BATCH: usize = 4;
        let Some(elastic) = this.elastic() else {
            return;
        };
        let mut first = true;
        for made in 0.. {
            let reserved = {
                let mut g = this.lock();
                if first {
                    g.sizing.disarm();
                    *lock(&elastic.grow_item.binding) = None;
                    first = false;
                }
                let min = g.sizing.floor();
                let threads = g.threads.count();
                let short = !g.life.stopping() && threads > 0 && threads < min;
                if !short && !this.wants_thread(&g) {
                    return;
                }
                let now = Instant::now();
                if let Some(until) = Self::backoff_at(&g, now) {
                    Self::arm_grow(this, &mut g, until);
                    return;
                }
                if made == GROW_BATCH {
                    Self::arm_grow(this, &mut g, now);
                    return;
                }
                let limit = if short { min } else { g.sizing.max() };
                match this.reserve(&mut g, limit) {
                    Some(r) => r,
                    None => return,
                }
            };
            if Self::start_reserved(this, reserved).is_err() {
                return;
            }
        }
    }

    /// Disarms the grow entry of a stopping queue (lock held).
    pub(crate) fn disarm_grow(&self, g: &mut QueueState) {
        let Some(elastic) = self.elastic() else {
            return;
        };
        let entry = g
            .sizing
            .disarm()
            .map(|key| elastic.settings.grow_timer.remove(key));
        *lock(&elastic.grow_item.binding) = None;
        // The timer's handle of the grow item: dropping it drops no closure.
        drop(entry);
    }

    /// Makes sure an elastic queue can take work: at first use it starts the
    /// minimum number of threads. Fails only when the queue has no thread, its
    /// starts failed `start_attempts` times in a row and none can start now.
    #[inline]
    pub(crate) fn ensure_consumers(this: &Arc<Self>) -> Result<(), Error> {
        match this.elastic() {
            None => Ok(()),
            // Once the minimum was reached, the pool never drops below it (culling
            // stops there) until shutdown, which `admit` reports: no lock needed.
            // A minimum of 0 clears `started` when the last thread exits.
            Some(e) if e.started.load(std::sync::atomic::Ordering::Acquire) => Ok(()),
            Some(_) => Self::start_minimum(this),
        }
    }

    /// Fails unless the queue has a thread running (or is not elastic): work
    /// that must not be held for a retry (a fed queue's pumps, which its rescuer
    /// runs instead) is refused by a pool with no thread. No lock once the
    /// minimum has been reached.
    pub(crate) fn require_thread(&self) -> Result<(), Error> {
        let Some(elastic) = self.elastic() else {
            return Ok(());
        };
        if elastic.started.load(std::sync::atomic::Ordering::Acquire) {
            return Ok(());
        }
        let g = self.lock();
        if g.life.stopping() || g.threads.live() > 0 {
            return Ok(());
        }
        let now = Instant::now();
        Err(Error::NoThreads {
            queue: self.name.to_string(),
            retry_in: Self::backoff_at(&g, now).map_or(std::time::Duration::ZERO, |t| t - now),
        })
    }

    /// Until the minimum is reached: starts the threads missing, on the caller's
    /// thread while the pool has none running.
    #[cold]
    fn start_minimum(this: &Arc<Self>) -> Result<(), Error> {
        let Some(elastic) = this.elastic() else {
            return Ok(());
        };
        // Whether this call is the pool's first use: it found no thread, and
        // starts the minimum itself.
        let mut first_use = false;
        loop {
            let mut g = this.lock();
            if g.life.stopping() {
                return Ok(()); // admit() reports it
            }
            // Threads counted but still being started are not there yet: a queue
            // call is accepted on the strength of a start in flight only once it
            // has succeeded, or while a retry is pending.
            let live = g.threads.live();
            let min = g.sizing.floor();
            if live >= min {
                elastic
                    .started
                    .store(true, std::sync::atomic::Ordering::Release);
                return Ok(());
            }
            if live == 0 && g.threads.starting() > 0 {
                // Another caller's start decides: wait for it.
                drop(this.wait_done(g));
                continue;
            }
            if live > 0 && g.threads.count() >= min {
                // One thread runs; the others are on their way.
                return Ok(());
            }
            if live > 0 && !first_use {
                // The pool has a thread (a retry started it, or part of the
                // minimum failed): the rest start on the timer thread, not here.
                drop(g);
                super::ensure_driven(&elastic.settings.grow_timer)?;
                let mut g = this.lock();
                let now = Instant::now();
                let at = Self::backoff_at(&g, now).unwrap_or(now);
                Self::arm_grow(this, &mut g, at);
                return Ok(());
            }
            if let Some(until) = Self::backoff_at(&g, Instant::now()) {
                if live > 0 {
                    return Ok(());
                }
                if g.sizing.start_failures() < elastic.settings.start_attempts {
                    // Held until the retry at the end of the back-off.
                    drop(g);
                    return super::ensure_driven(&elastic.settings.grow_timer);
                }
                return Err(Error::NoThreads {
                    queue: this.name.to_string(),
                    retry_in: until - Instant::now(),
                });
            }
            let Some(reserved) = this.reserve(&mut g, min) else {
                return Ok(());
            };
            first_use = true;
            drop(g);
            if let Err(e) = Self::start_reserved(this, reserved) {
                let g = this.lock();
                if g.threads.live() > 0 {
                    return Ok(());
                }
                if g.sizing.start_failures() < elastic.settings.start_attempts {
                    // Held until the retry, which the timer thread makes.
                    drop(g);
                    return super::ensure_driven(&elastic.settings.grow_timer);
                }
                if g.threads.starting() == 0 {
                    return Err(e);
                }
            }
        }
    }

    /// Reserves a thread start (lock held) unless the queue already has (or is
    /// starting) `limit` threads or is stopping.
    pub(crate) fn reserve(&self, g: &mut QueueState, limit: usize) -> Option<Reservation> {
        if g.life.stopping() || g.threads.count() >= limit.min(g.sizing.max()) {
            return None;
        }
        Some(g.threads.reserve(&self.name))
    }

    /// Starts one consumer thread (no lock held by the caller), unless the queue
    /// already has (or is starting) the threads `limit` allows: returns whether
    /// it started one.
    ///
    /// # Errors
    /// [`Error::NoThreads`] during a back-off; [`Error::Spawn`] when the start
    /// failed.
    pub(crate) fn spawn_consumer(this: &Arc<Self>, min_only: bool) -> Result<bool, Error> {
        let reserved = {
            let mut g = this.lock();
            let now = Instant::now();
            if let Some(until) = Self::backoff_at(&g, now) {
                return Err(Error::NoThreads {
                    queue: this.name.to_string(),
                    retry_in: until - now,
                });
            }
            let limit = if min_only {
                g.sizing.floor()
            } else {
                g.sizing.max()
            };
            match this.reserve(&mut g, limit) {
                Some(r) => r,
                None => return Ok(false),
            }
        };
        Self::start_reserved(this, reserved).map(|()| true)
    }

    /// Calls the spawner for a reserved start (no lock held) and books the
    /// outcome.
    pub(crate) fn start_reserved(this: &Arc<Self>, r: Reservation) -> Result<(), Error> {
        let Some(elastic) = this.elastic() else {
            return Ok(());
        };
        for j in r.finished {
            j.join();
        }
        let q = this.clone();
        let slot = r.slot;
        let body: Box<dyn FnOnce() + Send> = Box::new(move || RunQueue::consume(&q, Some(slot)));
        match elastic.start_thread(&r.thread, body) {
            Ok(handle) => {
                this.counters
                    .threads_started
                    .fetch_add(1, Ordering::Relaxed);
                let timer = super::ensure_driven(&elastic.settings.grow_timer).is_ok();
                let mut g = this.lock();
                crate::support::log::event!(
                    debug,
                    "thread '{}' started ({} thread(s))",
                    r.thread,
                    g.threads.count()
                );
                g.threads.started(handle);
                g.sizing.start_succeeded();
                if timer && this.wants_thread(&g) {
                    // A thread that took an item while this start was in flight
                    // left the next start to it: made on the timer thread.
                    Self::arm_grow(this, &mut g, Instant::now());
                }
                this.notify_done(&mut g);
                Ok(())
            }
            Err(error) => Err(Self::start_failed(this, slot, &r.thread, error)),
        }
    }

    /// Books a failed start: the back-off, the retry or the giving up, the
    /// report.
    fn start_failed(this: &Arc<Self>, slot: usize, thread: &str, error: io::Error) -> Error {
        let Some(elastic) = this.elastic() else {
            return Error::Spawn {
                thread: thread.to_string(),
                source: error,
            };
        };
        this.counters.spawn_failures.fetch_add(1, Ordering::Relaxed);
        // The retry at the end of the back-off is the timer thread's.
        let timer = super::ensure_driven(&elastic.settings.grow_timer).is_ok();
        let (threads, cancelled) = {
            let mut g = this.lock();
            g.threads.start_failed(slot);
            let until = Instant::now() + elastic.settings.backoff;
            g.sizing.start_failed(until);
            let give_up = g.threads.count() == 0
                && (g.sizing.start_failures() >= elastic.settings.start_attempts
                    || g.life.closed()
                    || g.life.draining() > 0);
            let cancelled = if give_up {
                this.cancel_held(&mut g)
            } else {
                if timer && this.wants_thread(&g) {
                    Self::arm_grow(this, &mut g, until);
                }
                (0, Vec::new())
            };
            this.notify_done(&mut g);
            (g.threads.count(), cancelled)
        };
        let report = super::SpawnFailure {
            pool: &this.name,
            thread,
            error: &error,
            threads,
            backoff: elastic.settings.backoff,
            cancelled: cancelled.0,
        };
        let hook = &elastic.settings.on_spawn_failure;
        crate::support::panic::quietly(|| hook(&report));
        // The queue's handles of the cancelled items: possibly the last ones.
        this.release(cancelled.1);
        Error::Spawn {
            thread: thread.to_string(),
            source: error,
        }
    }

    /// Cancels every item waiting on a pool that has no thread and gives up
    /// starting one (lock held): they go back to idle, as `Work::cancel` leaves
    /// them. Returns how many, and the queue's handles, to drop with no lock
    /// held.
    fn cancel_held(&self, g: &mut QueueState) -> (usize, Vec<Arc<WorkInner>>) {
        self.unshelve(g);
        let held: Vec<Arc<WorkInner>> = g.lists.iter().map(|w| w.work.clone()).collect();
        let mut stash = Vec::with_capacity(held.len() * 2);
        let mut cancelled = 0;
        for work in held {
            let mut binding = lock(&work.binding);
            let (taken, handle) = self.take_pending(g, &mut binding, &work);
            drop(binding);
            if taken {
                cancelled += 1;
                stash.extend(handle);
            }
            stash.push(work);
        }
        (cancelled, stash)
    }
}
