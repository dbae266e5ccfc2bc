//! The soak's world and its run, shared by the gating soak (`tests/soak.rs`: a
//! fixed budget of operations) and the long soak (`tests/soak_long.rs`: a
//! duration, with memory and thread counts watched): every operation of workq,
//! mixed at random from several threads, on a `Worker`, a `Pool` whose spawner
//! fails (and panics) at random, four `WorkQueue`s on that pool (max_active,
//! ordered + rescuer, high priority + back-pressure, very slow), pool `Owner`s,
//! two `Events` and a `Periodic`, with panics injected at random into runs,
//! periodic runs and event handlers.
//!
//! At the end [`soak`] checks:
//! * `Events`: raised == seen for every kind, and the handlers were given every
//!   raise;
//! * every `Ok` queue call was followed by a run that started after it: the
//!   producer bumps an item's epoch after each `Ok` queue call and a run records
//!   the epoch it saw at its start; along the way a queue call + flush (with no
//!   cancel in between) must see the epoch read before the call, and after a final
//!   queue + flush per item the last seen epoch equals the final epoch;
//! * runs of one item never overlapped;
//! * every closure was dropped exactly once (after dropping everything);
//! * thread starts = thread exits (counted in the spawner's wrapper), and the
//!   pool's counters agree with the spawner's;
//! * every injected panic was reported exactly once through a panic hook and
//!   counted in the queues' `Stats::panics`.
//!
//! A watchdog on every producer's current operation ends the process if one
//! hangs.
//!
//! The full mix includes a cold pool (producers race its first thread starts) and
//! `Pool::drain` while workqueues share the pool; both once hung the soak (see
//! `queue_during_a_failing_first_start_is_refused_not_stranded` and
//! `workqueue_item_queued_while_its_pool_drains_runs` in `tests/adversarial`).
//! `WORKQ_SOAK_KNOWN_BUGS=0` leaves them out.
#![allow(clippy::unwrap_used, dead_code)]

use crate::common::epoch_item::EpochItem as Item;
use crate::common::*;
use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Once};
use std::task::{Context, Poll, Wake, Waker};
use std::thread;
use std::time::{Duration, Instant};
use workq::{Error, Events, Owner, Periodic, Pool, Queued, Repeat, Work, WorkQueue, Worker};

pub const PRODUCERS: usize = 4;
const ITEMS: usize = 16;
const KINDS: usize = 8;
const QUEUES: usize = 4;
/// The bounded workqueue (back-pressure).
const BOUNDED: usize = 2;
/// The freezable workqueue.
const FREEZABLE: usize = 0;

/// Every injected panic's message starts with this.
const INJECTED: &str = "injected";

pub fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

/// A deterministic hash of a few numbers (splitmix64), for the random choices
/// made inside runs.
fn mix(a: u64, b: u64, c: u64) -> u64 {
    let mut z = a
        .wrapping_add(b.wrapping_mul(0x9E37_79B9_7F4A_7C15))
        .wrapping_add(c.wrapping_mul(0xBF58_476D_1CE4_E5B9));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Keeps quiet about the injected panics (thousands of them); every other panic
/// goes to the previous hook.
pub fn quiet_injected_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let p = info.payload();
            let msg = p
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| p.downcast_ref::<String>().map(String::as_str));
            if !msg.is_some_and(|m| m.starts_with(INJECTED)) {
                previous(info);
            }
        }));
    });
}

