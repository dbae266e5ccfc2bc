//! `workq demo --log`: a tracing subscriber (the fmt layer, filtered by
//! `RUST_LOG`, default `workq=debug`) for the library's trace events (thread
//! start and exit, panic, backlog and stall reports; queue / start / finish at
//! `trace`) and the demo's own timeline. It writes to `workq-demo.log` in the
//! current directory while the live view has the terminal, to standard error in
//! the plain view.

use std::fs::File;
use std::path::PathBuf;
use std::sync::Mutex;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::writer::BoxMakeWriter;
use tracing_subscriber::prelude::*;

/// The log file of the live view, in the current directory.
pub const LOG_FILE: &str = "workq-demo.log";

/// The filter when `RUST_LOG` is unset or empty.
pub const DEFAULT_FILTER: &str = "workq=debug";

/// Where the log goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sink {
    /// [`LOG_FILE`] (the terminal belongs to the live view).
    File,
    /// Standard error.
    Stderr,
}

/// Reads a `RUST_LOG`-style filter: comma-separated `target=level` or `level`
/// directives (tracing-subscriber's `Targets`, which needs no regex engine, so
/// the demo builds faster than with `EnvFilter`).
fn filter(spec: &str) -> Result<Targets, String> {
    spec.parse::<Targets>().map_err(|e| {
        format!("cannot read RUST_LOG='{spec}': {e} (expected directives like workq=debug,info)")
    })
}

/// Installs the subscriber; returns the log file's path for [`Sink::File`].
///
/// # Errors
/// A message for people: `RUST_LOG` does not parse, the file cannot be created,
/// or a subscriber is already installed.
pub fn install(sink: Sink) -> Result<Option<PathBuf>, String> {
    let filter = match std::env::var("RUST_LOG") {
        Ok(s) if !s.trim().is_empty() => filter(&s)?,
        _ => filter(DEFAULT_FILTER)?,
    };
    let (writer, path) = match sink {
        Sink::File => {
            let path = std::env::current_dir()
                .map(|d| d.join(LOG_FILE))
                .unwrap_or_else(|_| PathBuf::from(LOG_FILE));
            let file = File::create(&path)
                .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
            (BoxMakeWriter::new(Mutex::new(file)), Some(path))
        }
        Sink::Stderr => (BoxMakeWriter::new(std::io::stderr), None),
    };
    let layer = tracing_subscriber::fmt::layer()
        .with_thread_names(true)
        .with_writer(writer)
        .with_filter(filter);
    tracing_subscriber::registry()
        .with(layer)
        .try_init()
        .map_err(|e| e.to_string())?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::{filter, DEFAULT_FILTER};

    #[test]
    fn filters_read_like_rust_log() {
        assert!(filter(DEFAULT_FILTER).is_ok());
        assert!(filter("workq=trace,info").is_ok());
        let err = filter("workq=loud").err().unwrap_or_default();
        assert!(err.contains("cannot read RUST_LOG='workq=loud'"), "{err}");
    }
}
