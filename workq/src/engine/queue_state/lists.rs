//! The run lists of a queue: runnable items in queueing order, with the very
//! slow and high-priority ones of an elastic queue apart.

use super::Waiting;
use crate::engine::item::{Class, WorkInner};
use crate::support::sync::Arc;
use std::collections::VecDeque;

/// Runnable items (`PENDING`, not `RUNNING`, not `ARMED`), behind the queue's
/// lock.
#[derive(Default)]
pub(crate) struct Lists {
    /// Ordinary items (and every item of a queue that is not elastic).
    ordinary: VecDeque<Waiting>,
    /// Very slow items of an elastic queue: at most a share of its threads.
    very_slow: VecDeque<Waiting>,
    /// High-priority items of an elastic queue, taken first.
    high: VecDeque<Waiting>,
}

impl Lists {
    /// Puts a runnable item at the tail of the list for its class (`elastic`:
    /// the queue keeps separate lists for very slow and high-priority items).
    #[inline]
    pub(crate) fn push(&mut self, entry: Waiting, elastic: bool) {
        match (entry.work.class, elastic) {
            (Class::VerySlow, true) => self.very_slow.push_back(entry),
            (Class::High, true) => self.high.push_back(entry),
            _ => self.ordinary.push_back(entry),
        }
    }

    /// Appends ordinary items (a batch from the inbox).
    pub(crate) fn extend_ordinary(&mut self, entries: impl Iterator<Item = Waiting>) {
        self.ordinary.extend(entries);
    }

    /// Takes the first high-priority item.
    #[inline]
    pub(crate) fn pop_high(&mut self) -> Option<Waiting> {
        self.high.pop_front()
    }

    /// Whether a very slow item waits.
    #[inline]
    pub(crate) fn has_very_slow(&self) -> bool {
        !self.very_slow.is_empty()
    }

    /// Takes the first very slow item.
    #[inline]
    pub(crate) fn pop_very_slow(&mut self) -> Option<Waiting> {
        self.very_slow.pop_front()
    }

    /// Takes the first ordinary item.
    #[inline]
    pub(crate) fn pop_ordinary(&mut self) -> Option<Waiting> {
        self.ordinary.pop_front()
    }

    /// Whether an ordinary or high-priority item waits (no cap applies to them).
    #[inline]
    pub(crate) fn has_uncapped(&self) -> bool {
        !self.ordinary.is_empty() || !self.high.is_empty()
    }

    /// Items waiting.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.ordinary.len() + self.very_slow.len() + self.high.len()
    }

    /// Every waiting entry, in the order the view shows them (high priority,
    /// very slow, ordinary).
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Waiting> {
        self.high
            .iter()
            .chain(self.very_slow.iter())
            .chain(self.ordinary.iter())
    }

    /// The first entry of each list (the oldest of its kind).
    pub(crate) fn fronts(&self) -> impl Iterator<Item = &Waiting> {
        [&self.ordinary, &self.very_slow, &self.high]
            .into_iter()
            .filter_map(VecDeque::front)
    }

    /// Removes `work` from whichever list holds it.
    pub(crate) fn unlist(&mut self, work: &Arc<WorkInner>) -> Option<Waiting> {
        for list in [&mut self.ordinary, &mut self.very_slow, &mut self.high] {
            if let Some(at) = list.iter().position(|w| Arc::ptr_eq(&w.work, work)) {
                return list.remove(at);
            }
        }
        None
    }

    /// Takes every entry, high priority first (a shutdown's discard).
    pub(crate) fn take_all(&mut self) -> [VecDeque<Waiting>; 3] {
        [
            std::mem::take(&mut self.high),
            std::mem::take(&mut self.very_slow),
            std::mem::take(&mut self.ordinary),
        ]
    }

    /// Gives back the room of empty lists.
    pub(crate) fn shrink(&mut self) {
        for list in [&mut self.ordinary, &mut self.very_slow, &mut self.high] {
            list.shrink_to_fit();
        }
    }
}
