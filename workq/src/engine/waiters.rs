//! Who waits on a queue, and for what: one wait primitive for blocked threads
//! and futures alike.
//!
//! A waiter holds a *ticket* for one kind of wait:
//!
//! * [`Until::Color`]: a queue flush (and each round of a drain) waits until a
//!   flush colour is done. Its ticket is keyed by the colour and is woken only
//!   when the flush colours complete that colour: a run's end that completes no
//!   colour wakes no flusher, however many wait.
//! * [`Until::Item`]: an item's flush and `cancel_sync`'s wait for a run to
//!   end wait for one item. A run's end wakes only the tickets of its own item
//!   (`wake` with its key); every other change the queue reports wakes them all (a
//!   cancel, a discard, a shutdown: the rarer changes need no key).
//! * [`Until::Change`]: every other wait (freeze, an owner's unregister, room in
//!   a bounded queue, a shutdown's deadline) re-checks its condition at each
//!   change the queue reports (`RunQueue::notify_done`).
//!
//! A ticket is either a blocked thread (its own condition variable, so that it
//! alone is woken) or a task's `Waker`. Wake-ups are collected under the queue's
//! lock and sent by the lock guard once the lock is released (`guard.rs`), so no
//! waker runs under a workq lock. A ticket is removed by its owner when the wait
//! ends or is abandoned (a dropped future), and by the wake-up that consumes it.

use crate::support::sync::{Arc, Condvar};
use std::collections::{BTreeMap, HashMap};
use std::task::Waker;

/// What a waiter waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Until {
    /// The flush colour is done (every run counted under it or earlier finished).
    Color(u64),
    /// A change to one item (`item_key`): its run ended, or the queue reported
    /// any change other than a run's end.
    Item(usize),
    /// Any change the queue reports.
    Change,
}

/// The key of an item's tickets: its address, stable while a waiter holds it.
pub(crate) fn item_key(work: &crate::engine::item::WorkInner) -> usize {
    work as *const crate::engine::item::WorkInner as usize
}

/// Who is waiting.
pub(crate) enum Who {
    /// A blocked thread, woken through its own condition variable.
    Thread(Arc<Condvar>),
    /// A future, woken through its task's waker.
    Task(Waker),
}

/// A registered wait; handed back to remove it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Ticket {
    until: Until,
    id: u64,
}

/// The queue's waiters (behind the queue's lock). Small while nobody waits
/// (the tickets live in a box made by the first registration), since it sits
/// in the state every run's end touches.
#[derive(Default)]
pub(crate) struct Waiters {
    /// Blocked threads waiting for any change, on the queue's `done_cv`.
    blocked: usize,
    tickets: Option<Box<Tickets>>,
}

#[derive(Default)]
struct Tickets {
    next_id: u64,
    /// Waiting for a flush colour, ordered by colour: the done ones come first.
    by_color: BTreeMap<(u64, u64), Who>,
    /// Waiting for a change to one item, by item key.
    by_item: BTreeMap<(usize, u64), Who>,
    /// Waiting for any change.
    on_change: HashMap<u64, Who>,
    /// Tasks to wake once the lock is released.
    tasks_due: Vec<Waker>,
    /// Threads to wake once the lock is released.
    threads_due: Vec<Arc<Condvar>>,
    /// Wake-ups sent so far (tickets consumed), for tests.
    woken: u64,
}

impl Waiters {
    /// Registers `who` as waiting for `until`.
    pub(crate) fn register(&mut self, until: Until, who: Who) -> Ticket {
        let t = self.tickets.get_or_insert_with(Box::default);
        let id = t.next_id;
        t.next_id += 1;
        match until {
            Until::Color(color) => {
                t.by_color.insert((color, id), who);
            }
            Until::Item(key) => {
                t.by_item.insert((key, id), who);
            }
            Until::Change => {
                t.on_change.insert(id, who);
            }
        }
        Ticket { until, id }
    }

