//! Cancelling a pool owner's items (`Owner::unregister_cancel`): every pending
//! run of the items counted for the owner is removed, and the items running now
//! may not queue themselves again until the owner's count is zero.
//!
//! The queue keeps only a count per owner, not its items, so each pass looks
//! where a counted item can be: running (the consumers' slots), waiting (the
//! lists) or armed (the timer). An item the timer is delivering at that moment
//! is in none of them; it is found by the next pass, which runs whenever a run
//! ends, until the count is zero.

use super::{OwnerId, QueueState, RunQueue};
use crate::engine::item::WorkInner;
use crate::support::sync::{lock, Arc};

/// A cancel of one owner's items in progress.
pub(crate) struct OwnerCancel {
    owner: OwnerId,
    /// Running items of the owner whose queue calls fail with `Error::Canceling`
    /// (one `CANCEL_ONE` each) until `end`: a run cannot queue its item again
    /// after its pending run was removed.
    blocked: Vec<Arc<WorkInner>>,
    /// References taken off the lists and the timer, dropped with no lock held.
    stash: Vec<Arc<WorkInner>>,
    /// Pending runs removed.
    removed: usize,
}

impl OwnerCancel {
    pub(crate) fn new(owner: OwnerId) -> OwnerCancel {
        OwnerCancel {
            owner,
            blocked: Vec::new(),
            stash: Vec::new(),
            removed: 0,
        }
    }

    /// Pending runs removed so far.
    pub(crate) fn removed(&self) -> usize {
        self.removed
    }

    /// One pass, with `q`'s lock held: blocks the queue calls of the owner's
    /// running items first (so none adds a run after the removal), then removes
    /// the pending runs of all its items. Returns whether items are still counted
    /// for the owner (runs in progress, or an item being delivered by the timer).
    pub(crate) fn pass(&mut self, q: &RunQueue, g: &mut QueueState) -> bool {
        let (owner, id) = (self.owner, q.id);
        let mine = |w: &WorkInner| w.owner() == Some(owner) && w.state.peek().is_on(id);
        let running: Vec<Arc<WorkInner>> = g
            .threads
            .slots()
            .filter_map(|s| s.running())
            .filter(|w| mine(w) && !self.blocked.iter().any(|b| Arc::ptr_eq(b, w)))
            .cloned()
            .collect();
        for w in running {
            // Saturated: 4,095 cancels are in progress, its queue calls fail anyway.
            if w.state.cancel_enter().is_ok() {
                self.blocked.push(w);
            }
        }
        q.unshelve(g);
        let mut found: Vec<Arc<WorkInner>> = g
            .lists
            .iter()
            .map(|e| &e.work)
            .filter(|w| mine(w))
            .cloned()
            .collect();
        let armed = q
            .timer
            .remove_where(|w| mine(w) && w.state.peek().is_armed());
        found.extend(armed.into_iter().map(|(_, w)| w));
        for w in found.iter().chain(&self.blocked) {
            let (removed, stash) = take_pending(q, g, w);
            self.removed += usize::from(removed);
            self.stash.extend(stash);
        }
        self.stash.extend(found);
        g.owned(owner) > 0
    }

    /// Lets the blocked items be queued again and drops the references taken
    /// (no lock held: a closure's drop is user code).
    pub(crate) fn end(self, q: &RunQueue) {
        for w in &self.blocked {
            w.state.cancel_exit();
        }
        q.release((self.blocked, self.stash));
    }
}

/// Removes the pending run of `w` if it is still bound to `q` (queue lock held).
fn take_pending(
    q: &RunQueue,
    g: &mut QueueState,
    w: &Arc<WorkInner>,
) -> (bool, Option<Arc<WorkInner>>) {
    let mut binding = lock(&w.binding);
    if w.state.peek().is_on(q.id) {
        q.take_pending(g, &mut binding, w)
    } else {
        (false, None)
    }
}
