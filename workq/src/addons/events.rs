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
use crate::front::submit::Submit;
use crate::front::work::{Queued, Work, WorkCtx};
use crate::support::sync::{lock, Arc, AtomicU64, Mutex, Ordering};
use std::fmt;
use std::time::{Duration, Instant};

/// The largest number of event kinds (bits 0 to 63).
///
/// ```
/// use workq::{Error, Events, Worker, MAX_KINDS};
/// let worker = Worker::new("kinds")?;
/// let all = Events::builder("all").kinds(MAX_KINDS).build(worker.clone(), |_, _| {})?;
/// all.raise(63)?; // kinds are 0 to MAX_KINDS - 1
/// let err = Events::builder("too-many").kinds(MAX_KINDS + 1).build(worker, |_, _| {});
/// assert!(matches!(err, Err(Error::InvalidConfig { setting: "kinds", .. })));
/// # Ok::<(), workq::Error>(())
/// ```
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
    ///
    /// ```
    /// let set = workq::EventSet::from_bits(1 << 3 | 1);
    /// assert_eq!(set.len(), 2);
    /// assert!(set.contains(0) && set.contains(3));
    /// ```
    pub fn from_bits(bits: u64) -> EventSet {
        EventSet(bits)
    }

    /// The set's bits.
    ///
    /// ```
    /// assert_eq!(workq::EventSet::from_bits(0b1010).bits(), 0b1010);
    /// assert_eq!(workq::EventSet::default().bits(), 0);
    /// ```
    pub fn bits(self) -> u64 {
        self.0
    }

    /// Whether `kind` is in the set. `kind` is a `u8` or anything that converts
    /// into one (a user enum with `impl From<MyKind> for u8`).
    ///
    /// ```
    /// let set = workq::EventSet::from_bits(1 << 63);
    /// assert!(set.contains(63));
    /// assert!(!set.contains(0));
    /// assert!(!set.contains(64)); // beyond the last kind: never
    /// ```
    pub fn contains(self, kind: impl Into<u8>) -> bool {
        let kind = kind.into();
        kind < 64 && self.0 & (1 << kind) != 0
    }

    /// Whether the set is empty.
    ///
    /// ```
    /// assert!(workq::EventSet::default().is_empty());
    /// assert!(!workq::EventSet::from_bits(1).is_empty());
    /// ```
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// How many kinds are in the set.
    ///
    /// ```
    /// assert_eq!(workq::EventSet::from_bits(0b111).len(), 3);
    /// assert_eq!(workq::EventSet::from_bits(u64::MAX).len(), workq::MAX_KINDS);
    /// ```
    pub fn len(self) -> usize {
        self.0.count_ones() as usize
    }

    /// The kinds in the set, lowest first.
    ///
    /// ```
    /// let set = workq::EventSet::from_bits(0b1001_0010);
    /// assert_eq!(set.iter().collect::<Vec<_>>(), [1, 4, 7]);
    /// ```
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
///
/// ```
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use std::sync::Arc;
/// use workq::{Events, Worker};
///
/// const RX: u8 = 0;
/// const LINK: u8 = 1;
/// let worker = Worker::builder().name("raised").freezable(true).build()?;
/// worker.freeze()?; // the raises below pile up for one handler run
/// let (rx, link) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
/// let (r, l) = (rx.clone(), link.clone());
/// let events = Events::builder("netdev").counted(true).build(worker.clone(), move |raised, _ctx| {
///     r.fetch_add(raised.count(RX), Ordering::SeqCst); // 0 if not raised
///     if raised.set().contains(LINK) {
///         l.fetch_add(1, Ordering::SeqCst);
///     }
/// })?;
/// events.raise(RX)?;
/// events.raise(RX)?;
/// events.raise(LINK)?;
/// worker.thaw()?;
/// events.flush()?;
/// assert_eq!((rx.load(Ordering::SeqCst), link.load(Ordering::SeqCst)), (2, 1));
/// # Ok::<(), workq::Error>(())
/// ```
#[derive(Debug)]
pub struct Raised {
    set: EventSet,
    counts: Vec<u64>,
}

