//! Scenario 6, memory: heap bytes per idle item, per queued item and per armed
//! item, from the counting allocator (stats_alloc). Requested bytes: malloc's own
//! per-block overhead is not included.

use super::timers::HOUR;
use crate::measure::alloc::{counting, Heap};
use crate::measure::procfs::quiet_threads;
use crate::measure::sync::{Countdown, Gate};
use crate::options::{Scenario, Sizes};
use crate::peers::{self, PeerKind};
use crate::progress::Progress;
use crate::report::{Better, Row, Section, Target};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::time::DelayQueue;
use workq::{ManualClock, Work, Worker};

/// Progress steps: workq, tokio-dq, one per closure peer.
pub(crate) const STEPS: usize = 2 + PeerKind::ALL.len();

/// The columns: workq, the closure peers, and tokio-util's DelayQueue.
const SYSTEMS: [&str; 7] = [
    "workq",
    "tokio",
    "rayon",
    "threadpool",
    "sched-tp",
    "crossbeam",
    "tokio-dq",
];

/// Bytes (and blocks) per item of each kind, `None` where a system has no such
/// thing.
#[derive(Clone, Copy, Default)]
struct Bytes {
    idle: Option<f64>,
    /// Queueing an item that exists (workq), or submitting a job (peers).
    queued: Option<f64>,
    /// Making an item and queueing it.
    made_queued: Option<f64>,
    armed: Option<f64>,
    armed_blocks: Option<f64>,
    after_cancel: Option<f64>,
}

fn workq(n: usize) -> Bytes {
    // A manual clock has a wheel of its own, the same as the process-wide one but
    // empty: earlier scenarios' armed items left capacity in the process-wide
    // wheel, which would make arming look free.
    let clock = ManualClock::new();
    let worker = Worker::builder()
        .name("bench-mem")
        .freezable(true)
        .manual_clock(&clock)
        .build()
        .expect("start a workq worker");
    // One-time allocations before measuring.
    let warm = Work::new(|_| {});
    worker.queue_after(&warm, HOUR).expect("arm");
    warm.cancel();
    worker.freeze().expect("freeze");

    let m0 = Heap::now();
    let works: Vec<Work> = (0..n).map(|_| Work::new(|_| {})).collect();
    let m1 = Heap::now();
    // The Vec of handles is not the items' cost.
    let idle = m1.bytes_per(m0, n) - std::mem::size_of::<Work>() as f64;

    for w in &works {
        worker.queue(w).expect("queue");
    }
    let m2 = Heap::now();
    let queued = m2.bytes_per(m1, n);
    for w in &works {
        w.cancel();
    }

    let m3 = Heap::now();
    for w in &works {
        worker.queue_after(w, HOUR).expect("arm");
    }
    let m4 = Heap::now();
    for w in &works {
        w.cancel();
    }
    let m5 = Heap::now();
    worker.thaw().expect("thaw");
    drop(works);
    worker.destroy().expect("destroy the worker");
    Bytes {
        idle: Some(idle),
        queued: Some(queued),
        made_queued: Some(idle + queued),
        armed: Some(m4.bytes_per(m3, n)),
        armed_blocks: Some(m4.blocks_per(m3, n)),
        after_cancel: Some(m5.bytes_per(m3, n)),
    }
}

/// What the queued jobs count down: a zero-sized job, like `|| {}`.
static RAN: Countdown = Countdown::new(0);

/// Bytes per job queued on a peer whose threads are all held busy.
fn peer(kind: PeerKind, threads: usize, n: usize) -> Bytes {
    // Pools dropped earlier may still be freeing memory on their way out.
    quiet_threads();
    let p = kind.build(threads, Duration::from_secs(60));
    let gate = Arc::new(Gate::new());
    for _ in 0..threads {
        let g = gate.clone();
        p.spawn(move || g.pass());
    }
    gate.wait_held(threads);
    RAN.reset(n);
    let m0 = Heap::now();
    for _ in 0..n {
        p.spawn(|| RAN.hit());
    }
    let m1 = Heap::now();
    gate.open();
    RAN.wait_timeout(Duration::from_secs(60));
    p.shutdown();
    quiet_threads();
    let queued = Some(m1.bytes_per(m0, n));
    let mut out = Bytes {
        queued,
        made_queued: queued,
        ..Bytes::default()
    };
    match kind {
        PeerKind::Tokio => {
            let rt = peers::tokio_multi_thread(2);
            let m0 = Heap::now();
            let handles: Vec<_> = (0..n)
                .map(|_| rt.spawn(async { tokio::time::sleep(HOUR).await }))
                .collect();
            // Let the workers poll every task once (each registers its timer).
            std::thread::sleep(Duration::from_millis(100));
            let m1 = Heap::now();
            for h in &handles {
                h.abort();
            }
            std::thread::sleep(Duration::from_millis(50));
            drop(handles);
            let m2 = Heap::now();
            rt.shutdown_timeout(Duration::from_secs(5));
            out.armed = Some(m1.bytes_per(m0, n) - handle_bytes::<tokio::task::JoinHandle<()>>());
            out.armed_blocks = Some(m1.blocks_per(m0, n));
            out.after_cancel = Some(m2.bytes_per(m0, n));
        }
        PeerKind::Stp => {
            let pool = peers::stp_pool(threads);
            let m0 = Heap::now();
            let handles: Vec<_> = (0..n).map(|_| pool.execute_after(HOUR, || {})).collect();
            let m1 = Heap::now();
            for h in &handles {
                h.cancel();
            }
            drop(handles);
            let m2 = Heap::now();
            drop(pool);
            out.armed =
                Some(m1.bytes_per(m0, n) - handle_bytes::<scheduled_thread_pool::JobHandle>());
            out.armed_blocks = Some(m1.blocks_per(m0, n));
            out.after_cancel = Some(m2.bytes_per(m0, n));
        }
        _ => {}
    }
    out
}

