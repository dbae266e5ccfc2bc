//! Stress test of the pool: producer threads hammer queue / queue_after / modify
//! / cancel / cancel_sync / flush (and the odd pool flush and owner queue) on a
//! few items of one pool whose threads are culled after a very short idle time
//! (all producers pause together now and then, so that bursts race the culls).
//! Then the invariants are checked: runs of one item never overlap across the
//! pool's threads (I1), a queue call that returned Ok is followed by a run that
//! starts after it (I2), every closure is dropped exactly once (I3), never more
//! runs at once than the pool's maximum, and the counters add up.
//!
//! Runs for `WORKQ_STRESS_SECS` seconds (default 3). `WORKQ_STRESS_SEED` replays
//! a seed printed by an earlier run.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use workq::{Error, Owner, Pool, Queued, Work};

const PRODUCERS: usize = 4;
const ITEMS: usize = 16;
const MAX_THREADS: usize = 4;

/// One item and everything the checks need about it.
struct Item {
    work: Work,
    overlap: Arc<OverlapDetector>,
    drops: Arc<AtomicUsize>,
    /// Bumped before every queue call (the "x = i" the run must see).
    epoch: Arc<AtomicU64>,
    /// The epoch read at the start of the latest run.
    seen: Arc<AtomicU64>,
    runs: Arc<AtomicU64>,
    /// cancel / cancel_sync calls begun and ended, so that a queue + flush pair can
    /// tell whether a cancel may have removed its run.
    cancels_begun: AtomicU64,
    cancels_ended: AtomicU64,
}

/// Errors seen where none were allowed.
type Bad = Arc<Mutex<Vec<String>>>;

/// Runs in progress on the pool, and the most at once.
#[derive(Default)]
struct Load {
    now: AtomicUsize,
    peak: AtomicUsize,
}

fn make_item(i: usize, bad: &Bad, load: &Arc<Load>) -> Item {
    let overlap = Arc::new(OverlapDetector::default());
    let (token, drops) = DropCounter::new();
    let epoch = Arc::new(AtomicU64::new(0));
    let seen = Arc::new(AtomicU64::new(0));
    let runs = Arc::new(AtomicU64::new(0));
    let work = {
        let (overlap, epoch, seen, runs, bad, load) = (
            overlap.clone(),
            epoch.clone(),
            seen.clone(),
            runs.clone(),
            bad.clone(),
            load.clone(),
        );
        let f = move |ctx: &workq::WorkCtx<'_>| {
            let _held = &token;
            let _inside = overlap.enter();
            let at_once = load.now.fetch_add(1, Ordering::SeqCst) + 1;
            load.peak.fetch_max(at_once, Ordering::SeqCst);
            seen.store(epoch.load(Ordering::SeqCst), Ordering::SeqCst);
            let n = runs.fetch_add(1, Ordering::SeqCst) + 1;
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
        };
        // A few very slow items: they share the same contract.
        if i % 5 == 0 {
            Work::very_slow(format!("pool-stress-{i}"), f)
        } else {
            Work::named(format!("pool-stress-{i}"), f)
        }
    };
    Item {
        work,
        overlap,
        drops,
        epoch,
        seen,
        runs,
        cancels_begun: AtomicU64::new(0),
        cancels_ended: AtomicU64::new(0),
    }
}

/// What one producer counted.
#[derive(Default, Debug)]
struct Tally {
    queue_ok: u64,
    canceling: u64,
    checked: u64,
    cancels: u64,
    flushes: u64,
}

