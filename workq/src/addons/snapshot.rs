//! The runqueue view: what a pool or worker is doing right now, as data.

use crate::engine::item::Class;
use crate::engine::{Counts, RunQueue};
use crate::support::sync::Ordering;
use std::fmt;
use std::time::{Duration, Instant};

/// A picture of a pool's (or worker's) threads, waiting items and counters, taken
/// under its lock at one instant. `Display` prints it for people; with the `serde`
/// feature it serialises for programs. On a queue built with latency histograms
/// ([`WorkerBuilder::latency_histograms`](crate::WorkerBuilder::latency_histograms))
/// `Display` ends with a `wait:` and a `run:` line of percentiles.
///
/// ```
/// let pool = workq::Pool::builder().name("snap").build()?;
/// pool.queue(&workq::Work::named("job", |_| {}))?;
/// pool.flush()?;
/// let snap = pool.snapshot();
/// assert_eq!(snap.stats.runs, 1);
/// println!("{snap}");
/// # Ok::<(), workq::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct Snapshot {
    /// The pool's, worker's or workqueue's name.
    pub name: String,
    /// The queue's number, unique in the process while it lives: tells apart
    /// queues of the same name (and a queue from its successor of that name).
    pub id: u32,
    /// What kind of queue it is.
    pub kind: QueueKind,
    /// A workqueue's `max_active` (`None` elsewhere).
    pub max_active: Option<usize>,
    /// Sizing tunables at the time of the picture.
    pub min_threads: usize,
    /// See [`min_threads`](Snapshot::min_threads).
    pub max_threads: usize,
    /// Share of the threads very slow items may use, in percent.
    pub very_slow_percent: usize,
    /// Every thread, idle or running.
    pub threads: Vec<ThreadView>,
    /// Every item waiting for a thread, oldest first within its class.
    pub waiting: Vec<WaitingView>,
    /// Whether the queue is frozen.
    pub frozen: bool,
    /// Counters since the queue was built.
    pub stats: Stats,
}

/// What a [`Snapshot`] pictures.
///
/// ```
/// use workq::{Pool, QueueKind, WorkQueue, Worker};
/// let pool = Pool::new("kinds-pool")?;
/// assert_eq!(pool.snapshot().kind, QueueKind::Pool);
/// assert_eq!(Worker::new("kinds-worker")?.snapshot().kind, QueueKind::Worker);
/// let wq = WorkQueue::builder("kinds-wq").pool(&pool).build()?;
/// assert_eq!(wq.snapshot().kind, QueueKind::WorkQueue);
/// # Ok::<(), workq::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub enum QueueKind {
    /// A [`Worker`](crate::Worker): one thread.
    Worker,
    /// A [`Pool`](crate::Pool): threads sized by demand (the sizing fields apply).
    Pool,
    /// A [`WorkQueue`](crate::WorkQueue): its "threads" are its run slots on the pool.
    WorkQueue,
}

/// One thread in a [`Snapshot`].
///
/// ```
/// let pool = workq::Pool::builder().name("tv").min_threads(2).max_threads(2).build()?;
/// pool.queue(&workq::Work::new(|_| {}))?; // first use: the threads start
/// pool.flush()?;
/// let snap = pool.snapshot();
/// let names: Vec<&str> = snap.threads.iter().map(|t| t.name.as_str()).collect();
/// assert_eq!(names, ["tv/0", "tv/1"]);
/// assert!(snap.threads.iter().all(|t| t.running.is_none())); // both idle
/// # Ok::<(), workq::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct ThreadView {
    /// The thread's name (`pool/3`).
    pub name: String,
    /// The item it runs, or `None` when idle.
    pub running: Option<ItemView>,
}

