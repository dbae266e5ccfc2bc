//! Building a [`Pool`]: validated settings.

use super::{Handle, Pool};
use crate::engine::timer::Timer;
use crate::engine::ManualClock;
use crate::engine::{
    Elastic, ElasticSettings, Limits, Mode, QueueConfig, RunQueue, SpawnFailure, Spawner, Starter,
};
use crate::error::{check_name, check_stack, Error};
use crate::shutdown::ArmedAtShutdown;
use crate::support::panic::{default_hook, PanicHook, PanicReport};
use crate::support::sync::Arc;
use std::fmt;
use std::io;
use std::thread::JoinHandle;
use std::time::Duration;

/// Settings for a [`Pool`]; [`build`](PoolBuilder::build) checks them. No thread
/// starts until the pool is first used.
///
/// ```
/// use std::time::Duration;
/// let pool = workq::Pool::builder()
///     .name("fscache")
///     .min_threads(2)
///     .max_threads(8)
///     .idle_timeout(Duration::from_secs(5))
///     .very_slow_percent(50)
///     .spawn_backoff(Duration::from_secs(5))
///     .build()?;
/// # drop(pool);
/// # Ok::<(), workq::Error>(())
/// ```
#[must_use = "a builder does nothing until `build` is called"]
pub struct PoolBuilder {
    name: String,
    count_merged: bool,
    latency_histograms: bool,
    /// `None`: the default, adapted to the maximum (see `threads`).
    min: Option<usize>,
    /// `None`: the default, adapted to the minimum (see `threads`).
    max: Option<usize>,
    idle_timeout: Duration,
    very_slow_percent: usize,
    backoff: Duration,
    stack_size: Option<usize>,
    on_panic: Option<PanicHook>,
    on_spawn_failure: Option<crate::engine::SpawnHook>,
    spawner: Option<Spawner>,
    clock: Option<ManualClock>,
    armed_at_shutdown: ArmedAtShutdown,
    max_waiting: Option<usize>,
    start_attempts: u32,
}

/// The default minimum number of threads.
const DEFAULT_MIN: usize = 2;

/// The default maximum number of threads: the larger of 4 and the CPU count.
fn default_max() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .max(4)
}

/// Checks a (min, max) pair of thread counts. A minimum of 0 is allowed: the
/// pool may shrink to no thread, and starts one when work comes.
pub(crate) fn check_threads(min: usize, max: usize) -> Result<(), Error> {
    if max == 0 {
        return Err(Error::InvalidConfig {
            setting: "max_threads",
            reason: "must be at least 1".to_string(),
        });
    }
    if min > max {
        return Err(Error::InvalidConfig {
            setting: "min_threads",
            reason: format!("{min} is more than max_threads ({max})"),
        });
    }
    Ok(())
}

/// Checks a very slow share.
pub(crate) fn check_percent(percent: usize) -> Result<(), Error> {
    if (1..=99).contains(&percent) {
        Ok(())
    } else {
        Err(Error::InvalidConfig {
            setting: "very_slow_percent",
            reason: format!("{percent} is outside 1..=99"),
        })
    }
}

impl PoolBuilder {
    /// Defaults: name `"workq-pool"`, min 2 threads, max the larger of 4 and the
    /// number of CPUs, idle timeout 5 s, very slow share 50 %, spawn back-off 5 s,
    /// 3 start attempts, no bound on waiting items, already-pending calls not
    /// counted. The thread defaults adapt to the one limit set: with only
    /// [`max_threads`](PoolBuilder::max_threads) the minimum is at most that
    /// maximum, with only [`min_threads`](PoolBuilder::min_threads) the maximum
    /// is at least that minimum.
    ///
    /// ```
    /// let pool = workq::PoolBuilder::new().build()?;
    /// assert_eq!(pool.name(), "workq-pool");
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn new() -> PoolBuilder {
        PoolBuilder {
            name: "workq-pool".to_string(),
            count_merged: false,
            latency_histograms: false,
            min: None,
            max: None,
            idle_timeout: Duration::from_secs(5),
            very_slow_percent: 50,
            backoff: Duration::from_secs(5),
            stack_size: None,
            on_panic: None,
            on_spawn_failure: None,
            spawner: None,
            clock: None,
            armed_at_shutdown: ArmedAtShutdown::Cancel,
            max_waiting: None,
            start_attempts: 3,
        }
    }

