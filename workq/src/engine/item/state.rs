//! The work item's state word, owned by [`ItemState`].
//!
//! Every work item carries one `AtomicU64`, private to this file: the rest of the
//! crate reads it as an [`Observed`] snapshot and changes it only through
//! `ItemState`'s named transitions. It is only ever changed by read-modify-write
//! operations (never a plain store), so every change joins the release sequence
//! of the ones before it: a run that clears `PENDING` with an acquire RMW sees
//! everything written before any queue call that found the item pending. Every
//! transition is `AcqRel` on success for that reason; a failed compare-exchange
//! reads `Relaxed` (its value is only a guess for the next attempt).
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
//! Transitions, each one method of [`ItemState`] (all under the bound queue's
//! lock except `coalesce`, `claim_idle`, `add_rerun_unlocked` and the
//! `CANCELING` and `DISABLED` counters). The accept/refuse column is
//! [`Observed::verdict`], the one check shared by the queue call and `modify`.
//!
//! | from                 | event (method)               | to                    | queue call reports |
//! |----------------------|------------------------------|-----------------------|--------------------|
//! | idle, unbound        | queue on Q through the inbox (`claim_idle`) | `PENDING`, Q | `Scheduled` |
//! | idle                 | queue on Q (`add_run`)       | `PENDING`, Q          | `Scheduled`        |
//! | `PENDING`, Q         | queue on Q (`coalesce`: one RMW, no lock) | unchanged | `AlreadyPending` |
//! | `PENDING`/`RUNNING`, Q | queue on R != Q            | unchanged             | error `Busy`       |
//! | `PENDING`, Q         | runner starts the run (`start_run`) | `RUNNING`, Q   | —                  |
//! | `RUNNING`, Q         | queue on Q (`add_run`; `add_rerun_unlocked` with no lock) | `RUNNING`+`PENDING`, Q (+`UNCOUNTED` with no lock) | `Rerun` |
//! | `RUNNING`, Q         | run ends (`end_run`: `Idle`) | idle                  | —                  |
//! | `RUNNING`+`PENDING`, Q | run ends (`end_run`: `Requeue`) | `PENDING`, Q (back on the list) | — |
//! | `RUNNING`+`PENDING`, Q | run ends, next starts in place (`end_run`: `Again`) | `RUNNING`, Q | — |
//! | idle or `RUNNING`, Q | queue with a delay on Q (`add_run`, armed) | +`PENDING`+`ARMED`, Q | `Scheduled` / `Rerun` |
//! | `PENDING`+`ARMED`, Q | timer fires, or a flush fires it (`fire`) | `PENDING`, Q (on the list unless running) | — |
//! | `PENDING`, Q         | cancel (`take_pending`)      | idle                  | —                  |
//! | `RUNNING`+`PENDING`, Q | cancel (`take_pending`)    | `RUNNING`, Q          | —                  |
//! | `PENDING`, Q, on a list | a shutdown discards it (`discard_waiting`) | idle | —               |
//! | any                  | `cancel_enter` / `cancel_exit`; `disable` / `enable` | `CANCELING` / `DISABLED` ±1 | — |
//! | any, `CANCELING` > 0 | queue                        | unchanged             | error `Canceling`  |
//! | any, `DISABLED` > 0  | queue                        | unchanged             | error `Disabled`   |

use crate::support::sync::{AtomicU64, Ordering};
use std::fmt;

/// A run is scheduled and has not started.
const PENDING: u64 = 1 << 0;
/// A run is in progress.
const RUNNING: u64 = 1 << 1;
/// The pending run waits for a timer (always together with `PENDING`).
const ARMED: u64 = 1 << 2;
/// The pending run of a running item was added without the queue's lock: its
/// flush colour and rerun count are booked when the run in progress ends.
const UNCOUNTED: u64 = 1 << 3;
/// One `cancel_sync` in progress.
const CANCEL_ONE: u64 = 1 << 8;
/// All bits of the `cancel_sync` counter (at most 4,095 at once).
const CANCEL_MASK: u64 = 0xFFF << 8;
/// One level of `disable`.
const DISABLE_ONE: u64 = 1 << 20;
/// All bits of the disable depth (at most 4,095).
const DISABLE_MASK: u64 = 0xFFF << 20;
/// Where the bound queue's id starts.
const QUEUE_SHIFT: u32 = 32;
/// All bits of the bound queue's id.
const QUEUE_MASK: u64 = 0xFFFF_FFFF << QUEUE_SHIFT;

