//! A job's shared state: who runs it, its closure until then, its result until
//! it is joined, and who waits for it.
//!
//! The state word (`JobCore::state`):
//!
//! | bits | meaning | who changes them |
//! |------|---------|------------------|
//! | 0–2  | phase: `WAITING` → `RUNNING` → `DONE`, or `WAITING` → `CANCELLED` / `DISCARDED` / `REFUSED` | `WAITING` → `RUNNING`: a CAS by the run that claims it (a queue's run, or a scope's caller helping); every end phase: under the slots lock, with the result written |
//! | 3    | `DETACHED`: the handle is gone | the handle's drop |
//!
//! Exactly one of the run, `cancel`, the item's drop unrun and a refused queue
//! call wins the `WAITING` phase, so the closure is taken (and dropped) once, and
//! the result written once. A waiter reads the phase under the slots lock, where
//! every end phase is written, so it cannot miss the wake-up.

use crate::engine::item::handle::WorkCtx;
use crate::engine::item::{Body, WorkInner};
#[cfg(not(loom))]
use crate::engine::RunQueue;
use crate::error::Error;
use crate::front::job::handle::JobError;
#[cfg(not(loom))]
use crate::support::current;
use crate::support::sync::{lock, wait, wait_timeout, AtomicU32, Condvar, Mutex, Ordering};
use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::task::Waker;
use std::time::Instant;

const PHASE: u32 = 0b111;
const WAITING: u32 = 0;
const RUNNING: u32 = 1;
const DONE: u32 = 2;
const CANCELLED: u32 = 3;
const DISCARDED: u32 = 4;
const REFUSED: u32 = 5;
const DETACHED: u32 = 1 << 3;

/// The part of a job its handle sees, whatever the closure's type.
pub(crate) trait JobLink<R>: Send + Sync {
    /// The state and result shared by the handle and the run.
    fn shared(&self) -> &JobShared<R>;

    /// Cancels the job if no run has claimed it: drops the closure now.
    fn cancel(&self) -> bool;

    /// Runs the job here if the caller is inside one of its queue's items and
    /// the job waits on that queue's list: a join or a scope's end there would
    /// otherwise wait for the thread it is on.
    fn help(&self) -> Help;
}

/// What [`JobLink::help`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Help {
    /// Ran the job here.
    Ran,
    /// Nothing to do here: the job has started or ended, or the caller is not
    /// inside one of its queue's items.
    NotHere,
    /// The caller is inside one of the job's queue's items, and the job is
    /// armed for later: it can be run here once it is due.
    NotDue,
}

/// What a job's handle and its run share.
pub(crate) struct JobShared<R> {
    state: AtomicU32,
    slots: Mutex<Slots<R>>,
    ended: Condvar,
}

/// Behind the slots lock.
struct Slots<R> {
    /// The outcome, from the end of the job until it is joined.
    result: Option<Result<R, JobError>>,
    /// Whether the result was taken (by a join or the future).
    taken: bool,
    /// The task of the future that polled last, woken at the end.
    waker: Option<Waker>,
    /// Threads blocked in a join.
    joiners: usize,
}

impl<R> JobShared<R> {
    pub(crate) fn new() -> JobShared<R> {
        JobShared {
            state: AtomicU32::new(WAITING),
            slots: Mutex::new(Slots {
                result: None,
                taken: false,
                waker: None,
                joiners: 0,
            }),
            ended: Condvar::new(),
        }
    }

