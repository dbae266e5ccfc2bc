//! Async callers: futures for every waiting call, runtime-agnostic (a std `Waker`
//! is all they use), cancel-safe (dropping one leaves the item and the queue as
//! they were meant to be), and woken exactly when the blocking form would return.
//!
//! Each future registers its waker with the queue it waits on; every change that
//! wakes the blocking waiters (a run ends, a pending run is cancelled, an item
//! leaves a bounded list) wakes the registered futures too, once the queue's lock
//! has been released. A woken future re-checks its condition under the lock.

use crate::engine::{
    flushed, not_running, Limit, OwnerCancel, OwnerId, QueueCall, QueueState, RunQueue,
};
use crate::error::Error;
use crate::front::pool::{Owner, Pool};
use crate::front::work::{Queued, Work};
use crate::front::worker::Worker;
use crate::front::workqueue::WorkQueue;
use crate::shutdown::{ArmedAtShutdown, Plan, ShutdownReport};
use crate::support::sync::{lock, Arc, Mutex};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

type Check<T> = Box<dyn FnMut(&mut QueueState) -> Option<T> + Send>;
type Cleanup = Box<dyn FnOnce() + Send>;

/// A future for one of workq's waiting calls (`flush_async`, `cancel_sync_async`,
/// `drain_async`, `unregister_async`, `queue_async`). Its output is what the
/// blocking form returns.
///
/// Dropping it before it completes is safe: the wait is abandoned and whatever the
/// call had set up is undone (a drain stops holding the queue, a `cancel_sync`
/// stops blocking queue calls), as if the blocking form had returned.
///
/// The call that makes the future starts the wait at once (a flush is cut at that
/// point, a drain starts holding the queue, a cancel removes the pending run); the
/// future only waits for it to end.
///
/// ```
/// # let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
/// # rt.block_on(async {
/// use workq::{Error, Work, Worker};
/// let worker = Worker::builder().name("waiting").freezable(true).build()?;
/// worker.freeze()?; // a drain now would wait for the thaw
/// let drain = worker.drain_async();
/// let other = Work::new(|_| {});
/// assert!(matches!(worker.queue(&other), Err(Error::Draining { .. })));
/// drop(drain); // abandoned: the worker stops draining
/// worker.queue(&other)?;
/// worker.thaw()?;
/// worker.flush_async().await?;
/// assert!(!other.is_pending());
/// # Ok::<(), workq::Error>(())
/// # })?;
/// # Ok::<(), workq::Error>(())
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct Waiting<T> {
    state: State<T>,
}

enum State<T> {
    Done(Option<T>),
    Wait {
        queue: Arc<RunQueue>,
        waker: Option<u64>,
        check: Check<T>,
        cleanup: Option<Cleanup>,
    },
}

impl<T> Waiting<T> {
    fn ready(value: T) -> Waiting<T> {
        Waiting {
            state: State::Done(Some(value)),
        }
    }

    fn on(queue: Arc<RunQueue>, check: Check<T>, cleanup: Option<Cleanup>) -> Waiting<T> {
        Waiting {
            state: State::Wait {
                queue,
                waker: None,
                check,
                cleanup,
            },
        }
    }
}

impl<T> Unpin for Waiting<T> {}

impl<T> Future for Waiting<T> {
    type Output = T;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let this = self.get_mut();
        let outcome = match &mut this.state {
            State::Done(value) => return value.take().map_or(Poll::Pending, Poll::Ready),
            State::Wait {
                queue,
                waker,
                check,
                ..
            } => {
                let mut g = queue.lock();
                if let Some(id) = waker.take() {
                    g.wakers.retain(|(i, _)| *i != id);
                }
                match check(&mut g) {
                    Some(v) => Some(v),
                    None => {
                        let id = g.next_waker;
                        g.next_waker += 1;
                        g.wakers.push((id, cx.waker().clone()));
                        *waker = Some(id);
                        None
                    }
                }
            }
        };
        match outcome {
            None => Poll::Pending,
            Some(v) => {
                if let State::Wait {
                    cleanup: Some(c), ..
                } = std::mem::replace(&mut this.state, State::Done(None))
                {
                    c();
                }
                Poll::Ready(v)
            }
        }
    }
}