/// `state` bound to queue `id`, keeping every other bit.
#[inline]
fn with_queue(state: u64, id: u32) -> u64 {
    (state & !QUEUE_MASK) | (u64::from(id) << QUEUE_SHIFT)
}

/// A snapshot of a state word, with named queries.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Observed(u64);

impl Observed {
    /// A run is scheduled and has not started.
    #[inline]
    pub(crate) fn is_pending(self) -> bool {
        self.0 & PENDING != 0
    }

    /// A run is in progress.
    #[inline]
    pub(crate) fn is_running(self) -> bool {
        self.0 & RUNNING != 0
    }

    /// The pending run waits for the timer.
    #[inline]
    pub(crate) fn is_armed(self) -> bool {
        self.0 & ARMED != 0
    }

    /// The pending run was added with no lock while the item ran; the run in
    /// progress books it when it ends.
    #[inline]
    pub(crate) fn is_uncounted(self) -> bool {
        self.0 & UNCOUNTED != 0
    }

    /// Neither pending nor running.
    #[inline]
    pub(crate) fn is_idle(self) -> bool {
        self.0 & (PENDING | RUNNING) == 0
    }

    /// A `cancel_sync` is in progress: queue calls are refused.
    #[inline]
    pub(crate) fn is_canceling(self) -> bool {
        self.0 & CANCEL_MASK != 0
    }

    /// Disabled: queue calls are refused.
    #[inline]
    pub(crate) fn is_disabled(self) -> bool {
        self.0 & DISABLE_MASK != 0
    }

    /// The id of the queue the item is bound to (0: none).
    #[inline]
    pub(crate) fn queue_id(self) -> u32 {
        // The shift leaves exactly 32 significant bits.
        (self.0 >> QUEUE_SHIFT) as u32
    }

    /// Bound to the queue with id `queue`.
    #[inline]
    pub(crate) fn is_on(self, queue: u32) -> bool {
        self.queue_id() == queue
    }

    /// Pending on `queue` and queueable there: a queue call on `queue` has
    /// nothing to do. The same answer as `verdict(queue) ==
    /// Some(AlreadyPending)`, in one mask test (the queue call's fast path).
    #[inline]
    pub(crate) fn is_pending_on(self, queue: u32) -> bool {
        self.0 & (PENDING | CANCEL_MASK | DISABLE_MASK) == PENDING && self.is_on(queue)
    }

    #[inline]
    /// What a queue call (or `modify`) on the queue with id `queue` must answer
    /// for an item in this state without changing anything; `None` when the
    /// call changes the state (the item is idle, or running on `queue`).
    pub(crate) fn verdict(self, queue: u32) -> Option<Answer> {
        if self.is_disabled() {
            Some(Answer::Disabled)
        } else if self.is_canceling() {
            Some(Answer::Canceling)
        } else if self.is_pending() {
            Some(if self.is_on(queue) {
                Answer::AlreadyPending
            } else {
                Answer::Busy
            })
        } else if self.is_running() && !self.is_on(queue) {
            Some(Answer::Busy)
        } else {
            None
        }
    }
}

impl fmt::Debug for Observed {
    #[inline]
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}", self.0)
    }
}

/// What a queue call answers without changing the state ([`Observed::verdict`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Answer {
    /// Refused: the item is disabled.
    Disabled,
    /// Refused: a `cancel_sync` is in progress.
    Canceling,
    /// Nothing to do: a run is pending on this queue.
    AlreadyPending,
    /// Refused: the item is pending or running on another queue.
    Busy,
}

/// How a run's end leaves the item (`ItemState::end_run`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RunEnd {
    /// Queued meanwhile, and its next run starts here and now: stays `RUNNING`.
    Again,
    /// Queued meanwhile: `PENDING`, back on a list or on the timer.
    Requeue,
    /// Not queued: idle, unbound.
    Idle,
}

