//! The serving thread and its handle, [`Endpoint`].

use super::conn::{Conn, Input};
use super::message::{Level, Message};
use super::path::{self, Place};
use crate::support::tap::{self, Reader};
use crate::Error;
use rustix::event::{poll, PollFd, PollFlags};
use rustix::net::{send, SendFlags};
use std::io::{self, Read};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Time between two snapshot lines.
pub(super) const INTERVAL: Duration = Duration::from_millis(500);

/// The error line's text for a client that sends anything.
pub(super) const READ_ONLY: &str = "the endpoint is read-only; it accepts no requests";

/// A running inspection endpoint: a socket and the thread (`workq-inspect`)
/// that serves it. [`stop`](Endpoint::stop), or dropping it, ends both.
///
/// ```
/// # let dir = std::env::temp_dir().join(format!("workq-doc-ep-{}", std::process::id()));
/// let mut endpoint = workq::inspect::serve_at(dir.join("ep.sock"))?;
/// assert!(endpoint.path().exists());
/// endpoint.stop(); // the thread has ended and the socket file is gone
/// assert!(!endpoint.path().exists());
/// # std::fs::remove_dir(&dir).expect("remove the directory");
/// # Ok::<(), workq::Error>(())
/// ```
#[derive(Debug)]
pub struct Endpoint {
    path: PathBuf,
    running: Option<Running>,
}

#[derive(Debug)]
struct Running {
    stop: Arc<AtomicBool>,
    wake: Arc<UnixStream>,
    thread: JoinHandle<()>,
    place: Place,
}

/// Wakes the serving thread; never blocks (a full socket already holds a wake-up).
fn wake(stream: &UnixStream) {
    let _ = send(stream, &[1], SendFlags::NOSIGNAL | SendFlags::DONTWAIT);
}

