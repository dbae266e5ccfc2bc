//! How a job becomes a work item on a front end's queue, and the `spawn`
//! methods every front end shares ([`jobs_face!`]).

use crate::addons::wait::QueueAsync;
use crate::engine::item::Class;
use crate::engine::{Limit, QueueCall, RunQueue};
use crate::error::Error;
use crate::front::face::Face;
use crate::front::job::core::{JobCore, JobLink};
use crate::front::job::handle::Job;
use crate::front::work::Work;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// A job of `class` running `f`: its handle, and the item that runs it once
/// queued.
pub(crate) fn make<F, R>(class: Class, f: F) -> (Job<R>, Arc<JobCore<F, R>>, Work)
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let core = Arc::new(JobCore::new(f));
    let work = Work::with_body(class, core.clone());
    core.set_item(&work.inner);
    let link: Arc<dyn JobLink<R>> = core.clone();
    (Job::new(link), core, work)
}

/// Spawns `f` on `face`'s queue with the queue call `call`: a refused call
/// ends the job with [`JobError::Refused`](crate::JobError::Refused).
pub(crate) fn spawn_with<F, R>(face: &impl Face, class: Class, call: QueueCall, f: F) -> Job<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    spawn_on(face.face_queue(), class, call, f)
}

/// Spawns `f` on `queue` with the queue call `call`.
pub(crate) fn spawn_on<F, R>(
    queue: &crate::support::sync::Arc<RunQueue>,
    class: Class,
    call: QueueCall,
    f: F,
) -> Job<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let (job, core, work) = make(class, f);
    if let Err(e) = RunQueue::enqueue_with(queue, &work.inner, call) {
        // Before the item is dropped, which would count it as discarded.
        core.refuse(e);
    }
    job
}

/// `spawn`: now, waiting for room if the queue is bounded.
pub(crate) fn spawn<F, R>(face: &impl Face, class: Class, f: F) -> Job<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    spawn_with(face, class, face.face_call(Limit::Block), f)
}

/// `try_spawn`: now, or the queue's error (full, destroyed, draining) with the
/// closure dropped.
pub(crate) fn try_spawn<F, R>(face: &impl Face, f: F) -> Result<Job<R>, Error>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let (job, _core, work) = make(Class::Normal, f);
    RunQueue::enqueue_with(face.face_queue(), &work.inner, face.face_call(Limit::Try))?;
    Ok(job)
}

/// `spawn_at`: armed for `deadline` on the queue's timer.
pub(crate) fn spawn_at<F, R>(face: &impl Face, deadline: Instant, f: F) -> Job<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let call = face.face_queue().due_at(deadline).owner(face.face_owner());
    spawn_with(face, Class::Normal, call, f)
}

/// `spawn_after`: armed to run after `delay`.
pub(crate) fn spawn_after<F, R>(face: &impl Face, delay: Duration, f: F) -> Job<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let call = face.face_queue().due_after(delay).owner(face.face_owner());
    spawn_with(face, Class::Normal, call, f)
}

/// `spawn_async`: waits for room without blocking a thread.
pub(crate) fn spawn_async<F, R>(face: &impl Face, f: F) -> SpawnAsync<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let (job, _core, work) = make(Class::Normal, f);
    SpawnAsync {
        call: QueueAsync::started(face.face_queue().clone(), work, face.face_owner()),
        job: Some(job),
    }
}

/// `spawn_batch`: every job of `jobs`, in order, queued under one lock
/// (`RunQueue::enqueue_batch`); a refused one ends with
/// [`JobError::Refused`](crate::JobError::Refused).
pub(crate) fn spawn_batch<I, F, R>(face: &impl Face, jobs: I) -> Vec<Job<R>>
where
    I: IntoIterator<Item = F>,
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let jobs = jobs.into_iter();
    let capacity = jobs.size_hint().0;
    let mut handles = Vec::with_capacity(capacity);
    let mut cores = Vec::with_capacity(capacity);
    let mut items = Vec::with_capacity(capacity);
    for f in jobs {
        let (job, core, work) = make(Class::Normal, f);
        handles.push(job);
        cores.push(core);
        items.push(work.inner.clone());
    }
    let answers = RunQueue::enqueue_batch(face.face_queue(), &items, face.face_call(Limit::Block));
    for (answer, core) in answers.into_iter().zip(&cores) {
        if let Err(e) = answer {
            core.refuse(e);
        }
    }
    handles
}

