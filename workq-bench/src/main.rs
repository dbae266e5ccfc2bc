//! `workq-bench`: workq against its peers, side by side in one run.
//!
//! ```text
//! cargo run --release -p workq-bench -- --quick              # reduced sizes, ~15 s
//! cargo run --release -p workq-bench                         # the full suite
//! cargo run --release -p workq-bench -- --scenario timers --json
//! ```
//!
//! A binary of its own (not a subcommand of `workq`) so that building the demo
//! never builds the peers (tokio, rayon, plotters, ...).

use std::process::ExitCode;

/// The counting allocator, for the memory rows of the benchmark (stats_alloc,
/// since the workspace forbids unsafe code): a few relaxed counters.
#[global_allocator]
static GLOBAL: &workq_bench::StatsAlloc<std::alloc::System> = &workq_bench::INSTRUMENTED_SYSTEM;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let command = format!("cargo run --release -p workq-bench -- {}", args.join(" "));
    workq_bench::cli::main(&args, command.trim_end().trim_end_matches(" --"))
}