/// Wakes a parked thread.
struct Unpark(thread::Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// Runs a future to completion on the calling thread.
fn block_on<F: Future>(fut: F) -> F::Output {
    let waker = Waker::from(Arc::new(Unpark(thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut fut = pin!(fut);
    loop {
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
        thread::park_timeout(Duration::from_millis(20));
    }
}

// ---------------------------------------------------------------------------
// The spawner wrapper: fails and panics at random, counts thread starts and exits.
// ---------------------------------------------------------------------------

#[derive(Debug)]
struct Spawns {
    /// Starts fail and panic at random only while set (the producers' phase), so
    /// that no injected panic happens on the test's own thread.
    chaos: AtomicBool,
    rng: Mutex<Rng>,
    calls: AtomicUsize,
    refused: AtomicUsize,
    panicked: AtomicUsize,
    started: AtomicUsize,
    body_started: AtomicUsize,
    body_exited: AtomicUsize,
}

/// Counts a pool thread's exit when dropped (also on unwind).
struct BodyExit(Arc<Spawns>);

impl Drop for BodyExit {
    fn drop(&mut self) {
        self.0.body_exited.fetch_add(1, Ordering::SeqCst);
    }
}

impl Spawns {
    fn new(seed: u64) -> Arc<Spawns> {
        Arc::new(Spawns {
            chaos: AtomicBool::new(false),
            rng: Mutex::new(Rng::new(seed)),
            calls: AtomicUsize::new(0),
            refused: AtomicUsize::new(0),
            panicked: AtomicUsize::new(0),
            started: AtomicUsize::new(0),
            body_started: AtomicUsize::new(0),
            body_exited: AtomicUsize::new(0),
        })
    }

    fn spawner(
        self: &Arc<Self>,
    ) -> impl Fn(thread::Builder, Box<dyn FnOnce() + Send>) -> std::io::Result<thread::JoinHandle<()>>
           + Send
           + Sync
           + 'static {
        let this = self.clone();
        move |builder, body| {
            this.calls.fetch_add(1, Ordering::SeqCst);
            let roll = if this.chaos.load(Ordering::SeqCst) {
                lock(&this.rng).below(100)
            } else {
                100
            };
            if roll < 20 {
                this.refused.fetch_add(1, Ordering::SeqCst);
                return Err(std::io::Error::other("soak: thread start refused"));
            }
            if roll < 25 {
                this.panicked.fetch_add(1, Ordering::SeqCst);
                panic!("{INJECTED}: spawner");
            }
            let me = this.clone();
            let handle = builder.spawn(move || {
                me.body_started.fetch_add(1, Ordering::SeqCst);
                let _exit = BodyExit(me);
                body();
            })?;
            this.started.fetch_add(1, Ordering::SeqCst);
            Ok(handle)
        }
    }
}

// ---------------------------------------------------------------------------
// Items.
// ---------------------------------------------------------------------------

/// Counters shared by the whole soak.
#[derive(Default)]
struct Shared {
    /// Panics injected into runs (items, periodic, event handlers).
    injected: AtomicU64,
    /// Reports received by the panic hooks.
    reported: AtomicU64,
    /// Spawn-failure hook calls.
    spawn_failures_reported: AtomicU64,
    /// Unexpected things seen on threads that cannot assert.
    bad: Mutex<Vec<String>>,
    /// Periodic closures made and dropped.
    periodic_made: AtomicUsize,
    periodic_dropped: Arc<AtomicUsize>,
    /// Raises handed to the event handlers.
    handled: [AtomicU64; 2],
    /// Drops of the two event handlers' closures.
    handler_drops: Arc<AtomicUsize>,
    stop: AtomicBool,
}

impl Shared {
    fn bad(&self, what: String) {
        lock(&self.bad).push(what);
    }
}

/// Item `i`: a producer bumps its epoch after each `Ok` queue call, and cancel /
/// cancel_sync / disable calls are counted as cancels (a queue + flush check is
/// skipped when one may have removed the run).
fn make_item(i: usize, seed: u64, shared: &Arc<Shared>) -> Item {
    let shared = shared.clone();
    Item::new(format!("soak-{i}"), i % 8 == 7, move |ctx, n| {
        let roll = mix(seed, i as u64, n) % 100;
        match roll {
            0..=3 => {
                shared.injected.fetch_add(1, Ordering::SeqCst);
                panic!("{INJECTED}: item {i} run {n}");
            }
            4..=8 => match ctx.requeue() {
                Ok(_) | Err(Error::Canceling | Error::Disabled) => {}
                Err(e) => shared.bad(format!("requeue of item {i}: {e:?}")),
            },
            9..=10 => match ctx.requeue_after(Duration::from_millis(1)) {
                Ok(_) | Err(Error::Canceling | Error::Disabled) => {}
                Err(e) => shared.bad(format!("requeue_after of item {i}: {e:?}")),
            },
            11..=13 => {
                let _ = ctx.sleep_till_thread_needed(Duration::from_micros(200));
            }
            14..=25 => {
                for _ in 0..20 {
                    thread::yield_now();
                }
            }
            _ => {}
        }
    })
}

// ---------------------------------------------------------------------------
// The world the producers act on.
// ---------------------------------------------------------------------------

struct World {
    worker: Worker,
    pool: Pool,
    queues: Vec<WorkQueue>,
    events: [Events; 2],
    periodic: Mutex<Option<Periodic>>,
    items: Vec<Item>,
    shared: Arc<Shared>,
    known_bugs: bool,
}

/// Where a queue call goes.
#[derive(Clone, Copy, Debug)]
enum Target {
    Worker,
    Pool,
    Owner,
    Queue(usize),
}

/// What one producer counted.
#[derive(Default, Debug)]
struct Tally {
    ops: u64,
    ok: u64,
    scheduled: u64,
    already: u64,
    rerun: u64,
    refused: u64,
    /// Refusals by kind: busy, canceling, disabled, draining, full.
    refused_by: [u64; 5],
    checked: u64,
    unchecked: u64,
}

impl Tally {
    fn refuse(&mut self, e: &Error) {
        self.refused += 1;
        let k = match e {
            Error::Busy { .. } => 0,
            Error::Canceling => 1,
            Error::Disabled => 2,
            Error::Draining { .. } => 3,
            _ => 4,
        };
        self.refused_by[k] += 1;
    }
}

/// A producer's current operation, for the watchdog.
#[derive(Default)]
struct Beat {
    op: Mutex<(&'static str, Option<Instant>)>,
}

impl Beat {
    fn begin(&self, op: &'static str) {
        *lock(&self.op) = (op, Some(Instant::now()));
    }

    fn end(&self) {
        lock(&self.op).1 = None;
    }
}

/// Errors a queue call may return in the mix. No destroy happens meanwhile, and
/// the pool was warmed up: it keeps at least one thread however its thread starts
/// fail, so `Spawn` / `NoThreads` must never come back.
fn allowed(e: &Error, try_call: bool) -> bool {
    match e {
        Error::Busy { .. } | Error::Canceling | Error::Disabled | Error::Draining { .. } => true,
        Error::Full { .. } => try_call,
        _ => false,
    }
}

impl World {
    fn queue_on(
        &self,
        target: Target,
        owner: Option<&Owner>,
        work: &Work,
        how: usize,
    ) -> (Result<Queued, Error>, bool) {
        match target {
            Target::Worker => (self.worker.queue(work), false),
            Target::Pool => (self.pool.queue(work), false),
            Target::Owner => match owner {
                Some(o) => (o.queue(work), false),
                None => (self.pool.queue(work), false),
            },
            Target::Queue(q) => {
                let wq = &self.queues[q];
                if q == BOUNDED {
                    match how % 3 {
                        0 => (wq.try_queue(work), true),
                        1 => (block_on(wq.queue_async(work)), false),
                        _ => (wq.queue(work), false),
                    }
                } else {
                    (wq.queue(work), false)
                }
            }
        }
    }

    fn delayed_on(
        &self,
        target: Target,
        owner: Option<&Owner>,
        work: &Work,
        delay: Duration,
        modify: bool,
    ) -> Result<(), Error> {
        match (target, modify) {
            (Target::Worker, false) => self.worker.queue_after(work, delay).map(drop),
            (Target::Worker, true) => self.worker.modify(work, delay).map(drop),
            (Target::Pool, false) => self.pool.queue_after(work, delay).map(drop),
            (Target::Pool, true) => self.pool.modify(work, delay).map(drop),
            (Target::Owner, m) => match (owner, m) {
                (Some(o), false) => o.queue_after(work, delay).map(drop),
                (Some(o), true) => o.modify(work, delay).map(drop),
                (None, _) => self.pool.queue_after(work, delay).map(drop),
            },
            (Target::Queue(q), false) => self.queues[q].queue_after(work, delay).map(drop),
            (Target::Queue(q), true) => self.queues[q].modify(work, delay).map(drop),
        }
    }

    /// Mostly the item's home target (fewer `Busy` refusals, so every front end
    /// gets its share of successful calls), sometimes any.
    fn pick_target(rng: &mut Rng, item: usize) -> Target {
        let n = if rng.below(10) < 7 {
            item % 8
        } else {
            rng.below(8)
        };
        match n {
            0 | 1 => Target::Worker,
            2 => Target::Pool,
            3 => Target::Owner,
            n => Target::Queue(n - 4),
        }
    }

    /// (Re)starts the periodic item on the worker. The slot stays locked
    /// throughout, so two restarts never leave a periodic item running unowned.
    fn restart_periodic(&self, seed: u64) {
        let mut slot = lock(&self.periodic);
        if let Some(p) = slot.take() {
            if let Err(e) = p.stop() {
                self.shared.bad(format!("Periodic::stop: {e:?}"));
            }
        }
        let shared = self.shared.clone();
        let token = DropCounter::on(&self.shared.periodic_dropped);
        let n = AtomicU64::new(0);
        // Counted before: a refused call makes (and drops) the closure too.
        self.shared.periodic_made.fetch_add(1, Ordering::SeqCst);
        let p = self.worker.periodic(
            "soak-periodic",
            Repeat::FixedRate(Duration::from_millis(2)),
            move |_| {
                let _held = &token;
                let k = n.fetch_add(1, Ordering::SeqCst);
                if mix(seed, 999, k) % 50 == 0 {
                    shared.injected.fetch_add(1, Ordering::SeqCst);
                    panic!("{INJECTED}: periodic run {k}");
                }
            },
        );
        match p {
            Ok(p) => *slot = Some(p),
            // The worker is draining (a producer's drain): try again later.
            Err(Error::Draining { .. }) => {}
            Err(e) => self.shared.bad(format!("Worker::periodic: {e:?}")),
        }
    }

    /// Calls `f`, counted as a cancel of every item (it may remove any item's
    /// queued run).
    fn cancelling_all<R>(&self, f: impl FnOnce() -> R) -> R {
        for item in &self.items {
            item.cancels_begun.fetch_add(1, Ordering::SeqCst);
        }
        let r = f();
        for item in &self.items {
            item.cancels_ended.fetch_add(1, Ordering::SeqCst);
        }
        r
    }

    /// One random operation.
    fn op(&self, rng: &mut Rng, owner: &mut Option<Owner>, beat: &Beat, t: &mut Tally, seed: u64) {
        t.ops += 1;
        let i = rng.below(ITEMS);
        let item = &self.items[i];
        let target = World::pick_target(rng, i);
        let roll = rng.below(100);
        match roll {
            // A queue call, sometimes checked with a flush.
            0..=34 => {
                beat.begin("queue");
                let watch = item.watch_cancels();
                let e0 = item.epoch.load(Ordering::SeqCst);
                let (r, try_call) = self.queue_on(target, owner.as_ref(), &item.work, rng.below(3));
                match r {
                    Ok(q) => {
                        item.bump_epoch();
                        t.ok += 1;
                        match q {
                            Queued::Scheduled => t.scheduled += 1,
                            Queued::AlreadyPending => t.already += 1,
                            Queued::Rerun => t.rerun += 1,
                        }
                        if rng.below(4) == 0 {
                            beat.begin("queue + flush");
                            let r = if rng.below(2) == 0 {
                                item.work.flush()
                            } else {
                                block_on(item.work.flush_async())
                            };
                            if let Err(e) = r {
                                self.shared.bad(format!("Work::flush: {e:?}"));
                            }
                            match item.seen_if_undisturbed(&watch) {
                                Some(seen) => {
                                    t.checked += 1;
                                    if seen < e0 {
                                        self.shared.bad(format!(
                                            "item {i}: an Ok queue call on {target:?} (epoch \
                                             {e0}) was not followed by a run (latest run saw \
                                             {seen})"
                                        ));
                                    }
                                }
                                None => t.unchecked += 1,
                            }
                        }
                    }
                    Err(e) if allowed(&e, try_call) => t.refuse(&e),
                    Err(e) => self.shared.bad(format!("queue on {target:?}: {e:?}")),
                }
            }
            // Delayed work: queue_after or modify.
            35..=44 => {
                beat.begin("queue_after / modify");
                let delay = Duration::from_millis(rng.below(4) as u64);
                match self.delayed_on(target, owner.as_ref(), &item.work, delay, roll >= 40) {
                    Ok(()) => {
                        item.bump_epoch();
                        t.ok += 1;
                    }
                    Err(e) if allowed(&e, false) => t.refuse(&e),
                    Err(e) => self.shared.bad(format!("delayed on {target:?}: {e:?}")),
                }
            }
            45..=51 => {
                beat.begin("cancel");
                let _ = item.cancelling(Work::cancel);
            }
            52..=55 => {
                beat.begin("cancel_sync");
                let r = item.cancelling(|work| {
                    if rng.below(2) == 0 {
                        work.cancel_sync()
                    } else {
                        block_on(work.cancel_sync_async())
                    }
                });
                if let Err(e) = r {
                    self.shared.bad(format!("cancel_sync: {e:?}"));
                }
            }
            56..=62 => {
                beat.begin("Work::flush");
                if let Err(e) = item.work.flush() {
                    self.shared.bad(format!("Work::flush: {e:?}"));
                }
            }
            63..=65 => {
                beat.begin("disable / enable");
                // Counted as a cancel: the disable may remove a queued run.
                item.cancelling(|work| {
                    let sync = rng.below(2) == 0;
                    let r = if sync {
                        work.disable_sync()
                    } else {
                        work.disable()
                    };
                    if let Err(e) = r {
                        self.shared.bad(format!("disable: {e:?}"));
                    }
                    match self.queue_on(target, owner.as_ref(), work, 0).0 {
                        Err(Error::Disabled) => {}
                        other => self
                            .shared
                            .bad(format!("queue of a disabled item: {other:?}")),
                    }
                    if let Err(e) = work.enable() {
                        self.shared.bad(format!("enable: {e:?}"));
                    }
                });
            }
            66..=71 => {
                beat.begin("raise");
                let e = rng.below(2);
                let kind = rng.below(KINDS) as u8;
                match self.events[e].raise(kind) {
                    Ok(_) | Err(Error::Draining { .. }) => {}
                    Err(err) => self.shared.bad(format!("raise on events {e}: {err:?}")),
                }
            }
            72..=76 => {
                beat.begin("front-end flush");
                let r = match rng.below(4) {
                    0 => self.worker.flush(),
                    1 => block_on(self.worker.flush_async()),
                    2 => self.pool.flush(),
                    _ => self.queues[rng.below(QUEUES)].flush(),
                };
                if let Err(e) = r {
                    self.shared.bad(format!("front-end flush: {e:?}"));
                }
            }
            77..=78 => {
                beat.begin("freeze / thaw");
                let r = if rng.below(2) == 0 {
                    self.worker.freeze().and_then(|()| {
                        thread::sleep(Duration::from_micros(200));
                        self.worker.thaw()
                    })
                } else {
                    let q = &self.queues[FREEZABLE];
                    q.freeze().and_then(|()| {
                        thread::sleep(Duration::from_micros(200));
                        q.thaw()
                    })
                };
                if let Err(e) = r {
                    self.shared.bad(format!("freeze / thaw: {e:?}"));
                }
            }
            79 => {
                let r = match rng.below(4) {
                    0 => {
                        beat.begin("Worker::drain");
                        self.worker.drain()
                    }
                    1 => {
                        beat.begin("Worker::drain_async");
                        block_on(self.worker.drain_async())
                    }
                    2 if self.known_bugs => {
                        beat.begin("Pool::drain");
                        self.pool.drain()
                    }
                    _ => {
                        beat.begin("WorkQueue::drain");
                        let q = &self.queues[rng.below(QUEUES)];
                        if rng.below(2) == 0 {
                            q.drain()
                        } else {
                            block_on(q.drain_async())
                        }
                    }
                };
                if let Err(e) = r {
                    self.shared.bad(format!("drain: {e:?}"));
                }
            }
            80..=83 => {
                beat.begin("owner");
                match owner.take() {
                    Some(o) => {
                        let r = match rng.below(5) {
                            0 => o.unregister(),
                            1 => block_on(o.unregister_async()),
                            // May remove any item's queued run.
                            2 => self.cancelling_all(|| o.unregister_cancel().map(drop)),
                            3 => self
                                .cancelling_all(|| block_on(o.unregister_cancel_async()).map(drop)),
                            _ => match o
                                .unregister_timeout(Duration::from_micros(rng.below(2000) as u64))
                            {
                                Err(Error::TimedOut { .. }) => Ok(()),
                                other => other,
                            },
                        };
                        if let Err(e) = r {
                            self.shared.bad(format!("unregister: {e:?}"));
                        }
                    }
                    None => *owner = Some(self.pool.register("soak-owner")),
                }
            }
            84..=85 => {
                beat.begin("tunables");
                let r = match rng.below(3) {
                    0 => self.pool.set_max_threads(2 + rng.below(3)),
                    1 => self.pool.set_min_threads(1 + rng.below(2)),
                    _ => self.pool.set_very_slow_percent(1 + rng.below(99)),
                };
                match r {
                    Ok(()) | Err(Error::InvalidConfig { .. }) => {}
                    Err(Error::Spawn { .. } | Error::NoThreads { .. }) => {}
                    Err(e) => self.shared.bad(format!("tunable: {e:?}")),
                }
            }
            86..=87 => {
                beat.begin("snapshot");
                let s = match rng.below(3) {
                    0 => self.pool.snapshot(),
                    1 => self.worker.snapshot(),
                    _ => self.queues[rng.below(QUEUES)].snapshot(),
                };
                let text = s.to_string();
                if !text.contains(&s.name) {
                    self.shared
                        .bad(format!("snapshot text without its name: {text}"));
                }
            }
            88 => {
                beat.begin("periodic");
                let failed = lock(&self.periodic)
                    .as_ref()
                    .is_none_or(|p| p.failure().is_some());
                if failed || rng.below(4) == 0 {
                    self.restart_periodic(seed ^ t.ops);
                }
            }
            _ => {
                beat.begin("queue (idle)");
                // A plain queue on the worker, the common case.
                match self.worker.queue(&item.work) {
                    Ok(_) => {
                        item.bump_epoch();
                        t.ok += 1;
                    }
                    Err(e) if allowed(&e, false) => t.refuse(&e),
                    Err(e) => self.shared.bad(format!("queue on the worker: {e:?}")),
                }
            }
        }
        beat.end();
    }
}

/// Makes the world: the worker, the pool (warmed up), the workqueues, events.
fn build_world(seed: u64, spawns: &Arc<Spawns>, shared: &Arc<Shared>, known_bugs: bool) -> World {
    let hook = |shared: &Arc<Shared>| {
        let s = shared.clone();
        move |r: &workq::PanicReport<'_>| {
            s.reported.fetch_add(1, Ordering::SeqCst);
            if !r.message.starts_with(INJECTED) {
                s.bad(format!("a panic that was not injected: {r}"));
            }
        }
    };
    let worker = Worker::builder()
        .name("soak-worker")
        .freezable(true)
        .on_panic(hook(shared))
        .build()
        .unwrap();
    let s = shared.clone();
    let pool = Pool::builder()
        .name("soak-pool")
        .min_threads(1)
        .max_threads(4)
        .idle_timeout(Duration::from_millis(10))
        .spawn_backoff(Duration::from_millis(2))
        .spawner(spawns.spawner())
        .on_spawn_failure(move |_| {
            s.spawn_failures_reported.fetch_add(1, Ordering::SeqCst);
        })
        .on_panic(hook(shared))
        .build()
        .unwrap();
    // Warm-up: the first thread starts before any concurrency.
    let warm = Work::new(|_| {});
    wait_until("the pool's first thread starts", || {
        match pool.queue(&warm) {
            Ok(_) => true,
            Err(Error::Spawn { .. } | Error::NoThreads { .. }) => false,
            Err(e) => panic!("warm-up: {e:?}"),
        }
    });
    flush_work(&warm);
    let queues = vec![
        WorkQueue::builder("soak-q0")
            .pool(&pool)
            .max_active(2)
            .freezable(true)
            .watchdog(Some(Duration::from_secs(5)))
            .on_panic(hook(shared))
            .build()
            .unwrap(),
        WorkQueue::builder("soak-q1")
            .pool(&pool)
            .ordered()
            .rescuer(true)
            .rescue_after(Duration::from_millis(5))
            .on_panic(hook(shared))
            .build()
            .unwrap(),
        WorkQueue::builder("soak-q2")
            .pool(&pool)
            .high_priority(true)
            .max_waiting(3)
            .on_panic(hook(shared))
            .build()
            .unwrap(),
        WorkQueue::builder("soak-q3")
            .pool(&pool)
            .very_slow(true)
            .on_panic(hook(shared))
            .build()
            .unwrap(),
    ];
    let handler = |e: usize| {
        let shared = shared.clone();
        let n = AtomicU64::new(0);
        let token = DropCounter::on(&shared.handler_drops);
        move |raised: &workq::Raised, _: &workq::WorkCtx<'_>| {
            let _held = &token;
            let total: u64 = raised.iter().map(|(_, c)| c).sum();
            shared.handled[e].fetch_add(total, Ordering::SeqCst);
            let k = n.fetch_add(1, Ordering::SeqCst);
            if mix(seed, 500 + e as u64, k) % 20 == 0 {
                shared.injected.fetch_add(1, Ordering::SeqCst);
                panic!("{INJECTED}: events {e} handler run {k}");
            }
        }
    };
    let events = [
        Events::builder("soak-events-worker")
            .kinds(KINDS)
            .counted(true)
            .backlog_folds(Some(50))
            .build(worker.clone(), handler(0))
            .unwrap(),
        Events::builder("soak-events-queue")
            .kinds(KINDS)
            .counted(true)
            .build(queues[FREEZABLE].clone(), handler(1))
            .unwrap(),
    ];
    let items = (0..ITEMS).map(|i| make_item(i, seed, shared)).collect();
    let world = World {
        worker,
        pool,
        queues,
        events,
        periodic: Mutex::new(None),
        items,
        shared: shared.clone(),
        known_bugs,
    };
    world.restart_periodic(seed);
    world
}

/// Flushes `work` until it is neither pending nor running (its runs may queue
/// themselves again).
fn settle(work: &Work) {
    wait_until("an item settles", || {
        work.flush().unwrap();
        !work.is_pending() && !work.is_running()
    });
}

/// How much work a soak does.
#[derive(Clone, Copy, Debug)]
pub struct Plan {
    /// Operations per producer (`None`: until `until`).
    pub ops_per_producer: Option<u64>,
    /// The producers stop at this instant even if their budget is not done: a
    /// safety stop for a budget, the end of a soak by time.
    pub until: Instant,
    /// Whether the once-buggy paths are in the mix (see the module docs).
    pub known_bugs: bool,
}

/// What a soak did.
#[derive(Debug)]
pub struct Outcome {
    /// Operations done by all producers.
    pub ops: u64,
    /// Whether `Plan::until` stopped a producer before its budget was done.
    pub capped: bool,
}

/// A seed from `WORKQ_SOAK_SEED`, or from the clock.
pub fn seed_from_env() -> u64 {
    env_u64("WORKQ_SOAK_SEED").unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
    })
}

