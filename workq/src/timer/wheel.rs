//! Hierarchical timing wheel: the user-space counterpart of the kernel's timer wheel.
//!
//! # Levels and slot math
//!
//! Time is measured in abstract *ticks* (`u64`). The wheel has [`NUM_LEVELS`] = 6 levels of
//! [`SLOTS`] = 64 slots each. A slot on level `k` is `64^k` ticks wide, so level `k` spans
//! `64^(k+1)` ticks and the whole wheel spans `64^6 = 2^36` ticks. Reading a tick as a base-64
//! number, the slot of deadline `d` on level `k` is its digit `k`: `(d >> 6k) & 63`.
//!
//! An entry with deadline `d > now` lives on level `k = msb(d ^ now) / 6`, i.e. the level of the
//! highest base-64 digit in which `d` and `now` differ. Since `d > now`, digit `k` of `d` is
//! strictly greater than digit `k` of `now`, and all higher digits are equal. Moving `now`
//! forward without reaching the slot's start keeps both facts true, so the level and slot of an
//! entry are a pure function of `(now, d)` until its slot is reached. Consequences:
//!
//! * on every level, every occupied slot lies strictly *after* the current one, so the lowest set
//!   bit of the level's occupancy bitmap (one `u64`) is the next slot to process;
//! * every occupied slot of level `k` starts before any occupied slot of level `k + 1`, so the
//!   next event of the whole wheel is the first occupied slot of the lowest non-empty level.
//!
//! # Cascading
//!
//! [`Wheel::advance`] repeatedly jumps `now` to the start of the next occupied slot (never tick by
//! tick) and empties it: entries whose deadline has been reached are returned, the others are
//! re-filed relative to the new `now`, which puts them on a strictly lower level. An entry is
//! therefore moved at most six times before it fires, and nothing fires early.
//!
//! Deadlines whose highest differing digit is beyond level 5 (`d ^ now >= 2^36`, including
//! `u64::MAX`) go to an *overflow* list together with a lower bound of their deadlines (`hint`,
//! not raised on removal). At tick `hint & !(2^36 - 1)`, which is the start of the earliest
//! overflow deadline's 2^36-tick epoch (or earlier), the whole list is re-filed; entries still
//! out of range stay there, and entries already due by the target of that `advance` are fired
//! directly (sorted), so one jump across many epochs costs O(n log n), not O(n * epochs).
//! Overflow entries never delay entries on the levels because they are
//! only looked at once all levels are empty. Deadlines `<= now` at insertion go to a *pending*
//! list that the next `advance` drains first.
//!
//! # Early cascading
//!
//! Cascading a busy slot all at once (each entry a cache miss in the slab) would delay the
//! entries due at that tick by the whole move: 32,000 entries took 3-4 ms, a whole level-2 slot
//! of 100,000 entries 7 ms. So levels 0 and 1 ([`BANKED`]) have two *banks* each, one per parity
//! of the level's block (`deadline >> 6` for level 0, `deadline >> 12` for level 1): the bank
//! of the current block is the level, the other one is the *stage* for the next block. After
//! each `advance` (in `prepare`, which the timer calls once it has delivered what fired), up to
//! [`PRECASCADE_BUDGET`] entries move ahead of time from the slot one
//! level up that holds the next block into that block's stage (level 1's stage first, so that
//! level 0 can take from it), and `next_expiration` asks for the next tick while any remain.
//! Stage slots are events like any other (`next_event` takes the earliest slot start over every
//! level and stage, a higher level first on a tie); when time enters the next block the stage
//! simply is the level (same parity), and whatever was not moved yet is cascaded into it as
//! before. Entries of both banks carry their level's list tag; the bank follows from the
//! deadline.
//!
//! # Slab
//!
//! Entries live in a slab (`Vec` of nodes plus an intrusive free list). Each wheel slot, the
//! overflow list and the pending list are intrusive doubly linked lists of slab indices (`u32`),
//! so insertion and removal are O(1) and a removed or fired entry's node is reused at once. Each
//! node carries a generation that is bumped when it is freed, so a [`TimerKey`] of an entry that
//! was removed or has fired is detected as stale.
//!
//! Footprint: `size_of::<Node<[u64; 2]>>() == 40` bytes, i.e. 24 bytes of bookkeeping (deadline,
//! two links, generation, list tag and enum tag) around a 16-byte payload.

use std::fmt;
use std::mem;

/// Bits of a tick consumed by one level.
const LEVEL_BITS: u32 = 6;
/// Slots per level.
const SLOTS: usize = 1 << LEVEL_BITS;
/// Mask extracting a slot digit.
const SLOT_MASK: u64 = SLOTS as u64 - 1;
/// Number of levels.
const NUM_LEVELS: usize = 6;
/// Ticks covered by the whole wheel, minus one (`2^36 - 1`).
const RANGE_MASK: u64 = (1 << (LEVEL_BITS * NUM_LEVELS as u32)) - 1;
/// "No node" marker for links and list heads.
const NIL: u32 = u32::MAX;
/// List tag of entries in the overflow list (levels use tags `0..NUM_LEVELS`).
const OVERFLOW: u8 = NUM_LEVELS as u8;
/// List tag of entries whose deadline had already passed when they were filed.
const PENDING: u8 = NUM_LEVELS as u8 + 1;
/// Entries moved into the stages per `prepare` (see "Early cascading"): about 40 µs of cache
/// misses, so the timer thread never holds its CPU long (a consumer it has just woken may be
/// waiting for that CPU); 64 ticks of it move 16,384 entries per 64-tick window.
const PRECASCADE_BUDGET: usize = 256;
/// Levels with two banks, one per parity of their block (see "Early cascading").
const BANKED: usize = 2;

/// Handle of an armed entry; stale keys (already removed/fired) are detected, never misused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct TimerKey {
    /// Slab index of the entry.
    index: u32,
    /// Generation of the slab node when the entry was armed.
    generation: u32,
}

