//! The queue lock's guard. It wakes the async waiters that a change made while
//! it was held, *after* releasing the lock: an executor's waker is user code and
//! never runs under a workq lock.

use super::QueueState;
use crate::sync::{wait, wait_timeout, Condvar, Mutex, MutexGuard};
use std::ops::{Deref, DerefMut};
use std::task::Waker;
use std::time::Duration;

/// A held queue lock.
pub(crate) struct QueueGuard<'a> {
    mutex: &'a Mutex<QueueState>,
    /// Always `Some` until the guard is consumed (by a wait or its drop).
    inner: Option<MutexGuard<'a, QueueState>>,
}

impl<'a> QueueGuard<'a> {
    /// Locks `mutex`.
    pub(crate) fn lock(mutex: &'a Mutex<QueueState>) -> QueueGuard<'a> {
        QueueGuard {
            mutex,
            inner: Some(crate::sync::lock(mutex)),
        }
    }

    /// Waits on `cv` (with an optional timeout). If async waiters are due to be
    /// woken, wakes them with the lock released and returns at once instead (a
    /// spurious wake-up: every caller re-checks its condition in a loop).
    pub(crate) fn wait(mut self, cv: &Condvar, timeout: Option<Duration>) -> QueueGuard<'a> {
        let Some(mut g) = self.inner.take() else {
            return self;
        };
        if !g.to_wake.is_empty() {
            let wake = std::mem::take(&mut g.to_wake);
            drop(g);
            wake_all(wake);
            return QueueGuard::lock(self.mutex);
        }
        let g = match timeout {
            Some(t) => wait_timeout(cv, g, t),
            None => wait(cv, g),
        };
        self.inner = Some(g);
        self
    }
}

fn wake_all(wakers: Vec<Waker>) {
    for w in wakers {
        w.wake();
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
            let wake = std::mem::take(&mut g.to_wake);
            drop(g);
            wake_all(wake);
        }
    }
}
