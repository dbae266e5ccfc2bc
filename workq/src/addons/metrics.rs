//! Every live queue's numbers through the [`metrics`](https://docs.rs/metrics)
//! facade (feature `metrics`), for a program that already installs a recorder
//! (Prometheus, StatsD, ...): one call, no workq-specific code.
//!
//! [`record`] emits, once, the numbers of every [`Worker`](crate::Worker),
//! [`Pool`](crate::Pool) and [`WorkQueue`](crate::WorkQueue) alive in the process
//! (those [`snapshots`](crate::snapshots) lists, workq's own queues included) to
//! the recorder current on the calling thread; call it before each scrape.
//! [`export_every`] calls it from a thread of its own (`workq-metrics`) at a fixed
//! interval. Both also describe every metric (unit and help text) at each call, so
//! a recorder installed later gets the descriptions too.
//!
//! ```
//! use metrics_util::debugging::{DebugValue, DebuggingRecorder};
//! let recorder = DebuggingRecorder::new();
//! let snapshotter = recorder.snapshotter();
//! let worker = workq::Worker::new("scraped")?;
//! let work = workq::Work::new(|_| {});
//! worker.queue(&work)?;
//! work.flush()?;
//! metrics::with_local_recorder(&recorder, workq::metrics::record);
//! let runs = snapshotter.snapshot().into_vec().into_iter().find(|(key, ..)| {
//!     key.key().name() == "workq_runs_total"
//!         && key.key().labels().any(|l| l.key() == "queue" && l.value() == "scraped")
//! });
//! assert!(matches!(runs, Some((.., DebugValue::Counter(1)))));
//! # Ok::<(), workq::Error>(())
//! ```
//!
//! ## The metrics
//!
//! Every metric has the labels `queue` (the queue's name), `id` (its number,
//! which tells apart queues of the same name: [`Snapshot::id`](crate::Snapshot::id))
//! and `kind` (`worker`, `pool` or `workqueue`). Counters are set to the queue's
//! cumulative count (the facade's `absolute`), read from its
//! [`Stats`](crate::Stats); gauges are set to the value at the call.
//!
//! | name | type | unit | what | when |
//! |------|------|------|------|------|
//! | `workq_scheduled_total` | counter | count | queue calls that scheduled a run of an idle item | always |
//! | `workq_merged_total` | counter | count | queue calls that found the item already pending (coalesced; exact to within 63 per thread) | queues built with `count_merged(true)` |
//! | `workq_reruns_total` | counter | count | queue calls that asked a running item to run again | always |
//! | `workq_runs_total` | counter | count | runs finished, panicked ones included | always |
//! | `workq_panics_total` | counter | count | runs that panicked | always |
//! | `workq_threads_started_total` | counter | count | threads started | always (they move on pools only) |
//! | `workq_threads_exited_total` | counter | count | threads that exited | always (they move on pools only) |
//! | `workq_spawn_failures_total` | counter | count | thread starts that failed | always (they move on pools only) |
//! | `workq_threads` | gauge | count | threads (a workqueue's: its run slots on the pool) | always |
//! | `workq_running` | gauge | count | threads running an item now | always |
//! | `workq_waiting` | gauge | count | items waiting for a thread | always |
//! | `workq_oldest_wait_seconds` | gauge | seconds | how long the oldest waiting item has waited (0 when none waits) | always |
//! | `workq_frozen` | gauge | count | 1 while the queue is frozen, else 0 | always |
//! | `workq_min_threads` | gauge | count | the pool's minimum of threads | pools |
//! | `workq_max_threads` | gauge | count | the pool's maximum of threads | pools |
//! | `workq_max_active` | gauge | count | the workqueue's `max_active` | workqueues |
//! | `workq_wait_seconds` | gauge | seconds | wait from queue call to start, label `quantile`: `0.5`, `0.9`, `0.99` and `1` (the maximum) | queues built with `latency_histograms(true)` |
//! | `workq_wait_seconds_count` | counter | count | waits measured | the same |
//! | `workq_wait_seconds_sum` | gauge | seconds | the waits' sum (mean × count: at most 1 ns per sample below the exact sum) | the same |
//! | `workq_run_seconds` | gauge | seconds | run time, label `quantile` as above | the same |
//! | `workq_run_seconds_count` | counter | count | run times measured | the same |
//! | `workq_run_seconds_sum` | gauge | seconds | the run times' sum, like the waits' | the same |
//!
//! **Why the quantiles are gauges.** The latency histograms live in workq: fixed
//! log-linear buckets of atomics, filled on the run path at the cost of a few
//! relaxed adds per run ([`Latency`](crate::Latency) says how exact their
//! percentiles are). Sending every sample through the facade as well (a
//! `histogram!` per wait and per run) would cost a recorder call on every run,
//! which is what these histograms exist to avoid; so `record` sends their
//! summary instead, each percentile a gauge labelled with its quantile, as a
//! Prometheus summary shows them. A recorder cannot re-aggregate such quantiles
//! across queues or over time windows; they are the queue's own since it was
//! built. The sums are gauges because the facade's counters hold integers.
//!
//! **Queues that are gone.** A queue is emitted while it is alive (from its build
//! until its last handle and its threads are gone, as [`snapshots`](crate::snapshots)
//! says). After that `record` no longer sends its numbers: the recorder keeps
//! the last values it got unless it expires idle metrics (for instance
//! `metrics-exporter-prometheus`'s `idle_timeout`). A queue built again under
//! the same name has a new `id`, so a new series: a program that builds queues
//! often should let its recorder expire idle metrics. Events
//! ([`Events`](crate::Events)) have their own [`EventStats`](crate::EventStats)
//! and are not emitted here.
//!
//! The cost: each queue's lock, held while its threads are counted (no
//! allocation: the waiting items are counted, not listed), the latency
//! summaries read after it (each histogram's 512 buckets), and one recorder
//! call per metric and queue; nothing on the queue call or run path.