/// The future of [`spawn_async`](crate::Pool::spawn_async): ready with the
/// job's handle once its queue took it, or with the queue's error.
///
/// Like the other async calls, `spawn_async` starts at the call: the job is
/// queued then if the queue has room, and the future only hands over its
/// handle. Only on a full queue does the future wait for room; dropping it
/// while it waits drops the job unrun, and dropping it after the job was
/// queued detaches the job, which still runs.
///
/// ```
/// # let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
/// # rt.block_on(async {
/// let pool = workq::Pool::new("spawn-async")?;
/// let job = pool.spawn_async(|| 5).await?; // waits for room, not for the job
/// assert_eq!(job.await?, 5);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct SpawnAsync<R> {
    call: QueueAsync,
    job: Option<Job<R>>,
}

impl<R> Future for SpawnAsync<R> {
    type Output = Result<Job<R>, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        match Pin::new(&mut this.call).poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Ready(Ok(_)) => match this.job.take() {
                Some(job) => Poll::Ready(Ok(job)),
                None => Poll::Ready(Err(Error::InvalidConfig {
                    setting: "spawn_async",
                    reason: "the future was polled again after it was ready".to_string(),
                })),
            },
        }
    }
}

impl<R> std::fmt::Debug for SpawnAsync<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpawnAsync").finish_non_exhaustive()
    }
}