/// A running item in a [`ThreadView`].
///
/// ```
/// use std::sync::{mpsc, Mutex};
/// let worker = workq::Worker::new("viewed")?;
/// let (started_tx, started) = mpsc::channel();
/// let (release, released) = mpsc::channel::<()>();
/// let released = Mutex::new(released);
/// let work = workq::Work::named("long", move |_| {
///     let _ = started_tx.send(());
///     let _ = released.lock().expect("lock").recv(); // runs until released
/// });
/// worker.queue(&work)?;
/// started.recv().expect("started");
/// let snap = worker.snapshot();
/// let item = snap.threads[0].running.as_ref().expect("a run in progress");
/// assert_eq!(item.work.as_deref(), Some("long"));
/// assert!(!item.very_slow);
/// release.send(()).expect("release");
/// work.flush()?;
/// assert!(worker.snapshot().threads[0].running.is_none());
/// # Ok::<(), workq::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct ItemView {
    /// The item's name, if it has one.
    pub work: Option<String>,
    /// Whether it is of the very slow class.
    pub very_slow: bool,
    /// How long it has been running, counted from the first time a runqueue view
    /// or the stall watchdog saw the run: workq reads no clock per run (the read
    /// can cost more than the rest of a tiny item's run), so a run seen for the
    /// first time shows zero.
    pub running_for: Duration,
}

/// A waiting item in a [`Snapshot`].
///
/// ```
/// use workq::{Work, Worker};
/// let worker = Worker::builder().name("wv").freezable(true).build()?;
/// worker.freeze()?; // queued items wait
/// worker.queue(&Work::named("first", |_| {}))?;
/// worker.queue(&Work::named("second", |_| {}))?;
/// let snap = worker.snapshot();
/// let waiting: Vec<_> = snap.waiting.iter().map(|w| w.work.as_deref()).collect();
/// assert_eq!(waiting, [Some("first"), Some("second")]);
/// worker.thaw()?;
/// # Ok::<(), workq::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct WaitingView {
    /// The item's name, if it has one.
    pub work: Option<String>,
    /// Whether it is of the very slow class.
    pub very_slow: bool,
    /// How long it has been waiting for a thread. An item queued without the
    /// queue's lock (an idle item on a busy worker or pool) counts from when it
    /// reached the run list, in a batch, which is at the latest when this view
    /// was taken.
    pub waited: Duration,
}

/// Counters of a pool or worker, all monotonic since it was built.
///
/// ```
/// use workq::{Stats, Work, Worker};
/// let worker = Worker::builder().name("stats").freezable(true).build()?;
/// worker.freeze()?;
/// let work = Work::new(|_| {});
/// worker.queue(&work)?; // scheduled
/// worker.queue(&work)?; // already pending: not counted
/// worker.thaw()?;
/// work.flush()?;
/// let st: Stats = worker.stats();
/// assert_eq!((st.scheduled, st.reruns, st.runs, st.panics), (1, 0, 1, 0));
/// # Ok::<(), workq::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct Stats {
    /// Queue calls that scheduled a run of an idle item.
    pub scheduled: u64,
    /// Queue calls that found the item already pending (coalesced), counted in
    /// batches of 64 per thread (exact to within 63 per thread), and only on a
    /// queue built with `count_merged(true)`
    /// ([`WorkerBuilder::count_merged`](crate::WorkerBuilder::count_merged)):
    /// `None` otherwise ("not counted", which a 0 would hide).
    ///
    /// ```
    /// let counted = workq::Worker::builder().name("counted").count_merged(true).build()?;
    /// assert_eq!(counted.stats().merged, Some(0));
    /// let plain = workq::Worker::new("plain")?;
    /// assert_eq!(plain.stats().merged, None); // not counted
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub merged: Option<u64>,
    /// Queue calls that asked a running item to run again. A call that did so
    /// without the queue's lock (the item ran on this queue) is counted when the
    /// run in progress ends.
    pub reruns: u64,
    /// Runs finished (including those that panicked).
    pub runs: u64,
    /// Runs that panicked.
    pub panics: u64,
    /// Threads started (pools).
    pub threads_started: u64,
    /// Threads that exited (culled when idle, or at shutdown; pools).
    pub threads_exited: u64,
    /// Thread starts that failed (pools).
    pub spawn_failures: u64,
    /// Waits from queue call to start, on a queue built with
    /// `latency_histograms(true)`
    /// ([`WorkerBuilder::latency_histograms`](crate::WorkerBuilder::latency_histograms),
    /// which says what a wait counts from): `None` otherwise ("not measured").
    ///
    /// ```
    /// let worker = workq::Worker::builder().name("waits").latency_histograms(true).build()?;
    /// let work = workq::Work::new(|_| {});
    /// worker.queue(&work)?;
    /// work.flush()?;
    /// assert_eq!(worker.stats().wait.expect("measured").count, 1);
    /// assert_eq!(workq::Worker::new("plain")?.stats().wait, None); // not measured
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub wait: Option<crate::Latency>,
    /// Run times, from start to end (panicked runs included), on a queue built
    /// with `latency_histograms(true)`: `None` otherwise ("not measured").
    ///
    /// ```
    /// let worker = workq::Worker::builder().name("runs").latency_histograms(true).build()?;
    /// let work = workq::Work::new(|_| {});
    /// worker.queue(&work)?;
    /// work.flush()?;
    /// let run = worker.stats().run.expect("measured");
    /// assert_eq!(run.count, 1);
    /// assert!(run.p50 <= run.max);
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub run: Option<crate::Latency>,
}