impl Raised {
    /// The kinds raised since the previous run.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use workq::{EventSet, Events, Worker};
    /// let worker = Worker::builder().name("raised-set").freezable(true).build()?;
    /// worker.freeze()?; // the raises below pile up for one handler run
    /// let got = Arc::new(Mutex::new(EventSet::default()));
    /// let g = got.clone();
    /// let events = Events::builder("ev").build(worker.clone(), move |raised, _ctx| {
    ///     *g.lock().expect("lock") = raised.set();
    /// })?;
    /// events.raise(5)?;
    /// events.raise(1)?;
    /// events.raise(5)?;
    /// worker.thaw()?;
    /// events.flush()?;
    /// assert_eq!(got.lock().expect("lock").bits(), 1 << 5 | 1 << 1);
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn set(&self) -> EventSet {
        self.set
    }

    /// How many raises of `kind` this run handles: in counted mode the number of
    /// raises folded into it; otherwise 1 if the kind is in the set. `kind` is a
    /// `u8` or anything that converts into one.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicU64, Ordering};
    /// use std::sync::Arc;
    /// use workq::{Events, Worker};
    /// let worker = Worker::builder().name("raised-count").freezable(true).build()?;
    /// worker.freeze()?; // the raises below pile up for one handler run
    /// let counts = Arc::new([AtomicU64::new(0), AtomicU64::new(0)]);
    /// let c = counts.clone();
    /// let events = Events::builder("ev").counted(true).build(worker.clone(), move |raised, _ctx| {
    ///     c[0].store(raised.count(0), Ordering::SeqCst);
    ///     c[1].store(raised.count(1), Ordering::SeqCst);
    /// })?;
    /// for _ in 0..3 {
    ///     events.raise(0)?;
    /// }
    /// worker.thaw()?;
    /// events.flush()?;
    /// assert_eq!(counts[0].load(Ordering::SeqCst), 3); // 1 without counted mode
    /// assert_eq!(counts[1].load(Ordering::SeqCst), 0); // not raised
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn count(&self, kind: impl Into<u8>) -> u64 {
        self.counts
            .get(usize::from(kind.into()))
            .copied()
            .unwrap_or(0)
    }

    /// (kind, count) for every kind in the set.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use workq::{Events, Worker};
    /// let worker = Worker::builder().name("raised-iter").freezable(true).build()?;
    /// worker.freeze()?; // the raises below pile up for one handler run
    /// let got = Arc::new(Mutex::new(Vec::new()));
    /// let g = got.clone();
    /// let events = Events::builder("ev").counted(true).build(worker.clone(), move |raised, _ctx| {
    ///     g.lock().expect("lock").extend(raised.iter());
    /// })?;
    /// events.raise(3)?;
    /// events.raise(0)?;
    /// events.raise(3)?;
    /// worker.thaw()?;
    /// events.flush()?;
    /// assert_eq!(*got.lock().expect("lock"), [(0, 1), (3, 2)]);
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn iter(&self) -> impl Iterator<Item = (u8, u64)> + '_ {
        self.set.iter().map(|k| (k, self.count(k)))
    }
}

