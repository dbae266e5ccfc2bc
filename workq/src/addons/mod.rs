//! What is built on the front ends without changing the engine's contract:
//! never-lost events, periodic items, the runqueue view, async waits and the
//! stall watchdog.

pub(crate) mod events;
#[cfg(feature = "metrics")]
pub mod metrics;
pub(crate) mod periodic;
pub(crate) mod snapshot;
pub(crate) mod wait;
pub(crate) mod watchdog;
