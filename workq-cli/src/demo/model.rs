//! What the views show at one instant: the snapshots of the three queues, the
//! counters and the latest reports, captured from the shared state. Plain data,
//! so a test can build one.

use super::shared::{CounterValues, Report, Shared};
use std::time::Duration;
use workq::Snapshot;

/// One picture of the run.
#[derive(Clone, Debug, Default)]
pub struct Model {
    /// Time since the start.
    pub elapsed: Duration,
    /// The run's duration (the producers stop then).
    pub duration: Duration,
    /// What the scenario is doing.
    pub phase: String,
    /// Whether the scenario has finished.
    pub finished: bool,
    /// The pool (`demo-pool`), once built.
    pub pool: Option<Snapshot>,
    /// The device's worker (`netdev`), once built.
    pub worker: Option<Snapshot>,
    /// The ordered workqueue (`metadata-writes`), once built.
    pub meta: Option<Snapshot>,
    /// The counters.
    pub counters: CounterValues,
    /// The latest reports, oldest first.
    pub reports: Vec<Report>,
}

impl Model {
    /// Captures the run now, with up to `reports` of the latest reports.
    pub fn capture(shared: &Shared, reports: usize) -> Model {
        let queues = shared.queues();
        Model {
            elapsed: shared.elapsed(),
            duration: shared.duration,
            phase: shared.phase(),
            finished: shared.is_finished(),
            pool: queues.map(|q| q.pool.snapshot()),
            worker: queues.map(|q| q.worker.snapshot()),
            meta: queues.map(|q| q.meta.snapshot()),
            counters: shared.counters.values(),
            reports: shared.recent(reports),
        }
    }

    /// The three snapshots with what each queue is, in display order.
    pub fn queues(&self) -> impl Iterator<Item = (&'static str, &Snapshot)> {
        [
            ("pool", self.pool.as_ref()),
            ("worker", self.worker.as_ref()),
            ("ordered workqueue", self.meta.as_ref()),
        ]
        .into_iter()
        .filter_map(|(kind, s)| s.map(|s| (kind, s)))
    }

    /// The item a workqueue slot named `pump` (`metadata-writes#0`) runs, if the
    /// pool's thread runs that pump.
    pub fn pumped_item(&self, pump: &str) -> Option<&str> {
        self.meta
            .as_ref()?
            .threads
            .iter()
            .find(|t| t.name == pump)?
            .running
            .as_ref()?
            .work
            .as_deref()
    }
}
