//! Scoped jobs: closures borrowing the caller's stack, on every front end.
//!
//! Each test starts with `common::test_guard()`: a hang ends the process with
//! the test's name instead of stalling CI.

mod common;

use common::{test_guard, DropCounter};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use workq::{JobError, Pool, WorkQueue, Worker};

/// A pool of exactly `threads` threads.
fn fixed_pool(name: &str, threads: usize) -> Pool {
    Pool::builder()
        .name(name)
        .min_threads(threads)
        .max_threads(threads)
        .build()
        .expect("pool")
}

/// Doubles every element of 1..=10 in scoped jobs of two elements each on
/// `$front`, and checks the result and the count the jobs saw.
macro_rules! doubles_in_chunks {
    ($front:expr) => {{
        let mut data: Vec<u64> = (1..=10).collect();
        let seen = AtomicUsize::new(0);
        $front.scope(|s| {
            for chunk in data.chunks_mut(2) {
                let seen = &seen;
                s.spawn(move || {
                    for x in chunk.iter_mut() {
                        *x *= 2;
                    }
                    seen.fetch_add(chunk.len(), Ordering::SeqCst);
                });
            }
        });
        assert_eq!(seen.into_inner(), 10, "{}", stringify!($front));
        assert_eq!(data, (1..=10).map(|x| x * 2).collect::<Vec<u64>>());
    }};
}

#[test]
fn every_front_end_runs_borrowing_jobs_before_scope_returns() {
    let _guard = test_guard();
    let pool = Pool::new("scope-pool").expect("pool");
    let worker = Worker::new("scope-worker").expect("worker");
    let wq = WorkQueue::builder("scope-wq").build().expect("workqueue");
    let owner = pool.register("scope-owner");
    doubles_in_chunks!(pool);
    doubles_in_chunks!(worker);
    doubles_in_chunks!(wq);
    doubles_in_chunks!(owner);
}

#[test]
fn scope_returns_the_body_value_and_joined_results() {
    let _guard = test_guard();
    let pool = Pool::new("scope-results").expect("pool");
    let words = ["alpha".to_string(), "be".to_string(), "c".to_string()];
    let (lengths, tag) = pool.scope(|s| {
        let jobs: Vec<_> = words.iter().map(|w| s.spawn(move || w.len())).collect();
        let lengths: Vec<usize> = jobs
            .into_iter()
            .map(|j| j.join().expect("a length"))
            .collect();
        (lengths, "body")
    });
    assert_eq!(lengths, [5, 2, 1]);
    assert_eq!(tag, "body");
}

#[test]
fn scope_waits_for_jobs_nobody_joined() {
    let _guard = test_guard();
    let pool = fixed_pool("scope-wait", 2);
    let done = AtomicUsize::new(0);
    // Both jobs hold at the barrier until the body has returned its value:
    // the scope can return only by waiting for them.
    let barrier = Barrier::new(3);
    pool.scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                barrier.wait();
                done.fetch_add(1, Ordering::SeqCst);
            });
        }
        barrier.wait();
    });
    assert_eq!(done.load(Ordering::SeqCst), 2);
}

#[test]
fn jobs_may_spawn_more_jobs_in_the_same_scope() {
    let _guard = test_guard();
    let pool = Pool::new("scope-nested").expect("pool");
    let count = AtomicUsize::new(0);
    pool.scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..4 {
                    s.spawn(|| {
                        count.fetch_add(1, Ordering::SeqCst);
                    });
                }
            });
        }
    });
    assert_eq!(count.into_inner(), 16);
}

#[test]
fn a_scope_inside_an_item_of_the_same_worker_helps_instead_of_waiting() {
    let _guard = test_guard();
    let worker = Worker::new("scope-self").expect("worker");
    let inner = worker.clone();
    let job = worker.spawn(move || {
        let mut sum = 0u64;
        let values = [1u64, 2, 3, 4];
        inner.scope(|s| {
            let jobs: Vec<_> = values.iter().map(|v| s.spawn(move || v * v)).collect();
            sum = jobs.into_iter().map(|j| j.join().expect("ran")).sum();
        });
        sum
    });
    // Each join in the body, on the worker's only thread, runs its job there:
    // waiting for the thread would never end.
    assert_eq!(job.join().expect("the outer job"), 30);
}

#[test]
fn a_scope_inside_an_item_of_a_one_thread_pool_finishes() {
    let _guard = test_guard();
    let pool = fixed_pool("scope-one-thread", 1);
    let inner = pool.clone();
    let job = pool.spawn(move || {
        let hits = AtomicUsize::new(0);
        inner.scope(|s| {
            for _ in 0..100 {
                s.spawn(|| {
                    hits.fetch_add(1, Ordering::SeqCst);
                });
            }
        });
        hits.into_inner()
    });
    assert_eq!(job.join().expect("the outer job"), 100);
}

