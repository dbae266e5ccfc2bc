//! Concurrency models of the state machine, written once and run twice:
//!
//! * under loom (`RUSTFLAGS="--cfg loom" cargo test -p workq --lib --release models`),
//!   which explores every interleaving up to `LOOM_MAX_PREEMPTIONS` preemptions;
//! * under shuttle (`RUSTFLAGS="--cfg shuttle" cargo test -p workq --lib --release
//!   models`), which runs `SHUTTLE_ITERATIONS` random schedules (default 2,000)
//!   from the seed in `SHUTTLE_SEED` (default: from the clock, printed, so that a
//!   failure can be replayed);
//! * on real threads in the ordinary `cargo test`, repeated many times.
//!
//! Each model drives a [`RunQueue`] directly: one model thread plays the consumer
//! by calling `run_one`, so no hidden thread is involved.

mod pool;

use crate::engine::ManualClock;
use crate::engine::{QueueCall, RunQueue};
use crate::front::work::{Queued, Work};
use crate::support::sync::{thread, Arc, AtomicUsize, Ordering};

#[cfg(loom)]
fn model<F: Fn() + Sync + Send + 'static>(f: F) {
    let mut builder = loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(2);
    }
    builder.check(f);
}

#[cfg(all(shuttle, not(loom)))]
fn model<F: Fn() + Sync + Send + 'static>(f: F) {
    let env = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u64>().ok());
    let seed = env("SHUTTLE_SEED").unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
    });
    let iterations = env("SHUTTLE_ITERATIONS").unwrap_or(2_000) as usize;
    eprintln!("shuttle: seed {seed} ({iterations} schedules); replay with SHUTTLE_SEED={seed}");
    shuttle::check_random_with_seed(f, seed, iterations);
}

#[cfg(not(any(loom, shuttle)))]
fn model<F: Fn() + Sync + Send + 'static>(f: F) {
    for _ in 0..300 {
        f();
    }
}

/// An item that counts its runs, records the value of `data` it saw, and fails the
/// model if two runs of it ever overlap.
struct Probe {
    work: Work,
    runs: Arc<AtomicUsize>,
    seen: Arc<AtomicUsize>,
    data: Arc<AtomicUsize>,
}

fn probe() -> Probe {
    probe_then(|_, _| {})
}

