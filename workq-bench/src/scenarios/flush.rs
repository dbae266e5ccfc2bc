//! Scenario `flush`: empty a held backlog while someone waits for it, and many
//! async flushers at once.
//!
//! Each system holds its threads with gate jobs (one per thread), takes a
//! backlog of N tiny jobs behind them, then opens the gate; the time runs from
//! the open until the backlog is done. workq waits in `flush()` (the call a
//! program makes); the peers, which have no flush, are waited for with a
//! countdown the jobs hit (the measuring thread parks). workq's "no waiter" row
//! waits on the same countdown, so the two workq rows show what a waiting
//! flusher costs. The last rows time W tasks on a one-thread async executor,
//! each queueing its own item and awaiting `flush_async()`.

use crate::measure::rounds::{in_rounds, Contender};
use crate::measure::stats::{median, ns_per};
use crate::measure::sync::{Countdown, Gate};
use crate::options::{Scenario, Sizes};
use crate::peers::{self, Peer, PeerKind, COLUMNS};
use crate::progress::Progress;
use crate::report::{Better, Row, Section};
use std::sync::Arc;
use std::time::{Duration, Instant};
use workq::{Submit, Work, WorkQueue};

/// Measured runs per system and size (the median is shown).
const REPS: usize = 3;

/// Waiters in the async rows.
const WAITERS: [usize; 2] = [250, 4_000];

/// Counts the backlog's jobs; one backlog at a time.
static DONE: Countdown = Countdown::new(0);

const WATCHDOG: Duration = Duration::from_secs(300);

/// Progress steps for `sizes`.
pub(crate) fn steps(sizes: &Sizes) -> usize {
    sizes.flush_items.len() * REPS * (4 + 2 * PeerKind::ALL.len()) + WAITERS.len()
}

/// Gate items holding `threads` threads of `q`, and a backlog of `items`
/// behind them; returns the gate (still closed) and the ns per queue call of
/// the backlog (the calls alone are timed).
fn hold<S: Submit>(q: &S, threads: usize, items: &[Work]) -> (Arc<Gate>, f64) {
    let gate = Arc::new(Gate::new());
    for _ in 0..threads {
        let g = gate.clone();
        q.submit(&Work::new(move |_| g.pass()))
            .expect("queue a gate item");
    }
    gate.wait_held(threads);
    let t = Instant::now();
    for item in items {
        q.submit(item).expect("queue a backlog item");
    }
    (gate, ns_per(t.elapsed(), items.len()))
}

/// One measurement of a held backlog: ns per queue call while the threads were
/// held, and ns per item to empty it once they were let go.
#[derive(Clone, Copy)]
struct Backlog {
    queue_ns: f64,
    drain_ns: f64,
}

/// Queues a held backlog on `q` and empties it, waiting in `flush` (or, with
/// `flush` None, on the countdown).
fn workq_backlog<S: Submit>(
    q: &S,
    threads: usize,
    items: &[Work],
    flush: Option<&dyn Fn()>,
) -> Backlog {
    DONE.reset(items.len());
    let (gate, queue_ns) = hold(q, threads, items);
    let t = Instant::now();
    gate.open();
    match flush {
        Some(flush) => flush(),
        None => assert!(DONE.wait_timeout(WATCHDOG), "flush: backlog not done"),
    }
    let drain_ns = ns_per(t.elapsed(), items.len());
    assert_eq!(DONE.left(), 0, "flush returned before the backlog was done");
    if flush.is_none() {
        // The countdown ends inside the last item's run: wait (untimed) until
        // every item is idle again before the next system queues it.
        for item in items {
            item.flush().expect("flush a backlog item");
        }
    }
    Backlog { queue_ns, drain_ns }
}