/// A counter of the state word (`CANCELING`, `DISABLED`) is at its maximum.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct CounterFull;

/// `enable` of an item that is not disabled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct NotDisabled;

/// The state word of one work item; see the tables above.
pub(crate) struct ItemState {
    word: AtomicU64,
}

impl ItemState {
    #[inline]
    /// An idle, unbound item.
    pub(crate) fn new() -> ItemState {
        ItemState {
            word: AtomicU64::new(0),
        }
    }

    /// The word now, with no ordering: a guess to act on with a transition, or a
    /// value made stable by the lock the caller holds.
    #[inline]
    pub(crate) fn peek(&self) -> Observed {
        Observed(self.word.load(Ordering::Relaxed))
    }

    /// The word now, with acquire ordering: for a caller that then reads what the
    /// change it observes published (a run's counts, a binding).
    #[inline]
    pub(crate) fn read(&self) -> Observed {
        Observed(self.word.load(Ordering::Acquire))
    }

    /// The queue call's first step, no lock: one read-modify-write that changes
    /// nothing. Being an RMW (never a load) it joins the release sequence that
    /// the runner's acquire RMW (`start_run`) reads when it clears `PENDING`, so a
    /// pending run found here sees the caller's earlier writes.
    #[inline]
    pub(crate) fn coalesce(&self) -> Observed {
        Observed(self.word.fetch_or(0, Ordering::AcqRel))
    }

    #[inline]
    /// The inbox's queue call, under the item's binding lock and the shelf lock:
    /// an idle, unbound item with no counter set becomes `PENDING` on `queue`.
    /// Returns false (nothing changed) for any other state.
    pub(crate) fn claim_idle(&self, queue: u32) -> bool {
        if self.peek().0 != 0 {
            return false;
        }
        self.word
            .compare_exchange(
                0,
                with_queue(PENDING, queue),
                Ordering::AcqRel,
                Ordering::Relaxed,
            )
            .is_ok()
    }

    #[inline]
    /// A queue call with no lock on an item running on its own queue (`seen`,
    /// from `coalesce`): adds the next run as `PENDING|UNCOUNTED`, booked by the
    /// run in progress when it ends. Fails (false) if the word changed since
    /// `seen`: that end, a cancel or a disable came first.
    pub(crate) fn add_rerun_unlocked(&self, seen: Observed) -> bool {
        self.word
            .compare_exchange(
                seen.0,
                seen.0 | PENDING | UNCOUNTED,
                Ordering::AcqRel,
                Ordering::Relaxed,
            )
            .is_ok()
    }

    #[inline]
    /// The locked queue call (queue lock and binding lock of `queue` held): adds
    /// a pending run, `ARMED` too when `armed`; an idle item is bound to `queue`.
    /// Returns the state before, or the verdict that refused the call (or found
    /// it already pending).
    pub(crate) fn add_run(&self, queue: u32, armed: bool) -> Result<Observed, Answer> {
        let add = if armed { PENDING | ARMED } else { PENDING };
        self.update(|cur| match cur.verdict(queue) {
            Some(answer) => Err(answer),
            None if cur.is_running() => Ok(cur.0 | add),
            None => Ok(with_queue(cur.0 | add, queue)),
        })
    }

    /// The runner starts the run of an item taken off a list (queue lock held):
    /// `PENDING` cleared and `RUNNING` set in one RMW, before the closure runs.
    /// Acquire: the run sees every write made before any queue call that found
    /// the item pending. Returns the state before.
    #[inline]
    pub(crate) fn start_run(&self) -> Observed {
        // Items on a list have PENDING set and RUNNING clear (lock held), so one
        // xor flips both.
        let before = Observed(self.word.fetch_xor(PENDING | RUNNING, Ordering::AcqRel));
        debug_assert_eq!(
            before.0 & (PENDING | RUNNING | ARMED),
            PENDING,
            "a run starts only from a listed pending item"
        );
        before
    }

