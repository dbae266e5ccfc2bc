//! Every synchronisation primitive the state machine uses, from one place.
//!
//! Under `--cfg loom` these are loom's model-checked versions; under
//! `--cfg shuttle`, shuttle's randomly scheduled ones; otherwise they are `std`'s. Code elsewhere in the crate imports from here and never from `std::sync`
//! directly, so every model in `models.rs` exercises the real code paths.

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
