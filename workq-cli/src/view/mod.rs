//! What the live views of `workq demo` and `workq top` share: the terminal's
//! set-up and restore, the quit keys, a queue's panel, and text helpers.

pub mod queue_panel;
pub mod terminal;
pub mod text;
