//! The command line of `workq` (clap, derive): the subcommands, their options
//! and the duration syntax.

use crate::demo;
use clap::{Args, Parser, Subcommand};
use std::time::Duration;

/// A live demonstration of workq: the Linux kernel's deferred-work guarantees for
/// user-space Rust.
#[derive(Debug, Parser)]
#[command(name = "workq", version, propagate_version = true)]
pub struct Cli {
    /// What to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a realistic scenario on workq with a live view, then check every
    /// guarantee (exit status 1 if one failed).
    ///
    /// A simulated network device raises events from three "interrupt" threads
    /// onto a worker; a cache filler queues slow and very slow items on a pool;
    /// an ordered workqueue writes metadata under the stall watchdog; everything
    /// is frozen and thawed in the middle, and one item panics on purpose.
    Demo(DemoArgs),
    /// Watch another program's queues live: threads and what each runs, waiting
    /// items, rates, latencies, reports.
    ///
    /// The program must serve its queues on a Unix socket: run it with
    /// `WORKQ_INSPECT=1 ./your-program`, or call `workq::inspect::serve()` in it
    /// (the library's `inspect` feature). Try it with `workq demo` (which serves
    /// its own queues) in one terminal and `workq top` in another.
    ///
    /// The socket of process PID is `$XDG_RUNTIME_DIR/workq/PID.sock` (or
    /// `<temp dir>/workq-<uid>/PID.sock` without XDG_RUNTIME_DIR); without PID or
    /// --socket, the only one there whose process is alive is used. Exit status 1, with one line on
    /// standard error, when the connection fails or ends (the program's message
    /// included if it sent one). Keys: q, Esc or Ctrl-C quits; arrows scroll.
    Top(TopArgs),
    /// The benchmark against tokio, rayon and the other peers is a binary of its
    /// own: this prints the command that runs it.
    Bench(BenchArgs),
}

/// The options of `workq demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// How long the producers run, with a unit: 20s, 500ms, 2m, 1h.
    #[arg(long, value_name = "TIME", default_value = "20s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Print a text view every second instead of the live view (chosen by itself
    /// when standard output is not a terminal, or one that reports no size).
    #[arg(long)]
    pub plain: bool,
    /// Trace events to workq-demo.log (live view) or standard error (--plain);
    /// filter with RUST_LOG (default workq=debug).
    #[arg(long)]
    pub log: bool,
}

impl DemoArgs {
    /// The demo's settings.
    pub fn options(&self) -> demo::Options {
        demo::Options {
            duration: self.duration,
            plain: self.plain,
            log: self.log,
        }
    }
}

/// The options of `workq top`.
#[derive(Debug, Args)]
pub struct TopArgs {
    /// The process id of the program to watch.
    #[arg(value_name = "PID", conflicts_with = "socket")]
    pub pid: Option<u32>,
    /// The socket to connect to, instead of a PID's.
    #[arg(long, value_name = "PATH")]
    pub socket: Option<std::path::PathBuf>,
    /// Print a text frame per snapshot, with no terminal control (chosen by
    /// itself when standard output is not a terminal).
    #[arg(long, conflicts_with = "json")]
    pub plain: bool,
    /// Print the protocol's lines as they come (each checked), for scripts: one
    /// JSON object a line.
    #[arg(long)]
    pub json: bool,
    /// Stop after the first snapshot: print it (a text frame, or with --json its
    /// line alone) and exit 0.
    #[arg(long)]
    pub once: bool,
}

impl TopArgs {
    /// The settings of `workq top`.
    pub fn options(&self) -> crate::top::Options {
        crate::top::Options {
            pid: self.pid,
            socket: self.socket.clone(),
            plain: self.plain,
            json: self.json,
            once: self.once,
        }
    }
}

/// Whatever follows `workq bench`: passed on to the benchmark's own command.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// The benchmark's options (see `cargo run --release -p workq-bench -- --help`).
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "OPTIONS"
    )]
    pub args: Vec<String>,
}

/// The message of `workq bench`: which command runs the benchmark, with the
/// options given.
pub fn bench_moved(args: &[String]) -> String {
    let mut command = String::from("cargo run --release -p workq-bench --");
    if args.is_empty() {
        command.push_str(" --quick");
    }
    for a in args {
        command.push(' ');
        command.push_str(a);
    }
    format!(
        "workq bench: the benchmark is a binary of its own, so that building the demo \
         never builds its peers (tokio, rayon, plotters, ...). From the workspace, run:\n\n    \
         {command}\n\n(--quick: reduced sizes, about 15 s after the build; without it the \
         full suite; --help for every option.)"
    )
}

