//! What the current thread is running, so that calls which would wait for
//! themselves can be refused with [`Error::WouldDeadlock`](crate::Error::WouldDeadlock).

use crate::support::sync::thread_local;
use std::cell::Cell;

#[cfg(not(any(loom, shuttle)))]
thread_local! {
    /// (address of the running item, id of its queue, id of the queue of the run
    /// it is nested in); zeros outside any run. Runs nest once: a workqueue's
    /// items run inside a pump item of its pool.
    static CURRENT: Cell<(usize, u32, u32)> = const { Cell::new((0, 0, 0)) };
    /// Id of the queue this thread is a consumer of (0: none).
    static CONSUMER: Cell<u32> = const { Cell::new(0) };
    /// Already-pending calls not yet added to their queue's counter: the queue id
    /// in the high half, the count in the low half (one load and one store).
    static MERGES: Cell<u64> = const { Cell::new(0) };
}

// loom's and shuttle's mocks of `thread_local!` take no `const` initialiser.
#[cfg(any(loom, shuttle))]
thread_local! {
    static CURRENT: Cell<(usize, u32, u32)> = Cell::new((0, 0, 0));
    static CONSUMER: Cell<u32> = Cell::new(0);
    static MERGES: Cell<u64> = Cell::new(0);
}

/// How many already-pending queue calls the thread counts before it adds them to
/// the queue's shared counter: the fast path stays one shared atomic operation.
const MERGE_BATCH: u64 = 64;

/// Counts an already-pending queue call on `queue`, adding to `shared` once per
/// `MERGE_BATCH` calls (a batch of another queue is dropped when the thread moves
/// on: the count is exact to within 63 per thread and queue switch).
#[inline]
pub(crate) fn count_merge(queue: u32, shared: &crate::support::sync::AtomicU64) {
    MERGES.with(|m| {
        let tag = u64::from(queue) << 32;
        let v = m.get();
        let v = if v & !0xFFFF_FFFF == tag {
            v + 1
        } else {
            tag | 1
        };
        if v & 0xFFFF_FFFF == MERGE_BATCH {
            shared.fetch_add(MERGE_BATCH, crate::support::sync::Ordering::Relaxed);
            m.set(tag);
        } else {
            m.set(v);
        }
    });
}

/// Marks the current thread as a consumer of `queue` for the rest of its life.
pub(crate) fn become_consumer(queue: u32) {
    CONSUMER.with(|c| c.set(queue));
}

/// Whether the current thread is a consumer of `queue` (it must not wait for the
/// queue's consumers to finish).
pub(crate) fn consuming(queue: u32) -> bool {
    queue != 0 && CONSUMER.with(|c| c.get() == queue)
}

/// Marks the current thread as running `item` on `queue` until dropped.
pub(crate) struct RunMark {
    previous: (usize, u32, u32),
}

impl RunMark {
    pub(crate) fn enter(item: usize, queue: u32) -> RunMark {
        let previous = CURRENT.with(|c| {
            let outer = c.get();
            c.replace((item, queue, if outer.1 != 0 { outer.1 } else { outer.2 }))
        });
        RunMark { previous }
    }
}

impl Drop for RunMark {
    fn drop(&mut self) {
        let previous = self.previous;
        CURRENT.with(|c| c.set(previous));
    }
}

/// Whether the current thread is inside a run of the item at `item`.
pub(crate) fn running_item(item: usize) -> bool {
    item != 0 && CURRENT.with(|c| c.get().0 == item)
}

/// Whether the current thread is inside a run of an item of queue `queue`.
pub(crate) fn running_on(queue: u32) -> bool {
    queue != 0
        && CURRENT.with(|c| {
            let (_, inner, outer) = c.get();
            inner == queue || outer == queue
        })
}
