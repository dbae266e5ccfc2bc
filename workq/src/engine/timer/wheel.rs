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
                if best.is_none_or(|(t, _)| tick <= t) {
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
mod tests;
