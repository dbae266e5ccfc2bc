//! The benchmark suite as a `cargo bench` target (`harness = false`): the same
//! scenarios and options as the `workq-bench` binary.
//!
//! ```text
//! cargo bench -p workq-bench                                  # the full suite
//! cargo bench -p workq-bench -- --quick                       # reduced sizes
//! cargo bench -p workq-bench -- --scenario timers --json      # one scenario, as JSON
//! ```

use std::process::ExitCode;

/// The counting allocator, for the memory rows.
#[global_allocator]
static GLOBAL: &workq_bench::StatsAlloc<std::alloc::System> = &workq_bench::INSTRUMENTED_SYSTEM;

fn main() -> ExitCode {
    // `cargo bench` passes `--bench`; it means nothing here.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let command = format!("cargo bench -p workq-bench -- {}", args.join(" "));
    workq_bench::cli::main(&args, command.trim_end())
}
