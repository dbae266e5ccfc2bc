//! The timer behind delayed work: a hierarchical timing wheel (`wheel.rs`) of armed
//! items, driven either by one process-wide thread that sleeps until the next
//! deadline, or by a [`ManualClock`] that tests move forward by hand.
//!
//! Time is counted in ticks of 250 microseconds since the clock's origin. A deadline
//! is rounded *up* to a tick and an entry fires only once the clock has reached
//! that tick, so nothing fires early, and rounding adds at most one tick of
//! lateness. (The thread wakes only for ticks that have something to fire, so a
//! finer tick costs wake-ups only while timers are due every tick.)

mod wheel;

pub(crate) use wheel::TimerKey;

use crate::engine::item::WorkInner;
use crate::engine::RunQueue;
use crate::error::Error;
use crate::support::sync::{lock, wait, wait_timeout, Arc, Condvar, Mutex};
use std::fmt;
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
enum Drive {
    /// The process-wide timer thread reads the system's monotonic clock.
    System,
    /// Time moves only when [`ManualClock::advance`] is called.
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

impl Timer {
    fn new(drive: Drive) -> Arc<Timer> {
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
    fn now_tick(&self, now: Instant) -> u64 {
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

    /// Makes sure something will drive this timer (starts the system thread).
    ///
    /// # Errors
    /// [`Error::Spawn`] when the timer thread cannot be started.
    #[inline]
    pub(crate) fn ensure_driven(this: &Arc<Timer>) -> Result<(), Error> {
        if matches!(this.drive, Drive::Manual)
            || SYSTEM_DRIVEN.load(std::sync::atomic::Ordering::Acquire)
        {
            return Ok(());
        }
        Self::start_thread(this)
    }

    /// The first delayed item of the process: starts the `workq-timer` thread.
    #[cold]
    fn start_thread(this: &Arc<Timer>) -> Result<(), Error> {
        let mut g = lock(&this.state);
        if g.thread == Thread::Running {
            return Ok(());
        }
        let timer = this.clone();
        std::thread::Builder::new()
            .name("workq-timer".to_string())
            .spawn(move || Timer::drive_system(&timer))
            .map_err(|source| Error::Spawn {
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
            let earlier = g.sleeping_until.map_or(true, |t| tick < t);
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

    /// Hands every entry due by `now_tick` to its queue.
    ///
    /// The delivery is registered (a ticket) in the same lock as the entries leave
    /// the wheel, and ends in the lock that does the early cascading, once every
    /// queue has been told and before any user code runs (thread starts, the
    /// drops of the wheel's references: a drop may shut a queue down, which waits
    /// for deliveries). No lock is added to the fire path.
    fn fire_due(&self, now_tick: u64) {
        let mut expired = Vec::new();
        let ticket = {
            let mut g = lock(&self.state);
            g.wheel.advance(now_tick, &mut expired);
            if expired.is_empty() {
                g.wheel.prepare();
                return;
            }
            let d = &mut g.deliveries;
            let ticket = d.next;
            d.next += 1;
            d.under_way.push(ticket);
            ticket
        };
        let outer = DELIVERING.with(|c| c.replace(Some(ticket)));
        let delivered = RunQueue::deliver(expired);
        DELIVERING.with(|c| c.set(outer));
        {
            let mut g = lock(&self.state);
            let d = &mut g.deliveries;
            d.under_way.retain(|&t| t != ticket);
            for &(id, n) in &delivered.cancelled_late {
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
        delivered.finish();
    }

    /// The system timer thread: fire what is due, sleep until the next deadline.
    fn drive_system(this: &Arc<Timer>) {
        loop {
            this.fire_due(this.now_tick(Instant::now()));
            let mut g = lock(&this.state);
            let now = this.now_tick(Instant::now());
            match g.wheel.next_expiration() {
                Some(t) if t <= now => continue,
                Some(t) => {
                    g.sleeping_until = Some(t);
                    let wait_for = this.instant_of(t).saturating_duration_since(Instant::now());
                    g = wait_timeout(&this.cv, g, wait_for);
                }
                None => {
                    g.sleeping_until = None;
                    g = wait(&this.cv, g);
                }
            }
            g.sleeping_until = None;
        }
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

/// A clock that moves only when told to, for testing code that uses delayed work.
///
/// Give it to [`WorkerBuilder::manual_clock`](crate::WorkerBuilder::manual_clock):
/// the worker's delayed items then fire when [`advance`](ManualClock::advance)
/// passes their deadline, on the thread that calls it, and never otherwise. The
/// clock's time starts at the [`Instant`] it was created.
///
/// ```
/// use std::time::Duration;
/// use workq::{ManualClock, Work, Worker};
///
/// let clock = ManualClock::new();
/// let worker = Worker::builder().name("manual").manual_clock(&clock).build()?;
/// let work = Work::new(|_| {});
/// worker.queue_after(&work, Duration::from_secs(60))?;
/// clock.advance(Duration::from_secs(59));
/// assert!(work.is_pending());
/// clock.advance(Duration::from_secs(1));
/// work.flush()?;
/// assert!(!work.is_pending());
/// # Ok::<(), workq::Error>(())
/// ```
#[derive(Clone)]
pub struct ManualClock {
    pub(crate) timer: Arc<Timer>,
}

impl ManualClock {
    /// A clock standing at the current instant.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let before = Instant::now();
    /// let clock = workq::ManualClock::new();
    /// assert!(clock.now() >= before); // starts at the current instant...
    /// clock.advance(Duration::from_secs(3600));
    /// assert!(clock.now() >= before + Duration::from_secs(3600)); // ...and moves only by hand
    /// assert_eq!(clock.armed(), 0);
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn new() -> ManualClock {
        ManualClock {
            timer: Timer::new(Drive::Manual),
        }
    }

    /// The clock's current time.
    ///
    /// ```
    /// let clock = workq::ManualClock::new();
    /// let t0 = clock.now();
    /// clock.advance(std::time::Duration::from_millis(5));
    /// assert_eq!(clock.now() - t0, std::time::Duration::from_millis(5));
    /// ```
    pub fn now(&self) -> Instant {
        self.timer.now()
    }

    /// Moves the clock forward by `by` (in whole ticks of 250 µs, rounded down) and
    /// queues every item whose deadline has been reached, before returning.
    ///
    /// ```
    /// let clock = workq::ManualClock::new();
    /// clock.advance(std::time::Duration::from_secs(3600));
    /// ```
    pub fn advance(&self, by: Duration) {
        let ticks = u64::try_from(by.as_nanos() / TICK.as_nanos()).unwrap_or(u64::MAX);
        let now = {
            let mut g = lock(&self.timer.state);
            g.manual_now = g.manual_now.saturating_add(ticks);
            g.manual_now
        };
        self.timer.fire_due(now);
    }

    /// Items armed on this clock and not yet fired or cancelled.
    ///
    /// ```
    /// assert_eq!(workq::ManualClock::new().armed(), 0);
    /// ```
    pub fn armed(&self) -> usize {
        self.timer.armed()
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        ManualClock::new()
    }
}

impl fmt::Debug for ManualClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManualClock")
            .field("armed", &self.armed())
            .finish()
    }
}