impl RunQueue {
    /// The queue's counters (takes the queue's lock).
    pub(crate) fn stats(&self) -> Stats {
        let counts = self.lock().counts();
        self.stats_with(counts)
    }

    /// The queue's counters, with those kept under its lock read as `counts`
    /// (the rest are atomics: no lock needed).
    pub(crate) fn stats_with(&self, counts: Counts) -> Stats {
        let c = &self.counters;
        Stats {
            scheduled: counts.scheduled,
            merged: self.count_merged.then(|| c.merged.load(Ordering::Relaxed)),
            reruns: counts.reruns,
            runs: counts.runs,
            panics: counts.panics,
            threads_started: c.threads_started.load(Ordering::Relaxed),
            threads_exited: c.threads_exited.load(Ordering::Relaxed),
            spawn_failures: c.spawn_failures.load(Ordering::Relaxed),
            wait: self.latency.as_ref().map(|l| l.wait.latency()),
            run: self.latency.as_ref().map(|l| l.run.latency()),
        }
    }

    /// What kind of queue this is.
    pub(crate) fn kind(&self) -> QueueKind {
        if self.elastic().is_some() {
            QueueKind::Pool
        } else if self.feeder().is_some() {
            QueueKind::WorkQueue
        } else {
            QueueKind::Worker
        }
    }

    /// A [`Snapshot`] of the queue.
    pub(crate) fn snapshot(&self) -> Snapshot {
        let now = Instant::now();
        let mut g = self.lock();
        let threads = g
            .threads
            .slots_mut()
            .map(|slot| ThreadView {
                name: slot.thread().to_string(),
                running: slot.running_since(now).map(|(w, since)| ItemView {
                    work: w.name().map(str::to_string),
                    very_slow: w.class == Class::VerySlow,
                    running_for: now.saturating_duration_since(since),
                }),
            })
            .collect();
        let now_stamp = crate::engine::stamp(now);
        let waiting = g
            .lists
            .iter()
            .map(|w| WaitingView {
                work: w.work.name().map(str::to_string),
                very_slow: w.work.class == Class::VerySlow,
                waited: w.waited(now_stamp),
            })
            .collect();
        let kind = self.kind();
        Snapshot {
            name: self.name.to_string(),
            id: self.id,
            kind,
            max_active: (kind == QueueKind::WorkQueue).then_some(g.runs.limits().max_running),
            min_threads: g.sizing.min(),
            max_threads: g.sizing.max(),
            very_slow_percent: g.sizing.very_slow_percent(),
            threads,
            waiting,
            frozen: g.life.frozen(),
            stats: self.stats_with(g.counts()),
        }
    }
}

