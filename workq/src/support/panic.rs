//! What happens when a run panics.

use std::any::Any;
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
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct PanicReport<'a> {
    /// The item's name, if it has one.
    pub work: Option<&'a str>,
    /// The name of the queue that ran it.
    pub queue: &'a str,
    /// The panic's message (its `&str` or `String` payload), or a placeholder.
    pub message: &'a str,
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
    let report = PanicReport {
        work,
        queue,
        message: msg,
    };
    quietly(|| hook(&report));
    swallow(payload);
}
