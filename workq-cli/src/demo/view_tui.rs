//! The live terminal view (ratatui on crossterm): the pool's threads with what
//! each runs and for how long, the worker and the ordered workqueue, the waiting
//! items with their ages, the counters, and the reports (timeline, backlog,
//! stall, panic). `q`, Esc or Ctrl-C (or SIGTERM / SIGHUP) asks the scenario to
//! wind down early; the summary is printed once the terminal is restored.

use super::model::Model;
use super::shared::{ReportKind, Shared, EVENT_NAMES, OWNERS};
use super::view_plain::tag;
use crate::view::queue_panel::{frozen_tag, PanelItem, PanelThread, QueuePanel};
use crate::view::terminal::{is_quit, quit_on_signals, TerminalGuard};
use crate::view::text::wrap_words;
use ratatui::backend::CrosstermBackend;
use ratatui::crossterm::event::{self, Event, KeyEventKind};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};
use ratatui::{Frame, Terminal};
use std::io;
use std::sync::atomic::Ordering;
use std::time::Duration;
use workq::Snapshot;

/// How often the view is redrawn (and keys are looked at).
const REFRESH: Duration = Duration::from_millis(150);

/// Lines of waiting items shown under the pool's threads (two on a short
/// terminal).
const POOL_WAITING_LINES: u16 = 3;

/// Below this many rows the panels are made shorter, to leave room for reports.
const COMPACT_BELOW: u16 = 36;

/// The counters' column is at least this wide (its lines fit in it).
const COUNTERS_WIDTH: u16 = 38;

/// Why the live view stopped early.
#[derive(Debug)]
pub enum TuiError {
    /// The terminal could not be set up (nothing was drawn; the plain view can
    /// take over).
    Setup(io::Error),
    /// Drawing or reading keys failed after the view was on.
    Run(io::Error),
}

/// Shows the live view until the scenario finishes; the terminal is restored
/// before it returns, whatever happened.
///
/// # Errors
/// See [`TuiError`].
pub fn run(shared: &Shared) -> Result<(), TuiError> {
    let guard = TerminalGuard::enter().map_err(TuiError::Setup)?;
    let mut terminal =
        Terminal::new(CrosstermBackend::new(io::stdout())).map_err(TuiError::Setup)?;
    let result = draw_loop(shared, &mut terminal).map_err(TuiError::Run);
    drop(terminal);
    drop(guard);
    result
}

fn draw_loop(
    shared: &Shared,
    terminal: &mut Terminal<CrosstermBackend<io::Stdout>>,
) -> io::Result<()> {
    terminal.clear()?;
    let signalled = quit_on_signals();
    loop {
        let model = Model::capture(shared, 64);
        terminal.draw(|frame| render(frame, &model))?;
        if model.finished {
            return Ok(());
        }
        if signalled.load(Ordering::Relaxed) {
            shared.request_quit();
        }
        if event::poll(REFRESH)? {
            if let Event::Key(key) = event::read()? {
                if key.kind != KeyEventKind::Release && is_quit(&key) {
                    shared.request_quit();
                }
            }
        }
    }
}

/// Draws the whole view for `model` into `frame`.
pub fn render(frame: &mut Frame<'_>, model: &Model) {
    let area = frame.area();
    let compact = area.height < COMPACT_BELOW;
    let pool_threads = model.pool.as_ref().map_or(1, |s| s.threads.len().max(1));
    let pool_h = 3 + pool_threads as u16 + POOL_WAITING_LINES - u16::from(compact);
    let small_h = if compact { 5 } else { 6 };
    // On a short terminal the worker and the workqueue sit side by side, so the
    // reports keep several rows (at 80x24 too).
    let left_h = if compact {
        pool_h + small_h
    } else {
        pool_h + 2 * small_h
    };
    let [top, middle, bottom] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(left_h),
        Constraint::Min(3),
    ])
    .areas(area);
    let counters_w = (middle.width * 38 / 100)
        .max(COUNTERS_WIDTH)
        .min(middle.width / 2);
    let [left, right] =
        Layout::horizontal([Constraint::Min(20), Constraint::Length(counters_w)]).areas(middle);
    let (pool_area, worker_area, meta_area) = if compact {
        let [pool_area, pair] =
            Layout::vertical([Constraint::Length(pool_h), Constraint::Length(small_h)]).areas(left);
        let [worker_area, meta_area] =
            Layout::horizontal([Constraint::Ratio(1, 2), Constraint::Ratio(1, 2)]).areas(pair);
        (pool_area, worker_area, meta_area)
    } else {
        let [pool_area, worker_area, meta_area] = Layout::vertical([
            Constraint::Length(pool_h),
            Constraint::Length(small_h),
            Constraint::Length(small_h),
        ])
        .areas(left);
        (pool_area, worker_area, meta_area)
    };

    frame.render_widget(Paragraph::new(header(model, top.width)), top);
    let panels = [
        (pool_area, model.pool.as_ref(), "pool"),
        (worker_area, model.worker.as_ref(), "worker"),
        (meta_area, model.meta.as_ref(), "ordered workqueue"),
    ];
    for (area, snap, kind) in panels {
        match snap {
            Some(snap) => frame.render_widget(queue_panel(model, kind, snap, area), area),
            None => frame.render_widget(
                Paragraph::new("starting...").block(Block::bordered().title(format!(" {kind} "))),
                area,
            ),
        }
    }
    frame.render_widget(counters_panel(model), right);
    frame.render_widget(reports_panel(model, bottom), bottom);
}

