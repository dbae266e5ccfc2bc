//! What lives behind a run queue's lock, and the choice of the next item.

use super::colors::FlushColors;
use crate::sync::{Arc, AtomicU64};
use crate::work::WorkInner;
use std::collections::VecDeque;
use std::thread::JoinHandle;
use std::time::Instant;

/// Counters of a queue, all monotonic.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) scheduled: AtomicU64,
    pub(crate) reruns: AtomicU64,
    pub(crate) runs: AtomicU64,
    pub(crate) panics: AtomicU64,
    pub(crate) threads_started: AtomicU64,
    pub(crate) threads_exited: AtomicU64,
    pub(crate) spawn_failures: AtomicU64,
}

/// One consumer thread, as the runqueue view shows it.
pub(crate) struct Slot {
    pub(crate) thread: std::sync::Arc<str>,
    /// The item it runs and since when.
    pub(crate) current: Option<(Arc<WorkInner>, Instant)>,
}

/// Everything behind the queue's lock.
pub(crate) struct QueueState {
    /// Runnable items (`PENDING`, not `RUNNING`, not `ARMED`) in queueing order.
    pub(crate) list: VecDeque<Arc<WorkInner>>,
    /// Runnable very slow items (elastic queues only; elsewhere they use `list`).
    pub(crate) vslow: VecDeque<Arc<WorkInner>>,
    pub(crate) colors: FlushColors,
    /// Runs in progress, and how many of them are very slow.
    pub(crate) running: usize,
    pub(crate) running_vslow: usize,
    /// Consumers take nothing while set.
    pub(crate) frozen: bool,
    /// `drain` calls in progress: only the queue's own items may queue.
    pub(crate) draining: usize,
    /// Destroy has begun: only the queue's own items may queue.
    pub(crate) closed: bool,
    /// Consumers exit once nothing is runnable.
    pub(crate) stopping: bool,
    /// Consumers waiting on `work_cv`, and wake-ups sent to them not yet taken.
    pub(crate) idle_consumers: usize,
    pub(crate) notified: usize,
    /// Callers waiting on `done_cv`.
    pub(crate) waiters: usize,
    /// Items sleeping in `sleep_till_thread_needed`.
    pub(crate) needed_sleepers: usize,
    /// Consumer threads alive (or being started), and the sizing tunables.
    pub(crate) threads: usize,
    pub(crate) min_threads: usize,
    pub(crate) max_threads: usize,
    pub(crate) vslow_percent: usize,
    /// A thread start is owed (requested under the lock, done outside it) or in flight.
    pub(crate) spawn_owed: bool,
    pub(crate) starting: bool,
    /// No thread start is tried before this instant (after a failure).
    pub(crate) backoff_until: Option<Instant>,
    /// Consumer threads by slot number (their names end in it).
    pub(crate) slots: Vec<Option<Slot>>,
    /// Threads to join at shutdown (culled ones are reaped as new ones start).
    pub(crate) joins: Vec<JoinHandle<()>>,
    /// Items bound to the queue per owner (0: no owner).
    pub(crate) owners: std::collections::HashMap<u32, usize>,
}

impl QueueState {
    pub(crate) fn new(threads: usize) -> QueueState {
        QueueState {
            list: VecDeque::new(),
            vslow: VecDeque::new(),
            colors: FlushColors::new(),
            running: 0,
            running_vslow: 0,
            frozen: false,
            draining: 0,
            closed: false,
            stopping: false,
            idle_consumers: 0,
            notified: 0,
            waiters: 0,
            needed_sleepers: 0,
            threads,
            min_threads: threads,
            max_threads: threads.max(1),
            vslow_percent: 50,
            spawn_owed: false,
            starting: false,
            backoff_until: None,
            slots: Vec::new(),
            joins: Vec::new(),
            owners: std::collections::HashMap::new(),
        }
    }

    /// How many very slow items may run at once: `threads * percent / 100`, at
    /// least one, and (with two or more threads allowed) never every thread.
    pub(crate) fn vslow_max(&self) -> usize {
        let share = (self.threads * self.vslow_percent / 100).max(1);
        share.min(self.max_threads.saturating_sub(1).max(1))
    }

    /// Whether a consumer could take an item now.
    pub(crate) fn has_runnable(&self) -> bool {
        !self.frozen
            && (!self.list.is_empty()
                || (!self.vslow.is_empty() && self.running_vslow < self.vslow_max()))
    }

    /// Whether nothing is waiting on the lists.
    pub(crate) fn lists_empty(&self) -> bool {
        self.list.is_empty() && self.vslow.is_empty()
    }

    /// Takes the next item to run: a very slow one while under the cap, else the
    /// oldest ordinary one. Returns it and whether it is very slow.
    pub(crate) fn pick(&mut self) -> Option<(Arc<WorkInner>, bool)> {
        if self.frozen {
            return None;
        }
        if !self.vslow.is_empty() && self.running_vslow < self.vslow_max() {
            return self.vslow.pop_front().map(|w| (w, true));
        }
        self.list.pop_front().map(|w| (w, false))
    }

    /// Removes `work` from whichever list holds it.
    pub(crate) fn unlist(&mut self, work: &Arc<WorkInner>) -> Option<Arc<WorkInner>> {
        for list in [&mut self.list, &mut self.vslow] {
            if let Some(at) = list.iter().position(|w| Arc::ptr_eq(w, work)) {
                return list.remove(at);
            }
        }
        None
    }

    /// Counts an item bound to the queue for `owner`.
    pub(crate) fn own(&mut self, owner: u32) {
        *self.owners.entry(owner).or_insert(0) += 1;
    }

    /// Uncounts an item of `owner` that went back to idle.
    pub(crate) fn disown(&mut self, owner: u32) {
        if let Some(n) = self.owners.get_mut(&owner) {
            *n = n.saturating_sub(1);
            if *n == 0 && owner != 0 {
                self.owners.remove(&owner);
            }
        }
    }

    /// Items bound to the queue for `owner`.
    pub(crate) fn owned(&self, owner: u32) -> usize {
        self.owners.get(&owner).copied().unwrap_or(0)
    }
}
