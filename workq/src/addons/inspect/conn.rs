//! One client of the endpoint: a non-blocking socket and a bounded buffer of
//! lines not yet written.

use rustix::net::{send, SendFlags};
use std::io::{self, Read};
use std::os::unix::net::UnixStream;

/// The most a client may leave unread before it is dropped.
pub(super) const OUT_CAP: usize = 1 << 20;

/// Reads of a refused client's input before its connection is closed (the
/// rest is discarded with the connection).
const DRAIN_READS: usize = 16;

/// What a client's side of the socket held.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Input {
    /// Nothing to read now.
    Nothing,
    /// Bytes: the protocol takes none.
    Bytes,
    /// End of stream or an error: the client is gone.
    Gone,
}

pub(super) struct Conn {
    pub(super) stream: UnixStream,
    out: Vec<u8>,
    /// Bytes of `out` already written.
    sent: usize,
    /// Snapshot lines queued for this client so far.
    pub(super) seq: u64,
    /// The error line is queued: write it, then close.
    pub(super) closing: bool,
    /// Left more than [`OUT_CAP`] unread: closed at the next flush.
    dropped: bool,
}

impl Conn {
    pub(super) fn new(stream: UnixStream) -> Conn {
        Conn {
            stream,
            out: Vec::new(),
            sent: 0,
            seq: 0,
            closing: false,
            dropped: false,
        }
    }

    /// Marks the client to be dropped at the next flush (it reads too slowly).
    pub(super) fn drop_now(&mut self) {
        self.dropped = true;
    }

    /// Whether [`drop_now`](Conn::drop_now) was called.
    pub(super) fn is_dropped(&self) -> bool {
        self.dropped
    }

    /// Bytes queued and not yet written.
    pub(super) fn pending(&self) -> usize {
        self.out.len() - self.sent
    }

    /// Queues a line; `false` when that would leave more than [`OUT_CAP`]
    /// unread (the client is to be dropped).
    pub(super) fn push(&mut self, line: &str) -> bool {
        if self.pending() + line.len() > OUT_CAP {
            return false;
        }
        self.out.extend_from_slice(line.as_bytes());
        true
    }

    /// Writes what the socket takes without blocking.
    ///
    /// # Errors
    ///
    /// The socket's error (the client is gone).
    pub(super) fn flush(&mut self) -> io::Result<()> {
        while self.sent < self.out.len() {
            // MSG_NOSIGNAL: a client gone mid-stream is an error here, never a
            // SIGPIPE for the inspected program.
            match send(&self.stream, &self.out[self.sent..], SendFlags::NOSIGNAL) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => self.sent += n,
                Err(rustix::io::Errno::INTR) => {}
                Err(rustix::io::Errno::AGAIN) => break,
                Err(e) => return Err(e.into()),
            }
        }
        if self.sent == self.out.len() {
            self.out.clear();
            self.sent = 0;
        } else if self.sent > self.out.len() / 2 {
            self.out.drain(..self.sent);
            self.sent = 0;
        }
        Ok(())
    }

    /// Reads what the client sent, if anything.
    pub(super) fn read(&mut self) -> Input {
        let mut buf = [0u8; 4096];
        loop {
            return match self.stream.read(&mut buf) {
                Ok(0) => Input::Gone,
                Ok(_) => Input::Bytes,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => Input::Nothing,
                Err(_) => Input::Gone,
            };
        }
    }

    /// Queues `line` (the error line) past the cap, discards some of the
    /// client's input and marks the connection to be closed once it is written.
    pub(super) fn refuse(&mut self, line: &str) {
        self.out.extend_from_slice(line.as_bytes());
        self.closing = true;
        for _ in 0..DRAIN_READS {
            if self.read() != Input::Bytes {
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Conn, Input, OUT_CAP};
    use std::io::{BufRead, BufReader, Write};
    use std::os::unix::net::UnixStream;

    #[test]
    fn a_client_that_does_not_read_fills_its_buffer_and_is_refused_more() {
        let (server, _client) = UnixStream::pair().expect("pair");
        server.set_nonblocking(true).expect("non-blocking");
        let mut conn = Conn::new(server);
        let line = format!("{}\n", "x".repeat(1023));
        let mut pushed = 0;
        while conn.push(&line) {
            pushed += 1;
            conn.flush().expect("flush never blocks");
            assert!(pushed <= 4 * OUT_CAP / line.len(), "the cap never hit");
        }
        assert!(conn.pending() + line.len() > OUT_CAP);
        assert!(conn.pending() <= OUT_CAP);
    }

    #[test]
    fn input_is_seen_and_a_refused_client_reads_the_error_line() {
        let (server, client) = UnixStream::pair().expect("pair");
        server.set_nonblocking(true).expect("non-blocking");
        let mut conn = Conn::new(server);
        assert_eq!(conn.read(), Input::Nothing);
        (&client).write_all(b"hello?\n").expect("write");
        assert_eq!(conn.read(), Input::Bytes);
        conn.refuse("no\n");
        conn.flush().expect("flush");
        assert_eq!(conn.pending(), 0);
        drop(conn);
        let mut reply = String::new();
        BufReader::new(&client).read_line(&mut reply).expect("read");
        assert_eq!(reply, "no\n");
        drop(client);
        let (server, client) = UnixStream::pair().expect("pair");
        server.set_nonblocking(true).expect("non-blocking");
        drop(client);
        assert_eq!(Conn::new(server).read(), Input::Gone);
    }
}
