//! An elastic queue's sizing: its tunables, the back-off after failed starts,
//! the grow entry on the timer, and the debts a queue call leaves to settle.

use crate::engine::timer::TimerKey;
use std::time::Instant;

/// Sizing settings and start state (behind the queue's lock).
///
/// | field            | set by                            | cleared by                 |
/// |------------------|-----------------------------------|----------------------------|
/// | `min`, `max`, `very_slow_percent` | the builder, `retune` | —                   |
/// | `backoff_until`, `start_failures` | a failed start (`start_failed`) | a start that succeeds resets the failures |
/// | `grow_key`       | the grow entry is armed (`arm`)   | it fires or is disarmed (`disarm`) |
/// | `settle_owed`    | a change that may need a thread start or a pump kick (`owe_settle`) | the settle (`take_settle`) |
/// | `kick_failed`    | a pump could not be queued on the pool | the rescuer steps in   |
/// | `pumps_kicked`   | a kick reserves pumps to queue (`reserve_kicks`) | a pump's run starts (`pump_started`), a kick that queued none (`unreserve_kicks`), the pool discards its pumps (`forget_kicks`) |
#[derive(Debug)]
pub(crate) struct Sizing {
    min: usize,
    max: usize,
    very_slow_percent: usize,
    backoff_until: Option<Instant>,
    start_failures: u32,
    grow_key: Option<TimerKey>,
    settle_owed: bool,
    kick_failed: bool,
    /// Fed queues: pumps queued on the pool whose runs have not started. A
    /// hint that may count low (a pump that queues itself again to take turns
    /// is not counted, but its start is), never high: a low count costs a kick
    /// that finds the pump already pending, a high one could leave items with
    /// no pump on its way.
    pumps_kicked: usize,
}

impl Sizing {
    /// `min` to `max` threads; very slow items may take `very_slow_percent` of them.
    pub(crate) fn new(min: usize, max: usize, very_slow_percent: usize) -> Sizing {
        Sizing {
            min,
            max,
            very_slow_percent,
            backoff_until: None,
            start_failures: 0,
            grow_key: None,
            settle_owed: false,
            kick_failed: false,
            pumps_kicked: 0,
        }
    }

    /// The minimum number of threads as set.
    pub(crate) fn min(&self) -> usize {
        self.min
    }

    /// The minimum number of threads kept once started: at least one.
    pub(crate) fn floor(&self) -> usize {
        self.min.max(1)
    }

    /// The maximum number of threads.
    #[inline]
    pub(crate) fn max(&self) -> usize {
        self.max
    }

    /// The very slow items' share of the threads, in percent.
    pub(crate) fn very_slow_percent(&self) -> usize {
        self.very_slow_percent
    }

    /// Applies new tunables (validated by the caller).
    pub(crate) fn retune(&mut self, min: Option<usize>, max: Option<usize>, pct: Option<usize>) {
        self.min = min.unwrap_or(self.min);
        self.max = max.unwrap_or(self.max);
        self.very_slow_percent = pct.unwrap_or(self.very_slow_percent);
    }

    /// The end of the back-off in force at `now`, if any.
    pub(crate) fn backoff_at(&self, now: Instant) -> Option<Instant> {
        self.backoff_until.filter(|until| now < *until)
    }

    /// Failed thread starts since the last one that succeeded.
    pub(crate) fn start_failures(&self) -> u32 {
        self.start_failures
    }

    /// A start failed: no start is tried before `until`.
    pub(crate) fn start_failed(&mut self, until: Instant) {
        self.backoff_until = Some(until);
        self.start_failures = self.start_failures.saturating_add(1);
    }

    /// A start succeeded.
    pub(crate) fn start_succeeded(&mut self) {
        self.start_failures = 0;
    }

    /// Whether the grow entry is armed.
    pub(crate) fn grow_armed(&self) -> bool {
        self.grow_key.is_some()
    }

    /// The grow entry was armed with `key`.
    pub(crate) fn arm(&mut self, key: TimerKey) {
        self.grow_key = Some(key);
    }

    /// The grow entry fired or is being disarmed: its key, if it was armed.
    pub(crate) fn disarm(&mut self) -> Option<TimerKey> {
        self.grow_key.take()
    }

    /// A settle is owed (a thread start or a pump kick), paid with no lock held.
    #[inline]
    pub(crate) fn owe_settle(&mut self) {
        self.settle_owed = true;
    }

    /// Whether a settle is owed.
    #[inline]
    pub(crate) fn settle_owed(&self) -> bool {
        self.settle_owed
    }

    /// Takes the settle owed, if any.
    pub(crate) fn take_settle(&mut self) -> bool {
        std::mem::take(&mut self.settle_owed)
    }

    /// A pump could not be queued on the pool: the rescuer should step in.
    pub(crate) fn kick_failed(&mut self) {
        self.kick_failed = true;
    }

    /// Takes the failed kick, if any.
    pub(crate) fn take_kick_failed(&mut self) -> bool {
        std::mem::take(&mut self.kick_failed)
    }

    /// How many more pumps to queue for `want` concurrent runs, given those
    /// queued and not started yet; counts them as queued (the kick that
    /// reserves them gives back those it could not queue: `unreserve_kicks`).
    pub(crate) fn reserve_kicks(&mut self, want: usize) -> usize {
        let need = want.saturating_sub(self.pumps_kicked);
        self.pumps_kicked += need;
        need
    }

    /// Whether fewer pumps are queued and not started than `want`.
    pub(crate) fn kicks_short_of(&self, want: usize) -> bool {
        self.pumps_kicked < want
    }

    /// Pumps queued on the pool and not started (may count low, never high).
    pub(crate) fn pumps_kicked(&self) -> usize {
        self.pumps_kicked
    }

    /// Gives back `n` reserved kicks that queued no pump (none free, a pump
    /// already pending, or the pool refused). Saturating: pump starts not
    /// counted as kicks may have taken the count down meanwhile.
    pub(crate) fn unreserve_kicks(&mut self, n: usize) {
        self.pumps_kicked = self.pumps_kicked.saturating_sub(n);
    }

    /// The pool discarded the pumps it held (its shutdown past a deadline):
    /// none is on its way any more.
    pub(crate) fn forget_kicks(&mut self) {
        self.pumps_kicked = 0;
    }

    /// A pump's run started: one queued pump fewer on its way (saturating, as
    /// above).
    pub(crate) fn pump_started(&mut self) {
        self.pumps_kicked = self.pumps_kicked.saturating_sub(1);
    }

    /// Whether a kick failed and no rescuer stepped in yet.
    pub(crate) fn has_kick_failed(&self) -> bool {
        self.kick_failed
    }
}