/// The job methods of a front end (`$ty` implements [`Face`]): `spawn`,
/// `spawn_after`, `spawn_at`, `spawn_batch` and `scope`, and with `bounded` also
/// `try_spawn` and `spawn_async`. `$make` is an expression (in doc examples)
/// that builds one, bound to `$var`.
macro_rules! jobs_face {
    ($ty:ident, $var:literal, $make:literal, bounded) => {
        crate::front::job::spawn::jobs_face!($ty, $var, $make);

        impl $ty {
            /// Spawns `f` now if the queue has room for one more waiting item,
            /// else answers at once.
            ///
            /// # Errors
            /// [`Error::Full`](crate::Error::Full) when `max_waiting` items
            /// wait, and the errors of `queue` (destroyed, draining); the
            /// closure is dropped unrun.
            ///
            /// ```
            #[doc = concat!("let ", $var, " = ", $make, ";")]
            #[doc = concat!("let job = ", $var, ".try_spawn(|| \"ran\")?;")]
            /// assert_eq!(job.join()?, "ran");
            /// # Ok::<(), Box<dyn std::error::Error>>(())
            /// ```
            pub fn try_spawn<F, R>(&self, f: F) -> Result<crate::Job<R>, crate::Error>
            where
                F: FnOnce() -> R + Send + 'static,
                R: Send + 'static,
            {
                crate::front::job::spawn::try_spawn(self, f)
            }

            /// Spawns `f`, waiting for room without blocking a thread (the async
            /// `spawn` of a bounded queue). The future gives the job's handle, which
            /// is itself a future of the result.
            ///
            /// ```
            /// # let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
            /// # rt.block_on(async {
            #[doc = concat!("let ", $var, " = ", $make, ";")]
            #[doc = concat!("let job = ", $var, ".spawn_async(|| 2 + 2).await?;")]
            /// assert_eq!(job.await?, 4);
            /// # Ok::<(), Box<dyn std::error::Error>>(())
            /// # })?;
            /// # Ok::<(), Box<dyn std::error::Error>>(())
            /// ```
            pub fn spawn_async<F, R>(&self, f: F) -> crate::SpawnAsync<R>
            where
                F: FnOnce() -> R + Send + 'static,
                R: Send + 'static,
            {
                crate::front::job::spawn::spawn_async(self, f)
            }
        }
    };
    ($ty:ident, $var:literal, $make:literal) => {
        impl $ty {
            /// Spawns the one-shot closure `f` here and returns its [`Job`](crate::Job):
            /// join it for `f`'s result. The job runs like a work item queued once,
            /// with every guarantee of this queue; on a bounded queue the call waits
            /// for room.
            ///
            /// A queue that refuses it (destroyed, draining) ends the job at once
            /// with [`JobError::Refused`](crate::JobError::Refused).
            ///
            /// ```
            #[doc = concat!("let ", $var, " = ", $make, ";")]
            /// let data = vec![1, 2, 3];
            #[doc = concat!("let job = ", $var, ".spawn(move || data.iter().sum::<i32>());")]
            /// assert_eq!(job.join()?, 6);
            /// # Ok::<(), Box<dyn std::error::Error>>(())
            /// ```
            pub fn spawn<F, R>(&self, f: F) -> crate::Job<R>
            where
                F: FnOnce() -> R + Send + 'static,
                R: Send + 'static,
            {
                crate::front::job::spawn::spawn(self, crate::engine::item::Class::Normal, f)
            }

            /// Spawns `f` to run after `delay` (never earlier), on the timing
            /// wheel; cancel it with [`Job::cancel`](crate::Job::cancel) before then.
            ///
            /// ```
            /// use std::time::Duration;
            #[doc = concat!("let ", $var, " = ", $make, ";")]
            #[doc = concat!("let job = ", $var, ".spawn_after(Duration::from_secs(3600), || unreachable!());")]
            /// assert!(job.cancel()); // the closure is dropped now
            /// # Ok::<(), Box<dyn std::error::Error>>(())
            /// ```
            pub fn spawn_after<F, R>(&self, delay: std::time::Duration, f: F) -> crate::Job<R>
            where
                F: FnOnce() -> R + Send + 'static,
                R: Send + 'static,
            {
                crate::front::job::spawn::spawn_after(self, delay, f)
            }

            /// Spawns `f` to run at `deadline` (never earlier); a deadline that has
            /// passed spawns it now.
            ///
            /// ```
            /// use std::time::{Duration, Instant};
            #[doc = concat!("let ", $var, " = ", $make, ";")]
            #[doc = concat!("let job = ", $var, ".spawn_at(Instant::now() + Duration::from_millis(5), || 7);")]
            /// assert_eq!(job.join()?, 7);
            /// # Ok::<(), Box<dyn std::error::Error>>(())
            /// ```
            pub fn spawn_at<F, R>(&self, deadline: std::time::Instant, f: F) -> crate::Job<R>
            where
                F: FnOnce() -> R + Send + 'static,
                R: Send + 'static,
            {
                crate::front::job::spawn::spawn_at(self, deadline, f)
            }

            /// Spawns every closure of `jobs`, in order, and returns their handles
            /// in the same order. The whole batch takes the queue's lock once and
            /// wakes its threads once (a bounded queue waits for room job by job);
            /// a job the queue refuses ends with
            /// [`JobError::Refused`](crate::JobError::Refused) and the rest are
            /// still tried.
            ///
            /// ```
            #[doc = concat!("let ", $var, " = ", $make, ";")]
            #[doc = concat!("let jobs = ", $var, ".spawn_batch((0..4).map(|i| move || i * 10));")]
            /// let results: Vec<i32> = jobs.into_iter().map(|j| j.join()).collect::<Result<_, _>>()?;
            /// assert_eq!(results, [0, 10, 20, 30]);
            /// # Ok::<(), Box<dyn std::error::Error>>(())
            /// ```
            pub fn spawn_batch<I, F, R>(&self, jobs: I) -> Vec<crate::Job<R>>
            where
                I: IntoIterator<Item = F>,
                F: FnOnce() -> R + Send + 'static,
                R: Send + 'static,
            {
                crate::front::job::spawn::spawn_batch(self, jobs)
            }

            /// Runs `body` with a [`Scope`](crate::Scope) whose jobs may borrow
            /// from the caller's stack (like `std::thread::scope`, on this
            /// queue's threads), and returns `body`'s value once every job
            /// spawned in it has ended.
            ///
            /// Called from inside one of this queue's own items, the caller runs
            /// the scope's jobs that are still waiting itself, so the scope never
            /// waits for the thread it is on. Otherwise it waits for this queue's
            /// threads: on a frozen queue, until it is thawed.
            ///
            /// # Panics
            /// After every job has ended: with `body`'s panic if it panicked, else
            /// if a job panicked, or was discarded or refused by its queue, and no
            /// [`join`](crate::ScopedJob::join) took that outcome.
            ///
            /// ```
            #[doc = concat!("let ", $var, " = ", $make, ";")]
            /// let mut data = vec![1, 2, 3, 4];
            /// let total = std::sync::atomic::AtomicI32::new(0);
            #[doc = concat!($var, ".scope(|s| {")]
            ///     for chunk in data.chunks_mut(2) {
            ///         let total = &total;
            ///         s.spawn(move || {
            ///             for x in chunk.iter_mut() {
            ///                 *x *= 10;
            ///             }
            ///             total.fetch_add(chunk.iter().sum(), std::sync::atomic::Ordering::Relaxed);
            ///         });
            ///     }
            /// });
            /// assert_eq!(data, [10, 20, 30, 40]);
            /// assert_eq!(total.into_inner(), 100);
            /// # Ok::<(), Box<dyn std::error::Error>>(())
            /// ```
            pub fn scope<'env, F, T>(&self, body: F) -> T
            where
                F: for<'scope> FnOnce(&'scope crate::Scope<'scope, 'env>) -> T,
            {
                crate::front::job::scope::scope(self, body)
            }
        }
    };
}

pub(crate) use jobs_face;