/// The same for a peer: gate jobs, then a backlog of boxed jobs (each carrying
/// the same 64 bytes as workq's items).
fn peer_backlog(peer: &Peer, threads: usize, n: usize) -> Backlog {
    DONE.reset(n);
    let gate = Arc::new(Gate::new());
    for _ in 0..threads {
        let g = gate.clone();
        peer.spawn(move || g.pass());
    }
    gate.wait_held(threads);
    let t = Instant::now();
    for i in 0..n {
        let data = [i as u64; 8];
        peer.spawn(move || {
            std::hint::black_box(data);
            DONE.hit();
        });
    }
    let queue_ns = ns_per(t.elapsed(), n);
    let t = Instant::now();
    gate.open();
    assert!(
        DONE.wait_timeout(WATCHDOG),
        "flush: a peer's backlog not done"
    );
    Backlog {
        queue_ns,
        drain_ns: ns_per(t.elapsed(), n),
    }
}

/// N pre-made items, each carrying 64 bytes as the peers' jobs do.
fn items(n: usize) -> Vec<Work> {
    (0..n)
        .map(|i| {
            let data = [i as u64; 8];
            Work::new(move |_| {
                std::hint::black_box(data);
                DONE.hit();
            })
        })
        .collect()
}

/// µs per task: `w` tasks on a one-thread executor, each queueing its own item
/// on `worker` and awaiting `flush_async`.
fn async_waiters(worker: &workq::Worker, w: usize) -> f64 {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a tokio runtime");
    let items: Vec<Work> = (0..w).map(|_| Work::new(|_| {})).collect();
    let t = Instant::now();
    rt.block_on(async {
        let tasks: Vec<_> = items
            .iter()
            .map(|item| {
                let (worker, item) = (worker.clone(), item.clone());
                tokio::task::spawn(async move {
                    worker.queue(&item).expect("queue");
                    worker.flush_async().await.expect("flush_async");
                })
            })
            .collect();
        for task in tasks {
            task.await.expect("a flush task");
        }
    });
    t.elapsed().as_secs_f64() * 1e6 / w as f64
}