impl TimerKey {
    /// The key packed into one `u64` (generation in the high half), for storing in an atomic.
    pub(crate) fn to_bits(self) -> u64 {
        (u64::from(self.generation) << 32) | u64::from(self.index)
    }

    /// The key `to_bits` packed.
    pub(crate) fn from_bits(bits: u64) -> TimerKey {
        TimerKey {
            // Each half holds exactly 32 bits.
            index: bits as u32,
            generation: (bits >> 32) as u32,
        }
    }
}

/// One slab node.
enum Node<T> {
    /// Free node, linked into the slab's free list.
    Vacant {
        /// Generation the next entry stored here will get.
        generation: u32,
        /// Next free node or `NIL`.
        next_free: u32,
    },
    /// Armed entry, linked into the list named by `list`.
    Armed {
        /// Generation of this occupancy; must match the key.
        generation: u32,
        /// Level `0..6`, `OVERFLOW` or `PENDING`.
        list: u8,
        /// Previous node in the list or `NIL` if this is the head.
        prev: u32,
        /// Next node in the list or `NIL`.
        next: u32,
        /// Tick at which the entry is due.
        deadline: u64,
        /// The payload.
        value: T,
    },
}

/// One level of the wheel.
struct Level {
    /// Bit `s` is set iff slot `s` is non-empty.
    occupied: u64,
    /// Head of each slot's list, `NIL` if empty.
    heads: [u32; SLOTS],
}

/// A hierarchical timing wheel of entries carrying a `T`; see the module documentation.
pub(crate) struct Wheel<T> {
    /// Current tick: the last tick passed to `advance` (or one being processed inside it).
    elapsed: u64,
    /// Entry storage.
    slab: Vec<Node<T>>,
    /// Head of the free list of `slab`.
    free_head: u32,
    /// Number of armed entries.
    len: usize,
    /// The six levels, finest first. `levels[0]` is the level-0 bank of even 64-tick windows.
    levels: [Level; NUM_LEVELS],
    /// The banks of levels 0 and 1 for odd blocks (see "Early cascading").
    odd: [Level; BANKED],
    /// Head of the overflow list.
    overflow: u32,
    /// Lower bound of every overflow deadline (`u64::MAX` when the overflow list is empty).
    overflow_hint: u64,
    /// Head of the pending list (deadline already reached when filed).
    pending: u32,
}

impl<T> Wheel<T> {
    /// Creates an empty wheel at tick 0.
    pub(crate) fn new() -> Self {
        Wheel {
            elapsed: 0,
            slab: Vec::new(),
            free_head: NIL,
            len: 0,
            levels: std::array::from_fn(|_| Level {
                occupied: 0,
                heads: [NIL; SLOTS],
            }),
            odd: std::array::from_fn(|_| Level {
                occupied: 0,
                heads: [NIL; SLOTS],
            }),
            overflow: NIL,
            overflow_hint: u64::MAX,
            pending: NIL,
        }
    }

    #[cfg(test)]
    /// The last tick passed to `advance` (starts at 0).
    pub(crate) fn now(&self) -> u64 {
        self.elapsed
    }

    /// Number of armed entries.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    #[cfg(test)]
    /// Whether no entry is armed.
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Arms `value` to fire at tick `deadline`. A deadline <= now() fires at the next `advance`.
    /// A deadline beyond the wheel's range is kept and re-filed as time passes: it never fires
    /// early and never blocks entries with nearer deadlines. `u64::MAX` works.
    ///
    /// # Panics
    ///
    /// Only if more than `u32::MAX - 1` entries are armed at once (the slab index is a `u32`).
    pub(crate) fn insert(&mut self, deadline: u64, value: T) -> TimerKey {
        let free = match self.slab.get(self.free_head as usize) {
            Some(&Node::Vacant {
                generation,
                next_free,
            }) => Some((self.free_head, generation, next_free)),
            _ => None,
        };
        let armed = |generation| Node::Armed {
            generation,
            list: PENDING,
            prev: NIL,
            next: NIL,
            deadline,
            value,
        };
        let (index, generation) = match free {
            Some((index, generation, next_free)) => {
                self.free_head = next_free;
                self.slab[index as usize] = armed(generation);
                (index, generation)
            }
            None => {
                let index = self.slab.len();
                assert!(index < NIL as usize, "timer wheel: too many armed entries");
                self.slab.push(armed(0));
                (index as u32, 0)
            }
        };
        self.len += 1;
        self.file(index, deadline);
        TimerKey { index, generation }
    }

    /// O(1). Removes the entry if still armed and returns its value; a stale key returns None.
    pub(crate) fn remove(&mut self, key: TimerKey) -> Option<T> {
        let (list, prev, next, deadline) = match self.slab.get(key.index as usize)? {
            &Node::Armed {
                generation,
                list,
                prev,
                next,
                deadline,
                ..
            } if generation == key.generation => (list, prev, next, deadline),
            _ => return None,
        };
        if prev == NIL {
            *self.head_mut(list, deadline) = next;
            if next == NIL {
                self.list_emptied(list, deadline);
            }
        } else {
            self.set_link(prev, false, next);
        }
        if next != NIL {
            self.set_link(next, true, prev);
        }
        self.release(key.index).map(|(_, value)| value)
    }

    /// Keys of the armed entries whose value satisfies `keep`. O(slab size): for rare
    /// bulk operations such as destroying a queue.
    pub(crate) fn keys_where(&self, mut keep: impl FnMut(&T) -> bool) -> Vec<TimerKey> {
        let mut keys = Vec::new();
        for (index, node) in self.slab.iter().enumerate() {
            if let Node::Armed {
                generation, value, ..
            } = node
            {
                if keep(value) {
                    if let Ok(index) = u32::try_from(index) {
                        keys.push(TimerKey {
                            index,
                            generation: *generation,
                        });
                    }
                }
            }
        }
        keys
    }

    #[cfg(test)]
    /// Deadline tick of an armed entry (None for a stale key).
    pub(crate) fn deadline(&self, key: TimerKey) -> Option<u64> {
        match self.slab.get(key.index as usize)? {
            &Node::Armed {
                generation,
                deadline,
                ..
            } if generation == key.generation => Some(deadline),
            _ => None,
        }
    }

