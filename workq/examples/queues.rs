//! Separate queues with their own limits and order, sharing one pool's threads:
//! an *ordered* queue (one item at a time, in queue order) for journal writes, a
//! queue with `max_active(2)` for thumbnails, a *high-priority* queue served
//! first, and a bounded queue (`max_waiting`) that pushes back on its producer.
//! Each queue has its own flush, drain, freeze and destroy.
//!
//! Without workq you would run one thread pool per kind of work (`threadpool`,
//! rayon) or put a `tokio::sync::Semaphore` in front of each kind, and write the
//! ordering yourself.
//!
//! Run with `cargo run -p workq --example queues`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use workq::{Error, Pool, Work, WorkQueue};

fn main() -> Result<(), Error> {
    let pool = Pool::builder().name("io").max_threads(4).build()?;

    // Ordered: runs one item at a time, in the order they were queued.
    let journal = WorkQueue::builder("journal")
        .pool(&pool)
        .ordered()
        .build()?;
    let order = Arc::new(Mutex::new(Vec::new()));
    let commits: Vec<Work> = (0..5)
        .map(|i| {
            let order = order.clone();
            Work::named(format!("commit-{i}"), move |_ctx| {
                order.lock().unwrap_or_else(|e| e.into_inner()).push(i);
            })
        })
        .collect();

    // At most two thumbnails at once, whatever the pool's size.
    let thumbs = WorkQueue::builder("thumbnails")
        .pool(&pool)
        .max_active(2)
        .build()?;
    let running = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let thumbnails: Vec<Work> = (0..6)
        .map(|i| {
            let (running, most) = (running.clone(), most.clone());
            Work::named(format!("thumb-{i}"), move |_ctx| {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(10));
                running.fetch_sub(1, Ordering::SeqCst);
            })
        })
        .collect();

    // Served before the other queues of the pool.
    let urgent = WorkQueue::builder("urgent")
        .pool(&pool)
        .high_priority(true)
        .build()?;
    let alarm = Work::named("alarm", |_ctx| {
        println!("alarm handled on the high-priority queue")
    });

    for (c, t) in commits.iter().zip(&thumbnails) {
        journal.queue(c)?;
        thumbs.queue(t)?;
    }
    urgent.queue(&alarm)?;
    for t in &thumbnails[commits.len()..] {
        thumbs.queue(t)?;
    }
    journal.flush()?;
    thumbs.flush()?;
    urgent.flush()?;
    println!(
        "journal commits ran in order: {:?}",
        order.lock().map(|o| o.clone()).unwrap_or_default()
    );
    println!(
        "thumbnails at once, at most: {}",
        most.load(Ordering::SeqCst)
    );

    // Back-pressure: a queue that holds at most 2 waiting items.
    let uploads = WorkQueue::builder("uploads")
        .pool(&pool)
        .max_waiting(2)
        .freezable(true)
        .build()?;
    uploads.freeze()?; // hold everything so the queue fills up
    let files: Vec<Work> = (0..3).map(|_| Work::new(|_ctx| {})).collect();
    uploads.try_queue(&files[0])?;
    uploads.try_queue(&files[1])?;
    match uploads.try_queue(&files[2]) {
        Err(Error::Full { .. }) => println!("uploads full: the producer is told to wait"),
        other => println!("unexpected: {other:?}"),
    }
    uploads.thaw()?;
    uploads.queue(&files[2])?; // waits for room (there is some again)
    uploads.flush()?;

    for q in [&journal, &thumbs, &urgent, &uploads] {
        q.destroy()?;
    }
    pool.destroy()?;
    Ok(())
}
