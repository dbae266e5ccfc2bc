//! The `workq` command: a live demonstration of the workq library.
//!
//! `workq demo` runs a realistic scenario (a network device on a worker, a cache
//! filler on a pool, an ordered workqueue) with a live terminal view (or a
//! periodic text view), then checks the library's guarantees and exits non-zero
//! if one failed.

mod bench;
mod demo;

use std::process::ExitCode;
use std::time::Duration;

const USAGE: &str = "usage: workq demo [--duration <time>] [--plain] [--log]
           --duration  how long the producers run (like 20s, 500ms, 2m; default 20s)
           --plain     print a text view every second instead of the live view
                       (chosen by itself when standard output is not a terminal)
           --log       trace events to workq-demo.log (live view) or standard error
                       (--plain); filter with RUST_LOG (default workq=debug)
       workq bench [options]             (workq against its peers; workq bench --help)
       workq help";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("demo") => match parse_demo(&args[1..]) {
            Ok(opts) => demo::run(&opts),
            Err(msg) => {
                eprintln!("workq: {msg}\n{USAGE}");
                ExitCode::from(2)
            }
        },
        Some("bench") => bench::run(&args[1..]),
        Some("help" | "--help" | "-h") => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        Some(other) => {
            eprintln!("workq: unknown command '{other}'\n{USAGE}");
            ExitCode::from(2)
        }
        None => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}

/// Reads the options of `workq demo`.
fn parse_demo(args: &[String]) -> Result<demo::Options, String> {
    let mut opts = demo::Options::default();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--duration" => {
                let value = it.next().ok_or("--duration needs a value")?;
                opts.duration = parse_duration(value)?;
            }
            "--plain" => opts.plain = true,
            "--log" => opts.log = true,
            other => match other.strip_prefix("--duration=") {
                Some(value) => opts.duration = parse_duration(value)?,
                None => return Err(format!("unknown option '{other}'")),
            },
        }
    }
    Ok(opts)
}

/// Parses `3s`, `500ms`, `2m` or a bare number of seconds.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = || format!("cannot read '{s}' as a duration (try 3s or 500ms)");
    let (num, unit) = match s.find(|c: char| !(c.is_ascii_digit() || c == '.')) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let n: f64 = num.parse().map_err(|_| bad())?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        _ => return Err(bad()),
    };
    if !(secs.is_finite() && secs > 0.0 && secs < 86_400.0) {
        return Err(bad());
    }
    Ok(Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::{parse_demo, parse_duration};
    use std::time::Duration;

    fn demo_args(args: &[&str]) -> Result<super::demo::Options, String> {
        parse_demo(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn demo_options() {
        let d = demo_args(&[]).expect("no options");
        assert_eq!(
            (d.duration, d.plain, d.log),
            (Duration::from_secs(20), false, false)
        );
        let d = demo_args(&["--plain", "--log", "--duration", "3s"]).expect("all options");
        assert_eq!(
            (d.duration, d.plain, d.log),
            (Duration::from_secs(3), true, true)
        );
        let d = demo_args(&["--duration=500ms"]).expect("--duration=");
        assert_eq!(d.duration, Duration::from_millis(500));
        assert!(demo_args(&["--duration"]).is_err());
        assert!(demo_args(&["--fast"]).is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("3s"), Ok(Duration::from_secs(3)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("1m"), Ok(Duration::from_secs(60)));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("fast").is_err());
        assert!(parse_duration("3h").is_err());
    }
}