pub(crate) fn run(sizes: &Sizes, progress: &mut Progress) -> Section {
    let threads = sizes.threads;
    let worker = peers::workq::worker("bench-flush-w");
    let pool = peers::workq::pool("bench-flush", threads, threads, Duration::from_secs(5));
    let wq = WorkQueue::builder("bench-flush-q")
        .pool(&pool)
        .build()
        .expect("a workqueue");
    let mut s = Section::new(
        Scenario::Flush,
        "flush: empty a held backlog while waiting for it",
        &COLUMNS,
    );
    for &n in &sizes.flush_items {
        let backlog = items(n);
        let one: Vec<Peer> = PeerKind::ALL
            .iter()
            .map(|k| k.build(1, Duration::from_secs(10)))
            .collect();
        let two: Vec<Peer> = PeerKind::ALL
            .iter()
            .map(|k| k.build(threads, Duration::from_secs(10)))
            .collect();
        let (w, p, q) = (worker.clone(), pool.clone(), wq.clone());
        let flush_w = move || assert!(w.flush().is_ok(), "worker flush");
        let flush_p = move || assert!(p.flush().is_ok(), "pool flush");
        let flush_q = move || assert!(q.flush().is_ok(), "workqueue flush");
        let b = &backlog;
        let mut contenders = vec![
            Contender::new("worker flush", || {
                workq_backlog(&worker, 1, b, Some(&flush_w))
            }),
            Contender::new("worker no waiter", || workq_backlog(&worker, 1, b, None)),
            Contender::new("pool flush", || {
                workq_backlog(&pool, threads, b, Some(&flush_p))
            }),
            Contender::new("wq flush", || {
                workq_backlog(&wq, threads, b, Some(&flush_q))
            }),
        ];
        for (kind, peer) in PeerKind::ALL.iter().zip(&one) {
            contenders.push(Contender::new(format!("{} x1", kind.name()), move || {
                peer_backlog(peer, 1, n)
            }));
        }
        for (kind, peer) in PeerKind::ALL.iter().zip(&two) {
            contenders.push(Contender::new(
                format!("{} x{threads}", kind.name()),
                move || peer_backlog(peer, threads, n),
            ));
        }
        let results = in_rounds(REPS, &mut contenders, progress);
        let median_of = |f: fn(&Backlog) -> f64| -> Vec<f64> {
            results
                .iter()
                .map(|runs| median(runs.iter().map(f).collect()))
                .collect()
        };
        let medians = median_of(|b| b.drain_ns);
        let queue_medians = median_of(|b| b.queue_ns);
        drop(contenders);
        for peer in one.into_iter().chain(two) {
            peer.shutdown();
        }
        let peers_in = |of: &[f64], first: usize, workq: f64| {
            let mut v = vec![Some(workq)];
            v.extend(
                of[first..first + PeerKind::ALL.len()]
                    .iter()
                    .map(|&x| Some(x)),
            );
            v
        };
        let peers_of = |first: usize, workq: f64| peers_in(&medians, first, workq);
        let alone = |workq: f64| {
            let mut v = vec![Some(workq)];
            v.extend(PeerKind::ALL.iter().map(|_| None));
            v
        };
        let (one_at, two_at) = (4, 4 + PeerKind::ALL.len());
        let size = super::count(n);
        s.push(
            Row::new(
                format!("flush {size}, Worker (1 thread)"),
                "ns/item",
                Better::Lower,
                peers_of(one_at, medians[0]),
            )
            .decimals(1)
            .headline("flush"),
        );
        s.push(
            Row::new(
                format!("same drain, no waiter, Worker, {size}"),
                "ns/item",
                Better::Lower,
                alone(medians[1]),
            )
            .decimals(1),
        );
        s.push(
            Row::new(
                format!("flush {size}, Pool({threads})"),
                "ns/item",
                Better::Lower,
                peers_of(two_at, medians[2]),
            )
            .decimals(1),
        );
        s.push(
            Row::new(
                format!("flush {size}, WorkQueue on Pool({threads})"),
                "ns/item",
                Better::Lower,
                peers_of(two_at, medians[3]),
            )
            .decimals(1),
        );
        for (what, at, peers_at) in [
            ("Worker (1 thread)", 0, one_at),
            ("Pool", 2, two_at),
            ("WorkQueue on Pool", 3, two_at),
        ] {
            let threads_of = if peers_at == one_at { 1 } else { threads };
            s.push(
                Row::new(
                    format!("queue into a held {what}, {size} (peers x{threads_of})"),
                    "ns/call",
                    Better::Lower,
                    peers_in(&queue_medians, peers_at, queue_medians[at]),
                )
                .decimals(1),
            );
        }
    }
    for w in WAITERS {
        let us = async_waiters(&worker, w);
        progress.step("flush_async waiters");
        let mut v = vec![Some(us)];
        v.extend(PeerKind::ALL.iter().map(|_| None));
        s.push(
            Row::new(
                format!("flush_async, {} waiting tasks, Worker", super::count(w)),
                "us/task",
                Better::Lower,
                v,
            )
            .decimals(1),
        );
    }
    wq.destroy().expect("destroy the workqueue");
    pool.destroy().expect("destroy the pool");
    worker.destroy().expect("destroy the worker");
    s.note(format!(
        "Gate jobs hold each system's threads (1, or {threads}) while a backlog of pre-made \
         workq items or boxed peer jobs queues behind them; the time runs from opening the gate \
         until the backlog is done: workq waits in flush() (peers have none: a countdown the \
         jobs hit, the measuring thread parked), workq's no-waiter row on the same countdown. \
         The \"queue into a held\" rows time the backlog's queue calls alone (workq's items \
         pre-made, the peers' jobs boxed as they are spawned; all carry 64 bytes). \
         Median of {REPS} runs, measured in rounds. The async rows: W tasks on a one-thread \
         tokio executor, each queueing its own item and awaiting flush_async(); time per task."
    ));
    s
}
