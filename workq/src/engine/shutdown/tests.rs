//! The shutdown against a timer delivery under way: the delivery is held in the
//! window after its entries left the wheel and before it tells their queue
//! (`delay::test_hook`), and released at a chosen point of the shutdown. Every
//! armed item is run or counted, and each closure is dropped once.

use crate::engine::delay::test_hook;
use crate::engine::timer::Timer;
use crate::engine::RunQueue;
use crate::shutdown::{ArmedAtShutdown, ShutdownReport};
use crate::{ManualClock, Work, Worker};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Every wait of these tests ends by then, or the test fails.
const WATCHDOG: Duration = Duration::from_secs(30);
const TICK: Duration = Duration::from_millis(1);
const ROUNDS: usize = 10;

fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let end = Instant::now() + WATCHDOG;
    while !cond() {
        assert!(Instant::now() < end, "hung: {what}");
        std::thread::yield_now();
    }
}

fn join<T>(what: &str, h: JoinHandle<T>) -> T {
    wait_until(what, || h.is_finished());
    match h.join() {
        Ok(v) => v,
        Err(_) => panic!("{what} panicked"),
    }
}

/// Counts its drops.
struct OnDrop(Arc<AtomicUsize>);

impl Drop for OnDrop {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// An item counting its runs and the drops of its closure.
fn counted(name: &str) -> (Work, Arc<AtomicUsize>, Arc<AtomicUsize>) {
    let runs = Arc::new(AtomicUsize::new(0));
    let drops = Arc::new(AtomicUsize::new(0));
    let (r, guard) = (runs.clone(), OnDrop(drops.clone()));
    let work = Work::named(name, move |_| {
        let _keep = &guard;
        r.fetch_add(1, Ordering::SeqCst);
    });
    (work, runs, drops)
}

/// A thread advancing `clock` by `by`, held inside the delivery (its entries off
/// the wheel, no queue told) until `release`.
struct HeldDelivery {
    go: mpsc::Sender<()>,
    thread: JoinHandle<()>,
}

impl HeldDelivery {
    fn start(clock: &ManualClock, by: Duration) -> HeldDelivery {
        let (held_tx, held_rx) = mpsc::channel();
        let (go_tx, go_rx) = mpsc::channel::<()>();
        let clock = clock.clone();
        let thread = std::thread::spawn(move || {
            let mut once = Some((held_tx, go_rx));
            test_hook::set_before_delivery(move || {
                if let Some((held, go)) = once.take() {
                    let _ = held.send(());
                    let _ = go.recv_timeout(WATCHDOG);
                }
            });
            clock.advance(by);
        });
        assert!(held_rx.recv_timeout(WATCHDOG).is_ok(), "delivery not held");
        HeldDelivery { go: go_tx, thread }
    }

