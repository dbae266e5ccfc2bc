//! The command line shared by both front ends: the `workq-bench` binary
//! (`cargo run --release -p workq-bench -- [options]`) and
//! `cargo bench -p workq-bench -- [options]`.

use crate::options::{Options, Scenario, Sizes};
use crate::report::{to_json, to_markdown, to_table};
use clap::Parser;
use std::path::PathBuf;
use std::process::ExitCode;

/// The options, as clap reads them.
#[derive(Debug, Parser)]
#[command(
    name = "workq-bench",
    version,
    about = "workq against its peers (tokio, rayon, threadpool, scheduled-thread-pool, \
             a crossbeam-channel pool), side by side in one run",
    after_help = "Exits 1 if workq broke one of its guarantees during the run, 2 if a \
                  file could not be written."
)]
struct Flags {
    /// Reduced sizes (a CI smoke run, well under 15 s)
    #[arg(long)]
    quick: bool,
    /// Run only this scenario (repeatable): throughput, wake, coalescing, chain,
    /// timers, burst, memory, flush, jobs
    #[arg(long = "scenario", value_name = "NAME", value_parser = parse_scenario)]
    scenarios: Vec<Scenario>,
    /// Print the results as JSON instead of a table
    #[arg(long)]
    json: bool,
    /// No progress line on standard error
    #[arg(long)]
    no_progress: bool,
    /// Also write the report as markdown (docs/benchmarks.md)
    #[arg(long, value_name = "FILE")]
    markdown: Option<PathBuf>,
    /// Also write the plot (docs/benchmarks.svg)
    #[arg(long, value_name = "FILE")]
    svg: Option<PathBuf>,
}

/// Reads a scenario name; the error lists the names.
fn parse_scenario(name: &str) -> Result<Scenario, String> {
    Scenario::from_name(name).ok_or_else(|| {
        format!(
            "expected one of: {}",
            Scenario::ALL.map(Scenario::name).join(", ")
        )
    })
}

/// Parsed command-line arguments.
#[derive(Clone, Debug, PartialEq)]
pub struct Args {
    /// What to run.
    pub options: Options,
    /// Print JSON instead of the table.
    pub json: bool,
    /// Write the report as markdown here.
    pub markdown: Option<PathBuf>,
    /// Write the plot here.
    pub svg: Option<PathBuf>,
}

impl From<Flags> for Args {
    fn from(f: Flags) -> Args {
        let mut scenarios = Vec::new();
        for s in f.scenarios {
            if !scenarios.contains(&s) {
                scenarios.push(s);
            }
        }
        Args {
            options: Options {
                scenarios: if scenarios.is_empty() {
                    Scenario::ALL.to_vec()
                } else {
                    scenarios
                },
                sizes: if f.quick {
                    Sizes::quick()
                } else {
                    Sizes::full()
                },
                quick: f.quick,
                progress: !f.no_progress,
            },
            json: f.json,
            markdown: f.markdown,
            svg: f.svg,
        }
    }
}

/// Parses the arguments (without the program name).
///
/// # Errors
/// clap's error for an unknown option or scenario or a missing value (its
/// `Display` says what was expected); also the `--help` and `--version` texts,
/// as errors of kind `DisplayHelp` / `DisplayVersion`.
///
/// ```
/// let args = workq_bench::cli::parse(&["--quick".into(), "--scenario".into(), "coalescing".into(), "--json".into()])?;
/// assert!(args.json && args.options.quick);
/// assert_eq!(args.options.scenarios, vec![workq_bench::Scenario::Coalescing]);
/// # Ok::<(), clap::Error>(())
/// ```
pub fn parse(args: &[String]) -> Result<Args, clap::Error> {
    Flags::try_parse_from(std::iter::once("workq-bench").chain(args.iter().map(String::as_str)))
        .map(Args::from)
}

/// Runs a parsed command line: the suite, then the table or JSON on standard
/// output and the files asked for. `command` is how the run was started, for the
/// report. Exit code 1 if workq broke a guarantee, 2 if a file could not be
/// written.
pub fn execute(args: &Args, command: &str) -> ExitCode {
    if cfg!(debug_assertions) {
        eprintln!(
            "workq-bench: warning: a debug build; numbers are not meaningful (use --release)"
        );
    }
    let report = crate::run(&args.options, command);
    if args.json {
        match serde_json::to_string_pretty(&to_json(&report)) {
            Ok(text) => println!("{text}"),
            Err(e) => {
                eprintln!("workq-bench: JSON: {e}");
                return ExitCode::from(2);
            }
        }
    } else {
        print!("{}", to_table(&report));
    }
    let mut status = ExitCode::SUCCESS;
    if let Some(svg) = &args.svg {
        if let Err(e) = crate::plot::write_svg(&report, svg) {
            eprintln!("workq-bench: {e}");
            status = ExitCode::from(2);
        }
    }
    if let Some(md) = &args.markdown {
        let plot = args
            .svg
            .as_ref()
            .and_then(|p| p.file_name())
            .map(|f| f.to_string_lossy().into_owned());
        if let Err(e) = std::fs::write(md, to_markdown(&report, plot.as_deref())) {
            eprintln!("workq-bench: write {}: {e}", md.display());
            status = ExitCode::from(2);
        }
    }
    let violations = report.workq_violations();
    if violations > 0 {
        eprintln!("workq-bench: FAIL: workq broke its guarantees {violations} time(s)");
        return ExitCode::FAILURE;
    }
    status
}

/// Parses and runs; `--help` and `--version` print their text, usage errors
/// say what was expected and exit with 2.
pub fn main(args: &[String], command: &str) -> ExitCode {
    match parse(args) {
        Ok(args) => execute(&args, command),
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            ExitCode::from(code)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Result<Args, clap::Error> {
        parse(&a.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn parses_options() {
        let a = args(&[]).expect("no options");
        assert_eq!(a.options.scenarios, Scenario::ALL.to_vec());
        assert!(!a.options.quick && !a.json && a.options.progress);
        assert_eq!(a.options.sizes, Sizes::full());
        let a = args(&[
            "--quick",
            "--scenario",
            "wake",
            "--scenario",
            "burst",
            "--no-progress",
        ])
        .expect("options");
        assert_eq!(a.options.scenarios, vec![Scenario::Wake, Scenario::Burst]);
        assert_eq!(a.options.sizes, Sizes::quick());
        assert!(!a.options.progress);
        let a = args(&["--svg", "x.svg", "--markdown", "x.md"]).expect("files");
        assert_eq!(a.svg, Some(PathBuf::from("x.svg")));
        assert_eq!(a.markdown, Some(PathBuf::from("x.md")));
        assert!(args(&["--scenario"]).is_err());
        assert!(args(&["--scenario", "nope"]).is_err());
        assert!(args(&["--fast"]).is_err());
        let err = args(&["--scenario", "nope"]).err().map(|e| e.to_string());
        assert!(
            err.as_deref()
                .is_some_and(|e| e.contains("expected one of: throughput")),
            "{err:?}"
        );
        let help = args(&["--help"]).err().map(|e| e.kind());
        assert_eq!(help, Some(clap::error::ErrorKind::DisplayHelp));
    }
}
