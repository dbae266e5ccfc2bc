//! The timer behind delayed work: a hierarchical timing wheel (`wheel.rs`) of armed
//! items, driven either by one process-wide thread that sleeps until the next
//! deadline, or by a [`ManualClock`](crate::ManualClock) that tests move forward
//! by hand (both in `engine/clock.rs`).
//!
//! The timer knows nothing of queues: it hands back what expired (`take_due`),
//! as a delivery that holds a ticket until its taker ends it (`end_delivery`),
//! so that a shutdown can wait for the deliveries under way.
//!
//! Time is counted in ticks of 250 microseconds since the clock's origin. A deadline
//! is rounded *up* to a tick and an entry fires only once the clock has reached
//! that tick, so nothing fires early, and rounding adds at most one tick of
//! lateness. (The thread wakes only for ticks that have something to fire, so a
//! finer tick costs wake-ups only while timers are due every tick.)

mod wheel;

pub(crate) use wheel::TimerKey;

use crate::engine::item::WorkInner;
use crate::error::Error;
use crate::support::sync::{lock, wait, wait_timeout, Arc, Condvar, Mutex};
use std::time::{Duration, Instant};
use wheel::Wheel;

/// Length of one tick.
const TICK: Duration = Duration::from_micros(250);
/// TICK in nanoseconds, and ticks per second (TICK divides a second exactly).
const NANOS_PER_TICK: u64 = 250_000;
const TICKS_PER_SEC: u64 = 4_000;
const _: () = assert!(
    TICK.as_nanos() == NANOS_PER_TICK as u128 && NANOS_PER_TICK * TICKS_PER_SEC == 1_000_000_000
);

/// What drives a timer.
pub(crate) enum Drive {
    /// The process-wide timer thread reads the system's monotonic clock.
    System,
    /// Time moves only when [`ManualClock::advance`](crate::ManualClock::advance)
    /// is called.
    Manual,
}

/// Whether the system timer's thread runs.
#[derive(PartialEq, Eq)]
enum Thread {
    NotStarted,
    Running,
}

/// Set once the system timer's thread runs (read without the lock on every arm).
static SYSTEM_DRIVEN: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

struct TimerState {
    wheel: Wheel<Arc<WorkInner>>,
    thread: Thread,
    /// The tick the timer thread sleeps until (`None`: until notified).
    sleeping_until: Option<u64>,
    /// Manual clocks: the current tick.
    manual_now: u64,
    /// What deliveries are under way; see `Deliveries`.
    deliveries: Deliveries,
}

/// The deliveries under way: entries taken off the wheel whose queues have not all
/// been told yet. A shutdown waits for the ones that began before it took its
/// queue's entries off the wheel (`remove_queue`, `wait_delivered`): those are the
/// only places an armed item of its queue can be then.
#[derive(Default)]
struct Deliveries {
    /// Tickets of the deliveries under way (few: one per thread delivering).
    under_way: Vec<u64>,
    /// The ticket of the next delivery.
    next: u64,
    /// Callers in `wait_delivered`.
    waiters: usize,
    /// Armed items that a delivery cancelled because their queue had stopped, by
    /// queue id, until that queue's shutdown counts them (`take_cancelled_late`).
    cancelled_late: Vec<(u32, usize)>,
}

/// A point in the sequence of deliveries: the ones begun before it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct DeliveryMark(u64);

#[cfg(not(any(loom, shuttle)))]
crate::support::sync::thread_local! {
    /// The ticket of the delivery this thread is making (a shutdown reached from
    /// one, through a waker, cannot wait for it).
    static DELIVERING: std::cell::Cell<Option<u64>> = const { std::cell::Cell::new(None) };
}

// loom's and shuttle's mocks of `thread_local!` take no `const` initialiser.
#[cfg(any(loom, shuttle))]
crate::support::sync::thread_local! {
    static DELIVERING: std::cell::Cell<Option<u64>> = std::cell::Cell::new(None);
}

/// A wheel of armed items and what drives it.
pub(crate) struct Timer {
    origin: Instant,
    drive: Drive,
    state: Mutex<TimerState>,
    cv: Condvar,
    /// Shutdowns waiting for deliveries to end (`wait_delivered`).
    delivered_cv: Condvar,
}

