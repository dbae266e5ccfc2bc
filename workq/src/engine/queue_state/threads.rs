//! The queue's consumer threads: how many, which are starting, their slots.

use crate::engine::item::WorkInner;
use crate::support::sync::Arc;
use crate::support::thread::Joinable;
use std::time::Instant;

/// One consumer thread, as the runqueue view shows it.
pub(crate) struct Slot {
    thread: std::sync::Arc<str>,
    /// The item it runs and since when. The consumer reads no clock per run (on a
    /// virtual machine the read can cost more than the rest of a tiny item's
    /// run): the start time is filled in by the first observer that looks
    /// (`running_since`: the runqueue view, the stall watchdog).
    current: Option<(Arc<WorkInner>, Option<Instant>)>,
}

impl Slot {
    /// The thread's name.
    pub(crate) fn thread(&self) -> &std::sync::Arc<str> {
        &self.thread
    }

    /// The item this thread runs and since when, at the latest `now`: the first
    /// observer of a run records `now` as its start.
    pub(crate) fn running_since(&mut self, now: Instant) -> Option<(&Arc<WorkInner>, Instant)> {
        let (work, since) = self.current.as_mut()?;
        Some((work, *since.get_or_insert(now)))
    }

    /// The item this thread runs, if any.
    pub(crate) fn running(&self) -> Option<&Arc<WorkInner>> {
        self.current.as_ref().map(|(work, _)| work)
    }

    /// A run of `work` starts on this thread (again in place: the slot keeps its
    /// handle, the start time is read afresh).
    #[inline]
    pub(crate) fn start(&mut self, work: &Arc<WorkInner>) {
        match &mut self.current {
            Some((current, since)) if Arc::ptr_eq(current, work) => *since = None,
            current => *current = Some((work.clone(), None)),
        }
    }

    /// The run ended. Drops the slot's handle of the item, never the last one:
    /// the thread that ran it holds one.
    pub(crate) fn end(&mut self) {
        self.current = None;
    }
}

/// The consumer threads of a queue (behind its lock).
///
/// | field      | up                              | down                                   |
/// |------------|---------------------------------|----------------------------------------|
/// | `count`    | a start is reserved (`reserve`) | a start fails, a consumer exits        |
/// | `starting` | `reserve`                       | the spawner returned (`started`, `start_failed`) |
/// | `arriving` | `reserve`                       | the consumer reached its loop (`arrived`), or its start failed |
///
/// `count` includes the threads being started; `count - starting` are running.
/// A fixed queue's consumers are counted from the start (`with_count`).
#[derive(Default)]
pub(crate) struct Threads {
    count: usize,
    starting: usize,
    arriving: usize,
    /// By slot number (an elastic queue's thread names end in it).
    slots: Vec<Option<Slot>>,
    /// Threads to join at shutdown (culled ones are reaped as new ones start).
    joins: Vec<Joinable>,
}

/// A thread start decided under the lock: its slot is taken and it is counted
/// in `count`, `starting` and `arriving`; the spawner is called once the lock
/// is released (`RunQueue::start_reserved`).
pub(crate) struct Reservation {
    pub(crate) slot: usize,
    pub(crate) thread: std::sync::Arc<str>,
    /// Culled threads to join before the start.
    pub(crate) finished: Vec<Joinable>,
}

impl Threads {
    /// A queue with `count` consumers that its front end starts.
    pub(crate) fn with_count(count: usize) -> Threads {
        Threads {
            count,
            ..Threads::default()
        }
    }

    /// Consumer threads alive or being started.
    #[inline]
    pub(crate) fn count(&self) -> usize {
        self.count
    }

    /// Thread starts in flight (the spawner is running).
    pub(crate) fn starting(&self) -> usize {
        self.starting
    }

    /// Threads started whose consumer loop has not begun yet.
    pub(crate) fn arriving(&self) -> usize {
        self.arriving
    }

    /// Threads running (alive and not being started).
    pub(crate) fn live(&self) -> usize {
        self.count - self.starting
    }

    /// Reserves a start of a thread named `prefix/<slot>`: counted, its slot
    /// taken; the threads culled since the last start are handed back to join.
    pub(crate) fn reserve(&mut self, prefix: &str) -> Reservation {
        let slot = match self.slots.iter().position(Option::is_none) {
            Some(free) => free,
            None => {
                self.slots.push(None);
                self.slots.len() - 1
            }
        };
        let thread: std::sync::Arc<str> = format!("{prefix}/{slot}").into();
        self.slots[slot] = Some(Slot {
            thread: thread.clone(),
            current: None,
        });
        self.count += 1;
        self.starting += 1;
        self.arriving += 1;
        let (finished, live): (Vec<_>, Vec<_>) = std::mem::take(&mut self.joins)
            .into_iter()
            .partition(|j| j.is_finished());
        self.joins = live;
        Reservation {
            slot,
            thread,
            finished,
        }
    }

    /// A reserved start succeeded: `handle` is joined at shutdown.
    pub(crate) fn started(&mut self, handle: Joinable) {
        self.joins.push(handle);
        debug_assert!(
            self.starting > 0,
            "starting: a thread start ended that was not counted as in flight"
        );
        self.starting -= 1;
    }

    /// A reserved start failed: uncounted, its slot freed.
    pub(crate) fn start_failed(&mut self, slot: usize) {
        debug_assert!(self.count > 0, "count: a start failed that was not counted");
        self.count -= 1;
        debug_assert!(
            self.starting > 0,
            "starting: a thread start ended that was not counted as in flight"
        );
        self.starting -= 1;
        self.arrived();
        self.slots[slot] = None;
    }

    /// A started consumer reached its loop.
    pub(crate) fn arrived(&mut self) {
        debug_assert!(
            self.arriving > 0,
            "arriving: a consumer arrived that no start reserved"
        );
        self.arriving = self.arriving.saturating_sub(1);
    }

    /// A consumer (in slot `slot`, if it has one) exits.
    pub(crate) fn exited(&mut self, slot: Option<usize>) {
        debug_assert!(
            self.count > 0,
            "count: a consumer left that was not counted"
        );
        self.count = self.count.saturating_sub(1);
        if let Some(s) = slot.and_then(|i| self.slots.get_mut(i)) {
            *s = None;
        }
    }

    /// Adds a slot for a consumer that the front end runs (a worker's thread, a
    /// workqueue's pump or rescuer): returns its number.
    pub(crate) fn add_slot(&mut self, thread: &str) -> usize {
        self.slots.push(Some(Slot {
            thread: thread.into(),
            current: None,
        }));
        self.slots.len() - 1
    }

    /// The slot numbered `slot`, if in use.
    #[inline]
    pub(crate) fn slot_mut(&mut self, slot: Option<usize>) -> Option<&mut Slot> {
        slot.and_then(|i| self.slots.get_mut(i))
            .and_then(Option::as_mut)
    }

    /// The slots in use, in slot order.
    pub(crate) fn slots(&self) -> impl Iterator<Item = &Slot> {
        self.slots.iter().flatten()
    }

    /// The slots in use, in slot order.
    pub(crate) fn slots_mut(&mut self) -> impl Iterator<Item = &mut Slot> {
        self.slots.iter_mut().flatten()
    }

    /// The threads to join (a stopping queue).
    pub(crate) fn take_joins(&mut self) -> Vec<Joinable> {
        std::mem::take(&mut self.joins)
    }
}