use crate::engine::RunQueue;
use crate::{Error, Latency, QueueKind, Stats};
use ::metrics::{Key, KeyName, Label, Level, Metadata, Recorder, SharedString, Unit};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// What every metric of workq is registered with.
static METADATA: Metadata<'static> = Metadata::new("workq", Level::INFO, Some(module_path!()));

/// The name of the exporter's thread.
const THREAD: &str = "workq-metrics";

/// A counter or a gauge, with its unit and help text.
struct Described {
    name: &'static str,
    gauge: bool,
    unit: Unit,
    help: &'static str,
}

const fn counter(name: &'static str, help: &'static str) -> Described {
    Described {
        name,
        gauge: false,
        unit: Unit::Count,
        help,
    }
}

const fn gauge(name: &'static str, unit: Unit, help: &'static str) -> Described {
    Described {
        name,
        gauge: true,
        unit,
        help,
    }
}

const SCHEDULED: Described = counter(
    "workq_scheduled_total",
    "Queue calls that scheduled a run of an idle item.",
);
const MERGED: Described = counter(
    "workq_merged_total",
    "Queue calls that found the item already pending (coalesced), on queues built with count_merged(true).",
);
const RERUNS: Described = counter(
    "workq_reruns_total",
    "Queue calls that asked a running item to run again.",
);
const RUNS: Described = counter("workq_runs_total", "Runs finished, panicked ones included.");
const PANICS: Described = counter("workq_panics_total", "Runs that panicked.");
const STARTED: Described = counter("workq_threads_started_total", "Threads started.");
const EXITED: Described = counter("workq_threads_exited_total", "Threads that exited.");
const SPAWN_FAILURES: Described =
    counter("workq_spawn_failures_total", "Thread starts that failed.");