/// Entries taken off the wheel, and the ticket of their delivery: the taker
/// tells their queues, then ends the delivery (`Timer::end_delivery`).
pub(crate) struct Due {
    pub(crate) ticket: DueTicket,
    pub(crate) expired: Vec<(TimerKey, Arc<WorkInner>)>,
}

/// A delivery under way (see `Due`), ended on the thread that took it.
pub(crate) struct DueTicket {
    ticket: u64,
    /// The delivery this thread was making before (a nested one), restored at
    /// the end.
    outer: Option<u64>,
}

impl Timer {
    pub(crate) fn new(drive: Drive) -> Arc<Timer> {
        Arc::new(Timer {
            origin: Instant::now(),
            drive,
            state: Mutex::new(TimerState {
                wheel: Wheel::new(),
                thread: Thread::NotStarted,
                sleeping_until: None,
                manual_now: 0,
                deliveries: Deliveries::default(),
            }),
            cv: Condvar::new(),
            delivered_cv: Condvar::new(),
        })
    }

    /// The process-wide timer driven by the system clock. Its thread, named
    /// `workq-timer`, starts when the first item is armed.
    pub(crate) fn system() -> Arc<Timer> {
        static SYSTEM: std::sync::OnceLock<Arc<Timer>> = std::sync::OnceLock::new();
        SYSTEM.get_or_init(|| Timer::new(Drive::System)).clone()
    }

    /// The current time of this timer's clock.
    pub(crate) fn now(&self) -> Instant {
        match self.drive {
            Drive::System => Instant::now(),
            Drive::Manual => self.instant_of(lock(&self.state).manual_now),
        }
    }

    /// The tick at which an item due at `deadline` may fire: rounded up, never early.
    /// Deadlines beyond the representable range saturate (they never fire before
    /// any nearer deadline).
    pub(crate) fn tick_of(&self, deadline: Instant) -> u64 {
        Self::ticks_up(deadline.saturating_duration_since(self.origin))
    }

    /// `since` (a time after the origin) in ticks, rounded up.
    fn ticks_up(since: Duration) -> u64 {
        // TICK divides a second: whole seconds are whole ticks, so only the
        // sub-second part is rounded up (no 128-bit division on the arm path).
        since
            .as_secs()
            .saturating_mul(TICKS_PER_SEC)
            .saturating_add(u64::from(since.subsec_nanos()).div_ceil(NANOS_PER_TICK))
    }

    /// The last tick that has fully passed.
    pub(crate) fn now_tick(&self, now: Instant) -> u64 {
        let since = now.saturating_duration_since(self.origin);
        since
            .as_secs()
            .saturating_mul(TICKS_PER_SEC)
            .saturating_add(u64::from(since.subsec_nanos()) / NANOS_PER_TICK)
    }

    /// The instant at which `tick` begins.
    fn instant_of(&self, tick: u64) -> Instant {
        self.origin
            .checked_add(Duration::from_nanos(tick.saturating_mul(NANOS_PER_TICK)))
            .unwrap_or_else(|| far_future(self.origin))
    }

    /// The tick at which an item due `delay` from now may fire (see `tick_of`).
    /// A delay beyond [`FAR`] counts as `FAR`: it never comes either way. The
    /// delay is added to the time since the origin, not to an `Instant`, which
    /// saves a normalised timespec addition on every arm.
    pub(crate) fn tick_after(&self, delay: Duration) -> u64 {
        let since = self.now().saturating_duration_since(self.origin);
        Self::ticks_up(since.saturating_add(delay.min(FAR)))
    }

    /// Whether `deadline` has been reached, so queueing for it means queueing now.
    pub(crate) fn is_due(&self, deadline: Instant) -> bool {
        match self.drive {
            Drive::System => deadline <= Instant::now(),
            Drive::Manual => self.tick_of(deadline) <= lock(&self.state).manual_now,
        }
    }

    /// The tick a run due at `deadline` is armed for, or `None` when it is due
    /// now (queue it on the list).
    pub(crate) fn due_at(&self, deadline: Instant) -> Option<u64> {
        if self.is_due(deadline) {
            None
        } else {
            Some(self.tick_of(deadline))
        }
    }

    /// The tick a run due `delay` from now is armed for, or `None` for a zero
    /// delay. One clock read: a positive delay is never due yet.
    pub(crate) fn due_after(&self, delay: Duration) -> Option<u64> {
        if delay.is_zero() {
            None
        } else {
            Some(self.tick_after(delay))
        }
    }

