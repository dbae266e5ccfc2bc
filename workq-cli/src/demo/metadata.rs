//! The ordered workqueue `metadata-writes` on the pool: every fill of the cache
//! writes metadata (inode table, bitmap, index) and now and then a journal commit,
//! one at a time in queueing order. It is high priority (its pumps are taken
//! first by the pool), freezable (frozen with the device during the "suspend") and
//! watched by the stall watchdog; one journal commit stalls on purpose.

use super::shared::{bump, lock, DemoError, ReportKind, Shared, SharedRng};
use crate::view::text::short;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;
use workq::{Pool, Queued, Stall, Work, WorkQueue};

/// The watchdog reports an item running (or items waiting with nothing started)
/// longer than this.
pub const STALL_THRESHOLD: Duration = Duration::from_millis(200);

/// The name of the journal commit item (the one that stalls).
pub const COMMIT: &str = "journal-commit";

/// The metadata queue and its items; cheap to clone (fills hold a clone).
#[derive(Clone)]
pub struct Metadata {
    /// The ordered workqueue.
    pub wq: WorkQueue,
    items: Arc<Items>,
}

/// The metadata items, reused: a write already waiting absorbs the next request.
struct Items {
    inode: Work,
    bitmap: Work,
    index: Work,
    commit: Work,
    /// Fills that asked for metadata writes.
    fills: AtomicU64,
    /// The next journal commit stalls for this long (zero: it does not).
    stall_next: Arc<Mutex<Duration>>,
}

/// What the stall watchdog said about the slow journal commit.
#[derive(Default)]
pub struct StallSeen {
    /// Whether a "running too long" report named the journal commit.
    pub commit_reported: AtomicBool,
}

/// Marks one metadata write running on the ordered queue until dropped; records
/// the most that ever ran at once.
struct OneAtATime<'a>(&'a Shared);

impl<'a> OneAtATime<'a> {
    fn enter(shared: &'a Shared) -> OneAtATime<'a> {
        let c = &shared.counters;
        let now = c.meta_inside.fetch_add(1, Ordering::SeqCst) + 1;
        c.meta_max.fetch_max(now, Ordering::SeqCst);
        OneAtATime(shared)
    }
}

impl Drop for OneAtATime<'_> {
    fn drop(&mut self) {
        self.0.counters.meta_inside.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A metadata write that takes `lo..hi` ms.
fn write_item(shared: &Arc<Shared>, name: &str, (lo, hi): (u64, u64), seed: u64) -> Work {
    let check = shared.item();
    let rng = SharedRng::new(seed);
    Work::named(name, move |_ctx| {
        let _run = check.enter();
        let _one = OneAtATime::enter(&check.shared);
        thread::sleep(Duration::from_millis(rng.range(lo, hi)));
        bump(&check.counters().meta_writes);
    })
}

/// The journal commit: 15 to 35 ms, or the stall asked for through `stall`.
fn commit_item(shared: &Arc<Shared>, stall: Arc<Mutex<Duration>>) -> Work {
    let check = shared.item();
    let rng = SharedRng::new(14);
    Work::named(COMMIT, move |_ctx| {
        let _run = check.enter();
        let _one = OneAtATime::enter(&check.shared);
        let stall = std::mem::take(&mut *lock(&stall));
        if stall.is_zero() {
            thread::sleep(Duration::from_millis(rng.range(15, 35)));
        } else {
            // The disk takes its time: the watchdog should notice.
            thread::sleep(stall);
            check.shared.report(
                ReportKind::Timeline,
                format!("{COMMIT} done after stalling {} in fsync", short(stall)),
            );
        }
        bump(&check.counters().commits);
        bump(&check.counters().meta_writes);
    })
}

impl Metadata {
    /// Builds the queue on `pool`, with its watchdog and hooks, and its items.
    ///
    /// # Errors
    /// As `WorkQueueBuilder::build`.
    pub fn build(
        shared: &Arc<Shared>,
        pool: &Pool,
        stall_seen: &Arc<StallSeen>,
    ) -> Result<Metadata, DemoError> {
        let (sh, seen, ph) = (shared.clone(), stall_seen.clone(), shared.clone());
        let wq = WorkQueue::builder("metadata-writes")
            .pool(pool)
            .ordered()
            .high_priority(true)
            .freezable(true)
            .count_merged(true)
            .watchdog(Some(STALL_THRESHOLD))
            .on_stall(move |report| {
                bump(&sh.counters.stall_reports);
                if matches!(&report.stall, Stall::Running { work: Some(w), .. } if w == COMMIT) {
                    seen.commit_reported.store(true, Ordering::SeqCst);
                }
                sh.report(ReportKind::Stall, report.to_string());
            })
            .on_panic(move |report| ph.panic_report(report.to_string()))
            .build()?;
        let stall_next = Arc::new(Mutex::new(Duration::ZERO));
        let items = Arc::new(Items {
            inode: write_item(shared, "write-inode-table", (2, 6), 11),
            bitmap: write_item(shared, "write-bitmap", (1, 3), 12),
            index: write_item(shared, "update-index", (3, 8), 13),
            commit: commit_item(shared, stall_next.clone()),
            fills: AtomicU64::new(0),
            stall_next,
        });
        Ok(Metadata { wq, items })
    }

    /// Queues the metadata writes of one successful fill (from the fill's run on a
    /// pool thread): the inode table always, the bitmap every other fill, the index
    /// every fifth, a journal commit every sixteenth.
    pub fn after_fill(&self, shared: &Shared) {
        let n = self.items.fills.fetch_add(1, Ordering::Relaxed);
        let i = &self.items;
        let mut writes = vec![&i.inode];
        if n % 2 == 1 {
            writes.push(&i.bitmap);
        }
        if n % 5 == 4 {
            writes.push(&i.index);
        }
        if n % 16 == 15 {
            writes.push(&i.commit);
        }
        for w in writes {
            if let Err(e) = self.wq.queue(w) {
                shared.error("queueing a metadata write", &e);
            }
        }
    }

    /// Makes the next journal commit stall for `stall` and queues one.
    ///
    /// # Errors
    /// As `WorkQueue::queue`.
    pub fn stall_commit(&self, stall: Duration) -> Result<Queued, workq::Error> {
        *lock(&self.items.stall_next) = stall;
        self.wq.queue(&self.items.commit)
    }

    /// The journal commit item (to flush it).
    pub fn commit(&self) -> &Work {
        &self.items.commit
    }
}
