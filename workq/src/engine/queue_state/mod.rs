//! What lives behind a run queue's lock, and the choice of the next item.

mod lifecycle;
mod lists;
mod runs;
mod shelf_mirror;
mod sizing;
mod sleepers;
mod threads;

use super::colors::FlushColors;
use super::waiters::Waiters;
use super::OwnerId;
use crate::engine::item::WorkInner;
use crate::support::sync::{Arc, AtomicU64};
pub(crate) use lifecycle::Lifecycle;
pub(crate) use lists::Lists;
pub(crate) use runs::{Limits, Runs};
pub(crate) use shelf_mirror::ShelfMirror;
pub(crate) use sizing::Sizing;
pub(crate) use sleepers::Sleepers;
use std::time::Instant;
pub(crate) use threads::{Reservation, Threads};

/// Counters of a queue that change without its lock, all monotonic (those that
/// change under it are in `QueueState::counts`).
#[derive(Debug, Default)]
pub(crate) struct Counters {
    /// Already-pending queue calls, counted in batches (see `count_merge`).
    pub(crate) merged: AtomicU64,
    pub(crate) threads_started: AtomicU64,
    pub(crate) threads_exited: AtomicU64,
    pub(crate) spawn_failures: AtomicU64,
}

/// Counters of a queue that change only under its lock (no read-modify-write on
/// the queue call's or the run's path), all monotonic.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Counts {
    /// Queue calls that scheduled a run of an idle item (an item queued through
    /// the inbox is counted when it leaves the shelf; every lock but the consumer
    /// loop's empties the shelf first).
    pub(crate) scheduled: u64,
    pub(crate) reruns: u64,
    /// Runs finished, counted when the run's end is booked (`run_and_finish`).
    pub(crate) runs: u64,
    pub(crate) panics: u64,
}

/// A runnable item on a run list, with the flush colour of its pending run and
/// when it was put there. Kept beside the item, not in it, so that moving a batch
/// from the inbox onto a list touches no item; 16 bytes.
pub(crate) struct Waiting {
    pub(crate) work: Arc<WorkInner>,
    /// The colour's low 32 bits: the colours of waiting runs span far less than
    /// 2^32 (`FlushColors::widen` restores the rest).
    color: u32,
    /// When it was put on the list, in units of 2^20 ns (about a millisecond)
    /// since the origin of `stamp`, wrapping (after 52 days; a wait is measured
    /// modulo that).
    since: u32,
}

/// Bits of a `stamp` below a `Waiting::since` unit.
const SINCE_SHIFT: u32 = 20;

impl Waiting {
    /// The entry of `work`, whose pending run has flush colour `color`, put on the
    /// list at `stamp`.
    pub(crate) fn new(work: Arc<WorkInner>, color: u64, stamp: u64) -> Waiting {
        Waiting {
            work,
            // Truncations on purpose: see the fields.
            color: color as u32,
            since: (stamp >> SINCE_SHIFT) as u32,
        }
    }

    /// The flush colour of the pending run.
    pub(crate) fn color(&self, colors: &FlushColors) -> u64 {
        colors.widen(self.color)
    }

    /// How long it has waited at `now`, a `stamp` (to about a millisecond).
    pub(crate) fn waited(&self, now: u64) -> std::time::Duration {
        let now = (now >> SINCE_SHIFT) as u32;
        std::time::Duration::from_nanos(u64::from(now.wrapping_sub(self.since)) << SINCE_SHIFT)
    }
}

/// Everything behind the queue's lock: one part per concern, each with its own
/// methods and private fields.
pub(crate) struct QueueState {
    /// Runnable items in queueing order, by class (`lists.rs`).
    pub(crate) lists: Lists,
    /// Runs in progress and the queue's limits (`runs.rs`).
    pub(crate) runs: Runs,
    /// The counters that change under the lock.
    counts: Counts,
    /// Runs started so far (stall detection: no clock is read per run).
    starts: u64,
    /// No run has started since this instant, as far as an observer has seen
    /// (`quiet_for`), and the value of `starts` it saw then.
    quiet_since: Option<Instant>,
    quiet_starts: u64,
    pub(crate) colors: FlushColors,
    /// Frozen, draining, closed, stopping (`lifecycle.rs`).
    pub(crate) life: Lifecycle,
    /// Idle consumers and their wake-ups (`sleepers.rs`).
    pub(crate) sleepers: Sleepers,
    /// Consumer threads: count, starts in flight, slots (`threads.rs`).
    pub(crate) threads: Threads,
    /// Sizing tunables, back-off, grow entry, settles owed (`sizing.rs`).
    pub(crate) sizing: Sizing,
    /// Who waits on the queue, and for what (`waiters.rs`).
    pub(crate) waits: Waiters,
    /// Items bound to the queue per owner.
    owners: std::collections::HashMap<OwnerId, usize>,
    /// The inbox's shelf as last published (`shelf_mirror.rs`).
    pub(crate) shelf: ShelfMirror,
}

impl QueueState {
    /// Counts a run that starts (the stall clock's tick).
    #[inline]
    pub(crate) fn count_start(&mut self) {
        self.starts += 1;
    }

    /// Runs started so far.
    pub(crate) fn starts(&self) -> u64 {
        self.starts
    }

    /// The counters that change under the lock.
    pub(crate) fn counts(&self) -> Counts {
        self.counts
    }

    /// Counts `n` queue calls that scheduled a run of an idle item.
    #[inline]
    pub(crate) fn count_scheduled(&mut self, n: u64) {
        self.counts.scheduled += n;
    }

