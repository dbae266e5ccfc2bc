//! Stress test of the pool: producer threads hammer queue / queue_after / modify
//! / cancel / cancel_sync / flush (and the odd pool flush and owner queue) on a
//! few items of one pool whose threads are culled after a very short idle time
//! (all producers pause together now and then, so that bursts race the culls).
//! Then the invariants are checked: runs of one item never overlap across the
//! pool's threads (I1), a queue call that returned Ok is followed by a run that
//! starts after it (I2), every closure is dropped exactly once (I3), never more
//! runs at once than the pool's maximum, and the counters add up.
//!
//! Each producer makes `WORKQ_STRESS_OPS` operations (default 30,000), the same
//! work however loaded the machine is (the pauses come on top);
//! `WORKQ_STRESS_CAP_SECS` (default 300) is only a safety stop, reported when
//! reached. `WORKQ_STRESS_SEED` replays a seed printed by an earlier run.
#![allow(clippy::unwrap_used)]

mod common;

use common::epoch_item::{assert_dropped_once, EpochItem as Item};
use common::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use workq::{Error, Owner, Pool, Queued, Work};

const PRODUCERS: usize = 4;
const ITEMS: usize = 16;
const MAX_THREADS: usize = 4;

/// Errors seen where none were allowed.
type Bad = Arc<Mutex<Vec<String>>>;

/// Runs in progress on the pool, and the most at once.
#[derive(Default)]
struct Load {
    now: AtomicUsize,
    peak: AtomicUsize,
}

