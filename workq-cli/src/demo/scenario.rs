//! The scenario: builds the queues and everything that uses them, plays the
//! timeline (cancel the poller, a panicking item, suspend / resume, an owner
//! leaving, a stalled journal commit), winds down, and returns what the summary
//! checks.
//!
//! Timeline, as fractions of the duration `D` (the producers run until `D`):
//!
//! | when | what |
//! |------|------|
//! | 0 | start: worker `netdev` (events from 3 irq threads, `link-poller`, `tx-timeout-check`), pool `demo-pool` with owners `nfs` and `afs`, ordered workqueue `metadata-writes` |
//! | 0.25 D | `cancel_sync` of the self-requeueing `link-poller` |
//! | 0.35 D | `nfs-fill-corrupt` panics on a pool thread |
//! | 0.45 D | suspend: `netdev` and `metadata-writes` frozen for D/10 (0.15 to 2 s), then thawed |
//! | 0.60 D | owner `afs` stops and unregisters (waits for its readahead and retry) |
//! | 0.72 D | a journal commit stalls past the watchdog's threshold |
//! | D | wind-down: stop the producers, flush, unregister `nfs`, drain, destroy |

use super::cache::{self, Filler, Unregistered};
use super::device::{self, Device};
use super::metadata::{Metadata, StallSeen, COMMIT, STALL_THRESHOLD};
use super::shared::{CounterValues, DemoError, Queues, ReportKind, Shared, OWNERS};
use crate::view::text::short;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};
use workq::{EventStats, PanicReport, Pool, Queued, Stats, Work, Worker};

/// When things happen, for a run of a given duration.
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    /// When the poller is cancelled.
    pub cancel_poller: Duration,
    /// When the corrupt fill is queued.
    pub panic: Duration,
    /// When the suspend starts.
    pub freeze: Duration,
    /// How long the suspend holds.
    pub hold: Duration,
    /// When the `afs` owner leaves.
    pub unregister: Duration,
    /// When the journal commit stalls.
    pub stall: Duration,
    /// How long it stalls.
    pub stall_for: Duration,
    /// How long a readahead waits in all.
    pub readahead: Duration,
    /// The pool's idle timeout (threads beyond the minimum exit after it).
    pub idle_timeout: Duration,
}

impl Timing {
    /// The timing of a run of `d`.
    pub fn for_duration(d: Duration) -> Timing {
        let clamp = |x: Duration, lo: u64, hi: u64| {
            x.clamp(Duration::from_millis(lo), Duration::from_millis(hi))
        };
        Timing {
            cancel_poller: d.mul_f64(0.25),
            panic: d.mul_f64(0.35),
            freeze: d.mul_f64(0.45),
            hold: clamp(d / 10, 150, 2000),
            unregister: d.mul_f64(0.60),
            stall: d.mul_f64(0.72),
            stall_for: clamp(d / 12, 500, 1500),
            readahead: clamp(d / 12, 250, 1600),
            idle_timeout: clamp(d / 10, 300, 2000),
        }
    }
}

/// What the cancel of the poller showed.
#[derive(Clone, Copy, Debug)]
pub struct PollCheck {
    /// Polls counted when `cancel_sync` returned.
    pub at_cancel: u64,
    /// Whether it removed a pending run.
    pub removed: bool,
    /// Whether it happened only at the wind-down (the run was quit early).
    pub at_wind_down: bool,
}

/// What the suspend showed.
#[derive(Clone, Copy, Debug)]
pub struct FreezeCheck {
    /// How long both queues stayed frozen.
    pub hold: Duration,
    /// Handler runs while frozen (should be 0).
    pub handler_runs: u64,
    /// Metadata writes while frozen (should be 0).
    pub meta_writes: u64,
    /// Whether the handler was pending (events held) during the freeze.
    pub handler_pending: bool,
    /// Backlog reports between the freeze and the first flush after the thaw.
    pub backlog_reports: u64,
}

