//! Elastic consumers: a queue whose threads start on demand and exit when idle
//! (the kernel's slow-work pool, written on the one engine).
//!
//! * A queue call finds no idle thread for a runnable item: a thread start is
//!   *owed* (`settle_owed`, set under the lock by `wake_or_grow`) and paid by the
//!   caller right after it releases the lock (`settle`), so the spawner (user code)
//!   never runs under a workq lock. At most one start is in flight.
//! * A failed start stops further tries for the back-off period; work goes on on
//!   the threads the queue has. With no thread at all, the queue call fails.
//! * A consumer idle for longer than the idle timeout exits, never below the
//!   minimum; it decides under the lock and only when nothing is runnable, so a
//!   racing queue call either sees it idle or sees it gone (and starts another).

use super::{QueueState, RunQueue, Slot};
use crate::error::Error;
use crate::sync::{Arc, Ordering};
use std::fmt;
use std::io;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Starts a thread: given a builder with the thread's name (and stack size) and its
/// body, spawns it. The default is `builder.spawn(body)`.
///
/// [`PoolBuilder::spawner`](crate::PoolBuilder::spawner) takes any closure; keep a
/// spawner in this type to share one between several pools.
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use std::sync::Arc;
/// use std::thread::Builder;
/// use workq::{Pool, Spawner, Work};
///
/// let starts = Arc::new(AtomicUsize::new(0));
/// let s = starts.clone();
/// let spawner: Spawner = Arc::new(move |builder: Builder, body: Box<dyn FnOnce() + Send>| {
///     s.fetch_add(1, Ordering::SeqCst);
///     builder.spawn(body)
/// });
/// let pool = Pool::builder()
///     .name("counted")
///     .min_threads(1)
///     .max_threads(1)
///     .spawner(move |builder, body| spawner(builder, body))
///     .build()?;
/// pool.queue(&Work::new(|_| {}))?;
/// pool.flush()?;
/// assert_eq!(starts.load(Ordering::SeqCst), 1);
/// # Ok::<(), workq::Error>(())
/// ```
pub type Spawner = std::sync::Arc<
    dyn Fn(std::thread::Builder, Box<dyn FnOnce() + Send>) -> io::Result<JoinHandle<()>>
        + Send
        + Sync,
>;

/// A failed thread start, as passed to the spawn-failure hook.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use workq::{Error, Pool, SpawnFailure, Work};
///
/// let failures = Arc::new(Mutex::new(Vec::new()));
/// let f = failures.clone();
/// let pool = Pool::builder()
///     .name("starved")
///     .spawner(|_, _| Err(std::io::Error::other("out of threads")))
///     .on_spawn_failure(move |failure: &SpawnFailure<'_>| {
///         let what = (failure.thread.to_string(), failure.threads, failure.error.to_string());
///         f.lock().expect("lock").push(what);
///     })
///     .build()?;
/// assert!(matches!(pool.queue(&Work::new(|_| {})), Err(Error::Spawn { .. })));
/// let failures = failures.lock().expect("lock");
/// assert_eq!(failures.len(), 1);
/// assert_eq!(failures[0], ("starved/0".to_string(), 0, "out of threads".to_string()));
/// # Ok::<(), workq::Error>(())
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub struct SpawnFailure<'a> {
    /// The pool's name.
    pub pool: &'a str,
    /// The name the thread would have had.
    pub thread: &'a str,
    /// Why it failed.
    pub error: &'a io::Error,
    /// Threads the pool still has.
    pub threads: usize,
    /// How long the pool waits before it tries again.
    pub backoff: Duration,
}

impl fmt::Display for SpawnFailure<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "workq: pool '{}' could not start thread '{}': {} ({} thread(s) left; next try in {:.1?})",
            self.pool, self.thread, self.error, self.threads, self.backoff
        )
    }
}

