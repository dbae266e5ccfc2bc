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