/// Everything the summary checks and prints.
#[derive(Debug)]
pub struct Outcome {
    /// How long the whole run took, wind-down included.
    pub elapsed: Duration,
    /// Whether `q` ended the run early.
    pub quit_early: bool,
    /// The counters after everything was dropped.
    pub counters: CounterValues,
    /// The events' own statistics.
    pub events: EventStats,
    /// The worker's counters.
    pub worker: Stats,
    /// The pool's counters.
    pub pool: Stats,
    /// The metadata workqueue's counters.
    pub meta: Stats,
    /// The poller's cancel.
    pub poll: PollCheck,
    /// The suspend, if it was reached.
    pub freeze: Option<FreezeCheck>,
    /// Whether the panicking item was queued.
    pub panic_reached: bool,
    /// Every panic report of the queues' hooks.
    pub panic_texts: Vec<String>,
    /// Whether the watchdog reported the stalled commit, if the stall was reached.
    pub stall: Option<bool>,
    /// How each owner's unregister went (`nfs`, `afs`).
    pub owners: [Option<Unregistered>; 2],
    /// Whether `afs` left in the middle of the run (not only at the wind-down).
    pub afs_mid_run: bool,
    /// A queue call on the destroyed worker.
    pub after_destroy: Result<Queued, workq::Error>,
}

/// Runs the scenario; the views follow it through `shared`.
///
/// # Errors
/// A workq call the scenario relies on failed, or a demo thread could not start.
pub fn run(shared: &Arc<Shared>) -> Result<Outcome, DemoError> {
    let mut outcome = play(shared)?;
    // Every item and handle of the run is dropped by now.
    outcome.counters = shared.counters.values();
    Ok(outcome)
}

