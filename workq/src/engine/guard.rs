//! The queue lock's guard. After releasing the lock it wakes the consumers and
//! the async waiters that a change made while it was held asked for: a woken
//! consumer does not then block on the lock the waker still holds, and an
//! executor's waker (user code) never runs under a workq lock.

use super::{QueueState, RunQueue};
use crate::support::sync::{wait, wait_timeout, Arc, Condvar, MutexGuard};
use std::ops::{Deref, DerefMut};
use std::task::Waker;
use std::time::Duration;

/// A held queue lock.
pub(crate) struct QueueGuard<'a> {
    queue: &'a RunQueue,
    /// Always `Some` until the guard is consumed (by a wait or its drop).
    inner: Option<MutexGuard<'a, QueueState>>,
}

impl<'a> QueueGuard<'a> {
    /// Locks `queue`.
    pub(crate) fn lock(queue: &'a RunQueue) -> QueueGuard<'a> {
        let mut g = crate::support::sync::lock(&queue.state);
        // Items queued through the inbox since the last lock: onto the lists.
        queue.unshelve(&mut g);
        QueueGuard {
            queue,
            inner: Some(g),
        }
    }

    /// Locks `queue` without emptying its inbox (the consumer loop's lock).
    ///
    /// Several consumers of one queue take its lock once per item each, so they
    /// keep meeting on it. A std mutex that a thread has slept on stays marked
    /// contended and makes a wake-up system call on each unlock while the
    /// consumers keep taking turns; trying without sleeping first avoids those
    /// calls. A single consumer meets only queue calls and the timer on the
    /// lock, and takes it plainly: spinning there would take CPU from the
    /// timer's delivery. (Numbers: docs/design-notes.md.)
    pub(crate) fn lock_consumer(queue: &'a RunQueue) -> QueueGuard<'a> {
        let g = if queue.single_consumer {
            crate::support::sync::lock(&queue.state)
        } else {
            crate::support::sync::lock_spinning(&queue.state)
        };
        QueueGuard {
            queue,
            inner: Some(g),
        }
    }

    /// Waits on `cv` (with an optional timeout). If async waiters are due to be
    /// woken, wakes them with the lock released and returns at once instead (a
    /// spurious wake-up: every caller re-checks its condition in a loop).
    pub(crate) fn wait(mut self, cv: &Condvar, timeout: Option<Duration>) -> QueueGuard<'a> {
        let Some(mut g) = self.inner.take() else {
            return self;
        };
        // The inbox opens or closes with the lock released; if closing it moved
        // items onto the lists, the caller looks again instead of waiting.
        let moved = self.queue.sync_inbox(&mut g);
        if moved || g.waits.has_due() || g.sleepers.has_to_notify() {
            let (wake, mut notify) = g.waits.take_due();
            g.sleepers.take_to_notify(&mut notify);
            drop(g);
            self.wake(wake, notify);
            return QueueGuard::lock(self.queue);
        }
        let g = match timeout {
            Some(t) => wait_timeout(cv, g, t),
            None => wait(cv, g),
        };
        self.inner = Some(g);
        self
    }
}

impl QueueGuard<'_> {
    /// Wakes the `notify` consumers and the `wakers` (no lock held).
    fn wake(&self, wakers: Vec<Waker>, notify: Vec<Arc<Condvar>>) {
        for consumer in notify {
            consumer.notify_one();
        }
        for w in wakers {
            // An executor's waker is user code: a panic in it must not end a
            // workq thread.
            crate::support::panic::quietly(move || w.wake());
        }
    }
}

impl Deref for QueueGuard<'_> {
    type Target = QueueState;

    fn deref(&self) -> &QueueState {
        match &self.inner {
            Some(g) => g,
            None => unreachable!("a queue guard is used after it was consumed"),
        }
    }
}

impl DerefMut for QueueGuard<'_> {
    fn deref_mut(&mut self) -> &mut QueueState {
        match &mut self.inner {
            Some(g) => g,
            None => unreachable!("a queue guard is used after it was consumed"),
        }
    }
}

impl Drop for QueueGuard<'_> {
    fn drop(&mut self) {
        if let Some(mut g) = self.inner.take() {
            self.queue.sync_inbox(&mut g);
            if !g.waits.has_due() && !g.sleepers.has_to_notify() {
                return;
            }
            let (wake, mut notify) = g.waits.take_due();
            g.sleepers.take_to_notify(&mut notify);
            drop(g);
            self.wake(wake, notify);
        }
    }
}
