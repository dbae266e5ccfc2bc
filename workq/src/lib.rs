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
//! ## Which part do I use?
//!
//! | I want to … | use | instead of | `cargo run -p workq --example …` |
//! |-------------|-----|------------|---------|
//! | coalesce "something changed" signals: many calls, one run that sees the latest state | [`Work`] and [`queue`] (or any queue below) | an `AtomicBool` "scheduled" flag beside a std channel or `tokio::sync::Notify` | `coalesce` |
//! | one dedicated, named thread with flush, freeze and an orderly shutdown | [`Worker`] | `std::thread` and an `mpsc` channel of boxed closures | `worker` |
//! | run a closure once and get its result (or its panic), cancel it before it starts | [`Pool::spawn`] → [`Job`] (on any queue), or [`spawn`]; [`Job::join`], [`Job::cancel`], `.await`; `spawn_after`, `try_spawn`, `spawn_batch` | `std::thread::spawn`, tokio's `spawn_blocking` + `JoinHandle`, `threadpool::execute` + a channel | `jobs` |
//! | split work over borrowed data (even `&mut`) and wait for all of it | [`Pool::scope`] (on any queue) and [`Scope::spawn`] | `std::thread::scope` (a thread per job), `rayon::scope`, `crossbeam::scope` | `jobs` |
//! | a pool of threads sized by demand, for work that blocks | [`Pool`] | `threadpool` (fixed size), rayon (meant for CPU-bound work), tokio's `spawn_blocking` | `pool` |
//! | separate queues with their own limits and order, sharing threads | [`WorkQueue::builder`]: `ordered`, `max_active`, `high_priority`, `max_waiting` | one `threadpool` per kind of work, a `tokio::sync::Semaphore` per kind | `queues` |
//! | timers and periodic work: debounce, retry, heartbeat | [`Worker::queue_after`], [`Worker::modify`], [`Work::cancel`], [`Worker::periodic`] | `scheduled-thread-pool`, `tokio::time` | `timers` |
//! | events from interrupt-like callbacks, none lost, one handler run for many | [`Events`] | a std or crossbeam channel with one message per event | `usbnet` |
//! | await from async code without blocking an executor thread | [`Work::flush_async`], [`WorkQueue::queue_async`], [`Worker::drain_async`], … | `tokio::task::spawn_blocking` and its `JoinHandle` | `async_wait` |
//! | every queue's numbers in Prometheus, StatsD or any `metrics` recorder | `workq::metrics::record()` or `export_every` (feature `metrics`) | reading each queue's `stats()` and setting gauges by hand | `metrics_prometheus` (add `--features metrics`) |
//! | see what a running program's queues are doing, from another terminal | `WORKQ_INSPECT=1` in its environment, or `workq::inspect::serve()` (feature `inspect`, Unix); then `workq top` | a debugger, or logging `snapshot()` by hand | `workq demo` serves its own: run `workq top` beside it |
//!
//! Each example is a small program in the crate's `examples/` folder:
//! `cargo run -p workq --example coalesce` from the repository.
//!
//! Under the kernel's names (for readers who know them): [`Work`] is a
//! `work_struct` and `queue_work`; [`Worker`] a `kthread_worker`; delayed work a
//! `delayed_work` with `mod_delayed_work`; [`Pool`] the slow-work pool with its
//! very slow class ([`Work::very_slow`]), [`Owner`]s and runqueue view
//! ([`Snapshot`]); [`WorkQueue`] a cmwq `alloc_workqueue` ([`system`] and
//! [`system_long`] are `system_wq` and `system_long_wq`); [`Events`] the kevent
//! pattern of the usbnet driver; a [`ManualClock`] drives delayed work by hand in
//! tests.
//!
//! How the queues end: [`shutdown`] says what `flush`, `drain`, `destroy`,
//! `destroy_timeout` and `shutdown_now` do with waiting, running and armed
//! items, and what a [`ShutdownReport`] counts.
//!
//! ## Async callers
//!
//! Every waiting call has a future: [`Work::flush_async`],
//! [`Work::cancel_sync_async`], [`Worker::drain_async`], [`Pool::flush_async`],
//! [`WorkQueue::queue_async`], [`Owner::unregister_async`], ... They use nothing but
//! the std `Waker` (any executor), are woken exactly when the blocking form would
//! return, and may be dropped at any time (cancel-safe).
//!
//! ```
//! # let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
//! # rt.block_on(async {
//! let worker = workq::Worker::new("async-example")?;
//! let work = workq::Work::new(|_| {});
//! worker.queue(&work)?;
//! work.flush_async().await?; // no executor thread is blocked
//! worker.drain_async().await?;
//! # Ok::<(), workq::Error>(())
//! # })?;
//! # Ok::<(), workq::Error>(())
//! ```
//!
//! ## Back-pressure
//!
//! A [`WorkQueue`] can bound its waiting items: a queue call on a full queue then
//! waits ([`WorkQueue::queue`]), fails at once ([`WorkQueue::try_queue`]) or is
//! awaited ([`WorkQueue::queue_async`]). Queueing an item that is already pending
//! never counts against the bound.
//!
//! ```
//! use workq::{Error, Pool, Work, WorkQueue};
//! let pool = Pool::new("bounded-pool")?;
//! let wq = WorkQueue::builder("bounded").pool(&pool).max_waiting(2).freezable(true).build()?;
//! wq.freeze()?; // hold everything so the queue fills up
//! let items: Vec<Work> = (0..3).map(|_| Work::new(|_| {})).collect();
//! wq.try_queue(&items[0])?;
//! wq.try_queue(&items[1])?;
//! assert!(matches!(wq.try_queue(&items[2]), Err(Error::Full { .. })));
//! assert!(wq.try_queue(&items[0]).is_ok()); // already pending: free
//! wq.thaw()?;
//! wq.queue(&items[2])?; // room again (or it would wait for room)
//! wq.flush()?;
//! # Ok::<(), workq::Error>(())
//! ```
//!
//! ## Features
//!
//! * `tracing` (default): trace events and trouble reports through `tracing`.
//!   Trouble (a panic with no panic hook set, a failed thread start with no
//!   spawn-failure hook, a backlog, a stall, a failed start of the watchdog
//!   thread) is never silent: with no subscriber installed it is one line on
//!   standard error, as it always is without this feature.
//! * `cpu-affinity` (default): `WorkerBuilder::cpu` pins a worker's thread
//!   to a CPU, through the `core_affinity` crate; without it that method is
//!   absent.
//! * `serde`: `Serialize` and `Deserialize` for the runqueue view ([`Snapshot`]).
//! * `metrics`: `workq::metrics` emits every live queue's counters, gauges and
//!   latency summaries through the `metrics` facade, to the recorder the
//!   program installs (`record`, `export_every`).
//! * `inspect` (Unix): a read-only inspection endpoint on a Unix socket
//!   (`workq::inspect`, or `WORKQ_INSPECT=1` in the environment) that streams
//!   snapshots and trouble reports as JSON lines, for `workq top <pid>`.
//!
//! See `ARCHITECTURE.md` in the repository for the state machine and invariants.