    /// Whether queue calls that find their item already pending are counted, in
    /// [`Stats::merged`](crate::Stats::merged) (default: no; see
    /// [`WorkerBuilder::count_merged`](crate::WorkerBuilder::count_merged)).
    ///
    /// ```
    /// let pool = workq::Pool::builder().count_merged(true).build()?;
    /// assert_eq!(pool.snapshot().stats.merged, Some(0));
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn count_merged(mut self, count: bool) -> PoolBuilder {
        self.count_merged = count;
        self
    }

    /// Whether waits and run times are kept in latency histograms, shown in
    /// [`Stats::wait`](crate::Stats::wait) and [`Stats::run`](crate::Stats::run)
    /// (default: no; see
    /// [`WorkerBuilder::latency_histograms`](crate::WorkerBuilder::latency_histograms)).
    ///
    /// ```
    /// let pool = workq::Pool::builder().name("timed").latency_histograms(true).build()?;
    /// pool.queue(&workq::Work::new(|_| {}))?;
    /// pool.flush()?;
    /// assert_eq!(pool.stats().run.expect("measured").count, 1);
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn latency_histograms(mut self, on: bool) -> PoolBuilder {
        self.latency_histograms = on;
        self
    }

    /// The pool's name; threads are named `name/N`.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// let pool = workq::Pool::builder().name("fscache").build()?;
    /// assert_eq!(pool.name(), "fscache");
    /// let thread = Arc::new(Mutex::new(String::new()));
    /// let t = thread.clone();
    /// let work = workq::Work::new(move |_| {
    ///     *t.lock().expect("lock") = std::thread::current().name().unwrap_or("").to_string();
    /// });
    /// pool.queue(&work)?;
    /// work.flush()?;
    /// assert!(thread.lock().expect("lock").starts_with("fscache/"));
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn name(mut self, name: impl Into<String>) -> PoolBuilder {
        self.name = name.into();
        self
    }

    /// Threads kept once the pool is in use (default: 2, or the maximum if that
    /// is lower). With only the minimum set, the maximum is at least the minimum.
    ///
    /// 0 is allowed: idle threads then exit down to none (after the idle timeout),
    /// and the next queue call starts a thread again, on the caller's thread as
    /// the first use does (a delayed item firing on an empty pool has one started
    /// on the timer thread). The first use of a pool starts at least one thread.
    ///
    /// ```
    /// let pool = workq::Pool::builder().name("warm").min_threads(3).max_threads(4).build()?;
    /// assert!(pool.snapshot().threads.is_empty()); // unused: no threads yet
    /// pool.queue(&workq::Work::new(|_| {}))?; // first use starts the minimum
    /// assert!(pool.snapshot().threads.len() >= 3);
    /// assert_eq!(pool.snapshot().min_threads, 3);
    /// // Only a minimum: the maximum adapts to it.
    /// let big = workq::Pool::builder().min_threads(64).build()?;
    /// assert!(big.snapshot().max_threads >= 64);
    /// // A pool that may shrink to no thread: work still runs.
    /// let lazy = workq::Pool::builder().name("lazy").min_threads(0).build()?;
    /// let work = workq::Work::new(|_| {});
    /// lazy.queue(&work)?;
    /// work.flush()?;
    /// assert_eq!(lazy.snapshot().min_threads, 0);
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn min_threads(mut self, n: usize) -> PoolBuilder {
        self.min = Some(n);
        self
    }

