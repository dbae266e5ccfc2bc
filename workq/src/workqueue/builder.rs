//! Building a [`WorkQueue`]: validated settings, its pumps and its rescuer.

use super::{Handle, WorkQueue};
use crate::engine::{Feeder, QueueConfig, RunQueue, Slot};
use crate::error::{check_name, invalid, Error};
use crate::panic::{default_hook, PanicHook, PanicReport};
use crate::pool::Pool;
use crate::sync::{Arc, Mutex};
use crate::watchdog::{self, StallHook, StallReport};
use crate::work::{Class, Work};
use std::fmt;
use std::time::Duration;

/// The largest `max_active` (as the kernel's `WQ_MAX_ACTIVE`).
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
    rescuer: bool,
    rescue_after: Duration,
    watchdog: Option<Duration>,
    on_stall: Option<StallHook>,
    on_panic: Option<PanicHook>,
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
            rescuer: false,
            rescue_after: Duration::from_millis(100),
            watchdog: None,
            on_stall: None,
            on_panic: None,
        }
    }

    /// The pool whose threads run the queue's items (default: the process-wide
    /// default pool, started on first use).
    pub fn pool(mut self, pool: &Pool) -> WorkQueueBuilder {
        self.pool = Some(pool.clone());
        self
    }

    /// At most this many of the queue's items run at once, 1 to 512 (default 256).
    pub fn max_active(mut self, n: usize) -> WorkQueueBuilder {
        self.max_active = n;
        self
    }

    /// Strict FIFO, one item at a time (`max_active` 1).
    pub fn ordered(mut self) -> WorkQueueBuilder {
        self.ordered = true;
        self
    }

    /// The queue's items are taken before the pool's other waiting work.
    pub fn high_priority(mut self, high: bool) -> WorkQueueBuilder {
        self.high_priority = high;
        self
    }

    /// The queue's items may block for long: they run in the pool's very slow
    /// class, which can never take every thread.
    pub fn very_slow(mut self, very_slow: bool) -> WorkQueueBuilder {
        self.very_slow = very_slow;
        self
    }

    /// Bound the items waiting in the queue (back-pressure): a queue call on a full
    /// queue waits ([`WorkQueue::queue`]), fails ([`WorkQueue::try_queue`]) or is
    /// awaited ([`WorkQueue::queue_async`]). Default: no bound.
    pub fn max_waiting(mut self, n: usize) -> WorkQueueBuilder {
        self.max_waiting = Some(n);
        self
    }

    /// Whether [`WorkQueue::freeze`] is allowed (default: no).
    pub fn freezable(mut self, freezable: bool) -> WorkQueueBuilder {
        self.freezable = freezable;
        self
    }

    /// Reserve one thread for this queue, started by `build`, that runs its items
    /// when the pool cannot (default: no).
    pub fn rescuer(mut self, rescuer: bool) -> WorkQueueBuilder {
        self.rescuer = rescuer;
        self
    }

    /// How long runnable items may wait with nothing of the queue started before
    /// the rescuer steps in (default 100 ms).
    pub fn rescue_after(mut self, after: Duration) -> WorkQueueBuilder {
        self.rescue_after = after;
        self
    }

    /// Report an item that runs longer than `threshold`, or items waiting with
    /// nothing started for longer than `threshold`, once per episode (default: off).
    pub fn watchdog(mut self, threshold: Option<Duration>) -> WorkQueueBuilder {
        self.watchdog = threshold;
        self
    }

    /// Called for every stall report (besides a log line).
    pub fn on_stall<F>(mut self, hook: F) -> WorkQueueBuilder
    where
        F: Fn(&StallReport<'_>) + Send + Sync + 'static,
    {
        self.on_stall = Some(std::sync::Arc::new(hook));
        self
    }

    /// Called once for every run that panics (default: one line on stderr).
    pub fn on_panic<F>(mut self, hook: F) -> WorkQueueBuilder
    where
        F: Fn(&PanicReport<'_>) + Send + Sync + 'static,
    {
        self.on_panic = Some(std::sync::Arc::new(hook));
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
            let slot = queue.lock().max_running;
            let name = format!("{}/rescuer", self.name);
            let spawned = std::thread::Builder::new()
                .name(name.clone())
                .spawn(move || RunQueue::rescue(&q, slot));
            match spawned {
                Ok(j) => Some(j),
                Err(source) => {
                    if let Some(feeder) = &queue.feeder {
                        feeder
                            .pumps
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .clear();
                    }
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
        let max_active = if self.ordered { 1 } else { self.max_active };
        let pool_queue = pool.handle.queue.clone();
        let queue = RunQueue::new(QueueConfig {
            name: self.name.clone(),
            single_consumer: max_active == 1,
            freezable: self.freezable,
            on_panic: self.on_panic.clone().unwrap_or_else(default_hook),
            timer: pool_queue.timer.clone(),
            elastic: None,
            feeder: Some(Feeder {
                pool: pool_queue,
                pumps: std::sync::Mutex::new(Vec::new()),
                rescue_after: self.rescuer.then_some(self.rescue_after),
            }),
            threads: (0, 0, 50),
        });
        let class = match (self.high_priority, self.very_slow) {
            (true, _) => Class::High,
            (false, true) => Class::VerySlow,
            (false, false) => Class::Normal,
        };
        let mut pumps = Vec::with_capacity(max_active);
        {
            let mut g = queue.lock();
            g.max_running = max_active;
            g.max_waiting = self.max_waiting.unwrap_or(usize::MAX);
            for i in 0..max_active {
                g.slots.push(Some(Slot {
                    thread: format!("{}#{i}", self.name).into(),
                    current: None,
                }));
                let q = queue.clone();
                let p = pool.handle.queue.clone();
                let pump = Work::build(
                    Some(format!("{}#{i}", self.name).into_boxed_str()),
                    class,
                    Box::new(move |ctx| {
                        if RunQueue::pump(&q, Some(i), Some(&p)) {
                            // Other work waits on the pool: take turns.
                            let _ = ctx.requeue();
                        }
                    }),
                );
                pumps.push(pump.inner);
            }
            if self.rescuer {
                g.slots.push(Some(Slot {
                    thread: format!("{}/rescuer", self.name).into(),
                    current: None,
                }));
            }
        }
        if let Some(feeder) = &queue.feeder {
            *feeder.pumps.lock().unwrap_or_else(|p| p.into_inner()) = pumps;
        }
        queue
    }

    fn finish(
        self,
        queue: Arc<RunQueue>,
        pool: Pool,
        rescuer: Option<std::thread::JoinHandle<()>>,
    ) -> WorkQueue {
        if let Some(threshold) = self.watchdog {
            watchdog::watch(&queue, threshold, self.on_stall);
        }
        WorkQueue {
            handle: Arc::new(Handle {
                queue,
                pool,
                rescuer: Mutex::new(rescuer),
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
            .finish()
    }
}
