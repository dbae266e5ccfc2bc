//! The cache filler on the pool (the kernel's fscache on slow-work): two network
//! filesystems register as owners of the pool (`nfs`, `afs`) and queue slow fills
//! and very slow readaheads. A failed fill is retried by the owner's retry item,
//! armed with `modify`: each new failure pushes the retry back (the kernel's
//! `mod_delayed_work`). A readahead gives its thread back when others need it. An
//! owner stops by flushing its fills and unregistering, which waits for the rest.

use super::metadata::Metadata;
use super::shared::{bump, lock, spawn, DemoError, Rng, Shared, SharedRng, OWNERS};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};
use workq::{Owner, Work};

/// Fill items per owner (each is one cached object, queued again and again).
const FILLS: usize = 10;
/// Readahead items per owner.
const READAHEADS: usize = 2;
/// A retry runs this long after the last failure.
const RETRY_BACKOFF: Duration = Duration::from_millis(250);
/// A readahead always waits this long per run before it may give its thread back.
const READAHEAD_SLICE: Duration = Duration::from_millis(50);
/// A readahead that gave its thread back comes back after this.
const READAHEAD_PAUSE: Duration = Duration::from_millis(30);
/// One fill in this many fails ("server busy") and is retried.
const FAIL_ONE_IN: u64 = 7;

/// A running filler: its thread and its stop switch.
pub struct Filler {
    /// Which owner (index into [`OWNERS`]).
    pub index: usize,
    stop: Arc<AtomicBool>,
    thread: JoinHandle<Result<Unregistered, workq::Error>>,
}

/// How an owner's unregister went.
#[derive(Clone, Debug)]
pub struct Unregistered {
    /// Items counted for the owner when it called `unregister`.
    pub outstanding: usize,
    /// How long `unregister` waited for them.
    pub waited: Duration,
    /// Whether every item of the owner was idle (not pending, not running) when
    /// `unregister` returned.
    pub all_idle: bool,
}

/// One owner's items.
struct Items {
    fills: Vec<Work>,
    readaheads: Vec<Work>,
    retry: Work,
}

impl Items {
    fn all(&self) -> impl Iterator<Item = &Work> {
        self.fills
            .iter()
            .chain(&self.readaheads)
            .chain(std::iter::once(&self.retry))
    }
}

/// A fill: fetches the object (10 to 120 ms); one in [`FAIL_ONE_IN`] fails and is
/// put on the failed list; a success writes metadata.
fn fill_item(
    shared: &Arc<Shared>,
    index: usize,
    object: usize,
    failed: &Arc<Mutex<Vec<usize>>>,
    meta: &Metadata,
) -> Work {
    let check = shared.item();
    let rng = SharedRng::new((index * 100 + object) as u64 + 7);
    let (failed, meta) = (failed.clone(), meta.clone());
    Work::named(format!("{}-fill-{object}", OWNERS[index]), move |_ctx| {
        let _run = check.enter();
        let c = check.counters();
        thread::sleep(Duration::from_millis(rng.range(10, 120)));
        if rng.range(0, FAIL_ONE_IN) == 0 {
            lock(&failed).push(object);
            // After the push: the filler arms the retry once it sees the count.
            bump(&c.failed[index]);
        } else {
            bump(&c.fills[index]);
            meta.after_fill(&check.shared);
        }
    })
}

/// A very slow readahead of `total`: each run waits for one reply (up to
/// [`READAHEAD_SLICE`]), then keeps waiting in slices with
/// `sleep_till_thread_needed`; when another item needs the thread it keeps its
/// progress, re-queues itself a little later and returns.
fn readahead_item(shared: &Arc<Shared>, index: usize, k: usize, total: Duration) -> Work {
    let check = shared.item();
    // Milliseconds still to wait; 0: not started.
    let left = AtomicU64::new(0);
    let total_ms = total.as_millis().max(1) as u64;
    let slice_ms = READAHEAD_SLICE.as_millis() as u64;
    Work::very_slow(format!("{}-readahead-{k}", OWNERS[index]), move |ctx| {
        let _run = check.enter();
        let c = check.counters();
        let mut ms = match left.load(Ordering::Relaxed) {
            0 => total_ms,
            ms => ms,
        };
        // The reply in flight: this much progress whatever else waits.
        let first = ms.min(slice_ms);
        thread::sleep(Duration::from_millis(first));
        ms -= first;
        while ms > 0 {
            let t = Instant::now();
            let needed = ctx.sleep_till_thread_needed(Duration::from_millis(ms.min(slice_ms)));
            ms -= (t.elapsed().as_millis() as u64).min(ms);
            if needed && ms > 0 {
                left.store(ms, Ordering::Relaxed);
                bump(&c.gave_back);
                if let Err(e) = ctx.requeue_after(READAHEAD_PAUSE) {
                    check.shared.error("re-queueing a readahead", &e);
                }
                return;
            }
        }
        left.store(0, Ordering::Relaxed);
        bump(&c.readahead_done);
    })
}

