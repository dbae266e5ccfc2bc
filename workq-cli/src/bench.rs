//! `workq bench`: the benchmark suite of workq against its peers (the scenarios
//! live in the workq-bench crate; `cargo bench -p workq-bench` runs the same).

use std::process::ExitCode;

/// The counting allocator, for the memory rows of the benchmark (stats_alloc,
/// since the workspace forbids unsafe code). It counts every allocation of the
/// process, the demo's too: a few relaxed counters, nothing else changes.
#[global_allocator]
static GLOBAL: &workq_bench::StatsAlloc<std::alloc::System> = &workq_bench::INSTRUMENTED_SYSTEM;

/// Runs `workq bench` with the arguments after `bench` (`--help` prints the options).
pub fn run(args: &[String]) -> ExitCode {
    let command = if args.is_empty() {
        "workq bench".to_string()
    } else {
        format!("workq bench {}", args.join(" "))
    };
    workq_bench::cli::main(args, &command)
}
