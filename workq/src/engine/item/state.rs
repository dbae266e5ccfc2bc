//! The work item's state word.
//!
//! Every work item carries one `AtomicU64`. It is only ever changed by
//! read-modify-write operations (never a plain store), so every change joins the
//! release sequence of the ones before it: a run that clears `PENDING` with an
//! acquire RMW sees everything written before any queue call that found the item
//! pending.
//!
//! | bits   | name        | meaning                                                        | who may change them |
//! |--------|-------------|----------------------------------------------------------------|---------------------|
//! | 0      | `PENDING`   | a run is scheduled and has not started                          | set: a queue call (under the bound queue's lock; for an idle item through the inbox, under the item's binding lock and the inbox's shelf lock instead); cleared: the runner when the run starts, or a cancel (both under the queue's lock) |
//! | 1      | `RUNNING`   | a run is in progress                                            | the runner, under the bound queue's lock, at start and end of a run |
//! | 2      | `ARMED`     | the pending run waits on the timer, not on the list (set only with `PENDING`) | set by a delayed queue call or modify; cleared when the timer fires, by flush (fires it now), modify or cancel; all under the bound queue's lock |
//! | 3      | `UNCOUNTED` | the pending run (set only with `PENDING`, on a `RUNNING` item) was added by a queue call that took no lock; its flush colour and rerun count are booked when the run in progress ends | set: a queue call, by a compare-exchange from `RUNNING` on its own queue (`enqueue_slow`); cleared: the run's end, or a cancel (both under the queue's lock) |
//! | 4..8   | —           | reserved                                                        | — |
//! | 8..20  | `CANCELING` | number of `cancel_sync` calls in progress; queueing fails while non-zero | `cancel_sync`, lock-free, +1 on entry and -1 on exit |
//! | 20..32 | `DISABLED`  | disable depth: queueing fails while non-zero (disables nest) | `disable` +1, `enable` -1, lock-free |
//! | 32..64 | `QUEUE`     | id of the queue the item is bound to; 0 when idle               | the queue call that moves the item out of idle, and the step that returns it to idle (always under the item's binding lock; also under the queue's lock except through the inbox) |
//!
//! Transitions (all under the bound queue's lock except the already-pending fast
//! path, the inbox's idle-to-pending step, the lock-free re-queue of a running
//! item and `CANCELING`):
//!
//! | from                 | event                        | to                    | queue call reports |
//! |----------------------|------------------------------|-----------------------|--------------------|
//! | idle                 | queue on Q                   | `PENDING`, Q          | `Scheduled`        |
//! | `PENDING`, Q         | queue on Q (one RMW, no lock) | unchanged             | `AlreadyPending`   |
//! | `PENDING`/`RUNNING`, Q | queue on R != Q            | unchanged             | error `Busy`       |
//! | `PENDING`, Q         | runner starts the run        | `RUNNING`, Q          | —                  |
//! | `RUNNING`, Q         | queue on Q                   | `RUNNING`+`PENDING`, Q (+`UNCOUNTED` when no lock was taken) | `Rerun` |
//! | `RUNNING`, Q         | run ends                     | idle                  | —                  |
//! | `RUNNING`+`PENDING`, Q | run ends                   | `PENDING`, Q (back on the list) | —        |
//! | idle or `RUNNING`, Q | queue with a delay on Q      | +`PENDING`+`ARMED`, Q | `Scheduled` / `Rerun` |
//! | `PENDING`+`ARMED`, Q | timer fires                  | `PENDING`, Q (on the list unless running) | — |
//! | `PENDING`, Q         | cancel                       | idle                  | —                  |
//! | `RUNNING`+`PENDING`, Q | cancel                     | `RUNNING`, Q          | —                  |
//! | any, `CANCELING` > 0 | queue                        | unchanged             | error `Canceling`  |
//! | any, `DISABLED` > 0  | queue                        | unchanged             | error `Disabled`   |

/// A run is scheduled and has not started.
pub(crate) const PENDING: u64 = 1 << 0;
/// A run is in progress.
pub(crate) const RUNNING: u64 = 1 << 1;
/// The pending run waits for a timer (always together with `PENDING`).
pub(crate) const ARMED: u64 = 1 << 2;
/// The pending run of a running item was added without the queue's lock: its
/// flush colour and rerun count are booked when the run in progress ends.
pub(crate) const UNCOUNTED: u64 = 1 << 3;
/// One `cancel_sync` in progress.
pub(crate) const CANCEL_ONE: u64 = 1 << 8;
/// All bits of the `cancel_sync` counter.
pub(crate) const CANCEL_MASK: u64 = 0xFFF << 8;
/// One level of `disable`.
pub(crate) const DISABLE_ONE: u64 = 1 << 20;
/// All bits of the disable depth.
pub(crate) const DISABLE_MASK: u64 = 0xFFF << 20;
/// Where the bound queue's id starts.
pub(crate) const QUEUE_SHIFT: u32 = 32;
/// All bits of the bound queue's id.
pub(crate) const QUEUE_MASK: u64 = 0xFFFF_FFFF << QUEUE_SHIFT;

/// The id of the queue a state word is bound to (0: none).
pub(crate) fn queue_of(state: u64) -> u32 {
    // The shift leaves exactly 32 significant bits.
    (state >> QUEUE_SHIFT) as u32
}

/// `state` bound to queue `id`, keeping every other bit.
pub(crate) fn with_queue(state: u64, id: u32) -> u64 {
    (state & !QUEUE_MASK) | (u64::from(id) << QUEUE_SHIFT)
}

/// Whether the item is neither pending nor running.
pub(crate) fn is_idle(state: u64) -> bool {
    state & (PENDING | RUNNING) == 0
}

#[cfg(all(test, not(any(loom, shuttle))))]
mod tests {
    use super::*;

    #[test]
    fn fields_do_not_overlap() {
        let fields = [
            PENDING,
            RUNNING,
            ARMED,
            CANCEL_MASK,
            DISABLE_MASK,
            QUEUE_MASK,
        ];
        for (i, a) in fields.iter().enumerate() {
            for b in &fields[i + 1..] {
                assert_eq!(a & b, 0, "{a:#x} overlaps {b:#x}");
            }
        }
        let s = with_queue(PENDING | CANCEL_ONE, u32::MAX);
        assert_eq!(queue_of(s), u32::MAX);
        assert_eq!(s & !QUEUE_MASK, PENDING | CANCEL_ONE);
        assert!(!is_idle(s));
        assert!(is_idle(with_queue(CANCEL_ONE, 7)));
    }
}