/// Runs the soak with `seed` as `plan` says, checks everything (see the module
/// docs; a failed check panics, naming the seed), and drops the whole world.
pub fn soak(seed: u64, plan: Plan) -> Outcome {
    quiet_injected_panics();
    let known_bugs = plan.known_bugs;
    let shared = Arc::new(Shared::default());
    let spawns = Spawns::new(seed ^ 0xABCD);
    let world = Arc::new(build_world(seed, &spawns, &shared, known_bugs));

    // The producers, each watched through its beat.
    let beats: Arc<Vec<Beat>> = Arc::new((0..PRODUCERS).map(|_| Beat::default()).collect());
    let monitor = {
        let (beats, shared) = (beats.clone(), shared.clone());
        thread::spawn(move || {
            while !shared.stop.load(Ordering::SeqCst) {
                for (p, b) in beats.iter().enumerate() {
                    let (op, since) = *lock(&b.op);
                    if since.is_some_and(|t| t.elapsed() > Duration::from_secs(WATCHDOG_SECS)) {
                        say(&format!(
                            "WATCHDOG: soak producer {p} stuck in `{op}` for over \
                             {WATCHDOG_SECS} s (seed {seed}); exiting"
                        ));
                        std::process::exit(101);
                    }
                }
                thread::sleep(Duration::from_millis(100));
            }
        })
    };
    spawns.chaos.store(true, Ordering::SeqCst);
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let (world, beats) = (world.clone(), beats.clone());
            thread::Builder::new()
                .name(format!("soak-producer-{p}"))
                .spawn(move || {
                    let mut rng = Rng::new(seed.wrapping_add(p as u64 * 7919));
                    let mut owner = None;
                    let mut tally = Tally::default();
                    let budget = plan.ops_per_producer.unwrap_or(u64::MAX);
                    while tally.ops < budget && Instant::now() < plan.until {
                        world.op(&mut rng, &mut owner, &beats[p], &mut tally, seed);
                    }
                    beats[p].begin("unregister the last owner");
                    if let Some(o) = owner {
                        o.unregister().unwrap();
                    }
                    beats[p].end();
                    tally
                })
                .unwrap()
        })
        .collect();
    let tallies: Vec<Tally> = producers.into_iter().map(|h| h.join().unwrap()).collect();
    spawns.chaos.store(false, Ordering::SeqCst);
    shared.stop.store(true, Ordering::SeqCst);
    monitor.join().unwrap();
    let bad = lock(&shared.bad).clone();
    assert!(
        bad.is_empty(),
        "seed {seed}: {} problems, first: {:#?}",
        bad.len(),
        &bad[..bad.len().min(10)]
    );

    // Quiesce: stop the periodic item, make sure nothing is frozen.
    let w = world.clone();
    bounded30("quiesce", move || {
        let p = lock(&w.periodic).take();
        if let Some(p) = p {
            p.stop().unwrap();
        }
        w.worker.thaw().unwrap();
        w.queues[FREEZABLE].thaw().unwrap();
        for item in &w.items {
            settle(&item.work);
        }
    });

    // The final queue + flush per item: the last run saw the final epoch.
    for (i, item) in world.items.iter().enumerate() {
        let final_epoch = item.epoch.load(Ordering::SeqCst);
        let w = world.clone();
        bounded30("the final queue + flush", move || {
            let item = &w.items[i];
            let r = w.worker.queue(&item.work);
            assert_eq!(r.unwrap(), Queued::Scheduled, "item {i} is idle");
            settle(&item.work);
        });
        assert_eq!(
            item.seen.load(Ordering::SeqCst),
            final_epoch,
            "seed {seed}: item {i}: the last run did not see the final epoch"
        );
        assert_eq!(
            item.overlap.violations(),
            0,
            "seed {seed}: item {i}: runs overlapped"
        );
        assert_eq!(
            item.cancels_begun.load(Ordering::SeqCst),
            item.cancels_ended.load(Ordering::SeqCst)
        );
    }

    // Events: a final raise of every kind, then raised == seen.
    for (e, events) in world.events.iter().enumerate() {
        for k in 0..KINDS {
            events.raise(k as u8).unwrap();
        }
        let w = world.clone();
        bounded30("flush the events", move || {
            settle(w.events[e].work());
        });
        let st = events.stats();
        assert_eq!(st.raised, st.seen, "seed {seed}: events {e}: {st:?}");
        let raised: u64 = st.raised.iter().sum();
        assert_eq!(
            shared.handled[e].load(Ordering::SeqCst),
            raised,
            "seed {seed}: events {e}: the handlers were not given every raise"
        );
    }

    // Panics: each injected one reported once and counted once.
    let w = world.clone();
    bounded30("flush everything", move || {
        w.worker.flush().unwrap();
        for q in &w.queues {
            q.flush().unwrap();
        }
        w.pool.flush().unwrap();
    });
    let injected = shared.injected.load(Ordering::SeqCst);
    let counted: u64 = [world.worker.stats(), world.pool.snapshot().stats]
        .into_iter()
        .chain(world.queues.iter().map(|q| q.snapshot().stats))
        .map(|s| s.panics)
        .sum();
    assert_eq!(
        shared.reported.load(Ordering::SeqCst),
        injected,
        "seed {seed}"
    );
    assert_eq!(counted, injected, "seed {seed}");

    // Spawn failures: refused and panicking starts, all counted and reported.
    let pool_stats = world.pool.snapshot().stats;
    let failures =
        (spawns.refused.load(Ordering::SeqCst) + spawns.panicked.load(Ordering::SeqCst)) as u64;
    assert_eq!(pool_stats.spawn_failures, failures, "seed {seed}");
    assert_eq!(
        shared.spawn_failures_reported.load(Ordering::SeqCst),
        failures
    );
    assert_eq!(
        pool_stats.threads_started,
        spawns.started.load(Ordering::SeqCst) as u64
    );

    // Drop everything: queues, events, items, the worker, the pool.
    let totals = tallies.iter().fold(Tally::default(), |mut a, t| {
        a.ops += t.ops;
        a.ok += t.ok;
        a.scheduled += t.scheduled;
        a.already += t.already;
        a.rerun += t.rerun;
        a.refused += t.refused;
        for (x, y) in a.refused_by.iter_mut().zip(t.refused_by) {
            *x += y;
        }
        a.checked += t.checked;
        a.unchecked += t.unchecked;
        a
    });
    let runs: u64 = world
        .items
        .iter()
        .map(|i| i.runs.load(Ordering::SeqCst))
        .sum();
    let drops: Vec<_> = world.items.iter().map(|i| i.drops.clone()).collect();
    let world = Arc::try_unwrap(world).ok().expect("the producers are gone");
    let World {
        worker,
        pool,
        queues,
        events,
        items,
        ..
    } = world;
    drop(events);
    for q in &queues {
        let q = q.clone();
        bounded30("destroy a workqueue", move || q.destroy()).unwrap();
    }
    drop(queues);
    destroy(&worker);
    drop(worker);
    destroy_pool(&pool);
    drop(pool);
    drop(items);
    for (i, d) in drops.iter().enumerate() {
        assert_eq!(
            d.load(Ordering::SeqCst),
            1,
            "seed {seed}: item {i}'s closure was not dropped exactly once"
        );
    }
    assert_eq!(
        shared.handler_drops.load(Ordering::SeqCst),
        2,
        "seed {seed}: event handler closures"
    );
    assert_eq!(
        shared.periodic_dropped.load(Ordering::SeqCst),
        shared.periodic_made.load(Ordering::SeqCst),
        "seed {seed}: periodic closures"
    );
    assert_eq!(
        spawns.body_started.load(Ordering::SeqCst),
        spawns.body_exited.load(Ordering::SeqCst),
        "seed {seed}: thread starts != thread exits"
    );
    assert_eq!(
        spawns.body_started.load(Ordering::SeqCst),
        spawns.started.load(Ordering::SeqCst)
    );

    say(&format!(
        "soak done (seed {seed}): {} ops, {} Ok queue calls ({} scheduled, {} already \
         pending, {} rerun), {} refused (busy, canceling, disabled, draining, full: {:?}), {} queue+flush checks ({} skipped after a cancel), \
         {runs} item runs, {injected} injected panics, {} spawner calls ({} refused, {} \
         panicked), {} threads started",
        totals.ops,
        totals.ok,
        totals.scheduled,
        totals.already,
        totals.rerun,
        totals.refused,
        totals.refused_by,
        totals.checked,
        totals.unchecked,
        spawns.calls.load(Ordering::SeqCst),
        spawns.refused.load(Ordering::SeqCst),
        spawns.panicked.load(Ordering::SeqCst),
        spawns.started.load(Ordering::SeqCst),
    ));
    assert!(totals.ok > 0 && runs > 0, "seed {seed}: nothing happened");
    assert!(
        totals.checked > 0,
        "seed {seed}: no queue + flush was checked"
    );
    let capped = plan
        .ops_per_producer
        .is_some_and(|budget| tallies.iter().any(|t| t.ops < budget));
    Outcome {
        ops: totals.ops,
        capped,
    }
}