/// A panic hook that records the report.
fn panic_hook(shared: &Arc<Shared>) -> impl Fn(&PanicReport<'_>) + Send + Sync + 'static {
    let shared = shared.clone();
    move |report| shared.panic_report(report.to_string())
}

fn play(shared: &Arc<Shared>) -> Result<Outcome, DemoError> {
    let d = shared.duration;
    let t = Timing::for_duration(d);
    let pool = Pool::builder()
        .name("demo-pool")
        .min_threads(1)
        .max_threads(4)
        .idle_timeout(t.idle_timeout)
        .very_slow_percent(50)
        .count_merged(true) // the demo shows how much coalescing happens
        .on_panic(panic_hook(shared))
        .build()?;
    let worker = Worker::builder()
        .name("netdev")
        .freezable(true)
        .count_merged(true)
        .on_panic(panic_hook(shared))
        .build()?;
    let stall_seen = Arc::new(StallSeen::default());
    let meta = Metadata::build(shared, &pool, &stall_seen)?;
    shared.set_queues(Queues {
        pool: pool.clone(),
        worker: worker.clone(),
        meta: meta.wq.clone(),
    });

    let device = device::build(shared, &worker)?;
    worker.queue(&device.poller)?;
    let irq_stop = Arc::new(AtomicBool::new(false));
    let irqs = device::start_irqs(shared, &device.events, &irq_stop)?;
    let mut fillers = [None, None];
    for (i, slot) in fillers.iter_mut().enumerate() {
        let owner = pool.register(OWNERS[i]);
        *slot = Some(Filler::start(shared, owner, i, &meta, t.readahead)?);
    }
    shared.report(
        ReportKind::Timeline,
        format!(
            "started for {}: worker 'netdev' (eth0 events from 3 irq threads, link-poller, \
             tx-timeout-check); pool 'demo-pool' (owners nfs and afs fill the cache); \
             ordered workqueue 'metadata-writes'",
            short(d)
        ),
    );
    shared.set_phase("running");

    let faulty = cache::corrupt_fill(shared);
    let mut poll = None;
    let mut freeze = None;
    let mut panic_reached = false;
    let mut stall = None;
    let mut owners: [Option<Unregistered>; 2] = [None, None];
    let mut afs_mid_run = false;
    'timeline: {
        if !shared.wait_until(t.cancel_poller) {
            break 'timeline;
        }
        poll = Some(cancel_poller(shared, &device.poller, false)?);

        if !shared.wait_until(t.panic) {
            break 'timeline;
        }
        shared.report(
            ReportKind::Timeline,
            "next: 'nfs-fill-corrupt' panics on purpose on a pool thread; workq catches \
             and reports it (expected, not a failure)",
        );
        // Without the live view, std's panic message goes to standard error at once,
        // before the next print of the plain view: say first that it is expected.
        if crate::view::terminal::panics_go_to_stderr() {
            eprintln!(
                "workq demo: next, the item 'nfs-fill-corrupt' panics on purpose; the panic \
                 message below is expected (workq catches it, the demo goes on)"
            );
        }
        panic_reached = true;
        pool.queue(&faulty)?;
        faulty.flush()?;
        // `Work::flush` can return once the item is idle again, a moment before the
        // pool's hook has reported the panic: wait for the report (a library
        // problem noted in the summary's panic check if it never comes).
        let until = Instant::now() + Duration::from_secs(2);
        while shared.counters.panic_reports.load(Ordering::SeqCst) == 0 && Instant::now() < until {
            thread::sleep(Duration::from_millis(1));
        }
        shared.report(
            ReportKind::Timeline,
            format!(
                "the pool caught the panic and goes on (pool panics: {})",
                pool.snapshot().stats.panics
            ),
        );

        if !shared.wait_until(t.freeze) {
            break 'timeline;
        }
        freeze = Some(suspend(shared, &worker, &meta, &device, t.hold)?);

        if !shared.wait_until(t.unregister) {
            break 'timeline;
        }
        if let Some(afs) = fillers[1].take() {
            shared.report(
                ReportKind::Timeline,
                "owner 'afs' stops queueing, flushes its fills and unregisters",
            );
            let u = afs.stop()?;
            shared.report(
                ReportKind::Timeline,
                format!(
                    "owner 'afs' unregistered: waited {} for {} outstanding item(s)",
                    short(u.waited),
                    u.outstanding
                ),
            );
            owners[1] = Some(u);
            afs_mid_run = true;
        }

        if !shared.wait_until(t.stall) {
            break 'timeline;
        }
        stall = Some(stall_commit(shared, &meta, &stall_seen, t.stall_for)?);

        if !shared.wait_until(d) {
            break 'timeline;
        }
    }

    // Wind-down.
    let quit_early = shared.quit_requested();
    shared.set_phase(if quit_early {
        "quitting: winding down"
    } else {
        "winding down"
    });
    shared.report(
        ReportKind::Timeline,
        "stopping the producers; flushing, unregistering, draining",
    );
    irq_stop.store(true, Ordering::Relaxed);
    for irq in irqs {
        match irq.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => shared.error("raising an event", &e),
            Err(_) => return Err(DemoError::Panicked("irq")),
        }
    }
    let poll = match poll {
        Some(p) => p,
        None => cancel_poller(shared, &device.poller, true)?,
    };
    device.events.flush()?;
    device.watchdog.stop()?;
    for slot in &mut fillers {
        if let Some(f) = slot.take() {
            let i = f.index;
            let u = f.stop()?;
            shared.report(
                ReportKind::Timeline,
                format!(
                    "owner '{}' unregistered: waited {} for {} outstanding item(s)",
                    OWNERS[i],
                    short(u.waited),
                    u.outstanding
                ),
            );
            owners[i] = Some(u);
        }
    }
    meta.wq.drain()?;
    worker.destroy()?;
    let check = shared.item();
    let probe = Work::named("late-probe", move |_ctx| drop(check.enter()));
    let after_destroy = worker.queue(&probe);
    meta.wq.destroy()?;
    pool.destroy()?;
    shared.report(
        ReportKind::Timeline,
        "destroyed 'netdev', 'metadata-writes' and 'demo-pool'",
    );

    let events = device.events.stats();
    let (worker_stats, pool_stats, meta_stats) = (
        worker.stats(),
        pool.snapshot().stats,
        meta.wq.snapshot().stats,
    );
    drop((device, meta, faulty, probe));
    Ok(Outcome {
        elapsed: shared.elapsed(),
        quit_early,
        counters: CounterValues::default(),
        events,
        worker: worker_stats,
        pool: pool_stats,
        meta: meta_stats,
        poll,
        freeze,
        panic_reached,
        panic_texts: shared.panic_texts(),
        stall,
        owners,
        afs_mid_run,
        after_destroy,
    })
}