    /// Claims the `WAITING` phase for `to` (no lock). Acquire: the run sees the
    /// caller's writes made before the spawn.
    fn claim(&self, to: u32) -> bool {
        self.state
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |s| {
                (s & PHASE == WAITING).then_some((s & !PHASE) | to)
            })
            .is_ok()
    }

    /// Writes the end phase `phase` (from a phase this caller owns) and the
    /// outcome, and wakes whoever waits.
    fn end(&self, phase: u32, result: Result<R, JobError>) {
        let waker = {
            let mut slots = lock(&self.slots);
            slots.result = Some(result);
            // Release: a join that sees the phase sees the result.
            let _ = self
                .state
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |s| {
                    Some((s & !PHASE) | phase)
                });
            if slots.joiners > 0 {
                self.ended.notify_all();
            }
            slots.waker.take()
        };
        if let Some(w) = waker {
            crate::support::panic::quietly(move || w.wake());
        }
    }

    /// Whether the job has ended (ran, or will never run).
    pub(crate) fn is_finished(&self) -> bool {
        self.state.load(Ordering::Acquire) & PHASE >= DONE
    }

    /// The handle is gone: a panic of the job goes to its queue's hook.
    pub(crate) fn detach(&self) {
        self.state.fetch_or(DETACHED, Ordering::AcqRel);
    }

    fn detached(&self) -> bool {
        self.state.load(Ordering::Acquire) & DETACHED != 0
    }

    /// Waits until the job has ended, leaving its outcome for a join.
    pub(crate) fn wait_ended(&self) {
        let mut slots = lock(&self.slots);
        while !self.is_finished() {
            slots.joiners += 1;
            slots = wait(&self.ended, slots);
            slots.joiners -= 1;
        }
    }

    /// Waits until the job has ended or `timeout` passed, leaving its outcome
    /// for a join.
    pub(crate) fn wait_ended_for(&self, timeout: std::time::Duration) {
        let mut slots = lock(&self.slots);
        if !self.is_finished() {
            slots.joiners += 1;
            slots = wait_timeout(&self.ended, slots, timeout);
            slots.joiners -= 1;
        }
        drop(slots);
    }

    /// The failure of an ended job that no join took: a panic, a discard or a
    /// refusal (`None` for a result, a cancel, or an outcome already taken).
    pub(crate) fn unjoined_failure(&self) -> Option<&'static str> {
        match lock(&self.slots).result.as_ref() {
            Some(Err(JobError::Panicked(_))) => Some("panicked"),
            Some(Err(JobError::Discarded)) => Some("was discarded by its queue's shutdown"),
            Some(Err(JobError::Refused(_))) => Some("was refused by its queue"),
            _ => None,
        }
    }

    /// Takes the outcome once the job has ended; waits for the end until
    /// `deadline` (`None`: no limit).
    pub(crate) fn join(&self, deadline: Option<Instant>) -> Result<R, JobError> {
        let mut slots = lock(&self.slots);
        loop {
            if slots.taken {
                return Err(JobError::AlreadyJoined);
            }
            if let Some(result) = slots.result.take() {
                slots.taken = true;
                return result;
            }
            slots.joiners += 1;
            slots = match deadline {
                None => wait(&self.ended, slots),
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        slots.joiners -= 1;
                        return Err(JobError::TimedOut);
                    }
                    wait_timeout(&self.ended, slots, d - now)
                }
            };
            slots.joiners -= 1;
        }
    }

    /// The future's poll: the outcome if the job has ended, else registers
    /// `waker`.
    pub(crate) fn poll_result(&self, waker: &Waker) -> Option<Result<R, JobError>> {
        let mut slots = lock(&self.slots);
        if slots.taken {
            return Some(Err(JobError::AlreadyJoined));
        }
        if let Some(result) = slots.result.take() {
            slots.taken = true;
            return Some(result);
        }
        match &slots.waker {
            Some(w) if w.will_wake(waker) => {}
            _ => slots.waker = Some(waker.clone()),
        }
        None
    }
}

/// A job whose closure is of type `F`: the shared part and the closure, until
/// a run or a cancel takes it.
pub(crate) struct JobCore<F, R> {
    shared: JobShared<R>,
    f: Mutex<Option<F>>,
    /// The item that runs the job, to take its pending run off the queue at a
    /// cancel (weak: the queue's own handle is what keeps it, so that an item
    /// the queue lets go unrun is dropped and the job discarded). Not under
    /// loom, whose `Arc` has no weak form; no model spawns jobs.
    #[cfg(not(loom))]
    item: std::sync::OnceLock<std::sync::Weak<WorkInner>>,
}

