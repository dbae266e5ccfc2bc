//! Finding a program's socket and connecting to it, with one clear line for
//! each way that fails.

use std::fmt;
use std::io;
use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

/// Where the program of process `pid` serves its queues: the library's rule
/// (`workq::inspect::default_socket_path`), so the two never disagree.
pub fn default_socket_path(pid: u32) -> Option<PathBuf> {
    workq::inspect::default_socket_path(pid)
}

/// The directory the sockets are in: that of [`default_socket_path`], so the
/// two never disagree.
fn socket_dir() -> Option<PathBuf> {
    default_socket_path(0)?.parent().map(Path::to_path_buf)
}

/// Why `workq top` stopped.
#[derive(Debug)]
pub enum TopError {
    /// No socket at the path.
    NoSocket(PathBuf),
    /// No PID nor `--socket`, and no live program's socket in the directory
    /// (with how many sockets of exited programs are left there).
    NoneRunning(PathBuf, usize),
    /// No PID nor `--socket`, and several sockets in the directory.
    Several(PathBuf, Vec<PathBuf>),
    /// The socket is not ours to open.
    PermissionDenied(PathBuf),
    /// Nobody listens on the socket (its program has exited).
    Refused(PathBuf),
    /// No absolute directory for the sockets (neither `XDG_RUNTIME_DIR` nor the
    /// temp dir is absolute).
    NoSocketDir,
    /// Another failure to connect or to read.
    Io(PathBuf, io::Error),
    /// The program closed the connection, with its message if it sent one.
    Closed(Option<String>),
    /// A line that could not be read (its number, from 1, and why).
    Line(u64, super::protocol::LineError),
    /// Standard output could not be written (a closed pipe).
    Output(io::Error),
    /// The live view failed.
    View(io::Error),
}

impl fmt::Display for TopError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TopError::NoSocket(p) => write!(
                f,
                "no socket at {} (is the program running, and serving with WORKQ_INSPECT=1?)",
                p.display()
            ),
            TopError::NoneRunning(dir, stale) => {
                write!(
                    f,
                    "no program serves its queues: no socket in {}",
                    dir.display()
                )?;
                if *stale > 0 {
                    write!(f, " but {stale} left by programs that have exited")?;
                }
                write!(
                    f,
                    " (start one with WORKQ_INSPECT=1 ./your-program, or give --socket PATH)"
                )
            }
            TopError::Several(dir, paths) => {
                write!(
                    f,
                    "{} programs serve their queues in {}; pick one with workq top PID:",
                    paths.len(),
                    dir.display()
                )?;
                for p in paths {
                    let pid = p.file_stem().map(|s| s.to_string_lossy());
                    write!(f, "\n  {}  {}", pid.unwrap_or_default(), p.display())?;
                }
                Ok(())
            }
            TopError::PermissionDenied(p) => write!(
                f,
                "permission denied on {} (it belongs to another user: run workq top as that user)",
                p.display()
            ),
            TopError::Refused(p) => write!(
                f,
                "connection refused at {} (its program has exited and left the socket behind)",
                p.display()
            ),
            TopError::NoSocketDir => write!(
                f,
                "no directory for the sockets: set XDG_RUNTIME_DIR to an absolute path, \
                 or give --socket PATH"
            ),
            TopError::Io(p, e) => write!(f, "{}: {e}", p.display()),
            TopError::Closed(None) => write!(f, "the program closed the connection"),
            TopError::Closed(Some(m)) => write!(f, "the program closed the connection: {m}"),
            TopError::Line(n, e) => write!(f, "line {n} from the program: {e}"),
            TopError::Output(e) => write!(f, "cannot write the output: {e}"),
            TopError::View(e) => write!(
                f,
                "the live view failed: {e} (--plain prints text frames instead)"
            ),
        }
    }
}

