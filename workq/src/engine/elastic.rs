//! Elastic consumers: a queue whose threads start on demand and exit when idle
//! (the kernel's slow-work pool, written on the one engine).
//!
//! * A runnable item finds no idle thread: a thread start is wanted; who makes
//!   it, and what a failed start does, is in `grow.rs`. One start is in flight
//!   at a time, and no more threads are on their way than items wait.
//! * A consumer idle for longer than the idle timeout exits, never below the
//!   minimum (which may be 0); it decides under the lock and only when nothing
//!   is runnable, so a racing queue call either sees it idle or sees it gone
//!   (and owes a start). The last one to exit marks the pool unstarted, so that
//!   the next queue call starts a thread on its own thread, as the first use
//!   does (see `grow.rs`).

use super::{QueueState, RunQueue};
use crate::engine::item::WorkInner;
use crate::engine::timer::Timer;
use crate::error::Error;
use crate::support::sync::Arc;
use crate::support::thread::Joinable;
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
///     .start_attempts(1) // refuse at the first failed start
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
    /// Items the pool held (accepted while it had no thread) and cancelled
    /// with this failure, because it gave up starting a thread (see
    /// [`PoolBuilder::start_attempts`](crate::PoolBuilder::start_attempts)):
    /// they are idle again and will not run. Usually 0.
    pub cancelled: usize,
}

impl fmt::Display for SpawnFailure<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "workq: pool '{}' could not start thread '{}': {} ({} thread(s) left; next try in {:.1?})",
            self.pool, self.thread, self.error, self.threads, self.backoff
        )?;
        if self.cancelled > 0 {
            write!(f, "; gave up: {} held item(s) cancelled", self.cancelled)?;
        }
        Ok(())
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
///         .start_attempts(1) // refuse at the first failed start
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

/// What an elastic queue is built from (validated by the caller).
pub(crate) struct ElasticSettings {
    pub(crate) idle_timeout: Duration,
    pub(crate) backoff: Duration,
    pub(crate) stack_size: Option<usize>,
    pub(crate) starter: Starter,
    pub(crate) on_spawn_failure: SpawnHook,
    /// Failed starts in a row, with no thread, after which the pool gives up
    /// (see `grow.rs`).
    pub(crate) start_attempts: u32,
    /// The timer of the grow entry: the process-wide one (`Timer::system`), a
    /// manual clock's in the models.
    pub(crate) grow_timer: Arc<Timer>,
}

/// How an elastic queue starts and ends its threads.
pub(crate) struct Elastic {
    pub(crate) settings: ElasticSettings,
    /// Set once the minimum number of threads has been reached; cleared (under
    /// the queue's lock) when a minimum of 0 let the last thread exit.
    pub(crate) started: std::sync::atomic::AtomicBool,
    /// The grow entry's item (see `grow.rs`), fired on `settings.grow_timer`.
    pub(crate) grow_item: Arc<WorkInner>,
}

impl Elastic {
    /// The sizing of a pool named `name`.
    pub(crate) fn new(name: &str, s: ElasticSettings) -> Elastic {
        let grow_item = Arc::new(crate::engine::item::WorkInner::new(
            Some(format!("{name}/grow").into()),
            crate::engine::item::Class::Normal,
            |_| {},
        ));
        Elastic {
            settings: s,
            started: std::sync::atomic::AtomicBool::new(false),
            grow_item,
        }
    }

    /// Starts a consumer thread named `thread` running `body`. A panic in the
    /// spawner (user code) counts as a failed start.
    pub(crate) fn start_thread(
        &self,
        thread: &str,
        body: Box<dyn FnOnce() + Send>,
    ) -> io::Result<Joinable> {
        match &self.settings.starter {
            Starter::Spawner(spawner) => self.spawn(spawner, thread, body),
            #[cfg(test)]
            Starter::Model { refuse } => model_start(refuse, body),
        }
    }

    /// Starts a thread with the pool's spawner.
    fn spawn(
        &self,
        spawner: &Spawner,
        thread: &str,
        body: Box<dyn FnOnce() + Send>,
    ) -> io::Result<Joinable> {
        let mut builder = std::thread::Builder::new().name(thread.to_string());
        if let Some(bytes) = self.settings.stack_size {
            builder = builder.stack_size(bytes);
        }
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| spawner(builder, body)))
            .unwrap_or_else(|payload| {
                let msg = format!(
                    "the spawner panicked: {}",
                    crate::support::panic::message(&*payload)
                );
                crate::support::panic::swallow(payload);
                Err(io::Error::other(msg))
            })
            .map(Joinable::Std)
    }
}

