//! `workq demo`: a simulated network device on a dedicated worker.
//!
//! Three "interrupt" threads raise rx / tx / link events: each sets its event's bit,
//! adds one to its counter and queues the one handler item, as drivers do with the
//! kernel's `schedule_work`. The handler takes every pending event at once. In the
//! middle the worker is frozen and thawed, a poller that re-queues itself is stopped
//! with `cancel_sync`, and an item panics on purpose. At the end the guarantees are
//! checked: every raised event was seen, no two runs of one item overlapped, the
//! panic was reported once, every closure was dropped once.

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};
use workq::{Error, Queued, Work, Worker};

/// Settings of the demo.
pub struct Options {
    /// How long the producers run.
    pub duration: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            duration: Duration::from_secs(3),
        }
    }
}

const EVENTS: [&str; 3] = ["rx", "tx", "link"];

/// Shared between the producers and the handler.
#[derive(Default)]
struct Device {
    /// One bit per event kind, set by `raise`, taken by the handler.
    bits: AtomicU64,
    /// Raises per kind not yet seen by a handler run.
    counts: [AtomicU64; 3],
    raised: [AtomicU64; 3],
    seen: [AtomicU64; 3],
    outcomes: [AtomicU64; 3],
    handler_runs: AtomicU64,
    overlaps: AtomicU64,
    inside: AtomicUsize,
}

/// Counts drops of the closures the demo creates.
struct DropCount(Arc<AtomicUsize>);

impl Drop for DropCount {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn raise(dev: &Device, worker: &Worker, handler: &Work, kind: usize) -> Result<Queued, Error> {
    dev.counts[kind].fetch_add(1, Ordering::Relaxed);
    dev.raised[kind].fetch_add(1, Ordering::Relaxed);
    dev.bits.fetch_or(1 << kind, Ordering::Release);
    let outcome = worker.queue(handler)?;
    let slot = match outcome {
        Queued::Scheduled => 0,
        Queued::AlreadyPending => 1,
        Queued::Rerun => 2,
    };
    dev.outcomes[slot].fetch_add(1, Ordering::Relaxed);
    Ok(outcome)
}

fn handle(dev: &Device) {
    if dev.inside.fetch_add(1, Ordering::SeqCst) != 0 {
        dev.overlaps.fetch_add(1, Ordering::SeqCst);
    }
    let bits = dev.bits.swap(0, Ordering::Acquire);
    for (kind, count) in dev.counts.iter().enumerate() {
        if bits & (1 << kind) != 0 {
            let n = count.swap(0, Ordering::Relaxed);
            dev.seen[kind].fetch_add(n, Ordering::Relaxed);
        }
    }
    dev.handler_runs.fetch_add(1, Ordering::Relaxed);
    // Pretend the handler does some work, so that raises pile up and coalesce.
    thread::sleep(Duration::from_micros(200));
    dev.inside.fetch_sub(1, Ordering::SeqCst);
}

fn stamp(start: Instant) -> String {
    format!("[{:>7.3}s]", start.elapsed().as_secs_f64())
}

/// Runs the demo and returns the process's exit code.
pub fn run(opts: &Options) -> ExitCode {
    match scenario(opts) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("workq demo: {e}");
            ExitCode::FAILURE
        }
    }
}