    /// The earliest tick at which `advance` could have something to do (may be earlier than the
    /// earliest deadline when a higher level needs cascading, but never later). None when empty.
    pub(crate) fn next_expiration(&self) -> Option<u64> {
        if self.pending != NIL {
            return Some(self.elapsed);
        }
        let next = self.next_event().map(|(tick, _)| tick);
        if (0..BANKED).any(|level| self.precascade_source(level).is_some()) {
            // Early cascading wants the next tick.
            let soon = self.elapsed.saturating_add(1);
            return Some(next.map_or(soon, |t| t.min(soon)));
        }
        next
    }

    /// Moves time forward to `now` (a `now` lower than now() is treated as now()) and pushes
    /// every entry whose deadline <= now into `expired` as (key, value). Entries filed while
    /// already due come first; the rest follow in non-decreasing deadline order. Entries with
    /// deadline > now are never returned. Costs O(occupied slots + moved entries), not O(ticks).
    pub(crate) fn advance(&mut self, now: u64, expired: &mut Vec<(TimerKey, T)>) {
        let now = now.max(self.elapsed);
        let pending = mem::replace(&mut self.pending, NIL);
        self.fire_or_refile(pending, expired);
        while let Some((tick, list)) = self.next_event() {
            if tick > now {
                break;
            }
            self.elapsed = tick;
            let head = mem::replace(self.head_mut(list, tick), NIL);
            self.list_emptied(list, tick);
            if list == OVERFLOW {
                self.drain_overflow(head, now, expired);
            } else {
                self.fire_or_refile(head, expired);
            }
        }
        self.elapsed = now;
    }

    /// Early cascading (see the module docs): moves up to [`PRECASCADE_BUDGET`] entries into
    /// the stages. The timer calls it after delivering what `advance` fired, so that the move
    /// never delays a delivery; while entries remain to move, `next_expiration` asks for the
    /// next tick.
    pub(crate) fn prepare(&mut self) {
        self.precascade(PRECASCADE_BUDGET);
    }

    /// The list early cascading fills level `level`'s stage from: the slot of level
    /// `level + 1` that holds the next `level` block, with the tick that block starts at.
    /// `None` when that slot is empty, or lies beyond the current block of an unbanked level
    /// (its entries are then on a higher level still).
    fn precascade_source(&self, level: usize) -> Option<(u8, u64)> {
        let block = block_shift(level);
        let next = (self.elapsed >> block)
            .checked_add(1)?
            .checked_mul(1 << block)?;
        let source = level + 1;
        if source >= BANKED && next >> block_shift(source) != self.elapsed >> block_shift(source) {
            return None;
        }
        let source = source as u8;
        let slot = slot_of(next, source) as usize;
        let lvl = self.bank(usize::from(source), next);
        (lvl.heads[slot] != NIL).then_some((source, next))
    }

    /// Moves up to `budget` entries into the stages of the banked levels, highest first (so
    /// that level 0 can take from level 1's stage).
    fn precascade(&mut self, mut budget: usize) {
        for level in (0..BANKED).rev() {
            let Some((source, next)) = self.precascade_source(level) else {
                continue;
            };
            while budget > 0 {
                let head = *self.head_mut(source, next);
                let Some(&Node::Armed {
                    next: after,
                    deadline,
                    ..
                }) = self.slab.get(head as usize)
                else {
                    break;
                };
                *self.head_mut(source, next) = after;
                if after == NIL {
                    self.list_emptied(source, next);
                } else {
                    self.set_link(after, true, NIL);
                }
                debug_assert_eq!(
                    deadline >> block_shift(level),
                    next >> block_shift(level),
                    "a staged entry belongs to the next block"
                );
                self.link(head, level as u8, deadline);
                budget -= 1;
            }
        }
    }

    /// The bank of level `level` that holds `tick`'s block (levels above the banked ones
    /// have one).
    fn bank(&self, level: usize, tick: u64) -> &Level {
        match self.odd.get(level) {
            Some(odd) if (tick >> block_shift(level)) & 1 == 1 => odd,
            _ => &self.levels[level],
        }
    }

    /// The level a list tag names (`tick`: a deadline or slot start on it), if it is a level.
    fn level_mut(&mut self, list: u8, tick: u64) -> Option<&mut Level> {
        let level = usize::from(list);
        match self.odd.get_mut(level) {
            Some(odd) if (tick >> block_shift(level)) & 1 == 1 => Some(odd),
            _ => self.levels.get_mut(level),
        }
    }

    /// Start tick and list tag of the next slot (or the overflow list) to process: the
    /// earliest slot start over every level and stage, a higher level first on a tie (its
    /// entries may belong in the lower slot).
    fn next_event(&self) -> Option<(u64, u8)> {
        let mut best: Option<(u64, u8)> = None;
        for level in 0..NUM_LEVELS {
            let block = block_shift(level);
            let current = self.elapsed >> block;
            let staged = (level < BANKED).then_some(current + 1);
            for b in std::iter::once(current).chain(staged) {
                let lvl = self.bank(level, b << block);
                if lvl.occupied == 0 {
                    continue;
                }
                let slot = u64::from(lvl.occupied.trailing_zeros());
                let tick = (b << block) | (slot << (block - LEVEL_BITS));
                // A stage that became current may start at now itself.
                debug_assert!(tick >= self.elapsed, "occupied slot before now");
                if best.map_or(true, |(t, _)| tick <= t) {
                    best = Some((tick, level as u8));
                }
            }
        }
        if best.is_none() && self.overflow != NIL {
            let tick = self.overflow_hint & !RANGE_MASK;
            debug_assert!(tick > self.elapsed, "overflow epoch at or before now");
            return Some((tick, OVERFLOW));
        }
        best
    }

