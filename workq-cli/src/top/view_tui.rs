//! The live view of `workq top` (ratatui on crossterm, like the demo's): a
//! header, the table of queues, a panel per queue with its threads and waiting
//! items (the demo's panel; the arrow keys scroll them by queue), and the latest
//! reports. `q`, Esc or Ctrl-C (or SIGTERM / SIGHUP) quits; the terminal is
//! restored on every way out.

use super::connect::TopError;
use super::protocol::Queue;
use super::state::State;
use super::table;
use super::Lines;
use crate::view::queue_panel::{frozen_tag, PanelItem, PanelThread, QueuePanel};
use crate::view::terminal::{is_quit, quit_on_signals, TerminalGuard};
use crate::view::text::wrap_words;
use ratatui::backend::CrosstermBackend;
use ratatui::crossterm::event::{self, Event, KeyCode, KeyEventKind};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};
use ratatui::{Frame, Terminal};
use std::io;
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

/// How often keys are looked at and the view redrawn.
const REFRESH: Duration = Duration::from_millis(150);

/// Shows the live view until the user quits or the connection ends; the
/// terminal is restored before it returns.
///
/// # Errors
/// The connection's end ([`TopError::Closed`] and the others of reading), or
/// [`TopError::View`] when the terminal failed.
pub fn run(mut lines: Lines) -> Result<(), TopError> {
    let (tx, rx) = mpsc::channel();
    thread::Builder::new()
        .name("top-reader".into())
        .spawn(move || loop {
            let msg = lines.next_message();
            let end = msg.is_err();
            if tx.send(msg).is_err() || end {
                return;
            }
        })
        .map_err(TopError::View)?;
    let guard = TerminalGuard::enter().map_err(TopError::View)?;
    let result = Terminal::new(CrosstermBackend::new(io::stdout()))
        .map_err(TopError::View)
        .and_then(|mut terminal| draw_loop(&rx, &mut terminal));
    drop(guard);
    result
}

fn draw_loop(
    rx: &mpsc::Receiver<Result<super::protocol::Message, TopError>>,
    terminal: &mut Terminal<CrosstermBackend<io::Stdout>>,
) -> Result<(), TopError> {
    terminal.clear().map_err(TopError::View)?;
    let signalled = quit_on_signals();
    let mut state = State::default();
    let mut scroll: u16 = 0;
    loop {
        while let Ok(msg) = rx.try_recv() {
            state.apply(msg?);
        }
        // The reports panel reads `reports`; the plain frames' list is not used.
        state.fresh_reports.clear();
        let last_queue = state
            .latest
            .as_ref()
            .map_or(0, |s| s.queues.len().saturating_sub(1));
        scroll = scroll.min(u16::try_from(last_queue).unwrap_or(u16::MAX));
        terminal
            .draw(|frame| render(frame, &state, scroll))
            .map_err(TopError::View)?;
        if signalled.load(Ordering::Relaxed) {
            return Ok(());
        }
        if event::poll(REFRESH).map_err(TopError::View)? {
            if let Event::Key(key) = event::read().map_err(TopError::View)? {
                if key.kind == KeyEventKind::Release {
                    continue;
                }
                if is_quit(&key) {
                    return Ok(());
                }
                scroll = match key.code {
                    KeyCode::Down => scroll.saturating_add(1),
                    KeyCode::Up => scroll.saturating_sub(1),
                    KeyCode::PageDown => scroll.saturating_add(10),
                    KeyCode::PageUp => scroll.saturating_sub(10),
                    KeyCode::Home => 0,
                    _ => scroll,
                };
            }
        }
    }
}

/// Draws the whole view: `scroll` lines of the queues' panel are scrolled off.
pub fn render(frame: &mut Frame<'_>, state: &State, scroll: u16) {
    let area = frame.area();
    let queues = state.latest.as_ref().map_or(0, |s| s.queues.len()) as u16;
    let table_h = (queues + 3).min(area.height / 3).max(4);
    let [top, table_area, queues_area, reports_area] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(table_h),
        Constraint::Min(5),
        Constraint::Length((area.height / 4).max(4)),
    ])
    .areas(area);
    frame.render_widget(Paragraph::new(header(state, top.width)), top);
    frame.render_widget(table_panel(state, table_area), table_area);
    queue_panels(frame, state, scroll, queues_area);
    frame.render_widget(reports_panel(state, reports_area), reports_area);
}

