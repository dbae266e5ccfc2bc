//! The trouble tap: a copy of every trouble line for the inspection endpoint
//! (feature `inspect`).
//!
//! `trouble!` calls [`record`] after its usual output. With no endpoint running
//! that is one relaxed atomic load; with one, the line is formatted and pushed
//! onto a bounded ring under a short lock, and the endpoints' wake-ups are
//! called (each a non-blocking write: a reporting thread never waits on a
//! reader). Each endpoint keeps its own cursor into the ring, so every one sees
//! every line, and a line is kept until newer ones push it out.

use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

/// How many trouble lines the ring keeps for readers that have not taken them.
pub(crate) const RING: usize = 256;

/// The level of a trouble line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Level {
    Warn,
    Error,
}

/// One trouble line, numbered in the process's order of reports.
#[derive(Clone, Debug)]
pub(crate) struct Line {
    pub(crate) seq: u64,
    pub(crate) unix_ms: u64,
    pub(crate) level: Level,
    pub(crate) text: String,
}

type Wake = Arc<dyn Fn() + Send + Sync>;

struct Tap {
    lines: VecDeque<Line>,
    next_seq: u64,
    readers: Vec<(u64, Wake)>,
    next_reader: u64,
}

/// Readers registered: zero means `record` does nothing.
static READERS: AtomicUsize = AtomicUsize::new(0);
static TAP: Mutex<Tap> = Mutex::new(Tap {
    lines: VecDeque::new(),
    next_seq: 0,
    readers: Vec::new(),
    next_reader: 0,
});

fn tap() -> MutexGuard<'static, Tap> {
    // The lock guards plain data that no code path leaves half-changed.
    TAP.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Milliseconds since the Unix epoch (0 before it).
pub(crate) fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Copies a trouble line to the ring when a reader is registered.
#[inline]
pub(crate) fn record(level: Level, args: fmt::Arguments<'_>) {
    if READERS.load(Ordering::Relaxed) != 0 {
        record_slow(level, args);
    }
}

#[cold]
fn record_slow(level: Level, args: fmt::Arguments<'_>) {
    let text = args.to_string();
    let unix_ms = unix_ms();
    let wakes: Vec<Wake> = {
        let mut t = tap();
        let seq = t.next_seq;
        t.next_seq += 1;
        if t.lines.len() == RING {
            t.lines.pop_front();
        }
        t.lines.push_back(Line {
            seq,
            unix_ms,
            level,
            text,
        });
        t.readers.iter().map(|(_, w)| w.clone()).collect()
    };
    for wake in wakes {
        wake();
    }
}

/// A registered reader of the ring; unregisters on drop.
pub(crate) struct Reader {
    id: u64,
    /// The sequence number of the next line this reader takes.
    next: u64,
}

impl Reader {
    /// Registers a reader that sees the lines recorded from now on; `wake` is
    /// called after each (it must not block).
    pub(crate) fn register(wake: impl Fn() + Send + Sync + 'static) -> Reader {
        let mut t = tap();
        let id = t.next_reader;
        t.next_reader += 1;
        t.readers.push((id, Arc::new(wake)));
        READERS.fetch_add(1, Ordering::Relaxed);
        Reader {
            id,
            next: t.next_seq,
        }
    }

    /// The lines recorded since the last call, and how many were pushed out of
    /// the ring before this reader took them.
    pub(crate) fn take(&mut self) -> (Vec<Line>, u64) {
        let t = tap();
        let first = t.lines.front().map_or(t.next_seq, |l| l.seq);
        let missed = first.saturating_sub(self.next);
        let lines: Vec<Line> = t
            .lines
            .iter()
            .filter(|l| l.seq >= self.next)
            .cloned()
            .collect();
        self.next = t.next_seq;
        (lines, missed)
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        let mut t = tap();
        t.readers.retain(|(id, _)| *id != self.id);
        READERS.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::{record, Level, Reader, RING};

    #[test]
    fn a_reader_sees_lines_from_its_registration_and_what_it_missed() {
        record(Level::Warn, format_args!("before any reader"));
        let mut reader = Reader::register(|| {});
        record(Level::Error, format_args!("tap test {}", 1));
        let (lines, missed) = reader.take();
        let mine: Vec<&str> = lines
            .iter()
            .map(|l| l.text.as_str())
            .filter(|t| t.starts_with("tap test"))
            .collect();
        assert_eq!(mine, ["tap test 1"]);
        assert_eq!(missed, 0);
        for i in 0..RING + 10 {
            record(Level::Warn, format_args!("tap flood {i}"));
        }
        let (lines, missed) = reader.take();
        assert_eq!(lines.len(), RING);
        assert!(missed >= 10, "missed {missed}");
        let last = format!("tap flood {}", RING + 9);
        assert!(lines.iter().any(|l| l.text == last));
    }
}
