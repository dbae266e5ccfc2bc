//! Queue calls racing a pool's creation (its first use, when the first callers
//! race to start its threads) and its shutdown (`destroy`, or the drop of the last
//! handle), 256 rounds with a different interleaving each.
//!
//! Documented behaviour (README, `Pool::queue`, `Pool::destroy`, ARCHITECTURE
//! "The pool's sizing" and I11): a queue call either returns `Ok`, and then a run
//! of the item starts after the call, or returns an error (`Destroyed` once the
//! shutdown has begun; nothing is queued then). Destroy (or the drop of the last
//! handle) drains the pool, stops its threads and joins them, and always ends.

use crate::common::*;
use crate::support::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;
use workq::{Error, Pool, WorkQueue};

const ROUNDS: usize = 256;
const PRODUCERS: usize = 3;
const CALLS: usize = 24;
const ITEMS: usize = 4;

/// How a round ends the pool.
#[derive(Clone, Copy, Debug)]
enum End {
    /// `Pool::destroy` from a thread of its own, racing the producers.
    Destroy,
    /// Every thread drops its handle; whoever is last shuts the pool down.
    DropLast,
}

/// Outcomes of the queue calls of all rounds.
#[derive(Default)]
struct Tally {
    ok: AtomicUsize,
    destroyed: AtomicUsize,
}

/// One round: a fresh pool, `PRODUCERS` threads queueing as soon as a barrier
/// opens (racing the first use's thread starts), and a shutdown racing them.
fn round(n: usize, seed: u64, tally: &Arc<Tally>) {
    let end = if n % 2 == 0 {
        End::Destroy
    } else {
        End::DropLast
    };
    let spawns = PoolSpawns::new();
    let panics = PanicLog::new();
    let pool = Pool::builder()
        .name(format!("race-{n}"))
        .min_threads(1 + n % 2)
        .max_threads(3)
        .idle_timeout(Duration::from_millis(5))
        .spawner(spawns.spawner())
        .on_panic(panics.hook())
        .build()
        .unwrap();
    let items: Arc<Vec<Probe>> = Arc::new(
        (0..ITEMS)
            .map(|i| {
                // Some runs are slow enough for the pool to want more threads.
                Probe::new(&format!("race-{n}-{i}"), i == 3, move |_, run| {
                    if run % 3 == 0 {
                        thread::yield_now();
                    }
                })
            })
            .collect(),
    );
    let barrier = Arc::new(Barrier::new(PRODUCERS + 1));
    let mut producers = Vec::new();
    for p in 0..PRODUCERS {
        let (pool, items, barrier, tally) =
            (pool.clone(), items.clone(), barrier.clone(), tally.clone());
        let mut rng = Rng::new(seed ^ ((n * 31 + p) as u64));
        producers.push(spawn_bounded("a racing producer", move || {
            // Producer 1 queues through an owner: the owner's drop (at the end)
            // must not hang on a destroyed pool either.
            let owner = (p == 1).then(|| pool.register(format!("owner-{p}")));
            barrier.wait();
            for _ in 0..CALLS {
                let item = &items[rng.below(ITEMS)];
                let r = match (&owner, rng.below(3)) {
                    (Some(o), 0) => item.queue_with(|w| o.queue(w)),
                    (_, 1) => item.queue_with(|w| pool.queue_after(w, Duration::ZERO)),
                    _ => item.queue_with(|w| pool.queue(w)),
                };
                match r {
                    Ok(_) => {
                        tally.ok.fetch_add(1, Ordering::SeqCst);
                    }
                    Err(Error::Destroyed { queue }) => {
                        assert_eq!(queue, pool.name());
                        tally.destroyed.fetch_add(1, Ordering::SeqCst);
                    }
                    Err(e) => panic!("unexpected error from a queue call: {e:?}"),
                }
                if rng.below(4) == 0 {
                    thread::yield_now();
                }
            }
            drop(owner);
            // DropLast: the last of these drops (here or in the destroyer) shuts
            // the pool down, on whichever thread that is.
            drop(pool);
        }));
    }
    let destroyer = {
        let (pool, barrier) = (pool.clone(), barrier.clone());
        let spins = Rng::new(seed ^ n as u64).below(64);
        spawn_bounded("the racing shutdown", move || {
            barrier.wait();
            for _ in 0..spins {
                thread::yield_now();
            }
            match end {
                End::Destroy => drop(pool.destroy().unwrap()),
                End::DropLast => drop(pool),
            }
        })
    };
    drop(pool);
    for p in producers {
        p.join();
    }
    destroyer.join();

    // Every shutdown ended (the joins above are under the watchdog), every
    // thread started was joined, and nothing is left behind.
    assert_eq!(spawns.in_flight(), 0, "round {n}");
    assert_eq!(
        spawns.started(),
        spawns.exited(),
        "round {n} ({end:?}): a pool thread outlived the shutdown"
    );
    assert_eq!(spawns.failures(), 0);
    assert!(panics.reports().is_empty(), "{:?}", panics.reports());
    for item in items.iter() {
        item.check_nothing_lost(&format!("round {n} ({end:?})"));
    }
    let items = Arc::try_unwrap(items).ok().expect("the producers are gone");
    let drops: Vec<_> = items.iter().map(|i| i.drops.clone()).collect();
    drop(items);
    for d in drops {
        assert_eq!(
            d.load(Ordering::SeqCst),
            1,
            "round {n}: a closure was not dropped once"
        );
    }
}

