//! Fed queues: a queue with no threads of its own, run by *pumps*, work items
//! queued on a pool (the kernel's cmwq: many named workqueues share a pool's
//! threads). Each pump run takes the queue's items one after another (at most
//! `max_running` at once across all pumps) until none is runnable, then returns
//! the thread to the pool. A *rescuer*, an optional thread of the queue's own,
//! steps in when pumps cannot be queued (the pool cannot start a thread) or the
//! queue stalls with items waiting.

use super::{Limits, Mode, QueueConfig, QueueGuard, QueueState, RunQueue};
use crate::engine::item::handle::{Queued, WorkCtx};
use crate::engine::item::{Class, WorkInner};
use crate::support::panic::PanicHook;
use crate::support::sync::{lock, Arc, Mutex};
use std::time::{Duration, Instant};

/// A fed queue's settings (validated by the caller).
pub(crate) struct FedSettings {
    pub(crate) name: String,
    pub(crate) count_merged: bool,
    pub(crate) latency_histograms: bool,
    pub(crate) freezable: bool,
    pub(crate) on_panic: PanicHook,
    /// Pumps, and so runs at once.
    pub(crate) max_active: usize,
    pub(crate) max_waiting: usize,
    /// The class of the pumps on the pool.
    pub(crate) class: Class,
    /// With a rescuer (a thread the caller starts on `rescue`, in the last run
    /// slot): how long runnable items may wait with nothing started.
    pub(crate) rescue_after: Option<Duration>,
}

/// How a fed queue reaches its pool.
pub(crate) struct Feeder {
    /// The pool's queue, on which the pumps are queued.
    pub(crate) pool: Arc<RunQueue>,
    /// The pump items, one per allowed concurrent run (filled once the queue
    /// exists, emptied at shutdown to end the queue / pump reference cycle).
    pub(crate) pumps: Mutex<Vec<Arc<WorkInner>>>,
    /// With a rescuer: how long runnable items may wait with nothing started
    /// before it steps in.
    pub(crate) rescue_after: Option<Duration>,
}

