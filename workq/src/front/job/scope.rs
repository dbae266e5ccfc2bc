//! Scoped jobs: closures that borrow the caller's stack, spawned on a queue
//! whose threads outlive them ([`Scope`], [`ScopedJob`]).
//!
//! A scoped job is an ordinary job (`core.rs`) whose closure's lifetime was
//! erased by the `scope-lock` crate, which keeps the `unsafe` this needs out of
//! workq. What makes the erasure sound is the same rule as `std::thread::scope`:
//!
//! * a closure spawned in a scope must outlive `'scope`, a lifetime the scope's
//!   body cannot name a local of (the body takes `&'scope Scope` for every
//!   `'scope`), so it borrows only what outlives the call of `scope`;
//! * `scope` returns (or unwinds) only after every job spawned in it has ended,
//!   and a job ends (`JobShared::is_finished`) only after its closure was
//!   dropped: run, cancelled, discarded or refused. `scope-lock` checks the
//!   same at the end of its own scope as a second line.
//!
//! The caller waits for the jobs; if it is running one of the queue's own items
//! (a `Worker`'s item calling `worker.scope`), it runs the jobs still waiting
//! itself, at the scope's end and in a `ScopedJob::join`, so that it never
//! waits for the thread it is on.

use crate::engine::item::Class;
use crate::engine::{Limit, QueueCall, RunQueue};
use crate::front::face::Face;
use crate::front::job::core::JobLink;
use crate::front::job::handle::{Job, JobError};
use crate::front::job::spawn::spawn_on;
use crate::support::sync::{lock, Arc, Mutex};
use std::fmt;
use std::marker::PhantomData;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};

/// Spawns a scope's closure as a job, its lifetime erased (object safe:
/// generic over a lifetime only).
trait Erase: Sync {
    fn spawn_erased<'f>(
        &self,
        queue: &Arc<RunQueue>,
        call: QueueCall,
        f: Box<dyn FnOnce() + Send + 'f>,
    ) -> Job<()>;
}

impl<'s, 'env> Erase for &'s scope_lock::Extender<'s, 'env> {
    fn spawn_erased<'f>(
        &self,
        queue: &Arc<RunQueue>,
        call: QueueCall,
        f: Box<dyn FnOnce() + Send + 'f>,
    ) -> Job<()> {
        let extended = self.fn_once(Box::new(move |(): ()| f()));
        spawn_on(queue, Class::Normal, call, move || extended(()))
    }
}

/// A scope of jobs that may borrow from outside it, made by `scope` on a
/// [`Pool`](crate::Pool::scope), [`Worker`](crate::Worker::scope),
/// [`WorkQueue`](crate::WorkQueue::scope) or [`Owner`](crate::Owner::scope):
/// the workq form of `std::thread::scope`, on the queue's threads.
///
/// Every job spawned through it has ended by the time `scope` returns, so its
/// jobs may borrow (even mutably) anything that outlives the `scope` call. Jobs
/// may spawn more jobs in the same scope.
///
/// ```
/// let pool = workq::Pool::new("scope-doc")?;
/// let names = vec!["disk0".to_string(), "disk1".to_string()];
/// let mut sizes = vec![0usize; names.len()];
/// pool.scope(|s| {
///     for (name, size) in names.iter().zip(sizes.iter_mut()) {
///         s.spawn(move || *size = name.len() * 100);
///     }
/// });
/// assert_eq!(sizes, [500, 500]);
/// # Ok::<(), workq::Error>(())
/// ```
pub struct Scope<'scope, 'env: 'scope> {
    erase: &'scope (dyn Erase + 'scope),
    queue: Arc<RunQueue>,
    call: QueueCall,
    /// Every job spawned in the scope and not yet waited for.
    jobs: Mutex<Vec<Job<()>>>,
    /// Invariant in both lifetimes, as `std::thread::Scope`.
    _scope: PhantomData<&'scope mut &'scope ()>,
    _env: PhantomData<&'env mut &'env ()>,
}

/// The handle of a job spawned in a [`Scope`]: join it for its result inside
/// the scope. Dropping it is fine: the scope still waits for the job.
pub struct ScopedJob<'scope, T> {
    link: std::sync::Arc<dyn JobLink<()>>,
    result: std::sync::Arc<Mutex<Option<T>>>,
    _scope: PhantomData<&'scope ()>,
}

/// Runs `body` with a scope on `face`'s queue; see [`Pool::scope`](crate::Pool::scope).
pub(crate) fn scope<'env, F, T>(face: &impl Face, body: F) -> T
where
    F: for<'scope> FnOnce(&'scope Scope<'scope, 'env>) -> T,
{
    let queue = face.face_queue().clone();
    let call = face.face_call(Limit::Block);
    scope_lock::lock_scope(move |extender| {
        let erase = extender;
        let scope = Scope {
            erase: &erase,
            queue,
            call,
            jobs: Mutex::new(Vec::new()),
            _scope: PhantomData,
            _env: PhantomData,
        };
        let outcome = catch_unwind(AssertUnwindSafe(|| body(&scope)));
        let failure = scope.wait_all();
        match outcome {
            Err(payload) => resume_unwind(payload),
            Ok(value) => {
                if let Some(what) = failure {
                    panic!("a scoped job {what}");
                }
                value
            }
        }
    })
}

