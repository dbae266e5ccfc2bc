//! Measuring tools shared by the scenarios: statistics, latches, thread and CPU
//! counts from `/proc`, and the counting allocator.

pub mod alloc;
pub(crate) mod procfs;
pub(crate) mod stats;
pub(crate) mod sync;
