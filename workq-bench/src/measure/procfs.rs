//! What `/proc` says about this process: its threads and the CPU they used.

use std::time::Duration;

/// Threads of this process right now (entries of `/proc/self/task`), if readable.
pub(crate) fn thread_count() -> Option<usize> {
    std::fs::read_dir("/proc/self/task")
        .ok()
        .map(|dir| dir.flatten().count())
}

/// Waits until the process has at most `n` threads (pools that were dropped
/// finish exiting), or `timeout` passed.
pub(crate) fn settle_threads(n: usize, timeout: Duration) {
    super::sync::wait_until(timeout, || thread_count().is_none_or(|c| c <= n));
}

/// The thread count once it has stopped changing (the same for 100 ms; at most
/// 5 s): pools dropped earlier whose threads exit in the background are gone.
pub(crate) fn quiet_threads() -> usize {
    let give_up = std::time::Instant::now() + Duration::from_secs(5);
    let mut last = thread_count().unwrap_or(0);
    let mut same = 0;
    while same < 10 && std::time::Instant::now() < give_up {
        std::thread::sleep(Duration::from_millis(10));
        let now = thread_count().unwrap_or(0);
        same = if now == last { same + 1 } else { 0 };
        last = now;
    }
    last
}

/// CPU time and context switches of the whole process so far.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Cpu {
    /// Sum over the live threads of `/proc/self/task/*/schedstat` (ns on a CPU).
    sched_ns: Option<u64>,
    /// utime + stime of `/proc/self/stat`, in clock ticks.
    ticks: Option<u64>,
    /// Voluntary + involuntary context switches of the live threads: wake-ups.
    switches: Option<u64>,
}

/// The process's CPU counters now.
pub(crate) fn cpu() -> Cpu {
    let ticks = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            // Fields after the command name, which ends at the last ')': utime is
            // field 14, stime 15.
            let rest: Vec<&str> = s.get(s.rfind(')')? + 1..)?.split_whitespace().collect();
            let utime: u64 = rest.get(11)?.parse().ok()?;
            let stime: u64 = rest.get(12)?.parse().ok()?;
            Some(utime + stime)
        });
    let mut sched_ns = None;
    let mut switches = None;
    if let Ok(dir) = std::fs::read_dir("/proc/self/task") {
        for task in dir.flatten() {
            let path = task.path();
            if let Some(ns) = std::fs::read_to_string(path.join("schedstat"))
                .ok()
                .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
            {
                *sched_ns.get_or_insert(0) += ns;
            }
            if let Ok(status) = std::fs::read_to_string(path.join("status")) {
                let counts = status
                    .lines()
                    .filter(|l| {
                        l.starts_with("voluntary_ctxt_switches:")
                            || l.starts_with("nonvoluntary_ctxt_switches:")
                    })
                    .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok());
                for v in counts {
                    *switches.get_or_insert(0) += v;
                }
            }
        }
    }
    Cpu {
        sched_ns,
        ticks,
        switches,
    }
}

/// CPU milliseconds and wake-ups of the process while the calling thread sleeps
/// for `idle`.
pub(crate) fn idle_cpu(idle: Duration) -> (f64, f64) {
    let a = cpu();
    std::thread::sleep(idle);
    let b = cpu();
    let cpu_ms = match (a.sched_ns, b.sched_ns, a.ticks, b.ticks) {
        (Some(x), Some(y), _, _) => y.saturating_sub(x) as f64 / 1e6,
        // USER_HZ is 100 on Linux: one tick is 10 ms.
        (_, _, Some(x), Some(y)) => y.saturating_sub(x) as f64 * 10.0,
        _ => f64::NAN,
    };
    let switches = match (a.switches, b.switches) {
        // The sleeping thread's own wake-up is not the pool's.
        (Some(x), Some(y)) => y.saturating_sub(x).saturating_sub(1) as f64,
        _ => f64::NAN,
    };
    (cpu_ms, switches)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_this_process() {
        if let Some(n) = thread_count() {
            assert!(n >= 1);
            let t = std::thread::spawn(thread_count);
            let inside = t.join().expect("join");
            assert!(inside.is_some_and(|m| m >= 2));
        }
        let (ms, _) = idle_cpu(Duration::from_millis(1));
        assert!(ms.is_nan() || ms >= 0.0);
    }
}
