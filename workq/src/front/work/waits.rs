//! The async forms of a work item's waiting calls (flush, cancel_sync, disable_sync).

use crate::addons::wait::Waiting;
use crate::engine::{flushed, not_running, RunQueue};
use crate::error::Error;
use crate::front::work::Work;

impl Work {
    /// The async form of [`Work::flush`].
    ///
    /// The flush starts when this is called: the future waits for the runs
    /// queued before the call, not before its first poll (as `queue_async`
    /// queues at the call; see [`Waiting`]).
    ///
    /// # Errors
    /// The future resolves to the errors of [`Work::flush`].
    ///
    /// ```
    /// # let worker = workq::Worker::new("af")?;
    /// let work = workq::Work::new(|_| {});
    /// worker.queue(&work)?;
    /// # let fut =
    /// work.flush_async() // .await in async code
    /// # ; drop(fut);
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn flush_async(&self) -> Waiting<Result<bool, Error>> {
        let (q, target) = match RunQueue::prepare_flush(&self.inner) {
            Err(e) => return Waiting::ready(Err(e)),
            Ok(None) => return Waiting::ready(Ok(false)),
            Ok(Some(p)) => p,
        };
        let work = self.inner.clone();
        let watched = q.clone();
        Waiting::on_item(
            q,
            &self.inner,
            Box::new(move |_| flushed(&work, &watched, target).then_some(Ok(true))),
            None,
        )
    }

    /// The async form of [`Work::cancel_sync`]: the pending run is cancelled when
    /// this is called; the future waits for a run in progress. Until it completes or
    /// is dropped, queue calls on the item fail with [`Error::Canceling`].
    ///
    /// # Errors
    /// The future resolves to the errors of [`Work::cancel_sync`] (known when this is
    /// called: the future is then ready at once).
    ///
    /// ```
    /// # let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    /// # rt.block_on(async {
    /// use std::sync::{mpsc, Mutex};
    /// use workq::{Error, Work, Worker};
    /// let worker = Worker::new("cancel-async")?;
    /// let (started_tx, started) = mpsc::channel();
    /// let (release, released) = mpsc::channel::<()>();
    /// let released = Mutex::new(released);
    /// let work = Work::new(move |_| {
    ///     let _ = started_tx.send(());
    ///     let _ = released.lock().expect("lock").recv(); // runs until released
    /// });
    /// worker.queue(&work)?;
    /// started.recv().expect("started");
    /// let cancel = work.cancel_sync_async(); // waits for the run in progress
    /// assert!(matches!(worker.queue(&work), Err(Error::Canceling)));
    /// release.send(()).expect("release");
    /// assert!(!cancel.await?); // the run ended; there was no pending run to remove
    /// assert!(!work.is_running());
    /// assert!(worker.queue(&work)?.added_run()); // queueable again
    /// drop(release); // lets that run end at once
    /// # Ok::<(), workq::Error>(())
    /// # })?;
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn cancel_sync_async(&self) -> Waiting<Result<bool, Error>> {
        let removed = match RunQueue::begin_cancel(&self.inner) {
            Err(e) => return Waiting::ready(Err(e)),
            Ok(r) => r,
        };
        let Some(q) = self.inner.bound_queue() else {
            RunQueue::end_cancel(&self.inner);
            return Waiting::ready(Ok(removed));
        };
        let (work, end) = (self.inner.clone(), self.inner.clone());
        let watched = q.clone();
        Waiting::on_item(
            q,
            &self.inner,
            Box::new(move |_| not_running(&work, &watched).then_some(Ok(removed))),
            Some(Box::new(move || RunQueue::end_cancel(&end))),
        )
    }
}