impl RunQueue {
    /// A fed queue on `pool`, with its pumps, a run slot per pump (named
    /// `name#i`) and one for the rescuer if it has one (`name/rescuer`).
    pub(crate) fn new_fed(pool: &Arc<RunQueue>, s: FedSettings) -> Arc<RunQueue> {
        let queue = RunQueue::new(QueueConfig {
            name: s.name.clone(),
            single_consumer: s.max_active == 1,
            count_merged: s.count_merged,
            latency_histograms: s.latency_histograms,
            freezable: s.freezable,
            on_panic: s.on_panic,
            timer: pool.timer.clone(),
            mode: Mode::Fed(Feeder {
                pool: pool.clone(),
                pumps: Mutex::new(Vec::new()),
                rescue_after: s.rescue_after,
            }),
            limits: Limits {
                max_running: s.max_active,
                max_waiting: s.max_waiting,
            },
        });
        let mut pumps = Vec::with_capacity(s.max_active);
        for i in 0..s.max_active {
            let name = format!("{}#{i}", s.name);
            queue.add_slot(&name);
            let (q, p) = (queue.clone(), pool.clone());
            pumps.push(Arc::new(WorkInner::new(
                Some(name.into_boxed_str()),
                s.class,
                move |ctx: &WorkCtx<'_>| {
                    if RunQueue::pump(&q, Some(i), Some(&p)) {
                        // Other work waits on the pool: take turns.
                        let _ = RunQueue::enqueue(ctx.queue, ctx.work);
                    }
                },
            )));
        }
        if s.rescue_after.is_some() {
            queue.add_slot(&format!("{}/rescuer", s.name));
        }
        if let Some(feeder) = queue.feeder() {
            *lock(&feeder.pumps) = pumps;
        }
        queue
    }

    /// Lets the pumps go (a stopped queue, or one whose rescuer could not
    /// start): ends the queue / pump reference cycle; a pump still queued on the
    /// pool finds the queue stopped and returns.
    pub(crate) fn drop_pumps(&self) {
        if let Some(feeder) = self.feeder() {
            let pumps = std::mem::take(&mut *lock(&feeder.pumps));
            drop(pumps);
        }
    }

    /// Queues enough pumps on the pool for the runnable items (no lock held):
    /// up to one per runnable item the queue has room to run, less the pumps
    /// already queued and not started (`Sizing::reserve_kicks`), so a queue
    /// call into a queue whose pumps wait for pool threads queues none.
    pub(crate) fn kick_pumps(this: &Arc<Self>) {
        let Some(feeder) = this.feeder() else {
            return;
        };
        let need = {
            let mut g = this.lock();
            if !g.sizing.take_settle() {
                return;
            }
            if !g.has_runnable() {
                return;
            }
            let want = pumps_wanted(&g);
            g.sizing.reserve_kicks(want)
        };
        if need == 0 {
            return;
        }
        let chosen = choose_pumps(&lock(&feeder.pumps), need);
        let mut unused = need - chosen.len();
        let mut refused = false;
        for (k, pump) in chosen.iter().enumerate() {
            match RunQueue::enqueue_with(
                &feeder.pool,
                pump,
                super::QueueCall::NOW.limit(super::Limit::Internal),
            ) {
                Ok(Queued::AlreadyPending) => unused += 1,
                Ok(_) => {}
                Err(_) => {
                    unused += chosen.len() - k;
                    refused = true;
                    break;
                }
            }
        }
        if unused == 0 {
            return;
        }
        let mut g = this.lock();
        g.sizing.unreserve_kicks(unused);
        if !refused {
            return;
        }
        // The pool could not take a pump (no thread and none can start, or it
        // has stopped): the rescuer steps in; without one, the items this queue
        // accepted run here, on the caller's thread, rather than being stranded.
        if feeder.rescue_after.is_some() {
            g.sizing.kick_failed();
            this.needed_cv.notify_all();
        } else {
            drop(g);
            Self::pump(this, None, None);
        }
    }

    /// Whether a runnable item just added needs a pump queued for it (lock
    /// held): fewer pumps are queued and not started than the runnable items
    /// the queue has room to run.
    pub(crate) fn wants_pump(&self, g: &QueueState) -> bool {
        g.sizing.kicks_short_of(pumps_wanted(g))
    }

    /// The body of a pump item (or of the rescuer): runs the queue's items until
    /// none is runnable. `slot` is the pump's place in the queue's view. A pump
    /// (`pool` given) stops after an item when other work waits on the pool, and
    /// returns `true` if it should be queued again: the pool's other queues and
    /// high-priority work get their turn.
    pub(crate) fn pump(this: &Arc<Self>, slot: Option<usize>, pool: Option<&RunQueue>) -> bool {
        let mut g = this.lock();
        if pool.is_some() {
            g.sizing.pump_started();
        }
        let mut last: Option<Arc<WorkInner>> = None;
        let mut more = false;
        while let Some((work, listed)) = this.start_next(&mut g, slot) {
            drop(g);
            this.release(last.take());
            // Then the loop takes the next item, or the pump re-queues itself
            // on the pool (which finds it a thread) to let other work in.
            (g, _) = Self::run_and_finish(this, &work, slot, super::run::Then::TakeNext, listed);
            last = Some(work);
            // Other work waits on the pool: more items than this queue's own
            // pumps queued there (which would only take turns with this one; the
            // count may be low, never high, so other work is never missed). A
            // frozen pool is being shut down past its deadline: stop taking items.
            if g.has_runnable()
                && pool.is_some_and(|p| {
                    let pg = p.lock();
                    pg.waiting() > g.sizing.pumps_kicked() || pg.life.frozen()
                })
            {
                more = true;
                break;
            }
        }
        drop(g);
        this.release(last);
        more
    }

    /// The rescuer thread's loop: sleeps, and runs the queue's items itself when
    /// pumps could not be queued or runnable items have waited with nothing started
    /// for `rescue_after`. Exits when the queue stops.
    pub(crate) fn rescue(this: &Arc<Self>, slot: usize) {
        let after = this
            .feeder()
            .as_ref()
            .and_then(|f| f.rescue_after)
            .unwrap_or(Duration::from_millis(100));
        crate::support::current::become_consumer(this.id);
        let mut g = this.lock();
        loop {
            if g.life.stopping() && g.lists_empty() {
                break;
            }
            if g.has_runnable() && (g.sizing.has_kick_failed() || stalled(&mut g, after)) {
                g.sizing.take_kick_failed();
                drop(g);
                Self::pump(this, Some(slot), None);
                g = this.lock();
                continue;
            }
            g.sleepers.begin_needed();
            g = g.wait(&this.needed_cv, Some(after));
            g.sleepers.end_needed();
        }
    }
}

/// Whether runnable items have waited `after` with no run started meanwhile.
fn stalled(g: &mut QueueGuard<'_>, after: Duration) -> bool {
    let now = Instant::now();
    let quiet = g.quiet_for(now).is_none_or(|d| d >= after);
    quiet && g.oldest_wait(now).is_some_and(|d| d >= after)
}

/// Up to `need` pumps to queue: idle ones first, then running ones (a pump
/// still running may be on its way out, having found nothing a moment ago;
/// queued again, it runs once more and finds the new items). Pumps already
/// pending are left out: they are on their way. Each pump's word is read once:
/// read twice, a pump seen running and then idle (its run ended between the
/// reads) would be left out by both looks, and the items it should have taken
/// would wait for the next queue call (a model found that).
fn choose_pumps(pumps: &[Arc<WorkInner>], need: usize) -> Vec<Arc<WorkInner>> {
    let mut idle = Vec::with_capacity(need.min(pumps.len()));
    let mut running = Vec::new();
    for pump in pumps {
        let s = pump.state.read();
        if s.is_pending() {
            continue;
        }
        if s.is_running() {
            running.push(pump);
        } else {
            idle.push(Arc::clone(pump));
            if idle.len() == need {
                return idle;
            }
        }
    }
    let more = need - idle.len();
    idle.extend(running.into_iter().take(more).cloned());
    idle
}

/// Pumps to have queued for the runnable items (lock held): one per item the
/// queue has room to run, at least one.
fn pumps_wanted(g: &QueueState) -> usize {
    g.waiting().min(g.runs.room()).max(1)
}
