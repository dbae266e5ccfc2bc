//! The inbox: where a queue call puts an idle item without taking the queue's lock.
//!
//! Under a steady stream of new items the queue's lock is what the producer and
//! the consumers fight over. The inbox takes the producer off it: a queue call on
//! an idle item, while nothing needs the queue's bookkeeping (no consumer asleep,
//! no thread to start, no drain or shutdown in progress, no owner or bound on
//! waiting items involved), marks the item pending and puts it on the inbox's
//! shelf, under the item's binding lock and the shelf's own short lock.
//! Whoever takes the queue's lock next moves the shelf onto the run lists in one
//! batch (`QueueGuard::lock`), giving the items their flush colours there.
//!
//! The rules that keep this safe (ARCHITECTURE.md, invariant I22):
//! - The shelf is *open* only while the queue's state says a queue call needs
//!   nothing but a list push: `RunQueue::inbox_may_open` (on a fed queue: while
//!   a pump is queued on the pool for every run it has room to start). The lock guard
//!   re-decides it each time the queue's lock is released or waited on, and
//!   closing the shelf moves what is on it onto the lists at once. So a consumer
//!   that goes to sleep closes the shelf first (and does not sleep if that moved
//!   items), and a queue call that finds it closed takes the locked path, which
//!   wakes a consumer or starts a thread.
//! - Every lock of the queue first empties the shelf (a relaxed hint word,
//!   written under the shelf lock, says whether there is anything): code under
//!   the queue's lock sees every item whose queue call has returned on its lists.
//!   The consumer loop's own locks are the exception (`lock_consumer`): it
//!   empties the shelf when its lists run dry, in larger batches, and a run's
//!   end that puts an item back empties it first (queueing order).
//! - A queue call holds the item's binding lock while it marks the item pending
//!   and shelves it, and a cancel takes the binding lock after the queue's lock
//!   and empties the shelf again: a pending item is always on a list when a
//!   cancel looks for it.
//! - Lock order: queue lock, then binding lock, then shelf lock.

use super::{QueueState, RunQueue, Waiting};
use crate::engine::item::handle::Queued;
use crate::engine::item::{Class, WorkInner};
use crate::support::sync::{lock, Arc, AtomicU64, Mutex, Ordering};
use std::time::Instant;

/// The largest shelf (in items) whose room is kept for the next batch.
const SPARE_KEPT: usize = 1024;

/// Items queued without the queue's lock, not yet on a run list.
pub(crate) struct Inbox {
    shelf: Mutex<Shelf>,
    /// Written only under the shelf lock (plain stores, no read-modify-write),
    /// read without it as a hint:
    ///
    /// | bits  | meaning                                                        |
    /// |-------|----------------------------------------------------------------|
    /// | 0     | `HINT_ITEMS`: items are on the shelf (a queue lock with nothing shelved skips the shelf's lock) |
    /// | 1     | `HINT_OPEN`: the shelf is open (a queue call on a queue whose consumers sleep skips the shelf's lock) |
    /// | 2     | `HINT_ADMIT`: the queue takes queue calls from every thread (not stopping, closed or draining, not fed by a pool): a running item may be queued again without the lock (`RunQueue::admits_everyone`) |
    /// | 3..64 | items shelved so far, wrapping (a watching consumer sees new work by it, `RunQueue::activity`) |
    hint: AtomicU64,
}

/// `Inbox::hint` bits.
const HINT_ITEMS: u64 = 1;
const HINT_OPEN: u64 = 2;
const HINT_ADMIT: u64 = 4;
/// The shelved-items count's unit in `Inbox::hint`.
const HINT_ONE: u64 = 8;
/// The count's bits in `Inbox::hint`.
const HINT_COUNT: u64 = !(HINT_ONE - 1);

struct Shelf {
    items: Vec<Arc<WorkInner>>,
    /// Whether a queue call may shelve an item (see the module docs).
    open: bool,
    /// What `HINT_ADMIT` says (see `RunQueue::admits_everyone`).
    admit: bool,
}

impl Inbox {
    pub(crate) fn new() -> Inbox {
        Inbox {
            shelf: Mutex::new(Shelf {
                items: Vec::new(),
                open: false,
                admit: false,
            }),
            hint: AtomicU64::new(0),
        }
    }
}

