//! Measuring tools shared by the scenarios: statistics, latches, thread and CPU
//! counts from `/proc`, the counting allocator, and interleaved repetitions.

pub mod alloc;
pub(crate) mod procfs;
pub(crate) mod rounds;
pub(crate) mod stats;
pub(crate) mod sync;