    /// The end of a run (queue lock held), as `end` says, if the word is still
    /// `seen`; else the word now (the caller decides again). `Idle` needs the
    /// binding lock too (it clears the queue bits).
    #[inline]
    pub(crate) fn end_run(&self, seen: Observed, end: RunEnd) -> Result<(), Observed> {
        let cur = seen.0;
        debug_assert!(cur & RUNNING != 0, "a run ends only while RUNNING");
        let new = match end {
            RunEnd::Again => cur & !(PENDING | UNCOUNTED),
            RunEnd::Requeue => cur & !(RUNNING | UNCOUNTED),
            RunEnd::Idle => with_queue(cur & !RUNNING, 0),
        };
        self.word
            .compare_exchange(cur, new, Ordering::AcqRel, Ordering::Relaxed)
            .map(drop)
            .map_err(Observed)
    }

    #[inline]
    /// Cancel's removal of the pending run (queue lock and binding lock held):
    /// clears `PENDING`, `ARMED` and `UNCOUNTED`; an item not running becomes
    /// idle and unbound. Returns the state before, or `None` if nothing was
    /// pending.
    pub(crate) fn take_pending(&self) -> Option<Observed> {
        self.update(|cur| {
            if !cur.is_pending() {
                return Err(());
            }
            let cleared = cur.0 & !(PENDING | ARMED | UNCOUNTED);
            Ok(if cur.is_running() {
                cleared
            } else {
                with_queue(cleared, 0)
            })
        })
        .ok()
    }

    #[inline]
    /// A shutdown discards a run waiting on a list (queue lock and binding lock
    /// held): the item becomes idle and unbound.
    pub(crate) fn discard_waiting(&self) {
        let _ = self.update(|cur| {
            debug_assert_eq!(
                cur.0 & (PENDING | RUNNING | ARMED),
                PENDING,
                "only a listed pending item is discarded"
            );
            Ok::<_, ()>(with_queue(cur.0 & !(PENDING | UNCOUNTED), 0))
        });
    }

    #[inline]
    /// The timer fired the pending run, or a flush or shutdown fires it now
    /// (queue lock held): `ARMED` cleared, `PENDING` stays.
    pub(crate) fn fire(&self) {
        let before = self.word.fetch_and(!ARMED, Ordering::AcqRel);
        debug_assert!(before & PENDING != 0, "only a pending run is fired");
    }

    #[inline]
    /// A `cancel_sync` begins (no lock): queue calls are refused until the
    /// matching `cancel_exit`.
    ///
    /// # Errors
    /// `CounterFull` with 4,095 cancels already in progress.
    pub(crate) fn cancel_enter(&self) -> Result<(), CounterFull> {
        self.counter_up(CANCEL_ONE, CANCEL_MASK)
    }

    #[inline]
    /// A `cancel_sync` ends (no lock).
    pub(crate) fn cancel_exit(&self) {
        let before = self.word.fetch_sub(CANCEL_ONE, Ordering::AcqRel);
        debug_assert!(
            before & CANCEL_MASK != 0,
            "cancel_exit without a cancel_enter"
        );
    }

    #[inline]
    /// One more level of `disable` (no lock): queue calls are refused while any
    /// level is left.
    ///
    /// # Errors
    /// `CounterFull` at 4,095 levels.
    pub(crate) fn disable(&self) -> Result<(), CounterFull> {
        self.counter_up(DISABLE_ONE, DISABLE_MASK)
    }

    #[inline]
    /// One level of `disable` undone (no lock). Returns whether the item can be
    /// queued again.
    ///
    /// # Errors
    /// `NotDisabled` if it was not disabled.
    pub(crate) fn enable(&self) -> Result<bool, NotDisabled> {
        let before = self.update(|cur| {
            if cur.is_disabled() {
                Ok(cur.0 - DISABLE_ONE)
            } else {
                Err(NotDisabled)
            }
        })?;
        Ok((before.0 - DISABLE_ONE) & DISABLE_MASK == 0)
    }

