//! Events that are never lost: the kernel's kevent pattern (set a bit, queue one
//! item that handles every pending event), with counts and "backlogged" reporting.
//!
//! A raise sets its kind's bit (and, in counted mode, adds one to the kind's
//! counter) *before* it queues the handler item. The queue call's contract (a run
//! starts after every successful call and sees the caller's writes) then means the
//! raise is seen by a handler run. Nothing is dropped: when the handler is already
//! pending the raise is folded into that run, which is reported, if it piles up,
//! as "backlogged".

use crate::engine::{stamp, unstamp};
use crate::error::Error;
use crate::submit::Submit;
use crate::sync::{Arc, AtomicU64, Ordering};
use crate::work::{Queued, Work, WorkCtx};
use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The largest number of event kinds (bits 0 to 63).
pub const MAX_KINDS: usize = 64;

/// A set of event kinds, one bit each.
///
/// ```
/// let set = workq::EventSet::from_bits(0b101);
/// assert!(set.contains(0) && set.contains(2) && !set.contains(1));
/// assert_eq!(set.iter().collect::<Vec<_>>(), vec![0, 2]);
/// ```
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct EventSet(u64);

impl EventSet {
    /// The set with these bits.
    pub fn from_bits(bits: u64) -> EventSet {
        EventSet(bits)
    }

    /// The set's bits.
    pub fn bits(self) -> u64 {
        self.0
    }

    /// Whether `kind` is in the set.
    pub fn contains(self, kind: u8) -> bool {
        kind < 64 && self.0 & (1 << kind) != 0
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// How many kinds are in the set.
    pub fn len(self) -> usize {
        self.0.count_ones() as usize
    }

    /// The kinds in the set, lowest first.
    pub fn iter(self) -> impl Iterator<Item = u8> {
        (0u8..64).filter(move |k| self.0 & (1 << k) != 0)
    }
}

impl fmt::Debug for EventSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

/// What one handler run is given: the kinds raised since the previous run, taken
/// at once, and in counted mode how many times each was raised.
#[derive(Debug)]
pub struct Raised {
    set: EventSet,
    counts: Vec<u64>,
}

impl Raised {
    /// The kinds raised since the previous run.
    pub fn set(&self) -> EventSet {
        self.set
    }

    /// How many raises of `kind` this run handles: in counted mode the number of
    /// raises folded into it; otherwise 1 if the kind is in the set.
    pub fn count(&self, kind: u8) -> u64 {
        self.counts.get(usize::from(kind)).copied().unwrap_or(0)
    }

    /// (kind, count) for every kind in the set.
    pub fn iter(&self) -> impl Iterator<Item = (u8, u64)> + '_ {
        self.set.iter().map(|k| (k, self.count(k)))
    }
}

/// Why a run was reported as backlogged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BacklogReason {
    /// An event waited longer than the age threshold before a run took it.
    Waited(Duration),
    /// More raises than the fold threshold were folded into one run.
    Folded(u64),
}

/// A "backlogged" report: the handler falls behind. Nothing was lost; every raise
/// is still handled.
#[derive(Clone, Debug)]
pub struct BacklogReport<'a> {
    /// The events' name.
    pub events: &'a str,
    /// Why it is reported.
    pub reason: BacklogReason,
    /// (kind, raises folded into this run, how long the kind waited).
    pub kinds: &'a [(u8, u64, Duration)],
}

impl fmt::Display for BacklogReport<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "workq: events '{}' backlogged (", self.events)?;
        match self.reason {
            BacklogReason::Waited(d) => write!(f, "an event waited {d:.1?}")?,
            BacklogReason::Folded(n) => write!(f, "{n} raises folded into one run")?,
        }
        write!(f, "); nothing lost:")?;
        for (kind, count, waited) in self.kinds {
            write!(f, " kind {kind} x{count} waited {waited:.1?};")?;
        }
        Ok(())
    }
}