/// The hook called for every failed thread start.
///
/// [`PoolBuilder::on_spawn_failure`](crate::PoolBuilder::on_spawn_failure) takes any
/// closure; keep a hook in this type to share one between several pools.
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use std::sync::Arc;
/// use workq::{Pool, SpawnHook, Work};
///
/// let failed = Arc::new(AtomicUsize::new(0));
/// let f = failed.clone();
/// let hook: SpawnHook = Arc::new(move |_failure| {
///     f.fetch_add(1, Ordering::SeqCst);
/// });
/// let starved = |name: &str, hook: SpawnHook| {
///     Pool::builder()
///         .name(name)
///         .spawner(|_, _| Err(std::io::Error::other("no threads")))
///         .on_spawn_failure(move |failure| hook(failure))
///         .build()
/// };
/// let a = starved("a", hook.clone())?;
/// let b = starved("b", hook.clone())?;
/// assert!(a.queue(&Work::new(|_| {})).is_err());
/// assert!(b.queue(&Work::new(|_| {})).is_err());
/// assert_eq!(failed.load(Ordering::SeqCst), 2);
/// # Ok::<(), workq::Error>(())
/// ```
pub type SpawnHook = std::sync::Arc<dyn Fn(&SpawnFailure<'_>) + Send + Sync>;

/// How far a thread start may take the thread count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Reach {
    /// Up to the minimum (first use, a raised minimum).
    Min,
    /// Up to the maximum (growth on demand).
    Max,
}

/// How an elastic queue starts and ends its threads.
pub(crate) struct Elastic {
    pub(crate) idle_timeout: Duration,
    pub(crate) backoff: Duration,
    pub(crate) stack_size: Option<usize>,
    pub(crate) spawner: Spawner,
    pub(crate) on_spawn_failure: SpawnHook,
    /// Set once the minimum number of threads has been reached.
    pub(crate) started: std::sync::atomic::AtomicBool,
}

impl RunQueue {
    /// A runnable item was added (lock held): wake an idle consumer, or owe a thread
    /// start when none is idle and the queue may grow; wake items sleeping in
    /// `sleep_till_thread_needed` when no thread is free.
    pub(crate) fn wake_or_grow(&self, g: &mut QueueState) {
        if g.spinning > g.spin_claims {
            // A consumer watching the queue will see it and take it.
            g.spin_claims += 1;
            return;
        }
        if let Some(consumer) = g.parked.pop() {
            g.notified += 1;
            #[cfg(test)]
            {
                g.wakeups += 1;
            }
            // Sent by the guard once the lock is released.
            g.to_notify.push(consumer);
            return;
        }
        if g.needed_sleepers > 0 {
            self.needed_cv.notify_all();
        }
        if (self.elastic.is_some() && self.may_grow(g)) || self.feeder.is_some() {
            g.settle_owed = true;
        }
    }

    fn may_grow(&self, g: &QueueState) -> bool {
        !g.stopping
            && g.starting == 0
            && g.threads < g.max_threads
            && g.backoff_until.map_or(true, |t| Instant::now() >= t)
    }

    /// Pays an owed thread start, if any, with no lock held. Called at the end of
    /// every entry point that can make an item runnable.
    pub(crate) fn settle(this: &Arc<Self>) {
        if this.feeder.is_some() {
            Self::kick_pumps(this);
            return;
        }
        if this.elastic.is_none() {
            return;
        }
        {
            let mut g = this.lock();
            if !g.settle_owed {
                return;
            }
            g.settle_owed = false;
            if !this.may_grow(&g) || !g.has_runnable() || g.idle_consumers > g.notified {
                return;
            }
        }
        let _ = Self::spawn_consumer(this, Reach::Max);
    }

    /// Makes sure an elastic queue has threads before it accepts work: at first use
    /// it starts the minimum number. Fails only when no thread could be started.
    #[inline]
    pub(crate) fn ensure_consumers(this: &Arc<Self>) -> Result<(), Error> {
        match &this.elastic {
            None => Ok(()),
            // Once the minimum was reached, the pool never drops below it (culling
            // stops there) until shutdown, which `admit` reports: no lock needed.
            Some(e) if e.started.load(std::sync::atomic::Ordering::Acquire) => Ok(()),
            Some(_) => Self::start_minimum(this),
        }
    }

