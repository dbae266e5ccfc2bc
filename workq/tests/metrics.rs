//! `workq::metrics`: what `record()` sends through the `metrics` facade (exact
//! counts, labels, gauges, latency quantiles only with histograms on) and the
//! exporter thread (delivers, stops, ends its thread, refuses a zero interval).
//!
//! Most tests capture with a `DebuggingRecorder` set on their own thread only
//! (`metrics::with_local_recorder`), so tests running at once do not see each
//! other's recorders; the exporter test installs one globally (its thread cannot
//! see a local one), which also panics once on purpose. Queues are told apart
//! by their unique names.
#![cfg(feature = "metrics")]

mod common;

use common::{bounded30, flush_pool, flush_work, test_guard, thaw, wait_until};
use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};
use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use metrics_util::{CompositeKey, MetricKind};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;
use workq::{Error, Pool, Work, WorkQueue, Worker};

/// One captured metric: its name and labels other than the queue's, its value.
#[derive(Debug)]
struct Captured {
    kind: MetricKind,
    labels: BTreeMap<String, String>,
    unit: Option<Unit>,
    help: Option<String>,
    value: DebugValue,
}

/// Runs `record()` with a fresh recorder local to this thread and returns what
/// it captured for the queue named `queue`.
fn record_for(queue: &str) -> Vec<(String, Captured)> {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, workq::metrics::record);
    of_queue(snapshotter.snapshot().into_vec(), queue)
}

type Entry = (CompositeKey, Option<Unit>, Option<SharedString>, DebugValue);