    /// Walks a detached list: fires entries that are due at `elapsed`, re-files the others.
    fn fire_or_refile(&mut self, mut cur: u32, expired: &mut Vec<(TimerKey, T)>) {
        while let Some(&Node::Armed { next, deadline, .. }) = self.slab.get(cur as usize) {
            if deadline <= self.elapsed {
                if let Some(item) = self.release(cur) {
                    expired.push(item);
                }
            } else {
                self.file(cur, deadline);
            }
            cur = next;
        }
        debug_assert!(cur == NIL, "list links a vacant node");
    }

    /// Walks the detached overflow list while all levels are empty: entries due by `now` are
    /// fired at once, sorted by deadline (they are later than anything fired before and earlier
    /// than anything left), the others are re-filed. Firing them here rather than one epoch at
    /// a time keeps a jump over many epochs O(n log n) instead of O(n * epochs).
    fn drain_overflow(&mut self, mut cur: u32, now: u64, expired: &mut Vec<(TimerKey, T)>) {
        let mut due = Vec::new();
        while let Some(&Node::Armed { next, deadline, .. }) = self.slab.get(cur as usize) {
            if deadline <= now {
                due.push((deadline, cur));
            } else {
                self.file(cur, deadline);
            }
            cur = next;
        }
        debug_assert!(cur == NIL, "list links a vacant node");
        due.sort_by_key(|&(deadline, _)| deadline);
        expired.extend(due.into_iter().filter_map(|(_, index)| self.release(index)));
    }

    /// Links armed node `index` at the front of the list its deadline belongs to now.
    fn file(&mut self, index: u32, deadline: u64) {
        let list = if deadline <= self.elapsed {
            PENDING
        } else {
            let msb = 63 - (deadline ^ self.elapsed).leading_zeros();
            (msb / LEVEL_BITS).min(u32::from(OVERFLOW)) as u8
        };
        self.link(index, list, deadline);
    }

    /// Links armed node `index` at the front of list `list` (on a level: the slot of
    /// `deadline`).
    fn link(&mut self, index: u32, list: u8, deadline: u64) {
        let head = *self.head_mut(list, deadline);
        if head != NIL {
            self.set_link(head, true, index);
        }
        if let Some(Node::Armed {
            list: l,
            prev,
            next,
            ..
        }) = self.slab.get_mut(index as usize)
        {
            *l = list;
            *prev = NIL;
            *next = head;
        }
        *self.head_mut(list, deadline) = index;
        if let Some(lvl) = self.level_mut(list, deadline) {
            lvl.occupied |= 1 << slot_of(deadline, list);
        } else if list == OVERFLOW {
            self.overflow_hint = self.overflow_hint.min(deadline);
        }
    }

    /// Updates bookkeeping after the list `list` (slot of `tick` on a level) became empty.
    fn list_emptied(&mut self, list: u8, tick: u64) {
        if let Some(lvl) = self.level_mut(list, tick) {
            lvl.occupied &= !(1 << slot_of(tick, list));
        } else if list == OVERFLOW {
            self.overflow_hint = u64::MAX;
        }
    }

    /// Head of list `list`; on a level, the slot is the one `deadline` maps to.
    fn head_mut(&mut self, list: u8, deadline: u64) -> &mut u32 {
        let slot = slot_of(deadline, list) as usize;
        match list {
            OVERFLOW => &mut self.overflow,
            PENDING => &mut self.pending,
            _ => match self.level_mut(list, deadline) {
                Some(lvl) => &mut lvl.heads[slot],
                None => unreachable!("list tag {list} names no list"),
            },
        }
    }

    /// Sets the `prev` (if `prev` is true) or `next` link of armed node `index`.
    fn set_link(&mut self, index: u32, prev: bool, to: u32) {
        if let Some(Node::Armed {
            prev: p, next: n, ..
        }) = self.slab.get_mut(index as usize)
        {
            *if prev { p } else { n } = to;
        }
    }

    /// Frees node `index` (already unlinked) and returns its key and value.
    fn release(&mut self, index: u32) -> Option<(TimerKey, T)> {
        let node = self.slab.get_mut(index as usize)?;
        let generation = match node {
            Node::Armed { generation, .. } => *generation,
            Node::Vacant { .. } => return None,
        };
        let vacant = Node::Vacant {
            generation: generation.wrapping_add(1),
            next_free: self.free_head,
        };
        let Node::Armed { value, .. } = mem::replace(node, vacant) else {
            return None;
        };
        self.free_head = index;
        self.len -= 1;
        Some((TimerKey { index, generation }, value))
    }
}

/// Bits of a tick below the block of level `level` (the ticks its 64 slots span).
fn block_shift(level: usize) -> u32 {
    LEVEL_BITS * (level as u32 + 1)
}

/// Slot digit of `tick` on level `level`.
fn slot_of(tick: u64, level: u8) -> u64 {
    (tick >> (LEVEL_BITS * u32::from(level))) & SLOT_MASK
}

impl<T> Default for Wheel<T> {
    /// Same as [`Wheel::new`].
    fn default() -> Self {
        Self::new()
    }
}

impl<T> fmt::Debug for Wheel<T> {
    /// Shows the current tick and the number of armed entries.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Wheel")
            .field("now", &self.elapsed)
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

/// Unit tests: a seeded model check plus targeted edge cases.
#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeMap, BTreeSet, HashMap};

    /// Tiny xorshift64* PRNG so the tests are deterministic without external crates.
    struct Rng(u64);

    impl Rng {
        /// Next pseudo-random value.
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        /// Uniform-ish in `0..n` (`n > 0`).
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    /// Reference model: armed entries by id, with their deadline and key.
    #[derive(Default)]
    struct Model {
        /// Armed entries: id -> (deadline, key).
        by_id: BTreeMap<u64, (u64, TimerKey)>,
        /// The same entries ordered by (deadline, id).
        by_deadline: BTreeSet<(u64, u64)>,
    }

    impl Model {
        /// Records an armed entry.
        fn insert(&mut self, id: u64, deadline: u64, key: TimerKey) {
            self.by_id.insert(id, (deadline, key));
            self.by_deadline.insert((deadline, id));
        }

