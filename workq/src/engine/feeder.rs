//! Fed queues: a queue with no threads of its own, run by *pumps*, work items
//! queued on a pool (the kernel's cmwq: many named workqueues share a pool's
//! threads). Each pump run takes the queue's items one after another (at most
//! `max_running` at once across all pumps) until none is runnable, then returns
//! the thread to the pool. A *rescuer*, an optional thread of the queue's own,
//! steps in when pumps cannot be queued (the pool cannot start a thread) or the
//! queue stalls with items waiting.

use super::{QueueGuard, RunQueue};
use crate::engine::item::WorkInner;
use crate::support::sync::{lock, Arc, Mutex};
use std::time::{Duration, Instant};

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
    /// Queues enough pumps on the pool for the runnable items (no lock held).
    pub(crate) fn kick_pumps(this: &Arc<Self>) {
        let Some(feeder) = this.feeder() else {
            return;
        };
        let want = {
            let mut g = this.lock();
            if !g.sizing.take_settle() {
                return;
            }
            if !g.has_runnable() {
                return;
            }
            g.waiting().min(g.runs.room()).max(1)
        };
        let pumps = lock(&feeder.pumps).clone();
        // Idle pumps first; a pump still marked running may be on its way out
        // (it found nothing a moment ago), so queue it again if more are needed:
        // it then runs once more and finds the new items.
        let (running, idle): (Vec<_>, Vec<_>) =
            pumps.iter().partition(|p| p.state.read().is_running());
        let mut kicked = 0;
        for pump in idle.into_iter().chain(running) {
            if kicked >= want {
                break;
            }
            match RunQueue::enqueue_with(
                &feeder.pool,
                pump,
                super::QueueCall::NOW.limit(super::Limit::Internal),
            ) {
                Ok(_) => kicked += 1,
                Err(_) => {
                    // The pool could not take it (no thread and none can start, or
                    // it has stopped): the rescuer steps in; without one, the items
                    // this queue accepted run here, on the caller's thread, rather
                    // than being stranded.
                    if feeder.rescue_after.is_some() {
                        let mut g = this.lock();
                        g.sizing.kick_failed();
                        this.needed_cv.notify_all();
                    } else {
                        Self::pump(this, None, None);
                    }
                    break;
                }
            }
        }
    }

    /// The body of a pump item (or of the rescuer): runs the queue's items until
    /// none is runnable. `slot` is the pump's place in the queue's view. A pump
    /// (`pool` given) stops after an item when other work waits on the pool, and
    /// returns `true` if it should be queued again: the pool's other queues and
    /// high-priority work get their turn.
    pub(crate) fn pump(this: &Arc<Self>, slot: Option<usize>, pool: Option<&RunQueue>) -> bool {
        let mut g = this.lock();
        let mut last: Option<Arc<WorkInner>> = None;
        let mut more = false;
        while let Some(work) = this.start_next(&mut g, slot) {
            drop(g);
            this.release(last.take());
            // Then the loop takes the next item, or the pump re-queues itself
            // on the pool (which finds it a thread) to let other work in.
            (g, _) = Self::run_and_finish(this, &work, slot, super::run::Then::TakeNext);
            last = Some(work);
            // A frozen pool is being shut down past its deadline: stop taking items.
            if g.has_runnable()
                && pool.is_some_and(|p| {
                    let pg = p.lock();
                    !pg.lists_empty() || pg.life.frozen()
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
    let quiet = g.quiet_for(now).map_or(true, |d| d >= after);
    quiet && g.oldest_wait(now).is_some_and(|d| d >= after)
}