fn of_queue(entries: Vec<Entry>, queue: &str) -> Vec<(String, Captured)> {
    let mut out: Vec<(String, Captured)> = entries
        .into_iter()
        .filter_map(|(key, unit, help, value)| {
            let labels: BTreeMap<String, String> = key
                .key()
                .labels()
                .map(|l| (l.key().to_string(), l.value().to_string()))
                .collect();
            (labels.get("queue").map(String::as_str) == Some(queue)).then(|| {
                (
                    key.key().name().to_string(),
                    Captured {
                        kind: key.kind(),
                        labels,
                        unit,
                        help: help.map(|h| h.to_string()),
                        value,
                    },
                )
            })
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// The value of the one metric `name` (with `quantile`, if given).
fn value<'a>(got: &'a [(String, Captured)], name: &str, quantile: Option<&str>) -> &'a Captured {
    let found: Vec<&Captured> = got
        .iter()
        .filter(|(n, c)| n == name && c.labels.get("quantile").map(String::as_str) == quantile)
        .map(|(_, c)| c)
        .collect();
    assert_eq!(found.len(), 1, "one {name} {quantile:?} in {got:#?}");
    found[0]
}

fn counter(got: &[(String, Captured)], name: &str) -> u64 {
    let c = value(got, name, None);
    assert_eq!(c.kind, MetricKind::Counter, "{name}");
    match c.value {
        DebugValue::Counter(v) => v,
        ref other => panic!("{name}: not a counter: {other:?}"),
    }
}

fn gauge(got: &[(String, Captured)], name: &str, quantile: Option<&str>) -> f64 {
    let c = value(got, name, quantile);
    assert_eq!(c.kind, MetricKind::Gauge, "{name}");
    match c.value {
        DebugValue::Gauge(v) => v.0,
        ref other => panic!("{name}: not a gauge: {other:?}"),
    }
}

fn names(got: &[(String, Captured)]) -> Vec<&str> {
    let mut names: Vec<&str> = got.iter().map(|(n, _)| n.as_str()).collect();
    names.dedup();
    names
}

/// Runs `n` distinct items on `worker` and waits for them.
fn run_items(worker: &Worker, n: usize) {
    for i in 0..n {
        let work = Work::named(format!("item-{i}"), |_| {});
        worker.queue(&work).expect("queue");
        flush_work(&work);
    }
}

#[test]
fn a_worker_s_counters_and_gauges_are_exact_and_labelled() {
    let _guard = test_guard();
    let worker = Worker::new("metrics-worker").expect("worker");
    run_items(&worker, 7);
    let got = record_for("metrics-worker");

    let id = worker.snapshot().id.to_string();
    for (name, c) in &got {
        assert_eq!(c.labels.get("id"), Some(&id), "{name}");
        assert_eq!(c.labels.get("kind").map(String::as_str), Some("worker"));
    }
    assert_eq!(counter(&got, "workq_runs_total"), 7);
    assert_eq!(counter(&got, "workq_scheduled_total"), 7);
    assert_eq!(counter(&got, "workq_reruns_total"), 0);
    assert_eq!(counter(&got, "workq_panics_total"), 0);
    assert_eq!(counter(&got, "workq_spawn_failures_total"), 0);
    assert_eq!(gauge(&got, "workq_threads", None), 1.0);
    assert_eq!(gauge(&got, "workq_running", None), 0.0);
    assert_eq!(gauge(&got, "workq_waiting", None), 0.0);
    assert_eq!(gauge(&got, "workq_oldest_wait_seconds", None), 0.0);
    assert_eq!(gauge(&got, "workq_frozen", None), 0.0);
    // Not counted, not measured, not a pool or workqueue: absent, not 0.
    let names = names(&got);
    for absent in [
        "workq_merged_total",
        "workq_wait_seconds",
        "workq_wait_seconds_count",
        "workq_wait_seconds_sum",
        "workq_run_seconds",
        "workq_run_seconds_count",
        "workq_run_seconds_sum",
        "workq_min_threads",
        "workq_max_threads",
        "workq_max_active",
    ] {
        assert!(!names.contains(&absent), "{absent} in {names:?}");
    }
    // Described: units and help texts.
    let runs = value(&got, "workq_runs_total", None);
    assert_eq!(runs.unit, Some(Unit::Count));
    assert!(runs.help.as_deref().is_some_and(|h| h.contains("Runs")));
    let oldest = value(&got, "workq_oldest_wait_seconds", None);
    assert_eq!(oldest.unit, Some(Unit::Seconds));
}

#[test]
fn waiting_items_a_frozen_queue_and_panics_show() {
    let _guard = test_guard();
    let worker = Worker::builder()
        .name("metrics-frozen")
        .freezable(true)
        .on_panic(|_| {}) // the panic below is on purpose
        .build()
        .expect("worker");
    bounded30("freeze an idle worker", {
        let w = worker.clone();
        move || w.freeze()
    })
    .expect("freeze");
    let items: Vec<Work> = (0..3)
        .map(|i| Work::named(format!("held-{i}"), |_| {}))
        .collect();
    for item in &items {
        worker.queue(item).expect("queue");
    }
    let got = record_for("metrics-frozen");
    assert_eq!(gauge(&got, "workq_waiting", None), 3.0);
    assert_eq!(gauge(&got, "workq_frozen", None), 1.0);
    assert!(gauge(&got, "workq_oldest_wait_seconds", None) >= 0.0);
    assert_eq!(counter(&got, "workq_scheduled_total"), 3);
    assert_eq!(counter(&got, "workq_runs_total"), 0);

    thaw(&worker);
    let boom = Work::named("boom", |_| panic!("on purpose"));
    worker.queue(&boom).expect("queue");
    for item in items.iter().chain([&boom]) {
        flush_work(item);
    }
    let got = record_for("metrics-frozen");
    assert_eq!(gauge(&got, "workq_waiting", None), 0.0);
    assert_eq!(gauge(&got, "workq_frozen", None), 0.0);
    assert_eq!(counter(&got, "workq_runs_total"), 4);
    assert_eq!(counter(&got, "workq_panics_total"), 1);
}

#[test]
fn quantiles_counts_and_sums_only_with_histograms_on() {
    let _guard = test_guard();
    let worker = Worker::builder()
        .name("metrics-latency")
        .latency_histograms(true)
        .count_merged(true)
        .build()
        .expect("worker");
    run_items(&worker, 5);
    let stats = worker.stats();
    let (wait, run) = (stats.wait.expect("waits"), stats.run.expect("runs"));
    let got = record_for("metrics-latency");

    assert_eq!(counter(&got, "workq_merged_total"), 0);
    assert_eq!(counter(&got, "workq_wait_seconds_count"), 5);
    assert_eq!(counter(&got, "workq_run_seconds_count"), 5);
    for (name, l) in [("workq_wait_seconds", wait), ("workq_run_seconds", run)] {
        let q = |quantile| gauge(&got, name, Some(quantile));
        assert_eq!(q("0.5"), l.p50.as_secs_f64(), "{name} p50");
        assert_eq!(q("0.9"), l.p90.as_secs_f64(), "{name} p90");
        assert_eq!(q("0.99"), l.p99.as_secs_f64(), "{name} p99");
        assert_eq!(q("1"), l.max.as_secs_f64(), "{name} max");
        let sum = gauge(&got, &format!("{name}_sum"), None);
        assert_eq!(sum, l.mean.as_secs_f64() * 5.0, "{name} sum");
        let quantiles: Vec<&str> = got
            .iter()
            .filter(|(n, _)| n == name)
            .filter_map(|(_, c)| c.labels.get("quantile").map(String::as_str))
            .collect();
        assert_eq!(quantiles.len(), 4, "{name}: {quantiles:?}");
        assert_eq!(value(&got, name, Some("1")).unit, Some(Unit::Seconds));
    }
}

#[test]
fn pools_and_workqueues_have_their_own_gauges() {
    let _guard = test_guard();
    let pool = Pool::builder()
        .name("metrics-pool")
        .min_threads(1)
        .max_threads(3)
        .build()
        .expect("pool");
    let wq = WorkQueue::builder("metrics-wq")
        .pool(&pool)
        .max_active(2)
        .build()
        .expect("workqueue");
    let works: Vec<Work> = (0..4).map(|_| Work::new(|_| {})).collect();
    for w in &works {
        wq.queue(w).expect("queue");
    }
    for w in &works {
        flush_work(w);
    }
    flush_pool(&pool);

    let got = record_for("metrics-pool");
    assert_eq!(
        value(&got, "workq_threads", None)
            .labels
            .get("kind")
            .map(String::as_str),
        Some("pool")
    );
    assert_eq!(gauge(&got, "workq_min_threads", None), 1.0);
    assert_eq!(gauge(&got, "workq_max_threads", None), 3.0);
    let started = counter(&got, "workq_threads_started_total");
    assert!(started >= 1, "the pool started a thread: {started}");

    let got = record_for("metrics-wq");
    assert_eq!(
        value(&got, "workq_runs_total", None)
            .labels
            .get("kind")
            .map(String::as_str),
        Some("workqueue")
    );
    assert_eq!(counter(&got, "workq_runs_total"), 4);
    assert_eq!(gauge(&got, "workq_max_active", None), 2.0);
    assert!(!names(&got).contains(&"workq_max_threads"));
}

#[test]
fn a_queue_that_is_gone_is_no_longer_recorded() {
    let _guard = test_guard();
    let worker = Worker::new("metrics-gone").expect("worker");
    run_items(&worker, 1);
    assert_eq!(counter(&record_for("metrics-gone"), "workq_runs_total"), 1);
    let w = worker.clone();
    bounded30("destroy", move || w.destroy()).expect("destroy");
    drop(worker);
    // Its last handle and its (joined) thread are gone: no longer live.
    wait_until("the queue leaves the live list", || {
        !workq::snapshots().iter().any(|s| s.name == "metrics-gone")
    });
    assert!(record_for("metrics-gone").is_empty());
}

#[test]
fn a_zero_interval_is_refused() {
    let _guard = test_guard();
    match workq::metrics::export_every(Duration::ZERO) {
        Err(Error::InvalidConfig { setting, .. }) => assert_eq!(setting, "interval"),
        other => panic!("expected InvalidConfig for interval, got {other:?}"),
    }
}

/// Threads of this process named `workq-metrics`.
fn exporter_threads() -> usize {
    common::os_thread_names()
        .expect("/proc lists this process's threads")
        .iter()
        .filter(|n| *n == "workq-metrics")
        .count()
}

/// The global recorder of this test binary: a `DebuggingRecorder` that panics
/// once, on the exporter's thread, when told to (a faulty recorder).
struct Faulty {
    inner: DebuggingRecorder,
    panic_once: AtomicBool,
    panicked: AtomicUsize,
}

impl Faulty {
    fn maybe_panic(&self) {
        let on_exporter = std::thread::current().name() == Some("workq-metrics");
        if on_exporter && self.panic_once.swap(false, Ordering::SeqCst) {
            self.panicked.fetch_add(1, Ordering::SeqCst);
            panic!("a faulty recorder (on purpose)");
        }
    }
}

impl Recorder for Faulty {
    fn describe_counter(&self, key: KeyName, unit: Option<Unit>, help: SharedString) {
        self.inner.describe_counter(key, unit, help);
    }
    fn describe_gauge(&self, key: KeyName, unit: Option<Unit>, help: SharedString) {
        self.inner.describe_gauge(key, unit, help);
    }
    fn describe_histogram(&self, key: KeyName, unit: Option<Unit>, help: SharedString) {
        self.inner.describe_histogram(key, unit, help);
    }
    fn register_counter(&self, key: &Key, metadata: &Metadata<'_>) -> Counter {
        self.maybe_panic();
        self.inner.register_counter(key, metadata)
    }
    fn register_gauge(&self, key: &Key, metadata: &Metadata<'_>) -> Gauge {
        self.inner.register_gauge(key, metadata)
    }
    fn register_histogram(&self, key: &Key, metadata: &Metadata<'_>) -> Histogram {
        self.inner.register_histogram(key, metadata)
    }
}

#[test]
fn the_exporter_delivers_to_the_global_recorder_and_stops() {
    let _guard = test_guard();
    let inner = DebuggingRecorder::new();
    let snapshotter = inner.snapshotter();
    let recorder: &'static Faulty = Box::leak(Box::new(Faulty {
        inner,
        panic_once: AtomicBool::new(false),
        panicked: AtomicUsize::new(0),
    }));
    metrics::set_global_recorder(recorder).expect("the only global recorder of this test binary");
    let snapshotter = &snapshotter;
    let runs_are = |n: u64| {
        move || {
            let got = of_queue(snapshotter.snapshot().into_vec(), "metrics-exported");
            got.iter().any(|(name, c)| {
                name == "workq_runs_total" && matches!(c.value, DebugValue::Counter(v) if v == n)
            })
        }
    };

    let worker = Worker::new("metrics-exported").expect("worker");
    run_items(&worker, 3);
    assert_eq!(exporter_threads(), 0, "no exporter yet");
    let mut exporter = workq::metrics::export_every(Duration::from_millis(5)).expect("exporter");
    wait_until("the exporter thread shows", || exporter_threads() == 1);
    // The first record() is at the thread's start: wait for its value (the
    // snapshot takes the counters, the next interval sets them again).
    wait_until("the exporter records 3 runs", runs_are(3));
    // More runs are picked up at a later interval.
    run_items(&worker, 2);
    wait_until("the exporter records 5 runs", runs_are(5));
    // A panic of the recorder is caught: the thread goes on at the next interval.
    recorder.panic_once.store(true, Ordering::SeqCst);
    wait_until("the recorder panics", || {
        recorder.panicked.load(Ordering::SeqCst) == 1
    });
    run_items(&worker, 1);
    wait_until("the exporter records 6 runs after the panic", runs_are(6));
    assert_eq!(exporter_threads(), 1, "the same thread goes on");

    // stop joins the thread (its /proc entry may outlive the join by a moment);
    // a second stop and the drop after it do nothing.
    bounded30("Exporter::stop, twice, then drop", move || {
        exporter.stop();
        exporter.stop();
        drop(exporter);
    });
    wait_until("the exporter thread ends", || exporter_threads() == 0);

    // Dropping a running exporter stops it too.
    let exporter = workq::metrics::export_every(Duration::from_secs(3600)).expect("exporter");
    wait_until("the exporter thread shows", || exporter_threads() == 1);
    bounded30("drop of an Exporter", move || drop(exporter));
    wait_until("the exporter thread ends", || exporter_threads() == 0);
}

