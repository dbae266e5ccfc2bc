//! `workq demo --log`: a tracing subscriber (the fmt layer, filtered by
//! `RUST_LOG`, default `workq=debug`) for the library's trace events (thread
//! start and exit, panic, backlog and stall reports; queue / start / finish at
//! `trace`) and the demo's own timeline. It writes to `workq-demo.log` in the
//! current directory while the live view has the terminal, to standard error in
//! the plain view.

use std::fs::File;
use std::path::PathBuf;
use std::sync::Mutex;
use tracing_subscriber::EnvFilter;

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

/// Installs the subscriber; returns the log file's path for [`Sink::File`].
///
/// # Errors
/// A message for people: `RUST_LOG` does not parse, the file cannot be created,
/// or a subscriber is already installed.
pub fn install(sink: Sink) -> Result<Option<PathBuf>, String> {
    let filter = match std::env::var("RUST_LOG") {
        Ok(s) if !s.trim().is_empty() => {
            EnvFilter::try_new(&s).map_err(|e| format!("cannot read RUST_LOG='{s}': {e}"))?
        }
        _ => EnvFilter::new(DEFAULT_FILTER),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_thread_names(true);
    match sink {
        Sink::File => {
            let path = std::env::current_dir()
                .map(|d| d.join(LOG_FILE))
                .unwrap_or_else(|_| PathBuf::from(LOG_FILE));
            let file = File::create(&path)
                .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
            builder
                .with_writer(Mutex::new(file))
                .try_init()
                .map_err(|e| e.to_string())?;
            Ok(Some(path))
        }
        Sink::Stderr => {
            builder
                .with_writer(std::io::stderr)
                .try_init()
                .map_err(|e| e.to_string())?;
            Ok(None)
        }
    }
}
