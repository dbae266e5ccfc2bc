//! Timers and periodic work on the same items: `queue_after` arms an item,
//! `modify` moves its deadline whatever its state (a debounce: the save runs
//! 100 ms after the *last* edit), `cancel` disarms it, and `Worker::periodic`
//! repeats a job at a fixed rate until stopped.
//!
//! Without workq you would use `scheduled-thread-pool` (`execute_after`,
//! `execute_at_fixed_rate`) or tokio's `time::sleep` / `interval` inside spawned
//! tasks, and build "move the deadline of a pending job" yourself.
//!
//! Run with `cargo run -p workq --example timers`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use workq::{Repeat, Work, Worker};

fn main() -> Result<(), workq::Error> {
    let worker = Worker::new("timers")?;
    let start = Instant::now();

    // Debounce: every edit pushes the save back to 100 ms after it.
    let save = Work::named("autosave", move |_ctx| {
        println!("autosave at {:?}", start.elapsed());
    });
    for _ in 0..5 {
        worker.modify(&save, Duration::from_millis(100))?; // arms it, or moves the deadline
        std::thread::sleep(Duration::from_millis(30)); // the next edit
    }

    // A retry that turns out not to be needed: armed, then disarmed.
    let retry = Work::named("retry", |_ctx| println!("retry ran (it should not)"));
    worker.queue_after(&retry, Duration::from_secs(10))?;
    println!(
        "retry armed: {}; cancelled: {}",
        retry.is_pending(),
        retry.cancel()
    );

    // A heartbeat every 50 ms, stopped after a few beats.
    let beats = Arc::new(AtomicU64::new(0));
    let b = beats.clone();
    let heartbeat = worker.periodic(
        "heartbeat",
        Repeat::FixedRate(Duration::from_millis(50)),
        move |_ctx| {
            b.fetch_add(1, Ordering::Relaxed);
        },
    )?;
    std::thread::sleep(Duration::from_millis(300));
    heartbeat.stop()?;
    println!("heartbeats in ~300 ms: {}", beats.load(Ordering::Relaxed));

    save.flush()?; // an armed item fires now; this one has already run
    worker.destroy()?;
    Ok(())
}
