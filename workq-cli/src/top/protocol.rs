//! The inspection protocol, as `workq top` reads it: one JSON object a line, each
//! with `"v":1` and a `"type"` (`hello`, `snapshot`, `report`, `error`).
//!
//! The types are the command's own, not the library's: every field has a
//! default (a field a newer server drops still parses), unknown fields are
//! ignored, and a line of an unknown type is [`Message::Other`]. Only a version
//! other than [`VERSION`] and a line that is not a JSON object are errors.

use serde::{Deserialize, Deserializer};
use std::fmt;
use std::time::Duration;

/// The protocol version this command speaks.
pub const VERSION: u64 = 1;

/// One line of the protocol.
#[derive(Clone, Debug, PartialEq)]
pub enum Message {
    /// Sent once, on connect.
    Hello(Hello),
    /// The program's queues, every interval.
    Snapshot(SnapshotMsg),
    /// Trouble in the program (a stall, a backlog, a panic), as it happens.
    Report(Report),
    /// Why the server closes the connection (sent just before it does).
    Error(String),
    /// A line of a type this command does not know (ignored).
    Other,
}

/// The `hello` line.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Hello {
    /// The program's process id.
    pub pid: u32,
    /// The program's name.
    pub program: String,
    /// How often the program sends a snapshot, in milliseconds.
    pub interval_ms: u64,
}

/// The `snapshot` line: every queue of the program at one moment.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct SnapshotMsg {
    /// The snapshot's number (the first is 0 or 1; one more each time).
    pub seq: u64,
    /// When it was taken: milliseconds since the Unix epoch.
    pub unix_ms: u64,
    /// One picture per live queue.
    pub queues: Vec<Queue>,
}

/// One queue in a snapshot (`workq::Snapshot` as serde writes it).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Queue {
    /// The queue's name.
    pub name: String,
    /// Tells queues apart (unique in the program while the queue lives).
    pub id: u32,
    /// `Worker`, `Pool` or `WorkQueue` (a string: a new kind still parses).
    pub kind: String,
    /// A workqueue's `max_active`.
    pub max_active: Option<u64>,
    /// A pool's least threads.
    pub min_threads: u64,
    /// A pool's most threads.
    pub max_threads: u64,
    /// Share of the threads very slow items may use, in percent.
    pub very_slow_percent: u64,
    /// Every thread (a workqueue's run slots), idle or running.
    pub threads: Vec<Thread>,
    /// Every item waiting for a thread.
    pub waiting: Vec<Waiting>,
    /// Whether the queue is frozen.
    pub frozen: bool,
    /// Counters since the queue was built.
    pub stats: Stats,
}

impl Queue {
    /// How many of its threads run an item now.
    pub fn in_flight(&self) -> usize {
        self.threads.iter().filter(|t| t.running.is_some()).count()
    }
}

/// One thread of a [`Queue`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Thread {
    /// The thread's name (`pool/3`).
    pub name: String,
    /// What it runs, or `None` when idle.
    pub running: Option<Running>,
}

/// The item a [`Thread`] runs.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Running {
    /// The item's name, if it has one.
    pub work: Option<String>,
    /// Whether it is of the very slow class.
    pub very_slow: bool,
    /// How long it has been running (zero for a run seen for the first time).
    #[serde(deserialize_with = "duration")]
    pub running_for: Duration,
}

/// An item waiting in a [`Queue`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Waiting {
    /// The item's name, if it has one.
    pub work: Option<String>,
    /// Whether it is of the very slow class.
    pub very_slow: bool,
    /// How long it has been waiting for a thread.
    #[serde(deserialize_with = "duration")]
    pub waited: Duration,
}

/// A queue's counters, monotonic since it was built.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Stats {
    /// Queue calls that scheduled a run (`queued` in older words).
    #[serde(alias = "queued")]
    pub scheduled: u64,
    /// Queue calls that found the item already pending; `None`: not counted.
    pub merged: Option<u64>,
    /// Queue calls that asked a running item to run again.
    pub reruns: u64,
    /// Runs finished.
    pub runs: u64,
    /// Runs that panicked.
    pub panics: u64,
    /// Threads started.
    pub threads_started: u64,
    /// Threads that exited.
    pub threads_exited: u64,
    /// Thread starts that failed.
    pub spawn_failures: u64,
    /// Waits from queue call to start; `None`: not measured.
    pub wait: Option<Latency>,
    /// Run times; `None`: not measured.
    pub run: Option<Latency>,
}