    /// Whether something drives this timer: a manual clock, or the system
    /// timer's thread once started (no lock).
    #[inline]
    pub(crate) fn is_driven(&self) -> bool {
        matches!(self.drive, Drive::Manual)
            || SYSTEM_DRIVEN.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Starts the system timer's thread with `spawn` unless it runs already.
    ///
    /// # Errors
    /// [`Error::Spawn`] when `spawn` fails.
    pub(crate) fn start_driver(
        this: &Arc<Timer>,
        spawn: impl FnOnce(Arc<Timer>) -> std::io::Result<()>,
    ) -> Result<(), Error> {
        let mut g = lock(&this.state);
        if g.thread == Thread::Running {
            return Ok(());
        }
        spawn(this.clone()).map_err(|source| Error::Spawn {
            thread: "workq-timer".to_string(),
            source,
        })?;
        g.thread = Thread::Running;
        SYSTEM_DRIVEN.store(true, std::sync::atomic::Ordering::Release);
        Ok(())
    }

    /// Arms `work` to fire at `tick`. The caller holds the item's queue lock.
    pub(crate) fn insert(&self, tick: u64, work: Arc<WorkInner>) -> TimerKey {
        let mut g = lock(&self.state);
        let key = g.wheel.insert(tick, work);
        if matches!(self.drive, Drive::System) {
            let earlier = g.sleeping_until.is_none_or(|t| tick < t);
            if earlier {
                self.cv.notify_one();
            }
        }
        key
    }

    /// Disarms an entry; `None` if it already fired (its delivery then finds the
    /// item disarmed and drops it). The caller drops the returned handle outside
    /// its locks.
    pub(crate) fn remove(&self, key: TimerKey) -> Option<Arc<WorkInner>> {
        lock(&self.state).wheel.remove(key)
    }

    /// Disarms every entry bound to queue `id`. Returns them and the mark of the
    /// deliveries begun by then: an entry of the queue taken off the wheel before
    /// this call is in one of those (until it ends), none after.
    pub(crate) fn remove_queue(&self, id: u32) -> (Vec<(TimerKey, Arc<WorkInner>)>, DeliveryMark) {
        let mut g = lock(&self.state);
        let entries = Self::take_where(&mut g, |w| w.state.peek().is_on(id));
        (entries, DeliveryMark(g.deliveries.next))
    }

    /// Removes every entry whose item `pick` selects (`pick` is called under the
    /// timer's lock).
    pub(crate) fn remove_where(
        &self,
        pick: impl FnMut(&Arc<WorkInner>) -> bool,
    ) -> Vec<(TimerKey, Arc<WorkInner>)> {
        Self::take_where(&mut lock(&self.state), pick)
    }

    fn take_where(
        g: &mut TimerState,
        pick: impl FnMut(&Arc<WorkInner>) -> bool,
    ) -> Vec<(TimerKey, Arc<WorkInner>)> {
        let keys = g.wheel.keys_where(pick);
        keys.into_iter()
            .filter_map(|k| g.wheel.remove(k).map(|w| (k, w)))
            .collect()
    }

    /// Waits until every delivery begun before `mark` has told its queues (called
    /// with no lock held). A delivery this thread is making is not waited for: a
    /// shutdown reached from inside it (an executor's waker) would wait for itself.
    pub(crate) fn wait_delivered(&self, mark: DeliveryMark) {
        let own = DELIVERING.with(std::cell::Cell::get);
        let mut g = lock(&self.state);
        while g
            .deliveries
            .under_way
            .iter()
            .any(|&t| t < mark.0 && Some(t) != own)
        {
            g.deliveries.waiters += 1;
            g = wait(&self.delivered_cv, g);
            debug_assert!(
                g.deliveries.waiters > 0,
                "waiters: a delivery waiter left that was not counted"
            );
            g.deliveries.waiters -= 1;
        }
    }

    /// Callers waiting in `wait_delivered` (unit tests).
    #[cfg(all(test, not(any(loom, shuttle))))]
    pub(crate) fn delivery_waiters(&self) -> usize {
        lock(&self.state).deliveries.waiters
    }

    /// How many armed items of queue `id` deliveries cancelled because it had
    /// stopped, since the last call (each is counted once).
    pub(crate) fn take_cancelled_late(&self, id: u32) -> usize {
        let mut g = lock(&self.state);
        let late = &mut g.deliveries.cancelled_late;
        match late.iter().position(|&(q, _)| q == id) {
            Some(i) => late.swap_remove(i).1,
            None => 0,
        }
    }

    /// Entries armed now.
    pub(crate) fn armed(&self) -> usize {
        lock(&self.state).wheel.len()
    }

    /// Takes every entry due by `now_tick` off the wheel, as a delivery under
    /// way (`None`: nothing was due).
    ///
    /// The delivery is registered (a ticket) in the same lock as the entries leave
    /// the wheel, and ends (`end_delivery`) in the lock that does the early
    /// cascading, once the taker has told every queue and before any user code
    /// runs (thread starts, the drops of the wheel's references: a drop may shut
    /// a queue down, which waits for deliveries). No lock is added to the fire
    /// path.
    pub(crate) fn take_due(&self, now_tick: u64) -> Option<Due> {
        let mut expired = Vec::new();
        let ticket = {
            let mut g = lock(&self.state);
            g.wheel.advance(now_tick, &mut expired);
            if expired.is_empty() {
                g.wheel.prepare();
                return None;
            }
            let d = &mut g.deliveries;
            let ticket = d.next;
            d.next += 1;
            d.under_way.push(ticket);
            ticket
        };
        let outer = DELIVERING.with(|c| c.replace(Some(ticket)));
        Some(Due {
            ticket: DueTicket { ticket, outer },
            expired,
        })
    }

    /// Ends a delivery taken on this thread: its queues have been told, and
    /// `cancelled_late` counts the armed items it cancelled because their queue
    /// had stopped, by queue id (for those queues' shutdowns).
    pub(crate) fn end_delivery(&self, due: DueTicket, cancelled_late: &[(u32, usize)]) {
        DELIVERING.with(|c| c.set(due.outer));
        let mut g = lock(&self.state);
        let d = &mut g.deliveries;
        d.under_way.retain(|&t| t != due.ticket);
        for &(id, n) in cancelled_late {
            match d.cancelled_late.iter_mut().find(|(q, _)| *q == id) {
                Some((_, count)) => *count += n,
                None => d.cancelled_late.push((id, n)),
            }
        }
        if d.waiters > 0 {
            self.delivered_cv.notify_all();
        }
        // Early cascading, once what was due is delivered.
        g.wheel.prepare();
    }

    /// The system timer's thread, between deliveries: sleeps until the next
    /// deadline or until an earlier one is armed; returns at once when an entry
    /// is due.
    pub(crate) fn sleep_till_due(&self) {
        let mut g = lock(&self.state);
        let now = self.now_tick(Instant::now());
        match g.wheel.next_expiration() {
            Some(t) if t <= now => return,
            Some(t) => {
                g.sleeping_until = Some(t);
                let wait_for = self.instant_of(t).saturating_duration_since(Instant::now());
                g = wait_timeout(&self.cv, g, wait_for);
            }
            None => {
                g.sleeping_until = None;
                g = wait(&self.cv, g);
            }
        }
        g.sleeping_until = None;
    }

    /// Moves a manual clock forward by `by` (whole ticks, rounded down): returns
    /// its new tick.
    pub(crate) fn advance_manual(&self, by: Duration) -> u64 {
        let ticks = u64::try_from(by.as_nanos() / TICK.as_nanos()).unwrap_or(u64::MAX);
        let mut g = lock(&self.state);
        g.manual_now = g.manual_now.saturating_add(ticks);
        g.manual_now
    }
}

/// A delay so long it never comes (about 30 years): longer delays count as this.
const FAR: Duration = Duration::from_secs(86_400 * 365 * 30);

/// `now + delay`, a delay beyond [`FAR`] counting as `FAR` (as in `tick_after`):
/// a deadline that never comes, never one that overflows back to `now`.
pub(crate) fn instant_after(now: Instant, delay: Duration) -> Instant {
    now.checked_add(delay.min(FAR))
        .unwrap_or_else(|| far_future(now))
}

/// A deadline so far away it never comes (about 30 years), for overflowing delays.
fn far_future(now: Instant) -> Instant {
    let mut years = 30u64;
    loop {
        if let Some(t) = now.checked_add(Duration::from_secs(86_400 * 365 * years)) {
            return t;
        }
        if years == 0 {
            return now;
        }
        years /= 2;
    }
}
