//! The long soak (opt-in): the gating soak's world (`soak_world/mod.rs`, with all
//! its checks) run by time, for several seeds, while the process's resident
//! memory and thread count are sampled. Run it with
//!
//! ```text
//! cargo test -p workq --release --test soak_long -- --ignored --nocapture
//! ```
//!
//! * `WORKQ_SOAK_LONG_SECS`: seconds per seed (default 60);
//! * `WORKQ_SOAK_SEEDS`: comma-separated seeds (default: three from the clock,
//!   printed; `WORKQ_SOAK_SEED=s` alone replays one).
//!
//! What it asserts, besides the soak's own checks, for each seed:
//! * while the producers run, after a warm-up (the first quarter of the samples,
//!   taken every 250 ms), the highest resident memory of the last third of the
//!   samples is at most the highest of the first third plus [`RSS_SLACK_PERCENT`]
//!   percent and [`RSS_SLACK_KIB`] KiB, and the highest thread count of the last
//!   third is at most the highest of the first third plus [`THREAD_SLACK`] (the
//!   pool grows and shrinks between its bounds all the time; a leak keeps
//!   growing);
//! * after the world is dropped, the thread count is back to what it was after
//!   the first seed's world was dropped (within [`THREAD_SLACK`]: helper threads
//!   of the bounded waits may still be exiting), and resident memory is within the
//!   same slack of it.
//!
//! Samples are taken by time because memory is a function of time here; the
//! comparison is between windows of one run, never against a wall-clock bound.
//! Linux only (`/proc/self`); elsewhere the memory and thread checks are skipped.

mod common;
mod soak_world;

use common::{lock, say, test_guard_for};
use soak_world::{env_u64, seed_from_env, soak, Plan};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// Resident memory may grow by this share between the windows (allocator
/// caches, the timer's slab and the lists keep their high-water room).
const RSS_SLACK_PERCENT: u64 = 25;
/// ... plus this much, in KiB.
const RSS_SLACK_KIB: u64 = 16 * 1024;
/// Thread counts may differ by this much between the windows.
const THREAD_SLACK: usize = 2;
/// How often the sampler looks.
const SAMPLE_EVERY: Duration = Duration::from_millis(250);

/// Resident memory in KiB (`VmRSS` of `/proc/self/status`).
fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Threads of the process (entries of `/proc/self/task`).
fn threads() -> Option<usize> {
    Some(std::fs::read_dir("/proc/self/task").ok()?.count())
}

#[derive(Clone, Copy, Debug)]
struct Sample {
    rss_kib: u64,
    threads: usize,
}

fn sample() -> Option<Sample> {
    Some(Sample {
        rss_kib: rss_kib()?,
        threads: threads()?,
    })
}

/// Samples every [`SAMPLE_EVERY`] until stopped.
struct Sampler {
    stop: Arc<AtomicBool>,
    samples: Arc<Mutex<Vec<Sample>>>,
    handle: thread::JoinHandle<()>,
}

impl Sampler {
    fn start() -> Sampler {
        let stop = Arc::new(AtomicBool::new(false));
        let samples = Arc::new(Mutex::new(Vec::new()));
        let handle = {
            let (stop, samples) = (stop.clone(), samples.clone());
            thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    if let Some(s) = sample() {
                        lock(&samples).push(s);
                    }
                    thread::sleep(SAMPLE_EVERY);
                }
            })
        };
        Sampler {
            stop,
            samples,
            handle,
        }
    }

    fn finish(self) -> Vec<Sample> {
        self.stop.store(true, Ordering::SeqCst);
        self.handle.join().expect("the sampler thread");
        std::mem::take(&mut *lock(&self.samples))
    }
}

fn rss_allowed(base: u64) -> u64 {
    base + base * RSS_SLACK_PERCENT / 100 + RSS_SLACK_KIB
}

