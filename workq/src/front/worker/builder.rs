//! Building a [`Worker`]: validated settings, then the thread start handshake.

use super::{Handle, Worker};
use crate::engine::timer::Timer;
use crate::engine::ManualClock;
use crate::engine::{Limits, Mode, QueueConfig, RunQueue};
use crate::error::{check_name, check_stack, Error};
use crate::shutdown::ArmedAtShutdown;
use crate::support::panic::{default_hook, PanicHook, PanicReport};
use crate::support::sync::{Arc, Mutex};
use std::fmt;

/// Settings for a [`Worker`]; [`build`](WorkerBuilder::build) checks them and starts
/// the thread.
///
/// ```
/// let worker = workq::Worker::builder()
///     .name("usb-events")
///     .freezable(true)
///     .stack_size(256 * 1024)
///     .on_panic(|report| eprintln!("custom: {report}"))
///     .build()?;
/// # drop(worker);
/// # Ok::<(), workq::Error>(())
/// ```
#[must_use = "a builder does nothing until `build` is called"]
pub struct WorkerBuilder {
    name: String,
    freezable: bool,
    count_merged: bool,
    latency_histograms: bool,
    stack_size: Option<usize>,
    cpu: Option<usize>,
    on_panic: Option<PanicHook>,
    clock: Option<ManualClock>,
    armed_at_shutdown: ArmedAtShutdown,
}

impl WorkerBuilder {
    /// Default settings: name `"workq-worker"`, not freezable, already-pending
    /// calls not counted, the platform's default stack, no CPU pinning, panics
    /// reported on standard error.
    ///
    /// ```
    /// let worker = workq::WorkerBuilder::new().build()?;
    /// assert_eq!(worker.name(), "workq-worker");
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn new() -> WorkerBuilder {
        WorkerBuilder {
            name: "workq-worker".to_string(),
            freezable: false,
            count_merged: false,
            latency_histograms: false,
            stack_size: None,
            cpu: None,
            on_panic: None,
            clock: None,
            armed_at_shutdown: ArmedAtShutdown::Cancel,
        }
    }

    /// What destroying the worker (or dropping its last handle) does with its armed
    /// delayed items: cancel them (the default) or fire them now and run them
    /// before the destroy returns. See [`crate::shutdown`] for every shutdown call.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// use workq::{ArmedAtShutdown, Work, Worker};
    /// let worker = Worker::builder()
    ///     .name("flush-on-exit")
    ///     .armed_at_shutdown(ArmedAtShutdown::RunNow)
    ///     .build()?;
    /// let runs = Arc::new(AtomicUsize::new(0));
    /// let r = runs.clone();
    /// let trailing = Work::new(move |_| {
    ///     r.fetch_add(1, Ordering::SeqCst);
    /// });
    /// worker.queue_after(&trailing, Duration::from_secs(3600))?;
    /// assert_eq!(worker.destroy()?.armed_run(), 1);
    /// assert_eq!(runs.load(Ordering::SeqCst), 1);
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn armed_at_shutdown(mut self, policy: ArmedAtShutdown) -> WorkerBuilder {
        self.armed_at_shutdown = policy;
        self
    }

    /// Whether queue calls that find their item already pending are counted, in
    /// [`Stats::merged`](crate::Stats::merged) (default: no). Counting takes a
    /// thread-local store on that path, about a fifth of its cost: turn it on to
    /// see how much coalescing happens.
    ///
    /// ```
    /// let worker = workq::Worker::builder().count_merged(true).freezable(true).build()?;
    /// let work = workq::Work::new(|_| {});
    /// worker.freeze()?; // hold the run, so the item stays pending
    /// for _ in 0..129 {
    ///     worker.queue(&work)?;
    /// }
    /// worker.thaw()?;
    /// work.flush()?;
    /// // 128 calls found it pending (counted per thread in batches of 64).
    /// assert_eq!(worker.stats().merged, Some(128));
    /// assert_eq!(workq::Worker::new("uncounted")?.stats().merged, None); // default: not counted
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn count_merged(mut self, count: bool) -> WorkerBuilder {
        self.count_merged = count;
        self
    }

