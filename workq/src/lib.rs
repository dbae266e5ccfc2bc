//! # workq: the Linux kernel's deferred-work guarantees for user-space Rust
//!
//! A [`Work`] item is a closure plus a state word that makes queueing it follow the
//! kernel's contract:
//!
//! * queueing an idle item schedules a run;
//! * queueing an item that is pending and has not started changes nothing (one
//!   atomic operation, no lock) — the pending run will see the caller's writes;
//! * queueing an item that is running makes it run once more afterwards.
//!
//! So every successful queue call is followed by a run that starts after it, runs of
//! one item never overlap, and repeated requests coalesce for free. Items run on a
//! [`Worker`], one dedicated named thread with flush, drain, destroy and
//! freeze / thaw.
//!
//! ```
//! use std::sync::atomic::{AtomicU64, Ordering};
//! use std::sync::Arc;
//! use workq::{Work, Worker};
//!
//! let worker = Worker::new("stats-writer")?;
//! let latest = Arc::new(AtomicU64::new(0));
//! let seen = Arc::new(AtomicU64::new(0));
//! let (l, s) = (latest.clone(), seen.clone());
//! let write_stats = Work::named("write-stats", move |_ctx| {
//!     s.store(l.load(Ordering::Relaxed), Ordering::Relaxed);
//! });
//! for i in 1..=1000 {
//!     latest.store(i, Ordering::Relaxed);
//!     worker.queue(&write_stats)?; // coalesces while a run is pending
//! }
//! write_stats.flush()?;
//! assert_eq!(seen.load(Ordering::Relaxed), 1000); // the last run saw the last write
//! # Ok::<(), workq::Error>(())
//! ```
//!
//! Misuse gives an [`Error`], never a hang or a panic: flushing an item from its own
//! run, queueing an item that is busy on another worker, queueing on a destroyed
//! worker. A panic inside a run is caught and reported through a hook.
//!
//! See `ARCHITECTURE.md` in the repository for the state machine and invariants.

mod current;
#[macro_use]
mod log;
mod engine;
mod error;
mod events;
mod panic;
mod periodic;
mod pool;
mod snapshot;
mod state;
mod submit;
mod sync;
mod timer;
mod wait;
mod watchdog;
mod work;
mod worker;
mod workqueue;

#[cfg(test)]
mod models;

pub use engine::{SpawnFailure, SpawnHook, Spawner};
pub use error::Error;
pub use events::{
    BacklogHook, BacklogReason, BacklogReport, EventSet, EventStats, Events, EventsBuilder, Raised,
    MAX_KINDS,
};
pub use panic::{PanicHook, PanicReport};
pub use periodic::{Periodic, Repeat};
pub use pool::{Owner, Pool, PoolBuilder};
pub use snapshot::{ItemView, QueueKind, Snapshot, Stats, ThreadView, WaitingView};
pub use submit::Submit;
pub use timer::ManualClock;
pub use wait::{QueueAsync, Waiting};
pub use watchdog::{Stall, StallHook, StallReport};
pub use work::{Queued, Work, WorkCtx};
pub use worker::{Worker, WorkerBuilder};
pub use workqueue::{queue, system, system_long, WorkQueue, WorkQueueBuilder};
