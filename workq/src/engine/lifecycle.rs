//! A queue's life beyond single items: flush, drain, freeze / thaw. (The orderly
//! shutdown that front ends run on destroy and on drop of their last handle is in
//! `shutdown.rs`.)

use super::{QueueGuard, RunQueue};
use crate::error::Error;
use crate::support::current;
use crate::support::sync::Arc;
use std::time::Instant;

impl RunQueue {
    pub(crate) fn refuse_own(&self, what: &'static str) -> Result<(), Error> {
        // From one of the queue's own items, or from one of its threads outside a
        // run (a panic hook): the wait could need this very thread.
        if current::running_on(self.id) || current::consuming(self.id) {
            Err(Error::WouldDeadlock { what })
        } else {
            Ok(())
        }
    }

    /// Waits until every run scheduled before the call has finished or been
    /// cancelled. Returns whether it had to wait.
    pub(crate) fn flush(&self) -> Result<bool, Error> {
        self.refuse_own("flushing a queue from one of its own items")?;
        let g = self.lock();
        Ok(self.flush_locked(g).1)
    }

    fn flush_locked<'a>(&'a self, mut g: QueueGuard<'a>) -> (QueueGuard<'a>, bool) {
        let color = g.colors.cut();
        let mut waited = false;
        while !g.colors.is_done(color) {
            waited = true;
            g = self.wait_color(g, color);
        }
        (g, waited)
    }

    /// Flushes until nothing is pending or running. While it runs, only the queue's
    /// own items may queue onto it.
    pub(crate) fn drain(&self) -> Result<(), Error> {
        self.refuse_own("draining a queue from one of its own items")?;
        let mut g = self.lock();
        g.life.begin_drain();
        let mut g = self.drain_locked(g);
        g.life.end_drain();
        Ok(())
    }

    pub(super) fn drain_locked<'a>(&'a self, mut g: QueueGuard<'a>) -> QueueGuard<'a> {
        loop {
            g = self.flush_locked(g).0;
            if g.colors.outstanding() == 0 {
                return g;
            }
        }
    }

    /// Stops consumers from taking items and waits for the runs in progress.
    pub(crate) fn freeze(&self) -> Result<(), Error> {
        self.check_freezable()?;
        self.refuse_own("freezing a queue from one of its own items")?;
        let mut g = self.lock();
        g.life.freeze();
        while g.runs.running() > 0 {
            g = self.wait_done(g);
        }
        Ok(())
    }

    fn check_freezable(&self) -> Result<(), Error> {
        if self.freezable {
            Ok(())
        } else {
            Err(Error::NotFreezable {
                queue: self.name.to_string(),
            })
        }
    }

    /// Lets consumers take items again.
    pub(crate) fn thaw(this: &Arc<Self>) -> Result<(), Error> {
        this.check_freezable()?;
        {
            let mut g = this.lock();
            if g.life.frozen() {
                g.life.thaw();
                // For the stall watchdog: the time frozen is not a stall.
                g.reset_quiet(Instant::now());
                this.wake_all_consumers(&mut g);
                if g.has_runnable()
                    && g.sleepers.idle() == 0
                    && (this.elastic().is_some() || this.feeder().is_some())
                {
                    g.sizing.owe_settle();
                }
            }
        }
        Self::settle(this);
        Ok(())
    }

    pub(crate) fn is_frozen(&self) -> bool {
        self.lock().life.frozen()
    }
}
