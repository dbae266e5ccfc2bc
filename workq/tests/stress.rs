//! Stress test: several threads hammer queue / cancel / cancel_sync / flush (and the
//! odd worker flush and freeze / thaw) on a few items spread over two workers, then
//! the invariants are checked: runs never overlap (I1), a queue call that returned
//! Ok is followed by a run that starts after it (I2), and every closure is dropped
//! exactly once (I3).
//!
//! Each thread makes `WORKQ_STRESS_OPS` operations (default 60,000), the same
//! work however loaded the machine is; `WORKQ_STRESS_CAP_SECS` (default 300) is
//! only a safety stop, reported when reached. `WORKQ_STRESS_SEED` replays a seed
//! printed by an earlier run.
#![allow(clippy::unwrap_used)]

mod common;

use common::epoch_item::{assert_dropped_once, EpochItem as Item};
use common::*;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use workq::{Error, Queued, Work, Worker};

const THREADS: usize = 4;
const ITEMS: usize = 8;
const WORKERS: usize = 2;

/// Errors seen where none were allowed.
type Bad = Arc<Mutex<Vec<String>>>;

/// Item `i`: its epoch is bumped before every queue call (see [`queue`]), and
/// cancel / cancel_sync calls are counted as cancels, so that a queue + flush pair
/// can tell whether a cancel may have removed its run.
fn make_item(i: usize, bad: &Bad) -> Item {
    let bad = bad.clone();
    Item::new(format!("stress-{i}"), false, move |ctx, n| {
        match n % 8 {
            // Every 8th run requeues itself (the next run does not).
            0 => match ctx.requeue() {
                Ok(Queued::Rerun | Queued::AlreadyPending) | Err(Error::Canceling) => {}
                other => lock(&bad).push(format!("requeue from {}: {other:?}", i)),
            },
            // Some runs take a little longer, so that other threads find the item
            // running.
            1 | 2 => {
                for _ in 0..50 {
                    std::thread::yield_now();
                }
            }
            _ => {}
        }
    })
}

