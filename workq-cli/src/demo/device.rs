//! The simulated network device `eth0` on the `netdev` worker: three "interrupt"
//! threads raise rx / tx / link events (`workq::Events`, counted mode) and one
//! handler run takes every event raised since the previous run, as drivers do with
//! the kernel's kevent pattern. A link poller re-queues itself until it is
//! cancelled, and a periodic tx-timeout check runs at a fixed rate.

use super::shared::{bump, spawn, DemoError, ReportKind, Rng, Shared};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};
use workq::{BacklogReason, BacklogReport, Events, Periodic, Queued, Repeat, Work, Worker};

/// The event kinds (indexes into [`EVENT_NAMES`](super::shared::EVENT_NAMES)).
pub const RX: u8 = 0;
/// See [`RX`].
pub const TX: u8 = 1;
/// See [`RX`].
pub const LINK: u8 = 2;

/// An event waiting longer than this before a handler run takes it is reported
/// as backlogged.
pub const BACKLOG_AGE: Duration = Duration::from_millis(40);

/// At most one backlog report a quarter second goes to the feed (all are counted).
const BACKLOG_FEED_EVERY: Duration = Duration::from_millis(250);

/// A backlog report in the demo's words, the event kinds by name (`rx ×5860`,
/// the names given to the builder's `kind_names`).
pub fn backlog_text(report: &BacklogReport<'_>) -> String {
    let why = match report.reason {
        BacklogReason::Waited(d) => format!("an event waited {d:.1?} for the handler"),
        BacklogReason::Folded(n) => format!("{n} raises waited for one handler run"),
        _ => "the handler fell behind".to_string(),
    };
    let kinds: Vec<String> = report
        .kinds
        .iter()
        .map(|(kind, count, waited)| {
            let name = report
                .kind_name(*kind)
                .map_or_else(|| format!("kind {kind}"), str::to_string);
            format!("{name} ×{count} (waited {waited:.1?})")
        })
        .collect();
    format!(
        "workq: events '{}' backlogged ({why}); nothing lost, all handled in one run: {}",
        report.events,
        kinds.join(", ")
    )
}

/// The device's items on its worker.
pub struct Device {
    /// The events and their handler item (`eth0-kevent`).
    pub events: Arc<Events>,
    /// `link-poller`: re-queues itself after every run until cancelled.
    pub poller: Work,
    /// `tx-timeout-check`: a periodic item.
    pub watchdog: Periodic,
}

/// Builds the device's events, poller and periodic check on `worker` (nothing is
/// queued yet but the periodic check).
pub fn build(shared: &Arc<Shared>, worker: &Worker) -> Result<Device, DemoError> {
    let check = shared.item();
    let sh = shared.clone();
    let last_fed: Mutex<Option<Instant>> = Mutex::new(None);
    let events = Events::builder("eth0-kevent")
        .kind_names(super::shared::EVENT_NAMES)
        .counted(true)
        .backlog_age(Some(BACKLOG_AGE))
        .on_backlog(move |report| {
            bump(&sh.counters.backlog_reports);
            let now = Instant::now();
            let mut last = super::shared::lock(&last_fed);
            if last.is_none_or(|t| now.duration_since(t) >= BACKLOG_FEED_EVERY) {
                *last = Some(now);
                sh.report(ReportKind::Backlog, backlog_text(report));
            }
        })
        .build(worker.clone(), move |raised, _ctx| {
            let _run = check.enter();
            let c = check.counters();
            for (kind, n) in raised.iter() {
                c.seen[usize::from(kind)].fetch_add(n, Ordering::Relaxed);
            }
            bump(&c.handler_runs);
            // Refill the rx ring; a link change renegotiates, which takes longer.
            if raised.set().contains(LINK) {
                thread::sleep(Duration::from_millis(8));
            } else {
                thread::sleep(Duration::from_micros(100));
            }
        })?;

    let check = shared.item();
    let poller = Work::named("link-poller", move |ctx| {
        let _run = check.enter();
        bump(&check.counters().polls);
        thread::sleep(Duration::from_millis(1));
        // Fails only while a cancel_sync is in progress: then the polling stops.
        let _ = ctx.requeue();
    });

    let check = shared.item();
    let watchdog = worker.periodic(
        "tx-timeout-check",
        Repeat::FixedRate(Duration::from_millis(500)),
        move |_ctx| {
            let _run = check.enter();
            bump(&check.counters().watchdog_ticks);
            thread::sleep(Duration::from_micros(300));
        },
    )?;

    Ok(Device {
        events: Arc::new(events),
        poller,
        watchdog,
    })
}

/// Raises `kind`, counting it first (so the handler never counts more than was
/// raised) and its outcome after.
fn raise(shared: &Shared, events: &Events, kind: u8) -> Result<(), workq::Error> {
    let c = &shared.counters;
    let k = usize::from(kind);
    c.raised[k].fetch_add(1, Ordering::Relaxed);
    match events.raise(kind) {
        Ok(outcome) => {
            let slot = match outcome {
                Queued::Scheduled => 0,
                Queued::AlreadyPending => 1,
                Queued::Rerun => 2,
            };
            bump(&c.raise_outcomes[slot]);
            Ok(())
        }
        Err(e) => {
            c.raised[k].fetch_sub(1, Ordering::Relaxed);
            Err(e)
        }
    }
}

/// Starts the three interrupt threads; they raise until `stop` is set.
pub fn start_irqs(
    shared: &Arc<Shared>,
    events: &Arc<Events>,
    stop: &Arc<AtomicBool>,
) -> Result<Vec<JoinHandle<Result<(), workq::Error>>>, DemoError> {
    let mut threads = Vec::new();
    for kind in [RX, TX, LINK] {
        let (shared, events, stop) = (shared.clone(), events.clone(), stop.clone());
        let name = format!("irq-{}", super::shared::EVENT_NAMES[usize::from(kind)]);
        threads.push(spawn(&name, move || {
            let mut rng = Rng::new(u64::from(kind) + 1);
            while !stop.load(Ordering::Relaxed) {
                match kind {
                    // Packets arrive in bursts.
                    RX => {
                        for _ in 0..rng.range(1, 24) {
                            raise(&shared, &events, RX)?;
                        }
                        thread::sleep(Duration::from_millis(1));
                    }
                    TX => {
                        raise(&shared, &events, TX)?;
                        thread::sleep(Duration::from_micros(400));
                    }
                    // The link flaps now and then.
                    _ => {
                        let pause = Duration::from_millis(rng.range(250, 750));
                        let until = Instant::now() + pause;
                        while Instant::now() < until && !stop.load(Ordering::Relaxed) {
                            thread::sleep(Duration::from_millis(10));
                        }
                        if !stop.load(Ordering::Relaxed) {
                            raise(&shared, &events, LINK)?;
                        }
                    }
                }
            }
            Ok(())
        })?);
    }
    Ok(threads)
}
