//! The results of a run: sections (one per scenario) of rows, each row one metric
//! for workq and every peer, with workq's ratio to the best peer and the target
//! workq aims at. Rendered as a text table, markdown or JSON.

mod json;
mod markdown;
mod table;

pub use json::to_json;
pub use markdown::to_markdown;
pub use table::to_table;

use crate::machine::Machine;
use crate::options::Scenario;

/// Which way a metric is better.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Better {
    /// Smaller values are better (times, bytes).
    Lower,
    /// Larger values are better (rates).
    Higher,
    /// A count of contract violations: must be 0 for workq (peers are shown as
    /// measured).
    Zero,
    /// Shown for information; no ratio.
    Info,
}

impl Better {
    /// The name used in JSON.
    pub fn name(self) -> &'static str {
        match self {
            Better::Lower => "lower",
            Better::Higher => "higher",
            Better::Zero => "zero",
            Better::Info => "info",
        }
    }
}

/// A goal for workq's value in a row; shown, never asserted.
#[derive(Clone, Debug, PartialEq)]
pub struct Target {
    /// The bound.
    pub bound: f64,
    /// `true`: workq's value must be at most `bound`; `false`: at least.
    pub upper: bool,
    /// How the goal reads, such as `<= 3 us` or `>= 2x best peer`.
    pub label: String,
    /// What bounds the goal on this machine, measured in the same run where it
    /// can be (such as the bare condition-variable handoff for a wake-up).
    pub context: Option<String>,
}

impl Target {
    /// workq's value must be at most `bound`.
    pub fn at_most(bound: f64, label: impl Into<String>) -> Target {
        Target {
            bound,
            upper: true,
            label: label.into(),
            context: None,
        }
    }

    /// workq's value must be at least `bound`.
    pub fn at_least(bound: f64, label: impl Into<String>) -> Target {
        Target {
            bound,
            upper: false,
            label: label.into(),
            context: None,
        }
    }

    /// The same goal, with what bounds it on this machine.
    ///
    /// ```
    /// use workq_bench::report::Target;
    /// let t = Target::at_most(3.0, "<= 3 us").context("bare condvar handoff: 4.2 us");
    /// assert_eq!(t.context.as_deref(), Some("bare condvar handoff: 4.2 us"));
    /// ```
    pub fn context(mut self, text: impl Into<String>) -> Target {
        self.context = Some(text.into());
        self
    }

    /// Whether `value` meets the goal (`None` when either is not a number).
    pub fn met(&self, value: f64) -> Option<bool> {
        if !value.is_finite() || !self.bound.is_finite() {
            return None;
        }
        Some(if self.upper {
            value <= self.bound
        } else {
            value >= self.bound
        })
    }
}

/// One metric for workq and every peer of a section.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// What is measured, such as `wake p50, Pool(2)`.
    pub metric: String,
    /// Unit of the values (`us`, `ns/op`, `M items/s`, ...).
    pub unit: &'static str,
    /// Which way is better.
    pub better: Better,
    /// One value per system of the section (`None`: the system has no such thing).
    pub values: Vec<Option<f64>>,
    /// Decimals shown.
    pub decimals: usize,
    /// workq's goal for this row.
    pub target: Option<Target>,
    /// The row's short label in the plot, if it is plotted.
    pub headline: Option<&'static str>,
    /// Whether the counting allocator (every allocation and free also updates
    /// shared atomic counters) was the global allocator while the row was
    /// measured; set for every row by [`run`](crate::run).
    pub counting_allocator: bool,
}

impl Row {
    /// A row; `values` has one entry per system of its section, workq first.
    pub fn new(
        metric: impl Into<String>,
        unit: &'static str,
        better: Better,
        values: Vec<Option<f64>>,
    ) -> Row {
        let decimals = match better {
            Better::Zero => 0,
            _ => 1,
        };
        Row {
            metric: metric.into(),
            unit,
            better,
            values,
            decimals,
            target: None,
            headline: None,
            counting_allocator: false,
        }
    }

    /// Sets the decimals shown.
    pub fn decimals(mut self, decimals: usize) -> Row {
        self.decimals = decimals;
        self
    }

    /// Sets workq's goal.
    pub fn target(mut self, target: Target) -> Row {
        self.target = Some(target);
        self
    }

    /// Puts the row in the plot, under a short label.
    pub fn headline(mut self, label: &'static str) -> Row {
        self.headline = Some(label);
        self
    }