impl<T> Drop for Waiting<T> {
    fn drop(&mut self) {
        if let State::Wait {
            queue,
            waker,
            cleanup,
            ..
        } = &mut self.state
        {
            if let Some(id) = waker.take() {
                queue.lock().wakers.retain(|(i, _)| *i != id);
            }
            if let Some(c) = cleanup.take() {
                c();
            }
        }
    }
}

impl<T> fmt::Debug for Waiting<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let done = matches!(self.state, State::Done(_));
        f.debug_struct("Waiting").field("done", &done).finish()
    }
}

/// Waits until every run scheduled on `q` before the call has finished.
fn flush_queue(q: &Arc<RunQueue>) -> Waiting<Result<bool, Error>> {
    if let Err(e) = q.refuse_own("flushing a queue from one of its own items") {
        return Waiting::ready(Err(e));
    }
    let color = q.lock().colors.cut();
    let mut first = true;
    Waiting::on(
        q.clone(),
        Box::new(move |g| {
            let done = g.colors.is_done(color);
            let waited = !first;
            first = false;
            done.then_some(Ok(waited))
        }),
        None,
    )
}

/// Flushes `q` until nothing is outstanding, holding it in drain meanwhile.
fn drain_queue(q: &Arc<RunQueue>) -> Waiting<Result<(), Error>> {
    if let Err(e) = q.refuse_own("draining a queue from one of its own items") {
        return Waiting::ready(Err(e));
    }
    let mut color = {
        let mut g = q.lock();
        g.draining += 1;
        g.colors.cut()
    };
    let undo = q.clone();
    Waiting::on(
        q.clone(),
        Box::new(move |g| {
            if !g.colors.is_done(color) {
                return None;
            }
            if g.colors.outstanding() == 0 {
                return Some(Ok(()));
            }
            color = g.colors.cut();
            None
        }),
        Some(Box::new(move || undo.lock().draining -= 1)),
    )
}

impl Work {
    /// The async form of [`Work::flush`].
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
        Waiting::on(
            q,
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
        Waiting::on(
            q,
            Box::new(move |_| not_running(&work, &watched).then_some(Ok(removed))),
            Some(Box::new(move || RunQueue::end_cancel(&end))),
        )
    }
}

impl Worker {
    /// The async form of [`Worker::flush`].
    ///
    /// # Errors
    /// The future resolves to the errors of [`Worker::flush`].
    ///
    /// ```
    /// # let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    /// # rt.block_on(async {
    /// let worker = workq::Worker::new("flush-async")?;
    /// let work = workq::Work::new(|_| {});
    /// worker.queue(&work)?;
    /// worker.flush_async().await?;
    /// assert!(!work.is_pending());
    /// assert_eq!(worker.stats().runs, 1);
    /// # Ok::<(), workq::Error>(())
    /// # })?;
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn flush_async(&self) -> Waiting<Result<bool, Error>> {
        flush_queue(self.run_queue())
    }

    /// The async form of [`Worker::drain`].
    ///
    /// The drain begins when this is called (other callers get
    /// [`Error::Draining`] from then on), not when the future is first polled;
    /// dropping the future ends it.
    ///
    /// # Errors
    /// The future resolves to the errors of [`Worker::drain`].
    ///
    /// ```
    /// # let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    /// # rt.block_on(async {
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    /// let left = Arc::new(AtomicUsize::new(3));
    /// let l = left.clone();
    /// let chain = workq::Work::new(move |ctx| {
    ///     if l.fetch_sub(1, Ordering::SeqCst) > 1 {
    ///         ctx.requeue().expect("requeue"); // chained work: drain waits for it too
    ///     }
    /// });
    /// let worker = workq::Worker::new("drain-async")?;
    /// worker.queue(&chain)?;
    /// worker.drain_async().await?;
    /// assert_eq!(left.load(Ordering::SeqCst), 0);
    /// # Ok::<(), workq::Error>(())
    /// # })?;
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn drain_async(&self) -> Waiting<Result<(), Error>> {
        drain_queue(self.run_queue())
    }
}