/// The top line: the program, the snapshot's number and time, the keys.
fn header(state: &State, width: u16) -> Line<'static> {
    let who = match &state.hello {
        Some(h) => format!("  {} (pid {}) every {}ms ", h.program, h.pid, h.interval_ms),
        None => "  waiting for the program's hello ".to_string(),
    };
    let mut spans = vec![
        Span::styled(
            " workq top ",
            Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD),
        ),
        Span::raw(who),
    ];
    match &state.latest {
        Some(s) => spans.push(Span::styled(
            format!(" snapshot {} at {} UTC", s.seq, table::clock(s.unix_ms)),
            Style::new().fg(Color::Cyan),
        )),
        None => spans.push(Span::styled(
            " waiting for the first snapshot",
            Style::new().fg(Color::Yellow),
        )),
    }
    if width > 100 {
        spans.push(Span::styled(
            "   q: quit  ↑↓: scroll",
            Style::new().fg(Color::DarkGray),
        ));
    }
    Line::from(spans)
}

/// The table: one row per queue (narrow when the wide one does not fit).
fn table_panel(state: &State, area: Rect) -> Paragraph<'static> {
    let narrow = usize::from(area.width.saturating_sub(2)) < table::WIDE;
    let head = Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED);
    let mut lines = vec![Line::styled(table::header(narrow), head)];
    if let Some(s) = &state.latest {
        for q in &s.queues {
            let style = if q.stats.panics > 0 {
                Style::new().fg(Color::Red)
            } else if q.frozen {
                Style::new().fg(Color::Yellow)
            } else {
                Style::new()
            };
            lines.push(Line::styled(
                table::row(q, state.rates_of(q), narrow),
                style,
            ));
        }
    }
    Paragraph::new(lines).block(Block::bordered().title(" queues "))
}

/// The queues' panels, stacked from the `scroll`-th queue down as far as they
/// fit (the last one cut at the bottom).
fn queue_panels(frame: &mut Frame<'_>, state: &State, scroll: u16, area: Rect) {
    let Some(s) = &state.latest else {
        return;
    };
    let mut y = area.y;
    let bottom = area.y + area.height;
    for q in s.queues.iter().skip(usize::from(scroll)) {
        if bottom.saturating_sub(y) < 4 {
            break;
        }
        let panel = queue_panel(q, state);
        let height = panel.height().min(bottom - y);
        let rect = Rect::new(area.x, y, area.width, height);
        frame.render_widget(panel.render(rect), rect);
        y += height;
    }
}

/// The panel of `q`: what it is and its rates in the title, its threads with
/// what each runs and for how long, its waiting items with their ages, its
/// latencies.
fn queue_panel(q: &Queue, state: &State) -> QueuePanel {
    let mut title = vec![Span::styled(
        format!(" {} ", table::describe_plain(q)),
        Style::new().add_modifier(Modifier::BOLD),
    )];
    if let Some(r) = state.rates_of(q) {
        let merged = r
            .merged
            .map_or_else(|| "-".to_string(), |m| format!("{m:.1}"));
        title.push(Span::styled(
            format!(
                "· {:.1} runs/s · {:.1} queued/s · {merged} merged/s ",
                r.runs, r.queued
            ),
            Style::new().fg(Color::Cyan),
        ));
    }
    if q.frozen {
        title.push(frozen_tag());
    }
    let item = |work: &Option<String>, very_slow: bool, for_: Duration| PanelItem {
        what: work.as_deref().unwrap_or("<unnamed>").to_string(),
        very_slow,
        for_,
    };
    let dim = Style::new().fg(Color::DarkGray);
    QueuePanel {
        title,
        column: if q.kind == "WorkQueue" {
            "slot"
        } else {
            "thread"
        },
        threads: q
            .threads
            .iter()
            .map(|t| PanelThread {
                name: t.name.clone(),
                running: t
                    .running
                    .as_ref()
                    .map(|r| item(&r.work, r.very_slow, r.running_for)),
            })
            .collect(),
        waiting: q
            .waiting
            .iter()
            .map(|w| item(&w.work, w.very_slow, w.waited))
            .collect(),
        extra: [("wait", &q.stats.wait), ("run", &q.stats.run)]
            .into_iter()
            .filter_map(|(what, l)| {
                l.as_ref()
                    .map(|l| Line::styled(table::latency(what, l), dim))
            })
            .collect(),
    }
}