    /// Whether waits (queue call to start) and run times (start to end) are kept
    /// in latency histograms, shown in [`Stats::wait`](crate::Stats::wait) and
    /// [`Stats::run`](crate::Stats::run) and in the runqueue view (default: no,
    /// and both are `None`). Each run then reads the clock twice and adds to two
    /// fixed-size histograms (8 KiB per queue, allocated at build; no allocation
    /// or lock per run); the cost per run is measured in docs/benchmarks.md.
    ///
    /// A wait counts from the queue call to the run's start (for a delayed item:
    /// from when its timer made it runnable; for a run asked for during the
    /// item's own run: from that run's end). A run started in place right at the
    /// end of the item's previous run has no wait recorded (only its run time).
    ///
    /// ```
    /// let worker = workq::Worker::builder().name("timed").latency_histograms(true).build()?;
    /// let work = workq::Work::new(|_| {});
    /// for _ in 0..3 {
    ///     worker.queue(&work)?;
    ///     work.flush()?;
    /// }
    /// let stats = worker.stats();
    /// let (wait, run) = (stats.wait.expect("measured"), stats.run.expect("measured"));
    /// assert_eq!((wait.count, run.count), (3, 3));
    /// assert!(run.p50 <= run.p99 && run.p99 <= run.max);
    /// assert_eq!(workq::Worker::new("untimed")?.stats().run, None); // default: not measured
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn latency_histograms(mut self, on: bool) -> WorkerBuilder {
        self.latency_histograms = on;
        self
    }

    /// The worker's name, also given to its thread (Linux shows the first 15 bytes).
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// let worker = workq::Worker::builder().name("disk-flusher").build()?;
    /// assert_eq!(worker.name(), "disk-flusher");
    /// let thread = Arc::new(Mutex::new(None));
    /// let t = thread.clone();
    /// let work = workq::Work::new(move |_| {
    ///     *t.lock().expect("lock") = std::thread::current().name().map(String::from);
    /// });
    /// worker.queue(&work)?;
    /// work.flush()?;
    /// assert_eq!(thread.lock().expect("lock").as_deref(), Some("disk-flusher"));
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn name(mut self, name: impl Into<String>) -> WorkerBuilder {
        self.name = name.into();
        self
    }

    /// Whether [`Worker::freeze`] is allowed (default: no).
    ///
    /// ```
    /// use workq::{Error, Worker};
    /// let plain = Worker::new("plain")?;
    /// assert!(matches!(plain.freeze(), Err(Error::NotFreezable { .. })));
    /// let freezable = Worker::builder().name("freezable").freezable(true).build()?;
    /// freezable.freeze()?;
    /// assert!(freezable.is_frozen());
    /// freezable.thaw()?;
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn freezable(mut self, freezable: bool) -> WorkerBuilder {
        self.freezable = freezable;
        self
    }

    /// Stack size of the thread in bytes (at least 16 KiB).
    ///
    /// ```
    /// use workq::{Error, Worker};
    /// let worker = Worker::builder().name("small-stack").stack_size(64 * 1024).build()?;
    /// worker.queue(&workq::Work::new(|_| {}))?;
    /// worker.flush()?;
    /// let tiny = Worker::builder().name("tiny-stack").stack_size(1024).build();
    /// assert!(matches!(tiny, Err(Error::InvalidConfig { setting: "stack_size", .. })));
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn stack_size(mut self, bytes: usize) -> WorkerBuilder {
        self.stack_size = Some(bytes);
        self
    }

    /// Pins the thread to one CPU, like the kernel's `kthread_create_worker_on_cpu`.
    /// A CPU that does not exist or is not available to the process makes `build`
    /// fail with [`Error::InvalidCpu`].
    ///
    /// Only with the `cpu-affinity` feature (on by default), which brings in the
    /// `core_affinity` crate.
    ///
    /// ```
    /// let worker = workq::Worker::builder().name("pinned").cpu(0).build()?;
    /// # drop(worker);
    /// # Ok::<(), workq::Error>(())
    /// ```
    #[cfg(feature = "cpu-affinity")]
    pub fn cpu(mut self, cpu: usize) -> WorkerBuilder {
        self.cpu = Some(cpu);
        self
    }

    /// Drives the worker's delayed items by `clock` instead of the system clock:
    /// they fire only when [`ManualClock::advance`] passes their deadline. For tests.
    ///
    /// ```
    /// let clock = workq::ManualClock::new();
    /// let worker = workq::Worker::builder().name("test").manual_clock(&clock).build()?;
    /// # drop(worker);
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn manual_clock(mut self, clock: &ManualClock) -> WorkerBuilder {
        self.clock = Some(clock.clone());
        self
    }

