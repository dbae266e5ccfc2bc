//! A value alone on its cache line(s).

use std::ops::Deref;

/// Keeps `T` on cache lines of its own, so that a field written by producers and
/// one written by consumers do not share a line (false sharing). 128 bytes: two
/// lines, as adjacent-line prefetchers pull pairs on x86-64.
#[derive(Debug, Default)]
#[repr(align(128))]
pub(crate) struct Padded<T>(pub(crate) T);

impl<T> Deref for Padded<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}