/// A probe whose closure ends its run `n` (counted from 0) with `then(ctx, n)`.
fn probe_then(then: impl Fn(&crate::WorkCtx<'_>, usize) + Send + Sync + 'static) -> Probe {
    let runs = Arc::new(AtomicUsize::new(0));
    let seen = Arc::new(AtomicUsize::new(0));
    let data = Arc::new(AtomicUsize::new(0));
    let active = Arc::new(AtomicUsize::new(0));
    let (r, s, d) = (runs.clone(), seen.clone(), data.clone());
    let work = Work::named("probe", move |ctx| {
        assert_eq!(active.fetch_add(1, Ordering::Relaxed), 0, "runs overlapped");
        s.store(d.load(Ordering::Relaxed), Ordering::Relaxed);
        then(ctx, r.fetch_add(1, Ordering::Relaxed));
        active.fetch_sub(1, Ordering::Relaxed);
    });
    Probe {
        work,
        runs,
        seen,
        data,
    }
}

/// The probe's last run saw the value 1 its caller stored in `data` before the
/// queue call (I2).
fn assert_saw_the_write(p: &Probe) {
    assert_eq!(
        p.seen.load(Ordering::Relaxed),
        1,
        "the last run missed the write made before the queue call"
    );
}

/// A probe queued once on `q` (the call must schedule a run).
fn queued_probe(q: &Arc<RunQueue>) -> Probe {
    let p = probe();
    assert_eq!(
        RunQueue::enqueue(q, &p.work.inner).ok(),
        Some(Queued::Scheduled)
    );
    p
}

fn queue() -> Arc<RunQueue> {
    queue_on("model", ManualClock::new())
}

/// A single-consumer queue (like a worker's) whose timers `clock` drives.
fn queue_on(name: &str, clock: ManualClock) -> Arc<RunQueue> {
    RunQueue::for_test(name, 1, clock.timer)
}

fn drain(q: &Arc<RunQueue>) {
    while RunQueue::run_one(q) {}
}

/// A consumer loop on `q` (like a worker's thread), on a thread of the model.
fn start_consumer(q: &Arc<RunQueue>) -> thread::JoinHandle<()> {
    let q = q.clone();
    thread::spawn(move || RunQueue::consume(&q, None))
}

/// Stops `q` and joins its consumer loop (which runs what is left first).
fn stop_consumer(q: &Arc<RunQueue>, consumer: thread::JoinHandle<()>) {
    q.stop_for_test();
    consumer.join().expect("consumer");
}

fn assert_idle(q: &Arc<RunQueue>, work: &Work) {
    let s = work.inner.state.peek();
    assert!(s.is_idle(), "state {s:?} is not idle");
    assert!(work.inner.bound_queue().is_none(), "idle item still bound");
    let g = q.lock();
    assert!(g.lists_empty());
    assert_eq!(g.colors.outstanding(), 0);
}

/// A queue call racing the end of a run: the write made before the call is seen
/// by a run that starts after it, whatever the call reported (I2).
#[test]
fn models_queue_vs_run() {
    model(|| {
        let q = queue();
        let p = queued_probe(&q);
        let (q2, w2, d2) = (q.clone(), p.work.clone(), p.data.clone());
        let producer = thread::spawn(move || {
            d2.store(1, Ordering::Relaxed);
            RunQueue::enqueue(&q2, &w2.inner)
        });
        let q3 = q.clone();
        let runner = thread::spawn(move || RunQueue::run_one(&q3));
        let outcome = producer.join().expect("producer").expect("queue call");
        assert!(runner.join().expect("runner"));
        drain(&q);
        assert_saw_the_write(&p);
        let expected = 1 + usize::from(outcome.added_run());
        assert_eq!(p.runs.load(Ordering::Relaxed), expected);
        assert_idle(&q, &p.work);
    });
}

/// The same race for an arm call (`queue_after` on a pending item), whose
/// already-pending answer is checked with a load first (`enqueue_with`): the
/// write made before the call is seen by a run that starts after it.
#[test]
fn models_arm_vs_run() {
    model(|| {
        let (q, clock) = timed_queue();
        let p = queued_probe(&q);
        let (q2, w2, d2) = (q.clone(), p.work.clone(), p.data.clone());
        let producer = thread::spawn(move || {
            d2.store(1, Ordering::Relaxed);
            RunQueue::enqueue_with(&q2, &w2.inner, QueueCall::NOW.due(Some(1)))
        });
        let q3 = q.clone();
        let runner = thread::spawn(move || RunQueue::run_one(&q3));
        let outcome = producer.join().expect("producer").expect("arm call");
        assert!(runner.join().expect("runner"));
        clock.advance(std::time::Duration::from_millis(1));
        drain(&q);
        assert_saw_the_write(&p);
        let expected = 1 + usize::from(outcome.added_run());
        assert_eq!(p.runs.load(Ordering::Relaxed), expected);
        assert_eq!(clock.armed(), 0);
        assert_idle(&q, &p.work);
    });
}

/// A queue call racing a cancel of the pending run.
#[test]
fn models_queue_vs_cancel() {
    model(|| {
        let q = queue();
        let p = queued_probe(&q);
        let (q2, w2) = (q.clone(), p.work.clone());
        let producer = thread::spawn(move || RunQueue::enqueue(&q2, &w2.inner));
        let w3 = p.work.clone();
        let canceller = thread::spawn(move || w3.cancel());
        let outcome = producer.join().expect("producer").expect("queue call");
        let cancelled = canceller.join().expect("canceller");
        drain(&q);
        assert!(cancelled, "the item was pending when cancel was called");
        // Either cancel removed the first run and the call scheduled a new one, or
        // the call found it pending and cancel removed that one run.
        let runs = p.runs.load(Ordering::Relaxed);
        assert_eq!(runs, usize::from(outcome == Queued::Scheduled));
        assert_idle(&q, &p.work);
    });
}

/// Two `cancel_sync` calls racing each other and the runner: both return, at most
/// one removed the pending run, and afterwards nothing is pending or running.
#[test]
fn models_cancel_sync_vs_cancel_sync() {
    model(|| {
        let q = queue();
        let p = queued_probe(&q);
        let q2 = q.clone();
        let runner = thread::spawn(move || RunQueue::run_one(&q2));
        let (w1, w2) = (p.work.clone(), p.work.clone());
        let c1 = thread::spawn(move || w1.cancel_sync());
        let c2 = w2.cancel_sync().expect("cancel_sync");
        let c1 = c1.join().expect("c1").expect("cancel_sync");
        let ran = runner.join().expect("runner");
        let s = p.work.inner.state.peek();
        assert!(s.is_idle(), "state {s:?} is not idle");
        let runs = p.runs.load(Ordering::Relaxed);
        assert_eq!(usize::from(c1) + usize::from(c2) + runs, 1);
        assert_eq!(ran, runs == 1);
        assert_idle(&q, &p.work);
    });
}

/// An item that re-queues itself from every run, cancelled by `cancel_sync`: when
/// the cancel returns nothing is pending or running, and nothing runs later.
#[test]
fn models_self_requeue_vs_cancel_sync() {
    model(|| {
        let q = queue();
        let runs = Arc::new(AtomicUsize::new(0));
        let r = runs.clone();
        let work = Work::new(move |ctx| {
            r.fetch_add(1, Ordering::Relaxed);
            let _ = ctx.requeue();
        });
        assert!(RunQueue::enqueue(&q, &work.inner).is_ok());
        let q2 = q.clone();
        let runner = thread::spawn(move || {
            let mut n = 0;
            while n < 2 && RunQueue::run_one(&q2) {
                n += 1;
            }
        });
        work.cancel_sync().expect("cancel_sync");
        let s = work.inner.state.peek();
        assert!(s.is_idle(), "busy after cancel_sync: {s:?}");
        let after_cancel = runs.load(Ordering::Relaxed);
        runner.join().expect("runner");
        drain(&q);
        assert_eq!(
            runs.load(Ordering::Relaxed),
            after_cancel,
            "ran after cancel_sync"
        );
        assert_idle(&q, &work);
    });
}

/// Flushing an item racing its run: flush returns only once the run has finished.
#[test]
fn models_flush_vs_run() {
    model(|| {
        let q = queue();
        let p = queued_probe(&q);
        let q2 = q.clone();
        let runner = thread::spawn(move || RunQueue::run_one(&q2));
        let waited = p.work.flush().expect("flush");
        assert_eq!(
            p.runs.load(Ordering::Relaxed),
            1,
            "flush returned before the run"
        );
        assert!(waited || p.runs.load(Ordering::Relaxed) == 1);
        assert!(runner.join().expect("runner"));
        assert_idle(&q, &p.work);
    });
}

/// A queue driven by a manual clock, and the clock.
fn timed_queue() -> (Arc<RunQueue>, ManualClock) {
    let clock = ManualClock::new();
    let q = queue_on("timed-model", clock.clone());
    (q, clock)
}

/// cancel racing the timer's firing and a runner: if cancel reports that it
/// removed the run, the item never runs; otherwise it runs exactly once.
#[test]
fn models_cancel_vs_timer() {
    model(|| {
        let (q, clock) = timed_queue();
        let p = probe();
        let armed = RunQueue::enqueue_with(&q, &p.work.inner, QueueCall::NOW.due(Some(10)));
        assert_eq!(armed.ok(), Some(Queued::Scheduled));
        let c2 = clock.clone();
        let firing = thread::spawn(move || c2.advance(std::time::Duration::from_millis(10)));
        let q2 = q.clone();
        let runner = thread::spawn(move || RunQueue::run_one(&q2));
        let cancelled = p.work.cancel();
        firing.join().expect("timer");
        let ran = runner.join().expect("runner");
        drain(&q);
        let runs = p.runs.load(Ordering::Relaxed);
        assert_eq!(runs, usize::from(!cancelled), "cancelled: {cancelled}");
        assert_eq!(ran, runs == 1);
        assert_eq!(clock.armed(), 0);
        assert_idle(&q, &p.work);
    });
}

/// cancel_sync racing a firing timer and modify (the race of the kernel's 2021
/// fix): when cancel_sync returns nothing is running; a modify that overlapped
/// the cancel failed; only a modify after the cancel can make the item run again.
#[test]
fn models_cancel_sync_vs_timer_vs_modify() {
    model(|| {
        let (q, clock) = timed_queue();
        let p = probe();
        assert!(RunQueue::enqueue_with(&q, &p.work.inner, QueueCall::NOW.due(Some(10))).is_ok());
        let c2 = clock.clone();
        let firing = thread::spawn(move || c2.advance(std::time::Duration::from_millis(10)));
        let (q2, w2) = (q.clone(), p.work.clone());
        let modifier =
            thread::spawn(move || RunQueue::modify(&q2, &w2.inner, QueueCall::NOW.due(Some(5))));
        p.work.cancel_sync().expect("cancel_sync");
        let s = p.work.inner.state.peek();
        assert!(!s.is_running(), "running after cancel_sync: {s:?}");
        assert_eq!(
            p.runs.load(Ordering::Relaxed),
            0,
            "nothing ran: there is no runner yet"
        );
        firing.join().expect("timer");
        let modified = modifier.join().expect("modifier");
        // Fire whatever is still armed, then run whatever is queued.
        clock.advance(std::time::Duration::from_millis(100));
        drain(&q);
        let runs = p.runs.load(Ordering::Relaxed);
        assert!(runs <= 1);
        if modified.is_err() {
            assert_eq!(runs, 0, "a modify refused during the cancel still ran");
        }
        assert_eq!(clock.armed(), 0);
        assert_idle(&q, &p.work);
    });
}

/// An item armed while it runs, whose timer fires before the run ends, runs once
/// more after the run, never concurrently.
#[test]
fn models_armed_while_running() {
    model(|| {
        let (q, clock) = timed_queue();
        let p = probe();
        assert!(RunQueue::enqueue(&q, &p.work.inner).is_ok());
        let q2 = q.clone();
        let runner = thread::spawn(move || RunQueue::run_one(&q2));
        let outcome =
            RunQueue::enqueue_with(&q, &p.work.inner, QueueCall::NOW.due(Some(1))).expect("arm");
        clock.advance(std::time::Duration::from_millis(1));
        assert!(runner.join().expect("runner"));
        drain(&q);
        let expected = 1 + usize::from(outcome.added_run());
        assert_eq!(p.runs.load(Ordering::Relaxed), expected);
        assert_idle(&q, &p.work);
    });
}

/// Two consumers on one queue (a pool) and a queue call racing them: an item
/// queued while it runs on one consumer is never started by the other until that
/// run ends (the deferred re-queue), and the call's write is seen.
#[test]
fn models_two_consumers_no_overlap() {
    model(|| {
        let q = queue_on("pool-model", ManualClock::new());
        let p = queued_probe(&q);
        let (q1, q2) = (q.clone(), q.clone());
        let a = thread::spawn(move || RunQueue::run_one(&q1));
        let b = thread::spawn(move || RunQueue::run_one(&q2));
        p.data.store(1, Ordering::Relaxed);
        let outcome = RunQueue::enqueue(&q, &p.work.inner).expect("queue");
        let ran = usize::from(a.join().expect("a")) + usize::from(b.join().expect("b"));
        drain(&q);
        let expected = 1 + usize::from(outcome.added_run());
        assert_eq!(p.runs.load(Ordering::Relaxed), expected);
        assert!(ran >= 1);
        assert_saw_the_write(&p);
        assert_idle(&q, &p.work);
    });
}

/// A consumer loop that may go to sleep racing a queue call of an idle item: the
/// call either puts the item on the inbox while the consumer is awake (which then
/// takes it before it sleeps) or finds the inbox closed and wakes the consumer.
/// An item left on the inbox with the consumer asleep would hang the flush below
/// (loom reports it as a deadlock; elsewhere the test watchdog fails it) (I22).
#[test]
fn models_inbox_vs_sleeping_consumer() {
    model(|| {
        let q = queue();
        let p = probe();
        // A lock released with the one consumer counted and awake opens the inbox.
        drop(q.lock());
        let consumer = start_consumer(&q);
        p.data.store(1, Ordering::Relaxed);
        assert_eq!(
            RunQueue::enqueue(&q, &p.work.inner).ok(),
            Some(Queued::Scheduled)
        );
        RunQueue::flush_item(&p.work.inner).expect("flush");
        assert_eq!(p.runs.load(Ordering::Relaxed), 1);
        assert_saw_the_write(&p);
        stop_consumer(&q, consumer);
        assert_idle(&q, &p.work);
    });
}

/// An item that queues itself again from its first run, on a consumer loop (whose
/// run's end starts such a run again in place, `Then::Again`), racing a queue
/// call from another thread: runs never overlap, the last run sees the call's
/// write, at most one run more than the two asked for by the item happens, and
/// two flushes wait for them all.
#[test]
fn models_run_again_in_place_vs_queue() {
    model(|| {
        let q = queue();
        let p = probe_then(|ctx, n| {
            if n == 0 {
                let _ = ctx.requeue();
            }
        });
        assert_eq!(
            RunQueue::enqueue(&q, &p.work.inner).ok(),
            Some(Queued::Scheduled)
        );
        let consumer = start_consumer(&q);
        p.data.store(1, Ordering::Relaxed);
        let outcome = RunQueue::enqueue(&q, &p.work.inner).expect("queue");
        // The first flush waits for the runs queued so far; the second for the one
        // the first run queued (queued after the first flush began).
        RunQueue::flush_item(&p.work.inner).expect("flush");
        RunQueue::flush_item(&p.work.inner).expect("second flush");
        let n = p.runs.load(Ordering::Relaxed);
        assert!((2..=3).contains(&n), "{n} runs ({outcome:?})");
        assert_saw_the_write(&p);
        stop_consumer(&q, consumer);
        assert_eq!(p.runs.load(Ordering::Relaxed), n, "a run after the flush");
        assert_idle(&q, &p.work);
    });
}

/// A queue call racing a consumer loop's run of the item (the call may add the
/// next run without the lock, `UNCOUNTED`), then a queue flush: the flush waits
/// for every run the call added, and the last run sees the call's write.
#[test]
fn models_rerun_without_lock_vs_queue_flush() {
    model(|| {
        let q = queue();
        let p = queued_probe(&q);
        let consumer = start_consumer(&q);
        p.data.store(1, Ordering::Relaxed);
        let outcome = RunQueue::enqueue(&q, &p.work.inner).expect("queue");
        q.flush().expect("flush");
        let expected = 1 + usize::from(outcome.added_run());
        assert_eq!(
            p.runs.load(Ordering::Relaxed),
            expected,
            "the flush returned before a run queued before it ({outcome:?})"
        );
        assert_saw_the_write(&p);
        stop_consumer(&q, consumer);
        assert_idle(&q, &p.work);
    });
}

/// A cancel racing a run's end and a new queue call of the item: whether the new
/// run is on the list or still on the inbox when the cancel looks, every run added
/// is either run or removed by the cancel, exactly once (I22).
#[test]
fn models_cancel_vs_requeue_through_inbox() {
    model(|| {
        let q = queue();
        let p = queued_probe(&q);
        let q1 = q.clone();
        let runner = thread::spawn(move || RunQueue::run_one(&q1));
        let (q2, w2) = (q.clone(), p.work.clone());
        let producer = thread::spawn(move || RunQueue::enqueue(&q2, &w2.inner));
        let cancelled = p.work.cancel();
        runner.join().expect("runner");
        let outcome = producer.join().expect("producer").expect("queue call");
        drain(&q);
        let added = 1 + usize::from(outcome.added_run());
        assert_eq!(
            p.runs.load(Ordering::Relaxed) + usize::from(cancelled),
            added,
            "a run was lost or ran twice"
        );
        assert_idle(&q, &p.work);
    });
}

/// Lets events queue their handler straight onto a model queue.
struct ModelTarget(Arc<RunQueue>);

impl crate::Submit for ModelTarget {
    fn submit(&self, work: &Work) -> Result<Queued, crate::Error> {
        RunQueue::enqueue(&self.0, &work.inner)
    }

    fn target_name(&self) -> &str {
        "model"
    }
}

/// Two threads raising counted events while the handler runs: every raise is seen
/// by a handler run, counts add up exactly.
#[test]
fn models_raise_vs_take() {
    model(|| {
        let q = queue_on("events-model", ManualClock::new());
        let seen = Arc::new(AtomicUsize::new(0));
        let s = seen.clone();
        let events = crate::Events::builder("ev")
            .kinds(2)
            .counted(true)
            .backlog_age(None)
            .build(ModelTarget(q.clone()), move |raised, _| {
                let n: u64 = raised.iter().map(|(_, c)| c).sum();
                s.fetch_add(n as usize, Ordering::Relaxed);
            })
            .expect("events");
        let events = Arc::new(events);
        let (e1, e2) = (events.clone(), events.clone());
        let r1 = thread::spawn(move || e1.raise(0).map(drop));
        let r2 = thread::spawn(move || e2.raise(1).map(drop));
        let q2 = q.clone();
        let runner = thread::spawn(move || RunQueue::run_one(&q2));
        r1.join().expect("r1").expect("raise 0");
        r2.join().expect("r2").expect("raise 1");
        runner.join().expect("runner");
        drain(&q);
        assert_eq!(seen.load(Ordering::Relaxed), 2, "a raise was lost");
        let st = events.stats();
        assert_eq!(st.raised, vec![1, 1]);
        assert_eq!(st.seen, vec![1, 1]);
    });
}

/// A pool in miniature, for randomised schedules (shuttle) and real threads (too
/// big for loom's exhaustive search): two consumers, two producers mixing queue,
/// cancel, cancel_sync and flush on two items. No run overlaps another of the same
/// item, every queue call that returned a new run is matched by a run or a cancel,
/// and everything ends idle.
#[cfg(not(loom))]
#[test]
fn models_pool_mixed_operations() {
    model(|| {
        let q = RunQueue::for_test("pool-mixed", 2, ManualClock::new().timer);
        let items = Arc::new([probe(), probe()]);
        let consumers: Vec<_> = (0..2)
            .map(|_| {
                let q = q.clone();
                thread::spawn(move || {
                    for _ in 0..4 {
                        RunQueue::run_one(&q);
                        thread::yield_now();
                    }
                })
            })
            .collect();
        let producers: Vec<_> = (0..2)
            .map(|p| {
                let (q, items) = (q.clone(), items.clone());
                thread::spawn(move || {
                    for step in 0..3 {
                        let item = &items[(p + step) % 2].work;
                        match (p + step) % 4 {
                            0 | 1 => {
                                let _ = RunQueue::enqueue(&q, &item.inner);
                            }
                            2 => {
                                let _ = item.cancel();
                            }
                            _ => {
                                let _ = item.cancel_sync();
                            }
                        }
                    }
                })
            })
            .collect();
        for t in producers {
            t.join().expect("producer");
        }
        for t in consumers {
            t.join().expect("consumer");
        }
        drain(&q);
        for p in items.iter() {
            assert_idle(&q, &p.work);
        }
        assert_eq!(q.lock().runs.running(), 0);
    });
}