    /// Counts a queue call that added a run after the one in progress.
    #[inline]
    pub(crate) fn count_rerun(&mut self) {
        self.counts.reruns += 1;
    }

    /// Counts a finished run, and whether it panicked.
    #[inline]
    pub(crate) fn count_run(&mut self, panicked: bool) {
        self.counts.runs += 1;
        if panicked {
            self.counts.panics += 1;
        }
    }

    /// The state of a queue with `threads` consumers to start, `sizing`, and `limits`.
    pub(crate) fn new(threads: Threads, sizing: Sizing, limits: Limits) -> QueueState {
        QueueState {
            lists: Lists::default(),
            runs: Runs::new(limits),
            counts: Counts::default(),
            starts: 0,
            quiet_since: None,
            quiet_starts: 0,
            colors: FlushColors::new(),
            life: Lifecycle::default(),
            sleepers: Sleepers::default(),
            threads,
            sizing,
            owners: std::collections::HashMap::new(),
            waits: Waiters::default(),
            shelf: ShelfMirror::default(),
        }
    }

    /// How many very slow items may run at once: `threads * percent / 100`, at
    /// least one, and (with two or more threads allowed) never every thread.
    pub(crate) fn vslow_max(&self) -> usize {
        let share = (self.threads.count() * self.sizing.very_slow_percent() / 100).max(1);
        share.min(self.sizing.max().saturating_sub(1).max(1))
    }

    /// Whether a consumer could take an item now.
    pub(crate) fn has_runnable(&self) -> bool {
        !self.life.frozen()
            && self.runs.has_room()
            && (self.lists.has_uncapped()
                || (self.lists.has_very_slow() && self.runs.very_slow() < self.vslow_max()))
    }

    /// Items waiting on the lists.
    pub(crate) fn waiting(&self) -> usize {
        self.lists.len()
    }

    /// How long the oldest waiting item has waited, at `now` (`None`: nothing waits).
    pub(crate) fn oldest_wait(&self, now: Instant) -> Option<std::time::Duration> {
        let now = super::stamp(now);
        self.lists.fronts().map(|w| w.waited(now)).max()
    }

    /// How long no run has started, at `now` (`None`: none ever started), as
    /// far as the observers that call this have seen: a start is noticed at the
    /// next call, so the answer is short by at most the time between two calls.
    pub(crate) fn quiet_for(&mut self, now: Instant) -> Option<std::time::Duration> {
        if self.starts != self.quiet_starts {
            self.quiet_starts = self.starts;
            self.quiet_since = Some(now);
        }
        self.quiet_since.map(|t| now.saturating_duration_since(t))
    }

    /// Counts the time from `now` as not quiet (the queue was frozen until now).
    pub(crate) fn reset_quiet(&mut self, now: Instant) {
        self.quiet_starts = self.starts;
        self.quiet_since = Some(now);
    }

    /// Whether nothing is waiting on the lists.
    pub(crate) fn lists_empty(&self) -> bool {
        self.waiting() == 0
    }

    /// Whether a run may start now: the queue is not frozen and under
    /// `max_running`, and, for a run that counts as very slow, under that cap.
    pub(crate) fn may_start(&self, very_slow: bool) -> bool {
        !self.life.frozen()
            && self.runs.has_room()
            && (!very_slow || self.runs.very_slow() < self.vslow_max())
    }

    /// Takes the next item to run: a high-priority one, else a very slow one while
    /// under the cap, else the oldest ordinary one; nothing while frozen or at
    /// `max_running`. Returns it and whether it counts as very slow.
    pub(crate) fn pick(&mut self) -> Option<(Waiting, bool)> {
        if !self.may_start(false) {
            return None;
        }
        if let Some(w) = self.lists.pop_high() {
            return Some((w, false));
        }
        if self.lists.has_very_slow() && self.may_start(true) {
            return self.lists.pop_very_slow().map(|w| (w, true));
        }
        self.lists.pop_ordinary().map(|w| (w, false))
    }

    /// Puts a runnable item at the tail of the list for its class (`elastic`: the
    /// queue keeps separate lists for very slow and high-priority items).
    pub(crate) fn push(&mut self, entry: Waiting, elastic: bool) {
        self.lists.push(entry, elastic);
    }

    /// Removes `work` from whichever list holds it.
    pub(crate) fn unlist(&mut self, work: &Arc<WorkInner>) -> Option<Waiting> {
        self.lists.unlist(work)
    }

    /// Counts an item bound to the queue for `owner` (`None`: not counted).
    pub(crate) fn own(&mut self, owner: Option<OwnerId>) {
        if let Some(owner) = owner {
            *self.owners.entry(owner).or_insert(0) += 1;
        }
    }

    /// Uncounts an item of `owner` that went back to idle.
    pub(crate) fn disown(&mut self, owner: Option<OwnerId>) {
        let Some(owner) = owner else { return };
        let count = self.owners.get_mut(&owner);
        debug_assert!(
            count.is_some(),
            "disown of owner {owner:?}, which has no item counted on this queue"
        );
        if let Some(n) = count {
            *n -= 1;
            if *n == 0 {
                self.owners.remove(&owner);
            }
        }
    }

    /// Items bound to the queue for `owner`.
    pub(crate) fn owned(&self, owner: OwnerId) -> usize {
        self.owners.get(&owner).copied().unwrap_or(0)
    }
}
