//! The run-one-item step, written once for every consumer: take the item off the
//! list and clear `PENDING` (under the lock), run it with panics caught (no lock),
//! then clear `RUNNING` and put it back if it was queued during the run (under the
//! lock).

use super::{QueueState, RunQueue};
use crate::current::RunMark;
use crate::panic;
use crate::state::{self, ARMED, PENDING, RUNNING};
use crate::sync::{lock, wait, Arc, Ordering};
use crate::work::{WorkCtx, WorkInner};
use std::panic::{catch_unwind, AssertUnwindSafe};

impl RunQueue {
    /// Takes the next item off the list and marks it running. `PENDING` is cleared
    /// here, before the run starts: a queue call from now on adds a run.
    pub(crate) fn start_next(&self, g: &mut QueueState) -> Option<Arc<WorkInner>> {
        if g.frozen {
            return None;
        }
        let work = g.list.pop_front()?;
        // Items on the list have PENDING set and RUNNING clear (lock held), so one
        // xor flips both. Acquire: the run sees every write made before any queue
        // call that found the item pending.
        let before = work.state.fetch_xor(PENDING | RUNNING, Ordering::AcqRel);
        debug_assert_eq!(before & (PENDING | RUNNING | ARMED), PENDING);
        work.run_color
            .store(work.color.load(Ordering::Relaxed), Ordering::Relaxed);
        g.running += 1;
        Some(work)
    }

    /// Runs a started item once, without the lock. A panic is caught, counted and
    /// reported through the queue's hook.
    pub(crate) fn run(this: &Arc<Self>, work: &Arc<WorkInner>) {
        let ctx = WorkCtx { work, queue: this };
        let this: &RunQueue = this;
        let outcome = {
            let _mark = RunMark::enter(WorkInner::addr(work), this.id);
            catch_unwind(AssertUnwindSafe(|| work.call(&ctx)))
        };
        this.counters.runs.fetch_add(1, Ordering::Relaxed);
        if let Err(payload) = outcome {
            this.counters.panics.fetch_add(1, Ordering::Relaxed);
            panic::report(&this.on_panic, work.name(), &this.name, payload);
        }
    }

    /// Ends a run (lock held): clears `RUNNING`; if the item was queued during the
    /// run, puts it back on the list, otherwise returns it to idle and unbinds it.
    pub(crate) fn finish(&self, g: &mut QueueState, work: &Arc<WorkInner>) {
        g.running -= 1;
        work.finished.fetch_add(1, Ordering::Relaxed);
        g.colors.remove(work.run_color.load(Ordering::Relaxed));
        let mut binding = lock(&work.binding);
        let mut cur = work.state.load(Ordering::Relaxed);
        loop {
            // Queued during the run: keep the binding. Armed: the timer will put it
            // on the list; otherwise back on the list now.
            let pending = cur & PENDING != 0;
            let new = if pending {
                cur & !RUNNING
            } else {
                state::with_queue(cur & !RUNNING, 0)
            };
            match work
                .state
                .compare_exchange(cur, new, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => {
                    if !pending {
                        // Not the last reference to this queue: the caller holds one.
                        *binding = None;
                    } else if cur & ARMED == 0 {
                        g.list.push_back(work.clone());
                        if g.idle_consumers > 0 {
                            self.work_cv.notify_one();
                        }
                    }
                    break;
                }
                Err(now) => cur = now,
            }
        }
        drop(binding);
        self.notify_done(g);
    }

    /// The consumer loop of a dedicated thread: runs items until the queue is told
    /// to stop and its list is empty.
    pub(crate) fn consume(this: &Arc<Self>) {
        let mut g = this.lock();
        // The item of the previous run, dropped outside the lock: dropping the last
        // handle runs the closure's destructor, which is user code.
        let mut last: Option<Arc<WorkInner>> = None;
        loop {
            if let Some(work) = this.start_next(&mut g) {
                drop(g);
                drop(last.take());
                Self::run(this, &work);
                g = this.lock();
                this.finish(&mut g, &work);
                last = Some(work);
                continue;
            }
            if last.is_some() {
                drop(g);
                drop(last.take());
                g = this.lock();
                continue;
            }
            if g.stopping && g.list.is_empty() {
                break;
            }
            g.idle_consumers += 1;
            g = wait(&this.work_cv, g);
            g.idle_consumers -= 1;
        }
    }

    /// Runs the next item if there is one, without blocking. For models and tests.
    #[cfg(test)]
    pub(crate) fn run_one(this: &Arc<Self>) -> bool {
        let work = {
            let mut g = this.lock();
            match this.start_next(&mut g) {
                Some(w) => w,
                None => return false,
            }
        };
        Self::run(this, &work);
        let mut g = this.lock();
        this.finish(&mut g, &work);
        drop(g);
        drop(work);
        true
    }
}
