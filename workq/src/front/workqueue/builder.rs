//! Building a [`WorkQueue`]: validated settings, its pumps and its rescuer.

use super::{Handle, WorkQueue};
use crate::addons::watchdog::{self, StallHook, StallReport};
use crate::engine::item::Class;
use crate::engine::{FedSettings, RunQueue};
use crate::error::{check_name, invalid, Error};
use crate::front::pool::Pool;
use crate::shutdown::ArmedAtShutdown;
use crate::support::panic::{default_hook, PanicHook, PanicReport};
use crate::support::sync::{Arc, Mutex};
use std::fmt;
use std::time::Duration;

/// The largest `max_active` (as the kernel's `WQ_MAX_ACTIVE`).
///
/// ```
/// use workq::{Error, WorkQueue};
/// let wide = WorkQueue::builder("wide").max_active(512).build()?; // MAX_ACTIVE
/// assert_eq!(wide.snapshot().max_active, Some(512));
/// let err = WorkQueue::builder("too-wide").max_active(513).build().unwrap_err();
/// assert!(matches!(err, Error::InvalidConfig { setting: "max_active", .. }));
/// # Ok::<(), workq::Error>(())
/// ```
pub const MAX_ACTIVE: usize = 512;

/// Settings of a [`WorkQueue`].
///
/// ```
/// use std::time::Duration;
/// let pool = workq::Pool::new("io")?;
/// let wq = workq::WorkQueue::builder("writeback")
///     .pool(&pool)
///     .max_active(4)
///     .freezable(true)
///     .rescuer(true)
///     .high_priority(false)
///     .watchdog(Some(Duration::from_secs(10)))
///     .build()?;
/// # drop(wq);
/// # Ok::<(), workq::Error>(())
/// ```
#[must_use = "a builder does nothing until `build` is called"]
pub struct WorkQueueBuilder {
    name: String,
    pool: Option<Pool>,
    max_active: usize,
    ordered: bool,
    high_priority: bool,
    very_slow: bool,
    max_waiting: Option<usize>,
    freezable: bool,
    count_merged: bool,
    latency_histograms: bool,
    rescuer: bool,
    rescue_after: Duration,
    watchdog: Option<Duration>,
    on_stall: Option<StallHook>,
    on_panic: Option<PanicHook>,
    armed_at_shutdown: ArmedAtShutdown,
}

impl WorkQueueBuilder {
    pub(crate) fn new(name: String) -> WorkQueueBuilder {
        WorkQueueBuilder {
            name,
            pool: None,
            max_active: 256,
            ordered: false,
            high_priority: false,
            very_slow: false,
            max_waiting: None,
            freezable: false,
            count_merged: false,
            latency_histograms: false,
            rescuer: false,
            rescue_after: Duration::from_millis(100),
            watchdog: None,
            on_stall: None,
            on_panic: None,
            armed_at_shutdown: ArmedAtShutdown::Cancel,
        }
    }

    /// The pool whose threads run the queue's items (default: the process-wide
    /// default pool, started on first use).
    ///
    /// ```
    /// let io = workq::Pool::new("io")?;
    /// let wq = workq::WorkQueue::builder("writeback").pool(&io).build()?;
    /// assert_eq!(wq.pool().name(), "io");
    /// let default = workq::WorkQueue::builder("elsewhere").build()?;
    /// assert_eq!(default.pool().name(), "workq"); // the process-wide default pool
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn pool(mut self, pool: &Pool) -> WorkQueueBuilder {
        self.pool = Some(pool.clone());
        self
    }

    /// At most this many of the queue's items run at once, 1 to 512 (default 256).
    ///
    /// ```
    /// let wq = workq::WorkQueue::builder("narrow").max_active(4).build()?;
    /// assert_eq!(wq.snapshot().max_active, Some(4));
    /// assert!(workq::WorkQueue::builder("none").max_active(0).build().is_err());
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn max_active(mut self, n: usize) -> WorkQueueBuilder {
        self.max_active = n;
        self
    }