/// The backlog hook.
pub type BacklogHook = std::sync::Arc<dyn Fn(&BacklogReport<'_>) + Send + Sync>;

/// Per-kind statistics of an [`Events`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct EventStats {
    /// Handler runs.
    pub runs: u64,
    /// Raises per kind.
    pub raised: Vec<u64>,
    /// Raises per kind seen by handler runs so far (equals `raised` once the handler
    /// has caught up).
    pub seen: Vec<u64>,
    /// Raises per kind that were folded into a run shared with earlier raises.
    pub folded: Vec<u64>,
    /// Runs reported as backlogged.
    pub backlogged: u64,
}

/// State shared by the handle and the handler item.
struct Core {
    name: String,
    counted: bool,
    bits: AtomicU64,
    /// Counted mode: raises per kind not yet taken.
    counts: Box<[AtomicU64]>,
    /// When each kind's bit was set (a `stamp`; 0: not set).
    since: Box<[AtomicU64]>,
    raised: Box<[AtomicU64]>,
    seen: Box<[AtomicU64]>,
    runs_with: Box<[AtomicU64]>,
    runs: AtomicU64,
    backlogged: AtomicU64,
    age_limit: Option<Duration>,
    fold_limit: Option<u64>,
    on_backlog: Option<BacklogHook>,
    log_every: Duration,
    last_log: Mutex<Option<Instant>>,
}

fn atomics(n: usize) -> Box<[AtomicU64]> {
    (0..n).map(|_| AtomicU64::new(0)).collect()
}

impl Core {
    /// Takes every pending event at once (the handler's side).
    fn take(&self) -> (Raised, Vec<(u8, u64, Duration)>) {
        let bits = self.bits.swap(0, Ordering::AcqRel);
        let now = Instant::now();
        let mut counts = vec![0; self.counts.len()];
        let mut set = 0u64;
        let mut detail = Vec::new();
        for kind in EventSet(bits).iter() {
            let k = usize::from(kind);
            let n = if self.counted {
                self.counts[k].swap(0, Ordering::AcqRel)
            } else {
                1
            };
            let since = self.since[k].swap(0, Ordering::AcqRel);
            if n == 0 {
                // Its count was taken by the previous run, after the raise bumped it
                // and before it set the bit: nothing new.
                continue;
            }
            set |= 1 << kind;
            counts[k] = n;
            let waited = if since == 0 {
                Duration::ZERO
            } else {
                now.saturating_duration_since(unstamp(since))
            };
            detail.push((kind, n, waited));
            self.seen[k].fetch_add(n, Ordering::Relaxed);
            self.runs_with[k].fetch_add(1, Ordering::Relaxed);
        }
        self.runs.fetch_add(1, Ordering::Relaxed);
        (
            Raised {
                set: EventSet(set),
                counts,
            },
            detail,
        )
    }

    /// Reports the run as backlogged if it is.
    fn check_backlog(&self, detail: &[(u8, u64, Duration)]) {
        let oldest = detail.iter().map(|d| d.2).max().unwrap_or_default();
        let folds: u64 = detail.iter().map(|d| d.1).sum();
        let reason = match (self.age_limit, self.fold_limit) {
            (Some(age), _) if oldest > age => BacklogReason::Waited(oldest),
            (_, Some(limit)) if folds > limit => BacklogReason::Folded(folds),
            _ => return,
        };
        self.backlogged.fetch_add(1, Ordering::Relaxed);
        let report = BacklogReport {
            events: &self.name,
            reason,
            kinds: detail,
        };
        if let Some(hook) = &self.on_backlog {
            crate::panic::quietly(|| hook(&report));
        }
        let now = Instant::now();
        let mut last = self.last_log.lock().unwrap_or_else(|p| p.into_inner());
        if last.map_or(true, |t| now.saturating_duration_since(t) >= self.log_every) {
            *last = Some(now);
            crate::log::trouble!(warn, "{report}");
        }
    }
}