const THREADS: Described = gauge(
    "workq_threads",
    Unit::Count,
    "Threads (a workqueue's: its run slots on the pool).",
);
const RUNNING: Described = gauge("workq_running", Unit::Count, "Threads running an item now.");
const WAITING: Described = gauge("workq_waiting", Unit::Count, "Items waiting for a thread.");
const OLDEST_WAIT: Described = gauge(
    "workq_oldest_wait_seconds",
    Unit::Seconds,
    "How long the oldest waiting item has waited (0 when none waits).",
);
const FROZEN: Described = gauge(
    "workq_frozen",
    Unit::Count,
    "1 while the queue is frozen, else 0.",
);
const MIN_THREADS: Described = gauge(
    "workq_min_threads",
    Unit::Count,
    "The pool's minimum of threads.",
);
const MAX_THREADS: Described = gauge(
    "workq_max_threads",
    Unit::Count,
    "The pool's maximum of threads.",
);
const MAX_ACTIVE: Described = gauge(
    "workq_max_active",
    Unit::Count,
    "The workqueue's max_active.",
);
const WAIT: [Described; 3] = [
    gauge(
        "workq_wait_seconds",
        Unit::Seconds,
        "Wait from queue call to start, by quantile (1 is the maximum), since the queue was built.",
    ),
    counter("workq_wait_seconds_count", "Waits measured."),
    gauge(
        "workq_wait_seconds_sum",
        Unit::Seconds,
        "The sum of the waits measured.",
    ),
];
const RUN: [Described; 3] = [
    gauge(
        "workq_run_seconds",
        Unit::Seconds,
        "Run time, by quantile (1 is the maximum), since the queue was built.",
    ),
    counter("workq_run_seconds_count", "Run times measured."),
    gauge(
        "workq_run_seconds_sum",
        Unit::Seconds,
        "The sum of the run times measured.",
    ),
];

/// Every metric, for the descriptions.
const ALL: [&Described; 22] = [
    &SCHEDULED,
    &MERGED,
    &RERUNS,
    &RUNS,
    &PANICS,
    &STARTED,
    &EXITED,
    &SPAWN_FAILURES,
    &THREADS,
    &RUNNING,
    &WAITING,
    &OLDEST_WAIT,
    &FROZEN,
    &MIN_THREADS,
    &MAX_THREADS,
    &MAX_ACTIVE,
    &WAIT[0],
    &WAIT[1],
    &WAIT[2],
    &RUN[0],
    &RUN[1],
    &RUN[2],
];

/// Emits the numbers of every live queue once, now, to the recorder current on
/// the calling thread (a local one set by `metrics::with_local_recorder`, else the
/// global one; with neither, nothing is recorded). The module docs list the
/// metrics. Each queue's numbers are read under that queue's lock at one instant
/// (the numbers of its [`Snapshot`](crate::Snapshot), without naming each thread
/// and waiting item); the queues are read one after another, and the recorder
/// is called with no workq lock held.
///
/// # Panics
///
/// Only if the recorder panics: its panic propagates to the caller.
///
/// ```
/// use metrics_util::debugging::{DebugValue, DebuggingRecorder};
/// let recorder = DebuggingRecorder::new();
/// let snapshotter = recorder.snapshotter();
/// let pool = workq::Pool::builder().name("recorded").min_threads(1).max_threads(3).build()?;
/// metrics::with_local_recorder(&recorder, workq::metrics::record);
/// let max = snapshotter.snapshot().into_vec().into_iter().find(|(key, ..)| {
///     key.key().name() == "workq_max_threads"
///         && key.key().labels().any(|l| l.key() == "queue" && l.value() == "recorded")
/// });
/// assert!(matches!(max, Some((.., DebugValue::Gauge(v))) if v.0 == 3.0));
/// # Ok::<(), workq::Error>(())
/// ```
pub fn record() {
    let queues = crate::engine::registry::live();
    ::metrics::with_recorder(|recorder| {
        for metric in ALL {
            let name = KeyName::from_const_str(metric.name);
            let help = SharedString::const_str(metric.help);
            if metric.gauge {
                recorder.describe_gauge(name, Some(metric.unit), help);
            } else {
                recorder.describe_counter(name, Some(metric.unit), help);
            }
        }
        for queue in &queues {
            emit(recorder, &Reading::of(queue));
        }
    });
}

/// One queue's numbers: what a [`Snapshot`](crate::Snapshot) holds, without its
/// list of threads and waiting items (a workqueue has a slot per `max_active`,
/// a backlog an entry per item: naming each would cost an allocation apiece
/// under the queue's lock).
struct Reading {
    name: Arc<str>,
    id: u32,
    kind: QueueKind,
    threads: usize,
    running: usize,
    waiting: usize,
    oldest_wait: Option<Duration>,
    frozen: bool,
    min_threads: usize,
    max_threads: usize,
    max_active: usize,
    stats: Stats,
}