    /// Strict FIFO, one item at a time (`max_active` 1).
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// let wq = workq::WorkQueue::builder("journal").ordered().build()?;
    /// assert_eq!(wq.snapshot().max_active, Some(1));
    /// let order = Arc::new(Mutex::new(Vec::new()));
    /// let items: Vec<workq::Work> = (0..5)
    ///     .map(|i| {
    ///         let o = order.clone();
    ///         workq::Work::new(move |_| o.lock().expect("lock").push(i))
    ///     })
    ///     .collect();
    /// for w in &items {
    ///     wq.queue(w)?;
    /// }
    /// wq.flush()?;
    /// assert_eq!(*order.lock().expect("lock"), [0, 1, 2, 3, 4]);
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn ordered(mut self) -> WorkQueueBuilder {
        self.ordered = true;
        self
    }

    /// The queue's items are taken before the pool's other waiting work.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use workq::{Pool, Work, WorkQueue};
    /// let pool = Pool::builder().name("one-thread").min_threads(1).max_threads(1).build()?;
    /// let urgent = WorkQueue::builder("urgent").pool(&pool).high_priority(true).build()?;
    /// let order = Arc::new(Mutex::new(Vec::new()));
    /// let log = |name: &'static str| {
    ///     let o = order.clone();
    ///     Work::new(move |_| o.lock().expect("lock").push(name))
    /// };
    /// let (normal, high) = (log("normal"), log("high"));
    /// let (p, u, n, h) = (pool.clone(), urgent.clone(), normal.clone(), high.clone());
    /// let first = Work::new(move |_| {
    ///     // The pool's only thread is busy here: both wait, `normal` first.
    ///     p.queue(&n).expect("queue");
    ///     u.queue(&h).expect("queue");
    /// });
    /// pool.queue(&first)?;
    /// first.flush()?; // both are queued now
    /// urgent.flush()?;
    /// pool.flush()?;
    /// assert_eq!(*order.lock().expect("lock"), ["high", "normal"]);
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn high_priority(mut self, high: bool) -> WorkQueueBuilder {
        self.high_priority = high;
        self
    }

    /// The queue's items may block for long: they run in the pool's very slow
    /// class, which can never take every thread.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use workq::{Pool, Work, WorkQueue};
    /// let pool = Pool::builder().name("one-thread").min_threads(1).max_threads(1).build()?;
    /// let scans = WorkQueue::builder("scans").pool(&pool).very_slow(true).build()?;
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let (p, s, v) = (pool.clone(), scans.clone(), seen.clone());
    /// let probe = Work::new(move |_| {
    ///     // The pool's only thread is busy here: the queue's run waits on the pool.
    ///     s.queue(&Work::new(|_| {})).expect("queue");
    ///     *v.lock().expect("lock") = p.snapshot().waiting;
    /// });
    /// pool.queue(&probe)?;
    /// probe.flush()?;
    /// scans.flush()?;
    /// let seen = seen.lock().expect("lock");
    /// assert!(seen.len() == 1 && seen[0].very_slow); // in the pool's very slow class
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn very_slow(mut self, very_slow: bool) -> WorkQueueBuilder {
        self.very_slow = very_slow;
        self
    }

    /// Bound the items waiting in the queue (back-pressure): a queue call on a full
    /// queue waits ([`WorkQueue::queue`]), fails ([`WorkQueue::try_queue`]) or is
    /// awaited ([`WorkQueue::queue_async`]). Default: no bound.
    ///
    /// ```
    /// use workq::{Error, Work, WorkQueue};
    /// let wq = WorkQueue::builder("bounded").max_waiting(1).freezable(true).build()?;
    /// wq.freeze()?; // hold the items, so the queue fills up
    /// let (a, b) = (Work::new(|_| {}), Work::new(|_| {}));
    /// wq.try_queue(&a)?;
    /// assert!(matches!(wq.try_queue(&b), Err(Error::Full { max_waiting: 1, .. })));
    /// wq.thaw()?;
    /// wq.queue(&b)?; // waits for room if needed
    /// wq.flush()?;
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn max_waiting(mut self, n: usize) -> WorkQueueBuilder {
        self.max_waiting = Some(n);
        self
    }

