//! The `workq` command: a live demonstration of the workq library.
//!
//! `workq demo` runs a realistic scenario (a network device on a worker, a cache
//! filler on a pool, an ordered workqueue) with a live terminal view (or a
//! periodic text view), then checks the library's guarantees and exits non-zero
//! if one failed. `workq top` shows the queues of another program, which serves
//! them on a Unix socket (the library's `inspect` feature). The benchmark against the peers is a binary of its own
//! (`cargo run --release -p workq-bench`), so building this command never builds
//! tokio, rayon and the other peers.

mod cli;
mod demo;
mod top;
mod view;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    match cli::Cli::parse().command {
        cli::Command::Demo(args) => demo::run(&args.options()),
        cli::Command::Top(args) => top::run(&args.options()),
        cli::Command::Bench(args) => {
            eprintln!("{}", cli::bench_moved(&args.args));
            ExitCode::from(2)
        }
    }
}