impl Pool {
    /// The async form of [`Pool::flush`].
    ///
    /// # Errors
    /// The future resolves to the errors of [`Pool::flush`].
    ///
    /// ```
    /// # let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    /// # rt.block_on(async {
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    /// let pool = workq::Pool::new("flush-async")?;
    /// let done = Arc::new(AtomicUsize::new(0));
    /// let items: Vec<workq::Work> = (0..4)
    ///     .map(|_| {
    ///         let d = done.clone();
    ///         workq::Work::new(move |_| {
    ///             d.fetch_add(1, Ordering::SeqCst);
    ///         })
    ///     })
    ///     .collect();
    /// for w in &items {
    ///     pool.queue(w)?;
    /// }
    /// pool.flush_async().await?;
    /// assert_eq!(done.load(Ordering::SeqCst), 4);
    /// # Ok::<(), workq::Error>(())
    /// # })?;
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn flush_async(&self) -> Waiting<Result<bool, Error>> {
        flush_queue(&self.handle.queue)
    }

    /// The async form of [`Pool::drain`].
    ///
    /// The drain begins when this is called (other callers get
    /// [`Error::Draining`] from then on), not when the future is first polled;
    /// dropping the future ends it.
    ///
    /// # Errors
    /// The future resolves to the errors of [`Pool::drain`].
    ///
    /// ```
    /// # let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    /// # rt.block_on(async {
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    /// let left = Arc::new(AtomicUsize::new(3));
    /// let l = left.clone();
    /// let chain = workq::Work::new(move |ctx| {
    ///     if l.fetch_sub(1, Ordering::SeqCst) > 1 {
    ///         ctx.requeue().expect("requeue"); // chained work: drain waits for it too
    ///     }
    /// });
    /// let pool = workq::Pool::new("drain-async")?;
    /// pool.queue(&chain)?;
    /// pool.drain_async().await?;
    /// assert_eq!(left.load(Ordering::SeqCst), 0);
    /// # Ok::<(), workq::Error>(())
    /// # })?;
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn drain_async(&self) -> Waiting<Result<(), Error>> {
        drain_queue(&self.handle.queue)
    }
}

impl WorkQueue {
    /// The async form of [`WorkQueue::flush`].
    ///
    /// # Errors
    /// The future resolves to the errors of [`WorkQueue::flush`].
    ///
    /// ```
    /// # let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    /// # rt.block_on(async {
    /// let wq = workq::WorkQueue::builder("flush-async").build()?;
    /// let work = workq::Work::new(|_| {});
    /// wq.queue(&work)?;
    /// wq.flush_async().await?; // waits for this queue's runs only
    /// assert!(!work.is_pending());
    /// # Ok::<(), workq::Error>(())
    /// # })?;
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn flush_async(&self) -> Waiting<Result<bool, Error>> {
        flush_queue(self.run_queue())
    }

    /// The async form of [`WorkQueue::drain`].
    ///
    /// The drain begins when this is called (other callers get
    /// [`Error::Draining`] from then on), not when the future is first polled;
    /// dropping the future ends it.
    ///
    /// # Errors
    /// The future resolves to the errors of [`WorkQueue::drain`].
    ///
    /// ```
    /// # let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    /// # rt.block_on(async {
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    /// let left = Arc::new(AtomicUsize::new(3));
    /// let l = left.clone();
    /// let chain = workq::Work::new(move |ctx| {
    ///     if l.fetch_sub(1, Ordering::SeqCst) > 1 {
    ///         ctx.requeue().expect("requeue"); // chained work: drain waits for it too
    ///     }
    /// });
    /// let wq = workq::WorkQueue::builder("drain-async").build()?;
    /// wq.queue(&chain)?;
    /// wq.drain_async().await?;
    /// assert_eq!(left.load(Ordering::SeqCst), 0);
    /// # Ok::<(), workq::Error>(())
    /// # })?;
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn drain_async(&self) -> Waiting<Result<(), Error>> {
        drain_queue(self.run_queue())
    }