/// 256 rounds of queue calls racing a pool's first use and its shutdown. Every
/// queue call either returned an error (`Destroyed`) or was followed by a run
/// that started after it (epoch check), every run added by a queue call happened
/// exactly once, runs never overlapped, every shutdown ended, every pool thread
/// was joined, every closure was dropped exactly once.
#[test]
fn queue_racing_pool_creation_and_shutdown() {
    let _guard = test_guard();
    quiet_injected_panics();
    let seed = 0x5eed_0001;
    let tally = Arc::new(Tally::default());
    for n in 0..ROUNDS {
        round(n, seed, &tally);
    }
    let (ok, destroyed) = (
        tally.ok.load(Ordering::SeqCst),
        tally.destroyed.load(Ordering::SeqCst),
    );
    eprintln!("{ROUNDS} rounds: {ok} queue calls Ok, {destroyed} refused as Destroyed");
    // Both sides of the race were reached (over all rounds).
    assert!(ok > 0, "no queue call ever succeeded");
    assert!(destroyed > 0, "no queue call ever met the shutdown");
}

/// Queue calls on workqueues racing the destroy of the pool under them.
///
/// Documented behaviour (`WorkQueue::queue`, `check_pool` in ARCHITECTURE's
/// "fed queue refuses work its pool could never run"): while the pool is going
/// away a queue call on a workqueue without a rescuer either returns `Ok` and the
/// item runs, or returns `Destroyed`; the workqueue's own destroy then ends.
#[test]
fn workqueue_calls_racing_the_pool_destroy() {
    let _guard = test_guard();
    quiet_injected_panics();
    let tally = Arc::new(Tally::default());
    for n in 0..64 {
        let spawns = PoolSpawns::new();
        let pool = Pool::builder()
            .name(format!("wq-race-{n}"))
            .min_threads(1)
            .max_threads(2)
            .spawner(spawns.spawner())
            .build()
            .unwrap();
        let wq = WorkQueue::builder(format!("wq-race-{n}-q"))
            .pool(&pool)
            .max_active(2)
            .build()
            .unwrap();
        let items: Arc<Vec<Probe>> = Arc::new(
            (0..ITEMS)
                .map(|i| Probe::plain(&format!("wq-race-{n}-{i}")))
                .collect(),
        );
        let barrier = Arc::new(Barrier::new(3));
        let producer = {
            let (wq, items, barrier, tally) =
                (wq.clone(), items.clone(), barrier.clone(), tally.clone());
            let mut rng = Rng::new(n as u64 + 7);
            spawn_bounded("workqueue producer", move || {
                barrier.wait();
                for _ in 0..CALLS {
                    let item = &items[rng.below(ITEMS)];
                    match item.queue_with(|w| wq.queue(w)) {
                        Ok(_) => {
                            tally.ok.fetch_add(1, Ordering::SeqCst);
                        }
                        Err(Error::Destroyed { .. }) => {
                            tally.destroyed.fetch_add(1, Ordering::SeqCst);
                        }
                        Err(e) => panic!("unexpected error: {e:?}"),
                    }
                    thread::yield_now();
                }
            })
        };
        let destroyer = {
            let (pool, barrier) = (pool.clone(), barrier.clone());
            let spins = n % 16;
            spawn_bounded("pool destroy under a workqueue", move || {
                barrier.wait();
                for _ in 0..spins {
                    thread::yield_now();
                }
                pool.destroy().unwrap();
            })
        };
        barrier.wait();
        producer.join();
        destroyer.join();
        // The pool's threads are joined: nothing can run a workqueue item any
        // more, so one still pending was accepted and then lost.
        for item in items.iter() {
            assert!(
                !item.work.is_pending(),
                "round {n}: a workqueue item was queued (Ok) but is stranded: {:?}",
                item.work
            );
        }
        let w = wq.clone();
        bounded30("destroy the workqueue after its pool", move || w.destroy()).unwrap();
        for item in items.iter() {
            item.check_nothing_lost(&format!("workqueue round {n}"));
        }
        drop(wq);
        drop(pool);
        assert_eq!(spawns.started(), spawns.exited(), "round {n}");
        let items = Arc::try_unwrap(items).ok().expect("the producer is gone");
        let drops: Vec<_> = items.iter().map(|i| i.drops.clone()).collect();
        drop(items);
        assert!(drops.iter().all(|d| d.load(Ordering::SeqCst) == 1));
    }
    assert!(tally.ok.load(Ordering::SeqCst) > 0);
    assert!(tally.destroyed.load(Ordering::SeqCst) > 0);
}