/// Why a run was reported as backlogged.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use workq::{BacklogReason, Events, Worker};
/// let worker = Worker::builder().name("slow-handler").freezable(true).build()?;
/// worker.freeze()?; // the raises below pile up for one handler run
/// let reasons = Arc::new(Mutex::new(Vec::new()));
/// let r = reasons.clone();
/// let events = Events::builder("rx")
///     .counted(true)
///     .backlog_age(None)
///     .backlog_folds(Some(3))
///     .on_backlog(move |report| r.lock().expect("lock").push(report.reason))
///     .build(worker.clone(), |_, _| {})?;
/// for _ in 0..5 {
///     events.raise(0)?;
/// }
/// worker.thaw()?;
/// events.flush()?;
/// assert_eq!(*reasons.lock().expect("lock"), [BacklogReason::Folded(5)]);
/// # Ok::<(), workq::Error>(())
/// ```
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
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use workq::{BacklogReport, Events, Worker};
/// let worker = Worker::builder().name("slow-handler").freezable(true).build()?;
/// worker.freeze()?; // the raises below pile up for one handler run
/// let seen = Arc::new(Mutex::new(Vec::new()));
/// let s = seen.clone();
/// let events = Events::builder("rx")
///     .counted(true)
///     .backlog_age(None)
///     .backlog_folds(Some(3))
///     .on_backlog(move |report: &BacklogReport<'_>| {
///         let (kind, count, _waited) = report.kinds[0];
///         s.lock().expect("lock").push((report.events.to_string(), kind, count, report.to_string()));
///     })
///     .build(worker.clone(), |_, _| {})?;
/// for _ in 0..5 {
///     events.raise(2)?;
/// }
/// worker.thaw()?;
/// events.flush()?;
/// let seen = seen.lock().expect("lock");
/// let (events_name, kind, count, line) = &seen[0];
/// assert_eq!((events_name.as_str(), *kind, *count), ("rx", 2, 5));
/// assert!(line.starts_with("workq: events 'rx' backlogged (5 raises folded into one run); nothing lost"));
/// # Ok::<(), workq::Error>(())
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct BacklogReport<'a> {
    /// The events' name.
    pub events: &'a str,
    /// Why it is reported.
    pub reason: BacklogReason,
    /// (kind, raises folded into this run, how long the kind waited).
    pub kinds: &'a [(u8, u64, Duration)],
    /// The kinds' names, by kind, as given to [`EventsBuilder::kind_names`]
    /// (`None` for a kind without a name); see [`BacklogReport::kind_name`].
    pub names: &'a [Option<String>],
}

impl<'a> BacklogReport<'a> {
    /// The name of `kind`, if the builder gave it one ([`EventsBuilder::kind_names`]).
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use workq::{Events, Worker};
    /// let worker = Worker::builder().name("named-backlog").freezable(true).build()?;
    /// worker.freeze()?; // the raises below pile up for one handler run
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let s = seen.clone();
    /// let events = Events::builder("nic")
    ///     .kind_names(["rx", "tx"])
    ///     .backlog_age(None)
    ///     .backlog_folds(Some(1))
    ///     .on_backlog(move |report| {
    ///         let mut s = s.lock().expect("lock");
    ///         for &(kind, _, _) in report.kinds {
    ///             s.push(report.kind_name(kind).map(str::to_owned));
    ///         }
    ///         s.push(Some(report.to_string()));
    ///     })
    ///     .build(worker.clone(), |_, _| {})?;
    /// events.raise(0u8)?;
    /// events.raise(1u8)?;
    /// worker.thaw()?;
    /// events.flush()?;
    /// let seen = seen.lock().expect("lock");
    /// assert_eq!(seen[0].as_deref(), Some("rx"));
    /// assert_eq!(seen[1].as_deref(), Some("tx"));
    /// assert!(seen[2].as_deref().is_some_and(|line| line.contains("rx (kind 0) x1")));
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn kind_name(&self, kind: impl Into<u8>) -> Option<&'a str> {
        self.names
            .get(usize::from(kind.into()))
            .and_then(|n| n.as_deref())
    }
}

impl fmt::Display for BacklogReport<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "workq: events '{}' backlogged (", self.events)?;
        match self.reason {
            BacklogReason::Waited(d) => write!(f, "an event waited {d:.1?}")?,
            BacklogReason::Folded(n) => write!(f, "{n} raises folded into one run")?,
        }
        write!(f, "); nothing lost:")?;
        for &(kind, count, waited) in self.kinds {
            match self.kind_name(kind) {
                Some(name) => write!(f, " {name} (kind {kind}) x{count} waited {waited:.1?};")?,
                None => write!(f, " kind {kind} x{count} waited {waited:.1?};")?,
            }
        }
        Ok(())
    }
}

