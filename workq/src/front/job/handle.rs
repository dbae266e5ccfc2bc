//! The handle of a job ([`Job`]) and what a join can answer ([`JobError`]).

use crate::error::Error;
use crate::front::job::core::JobLink;
use std::any::Any;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// The handle of a job: a one-shot closure spawned on a queue, with its result.
///
/// Made by `spawn` (and `spawn_after`, `spawn_at`, `try_spawn`, `spawn_batch`)
/// on a [`Pool`](crate::Pool), [`Worker`](crate::Worker),
/// [`WorkQueue`](crate::WorkQueue) or [`Owner`](crate::Owner), or by
/// [`workq::spawn`](crate::spawn) on the process-wide default queue. A job is a
/// work item queued once: it keeps every guarantee of the queue it runs on
/// (`max_active`, ordering, freezing, owners, the very slow class, flush and
/// drain, the runqueue view and the stall watchdog see it as they see items).
///
/// * [`join`](Job::join) waits for the result; a panic in the job comes back as
///   [`JobError::Panicked`] with its payload, as from `std::thread::JoinHandle`.
/// * [`cancel`](Job::cancel) removes a job that has not started: its closure is
///   dropped at once and the join answers [`JobError::Cancelled`].
/// * A job whose queue is shut down before it ran (`shutdown_now`, a
///   `destroy_timeout` that ran out) answers [`JobError::Discarded`]; one whose
///   queue refused it (destroyed, draining) answers [`JobError::Refused`].
/// * `Job<R>` is a [`Future`] of the same result (std's `Waker` only; any
///   executor). Dropping the handle detaches the job: it still runs, and a panic
///   in it then goes to its queue's panic hook.
///
/// # Example
/// ```
/// let pool = workq::Pool::new("jobs")?;
/// let job = pool.spawn(|| 6 * 7);
/// assert_eq!(job.join()?, 42);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use = "dropping a Job detaches it: use `join` to get its result"]
pub struct Job<R> {
    link: Arc<dyn JobLink<R>>,
}

impl<R> Job<R> {
    pub(crate) fn new(link: Arc<dyn JobLink<R>>) -> Job<R> {
        Job { link }
    }

    /// Another handle on the job's state (one that never detaches it).
    pub(crate) fn link(&self) -> Arc<dyn JobLink<R>> {
        self.link.clone()
    }

    /// The job's state.
    pub(crate) fn link_ref(&self) -> &dyn JobLink<R> {
        &*self.link
    }

    /// Waits until the job has ended and returns its result.
    ///
    /// # Errors
    /// [`JobError::Panicked`] (with the panic's payload),
    /// [`JobError::Cancelled`], [`JobError::Discarded`] or
    /// [`JobError::Refused`]; [`JobError::AlreadyJoined`] if a
    /// [`join_timeout`](Job::join_timeout) or the future took the result.
    ///
    /// ```
    /// let worker = workq::Worker::new("join-demo")?;
    /// let job = worker.spawn(|| panic!("boom"));
    /// let err = job.join().unwrap_err();
    /// assert!(err.is_panic());
    /// assert_eq!(err.panic_message(), Some("boom"));
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn join(self) -> Result<R, JobError> {
        self.link.shared().join(None)
    }

    /// Waits at most `timeout` for the job to end. On
    /// [`JobError::TimedOut`] the job goes on and can be joined again; any
    /// other answer takes the result.
    ///
    /// # Errors
    /// As [`join`](Job::join), and [`JobError::TimedOut`].
    ///
    /// ```
    /// use std::time::Duration;
    /// let worker = workq::Worker::builder().name("timeout-demo").freezable(true).build()?;
    /// worker.freeze()?; // hold the job
    /// let mut job = worker.spawn(|| "done");
    /// assert!(matches!(job.join_timeout(Duration::from_millis(1)), Err(workq::JobError::TimedOut)));
    /// worker.thaw()?;
    /// assert_eq!(job.join_timeout(Duration::from_secs(60))?, "done");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn join_timeout(&mut self, timeout: Duration) -> Result<R, JobError> {
        let deadline = Instant::now().checked_add(timeout);
        self.link.shared().join(deadline.or(Some(far_future())))
    }

    /// Whether the job has ended: it ran (or panicked), or it will never run
    /// (cancelled, discarded, refused). A `join` then returns at once.
    ///
    /// ```
    /// let worker = workq::Worker::new("finished-demo")?;
    /// let job = worker.spawn(|| 1);
    /// worker.flush()?;
    /// assert!(job.is_finished());
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn is_finished(&self) -> bool {
        self.link.shared().is_finished()
    }

    /// Cancels the job if it has not started: its closure is dropped now, and
    /// the join answers [`JobError::Cancelled`]. Returns false when it has
    /// started (or ended); it then runs to its end. Never waits.
    ///
    /// ```
    /// let worker = workq::Worker::builder().name("cancel-job").freezable(true).build()?;
    /// worker.freeze()?;
    /// let job = worker.spawn(|| unreachable!("cancelled before it ran"));
    /// assert!(job.cancel());
    /// assert!(matches!(job.join(), Err(workq::JobError::Cancelled)));
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn cancel(&self) -> bool {
        self.link.cancel()
    }
}