/// The latest reports that fit, newest last, wrapped between words.
fn reports_panel(state: &State, area: Rect) -> Paragraph<'static> {
    let rows = area.height.saturating_sub(2) as usize;
    let width = (area.width.saturating_sub(2) as usize).max(20);
    let mut shown: Vec<Line<'static>> = Vec::new();
    for r in state.reports.iter().rev() {
        let style = if r.level == "error" {
            Style::new().fg(Color::Red)
        } else {
            Style::new().fg(Color::Yellow)
        };
        let wrapped = wrap_words(&table::report(r), width);
        if shown.len() + wrapped.len() > rows {
            break;
        }
        for l in wrapped.into_iter().rev() {
            shown.push(Line::styled(l, style));
        }
    }
    shown.reverse();
    if state.reports.is_empty() {
        shown.push(Line::styled("no reports", Style::new().fg(Color::DarkGray)));
    }
    Paragraph::new(shown).block(Block::bordered().title(" reports "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::top::protocol::{parse, Message};
    use ratatui::backend::TestBackend;

    fn screen(state: &State, width: u16, height: u16) -> String {
        let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("test terminal");
        terminal
            .draw(|frame| render(frame, state, 0))
            .expect("draw into the test backend");
        let buf = terminal.backend().buffer();
        let mut s = String::new();
        for y in 0..buf.area.height {
            for x in 0..buf.area.width {
                s.push_str(buf[(x, y)].symbol());
            }
            s.push('\n');
        }
        s
    }

    fn apply(state: &mut State, line: &str) {
        match parse(line) {
            Ok(msg) => {
                state.apply(msg);
            }
            Err(e) => panic!("{line}: {e}"),
        }
    }

    fn snapshot(unix_ms: u64, runs: u64) -> String {
        format!(
            r#"{{"v":1,"type":"snapshot","seq":{runs},"unix_ms":{unix_ms},"queues":[{{"name":"disk","id":3,"kind":"Pool","min_threads":1,"max_threads":2,"threads":[{{"name":"disk/0","running":{{"work":"flush","very_slow":false,"running_for":{{"secs":2,"nanos":0}}}}}}],"waiting":[{{"work":"sync","very_slow":true,"waited":{{"secs":0,"nanos":3000000}}}}],"frozen":false,"stats":{{"scheduled":{runs},"runs":{runs},"panics":1,"merged":null,"wait":{{"count":4,"mean":{{"secs":0,"nanos":1000}},"p50":{{"secs":0,"nanos":1000}},"p90":{{"secs":0,"nanos":2000}},"p99":{{"secs":0,"nanos":700000}},"max":{{"secs":0,"nanos":900000}}}}}}}}]}}"#
        )
    }

    #[test]
    fn shows_the_table_threads_waiting_items_rates_and_reports() {
        let mut state = State::default();
        apply(
            &mut state,
            r#"{"v":1,"type":"hello","pid":77,"program":"server","interval_ms":1000}"#,
        );
        apply(&mut state, &snapshot(10_000, 100));
        apply(
            &mut state,
            r#"{"v":1,"type":"report","unix_ms":10500,"level":"warn","text":"workq: 'disk' stalled"}"#,
        );
        apply(&mut state, &snapshot(12_000, 300));
        let s = screen(&state, 120, 30);
        for part in [
            "workq top",
            "server (pid 77)",
            "snapshot 300",
            "disk#3",
            "100.0", // runs/s: 200 runs over 2 s
            "700µs",
            "pool disk#3: 1 thread(s)",
            "disk/0",
            "disk/0    flush",
            "2.00s",
            "· 100.0 runs/s · 100.0 queued/s · - merged/s",
            "waiting 1: sync (very slow) 3ms",
            "wait: 4 sample(s)",
            "warn: workq: 'disk' stalled",
        ] {
            assert!(s.contains(part), "missing {part:?} in\n{s}");
        }
        // At 80x24: the narrow table (every column but queued/s and merged/s),
        // the panel and the report.
        let s = screen(&state, 80, 24);
        let row = s
            .lines()
            .find(|l| l.contains("disk#3 "))
            .unwrap_or_default();
        let cells: Vec<&str> = row.trim_matches(['│', ' ']).split_whitespace().collect();
        assert_eq!(
            cells,
            ["disk#3", "300", "1", "1", "100.0", "1", "-", "700µs"],
            "{s}"
        );
        for part in ["flush", "sync (very slow)", "warn: workq: 'disk' stalled"] {
            assert!(s.contains(part), "missing {part:?} in\n{s}");
        }
    }

    #[test]
    fn an_empty_state_draws_at_80x24() {
        let s = screen(&State::default(), 80, 24);
        assert!(s.contains("waiting for the program's hello"), "{s}");
        assert!(s.contains("p99 wait"), "the narrow table fits: {s}");
        assert!(s.contains("no reports"), "{s}");
        assert!(matches!(parse(r#"{"v":1,"type":"x"}"#), Ok(Message::Other)));
    }
}