    /// workq's value.
    pub fn workq(&self) -> Option<f64> {
        self.values.first().copied().flatten()
    }

    /// The best peer's value (lowest or highest, by [`Better`]); `None` for counts
    /// and information rows, or when no peer has a number.
    pub fn best_peer(&self) -> Option<f64> {
        let peers = self
            .values
            .iter()
            .skip(1)
            .flatten()
            .copied()
            .filter(|v| v.is_finite());
        match self.better {
            Better::Lower => peers.reduce(f64::min),
            Better::Higher => peers.reduce(f64::max),
            Better::Zero | Better::Info => None,
        }
    }

    /// workq's value divided by the best peer's.
    pub fn ratio(&self) -> Option<f64> {
        let (w, b) = (self.workq()?, self.best_peer()?);
        if !w.is_finite() {
            None
        } else if b == 0.0 {
            Some(if w == 0.0 { 1.0 } else { f64::INFINITY })
        } else {
            Some(w / b)
        }
    }

    /// How much better than the best peer workq is: above 1 better, below 1
    /// worse, whichever way the metric goes (the plot's scale).
    pub fn score(&self, value: f64) -> Option<f64> {
        let best = self.best_peer()?;
        if !(value.is_finite() && value > 0.0 && best > 0.0) {
            return None;
        }
        match self.better {
            Better::Lower => Some(best / value),
            Better::Higher => Some(value / best),
            Better::Zero | Better::Info => None,
        }
    }

    /// "better", "worse" or "same" (within 3 %) for workq against the best peer.
    pub fn verdict(&self) -> Option<&'static str> {
        let r = self.ratio()?;
        let gain = match self.better {
            Better::Lower => 1.0 / r,
            Better::Higher => r,
            Better::Zero | Better::Info => return None,
        };
        Some(if (0.97..=1.03).contains(&gain) {
            "same"
        } else if gain > 1.0 {
            "better"
        } else {
            "worse"
        })
    }

    /// Whether workq meets its goal (`None`: no goal or no value).
    pub fn target_met(&self) -> Option<bool> {
        self.target.as_ref()?.met(self.workq()?)
    }
}

/// The results of one scenario.
#[derive(Clone, Debug, PartialEq)]
pub struct Section {
    /// The scenario.
    pub scenario: Scenario,
    /// A heading with the sizes, such as `throughput: 1,000,000 tiny items ...`.
    pub title: String,
    /// The columns: `workq` first, then the peers.
    pub systems: Vec<&'static str>,
    /// The metrics.
    pub rows: Vec<Row>,
    /// How each system was set up and anything else a reader needs.
    pub notes: Vec<String>,
    /// Wall time the scenario took, in seconds.
    pub seconds: f64,
}

impl Section {
    /// An empty section for `scenario` with these columns (workq first).
    pub fn new(scenario: Scenario, title: impl Into<String>, systems: &[&'static str]) -> Section {
        Section {
            scenario,
            title: title.into(),
            systems: systems.to_vec(),
            rows: Vec::new(),
            notes: Vec::new(),
            seconds: 0.0,
        }
    }

    /// Adds a row (its values must match the columns).
    pub fn push(&mut self, row: Row) {
        debug_assert_eq!(row.values.len(), self.systems.len(), "{}", row.metric);
        self.rows.push(row);
    }

    /// Adds a note.
    pub fn note(&mut self, note: impl Into<String>) {
        self.notes.push(note.into());
    }

    /// The column of `system`.
    pub fn column(&self, system: &str) -> Option<usize> {
        self.systems.iter().position(|s| *s == system)
    }
}

/// Everything one run measured.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    /// The machine and the date.
    pub machine: Machine,
    /// The command that produced the report.
    pub command: String,
    /// Whether the reduced `--quick` sizes were used.
    pub quick: bool,
    /// Whether heap bytes could be counted (the counting allocator is installed).
    pub counting_allocator: bool,
    /// One section per scenario run.
    pub sections: Vec<Section>,
    /// Wall time of the whole run, in seconds.
    pub seconds: f64,
}

impl Report {
    /// The sum of workq's values in the rows that count contract violations: 0 if
    /// workq kept every guarantee the run checked.
    pub fn workq_violations(&self) -> u64 {
        self.sections
            .iter()
            .flat_map(|s| &s.rows)
            .filter(|r| r.better == Better::Zero)
            .filter_map(Row::workq)
            .map(|v| if v.is_finite() { v as u64 } else { 1 })
            .sum()
    }