/// The cost of one `record()` with 10 live queues (4 workers, 3 pools, 3
/// workqueues; half with latency histograms), per recorder: none installed (the
/// facade's no-op), metrics-util's `DebuggingRecorder`, and the Prometheus
/// recorder; and, for comparison, `snapshots()` of the same queues (which names
/// every thread and waiting item: a workqueue has a slot per `max_active`).
/// Prints the median of 5 rounds; asserts nothing about time.
/// `cargo test --release -p workq --features metrics --test metrics -- --ignored --nocapture`
#[test]
#[ignore = "a measurement: run it on its own, in release"]
fn measure_the_cost_of_record_with_10_queues() {
    let _guard = test_guard();
    let pool = Pool::builder()
        .name("cost-pool-0")
        .latency_histograms(true)
        .build()
        .expect("pool");
    let pools: Vec<Pool> = (1..3)
        .map(|i| {
            Pool::builder()
                .name(format!("cost-pool-{i}"))
                .latency_histograms(i % 2 == 0)
                .build()
                .expect("pool")
        })
        .collect();
    let workers: Vec<Worker> = (0..4)
        .map(|i| {
            Worker::builder()
                .name(format!("cost-worker-{i}"))
                .latency_histograms(i % 2 == 0)
                .build()
                .expect("worker")
        })
        .collect();
    let wqs: Vec<WorkQueue> = (0..3)
        .map(|i| {
            WorkQueue::builder(format!("cost-wq-{i}"))
                .pool(&pool)
                .latency_histograms(i % 2 == 1)
                .build()
                .expect("workqueue")
        })
        .collect();
    for w in &workers {
        run_items(w, 10);
    }
    for q in pools.iter().chain([&pool]) {
        let work = Work::new(|_| {});
        q.queue(&work).expect("queue");
        flush_work(&work);
    }
    for q in &wqs {
        let work = Work::new(|_| {});
        q.queue(&work).expect("queue");
        flush_work(&work);
    }
    let live = workq::snapshots().len();
    println!("live queues: {live}");

    let time = |what: &str, f: &dyn Fn()| {
        const CALLS: u32 = 20_000;
        for _ in 0..CALLS / 10 {
            f(); // warm-up: every key registered
        }
        let mut rounds: Vec<f64> = (0..5)
            .map(|_| {
                let start = std::time::Instant::now();
                for _ in 0..CALLS {
                    f();
                }
                start.elapsed().as_nanos() as f64 / f64::from(CALLS)
            })
            .collect();
        rounds.sort_by(f64::total_cmp);
        println!(
            "record() with {live} queues, {what}: median {:.0} ns (rounds {:.0}..{:.0} ns)",
            rounds[2], rounds[0], rounds[4]
        );
    };
    time("for comparison, snapshots() alone", &|| {
        std::hint::black_box(workq::snapshots());
    });
    time("no recorder (no-op)", &workq::metrics::record);
    let debugging = DebuggingRecorder::new();
    time("DebuggingRecorder", &|| {
        metrics::with_local_recorder(&debugging, workq::metrics::record)
    });
    let prometheus = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    time("PrometheusRecorder", &|| {
        metrics::with_local_recorder(&prometheus, workq::metrics::record)
    });
    let text = prometheus.handle().render();
    assert!(text.contains("queue=\"cost-wq-2\""), "rendered: {text}");
}
