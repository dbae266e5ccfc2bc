//! The CPU a system burns while items are armed an hour ahead and nothing else
//! happens.

use super::HOUR;
use crate::measure::procfs::idle_cpu;
use crate::options::Sizes;
use crate::peers;
use std::time::Duration;
use workq::Work;

/// CPU ms and wake-ups over the idle time for system `i` of [`super::SYSTEMS`]
/// (`None`: the system has no thread to measure).
pub(crate) fn measure(i: usize, sizes: &Sizes) -> Option<(f64, f64)> {
    let (n, idle) = (sizes.idle_items, sizes.idle_time);
    match i {
        0 => Some(workq(n, idle)),
        1 => Some(tokio_tasks(n, idle)),
        2 => None,
        _ => Some(stp(n, idle)),
    }
}

fn workq(n: usize, idle: Duration) -> (f64, f64) {
    let worker = peers::workq::worker("bench-idle");
    let works: Vec<Work> = (0..n).map(|_| Work::new(|_| {})).collect();
    for w in &works {
        worker.queue_after(w, HOUR).expect("arm");
    }
    std::thread::sleep(Duration::from_millis(50)); // let the timer thread settle
    let out = idle_cpu(idle);
    for w in &works {
        w.cancel();
    }
    worker.destroy().expect("destroy the worker");
    out
}

fn tokio_tasks(n: usize, idle: Duration) -> (f64, f64) {
    let rt = peers::tokio_multi_thread(2);
    let handles: Vec<_> = (0..n)
        .map(|_| rt.spawn(async { tokio::time::sleep(HOUR).await }))
        .collect();
    std::thread::sleep(Duration::from_millis(50)); // let every task register its timer
    let out = idle_cpu(idle);
    for h in &handles {
        h.abort();
    }
    rt.shutdown_timeout(Duration::from_secs(5));
    out
}

fn stp(n: usize, idle: Duration) -> (f64, f64) {
    let pool = peers::stp_pool(2);
    let handles: Vec<_> = (0..n).map(|_| pool.execute_after(HOUR, || {})).collect();
    std::thread::sleep(Duration::from_millis(50));
    let out = idle_cpu(idle);
    for h in &handles {
        h.cancel();
    }
    drop(pool);
    out
}