    /// The rows with a goal, as (section, row) pairs.
    pub fn targets(&self) -> impl Iterator<Item = (&Section, &Row)> {
        self.sections
            .iter()
            .flat_map(|s| s.rows.iter().map(move |r| (s, r)))
            .filter(|(_, r)| r.target.is_some())
    }
}

/// A value as shown in tables: `-` for none, `n/a` for not a number.
pub(crate) fn cell(value: Option<f64>, decimals: usize) -> String {
    match value {
        None => "-".to_string(),
        Some(v) if !v.is_finite() => "n/a".to_string(),
        Some(v) => group_thousands(&format!("{v:.decimals$}")),
    }
}

/// `1234567.8` -> `1,234,567.8`.
pub(crate) fn group_thousands(s: &str) -> String {
    let (sign, rest) = s.strip_prefix('-').map_or(("", s), |r| ("-", r));
    let (int, frac) = rest
        .split_once('.')
        .map_or((rest, None), |(i, f)| (i, Some(f)));
    let mut out = String::with_capacity(s.len() + int.len() / 3);
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    match frac {
        Some(f) => format!("{sign}{out}.{f}"),
        None => format!("{sign}{out}"),
    }
}

/// The ratio column: `0.45x` (or `-`).
pub(crate) fn ratio_cell(row: &Row) -> String {
    match row.ratio() {
        Some(r) if r.is_infinite() => "inf".to_string(),
        Some(r) if r >= 100.0 => format!("{r:.0}x"),
        Some(r) if r >= 10.0 => format!("{r:.1}x"),
        Some(r) => format!("{r:.2}x"),
        None => "-".to_string(),
    }
}

/// The allocator column: `counting` when the counting allocator was active
/// while the row was measured, else `system`.
pub(crate) fn allocator_cell(row: &Row) -> &'static str {
    if row.counting_allocator {
        "counting"
    } else {
        "system"
    }
}

/// The target column: `<= 3 us: met` / `<= 3 us: MISSED` (or empty).
pub(crate) fn target_cell(row: &Row) -> String {
    match (&row.target, row.target_met()) {
        (Some(t), Some(true)) => format!("{}: met", t.label),
        (Some(t), Some(false)) => format!("{}: MISSED", t.label),
        (Some(t), None) => format!("{}: n/a", t.label),
        (None, _) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(better: Better, values: &[Option<f64>]) -> Row {
        Row::new("m", "ns", better, values.to_vec())
    }

    #[test]
    fn ratio_uses_the_best_peer_each_way() {
        let r = row(Better::Lower, &[Some(5.0), Some(20.0), Some(10.0), None]);
        assert_eq!(r.best_peer(), Some(10.0));
        assert_eq!(r.ratio(), Some(0.5));
        assert_eq!(r.verdict(), Some("better"));
        assert_eq!(r.score(5.0), Some(2.0));
        let r = row(Better::Higher, &[Some(5.0), Some(20.0), Some(10.0)]);
        assert_eq!(r.ratio(), Some(0.25));
        assert_eq!(r.verdict(), Some("worse"));
        assert_eq!(r.score(5.0), Some(0.25));
        let r = row(Better::Zero, &[Some(0.0), Some(3.0)]);
        assert_eq!(r.ratio(), None);
        assert_eq!(ratio_cell(&r), "-");
        let r = row(Better::Lower, &[Some(0.0), Some(0.0)]);
        assert_eq!(r.ratio(), Some(1.0));
        let r = row(Better::Lower, &[Some(26.0), Some(0.0)]);
        assert_eq!(ratio_cell(&r), "inf");
        assert_eq!(r.verdict(), Some("worse"));
        assert_eq!(r.score(26.0), None);
    }

    #[test]
    fn targets_and_cells() {
        let r = row(Better::Lower, &[Some(2.5), Some(4.0)]).target(Target::at_most(3.0, "<= 3 us"));
        assert_eq!(target_cell(&r), "<= 3 us: met");
        let r = row(Better::Higher, &[Some(2.5), Some(4.0)]).target(Target::at_least(8.0, ">= 2x"));
        assert_eq!(target_cell(&r), ">= 2x: MISSED");
        assert_eq!(cell(Some(1234567.891), 1), "1,234,567.9");
        assert_eq!(cell(Some(-1234.0), 0), "-1,234");
        assert_eq!(cell(Some(f64::NAN), 1), "n/a");
        assert_eq!(cell(None, 1), "-");
        assert_eq!(group_thousands("123"), "123");
    }
}