    /// Threads the pool may grow to (at least 1; default: the larger of 4 and
    /// the CPU count, or the minimum if that is higher). With only the maximum
    /// set, the minimum is at most the maximum.
    ///
    /// ```
    /// let pool = workq::Pool::builder().name("capped").min_threads(1).max_threads(2).build()?;
    /// let items: Vec<workq::Work> = (0..8).map(|_| workq::Work::new(|_| {})).collect();
    /// for w in &items {
    ///     pool.queue(w)?;
    /// }
    /// pool.flush()?;
    /// let snap = pool.snapshot();
    /// assert_eq!(snap.max_threads, 2);
    /// assert!(snap.threads.len() <= 2); // never more
    /// assert!(workq::Pool::builder().min_threads(3).max_threads(2).build().is_err());
    /// // Only a maximum: the minimum adapts to it.
    /// let single = workq::Pool::builder().max_threads(1).build()?;
    /// assert_eq!((single.snapshot().min_threads, single.snapshot().max_threads), (1, 1));
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn max_threads(mut self, n: usize) -> PoolBuilder {
        self.max = Some(n);
        self
    }

    /// The (min, max) thread counts: each unset one adapts to the other.
    fn threads(&self) -> (usize, usize) {
        match (self.min, self.max) {
            (Some(min), Some(max)) => (min, max),
            (Some(min), None) => (min, default_max().max(min)),
            (None, Some(max)) => (DEFAULT_MIN.min(max), max),
            (None, None) => (DEFAULT_MIN, default_max()),
        }
    }

    /// How long a thread may stay idle before it exits (default 5 s).
    ///
    /// ```
    /// use std::time::Duration;
    /// let pool = workq::Pool::builder().name("brief").idle_timeout(Duration::from_millis(200)).build()?;
    /// # drop(pool);
    /// let err = workq::Pool::builder().idle_timeout(Duration::ZERO).build().unwrap_err();
    /// assert!(matches!(err, workq::Error::InvalidConfig { setting: "idle_timeout", .. }));
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn idle_timeout(mut self, timeout: Duration) -> PoolBuilder {
        self.idle_timeout = timeout;
        self
    }

    /// Share of the threads that may run very slow items at once, in percent
    /// (1 to 99; default 50). At least one very slow item may always run, and while
    /// the pool may have two or more threads one is always left for ordinary items.
    ///
    /// ```
    /// let pool = workq::Pool::builder().name("mostly-fast").very_slow_percent(25).build()?;
    /// assert_eq!(pool.snapshot().very_slow_percent, 25);
    /// let err = workq::Pool::builder().very_slow_percent(100).build().unwrap_err();
    /// assert!(matches!(err, workq::Error::InvalidConfig { setting: "very_slow_percent", .. }));
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn very_slow_percent(mut self, percent: usize) -> PoolBuilder {
        self.very_slow_percent = percent;
        self
    }

    /// How long the pool waits after a failed thread start before trying again
    /// (default 5 s).
    ///
    /// ```
    /// use std::time::Duration;
    /// use workq::{Error, Pool, Work};
    /// let pool = Pool::builder()
    ///     .name("starved")
    ///     .spawner(|_, _| Err(std::io::Error::other("no threads")))
    ///     .start_attempts(1) // refuse at the first failed start
    ///     .on_spawn_failure(|_| {})
    ///     .spawn_backoff(Duration::from_secs(60))
    ///     .build()?;
    /// assert!(matches!(pool.queue(&Work::new(|_| {})), Err(Error::Spawn { .. })));
    /// // No new try for 60 s: queue calls fail at once, without calling the spawner.
    /// let err = pool.queue(&Work::new(|_| {})).unwrap_err();
    /// assert!(matches!(err, Error::NoThreads { retry_in, .. } if retry_in <= Duration::from_secs(60)));
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn spawn_backoff(mut self, backoff: Duration) -> PoolBuilder {
        self.backoff = backoff;
        self
    }

