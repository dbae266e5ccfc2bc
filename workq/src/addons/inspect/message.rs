//! The protocol's lines: [`Message`], one JSON object per line.

use super::PROTOCOL_VERSION;
use crate::Snapshot;
use serde::{Deserialize, Serialize};

/// One line of the inspection protocol, as the endpoint writes it and a client
/// reads it back.
///
/// Every line is one JSON object ending in `\n`, with `"v":1`
/// ([`PROTOCOL_VERSION`]) and a `"type"` naming the variant in lower case:
///
/// * `hello`, once, on connect;
/// * `snapshot`, right after the hello and then once per interval;
/// * `report`, for each trouble line (stall, backlog, panic, spawn failure,
///   lost work) as it happens;
/// * `error`, just before the endpoint closes a connection for a reason of the
///   client's (the protocol takes no requests).
///
/// Parsing ignores fields it does not know, so a client keeps working against a
/// newer endpoint that adds some.
///
/// ```
/// use workq::inspect::Message;
/// let hello = Message::Hello { pid: 42, program: "demo".into(), interval_ms: 500 };
/// let line = hello.to_line();
/// assert_eq!(line, "{\"v\":1,\"type\":\"hello\",\"pid\":42,\"program\":\"demo\",\"interval_ms\":500}\n");
/// assert_eq!(Message::from_line(&line)?, hello);
/// // a newer endpoint's extra field is ignored:
/// let newer = r#"{"v":1,"type":"error","message":"bye","hint":"new"}"#;
/// assert_eq!(Message::from_line(newer)?, Message::Error { message: "bye".into() });
/// # Ok::<(), workq::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
#[non_exhaustive]
pub enum Message {
    /// The first line on every connection.
    Hello {
        /// The inspected process's id.
        pid: u32,
        /// The file name of its executable.
        program: String,
        /// Milliseconds between two snapshot lines.
        interval_ms: u64,
    },
    /// Every live queue of the process ([`snapshots`](crate::snapshots)).
    Snapshot {
        /// This connection's count of snapshot lines before this one (0 first).
        seq: u64,
        /// When the pictures were taken, in milliseconds since the Unix epoch.
        unix_ms: u64,
        /// One picture per queue, in the order they were built.
        queues: Vec<Snapshot>,
    },
    /// A trouble line of the library, as it was printed or traced.
    Report {
        /// When it was reported, in milliseconds since the Unix epoch.
        unix_ms: u64,
        /// Its level.
        level: Level,
        /// The line.
        text: String,
    },
    /// Why the endpoint closes this connection.
    Error {
        /// What the client did.
        message: String,
    },
}

/// The level of a [`Message::Report`]: `"warn"` or `"error"` on the wire.
///
/// ```
/// let line = r#"{"v":1,"type":"report","unix_ms":1,"level":"warn","text":"stall"}"#;
/// match workq::inspect::Message::from_line(line)? {
///     workq::inspect::Message::Report { level, .. } => assert_eq!(level, workq::inspect::Level::Warn),
///     other => panic!("not a report: {other:?}"),
/// }
/// # Ok::<(), workq::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Level {
    /// Something went wrong that the program may recover from (a stall, a backlog).
    Warn,
    /// Something failed (a panic in a run).
    Error,
}

/// What is written: the version first, then the tagged message.
#[derive(Serialize)]
struct Line<'a> {
    v: u32,
    #[serde(flatten)]
    body: Body<'a>,
}

/// [`Message`] by reference, for writing.
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
enum Body<'a> {
    Hello {
        pid: u32,
        program: &'a str,
        interval_ms: u64,
    },
    Snapshot {
        seq: u64,
        unix_ms: u64,
        queues: &'a [Snapshot],
    },
    Report {
        unix_ms: u64,
        level: Level,
        text: &'a str,
    },
    Error {
        message: &'a str,
    },
}

impl Serialize for Message {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let body = match self {
            Message::Hello {
                pid,
                program,
                interval_ms,
            } => Body::Hello {
                pid: *pid,
                program,
                interval_ms: *interval_ms,
            },
            Message::Snapshot {
                seq,
                unix_ms,
                queues,
            } => Body::Snapshot {
                seq: *seq,
                unix_ms: *unix_ms,
                queues,
            },
            Message::Report {
                unix_ms,
                level,
                text,
            } => Body::Report {
                unix_ms: *unix_ms,
                level: *level,
                text,
            },
            Message::Error { message } => Body::Error { message },
        };
        Line {
            v: PROTOCOL_VERSION,
            body,
        }
        .serialize(serializer)
    }
}