        /// Forgets an entry; returns its deadline and key if it was armed.
        fn remove(&mut self, id: u64) -> Option<(u64, TimerKey)> {
            let (deadline, key) = self.by_id.remove(&id)?;
            self.by_deadline.remove(&(deadline, id));
            Some((deadline, key))
        }

        /// Removes and returns the ids due at `now`, sorted.
        fn expire(&mut self, now: u64) -> Vec<u64> {
            let due: Vec<(u64, u64)> = self
                .by_deadline
                .range(..=(now, u64::MAX))
                .copied()
                .collect();
            let mut ids: Vec<u64> = due.into_iter().map(|(_, id)| id).collect();
            for id in &ids {
                self.remove(*id);
            }
            ids.sort_unstable();
            ids
        }

        /// Earliest armed deadline.
        fn earliest(&self) -> Option<u64> {
            self.by_deadline.first().map(|&(deadline, _)| deadline)
        }
    }

    /// Advances `wheel` to `now` and checks the result against `model` exactly.
    fn advance_and_check(wheel: &mut Wheel<u64>, model: &mut Model, now: u64) -> usize {
        let now = now.max(wheel.now());
        if let (Some(next), Some(earliest)) = (wheel.next_expiration(), model.earliest()) {
            assert!(
                next <= earliest.max(wheel.now()),
                "next_expiration too late"
            );
        }
        assert_eq!(wheel.next_expiration().is_none(), model.by_id.is_empty());
        let mut expired = Vec::new();
        wheel.advance(now, &mut expired);
        wheel.prepare();
        assert_eq!(wheel.now(), now);
        let mut got = Vec::with_capacity(expired.len());
        for &(key, id) in &expired {
            let (deadline, model_key) = model.by_id[&id];
            assert!(
                deadline <= now,
                "entry {id} with deadline {deadline} fired at {now}"
            );
            assert_eq!(key, model_key);
            assert_eq!(wheel.deadline(key), None, "fired key must be stale");
            got.push(id);
        }
        got.sort_unstable();
        assert_eq!(got, model.expire(now), "expired set differs at tick {now}");
        assert_eq!(wheel.len(), model.by_id.len());
        expired.len()
    }

    /// Early cascading: 20,000 entries due in the next two 64-tick windows, advanced one tick
    /// at a time with inserts and removes mixed in, fire exactly as the model says, and a
    /// window's level-1 slot has been emptied into the stage before the window begins.
    #[test]
    fn early_cascading_moves_ahead_and_fires_exactly() {
        let mut rng = Rng(42);
        let mut wheel = Wheel::new();
        let mut model = Model::default();
        let mut id = 0u64;
        let mut arm = |wheel: &mut Wheel<u64>, model: &mut Model, deadline: u64| {
            let key = wheel.insert(deadline, id);
            model.insert(id, deadline, key);
            id += 1;
        };
        for _ in 0..20_000 {
            arm(&mut wheel, &mut model, 64 + rng.below(128));
        }
        let (mut staged_checks, mut removed) = (0, 0);
        for now in 1..=300u64 {
            if now % 64 == 63 {
                // The last tick before a window: nothing of it is left on level 1 (entries
                // armed from now on go there and move at the boundary).
                assert_eq!(wheel.precascade_source(0), None, "window after tick {now}");
                staged_checks += 1;
            }
            if now % 3 == 0 {
                arm(
                    &mut wheel,
                    &mut model,
                    (now | SLOT_MASK) + 1 + rng.below(64),
                );
            }
            if now % 5 == 0 {
                let victim = model.by_id.keys().nth(rng.below(7) as usize).copied();
                if let Some(victim) = victim {
                    let (_, key) = model.remove(victim).expect("armed");
                    assert_eq!(wheel.remove(key), Some(victim));
                    removed += 1;
                }
            }
            advance_and_check(&mut wheel, &mut model, now);
        }
        advance_and_check(&mut wheel, &mut model, 400);
        assert!(wheel.is_empty() && model.by_id.is_empty());
        assert!(staged_checks >= 4 && removed > 50);
    }

    /// Early cascading one level up: 30,000 entries due across the next two 4,096-tick blocks
    /// (on level 2 when armed), advanced one tick at a time: the level-2 slot of a block is
    /// empty before the block begins, the level-1 slot of every window before the window
    /// begins, and everything fires exactly as the model says.
    #[test]
    fn early_cascading_from_level_two() {
        let mut rng = Rng(7);
        let mut wheel = Wheel::new();
        let mut model = Model::default();
        for id in 0..30_000u64 {
            let deadline = 4096 + rng.below(8192);
            let key = wheel.insert(deadline, id);
            model.insert(id, deadline, key);
        }
        let mut checks = (0, 0);
        for now in 1..=12_400u64 {
            if now % 64 == 63 {
                assert_eq!(wheel.precascade_source(0), None, "window after tick {now}");
                checks.0 += 1;
            }
            if now % 4096 == 4095 {
                assert_eq!(wheel.precascade_source(1), None, "block after tick {now}");
                checks.1 += 1;
            }
            advance_and_check(&mut wheel, &mut model, now);
        }
        assert!(wheel.is_empty() && model.by_id.is_empty());
        assert!(checks.0 > 150 && checks.1 == 3);
    }

    /// Driven like the timer thread drives it (jump to `next_expiration`, never tick by tick)
    /// while entries keep arriving: 50,000 deadlines 1,200..2,000 ticks ahead armed over the
    /// first 120 ticks; every entry fires at its own deadline exactly, never later.
    #[test]
    fn driven_by_next_expiration_fires_on_time() {
        let mut rng = Rng(99);
        let mut wheel = Wheel::new();
        let mut model = Model::default();
        let mut expired = Vec::new();
        wheel.advance(1300, &mut expired);
        let (mut id, mut fired) = (0u64, 0usize);
        while fired < 50_000 {
            let now = wheel.now();
            if id < 50_000 && now < 1420 {
                for _ in 0..500.min(50_000 - id) {
                    let deadline = now + 1200 + rng.below(800);
                    let key = wheel.insert(deadline, id);
                    model.insert(id, deadline, key);
                    id += 1;
                }
            }
            let next = wheel.next_expiration().expect("entries armed");
            if let Some(earliest) = model.earliest() {
                assert!(
                    next <= earliest,
                    "asked to wake at {next}, first due {earliest}"
                );
            }
            let step = if id < 50_000 { now + 1 } else { next };
            fired += advance_and_check(&mut wheel, &mut model, step.min(next));
            for &(deadline, _) in model.by_deadline.iter().take(1) {
                assert!(
                    deadline > wheel.now(),
                    "entry due at {deadline} left at {}",
                    wheel.now()
                );
            }
        }
        assert!(wheel.is_empty());
    }