/// What one hammering thread counted.
#[derive(Default, Debug)]
struct Tally {
    ops: u64,
    queue_ok: u64,
    busy: u64,
    canceling: u64,
    checked: u64,
    cancels: u64,
    flushes: u64,
    freezes: u64,
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

/// How much each thread does: `ops` operations, unless the safety stop `cap`
/// comes first.
#[derive(Clone, Copy)]
struct Budget {
    ops: u64,
    cap: Instant,
}

/// A queue call as the contract describes it: bump the epoch, then queue.
fn queue(item: &Item, worker: &Worker) -> (u64, Result<Queued, Error>) {
    let v = item.bump_epoch();
    (v, worker.queue(&item.work))
}

/// Operations per thread unless `WORKQ_STRESS_OPS` says otherwise.
const OPS: u64 = 60_000;

fn hammer(seed: u64, items: &[Item], workers: &[Worker], budget: Budget, bad: &Bad) -> Tally {
    let mut rng = Rng::new(seed);
    let mut t = Tally::default();
    let report = |what: String| lock(bad).push(what);
    while t.ops < budget.ops && Instant::now() < budget.cap {
        t.ops += 1;
        let item = &items[rng.below(ITEMS)];
        let worker = &workers[rng.below(WORKERS)];
        match rng.below(100) {
            // queue, sometimes followed by a flush that checks I2.
            0..=49 => {
                let check = rng.below(2) == 0;
                // No cancel may be in progress or begin until the flush returned,
                // or it could legitimately remove the run.
                let watch = item.watch_cancels();
                let runs_before = item.runs.load(Ordering::SeqCst);
                let (v, r) = queue(item, worker);
                match r {
                    Ok(q) => {
                        t.queue_ok += 1;
                        if check {
                            let flushed = item.work.flush();
                            if let Err(e) = &flushed {
                                report(format!("flush: {e:?}"));
                            }
                            if let Some(seen) = item.seen_if_undisturbed(&watch) {
                                t.checked += 1;
                                if seen < v {
                                    report(format!(
                                        "{:?}: queue on {} returned Ok({q:?}) at epoch {v}, \
                                         flush returned {flushed:?}, but the latest run started \
                                         at epoch {seen} (runs {runs_before} before the call, {} \
                                         after the flush; item now {:?}; overlaps so far {})",
                                        item.work.name(),
                                        worker.name(),
                                        item.runs.load(Ordering::SeqCst),
                                        item.work,
                                        item.overlap.violations(),
                                    ));
                                }
                            }
                        }
                    }
                    Err(Error::Busy { .. }) => t.busy += 1,
                    Err(Error::Canceling) => t.canceling += 1,
                    Err(e) => report(format!("queue: {e:?}")),
                }
            }
            50..=64 => {
                item.cancelling(Work::cancel);
                t.cancels += 1;
            }
            65..=79 => match item.cancelling(Work::cancel_sync) {
                Ok(_) => t.cancels += 1,
                Err(e) => report(format!("cancel_sync: {e:?}")),
            },
            80..=94 => match item.work.flush() {
                Ok(_) => t.flushes += 1,
                Err(e) => report(format!("Work::flush: {e:?}")),
            },
            95..=97 => match worker.flush() {
                Ok(_) => t.flushes += 1,
                Err(e) => report(format!("Worker::flush: {e:?}")),
            },
            _ => {
                // Freeze the freezable worker for a few queue calls, then thaw it.
                let w = &workers[0];
                match w.freeze() {
                    Ok(()) => {
                        t.freezes += 1;
                        for _ in 0..3 {
                            let item = &items[rng.below(ITEMS)];
                            match queue(item, w).1 {
                                Ok(_) => t.queue_ok += 1,
                                Err(Error::Busy { .. }) => t.busy += 1,
                                Err(Error::Canceling) => t.canceling += 1,
                                Err(e) => report(format!("queue while frozen: {e:?}")),
                            }
                        }
                        if let Err(e) = w.thaw() {
                            report(format!("thaw: {e:?}"));
                        }
                    }
                    Err(e) => report(format!("freeze: {e:?}")),
                }
            }
        }
    }
    t
}

#[test]
fn hammer_queue_cancel_flush_on_two_workers() {
    let ops = env_u64("WORKQ_STRESS_OPS").unwrap_or(OPS);
    let secs = env_u64("WORKQ_STRESS_CAP_SECS").unwrap_or(300).max(1);
    let seed = env_u64("WORKQ_STRESS_SEED").unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1)
    });
    eprintln!(
        "stress: {ops} operations per thread (cap {secs} s), seed {seed} (replay with \
         WORKQ_STRESS_SEED={seed})"
    );
    let _guard = test_guard_for(secs + 4 * WATCHDOG_SECS);

    let bad: Bad = Arc::default();
    let workers: Arc<Vec<Worker>> = Arc::new(vec![
        freezable_worker("stress-a"),
        Worker::new("stress-b").expect("worker"),
    ]);
    let items: Arc<Vec<Item>> = Arc::new((0..ITEMS).map(|i| make_item(i, &bad)).collect());
    let budget = Budget {
        ops,
        cap: Instant::now() + Duration::from_secs(secs),
    };

    let threads: Vec<_> = (0..THREADS)
        .map(|k| {
            let (items, workers, bad) = (items.clone(), workers.clone(), bad.clone());
            let seed = seed.wrapping_add(k as u64 * 0x1000_0001);
            spawn_bounded("stress thread", move || {
                hammer(seed, &items, &workers, budget, &bad)
            })
        })
        .collect();
    let mut total = Tally::default();
    for th in threads {
        let t = th.join_within(secs + WATCHDOG_SECS);
        total.ops += t.ops;
        total.queue_ok += t.queue_ok;
        total.busy += t.busy;
        total.canceling += t.canceling;
        total.checked += t.checked;
        total.cancels += t.cancels;
        total.flushes += t.flushes;
        total.freezes += t.freezes;
    }
    eprintln!("stress: {total:?}");
    let all = ops * THREADS as u64;
    if total.ops < all {
        say(&format!(
            "NOTE: stress (seed {seed}) reached its {secs} s safety stop after {} of {all} \
             operations; everything done is checked",
            total.ops
        ));
    }

    // Quiesce: nothing frozen, every self-requeue chain finished.
    workers[0].thaw().expect("thaw");
    for w in workers.iter() {
        let w = w.clone();
        bounded30("drain after the stress", move || w.drain()).expect("drain");
    }

    // The last operation on each item: a plain queue + flush, alone. The latest run
    // must have seen the final epoch.
    for (i, item) in items.iter().enumerate() {
        item.assert_final_queue_seen(
            i,
            |item| queue(item, &workers[i % WORKERS]),
            |q| matches!(q, Queued::Scheduled),
        );
    }
    for w in workers.iter() {
        flush_worker(w);
    }

    let bad_now = lock(&bad).clone();
    assert!(
        bad_now.is_empty(),
        "{} violations: {:#?}",
        bad_now.len(),
        bad_now
    );
    for (i, item) in items.iter().enumerate() {
        item.assert_sound(i);
    }
    assert!(total.queue_ok > 0);

    // Drop everything: each closure exactly once.
    let workers = Arc::try_unwrap(workers).unwrap_or_else(|_| panic!("worker handles leaked"));
    for w in workers {
        drop_worker(w);
    }
    let items = Arc::try_unwrap(items).unwrap_or_else(|_| panic!("item handles leaked"));
    assert_dropped_once(items);
}