impl fmt::Display for Snapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let frozen = if self.frozen { ", FROZEN" } else { "" };
        match (self.kind, self.max_active) {
            (QueueKind::Pool, _) => writeln!(
                f,
                "pool {}: {} thread(s) (min {}, max {}, very slow share {}%){frozen}",
                self.name,
                self.threads.len(),
                self.min_threads,
                self.max_threads,
                self.very_slow_percent,
            )?,
            (QueueKind::WorkQueue, Some(n)) => {
                writeln!(f, "workqueue {} (max_active {n}){frozen}", self.name)?
            }
            _ => writeln!(f, "worker {}{frozen}", self.name)?,
        }
        for t in &self.threads {
            match &t.running {
                None => writeln!(f, "  {:<20} idle", t.name)?,
                Some(r) => writeln!(
                    f,
                    "  {:<20} {}{} for {:.1?}",
                    t.name,
                    r.work.as_deref().unwrap_or("<unnamed>"),
                    if r.very_slow { " (very slow)" } else { "" },
                    r.running_for
                )?,
            }
        }
        if self.waiting.is_empty() {
            writeln!(f, "  nothing waiting")?;
        }
        for w in &self.waiting {
            writeln!(
                f,
                "  waiting: {}{} for {:.1?}",
                w.work.as_deref().unwrap_or("<unnamed>"),
                if w.very_slow { " (very slow)" } else { "" },
                w.waited
            )?;
        }
        let s = &self.stats;
        let merged = match s.merged {
            Some(n) => format!("~{n}"),
            None => "not counted".to_string(),
        };
        write!(
            f,
            "  scheduled {}, merged {merged}, reruns {}, runs {}, panics {}, threads started {}, exited {}, spawn failures {}",
            s.scheduled, s.reruns, s.runs, s.panics, s.threads_started, s.threads_exited, s.spawn_failures
        )?;
        for (what, latency) in [("wait", &s.wait), ("run", &s.run)] {
            if let Some(l) = latency {
                write!(
                    f,
                    "\n  {what}: {} sample(s), p50 {:.1?}, p90 {:.1?}, p99 {:.1?}, max {:.1?}, mean {:.1?}",
                    l.count, l.p50, l.p90, l.p99, l.max, l.mean
                )?;
            }
        }
        Ok(())
    }
}

/// A [`Snapshot`] of every [`Worker`](crate::Worker), [`Pool`](crate::Pool) and
/// [`WorkQueue`](crate::WorkQueue) alive in the process, in the order they were
/// built: what a monitoring add-on shows without the program handing its queues
/// over. Each picture is taken under its own queue's lock, one after another (not
/// one instant for all). A queue is listed from its build until its last handle
/// and its threads are gone, so a destroyed queue can still appear, empty, for a
/// moment. Queues of workq's own (the system queue, a watchdog's) are listed too.
///
/// ```
/// let pool = workq::Pool::new("listed")?;
/// let all = workq::snapshots();
/// assert!(all.iter().any(|s| s.name == "listed" && s.id == pool.snapshot().id));
/// drop(pool);
/// # Ok::<(), workq::Error>(())
/// ```
pub fn snapshots() -> Vec<Snapshot> {
    crate::engine::registry::live()
        .iter()
        .map(|queue| queue.snapshot())
        .collect()
}

/// [`Latency`](crate::Latency) reads back from what its `Serialize` writes (its
/// type lives in the engine, which knows nothing of serde's reading side).
#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for crate::Latency {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(serde::Deserialize)]
        struct Fields {
            count: u64,
            mean: Duration,
            p50: Duration,
            p90: Duration,
            p99: Duration,
            max: Duration,
        }
        let f = Fields::deserialize(deserializer)?;
        Ok(crate::Latency {
            count: f.count,
            mean: f.mean,
            p50: f.p50,
            p90: f.p90,
            p99: f.p99,
            max: f.max,
        })
    }
}