/// A pool whose one thread is held by a gated item, and a workqueue on it.
fn held_pool(name: &str) -> (Pool, WorkQueue, Blocker) {
    let pool = Pool::builder()
        .name(name)
        .min_threads(1)
        .max_threads(1)
        .build()
        .unwrap();
    let wq = WorkQueue::builder(format!("{name}-q"))
        .pool(&pool)
        .build()
        .unwrap();
    let blocker = Blocker::new(&format!("{name}-holder"));
    pool.queue(&blocker.work).unwrap();
    blocker
        .started
        .wait_for(1, "the pool's thread runs the holder");
    (pool, wq, blocker)
}

/// The deterministic form of the race above: a workqueue item queued while the
/// pool under it is being destroyed (its destroy waits in its drain for a
/// running item).
///
/// Documented: the queue call returns `Destroyed` (the pool is going away), or it
/// returns `Ok` and the item runs; the workqueue's flush and destroy end.
#[test]
fn workqueue_item_queued_during_the_pool_destroy_runs_or_is_refused() {
    let _guard = test_guard();
    let (pool, wq, blocker) = held_pool("closing");
    let p = pool.clone();
    let destroying =
        spawn_until_asleep("Pool::destroy, waiting for the holder", move || p.destroy());
    let item = Probe::plain("late");
    let r = item.queue_with(|w| wq.queue(w));
    blocker.release();
    destroying.join().unwrap();
    match r {
        Err(Error::Destroyed { .. }) => assert!(!item.work.is_pending()),
        Ok(_) => {
            // Nothing can run it any more: the pool's threads are joined.
            assert!(
                !item.work.is_pending(),
                "queue returned Ok but the item is stranded: {:?}",
                item.work
            );
        }
        Err(e) => panic!("unexpected {e:?}"),
    }
    let w = wq.clone();
    bounded30("destroy the workqueue", move || w.destroy()).unwrap();
    item.check_nothing_lost("queued during the pool's destroy");
    drop(wq);
    let d = item.drops.clone();
    drop(item);
    assert_eq!(d.load(Ordering::SeqCst), 1);
}

/// A workqueue item queued by an outside thread while its pool drains.
///
/// Documented: `Pool::drain` refuses outside work *on the pool* (`Draining`), but
/// a workqueue on it is another queue: its queue call returns `Ok` (or an error)
/// and an `Ok` item runs, so the workqueue's flush ends.
#[test]
fn workqueue_item_queued_while_its_pool_drains_runs() {
    let _guard = test_guard();
    let (pool, wq, blocker) = held_pool("draining");
    let p = pool.clone();
    let draining = spawn_until_asleep("Pool::drain, waiting for the holder", move || p.drain());
    let item = Probe::plain("during-drain");
    let r = item.queue_with(|w| wq.queue(w));
    blocker.release();
    draining.join().unwrap();
    assert!(r.is_ok(), "{r:?}");
    let w = wq.clone();
    bounded30("flush the workqueue after the pool's drain", move || {
        w.flush()
    })
    .unwrap();
    item.check_nothing_lost("queued during the pool's drain");
    let w = wq.clone();
    bounded30("destroy the workqueue", move || w.destroy()).unwrap();
    drop(wq);
    destroy_pool(&pool);
    let d = item.drops.clone();
    drop(item);
    assert_eq!(d.load(Ordering::SeqCst), 1);
}
