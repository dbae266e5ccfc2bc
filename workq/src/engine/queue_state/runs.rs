//! Runs in progress and the queue's limits on runs and waiting items.

/// Runs in progress against the queue's limits (behind the queue's lock).
///
/// | field         | up                         | down                  |
/// |---------------|----------------------------|-----------------------|
/// | `running`     | a run starts (`start`)     | it ends (`end`)       |
/// | `very_slow`   | a very slow run starts     | it ends               |
/// | `max_running` | set at build (`Limits`)    | —                     |
/// | `max_waiting` | set at build (`Limits`)    | —                     |
#[derive(Debug)]
pub(crate) struct Runs {
    running: usize,
    very_slow: usize,
    limits: Limits,
}

/// A queue's limits, set when it is built.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// At most this many runs at once (a workqueue's `max_active`).
    pub(crate) max_running: usize,
    /// Bound on waiting items for bounded queue calls (`usize::MAX`: none).
    pub(crate) max_waiting: usize,
}

impl Limits {
    /// No limit on either.
    pub(crate) const NONE: Limits = Limits {
        max_running: usize::MAX,
        max_waiting: usize::MAX,
    };
}

impl Runs {
    /// No run in progress, under `limits`.
    pub(crate) fn new(limits: Limits) -> Runs {
        Runs {
            running: 0,
            very_slow: 0,
            limits,
        }
    }

    /// Runs in progress.
    #[inline]
    pub(crate) fn running(&self) -> usize {
        self.running
    }

    /// Very slow runs in progress.
    #[inline]
    pub(crate) fn very_slow(&self) -> usize {
        self.very_slow
    }

    /// Whether one more run may start (`max_running` aside from classes).
    #[inline]
    pub(crate) fn has_room(&self) -> bool {
        self.running < self.limits.max_running
    }

    /// Runs that may start beside those in progress.
    pub(crate) fn room(&self) -> usize {
        self.limits.max_running.saturating_sub(self.running)
    }

    /// The queue's limits.
    #[inline]
    pub(crate) fn limits(&self) -> Limits {
        self.limits
    }

    /// A run starts.
    #[inline]
    pub(crate) fn start(&mut self, very_slow: bool) {
        self.running += 1;
        if very_slow {
            self.very_slow += 1;
        }
    }

    /// A run ends.
    #[inline]
    pub(crate) fn end(&mut self, very_slow: bool) {
        debug_assert!(
            self.running > 0,
            "running: a run ended that was not counted as running"
        );
        self.running -= 1;
        if very_slow {
            debug_assert!(
                self.very_slow > 0,
                "very_slow: a very slow run ended that was not counted"
            );
            self.very_slow -= 1;
        }
    }
}