impl Inbox {
    /// Rewrites the hint from `shelf` (whose lock the caller holds: the hint's only
    /// writer), counting `added` more items shelved.
    fn publish(&self, shelf: &Shelf, added: u64) {
        let count = (self.hint.load(Ordering::Relaxed) & HINT_COUNT)
            .wrapping_add(added.wrapping_mul(HINT_ONE));
        let open = if shelf.open { HINT_OPEN } else { 0 };
        let admit = if shelf.admit { HINT_ADMIT } else { 0 };
        let items = if shelf.items.is_empty() {
            0
        } else {
            HINT_ITEMS
        };
        self.hint
            .store(count | open | admit | items, Ordering::Relaxed);
    }
}

impl RunQueue {
    /// Whether a queue call on an idle item may skip the queue's lock: nothing but
    /// a list push would be needed under it.
    #[inline]
    pub(crate) fn inbox_may_open(&self, g: &QueueState) -> bool {
        if g.life.stopping() || g.life.closed() || g.life.draining() != 0 || g.sleepers.has_needed()
        {
            return false;
        }
        if self.feeder().is_some() {
            // A fed queue has no threads of its own: open only while a pump is
            // queued on the pool and not started for every run the queue has
            // room to start, and at least one (a count that may be low, never
            // high). Each of them takes the lock when it starts, and so does
            // every pump running an item when its run ends: the shelf's items
            // are found; and no queue call can owe a kick (`wants_pump`). A
            // pump's start, or a kick that queued no pump and gives its
            // reservation back, changes the count under the lock, which then
            // closes the shelf if the rule no longer holds (a failed kick's
            // caller runs what the lists hold: the rescuer, or its own thread).
            return g.sizing.pumps_kicked() >= g.runs.room().max(1);
        }
        g.sleepers.none_asleep()
            // A thread that is only being started does not count: if its start
            // fails, the shelf closes with no consumer to take what it holds.
            && g.threads.live() > 0
            && (self.elastic().is_none() || g.threads.count() >= g.sizing.max())
    }

    /// The queue call of an idle item `work` through the inbox. `None`: the shelf is closed or the item is not idle; the caller
    /// takes the locked path.
    pub(crate) fn shelve(this: &Arc<Self>, work: &Arc<WorkInner>) -> Option<Queued> {
        if this.inbox.hint.load(Ordering::Relaxed) & HINT_OPEN == 0 {
            return None;
        }
        // With latency histograms, a wait counts from the queue call: the clock
        // is read before the locks.
        let queued_at = this.latency.is_some().then(|| super::stamp(Instant::now()));
        let mut binding = lock(&work.binding);
        {
            let mut shelf = lock(&this.inbox.shelf);
            if !shelf.open {
                return None;
            }
            if this.elastic().is_some() && work.class != Class::Normal {
                // The very slow and high-priority lists keep their order under
                // the lock.
                return None;
            }
            if !work.state.claim_idle(this.id) {
                // Pending, running, armed, cancelling or disabled: the locked path
                // decides.
                return None;
            }
            work.set_owner(None);
            if let Some(at) = queued_at {
                this.mark_queued(work, at);
            }
            shelf.items.push(Arc::clone(work));
            // After the push, and a plain store (only the shelf lock's holder
            // writes the hint): a consumer watching the count then finds the item.
            // The `scheduled` counter counts the item when it leaves the shelf.
            this.inbox.publish(&shelf, 1);
        }
        WorkInner::bind(&mut binding, this);
        drop(binding);
        Some(Queued::Scheduled)
    }

    /// Moves the shelf onto the run lists (queue lock held). Returns whether it
    /// moved anything.
    #[inline]
    pub(crate) fn unshelve(&self, g: &mut QueueState) -> bool {
        if self.inbox.hint.load(Ordering::Relaxed) & HINT_ITEMS == 0 {
            return false;
        }
        self.unshelve_batch(g)
    }

    /// Moves a non-empty shelf onto the list (see `unshelve`).
    fn unshelve_batch(&self, g: &mut QueueState) -> bool {
        let mut batch = g.shelf.take_spare();
        {
            let mut shelf = lock(&self.inbox.shelf);
            std::mem::swap(&mut shelf.items, &mut batch);
            self.inbox.publish(&shelf, 0);
        }
        g.count_scheduled(batch.len() as u64);
        if batch.is_empty() {
            g.shelf.keep_spare(batch);
            return false;
        }
        // One clock read and one flush colour per batch, and no item touched: an
        // item's wait in the runqueue view and the stall checks counts from when
        // it reached the list (the latency histograms' from its queue call,
        // `shelve`). Only ordinary items are shelved on an elastic queue
        // (`shelve`), so the batch belongs on `list`.
        let since = super::stamp(Instant::now());
        let color = g.colors.add_many(batch.len() as u64);
        g.lists
            .extend_ordinary(batch.drain(..).map(|work| Waiting::new(work, color, since)));
        // Keep the room of an ordinary batch for the next one; a burst's room goes
        // back (its items are on the list now, which has room for them).
        if batch.capacity() <= SPARE_KEPT {
            g.shelf.keep_spare(batch);
        }
        true
    }

