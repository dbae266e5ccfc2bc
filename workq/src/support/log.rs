//! The library's log lines and trace events, in one place.
//!
//! Trouble (a panic with no panic hook of the user's, a failed thread start with
//! no spawn-failure hook, a backlog, a stall, a stall hook that does not return,
//! a failed start of the watchdog thread) is never silent: with the `tracing`
//! feature (on by default) it is a `warn` or `error` event of target `workq` when
//! a subscriber is installed (the global default, or a scoped one on the thread
//! that reports), and one line on standard error when none is; without the
//! feature it is always one line on standard error. The fine-grained events
//! (queue, start, finish, thread start and exit) go to `tracing` only. With the
//! `inspect` feature each trouble line is also copied to the running inspection
//! endpoints (`support/tap.rs`; one relaxed atomic load when none runs).

/// Whether a `tracing` subscriber would see an event sent from this thread now.
#[cfg(feature = "tracing")]
pub(crate) fn has_subscriber() -> bool {
    tracing::dispatcher::get_default(|d| !d.is::<tracing::subscriber::NoSubscriber>())
}

/// Something worth a warning or an error: a panic, a failed thread start, a
/// backlog, a stall. An event when a subscriber is installed, else one line on
/// standard error.
/// With the `inspect` feature the line is also formatted for the running
/// inspection endpoints (when one runs), which evaluates the arguments a second
/// time: they must have no side effects.
macro_rules! trouble {
    (error, $($arg:tt)*) => {{
        #[cfg(all(feature = "inspect", unix))]
        $crate::support::tap::record($crate::support::tap::Level::Error, format_args!($($arg)*));
        #[cfg(feature = "tracing")]
        if $crate::support::log::has_subscriber() {
            tracing::error!(target: "workq", $($arg)*);
        } else {
            eprintln!($($arg)*);
        }
        #[cfg(not(feature = "tracing"))]
        eprintln!($($arg)*);
    }};
    (warn, $($arg:tt)*) => {{
        #[cfg(all(feature = "inspect", unix))]
        $crate::support::tap::record($crate::support::tap::Level::Warn, format_args!($($arg)*));
        #[cfg(feature = "tracing")]
        if $crate::support::log::has_subscriber() {
            tracing::warn!(target: "workq", $($arg)*);
        } else {
            eprintln!($($arg)*);
        }
        #[cfg(not(feature = "tracing"))]
        eprintln!($($arg)*);
    }};
}

/// A fine-grained event (queue, start, finish, thread start and exit): a trace or
/// debug event with the `tracing` feature, nothing without it.
macro_rules! event {
    (trace, $($arg:tt)*) => {{
        #[cfg(feature = "tracing")]
        tracing::trace!(target: "workq", $($arg)*);
    }};
    (debug, $($arg:tt)*) => {{
        #[cfg(feature = "tracing")]
        tracing::debug!(target: "workq", $($arg)*);
    }};
}

pub(crate) use {event, trouble};

/// A shutdown's report. A destroy call returns it to its caller, so it is a debug
/// event; the drop of a last handle has no caller to tell, so work it lost
/// (discarded runs, cancelled armed items) is reported as trouble.
pub(crate) fn shutdown_report(
    queue: &str,
    report: &crate::shutdown::ShutdownReport,
    by_drop: bool,
) {
    if by_drop && report.lost_work() {
        trouble!(warn, "workq: '{queue}' dropped: {report}");
    } else if !report.is_empty() {
        event!(debug, "'{queue}' shut down: {report}");
    }
}