/// A latency summary.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Latency {
    /// Samples.
    pub count: u64,
    /// The mean.
    #[serde(deserialize_with = "duration")]
    pub mean: Duration,
    /// The median.
    #[serde(deserialize_with = "duration")]
    pub p50: Duration,
    /// The 90th percentile.
    #[serde(deserialize_with = "duration")]
    pub p90: Duration,
    /// The 99th percentile.
    #[serde(deserialize_with = "duration")]
    pub p99: Duration,
    /// The largest.
    #[serde(deserialize_with = "duration")]
    pub max: Duration,
}

/// A `report` line.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Report {
    /// When it happened: milliseconds since the Unix epoch.
    pub unix_ms: u64,
    /// `warn` or `error` (another word is shown as it is).
    pub level: String,
    /// What happened.
    pub text: String,
}

/// The `error` line.
#[derive(Deserialize, Default)]
#[serde(default)]
struct ErrorMsg {
    message: String,
}

/// A `Duration` as serde writes it: `{"secs":..,"nanos":..}`.
#[derive(Deserialize, Default)]
#[serde(default)]
struct WireDuration {
    secs: u64,
    nanos: u64,
}

/// Reads a [`WireDuration`]; a value past `Duration::MAX` saturates (no panic on
/// a bad line).
fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let w = WireDuration::deserialize(d)?;
    Ok(Duration::from_secs(w.secs)
        .checked_add(Duration::from_nanos(w.nanos))
        .unwrap_or(Duration::MAX))
}

/// Why a line could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LineError {
    /// Not a JSON object with a `v` and a `type`, or a known type with fields of
    /// the wrong shape.
    Malformed(String),
    /// A protocol version this command does not speak.
    Version(serde_json::Value),
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LineError::Malformed(why) => write!(f, "malformed line: {why}"),
            LineError::Version(v) => write!(
                f,
                "the program speaks protocol version {v}; this workq top speaks version {VERSION} \
                 (use the workq command of the same release as the program's workq)"
            ),
        }
    }
}