    #[inline]
    /// Adds one to the counter field `mask`, refusing to overflow it.
    fn counter_up(&self, one: u64, mask: u64) -> Result<(), CounterFull> {
        self.update(|cur| {
            if cur.0 & mask == mask {
                Err(CounterFull)
            } else {
                Ok(cur.0 + one)
            }
        })
        .map(drop)
    }

    #[inline]
    /// The compare-exchange loop of the transitions (`end_run`'s caller spells
    /// it out, to decide again after taking a lock): `next` maps the current word to the new
    /// one, or refuses (nothing changes). Returns the word before the change.
    fn update<E>(&self, mut next: impl FnMut(Observed) -> Result<u64, E>) -> Result<Observed, E> {
        let mut cur = self.word.load(Ordering::Relaxed);
        loop {
            let new = next(Observed(cur))?;
            match self
                .word
                .compare_exchange(cur, new, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => return Ok(Observed(cur)),
                Err(now) => cur = now,
            }
        }
    }
}

#[cfg(all(test, not(any(loom, shuttle))))]
mod tests {
    use super::*;

    const Q: u32 = 7;
    const R: u32 = 9;

    fn item(word: u64) -> ItemState {
        ItemState {
            word: AtomicU64::new(word),
        }
    }

    fn word(state: &ItemState) -> u64 {
        state.peek().0
    }

    #[test]
    fn fields_do_not_overlap() {
        let fields = [
            PENDING,
            RUNNING,
            ARMED,
            UNCOUNTED,
            CANCEL_MASK,
            DISABLE_MASK,
            QUEUE_MASK,
        ];
        for (i, a) in fields.iter().enumerate() {
            for b in &fields[i + 1..] {
                assert_eq!(a & b, 0, "{a:#x} overlaps {b:#x}");
            }
        }
        assert_eq!(
            CANCEL_MASK / CANCEL_ONE,
            4_095,
            "the docs promise 4,095 cancels"
        );
        assert_eq!(
            DISABLE_MASK / DISABLE_ONE,
            4_095,
            "the docs promise 4,095 disables"
        );
        let s = Observed(with_queue(PENDING | CANCEL_ONE, u32::MAX));
        assert_eq!(s.queue_id(), u32::MAX);
        assert_eq!(s.0 & !QUEUE_MASK, PENDING | CANCEL_ONE);
        assert!(!s.is_idle());
        assert!(Observed(with_queue(CANCEL_ONE, 7)).is_idle());
    }

    /// Every row of the accept/refuse column: (state, queue call on Q answers).
    #[test]
    fn verdict_follows_the_table() {
        let on = |bits: u64, q: u32| with_queue(bits, q);
        let rows: [(u64, Option<Answer>); 10] = [
            (0, None),
            (on(RUNNING, Q), None),
            (on(PENDING, Q), Some(Answer::AlreadyPending)),
            (on(PENDING | ARMED, Q), Some(Answer::AlreadyPending)),
            (
                on(RUNNING | PENDING | UNCOUNTED, Q),
                Some(Answer::AlreadyPending),
            ),
            (on(PENDING, R), Some(Answer::Busy)),
            (on(RUNNING, R), Some(Answer::Busy)),
            (on(PENDING | CANCEL_ONE, Q), Some(Answer::Canceling)),
            (on(CANCEL_ONE | DISABLE_ONE, 0), Some(Answer::Disabled)),
            (on(DISABLE_ONE, 0), Some(Answer::Disabled)),
        ];
        for (state, want) in rows {
            let s = Observed(state);
            assert_eq!(s.verdict(Q), want, "verdict of {s:?}");
            assert_eq!(
                s.is_pending_on(Q),
                want == Some(Answer::AlreadyPending),
                "fast path of {s:?}"
            );
        }
    }

