//! The process's list of live queues: every Worker's, Pool's and WorkQueue's
//! [`RunQueue`], so that [`snapshots`](crate::snapshots) (and the add-ons built on
//! it) can picture them all without the program handing them over.
//!
//! Entries are weak: the list never keeps a queue alive. A queue registers once,
//! when it is built (one lock of a process-wide mutex); dead entries are pruned at
//! the next registration or listing. The models' queues do not register (loom's
//! `Arc` has no weak form, and no model lists queues).

use super::RunQueue;
use crate::support::sync::Arc;
#[cfg(not(any(loom, shuttle)))]
use std::sync::{Mutex, PoisonError, Weak};

// std's lock: a process-wide static (no model registers queues).
#[cfg(not(any(loom, shuttle)))]
static LIVE: Mutex<Vec<Weak<RunQueue>>> = Mutex::new(Vec::new());

/// Adds `queue` to the list of live queues.
#[cfg(not(any(loom, shuttle)))]
pub(crate) fn register(queue: &Arc<RunQueue>) {
    let mut live = LIVE.lock().unwrap_or_else(PoisonError::into_inner);
    live.retain(|q| q.strong_count() > 0);
    live.push(Arc::downgrade(queue));
}

/// Every queue still alive, in the order they were built.
#[cfg(not(any(loom, shuttle)))]
pub(crate) fn live() -> Vec<Arc<RunQueue>> {
    let mut live = LIVE.lock().unwrap_or_else(PoisonError::into_inner);
    live.retain(|q| q.strong_count() > 0);
    live.iter().filter_map(Weak::upgrade).collect()
}

/// No queue is listed under the model checkers.
#[cfg(any(loom, shuttle))]
pub(crate) fn live() -> Vec<Arc<RunQueue>> {
    Vec::new()
}