/// How an elastic queue starts its threads.
pub(crate) enum Starter {
    /// With the pool's spawner (`PoolBuilder::spawner`): std threads.
    Spawner(Spawner),
    /// As the model checker's threads (loom, shuttle): each start is refused
    /// while `refuse` is above zero, which counts it down.
    #[cfg(test)]
    Model {
        refuse: Arc<crate::support::sync::AtomicUsize>,
    },
}

/// A start of a model's thread (see `Starter::Model`).
#[cfg(test)]
fn model_start(
    refuse: &crate::support::sync::AtomicUsize,
    body: Box<dyn FnOnce() + Send>,
) -> io::Result<Joinable> {
    use crate::support::sync::Ordering::SeqCst;
    if refuse
        .fetch_update(SeqCst, SeqCst, |n| n.checked_sub(1))
        .is_ok()
    {
        return Err(io::Error::other("the model refused the start"));
    }
    Ok(Joinable::Model(crate::support::sync::thread::spawn(body)))
}

impl RunQueue {
    /// A runnable item was added (lock held): wake an idle consumer, or owe a thread
    /// start when none is idle and the queue may grow; wake items sleeping in
    /// `sleep_till_thread_needed` when no thread is free.
    pub(crate) fn wake_or_grow(&self, g: &mut QueueState) {
        // A consumer watching the queue takes it, or a parked one is woken (by
        // the guard, once the lock is released).
        if g.sleepers.wake_one() {
            return;
        }
        if g.sleepers.has_needed() {
            self.needed_cv.notify_all();
        }
        if self.wants_thread(g) || (self.feeder().is_some() && self.wants_pump(g)) {
            g.sizing.owe_settle();
        }
    }

    /// Pays what a queue call owes, if anything, with no lock held: a pump kick
    /// (fed queues) or a thread start (elastic queues: arranged on the timer,
    /// never made here; see `grow.rs`). Called at the end of every entry point
    /// that can make an item runnable.
    pub(crate) fn settle(this: &Arc<Self>) {
        if this.feeder().is_some() {
            Self::kick_pumps(this);
        } else if this.elastic().is_some() {
            Self::owe_start(this);
        }
    }

    /// Whether an idle consumer should exit (lock held, after an idle wait).
    pub(crate) fn should_retire(&self, g: &QueueState, timed_out: bool) -> bool {
        if self.elastic().is_none() || g.has_runnable() || g.life.stopping() {
            return false;
        }
        let threads = g.threads.count();
        threads > g.sizing.max() || (timed_out && threads > g.sizing.min())
    }

    /// Applies new sizing tunables: threads over the new maximum exit when they
    /// are next idle; with fewer threads than the new minimum, threads are
    /// started now (if the queue is in use). `check` validates the minimum and
    /// maximum that result, under the lock (so that two racing calls cannot
    /// leave the minimum above the maximum); nothing changes if it fails.
    pub(crate) fn retune(
        this: &Arc<Self>,
        min: Option<usize>,
        max: Option<usize>,
        vslow_percent: Option<usize>,
        check: impl FnOnce(usize, usize) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let start: (bool, bool) = {
            let mut g = this.lock();
            check(min.unwrap_or(g.sizing.min()), max.unwrap_or(g.sizing.max()))?;
            g.sizing.retune(min, max, vslow_percent);
            // Idle threads re-check the limits; a larger share may let very slow
            // items start.
            this.wake_all_consumers(&mut g);
            // A larger maximum (or share) may leave waiting items with room for a
            // thread that no one is starting: owe one, paid off the caller.
            let grow = this.wants_thread(&g);
            if grow {
                g.sizing.owe_settle();
            }
            let threads = g.threads.count();
            (threads > 0 && threads < g.sizing.min(), grow)
        };
        if start.0 {
            while Self::spawn_consumer(this, true)? {}
        }
        if start.1 {
            Self::owe_start(this);
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
            let needed = (g.has_runnable() && g.sleepers.none_asleep())
                || g.life.closed()
                || g.life.stopping();
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
            g.sleepers.begin_needed();
            g = g.wait(&self.needed_cv, Some(left));
            g.sleepers.end_needed();
        }
    }

    /// Joins every consumer thread of a stopping queue, after waiting for thread
    /// starts in flight (their threads see the queue stopping and exit at once).
    pub(crate) fn join_consumers(&self) {
        let joins = {
            let mut g = self.lock();
            while g.threads.starting() > 0 {
                g = self.wait_done(g);
            }
            self.disarm_grow(&mut g);
            g.threads.take_joins()
        };
        for j in joins {
            if !j.is_current() {
                j.join();
            }
        }
    }
}
