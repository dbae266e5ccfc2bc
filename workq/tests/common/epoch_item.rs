//! The work item of the stress tests (`tests/stress.rs`, `tests/pool_stress.rs`,
//! `tests/soak.rs`) and the checks they share.
//!
//! Every run of an [`EpochItem`] holds a [`DropCounter`] token (the closure owns
//! it), enters an [`OverlapDetector`] for the whole run, records the item's epoch
//! as it reads it at the start of the run and counts itself, then does whatever the
//! test wants. The test bumps the epoch around its queue calls (each test says
//! when: before every call, or after every `Ok` one) and runs every call that may
//! remove a queued run (cancel, cancel_sync, disable, ...) through
//! [`EpochItem::cancelling`], so that a queue call followed by a flush can check
//! that a run started after the call, unless a cancel may have removed that run.

use super::{flush_work, DropCounter, OverlapDetector};
use std::fmt::Debug;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use workq::{Error, Work, WorkCtx};

/// One item and everything the checks need about it.
pub struct EpochItem {
    /// The item.
    pub work: Work,
    /// Entered by every run, for the whole run: runs of the item must not overlap.
    pub overlap: Arc<OverlapDetector>,
    /// Drops of the item's closure (counted by the token the closure owns).
    pub drops: Arc<AtomicUsize>,
    /// The test's epoch for the item (the "x = i" a run must see); see
    /// [`EpochItem::bump_epoch`].
    pub epoch: Arc<AtomicU64>,
    /// The epoch read at the start of the latest run.
    pub seen: Arc<AtomicU64>,
    /// Runs started.
    pub runs: Arc<AtomicU64>,
    /// Calls that may remove a queued run begun so far; see
    /// [`EpochItem::cancelling`].
    pub cancels_begun: AtomicU64,
    /// Calls that may remove a queued run ended so far; see
    /// [`EpochItem::cancelling`].
    pub cancels_ended: AtomicU64,
}

/// The cancel counts of an item read before a queue call; see
/// [`EpochItem::watch_cancels`].
#[derive(Clone, Copy, Debug)]
pub struct CancelWatch {
    /// Cancels begun when the watch was taken.
    begun: u64,
    /// Whether no cancel was in progress then.
    quiet: bool,
}

impl EpochItem {
    /// An item named `name` (of the very slow class if `very_slow`). Each run, in
    /// this order: enters the overlap detector (until the run ends), stores the
    /// epoch in `seen`, counts itself in `runs`, then calls `body` with its context
    /// and its run number (1 for the first run).
    pub fn new<F>(name: String, very_slow: bool, body: F) -> EpochItem
    where
        F: Fn(&WorkCtx<'_>, u64) + Send + Sync + 'static,
    {
        let overlap = Arc::new(OverlapDetector::default());
        let (token, drops) = DropCounter::new();
        let epoch = Arc::new(AtomicU64::new(0));
        let seen = Arc::new(AtomicU64::new(0));
        let runs = Arc::new(AtomicU64::new(0));
        let f = {
            let (overlap, epoch, seen, runs) =
                (overlap.clone(), epoch.clone(), seen.clone(), runs.clone());
            move |ctx: &WorkCtx<'_>| {
                let _held = &token;
                let _inside = overlap.enter();
                seen.store(epoch.load(Ordering::SeqCst), Ordering::SeqCst);
                let n = runs.fetch_add(1, Ordering::SeqCst) + 1;
                body(ctx, n);
            }
        };
        let work = if very_slow {
            Work::very_slow(name, f)
        } else {
            Work::named(name, f)
        };
        EpochItem {
            work,
            overlap,
            drops,
            epoch,
            seen,
            runs,
            cancels_begun: AtomicU64::new(0),
            cancels_ended: AtomicU64::new(0),
        }
    }

    /// Bumps the epoch; returns the new one.
    pub fn bump_epoch(&self) -> u64 {
        self.epoch.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// Calls `f` with the item, counted as a cancel: `cancels_begun` goes up
    /// before, `cancels_ended` after. For every call that may remove a queued run.
    pub fn cancelling<R>(&self, f: impl FnOnce(&Work) -> R) -> R {
        self.cancels_begun.fetch_add(1, Ordering::SeqCst);
        let r = f(&self.work);
        self.cancels_ended.fetch_add(1, Ordering::SeqCst);
        r
    }

    /// Reads the cancel counts before a queue call: the ended ones first, then the
    /// begun ones, so that equal counts mean that no cancel was in progress when
    /// the begun ones were read.
    pub fn watch_cancels(&self) -> CancelWatch {
        let ended = self.cancels_ended.load(Ordering::SeqCst);
        let begun = self.cancels_begun.load(Ordering::SeqCst);
        CancelWatch {
            begun,
            quiet: begun == ended,
        }
    }

    /// After the flush that followed a queue call (`watch` taken before the
    /// call): the epoch the latest run saw, or `None` if a cancel was in progress
    /// when `watch` was taken or has begun since (it may have removed the run, so
    /// nothing can be checked).
    pub fn seen_if_undisturbed(&self, watch: &CancelWatch) -> Option<u64> {
        let undisturbed = watch.quiet && self.cancels_begun.load(Ordering::SeqCst) == watch.begun;
        undisturbed.then(|| self.seen.load(Ordering::SeqCst))
    }

    /// The last operation on item number `i`, alone: it must be idle; `queue`
    /// bumps the epoch and queues the item, and returns the new epoch and the
    /// call's result, which must be `Ok` with a value that `ok` accepts; after a
    /// flush, the latest run must have seen the new epoch.
    pub fn assert_final_queue_seen<T: Debug>(
        &self,
        i: usize,
        queue: impl FnOnce(&EpochItem) -> (u64, Result<T, Error>),
        ok: impl FnOnce(&T) -> bool,
    ) {
        assert!(
            !self.work.is_pending() && !self.work.is_running(),
            "item {i} idle"
        );
        let (v, r) = queue(self);
        assert!(r.as_ref().is_ok_and(ok), "item {i}: {r:?}");
        flush_work(&self.work);
        assert_eq!(
            self.seen.load(Ordering::SeqCst),
            v,
            "item {i}: the run after the last queue call missed it"
        );
    }

    /// The checks on item number `i` once the test is over (the item still alive):
    /// its runs never overlapped, it ran, every run entered the overlap detector,
    /// and its closure was not dropped.
    pub fn assert_sound(&self, i: usize) {
        assert_eq!(self.overlap.violations(), 0, "item {i}: runs overlapped");
        assert!(self.runs.load(Ordering::SeqCst) >= 1, "item {i} ran");
        assert_eq!(
            self.overlap.entries() as u64,
            self.runs.load(Ordering::SeqCst),
            "item {i}"
        );
        assert_eq!(
            self.drops.load(Ordering::SeqCst),
            0,
            "item {i} dropped early"
        );
    }
}

/// Drops the items one by one (once nothing else holds their closures: their
/// workers and pools are gone), then checks that each closure was dropped exactly
/// once.
pub fn assert_dropped_once(items: Vec<EpochItem>) {
    let mut counters = Vec::new();
    for item in items {
        counters.push(item.drops.clone());
        drop(item);
    }
    for (i, d) in counters.iter().enumerate() {
        assert_eq!(d.load(Ordering::SeqCst), 1, "item {i}: closure drops");
    }
}