/// A handler item plus up to 64 event kinds: raise events from anywhere, one
/// handler run takes every event raised since the previous run. See the module
/// docs of the pattern.
///
/// ```
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use std::sync::Arc;
/// use workq::{Events, Worker};
///
/// const RX: u8 = 0;
/// const LINK: u8 = 2;
/// let worker = Worker::new("netdev")?;
/// let handled = Arc::new(AtomicU64::new(0));
/// let h = handled.clone();
/// let events = Events::builder("kevent").counted(true).build(worker, move |raised, _ctx| {
///     for (_kind, count) in raised.iter() {
///         h.fetch_add(count, Ordering::SeqCst);
///     }
/// })?;
/// for _ in 0..100 {
///     events.raise(RX)?;
/// }
/// events.raise(LINK)?;
/// events.flush()?;
/// assert_eq!(handled.load(Ordering::SeqCst), 101); // nothing dropped
/// # Ok::<(), workq::Error>(())
/// ```
pub struct Events {
    core: Arc<Core>,
    work: Work,
    target: Box<dyn Submit>,
}

/// Settings of an [`Events`].
#[must_use = "a builder does nothing until `build` is called"]
pub struct EventsBuilder {
    name: String,
    kinds: usize,
    counted: bool,
    age_limit: Option<Duration>,
    fold_limit: Option<u64>,
    on_backlog: Option<BacklogHook>,
    log_every: Duration,
}

impl Events {
    /// A builder for events named `name` (the handler item gets that name).
    ///
    /// ```
    /// let b = workq::Events::builder("usb0-kevent");
    /// # drop(b);
    /// ```
    pub fn builder(name: impl Into<String>) -> EventsBuilder {
        EventsBuilder {
            name: name.into(),
            kinds: MAX_KINDS,
            counted: false,
            age_limit: Some(Duration::from_secs(1)),
            fold_limit: None,
            on_backlog: None,
            log_every: Duration::from_secs(1),
        }
    }

    /// Raises event `kind`: sets its bit (and counts it, in counted mode), then
    /// queues the handler. The raise is seen by a handler run that starts after
    /// this call; if the handler was already pending it is folded into that run.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for a kind outside the declared range; otherwise
    /// the target's queue errors (for example [`Error::Destroyed`]); the event
    /// stays set and is seen by the next run if there is one.
    pub fn raise(&self, kind: u8) -> Result<Queued, Error> {
        let k = usize::from(kind);
        if k >= self.core.counts.len() {
            return Err(Error::InvalidConfig {
                setting: "event kind",
                reason: format!("{kind} is not below {}", self.core.counts.len()),
            });
        }
        let core = &self.core;
        core.raised[k].fetch_add(1, Ordering::Relaxed);
        if core.counted {
            core.counts[k].fetch_add(1, Ordering::AcqRel);
        }
        let _ = core.since[k].compare_exchange(
            0,
            stamp(Instant::now()).max(1),
            Ordering::AcqRel,
            Ordering::Relaxed,
        );
        core.bits.fetch_or(1 << kind, Ordering::AcqRel);
        self.target.submit(&self.work)
    }

    /// Waits until the handler run covering every raise made before the call has
    /// finished.
    ///
    /// # Errors
    /// As [`Work::flush`].
    pub fn flush(&self) -> Result<bool, Error> {
        self.work.flush()
    }

    /// The handler item (to cancel it, or look at its state).
    pub fn work(&self) -> &Work {
        &self.work
    }

