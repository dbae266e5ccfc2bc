//! Where work can be queued: the common face of workers, pools and owners.

use crate::error::Error;
use crate::front::pool::{Owner, Pool};
use crate::front::work::{Queued, Work};
use crate::front::worker::Worker;
use crate::front::workqueue::WorkQueue;

/// Something a [`Work`] item can be queued on: a [`Worker`], a [`Pool`], a pool
/// [`Owner`] or a [`WorkQueue`]. Lets helpers such as [`Events`](crate::Events) work with any of them.
///
/// ```
/// use workq::{Submit, Work, Worker};
/// fn kick(target: &dyn Submit, work: &Work) -> Result<(), workq::Error> {
///     target.submit(work).map(drop)
/// }
/// let worker = Worker::new("kick")?;
/// kick(&worker, &Work::new(|_| {}))?;
/// # Ok::<(), workq::Error>(())
/// ```
pub trait Submit: Send + Sync {
    /// Queues `work`, with the same contract as [`Worker::queue`].
    ///
    /// # Errors
    /// As the implementation's `queue`.
    fn submit(&self, work: &Work) -> Result<Queued, Error>;

    /// The name of the queue, for reports.
    fn target_name(&self) -> &str;
}

impl Submit for Worker {
    fn submit(&self, work: &Work) -> Result<Queued, Error> {
        self.queue(work)
    }

    fn target_name(&self) -> &str {
        self.name()
    }
}

impl Submit for Pool {
    fn submit(&self, work: &Work) -> Result<Queued, Error> {
        self.queue(work)
    }

    fn target_name(&self) -> &str {
        self.name()
    }
}

impl Submit for Owner {
    fn submit(&self, work: &Work) -> Result<Queued, Error> {
        self.queue(work)
    }

    fn target_name(&self) -> &str {
        self.pool().name()
    }
}

impl Submit for WorkQueue {
    fn submit(&self, work: &Work) -> Result<Queued, Error> {
        self.queue(work)
    }

    fn target_name(&self) -> &str {
        self.name()
    }
}