    #[test]
    fn queue_calls_add_runs() {
        // idle -> PENDING on Q, through the inbox or the locked path.
        let s = item(0);
        assert!(s.claim_idle(Q));
        assert_eq!(word(&s), with_queue(PENDING, Q));
        assert!(!s.claim_idle(Q), "only an idle, unbound item is claimed");
        let s = item(0);
        assert_eq!(s.add_run(Q, false), Ok(Observed(0)));
        assert_eq!(word(&s), with_queue(PENDING, Q));
        // pending: the coalescing RMW changes nothing.
        assert_eq!(s.coalesce().0, with_queue(PENDING, Q));
        assert_eq!(word(&s), with_queue(PENDING, Q));
        assert_eq!(s.add_run(Q, false), Err(Answer::AlreadyPending));
        assert_eq!(s.add_run(R, false), Err(Answer::Busy));
        // running: a rerun, with or without the lock.
        let s = item(with_queue(RUNNING, Q));
        assert_eq!(s.add_run(Q, true), Ok(Observed(with_queue(RUNNING, Q))));
        assert_eq!(word(&s), with_queue(RUNNING | PENDING | ARMED, Q));
        let s = item(with_queue(RUNNING, Q));
        assert!(!s.add_rerun_unlocked(Observed(with_queue(RUNNING, R))));
        assert!(s.add_rerun_unlocked(s.peek()));
        assert_eq!(word(&s), with_queue(RUNNING | PENDING | UNCOUNTED, Q));
        // idle with a delay: armed and bound.
        let s = item(0);
        assert!(s.add_run(Q, true).is_ok());
        assert_eq!(word(&s), with_queue(PENDING | ARMED, Q));
        s.fire();
        assert_eq!(word(&s), with_queue(PENDING, Q));
    }

    #[test]
    fn runs_start_and_end() {
        let s = item(with_queue(PENDING, Q));
        assert_eq!(s.start_run().0, with_queue(PENDING, Q));
        assert_eq!(word(&s), with_queue(RUNNING, Q));
        // Not queued meanwhile: idle and unbound; a word changed meanwhile
        // is handed back to decide again.
        let before = s.peek();
        assert_eq!(
            s.end_run(Observed(before.0 | PENDING), RunEnd::Requeue),
            Err(before)
        );
        assert_eq!(s.end_run(before, RunEnd::Idle), Ok(()));
        assert_eq!(word(&s), 0);
        // Queued meanwhile: back to PENDING, or the next run in place.
        let rerun = with_queue(RUNNING | PENDING | UNCOUNTED, Q);
        let s = item(rerun);
        assert_eq!(s.end_run(Observed(rerun), RunEnd::Requeue), Ok(()));
        assert_eq!(word(&s), with_queue(PENDING, Q));
        let s = item(rerun);
        assert_eq!(s.end_run(Observed(rerun), RunEnd::Again), Ok(()));
        assert_eq!(word(&s), with_queue(RUNNING, Q));
    }

    #[test]
    fn cancels_take_the_pending_run() {
        let s = item(with_queue(PENDING | ARMED | CANCEL_ONE, Q));
        assert_eq!(s.take_pending().map(|b| b.is_armed()), Some(true));
        assert_eq!(word(&s), CANCEL_ONE, "idle, unbound, the counter kept");
        assert_eq!(s.take_pending(), None);
        let s = item(with_queue(RUNNING | PENDING | UNCOUNTED, Q));
        assert!(s.take_pending().is_some());
        assert_eq!(
            word(&s),
            with_queue(RUNNING, Q),
            "the run in progress stays"
        );
        let s = item(with_queue(PENDING | UNCOUNTED, Q));
        s.discard_waiting();
        assert_eq!(word(&s), 0);
    }

    #[test]
    fn counters_count_and_saturate() {
        let s = item(with_queue(RUNNING, Q));
        assert_eq!(s.cancel_enter(), Ok(()));
        assert!(s.peek().is_canceling());
        s.cancel_exit();
        assert!(!s.peek().is_canceling());
        for _ in 0..4_095 {
            assert_eq!(s.cancel_enter(), Ok(()));
            assert_eq!(s.disable(), Ok(()));
        }
        assert_eq!(s.cancel_enter(), Err(CounterFull));
        assert_eq!(s.disable(), Err(CounterFull));
        assert!(
            s.peek().is_running(),
            "the counters leave the other bits alone"
        );
        for left in (0..4_095).rev() {
            assert_eq!(s.enable(), Ok(left == 0));
        }
        assert_eq!(s.enable(), Err(NotDisabled));
        assert!(!s.peek().is_disabled());
    }
}