    /// Per-kind statistics.
    ///
    /// ```
    /// let w = workq::Worker::new("ev-stats")?;
    /// let ev = workq::Events::builder("s").kinds(2).build(w, |_, _| {})?;
    /// ev.raise(1)?;
    /// ev.flush()?;
    /// let st = ev.stats();
    /// assert_eq!((st.raised[1], st.seen[1]), (1, 1));
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn stats(&self) -> EventStats {
        let load = |v: &[AtomicU64]| {
            v.iter()
                .map(|a| a.load(Ordering::Relaxed))
                .collect::<Vec<_>>()
        };
        let raised = load(&self.core.raised);
        let runs_with = load(&self.core.runs_with);
        EventStats {
            runs: self.core.runs.load(Ordering::Relaxed),
            folded: raised
                .iter()
                .zip(&runs_with)
                .map(|(r, w)| r.saturating_sub(*w))
                .collect(),
            raised,
            seen: load(&self.core.seen),
            backlogged: self.core.backlogged.load(Ordering::Relaxed),
        }
    }
}

impl EventsBuilder {
    /// How many kinds (bits) are used, 1 to 64 (default 64).
    pub fn kinds(mut self, n: usize) -> EventsBuilder {
        self.kinds = n;
        self
    }

    /// Counted mode: the handler also gets how many times each kind was raised.
    pub fn counted(mut self, counted: bool) -> EventsBuilder {
        self.counted = counted;
        self
    }

    /// Report "backlogged" when an event waited longer than `age` before a run took
    /// it (default 1 s; `None`: never for age).
    pub fn backlog_age(mut self, age: Option<Duration>) -> EventsBuilder {
        self.age_limit = age;
        self
    }

    /// Report "backlogged" when more than `folds` raises went into one run (default
    /// `None`: never for folds).
    pub fn backlog_folds(mut self, folds: Option<u64>) -> EventsBuilder {
        self.fold_limit = folds;
        self
    }

    /// Called for every backlogged run (besides a log line at most once a second).
    pub fn on_backlog<F>(mut self, hook: F) -> EventsBuilder
    where
        F: Fn(&BacklogReport<'_>) + Send + Sync + 'static,
    {
        self.on_backlog = Some(std::sync::Arc::new(hook));
        self
    }

    /// The shortest time between two backlog log lines (default 1 s).
    pub fn log_every(mut self, every: Duration) -> EventsBuilder {
        self.log_every = every;
        self
    }

    /// Makes the events, with `handler` run on `target` (a [`Worker`](crate::Worker),
    /// [`Pool`](crate::Pool) or pool [`Owner`](crate::Owner)).
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for a number of kinds outside 1..=64.
    pub fn build<T, F>(self, target: T, handler: F) -> Result<Events, Error>
    where
        T: Submit + 'static,
        F: Fn(&Raised, &WorkCtx<'_>) + Send + Sync + 'static,
    {
        if !(1..=MAX_KINDS).contains(&self.kinds) {
            return Err(Error::InvalidConfig {
                setting: "kinds",
                reason: format!("{} is outside 1..=64", self.kinds),
            });
        }
        let core = Arc::new(Core {
            name: self.name.clone(),
            counted: self.counted,
            bits: AtomicU64::new(0),
            counts: atomics(self.kinds),
            since: atomics(self.kinds),
            raised: atomics(self.kinds),
            seen: atomics(self.kinds),
            runs_with: atomics(self.kinds),
            runs: AtomicU64::new(0),
            backlogged: AtomicU64::new(0),
            age_limit: self.age_limit,
            fold_limit: self.fold_limit,
            on_backlog: self.on_backlog,
            log_every: self.log_every,
            last_log: Mutex::new(None),
        });
        let c = core.clone();
        let work = Work::named(self.name, move |ctx| {
            let (raised, detail) = c.take();
            if !raised.set().is_empty() {
                handler(&raised, ctx);
            }
            c.check_backlog(&detail);
        });
        Ok(Events {
            core,
            work,
            target: Box::new(target),
        })
    }
}

impl fmt::Debug for Events {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Events")
            .field("name", &self.core.name)
            .field("target", &self.target.target_name())
            .field("counted", &self.core.counted)
            .finish()
    }
}

impl fmt::Debug for EventsBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventsBuilder")
            .field("name", &self.name)
            .field("kinds", &self.kinds)
            .field("counted", &self.counted)
            .finish()
    }
}
