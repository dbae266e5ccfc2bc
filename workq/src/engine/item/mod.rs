//! The engine's side of a work item: the closure, the state word (its table is
//! in `state.rs`) and what the queue it is bound to books about it.

pub(crate) mod handle;
pub(crate) mod state;

use crate::engine::{OwnerId, RunQueue};
use crate::support::current;
use crate::support::sync::{lock, Arc, AtomicU32, AtomicU64, Mutex, Ordering};
use handle::WorkCtx;
use state::{ItemState, Observed};

/// What an item runs: a closure ([`ClosureBody`]), or a job (`front/job`),
/// whose handle shares the body with the item.
pub(crate) trait Body: Send + Sync + 'static {
    /// One run.
    fn run(&self, ctx: &WorkCtx<'_>);

    /// The item is dropped: its queue and every handle let it go. A job that
    /// never ran learns here that it never will (called with no lock held, as
    /// every drop of an item).
    fn released(&self) {}
}

/// The body of an item made from a closure.
struct ClosureBody<F>(F);

impl<F> Body for ClosureBody<F>
where
    F: Fn(&WorkCtx<'_>) + Send + Sync + 'static,
{
    #[inline]
    fn run(&self, ctx: &WorkCtx<'_>) {
        (self.0)(ctx)
    }
}

/// An item's body: a closure the item owns (one allocation, none for a
/// closure that captures nothing), or a body shared with a job's handle (std's
/// `Arc`, also under loom: no model races on it).
enum Func {
    Own(Box<dyn Body>),
    Shared(std::sync::Arc<dyn Body>),
}

impl Func {
    #[inline]
    fn body(&self) -> &dyn Body {
        match self {
            Func::Own(body) => &**body,
            Func::Shared(body) => &**body,
        }
    }
}

/// The shared part of a [`Work`](crate::Work).
///
/// Laid out in this order (`repr(C)`) so that the state word, which every queue
/// call of the item reads with a read-modify-write, sits at the end, away from
/// what its runs write or read (the counters, the closure) and from the `Arc`'s
/// reference counts at the start: a producer that keeps queueing a running item
/// then loses the state word's line to the runner only when the runner changes
/// the state word itself.
#[repr(C)]
pub(crate) struct WorkInner {
    /// Runs started so far (written under the bound queue's lock).
    pub(crate) started: AtomicU64,
    /// Runs done so far: finished and, for a run that panicked, reported
    /// (written under the lock of the queue that ran it).
    pub(crate) finished: AtomicU64,
    /// Flush colour of the run in progress (written under the bound queue's lock).
    pub(crate) run_color: AtomicU64,
    /// What a run calls.
    func: Func,
    /// The owner the item is counted for while bound (pools; 0: none). Read and
    /// written through `owner` / `set_owner`.
    owner: AtomicU32,
    /// Ordinary, very slow (a capped share of a pool's threads) or high priority
    /// (taken first by a pool; the pumps of high-priority workqueues).
    pub(crate) class: Class,
    /// The item's name, behind one thin pointer (a named item pays one more
    /// allocation; every item saves a word: `Option<Box<str>>` is two).
    name: Option<Box<Box<str>>>,
    /// The queue the item is pending or running on, or was last: it counts only
    /// while the state word's queue bits are non-zero (`bound_queue`). Set
    /// together with those bits, under this lock; a run that returns the item to
    /// idle leaves it in place, so that neither the run's end nor the next queue
    /// call on the same queue touches the queue's shared reference count.
    pub(crate) binding: Mutex<Option<Arc<RunQueue>>>,
    /// While `ARMED`, the pending run's timer entry (a packed `TimerKey`), written
    /// under the bound queue's lock. (On a run list, the list entry keeps the flush
    /// colour and the queue time: `Waiting`.)
    pub(crate) wait_tag: AtomicU64,
    /// Flush colour of the pending run (written under the bound queue's lock); read
    /// for a run queued behind the one in progress, which its runner puts on the
    /// list (a run on a list carries its colour in its `Waiting` entry).
    pub(crate) color: AtomicU64,
    /// The state word; see `state.rs` for its table.
    pub(crate) state: ItemState,
}

impl WorkInner {
    /// A new idle item running the closure `f`.
    pub(crate) fn new<F>(name: Option<Box<str>>, class: Class, f: F) -> WorkInner
    where
        F: Fn(&WorkCtx<'_>) + Send + Sync + 'static,
    {
        WorkInner::with_func(name, class, Func::Own(Box::new(ClosureBody(f))))
    }

    /// A new idle item running `func`.
    pub(crate) fn with_body(
        name: Option<Box<str>>,
        class: Class,
        body: std::sync::Arc<dyn Body>,
    ) -> WorkInner {
        WorkInner::with_func(name, class, Func::Shared(body))
    }

    fn with_func(name: Option<Box<str>>, class: Class, func: Func) -> WorkInner {
        WorkInner {
            state: ItemState::new(),
            binding: Mutex::new(None),
            color: AtomicU64::new(0),
            run_color: AtomicU64::new(0),
            started: AtomicU64::new(0),
            finished: AtomicU64::new(0),
            wait_tag: AtomicU64::new(0),
            owner: AtomicU32::new(0),
            class,
            name: name.map(Box::new),
            func,
        }
    }

    /// The owner the item is counted for while bound (read under the bound
    /// queue's lock).
    #[inline]
    pub(crate) fn owner(&self) -> Option<OwnerId> {
        OwnerId::new(self.owner.load(Ordering::Relaxed))
    }

    /// Sets the owner the item is counted for (when it is bound: queue lock and
    /// binding lock held, or the binding lock and the inbox's shelf lock).
    #[inline]
    pub(crate) fn set_owner(&self, owner: Option<OwnerId>) {
        self.owner
            .store(owner.map_or(0, OwnerId::get), Ordering::Relaxed);
    }

    /// Address of the item: its identity in the thread-local run marker.
    pub(crate) fn addr(this: &Arc<Self>) -> usize {
        Arc::as_ptr(this) as *const () as usize
    }

    pub(crate) fn name(&self) -> Option<&str> {
        self.name.as_deref().map(|name| &**name)
    }

    /// Runs the body once.
    pub(crate) fn call(&self, ctx: &WorkCtx<'_>) {
        self.func.body().run(ctx)
    }

    /// The queue the item is bound to right now, if any.
    pub(crate) fn bound_queue(&self) -> Option<Arc<RunQueue>> {
        let binding = lock(&self.binding);
        // The queue bits change only under the binding lock: stable here.
        if self.state.read().queue_id() == 0 {
            return None;
        }
        binding.clone()
    }

    /// Records `queue` as the item's binding (binding lock held, the state word's
    /// queue bits just set to its id). Keeps the reference already there when it
    /// is the same queue: a re-queue touches no shared reference count.
    pub(crate) fn bind(binding: &mut Option<Arc<RunQueue>>, queue: &Arc<RunQueue>) {
        if !binding.as_ref().is_some_and(|b| Arc::ptr_eq(b, queue)) {
            *binding = Some(Arc::clone(queue));
        }
    }
}

impl Drop for WorkInner {
    fn drop(&mut self) {
        self.func.body().released();
    }
}

/// How a pool treats an item when it picks the next one to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Class {
    Normal,
    /// At most a share of a pool's threads run these at once.
    VerySlow,
    /// Taken before every other waiting item.
    High,
}

/// Whether the current thread runs `work` right now.
pub(crate) fn in_own_run(work: &Arc<WorkInner>) -> bool {
    current::running_item(WorkInner::addr(work))
}

/// Whether `s` has the queue bits of `q`.
pub(crate) fn bound_to(s: Observed, q: &RunQueue) -> bool {
    s.is_on(q.id)
}

#[cfg(all(test, not(any(loom, shuttle))))]
mod tests {
    /// An idle item is one allocation of the `Arc`'s two counts and the
    /// `WorkInner`. It stays within 120 bytes: glibc's allocator serves chunks
    /// of up to 128 bytes (120 requested plus its 8-byte header) from its fast
    /// bins, and a fresh item made on one thread and freed on another (every
    /// create-and-queue) cost 40 % more when the item grew past them.
    #[test]
    fn an_item_fits_the_allocators_fast_bins() {
        let arc_counts = 2 * std::mem::size_of::<usize>();
        let size = arc_counts + std::mem::size_of::<super::WorkInner>();
        assert!(
            size <= 120,
            "an idle item takes {size} bytes, more than 120"
        );
    }
}