/// The top line: the run's time, a progress bar, the phase and the keys.
fn header(model: &Model, width: u16) -> Line<'static> {
    let frac = if model.duration.is_zero() {
        1.0
    } else {
        (model.elapsed.as_secs_f64() / model.duration.as_secs_f64()).min(1.0)
    };
    let bar_len = 20usize;
    let filled = (frac * bar_len as f64).round() as usize;
    let bar = format!(
        "[{}{}]",
        "#".repeat(filled),
        "-".repeat(bar_len.saturating_sub(filled))
    );
    let phase_style = if model.phase.starts_with("suspended") {
        Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD)
    } else {
        Style::new().fg(Color::Green)
    };
    let mut spans = vec![
        Span::styled(
            " workq demo ",
            Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD),
        ),
        Span::raw(format!(
            "  {:.1}s of {:.1}s ",
            model.elapsed.as_secs_f64(),
            model.duration.as_secs_f64()
        )),
        Span::styled(bar, Style::new().fg(Color::Cyan)),
        Span::raw("  "),
        Span::styled(model.phase.clone(), phase_style),
        Span::raw(if super::serving() {
            format!("  (watch: workq top {})", std::process::id())
        } else {
            String::new()
        }),
    ];
    if width > 90 {
        spans.push(Span::styled("   q: quit", Style::new().fg(Color::DarkGray)));
    }
    Line::from(spans)
}

/// A panel for one queue: its threads (or a workqueue's slots) with what each
/// runs and for how long, then its waiting items with their ages.
fn queue_panel(model: &Model, kind: &str, snap: &Snapshot, area: Rect) -> Paragraph<'static> {
    let mut title = vec![Span::styled(
        format!(" {kind} {} ", snap.name),
        Style::new().add_modifier(Modifier::BOLD),
    )];
    if kind == "pool" {
        title.push(Span::raw(format!(
            "· {} threads (min {}, max {}) · very slow share {}% ",
            snap.threads.len(),
            snap.min_threads,
            snap.max_threads,
            snap.very_slow_percent
        )));
    }
    if snap.frozen {
        title.push(frozen_tag());
    }
    let threads = snap
        .threads
        .iter()
        .map(|t| PanelThread {
            name: t.name.clone(),
            running: t.running.as_ref().map(|r| {
                let item = r.work.as_deref().unwrap_or("<unnamed>");
                PanelItem {
                    what: match model.pumped_item(item) {
                        Some(inner_item) => format!("{item} > {inner_item}"),
                        None => item.to_string(),
                    },
                    very_slow: r.very_slow,
                    for_: r.running_for,
                }
            }),
        })
        .collect();
    let waiting = snap
        .waiting
        .iter()
        .map(|w| PanelItem {
            what: w.work.as_deref().unwrap_or("<unnamed>").to_string(),
            very_slow: w.very_slow,
            for_: w.waited,
        })
        .collect();
    QueuePanel {
        title,
        column: if kind == "ordered workqueue" {
            "slot"
        } else {
            "thread"
        },
        threads,
        waiting,
        extra: Vec::new(),
    }
    .render(area)
}