    /// Removes `ticket` if it is still registered (its wait ended or was
    /// abandoned). Returns whether it was.
    pub(crate) fn remove(&mut self, ticket: Ticket) -> bool {
        let Some(t) = self.tickets.as_mut() else {
            return false;
        };
        match ticket.until {
            Until::Color(color) => t.by_color.remove(&(color, ticket.id)).is_some(),
            Until::Item(key) => t.by_item.remove(&(key, ticket.id)).is_some(),
            Until::Change => t.on_change.remove(&ticket.id).is_some(),
        }
    }

    /// Whether a ticket is registered (its wake-up has not come yet).
    #[cfg(test)]
    pub(crate) fn holds(&self, ticket: Ticket) -> bool {
        self.tickets.as_ref().is_some_and(|t| match ticket.until {
            Until::Color(color) => t.by_color.contains_key(&(color, ticket.id)),
            Until::Item(key) => t.by_item.contains_key(&(key, ticket.id)),
            Until::Change => t.on_change.contains_key(&ticket.id),
        })
    }

    /// A change was reported: every `Change` ticket is due, every `Color`
    /// ticket whose colour `is_done` says is done, and the `Item` tickets of
    /// `item` (a run of it ended), or of every item (`None`: any other change).
    #[inline]
    pub(crate) fn wake(&mut self, item: Option<usize>, is_done: impl Fn(u64) -> bool) {
        if let Some(t) = self.tickets.as_mut() {
            if !t.on_change.is_empty() || !t.by_color.is_empty() || !t.by_item.is_empty() {
                t.wake_changed(is_done);
                t.wake_items(item);
            }
        }
    }

    /// Whether wake-ups wait to be sent.
    #[inline]
    pub(crate) fn has_due(&self) -> bool {
        self.tickets
            .as_ref()
            .is_some_and(|t| !t.tasks_due.is_empty() || !t.threads_due.is_empty())
    }

    /// Takes the wake-ups to send once the lock is released.
    pub(crate) fn take_due(&mut self) -> (Vec<Waker>, Vec<Arc<Condvar>>) {
        match self.tickets.as_mut() {
            Some(t) => (
                std::mem::take(&mut t.tasks_due),
                std::mem::take(&mut t.threads_due),
            ),
            None => (Vec::new(), Vec::new()),
        }
    }

    /// A thread blocks on the queue's `done_cv` until the next change.
    pub(crate) fn block(&mut self) {
        self.blocked += 1;
    }

    /// The thread that blocked is awake again.
    pub(crate) fn unblock(&mut self) {
        debug_assert!(self.blocked > 0, "unblock without block");
        self.blocked -= 1;
    }

    /// Threads blocked on `done_cv`.
    #[inline]
    pub(crate) fn blocked(&self) -> usize {
        self.blocked
    }

    /// Registered tickets (blocked threads and futures).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.tickets.as_ref().map_or(0, |t| {
            t.by_color.len() + t.by_item.len() + t.on_change.len()
        })
    }

    /// Wake-ups sent so far.
    #[cfg(test)]
    pub(crate) fn woken(&self) -> u64 {
        self.tickets.as_ref().map_or(0, |t| t.woken)
    }
}

impl Tickets {
    fn wake_changed(&mut self, is_done: impl Fn(u64) -> bool) {
        if !self.on_change.is_empty() {
            let all = std::mem::take(&mut self.on_change);
            for who in all.into_values() {
                self.due(who);
            }
        }
        while let Some(entry) = self.by_color.first_entry() {
            if !is_done(entry.key().0) {
                break;
            }
            let who = entry.remove();
            self.due(who);
        }
    }

    /// Makes the `Item` tickets of `item` due (`None`: of every item).
    fn wake_items(&mut self, item: Option<usize>) {
        match item {
            None => {
                for who in std::mem::take(&mut self.by_item).into_values() {
                    self.due(who);
                }
            }
            Some(key) => {
                while let Some(entry) = self.by_item.range((key, 0)..=(key, u64::MAX)).next() {
                    let k = *entry.0;
                    if let Some(who) = self.by_item.remove(&k) {
                        self.due(who);
                    }
                }
            }
        }
    }