    /// The async form of [`WorkQueue::queue`]: on a bounded queue that is full, the
    /// future waits for room instead of blocking a thread. Queueing an item that is
    /// already pending never waits.
    ///
    /// # Errors
    /// The future resolves to the errors of [`WorkQueue::try_queue`], except
    /// [`Error::Full`]: it waits for room instead.
    ///
    /// ```
    /// # let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    /// # rt.block_on(async {
    /// use std::future::{poll_fn, Future};
    /// use std::pin::Pin;
    /// use std::task::Poll;
    /// use workq::{Pool, Queued, Work, WorkQueue};
    /// let pool = Pool::new("bounded-pool")?;
    /// let wq = WorkQueue::builder("bounded").pool(&pool).max_waiting(1).freezable(true).build()?;
    /// wq.freeze()?; // hold the items, so the queue fills up
    /// let (a, b) = (Work::new(|_| {}), Work::new(|_| {}));
    /// assert_eq!(wq.queue_async(&a).await?, Queued::Scheduled); // room: at once
    /// let mut queue_b = wq.queue_async(&b);
    /// // Polled once, it finds the queue full and waits (no thread is blocked).
    /// let waits = poll_fn(|cx| Poll::Ready(Pin::new(&mut queue_b).poll(cx).is_pending())).await;
    /// assert!(waits);
    /// wq.thaw()?; // `a` runs: room for `b`
    /// assert_eq!(queue_b.await?, Queued::Scheduled);
    /// wq.flush_async().await?;
    /// # Ok::<(), workq::Error>(())
    /// # })?;
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn queue_async(&self, work: &Work) -> QueueAsync {
        QueueAsync::new(self.run_queue().clone(), work.clone())
    }
}

impl Owner {
    /// The async form of [`Owner::unregister`].
    ///
    /// # Errors
    /// The future resolves to the errors of [`Owner::unregister`].
    ///
    /// ```
    /// # let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    /// # rt.block_on(async {
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    /// let pool = workq::Pool::new("owners")?;
    /// let owner = pool.register("module");
    /// let runs = Arc::new(AtomicUsize::new(0));
    /// let r = runs.clone();
    /// owner.queue(&workq::Work::new(move |_| {
    ///     r.fetch_add(1, Ordering::SeqCst);
    /// }))?;
    /// owner.unregister_async().await?; // waits for the owner's items
    /// assert_eq!(runs.load(Ordering::SeqCst), 1);
    /// # Ok::<(), workq::Error>(())
    /// # })?;
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn unregister_async(self) -> Waiting<Result<(), Error>> {
        let (q, id) = match self.give_up() {
            Err(e) => return Waiting::ready(Err(e)),
            Ok(p) => p,
        };
        Waiting::on(
            q,
            Box::new(move |g| (g.owned(id) == 0).then_some(Ok(()))),
            None,
        )
    }

    /// The async form of [`Owner::unregister_cancel`]: the owner's pending runs
    /// are cancelled when this is called; the future waits for the runs in
    /// progress (cancelling what they queue meanwhile). Until it completes or is
    /// dropped, queue calls on the owner's running items fail with
    /// [`Error::Canceling`]; dropping it lifts that, and the owner stays given up.
    ///
    /// # Errors
    /// The future resolves to the errors of [`Owner::unregister_cancel`] (known
    /// when this is called: the future is then ready at once).
    ///
    /// ```
    /// # let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    /// # rt.block_on(async {
    /// use std::time::Duration;
    /// let pool = workq::Pool::new("owners")?;
    /// let owner = pool.register("retries");
    /// let retry = workq::Work::new(|_| {});
    /// owner.queue_after(&retry, Duration::from_secs(3600))?;
    /// assert_eq!(owner.unregister_cancel_async().await?, 1); // the armed run
    /// assert!(!retry.is_pending());
    /// # Ok::<(), workq::Error>(())
    /// # })?;
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn unregister_cancel_async(self) -> Waiting<Result<usize, Error>> {
        let (q, id) = match self.give_up() {
            Err(e) => return Waiting::ready(Err(e)),
            Ok(p) => p,
        };
        let mut cancel = OwnerCancel::new(id);
        if !cancel.pass(&q, &mut q.lock()) {
            let removed = cancel.removed();
            cancel.end(&q);
            return Waiting::ready(Ok(removed));
        }
        // Shared by the check (a pass per wake-up) and the clean-up (which lifts
        // the block once the future completes or is dropped, with no lock held).
        let cancel = Arc::new(Mutex::new(Some(cancel)));
        let (watched, end) = (q.clone(), q.clone());
        let ending = cancel.clone();
        Waiting::on(
            q,
            Box::new(move |g| {
                let mut cancel = lock(&cancel);
                let c = cancel.as_mut()?;
                (!c.pass(&watched, g)).then(|| Ok(c.removed()))
            }),
            Some(Box::new(move || {
                if let Some(c) = lock(&ending).take() {
                    c.end(&end);
                }
            })),
        )
    }
}