/// Item `i`: its epoch is bumped before every queue call (see [`queue`]), and
/// cancel / cancel_sync calls are counted as cancels, so that a queue + flush pair
/// can tell whether a cancel may have removed its run. Its runs count themselves in
/// `load` while they are in progress.
fn make_item(i: usize, bad: &Bad, load: &Arc<Load>) -> Item {
    let (bad, load) = (bad.clone(), load.clone());
    // A few very slow items: they share the same contract.
    Item::new(format!("pool-stress-{i}"), i % 5 == 0, move |ctx, n| {
        let at_once = load.now.fetch_add(1, Ordering::SeqCst) + 1;
        load.peak.fetch_max(at_once, Ordering::SeqCst);
        match n % 8 {
            // Every 8th run requeues itself (the next run does not).
            0 => match ctx.requeue() {
                Ok(Queued::Rerun | Queued::AlreadyPending) | Err(Error::Canceling) => {}
                other => lock(&bad).push(format!("requeue from {i}: {other:?}")),
            },
            // Every 8th run, another one re-arms itself shortly.
            4 => match ctx.requeue_after(Duration::from_micros(500)) {
                Ok(Queued::Rerun | Queued::AlreadyPending) | Err(Error::Canceling) => {}
                other => lock(&bad).push(format!("requeue_after from {i}: {other:?}")),
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
        load.now.fetch_sub(1, Ordering::SeqCst);
    })
}

/// What one producer counted.
#[derive(Default, Debug)]
struct Tally {
    ops: u64,
    queue_ok: u64,
    canceling: u64,
    checked: u64,
    cancels: u64,
    flushes: u64,
}

impl Tally {
    fn add(&mut self, t: &Tally) {
        self.ops += t.ops;
        self.queue_ok += t.queue_ok;
        self.canceling += t.canceling;
        self.checked += t.checked;
        self.cancels += t.cancels;
        self.flushes += t.flushes;
    }
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

/// Operations per producer unless `WORKQ_STRESS_OPS` says otherwise.
const OPS: u64 = 30_000;

/// How much each producer does: `ops` operations, unless the safety stop `cap`
/// comes first.
#[derive(Clone, Copy)]
struct Budget {
    ops: u64,
    cap: Instant,
}

/// How a producer queues an item.
enum How<'a> {
    Now,
    After(Duration),
    Modify(Duration),
    Owner(&'a Owner),
}

/// A queue call as the contract describes it: bump the epoch, then queue.
fn queue(item: &Item, pool: &Pool, how: &How<'_>) -> (u64, Result<(), Error>) {
    let v = item.bump_epoch();
    let r = match how {
        How::Now => pool.queue(&item.work).map(drop),
        How::After(d) => pool.queue_after(&item.work, *d).map(drop),
        How::Modify(d) => pool.modify(&item.work, *d).map(drop),
        How::Owner(o) => o.queue(&item.work).map(drop),
    };
    (v, r)
}

fn hammer(
    seed: u64,
    items: &[Item],
    pool: &Pool,
    owner: &Owner,
    budget: Budget,
    bad: &Bad,
) -> Tally {
    let mut rng = Rng::new(seed);
    let mut t = Tally::default();
    let report = |what: String| lock(bad).push(what);
    let start = Instant::now();
    while t.ops < budget.ops && Instant::now() < budget.cap {
        // The last 8 ms of every 50 ms all producers pause together: the pool's
        // threads go idle and are culled, and the next burst races the culls.
        if start.elapsed().as_millis() % 50 >= 42 {
            std::thread::sleep(Duration::from_millis(1));
            continue;
        }
        t.ops += 1;
        let item = &items[rng.below(ITEMS)];
        let op = rng.below(100);
        let how = match op {
            0..=34 => Some(How::Now),
            35..=46 => Some(How::After(Duration::from_micros(rng.below(3_000) as u64))),
            47..=51 => Some(How::Modify(Duration::from_micros(rng.below(3_000) as u64))),
            52..=56 => Some(How::Owner(owner)),
            _ => None,
        };
        if let Some(how) = how {
            // A queue call, sometimes followed by a flush that checks I2. No
            // cancel may be in progress or begin until the flush returned, or it
            // could legitimately remove the run.
            let check = rng.below(2) == 0;
            let watch = item.watch_cancels();
            let (v, r) = queue(item, pool, &how);
            match r {
                Ok(()) => {
                    t.queue_ok += 1;
                    if check {
                        // Fires an armed run now and waits for it.
                        if let Err(e) = item.work.flush() {
                            report(format!("flush: {e:?}"));
                        }
                        if let Some(seen) = item.seen_if_undisturbed(&watch) {
                            t.checked += 1;
                            if seen < v {
                                report(format!(
                                    "{:?}: queue returned Ok at epoch {v}, but after the \
                                     flush the latest run started at epoch {seen}",
                                    item.work.name()
                                ));
                            }
                        }
                    }
                }
                Err(Error::Canceling) => t.canceling += 1,
                Err(e) => report(format!("queue: {e:?}")),
            }
            continue;
        }
        match op {
            57..=66 => {
                item.cancelling(Work::cancel);
                t.cancels += 1;
            }
            67..=76 => match item.cancelling(Work::cancel_sync) {
                Ok(_) => t.cancels += 1,
                Err(e) => report(format!("cancel_sync: {e:?}")),
            },
            77..=94 => match item.work.flush() {
                Ok(_) => t.flushes += 1,
                Err(e) => report(format!("Work::flush: {e:?}")),
            },
            _ => match pool.flush() {
                Ok(_) => t.flushes += 1,
                Err(e) => report(format!("Pool::flush: {e:?}")),
            },
        }
    }
    t
}

/// Flushes `item` until it is idle (its runs may re-queue or re-arm it).
fn settle_item(item: &Item) {
    let w = item.work.clone();
    bounded30("flush the item until idle", move || {
        while w.is_pending() || w.is_running() {
            w.flush().expect("Work::flush");
        }
    });
}

#[test]
fn hammer_pool_no_overlap_nothing_lost_every_closure_dropped_once() {
    let ops = env_u64("WORKQ_STRESS_OPS").unwrap_or(OPS);
    let secs = env_u64("WORKQ_STRESS_CAP_SECS").unwrap_or(300).max(1);
    let seed = env_u64("WORKQ_STRESS_SEED").unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
    });
    eprintln!(
        "pool stress: {ops} operations per producer (cap {secs} s), seed {seed} (replay \
         with WORKQ_STRESS_SEED={seed})"
    );
    let _whole = watchdog(secs + 4 * WATCHDOG_SECS, "the pool stress test");

    let bad: Bad = Arc::default();
    let load = Arc::new(Load::default());
    let pool = Pool::builder()
        .name("pool-stress")
        .min_threads(1)
        .max_threads(MAX_THREADS)
        // Threads are culled and started again all along.
        .idle_timeout(Duration::from_millis(3))
        .build()
        .unwrap();
    let owners: Arc<Vec<Owner>> = Arc::new(
        (0..PRODUCERS)
            .map(|k| pool.register(format!("producer-{k}")))
            .collect(),
    );
    let items: Arc<Vec<Item>> = Arc::new((0..ITEMS).map(|i| make_item(i, &bad, &load)).collect());
    let budget = Budget {
        ops,
        cap: Instant::now() + Duration::from_secs(secs),
    };

    let producers: Vec<_> = (0..PRODUCERS)
        .map(|k| {
            let (items, pool, owners, bad) =
                (items.clone(), pool.clone(), owners.clone(), bad.clone());
            let seed = seed.wrapping_add(k as u64 * 0x1000_0001);
            spawn_bounded("pool stress producer", move || {
                hammer(seed, &items, &pool, &owners[k], budget, &bad)
            })
        })
        .collect();
    let mut total = Tally::default();
    for p in producers {
        total.add(&p.join_within(secs + WATCHDOG_SECS));
    }
    eprintln!("pool stress: {total:?}");
    let all = ops * PRODUCERS as u64;
    if total.ops < all {
        say(&format!(
            "NOTE: pool stress (seed {seed}) reached its {secs} s safety stop after {} of \
             {all} operations; everything done is checked",
            total.ops
        ));
    }

    // Quiesce: every self-requeue and re-arm chain finished.
    drain_pool(&pool);
    for item in items.iter() {
        settle_item(item);
    }
    drain_pool(&pool);

    // The last operation on each item: a plain queue + flush, alone. The latest run
    // must have seen the final epoch.
    for (i, item) in items.iter().enumerate() {
        item.assert_final_queue_seen(i, |item| queue(item, &pool, &How::Now), |()| true);
        settle_item(item);
    }
    flush_pool(&pool);

    let bad_now = lock(&bad).clone();
    assert!(
        bad_now.is_empty(),
        "{} violations: {:#?}",
        bad_now.len(),
        bad_now
    );
    let mut runs = 0;
    for (i, item) in items.iter().enumerate() {
        item.assert_sound(i);
        runs += item.runs.load(Ordering::SeqCst);
    }
    assert!(total.queue_ok > 0 && total.checked > 0, "{total:?}");
    let peak = load.peak.load(Ordering::SeqCst);
    assert!(peak <= MAX_THREADS, "{peak} runs at once");
    let s = pool.snapshot();
    assert_eq!(s.stats.runs, runs, "{s}");
    assert_eq!(s.stats.panics, 0);
    assert_eq!(s.stats.spawn_failures, 0);
    assert!(s.waiting.is_empty(), "{s}");
    assert!(s.threads.len() <= MAX_THREADS, "{s}");
    assert_eq!(
        s.stats.threads_started - s.stats.threads_exited,
        s.threads.len() as u64,
        "{s}"
    );
    eprintln!(
        "pool stress: {runs} runs, peak {peak} at once, {} threads started, {} exited",
        s.stats.threads_started, s.stats.threads_exited
    );

    // Drop everything: each closure exactly once.
    let owners = Arc::try_unwrap(owners).unwrap_or_else(|_| panic!("owner handles leaked"));
    for o in owners {
        assert_eq!(o.outstanding(), 0);
        bounded30("Owner::unregister", move || o.unregister()).expect("unregister");
    }
    drop_pool(pool);
    let items = Arc::try_unwrap(items).unwrap_or_else(|_| panic!("item handles leaked"));
    assert_dropped_once(items);
}
