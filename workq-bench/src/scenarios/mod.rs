//! The scenarios. Each runs workq and its peers and returns one report
//! [`Section`].

mod burst;
mod chain;
mod coalescing;
mod flush;
mod jobs;
mod memory;
mod throughput;
mod timers;
mod wake;

use crate::options::{Scenario, Sizes};
use crate::progress::Progress;
use crate::report::Section;
use std::time::Instant;

/// Runs one scenario.
pub(crate) fn run(scenario: Scenario, sizes: &Sizes, progress: &mut Progress) -> Section {
    let start = Instant::now();
    let steps = match scenario {
        Scenario::Throughput => throughput::steps(sizes),
        Scenario::Wake => wake::STEPS,
        Scenario::Coalescing => coalescing::STEPS,
        Scenario::Chain => chain::STEPS,
        Scenario::Timers => timers::STEPS,
        Scenario::Burst => burst::STEPS,
        Scenario::Memory => memory::STEPS,
        Scenario::Flush => flush::steps(sizes),
        Scenario::Jobs => jobs::steps(sizes),
    };
    progress.scenario(scenario.name(), steps);
    let mut section = match scenario {
        Scenario::Throughput => throughput::run(sizes, progress),
        Scenario::Wake => wake::run(sizes, progress),
        Scenario::Coalescing => coalescing::run(sizes, progress),
        Scenario::Chain => chain::run(sizes, progress),
        Scenario::Timers => timers::run(sizes, progress),
        Scenario::Burst => burst::run(sizes, progress),
        Scenario::Memory => memory::run(sizes, progress),
        Scenario::Flush => flush::run(sizes, progress),
        Scenario::Jobs => jobs::run(sizes, progress),
    };
    section.seconds = start.elapsed().as_secs_f64();
    section
}

/// `1234567` -> `1,234,567`.
pub(crate) fn count(n: usize) -> String {
    crate::report::group_thousands(&n.to_string())
}
