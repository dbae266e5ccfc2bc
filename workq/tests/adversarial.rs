//! The adversarial reliability suite: workq driven the way a hostile or careless
//! program would drive it, checking that every guarantee of README.md and
//! ARCHITECTURE.md survives.
//!
//! One module per concern (in `tests/adversarial/`):
//!
//! * `lifecycle`: queue calls racing a pool's first use and its shutdown;
//! * `spawn_failures`: thread starts failing after k starts, or always;
//! * `panics`: panics in items, periodic items, closure drops, panic hooks,
//!   spawners, event handlers, backlog and stall hooks;
//! * `misuse`: calls made at the wrong time or from the wrong place, and invalid
//!   builder settings;
//! * `deadlock`: a real deadlock between two workqueues, reported by the stall
//!   watchdog.
//!
//! Every test checks drop counters (each closure dropped exactly once), an overlap
//! detector (runs of one item never overlap) and puts a watchdog on every wait,
//! so that a hang fails the test instead of stalling CI. No test asserts a
//! duration. A test that exposes a library bug asserts the documented behaviour
//! and is marked `#[ignore = "BUG: ..."]`.
//!
//! The long randomised mix of every operation is `tests/soak.rs`.
#![allow(clippy::unwrap_used)]

mod common;

#[path = "adversarial/support.rs"]
mod support;

#[path = "adversarial/lifecycle.rs"]
mod lifecycle;

#[path = "adversarial/spawn_failures.rs"]
mod spawn_failures;

#[path = "adversarial/panics.rs"]
mod panics;

#[path = "adversarial/misuse.rs"]
mod misuse;

#[path = "adversarial/deadlock.rs"]
mod deadlock;