/// The counters panel (what a short terminal cuts comes last).
fn counters_panel(model: &Model) -> Paragraph<'static> {
    let c = &model.counters;
    let head = Style::new().add_modifier(Modifier::BOLD);
    let dim = Style::new().fg(Color::DarkGray);
    let mut lines = vec![Line::styled(
        format!("{:<14}{:>10}{:>10}", "eth0 events", "raised", "seen"),
        head,
    )];
    for (k, name) in EVENT_NAMES.iter().enumerate() {
        lines.push(Line::raw(format!(
            "  {:<12}{:>10}{:>10}",
            name, c.raised[k], c.seen[k]
        )));
    }
    let raised: u64 = c.raised.iter().sum();
    lines.push(Line::raw(format!(
        "  handler runs {} ({:.1}/run)",
        c.handler_runs,
        raised as f64 / c.handler_runs.max(1) as f64
    )));
    lines.push(Line::from(vec![
        Span::raw("  backlog reports "),
        Span::styled(
            c.backlog_reports.to_string(),
            if c.backlog_reports > 0 {
                Style::new().fg(Color::Yellow)
            } else {
                Style::new()
            },
        ),
    ]));
    // The health line early, so a short terminal still shows it.
    let bad = |n: u64| {
        if n > 0 {
            Style::new().fg(Color::Red).add_modifier(Modifier::BOLD)
        } else {
            Style::new().fg(Color::Green)
        }
    };
    lines.push(Line::from(vec![
        Span::raw("panics "),
        Span::styled(c.panic_reports.to_string(), bad(c.panic_reports)),
        Span::raw(" · overlaps "),
        Span::styled(c.overlaps.to_string(), bad(c.overlaps)),
        Span::raw(" · errors "),
        Span::styled(c.errors.to_string(), bad(c.errors)),
    ]));
    lines.push(Line::raw(format!(
        "netdev polls {} · tx checks {}",
        c.polls, c.watchdog_ticks
    )));
    lines.push(Line::styled(
        format!(
            "{:<6}{:>7}{:>7}{:>8}{:>7}",
            "owner", "fills", "failed", "retried", "queued"
        ),
        head,
    ));
    for (i, owner) in OWNERS.iter().enumerate() {
        let queued = if c.unregistered[i] {
            "gone".to_string()
        } else {
            c.outstanding[i].to_string()
        };
        lines.push(Line::raw(format!(
            "  {:<4}{:>7}{:>7}{:>8}{:>7}",
            owner, c.fills[i], c.failed[i], c.retried[i], queued
        )));
    }
    lines.push(Line::raw(format!(
        "  retries armed {} · re-armed {}",
        c.retry_armed, c.retry_rearmed
    )));
    lines.push(Line::raw(format!(
        "  readaheads {} · gave back {}",
        c.readahead_done, c.gave_back
    )));
    if let Some(p) = &model.pool {
        lines.push(Line::raw(format!(
            "pool runs {} · threads +{} -{}",
            p.stats.runs, p.stats.threads_started, p.stats.threads_exited
        )));
    }
    lines.push(Line::raw(format!(
        "metadata writes {} · commits {}",
        c.meta_writes, c.commits
    )));
    lines.push(Line::raw(format!(
        "  at most {} at once · stalls {}",
        c.meta_max, c.stall_reports
    )));
    lines.push(Line::styled(
        format!("closures dropped {} of {}", c.dropped, c.created),
        dim,
    ));
    Paragraph::new(lines).block(Block::bordered().title(" counters "))
}

/// The reports panel: as many of the latest reports as fit, newest last, each
/// wrapped by hand (so the rows they take are known and the newest always shows).
fn reports_panel(model: &Model, area: Rect) -> Paragraph<'static> {
    let rows = area.height.saturating_sub(2) as usize;
    let width = (area.width.saturating_sub(2) as usize).max(20);
    let mut shown: Vec<Vec<Line<'static>>> = Vec::new();
    let mut used = 0;
    for r in model.reports.iter().rev() {
        let style = match r.kind {
            ReportKind::Timeline => Style::new(),
            ReportKind::Backlog | ReportKind::Stall => Style::new().fg(Color::Yellow),
            ReportKind::Panic | ReportKind::Error => Style::new().fg(Color::Red),
        };
        let stamp = format!("[{:>7.2}s] ", r.at.as_secs_f64());
        let indent = stamp.chars().count();
        let text = format!("{}{}", tag(r.kind), r.text);
        let mut lines = Vec::new();
        for (i, chunk) in wrap_words(&text, width.saturating_sub(indent).max(8))
            .into_iter()
            .enumerate()
        {
            let lead = if i == 0 {
                Span::styled(stamp.clone(), Style::new().fg(Color::DarkGray))
            } else {
                Span::raw(" ".repeat(indent))
            };
            lines.push(Line::from(vec![lead, Span::styled(chunk, style)]));
        }
        if used + lines.len() > rows {
            if shown.is_empty() {
                // Not even the newest fits: show its beginning.
                lines.truncate(rows);
                shown.push(lines);
            }
            break;
        }
        used += lines.len();
        shown.push(lines);
    }
    let lines: Vec<Line<'static>> = shown.into_iter().rev().flatten().collect();
    Paragraph::new(lines)
        .block(Block::bordered().title(" reports: timeline, backlog, stall, panic "))
}

