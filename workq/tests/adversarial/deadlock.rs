//! A real deadlock the library cannot refuse: two workqueues whose items flush
//! each other. Neither flush is from the item's own run nor on the caller's own
//! single-thread queue, so `WouldDeadlock` does not apply; the stall watchdog is
//! what must report it.
//!
//! Documented (`WorkQueueBuilder::watchdog`, `on_stall`, `Stall`): an item running
//! longer than the threshold is reported (`Stall::Running`, with its name) once
//! per episode, and items waiting with nothing of their queue started for longer
//! than the threshold are reported (`Stall::Waiting`), through the hook.
//!
//! After observing the reports the test leaks the deadlocked queues, their pool
//! and items with `std::mem::forget` (their drop would drain them, which can
//! never end); the process exit cleans up.

use crate::common::*;
use crate::support::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use workq::{Pool, Stall, Work, WorkQueue};

/// Stall reports seen by a hook: (queue, what).
type Stalls = Arc<Mutex<Vec<(String, Stall)>>>;

fn running_reports(stalls: &Stalls, queue: &str, work: &str) -> usize {
    lock(stalls)
        .iter()
        .filter(|(q, s)| {
            q == queue && matches!(s, Stall::Running { work: Some(w), .. } if w == work)
        })
        .count()
}

/// Items `a` (on queue A) and `b` (on queue B) each wait until both run, then
/// flush the other: a deadlock. A second item queued on the ordered queue A
/// waits behind `a`. The watchdog (50 ms) reports both stuck runs and the waiting
/// item, once each, through the hooks, with no hang of the suite; the flushes
/// inside the items are not (and cannot be) refused; other queues on the same
/// pool keep working.
#[test]
fn mutual_flush_deadlock_is_reported_by_the_stall_watchdog() {
    let _guard = test_guard();
    quiet_injected_panics();
    let threshold = Duration::from_millis(50);
    let pool = Pool::builder()
        .name("deadlock-pool")
        .min_threads(1)
        .max_threads(4)
        .build()
        .unwrap();
    let stalls: Stalls = Arc::default();
    let hook = |stalls: &Stalls| {
        let s = stalls.clone();
        move |r: &workq::StallReport<'_>| lock(&s).push((r.queue.to_string(), r.stall.clone()))
    };
    let qa = WorkQueue::builder("deadlock-a")
        .pool(&pool)
        .ordered()
        .watchdog(Some(threshold))
        .on_stall(hook(&stalls))
        .build()
        .unwrap();
    let qb = WorkQueue::builder("deadlock-b")
        .pool(&pool)
        .watchdog(Some(threshold))
        .on_stall(hook(&stalls))
        .build()
        .unwrap();

    let both = Signal::new();
    let slot_a: Arc<Mutex<Option<Work>>> = Arc::default();
    let slot_b: Arc<Mutex<Option<Work>>> = Arc::default();
    let flushes_returned = Arc::new(AtomicUsize::new(0));
    let make = |name: &str, other: &Arc<Mutex<Option<Work>>>| {
        let (both, other, returned) = (both.clone(), other.clone(), flushes_returned.clone());
        Probe::new(name, false, move |_, _| {
            both.notify();
            both.wait_for(2, "both halves of the deadlock run");
            let other = lock(&other).clone().expect("the other item");
            // Waits for the other item's run, which waits for this one.
            let r = other.flush();
            returned.fetch_add(1, Ordering::SeqCst);
            panic!("{INJECTED}: a deadlocked flush returned {r:?}");
        })
    };
    let a = make("a", &slot_b);
    let b = make("b", &slot_a);
    *lock(&slot_a) = Some(a.work.clone());
    *lock(&slot_b) = Some(b.work.clone());
    a.queue_with(|w| qa.queue(w)).unwrap();
    b.queue_with(|w| qb.queue(w)).unwrap();
    both.wait_for(2, "both items run");
    // Waits behind `a` on the ordered queue.
    let behind = Probe::plain("behind-a");
    behind.queue_with(|w| qa.queue(w)).unwrap();

    wait_until("the watchdog reports both stuck runs", || {
        running_reports(&stalls, "deadlock-a", "a") > 0
            && running_reports(&stalls, "deadlock-b", "b") > 0
    });
    wait_until("the watchdog reports the item waiting behind", || {
        lock(&stalls)
            .iter()
            .any(|(q, s)| q == "deadlock-a" && matches!(s, Stall::Waiting { waiting: 1, .. }))
    });
    // Still stuck, still reported once per episode.
    std::thread::sleep(4 * threshold);
    assert_eq!(
        running_reports(&stalls, "deadlock-a", "a"),
        1,
        "{:?}",
        lock(&stalls)
    );
    assert_eq!(
        running_reports(&stalls, "deadlock-b", "b"),
        1,
        "{:?}",
        lock(&stalls)
    );
    assert!(a.work.is_running() && b.work.is_running());
    assert_eq!(flushes_returned.load(Ordering::SeqCst), 0);
    assert!(behind.work.is_pending());
    assert_eq!(behind.runs(), 0);

    // The pool is not wedged: another queue on it still runs its items.
    let other = WorkQueue::builder("deadlock-bystander")
        .pool(&pool)
        .build()
        .unwrap();
    Front::Queue(other.clone()).still_works("bystander queue beside the deadlock");
    let o = other.clone();
    bounded30("destroy the bystander queue", move || o.destroy()).unwrap();

    // Leak the deadlocked queues, their pool and items: dropping them would
    // drain them, which can never end. The process exit cleans up.
    std::mem::forget((qa, qb, pool, a, b, behind, slot_a, slot_b));
}