    /// A number that changes whenever an item is put on a list or on the shelf
    /// (what a consumer watches before it sleeps, `spin_until_changed`).
    #[inline]
    pub(crate) fn activity(&self) -> u64 {
        let shelved = self.inbox.hint.load(Ordering::Relaxed) / HINT_ONE;
        self.pushes.load(Ordering::Relaxed).wrapping_add(shelved)
    }

    /// Gives back the room of empty lists and of the shelf (queue lock held): a
    /// stopped queue may be kept alive by idle items that were bound to it.
    pub(crate) fn release_memory(&self, g: &mut QueueState) {
        self.unshelve(g);
        let mut shelf = lock(&self.inbox.shelf);
        if shelf.items.is_empty() {
            shelf.items = Vec::new();
        }
        drop(shelf);
        g.shelf.release();
        g.lists.shrink();
    }

    /// Opens or closes the shelf as the queue's state now allows (queue lock held);
    /// closing moves what is on it onto the lists. Returns whether it moved
    /// anything. Also publishes whether the queue admits every thread's calls.
    #[inline]
    pub(crate) fn sync_inbox(&self, g: &mut QueueState) -> bool {
        let open = self.inbox_may_open(g);
        let admit = self.feeder().is_none()
            && !g.life.stopping()
            && !g.life.closed()
            && g.life.draining() == 0;
        if !g.shelf.set(open, admit) {
            return false;
        }
        self.flip_shelf(g, open, admit)
    }

    /// Opens or closes the shelf and publishes `admit` (see `sync_inbox`).
    fn flip_shelf(&self, g: &mut QueueState, open: bool, admit: bool) -> bool {
        {
            let mut shelf = lock(&self.inbox.shelf);
            shelf.open = open;
            shelf.admit = admit;
            self.inbox.publish(&shelf, 0);
        }
        !open && self.unshelve(g)
    }

    /// Whether the queue took queue calls from every thread when its lock was
    /// last released: not stopping, closed or draining, and not fed by a pool
    /// (whose admission needs the pool's lock). Read without the lock by the
    /// re-queue of a running item (`enqueue_slow`): a call that races a drain or
    /// a destroy may still add its run, which then runs before the drain or
    /// destroy completes, as if it had come first.
    #[inline]
    pub(crate) fn admits_everyone(&self) -> bool {
        self.inbox.hint.load(Ordering::Relaxed) & HINT_ADMIT != 0
    }
}

#[cfg(all(test, not(any(loom, shuttle))))]
mod tests {
    use super::{RunQueue, HINT_ITEMS};
    use crate::engine::ManualClock;
    use crate::front::work::{Queued, Work};
    use crate::support::sync::Ordering;

    /// An item on the shelf counts as scheduled (once, also after it moved to the
    /// list and ran), and a consumer watching the queue sees it arrive.
    #[test]
    fn a_shelved_item_is_counted_once_and_seen_by_a_watching_consumer() {
        let q = RunQueue::for_test("shelf", 1, ManualClock::new().timer);
        // A lock released with the one consumer counted and awake opens the shelf.
        drop(q.lock());
        let before = q.activity();
        let work = Work::new(|_| {});
        assert_eq!(
            RunQueue::enqueue(&q, &work.inner).ok(),
            Some(Queued::Scheduled)
        );
        assert_eq!(
            q.inbox.hint.load(Ordering::Relaxed) & HINT_ITEMS,
            HINT_ITEMS,
            "the call did not go through the inbox"
        );
        assert_ne!(q.activity(), before, "a watching consumer would miss it");
        // (`stats` locks the queue, which empties the shelf: look at the counts.)
        assert_eq!(crate::support::sync::lock(&q.state).counts().scheduled, 0);
        assert_eq!(q.stats().scheduled, 1);
        // The next lock moves it to the list: still counted once.
        drop(q.lock());
        assert_eq!(q.inbox.hint.load(Ordering::Relaxed) & HINT_ITEMS, 0);
        assert_eq!(q.stats().scheduled, 1);
        assert!(RunQueue::run_one(&q));
        assert_eq!((q.stats().scheduled, q.stats().runs), (1, 1));
        q.stop_for_test();
    }
}