    /// Whether queue calls that find their item already pending are counted, in
    /// [`Stats::merged`](crate::Stats::merged) (default: no; see
    /// [`WorkerBuilder::count_merged`](crate::WorkerBuilder::count_merged)).
    ///
    /// ```
    /// let wq = workq::WorkQueue::builder("counted").count_merged(true).build()?;
    /// assert_eq!(wq.snapshot().stats.merged, Some(0));
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn count_merged(mut self, count: bool) -> WorkQueueBuilder {
        self.count_merged = count;
        self
    }

    /// Whether waits and run times are kept in latency histograms, shown in
    /// [`Stats::wait`](crate::Stats::wait) and [`Stats::run`](crate::Stats::run)
    /// (default: no; see
    /// [`WorkerBuilder::latency_histograms`](crate::WorkerBuilder::latency_histograms)).
    /// The runs of this workqueue's items count here, not on its pool (whose
    /// histograms, if on, count the pumps that run them).
    ///
    /// ```
    /// let wq = workq::WorkQueue::builder("timed").latency_histograms(true).build()?;
    /// wq.queue(&workq::Work::new(|_| {}))?;
    /// wq.flush()?;
    /// assert_eq!(wq.stats().run.expect("measured").count, 1);
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn latency_histograms(mut self, on: bool) -> WorkQueueBuilder {
        self.latency_histograms = on;
        self
    }

    /// Whether [`WorkQueue::freeze`] is allowed (default: no).
    ///
    /// ```
    /// use workq::{Error, WorkQueue};
    /// let plain = WorkQueue::builder("plain").build()?;
    /// assert!(matches!(plain.freeze(), Err(Error::NotFreezable { .. })));
    /// let wq = WorkQueue::builder("freezable").freezable(true).build()?;
    /// wq.freeze()?;
    /// wq.thaw()?;
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn freezable(mut self, freezable: bool) -> WorkQueueBuilder {
        self.freezable = freezable;
        self
    }

    /// Reserve one thread for this queue, started by `build`, that runs its items
    /// when the pool cannot (default: no).
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use workq::{Pool, Work, WorkQueue};
    /// let starved = Pool::builder() // a pool that cannot start a thread
    ///     .name("starved")
    ///     .spawner(|_, _| Err(std::io::Error::other("no threads")))
    ///     .on_spawn_failure(|_| {})
    ///     .build()?;
    /// let wq = WorkQueue::builder("must-progress").pool(&starved).rescuer(true).build()?;
    /// let thread = Arc::new(Mutex::new(None));
    /// let t = thread.clone();
    /// let work = Work::new(move |_| {
    ///     *t.lock().expect("lock") = std::thread::current().name().map(String::from);
    /// });
    /// wq.queue(&work)?;
    /// work.flush()?;
    /// assert_eq!(thread.lock().expect("lock").as_deref(), Some("must-progress/rescuer"));
    /// let plain = WorkQueue::builder("no-rescuer").pool(&starved).build()?;
    /// assert!(plain.queue(&Work::new(|_| {})).is_err()); // nothing could run it
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn rescuer(mut self, rescuer: bool) -> WorkQueueBuilder {
        self.rescuer = rescuer;
        self
    }

    /// How long runnable items may wait with nothing of the queue started before
    /// the rescuer steps in (default 100 ms).
    ///
    /// ```
    /// use std::time::Duration;
    /// use workq::{Error, WorkQueue};
    /// let wq = WorkQueue::builder("impatient")
    ///     .rescuer(true)
    ///     .rescue_after(Duration::from_millis(20))
    ///     .build()?;
    /// # drop(wq);
    /// let err = WorkQueue::builder("zero").rescue_after(Duration::ZERO).build().unwrap_err();
    /// assert!(matches!(err, Error::InvalidConfig { setting: "rescue_after", .. }));
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn rescue_after(mut self, after: Duration) -> WorkQueueBuilder {
        self.rescue_after = after;
        self
    }