/// Checks the samples of one run: no growth from the first to the last third
/// after the warm-up. Returns what it compared (to print), or what grew.
fn check_no_growth(seed: u64, samples: &[Sample]) -> Result<String, String> {
    let warm = &samples[samples.len() / 4..];
    let third = warm.len() / 3;
    if third == 0 {
        return Ok(format!(
            "soak_long (seed {seed}): only {} samples; too short to compare windows",
            samples.len()
        ));
    }
    let (early, late) = (&warm[..third], &warm[warm.len() - third..]);
    let max_rss = |w: &[Sample]| w.iter().map(|s| s.rss_kib).max().unwrap_or(0);
    let max_threads = |w: &[Sample]| w.iter().map(|s| s.threads).max().unwrap_or(0);
    let (rss_early, rss_late) = (max_rss(early), max_rss(late));
    let (threads_early, threads_late) = (max_threads(early), max_threads(late));
    if rss_late > rss_allowed(rss_early) {
        return Err(format!(
            "seed {seed}: resident memory grew from {rss_early} to {rss_late} KiB"
        ));
    }
    if threads_late > threads_early + THREAD_SLACK {
        return Err(format!(
            "seed {seed}: the thread count grew from {threads_early} to {threads_late}"
        ));
    }
    Ok(format!(
        "soak_long (seed {seed}): {} samples; RSS max early {rss_early} KiB, late \
         {rss_late} KiB; threads max early {threads_early}, late {threads_late}",
        samples.len()
    ))
}

fn seeds() -> Vec<u64> {
    if let Ok(list) = std::env::var("WORKQ_SOAK_SEEDS") {
        let seeds: Vec<u64> = list
            .split(',')
            .filter_map(|s| s.trim().parse().ok())
            .collect();
        if !seeds.is_empty() {
            return seeds;
        }
    }
    if std::env::var_os("WORKQ_SOAK_SEED").is_some() {
        return vec![seed_from_env()];
    }
    let base = seed_from_env();
    (0..3u64)
        .map(|k| base.wrapping_add(k.wrapping_mul(0x9E37_79B9_7F4A_7C15)))
        .collect()
}

#[test]
#[ignore = "long: run with --ignored (see the file's docs)"]
fn long_soak_has_no_growth_of_memory_or_threads() {
    let secs = env_u64("WORKQ_SOAK_LONG_SECS").unwrap_or(60);
    let seeds = seeds();
    say(&format!(
        "soak_long: {secs} s per seed, seeds {seeds:?} (replay with WORKQ_SOAK_SEEDS=...)"
    ));
    let _guard = test_guard_for((secs + 300) * seeds.len() as u64);
    let mut after_first: Option<Sample> = None;
    for &seed in &seeds {
        let sampler = Sampler::start();
        let outcome = soak(
            seed,
            Plan {
                ops_per_producer: None,
                until: Instant::now() + Duration::from_secs(secs),
                known_bugs: true,
            },
        );
        let samples = sampler.finish();
        say(&format!(
            "soak_long (seed {seed}): {} operations",
            outcome.ops
        ));
        if samples.is_empty() {
            say("soak_long: no /proc/self here; memory and thread checks skipped");
            continue;
        }
        match check_no_growth(seed, &samples) {
            Ok(summary) => say(&summary),
            Err(growth) => panic!("{growth}"),
        }
        let Some(now) = sample() else { continue };
        match after_first {
            None => after_first = Some(now),
            Some(first) => {
                say(&format!(
                    "soak_long (seed {seed}): after the world's drop {} KiB, {} threads \
                     (after the first: {} KiB, {} threads)",
                    now.rss_kib, now.threads, first.rss_kib, first.threads
                ));
                assert!(
                    now.threads <= first.threads + THREAD_SLACK,
                    "seed {seed}: threads left behind: {} after the first world, {} now",
                    first.threads,
                    now.threads
                );
                assert!(
                    now.rss_kib <= rss_allowed(first.rss_kib),
                    "seed {seed}: memory left behind: {} KiB after the first world, {} now",
                    first.rss_kib,
                    now.rss_kib
                );
            }
        }
    }
}

#[test]
fn the_growth_checks_catch_a_leak() {
    let steady: Vec<Sample> = (0..40)
        .map(|k| Sample {
            rss_kib: 100_000 + (k % 3) * 1_000,
            threads: 8 + (k % 4) as usize,
        })
        .collect();
    assert!(check_no_growth(1, &steady).is_ok());
    let leaking_memory: Vec<Sample> = (0..40)
        .map(|k| Sample {
            rss_kib: 100_000 + k * 5_000,
            threads: 8,
        })
        .collect();
    let leaking_threads: Vec<Sample> = (0..40)
        .map(|k| Sample {
            rss_kib: 100_000,
            threads: 8 + k as usize / 4,
        })
        .collect();
    assert!(check_no_growth(1, &leaking_memory).is_err_and(|e| e.contains("memory")));
    assert!(check_no_growth(1, &leaking_threads).is_err_and(|e| e.contains("thread count")));
}