/// A deadline that never comes, for a timeout too long to add to now.
fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(60 * 60 * 24 * 365 * 30)
}

impl<R> Drop for Job<R> {
    fn drop(&mut self) {
        self.link.shared().detach();
    }
}

impl<R> Future for Job<R> {
    type Output = Result<R, JobError>;

    /// Ready with the result once the job has ended. Dropping the future
    /// detaches the job (it still runs).
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.link.shared().poll_result(cx.waker()) {
            Some(result) => Poll::Ready(result),
            None => Poll::Pending,
        }
    }
}

impl<R> fmt::Debug for Job<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Job")
            .field("finished", &self.is_finished())
            .finish()
    }
}

/// Why a job gave no result.
///
/// ```
/// let pool = workq::Pool::new("job-error")?;
/// match pool.spawn(|| -> u32 { panic!("bad input") }).join() {
///     Ok(_) => unreachable!(),
///     Err(e) if e.is_panic() => assert_eq!(e.panic_message(), Some("bad input")),
///     Err(e) => panic!("unexpected: {e}"),
/// }
/// # Ok::<(), workq::Error>(())
/// ```
#[non_exhaustive]
pub enum JobError {
    /// The job panicked; the payload, as `std::thread::Result` carries it.
    Panicked(Box<dyn Any + Send + 'static>),
    /// [`Job::cancel`] removed it before it started.
    Cancelled,
    /// Its queue was shut down without running it (`shutdown_now`, or a
    /// `destroy_timeout` that ran out).
    Discarded,
    /// Its queue refused it: destroyed, draining, or full for a `try_spawn`.
    Refused(Error),
    /// [`Job::join_timeout`] ran out; the job goes on.
    TimedOut,
    /// The result was taken already (by a `join_timeout` or the future).
    AlreadyJoined,
}

impl JobError {
    /// Whether the job panicked.
    ///
    /// ```
    /// assert!(!workq::JobError::Cancelled.is_panic());
    /// ```
    pub fn is_panic(&self) -> bool {
        matches!(self, JobError::Panicked(_))
    }

    /// Whether the job was cancelled.
    ///
    /// ```
    /// assert!(workq::JobError::Cancelled.is_cancelled());
    /// ```
    pub fn is_cancelled(&self) -> bool {
        matches!(self, JobError::Cancelled)
    }

    /// The panic's message, when the payload is a string (as from `panic!`).
    ///
    /// ```
    /// let e = workq::JobError::Panicked(Box::new("oops"));
    /// assert_eq!(e.panic_message(), Some("oops"));
    /// ```
    pub fn panic_message(&self) -> Option<&str> {
        match self {
            JobError::Panicked(p) => crate::support::panic::string_message(p.as_ref()),
            _ => None,
        }
    }

    /// The panic's payload, to resume it with `std::panic::resume_unwind`.
    ///
    /// # Errors
    /// Gives `self` back when the job did not panic.
    ///
    /// ```
    /// let e = workq::JobError::Panicked(Box::new(7u8));
    /// let payload = e.into_panic().ok().expect("a panic");
    /// assert_eq!(payload.downcast_ref::<u8>(), Some(&7));
    /// ```
    pub fn into_panic(self) -> Result<Box<dyn Any + Send + 'static>, JobError> {
        match self {
            JobError::Panicked(p) => Ok(p),
            other => Err(other),
        }
    }
}

impl fmt::Debug for JobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JobError::Panicked(_) => f
                .debug_tuple("Panicked")
                .field(&self.panic_message().unwrap_or("<non-string payload>"))
                .finish(),
            JobError::Cancelled => f.write_str("Cancelled"),
            JobError::Discarded => f.write_str("Discarded"),
            JobError::Refused(e) => f.debug_tuple("Refused").field(e).finish(),
            JobError::TimedOut => f.write_str("TimedOut"),
            JobError::AlreadyJoined => f.write_str("AlreadyJoined"),
        }
    }
}

impl fmt::Display for JobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JobError::Panicked(_) => match self.panic_message() {
                Some(m) => write!(f, "the job panicked: {m}"),
                None => f.write_str("the job panicked"),
            },
            JobError::Cancelled => f.write_str("the job was cancelled before it started"),
            JobError::Discarded => f.write_str("the job's queue was shut down before it ran"),
            JobError::Refused(e) => write!(f, "the job's queue refused it: {e}"),
            JobError::TimedOut => f.write_str("the job had not ended when the wait timed out"),
            JobError::AlreadyJoined => f.write_str("the job's result was already taken"),
        }
    }
}

impl std::error::Error for JobError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            JobError::Refused(e) => Some(e),
            _ => None,
        }
    }
}
