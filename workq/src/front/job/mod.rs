//! Jobs: one-shot closures with a result, spawned on any front end's queue.
//!
//! A job is a work item queued once, whose closure runs the user's `FnOnce`
//! at most once (`core.rs` holds the claim that makes it so) and keeps its
//! result for the handle ([`Job`], `handle.rs`). The front ends get their
//! `spawn` and `scope` methods from one macro (`spawn.rs`); a scope's jobs
//! borrow from the caller (`scope.rs`).

pub(crate) mod core;
pub(crate) mod handle;
pub(crate) mod scope;
pub(crate) mod spawn;

pub use handle::{Job, JobError};
pub use scope::{Scope, ScopedJob};
pub use spawn::SpawnAsync;