    /// The first use of an elastic queue: starts its minimum number of threads.
    #[cold]
    fn start_minimum(this: &Arc<Self>) -> Result<(), Error> {
        let Some(elastic) = &this.elastic else {
            return Ok(());
        };
        loop {
            let g = this.lock();
            if g.stopping {
                return Ok(()); // admit() reports it
            }
            // Threads counted but still being started are not there yet: a queue
            // call must not be accepted on the strength of a start that may fail.
            let live = g.threads - g.starting;
            if live >= g.min_threads.max(1) {
                elastic
                    .started
                    .store(true, std::sync::atomic::Ordering::Release);
                return Ok(());
            }
            if live == 0 && g.starting > 0 {
                // Another caller's start decides: wait for it.
                drop(this.wait_done(g));
                continue;
            }
            if live > 0 && g.threads >= g.min_threads.max(1) {
                // One thread runs; the others are on their way.
                return Ok(());
            }
            drop(g);
            if let Err(e) = Self::spawn_consumer(this, Reach::Min) {
                let g = this.lock();
                if g.threads - g.starting > 0 {
                    return Ok(());
                }
                if g.starting == 0 {
                    return Err(e);
                }
            }
        }
    }

    /// Starts one consumer thread (no lock held by the caller), unless the queue
    /// already has (or is starting) the threads `reach` allows: returns whether it
    /// started one.
    pub(crate) fn spawn_consumer(this: &Arc<Self>, reach: Reach) -> Result<bool, Error> {
        let Some(elastic) = &this.elastic else {
            return Ok(false);
        };
        let (slot, thread_name, finished) = {
            let mut g = this.lock();
            let limit = match reach {
                Reach::Min => g.min_threads.max(1),
                Reach::Max => g.max_threads,
            };
            // `threads` already counts starts in flight: concurrent callers that
            // all saw a thread missing start only as many as are missing.
            if g.stopping || g.threads >= limit.min(g.max_threads) {
                return Ok(false);
            }
            if let Some(until) = g.backoff_until {
                if Instant::now() < until {
                    return Err(Error::NoThreads {
                        queue: this.name.to_string(),
                        retry_in: until - Instant::now(),
                    });
                }
                g.backoff_until = None;
            }
            let slot = match g.slots.iter().position(Option::is_none) {
                Some(free) => free,
                None => {
                    g.slots.push(None);
                    g.slots.len() - 1
                }
            };
            let thread_name: std::sync::Arc<str> = format!("{}/{}", this.name, slot).into();
            g.slots[slot] = Some(Slot {
                thread: thread_name.clone(),
                current: None,
            });
            g.threads += 1;
            g.starting += 1;
            // Join the threads that were culled since the last start.
            let (finished, live): (Vec<_>, Vec<_>) = std::mem::take(&mut g.joins)
                .into_iter()
                .partition(|j| j.is_finished());
            g.joins = live;
            (slot, thread_name, finished)
        };
        for j in finished {
            let _ = j.join();
        }
        let mut builder = std::thread::Builder::new().name(thread_name.to_string());
        if let Some(bytes) = elastic.stack_size {
            builder = builder.stack_size(bytes);
        }
        let q = this.clone();
        let body: Box<dyn FnOnce() + Send> = Box::new(move || RunQueue::consume(&q, Some(slot)));
        // The spawner is user code: a panic in it counts as a failed start.
        let spawned = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            (elastic.spawner)(builder, body)
        }))
        .unwrap_or_else(|payload| {
            let msg = format!("the spawner panicked: {}", crate::panic::message(&*payload));
            crate::panic::swallow(payload);
            Err(io::Error::other(msg))
        });
        match spawned {
            Ok(handle) => {
                this.counters
                    .threads_started
                    .fetch_add(1, Ordering::Relaxed);
                let mut g = this.lock();
                crate::log::event!(
                    debug,
                    "thread '{}' started ({} thread(s))",
                    thread_name,
                    g.threads
                );
                g.joins.push(handle);
                g.starting -= 1;
                this.notify_done(&mut g);
                Ok(true)
            }
            Err(error) => {
                this.counters.spawn_failures.fetch_add(1, Ordering::Relaxed);
                let threads = {
                    let mut g = this.lock();
                    g.threads -= 1;
                    g.starting -= 1;
                    g.slots[slot] = None;
                    g.backoff_until = Some(Instant::now() + elastic.backoff);
                    this.notify_done(&mut g);
                    g.threads
                };
                let report = SpawnFailure {
                    pool: &this.name,
                    thread: &thread_name,
                    error: &error,
                    threads,
                    backoff: elastic.backoff,
                };
                let hook = &elastic.on_spawn_failure;
                crate::panic::quietly(|| hook(&report));
                Err(Error::Spawn {
                    thread: thread_name.to_string(),
                    source: error,
                })
            }
        }
    }

    /// Whether an idle consumer should exit (lock held, after an idle wait).
    pub(crate) fn should_retire(&self, g: &QueueState, timed_out: bool) -> bool {
        if self.elastic.is_none() || g.has_runnable() || g.stopping {
            return false;
        }
        g.threads > g.max_threads || (timed_out && g.threads > g.min_threads.max(1))
    }

    /// Applies new sizing tunables (validated by the caller): threads over the new
    /// maximum exit when they are next idle; with fewer threads than the new
    /// minimum, threads are started now (if the queue is in use).
    pub(crate) fn retune(
        this: &Arc<Self>,
        min: Option<usize>,
        max: Option<usize>,
        vslow_percent: Option<usize>,
    ) -> Result<(), Error> {
        let start = {
            let mut g = this.lock();
            if let Some(min) = min {
                g.min_threads = min;
            }
            if let Some(max) = max {
                g.max_threads = max;
            }
            if let Some(p) = vslow_percent {
                g.vslow_percent = p;
            }
            // Idle threads re-check the limits; a larger share may let very slow
            // items start.
            this.wake_all_consumers(&mut g);
            g.threads > 0 && g.threads < g.min_threads
        };
        if start {
            while Self::spawn_consumer(this, Reach::Min)? {}
        }
        Ok(())
    }

    /// Blocks a running item until its thread is needed by other work (an item is
    /// runnable and no thread is idle) or `timeout` passes. Returns whether the
    /// thread is needed.
    pub(crate) fn sleep_till_thread_needed(&self, timeout: Duration) -> bool {
        let deadline = Instant::now().checked_add(timeout);
        let mut g = self.lock();
        loop {
            // Needed by other work, or the queue is shutting down (the item should
            // wrap up rather than hold the drain for its whole timeout).
            let needed =
                (g.has_runnable() && g.idle_consumers <= g.notified) || g.closed || g.stopping;
            if needed {
                return true;
            }
            let left = match deadline {
                Some(d) => d.saturating_duration_since(Instant::now()),
                None => Duration::from_secs(3600),
            };
            if left.is_zero() {
                return false;
            }
            g.needed_sleepers += 1;
            g = g.wait(&self.needed_cv, Some(left));
            g.needed_sleepers -= 1;
        }
    }

    /// Joins every consumer thread of a stopping queue, after waiting for thread
    /// starts in flight (their threads see the queue stopping and exit at once).
    pub(crate) fn join_consumers(&self) {
        let joins = {
            let mut g = self.lock();
            while g.starting > 0 {
                g = self.wait_done(g);
            }
            std::mem::take(&mut g.joins)
        };
        for j in joins {
            if j.thread().id() != std::thread::current().id() {
                let _ = j.join();
            }
        }
    }
}