fn scenario(opts: &Options) -> Result<bool, Error> {
    let start = Instant::now();
    // One of the demo's items panics on purpose: keep std's report of it to one line
    // (workq catches the panic and reports it through the worker's hook as well).
    std::panic::set_hook(Box::new(|info| {
        let thread = thread::current();
        eprintln!("(std) thread '{}' {info}", thread.name().unwrap_or("?"));
    }));
    let panics = Arc::new(Mutex::new(Vec::<String>::new()));
    let p = panics.clone();
    let worker = Worker::builder()
        .name("demo-netdev")
        .freezable(true)
        .on_panic(move |report| {
            if let Ok(mut v) = p.lock() {
                v.push(report.to_string());
            }
        })
        .build()?;
    println!(
        "{} worker '{}' started; {} producer threads raise rx/tx/link events for {:?}",
        stamp(start),
        worker.name(),
        EVENTS.len(),
        opts.duration
    );

    let drops = Arc::new(AtomicUsize::new(0));
    let dev = Arc::new(Device::default());
    let d = dev.clone();
    let guard = DropCount(drops.clone());
    let handler = Work::named("netdev-kevent", move |_ctx| {
        let _keep = &guard;
        handle(&d);
    });

    // A poller that re-queues itself until it is cancelled.
    let polls = Arc::new(AtomicU64::new(0));
    let pc = polls.clone();
    let guard = DropCount(drops.clone());
    let poller = Work::named("link-poller", move |ctx| {
        let _keep = &guard;
        pc.fetch_add(1, Ordering::Relaxed);
        thread::sleep(Duration::from_millis(1));
        let _ = ctx.requeue();
    });
    worker.queue(&poller)?;
    println!(
        "{} queued 'link-poller', which re-queues itself after every run",
        stamp(start)
    );

    let stop = Arc::new(AtomicBool::new(false));
    let mut producers = Vec::new();
    for kind in 0..EVENTS.len() {
        let (dev, worker, handler, stop) =
            (dev.clone(), worker.clone(), handler.clone(), stop.clone());
        producers.push(thread::spawn(move || -> Result<(), Error> {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                raise(&dev, &worker, &handler, kind)?;
                i += 1;
                if i % 64 == 0 {
                    thread::sleep(Duration::from_micros(50));
                }
            }
            Ok(())
        }));
    }

    let third = opts.duration / 3;
    thread::sleep(third);
    let cancelled = poller.cancel_sync()?;
    println!(
        "{} cancel_sync('link-poller') after {} polls: removed a pending run: {cancelled}; pending now: {}, running now: {}",
        stamp(start),
        polls.load(Ordering::Relaxed),
        poller.is_pending(),
        poller.is_running()
    );
    let polls_at_cancel = polls.load(Ordering::Relaxed);

    let guard = DropCount(drops.clone());
    let faulty = Work::named("faulty-item", move |_ctx| {
        let _keep = &guard;
        panic!("simulated failure in a work item");
    });
    worker.queue(&faulty)?;
    faulty.flush()?;
    println!(
        "{} 'faulty-item' panicked; the worker caught it and goes on (panics so far: {})",
        stamp(start),
        worker.stats().panics
    );

    thread::sleep(third / 2);
    worker.freeze()?;
    let runs_frozen = dev.handler_runs.load(Ordering::Relaxed);
    println!(
        "{} worker frozen: events keep being raised, the handler is held pending: {}",
        stamp(start),
        handler.is_pending()
    );
    thread::sleep(Duration::from_millis(100).min(third / 2));
    let held = dev.handler_runs.load(Ordering::Relaxed) == runs_frozen;
    worker.thaw()?;
    println!(
        "{} worker thawed (no run while frozen: {held}); the held events are handled now",
        stamp(start)
    );

    thread::sleep(opts.duration.saturating_sub(start.elapsed()));
    stop.store(true, Ordering::Relaxed);
    for p in producers {
        match p.join() {
            Ok(r) => r?,
            Err(_) => eprintln!("workq demo: a producer thread panicked"),
        }
    }
    let waited = handler.flush()?;
    println!(
        "{} producers stopped; flushed the handler (had to wait: {waited})",
        stamp(start)
    );
    worker.destroy()?;
    let after = worker.queue(&handler);
    println!(
        "{} worker destroyed; a queue call now returns: {}",
        stamp(start),
        match &after {
            Ok(q) => format!("Ok({q:?})"),
            Err(e) => format!("Err({e})"),
        }
    );
    let stats = worker.stats();
    drop((handler, poller, faulty));

    println!("\nsummary");
    let total: u64 = dev.raised.iter().map(|a| a.load(Ordering::Relaxed)).sum();
    let [sched, pending, rerun] = dev.outcomes.each_ref().map(|a| a.load(Ordering::Relaxed));
    println!(
        "  queue calls on the handler: {total} (scheduled {sched}, already pending {pending}, rerun {rerun})"
    );
    println!(
        "  handler runs: {} for {total} events: {:.1} events folded into each run",
        dev.handler_runs.load(Ordering::Relaxed),
        total as f64 / dev.handler_runs.load(Ordering::Relaxed).max(1) as f64
    );
    println!(
        "  worker: {} runs, {} scheduled, {} reruns, {} panics",
        stats.runs, stats.scheduled, stats.reruns, stats.panics
    );
    let mut ok = true;
    let mut check = |what: String, pass: bool| {
        println!("  [{}] {what}", if pass { " ok " } else { "FAIL" });
        ok &= pass;
    };
    for (kind, name) in EVENTS.iter().enumerate() {
        let raised = dev.raised[kind].load(Ordering::Relaxed);
        let seen = dev.seen[kind].load(Ordering::Relaxed);
        check(
            format!("{name} events raised = seen: {raised} = {seen}"),
            raised == seen,
        );
    }
    let overlaps = dev.overlaps.load(Ordering::SeqCst);
    check(
        format!("overlapping runs of one item: {overlaps}"),
        overlaps == 0,
    );
    let polls_now = polls.load(Ordering::Relaxed);
    check(
        format!("no poll after cancel_sync returned: {polls_at_cancel} = {polls_now}"),
        polls_at_cancel == polls_now,
    );
    check(format!("handler held while frozen: {held}"), held);
    let reported = panics.lock().map(|v| v.clone()).unwrap_or_default();
    check(
        format!("panic reported once: {} report(s)", reported.len()),
        reported.len() == 1 && stats.panics == 1,
    );
    for line in &reported {
        println!("         {line}");
    }
    check(
        format!("queue after destroy is an error: {}", after.is_err()),
        matches!(after, Err(Error::Destroyed { .. })),
    );
    let dropped = drops.load(Ordering::SeqCst);
    check(
        format!("every closure dropped exactly once: {dropped} of 3"),
        dropped == 3,
    );
    println!(
        "{}",
        if ok {
            "all checks passed"
        } else {
            "SOME CHECKS FAILED"
        }
    );
    Ok(ok)
}
