//! The command line shared by both front ends: `workq bench [options]` and
//! `cargo bench -p workq-bench -- [options]`.

use crate::options::{Options, Scenario, Sizes};
use crate::report::{to_json, to_markdown, to_table};
use std::path::PathBuf;
use std::process::ExitCode;

/// The options of `workq bench`.
pub const USAGE: &str = "usage: workq bench [--quick] [--scenario NAME]... [--json] [--no-progress]
                   [--markdown FILE] [--svg FILE]
  --quick            reduced sizes (a CI smoke run, well under 15 s)
  --scenario NAME    run only this scenario (repeatable): throughput, wake,
                     coalescing, chain, timers, burst, memory
  --json             print the results as JSON instead of a table
  --no-progress      no progress line on standard error
  --markdown FILE    also write the report as markdown (docs/benchmarks.md)
  --svg FILE         also write the plot (docs/benchmarks.svg)
Exits 1 if workq broke one of its guarantees during the run.";

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

/// Parses the arguments after `bench`.
///
/// # Errors
/// A message for an unknown option or scenario, or a missing value.
///
/// ```
/// let args = workq_bench::cli::parse(&["--quick".into(), "--scenario".into(), "coalescing".into(), "--json".into()])?;
/// assert!(args.json && args.options.quick);
/// assert_eq!(args.options.scenarios, vec![workq_bench::Scenario::Coalescing]);
/// # Ok::<(), String>(())
/// ```
pub fn parse(args: &[String]) -> Result<Args, String> {
    let mut quick = false;
    let mut progress = true;
    let mut scenarios = Vec::new();
    let mut out = Args {
        options: Options::full(),
        json: false,
        markdown: None,
        svg: None,
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = |what: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{what} needs a value"))
        };
        match arg.as_str() {
            "--quick" => quick = true,
            "--json" => out.json = true,
            "--no-progress" => progress = false,
            "--scenario" => {
                let name = value("--scenario")?;
                let s = Scenario::from_name(&name).ok_or_else(|| {
                    format!(
                        "unknown scenario '{name}' (one of: {})",
                        Scenario::ALL.map(Scenario::name).join(", ")
                    )
                })?;
                if !scenarios.contains(&s) {
                    scenarios.push(s);
                }
            }
            "--markdown" => out.markdown = Some(PathBuf::from(value("--markdown")?)),
            "--svg" => out.svg = Some(PathBuf::from(value("--svg")?)),
            other => return Err(format!("unknown option '{other}'")),
        }
    }
    out.options = Options {
        scenarios: if scenarios.is_empty() {
            Scenario::ALL.to_vec()
        } else {
            scenarios
        },
        sizes: if quick { Sizes::quick() } else { Sizes::full() },
        quick,
        progress,
    };
    Ok(out)
}

/// Runs a parsed command line: the suite, then the table or JSON on standard
/// output and the files asked for. `command` is how the run was started, for the
/// report. Exit code 1 if workq broke a guarantee, 2 if a file could not be
/// written.
pub fn execute(args: &Args, command: &str) -> ExitCode {
    if cfg!(debug_assertions) {
        eprintln!(
            "workq bench: warning: a debug build; numbers are not meaningful (use --release)"
        );
    }
    let report = crate::run(&args.options, command);
    if args.json {
        match serde_json::to_string_pretty(&to_json(&report)) {
            Ok(text) => println!("{text}"),
            Err(e) => {
                eprintln!("workq bench: JSON: {e}");
                return ExitCode::from(2);
            }
        }
    } else {
        print!("{}", to_table(&report));
    }
    let mut status = ExitCode::SUCCESS;
    if let Some(svg) = &args.svg {
        if let Err(e) = crate::plot::write_svg(&report, svg) {
            eprintln!("workq bench: {e}");
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
            eprintln!("workq bench: write {}: {e}", md.display());
            status = ExitCode::from(2);
        }
    }
    let violations = report.workq_violations();
    if violations > 0 {
        eprintln!("workq bench: FAIL: workq broke its guarantees {violations} time(s)");
        return ExitCode::FAILURE;
    }
    status
}

/// Parses and runs; `--help` prints [`USAGE`], usage errors print it and exit
/// with 2.
pub fn main(args: &[String], command: &str) -> ExitCode {
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    match parse(args) {
        Ok(args) => execute(&args, command),
        Err(msg) => {
            eprintln!("workq bench: {msg}\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Result<Args, String> {
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
    }
}
