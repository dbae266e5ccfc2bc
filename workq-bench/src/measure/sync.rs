//! Waiting for benchmark items: a countdown latch, a gate that holds threads, and
//! spin helpers.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Counts down from `n`; [`wait`](Countdown::wait) returns once it reached zero.
/// The hits are one atomic operation each; only the last one takes the lock.
pub(crate) struct Countdown {
    left: AtomicUsize,
    done: Mutex<bool>,
    cv: Condvar,
}

impl Countdown {
    pub(crate) const fn new(n: usize) -> Countdown {
        Countdown {
            left: AtomicUsize::new(n),
            done: Mutex::new(n == 0),
            cv: Condvar::new(),
        }
    }

    /// Starts counting down from `n` again (no hit may be in flight).
    pub(crate) fn reset(&self, n: usize) {
        *self.done.lock().unwrap_or_else(PoisonError::into_inner) = n == 0;
        self.left.store(n, Ordering::Release);
    }

    /// One hit; the last one wakes the waiters.
    pub(crate) fn hit(&self) {
        if self.left.fetch_sub(1, Ordering::AcqRel) == 1 {
            *self.done.lock().unwrap_or_else(PoisonError::into_inner) = true;
            self.cv.notify_all();
        }
    }

    /// Hits left.
    pub(crate) fn left(&self) -> usize {
        self.left.load(Ordering::Acquire)
    }

    /// Waits until every hit came, or `timeout` passed; returns whether all came.
    pub(crate) fn wait_timeout(&self, timeout: Duration) -> bool {
        let guard = self.done.lock().unwrap_or_else(PoisonError::into_inner);
        let (guard, _) = self
            .cv
            .wait_timeout_while(guard, timeout, |done| !*done)
            .unwrap_or_else(PoisonError::into_inner);
        *guard
    }
}

/// Holds every thread that calls [`pass`](Gate::pass) until [`open`](Gate::open);
/// counts the threads held.
pub(crate) struct Gate {
    open: Mutex<bool>,
    cv: Condvar,
    held: AtomicUsize,
}

impl Gate {
    pub(crate) fn new() -> Gate {
        Gate {
            open: Mutex::new(false),
            cv: Condvar::new(),
            held: AtomicUsize::new(0),
        }
    }

    /// Blocks until the gate opens.
    pub(crate) fn pass(&self) {
        self.held.fetch_add(1, Ordering::AcqRel);
        let guard = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        drop(
            self.cv
                .wait_while(guard, |open| !*open)
                .unwrap_or_else(PoisonError::into_inner),
        );
    }

    /// Waits until `n` threads are held (or 5 s passed).
    pub(crate) fn wait_held(&self, n: usize) {
        wait_until(Duration::from_secs(5), || {
            self.held.load(Ordering::Acquire) >= n
        });
    }

    /// Lets every thread through, now and later.
    pub(crate) fn open(&self) {
        *self.open.lock().unwrap_or_else(PoisonError::into_inner) = true;
        self.cv.notify_all();
    }
}

/// Polls `ready` (spinning briefly, then yielding, then sleeping) until it is true
/// or `timeout` passed; returns its last answer.
pub(crate) fn wait_until(timeout: Duration, mut ready: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    let mut polls: u32 = 0;
    loop {
        if ready() {
            return true;
        }
        polls = polls.saturating_add(1);
        if polls < 200 {
            std::hint::spin_loop();
        } else if polls < 2_000 {
            std::thread::yield_now();
        } else {
            if start.elapsed() >= timeout {
                return ready();
            }
            std::thread::sleep(Duration::from_micros(50));
        }
    }
}

/// Busy-waits for `d` (a stand-in for a short piece of real work).
pub(crate) fn busy(d: Duration) {
    let start = Instant::now();
    while start.elapsed() < d {
        std::hint::spin_loop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn countdown_and_gate() {
        let c = Arc::new(Countdown::new(2));
        let gate = Arc::new(Gate::new());
        let (c2, g2) = (c.clone(), gate.clone());
        let t = std::thread::spawn(move || {
            g2.pass();
            c2.hit();
            c2.hit();
        });
        gate.wait_held(1);
        assert_eq!(c.left(), 2);
        gate.open();
        assert!(c.wait_timeout(Duration::from_secs(5)));
        t.join().expect("join");
        assert!(wait_until(Duration::from_millis(10), || true));
        assert!(Countdown::new(0).wait_timeout(Duration::ZERO));
    }
}