/// The socket to use: `socket` if given, else that of `pid`, else the only one
/// in the sockets' directory whose process is alive (a program that crashed
/// leaves its socket behind).
///
/// # Errors
/// [`TopError::NoSocketDir`] when there is no directory for the sockets;
/// [`TopError::NoneRunning`] or [`TopError::Several`] when neither is given and
/// the directory does not hold exactly one live program's socket.
pub fn choose(socket: Option<PathBuf>, pid: Option<u32>) -> Result<PathBuf, TopError> {
    if let Some(path) = socket {
        return Ok(path);
    }
    if let Some(pid) = pid {
        return default_socket_path(pid).ok_or(TopError::NoSocketDir);
    }
    let dir = socket_dir().ok_or(TopError::NoSocketDir)?;
    let (mut live, stale): (Vec<_>, Vec<_>) = candidates(&dir)
        .into_iter()
        .partition(|(pid, _)| alive(*pid));
    match live.len() {
        0 => Err(TopError::NoneRunning(dir, stale.len())),
        1 => Ok(live.remove(0).1),
        _ => Err(TopError::Several(
            dir,
            live.into_iter().map(|(_, p)| p).collect(),
        )),
    }
}

/// Whether process `pid` exists (every process counts as alive where `/proc`
/// is not mounted).
fn alive(pid: u32) -> bool {
    !Path::new("/proc/self").exists() || Path::new("/proc").join(pid.to_string()).exists()
}

/// The sockets named `<pid>.sock` in `dir`, by PID.
fn candidates(dir: &Path) -> Vec<(u32, PathBuf)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found: Vec<(u32, PathBuf)> = entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_socket()))
        .filter_map(|e| {
            let path = e.path();
            let pid = path
                .extension()
                .is_some_and(|x| x == "sock")
                .then(|| path.file_stem()?.to_str()?.parse::<u32>().ok())??;
            Some((pid, path))
        })
        .collect();
    found.sort();
    found
}

/// Connects to `path`.
///
/// # Errors
/// [`TopError::NoSocket`], [`TopError::PermissionDenied`], [`TopError::Refused`],
/// or [`TopError::Io`] for another failure.
pub fn connect(path: &Path) -> Result<UnixStream, TopError> {
    UnixStream::connect(path).map_err(|e| connect_error(path, e))
}

/// The error of a failed connect to `path`.
fn connect_error(path: &Path, e: io::Error) -> TopError {
    let path = path.to_path_buf();
    match e.kind() {
        io::ErrorKind::NotFound => TopError::NoSocket(path),
        io::ErrorKind::PermissionDenied => TopError::PermissionDenied(path),
        io::ErrorKind::ConnectionRefused => TopError::Refused(path),
        _ => TopError::Io(path, e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_connect_failure_has_its_message() {
        let p = Path::new("/run/x/1.sock");
        let msg = |k: io::ErrorKind| connect_error(p, io::Error::from(k)).to_string();
        assert!(msg(io::ErrorKind::NotFound).starts_with("no socket at /run/x/1.sock"));
        assert!(msg(io::ErrorKind::PermissionDenied).starts_with("permission denied on"));
        assert!(msg(io::ErrorKind::ConnectionRefused).starts_with("connection refused at"));
        assert!(msg(io::ErrorKind::Other).starts_with("/run/x/1.sock: "));
    }

    #[test]
    fn the_socket_path_ends_with_the_pid() {
        let path = default_socket_path(1234).expect("an absolute path");
        assert!(path.ends_with("1234.sock"), "{}", path.display());
        assert!(path.is_absolute(), "{}", path.display());
        assert_eq!(path.parent(), socket_dir().as_deref());
    }

    #[test]
    fn this_process_is_alive_a_pid_past_the_kernels_limit_is_not() {
        assert!(alive(std::process::id()));
        assert!(!alive(u32::MAX) || !Path::new("/proc/self").exists());
    }

    #[test]
    fn an_explicit_socket_or_pid_wins() {
        let given = PathBuf::from("/tmp/given.sock");
        assert_eq!(choose(Some(given.clone()), Some(5)).ok(), Some(given));
        assert_eq!(choose(None, Some(5)).ok(), default_socket_path(5));
    }
}
