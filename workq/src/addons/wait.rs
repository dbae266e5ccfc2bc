//! Async callers: futures for every waiting call, runtime-agnostic (a std `Waker`
//! is all they use), cancel-safe (dropping one leaves the item and the queue as
//! they were meant to be), and woken exactly when the blocking form would return.
//!
//! Each future registers a ticket with the queue it waits on, through the same
//! primitive as the blocking calls (`engine/waiters.rs`): a flush or drain is
//! woken only when the flush colour it waits for is done, any other wait at each
//! change the queue reports (a run ends, a pending run is cancelled, an item
//! leaves a bounded list), once the queue's lock has been released. A woken
//! future re-checks its condition under the lock.

use crate::engine::item::handle::{Queued, Work};
use crate::engine::waiters::{Ticket, Until, Who};
use crate::engine::{Limit, OwnerId, QueueCall, QueueState, RunQueue};
use crate::error::Error;
use crate::shutdown::{ArmedAtShutdown, Plan, ShutdownReport};
use crate::support::sync::Arc;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

// `Sync` too, so that the futures holding them are `Sync` (what they capture is
// queue and item handles, colours and flags: all `Sync`).
type Check<T> = Box<dyn FnMut(&mut QueueState) -> Option<T> + Send + Sync>;
/// A check that also says what to wait for when it is not ready.
type CheckUntil<T> = Box<dyn FnMut(&mut QueueState) -> Result<T, Until> + Send + Sync>;
type Cleanup = Box<dyn FnOnce() + Send + Sync>;

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
/// future only waits for it to end. `queue_async` ([`QueueAsync`]) does the same:
/// its call queues the item if there is room, and the future waits only when
/// there is none.
///
/// `Waiting<T>` is `Send`, and `Sync` when `T` is: it may be held across an
/// `.await` in a future that must be `Send` or shared by reference.
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
/// fn send_and_sync<F: Send + Sync>(_: &F) {}
/// send_and_sync(&worker.flush_async());
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
        ticket: Option<Ticket>,
        check: CheckUntil<T>,
        cleanup: Option<Cleanup>,
    },
}

impl<T> Waiting<T> {
    pub(crate) fn ready(value: T) -> Waiting<T> {
        Waiting {
            state: State::Done(Some(value)),
        }
    }

    /// A future that is ready when `check` returns a value, looking again at
    /// every change the queue reports; `cleanup` runs once it is ready or dropped.
    pub(crate) fn on(
        queue: Arc<RunQueue>,
        mut check: Check<T>,
        cleanup: Option<Cleanup>,
    ) -> Waiting<T>
    where
        T: 'static,
    {
        Waiting::until(
            queue,
            Box::new(move |g| check(g).ok_or(Until::Change)),
            cleanup,
        )
    }

    /// The same for a wait on one item: woken when a run of `item` ends or the
    /// queue reports another change, not by the runs of other items.
    pub(crate) fn on_item(
        queue: Arc<RunQueue>,
        item: &crate::engine::item::WorkInner,
        mut check: Check<T>,
        cleanup: Option<Cleanup>,
    ) -> Waiting<T>
    where
        T: 'static,
    {
        let until = Until::Item(crate::engine::waiters::item_key(item));
        Waiting::until(queue, Box::new(move |g| check(g).ok_or(until)), cleanup)
    }

