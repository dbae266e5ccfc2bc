//! `workq demo`: a realistic, self-contained scenario on workq, shown live, that
//! ends with a check of the library's guarantees.
//!
//! A simulated network device raises events from three interrupt threads onto a
//! dedicated worker (`Events`, counted mode); a cache filler queues slow fills and
//! very slow readaheads on a pool through two owners, one of which leaves
//! mid-run; failed fills are retried by items re-armed with `modify`; an ordered
//! workqueue writes metadata and is watched for stalls; the worker and the
//! workqueue are frozen and thawed in the middle; one item panics on purpose.
//!
//! The files, one concern each:
//!
//! * [`scenario`]: the timeline, the wind-down and the [`Outcome`](scenario::Outcome);
//! * [`device`], [`cache`], [`metadata`]: the actors and their work items;
//! * [`shared`]: what the scenario and the views share (feed, counters, checkers);
//! * [`model`]: one picture of the run for the views;
//! * [`view_tui`] (live terminal view) and [`view_plain`] (periodic text);
//! * [`summary`]: the closing checks;
//! * [`log`], the subscriber of `--log`.

use std::sync::atomic::{AtomicBool, Ordering};

mod cache;
mod device;
mod log;
mod metadata;
mod model;
mod scenario;
mod shared;
mod summary;
mod view_plain;
mod view_tui;

use shared::Shared;
use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;
use view_tui::TuiError;

/// Settings of the demo (`workq demo [--duration <time>] [--plain] [--log]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// How long the producers run (the wind-down adds a little).
    pub duration: Duration,
    /// Print a periodic text view instead of the live terminal view (chosen by
    /// itself when standard output is not a terminal).
    pub plain: bool,
    /// Install a tracing subscriber (see [`log`]).
    pub log: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            duration: Duration::from_secs(20),
            plain: false,
            log: false,
        }
    }
}

/// How often the plain view prints.
const PLAIN_EVERY: Duration = Duration::from_secs(1);

/// Runs the demo and returns the process's exit code: success only if the
/// scenario ran to its end (or was quit) and every check passed.
pub fn run(opts: &Options) -> ExitCode {
    let mut tui = !opts.plain && io::stdout().is_terminal();
    if tui {
        // A terminal that reports no size (a 0x0 pseudo-terminal) or a tiny one
        // would get an empty live view: the plain view shows everything instead.
        if let Err(why) = crate::view::terminal::fits(ratatui::crossterm::terminal::size().ok()) {
            eprintln!("workq demo: {why}; showing the plain view");
            tui = false;
        }
    }
    let mut log_file = None;
    if opts.log {
        let sink = if tui {
            log::Sink::File
        } else {
            log::Sink::Stderr
        };
        match log::install(sink) {
            Ok(path) => log_file = path,
            Err(msg) => {
                eprintln!("workq demo: --log: {msg}");
                return ExitCode::FAILURE;
            }
        }
    }
    crate::view::terminal::install_panic_hook(opts.log);
    // Until the demo ends: `workq top` in another terminal watches it.
    let _endpoint = serve_inspection(tui);

    let shared = Shared::new(opts.duration);
    let sh = shared.clone();
    let scenario = match shared::spawn("demo-scenario", move || {
        let outcome = scenario::run(&sh);
        sh.finish();
        outcome
    }) {
        Ok(handle) => handle,
        Err(e) => {
            eprintln!("workq demo: {e}");
            return ExitCode::FAILURE;
        }
    };

    let mut view_failed = false;
    let mut plain = !tui;
    if tui {
        match view_tui::run(&shared) {
            Ok(()) => {}
            Err(TuiError::Setup(e)) => {
                eprintln!("workq demo: cannot use the terminal ({e}); showing the plain view");
                plain = true;
            }
            Err(TuiError::Run(e)) => {
                shared.request_quit();
                eprintln!("workq demo: the live view failed: {e}");
                view_failed = true;
            }
        }
    }
    if plain {
        if let Err(e) = view_plain::run(&shared, &mut io::stdout().lock(), PLAIN_EVERY) {
            // Nobody reads the view any more (a closed pipe): wind down.
            shared.request_quit();
            eprintln!("workq demo: cannot print the view: {e}");
            view_failed = true;
        }
    }

    let outcome = match scenario.join() {
        Ok(Ok(outcome)) => outcome,
        Ok(Err(e)) => {
            eprintln!("workq demo: {e}");
            return ExitCode::FAILURE;
        }
        Err(_) => {
            eprintln!("workq demo: the scenario thread panicked");
            return ExitCode::FAILURE;
        }
    };
    let mut out = io::stdout().lock();
    let passed = match summary::write(&mut out, &outcome).and_then(|ok| out.flush().map(|()| ok)) {
        Ok(passed) => passed,
        Err(e) => {
            eprintln!("workq demo: cannot print the summary: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(path) = log_file {
        eprintln!("workq demo: the log is in {}", path.display());
    }
    if passed && !view_failed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Whether the demo serves its queues for `workq top` (the live view's header
/// then says how to watch it).
static SERVING: AtomicBool = AtomicBool::new(false);

/// Whether the demo serves its queues on its inspection endpoint.
pub fn serving() -> bool {
    SERVING.load(Ordering::Relaxed)
}

/// Serves the demo's queues on the library's inspection endpoint, for
/// `workq top <pid>` in another terminal. A demo started with `WORKQ_INSPECT`
/// set serves as that says instead (the library reads it at the first queue
/// built). A failure is one line on standard error; the demo goes on.
fn serve_inspection(tui: bool) -> Option<workq::inspect::Endpoint> {
    let pid = std::process::id();
    if std::env::var_os("WORKQ_INSPECT").is_some_and(|v| !v.is_empty() && v != "0") {
        return None;
    }
    match workq::inspect::serve() {
        Ok(endpoint) => {
            SERVING.store(true, Ordering::Relaxed);
            if !tui {
                eprintln!(
                    "workq demo: watch it with `workq top {pid}` in another terminal ({})",
                    endpoint.path().display()
                );
            }
            Some(endpoint)
        }
        Err(e) => {
            eprintln!("workq demo: not serving its queues for `workq top`: {e}");
            None
        }
    }
}
