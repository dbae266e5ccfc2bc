//! The settings of one queue call, as one value: when its run is due, which pool
//! owner it is counted for, and what it does about the queue's bound on waiting
//! items. Front ends build a [`QueueCall`]; the engine's queue path passes it
//! down unchanged.

use std::num::NonZeroU32;

/// A pool owner ([`Owner`](crate::Owner)): the items it queues are counted for it
/// while they are pending or running, so that its unregister can wait for them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct OwnerId(NonZeroU32);

impl OwnerId {
    #[inline]
    /// The owner with number `raw`; `None` for 0 (no owner).
    pub(crate) fn new(raw: u32) -> Option<OwnerId> {
        NonZeroU32::new(raw).map(OwnerId)
    }

    #[inline]
    /// The owner's number (never 0).
    pub(crate) fn get(self) -> u32 {
        self.0.get()
    }
}

/// What a queue call does about a bound on waiting items.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Limit {
    /// No bound applies (workers, unbounded pools, timers, re-queues).
    Ignore,
    /// A full queue fails the call with `Error::Full`.
    Try,
    /// A full queue blocks the call until there is room.
    Block,
    /// A workq-internal item (a workqueue's pump): no bound applies, and a queue
    /// that is closing or draining still takes it (it carries work the queue
    /// accepted earlier); only a stopped queue refuses it.
    Internal,
}

/// The settings of one queue call (or `modify`).
///
/// `QueueCall::NOW` is the plain call: run as soon as possible, no owner, no
/// bound. The builder methods change one setting each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct QueueCall {
    /// The timer tick the run is due at; `None`: now (on the list).
    due: Option<u64>,
    /// The owner the item is counted for while it is bound.
    owner: Option<OwnerId>,
    /// What the call does when the queue's bound on waiting items is reached.
    limit: Limit,
}

impl QueueCall {
    /// Run now, no owner, no bound.
    pub(crate) const NOW: QueueCall = QueueCall {
        due: None,
        owner: None,
        limit: Limit::Ignore,
    };

    #[inline]
    /// Due at timer tick `due` (`None`: now); see `Timer::due_at` and
    /// `Timer::due_after` for the tick of a deadline or delay.
    pub(crate) fn due(self, due: Option<u64>) -> QueueCall {
        QueueCall { due, ..self }
    }

    #[inline]
    /// Counted for `owner` while bound.
    pub(crate) fn owner(self, owner: Option<OwnerId>) -> QueueCall {
        QueueCall { owner, ..self }
    }

    #[inline]
    /// Honours the queue's bound on waiting items as `limit` says.
    pub(crate) fn limit(self, limit: Limit) -> QueueCall {
        QueueCall { limit, ..self }
    }

    #[inline]
    /// Keeps the call's limit on a queue with a bound on waiting items
    /// (`bounded`); drops it on one without, so that the call stays plain and
    /// keeps the lock-free paths.
    pub(crate) fn limit_if_bounded(self, bounded: bool) -> QueueCall {
        if bounded {
            self
        } else {
            self.limit(Limit::Ignore)
        }
    }

    #[inline]
    /// The timer tick the run is due at; `None`: now.
    pub(crate) fn due_tick(&self) -> Option<u64> {
        self.due
    }

    #[inline]
    /// Whether the run waits for the timer.
    pub(crate) fn is_delayed(&self) -> bool {
        self.due.is_some()
    }

    #[inline]
    /// The owner the item is counted for.
    pub(crate) fn owner_id(&self) -> Option<OwnerId> {
        self.owner
    }

    #[inline]
    /// What the call does about the bound on waiting items.
    pub(crate) fn limit_kind(&self) -> Limit {
        self.limit
    }

    #[inline]
    /// A call with nothing to book or wait for: due now, no owner, no bound.
    /// Only such a call may take the lock-free paths (the inbox, an unlocked
    /// rerun).
    pub(crate) fn is_plain(&self) -> bool {
        *self == QueueCall::NOW
    }
}

#[cfg(all(test, not(any(loom, shuttle))))]
mod tests {
    use super::*;

    #[test]
    fn owner_ids_are_never_zero_and_calls_compose() {
        assert_eq!(OwnerId::new(0), None);
        assert_eq!(OwnerId::new(7).map(OwnerId::get), Some(7));
        let call = QueueCall::NOW
            .due(Some(3))
            .owner(OwnerId::new(7))
            .limit(Limit::Try);
        assert_eq!(call.due_tick(), Some(3));
        assert!(call.is_delayed());
        assert_eq!(call.owner_id(), OwnerId::new(7));
        assert_eq!(call.limit_kind(), Limit::Try);
        assert!(!call.is_plain());
        assert!(QueueCall::NOW.is_plain());
        assert!(!QueueCall::NOW.limit(Limit::Block).is_plain());
    }
}
