//! The one error type of the crate.

use std::fmt;

/// Everything that can go wrong in workq.
///
/// Misuse is reported as one of these values: no method panics or blocks forever
/// because it was called at the wrong time or from the wrong place.
///
/// The enum is `#[non_exhaustive]`: a `match` on it needs a `_` arm.
///
/// ```
/// use workq::{Error, Work, Worker};
/// let worker = Worker::new("gone")?;
/// worker.destroy()?;
/// let err = worker.queue(&Work::new(|_| {})).unwrap_err();
/// match &err {
///     Error::Destroyed { queue } => assert_eq!(queue, "gone"),
///     other => panic!("unexpected: {other}"),
/// }
/// assert_eq!(err.to_string(), "'gone' has been destroyed and takes no more work");
/// let _: Box<dyn std::error::Error + Send + Sync> = err.into(); // a std error
/// # Ok::<(), workq::Error>(())
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The item is pending or running on another queue; it may move once it is idle.
    Busy {
        /// Name of the queue the call was made on.
        queue: String,
    },
    /// A `cancel_sync` of the item is in progress, so it cannot be queued now.
    Canceling,
    /// The queue has been destroyed (or is being destroyed); it takes no more work.
    Destroyed {
        /// Name of the destroyed queue.
        queue: String,
    },
    /// The queue is draining: only items running on it may queue onto it.
    Draining {
        /// Name of the draining queue.
        queue: String,
    },
    /// Waiting here could never end: the call was made from inside a run that the
    /// wait would have to outlast (flushing an item from its own run, flushing or
    /// destroying a worker from one of its own items, ...).
    WouldDeadlock {
        /// What was called.
        what: &'static str,
    },
    /// `freeze` / `thaw` on a worker that was not built freezable.
    NotFreezable {
        /// Name of the worker.
        queue: String,
    },
    /// An OS thread could not be started.
    Spawn {
        /// Name of the thread that could not be started.
        thread: String,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// The CPU asked for does not exist or is not available to this process
    /// (`WorkerBuilder::cpu`, with the `cpu-affinity` feature).
    InvalidCpu {
        /// The CPU asked for.
        cpu: usize,
        /// The CPUs this process may use.
        available: Vec<usize>,
    },
    /// A builder setting is out of range.
    InvalidConfig {
        /// Which setting.
        setting: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// An event kind outside the range an [`Events`](crate::Events) was built with
    /// ([`Events::raise`](crate::Events::raise)): kinds are `0..kinds`.
    InvalidKind {
        /// Name of the events.
        events: String,
        /// The kind asked for.
        kind: u8,
        /// How many kinds the events have.
        kinds: usize,
    },
    /// A pool has no thread and may not start one yet: a thread start failed and
    /// the pool is backing off before it tries again.
    NoThreads {
        /// Name of the pool.
        queue: String,
        /// When the pool will try to start a thread again.
        retry_in: std::time::Duration,
    },
    /// Too many `cancel_sync` calls are in progress on one item at once (over 4,095),
    /// or an item was disabled more than 4,095 times without an enable.
    TooManyCancels,
    /// The item is disabled ([`Work::disable`](crate::Work::disable)); queueing it
    /// fails until a matching [`Work::enable`](crate::Work::enable).
    Disabled,
    /// [`Work::enable`](crate::Work::enable) of an item that is not disabled.
    NotDisabled,
    /// The workqueue already holds its maximum of waiting items
    /// ([`WorkQueue::try_queue`](crate::WorkQueue::try_queue)).
    Full {
        /// Name of the queue.
        queue: String,
        /// Its bound on waiting items.
        max_waiting: usize,
    },
    /// A wait with a time limit ran out before what it waited for happened
    /// ([`Owner::unregister_timeout`](crate::Owner::unregister_timeout)).
    TimedOut {
        /// What was waited for.
        what: &'static str,
        /// Items still outstanding when the time ran out.
        remaining: usize,
    },
    /// The inspection endpoint (feature `inspect`) cannot serve at this path: its
    /// directory is unsafe, another endpoint is live there, something else is
    /// in the way, or a system call failed.
    Inspect {
        /// The socket's path (empty when no default path could be made).
        path: std::path::PathBuf,
        /// What is wrong.
        reason: String,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Busy { queue } => write!(
                f,
                "the work item is pending or running on another queue, so it cannot be queued on '{queue}' until it is idle"
            ),
            Error::Canceling => f.write_str("a cancel_sync of this work item is in progress"),
            Error::Destroyed { queue } => write!(f, "'{queue}' has been destroyed and takes no more work"),
            Error::Draining { queue } => write!(
                f,
                "'{queue}' is draining: only items running on it may queue onto it"
            ),
            Error::WouldDeadlock { what } => write!(
                f,
                "{what} would wait for the run it was called from and never return"
            ),
            Error::NotFreezable { queue } => write!(f, "'{queue}' was not built freezable"),
            Error::Spawn { thread, source } => {
                write!(f, "could not start thread '{thread}': {source}")
            }
            Error::InvalidCpu { cpu, available } => {
                write!(f, "CPU {cpu} is not available to this process (available: {available:?})")
            }
            Error::InvalidConfig { setting, reason } => write!(f, "invalid {setting}: {reason}"),
            Error::InvalidKind { events, kind, kinds } => write!(
                f,
                "event kind {kind} is not one of the {kinds} kinds of '{events}' (0..{kinds})"
            ),
            Error::NoThreads { queue, retry_in } => write!(
                f,
                "'{queue}' has no thread and cannot start one now (next try in {retry_in:?})"
            ),
            Error::TooManyCancels => f.write_str(
                "more than 4,095 cancel_sync calls in progress, or nested disables, on one work item",
            ),
            Error::Disabled => f.write_str("the work item is disabled"),
            Error::NotDisabled => f.write_str("enable of a work item that is not disabled"),
            Error::Full { queue, max_waiting } => {
                write!(f, "'{queue}' is full ({max_waiting} items waiting)")
            }
            Error::TimedOut { what, remaining } => write!(
                f,
                "{what} timed out with {remaining} item(s) still outstanding"
            ),
            Error::Inspect { path, reason } => write!(
                f,
                "cannot serve the inspection endpoint at '{}': {reason}",
                path.display()
            ),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Spawn { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// An `InvalidConfig` error.
pub(crate) fn invalid(setting: &'static str, reason: impl Into<String>) -> Error {
    Error::InvalidConfig {
        setting,
        reason: reason.into(),
    }
}

/// Checks a name for a queue or its threads: non-empty, no NUL byte.
pub(crate) fn check_name(name: &str) -> Result<(), Error> {
    if name.is_empty() || name.contains('\0') {
        return Err(invalid("name", "must be non-empty and contain no NUL byte"));
    }
    Ok(())
}

/// The smallest stack a workq thread may ask for.
pub(crate) const MIN_STACK: usize = 16 * 1024;

/// Checks a thread stack size.
pub(crate) fn check_stack(bytes: Option<usize>) -> Result<(), Error> {
    match bytes {
        Some(b) if b < MIN_STACK => Err(invalid(
            "stack_size",
            format!("{b} bytes is below the minimum of {MIN_STACK}"),
        )),
        _ => Ok(()),
    }
}