/// Reads one line of the protocol.
///
/// # Errors
/// [`LineError::Version`] for a `v` other than 1, [`LineError::Malformed`] for
/// anything that is not a JSON object with `v` and `type`, or a known type
/// whose fields have the wrong shape.
pub fn parse(line: &str) -> Result<Message, LineError> {
    let bad = |e: serde_json::Error| LineError::Malformed(e.to_string());
    let value: serde_json::Value = serde_json::from_str(line).map_err(bad)?;
    let Some(object) = value.as_object() else {
        return Err(LineError::Malformed("not a JSON object".to_string()));
    };
    match object.get("v") {
        None => return Err(LineError::Malformed("no \"v\" (version)".to_string())),
        Some(v) if v.as_u64() == Some(VERSION) => {}
        Some(v) => return Err(LineError::Version(v.clone())),
    }
    let Some(kind) = object.get("type").and_then(|t| t.as_str()) else {
        return Err(LineError::Malformed("no \"type\" string".to_string()));
    };
    Ok(match kind {
        "hello" => Message::Hello(serde_json::from_value(value).map_err(bad)?),
        "snapshot" => Message::Snapshot(serde_json::from_value(value).map_err(bad)?),
        "report" => Message::Report(serde_json::from_value(value).map_err(bad)?),
        "error" => Message::Error(
            serde_json::from_value::<ErrorMsg>(value)
                .map_err(bad)?
                .message,
        ),
        _ => Message::Other,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_type() {
        let hello = parse(r#"{"v":1,"type":"hello","pid":42,"program":"p","interval_ms":500}"#);
        assert_eq!(
            hello,
            Ok(Message::Hello(Hello {
                pid: 42,
                program: "p".into(),
                interval_ms: 500
            }))
        );
        let snap = r#"{"v":1,"type":"snapshot","seq":3,"unix_ms":1000,"queues":[
            {"name":"q","id":7,"kind":"Pool","max_active":null,"min_threads":1,"max_threads":4,
             "very_slow_percent":50,"frozen":true,
             "threads":[{"name":"q/0","running":{"work":"w","very_slow":false,
                         "running_for":{"secs":1,"nanos":500000000}}},{"name":"q/1","running":null}],
             "waiting":[{"work":null,"very_slow":true,"waited":{"secs":0,"nanos":2000}}],
             "stats":{"scheduled":10,"merged":null,"runs":9,"panics":1,
                      "wait":{"count":9,"mean":{"secs":0,"nanos":10},"p50":{"secs":0,"nanos":5},
                              "p90":{"secs":0,"nanos":8},"p99":{"secs":0,"nanos":9},
                              "max":{"secs":0,"nanos":12}},"run":null}}]}"#
            .replace('\n', " ");
        let Ok(Message::Snapshot(s)) = parse(&snap) else {
            panic!("{:?}", parse(&snap));
        };
        assert_eq!((s.seq, s.unix_ms, s.queues.len()), (3, 1000, 1));
        let q = &s.queues[0];
        assert_eq!(
            (q.id, q.kind.as_str(), q.frozen, q.in_flight()),
            (7, "Pool", true, 1)
        );
        let run = q.threads[0].running.as_ref().expect("running");
        assert_eq!(run.running_for, Duration::from_millis(1500));
        assert_eq!(q.waiting[0].waited, Duration::from_micros(2));
        assert_eq!(
            (q.stats.scheduled, q.stats.runs, q.stats.merged),
            (10, 9, None)
        );
        assert_eq!(q.stats.wait.map(|w| w.p99), Some(Duration::from_nanos(9)));
        assert_eq!(q.stats.run, None);
        let report = parse(r#"{"v":1,"type":"report","unix_ms":5,"level":"warn","text":"t"}"#);
        assert!(matches!(report, Ok(Message::Report(r)) if r.level == "warn" && r.text == "t"));
        let error = parse(r#"{"v":1,"type":"error","message":"bye"}"#);
        assert_eq!(error, Ok(Message::Error("bye".into())));
    }

    #[test]
    fn unknown_types_and_fields_are_ignored_missing_fields_default() {
        assert_eq!(
            parse(r#"{"v":1,"type":"gossip","x":1}"#),
            Ok(Message::Other)
        );
        let Ok(Message::Snapshot(s)) = parse(
            r#"{"v":1,"type":"snapshot","new":[1],"queues":[{"id":2,"colour":"red","stats":{"queued":4,"extra":{}}}]}"#,
        ) else {
            panic!("snapshot");
        };
        assert_eq!(
            (s.seq, s.queues[0].id, s.queues[0].stats.scheduled),
            (0, 2, 4)
        );
        assert!(s.queues[0].threads.is_empty());
    }

    #[test]
    fn bad_lines_are_errors() {
        assert!(matches!(
            parse(r#"{"v":2,"type":"hello"}"#),
            Err(LineError::Version(v)) if v == 2
        ));
        let version = parse(r#"{"v":"one","type":"hello"}"#).map_err(|e| e.to_string());
        assert!(version.is_err_and(|e| e.contains("protocol version \"one\"")));
        for line in ["{not json", "[1]", r#"{"type":"hello"}"#, r#"{"v":1}"#] {
            assert!(
                matches!(parse(line), Err(LineError::Malformed(_))),
                "{line}: {:?}",
                parse(line)
            );
        }
        // A known type whose fields have the wrong shape.
        assert!(matches!(
            parse(r#"{"v":1,"type":"snapshot","queues":"none"}"#),
            Err(LineError::Malformed(_))
        ));
    }

    #[test]
    fn a_huge_duration_saturates() {
        let line = r#"{"v":1,"type":"snapshot","queues":[{"waiting":[{"waited":{"secs":18446744073709551615,"nanos":4000000000}}]}]}"#;
        let Ok(Message::Snapshot(s)) = parse(line) else {
            panic!("{:?}", parse(line));
        };
        assert_eq!(s.queues[0].waiting[0].waited, Duration::MAX);
    }
}
