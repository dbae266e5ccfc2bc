//! Waiting for benchmark items: a countdown latch, a counter of jobs in flight, a
//! gate that holds threads, and a sleeping poll for set-up waits.
//!
//! Every wait here blocks (a condition variable) or sleeps: a measuring thread
//! never spins or yields while the systems under test run, so it takes no CPU
//! from them on a machine with as many cores as the pools have threads.

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

/// Jobs submitted and not finished; [`wait_zero`](InFlight::wait_zero) blocks
/// until none is left. Entering and leaving are one atomic operation each; only
/// the leave that ends at zero takes the lock (to wake the waiter).
pub(crate) struct InFlight {
    count: AtomicUsize,
    lock: Mutex<()>,
    cv: Condvar,
}

impl InFlight {
    pub(crate) fn new() -> InFlight {
        InFlight {
            count: AtomicUsize::new(0),
            lock: Mutex::new(()),
            cv: Condvar::new(),
        }
    }

    /// One more job in flight (before it is submitted).
    pub(crate) fn enter(&self) {
        self.count.fetch_add(1, Ordering::AcqRel);
    }

    /// One job finished; the last one wakes the waiter.
    pub(crate) fn leave(&self) {
        if self.count.fetch_sub(1, Ordering::AcqRel) == 1 {
            // Under the lock, so a waiter that saw a non-zero count is already
            // waiting when the notify comes.
            drop(self.lock.lock().unwrap_or_else(PoisonError::into_inner));
            self.cv.notify_all();
        }
    }

    /// Blocks until no job is in flight or `timeout` passed; returns whether none is.
    pub(crate) fn wait_zero(&self, timeout: Duration) -> bool {
        let guard = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
        let (guard, _) = self
            .cv
            .wait_timeout_while(guard, timeout, |_| self.count.load(Ordering::Acquire) != 0)
            .unwrap_or_else(PoisonError::into_inner);
        drop(guard);
        self.count.load(Ordering::Acquire) == 0
    }
}

impl Default for InFlight {
    fn default() -> InFlight {
        InFlight::new()
    }
}

/// Holds every thread that calls [`pass`](Gate::pass) until [`open`](Gate::open);
/// counts the threads held.
pub(crate) struct Gate {
    /// (open, threads held).
    state: Mutex<(bool, usize)>,
    cv: Condvar,
}

impl Gate {
    pub(crate) fn new() -> Gate {
        Gate {
            state: Mutex::new((false, 0)),
            cv: Condvar::new(),
        }
    }

    /// Blocks until the gate opens.
    pub(crate) fn pass(&self) {
        let mut guard = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        guard.1 += 1;
        self.cv.notify_all();
        drop(
            self.cv
                .wait_while(guard, |s| !s.0)
                .unwrap_or_else(PoisonError::into_inner),
        );
    }

    /// Blocks until `n` threads are held (or 5 s passed).
    pub(crate) fn wait_held(&self, n: usize) {
        let guard = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        drop(
            self.cv
                .wait_timeout_while(guard, Duration::from_secs(5), |s| s.1 < n)
                .unwrap_or_else(PoisonError::into_inner),
        );
    }

    /// Lets every thread through, now and later.
    pub(crate) fn open(&self) {
        self.state.lock().unwrap_or_else(PoisonError::into_inner).0 = true;
        self.cv.notify_all();
    }
}

/// Polls `ready`, sleeping between polls (20 µs, doubling up to 1 ms), until it
/// is true or `timeout` passed; returns its last answer. For set-up and
/// tear-down waits on things that cannot notify (the thread count in `/proc`, an
/// `Arc`'s count), never inside a measured interval: it neither spins nor yields.
pub(crate) fn wait_until(timeout: Duration, mut ready: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    let mut nap = Duration::from_micros(20);
    loop {
        if ready() {
            return true;
        }
        if start.elapsed() >= timeout {
            return ready();
        }
        std::thread::sleep(nap);
        nap = (nap * 2).min(Duration::from_millis(1));
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
        let flight = Arc::new(InFlight::new());
        flight.enter();
        let f2 = flight.clone();
        let t = std::thread::spawn(move || f2.leave());
        assert!(flight.wait_zero(Duration::from_secs(5)));
        t.join().expect("join");
        assert!(Countdown::new(0).wait_timeout(Duration::ZERO));
    }
}