#[cfg(test)]
mod tests {
    use super::super::scenario;
    use super::super::shared::{CounterValues, Report, ReportKind, Shared};
    use super::*;
    use ratatui::backend::TestBackend;
    use ratatui::buffer::Buffer;
    use std::sync::mpsc;
    use std::time::Instant;
    use workq::{Pool, Work, WorkQueue, Worker};

    /// The buffer's text, one line per row.
    fn text(buf: &Buffer) -> String {
        let mut s = String::new();
        for y in 0..buf.area.height {
            for x in 0..buf.area.width {
                s.push_str(buf[(x, y)].symbol());
            }
            s.push('\n');
        }
        s
    }

    fn draw(model: &Model) -> String {
        draw_at(model, 120, 40)
    }

    fn draw_at(model: &Model, width: u16, height: u16) -> String {
        let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("test terminal");
        terminal
            .draw(|frame| render(frame, model))
            .expect("draw into the test backend");
        text(terminal.backend().buffer())
    }

    /// Waits until `cond` holds (for up to 5 s).
    fn wait_for(mut cond: impl FnMut() -> bool) {
        let until = Instant::now() + Duration::from_secs(5);
        while !cond() {
            assert!(Instant::now() < until, "timed out");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Real queues in a known state: a pool with one thread busy on
    /// `fill-blocker` and `fill-waiter` waiting, a frozen worker holding
    /// `eth0-kevent`, and an ordered workqueue; fixed counters and reports.
    #[test]
    fn renders_threads_waiting_items_counters_and_reports() {
        let pool = Pool::builder()
            .name("demo-pool")
            .min_threads(1)
            .max_threads(1)
            .build()
            .expect("pool");
        let (release, blocked) = mpsc::channel::<()>();
        let blocked = std::sync::Mutex::new(blocked);
        let blocker = Work::named("fill-blocker", move |_| {
            let _ = blocked
                .lock()
                .map(|rx| rx.recv_timeout(Duration::from_secs(10)));
        });
        let waiter = Work::very_slow("fill-waiter", |_| {});
        pool.queue(&blocker).expect("queue blocker");
        wait_for(|| blocker.is_running());
        pool.queue(&waiter).expect("queue waiter");
        let worker = Worker::builder()
            .name("netdev")
            .freezable(true)
            .build()
            .expect("worker");
        worker.freeze().expect("freeze");
        let kevent = Work::named("eth0-kevent", |_| {});
        worker.queue(&kevent).expect("queue kevent");
        let meta = WorkQueue::builder("metadata-writes")
            .pool(&pool)
            .ordered()
            .build()
            .expect("workqueue");

        let mut counters = CounterValues {
            raised: [123_456, 7_890, 12],
            seen: [123_450, 7_890, 12],
            handler_runs: 4_321,
            backlog_reports: 2,
            ..CounterValues::default()
        };
        counters.fills = [345, 300];
        counters.unregistered = [false, true];
        let model = Model {
            elapsed: Duration::from_millis(12_300),
            duration: Duration::from_secs(20),
            phase: "suspended: netdev and metadata-writes frozen".to_string(),
            finished: false,
            pool: Some(pool.snapshot()),
            worker: Some(worker.snapshot()),
            meta: Some(meta.snapshot()),
            counters,
            reports: vec![
                Report {
                    seq: 1,
                    at: Duration::from_millis(5_000),
                    kind: ReportKind::Timeline,
                    text: "cancel_sync('link-poller') after 77 polls".to_string(),
                },
                Report {
                    seq: 2,
                    at: Duration::from_millis(7_000),
                    kind: ReportKind::Panic,
                    text: "workq: work item 'nfs-fill-corrupt' on 'demo-pool' panicked".to_string(),
                },
            ],
        };
        let screen = draw(&model);

        for expected in [
            "workq demo",
            "12.3s of 20.0s",
            "suspended",
            "pool demo-pool",
            "demo-pool/",
            "fill-blocker",
            "waiting 1: fill-waiter (very slow)",
            "worker netdev",
            "FROZEN",
            "eth0-kevent",
            "ordered workqueue metadata-writes",
            "123456",
            "123450",
            "handler runs 4321",
            "backlog reports 2",
            "gone",
            "cancel_sync('link-poller') after 77 polls",
            "panic: workq: work item 'nfs-fill-corrupt'",
        ] {
            assert!(
                screen.contains(expected),
                "missing '{expected}' in:\n{screen}"
            );
        }

        worker.thaw().expect("thaw");
        drop(release);
        pool.flush().expect("flush");
    }

    /// A short real run of the scenario, drawn while it runs and at its end.
    #[test]
    fn renders_a_short_real_run() {
        let shared = Shared::new(Duration::from_millis(1_200));
        let sh = shared.clone();
        let run = std::thread::spawn(move || {
            let outcome = scenario::run(&sh);
            sh.finish();
            outcome
        });
        wait_for(|| {
            let c = shared.counters.values();
            c.handler_runs > 0 && c.fills.iter().sum::<u64>() > 0
        });
        let screen = draw(&Model::capture(&shared, 64));
        for expected in [
            "pool demo-pool",
            "worker netdev",
            "ordered workqueue metadata-writes",
            "eth0 events",
            "started for",
        ] {
            assert!(
                screen.contains(expected),
                "missing '{expected}' in:\n{screen}"
            );
        }
        let outcome = run
            .join()
            .expect("scenario thread")
            .expect("scenario result");
        let end = draw(&Model::capture(&shared, 64));
        let c = &outcome.counters;
        assert_eq!(c.dropped, c.created, "{end}");
        let raised = format!("{:>10}", c.raised[0]);
        assert!(end.contains(&raised), "rx count {raised} not in:\n{end}");
        assert!(end.contains("destroyed 'netdev'"), "{end}");
    }

    /// At 80x24 the reports panel keeps several lines, and a run seen for the
    /// first time shows `new`, not `0µs`.
    #[test]
    fn at_80x24_the_reports_keep_several_lines() {
        let pool = Pool::builder()
            .name("demo-pool")
            .min_threads(4)
            .max_threads(4)
            .build()
            .expect("pool");
        let (release, blocked) = mpsc::channel::<()>();
        let blocked = std::sync::Mutex::new(blocked);
        let blocker = Work::named("fill-blocker", move |_| {
            let _ = blocked
                .lock()
                .map(|rx| rx.recv_timeout(Duration::from_secs(10)));
        });
        pool.queue(&blocker).expect("queue blocker");
        wait_for(|| blocker.is_running());
        let worker = Worker::new("netdev").expect("worker");
        let meta = WorkQueue::builder("metadata-writes")
            .pool(&pool)
            .ordered()
            .build()
            .expect("workqueue");
        let reports = (1..=8)
            .map(|i| Report {
                seq: i,
                at: Duration::from_millis(500 * i),
                kind: ReportKind::Timeline,
                text: format!("timeline step number {i} of the run"),
            })
            .collect();
        let model = Model {
            elapsed: Duration::from_secs(5),
            duration: Duration::from_secs(20),
            phase: "running".to_string(),
            pool: Some(pool.snapshot()),
            worker: Some(worker.snapshot()),
            meta: Some(meta.snapshot()),
            reports,
            ..Model::default()
        };
        let screen = draw_at(&model, 80, 24);
        for i in 4..=8 {
            let step = format!("timeline step number {i} of the run");
            assert!(screen.contains(&step), "missing '{step}' in:\n{screen}");
        }
        assert!(screen.contains("panics 0"), "{screen}");
        let blocker_line = screen
            .lines()
            .find(|l| l.contains("fill-blocker"))
            .unwrap_or_default();
        assert!(blocker_line.contains("new"), "{screen}");
        assert!(!screen.contains("0µs"), "{screen}");
        drop(release);
        pool.flush().expect("flush");
    }
}