/// The future of [`WorkQueue::queue_async`] and [`Pool::queue_async`](crate::Pool::queue_async).
/// Its output is what [`WorkQueue::queue`] (or [`Pool::queue`](crate::Pool::queue)) returns.
///
/// Like any future it does nothing until polled; dropping it before it resolves
/// (for example while it waits for room) leaves the item as it was, not queued by it.
///
/// ```
/// # let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
/// # rt.block_on(async {
/// use workq::{Queued, QueueAsync, Work, WorkQueue};
/// let wq = WorkQueue::builder("lazy").build()?;
/// let work = Work::new(|_| {});
/// let fut: QueueAsync = wq.queue_async(&work);
/// assert!(!work.is_pending()); // not polled yet: nothing queued
/// assert_eq!(fut.await?, Queued::Scheduled);
/// wq.flush_async().await?;
/// # Ok::<(), workq::Error>(())
/// # })?;
/// # Ok::<(), workq::Error>(())
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct QueueAsync {
    queue: Arc<RunQueue>,
    work: Work,
    /// The settings of the queue call (its owner, if any, and `Limit::Try`).
    call: QueueCall,
    wait: Option<Waiting<()>>,
}

impl QueueAsync {
    /// The future of a bounded queue call of `work` on `queue`.
    pub(crate) fn new(queue: Arc<RunQueue>, work: Work) -> QueueAsync {
        QueueAsync::for_owner(queue, work, None)
    }

    /// The same, for the pool owner `owner`.
    pub(crate) fn for_owner(
        queue: Arc<RunQueue>,
        work: Work,
        owner: Option<OwnerId>,
    ) -> QueueAsync {
        QueueAsync {
            queue,
            work,
            call: QueueCall::NOW.owner(owner).limit(Limit::Try),
            wait: None,
        }
    }
}

impl Future for QueueAsync {
    type Output = Result<Queued, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        loop {
            if let Some(w) = &mut this.wait {
                match Pin::new(w).poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(()) => this.wait = None,
                }
            }
            match RunQueue::enqueue_with(&this.queue, &this.work.inner, this.call) {
                Err(Error::Full { .. }) => {
                    let (q, work) = (this.queue.clone(), this.work.inner.clone());
                    let watched = q.clone();
                    this.wait = Some(Waiting::on(
                        q,
                        Box::new(move |g| (!watched.is_full(g, &work)).then_some(())),
                        None,
                    ));
                }
                other => return Poll::Ready(other),
            }
        }
    }
}

impl fmt::Debug for QueueAsync {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QueueAsync")
            .field("queue", &&*self.queue.name)
            .field("work", &self.work)
            .finish()
    }
}

/// The future of `destroy_async` ([`Worker::destroy_async`],
/// [`Pool::destroy_async`], [`WorkQueue::destroy_async`]): resolves to what the
/// blocking `destroy` returns, without blocking an executor thread while the queue
/// drains.
///
/// The destroy begins when `destroy_async` is called: the queue is closed to
/// outside work and its armed items are cancelled or fired (as the builder's
/// [`ArmedAtShutdown`](crate::ArmedAtShutdown) says). The future waits for the
/// drain; once nothing waits or runs, the poll that sees it stops the queue's
/// threads and joins them (brief: they have nothing left to run).
///
/// Dropping it before it completes abandons the wait, not the shutdown: the queue
/// stays closed to outside work, its items keep running, and a later `destroy` (or
/// the drop of the last handle) finishes the job. Nothing queued is lost either way.
///
/// ```
/// # let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
/// # rt.block_on(async {
/// let worker = workq::Worker::new("async-exit")?;
/// let work = workq::Work::new(|_| {});
/// worker.queue(&work)?;
/// let report = worker.destroy_async().await?;
/// assert!(report.is_empty());
/// assert!(!work.is_pending()); // drained
/// assert!(worker.queue(&work).is_err());
/// # Ok::<(), workq::Error>(())
/// # })?;
/// # Ok::<(), workq::Error>(())
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct Destroying {
    state: DestroyState,
}

type Finish = Box<dyn FnOnce() -> ShutdownReport + Send>;

enum DestroyState {
    Done(Option<Result<ShutdownReport, Error>>),
    Draining {
        drained: Waiting<()>,
        report: ShutdownReport,
        finish: Finish,
        name: std::sync::Arc<str>,
    },
}

impl Destroying {
    fn refused(e: Error) -> Destroying {
        Destroying {
            state: DestroyState::Done(Some(Err(e))),
        }
    }