impl Endpoint {
    /// The socket's path.
    ///
    /// ```
    /// # let dir = std::env::temp_dir().join(format!("workq-doc-path-{}", std::process::id()));
    /// let endpoint = workq::inspect::serve_at(dir.join("p.sock"))?;
    /// assert_eq!(endpoint.path(), dir.join("p.sock"));
    /// # drop(endpoint);
    /// # std::fs::remove_dir(&dir).expect("remove the directory");
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Stops serving: closes every connection, ends the serving thread, then
    /// removes the socket file (if it is still this endpoint's). Returns once
    /// all of that is done; a second call does nothing.
    ///
    /// ```
    /// # let dir = std::env::temp_dir().join(format!("workq-doc-stop-{}", std::process::id()));
    /// let mut endpoint = workq::inspect::serve_at(dir.join("s.sock"))?;
    /// endpoint.stop();
    /// endpoint.stop(); // nothing left to do
    /// assert!(std::os::unix::net::UnixStream::connect(endpoint.path()).is_err());
    /// # std::fs::remove_dir(&dir).expect("remove the directory");
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn stop(&mut self) {
        if let Some(running) = self.running.take() {
            running.stop.store(true, Ordering::Release);
            wake(&running.wake);
            let _ = running.thread.join();
            running.place.remove(&self.path);
        }
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Binds `path` and starts the serving thread.
pub(super) fn start(path: &Path) -> Result<Endpoint, Error> {
    let bound = path::bind(path)?;
    let place = bound.place;
    let fail = |reason: String| {
        place.remove(path);
        Error::Inspect {
            path: path.to_path_buf(),
            reason,
        }
    };
    let (wake_tx, wake_rx) =
        UnixStream::pair().map_err(|e| fail(format!("cannot make a wake-up socket: {e}")))?;
    if let Err(e) = wake_tx
        .set_nonblocking(true)
        .and_then(|()| wake_rx.set_nonblocking(true))
    {
        return Err(fail(format!("cannot make a wake-up socket: {e}")));
    }
    let wake_tx = Arc::new(wake_tx);
    let for_tap = wake_tx.clone();
    // Registered before the thread starts: a report made once serve returns is seen.
    let reports = Reader::register(move || wake(&for_tap));
    let stop = Arc::new(AtomicBool::new(false));
    let server = Server {
        listener: bound.listener,
        wake: wake_rx,
        stop: stop.clone(),
        reports,
        conns: Vec::new(),
        accept_paused: false,
        hello: Message::Hello {
            pid: std::process::id(),
            program: program_name(),
            interval_ms: u64::try_from(INTERVAL.as_millis()).unwrap_or(u64::MAX),
        }
        .to_line(),
    };
    let thread = std::thread::Builder::new()
        .name("workq-inspect".to_string())
        .spawn(move || server.run())
        .map_err(|source| {
            place.remove(path);
            Error::Spawn {
                thread: "workq-inspect".to_string(),
                source,
            }
        })?;
    Ok(Endpoint {
        path: path.to_path_buf(),
        running: Some(Running {
            stop,
            wake: wake_tx,
            thread,
            place,
        }),
    })
}

/// The file name of the running executable (empty if unknown).
fn program_name() -> String {
    std::env::current_exe()
        .ok()
        .or_else(|| std::env::args_os().next().map(PathBuf::from))
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_default()
}

struct Server {
    listener: UnixListener,
    wake: UnixStream,
    stop: Arc<AtomicBool>,
    reports: Reader,
    conns: Vec<Conn>,
    hello: String,
    /// An accept failed for a reason other than an empty backlog (out of file
    /// descriptors): the listener is left alone until the next tick, else its
    /// waiting client would wake the poll at once, again and again.
    accept_paused: bool,
}

/// What `poll` said about one descriptor.
fn ready(flags: PollFlags, want: PollFlags) -> bool {
    flags.intersects(want | PollFlags::HUP | PollFlags::ERR)
}

impl Server {
    fn run(mut self) {
        let mut next_tick = Instant::now() + INTERVAL;
        while !self.stop.load(Ordering::Acquire) {
            let timeout = next_tick.saturating_duration_since(Instant::now());
            // Rounded up: a poll that ends just before the tick would spin.
            let timeout_ms = i32::try_from(timeout.as_millis() + 1).unwrap_or(i32::MAX);
            let events = match self.wait(timeout_ms) {
                Ok(events) => events,
                Err(e) => {
                    trouble!(
                        error,
                        "workq: the inspection endpoint stops: poll failed: {e}"
                    );
                    break;
                }
            };
            if ready(events[1], PollFlags::IN) {
                self.drain_wake();
            }
            if self.stop.load(Ordering::Acquire) {
                break;
            }
            let mut gone = vec![false; self.conns.len()];
            for (i, conn) in self.conns.iter_mut().enumerate() {
                if conn.closing || !ready(events[2 + i], PollFlags::IN) {
                    continue;
                }
                match conn.read() {
                    Input::Nothing => {}
                    Input::Gone => gone[i] = true,
                    Input::Bytes => conn.refuse(
                        &Message::Error {
                            message: READ_ONLY.to_string(),
                        }
                        .to_line(),
                    ),
                }
            }
            let mut i = 0;
            self.conns.retain(|_| {
                i += 1;
                !gone[i - 1]
            });
            if !self.accept_paused && ready(events[0], PollFlags::IN) {
                self.accept();
            }
            self.send_reports();
            let now = Instant::now();
            let tick = now >= next_tick;
            if tick {
                self.accept_paused = false;
                self.send_snapshots(|c| !c.closing);
                next_tick = now + INTERVAL;
            }
            self.flush_all(tick);
        }
    }

    /// Polls the listener, the wake-up socket and every client.
    fn wait(&self, timeout_ms: i32) -> io::Result<Vec<PollFlags>> {
        let mut fds = Vec::with_capacity(2 + self.conns.len());
        let accepting = if self.accept_paused {
            PollFlags::empty()
        } else {
            PollFlags::IN
        };
        fds.push(PollFd::new(&self.listener, accepting));
        fds.push(PollFd::new(&self.wake, PollFlags::IN));
        for conn in &self.conns {
            let mut want = PollFlags::empty();
            if !conn.closing {
                want |= PollFlags::IN;
            }
            if conn.pending() > 0 {
                want |= PollFlags::OUT;
            }
            fds.push(PollFd::new(&conn.stream, want));
        }
        loop {
            match poll(&mut fds, timeout_ms) {
                Ok(_) => return Ok(fds.iter().map(PollFd::revents).collect()),
                Err(rustix::io::Errno::INTR) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }

    fn drain_wake(&mut self) {
        let mut buf = [0u8; 256];
        while matches!(self.wake.read(&mut buf), Ok(n) if n > 0) {}
    }

    /// Takes every waiting connection: each gets the hello and a first snapshot.
    fn accept(&mut self) {
        let first = self.conns.len();
        loop {
            match self.listener.accept() {
                Ok((stream, _)) => {
                    if stream.set_nonblocking(true).is_err() {
                        continue; // dropped: it could block the thread
                    }
                    let mut conn = Conn::new(stream);
                    conn.push(&self.hello);
                    self.conns.push(conn);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                // Out of descriptors, say: the client waits in the backlog.
                Err(_) => {
                    self.accept_paused = true;
                    break;
                }
            }
        }
        if self.conns.len() > first {
            let mut at = 0;
            self.send_snapshots(|_| {
                at += 1;
                at > first
            });
        }
    }

    /// A snapshot line to each client `to` picks (in order), each with its own `seq`.
    fn send_snapshots(&mut self, mut to: impl FnMut(&Conn) -> bool) {
        let mut message = Message::Snapshot {
            seq: 0,
            unix_ms: tap::unix_ms(),
            queues: crate::snapshots(),
        };
        for conn in &mut self.conns {
            if !to(conn) {
                continue;
            }
            if let Message::Snapshot { seq, .. } = &mut message {
                *seq = conn.seq;
            }
            conn.seq += 1;
            if !conn.push(&message.to_line()) {
                conn.drop_now(); // too slow a reader
            }
        }
    }

    /// The trouble lines reported since the last round, to every client.
    fn send_reports(&mut self) {
        let (lines, missed) = self.reports.take();
        let mut out: Vec<String> = lines
            .into_iter()
            .map(|line| {
                Message::Report {
                    unix_ms: line.unix_ms,
                    level: match line.level {
                        tap::Level::Warn => Level::Warn,
                        tap::Level::Error => Level::Error,
                    },
                    text: line.text,
                }
                .to_line()
            })
            .collect();
        if missed > 0 {
            out.insert(
                0,
                Message::Report {
                    unix_ms: tap::unix_ms(),
                    level: Level::Warn,
                    text: format!("workq: {missed} trouble line(s) lost before they were sent"),
                }
                .to_line(),
            );
        }
        for conn in self.conns.iter_mut().filter(|c| !c.closing) {
            for line in &out {
                if !conn.push(line) {
                    conn.drop_now();
                    break;
                }
            }
        }
    }

    /// Writes to every client what its socket takes; drops the gone, the
    /// refused once their error line is out, and (at a tick) refused ones that
    /// still have not taken it.
    fn flush_all(&mut self, tick: bool) {
        self.conns.retain_mut(|conn| {
            if conn.flush().is_err() || conn.is_dropped() {
                return false;
            }
            !(conn.closing && (conn.pending() == 0 || tick))
        });
    }
}
