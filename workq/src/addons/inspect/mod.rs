//! A read-only inspection endpoint (feature `inspect`, Unix only): a Unix socket
//! that streams what the process's queues are doing, for `workq top <pid>` or any
//! program that reads JSON lines.
//!
//! [`serve`] (or [`serve_at`]) binds the socket and starts one thread,
//! `workq-inspect`. Each client gets newline-delimited JSON ([`Message`]): a
//! `hello` line, a `snapshot` of every live Worker, Pool and WorkQueue
//! ([`snapshots`](crate::snapshots)) right away and then every 500 ms, and a
//! `report` line for each trouble line of the library (stall, backlog, panic,
//! spawn failure, lost work) as it happens. The protocol has no requests:
//! nothing a client sends can queue, cancel or change anything; a client that
//! sends any byte gets an `error` line and is disconnected.
//!
//! Without a line of code: set `WORKQ_INSPECT=1` (the default path) or
//! `WORKQ_INSPECT=/some/dir/x.sock` in the program's environment; it is read at
//! the first build of a Worker, Pool or WorkQueue, and the endpoint then lives
//! until the process exits (its socket file stays after the exit, stale: the
//! next endpoint at that path replaces it). Unset, empty or `0` serves nothing;
//! a failure is a trouble line, never a panic.
//!
//! Safety and faults: the socket's directory is created 0700 if absent, and if
//! present must be a real directory of this user that no one else may write;
//! the socket is 0600. A live socket at the path (another endpoint) is never
//! replaced; a stale one of this user is; anything else there is an error, and
//! no symlink is followed. The serving thread never blocks on a client: a client
//! that stops reading is dropped once 1 MiB waits for it, one that leaves is
//! dropped, and the program's own threads only push trouble lines onto a ring
//! of 256 (one relaxed atomic load per trouble line while no endpoint runs).
//!
//! ```
//! use std::io::{BufRead, BufReader};
//! use std::os::unix::net::UnixStream;
//! use workq::inspect::Message;
//!
//! # let dir = std::env::temp_dir().join(format!("workq-doc-inspect-{}", std::process::id()));
//! # std::fs::create_dir(&dir).expect("a runtime directory");
//! # std::env::set_var("XDG_RUNTIME_DIR", &dir); // the default path is under it
//! let pool = workq::Pool::new("inspected")?;
//! let endpoint = workq::inspect::serve()?; // at default_socket_path(<this pid>)
//! let stream = UnixStream::connect(endpoint.path()).expect("connect");
//! stream.set_read_timeout(Some(std::time::Duration::from_secs(30))).expect("timeout");
//! let mut lines = BufReader::new(stream).lines();
//! let hello = lines.next().expect("a line").expect("read");
//! match Message::from_line(&hello)? {
//!     Message::Hello { pid, interval_ms, .. } => {
//!         assert_eq!(pid, std::process::id());
//!         assert_eq!(interval_ms, 500);
//!     }
//!     other => panic!("not a hello: {other:?}"),
//! }
//! let first = lines.next().expect("a line").expect("read");
//! match Message::from_line(&first)? {
//!     Message::Snapshot { seq: 0, queues, .. } => {
//!         assert!(queues.iter().any(|q| q.name == "inspected"));
//!     }
//!     other => panic!("not the first snapshot: {other:?}"),
//! }
//! drop(endpoint); // stops serving and removes the socket file
//! # drop(pool);
//! # std::fs::remove_dir_all(&dir).expect("remove the directory");
//! # Ok::<(), workq::Error>(())
//! ```

mod conn;
mod env;
mod message;
mod path;
mod server;

pub(crate) use env::at_first_build;
pub use message::{Level, Message};
pub use path::default_socket_path;
pub use server::Endpoint;

use crate::Error;
use std::path::Path;

/// The protocol's version: the `"v"` of every line.
///
/// ```
/// assert_eq!(workq::inspect::PROTOCOL_VERSION, 1);
/// ```
pub const PROTOCOL_VERSION: u32 = 1;

/// Serves the endpoint at [`default_socket_path`] of this process.
///
/// ```
/// # let dir = std::env::temp_dir().join(format!("workq-doc-serve-{}", std::process::id()));
/// # std::env::set_var("XDG_RUNTIME_DIR", &dir);
/// # std::fs::create_dir(&dir).expect("a runtime dir");
/// let endpoint = workq::inspect::serve()?;
/// assert_eq!(Some(endpoint.path().to_path_buf()), workq::inspect::default_socket_path(std::process::id()));
/// # drop(endpoint);
/// # std::fs::remove_dir_all(&dir).expect("remove the directory");
/// # Ok::<(), workq::Error>(())
/// ```
///
/// # Errors
///
/// As [`serve_at`]; also [`Error::Inspect`] when there is no default path.
pub fn serve() -> Result<Endpoint, Error> {
    match default_socket_path(std::process::id()) {
        Some(path) => serve_at(path),
        None => Err(Error::Inspect {
            path: std::path::PathBuf::new(),
            reason: "no default path: XDG_RUNTIME_DIR and the temp dir are not absolute"
                .to_string(),
        }),
    }
}

/// Serves the endpoint at `path`.
///
/// ```
/// # let dir = std::env::temp_dir().join(format!("workq-doc-serve-at-{}", std::process::id()));
/// let endpoint = workq::inspect::serve_at(dir.join("app.sock"))?;
/// // a second endpoint at a live one's path is refused
/// assert!(matches!(workq::inspect::serve_at(dir.join("app.sock")), Err(workq::Error::Inspect { .. })));
/// # drop(endpoint);
/// # std::fs::remove_dir(&dir).expect("remove the directory");
/// # Ok::<(), workq::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::Inspect`] when the socket's directory cannot be created, is a
/// symlink, is not this user's or may be written by others; when a live socket,
/// a symlink, a file or a directory is at `path`; or when binding fails.
/// [`Error::Spawn`] when the serving thread cannot be started.
pub fn serve_at(path: impl AsRef<Path>) -> Result<Endpoint, Error> {
    server::start(path.as_ref())
}
