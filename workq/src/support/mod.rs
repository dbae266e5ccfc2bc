//! Support code with no knowledge of work items: the sync shim (std or loom),
//! padding against false sharing, trouble reports, the thread's run marker and
//! the catching of user panics, handles of started threads.

pub(crate) mod current;
#[macro_use]
pub(crate) mod log;
pub(crate) mod padded;
pub(crate) mod panic;
pub(crate) mod sync;
#[cfg(all(feature = "inspect", unix))]
pub(crate) mod tap;
pub(crate) mod thread;
