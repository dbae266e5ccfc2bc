//! What `workq top` knows of the program: its hello, the latest snapshot, the
//! rates per queue computed from the last two snapshots, and recent reports.

use super::protocol::{Hello, Message, Queue, Report, SnapshotMsg};
use std::collections::{HashMap, VecDeque};

/// Reports kept for the live view.
const KEPT_REPORTS: usize = 200;

/// Per-second rates of one queue, between two consecutive snapshots.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Rates {
    /// Runs finished per second.
    pub runs: f64,
    /// Runs scheduled (queue calls that queued an idle item) per second.
    pub queued: f64,
    /// Queue calls merged into a pending run per second (`None`: not counted).
    pub merged: Option<f64>,
}

/// A queue's counters at one time, to compute the next rates from.
#[derive(Clone, Copy, Debug)]
struct Mark {
    unix_ms: u64,
    runs: u64,
    queued: u64,
    merged: Option<u64>,
}

/// The program as seen so far.
#[derive(Debug, Default)]
pub struct State {
    /// The hello line, once read.
    pub hello: Option<Hello>,
    /// The latest snapshot.
    pub latest: Option<SnapshotMsg>,
    /// Rates per queue id (a queue seen in one snapshot only has none).
    pub rates: HashMap<u32, Rates>,
    /// The latest reports, oldest first.
    pub reports: VecDeque<Report>,
    /// Reports that came after the latest snapshot's frame was printed (the
    /// latest [`KEPT_REPORTS`] of them).
    pub fresh_reports: VecDeque<Report>,
    /// Reports dropped from `fresh_reports` to keep it within its bound.
    pub fresh_skipped: u64,
    marks: HashMap<u32, Mark>,
}

impl State {
    /// Takes in one message; true when it was a snapshot (a frame is due).
    pub fn apply(&mut self, msg: Message) -> bool {
        match msg {
            Message::Hello(h) => self.hello = Some(h),
            Message::Snapshot(s) => {
                self.snapshot(s);
                return true;
            }
            Message::Report(r) => {
                if self.reports.len() == KEPT_REPORTS {
                    self.reports.pop_front();
                }
                self.reports.push_back(r.clone());
                if self.fresh_reports.len() == KEPT_REPORTS {
                    self.fresh_reports.pop_front();
                    self.fresh_skipped += 1;
                }
                self.fresh_reports.push_back(r);
            }
            Message::Error(_) | Message::Other => {}
        }
        false
    }

    /// Rates from the previous snapshot's counters to `s`'s, then `s` becomes
    /// the latest.
    fn snapshot(&mut self, s: SnapshotMsg) {
        let mut marks = HashMap::with_capacity(s.queues.len());
        self.rates.clear();
        for q in &s.queues {
            let mark = Mark {
                unix_ms: s.unix_ms,
                runs: q.stats.runs,
                queued: q.stats.scheduled,
                merged: q.stats.merged,
            };
            if let Some(r) = self.marks.get(&q.id).and_then(|prev| rates(prev, &mark)) {
                self.rates.insert(q.id, r);
            }
            marks.insert(q.id, mark);
        }
        self.marks = marks;
        self.latest = Some(s);
    }

    /// The rates of `q`, if it was in the previous snapshot too.
    pub fn rates_of(&self, q: &Queue) -> Option<Rates> {
        self.rates.get(&q.id).copied()
    }
}

/// The rates from `a` to `b`; `None` when no time passed between them, or a
/// counter went back (another queue under the same id).
fn rates(a: &Mark, b: &Mark) -> Option<Rates> {
    let secs = b.unix_ms.checked_sub(a.unix_ms).filter(|&ms| ms > 0)? as f64 / 1000.0;
    let per_sec = |x: u64, y: u64| y.checked_sub(x).map(|d| d as f64 / secs);
    Some(Rates {
        runs: per_sec(a.runs, b.runs)?,
        queued: per_sec(a.queued, b.queued)?,
        merged: match (a.merged, b.merged) {
            (Some(x), Some(y)) => Some(per_sec(x, y)?),
            _ => None,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::top::protocol::Stats;

    fn snap(unix_ms: u64, queues: &[(u32, u64, u64, Option<u64>)]) -> Message {
        Message::Snapshot(SnapshotMsg {
            seq: 0,
            unix_ms,
            queues: queues
                .iter()
                .map(|&(id, runs, scheduled, merged)| Queue {
                    id,
                    stats: Stats {
                        runs,
                        scheduled,
                        merged,
                        ..Stats::default()
                    },
                    ..Queue::default()
                })
                .collect(),
        })
    }

    #[test]
    fn rates_come_from_consecutive_snapshots_per_queue_id() {
        let mut st = State::default();
        assert!(st.apply(snap(1_000, &[(1, 10, 20, Some(0)), (2, 5, 5, None)])));
        assert!(st.rates.is_empty());
        st.apply(snap(1_500, &[(1, 60, 40, Some(10)), (3, 1, 1, None)]));
        assert_eq!(
            st.rates.get(&1),
            Some(&Rates {
                runs: 100.0,
                queued: 40.0,
                merged: Some(20.0)
            })
        );
        // Queue 2 is gone, queue 3 is new: no rates for either.
        assert_eq!(st.rates.len(), 1);
        // A counter that goes back (a new queue under the same id): no rates.
        st.apply(snap(2_000, &[(1, 5, 40, Some(10)), (3, 3, 1, None)]));
        assert_eq!(st.rates.get(&1), None);
        assert_eq!(st.rates.get(&3).map(|r| r.runs), Some(4.0));
        // No time passed: no rates.
        st.apply(snap(2_000, &[(3, 4, 1, None)]));
        assert!(st.rates.is_empty());
    }

    #[test]
    fn reports_are_kept_within_a_bound() {
        let mut st = State::default();
        for i in 0..(KEPT_REPORTS as u64 + 5) {
            let r = Report {
                unix_ms: i,
                ..Report::default()
            };
            assert!(!st.apply(Message::Report(r)));
        }
        assert_eq!(st.reports.len(), KEPT_REPORTS);
        assert_eq!(st.reports.front().map(|r| r.unix_ms), Some(5));
        assert_eq!(st.fresh_reports.len(), KEPT_REPORTS);
        assert_eq!(st.fresh_skipped, 5);
    }
}