impl Reading {
    /// Reads `queue` under its lock, at one instant; the latency summaries
    /// (atomics) after the lock is released.
    fn of(queue: &RunQueue) -> Reading {
        let now = Instant::now();
        let g = queue.lock();
        let threads = g.threads.slots();
        let (threads, running) = threads.fold((0, 0), |(all, running), slot| {
            (all + 1, running + usize::from(slot.running().is_some()))
        });
        let (waiting, oldest_wait) = (g.waiting(), g.oldest_wait(now));
        let frozen = g.life.frozen();
        let (min_threads, max_threads) = (g.sizing.min(), g.sizing.max());
        let max_active = g.runs.limits().max_running;
        let counts = g.counts();
        drop(g);
        Reading {
            name: queue.name.clone(),
            id: queue.id,
            kind: queue.kind(),
            threads,
            running,
            waiting,
            oldest_wait,
            frozen,
            min_threads,
            max_threads,
            max_active,
            stats: queue.stats_with(counts),
        }
    }
}

/// The labels of one queue's metrics, shared by all of them.
struct Labels {
    queue: SharedString,
    id: SharedString,
    kind: SharedString,
}

impl Labels {
    fn of(reading: &Reading) -> Labels {
        let kind = match reading.kind {
            QueueKind::Worker => "worker",
            QueueKind::Pool => "pool",
            QueueKind::WorkQueue => "workqueue",
        };
        Labels {
            queue: SharedString::from_shared(reading.name.clone()),
            id: SharedString::from_owned(reading.id.to_string()),
            kind: SharedString::const_str(kind),
        }
    }

    fn key(&self, name: &'static str, quantile: Option<&'static str>) -> Key {
        let mut labels = Vec::with_capacity(4);
        labels.push(Label::new("queue", self.queue.clone()));
        labels.push(Label::new("id", self.id.clone()));
        labels.push(Label::new("kind", self.kind.clone()));
        if let Some(q) = quantile {
            labels.push(Label::from_static_parts("quantile", q));
        }
        Key::from_parts(KeyName::from_const_str(name), labels)
    }
}

/// One queue's numbers, to `recorder`.
fn emit(recorder: &dyn Recorder, reading: &Reading) {
    let labels = Labels::of(reading);
    let count = |metric: &Described, value: u64| {
        recorder
            .register_counter(&labels.key(metric.name, None), &METADATA)
            .absolute(value);
    };
    let set = |metric: &Described, quantile: Option<&'static str>, value: f64| {
        recorder
            .register_gauge(&labels.key(metric.name, quantile), &METADATA)
            .set(value);
    };
    let stats = &reading.stats;
    count(&SCHEDULED, stats.scheduled);
    if let Some(merged) = stats.merged {
        count(&MERGED, merged);
    }
    count(&RERUNS, stats.reruns);
    count(&RUNS, stats.runs);
    count(&PANICS, stats.panics);
    count(&STARTED, stats.threads_started);
    count(&EXITED, stats.threads_exited);
    count(&SPAWN_FAILURES, stats.spawn_failures);

    let oldest = reading.oldest_wait.unwrap_or_default();
    set(&THREADS, None, reading.threads as f64);
    set(&RUNNING, None, reading.running as f64);
    set(&WAITING, None, reading.waiting as f64);
    set(&OLDEST_WAIT, None, oldest.as_secs_f64());
    set(&FROZEN, None, if reading.frozen { 1.0 } else { 0.0 });
    match reading.kind {
        QueueKind::Pool => {
            set(&MIN_THREADS, None, reading.min_threads as f64);
            set(&MAX_THREADS, None, reading.max_threads as f64);
        }
        QueueKind::WorkQueue => set(&MAX_ACTIVE, None, reading.max_active as f64),
        QueueKind::Worker => {}
    }

    for (metrics, latency) in [(&WAIT, &stats.wait), (&RUN, &stats.run)] {
        let Some(l) = latency else { continue };
        let [quantiles, samples, sum] = metrics;
        for (q, value) in quantile_values(l) {
            set(quantiles, Some(q), value.as_secs_f64());
        }
        count(samples, l.count);
        set(sum, None, l.mean.as_secs_f64() * l.count as f64);
    }
}