/// The backlog hook.
///
/// [`EventsBuilder::on_backlog`] takes any closure; keep a hook in this type to
/// share one between several [`Events`].
///
/// ```
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use std::sync::Arc;
/// use workq::{BacklogHook, Events, Worker};
///
/// let reports = Arc::new(AtomicU64::new(0));
/// let r = reports.clone();
/// let hook: BacklogHook = Arc::new(move |_report| {
///     r.fetch_add(1, Ordering::SeqCst);
/// });
/// let worker = Worker::builder().name("shared-hook").freezable(true).build()?;
/// worker.freeze()?; // the raises below pile up for one handler run
/// let (h1, h2) = (hook.clone(), hook.clone());
/// let rx = Events::builder("rx").backlog_folds(Some(0)).on_backlog(move |r| h1(r));
/// let tx = Events::builder("tx").backlog_folds(Some(0)).on_backlog(move |r| h2(r));
/// let rx = rx.build(worker.clone(), |_, _| {})?;
/// let tx = tx.build(worker.clone(), |_, _| {})?;
/// rx.raise(0)?;
/// tx.raise(0)?;
/// worker.thaw()?;
/// rx.flush()?;
/// tx.flush()?;
/// assert_eq!(reports.load(Ordering::SeqCst), 2);
/// # Ok::<(), workq::Error>(())
/// ```
pub type BacklogHook = std::sync::Arc<dyn Fn(&BacklogReport<'_>) + Send + Sync>;

/// Per-kind statistics of an [`Events`].
///
/// ```
/// use workq::{Events, Worker};
/// let worker = Worker::builder().name("stats").freezable(true).build()?;
/// worker.freeze()?; // the raises below pile up for one handler run
/// let events = Events::builder("ev").kinds(2).counted(true).build(worker.clone(), |_, _| {})?;
/// for _ in 0..3 {
///     events.raise(0)?;
/// }
/// events.raise(1)?;
/// worker.thaw()?;
/// events.flush()?;
/// let st = events.stats();
/// assert_eq!(st.runs, 1);
/// assert_eq!(st.raised, [3, 1]);
/// assert_eq!(st.seen, [3, 1]); // counted mode: every raise is seen
/// assert_eq!(st.folded, [2, 0]); // three raises of kind 0 shared one run
/// assert_eq!(st.names, [None, None]); // no `kind_names` given
/// # Ok::<(), workq::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct EventStats {
    /// Handler runs.
    pub runs: u64,
    /// Raises per kind.
    pub raised: Vec<u64>,
    /// In counted mode, raises per kind seen by handler runs so far (equals
    /// `raised` once the handler has caught up); in plain mode, handler runs that
    /// saw the kind (each folds one or more raises).
    pub seen: Vec<u64>,
    /// Raises per kind that were folded into a run shared with earlier raises.
    pub folded: Vec<u64>,
    /// Runs reported as backlogged.
    pub backlogged: u64,
    /// The kinds' names, by kind (`None` for a kind without a name), as given to
    /// [`EventsBuilder::kind_names`].
    pub names: Vec<Option<String>>,
}

/// State shared by the handle and the handler item.
struct Core {
    name: String,
    /// The kinds' names, by kind.
    names: Box<[Option<String>]>,
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
            names: &self.names,
        };
        if let Some(hook) = &self.on_backlog {
            crate::support::panic::quietly(|| hook(&report));
        }
        let now = Instant::now();
        let mut last = lock(&self.last_log);
        if last.is_none_or(|t| now.saturating_duration_since(t) >= self.log_every) {
            *last = Some(now);
            crate::support::log::trouble!(warn, "{report}");
        }
    }
}

