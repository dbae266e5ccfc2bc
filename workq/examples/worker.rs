//! One dedicated, named thread that owns a resource (here a log file stand-in):
//! several items queue work on it, `flush` waits for what was queued, `freeze`
//! holds it while a snapshot is taken, `destroy` ends it in order.
//!
//! Without workq you would spawn a `std::thread` that loops over an
//! `std::sync::mpsc` channel of boxed closures, and write flush, pause and
//! shutdown yourself. A `Worker` is that thread with those calls built in.
//!
//! Run with `cargo run -p workq --example worker`.

use std::sync::{Arc, Mutex};
use workq::{Work, Worker};

fn main() -> Result<(), workq::Error> {
    // Freezable, so `freeze` may hold it (the kernel's suspend-time freeze).
    let worker = Worker::builder()
        .name("log-writer")
        .freezable(true)
        .build()?;
    let lines: Arc<Mutex<Vec<String>>> = Arc::new(Mutex::new(Vec::new()));

    let pending = Arc::new(Mutex::new(Vec::<String>::new()));
    let (p, l) = (pending.clone(), lines.clone());
    let write_out = Work::named("write-out", move |ctx| {
        // Every run takes what was logged since the last one.
        let batch: Vec<String> = std::mem::take(&mut *p.lock().unwrap_or_else(|e| e.into_inner()));
        let thread = std::thread::current().name().unwrap_or("?").to_string();
        println!(
            "{} on thread '{thread}': {} line(s)",
            ctx.name().unwrap_or("?"),
            batch.len()
        );
        l.lock().unwrap_or_else(|e| e.into_inner()).extend(batch);
    });

    let log = |msg: &str| -> Result<(), workq::Error> {
        pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(msg.to_string());
        worker.queue(&write_out).map(|_| ())
    };

    for i in 0..5 {
        log(&format!("request {i} served"))?;
    }
    worker.flush()?; // everything queued so far has run

    worker.freeze()?; // nothing runs until thaw: a consistent moment
    log("written while frozen")?;
    println!(
        "frozen: {} line(s) written, 1 waiting",
        lines.lock().map(|l| l.len()).unwrap_or(0)
    );
    worker.thaw()?;
    worker.flush()?;

    worker.destroy()?; // waits for the running item, then ends the thread
    println!(
        "{} line(s) written in all",
        lines.lock().map(|l| l.len()).unwrap_or(0)
    );
    Ok(())
}