/// Reads a duration with a unit (`20s`, `500ms`, `2m`, `1h`, `1m 30s`): positive,
/// at most a day.
///
/// # Errors
/// A message saying what was expected: a unit for a bare number, a positive
/// value for zero.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    if !t.is_empty() && t.chars().all(|c| c.is_ascii_digit() || c == '.') {
        if t.parse::<f64>().is_ok_and(|n| n == 0.0) {
            return Err("expected a positive duration, like 5s".into());
        }
        return Err(format!(
            "a unit is needed, like {t}s, {t}ms or {t}m (a bare number is ambiguous)"
        ));
    }
    let d = humantime::parse_duration(t)
        .map_err(|e| format!("expected a duration like 20s, 500ms, 2m or 1h ({e})"))?;
    if d.is_zero() {
        return Err("expected a positive duration, like 5s (0 would end at once)".into());
    }
    if d > Duration::from_secs(24 * 3600) {
        return Err("expected at most a day (24h)".into());
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::{parse_duration, Cli, Command};
    use clap::error::ErrorKind;
    use clap::{CommandFactory, Parser};
    use std::time::Duration;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("workq").chain(args.iter().copied()))
    }

    fn demo(args: &[&str]) -> crate::demo::Options {
        match parse(args).map(|c| c.command) {
            Ok(Command::Demo(d)) => d.options(),
            other => panic!("{args:?}: {other:?}"),
        }
    }

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn demo_options() {
        let d = demo(&["demo"]);
        assert_eq!(
            (d.duration, d.plain, d.log),
            (Duration::from_secs(20), false, false)
        );
        let d = demo(&["demo", "--plain", "--log", "--duration", "3s"]);
        assert_eq!(
            (d.duration, d.plain, d.log),
            (Duration::from_secs(3), true, true)
        );
        assert_eq!(
            demo(&["demo", "--duration=500ms"]).duration,
            Duration::from_millis(500)
        );
        assert_eq!(
            demo(&["demo", "--duration", "1h"]).duration,
            Duration::from_secs(3600)
        );
        let kind = |args: &[&str]| parse(args).map(|_| ()).map_err(|e| e.kind());
        assert_eq!(kind(&["demo", "--duration"]), Err(ErrorKind::InvalidValue));
        assert_eq!(kind(&["demo", "--fast"]), Err(ErrorKind::UnknownArgument));
        assert_eq!(
            kind(&["demo", "--duration", "5"]),
            Err(ErrorKind::ValueValidation)
        );
    }

    #[test]
    fn help_and_version_are_answered() {
        let kind = |args: &[&str]| parse(args).map(|_| ()).map_err(|e| e.kind());
        assert_eq!(kind(&["demo", "--help"]), Err(ErrorKind::DisplayHelp));
        assert_eq!(kind(&["help", "demo"]), Err(ErrorKind::DisplayHelp));
        assert_eq!(kind(&["bench", "--help"]), Err(ErrorKind::DisplayHelp));
        assert_eq!(kind(&["--version"]), Err(ErrorKind::DisplayVersion));
        assert_eq!(kind(&["demo", "--version"]), Err(ErrorKind::DisplayVersion));
        let help = parse(&["help", "demo"])
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(help.contains("--duration <TIME>"), "{help}");
    }

    #[test]
    fn top_options() {
        let top = |args: &[&str]| match parse(args).map(|c| c.command) {
            Ok(Command::Top(t)) => Ok(t.options()),
            Ok(other) => panic!("{args:?}: {other:?}"),
            Err(e) => Err(e.kind()),
        };
        assert_eq!(top(&["top"]), Ok(crate::top::Options::default()));
        let o = top(&["top", "42", "--once", "--plain"]).expect("parses");
        assert_eq!(
            (o.pid, o.once, o.plain, o.json),
            (Some(42), true, true, false)
        );
        let o = top(&["top", "--socket", "/tmp/s.sock", "--json"]).expect("parses");
        assert_eq!(
            (o.socket.as_deref(), o.json),
            (Some(std::path::Path::new("/tmp/s.sock")), true)
        );
        assert_eq!(
            top(&["top", "42", "--socket", "/x"]),
            Err(ErrorKind::ArgumentConflict)
        );
        assert_eq!(
            top(&["top", "--plain", "--json"]),
            Err(ErrorKind::ArgumentConflict)
        );
        assert_eq!(top(&["top", "pid"]), Err(ErrorKind::ValueValidation));
        let help = parse(&["help", "top"])
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        for part in [
            "WORKQ_INSPECT=1",
            "workq::inspect::serve()",
            "inspect",
            "--socket <PATH>",
        ] {
            assert!(help.contains(part), "missing {part:?} in {help}");
        }
    }

    #[test]
    fn bench_says_which_command_to_run() {
        match parse(&["bench", "--quick", "--scenario", "wake"]).map(|c| c.command) {
            Ok(Command::Bench(b)) => {
                let msg = super::bench_moved(&b.args);
                assert!(
                    msg.contains("cargo run --release -p workq-bench -- --quick --scenario wake"),
                    "{msg}"
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("3s"), Ok(Duration::from_secs(3)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1m"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("1m 30s"), Ok(Duration::from_secs(90)));
        let err = |s: &str| parse_duration(s).err().unwrap_or_default();
        assert!(
            err("5").contains("a unit is needed, like 5s"),
            "{}",
            err("5")
        );
        assert!(err("0s").contains("positive duration"), "{}", err("0s"));
        assert!(err("0").contains("positive duration"), "{}", err("0"));
        assert!(
            err("fast").contains("expected a duration like"),
            "{}",
            err("fast")
        );
        assert!(err("2d").contains("at most a day"), "{}", err("2d"));
    }
}
