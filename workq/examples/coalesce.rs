//! "Something changed, deal with it soon": a thousand change signals from four
//! threads become a handful of runs, and the last run always sees the last change.
//!
//! Without workq you would keep an `AtomicBool` "already scheduled" flag next to a
//! channel or `tokio::sync::Notify` and get the race between clearing the flag
//! and reading the data right by hand. A `Work` item has that rule built in:
//! queueing an item that is pending changes nothing (one atomic operation), and
//! queueing it while it runs makes it run once more afterwards.
//!
//! Run with `cargo run -p workq --example coalesce`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use workq::Work;

fn main() -> Result<(), workq::Error> {
    let config_version = Arc::new(AtomicU64::new(0));
    let saved = Arc::new(AtomicU64::new(0));
    let runs = Arc::new(AtomicU64::new(0));

    let (v, s, r) = (config_version.clone(), saved.clone(), runs.clone());
    let save_config = Work::named("save-config", move |_ctx| {
        // Reads whatever is current when the run starts.
        s.store(v.load(Ordering::SeqCst), Ordering::SeqCst);
        r.fetch_add(1, Ordering::Relaxed);
    });

    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                for _ in 0..250 {
                    config_version.fetch_add(1, Ordering::SeqCst);
                    // The process-wide default queue; a pending item is not queued twice.
                    if let Err(e) = workq::queue(&save_config) {
                        eprintln!("queue: {e}");
                    }
                }
            });
        }
    });
    save_config.flush()?; // wait for the run the last signal asked for

    println!(
        "1000 change signals, {} runs; the last run saved version {} of {}",
        runs.load(Ordering::Relaxed),
        saved.load(Ordering::SeqCst),
        config_version.load(Ordering::SeqCst)
    );
    Ok(())
}