    /// The same with a check that says what to wait for (a flush colour: woken
    /// only when that colour is done).
    pub(crate) fn until(
        queue: Arc<RunQueue>,
        check: CheckUntil<T>,
        cleanup: Option<Cleanup>,
    ) -> Waiting<T> {
        Waiting {
            state: State::Wait {
                queue,
                ticket: None,
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
                ticket,
                check,
                ..
            } => {
                let mut g = queue.lock();
                if let Some(t) = ticket.take() {
                    g.waits.remove(t);
                }
                match check(&mut g) {
                    Ok(v) => Some(v),
                    Err(until) => {
                        *ticket = Some(g.waits.register(until, Who::Task(cx.waker().clone())));
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
            ticket,
            cleanup,
            ..
        } = &mut self.state
        {
            if let Some(t) = ticket.take() {
                queue.lock().waits.remove(t);
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
pub(crate) fn flush_queue(q: &Arc<RunQueue>) -> Waiting<Result<bool, Error>> {
    if let Err(e) = q.refuse_own("flushing a queue from one of its own items") {
        return Waiting::ready(Err(e));
    }
    // Whether it has runs to wait for is decided at the call, where the flush
    // is cut, not at the first poll (by which time they may have finished).
    let (color, outstanding) = {
        let mut g = q.lock();
        let color = g.colors.cut();
        (color, !g.colors.is_done(color))
    };
    Waiting::until(
        q.clone(),
        Box::new(move |g| {
            if g.colors.is_done(color) {
                Ok(Ok(outstanding))
            } else {
                Err(Until::Color(color))
            }
        }),
        None,
    )
}

/// Flushes `q` until nothing is outstanding, holding it in drain meanwhile.
pub(crate) fn drain_queue(q: &Arc<RunQueue>) -> Waiting<Result<(), Error>> {
    if let Err(e) = q.refuse_own("draining a queue from one of its own items") {
        return Waiting::ready(Err(e));
    }
    let mut color = {
        let mut g = q.lock();
        g.life.begin_drain();
        g.colors.cut()
    };
    let undo = q.clone();
    Waiting::until(
        q.clone(),
        Box::new(move |g| {
            if !g.colors.is_done(color) {
                return Err(Until::Color(color));
            }
            if g.colors.outstanding() == 0 {
                return Ok(Ok(()));
            }
            color = g.colors.cut();
            Err(Until::Color(color))
        }),
        Some(Box::new(move || undo.lock().life.end_drain())),
    )
}

/// The future of [`WorkQueue::queue_async`](crate::WorkQueue::queue_async) and [`Pool::queue_async`](crate::Pool::queue_async).
/// Its output is what [`WorkQueue::queue`](crate::WorkQueue::queue) (or [`Pool::queue`](crate::Pool::queue)) returns.
///
/// Like the other async calls ([`Waiting`]), `queue_async` starts at the call:
/// it queues the item then if there is room (or fails then, for example on a
/// destroyed queue), and the future only hands over that outcome. Only on a
/// full bounded queue does the future wait, for room, and queue the item when
/// a poll finds some; dropping it while it waits leaves the item as it was,
/// not queued by it. It is `Send` and `Sync`.
///
/// ```
/// # let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
/// # rt.block_on(async {
/// use workq::{Queued, QueueAsync, Work, WorkQueue};
/// let wq = WorkQueue::builder("eager").freezable(true).build()?;
/// wq.freeze()?; // hold the run, so the item stays pending
/// let work = Work::new(|_| {});
/// let fut: QueueAsync = wq.queue_async(&work);
/// assert!(work.is_pending()); // queued by the call, before any poll
/// assert_eq!(fut.await?, Queued::Scheduled);
/// wq.thaw()?;
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
    /// The outcome of a queue call made already, not yet handed over.
    outcome: Option<Result<Queued, Error>>,
}

impl QueueAsync {
    /// The bounded queue call of `work` on `queue`, counted for the pool owner
    /// `owner` (if any), made now (`queue_async`, `spawn_async`): the future
    /// hands over its outcome, or waits for room if the queue is full.
    pub(crate) fn started(queue: Arc<RunQueue>, work: Work, owner: Option<OwnerId>) -> QueueAsync {
        let mut fut = QueueAsync {
            queue,
            work,
            call: QueueCall::NOW.owner(owner).limit(Limit::Try),
            wait: None,
            outcome: None,
        };
        fut.outcome = fut.attempt();
        fut
    }

    /// Makes the queue call: its outcome, or `None` (waiting for room) when the
    /// queue is full.
    fn attempt(&mut self) -> Option<Result<Queued, Error>> {
        match RunQueue::enqueue_with(&self.queue, &self.work.inner, self.call) {
            Err(Error::Full { .. }) => {
                let (q, work) = (self.queue.clone(), self.work.inner.clone());
                let watched = q.clone();
                self.wait = Some(Waiting::on(
                    q,
                    Box::new(move |g| (!watched.is_full(g, &work)).then_some(())),
                    None,
                ));
                None
            }
            other => Some(other),
        }
    }
}

impl Future for QueueAsync {
    type Output = Result<Queued, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        if let Some(outcome) = this.outcome.take() {
            return Poll::Ready(outcome);
        }
        loop {
            if let Some(w) = &mut this.wait {
                match Pin::new(w).poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(()) => this.wait = None,
                }
            }
            if let Some(outcome) = this.attempt() {
                return Poll::Ready(outcome);
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

/// The future of `destroy_async` ([`Worker::destroy_async`](crate::Worker::destroy_async),
/// [`Pool::destroy_async`](crate::Pool::destroy_async), [`WorkQueue::destroy_async`](crate::WorkQueue::destroy_async)): resolves to what the
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

type Finish = Box<dyn FnOnce() -> ShutdownReport + Send + Sync>;

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
    pub(crate) fn refused(e: Error) -> Destroying {
        Destroying {
            state: DestroyState::Done(Some(Err(e))),
        }
    }

    /// Begins the destroy of `q` (close, armed items) and waits for its drain;
    /// `finish` is the front end's blocking destroy, run once drained.
    pub(crate) fn begin(q: &Arc<RunQueue>, armed: ArmedAtShutdown, finish: Finish) -> Destroying {
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