/// Only `v` of a line, to check it before the rest is read.
#[derive(Deserialize)]
struct Version {
    v: u32,
}

impl Message {
    /// The message as one protocol line: JSON with `"v":1` first, then `"type"`,
    /// ending in `\n`.
    ///
    /// ```
    /// let line = workq::inspect::Message::Error { message: "bye".into() }.to_line();
    /// assert_eq!(line, "{\"v\":1,\"type\":\"error\",\"message\":\"bye\"}\n");
    /// ```
    pub fn to_line(&self) -> String {
        // Serialising these types cannot fail: every map key is a string and
        // every number fits JSON.
        let mut line = serde_json::to_string(self).unwrap_or_else(|e| {
            format!(
                "{{\"v\":{PROTOCOL_VERSION},\"type\":\"error\",\"message\":{}}}",
                serde_json::Value::from(e.to_string())
            )
        });
        line.push('\n');
        line
    }

    /// Parses one protocol line (with or without its `\n`). Fields it does not
    /// know are ignored.
    ///
    /// ```
    /// use workq::inspect::Message;
    /// assert!(Message::from_line("not json").is_err());
    /// assert!(Message::from_line(r#"{"v":2,"type":"error","message":"x"}"#).is_err());
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Inspect`](crate::Error::Inspect) when the line is not JSON, has a
    /// version other than [`PROTOCOL_VERSION`], or is no known message.
    pub fn from_line(line: &str) -> Result<Message, crate::Error> {
        let bad = |reason: String| crate::Error::Inspect {
            path: std::path::PathBuf::new(),
            reason,
        };
        let version: Version =
            serde_json::from_str(line).map_err(|e| bad(format!("not a protocol line: {e}")))?;
        if version.v != PROTOCOL_VERSION {
            return Err(bad(format!(
                "protocol version {} (this reader knows {PROTOCOL_VERSION})",
                version.v
            )));
        }
        serde_json::from_str(line).map_err(|e| bad(format!("not a protocol message: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::{Level, Message};
    use crate::{Pool, Work, WorkQueue, Worker};

    #[test]
    fn every_message_survives_the_round_trip() {
        let pool = Pool::builder()
            .name("round-trip")
            .latency_histograms(true)
            .count_merged(true)
            .build()
            .expect("pool");
        let wq = WorkQueue::builder("round-trip-wq")
            .pool(&pool)
            .build()
            .expect("workqueue");
        let worker = Worker::builder()
            .name("round-trip-worker")
            .freezable(true)
            .build()
            .expect("worker");
        worker.freeze().expect("freeze");
        worker.queue(&Work::named("waits", |_| {})).expect("queue");
        let work = Work::named("ran", |_| {});
        pool.queue(&work).expect("queue");
        work.flush().expect("flush");
        let queues = vec![pool.snapshot(), wq.snapshot(), worker.snapshot()];
        assert!(queues[0].stats.run.is_some_and(|r| r.count == 1));
        assert_eq!(queues[2].waiting.len(), 1);
        let messages = [
            Message::Hello {
                pid: 7,
                program: "a \"quoted\" name\n".into(),
                interval_ms: 500,
            },
            Message::Snapshot {
                seq: 3,
                unix_ms: 1_700_000_000_000,
                queues,
            },
            Message::Report {
                unix_ms: 1,
                level: Level::Error,
                text: "workq: work item 'x' on 'y' panicked: z".into(),
            },
            Message::Error {
                message: "bye".into(),
            },
        ];
        for message in messages {
            let line = message.to_line();
            assert!(line.ends_with('\n') && !line[..line.len() - 1].contains('\n'));
            assert!(line.starts_with("{\"v\":1,\"type\":\""), "{line}");
            assert_eq!(Message::from_line(&line).expect("parses"), message);
            let value: serde_json::Value = serde_json::from_str(&line).expect("json");
            assert_eq!(
                serde_json::from_value::<Message>(value).expect("serde"),
                message
            );
        }
        worker.thaw().expect("thaw");
    }

    #[test]
    fn unknown_fields_and_types_are_told_apart() {
        let line = r#"{"v":1,"type":"snapshot","seq":0,"unix_ms":5,"queues":[],"extra":{"a":[1]}}"#;
        assert_eq!(
            Message::from_line(line).expect("parses"),
            Message::Snapshot {
                seq: 0,
                unix_ms: 5,
                queues: Vec::new()
            }
        );
        assert!(Message::from_line(r#"{"v":1,"type":"gossip"}"#).is_err());
        assert!(Message::from_line(r#"{"type":"error","message":"no version"}"#).is_err());
    }
}
