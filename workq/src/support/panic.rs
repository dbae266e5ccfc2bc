//! What happens when a run panics.
//!
//! A caught panic's payload says nothing of where the panic happened; std gives
//! the location only to the process's panic hook. So workq installs, once, when
//! its first queue is built, a process-wide hook that chains to the hook it
//! replaces (which still runs, and prints std's message) and keeps the location
//! and message of the thread's latest panic in a thread-local. The code that
//! catches a run's panic takes that record, and uses it only if its message
//! matches the caught payload's (a payload re-raised by `resume_unwind`, which
//! calls no hook, must not get an earlier panic's location).

use std::any::Any;
use std::cell::RefCell;
use std::fmt;
use std::sync::Arc;

/// A caught panic of a work item's run, as passed to a panic hook.
///
/// The queue that ran the item has already recovered when the hook sees this: the
/// item is idle again (or queued again, if it was queued during the run), and
/// flushes and cancels of it return normally.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// let reports = Arc::new(Mutex::new(Vec::new()));
/// let r = reports.clone();
/// let worker = workq::Worker::builder()
///     .name("panicky")
///     .on_panic(move |report: &workq::PanicReport<'_>| {
///         r.lock().expect("lock").push((report.message.to_string(), report.to_string()));
///     })
///     .build()?;
/// let work = workq::Work::named("bad", |_| panic!("oops"));
/// worker.queue(&work)?;
/// work.flush()?; // returns once the hook has run
/// let reports = reports.lock().expect("lock");
/// assert_eq!(reports[0].0, "oops");
/// assert_eq!(reports[0].1, "workq: work item 'bad' on 'panicky' panicked: oops");
/// # Ok::<(), workq::Error>(())
/// ```
///
/// The payload itself, for a panic that is not a string, and where it happened:
///
/// ```
/// use std::sync::{Arc, Mutex};
/// #[derive(Debug, PartialEq)]
/// struct DiskGone(u32);
/// let seen = Arc::new(Mutex::new(None));
/// let s = seen.clone();
/// let worker = workq::Worker::builder()
///     .name("typed")
///     .on_panic(move |report| {
///         let code = report.payload.downcast_ref::<DiskGone>().map(|d| d.0);
///         let at = report.location.map(|l| (l.file.clone(), l.line));
///         *s.lock().expect("lock") = Some((code, report.message.to_string(), at));
///     })
///     .build()?;
/// let line = line!() + 1;
/// let work = workq::Work::new(|_| std::panic::panic_any(DiskGone(7)));
/// worker.queue(&work)?;
/// work.flush()?;
/// let (code, message, at) = seen.lock().expect("lock").take().expect("reported");
/// assert_eq!(code, Some(7));
/// assert_eq!(message, "<non-string panic payload>");
/// // Present unless the process's panic hook was replaced after workq installed its own.
/// if let Some((file, l)) = at {
///     assert!(file.ends_with(".rs"));
///     assert_eq!(l, line);
/// }
/// # Ok::<(), workq::Error>(())
/// ```
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct PanicReport<'a> {
    /// The item's name, if it has one.
    pub work: Option<&'a str>,
    /// The name of the queue that ran it.
    pub queue: &'a str,
    /// The panic's message (its `&str` or `String` payload), or a placeholder.
    pub message: &'a str,
    /// The panic's payload, as `catch_unwind` returned it: downcast it to read
    /// a payload of another type (`std::panic::panic_any`).
    pub payload: &'a (dyn Any + Send),
    /// Where the panic happened, when known. std gives a panic's location only
    /// to the process's panic hook: workq installs one, once, when its first
    /// queue is built, which chains to the hook it replaces. The location is
    /// `None` when a hook set later (`std::panic::set_hook`) replaced workq's,
    /// for a payload re-raised with `std::panic::resume_unwind` (no hook runs),
    /// and when the panic happened while workq's hook could not be installed
    /// (it is never installed from a panicking thread).
    pub location: Option<&'a PanicLocation>,
}

/// Where a panic happened: std's `Location` of it, copied by workq's panic hook
/// (see [`PanicReport::location`]).
///
/// ```
/// use std::sync::{Arc, Mutex};
/// let seen = Arc::new(Mutex::new(None));
/// let s = seen.clone();
/// let worker = workq::Worker::builder()
///     .name("located")
///     .on_panic(move |report| *s.lock().expect("lock") = report.location.cloned())
///     .build()?;
/// let work = workq::Work::new(|_| panic!("here"));
/// worker.queue(&work)?;
/// work.flush()?;
/// if let Some(at) = seen.lock().expect("lock").take() {
///     assert!(at.line > 0 && at.column > 0);
///     assert_eq!(at.to_string(), format!("{}:{}:{}", at.file, at.line, at.column));
/// }
/// # Ok::<(), workq::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct PanicLocation {
    /// The source file.
    pub file: String,
    /// The line, from 1.
    pub line: u32,
    /// The column, from 1.
    pub column: u32,
}

impl fmt::Display for PanicLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// The latest panic seen by workq's panic hook on this thread: its location,
/// and its message (to match it with the payload that is caught).
struct Seen {
    location: PanicLocation,
    message: Option<String>,
}

thread_local! {
    static LAST_PANIC: RefCell<Option<Seen>> = const { RefCell::new(None) };
}