    fn release(self) {
        let _ = self.go.send(());
        join("the delivery", self.thread);
    }
}

fn worker(clock: &ManualClock, armed: ArmedAtShutdown) -> Worker {
    match Worker::builder()
        .name("held-delivery")
        .manual_clock(clock)
        .armed_at_shutdown(armed)
        .build()
    {
        Ok(w) => w,
        Err(e) => panic!("worker: {e}"),
    }
}

fn destroy_on_a_thread(worker: Worker) -> JoinHandle<ShutdownReport> {
    std::thread::spawn(move || match worker.destroy() {
        Ok(report) => report,
        Err(e) => panic!("destroy: {e}"),
    })
}

/// Holds until `destroy` is done or waits for the held delivery.
fn until_done_or_waiting(destroy: &JoinHandle<ShutdownReport>, timer: &Timer) {
    wait_until("destroy done or waiting for the delivery", || {
        destroy.is_finished() || timer.delivery_waiters() > 0
    });
}

/// An item armed before destroy, taken off the wheel by a delivery that reaches
/// its queue only once destroy has closed it (and then waits or is done): the
/// item runs once, whatever the policy (the timer got there first), and is not
/// counted as cancelled or fired.
#[test]
fn an_armed_item_the_timer_took_first_runs_once() {
    for armed in [ArmedAtShutdown::Cancel, ArmedAtShutdown::RunNow] {
        for round in 0..ROUNDS {
            let clock = ManualClock::new();
            let w = worker(&clock, armed);
            let q: Arc<RunQueue> = w.run_queue().clone();
            let (x, runs, drops) = counted("x");
            assert!(w.queue_after(&x, TICK).is_ok());
            let held = HeldDelivery::start(&clock, TICK);
            let destroy = destroy_on_a_thread(w);
            until_done_or_waiting(&destroy, &clock.timer);
            assert!(q.lock().life.closed());
            held.release();
            let report = join("destroy", destroy);
            let what = format!("{armed:?} round {round}: {report}");
            assert_eq!(runs.load(Ordering::SeqCst), 1, "{what}");
            assert_eq!(report.armed_cancelled(), 0, "{what}");
            assert_eq!(report.armed_run(), 0, "{what}");
            assert!(!x.is_pending(), "{what}");
            drop(x);
            assert_eq!(drops.load(Ordering::SeqCst), 1, "{what}");
        }
    }
}

/// An item armed by one of the queue's own items while destroy drains, taken off
/// the wheel by a delivery that reaches the queue only once it has stopped: the
/// delivery cancels it, and destroy counts it in `armed_cancelled` (items armed
/// during the shutdown are cancelled whatever the policy). Its closure never runs
/// and is dropped once.
#[test]
fn an_item_armed_during_destroy_that_the_timer_cancels_is_counted() {
    type Job = Box<dyn FnOnce() + Send>;
    for armed in [ArmedAtShutdown::Cancel, ArmedAtShutdown::RunNow] {
        for round in 0..ROUNDS {
            let clock = ManualClock::new();
            let w = worker(&clock, armed);
            let q: Arc<RunQueue> = w.run_queue().clone();
            let (x, runs, drops) = counted("x");
            // The own item: runs a job handed to it, then waits to be let go.
            let (started_tx, started_rx) = mpsc::channel::<()>();
            let (job_tx, job_rx) = mpsc::channel::<Job>();
            let (done_tx, done_rx) = mpsc::channel::<()>();
            let (armed_tx, armed_rx) = mpsc::channel::<bool>();
            let channels = std::sync::Mutex::new((started_tx, job_rx, done_rx));
            let own = Work::named("own", move |_| {
                let Ok(c) = channels.lock() else { return };
                let _ = c.0.send(());
                if let Ok(job) = c.1.recv_timeout(WATCHDOG) {
                    job();
                }
                let _ = c.2.recv_timeout(WATCHDOG);
            });
            assert!(w.queue(&own).is_ok());
            assert!(started_rx.recv_timeout(WATCHDOG).is_ok());
            let (w2, x2) = (w.clone(), x.clone());
            let destroy = destroy_on_a_thread(w);
            // Past its handling of the items armed at close (it waits in its
            // drain for the own item): `x`, armed from now on, is the timer's.
            wait_until("destroy waits in its drain", || {
                let g = q.lock();
                g.life.closed() && g.waits.blocked() + g.waits.len() > 0
            });
            let arm: Job = Box::new(move || {
                let _ = armed_tx.send(w2.queue_after(&x2, TICK).is_ok());
            });
            assert!(job_tx.send(arm).is_ok());
            assert_eq!(armed_rx.recv_timeout(WATCHDOG), Ok(true), "own item arms");
            let held = HeldDelivery::start(&clock, TICK);
            assert!(done_tx.send(()).is_ok());
            wait_until("destroy stopped the queue", || q.lock().life.stopping());
            until_done_or_waiting(&destroy, &clock.timer);
            held.release();
            let report = join("destroy", destroy);
            let what = format!("{armed:?} round {round}: {report}");
            assert_eq!(report.armed_cancelled(), 1, "{what}");
            assert_eq!(report.armed_run(), 0, "{what}");
            assert_eq!(runs.load(Ordering::SeqCst), 0, "{what}");
            assert!(!x.is_pending(), "{what}");
            drop(x);
            assert_eq!(drops.load(Ordering::SeqCst), 1, "{what}");
        }
    }
}