impl<'scope, 'env> Scope<'scope, 'env> {
    /// Spawns `f` on the scope's queue; `f` may borrow anything that outlives
    /// the scope. On a bounded queue the call waits for room.
    ///
    /// The job keeps the guarantees of a job spawned with `spawn` on the same
    /// queue, except that a caller waiting at the end of the scope from inside
    /// one of the queue's own items runs the jobs still waiting itself.
    ///
    /// ```
    /// let pool = workq::Pool::new("scope-spawn")?;
    /// let words = ["a", "bb", "ccc"];
    /// let total = pool.scope(|s| {
    ///     let jobs: Vec<_> = words.iter().map(|w| s.spawn(move || w.len())).collect();
    ///     jobs.into_iter().map(|j| j.join().expect("no panic")).sum::<usize>()
    /// });
    /// assert_eq!(total, 6);
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn spawn<F, T>(&'scope self, f: F) -> ScopedJob<'scope, T>
    where
        F: FnOnce() -> T + Send + 'scope,
        T: Send + 'scope,
    {
        let result = std::sync::Arc::new(Mutex::new(None));
        let slot = result.clone();
        let job = self.erase.spawn_erased(
            &self.queue,
            self.call,
            Box::new(move || {
                let value = f();
                *lock(&slot) = Some(value);
            }),
        );
        let link = job.link();
        lock(&self.jobs).push(job);
        ScopedJob {
            link,
            result,
            _scope: PhantomData,
        }
    }

    /// Waits for every job spawned so far and since (jobs may spawn more),
    /// helping when the caller runs one of the queue's items; the first
    /// failure no join took, if any.
    fn wait_all(&self) -> Option<&'static str> {
        let mut failure = None;
        loop {
            let jobs = std::mem::take(&mut *lock(&self.jobs));
            if jobs.is_empty() {
                return failure;
            }
            for job in &jobs {
                job.link_ref().help();
            }
            for job in &jobs {
                job.link_ref().shared().wait_ended();
            }
            for job in &jobs {
                failure = failure.or_else(|| job.link_ref().shared().unjoined_failure());
            }
        }
    }
}

impl<T> ScopedJob<'_, T> {
    /// Waits until the job has ended and returns its result. Called from
    /// inside one of the queue's own items, it runs the job here if it has not
    /// started, instead of waiting for the thread it is on.
    ///
    /// # Errors
    /// [`JobError::Panicked`] (with the payload: the scope then does not panic
    /// for it), [`JobError::Cancelled`], [`JobError::Discarded`],
    /// [`JobError::Refused`], or [`JobError::AlreadyJoined`].
    ///
    /// ```
    /// let worker = workq::Worker::new("scoped-join")?;
    /// let mut n = 1;
    /// worker.scope(|s| {
    ///     let job = s.spawn(|| { n += 1; n });
    ///     assert_eq!(job.join().expect("ran"), 2);
    /// });
    /// assert_eq!(n, 2);
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn join(self) -> Result<T, JobError> {
        // Scoped jobs are never armed: one look is enough.
        self.link.help();
        self.link.shared().join(None)?;
        lock(&self.result).take().ok_or(JobError::AlreadyJoined)
    }

    /// Whether the job has ended (ran, or will never run).
    ///
    /// ```
    /// let worker = workq::Worker::new("scoped-finished")?;
    /// worker.scope(|s| {
    ///     let job = s.spawn(|| 1);
    ///     while !job.is_finished() {
    ///         std::thread::yield_now();
    ///     }
    ///     assert_eq!(job.join().expect("ran"), 1);
    /// });
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn is_finished(&self) -> bool {
        self.link.shared().is_finished()
    }

    /// Cancels the job if it has not started: its closure is dropped now and
    /// the join answers [`JobError::Cancelled`]; false when it has started.
    ///
    /// ```
    /// let worker = workq::Worker::builder().name("scoped-cancel").freezable(true).build()?;
    /// worker.freeze()?;
    /// worker.scope(|s| {
    ///     let job = s.spawn(|| unreachable!("cancelled first"));
    ///     assert!(job.cancel());
    /// });
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn cancel(&self) -> bool {
        self.link.cancel()
    }
}

impl fmt::Debug for Scope<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scope")
            .field("jobs", &lock(&self.jobs).len())
            .finish_non_exhaustive()
    }
}

impl<T> fmt::Debug for ScopedJob<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScopedJob")
            .field("finished", &self.is_finished())
            .finish_non_exhaustive()
    }
}