    /// Report an item that runs longer than `threshold`, items waiting with
    /// nothing started for longer than `threshold`, or a backlog whose oldest item
    /// has waited longer than `threshold` while runs keep starting, once per
    /// episode (default: off). Each report is a log line (a `tracing` event when a
    /// subscriber is installed, else one line on stderr) plus the
    /// [`on_stall`](WorkQueueBuilder::on_stall) hook when one is set.
    ///
    /// ```
    /// use std::time::Duration;
    /// use workq::{Error, WorkQueue};
    /// let wq = WorkQueue::builder("watched").watchdog(Some(Duration::from_secs(30))).build()?;
    /// # drop(wq);
    /// let err = WorkQueue::builder("zero").watchdog(Some(Duration::ZERO)).build().unwrap_err();
    /// assert!(matches!(err, Error::InvalidConfig { setting: "watchdog", .. }));
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn watchdog(mut self, threshold: Option<Duration>) -> WorkQueueBuilder {
        self.watchdog = threshold;
        self
    }

    /// Called for every stall report (besides a log line). The hook runs on a
    /// thread of its own, one call at a time per queue, so a hook that blocks
    /// holds up only this queue's later reports (see [`StallHook`](crate::StallHook)).
    ///
    /// ```
    /// use std::sync::{mpsc, Mutex};
    /// use std::time::Duration;
    /// use workq::{Stall, Work, WorkQueue};
    /// let (report_tx, reports) = mpsc::channel();
    /// let wq = WorkQueue::builder("watched")
    ///     .watchdog(Some(Duration::from_millis(1)))
    ///     .on_stall(move |report| {
    ///         if matches!(report.stall, Stall::Running { .. }) {
    ///             let _ = report_tx.send(report.to_string());
    ///         }
    ///     })
    ///     .build()?;
    /// let (release, released) = mpsc::channel::<()>();
    /// let released = Mutex::new(released);
    /// let stuck = Work::named("stuck", move |_| {
    ///     let _ = released.lock().expect("lock").recv(); // runs until released
    /// });
    /// wq.queue(&stuck)?;
    /// let line = reports.recv_timeout(Duration::from_secs(10)).expect("a stall report");
    /// release.send(()).expect("release");
    /// wq.flush()?;
    /// assert!(line.contains("item 'stuck' has been running"));
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn on_stall<F>(mut self, hook: F) -> WorkQueueBuilder
    where
        F: Fn(&StallReport<'_>) + Send + Sync + 'static,
    {
        self.on_stall = Some(std::sync::Arc::new(hook));
        self
    }

    /// Called once for every run that panics (default: the report's line: an error event when a `tracing` subscriber
    /// is installed, else one line on stderr).
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// let reports = Arc::new(Mutex::new(Vec::new()));
    /// let r = reports.clone();
    /// let wq = workq::WorkQueue::builder("guarded")
    ///     .on_panic(move |report| r.lock().expect("lock").push(report.queue.to_string()))
    ///     .build()?;
    /// let bad = workq::Work::new(|_| panic!("bad"));
    /// wq.queue(&bad)?;
    /// bad.flush()?; // returns once the hook has run
    /// assert_eq!(*reports.lock().expect("lock"), ["guarded"]);
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn on_panic<F>(mut self, hook: F) -> WorkQueueBuilder
    where
        F: Fn(&PanicReport<'_>) + Send + Sync + 'static,
    {
        self.on_panic = Some(std::sync::Arc::new(hook));
        self
    }

    /// What destroying the queue (or dropping its last handle) does with its armed
    /// delayed items: cancel them (the default) or fire them now and run them
    /// before the destroy returns. See [`crate::shutdown`].
    ///
    /// ```
    /// use std::time::Duration;
    /// use workq::{ArmedAtShutdown, Work, WorkQueue};
    /// let wq = WorkQueue::builder("flush-on-exit")
    ///     .armed_at_shutdown(ArmedAtShutdown::RunNow)
    ///     .build()?;
    /// let work = Work::new(|_| {});
    /// wq.queue_after(&work, Duration::from_secs(3600))?;
    /// assert_eq!(wq.destroy()?.armed_run(), 1);
    /// assert!(!work.is_pending());
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn armed_at_shutdown(mut self, policy: ArmedAtShutdown) -> WorkQueueBuilder {
        self.armed_at_shutdown = policy;
        self
    }

    /// Checks the settings and makes the queue (and its rescuer thread, if asked).
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for an empty name, a `max_active` outside 1..=512 or
    /// a zero watchdog threshold or rescue delay; [`Error::Spawn`] if the rescuer
    /// thread cannot start.
    ///
    /// ```
    /// let err = workq::WorkQueue::builder("x").max_active(0).build().unwrap_err();
    /// assert!(matches!(err, workq::Error::InvalidConfig { setting: "max_active", .. }));
    /// ```
    pub fn build(self) -> Result<WorkQueue, Error> {
        // `WORKQ_INSPECT`, read at the process's first build (feature `inspect`).
        #[cfg(all(feature = "inspect", unix))]
        crate::addons::inspect::at_first_build();
        check_name(&self.name)?;
        if !(1..=MAX_ACTIVE).contains(&self.max_active) {
            return Err(invalid("max_active", "must be 1 to 512"));
        }
        if self.watchdog.is_some_and(|t| t.is_zero()) {
            return Err(invalid(
                "watchdog",
                "the threshold must be greater than zero",
            ));
        }
        if self.max_waiting == Some(0) {
            return Err(invalid("max_waiting", "must be at least 1"));
        }
        if self.rescue_after.is_zero() {
            return Err(invalid("rescue_after", "must be greater than zero"));
        }
        let pool = match self.pool.clone() {
            Some(p) => p,
            None => super::system::default_pool().clone(),
        };
        self.make(pool)
    }

    /// Makes the queue from checked settings.
    pub(crate) fn make(self, pool: Pool) -> Result<WorkQueue, Error> {
        let queue = self.assemble(&pool);
        let rescuer = if self.rescuer {
            let q = queue.clone();
            let slot = queue.limits().max_running;
            let name = format!("{}/rescuer", self.name);
            let spawned = std::thread::Builder::new()
                .name(name.clone())
                .spawn(move || RunQueue::rescue(&q, slot));
            match spawned {
                Ok(j) => Some(j),
                Err(source) => {
                    queue.drop_pumps();
                    return Err(Error::Spawn {
                        thread: name,
                        source,
                    });
                }
            }
        } else {
            None
        };
        Ok(self.finish(queue, pool, rescuer))
    }

    /// Makes a queue with no rescuer from checked settings (cannot fail).
    pub(crate) fn make_without_rescuer(mut self, pool: Pool) -> WorkQueue {
        self.rescuer = false;
        let queue = self.assemble(&pool);
        self.finish(queue, pool, None)
    }

    /// The queue's engine and its pumps.
    fn assemble(&self, pool: &Pool) -> Arc<RunQueue> {
        let queue = RunQueue::new_fed(
            &pool.handle.queue,
            FedSettings {
                name: self.name.clone(),
                count_merged: self.count_merged,
                latency_histograms: self.latency_histograms,
                freezable: self.freezable,
                on_panic: self.on_panic.clone().unwrap_or_else(default_hook),
                max_active: if self.ordered { 1 } else { self.max_active },
                max_waiting: self.max_waiting.unwrap_or(usize::MAX),
                class: match (self.high_priority, self.very_slow) {
                    (true, _) => Class::High,
                    (false, true) => Class::VerySlow,
                    (false, false) => Class::Normal,
                },
                rescue_after: self.rescuer.then_some(self.rescue_after),
            },
        );
        pool.handle.register_fed(&queue);
        queue
    }

    fn finish(
        self,
        queue: Arc<RunQueue>,
        pool: Pool,
        rescuer: Option<std::thread::JoinHandle<()>>,
    ) -> WorkQueue {
        if let Some(threshold) = self.watchdog {
            watchdog::watch(&queue, threshold, self.on_stall, || {
                super::system::default_pool().run_queue().clone()
            });
        }
        WorkQueue {
            handle: Arc::new(Handle {
                queue,
                pool,
                rescuer: Mutex::new(rescuer),
                armed_at_shutdown: self.armed_at_shutdown,
                bounded: self.max_waiting.is_some(),
            }),
        }
    }
}

impl fmt::Debug for WorkQueueBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkQueueBuilder")
            .field("name", &self.name)
            .field("max_active", &self.max_active)
            .field("ordered", &self.ordered)
            .field("high_priority", &self.high_priority)
            .field("very_slow", &self.very_slow)
            .field("freezable", &self.freezable)
            .field("rescuer", &self.rescuer)
            .field("watchdog", &self.watchdog)
            .field("armed_at_shutdown", &self.armed_at_shutdown)
            .finish()
    }
}
