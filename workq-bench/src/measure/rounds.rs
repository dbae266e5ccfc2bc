//! Interleaved repetitions: every system measured once per round, the rounds
//! repeated. On a shared machine whose speed drifts (a virtual machine that
//! switches between a fast and a slow state for tens of seconds), measuring one
//! system's repetitions back to back and then the next system's turns the drift
//! into a difference between systems; in rounds, a slow spell hits every system
//! about equally, and the ratios stay meaningful.

use crate::progress::Progress;

/// One system of a scenario: its name (for the progress line) and one
/// measurement.
pub(crate) struct Contender<'a, T> {
    pub(crate) name: String,
    pub(crate) measure: Box<dyn FnMut() -> T + 'a>,
}

impl<'a, T> Contender<'a, T> {
    pub(crate) fn new(name: impl Into<String>, measure: impl FnMut() -> T + 'a) -> Self {
        Contender {
            name: name.into(),
            measure: Box::new(measure),
        }
    }
}

/// Runs `rounds` rounds, each measuring every contender once (the first one of a
/// round moves along by one each round, so no system is always measured right
/// after the same other one). Returns each contender's results in round order.
/// Reports one progress step per measurement.
pub(crate) fn in_rounds<T>(
    rounds: usize,
    contenders: &mut [Contender<'_, T>],
    progress: &mut Progress,
) -> Vec<Vec<T>> {
    let n = contenders.len();
    let mut results: Vec<Vec<T>> = (0..n).map(|_| Vec::with_capacity(rounds)).collect();
    for round in 0..rounds {
        for k in 0..n {
            let i = (round + k) % n;
            let c = &mut contenders[i];
            progress.step(&format!("{} (round {}/{rounds})", c.name, round + 1));
            results[i].push((c.measure)());
        }
    }
    results
}

#[cfg(test)]
mod tests {
    use super::{in_rounds, Contender};
    use crate::progress::Progress;
    use std::cell::RefCell;

    #[test]
    fn every_contender_runs_once_per_round_and_the_first_one_rotates() {
        let order = RefCell::new(Vec::new());
        let mut contenders: Vec<Contender<'_, usize>> = (0..3)
            .map(|i| {
                let order = &order;
                let mut calls = 0;
                Contender::new(format!("c{i}"), move || {
                    order.borrow_mut().push(i);
                    calls += 1;
                    calls
                })
            })
            .collect();
        let mut progress = Progress::new(false, 1);
        let results = in_rounds(2, &mut contenders, &mut progress);
        drop(contenders);
        assert_eq!(results, vec![vec![1, 2], vec![1, 2], vec![1, 2]]);
        assert_eq!(order.into_inner(), vec![0, 1, 2, 1, 2, 0]);
    }
}