/// The bytes per item of the `Vec` that holds the handles (not the timer's cost).
fn handle_bytes<T>() -> f64 {
    std::mem::size_of::<T>() as f64
}

fn tokio_dq(n: usize) -> Bytes {
    let rt = peers::tokio_current_thread();
    let _ctx = rt.enter();
    let mut dq: DelayQueue<()> = DelayQueue::new();
    let mut keys = Vec::with_capacity(n);
    let m1 = Heap::now();
    for _ in 0..n {
        keys.push(dq.insert((), HOUR));
    }
    let m2 = Heap::now();
    for k in keys.drain(..) {
        dq.remove(&k);
    }
    let m3 = Heap::now();
    Bytes {
        armed: Some(m2.bytes_per(m1, n)),
        armed_blocks: Some(m2.blocks_per(m1, n)),
        after_cancel: Some(m3.bytes_per(m1, n)),
        ..Bytes::default()
    }
}

pub(crate) fn run(sizes: &Sizes, progress: &mut Progress) -> Section {
    let n = sizes.memory_items;
    let on = counting();
    progress.step("workq");
    let mut results = vec![workq(n)];
    for kind in PeerKind::ALL {
        progress.step(kind.name());
        results.push(peer(kind, sizes.threads, n));
    }
    progress.step("tokio-dq");
    results.push(tokio_dq(n));
    for b in &mut results {
        for v in [
            &mut b.idle,
            &mut b.queued,
            &mut b.made_queued,
            &mut b.armed,
            &mut b.armed_blocks,
            &mut b.after_cancel,
        ] {
            // A few bytes freed elsewhere meanwhile are noise, not a negative cost.
            *v = v.map(|x| x.max(0.0));
        }
    }
    if !on {
        for b in &mut results {
            for v in [
                &mut b.idle,
                &mut b.queued,
                &mut b.made_queued,
                &mut b.armed,
                &mut b.armed_blocks,
                &mut b.after_cancel,
            ] {
                *v = v.map(|_| f64::NAN);
            }
        }
    }

    let mut s = Section::new(
        Scenario::Memory,
        format!("memory: heap bytes per item ({} items)", super::count(n)),
        &SYSTEMS,
    );
    let col = |f: fn(&Bytes) -> Option<f64>| results.iter().map(f).collect::<Vec<_>>();
    s.push(Row::new(
        "idle item",
        "bytes",
        Better::Lower,
        col(|b| b.idle),
    ));
    s.push(Row::new(
        "queued item: queue bookkeeping (workq: pre-made item)",
        "bytes",
        Better::Lower,
        col(|b| b.queued),
    ));
    s.push(
        Row::new(
            "queued item: made and queued",
            "bytes",
            Better::Lower,
            col(|b| b.made_queued),
        )
        .headline("bytes/queued"),
    );
    s.push(
        Row::new(
            "armed item: arming bookkeeping",
            "bytes",
            Better::Lower,
            col(|b| b.armed),
        )
        .target(Target::at_most(64.0, "<= 64 bytes"))
        .headline("bytes/armed"),
    );
    s.push(
        Row::new(
            "armed item: heap blocks per arm",
            "blocks",
            Better::Info,
            col(|b| b.armed_blocks),
        )
        .decimals(2),
    );
    s.push(Row::new(
        "bytes per item still held after cancel",
        "bytes",
        Better::Lower,
        col(|b| b.after_cancel),
    ));
    s.note(
        "workq: idle item = Work::new with a zero-sized closure (the Vec of handles excluded); \
         queued = queue on a frozen Worker (the run list's share, amortized growth included); \
         armed = queue_after(1 h) on the existing items (the wheel's share; on a worker with a \
         ManualClock, whose wheel is the same as the process-wide one but starts empty, so \
         the slab's growth is counted whatever ran before). Peers have no \
         reusable item: a queued job is a new closure submitted while every thread is held \
         busy, so both queued rows are the same for them.",
    );
    s.note(
        "Armed peers: tokio = a task sleeping 1 h on a 2-worker runtime (the whole task; the \
         JoinHandle's own size excluded), tokio-dq = DelayQueue::insert, sched-tp = \
         execute_after (the JobHandle's size excluded).",
    );
    if !on {
        s.note(
            "The counting allocator is not installed in this binary: bytes are not available \
             (n/a).",
        );
    }
    s
}
