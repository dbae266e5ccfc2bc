//! What the queue's lock holder knows of the inbox's shelf (see `inbox.rs`).

use crate::engine::item::WorkInner;
use crate::support::sync::Arc;

/// The shelf's flags as last published, and a spare vector to move it with
/// (behind the queue's lock; the shelf itself has its own lock).
#[derive(Default)]
pub(crate) struct ShelfMirror {
    /// Whether the shelf is open.
    open: bool,
    /// Whether the queue admits every thread's calls, as last published.
    admit: bool,
    /// An empty vector swapped with the shelf to move it (keeps its capacity).
    spare: Vec<Arc<WorkInner>>,
}

impl ShelfMirror {
    /// Records the flags to publish: returns false when they are unchanged
    /// (nothing to publish).
    #[inline]
    pub(crate) fn set(&mut self, open: bool, admit: bool) -> bool {
        if open == self.open && admit == self.admit {
            return false;
        }
        self.open = open;
        self.admit = admit;
        true
    }

    /// Takes the spare vector (empty).
    pub(crate) fn take_spare(&mut self) -> Vec<Arc<WorkInner>> {
        std::mem::take(&mut self.spare)
    }

    /// Keeps `v` (emptied) as the spare.
    pub(crate) fn keep_spare(&mut self, v: Vec<Arc<WorkInner>>) {
        debug_assert!(v.is_empty(), "spare: a vector kept that still holds items");
        self.spare = v;
    }

    /// Gives back the spare's room.
    pub(crate) fn release(&mut self) {
        self.spare = Vec::new();
    }
}
