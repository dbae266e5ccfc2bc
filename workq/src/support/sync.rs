//! Every synchronisation primitive the state machine uses, from one place.
//!
//! Under `--cfg loom` these are loom's model-checked versions; under
//! `--cfg shuttle`, shuttle's randomly scheduled ones; otherwise they are `std`'s.
//! Library code takes its locks, condition variables and 64-bit atomics from
//! here, never from `std::sync`, so every model in `models.rs` exercises the real
//! code paths. `.ci/run` enforces that: clippy's `disallowed_types` under
//! `--cfg loom` and `--cfg shuttle` (config in `.ci/clippy-shim/`). The few std
//! locks left are process-wide statics and the watchdog, which no model runs;
//! each says so where it is declared. std's `Arc`, `AtomicBool` and `AtomicU32`
//! stay allowed: statics, the `Arc`s of public hook types, thread names.

#[cfg(loom)]
pub(crate) use loom::sync::{
    atomic::{AtomicU32, AtomicU64, Ordering},
    Arc, Condvar, Mutex, MutexGuard,
};

#[cfg(all(shuttle, not(loom)))]
pub(crate) use shuttle::sync::{
    atomic::{AtomicU32, AtomicU64, Ordering},
    Condvar, Mutex, MutexGuard,
};
#[cfg(all(shuttle, not(loom)))]
pub(crate) use std::sync::Arc;

#[cfg(not(any(loom, shuttle)))]
pub(crate) use std::sync::{
    atomic::{AtomicU32, AtomicU64, Ordering},
    Arc, Condvar, Mutex, MutexGuard,
};

#[cfg(loom)]
pub(crate) use loom::thread_local;
#[cfg(all(shuttle, not(loom)))]
pub(crate) use shuttle::thread_local;
#[cfg(not(any(loom, shuttle)))]
pub(crate) use std::thread_local;

/// Threads and counters for the models in `models.rs`.
#[cfg(all(test, loom))]
pub(crate) use loom::{sync::atomic::AtomicUsize, thread};
#[cfg(all(test, shuttle, not(loom)))]
pub(crate) use shuttle::{sync::atomic::AtomicUsize, thread};
#[cfg(all(test, not(any(loom, shuttle))))]
pub(crate) use std::{sync::atomic::AtomicUsize, thread};

/// Gives up the CPU for a moment (loom's and shuttle's versions in models).
pub(crate) fn yield_now() {
    #[cfg(loom)]
    loom::thread::yield_now();
    #[cfg(all(shuttle, not(loom)))]
    shuttle::thread::yield_now();
    #[cfg(not(any(loom, shuttle)))]
    std::thread::yield_now();
}

/// Locks `m`, ignoring poisoning.
///
/// No user code runs while one of workq's locks is held (closures, hooks and
/// drops of user values all happen outside them), so a poisoned lock can only
/// come from a bug in workq itself; carrying on is better than a cascade of panics.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// Locks `m` like [`lock`], but first tries for a while without sleeping: a
/// thread that sleeps on a std mutex marks it contended, and every unlock then
/// makes a wake-up system call until nobody waits.
pub(crate) fn lock_spinning<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    #[cfg(not(any(loom, shuttle)))]
    for round in 0..LOCK_SPINS {
        match m.try_lock() {
            Ok(g) => return g,
            Err(std::sync::TryLockError::Poisoned(p)) => return p.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => {
                for _ in 0..(1u32 << round.min(LOCK_SPIN_SHIFT)) {
                    std::hint::spin_loop();
                }
            }
        }
    }
    lock(m)
}

/// Rounds of `lock_spinning` before it sleeps, and the cap of its backoff (as a
/// power of two): at most ~900 pause instructions. Shorter left the consumers of
/// a two-thread pool sleeping on each other (docs/design-notes.md).
#[cfg(not(any(loom, shuttle)))]
const LOCK_SPINS: u32 = 32;
#[cfg(not(any(loom, shuttle)))]
const LOCK_SPIN_SHIFT: u32 = 5;

/// Waits on `cv` for at most `timeout`, ignoring poisoning (see [`lock`]).
pub(crate) fn wait_timeout<'a, T>(
    cv: &Condvar,
    guard: MutexGuard<'a, T>,
    timeout: std::time::Duration,
) -> MutexGuard<'a, T> {
    match cv.wait_timeout(guard, timeout) {
        Ok((g, _)) => g,
        Err(poisoned) => poisoned.into_inner().0,
    }
}

/// Waits on `cv`, ignoring poisoning (see [`lock`]).
pub(crate) fn wait<'a, T>(cv: &Condvar, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
    match cv.wait(guard) {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}

#[cfg(all(test, not(any(loom, shuttle))))]
mod tests {
    use super::{lock_spinning, Arc, Mutex};
    use std::sync::mpsc;
    use std::time::Duration;

    /// Spinning gives up and sleeps on a lock held for long, and gets it once
    /// the holder lets go; a poisoned lock is taken as if it were not.
    #[test]
    fn lock_spinning_waits_for_a_long_holder_and_ignores_poison() {
        let m = Arc::new(Mutex::new(0u32));
        let (held_tx, held_rx) = mpsc::channel();
        let (go_tx, go_rx) = mpsc::channel::<()>();
        let holder = {
            let m = m.clone();
            std::thread::spawn(move || {
                let mut g = super::lock(&m);
                held_tx.send(()).expect("report the lock held");
                // Held well past the spinning (the receiver hangs up at the end).
                let _ = go_rx.recv_timeout(Duration::from_secs(10));
                *g = 1;
            })
        };
        held_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("the holder took the lock");
        let (done_tx, done_rx) = mpsc::channel();
        let taker = {
            let m = m.clone();
            std::thread::spawn(move || {
                let v = *lock_spinning(&m);
                done_tx.send(v).expect("report the value");
            })
        };
        std::thread::sleep(Duration::from_millis(20));
        drop(go_tx);
        assert_eq!(done_rx.recv_timeout(Duration::from_secs(10)), Ok(1));
        holder.join().expect("holder");
        taker.join().expect("taker");

        let poisoner = {
            let m = m.clone();
            std::thread::spawn(move || {
                let _g = super::lock(&m);
                panic!("poison the lock");
            })
        };
        assert!(poisoner.join().is_err());
        assert!(m.is_poisoned());
        *lock_spinning(&m) = 2;
        assert_eq!(*super::lock(&m), 2);
    }
}