/// A summary's percentiles by their `quantile` label.
fn quantile_values(l: &Latency) -> [(&'static str, Duration); 4] {
    [
        ("0.5", l.p50),
        ("0.9", l.p90),
        ("0.99", l.p99),
        ("1", l.max),
    ]
}

/// Emits every live queue's numbers from a thread of its own (`workq-metrics`)
/// every `interval`, the first time at once: [`record`] to the global recorder,
/// for programs whose recorder does not ask for the numbers before a scrape. The
/// thread ends when the returned [`Exporter`] is stopped or dropped.
///
/// A panic of the recorder is caught and reported (a `tracing` error event, else
/// a line on standard error); the thread goes on at the next interval.
///
/// # Errors
///
/// [`Error::InvalidConfig`] (setting `interval`) for a zero interval;
/// [`Error::Spawn`] if the thread cannot be started.
///
/// ```
/// use std::time::Duration;
/// let mut exporter = workq::metrics::export_every(Duration::from_secs(10))?;
/// exporter.stop(); // the thread has ended
/// assert!(workq::metrics::export_every(Duration::ZERO).is_err());
/// # Ok::<(), workq::Error>(())
/// ```
pub fn export_every(interval: Duration) -> Result<Exporter, Error> {
    if interval.is_zero() {
        return Err(crate::error::invalid("interval", "must be above zero"));
    }
    let (stop, stopped) = mpsc::channel::<()>();
    let thread = std::thread::Builder::new()
        .name(THREAD.to_string())
        .spawn(move || export(&stopped, interval))
        .map_err(|source| Error::Spawn {
            thread: THREAD.to_string(),
            source,
        })?;
    Ok(Exporter {
        running: Some(Running { stop, thread }),
    })
}

/// The exporter thread: [`record`] at once, then at every interval (counted from
/// the start of the previous call) until the sender side is dropped.
fn export(stopped: &mpsc::Receiver<()>, interval: Duration) {
    loop {
        let start = Instant::now();
        if let Err(payload) = std::panic::catch_unwind(record) {
            let message = crate::support::panic::message(&*payload).to_string();
            crate::support::panic::swallow(payload);
            crate::support::log::trouble!(
                error,
                "{THREAD}: the metrics recorder panicked: {message}"
            );
        }
        // A deadline past what `Instant` holds waits for the stop alone
        // (std's `recv_timeout` copes with any duration).
        let wait = start.checked_add(interval).map_or(interval, |next| {
            next.saturating_duration_since(Instant::now())
        });
        match stopped.recv_timeout(wait) {
            Err(RecvTimeoutError::Timeout) => continue,
            Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}

/// The thread started by [`export_every`]. [`stop`](Exporter::stop) ends it and
/// waits until it has ended; dropping the `Exporter` does the same.
///
/// ```
/// let exporter = workq::metrics::export_every(std::time::Duration::from_secs(15))?;
/// drop(exporter); // stops the thread and waits for it
/// # Ok::<(), workq::Error>(())
/// ```
#[derive(Debug)]
#[must_use = "dropping the Exporter stops its thread"]
pub struct Exporter {
    running: Option<Running>,
}

#[derive(Debug)]
struct Running {
    stop: mpsc::Sender<()>,
    thread: JoinHandle<()>,
}

impl Exporter {
    /// Stops the thread and returns once it has ended (a [`record`] in progress
    /// finishes first). Calling it again, or dropping the exporter afterwards,
    /// does nothing. Called from the exporter's own thread (by a recorder that
    /// owns its exporter), it stops the thread without waiting for it.
    ///
    /// ```
    /// let mut exporter = workq::metrics::export_every(std::time::Duration::from_secs(5))?;
    /// exporter.stop();
    /// exporter.stop(); // already stopped: nothing to do
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn stop(&mut self) {
        let Some(Running { stop, thread }) = self.running.take() else {
            return;
        };
        drop(stop); // the thread sees the channel closed
        if thread.thread().id() != std::thread::current().id() {
            // The thread catches the recorder's panics: it ends normally.
            let _ = thread.join();
        }
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        self.stop();
    }
}
