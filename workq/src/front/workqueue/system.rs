//! The process-wide default pool and queues, created on first use (the kernel's
//! `system_wq` and `system_long_wq`).

use super::{WorkQueue, WorkQueueBuilder};
use crate::error::Error;
use crate::front::job::Job;
use crate::front::pool::Pool;
use crate::front::work::{Queued, Work};
use std::sync::OnceLock;
use std::time::Duration;

/// How long an item may run, or items wait, on a default queue before the stall
/// watchdog reports it.
const DEFAULT_STALL: Duration = Duration::from_secs(30);

/// The default pool behind the default queues (named `workq`; its threads start
/// on first use and are culled when idle).
pub(crate) fn default_pool() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(|| crate::front::pool::PoolBuilder::new().name("workq").make())
}

fn make(name: &str, very_slow: bool) -> WorkQueue {
    WorkQueueBuilder::new(name.to_string())
        .very_slow(very_slow)
        .watchdog(Some(DEFAULT_STALL))
        .make_without_rescuer(default_pool().clone())
}

/// The process-wide default queue, created on first use on the default pool
/// (the kernel's `system_wq`), with the stall watchdog on (30 s).
///
/// ```
/// let work = workq::Work::new(|_| {});
/// workq::system().queue(&work)?;
/// work.flush()?;
/// # Ok::<(), workq::Error>(())
/// ```
pub fn system() -> &'static WorkQueue {
    static SYSTEM: OnceLock<WorkQueue> = OnceLock::new();
    SYSTEM.get_or_init(|| make("workq-system", false))
}

/// The process-wide queue for items that may block for long (the kernel's
/// `system_long_wq`): its items run in the default pool's very slow class, so they
/// can never take every thread from [`system`]'s items.
///
/// ```
/// let scan = workq::Work::new(|_| std::thread::sleep(std::time::Duration::from_millis(1)));
/// workq::system_long().queue(&scan)?;
/// scan.flush()?;
/// # Ok::<(), workq::Error>(())
/// ```
pub fn system_long() -> &'static WorkQueue {
    static LONG: OnceLock<WorkQueue> = OnceLock::new();
    LONG.get_or_init(|| make("workq-long", true))
}

/// Queues `work` on the [`system`] queue: deferred work with no set-up.
///
/// # Errors
/// As [`WorkQueue::queue`].
///
/// ```
/// let work = workq::Work::new(|_| println!("deferred"));
/// workq::queue(&work)?;
/// work.flush()?;
/// # Ok::<(), workq::Error>(())
/// ```
pub fn queue(work: &Work) -> Result<Queued, Error> {
    system().queue(work)
}

/// Spawns the one-shot closure `f` on the [`system`] queue and returns its
/// [`Job`]: a result from the default pool with no set-up (as
/// `std::thread::spawn`, without a thread per call).
///
/// ```
/// let job = workq::spawn(|| "hello from the default pool");
/// assert_eq!(job.join()?, "hello from the default pool");
/// # Ok::<(), workq::JobError>(())
/// ```
pub fn spawn<F, R>(f: F) -> Job<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    system().spawn(f)
}