    /// How many thread starts in a row may fail, while the pool has no thread,
    /// before it gives up (at least 1; default 3).
    ///
    /// A pool whose first start fails accepts work and holds it: the start is
    /// retried at the end of each back-off ([`spawn_backoff`](PoolBuilder::spawn_backoff)),
    /// with no further queue call, and the held items run once a start succeeds.
    /// After `n` failed starts in a row (or one that fails while the pool is being
    /// drained or destroyed) the pool gives up: it cancels the items it holds (they
    /// are idle again, and the spawn-failure hook gets their number in
    /// [`SpawnFailure::cancelled`](crate::SpawnFailure::cancelled)), and queue
    /// calls fail with [`Error::Spawn`] / [`Error::NoThreads`](crate::Error::NoThreads)
    /// until a start succeeds. With 1, the first failed start refuses the call
    /// that made it.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    /// use workq::{Pool, Work};
    /// let calls = Arc::new(AtomicUsize::new(0));
    /// let c = calls.clone();
    /// let pool = Pool::builder()
    ///     .name("retried")
    ///     .spawn_backoff(std::time::Duration::from_millis(1))
    ///     .start_attempts(3)
    ///     .spawner(move |builder, body| {
    ///         if c.fetch_add(1, Ordering::SeqCst) == 0 {
    ///             return Err(std::io::Error::other("not now")); // the first start fails
    ///         }
    ///         builder.spawn(body)
    ///     })
    ///     .on_spawn_failure(|_| {})
    ///     .build()?;
    /// let work = Work::new(|_| {});
    /// pool.queue(&work)?; // held: a retry is pending
    /// work.flush()?; // ran once the retry started a thread
    /// assert!(calls.load(Ordering::SeqCst) >= 2);
    /// assert!(workq::Pool::builder().start_attempts(0).build().is_err());
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn start_attempts(mut self, n: u32) -> PoolBuilder {
        self.start_attempts = n;
        self
    }

    /// Bound the items waiting in the pool (back-pressure): a queue call of an
    /// idle item on a full pool waits for room ([`Pool::queue`]), fails
    /// ([`Pool::try_queue`]) or is awaited ([`Pool::queue_async`]). Items already
    /// pending or running never count, and calls from the pool's own items never
    /// wait. Default: no bound.
    ///
    /// ```
    /// use workq::{Error, Pool, Work};
    /// let pool = Pool::builder().name("bounded").min_threads(1).max_threads(1).max_waiting(1).build()?;
    /// let (tx, rx) = std::sync::mpsc::channel::<()>();
    /// let rx = std::sync::Mutex::new(rx);
    /// let (started_tx, started) = std::sync::mpsc::channel::<()>();
    /// let gate = Work::new(move |_| {
    ///     let _ = started_tx.send(());
    ///     let _ = rx.lock().map(|rx| rx.recv()); // holds the only thread
    /// });
    /// pool.queue(&gate)?;
    /// started.recv().expect("the gate runs");
    /// let (a, b) = (Work::new(|_| {}), Work::new(|_| {}));
    /// pool.try_queue(&a)?; // waits: the pool is full
    /// assert!(matches!(pool.try_queue(&b), Err(Error::Full { max_waiting: 1, .. })));
    /// tx.send(()).expect("release the gate");
    /// pool.queue(&b)?; // waits for room if needed
    /// pool.flush()?;
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn max_waiting(mut self, n: usize) -> PoolBuilder {
        self.max_waiting = Some(n);
        self
    }

    /// Stack size of the pool's threads in bytes (at least 16 KiB).
    ///
    /// ```
    /// let pool = workq::Pool::builder().name("small-stacks").stack_size(64 * 1024).build()?;
    /// pool.queue(&workq::Work::new(|_| {}))?;
    /// pool.flush()?;
    /// let err = workq::Pool::builder().stack_size(1024).build().unwrap_err();
    /// assert!(matches!(err, workq::Error::InvalidConfig { setting: "stack_size", .. }));
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn stack_size(mut self, bytes: usize) -> PoolBuilder {
        self.stack_size = Some(bytes);
        self
    }

