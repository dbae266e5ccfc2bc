//! Shutting a worker down from awkward places: its last handle dropped on its own
//! thread, while items still wait on its list.
#![allow(clippy::unwrap_used)]

mod common;

use common::{watchdog, DropCounter};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use workq::{Work, Worker};

fn counting(name: &str) -> (Work, Arc<AtomicUsize>) {
    let runs = Arc::new(AtomicUsize::new(0));
    let r = runs.clone();
    let work = Work::named(name, move |_| {
        r.fetch_add(1, Ordering::SeqCst);
    });
    (work, runs)
}

/// A worker whose last handle is held by one of its own items' closures: when that
/// closure is dropped on the worker's thread, the worker shuts down instead of
/// waiting for itself.
#[test]
fn last_handle_dropped_on_the_worker_thread() {
    let _dog = watchdog(60, "last_handle_dropped_on_the_worker_thread");
    let name = "self-owned-wq";
    let worker = Worker::new(name).unwrap();
    // Hold the worker busy so that the next two items wait on its list.
    let (release, gate) = std::sync::mpsc::channel::<()>();
    let gate = Mutex::new(gate);
    let blocker = Work::new(move |_| {
        let _ = common::lock(&gate).recv_timeout(Duration::from_secs(30));
    });
    worker.queue(&blocker).unwrap();
    let (token, drops) = DropCounter::new();
    let inner = worker.clone();
    let owner = Work::new(move |_| {
        let _keep = (&inner, &token);
    });
    let (after, after_runs) = counting("after");
    worker.queue(&owner).unwrap();
    worker.queue(&after).unwrap();
    drop(owner);
    drop(worker);
    release.send(()).unwrap();
    common::wait_until("the closure is dropped", || {
        drops.load(Ordering::SeqCst) == 1
    });
    common::wait_until("the worker thread exits", || !thread_named(name));
    assert_eq!(
        after_runs.load(Ordering::SeqCst),
        1,
        "the item behind it ran"
    );
}

fn thread_named(name: &str) -> bool {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return false;
    };
    tasks
        .flatten()
        .any(|t| std::fs::read_to_string(t.path().join("comm")).is_ok_and(|c| c.trim_end() == name))
}
