//! Awaiting workq from async code: every waiting call has a future
//! (`flush_async`, `drain_async`, `cancel_sync_async`, `queue_async`,
//! `unregister_async`) that uses nothing but the std `Waker`, so it runs under
//! any executor and blocks no executor thread. This example drives them with a
//! ten-line `block_on`; under tokio you would simply `.await` them.
//!
//! Without workq you would hand blocking work to `tokio::task::spawn_blocking`
//! and await its `JoinHandle`, which needs the tokio runtime.
//!
//! Run with `cargo run -p workq --example async_wait`.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use workq::{Work, WorkQueue};

fn main() -> Result<(), workq::Error> {
    let disk = WorkQueue::builder("disk").max_waiting(4).build()?;
    let written = Arc::new(AtomicU64::new(0));
    let w = written.clone();
    let sync_disk = Work::named("sync-disk", move |_ctx| {
        std::thread::sleep(std::time::Duration::from_millis(20)); // a blocking fsync
        w.fetch_add(1, Ordering::SeqCst);
    });

    block_on(async {
        disk.queue_async(&sync_disk).await?; // waits for room if the queue is full
        sync_disk.flush_async().await?; // resolves when the run has finished
        println!(
            "synced {} time(s), no executor thread blocked",
            written.load(Ordering::SeqCst)
        );
        disk.drain_async().await?;
        Ok::<(), workq::Error>(())
    })?;
    disk.destroy()?;
    Ok(())
}

/// The smallest executor: polls the future, parks the thread until woken.
fn block_on<F: Future>(future: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        match future.as_mut().poll(&mut cx) {
            Poll::Ready(out) => return out,
            Poll::Pending => std::thread::park(),
        }
    }
}