    /// Begins the destroy of `q` (close, armed items) and waits for its drain;
    /// `finish` is the front end's blocking destroy, run once drained.
    fn begin(q: &Arc<RunQueue>, armed: ArmedAtShutdown, finish: Finish) -> Destroying {
        let report = RunQueue::begin_shut_down(q, Plan::drain(armed)).report;
        let drained = Waiting::on(
            q.clone(),
            Box::new(|g: &mut QueueState| RunQueue::drained(g).then_some(())),
            None,
        );
        Destroying {
            state: DestroyState::Draining {
                drained,
                report,
                finish,
                name: q.name.clone(),
            },
        }
    }
}

impl Future for Destroying {
    type Output = Result<ShutdownReport, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        match &mut this.state {
            DestroyState::Done(value) => value.take().map_or(Poll::Pending, Poll::Ready),
            DestroyState::Draining { drained, .. } => {
                if Pin::new(drained).poll(cx).is_pending() {
                    return Poll::Pending;
                }
                let DestroyState::Draining {
                    mut report,
                    finish,
                    name,
                    ..
                } = std::mem::replace(&mut this.state, DestroyState::Done(None))
                else {
                    return Poll::Pending;
                };
                report.merge(finish());
                crate::support::log::shutdown_report(&name, &report, false);
                Poll::Ready(Ok(report))
            }
        }
    }
}

impl fmt::Debug for Destroying {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let done = matches!(self.state, DestroyState::Done(_));
        f.debug_struct("Destroying").field("done", &done).finish()
    }
}

impl Worker {
    /// The async form of [`Worker::destroy`]; see [`Destroying`] for when the
    /// destroy begins and what dropping the future does.
    ///
    /// # Errors
    /// The future resolves to the errors of [`Worker::destroy`] (known when this is
    /// called: the future is then ready at once).
    ///
    /// ```
    /// # let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    /// # rt.block_on(async {
    /// let worker = workq::Worker::new("destroy-async")?;
    /// worker.destroy_async().await?;
    /// assert!(worker.destroy_async().await?.is_empty()); // a second time: nothing to do
    /// # Ok::<(), workq::Error>(())
    /// # })?;
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn destroy_async(&self) -> Destroying {
        if let Err(e) = self.refuse_own_destroy() {
            return Destroying::refused(e);
        }
        let w = self.clone();
        Destroying::begin(
            self.run_queue(),
            self.armed_at_shutdown(),
            Box::new(move || w.finish_destroy()),
        )
    }
}

impl Pool {
    /// The async form of [`Pool::destroy`]; see [`Destroying`].
    ///
    /// # Errors
    /// The future resolves to the errors of [`Pool::destroy`].
    ///
    /// ```
    /// # let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    /// # rt.block_on(async {
    /// let pool = workq::Pool::new("destroy-async")?;
    /// pool.queue(&workq::Work::new(|_| {}))?;
    /// assert_eq!(pool.destroy_async().await?.discarded(), 0);
    /// # Ok::<(), workq::Error>(())
    /// # })?;
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn destroy_async(&self) -> Destroying {
        if let Err(e) = self.refuse_own_destroy() {
            return Destroying::refused(e);
        }
        let q = self.handle.queue.clone();
        Destroying::begin(
            &self.handle.queue,
            self.armed_at_shutdown(),
            Box::new(move || RunQueue::shut_down(&q, false, Plan::drain(ArmedAtShutdown::Cancel))),
        )
    }
}

impl WorkQueue {
    /// The async form of [`WorkQueue::destroy`]; see [`Destroying`].
    ///
    /// # Errors
    /// The future resolves to the errors of [`WorkQueue::destroy`].
    ///
    /// ```
    /// # let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    /// # rt.block_on(async {
    /// let wq = workq::WorkQueue::builder("destroy-async").build()?;
    /// wq.queue(&workq::Work::new(|_| {}))?;
    /// wq.destroy_async().await?;
    /// assert!(wq.queue(&workq::Work::new(|_| {})).is_err());
    /// # Ok::<(), workq::Error>(())
    /// # })?;
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn destroy_async(&self) -> Destroying {
        if let Err(e) = self.refuse_own_destroy() {
            return Destroying::refused(e);
        }
        let wq = self.clone();
        Destroying::begin(
            self.run_queue(),
            self.armed_at_shutdown(),
            Box::new(move || wq.finish_destroy()),
        )
    }
}
