//! Queueing many items with one call: one lock of the queue and one round of
//! wake-ups for the whole batch (`spawn_batch`).

use super::{stamp, QueueCall, Queued, RunQueue};
use crate::engine::item::WorkInner;
use crate::error::Error;
use crate::support::sync::{lock, Arc};
use std::time::Instant;

impl RunQueue {
    /// Queues every item of `works` now, in order, as `call` says (due now),
    /// under one lock of the queue and with one round of wake-ups: each answers
    /// as its own `enqueue_with` would. On a bounded queue, `Limit::Block`
    /// waits for room item by item (the lock is given up while it waits).
    pub(crate) fn enqueue_batch(
        this: &Arc<Self>,
        works: &[Arc<WorkInner>],
        call: QueueCall,
    ) -> Vec<Result<Queued, Error>> {
        debug_assert!(!call.is_delayed(), "a batch is queued now");
        if Self::ensure_consumers(this)
            .and_then(|()| this.check_pool())
            .is_err()
        {
            // Refused: each item gets its own error from its own call.
            return works
                .iter()
                .map(|work| Self::enqueue_with(this, work, call))
                .collect();
        }
        let mut answers = Vec::with_capacity(works.len());
        let limit = call.limit_kind();
        let now = stamp(Instant::now());
        let owed = {
            let mut g = this.lock();
            for work in works {
                if this.is_full(&g, work) && g.sizing.settle_owed() {
                    // About to wait for room that the runs queued so far make:
                    // find their threads first (a pool's start, a fed queue's
                    // pumps), which happens with the lock released.
                    drop(g);
                    Self::settle(this);
                    g = this.lock();
                }
                if let Some(verdict) = this.verdict(work.state.coalesce()) {
                    answers.push(verdict);
                    continue;
                }
                if let Err(e) = this.admit(&g) {
                    answers.push(Err(e));
                    continue;
                }
                match this.wait_for_room(g, work, limit) {
                    Ok(held) => g = held,
                    Err(e) => {
                        answers.push(Err(e));
                        // A refusal gave the lock back.
                        g = this.lock();
                        continue;
                    }
                }
                let mut binding = lock(&work.binding);
                answers.push(Self::add_run(
                    this,
                    &mut g,
                    &mut binding,
                    work,
                    call,
                    Some(now),
                ));
            }
            g.sizing.settle_owed()
        };
        if owed {
            Self::settle(this);
        }
        answers
    }
}
