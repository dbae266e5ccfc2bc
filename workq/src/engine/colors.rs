//! Flush colours: which pending runs a queue flush has to wait for.
//!
//! Every scheduled run (a queue call that returned `Scheduled` or `Rerun`) is
//! counted under the colour current at the time of the call, and uncounted when
//! that run finishes or is cancelled. A flush closes the current colour (later calls
//! get a new one) and waits until every colour up to the closed one has no runs
//! left. So a flush waits exactly for the runs queued before it, however busy the
//! producers are afterwards: it cannot be livelocked.

use std::collections::VecDeque;

/// Counts of outstanding runs per colour; the back is the current colour.
#[derive(Debug)]
pub(crate) struct FlushColors {
    /// Colour of `counts[0]`; every colour below it is finished.
    base: u64,
    counts: VecDeque<u64>,
}

impl FlushColors {
    pub(crate) fn new() -> FlushColors {
        FlushColors {
            base: 0,
            counts: VecDeque::from([0]),
        }
    }

    /// Counts one more scheduled run under the current colour and returns it.
    pub(crate) fn add(&mut self) -> u64 {
        self.add_many(1)
    }

    /// Counts `n` more scheduled runs under the current colour and returns it.
    pub(crate) fn add_many(&mut self, n: u64) -> u64 {
        if let Some(last) = self.counts.back_mut() {
            *last += n;
        }
        self.current()
    }

    /// The colour a scheduled run gets now.
    pub(crate) fn current(&self) -> u64 {
        self.base + self.counts.len() as u64 - 1
    }

    /// Counts one more scheduled run under `color`, a colour not yet done (one
    /// with a run still counted, or a later one): the rerun of a running item that
    /// was queued without the lock gets the colour current when the run began.
    pub(crate) fn add_at(&mut self, color: u64) {
        let slot = color
            .checked_sub(self.base)
            .and_then(|i| usize::try_from(i).ok());
        match slot.and_then(|i| self.counts.get_mut(i)) {
            Some(n) => *n += 1,
            None => {
                debug_assert!(false, "colour {color} is done or not yet current");
                self.add();
            }
        }
    }

    /// Uncounts a run of `color` (it finished or was cancelled). Returns whether a
    /// colour was completed, so that flushers should be woken.
    pub(crate) fn remove(&mut self, color: u64) -> bool {
        let slot = color
            .checked_sub(self.base)
            .and_then(|i| usize::try_from(i).ok());
        match slot.and_then(|i| self.counts.get_mut(i)) {
            Some(n) if *n > 0 => *n -= 1,
            _ => debug_assert!(false, "uncounted run of colour {color}"),
        }
        self.trim()
    }

    /// The colour whose low 32 bits are `low`, among the colours not yet done
    /// (they span less than 2^32: one per flush in progress at most).
    pub(crate) fn widen(&self, low: u32) -> u64 {
        self.base + u64::from(low.wrapping_sub(self.base as u32))
    }

    /// Closes the current colour and returns it: a flush waits until it is done.
    pub(crate) fn cut(&mut self) -> u64 {
        let closed = self.current();
        self.counts.push_back(0);
        self.trim();
        closed
    }

    /// Whether every run of `color` and of every colour before it has finished.
    pub(crate) fn is_done(&self, color: u64) -> bool {
        color < self.base
    }

    /// Runs scheduled and not yet finished or cancelled, all colours together.
    pub(crate) fn outstanding(&self) -> u64 {
        self.counts.iter().sum()
    }

    fn trim(&mut self) -> bool {
        let mut completed = false;
        while self.counts.len() > 1 && self.counts.front() == Some(&0) {
            self.counts.pop_front();
            self.base += 1;
            completed = true;
        }
        completed
    }
}

#[cfg(all(test, not(any(loom, shuttle))))]
mod tests {
    use super::FlushColors;

    #[test]
    fn flush_waits_only_for_earlier_runs() {
        let mut c = FlushColors::new();
        let a = c.add();
        let b = c.add();
        let f1 = c.cut();
        assert!(!c.is_done(f1));
        let later = c.add();
        let f2 = c.cut();
        assert!(!c.remove(a));
        assert!(!c.is_done(f1));
        assert!(c.remove(b));
        assert!(c.is_done(f1), "runs queued before the flush are done");
        assert!(!c.is_done(f2), "a run queued after flush 1 holds flush 2");
        assert!(c.remove(later));
        assert!(c.is_done(f2));
        assert_eq!(c.outstanding(), 0);
        let f3 = c.cut();
        assert!(c.is_done(f3), "a flush with nothing queued is done at once");
    }

    #[test]
    fn widen_restores_colours_across_the_32_bit_boundary() {
        let mut c = FlushColors::new();
        c.base = u64::from(u32::MAX) - 2;
        let colours: Vec<u64> = (0..6)
            .map(|_| {
                let colour = c.add();
                c.cut();
                colour
            })
            .collect();
        assert_eq!(colours.last(), Some(&(u64::from(u32::MAX) + 3)));
        for colour in colours {
            assert_eq!(c.widen(colour as u32), colour);
        }
    }
}
