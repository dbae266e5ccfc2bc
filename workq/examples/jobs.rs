//! Jobs: a one-shot closure with a result, and a scope whose jobs borrow the
//! caller's data.
//!
//! `spawn` returns a `Job<R>`: `join` gives the closure's value, or its panic as
//! an error, like `std::thread::JoinHandle`; `cancel` drops a job that has not
//! started. `scope` is the workq form of `std::thread::scope`: its jobs may
//! borrow (even mutably) from the caller, and it returns once all have ended,
//! running on the queue's threads instead of a new thread per job.
//!
//! Without workq you would use tokio's `spawn_blocking` and its `JoinHandle`,
//! `threadpool::execute` with a channel for the result, or rayon's `scope`.
//!
//! Run with `cargo run -p workq --example jobs`.

use std::time::Duration;
use workq::{JobError, Pool};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let pool = Pool::builder().name("jobs").max_threads(2).build()?;

    // A job with a result: the closure owns its data.
    let lines = ["GET /", "GET /index.html", "POST /form"];
    let job = pool.spawn(move || lines.iter().filter(|l| l.starts_with("GET")).count());
    println!("GET requests: {}", job.join()?);

    // A panic comes back as an error, with its message.
    println!("next, a job panics on purpose: std prints the panic on stderr");
    let job = pool.spawn(|| -> u32 { panic!("parse error on line 3") });
    match job.join() {
        Err(e) if e.is_panic() => println!("the job panicked: {:?}", e.panic_message()),
        other => println!("unexpected: {other:?}"),
    }

    // A job armed for later, cancelled before it runs: its closure is dropped.
    let later = pool.spawn_after(Duration::from_secs(3600), || "never");
    println!("cancelled before it ran: {}", later.cancel());
    println!(
        "its join: {:?}",
        later.join().map_err(|e| matches!(e, JobError::Cancelled))
    );

    // A scope: the jobs borrow `samples` and write into `sums`, both on this
    // stack; `scope` returns once every job has ended.
    let samples: Vec<u64> = (1..=1_000).collect();
    let mut sums = vec![0u64; 4];
    pool.scope(|s| {
        for (part, sum) in samples.chunks(250).zip(sums.iter_mut()) {
            s.spawn(move || *sum = part.iter().sum());
        }
    });
    println!(
        "sums of four quarters: {sums:?} (total {})",
        sums.iter().sum::<u64>()
    );
    Ok(())
}
