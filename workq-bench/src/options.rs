//! What to run: the scenarios and the sizes they run at.

use std::fmt;
use std::time::Duration;

/// One benchmark scenario. Every front end (the `workq-bench` binary, `cargo bench -p
/// workq-bench`) runs the same code for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scenario {
    /// Tiny items from one producer into two threads.
    Throughput,
    /// Submit-to-start latency of one item on an idle pool.
    Wake,
    /// Millions of queue calls on one item that runs for about 1 µs.
    Coalescing,
    /// A job that queues its own next run, a million times over.
    Chain,
    /// Delayed items: arm, cancel, lateness, idle CPU.
    Timers,
    /// Items that block 1 ms each, on a pool that may grow to 16 threads.
    Burst,
    /// Heap bytes per idle, queued and armed item.
    Memory,
    /// A held backlog emptied while a flush waits; many async flushers.
    Flush,
    /// One-shot jobs with results: spawn, batch spawn, join; heap per job.
    Jobs,
}

impl Scenario {
    /// Every scenario, in the order a full run takes them.
    pub const ALL: [Scenario; 9] = [
        Scenario::Throughput,
        Scenario::Wake,
        Scenario::Coalescing,
        Scenario::Chain,
        Scenario::Timers,
        Scenario::Burst,
        Scenario::Memory,
        Scenario::Flush,
        Scenario::Jobs,
    ];

    /// The name used on the command line (`--scenario NAME`) and in JSON.
    ///
    /// ```
    /// use workq_bench::Scenario;
    /// assert_eq!(Scenario::Coalescing.name(), "coalescing");
    /// assert_eq!(Scenario::from_name("coalescing"), Some(Scenario::Coalescing));
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Throughput => "throughput",
            Scenario::Wake => "wake",
            Scenario::Coalescing => "coalescing",
            Scenario::Chain => "chain",
            Scenario::Timers => "timers",
            Scenario::Burst => "burst",
            Scenario::Memory => "memory",
            Scenario::Flush => "flush",
            Scenario::Jobs => "jobs",
        }
    }

    /// The scenario called `name` (also accepts `wake-latency`).
    pub fn from_name(name: &str) -> Option<Scenario> {
        match name {
            "wake-latency" | "latency" => Some(Scenario::Wake),
            _ => Scenario::ALL.into_iter().find(|s| s.name() == name),
        }
    }

    /// One line saying what the scenario measures.
    pub fn summary(self) -> &'static str {
        match self {
            Scenario::Throughput => "tiny items from one producer into 2 threads",
            Scenario::Wake => "idle pool, one item: submit -> start latency",
            Scenario::Coalescing => "queue calls on one item that runs ~1 us",
            Scenario::Chain => "a job that queues its own next run",
            Scenario::Timers => "delayed items: arm, cancel, lateness, idle CPU",
            Scenario::Burst => "items that block 1 ms, pools of at most 16 threads",
            Scenario::Memory => "heap bytes per idle, queued and armed item",
            Scenario::Flush => "a held backlog emptied while a flush waits",
            Scenario::Jobs => "one-shot jobs with results into 2 threads, joined",
        }
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How big each scenario runs. [`Sizes::full`] is the default run,
/// [`Sizes::quick`] the CI smoke run, [`Sizes::tiny`] for tests.
#[derive(Clone, Debug, PartialEq)]
pub struct Sizes {
    /// Threads every peer gets in the throughput, wake and coalescing scenarios.
    pub threads: usize,
    /// Items per throughput run.
    pub throughput_items: usize,
    /// Measured runs per throughput system (the median is shown).
    pub throughput_reps: usize,
    /// Wake-latency samples per system.
    pub wake_samples: usize,
    /// Sleep between two wake samples, so the pool is idle when the next comes.
    pub wake_gap: Duration,
    /// Queue calls per coalescing run.
    pub coalesce_calls: usize,
    /// Queue calls between two flushes (each flush checks that no call was lost).
    pub coalesce_epoch: usize,
    /// How long one run of the coalesced item takes (a busy loop).
    pub coalesce_run: Duration,
    /// Runs of the chain scenario's self-queueing job.
    pub chain_steps: usize,
    /// Delayed items per timer run (every second one is cancelled).
    pub timer_items: usize,
    /// Timer runs per system (medians of the percentiles are shown).
    pub timer_reps: usize,
    /// Items armed an hour ahead while the idle CPU is measured.
    pub idle_items: usize,
    /// How long the idle CPU is measured.
    pub idle_time: Duration,
    /// Items in a burst.
    pub burst_items: usize,
    /// How long each burst item blocks.
    pub burst_block: Duration,
    /// Most threads a pool may use in the burst.
    pub burst_threads: usize,
    /// Idle timeout of the pools that have one (workq, tokio).
    pub burst_idle_timeout: Duration,
    /// How long after the burst the threads left are counted.
    pub burst_settle: Duration,
    /// Items per memory measurement.
    pub memory_items: usize,
    /// Backlog sizes of the flush scenario.
    pub flush_items: Vec<usize>,
    /// Jobs per run of the jobs scenario.
    pub jobs_items: usize,
    /// Measured runs per jobs system (the median is shown).
    pub jobs_reps: usize,
    /// Jobs whose allocations are counted, per system.
    pub jobs_heap_items: usize,
    /// Borrowing jobs in one scope of the jobs scenario.
    pub scope_pieces: usize,
}

