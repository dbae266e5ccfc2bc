//! A pool sized by demand: no threads until first use, grows while items wait and
//! no thread is idle (up to its maximum), lets idle threads go after a timeout.
//! Items that block for long are marked *very slow* so they can never take every
//! thread; `snapshot()` shows what each thread runs.
//!
//! Without workq you would pick a fixed size up front (`threadpool`, rayon's
//! `ThreadPool`, which is meant for CPU-bound work) or use tokio's
//! `spawn_blocking` (which needs the tokio runtime).
//!
//! Run with `cargo run -p workq --example pool`.

use std::time::Duration;
use workq::{Pool, Work};

fn main() -> Result<(), workq::Error> {
    let pool = Pool::builder()
        .name("fetch")
        .max_threads(4)
        .idle_timeout(Duration::from_millis(200))
        .build()?;
    println!(
        "threads before first use: {}",
        pool.snapshot().threads.len()
    );

    // Eight blocking fetches: the pool grows while items wait.
    let fetches: Vec<Work> = (0..8)
        .map(|i| {
            Work::named(format!("fetch-{i}"), |_ctx| {
                std::thread::sleep(Duration::from_millis(50)); // a blocking call
            })
        })
        .collect();
    // A very slow item (a long readahead): kept off some of the threads.
    let readahead = Work::very_slow("readahead", |_ctx| {
        std::thread::sleep(Duration::from_millis(100));
    });
    pool.queue(&readahead)?;
    for f in &fetches {
        pool.queue(f)?;
    }
    std::thread::sleep(Duration::from_millis(20));
    // The runqueue view: the threads, what each runs, the waiting items.
    let snap = pool.snapshot();
    for t in &snap.threads {
        let running = t.running.as_ref().and_then(|item| item.work.clone());
        println!(
            "  {:<8} runs {}",
            t.name,
            running.as_deref().unwrap_or("nothing")
        );
    }
    println!("  {} item(s) waiting for a thread", snap.waiting.len());

    pool.flush()?; // every item queued so far has run
    println!("threads after the burst: {}", pool.snapshot().threads.len());
    std::thread::sleep(Duration::from_millis(400)); // past the idle timeout
    println!(
        "threads after the idle timeout: {}",
        pool.snapshot().threads.len()
    );
    pool.destroy()?;
    Ok(())
}
