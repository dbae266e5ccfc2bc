//! A queue's lifecycle flags: frozen, draining, closed, stopping.

/// Where a queue is in its life (behind the queue's lock).
///
/// | flag       | set by                          | cleared by              | effect |
/// |------------|---------------------------------|-------------------------|--------|
/// | `frozen`   | `freeze`, a deadline shutdown   | `thaw`, a shutdown      | consumers take nothing |
/// | `draining` | `drain` (+1 per call)           | its end (-1)            | only the queue's own items may queue |
/// | `closed`   | a shutdown's start              | never                   | only the queue's own items may queue |
/// | `stopping` | a shutdown's end                | never                   | consumers exit once nothing is runnable; every queue call is refused |
#[derive(Debug, Default)]
pub(crate) struct Lifecycle {
    frozen: bool,
    draining: usize,
    closed: bool,
    stopping: bool,
}

impl Lifecycle {
    /// Consumers take nothing while frozen.
    #[inline]
    pub(crate) fn frozen(&self) -> bool {
        self.frozen
    }

    /// Holds the consumers.
    pub(crate) fn freeze(&mut self) {
        self.frozen = true;
    }

    /// Lets the consumers take items again.
    pub(crate) fn thaw(&mut self) {
        self.frozen = false;
    }

    /// `drain` calls in progress.
    #[inline]
    pub(crate) fn draining(&self) -> usize {
        self.draining
    }

    /// A drain begins.
    pub(crate) fn begin_drain(&mut self) {
        self.draining += 1;
    }

    /// A drain ends (or its future is dropped).
    pub(crate) fn end_drain(&mut self) {
        debug_assert!(
            self.draining > 0,
            "draining: a drain ended that was not counted"
        );
        self.draining -= 1;
    }

    /// A shutdown has begun: only the queue's own items may queue.
    #[inline]
    pub(crate) fn closed(&self) -> bool {
        self.closed
    }

    /// Closes the queue to outside work (for good).
    pub(crate) fn close(&mut self) {
        self.closed = true;
    }

    /// Consumers exit once nothing is runnable; queue calls are refused.
    #[inline]
    pub(crate) fn stopping(&self) -> bool {
        self.stopping
    }

    /// Stops the queue (for good).
    pub(crate) fn stop(&mut self) {
        self.stopping = true;
    }
}
