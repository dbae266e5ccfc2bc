//! A bordered panel for one queue, as both live views draw it: its threads (or
//! a workqueue's run slots) with what each runs and for how long, then its
//! waiting items with their ages, then any extra lines. The views fill a
//! [`QueuePanel`] from what they have (`workq::Snapshot` in the demo, the
//! protocol's queue in `workq top`).

use super::text::{running_for, short};
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};
use std::time::Duration;

/// What a queue panel shows.
#[derive(Clone, Debug, Default)]
pub struct QueuePanel {
    /// The title, on the top border.
    pub title: Vec<Span<'static>>,
    /// The first column's heading: `thread` or `slot`.
    pub column: &'static str,
    /// Every thread, idle or running.
    pub threads: Vec<PanelThread>,
    /// Every waiting item.
    pub waiting: Vec<PanelItem>,
    /// Lines after the waiting items (latencies, say).
    pub extra: Vec<Line<'static>>,
}

/// A thread of a [`QueuePanel`].
#[derive(Clone, Debug, Default)]
pub struct PanelThread {
    /// Its name.
    pub name: String,
    /// What it runs (with the time it has been running), or `None` when idle.
    pub running: Option<PanelItem>,
}

/// A running or waiting item of a [`QueuePanel`].
#[derive(Clone, Debug, Default)]
pub struct PanelItem {
    /// What to call it (its name, or `<unnamed>`).
    pub what: String,
    /// Whether it is of the very slow class.
    pub very_slow: bool,
    /// How long it has been running, or waiting.
    pub for_: Duration,
}

impl QueuePanel {
    /// The rows the panel takes when nothing wraps: the borders, the heading, a
    /// line per thread (one for none), the waiting line and the extra lines.
    pub fn height(&self) -> u16 {
        let rows = 2 + 1 + self.threads.len().max(1) + 1 + self.extra.len();
        u16::try_from(rows).unwrap_or(u16::MAX)
    }

    /// The panel, laid out for `area` (a narrow one drops the thread column).
    pub fn render(self, area: Rect) -> Paragraph<'static> {
        let inner = area.width.saturating_sub(2) as usize;
        let mut name_w = self
            .threads
            .iter()
            .map(|t| t.name.chars().count())
            .max()
            .unwrap_or(6)
            .clamp(8, 20)
            + 2;
        let mut for_w = 8;
        if inner < 40 {
            // A narrow panel (side by side on a short terminal): no thread
            // column (the title names the queue), a shorter "for", so a run
            // stays on one line.
            name_w = 0;
            for_w = 5;
        }
        let run_w = inner.saturating_sub(name_w + for_w + 1).max(4);
        let dim = Style::new().fg(Color::DarkGray);
        let column = if name_w == 0 { "" } else { self.column };
        let mut lines = vec![Line::styled(
            format!("{column:<name_w$}{:<run_w$} {:>for_w$}", "running", "for"),
            dim.add_modifier(Modifier::UNDERLINED),
        )];
        if self.threads.is_empty() {
            lines.push(Line::styled("(no threads)", dim));
        }
        for t in &self.threads {
            let shown: String = t.name.chars().take(name_w.saturating_sub(2)).collect();
            let name = Span::styled(format!("{shown:<name_w$}"), Style::new().fg(Color::Cyan));
            match &t.running {
                None => lines.push(Line::from(vec![name, Span::styled("idle", dim)])),
                Some(r) => {
                    let mut what = r.what.clone();
                    if r.very_slow {
                        what.push_str(" (very slow)");
                    }
                    let what: String = what.chars().take(run_w).collect();
                    let for_style = if r.for_ >= Duration::from_secs(1) {
                        Style::new().fg(Color::Yellow)
                    } else {
                        Style::new()
                    };
                    lines.push(Line::from(vec![
                        name,
                        Span::styled(
                            format!("{what:<run_w$}"),
                            Style::new().add_modifier(Modifier::BOLD),
                        ),
                        Span::styled(format!(" {:>for_w$}", running_for(r.for_)), for_style),
                    ]));
                }
            }
        }
        if self.waiting.is_empty() {
            lines.push(Line::styled("nothing waiting", dim));
        } else {
            let mut spans = vec![Span::styled(
                format!("waiting {}: ", self.waiting.len()),
                Style::new().fg(Color::Magenta),
            )];
            for (i, w) in self.waiting.iter().enumerate() {
                if i > 0 {
                    spans.push(Span::styled(" · ", dim));
                }
                spans.push(Span::raw(w.what.clone()));
                if w.very_slow {
                    spans.push(Span::styled(" (very slow)", dim));
                }
                spans.push(Span::styled(format!(" {}", short(w.for_)), dim));
            }
            lines.push(Line::from(spans));
        }
        lines.extend(self.extra);
        Paragraph::new(lines)
            .block(Block::bordered().title(Line::from(self.title)))
            .wrap(Wrap { trim: false })
    }
}

/// The span that marks a frozen queue in a title.
pub fn frozen_tag() -> Span<'static> {
    Span::styled(
        " FROZEN ",
        Style::new()
            .fg(Color::Black)
            .bg(Color::Yellow)
            .add_modifier(Modifier::BOLD),
    )
}