    /// The slab node stays at 40 bytes for a 16-byte payload (24 bytes of bookkeeping).
    #[test]
    fn entry_footprint() {
        assert_eq!(mem::size_of::<Node<[u64; 2]>>(), 40);
        assert!(mem::size_of::<Node<()>>() <= 24);
    }

    /// 1,024 random deadlines in 0..=10^7, random advance steps, checked against the model.
    #[test]
    fn model_random_deadlines_random_steps() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut wheel = Wheel::new();
        let mut model = Model::default();
        for id in 0..1024 {
            let deadline = rng.below(10_000_001);
            let key = wheel.insert(deadline, id);
            assert_eq!(wheel.deadline(key), Some(deadline));
            model.insert(id, deadline, key);
        }
        assert_eq!(wheel.len(), 1024);
        let mut fired = 0;
        let mut steps = 0;
        while !wheel.is_empty() {
            let step = match rng.below(4) {
                0 => rng.below(100),
                1 => rng.below(10_000),
                2 => rng.below(100_000),
                _ => rng.below(1_000_000),
            };
            let before = wheel.now();
            fired += advance_and_check(&mut wheel, &mut model, before + step);
            steps += 1;
        }
        assert_eq!(fired, 1024);
        assert!(model.by_id.is_empty());
        assert!(steps > 10);
        assert_eq!(wheel.next_expiration(), None);
    }

    /// One big advance returns entries in non-decreasing deadline order.
    #[test]
    fn fires_in_deadline_order() {
        let mut rng = Rng(7);
        let mut wheel = Wheel::new();
        for _ in 0..2000 {
            let deadline = rng.below(1 << 40);
            wheel.insert(deadline, deadline);
        }
        let mut expired = Vec::new();
        wheel.advance(1 << 40, &mut expired);
        assert_eq!(expired.len(), 2000);
        assert!(expired.windows(2).all(|w| w[0].1 <= w[1].1));
        for (key, deadline) in &expired {
            assert!(key.index < 2000);
            assert!(*deadline < 1 << 40);
        }
        assert!(wheel.is_empty());
    }

    /// Random insert/remove/advance mix (stale keys, past and far deadlines) against the model.
    #[test]
    fn model_random_interleaving() {
        let mut rng = Rng(0xdead_beef_cafe_f00d);
        let mut wheel = Wheel::new();
        let mut model = Model::default();
        let mut keys: Vec<(u64, TimerKey)> = Vec::new();
        let (mut removed, mut stale, mut fired) = (0, 0, 0);
        for id in 0..60_000u64 {
            let now = wheel.now();
            match rng.below(10) {
                0..=4 => {
                    let deadline = match rng.below(8) {
                        0 => now.saturating_sub(rng.below(100)),
                        1 => now.saturating_add(rng.below(64)),
                        2 => now.saturating_add(rng.below(5_000)),
                        3 => now.saturating_add(rng.below(1 << 24)),
                        4 => now.saturating_add(rng.below(1 << 38)),
                        5 => now.saturating_add(rng.next() >> rng.below(64)),
                        6 => u64::MAX - rng.below(3),
                        _ => now.saturating_add(rng.below(200_000)),
                    };
                    let key = wheel.insert(deadline, id);
                    model.insert(id, deadline, key);
                    keys.push((id, key));
                }
                5..=7 => {
                    if keys.is_empty() {
                        continue;
                    }
                    let (kid, key) = keys[rng.below(keys.len() as u64) as usize];
                    let expected = model.remove(kid);
                    assert_eq!(wheel.deadline(key), expected.map(|(d, _)| d));
                    let got = wheel.remove(key);
                    assert_eq!(got, expected.map(|_| kid));
                    assert_eq!(wheel.remove(key), None, "second remove must be stale");
                    if got.is_some() {
                        removed += 1;
                    } else {
                        stale += 1;
                    }
                }
                _ => {
                    let step = match rng.below(5) {
                        0 => 0,
                        1 => rng.below(64),
                        2 => rng.below(10_000),
                        3 => rng.below(1 << 22),
                        _ => rng.below(1 << 37),
                    };
                    fired += advance_and_check(&mut wheel, &mut model, now.saturating_add(step));
                }
            }
            assert_eq!(wheel.len(), model.by_id.len());
        }
        assert!(
            removed > 1000 && stale > 1000 && fired > 1000,
            "{removed} {stale} {fired}"
        );
        // Finish: everything fires by u64::MAX, nothing is left behind.
        let left = model.by_id.len();
        assert_eq!(advance_and_check(&mut wheel, &mut model, u64::MAX), left);
        assert!(wheel.is_empty());
        assert_eq!(wheel.next_expiration(), None);
        // Every node is back on the free list.
        let vacant = wheel
            .slab
            .iter()
            .filter(|n| matches!(n, Node::Vacant { .. }))
            .count();
        assert_eq!(vacant, wheel.slab.len());
    }

