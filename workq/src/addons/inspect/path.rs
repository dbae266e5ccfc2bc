//! Where the endpoint's socket lives and the rules for taking that place: a
//! private directory, no symlink followed, a live endpoint never replaced.

use crate::Error;
use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

/// The socket's path for the process `pid`: `$XDG_RUNTIME_DIR/workq/<pid>.sock`
/// when `XDG_RUNTIME_DIR` is set to an absolute path, else
/// `<temp dir>/workq-<uid>/<pid>.sock` ([`std::env::temp_dir`], the user's id).
/// `None` when neither gives an absolute path. `workq top <pid>` finds a
/// program through this function.
///
/// ```
/// let path = workq::inspect::default_socket_path(1234).expect("an absolute path");
/// assert!(path.ends_with("1234.sock"));
/// assert!(path.is_absolute());
/// ```
pub fn default_socket_path(pid: u32) -> Option<PathBuf> {
    let file = format!("{pid}.sock");
    if let Some(dir) = std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from) {
        if dir.is_absolute() {
            return Some(dir.join("workq").join(file));
        }
    }
    let tmp = std::env::temp_dir();
    if !tmp.is_absolute() {
        return None;
    }
    let uid = rustix::process::getuid().as_raw();
    Some(tmp.join(format!("workq-{uid}")).join(file))
}

/// A socket bound by this endpoint, told apart from whatever may later take its
/// place (the file is removed at stop only if it is still this one).
pub(super) struct Bound {
    pub(super) listener: UnixListener,
    pub(super) place: Place,
}

/// Which file a bound socket is: its device and inode.
#[derive(Clone, Copy, Debug)]
pub(super) struct Place {
    dev: u64,
    ino: u64,
}

fn refuse(path: &Path, reason: impl Into<String>) -> Error {
    Error::Inspect {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

fn io_refuse(path: &Path, what: &str, e: &io::Error) -> Error {
    refuse(path, format!("{what}: {e}"))
}

/// Binds the endpoint's socket at `path` (mode 0600) after checking its
/// directory and what is already there.
pub(super) fn bind(path: &Path) -> Result<Bound, Error> {
    if path.file_name().is_none() {
        return Err(refuse(path, "the path names no socket file"));
    }
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let uid = rustix::process::getuid().as_raw();
    private_dir(path, dir, uid)?;
    clear_place(path, uid)?;
    let listener =
        UnixListener::bind(path).map_err(|e| io_refuse(path, "cannot bind the socket", &e))?;
    let meta = fs::symlink_metadata(path);
    let set = fs::set_permissions(path, fs::Permissions::from_mode(0o600));
    let nonblocking = listener.set_nonblocking(true);
    match (meta, set, nonblocking) {
        (Ok(meta), Ok(()), Ok(())) => Ok(Bound {
            listener,
            place: Place {
                dev: meta.dev(),
                ino: meta.ino(),
            },
        }),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => {
            let _ = fs::remove_file(path);
            Err(io_refuse(path, "cannot set up the socket", &e))
        }
    }
}

/// The socket's directory: created 0700 if absent; else a real directory (not
/// a symlink) of this user that no one else may write to.
fn private_dir(path: &Path, dir: &Path, uid: u32) -> Result<(), Error> {
    if let Err(e) = fs::symlink_metadata(dir) {
        if e.kind() != io::ErrorKind::NotFound {
            return Err(io_refuse(path, "cannot read the socket's directory", &e));
        }
        match fs::DirBuilder::new().mode(0o700).create(dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(io_refuse(path, "cannot create the socket's directory", &e)),
        }
    }
    let meta = fs::symlink_metadata(dir)
        .map_err(|e| io_refuse(path, "cannot read the socket's directory", &e))?;
    let shown = dir.display();
    if meta.file_type().is_symlink() {
        return Err(refuse(path, format!("'{shown}' is a symlink")));
    }
    if !meta.is_dir() {
        return Err(refuse(path, format!("'{shown}' is not a directory")));
    }
    if meta.uid() != uid {
        return Err(refuse(
            path,
            format!(
                "'{shown}' belongs to user {}, not to this user ({uid})",
                meta.uid()
            ),
        ));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(refuse(
            path,
            format!(
                "'{shown}' may be written by others (mode {:o}); it must not be group or world writable",
                meta.mode() & 0o7777
            ),
        ));
    }
    Ok(())
}

/// What is at the socket's place: nothing is fine; a stale socket of this user
/// is removed; a live socket, or anything else, is refused. Never follows a
/// symlink.
fn clear_place(path: &Path, uid: u32) -> Result<(), Error> {
    let meta = match fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_refuse(path, "cannot read the socket's place", &e)),
    };
    let kind = meta.file_type();
    if !kind.is_socket() {
        let what = if kind.is_symlink() {
            "a symlink"
        } else if kind.is_dir() {
            "a directory"
        } else if kind.is_file() {
            "a regular file"
        } else {
            "something other than a socket"
        };
        return Err(refuse(path, format!("{what} is in the way")));
    }
    match UnixStream::connect(path) {
        Ok(_) => Err(refuse(path, "another endpoint is live at this path")),
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
            if meta.uid() != uid {
                return Err(refuse(
                    path,
                    format!("a stale socket of user {} is in the way", meta.uid()),
                ));
            }
            fs::remove_file(path).map_err(|e| io_refuse(path, "cannot remove a stale socket", &e))
        }
        Err(e) => Err(io_refuse(
            path,
            "cannot tell whether the socket there is live",
            &e,
        )),
    }
}

impl Place {
    /// Removes the socket file if it is still the one this endpoint bound.
    pub(super) fn remove(&self, path: &Path) {
        if let Ok(meta) = fs::symlink_metadata(path) {
            if meta.dev() == self.dev && meta.ino() == self.ino {
                let _ = fs::remove_file(path);
            }
        }
    }
}
