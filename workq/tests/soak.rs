//! The gating soak: every operation of workq mixed at random from several
//! threads, with failures and panics injected (the world and its checks:
//! `soak_world/mod.rs`), for a fixed budget of operations.
//!
//! It does the same work however loaded the machine is: each producer makes
//! `WORKQ_SOAK_OPS` operations (default 50,000; about 2-3 s in a debug build on
//! a quiet 2-core machine), with the same random choices for a given seed. The
//! seed is printed; `WORKQ_SOAK_SEED` replays it (the interleaving differs, the
//! random choices do not). A time cap (`WORKQ_SOAK_CAP_SECS`, default 600) is
//! only a safety stop: a run that reaches it stops early, still checks
//! everything it did, and says so loudly. Hangs are caught by the per-operation
//! watchdog, not by the cap.
//!
//! The long soak (`tests/soak_long.rs`, opt-in) runs the same world by time
//! and watches memory and thread counts.

mod common;
mod soak_world;

use common::{say, test_guard_for};
use soak_world::{env_u64, seed_from_env, soak, Plan};
use std::time::{Duration, Instant};

/// Operations per producer unless `WORKQ_SOAK_OPS` says otherwise.
const OPS_PER_PRODUCER: u64 = 50_000;

/// The safety stop unless `WORKQ_SOAK_CAP_SECS` says otherwise.
const CAP_SECS: u64 = 600;

#[test]
fn soak_every_operation_with_failures_and_panics() {
    let ops = env_u64("WORKQ_SOAK_OPS").unwrap_or(OPS_PER_PRODUCER);
    let cap = env_u64("WORKQ_SOAK_CAP_SECS").unwrap_or(CAP_SECS);
    let seed = seed_from_env();
    let known_bugs = env_u64("WORKQ_SOAK_KNOWN_BUGS") != Some(0);
    say(&format!(
        "soak: {ops} operations per producer (cap {cap} s), seed {seed} (replay with \
         WORKQ_SOAK_SEED={seed}){}",
        if known_bugs {
            ""
        } else {
            ", without the once-buggy paths"
        }
    ));
    let _guard = test_guard_for(cap + 300);
    let started = Instant::now();
    let outcome = soak(
        seed,
        Plan {
            ops_per_producer: Some(ops),
            until: started + Duration::from_secs(cap),
            known_bugs,
        },
    );
    if outcome.capped {
        say(&format!(
            "NOTE: soak (seed {seed}) reached its {cap} s safety stop after {} of {} \
             operations: the machine is far slower than expected; everything done was \
             checked",
            outcome.ops,
            ops * soak_world::PRODUCERS as u64
        ));
    } else {
        assert_eq!(
            outcome.ops,
            ops * soak_world::PRODUCERS as u64,
            "seed {seed}: every producer did its budget"
        );
    }
}
