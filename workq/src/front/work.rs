//! The work item's public methods: queue calls from a run, cancel, flush,
//! disable, and what a run can see (`WorkCtx`). The types themselves are
//! defined with the engine's side of the item (`engine/item/handle.rs`), which
//! calls the closure with a `WorkCtx` and answers queue calls with `Queued`.

mod waits;

pub use crate::engine::item::handle::{Queued, Work, WorkCtx};
use crate::engine::item::{Body, Class, WorkInner};
use crate::engine::RunQueue;
use crate::error::Error;
use crate::support::sync::Arc;
use std::fmt;
use std::time::{Duration, Instant};

impl Work {
    /// A new idle work item running `f` each time it is queued.
    ///
    /// ```
    /// let work = workq::Work::new(|_ctx| println!("hello from a worker"));
    /// assert!(!work.is_pending());
    /// ```
    pub fn new<F>(f: F) -> Work
    where
        F: Fn(&WorkCtx<'_>) + Send + Sync + 'static,
    {
        Work::build(None, Class::Normal, f)
    }

    /// A new idle work item with a name, used in panic reports and logs.
    ///
    /// ```
    /// let work = workq::Work::named("flush-cache", |_ctx| {});
    /// assert_eq!(work.name(), Some("flush-cache"));
    /// ```
    pub fn named<F>(name: impl Into<String>, f: F) -> Work
    where
        F: Fn(&WorkCtx<'_>) + Send + Sync + 'static,
    {
        Work::build(Some(name.into().into_boxed_str()), Class::Normal, f)
    }

    /// A new idle, named work item of the *very slow* class: on a
    /// [`Pool`](crate::Pool) only a share of the threads runs such items at once, so
    /// they cannot take every thread from ordinary work. Elsewhere the class makes
    /// no difference.
    ///
    /// ```
    /// let scan = workq::Work::very_slow("rescan-disk", |_ctx| {});
    /// assert!(scan.is_very_slow());
    /// ```
    pub fn very_slow<F>(name: impl Into<String>, f: F) -> Work
    where
        F: Fn(&WorkCtx<'_>) + Send + Sync + 'static,
    {
        Work::build(Some(name.into().into_boxed_str()), Class::VerySlow, f)
    }

    /// Whether the item is of the very slow class.
    ///
    /// ```
    /// assert!(!workq::Work::new(|_| {}).is_very_slow());
    /// ```
    pub fn is_very_slow(&self) -> bool {
        self.inner.class == Class::VerySlow
    }

    pub(crate) fn build<F>(name: Option<Box<str>>, class: Class, f: F) -> Work
    where
        F: Fn(&WorkCtx<'_>) + Send + Sync + 'static,
    {
        Work {
            inner: Arc::new(WorkInner::new(name, class, f)),
        }
    }

    /// An item running `body` (a job's).
    pub(crate) fn with_body(class: Class, body: std::sync::Arc<dyn Body>) -> Work {
        Work {
            inner: Arc::new(WorkInner::with_body(None, class, body)),
        }
    }

    /// The item's name, if it was given one.
    ///
    /// ```
    /// assert_eq!(workq::Work::new(|_| {}).name(), None);
    /// ```
    pub fn name(&self) -> Option<&str> {
        self.inner.name()
    }

    /// Whether a run is scheduled and has not started.
    ///
    /// The answer may be stale by the time it is read; use it for display and
    /// heuristics, not for deciding whether to queue (just queue: it is cheap).
    ///
    /// ```
    /// let worker = workq::Worker::builder().name("pending-demo").freezable(true).build()?;
    /// worker.freeze()?;
    /// let work = workq::Work::new(|_| {});
    /// worker.queue(&work)?;
    /// assert!(work.is_pending());
    /// worker.thaw()?;
    /// work.flush()?;
    /// assert!(!work.is_pending());
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn is_pending(&self) -> bool {
        self.inner.state.read().is_pending()
    }

    /// Whether a run is in progress.
    ///
    /// ```
    /// let work = workq::Work::new(|ctx| assert!(ctx.work().is_running()));
    /// assert!(!work.is_running());
    /// ```
    pub fn is_running(&self) -> bool {
        self.inner.state.read().is_running()
    }

    /// Removes a pending run that has not started. Never waits for a run in
    /// progress. Returns whether a pending run was removed.
    ///
    /// If the item is running and was queued again during the run, the extra run is
    /// removed and the current one goes on.
    ///
    /// ```
    /// let worker = workq::Worker::builder().name("cancel-demo").freezable(true).build()?;
    /// worker.freeze()?;
    /// let work = workq::Work::new(|_| unreachable!("cancelled before it ran"));
    /// worker.queue(&work)?;
    /// assert!(work.cancel());
    /// assert!(!work.cancel());
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn cancel(&self) -> bool {
        RunQueue::cancel_pending(&self.inner)
    }

    /// Cancels a pending run and waits until a run in progress has finished.
    /// Afterwards the item is neither pending nor running until it is queued again.
    /// Queue calls made while this is in progress (including the item's own
    /// [`WorkCtx::requeue`]) fail with [`Error::Canceling`]. Returns whether a
    /// pending run was removed. Concurrent calls on one item all return.
    ///
    /// # Errors
    /// * [`Error::WouldDeadlock`] when called from the item's own run.
    /// * [`Error::TooManyCancels`] with more than 4,095 calls in progress on one item.
    ///
    /// ```
    /// let worker = workq::Worker::new("cancel-sync-demo")?;
    /// let work = workq::Work::new(|ctx| {
    ///     // Re-queues itself forever, until cancelled.
    ///     let _ = ctx.requeue();
    /// });
    /// worker.queue(&work)?;
    /// work.cancel_sync()?;
    /// assert!(!work.is_pending() && !work.is_running());
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn cancel_sync(&self) -> Result<bool, Error> {
        RunQueue::cancel_sync(&self.inner)
    }

    /// Waits until the last queued run of the item has finished. Runs queued after
    /// this call began do not extend the wait. Returns whether it had to wait.
    ///
    /// # Errors
    /// [`Error::WouldDeadlock`] when called from the item's own run, or from another
    /// item on the same single-thread [`Worker`](crate::Worker) while this item is
    /// pending or running there.
    ///
    /// ```
    /// let worker = workq::Worker::new("flush-demo")?;
    /// let work = workq::Work::new(|_| std::thread::yield_now());
    /// worker.queue(&work)?;
    /// work.flush()?;
    /// assert!(!work.is_pending() && !work.is_running());
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn flush(&self) -> Result<bool, Error> {
        RunQueue::flush_item(&self.inner)
    }

    /// Disables the item: cancels its pending run (queued or armed) and makes every
    /// queue call fail with [`Error::Disabled`] until a matching
    /// [`enable`](Work::enable). Disables nest. Never waits for a run in progress
    /// (see [`disable_sync`](Work::disable_sync)). Returns whether a pending run was
    /// removed.
    ///
    /// # Errors
    /// [`Error::TooManyCancels`] past 4,095 nested disables.
    ///
    /// ```
    /// let worker = workq::Worker::new("disable")?;
    /// let work = workq::Work::new(|_| {});
    /// work.disable()?;
    /// work.disable()?;
    /// assert!(matches!(worker.queue(&work), Err(workq::Error::Disabled)));
    /// assert!(!work.enable()?); // still disabled once
    /// assert!(work.enable()?);
    /// worker.queue(&work)?;
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn disable(&self) -> Result<bool, Error> {
        RunQueue::disable(&self.inner, false)
    }

    /// [`disable`](Work::disable), then waits until a run in progress has finished.
    ///
    /// # Errors
    /// As [`disable`](Work::disable), and [`Error::WouldDeadlock`] from the item's
    /// own run.
    ///
    /// ```
    /// let work = workq::Work::new(|_| {});
    /// assert!(!work.disable_sync()?);
    /// assert!(work.is_disabled());
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn disable_sync(&self) -> Result<bool, Error> {
        RunQueue::disable(&self.inner, true)
    }

    /// Undoes one [`disable`](Work::disable). Returns whether the item may be queued
    /// again (the last disable was undone).
    ///
    /// # Errors
    /// [`Error::NotDisabled`] if the item is not disabled.
    ///
    /// ```
    /// let work = workq::Work::new(|_| {});
    /// assert!(matches!(work.enable(), Err(workq::Error::NotDisabled)));
    /// ```
    pub fn enable(&self) -> Result<bool, Error> {
        RunQueue::enable(&self.inner)
    }

    /// Whether the item is disabled.
    ///
    /// ```
    /// assert!(!workq::Work::new(|_| {}).is_disabled());
    /// ```
    pub fn is_disabled(&self) -> bool {
        self.inner.state.read().is_disabled()
    }

    /// Whether two handles refer to the same item.
    ///
    /// ```
    /// let a = workq::Work::new(|_| {});
    /// let b = a.clone();
    /// assert!(a.ptr_eq(&b));
    /// assert!(!a.ptr_eq(&workq::Work::new(|_| {})));
    /// ```
    pub fn ptr_eq(&self, other: &Work) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

impl fmt::Debug for Work {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.inner.state.peek();
        f.debug_struct("Work")
            .field("name", &self.name())
            .field("pending", &s.is_pending())
            .field("running", &s.is_running())
            .field("canceling", &s.is_canceling())
            .field("disabled", &s.is_disabled())
            .finish()
    }
}

impl WorkCtx<'_> {
    /// The item's name, if it has one.
    ///
    /// ```
    /// let work = workq::Work::named("job", |ctx| assert_eq!(ctx.name(), Some("job")));
    /// # let w = workq::Worker::new("ctx-name")?; w.queue(&work)?; work.flush()?;
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn name(&self) -> Option<&str> {
        self.work.name()
    }

    /// The name of the queue (worker, pool or workqueue) running the item.
    ///
    /// ```
    /// let work = workq::Work::new(|ctx| assert_eq!(ctx.queue_name(), "ctx-queue"));
    /// # let w = workq::Worker::new("ctx-queue")?; w.queue(&work)?; work.flush()?;
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn queue_name(&self) -> &str {
        &self.queue.name
    }

    /// Whether a [`Work::cancel_sync`] is waiting for this run; long work can check
    /// it and stop early.
    ///
    /// ```
    /// let work = workq::Work::new(|ctx| {
    ///     while !ctx.is_canceling() {
    ///         std::thread::yield_now();
    ///     }
    /// });
    /// # let w = workq::Worker::new("ctx-cancel")?; w.queue(&work)?;
    /// # while !work.is_running() { std::thread::yield_now(); }
    /// work.cancel_sync()?; // returns once the loop above sees the cancel
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn is_canceling(&self) -> bool {
        self.work.state.read().is_canceling()
    }

    /// Queues the item again on the queue it is running on: it runs once more after
    /// this run ends. Returns [`Queued::Rerun`] (or [`Queued::AlreadyPending`] if
    /// someone else already queued it).
    ///
    /// # Errors
    /// [`Error::Canceling`] while a `cancel_sync` is in progress; [`Error::Destroyed`]
    /// once the queue has stopped.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    /// let left = Arc::new(AtomicUsize::new(3));
    /// let l = left.clone();
    /// let work = workq::Work::new(move |ctx| {
    ///     if l.fetch_sub(1, Ordering::SeqCst) > 1 {
    ///         ctx.requeue().expect("requeue");
    ///     }
    /// });
    /// let worker = workq::Worker::new("ctx-requeue")?;
    /// worker.queue(&work)?;
    /// worker.drain()?;
    /// assert_eq!(left.load(Ordering::SeqCst), 0);
    /// # Ok::<(), workq::Error>(())
    /// ```
    #[inline]
    pub fn requeue(&self) -> Result<Queued, Error> {
        RunQueue::requeue_own(self.queue, self.work)
    }

    /// Arms the item to run again after `delay` on the queue it is running on (a
    /// zero delay re-queues it now). The building block of periodic work.
    ///
    /// # Errors
    /// As [`requeue`](WorkCtx::requeue), and [`Error::Spawn`] if the timer thread
    /// cannot start.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// let runs = Arc::new(AtomicUsize::new(0));
    /// let r = runs.clone();
    /// let work = workq::Work::new(move |ctx| {
    ///     if r.fetch_add(1, Ordering::SeqCst) < 2 {
    ///         ctx.requeue_after(Duration::from_millis(1)).expect("re-arm");
    ///     }
    /// });
    /// let worker = workq::Worker::new("ctx-after")?;
    /// worker.queue(&work)?;
    /// while runs.load(Ordering::SeqCst) < 3 {
    ///     work.flush()?;
    /// }
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn requeue_after(&self, delay: Duration) -> Result<Queued, Error> {
        RunQueue::enqueue_with(self.queue, self.work, self.queue.due_after(delay))
    }

    /// Arms the item to run again at `deadline` on the queue it is running on.
    ///
    /// # Errors
    /// As [`requeue_after`](WorkCtx::requeue_after).
    ///
    /// ```
    /// let work = workq::Work::new(|ctx| {
    ///     let _ = ctx.requeue_at(std::time::Instant::now()); // due: re-queued now
    /// });
    /// # let _ = work;
    /// ```
    pub fn requeue_at(&self, deadline: Instant) -> Result<Queued, Error> {
        RunQueue::enqueue_with(self.queue, self.work, self.queue.due_at(deadline))
    }

    /// The current time of the clock that drives this item's timers (the system
    /// clock, or a [`ManualClock`](crate::ManualClock)).
    ///
    /// ```
    /// let work = workq::Work::new(|ctx| assert!(ctx.now() <= std::time::Instant::now()));
    /// # let w = workq::Worker::new("ctx-now")?; w.queue(&work)?; work.flush()?;
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn now(&self) -> Instant {
        self.queue.timer.now()
    }

    /// Gives the thread back while waiting: sleeps up to `timeout`, but returns
    /// early with `true` as soon as the thread is needed by other work (an item is
    /// waiting and no thread is idle). The item should then re-queue itself
    /// ([`requeue`](WorkCtx::requeue)) and return, so its thread takes the other
    /// work (the kernel's `slow_work_sleep_till_thread_needed`). Returns `false` when
    /// the timeout passed with the thread not needed.
    ///
    /// ```
    /// use std::time::Duration;
    /// let pool = workq::Pool::new("give-back")?;
    /// let waiter = workq::Work::new(|ctx| {
    ///     if ctx.sleep_till_thread_needed(Duration::from_millis(5)) {
    ///         let _ = ctx.requeue(); // come back later; let the others run
    ///     }
    /// });
    /// pool.queue(&waiter)?;
    /// waiter.flush()?;
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn sleep_till_thread_needed(&self, timeout: Duration) -> bool {
        self.queue.sleep_till_thread_needed(timeout)
    }

    /// A handle to the running item (for example to hand to another thread).
    ///
    /// ```
    /// let work = workq::Work::new(|ctx| assert!(ctx.work().is_running()));
    /// # let w = workq::Worker::new("ctx-work")?; w.queue(&work)?; work.flush()?;
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn work(&self) -> Work {
        Work {
            inner: self.work.clone(),
        }
    }
}

impl fmt::Debug for WorkCtx<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkCtx")
            .field("work", &self.name())
            .field("queue", &self.queue_name())
            .finish()
    }
}