/// The owner's retry: fetches every failed object again.
fn retry_item(shared: &Arc<Shared>, index: usize, failed: &Arc<Mutex<Vec<usize>>>) -> Work {
    let check = shared.item();
    let failed = failed.clone();
    Work::named(format!("{}-retry", OWNERS[index]), move |_ctx| {
        let _run = check.enter();
        let objects = std::mem::take(&mut *lock(&failed));
        for _ in &objects {
            thread::sleep(Duration::from_millis(3));
        }
        check.counters().retried[index].fetch_add(objects.len() as u64, Ordering::Relaxed);
    })
}

/// Arms (or pushes back) the retry if fills failed since the last look.
fn arm_retry(shared: &Shared, owner: &Owner, index: usize, items: &Items, seen: &mut u64) {
    let c = &shared.counters;
    let failed = c.failed[index].load(Ordering::Relaxed);
    if failed == *seen {
        return;
    }
    *seen = failed;
    match owner.modify(&items.retry, RETRY_BACKOFF) {
        Ok(true) => bump(&c.retry_rearmed),
        Ok(false) => bump(&c.retry_armed),
        Err(e) => shared.error("arming a retry with modify", &e),
    }
}

/// The filler's loop: queue a random fill every 20 to 60 ms, a readahead every 25
/// rounds, arm retries; once stopped, flush the fills, arm the last retry and
/// unregister.
fn fill_loop(
    shared: &Shared,
    owner: Owner,
    index: usize,
    items: &Items,
    stop: &AtomicBool,
) -> Result<Unregistered, workq::Error> {
    let c = &shared.counters;
    let mut rng = Rng::new(index as u64 + 40);
    let mut seen_failed = 0;
    let mut round = 0usize;
    while !stop.load(Ordering::Relaxed) {
        let k = rng.range(0, items.fills.len() as u64) as usize;
        owner.queue(&items.fills[k])?;
        if round % 25 == 5 {
            let r = &items.readaheads[(round / 25) % items.readaheads.len()];
            // A readahead already pending or running absorbs this request.
            owner.queue(r)?;
        }
        arm_retry(shared, &owner, index, items, &mut seen_failed);
        c.outstanding[index].store(owner.outstanding() as u64, Ordering::Relaxed);
        thread::sleep(Duration::from_millis(rng.range(20, 60)));
        round += 1;
    }
    // Stop: the fills in flight may still fail; their retries must be armed
    // before the owner goes.
    for f in &items.fills {
        f.flush()?;
    }
    arm_retry(shared, &owner, index, items, &mut seen_failed);
    let outstanding = owner.outstanding();
    let t = Instant::now();
    owner.unregister()?;
    let waited = t.elapsed();
    let all_idle = items.all().all(|w| !w.is_pending() && !w.is_running());
    c.outstanding[index].store(0, Ordering::Relaxed);
    c.unregistered[index].store(true, Ordering::Relaxed);
    Ok(Unregistered {
        outstanding,
        waited,
        all_idle,
    })
}

impl Filler {
    /// Makes owner `index`'s items and starts its filler thread, which owns the
    /// owner and unregisters it when stopped.
    ///
    /// # Errors
    /// The thread could not start.
    pub fn start(
        shared: &Arc<Shared>,
        owner: Owner,
        index: usize,
        meta: &Metadata,
        readahead: Duration,
    ) -> Result<Filler, DemoError> {
        let failed = Arc::new(Mutex::new(Vec::new()));
        let items = Items {
            fills: (0..FILLS)
                .map(|k| fill_item(shared, index, k, &failed, meta))
                .collect(),
            readaheads: (0..READAHEADS)
                .map(|k| readahead_item(shared, index, k, readahead))
                .collect(),
            retry: retry_item(shared, index, &failed),
        };
        let stop = Arc::new(AtomicBool::new(false));
        let (sh, st) = (shared.clone(), stop.clone());
        let thread = spawn(&format!("filler-{}", OWNERS[index]), move || {
            fill_loop(&sh, owner, index, &items, &st)
        })?;
        Ok(Filler {
            index,
            stop,
            thread,
        })
    }

    /// Stops the filler and waits for its owner to unregister.
    ///
    /// # Errors
    /// A workq call of the filler failed, or its thread panicked.
    pub fn stop(self) -> Result<Unregistered, DemoError> {
        self.stop.store(true, Ordering::Relaxed);
        match self.thread.join() {
            Ok(r) => Ok(r?),
            Err(_) => Err(DemoError::Panicked("filler")),
        }
    }
}

/// The item that panics on purpose: a fill of a corrupt object.
pub fn corrupt_fill(shared: &Arc<Shared>) -> Work {
    let check = shared.item();
    Work::named("nfs-fill-corrupt", move |_ctx| {
        let _run = check.enter();
        panic!("simulated failure: checksum mismatch in object 0x2a");
    })
}