impl Sizes {
    /// The sizes of the issue: 1,000,000 items, 5,000 samples, 10,000,000 calls,
    /// 200,000 timers, 2,000 blocking items.
    pub fn full() -> Sizes {
        Sizes {
            threads: 2,
            throughput_items: 1_000_000,
            throughput_reps: 5,
            wake_samples: 5_000,
            wake_gap: Duration::from_micros(100),
            coalesce_calls: 10_000_000,
            coalesce_epoch: 100_000,
            coalesce_run: Duration::from_micros(1),
            chain_steps: 1_000_000,
            timer_items: 200_000,
            timer_reps: 3,
            idle_items: 10_000,
            idle_time: Duration::from_secs(1),
            burst_items: 2_000,
            burst_block: Duration::from_millis(1),
            burst_threads: 16,
            burst_idle_timeout: Duration::from_secs(1),
            burst_settle: Duration::from_secs(2),
            memory_items: 100_000,
            flush_items: vec![10_000, 100_000, 1_000_000],
            jobs_items: 200_000,
            jobs_reps: 5,
            jobs_heap_items: 10_000,
            scope_pieces: 10_000,
        }
    }

    /// Reduced sizes for a smoke run (the whole suite in well under 15 s).
    pub fn quick() -> Sizes {
        Sizes {
            throughput_items: 100_000,
            throughput_reps: 1,
            wake_samples: 500,
            coalesce_calls: 1_000_000,
            coalesce_epoch: 50_000,
            chain_steps: 100_000,
            timer_items: 20_000,
            timer_reps: 1,
            idle_items: 2_000,
            idle_time: Duration::from_millis(200),
            burst_items: 400,
            burst_idle_timeout: Duration::from_millis(200),
            burst_settle: Duration::from_millis(500),
            memory_items: 20_000,
            flush_items: vec![10_000],
            jobs_items: 100_000,
            jobs_reps: 5,
            ..Sizes::full()
        }
    }

    /// Very small sizes, for tests of the harness itself (debug builds).
    pub fn tiny() -> Sizes {
        Sizes {
            throughput_items: 2_000,
            wake_samples: 50,
            coalesce_calls: 20_000,
            coalesce_epoch: 5_000,
            chain_steps: 2_000,
            timer_items: 1_000,
            idle_items: 100,
            idle_time: Duration::from_millis(20),
            burst_items: 64,
            burst_threads: 8,
            burst_idle_timeout: Duration::from_millis(100),
            burst_settle: Duration::from_millis(250),
            memory_items: 1_000,
            flush_items: vec![1_000],
            jobs_items: 1_000,
            jobs_reps: 1,
            jobs_heap_items: 500,
            scope_pieces: 1_000,
            ..Sizes::quick()
        }
    }
}

/// What one run of the suite does.
#[derive(Clone, Debug, PartialEq)]
pub struct Options {
    /// The scenarios to run, in order.
    pub scenarios: Vec<Scenario>,
    /// Their sizes.
    pub sizes: Sizes,
    /// Whether these are the reduced `--quick` sizes (shown in the report).
    pub quick: bool,
    /// Whether to show a progress line on standard error.
    pub progress: bool,
}

impl Options {
    /// Every scenario at full size, with progress.
    pub fn full() -> Options {
        Options {
            scenarios: Scenario::ALL.to_vec(),
            sizes: Sizes::full(),
            quick: false,
            progress: true,
        }
    }

    /// Every scenario at the `--quick` sizes, with progress.
    pub fn quick() -> Options {
        Options {
            sizes: Sizes::quick(),
            quick: true,
            ..Options::full()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for s in Scenario::ALL {
            assert_eq!(Scenario::from_name(s.name()), Some(s));
        }
        assert_eq!(Scenario::from_name("wake-latency"), Some(Scenario::Wake));
        assert_eq!(Scenario::from_name("nope"), None);
    }
}