    /// Called once for every run that panics (default: the report's line: an error event when a `tracing` subscriber
    /// is installed, else one line on stderr).
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    /// let panics = Arc::new(AtomicUsize::new(0));
    /// let p = panics.clone();
    /// let worker = workq::Worker::builder()
    ///     .name("guarded")
    ///     .on_panic(move |_report| {
    ///         p.fetch_add(1, Ordering::SeqCst);
    ///     })
    ///     .build()?;
    /// let bad = workq::Work::new(|_| panic!("bad"));
    /// worker.queue(&bad)?;
    /// bad.flush()?; // returns once the hook has run
    /// assert_eq!(panics.load(Ordering::SeqCst), 1);
    /// worker.queue(&bad)?; // the worker goes on
    /// bad.flush()?;
    /// assert_eq!(panics.load(Ordering::SeqCst), 2);
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn on_panic<F>(mut self, hook: F) -> WorkerBuilder
    where
        F: Fn(&PanicReport<'_>) + Send + Sync + 'static,
    {
        self.on_panic = Some(std::sync::Arc::new(hook));
        self
    }

    /// Checks the settings and starts the worker's thread.
    ///
    /// # Errors
    /// * [`Error::InvalidConfig`]: an empty name or one with a NUL byte, or a stack
    ///   under 16 KiB.
    /// * [`Error::InvalidCpu`]: the CPU asked for is not available.
    /// * [`Error::Spawn`]: the operating system would not start the thread, or the
    ///   thread could not be pinned to the CPU.
    ///
    /// ```
    /// let err = workq::Worker::builder().name("").build().unwrap_err();
    /// assert!(matches!(err, workq::Error::InvalidConfig { setting: "name", .. }));
    /// ```
    pub fn build(self) -> Result<Worker, Error> {
        // `WORKQ_INSPECT`, read at the process's first build (feature `inspect`).
        #[cfg(all(feature = "inspect", unix))]
        crate::addons::inspect::at_first_build();
        check_name(&self.name)?;
        check_stack(self.stack_size)?;
        let core = self.cpu.map(find_cpu).transpose()?;
        let timer = match &self.clock {
            Some(clock) => clock.timer.clone(),
            None => Timer::system(),
        };
        let queue = RunQueue::new(QueueConfig {
            name: self.name.clone(),
            single_consumer: true,
            count_merged: self.count_merged,
            latency_histograms: self.latency_histograms,
            freezable: self.freezable,
            on_panic: self.on_panic.unwrap_or_else(default_hook),
            timer,
            mode: Mode::Fixed { consumers: 1 },
            limits: Limits::NONE,
        });
        queue.add_slot(&self.name);
        let mut thread = std::thread::Builder::new().name(self.name.clone());
        if let Some(bytes) = self.stack_size {
            thread = thread.stack_size(bytes);
        }
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<bool>();
        let consumer = queue.clone();
        let spawned = thread.spawn(move || {
            let pinned = core.is_none_or(pin_current);
            let _ = ready_tx.send(pinned);
            if pinned {
                RunQueue::consume(&consumer, Some(0));
            }
        });
        let join = spawned.map_err(|source| Error::Spawn {
            thread: self.name.clone(),
            source,
        })?;
        let pinned = ready_rx.recv().unwrap_or(false);
        if !pinned {
            let _ = join.join();
            return Err(Error::Spawn {
                thread: self.name,
                source: std::io::Error::other("could not pin the thread to its CPU"),
            });
        }
        Ok(Worker {
            handle: Arc::new(Handle {
                queue,
                thread_id: join.thread().id(),
                thread: Mutex::new(Some(join)),
                armed_at_shutdown: self.armed_at_shutdown,
            }),
        })
    }
}

/// A CPU to pin a thread to.
#[cfg(feature = "cpu-affinity")]
type Cpu = core_affinity::CoreId;
/// Without the feature no CPU is ever asked for (`WorkerBuilder::cpu` is absent).
#[cfg(not(feature = "cpu-affinity"))]
type Cpu = std::convert::Infallible;

/// Pins the calling thread to `cpu`; whether it worked.
#[cfg(feature = "cpu-affinity")]
fn pin_current(cpu: Cpu) -> bool {
    core_affinity::set_for_current(cpu)
}

#[cfg(not(feature = "cpu-affinity"))]
fn pin_current(cpu: Cpu) -> bool {
    match cpu {}
}

/// Without the feature `WorkerBuilder::cpu` is absent: no CPU is ever set.
#[cfg(not(feature = "cpu-affinity"))]
fn find_cpu(cpu: usize) -> Result<Cpu, Error> {
    Err(Error::InvalidCpu {
        cpu,
        available: Vec::new(),
    })
}

#[cfg(feature = "cpu-affinity")]
fn find_cpu(cpu: usize) -> Result<Cpu, Error> {
    let cores = core_affinity::get_core_ids().unwrap_or_default();
    cores
        .iter()
        .copied()
        .find(|c| c.id == cpu)
        .ok_or_else(|| Error::InvalidCpu {
            cpu,
            available: cores.iter().map(|c| c.id).collect(),
        })
}

impl Default for WorkerBuilder {
    fn default() -> Self {
        WorkerBuilder::new()
    }
}

impl fmt::Debug for WorkerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkerBuilder")
            .field("name", &self.name)
            .field("freezable", &self.freezable)
            .field("stack_size", &self.stack_size)
            .field("cpu", &self.cpu)
            .field("on_panic", &self.on_panic.is_some())
            .field("manual_clock", &self.clock.is_some())
            .field("armed_at_shutdown", &self.armed_at_shutdown)
            .finish()
    }
}
