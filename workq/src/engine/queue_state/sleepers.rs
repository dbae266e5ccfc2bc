//! The queue's idle consumers and how they are woken.

use crate::support::sync::{Arc, Condvar};

/// Consumers that wait for work, and items that wait for a thread to be needed
/// (behind the queue's lock).
///
/// | field         | up                                 | down                                  |
/// |---------------|------------------------------------|---------------------------------------|
/// | `idle`        | a consumer parks (`park`)          | it wakes (`unpark`)                   |
/// | `parked`      | `park` pushes its condvar          | `wake_one`/`wake_all` pop; `unpark` removes a timed-out one |
/// | `notified`    | a wake-up pops a parked consumer   | that consumer wakes (`unpark`)        |
/// | `spinning`    | a consumer watches without the lock (`begin_spin`) | it stops (`end_spin`) |
/// | `spin_claims` | an item pushed while one spins     | capped at `spinning` by `end_spin`    |
/// | `needed`      | an item sleeps till its thread is needed | it wakes                        |
/// | `to_notify`   | a wake-up, sent once the lock is released (`take_to_notify`) | |
///
/// `idle - notified` consumers are parked and not yet woken; a wake-up goes to
/// the consumer that parked last (its CPU and caches are the warmest, and the
/// others can reach their idle timeout).
#[derive(Debug, Default)]
pub(crate) struct Sleepers {
    idle: usize,
    notified: usize,
    parked: Vec<Arc<Condvar>>,
    spinning: usize,
    spin_claims: usize,
    needed: usize,
    to_notify: Vec<Arc<Condvar>>,
    /// Wake-ups sent to parked consumers so far (tests).
    #[cfg(all(test, not(any(loom, shuttle))))]
    wakeups: u64,
}

impl Sleepers {
    /// Whether no parked consumer is left to wake: every idle one was woken.
    #[inline]
    pub(crate) fn none_asleep(&self) -> bool {
        self.idle <= self.notified
    }

    /// Whether no consumer is free to take one more item: none asleep, and every
    /// spinning one has an item claimed.
    #[inline]
    pub(crate) fn none_free(&self) -> bool {
        self.none_asleep() && self.spinning <= self.spin_claims
    }

    /// Consumers parked or woken and not yet running.
    pub(crate) fn idle(&self) -> usize {
        self.idle
    }

    /// Whether items sleep till their thread is needed.
    #[inline]
    pub(crate) fn has_needed(&self) -> bool {
        self.needed > 0
    }

    /// Hands one more runnable item to a free consumer: a spinning one claims it,
    /// else the consumer parked last is woken (once the lock is released).
    /// Returns false when no consumer is free.
    #[inline]
    pub(crate) fn wake_one(&mut self) -> bool {
        if self.spinning > self.spin_claims {
            self.spin_claims += 1;
            return true;
        }
        let Some(consumer) = self.parked.pop() else {
            return false;
        };
        self.notified += 1;
        #[cfg(all(test, not(any(loom, shuttle))))]
        {
            self.wakeups += 1;
        }
        self.to_notify.push(consumer);
        true
    }

    /// Wakes every parked consumer (once the lock is released).
    pub(crate) fn wake_all(&mut self) {
        self.notified += self.parked.len();
        self.to_notify.append(&mut self.parked);
    }

    /// A consumer watches the queue without the lock.
    pub(crate) fn begin_spin(&mut self) {
        self.spinning += 1;
    }

    /// A consumer stopped watching: claims beyond the watchers left lapse.
    pub(crate) fn end_spin(&mut self) {
        debug_assert!(
            self.spinning > 0,
            "spinning: a spinning consumer stopped that was not counted"
        );
        self.spinning -= 1;
        self.spin_claims = self.spin_claims.min(self.spinning);
    }

    /// A consumer parks on `park` (then waits on it).
    pub(crate) fn park(&mut self, park: &Arc<Condvar>) {
        self.idle += 1;
        self.parked.push(park.clone());
    }

    /// The consumer parked on `park` woke: by a wake-up, or by its timeout (or
    /// spuriously) while still parked.
    pub(crate) fn unpark(&mut self, park: &Arc<Condvar>) {
        debug_assert!(
            self.idle > 0,
            "idle: an idle consumer woke that was not counted"
        );
        self.idle -= 1;
        match self.parked.iter().rposition(|p| Arc::ptr_eq(p, park)) {
            Some(at) => {
                self.parked.remove(at);
            }
            // Taken off the stack by a wake-up: this consumer has taken it.
            None => {
                debug_assert!(
                    self.notified > 0,
                    "notified: a wake-up was taken that was not counted"
                );
                self.notified -= 1;
            }
        }
    }

    /// An item begins to sleep till its thread is needed.
    pub(crate) fn begin_needed(&mut self) {
        self.needed += 1;
    }

    /// An item sleeping till its thread is needed woke.
    pub(crate) fn end_needed(&mut self) {
        debug_assert!(
            self.needed > 0,
            "needed: a sleeper left that was not counted"
        );
        self.needed -= 1;
    }

    /// Whether wake-ups wait to be sent.
    #[inline]
    pub(crate) fn has_to_notify(&self) -> bool {
        !self.to_notify.is_empty()
    }

    /// Moves the wake-ups to send into `out` (sent once the lock is released).
    pub(crate) fn take_to_notify(&mut self, out: &mut Vec<Arc<Condvar>>) {
        out.append(&mut self.to_notify);
    }

    /// Wake-ups sent to parked consumers so far.
    #[cfg(all(test, not(any(loom, shuttle))))]
    pub(crate) fn wakeups(&self) -> u64 {
        self.wakeups
    }
}

#[cfg(all(test, not(any(loom, shuttle))))]
mod tests {
    use super::*;

    #[test]
    fn a_wake_up_goes_to_a_spinner_first_then_the_last_parked() {
        let mut s = Sleepers::default();
        let (a, b) = (Arc::new(Condvar::new()), Arc::new(Condvar::new()));
        s.park(&a);
        s.park(&b);
        s.begin_spin();
        assert!(!s.none_free());
        assert!(s.wake_one()); // claimed by the spinner
        assert_eq!(s.wakeups(), 0);
        assert!(s.wake_one()); // b, parked last
        let mut out = Vec::new();
        s.take_to_notify(&mut out);
        assert!(out.len() == 1 && Arc::ptr_eq(&out[0], &b));
        s.unpark(&b); // woken: uncounts the wake-up
        assert!(!s.none_asleep()); // a is still asleep
        s.unpark(&a); // timed out: leaves the stack
        assert!(s.none_asleep());
        s.end_spin();
        assert!(s.none_free());
        assert!(!s.wake_one());
        assert_eq!((s.idle(), s.wakeups()), (0, 1));
    }

    #[test]
    fn wake_all_wakes_every_parked_consumer() {
        let mut s = Sleepers::default();
        let parks: Vec<_> = (0..3).map(|_| Arc::new(Condvar::new())).collect();
        parks.iter().for_each(|p| s.park(p));
        s.wake_all();
        assert!(s.none_asleep() && s.has_to_notify());
        parks.iter().for_each(|p| s.unpark(p));
        assert_eq!(s.idle(), 0);
        assert!(!s.wake_one());
    }
}