// The layers, from the bottom: support code, the engine (the item and its
// state word, the queue parts, the consumers, the timer), the front ends users
// hold, and the add-ons built on them. ARCHITECTURE.md maps each file.
#[macro_use]
mod support;
mod addons;
mod engine;
mod error;
mod front;
pub mod shutdown;

#[cfg(test)]
mod models;

pub use addons::events::{
    BacklogHook, BacklogReason, BacklogReport, EventSet, EventStats, Events, EventsBuilder, Raised,
    MAX_KINDS,
};
#[cfg(all(feature = "inspect", unix))]
pub use addons::inspect;
#[cfg(feature = "metrics")]
pub use addons::metrics;
pub use addons::periodic::{Periodic, Repeat};
pub use addons::snapshot::{
    snapshots, ItemView, QueueKind, Snapshot, Stats, ThreadView, WaitingView,
};
pub use addons::wait::{Destroying, QueueAsync, Waiting};
pub use addons::watchdog::{set_watchdog_spawner, Stall, StallHook, StallReport};
pub use engine::latency::Latency;
pub use engine::ManualClock;
pub use engine::{SpawnFailure, SpawnHook, Spawner};
pub use error::Error;
pub use front::job::{Job, JobError, Scope, ScopedJob, SpawnAsync};
pub use front::pool::{Owner, Pool, PoolBuilder};
pub use front::submit::Submit;
pub use front::work::{Queued, Work, WorkCtx};
pub use front::worker::{Worker, WorkerBuilder};
pub use front::workqueue::{
    queue, spawn, system, system_long, WorkQueue, WorkQueueBuilder, MAX_ACTIVE,
};
pub use shutdown::{ArmedAtShutdown, ShutdownReport};
pub use support::panic::{PanicHook, PanicLocation, PanicReport};

/// The crate README's examples are compiled and run as doc tests (the
/// repository's README shows the same example; `.ci/run` checks that it does).
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
