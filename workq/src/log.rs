//! The library's log lines and trace events, in one place.
//!
//! With the `tracing` feature (on by default) everything goes to the `tracing`
//! crate: nothing is printed unless the application installs a subscriber. Without
//! it, reports of trouble (panics, failed thread starts, backlogs, stalls) go to
//! standard error and the fine-grained events are dropped.

/// Something worth a warning or an error: a panic, a failed thread start, a
/// backlog, a stall.
macro_rules! trouble {
    (error, $($arg:tt)*) => {{
        #[cfg(feature = "tracing")]
        tracing::error!(target: "workq", $($arg)*);
        #[cfg(not(feature = "tracing"))]
        eprintln!($($arg)*);
    }};
    (warn, $($arg:tt)*) => {{
        #[cfg(feature = "tracing")]
        tracing::warn!(target: "workq", $($arg)*);
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
