//! `workq top`: a live view of another program's queues, read from the socket
//! where the program serves them (the library's `inspect` feature).
//!
//! The files, one concern each:
//!
//! * [`protocol`]: the lines of the protocol, read into the command's own types;
//! * [`connect`]: the socket's path and the connection, with their errors;
//! * [`state`]: what is known of the program, and the rates per queue;
//! * [`table`]: the lines both views print (the table, a queue's detail);
//! * [`plain`] (text frames) and [`view_tui`] (the live view).

mod connect;
mod plain;
mod protocol;
mod state;
mod table;
mod view_tui;

use connect::TopError;
use protocol::Message;
use state::State;
use std::io::{self, BufRead, BufReader, IsTerminal, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::ExitCode;

/// Settings of `workq top`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// The program's process id (its socket is then the default path).
    pub pid: Option<u32>,
    /// The socket's path, instead of a PID.
    pub socket: Option<PathBuf>,
    /// Text frames instead of the live view.
    pub plain: bool,
    /// The protocol's lines, passed through.
    pub json: bool,
    /// Stop after the first snapshot.
    pub once: bool,
}

/// Runs `workq top` and returns the exit code: failure, with one line on
/// standard error, when it could not connect or the connection ended.
pub fn run(opts: &Options) -> ExitCode {
    match top(opts) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("workq top: {e}");
            ExitCode::FAILURE
        }
    }
}

fn top(opts: &Options) -> Result<(), TopError> {
    let path = connect::choose(opts.socket.clone(), opts.pid)?;
    let stream = connect::connect(&path)?;
    let mut lines = Lines::new(stream, path);
    if opts.json {
        return json(&mut lines, &mut io::stdout().lock(), opts.once);
    }
    let mut tui = !opts.plain && !opts.once && io::stdout().is_terminal();
    if tui {
        if let Err(why) = crate::view::terminal::fits(ratatui::crossterm::terminal::size().ok()) {
            eprintln!("workq top: {why}; showing the plain view");
            tui = false;
        }
    }
    if tui {
        crate::view::terminal::install_panic_hook(false);
        return view_tui::run(lines);
    }
    plain(&mut lines, &mut io::stdout().lock(), opts.once)
}

/// `--json`: every valid line as it came (with `--once`, only the first
/// snapshot's).
fn json(lines: &mut Lines, out: &mut impl Write, once: bool) -> Result<(), TopError> {
    loop {
        let (line, msg) = lines.next_line()?;
        let snapshot = matches!(msg, Message::Snapshot(_));
        if !once || snapshot {
            writeln!(out, "{line}")
                .and_then(|()| out.flush())
                .map_err(TopError::Output)?;
        }
        if let Message::Error(m) = msg {
            return Err(TopError::Closed(Some(m)));
        }
        if once && snapshot {
            return Ok(());
        }
    }
}

/// The plain view: a frame per snapshot.
fn plain(lines: &mut Lines, out: &mut impl Write, once: bool) -> Result<(), TopError> {
    let mut state = State::default();
    loop {
        let msg = lines.next_message()?;
        if state.apply(msg) {
            out.write_all(plain::frame(&mut state).as_bytes())
                .and_then(|()| out.flush())
                .map_err(TopError::Output)?;
            if once {
                return Ok(());
            }
        }
    }
}

/// The connection's lines, read one at a time.
pub struct Lines {
    reader: BufReader<UnixStream>,
    path: PathBuf,
    number: u64,
    buf: String,
}

impl Lines {
    fn new(stream: UnixStream, path: PathBuf) -> Lines {
        Lines {
            reader: BufReader::new(stream),
            path,
            number: 0,
            buf: String::new(),
        }
    }

    /// The next line (without its end) and what it says; blank lines are
    /// skipped.
    ///
    /// # Errors
    /// [`TopError::Closed`] at the end of the connection, [`TopError::Line`] for
    /// a line that cannot be read, [`TopError::Io`] for a failed read.
    fn next_line(&mut self) -> Result<(&str, Message), TopError> {
        loop {
            self.buf.clear();
            self.number += 1;
            match self.reader.read_line(&mut self.buf) {
                Ok(0) => return Err(TopError::Closed(None)),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                    return Err(TopError::Line(
                        self.number,
                        protocol::LineError::Malformed("not UTF-8".to_string()),
                    ))
                }
                Err(e) => return Err(TopError::Io(self.path.clone(), e)),
            }
            let len = self.buf.trim_end_matches(['\n', '\r']).len();
            self.buf.truncate(len);
            if !self.buf.trim().is_empty() {
                break;
            }
        }
        let msg = protocol::parse(&self.buf).map_err(|e| TopError::Line(self.number, e))?;
        Ok((&self.buf, msg))
    }

    /// The next message; the server's `error` line ends the connection.
    ///
    /// # Errors
    /// As [`Lines::next_line`], and [`TopError::Closed`] with the server's
    /// message for an `error` line.
    fn next_message(&mut self) -> Result<Message, TopError> {
        match self.next_line()?.1 {
            Message::Error(m) => Err(TopError::Closed(Some(m))),
            msg => Ok(msg),
        }
    }
}