impl<F, R> JobCore<F, R>
where
    F: FnOnce() -> R + Send,
    R: Send,
{
    pub(crate) fn new(f: F) -> JobCore<F, R> {
        JobCore {
            shared: JobShared::new(),
            f: Mutex::new(Some(f)),
            #[cfg(not(loom))]
            item: std::sync::OnceLock::new(),
        }
    }

    /// Records the item that runs the job (once, before it is queued).
    pub(crate) fn set_item(&self, item: &crate::support::sync::Arc<WorkInner>) {
        #[cfg(not(loom))]
        let _ = self.item.set(std::sync::Arc::downgrade(item));
        #[cfg(loom)]
        let _ = item;
    }

    /// Runs the job here if no one has claimed it yet (a queue's run, or a
    /// scope's caller helping). A panic is kept for the join; with the handle
    /// gone it is handed back as `Err` for the caller to report.
    pub(crate) fn run(&self) -> Result<bool, Box<dyn Any + Send>> {
        if !self.shared.claim(RUNNING) {
            return Ok(false);
        }
        let f = lock(&self.f).take();
        let Some(f) = f else {
            // Unreachable: only the claim's winner takes the closure.
            self.shared.end(DISCARDED, Err(JobError::Discarded));
            return Ok(true);
        };
        match catch_unwind(AssertUnwindSafe(f)) {
            Ok(r) => self.shared.end(DONE, Ok(r)),
            Err(payload) => {
                if self.shared.detached() {
                    self.shared.end(DONE, Err(JobError::Panicked(Box::new(()))));
                    return Err(payload);
                }
                self.shared.end(DONE, Err(JobError::Panicked(payload)));
            }
        }
        Ok(true)
    }

    /// The queue call that would have run the job was refused: the closure is
    /// dropped now.
    pub(crate) fn refuse(&self, e: Error) {
        if self.shared.claim(RUNNING) {
            drop(lock(&self.f).take());
            self.shared.end(REFUSED, Err(JobError::Refused(e)));
        }
    }

    /// Takes the job's pending run (queued or armed) off the queue, so that
    /// owners, drains and shutdowns no longer wait for it.
    fn unqueue(&self) {
        #[cfg(not(loom))]
        if let Some(item) = self.item.get().and_then(std::sync::Weak::upgrade) {
            RunQueue::cancel_pending(&item);
        }
    }

    /// The item holding the job is dropped: if it never ran, the job is
    /// discarded (its queue shut down without running it).
    pub(crate) fn discard(&self) {
        if self.shared.claim(RUNNING) {
            drop(lock(&self.f).take());
            self.shared.end(DISCARDED, Err(JobError::Discarded));
        }
    }
}

/// The body of the job's item: the job runs once; an item dropped before
/// that was let go unrun by its queue (discarded).
impl<F, R> Body for JobCore<F, R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    fn run(&self, _ctx: &WorkCtx<'_>) {
        if let Err(payload) = JobCore::run(self) {
            // The handle is gone: the queue's panic hook reports it.
            std::panic::resume_unwind(payload);
        }
    }

    fn released(&self) {
        self.discard();
    }
}

impl<F, R> JobLink<R> for JobCore<F, R>
where
    F: FnOnce() -> R + Send,
    R: Send,
{
    fn shared(&self) -> &JobShared<R> {
        &self.shared
    }

    fn cancel(&self) -> bool {
        if !self.shared.claim(RUNNING) {
            return false;
        }
        drop(lock(&self.f).take());
        self.shared.end(CANCELLED, Err(JobError::Cancelled));
        self.unqueue();
        true
    }

    fn help(&self) -> Help {
        #[cfg(not(loom))]
        {
            let Some(item) = self.item.get().and_then(std::sync::Weak::upgrade) else {
                return Help::NotHere;
            };
            let s = item.state.peek();
            if !s.is_pending() || !current::running_on(s.queue_id()) {
                return Help::NotHere;
            }
            if s.is_armed() {
                return Help::NotDue;
            }
            // Called with a handle held, so never detached: a panic is kept
            // for the join and `run` answers `Ok`.
            if !matches!(self.run(), Ok(true)) {
                return Help::NotHere;
            }
            // Its pending run leaves the queue: it would find the job taken.
            RunQueue::cancel_pending(&item);
            Help::Ran
        }
        #[cfg(loom)]
        Help::NotHere
    }
}