/// A handler item plus up to 64 event kinds: raise events from anywhere, one
/// handler run takes every event raised since the previous run. See the module
/// docs of the pattern.
///
/// `Events` is a cheap shared handle: a clone raises, flushes and reads the
/// statistics of the same events (one handler item, one set of counters).
///
/// A kind is a `u8` or any type that converts into one, so a program may name its
/// kinds with an enum (`impl From<Kind> for u8`); [`EventsBuilder::kind_names`]
/// gives them names for statistics and backlog reports.
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
///
/// // A user enum as the kind, a clone raising from another thread:
/// #[derive(Clone, Copy)]
/// enum Kind {
///     Rx,
///     Tx,
/// }
/// impl From<Kind> for u8 {
///     fn from(k: Kind) -> u8 {
///         k as u8
///     }
/// }
/// let worker = Worker::new("nic")?;
/// let nic = Events::builder("nic").kind_names(["rx", "tx"]).build(worker, |_, _| {})?;
/// let raiser = nic.clone();
/// std::thread::spawn(move || raiser.raise(Kind::Tx)).join().expect("raiser")?;
/// nic.raise(Kind::Rx)?;
/// nic.flush()?;
/// let st = nic.stats();
/// assert_eq!(st.raised, [1, 1]); // two kinds: one per name
/// assert_eq!(st.names[usize::from(u8::from(Kind::Tx))].as_deref(), Some("tx"));
/// # Ok::<(), workq::Error>(())
/// ```
#[derive(Clone)]
pub struct Events {
    core: Arc<Core>,
    work: Work,
    target: std::sync::Arc<dyn Submit>,
}