/// Installs workq's panic hook, once per process (see the module docs). Not
/// from a panicking thread: `set_hook` would panic there; a later call does it.
#[cfg_attr(any(loom, shuttle), allow(dead_code))]
pub(crate) fn install_location_hook() {
    use std::sync::atomic::{AtomicBool, Ordering};
    static INSTALLED: AtomicBool = AtomicBool::new(false);
    static ONCE: std::sync::Once = std::sync::Once::new();
    if INSTALLED.load(Ordering::Acquire) || std::thread::panicking() {
        return;
    }
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if let Some(at) = info.location() {
                let seen = Seen {
                    location: PanicLocation {
                        file: at.file().to_string(),
                        line: at.line(),
                        column: at.column(),
                    },
                    message: string_message(info.payload()).map(str::to_string),
                };
                // `try_with`: a panic while the thread's locals are being
                // destroyed has no slot; `try_borrow_mut`: never panic in here.
                let _ = LAST_PANIC.try_with(|last| {
                    if let Ok(mut last) = last.try_borrow_mut() {
                        *last = Some(seen);
                    }
                });
            }
            previous(info);
        }));
        INSTALLED.store(true, Ordering::Release);
    });
}

/// Takes the location recorded by workq's hook for the latest panic on this
/// thread, if its message matches the caught `payload`'s.
fn take_location(payload: &(dyn Any + Send)) -> Option<PanicLocation> {
    let seen = LAST_PANIC
        .try_with(|last| last.try_borrow_mut().ok().and_then(|mut l| l.take()))
        .ok()
        .flatten()?;
    (seen.message.as_deref() == string_message(payload)).then_some(seen.location)
}

impl fmt::Display for PanicReport<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "workq: work item '{}' on '{}' panicked: {}",
            self.work.unwrap_or("<unnamed>"),
            self.queue,
            self.message
        )
    }
}

/// A panic hook: called once for every caught panic, on the thread that ran the item.
///
/// The builders' `on_panic` take any closure; keep a hook in this type to share one
/// between several queues. With no hook set, a panic is reported as its
/// [`PanicReport`]'s line (`workq: work item '...' on '...' panicked: ...`): an
/// `error` event of target `workq` when a `tracing` subscriber is installed (the
/// global default, or a scoped one on the thread that ran the item), else one
/// line on standard error (always one line on standard error without the
/// `tracing` feature). That comes besides std's own panic message, which the
/// process's panic hook (`std::panic::set_hook`) prints when the panic happens.
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use std::sync::Arc;
/// use workq::{PanicHook, Pool, Work, Worker};
///
/// let panics = Arc::new(AtomicUsize::new(0));
/// let p = panics.clone();
/// let hook: PanicHook = Arc::new(move |_report| {
///     p.fetch_add(1, Ordering::SeqCst);
/// });
/// let h = hook.clone();
/// let worker = Worker::builder().name("w").on_panic(move |r| h(r)).build()?;
/// let h = hook.clone();
/// let pool = Pool::builder().name("p").on_panic(move |r| h(r)).build()?;
/// let bad = Work::new(|_| panic!("bad"));
/// worker.queue(&bad)?;
/// bad.flush()?;
/// pool.queue(&bad)?;
/// bad.flush()?;
/// assert_eq!(panics.load(Ordering::SeqCst), 2);
/// # Ok::<(), workq::Error>(())
/// ```
pub type PanicHook = Arc<dyn Fn(&PanicReport<'_>) + Send + Sync + 'static>;

/// The default hook: the report's line, as an error event when a `tracing`
/// subscriber is installed, else on standard error (`log::trouble!`).
pub(crate) fn default_hook() -> PanicHook {
    Arc::new(|report: &PanicReport<'_>| crate::support::log::trouble!(error, "{report}"))
}

/// The message of a panic payload.
pub(crate) fn message(payload: &(dyn Any + Send)) -> &str {
    string_message(payload).unwrap_or("<non-string panic payload>")
}

/// The message of a panic payload that is a string (as from `panic!`).
pub(crate) fn string_message(payload: &(dyn Any + Send)) -> Option<&str> {
    payload
        .downcast_ref::<&'static str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
}

/// Drops `value` (typically the last handle of an item, whose closure's `Drop` is
/// user code) with a panic caught: it goes to `hook` as a report on `queue`
/// instead of unwinding through a workq thread.
pub(crate) fn drop_caught<T>(value: T, hook: &PanicHook, queue: &str) {
    if let Err(payload) =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(value)))
    {
        report(hook, Some("<closure drop>"), queue, payload);
    }
}

/// Runs user code (a hook) with any panic caught and swallowed, including a panic
/// in the drop of that panic's payload.
pub(crate) fn quietly(f: impl FnOnce()) {
    if let Err(payload) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        swallow(payload);
    }
}

/// Drops a panic payload; if its drop panics too, that payload is leaked rather
/// than dropped (a payload whose drop panics again would never end).
pub(crate) fn swallow(payload: Box<dyn Any + Send>) {
    if let Err(again) =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(payload)))
    {
        std::mem::forget(again);
    }
}

/// Calls `hook`, then drops the payload; a panic in either is caught and ignored,
/// so a faulty hook cannot take a worker thread down.
pub(crate) fn report(
    hook: &PanicHook,
    work: Option<&str>,
    queue: &str,
    payload: Box<dyn Any + Send>,
) {
    let msg = message(&*payload);
    let location = take_location(&*payload);
    let report = PanicReport {
        work,
        queue,
        message: msg,
        payload: &*payload,
        location: location.as_ref(),
    };
    quietly(|| hook(&report));
    swallow(payload);
}
