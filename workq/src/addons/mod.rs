//! What is built on the front ends without changing the engine's contract:
//! never-lost events, periodic items, the runqueue view, async waits, the
//! stall watchdog and the inspection endpoint.

pub(crate) mod events;
#[cfg(all(feature = "inspect", unix))]
pub mod inspect;
#[cfg(feature = "metrics")]
pub mod metrics;
pub(crate) mod periodic;
pub(crate) mod snapshot;
pub(crate) mod wait;
pub(crate) mod watchdog;