    fn due(&mut self, who: Who) {
        self.woken += 1;
        match who {
            Who::Thread(cv) => self.threads_due.push(cv),
            Who::Task(waker) => self.tasks_due.push(waker),
        }
    }
}

#[cfg(all(test, not(any(loom, shuttle))))]
mod tests {
    use super::*;
    use crate::{Work, Worker};
    use std::future::Future;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::Wake;
    use std::time::{Duration, Instant};

    /// A waker that counts its wake-ups.
    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: std::sync::Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn colour_tickets_wake_only_when_their_colour_is_done() {
        let mut w = Waiters::default();
        let count = std::sync::Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(count.clone());
        let t5 = w.register(Until::Color(5), Who::Task(waker.clone()));
        let t9 = w.register(Until::Color(9), Who::Task(waker.clone()));
        let any = w.register(Until::Change, Who::Task(waker));
        w.wake(None, |c| c < 5);
        assert!(w.holds(t5) && w.holds(t9), "colour 5 is not done yet");
        assert!(!w.holds(any), "a change wakes the Change tickets");
        w.wake(None, |c| c < 6);
        assert!(!w.holds(t5));
        assert!(w.holds(t9));
        assert!(w.remove(t9), "an abandoned wait removes its ticket");
        assert!(!w.remove(t9));
        assert_eq!(w.len(), 0);
        let (tasks, threads) = w.take_due();
        assert_eq!((tasks.len(), threads.len(), w.woken()), (2, 0, 2));
        tasks.into_iter().for_each(Waker::wake);
        assert_eq!(count.0.load(Ordering::SeqCst), 2);
    }

    const BACKLOG: usize = 10_000;
    const WATCHDOG: Duration = Duration::from_secs(120);

    /// A frozen worker holding `BACKLOG` items that count their runs.
    fn held_backlog(name: &str) -> (Worker, Vec<Work>, std::sync::Arc<AtomicUsize>) {
        let worker = match Worker::builder().name(name).freezable(true).build() {
            Ok(w) => w,
            Err(e) => panic!("worker: {e}"),
        };
        assert!(worker.freeze().is_ok());
        let runs = std::sync::Arc::new(AtomicUsize::new(0));
        let items: Vec<Work> = (0..BACKLOG)
            .map(|_| {
                let r = runs.clone();
                Work::new(move |_| {
                    r.fetch_add(1, Ordering::Relaxed);
                })
            })
            .collect();
        for item in &items {
            assert!(worker.queue(item).is_ok());
        }
        (worker, items, runs)
    }

    fn until(what: &str, mut done: impl FnMut() -> bool) {
        let end = Instant::now() + WATCHDOG;
        while !done() {
            assert!(Instant::now() < end, "watchdog: {what}");
            std::thread::yield_now();
        }
    }

    /// Issue 21: a flusher is woken when its flush can be done, not once per
    /// finished run (it used to be woken 10,000 times here).
    #[test]
    fn a_blocking_flusher_is_woken_once_while_a_backlog_drains() {
        let (worker, _items, runs) = held_backlog("woken-once");
        let q = worker.run_queue().clone();
        let w2 = worker.clone();
        let flusher = std::thread::spawn(move || w2.flush());
        until("the flusher waits", || q.lock().waits.len() == 1);
        let before = q.lock().waits.woken();
        assert!(worker.thaw().is_ok());
        assert!(matches!(flusher.join().ok(), Some(Ok(true))));
        assert_eq!(runs.load(Ordering::Relaxed), BACKLOG);
        let woken = q.lock().waits.woken() - before;
        assert!(woken <= 2, "the flusher was woken {woken} times");
    }