/// Settings of an [`Events`].
///
/// ```
/// use std::time::Duration;
/// let worker = workq::Worker::new("kevent")?;
/// let events = workq::Events::builder("usb0-kevent")
///     .kinds(8)
///     .counted(true)
///     .backlog_age(Some(Duration::from_millis(500)))
///     .backlog_folds(Some(1000))
///     .on_backlog(|report| eprintln!("{report}"))
///     .log_every(Duration::from_secs(10))
///     .build(worker, |raised, _ctx| {
///         for (kind, count) in raised.iter() {
///             println!("event {kind} x{count}");
///         }
///     })?;
/// events.raise(7)?;
/// events.flush()?;
/// # Ok::<(), workq::Error>(())
/// ```
#[must_use = "a builder does nothing until `build` is called"]
pub struct EventsBuilder {
    name: String,
    kinds: Option<usize>,
    names: Vec<String>,
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
            kinds: None,
            names: Vec::new(),
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
    /// `kind` is a `u8` or anything that converts into one (a user enum with
    /// `impl From<MyKind> for u8`).
    ///
    /// # Errors
    /// [`Error::InvalidKind`] for a kind outside the declared range (nothing is
    /// raised or counted); otherwise the target's queue errors (for example
    /// [`Error::Destroyed`]); the event stays set and is seen by the next run if
    /// there is one.
    ///
    /// ```
    /// use workq::{Error, Events, Queued, Worker};
    /// let worker = Worker::builder().name("raise").freezable(true).build()?;
    /// worker.freeze()?; // the raises below pile up for one handler run
    /// let events = Events::builder("ev").kinds(4).build(worker.clone(), |_, _| {})?;
    /// assert_eq!(events.raise(0)?, Queued::Scheduled); // the handler is queued
    /// assert_eq!(events.raise(1)?, Queued::AlreadyPending); // folded into that run
    /// assert!(matches!(events.raise(4), Err(Error::InvalidKind { kind: 4, kinds: 4, .. }))); // kinds are 0..4
    /// worker.thaw()?;
    /// events.flush()?;
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn raise(&self, kind: impl Into<u8>) -> Result<Queued, Error> {
        let kind = kind.into();
        let k = usize::from(kind);
        if k >= self.core.counts.len() {
            return Err(Error::InvalidKind {
                events: self.core.name.clone(),
                kind,
                kinds: self.core.counts.len(),
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
    ///
    /// ```
    /// use std::sync::atomic::{AtomicU64, Ordering};
    /// use std::sync::Arc;
    /// let seen = Arc::new(AtomicU64::new(0));
    /// let s = seen.clone();
    /// let worker = workq::Worker::new("ev-flush")?;
    /// let events = workq::Events::builder("ev").build(worker, move |raised, _ctx| {
    ///     s.fetch_or(raised.set().bits(), Ordering::SeqCst);
    /// })?;
    /// events.raise(2)?;
    /// events.flush()?; // the run that takes the raise has finished
    /// assert_eq!(seen.load(Ordering::SeqCst), 1 << 2);
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn flush(&self) -> Result<bool, Error> {
        self.work.flush()
    }

    /// The handler item (to cancel it, or look at its state).
    ///
    /// ```
    /// use workq::{Events, Worker};
    /// let worker = Worker::builder().name("ev-work").freezable(true).build()?;
    /// worker.freeze()?; // the raises below pile up for one handler run
    /// let events = Events::builder("usb0-kevent").build(worker.clone(), |_, _| {})?;
    /// assert_eq!(events.work().name(), Some("usb0-kevent")); // named after the events
    /// events.raise(0)?;
    /// assert!(events.work().is_pending());
    /// worker.thaw()?;
    /// events.flush()?;
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn work(&self) -> &Work {
        &self.work
    }

    /// How many kinds the events have (kinds are `0..kinds()`).
    ///
    /// ```
    /// let w = workq::Worker::new("ev-kinds")?;
    /// assert_eq!(workq::Events::builder("a").build(w.clone(), |_, _| {})?.kinds(), 64);
    /// assert_eq!(workq::Events::builder("b").kinds(3).build(w.clone(), |_, _| {})?.kinds(), 3);
    /// let named = workq::Events::builder("c").kind_names(["rx", "tx"]).build(w, |_, _| {})?;
    /// assert_eq!(named.kinds(), 2); // as many as names when `kinds` is not set
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn kinds(&self) -> usize {
        self.core.counts.len()
    }

    /// The name of `kind`, if the builder gave it one ([`EventsBuilder::kind_names`]).
    ///
    /// ```
    /// let w = workq::Worker::new("ev-names")?;
    /// let ev = workq::Events::builder("nic").kinds(4).kind_names(["rx", "tx"]).build(w, |_, _| {})?;
    /// assert_eq!(ev.kind_name(1u8), Some("tx"));
    /// assert_eq!(ev.kind_name(3u8), None); // a kind without a name
    /// assert_eq!(ev.kind_name(9u8), None); // not a kind
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn kind_name(&self, kind: impl Into<u8>) -> Option<&str> {
        self.core
            .names
            .get(usize::from(kind.into()))
            .and_then(|n| n.as_deref())
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
            names: self.core.names.to_vec(),
        }
    }
}

impl EventsBuilder {
    /// How many kinds (bits) are used, 1 to 64 (default: as many as
    /// [`kind_names`](EventsBuilder::kind_names) if given, else 64).
    ///
    /// ```
    /// use workq::{Error, Events, Worker};
    /// let worker = Worker::new("kinds")?;
    /// let events = Events::builder("ev").kinds(8).build(worker.clone(), |_, _| {})?;
    /// events.raise(7)?;
    /// assert!(matches!(events.raise(8), Err(Error::InvalidKind { kind: 8, .. })));
    /// let none = Events::builder("none").kinds(0).build(worker, |_, _| {});
    /// assert!(matches!(none, Err(Error::InvalidConfig { setting: "kinds", .. })));
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn kinds(mut self, n: usize) -> EventsBuilder {
        self.kinds = Some(n);
        self
    }

    /// Names the kinds, in order from kind 0: the names appear in
    /// [`EventStats::names`], backlog reports ([`BacklogReport::kind_name`] and its
    /// line) and [`Events::kind_name`]. Without [`kinds`](EventsBuilder::kinds)
    /// the events get exactly this many kinds; with it, the kinds beyond the names
    /// have none.
    ///
    /// ```
    /// use workq::{Error, Events, Worker};
    /// let worker = Worker::new("names")?;
    /// let events = Events::builder("nic")
    ///     .kind_names(["rx", "tx", "link"])
    ///     .build(worker.clone(), |_, _| {})?;
    /// events.raise(2u8)?;
    /// events.flush()?;
    /// let st = events.stats();
    /// assert_eq!(st.raised, [0, 0, 1]);
    /// assert_eq!(st.names[2].as_deref(), Some("link"));
    /// // More names than kinds is a configuration error:
    /// let err = Events::builder("bad").kinds(1).kind_names(["rx", "tx"]).build(worker, |_, _| {});
    /// assert!(matches!(err, Err(Error::InvalidConfig { setting: "kind_names", .. })));
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn kind_names<I, S>(mut self, names: I) -> EventsBuilder
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.names = names.into_iter().map(Into::into).collect();
        self
    }

    /// Counted mode: the handler also gets how many times each kind was raised.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicU64, Ordering};
    /// use std::sync::Arc;
    /// use workq::{Events, Worker};
    /// let worker = Worker::builder().name("counted").freezable(true).build()?;
    /// worker.freeze()?; // the raises below pile up for one handler run
    /// let count = Arc::new(AtomicU64::new(0));
    /// let c = count.clone();
    /// let events = Events::builder("ev").counted(true).build(worker.clone(), move |raised, _ctx| {
    ///     c.store(raised.count(0), Ordering::SeqCst);
    /// })?;
    /// for _ in 0..4 {
    ///     events.raise(0)?;
    /// }
    /// worker.thaw()?;
    /// events.flush()?;
    /// assert_eq!(count.load(Ordering::SeqCst), 4); // without counted mode: 1
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn counted(mut self, counted: bool) -> EventsBuilder {
        self.counted = counted;
        self
    }

    /// Report "backlogged" when an event waited longer than `age` before a run took
    /// it (default 1 s; `None`: never for age).
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use std::time::Duration;
    /// use workq::{BacklogReason, Events, Worker};
    /// let worker = Worker::builder().name("aged").freezable(true).build()?;
    /// worker.freeze()?; // the raises below pile up for one handler run
    /// let reason = Arc::new(Mutex::new(None));
    /// let r = reason.clone();
    /// let events = Events::builder("ev")
    ///     .backlog_age(Some(Duration::from_millis(1)))
    ///     .on_backlog(move |report| *r.lock().expect("lock") = Some(report.reason))
    ///     .build(worker.clone(), |_, _| {})?;
    /// events.raise(0)?;
    /// std::thread::sleep(Duration::from_millis(2)); // the event waits
    /// worker.thaw()?;
    /// events.flush()?;
    /// let reason = *reason.lock().expect("lock");
    /// assert!(matches!(reason, Some(BacklogReason::Waited(d)) if d > Duration::from_millis(1)));
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn backlog_age(mut self, age: Option<Duration>) -> EventsBuilder {
        self.age_limit = age;
        self
    }

    /// Report "backlogged" when more than `folds` raises went into one run (default
    /// `None`: never for folds).
    ///
    /// ```
    /// use workq::{Events, Worker};
    /// let worker = Worker::builder().name("folds").freezable(true).build()?;
    /// worker.freeze()?; // the raises below pile up for one handler run
    /// let events = Events::builder("ev")
    ///     .counted(true)
    ///     .backlog_age(None)
    ///     .backlog_folds(Some(3))
    ///     .build(worker.clone(), |_, _| {})?;
    /// for _ in 0..4 {
    ///     events.raise(0)?; // four raises, one run: over the threshold
    /// }
    /// worker.thaw()?;
    /// events.flush()?;
    /// assert_eq!(events.stats().backlogged, 1);
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn backlog_folds(mut self, folds: Option<u64>) -> EventsBuilder {
        self.fold_limit = folds;
        self
    }

    /// Called for every backlogged run (besides a log line at most once a second).
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use workq::{Events, Worker};
    /// let worker = Worker::builder().name("hooked").freezable(true).build()?;
    /// worker.freeze()?; // the raises below pile up for one handler run
    /// let lines = Arc::new(Mutex::new(Vec::new()));
    /// let l = lines.clone();
    /// let events = Events::builder("ev")
    ///     .backlog_folds(Some(1))
    ///     .on_backlog(move |report| l.lock().expect("lock").push(report.to_string()))
    ///     .build(worker.clone(), |_, _| {})?;
    /// events.raise(0)?;
    /// events.raise(1)?; // two kinds in one run: over the threshold
    /// worker.thaw()?;
    /// events.flush()?;
    /// let lines = lines.lock().expect("lock");
    /// assert_eq!(lines.len(), 1);
    /// assert!(lines[0].contains("nothing lost"));
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn on_backlog<F>(mut self, hook: F) -> EventsBuilder
    where
        F: Fn(&BacklogReport<'_>) + Send + Sync + 'static,
    {
        self.on_backlog = Some(std::sync::Arc::new(hook));
        self
    }

    /// The shortest time between two backlog log lines (default 1 s). A backlog
    /// log line (with or without a hook) is the report's line: a `warn` event of
    /// target `workq` when a `tracing` subscriber is installed, else one line on
    /// standard error.
    ///
    /// ```
    /// use std::time::Duration;
    /// let worker = workq::Worker::new("quiet")?;
    /// let events = workq::Events::builder("ev")
    ///     .backlog_folds(Some(0)) // report every run, for the example
    ///     .log_every(Duration::from_secs(60))
    ///     .build(worker, |_, _| {})?;
    /// events.raise(0)?;
    /// events.flush()?;
    /// events.raise(0)?;
    /// events.flush()?;
    /// assert_eq!(events.stats().backlogged, 2); // both counted; one log line
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn log_every(mut self, every: Duration) -> EventsBuilder {
        self.log_every = every;
        self
    }

    /// Makes the events, with `handler` run on `target` (a [`Worker`](crate::Worker),
    /// [`Pool`](crate::Pool) or pool [`Owner`](crate::Owner)).
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for a number of kinds outside 1..=64, or more
    /// [`kind_names`](EventsBuilder::kind_names) than kinds.
    ///
    /// ```
    /// use workq::{Error, Events, Pool};
    /// let pool = Pool::new("events-pool")?;
    /// let driver = pool.register("driver");
    /// let events = Events::builder("on-an-owner").build(driver, |_, _| {})?; // any target
    /// events.raise(0)?;
    /// events.flush()?;
    /// let err = Events::builder("bad").kinds(65).build(pool, |_, _| {});
    /// assert!(matches!(err, Err(Error::InvalidConfig { setting: "kinds", .. })));
    /// # Ok::<(), workq::Error>(())
    /// ```
    pub fn build<T, F>(self, target: T, handler: F) -> Result<Events, Error>
    where
        T: Submit + 'static,
        F: Fn(&Raised, &WorkCtx<'_>) + Send + Sync + 'static,
    {
        let kinds = match (self.kinds, self.names.len()) {
            (Some(n), _) => n,
            (None, 0) => MAX_KINDS,
            (None, named) => named,
        };
        if !(1..=MAX_KINDS).contains(&kinds) {
            return Err(Error::InvalidConfig {
                setting: "kinds",
                reason: format!("{kinds} is outside 1..=64"),
            });
        }
        if self.names.len() > kinds {
            return Err(Error::InvalidConfig {
                setting: "kind_names",
                reason: format!("{} names for {kinds} kinds", self.names.len()),
            });
        }
        let mut names: Vec<Option<String>> = self.names.into_iter().map(Some).collect();
        names.resize(kinds, None);
        let core = Arc::new(Core {
            name: self.name.clone(),
            names: names.into_boxed_slice(),
            counted: self.counted,
            bits: AtomicU64::new(0),
            counts: atomics(kinds),
            since: atomics(kinds),
            raised: atomics(kinds),
            seen: atomics(kinds),
            runs_with: atomics(kinds),
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
            target: std::sync::Arc::new(target),
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
            .field("kind_names", &self.names)
            .field("counted", &self.counted)
            .finish()
    }
}