    /// Deadlines beyond 64^6 ticks and `u64::MAX` neither fire early nor delay near entries.
    #[test]
    fn far_deadlines_never_early_never_blocking() {
        let mut wheel = Wheel::new();
        let far = [
            1u64 << 36,
            (1 << 36) + 5,
            1 << 50,
            u64::MAX - (1 << 36),
            u64::MAX - 1,
            u64::MAX,
        ];
        let far_keys: Vec<TimerKey> = far.iter().map(|&d| wheel.insert(d, d)).collect();
        wheel.insert(10, 10);
        wheel.insert(1000, 1000);
        let mut out = Vec::new();

        assert_eq!(wheel.next_expiration(), Some(10));
        wheel.advance(1000, &mut out);
        assert_eq!(out.iter().map(|e| e.1).collect::<Vec<_>>(), [10, 1000]);
        out.clear();

        wheel.advance((1 << 36) - 1, &mut out);
        assert!(out.is_empty());
        // A near entry inserted while far ones wait still fires on time.
        wheel.insert((1 << 36) + 2, (1 << 36) + 2);
        // Earlier than the earliest deadline: the 2^36 epoch boundary needs cascading first.
        assert_eq!(wheel.next_expiration(), Some(1 << 36));
        wheel.advance(1 << 36, &mut out);
        assert_eq!(out.iter().map(|e| e.1).collect::<Vec<_>>(), [1 << 36]);
        out.clear();
        wheel.advance((1 << 36) + 4, &mut out);
        assert_eq!(out.iter().map(|e| e.1).collect::<Vec<_>>(), [(1 << 36) + 2]);
        out.clear();
        wheel.advance((1 << 36) + 5, &mut out);
        assert_eq!(out.iter().map(|e| e.1).collect::<Vec<_>>(), [(1 << 36) + 5]);
        out.clear();

        wheel.advance((1 << 50) - 1, &mut out);
        assert!(out.is_empty());
        assert_eq!(wheel.deadline(far_keys[2]), Some(1 << 50));
        wheel.advance(u64::MAX - 2, &mut out);
        let got: Vec<u64> = out.iter().map(|e| e.1).collect();
        assert_eq!(got, [1 << 50, u64::MAX - (1 << 36)]);
        out.clear();
        assert_eq!(wheel.len(), 2);

        // Insert at u64::MAX while almost there; advance to u64::MAX fires all, no overflow.
        wheel.insert(u64::MAX, 0);
        wheel.advance(u64::MAX - 1, &mut out);
        assert_eq!(out.iter().map(|e| e.1).collect::<Vec<_>>(), [u64::MAX - 1]);
        out.clear();
        wheel.advance(u64::MAX, &mut out);
        let mut got: Vec<u64> = out.iter().map(|e| e.1).collect();
        got.sort_unstable();
        assert_eq!(got, [0, u64::MAX]);
        out.clear();
        assert!(wheel.is_empty());

        // At the end of time: deadlines <= now fire at the next advance, repeatedly.
        let k = wheel.insert(u64::MAX, 1);
        let k2 = wheel.insert(5, 2);
        assert_eq!(wheel.next_expiration(), Some(u64::MAX));
        wheel.advance(u64::MAX, &mut out);
        assert_eq!(out.len(), 2);
        assert_eq!(wheel.remove(k), None);
        assert_eq!(wheel.remove(k2), None);
        assert_eq!(wheel.now(), u64::MAX);
        assert_eq!(wheel.next_expiration(), None);
    }

    /// A single advance to `u64::MAX` fires everything, in order, without overflow.
    #[test]
    fn advance_straight_to_u64_max_fires_everything() {
        let mut wheel = Wheel::new();
        let mut rng = Rng(99);
        for i in 0..500u64 {
            // Deadlines spread over all magnitudes, many in distinct 2^36 epochs.
            let deadline = (rng.next() >> (i % 64)).max(1);
            wheel.insert(deadline, deadline);
        }
        wheel.insert(u64::MAX, u64::MAX);
        wheel.insert(0, 0);
        let mut out = Vec::new();
        wheel.advance(u64::MAX, &mut out);
        assert_eq!(out.len(), 502);
        assert!(wheel.is_empty());
        assert_eq!(out[0].1, 0, "pending entry comes first");
        assert!(out.windows(2).all(|w| w[0].1 <= w[1].1), "deadline order");
        assert_eq!(out.last().map(|e| e.1), Some(u64::MAX));
    }

    /// Many overflow entries in distinct 2^36-tick epochs, crossed by one `advance`.
    #[test]
    fn jump_over_many_overflow_epochs_is_fast_and_ordered() {
        let mut wheel = Wheel::new();
        let mut rng = Rng(5);
        let n = 50_000u64;
        for i in 0..n {
            let deadline = ((i + 1) << 37) | rng.below(1 << 37);
            wheel.insert(deadline, deadline);
        }
        let mut out = Vec::new();
        let start = std::time::Instant::now();
        wheel.advance(n << 37, &mut out);
        assert_eq!(out.len() as u64, n - 1);
        assert!(out.windows(2).all(|w| w[0].1 <= w[1].1), "deadline order");
        assert!(out.iter().all(|e| e.1 < n << 37));
        assert_eq!(wheel.len(), 1);
        let left = wheel.next_expiration();
        assert!(left.is_some_and(|t| t > n << 37 && t <= (n << 37) | ((1 << 37) - 1)));
        out.clear();
        wheel.advance(u64::MAX, &mut out);
        assert_eq!(out.len(), 1);
        assert!(out[0].1 >= n << 37);
        assert!(start.elapsed() < std::time::Duration::from_secs(2));
    }

    /// 10^6 insert+remove cycles at now+3,600,000 reuse the same node; the slab stays tiny.
    #[test]
    fn million_insert_remove_cycles_keep_slab_tiny() {
        let mut wheel = Wheel::new();
        let anchor = wheel.insert(u64::MAX, 0u64);
        let mut last = None;
        for i in 0..1_000_000u64 {
            if i % 1000 == 0 {
                let mut out = Vec::new();
                wheel.advance(i * 7, &mut out);
                assert!(out.is_empty());
            }
            let deadline = wheel.now() + 3_600_000;
            let key = wheel.insert(deadline, i);
            assert_eq!(wheel.deadline(key), Some(deadline));
            assert_eq!(wheel.remove(key), Some(i));
            assert_eq!(wheel.remove(key), None);
            assert_ne!(Some(key), last, "a reused node must get a fresh key");
            last = Some(key);
        }
        assert_eq!(wheel.len(), 1);
        assert_eq!(wheel.slab.len(), 2);
        assert!(wheel.slab.capacity() <= 4);
        assert!(wheel
            .levels
            .iter()
            .chain(&wheel.odd)
            .all(|l| l.occupied == 0));
        assert_eq!(wheel.remove(anchor), Some(0));
        assert!(wheel.is_empty());
    }