    /// Issue 21: an item's flush (and `cancel_sync`'s wait for its run) is
    /// woken by that item's runs and by the queue's other changes, not by the
    /// runs of other items: the last of a 10,000-item backlog is flushed with a
    /// few wake-ups (it used to be woken once per run).
    #[test]
    fn an_item_flusher_is_not_woken_by_other_items_runs() {
        let (worker, items, runs) = held_backlog("item-woken");
        let q = worker.run_queue().clone();
        let last = items[BACKLOG - 1].clone();
        let flusher = std::thread::spawn(move || last.flush());
        until("the item flusher waits", || q.lock().waits.len() == 1);
        let before = q.lock().waits.woken();
        assert!(worker.thaw().is_ok());
        assert!(matches!(flusher.join().ok(), Some(Ok(true))));
        assert_eq!(runs.load(Ordering::Relaxed), BACKLOG);
        let woken = q.lock().waits.woken() - before;
        assert!(woken <= 3, "the item flusher was woken {woken} times");
    }

    #[test]
    fn item_tickets_wake_on_their_item_or_any_other_change() {
        let mut w = Waiters::default();
        let waker = Waker::from(std::sync::Arc::new(Count(AtomicUsize::new(0))));
        let a = w.register(Until::Item(1), Who::Task(waker.clone()));
        let b = w.register(Until::Item(2), Who::Task(waker.clone()));
        let b2 = w.register(Until::Item(2), Who::Task(waker.clone()));
        w.wake(Some(3), |_| false);
        assert!(
            w.holds(a) && w.holds(b) && w.holds(b2),
            "another item's run"
        );
        w.wake(Some(2), |_| false);
        assert!(w.holds(a) && !w.holds(b) && !w.holds(b2), "item 2's run");
        w.wake(None, |_| false);
        assert!(!w.holds(a), "any other change wakes every item ticket");
        assert_eq!((w.len(), w.woken()), (0, 3));
    }

    /// 4,000 `flush_async` futures, polled whenever woken (as an executor
    /// would), are each polled a small constant number of times while a backlog
    /// drains, not once per finished run.
    #[test]
    fn many_flush_async_waiters_are_each_woken_a_constant_number_of_times() {
        const WAITERS: usize = 4_000;
        let (worker, _items, runs) = held_backlog("many-waiters");
        let mut futures: Vec<_> = (0..WAITERS)
            .map(|_| {
                let flag = std::sync::Arc::new(Count(AtomicUsize::new(0)));
                (Box::pin(worker.flush_async()), flag, 0usize, false)
            })
            .collect();
        let mut polls = 0usize;
        let poll_due = |futures: &mut Vec<_>, polls: &mut usize, all: bool| {
            for (fut, flag, seen, done) in futures.iter_mut() {
                let fut: &mut std::pin::Pin<Box<crate::Waiting<Result<bool, crate::Error>>>> = fut;
                let flag: &mut std::sync::Arc<Count> = flag;
                let woken = flag.0.load(Ordering::SeqCst);
                if *done || (!all && woken == *seen) {
                    continue;
                }
                *seen = woken;
                *polls += 1;
                let waker = Waker::from(flag.clone());
                let mut cx = std::task::Context::from_waker(&waker);
                if let std::task::Poll::Ready(r) = fut.as_mut().poll(&mut cx) {
                    assert!(r.is_ok(), "flush_async: {r:?}");
                    *done = true;
                }
            }
        };
        poll_due(&mut futures, &mut polls, true);
        assert_eq!(polls, WAITERS);
        assert!(worker.thaw().is_ok());
        let end = Instant::now() + WATCHDOG;
        while futures.iter().any(|f| !f.3) {
            assert!(Instant::now() < end, "watchdog: the flushes did not end");
            poll_due(&mut futures, &mut polls, false);
            std::thread::yield_now();
        }
        assert_eq!(runs.load(Ordering::Relaxed), BACKLOG);
        assert!(
            polls <= 3 * WAITERS,
            "{polls} polls for {WAITERS} waiters: woken per run, not per flush"
        );
    }
}
