//! What the live views of `workq demo` and `workq top` share: the terminal's
//! set-up and restore, the quit keys, and text helpers.

pub mod terminal;
pub mod text;