#[test]
fn an_unjoined_panic_propagates_after_every_job_ended() {
    let _guard = test_guard();
    let pool = Pool::new("scope-panic").expect("pool");
    let finished = AtomicUsize::new(0);
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        pool.scope(|s| {
            s.spawn(|| panic!("scoped boom"));
            for _ in 0..8 {
                s.spawn(|| {
                    finished.fetch_add(1, Ordering::SeqCst);
                });
            }
        });
    }));
    let payload = outcome.expect_err("the scope panics");
    let message = payload
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default();
    assert_eq!(message, "a scoped job panicked");
    assert_eq!(finished.load(Ordering::SeqCst), 8);
}

#[test]
fn a_joined_panic_is_the_joiners_and_the_scope_returns() {
    let _guard = test_guard();
    let pool = Pool::new("scope-joined-panic").expect("pool");
    let message = pool.scope(|s| {
        let job = s.spawn(|| -> u8 { panic!("kept for the join") });
        let err = job.join().expect_err("the job panicked");
        err.panic_message().map(str::to_string)
    });
    assert_eq!(message.as_deref(), Some("kept for the join"));
}

#[test]
fn a_panicking_body_unwinds_after_its_jobs_ended() {
    let _guard = test_guard();
    let pool = Pool::new("scope-body-panic").expect("pool");
    let finished = AtomicUsize::new(0);
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        pool.scope(|s| {
            for _ in 0..8 {
                s.spawn(|| {
                    finished.fetch_add(1, Ordering::SeqCst);
                });
            }
            panic!("body boom");
        })
    }));
    let payload = outcome.expect_err("the body's panic");
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"body boom"));
    assert_eq!(finished.load(Ordering::SeqCst), 8);
}

#[test]
fn every_scoped_closure_is_dropped_exactly_once() {
    let _guard = test_guard();
    let worker = Worker::builder()
        .name("scope-drops")
        .freezable(true)
        .build()
        .expect("worker");
    let (token, drops) = DropCounter::new();
    let ran = AtomicUsize::new(0);
    worker.freeze().expect("freeze");
    worker.scope(|s| {
        let cancelled = s.spawn(move || drop(token));
        assert!(cancelled.cancel(), "a frozen worker has not started it");
        assert_eq!(drops.load(Ordering::SeqCst), 1, "dropped at the cancel");
        assert!(matches!(cancelled.join(), Err(JobError::Cancelled)));
        let counted: Vec<_> = (0..10)
            .map(|_| {
                let token = DropCounter::on(&drops);
                let ran = &ran;
                s.spawn(move || {
                    ran.fetch_add(1, Ordering::SeqCst);
                    drop(token);
                })
            })
            .collect();
        assert!(counted.iter().all(|j| !j.is_finished()));
        worker.thaw().expect("thaw");
    });
    assert_eq!(ran.load(Ordering::SeqCst), 10);
    assert_eq!(drops.load(Ordering::SeqCst), 11);
}

#[test]
fn a_refused_job_fails_its_join_and_an_unjoined_one_panics_the_scope() {
    let _guard = test_guard();
    let pool = Pool::new("scope-refused").expect("pool");
    pool.destroy().expect("destroy");
    let (token, drops) = DropCounter::new();
    let joined = pool.scope(|s| s.spawn(move || drop(token)).join());
    assert!(matches!(joined, Err(JobError::Refused(_))), "{joined:?}");
    assert_eq!(drops.load(Ordering::SeqCst), 1, "dropped at the refusal");
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        pool.scope(|s| {
            s.spawn(|| ());
        });
    }));
    let payload = outcome.expect_err("an unjoined refusal panics the scope");
    let message = payload
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default();
    assert_eq!(message, "a scoped job was refused by its queue");
}

#[test]
fn ten_thousand_borrowing_jobs_on_two_threads() {
    let _guard = test_guard();
    let pool = fixed_pool("scope-many", 2);
    let input: Vec<u64> = (0..10_000).collect();
    let mut output = vec![0u64; 10_000];
    pool.scope(|s| {
        for (out, x) in output.iter_mut().zip(&input) {
            s.spawn(move || *out = x * 3);
        }
    });
    assert!(output.iter().zip(&input).all(|(o, x)| *o == x * 3));
    let shared = Arc::new(AtomicUsize::new(0));
    pool.scope(|s| {
        for _ in 0..1000 {
            let shared = shared.clone();
            s.spawn(move || shared.fetch_add(1, Ordering::SeqCst));
        }
    });
    assert_eq!(shared.load(Ordering::SeqCst), 1000);
}