impl Tally {
    fn add(&mut self, t: &Tally) {
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

/// How a producer queues an item.
enum How<'a> {
    Now,
    After(Duration),
    Modify(Duration),
    Owner(&'a Owner),
}

/// A queue call as the contract describes it: bump the epoch, then queue.
fn queue(item: &Item, pool: &Pool, how: &How<'_>) -> (u64, Result<(), Error>) {
    let v = item.epoch.fetch_add(1, Ordering::SeqCst) + 1;
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
    until: Instant,
    bad: &Bad,
) -> Tally {
    let mut rng = Rng::new(seed);
    let mut t = Tally::default();
    let report = |what: String| lock(bad).push(what);
    let start = Instant::now();
    while Instant::now() < until {
        // The last 8 ms of every 50 ms all producers pause together: the pool's
        // threads go idle and are culled, and the next burst races the culls.
        if start.elapsed().as_millis() % 50 >= 42 {
            std::thread::sleep(Duration::from_millis(1));
            continue;
        }
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
            let ended = item.cancels_ended.load(Ordering::SeqCst);
            let begun = item.cancels_begun.load(Ordering::SeqCst);
            let (v, r) = queue(item, pool, &how);
            match r {
                Ok(()) => {
                    t.queue_ok += 1;
                    if check {
                        // Fires an armed run now and waits for it.
                        if let Err(e) = item.work.flush() {
                            report(format!("flush: {e:?}"));
                        }
                        let clean =
                            begun == ended && item.cancels_begun.load(Ordering::SeqCst) == begun;
                        if clean {
                            t.checked += 1;
                            let seen = item.seen.load(Ordering::SeqCst);
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
                item.cancels_begun.fetch_add(1, Ordering::SeqCst);
                item.work.cancel();
                item.cancels_ended.fetch_add(1, Ordering::SeqCst);
                t.cancels += 1;
            }
            67..=76 => {
                item.cancels_begun.fetch_add(1, Ordering::SeqCst);
                let r = item.work.cancel_sync();
                item.cancels_ended.fetch_add(1, Ordering::SeqCst);
                match r {
                    Ok(_) => t.cancels += 1,
                    Err(e) => report(format!("cancel_sync: {e:?}")),
                }
            }
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
    let secs = env_u64("WORKQ_STRESS_SECS").unwrap_or(3).max(1);
    let seed = env_u64("WORKQ_STRESS_SEED").unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
    });
    eprintln!("pool stress: {secs} s, seed {seed} (replay with WORKQ_STRESS_SEED={seed})");
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
    let until = Instant::now() + Duration::from_secs(secs);

    let producers: Vec<_> = (0..PRODUCERS)
        .map(|k| {
            let (items, pool, owners, bad) =
                (items.clone(), pool.clone(), owners.clone(), bad.clone());
            let seed = seed.wrapping_add(k as u64 * 0x1000_0001);
            spawn_bounded("pool stress producer", move || {
                hammer(seed, &items, &pool, &owners[k], until, &bad)
            })
        })
        .collect();
    let mut total = Tally::default();
    for p in producers {
        total.add(&p.join_within(secs + WATCHDOG_SECS));
    }
    eprintln!("pool stress: {total:?}");

    // Quiesce: every self-requeue and re-arm chain finished.
    drain_pool(&pool);
    for item in items.iter() {
        settle_item(item);
    }
    drain_pool(&pool);

    // The last operation on each item: a plain queue + flush, alone. The latest run
    // must have seen the final epoch.
    for (i, item) in items.iter().enumerate() {
        assert!(
            !item.work.is_pending() && !item.work.is_running(),
            "item {i} idle"
        );
        let (v, r) = queue(item, &pool, &How::Now);
        assert!(r.is_ok(), "item {i}: {r:?}");
        flush_work(&item.work);
        assert_eq!(
            item.seen.load(Ordering::SeqCst),
            v,
            "item {i}: the run after the last queue call missed it"
        );
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
        assert_eq!(item.overlap.violations(), 0, "item {i}: runs overlapped");
        assert!(item.runs.load(Ordering::SeqCst) >= 1, "item {i} ran");
        assert_eq!(
            item.overlap.entries() as u64,
            item.runs.load(Ordering::SeqCst),
            "item {i}"
        );
        assert_eq!(
            item.drops.load(Ordering::SeqCst),
            0,
            "item {i} dropped early"
        );
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
    let mut counters = Vec::new();
    for item in items {
        counters.push(item.drops.clone());
        drop(item);
    }
    for (i, d) in counters.iter().enumerate() {
        assert_eq!(d.load(Ordering::SeqCst), 1, "item {i}: closure drops");
    }
}
