//! SCOPE ROW, NOT WIRED YET: a scope of 10,000 borrowing jobs.
//!
//! `Pool::scope` is being written in parallel. Once it is on the branch, this
//! module measures: workq `pool.scope(|s| for chunk in pieces.chunks(..) {
//! s.spawn(|| ...borrow a local slice...); })` against rayon's `pool.scope` and
//! `std::thread::scope` (2 threads splitting the same 10,000 pieces of work),
//! and [`rows`] returns that row. Until then it returns no rows.

use crate::options::Sizes;
use crate::report::Row;

/// What the section says about the missing row.
pub(crate) const NOTE: &str = "Scope of 10,000 borrowing jobs (workq Pool::scope vs rayon \
     scope vs std::thread::scope): not measured yet, waiting for Pool::scope.";

/// The scope rows: none until `Pool::scope` exists (see the module docs).
pub(crate) fn rows(_sizes: &Sizes) -> Vec<Row> {
    Vec::new()
}