    /// Keys of removed, fired or never-issued entries are rejected, even when the node is reused.
    #[test]
    fn stale_keys_are_detected() {
        let mut wheel = Wheel::new();
        let a = wheel.insert(5, 'a');
        assert_eq!(wheel.remove(a), Some('a'));
        let b = wheel.insert(5, 'b');
        assert_eq!(a.index, b.index, "node reused");
        assert_ne!(a, b);
        assert_eq!(wheel.remove(a), None);
        assert_eq!(wheel.deadline(a), None);
        assert_eq!(wheel.deadline(b), Some(5));
        let mut out = Vec::new();
        wheel.advance(5, &mut out);
        assert_eq!(out, [(b, 'b')]);
        assert_eq!(wheel.remove(b), None);
        let bogus = TimerKey {
            index: 12345,
            generation: 0,
        };
        assert_eq!(wheel.remove(bogus), None);
        assert_eq!(wheel.deadline(bogus), None);
    }

    /// Deadlines <= now fire at the next advance; advancing backwards does not move time back.
    #[test]
    fn past_deadlines_and_backwards_advance() {
        let mut wheel = Wheel::new();
        let mut out = Vec::new();
        wheel.advance(1000, &mut out);
        let k = wheel.insert(3, "past");
        wheel.insert(1000, "now");
        wheel.insert(1001, "future");
        assert_eq!(wheel.next_expiration(), Some(1000));
        assert_eq!(wheel.deadline(k), Some(3));
        wheel.advance(10, &mut out); // backwards: treated as 1000
        assert_eq!(wheel.now(), 1000);
        let mut got: Vec<&str> = out.iter().map(|e| e.1).collect();
        got.sort_unstable();
        assert_eq!(got, ["now", "past"]);
        out.clear();
        wheel.advance(1001, &mut out);
        assert_eq!(out.iter().map(|e| e.1).collect::<Vec<_>>(), ["future"]);
    }

    /// Unlinking the head, middle and tail of a slot list keeps the other entries intact.
    #[test]
    fn same_slot_removal_keeps_neighbours() {
        let mut wheel = Wheel::new();
        let keys: Vec<TimerKey> = (0..5u32).map(|i| wheel.insert(100, i)).collect();
        assert_eq!(wheel.remove(keys[2]), Some(2)); // middle
        assert_eq!(wheel.remove(keys[4]), Some(4)); // head (pushed last)
        assert_eq!(wheel.remove(keys[0]), Some(0)); // tail
        let mut out = Vec::new();
        wheel.advance(100, &mut out);
        let mut got: Vec<u32> = out.iter().map(|e| e.1).collect();
        got.sort_unstable();
        assert_eq!(got, [1, 3]);
        // Removing the only entry of a slot clears its occupancy bit.
        let k = wheel.insert(5000, 9);
        assert_ne!(wheel.levels[2].occupied, 0);
        assert_eq!(wheel.remove(k), Some(9));
        assert!(wheel
            .levels
            .iter()
            .chain(&wheel.odd)
            .all(|l| l.occupied == 0));
        assert_eq!(wheel.next_expiration(), None);
    }

    /// next_expiration is never after the earliest deadline and advancing to it makes progress.
    #[test]
    fn next_expiration_bounds_and_progress() {
        let mut rng = Rng(0x1234_5678);
        let mut wheel = Wheel::new();
        let mut deadlines: HashMap<u32, u64> = HashMap::new();
        for id in 0..3000u32 {
            let d = match id % 4 {
                0 => rng.below(1 << 12),
                1 => rng.below(1 << 24),
                2 => rng.below(1 << 40),
                _ => rng.next(),
            };
            wheel.insert(d, id);
            deadlines.insert(id, d);
        }
        let mut out = Vec::new();
        let mut iterations = 0u64;
        while let Some(next) = wheel.next_expiration() {
            iterations += 1;
            let earliest = deadlines.values().copied().min();
            assert!(
                Some(next) <= earliest,
                "next_expiration later than earliest deadline"
            );
            assert!(next >= wheel.now());
            out.clear();
            wheel.advance(next, &mut out);
            wheel.prepare();
            for (_, id) in &out {
                assert!(deadlines.remove(id).is_some_and(|d| d <= next));
            }
            // Progress: something fired, or the next event moved strictly forward.
            assert!(!out.is_empty() || wheel.next_expiration().map_or(true, |n| n > next));
        }
        assert!(deadlines.is_empty());
        assert!(wheel.is_empty());
        // Each entry moves at most 6 levels (plus overflow epochs), so this stays small.
        assert!(iterations < 3000 * 8, "{iterations} iterations");
    }

    /// Empty and sparse wheels jump across 10^9 ticks and beyond without per-tick work.
    #[test]
    fn huge_jumps_are_fast() {
        let mut wheel: Wheel<u32> = Wheel::new();
        let mut out = Vec::new();
        wheel.advance(1_000_000_000, &mut out); // empty
        assert!(out.is_empty());
        assert_eq!(wheel.now(), 1_000_000_000);
        for i in 0..100u32 {
            wheel.insert(1_000_000_000 + u64::from(i) * 10_000_000, i);
        }
        for step in 1..=1000u64 {
            wheel.advance(1_000_000_000 + step * 1_000_000, &mut out);
        }
        assert_eq!(out.len(), 100);
        assert!(out.iter().enumerate().all(|(i, e)| e.1 == i as u32));
        assert_eq!(wheel.next_expiration(), None);
        let start = std::time::Instant::now();
        wheel.insert(u64::MAX / 2, 7);
        wheel.advance(u64::MAX, &mut out);
        assert_eq!(out.len(), 101);
        assert!(start.elapsed() < std::time::Duration::from_secs(1));
    }
}
