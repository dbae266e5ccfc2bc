//! The front ends a user holds: the work item handle, a dedicated worker, a
//! self-sizing pool (and its owners), named workqueues, and the `Submit` face
//! they share. Each is a thin layer over the engine's `RunQueue`.

pub(crate) mod face;
pub(crate) mod job;
pub(crate) mod pool;
pub(crate) mod submit;
pub(crate) mod work;
pub(crate) mod worker;
pub(crate) mod workqueue;