/// Stops the self-requeueing poller with `cancel_sync`.
fn cancel_poller(
    shared: &Shared,
    poller: &Work,
    at_wind_down: bool,
) -> Result<PollCheck, DemoError> {
    let removed = poller.cancel_sync()?;
    let at_cancel = shared.counters.polls.load(Ordering::SeqCst);
    shared.report(
        ReportKind::Timeline,
        format!(
            "cancel_sync('link-poller') after {at_cancel} polls: removed a pending run: {removed}; \
             pending now: {}, running now: {}",
            poller.is_pending(),
            poller.is_running()
        ),
    );
    Ok(PollCheck {
        at_cancel,
        removed,
        at_wind_down,
    })
}

/// Freezes the device's worker and the metadata queue for `hold`, then thaws
/// them and flushes the events.
fn suspend(
    shared: &Shared,
    worker: &Worker,
    meta: &Metadata,
    device: &Device,
    hold: Duration,
) -> Result<FreezeCheck, DemoError> {
    let c = &shared.counters;
    let backlog_before = c.backlog_reports.load(Ordering::SeqCst);
    shared.set_phase("suspended: netdev and metadata-writes frozen");
    worker.freeze()?;
    meta.wq.freeze()?;
    let runs = c.handler_runs.load(Ordering::SeqCst);
    let writes = c.meta_writes.load(Ordering::SeqCst);
    shared.report(
        ReportKind::Timeline,
        format!(
            "suspend: froze 'netdev' and 'metadata-writes' for {}; events and writes are held, not lost",
            short(hold)
        ),
    );
    thread::sleep(hold);
    let handler_runs = c.handler_runs.load(Ordering::SeqCst) - runs;
    let meta_writes = c.meta_writes.load(Ordering::SeqCst) - writes;
    let handler_pending = device.events.work().is_pending();
    worker.thaw()?;
    meta.wq.thaw()?;
    device.events.flush()?;
    let backlog_reports = c.backlog_reports.load(Ordering::SeqCst) - backlog_before;
    shared.report(
        ReportKind::Timeline,
        format!(
            "resume: thawed; while frozen: {handler_runs} handler runs, {meta_writes} metadata writes, \
             handler pending: {handler_pending}; backlog reports since: {backlog_reports}"
        ),
    );
    shared.set_phase("running");
    Ok(FreezeCheck {
        hold,
        handler_runs,
        meta_writes,
        handler_pending,
        backlog_reports,
    })
}

/// Makes one journal commit stall for `stall_for` and waits for it; returns
/// whether the watchdog reported it.
fn stall_commit(
    shared: &Shared,
    meta: &Metadata,
    seen: &StallSeen,
    stall_for: Duration,
) -> Result<bool, DemoError> {
    shared.report(
        ReportKind::Timeline,
        format!(
            "the next {COMMIT} stalls for {} (watchdog threshold {})",
            short(stall_for),
            short(STALL_THRESHOLD)
        ),
    );
    meta.stall_commit(stall_for)?;
    meta.commit().flush()?;
    Ok(seen.commit_reported.load(Ordering::SeqCst))
}