    /// Called once for every run that panics (default: one line on stderr).
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// let reports = Arc::new(Mutex::new(Vec::new()));
    /// let r = reports.clone();
    /// let pool = workq::Pool::builder()
    ///     .name("guarded")
    ///     .on_panic(move |report| r.lock().expect("lock").push(report.message.to_string()))
    ///     .build()?;
    /// let bad = workq::Work::new(|_| panic!("disk gone"));
    /// pool.queue(&bad)?;
    /// bad.flush()?; // returns once the hook has run
    /// assert_eq!(*reports.lock().expect("lock"), ["disk gone"]);
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn on_panic<F>(mut self, hook: F) -> PoolBuilder
    where
        F: Fn(&PanicReport<'_>) + Send + Sync + 'static,
    {
        self.on_panic = Some(std::sync::Arc::new(hook));
        self
    }

    /// Called once for every thread that could not be started (default: one line
    /// on stderr).
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    /// let failures = Arc::new(AtomicUsize::new(0));
    /// let f = failures.clone();
    /// let pool = workq::Pool::builder()
    ///     .name("starved")
    ///     .spawner(|_, _| Err(std::io::Error::other("no threads")))
    ///     .start_attempts(1) // refuse at the first failed start
    ///     .on_spawn_failure(move |failure| {
    ///         assert_eq!(failure.pool, "starved");
    ///         f.fetch_add(1, Ordering::SeqCst);
    ///     })
    ///     .build()?;
    /// assert!(pool.queue(&workq::Work::new(|_| {})).is_err());
    /// assert_eq!(failures.load(Ordering::SeqCst), 1);
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn on_spawn_failure<F>(mut self, hook: F) -> PoolBuilder
    where
        F: Fn(&SpawnFailure<'_>) + Send + Sync + 'static,
    {
        self.on_spawn_failure = Some(std::sync::Arc::new(hook));
        self
    }

    /// How the pool starts its threads (default: `builder.spawn(body)`). Tests use it
    /// to make thread starts fail.
    ///
    /// It is called on the thread of the pool's first queue call (the minimum's
    /// starts), then only on the pool's own threads and on the process-wide
    /// `workq-timer` thread (a start wanted while every thread is busy, or retried
    /// after a back-off), never on a queue caller's thread; and on the caller's
    /// thread of [`Pool::set_min_threads`](crate::Pool::set_min_threads). It should
    /// return promptly: while it runs on the timer thread, timers wait. A panic in
    /// it counts as a failed start.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// let starts = AtomicUsize::new(0);
    /// let pool = workq::Pool::builder()
    ///     .name("counted-starts")
    ///     .spawner(move |builder, body| {
    ///         if starts.fetch_add(1, Ordering::SeqCst) >= 3 {
    ///             return Err(std::io::Error::other("no more threads for you"));
    ///         }
    ///         builder.spawn(body)
    ///     })
    ///     .build()?;
    /// # drop(pool);
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn spawner<F>(mut self, spawn: F) -> PoolBuilder
    where
        F: Fn(std::thread::Builder, Box<dyn FnOnce() + Send>) -> io::Result<JoinHandle<()>>
            + Send
            + Sync
            + 'static,
    {
        self.spawner = Some(std::sync::Arc::new(spawn));
        self
    }

    /// Drives the pool's delayed items by a [`ManualClock`] (for tests).
    ///
    /// ```
    /// use std::time::Duration;
    /// let clock = workq::ManualClock::new();
    /// let pool = workq::Pool::builder().name("timed").manual_clock(&clock).build()?;
    /// let work = workq::Work::new(|_| {});
    /// pool.queue_after(&work, Duration::from_secs(60))?;
    /// clock.advance(Duration::from_secs(59));
    /// assert!(work.is_pending()); // not yet
    /// clock.advance(Duration::from_secs(1));
    /// pool.flush()?; // fired at 60 s
    /// assert!(!work.is_pending());
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn manual_clock(mut self, clock: &ManualClock) -> PoolBuilder {
        self.clock = Some(clock.clone());
        self
    }

    /// What destroying the pool (or dropping its last handle) does with its armed
    /// delayed items: cancel them (the default) or fire them now and run them
    /// before the destroy returns. See [`crate::shutdown`].
    ///
    /// ```
    /// use std::time::Duration;
    /// use workq::{ArmedAtShutdown, Pool, Work};
    /// let pool = Pool::builder().name("p").armed_at_shutdown(ArmedAtShutdown::RunNow).build()?;
    /// let work = Work::new(|_| {});
    /// pool.queue_after(&work, Duration::from_secs(3600))?;
    /// assert_eq!(pool.destroy()?.armed_run(), 1);
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn armed_at_shutdown(mut self, policy: ArmedAtShutdown) -> PoolBuilder {
        self.armed_at_shutdown = policy;
        self
    }

    /// Checks the settings and makes the pool (no thread starts yet).
    ///
    /// # Errors
    /// [`Error::InvalidConfig`]: an empty name or one with a NUL byte; min above
    /// max (both set); max 0; a very slow share outside 1..=99; a zero idle timeout; a
    /// stack under 16 KiB; `max_waiting` or `start_attempts` 0.
    ///
    /// ```
    /// let err = workq::Pool::builder().min_threads(5).max_threads(2).build().unwrap_err();
    /// assert!(matches!(err, workq::Error::InvalidConfig { setting: "min_threads", .. }));
    /// ```
    pub fn build(self) -> Result<Pool, Error> {
        // `WORKQ_INSPECT`, read at the process's first build (feature `inspect`).
        #[cfg(all(feature = "inspect", unix))]
        crate::addons::inspect::at_first_build();
        check_name(&self.name)?;
        check_threads(self.threads().0, self.threads().1)?;
        check_percent(self.very_slow_percent)?;
        if self.idle_timeout.is_zero() {
            return Err(Error::InvalidConfig {
                setting: "idle_timeout",
                reason: "must be greater than zero".to_string(),
            });
        }
        check_stack(self.stack_size)?;
        if self.max_waiting == Some(0) {
            return Err(Error::InvalidConfig {
                setting: "max_waiting",
                reason: "must be at least 1".to_string(),
            });
        }
        if self.start_attempts == 0 {
            return Err(Error::InvalidConfig {
                setting: "start_attempts",
                reason: "must be at least 1".to_string(),
            });
        }
        Ok(self.make())
    }

    /// Makes the pool from checked settings (no thread starts yet).
    pub(crate) fn make(self) -> Pool {
        let (min, max) = self.threads();
        let spawner = self.spawner.unwrap_or_else(|| {
            std::sync::Arc::new(|builder: std::thread::Builder, body| builder.spawn(body))
        });
        let on_spawn_failure = self.on_spawn_failure.unwrap_or_else(|| {
            std::sync::Arc::new(|f: &SpawnFailure<'_>| crate::support::log::trouble!(warn, "{f}"))
        });
        let timer = match &self.clock {
            Some(clock) => clock.timer.clone(),
            None => Timer::system(),
        };
        let queue = RunQueue::new(QueueConfig {
            name: self.name.clone(),
            single_consumer: false,
            count_merged: self.count_merged,
            latency_histograms: self.latency_histograms,
            freezable: false,
            on_panic: self.on_panic.unwrap_or_else(default_hook),
            timer,
            mode: Mode::Elastic {
                sizing: Elastic::new(
                    &self.name,
                    ElasticSettings {
                        idle_timeout: self.idle_timeout,
                        backoff: self.backoff,
                        stack_size: self.stack_size,
                        starter: Starter::Spawner(spawner),
                        on_spawn_failure,
                        start_attempts: self.start_attempts,
                        grow_timer: Timer::system(),
                    },
                ),
                min,
                max,
                very_slow_percent: self.very_slow_percent,
            },
            limits: Limits {
                max_running: usize::MAX,
                max_waiting: self.max_waiting.unwrap_or(usize::MAX),
            },
        });
        Pool {
            handle: Arc::new(Handle {
                queue,
                armed_at_shutdown: self.armed_at_shutdown,
                fed: crate::support::sync::Mutex::new(Vec::new()),
                bounded: self.max_waiting.is_some(),
            }),
        }
    }
}

impl Default for PoolBuilder {
    fn default() -> Self {
        PoolBuilder::new()
    }
}

impl fmt::Debug for PoolBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PoolBuilder")
            .field("name", &self.name)
            .field("min_threads", &self.threads().0)
            .field("max_threads", &self.threads().1)
            .field("idle_timeout", &self.idle_timeout)
            .field("very_slow_percent", &self.very_slow_percent)
            .field("spawn_backoff", &self.backoff)
            .field("stack_size", &self.stack_size)
            .field("max_waiting", &self.max_waiting)
            .field("start_attempts", &self.start_attempts)
            .finish()
    }
}
