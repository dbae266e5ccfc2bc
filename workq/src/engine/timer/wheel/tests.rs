//! Unit tests: a seeded model check plus targeted edge cases.

use super::*;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Tiny xorshift64* PRNG so the tests are deterministic without external crates.
struct Rng(u64);

impl Rng {
    /// Next pseudo-random value.
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform-ish in `0..n` (`n > 0`).
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Reference model: armed entries by id, with their deadline and key.
#[derive(Default)]
struct Model {
    /// Armed entries: id -> (deadline, key).
    by_id: BTreeMap<u64, (u64, TimerKey)>,
    /// The same entries ordered by (deadline, id).
    by_deadline: BTreeSet<(u64, u64)>,
}

impl Model {
    /// Records an armed entry.
    fn insert(&mut self, id: u64, deadline: u64, key: TimerKey) {
        self.by_id.insert(id, (deadline, key));
        self.by_deadline.insert((deadline, id));
    }

    /// Forgets an entry; returns its deadline and key if it was armed.
    fn remove(&mut self, id: u64) -> Option<(u64, TimerKey)> {
        let (deadline, key) = self.by_id.remove(&id)?;
        self.by_deadline.remove(&(deadline, id));
        Some((deadline, key))
    }

    /// Removes and returns the ids due at `now`, sorted.
    fn expire(&mut self, now: u64) -> Vec<u64> {
        let due: Vec<(u64, u64)> = self
            .by_deadline
            .range(..=(now, u64::MAX))
            .copied()
            .collect();
        let mut ids: Vec<u64> = due.into_iter().map(|(_, id)| id).collect();
        for id in &ids {
            self.remove(*id);
        }
        ids.sort_unstable();
        ids
    }

    /// Earliest armed deadline.
    fn earliest(&self) -> Option<u64> {
        self.by_deadline.first().map(|&(deadline, _)| deadline)
    }
}

/// Advances `wheel` to `now` and checks the result against `model` exactly.
fn advance_and_check(wheel: &mut Wheel<u64>, model: &mut Model, now: u64) -> usize {
    let now = now.max(wheel.now());
    if let (Some(next), Some(earliest)) = (wheel.next_expiration(), model.earliest()) {
        assert!(
            next <= earliest.max(wheel.now()),
            "next_expiration too late"
        );
    }
    assert_eq!(wheel.next_expiration().is_none(), model.by_id.is_empty());
    let mut expired = Vec::new();
    wheel.advance(now, &mut expired);
    wheel.prepare();
    assert_eq!(wheel.now(), now);
    let mut got = Vec::with_capacity(expired.len());
    for &(key, id) in &expired {
        let (deadline, model_key) = model.by_id[&id];
        assert!(
            deadline <= now,
            "entry {id} with deadline {deadline} fired at {now}"
        );
        assert_eq!(key, model_key);
        assert_eq!(wheel.deadline(key), None, "fired key must be stale");
        got.push(id);
    }
    got.sort_unstable();
    assert_eq!(got, model.expire(now), "expired set differs at tick {now}");
    assert_eq!(wheel.len(), model.by_id.len());
    expired.len()
}

/// Early cascading: 20,000 entries due in the next two 64-tick windows, advanced one tick
/// at a time with inserts and removes mixed in, fire exactly as the model says, and a
/// window's level-1 slot has been emptied into the stage before the window begins.
#[test]
fn early_cascading_moves_ahead_and_fires_exactly() {
    let mut rng = Rng(42);
    let mut wheel = Wheel::new();
    let mut model = Model::default();
    let mut id = 0u64;
    let mut arm = |wheel: &mut Wheel<u64>, model: &mut Model, deadline: u64| {
        let key = wheel.insert(deadline, id);
        model.insert(id, deadline, key);
        id += 1;
    };
    for _ in 0..20_000 {
        arm(&mut wheel, &mut model, 64 + rng.below(128));
    }
    let (mut staged_checks, mut removed) = (0, 0);
    for now in 1..=300u64 {
        if now % 64 == 63 {
            // The last tick before a window: nothing of it is left on level 1 (entries
            // armed from now on go there and move at the boundary).
            assert_eq!(wheel.precascade_source(0), None, "window after tick {now}");
            staged_checks += 1;
        }
        if now % 3 == 0 {
            arm(
                &mut wheel,
                &mut model,
                (now | SLOT_MASK) + 1 + rng.below(64),
            );
        }
        if now % 5 == 0 {
            let victim = model.by_id.keys().nth(rng.below(7) as usize).copied();
            if let Some(victim) = victim {
                let (_, key) = model.remove(victim).expect("armed");
                assert_eq!(wheel.remove(key), Some(victim));
                removed += 1;
            }
        }
        advance_and_check(&mut wheel, &mut model, now);
    }
    advance_and_check(&mut wheel, &mut model, 400);
    assert!(wheel.is_empty() && model.by_id.is_empty());
    assert!(staged_checks >= 4 && removed > 50);
}

/// Early cascading one level up: 30,000 entries due across the next two 4,096-tick blocks
/// (on level 2 when armed), advanced one tick at a time: the level-2 slot of a block is
/// empty before the block begins, the level-1 slot of every window before the window
/// begins, and everything fires exactly as the model says.
#[test]
fn early_cascading_from_level_two() {
    let mut rng = Rng(7);
    let mut wheel = Wheel::new();
    let mut model = Model::default();
    for id in 0..30_000u64 {
        let deadline = 4096 + rng.below(8192);
        let key = wheel.insert(deadline, id);
        model.insert(id, deadline, key);
    }
    let mut checks = (0, 0);
    for now in 1..=12_400u64 {
        if now % 64 == 63 {
            assert_eq!(wheel.precascade_source(0), None, "window after tick {now}");
            checks.0 += 1;
        }
        if now % 4096 == 4095 {
            assert_eq!(wheel.precascade_source(1), None, "block after tick {now}");
            checks.1 += 1;
        }
        advance_and_check(&mut wheel, &mut model, now);
    }
    assert!(wheel.is_empty() && model.by_id.is_empty());
    assert!(checks.0 > 150 && checks.1 == 3);
}

/// Driven like the timer thread drives it (jump to `next_expiration`, never tick by tick)
/// while entries keep arriving: 50,000 deadlines 1,200..2,000 ticks ahead armed over the
/// first 120 ticks; every entry fires at its own deadline exactly, never later.
#[test]
fn driven_by_next_expiration_fires_on_time() {
    let mut rng = Rng(99);
    let mut wheel = Wheel::new();
    let mut model = Model::default();
    let mut expired = Vec::new();
    wheel.advance(1300, &mut expired);
    let (mut id, mut fired) = (0u64, 0usize);
    while fired < 50_000 {
        let now = wheel.now();
        if id < 50_000 && now < 1420 {
            for _ in 0..500.min(50_000 - id) {
                let deadline = now + 1200 + rng.below(800);
                let key = wheel.insert(deadline, id);
                model.insert(id, deadline, key);
                id += 1;
            }
        }
        let next = wheel.next_expiration().expect("entries armed");
        if let Some(earliest) = model.earliest() {
            assert!(
                next <= earliest,
                "asked to wake at {next}, first due {earliest}"
            );
        }
        let step = if id < 50_000 { now + 1 } else { next };
        fired += advance_and_check(&mut wheel, &mut model, step.min(next));
        for &(deadline, _) in model.by_deadline.iter().take(1) {
            assert!(
                deadline > wheel.now(),
                "entry due at {deadline} left at {}",
                wheel.now()
            );
        }
    }
    assert!(wheel.is_empty());
}

/// The slab node stays at 40 bytes for a 16-byte payload (24 bytes of bookkeeping).
#[test]
fn entry_footprint() {
    assert_eq!(mem::size_of::<Node<[u64; 2]>>(), 40);
    assert!(mem::size_of::<Node<()>>() <= 24);
}

/// 1,024 random deadlines in 0..=10^7, random advance steps, checked against the model.
#[test]
fn model_random_deadlines_random_steps() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut wheel = Wheel::new();
    let mut model = Model::default();
    for id in 0..1024 {
        let deadline = rng.below(10_000_001);
        let key = wheel.insert(deadline, id);
        assert_eq!(wheel.deadline(key), Some(deadline));
        model.insert(id, deadline, key);
    }
    assert_eq!(wheel.len(), 1024);
    let mut fired = 0;
    let mut steps = 0;
    while !wheel.is_empty() {
        let step = match rng.below(4) {
            0 => rng.below(100),
            1 => rng.below(10_000),
            2 => rng.below(100_000),
            _ => rng.below(1_000_000),
        };
        let before = wheel.now();
        fired += advance_and_check(&mut wheel, &mut model, before + step);
        steps += 1;
    }
    assert_eq!(fired, 1024);
    assert!(model.by_id.is_empty());
    assert!(steps > 10);
    assert_eq!(wheel.next_expiration(), None);
}

/// One big advance returns entries in non-decreasing deadline order.
#[test]
fn fires_in_deadline_order() {
    let mut rng = Rng(7);
    let mut wheel = Wheel::new();
    for _ in 0..2000 {
        let deadline = rng.below(1 << 40);
        wheel.insert(deadline, deadline);
    }
    let mut expired = Vec::new();
    wheel.advance(1 << 40, &mut expired);
    assert_eq!(expired.len(), 2000);
    assert!(expired.windows(2).all(|w| w[0].1 <= w[1].1));
    for (key, deadline) in &expired {
        assert!(key.index < 2000);
        assert!(*deadline < 1 << 40);
    }
    assert!(wheel.is_empty());
}

/// Random insert/remove/advance mix (stale keys, past and far deadlines) against the model.
#[test]
fn model_random_interleaving() {
    let mut rng = Rng(0xdead_beef_cafe_f00d);
    let mut wheel = Wheel::new();
    let mut model = Model::default();
    let mut keys: Vec<(u64, TimerKey)> = Vec::new();
    let (mut removed, mut stale, mut fired) = (0, 0, 0);
    for id in 0..60_000u64 {
        let now = wheel.now();
        match rng.below(10) {
            0..=4 => {
                let deadline = match rng.below(8) {
                    0 => now.saturating_sub(rng.below(100)),
                    1 => now.saturating_add(rng.below(64)),
                    2 => now.saturating_add(rng.below(5_000)),
                    3 => now.saturating_add(rng.below(1 << 24)),
                    4 => now.saturating_add(rng.below(1 << 38)),
                    5 => now.saturating_add(rng.next() >> rng.below(64)),
                    6 => u64::MAX - rng.below(3),
                    _ => now.saturating_add(rng.below(200_000)),
                };
                let key = wheel.insert(deadline, id);
                model.insert(id, deadline, key);
                keys.push((id, key));
            }
            5..=7 => {
                if keys.is_empty() {
                    continue;
                }
                let (kid, key) = keys[rng.below(keys.len() as u64) as usize];
                let expected = model.remove(kid);
                assert_eq!(wheel.deadline(key), expected.map(|(d, _)| d));
                let got = wheel.remove(key);
                assert_eq!(got, expected.map(|_| kid));
                assert_eq!(wheel.remove(key), None, "second remove must be stale");
                if got.is_some() {
                    removed += 1;
                } else {
                    stale += 1;
                }
            }
            _ => {
                let step = match rng.below(5) {
                    0 => 0,
                    1 => rng.below(64),
                    2 => rng.below(10_000),
                    3 => rng.below(1 << 22),
                    _ => rng.below(1 << 37),
                };
                fired += advance_and_check(&mut wheel, &mut model, now.saturating_add(step));
            }
        }
        assert_eq!(wheel.len(), model.by_id.len());
    }
    assert!(
        removed > 1000 && stale > 1000 && fired > 1000,
        "{removed} {stale} {fired}"
    );
    // Finish: everything fires by u64::MAX, nothing is left behind.
    let left = model.by_id.len();
    assert_eq!(advance_and_check(&mut wheel, &mut model, u64::MAX), left);
    assert!(wheel.is_empty());
    assert_eq!(wheel.next_expiration(), None);
    // Every node is back on the free list.
    let vacant = wheel
        .slab
        .iter()
        .filter(|n| matches!(n, Node::Vacant { .. }))
        .count();
    assert_eq!(vacant, wheel.slab.len());
}

/// Deadlines beyond 64^6 ticks and `u64::MAX` neither fire early nor delay near entries.
#[test]
fn far_deadlines_never_early_never_blocking() {
    let mut wheel = Wheel::new();
    let far = [
        1u64 << 36,
        (1 << 36) + 5,
        1 << 50,
        u64::MAX - (1 << 36),
        u64::MAX - 1,
        u64::MAX,
    ];
    let far_keys: Vec<TimerKey> = far.iter().map(|&d| wheel.insert(d, d)).collect();
    wheel.insert(10, 10);
    wheel.insert(1000, 1000);
    let mut out = Vec::new();

    assert_eq!(wheel.next_expiration(), Some(10));
    wheel.advance(1000, &mut out);
    assert_eq!(out.iter().map(|e| e.1).collect::<Vec<_>>(), [10, 1000]);
    out.clear();

    wheel.advance((1 << 36) - 1, &mut out);
    assert!(out.is_empty());
    // A near entry inserted while far ones wait still fires on time.
    wheel.insert((1 << 36) + 2, (1 << 36) + 2);
    // Earlier than the earliest deadline: the 2^36 epoch boundary needs cascading first.
    assert_eq!(wheel.next_expiration(), Some(1 << 36));
    wheel.advance(1 << 36, &mut out);
    assert_eq!(out.iter().map(|e| e.1).collect::<Vec<_>>(), [1 << 36]);
    out.clear();
    wheel.advance((1 << 36) + 4, &mut out);
    assert_eq!(out.iter().map(|e| e.1).collect::<Vec<_>>(), [(1 << 36) + 2]);
    out.clear();
    wheel.advance((1 << 36) + 5, &mut out);
    assert_eq!(out.iter().map(|e| e.1).collect::<Vec<_>>(), [(1 << 36) + 5]);
    out.clear();

    wheel.advance((1 << 50) - 1, &mut out);
    assert!(out.is_empty());
    assert_eq!(wheel.deadline(far_keys[2]), Some(1 << 50));
    wheel.advance(u64::MAX - 2, &mut out);
    let got: Vec<u64> = out.iter().map(|e| e.1).collect();
    assert_eq!(got, [1 << 50, u64::MAX - (1 << 36)]);
    out.clear();
    assert_eq!(wheel.len(), 2);

    // Insert at u64::MAX while almost there; advance to u64::MAX fires all, no overflow.
    wheel.insert(u64::MAX, 0);
    wheel.advance(u64::MAX - 1, &mut out);
    assert_eq!(out.iter().map(|e| e.1).collect::<Vec<_>>(), [u64::MAX - 1]);
    out.clear();
    wheel.advance(u64::MAX, &mut out);
    let mut got: Vec<u64> = out.iter().map(|e| e.1).collect();
    got.sort_unstable();
    assert_eq!(got, [0, u64::MAX]);
    out.clear();
    assert!(wheel.is_empty());

    // At the end of time: deadlines <= now fire at the next advance, repeatedly.
    let k = wheel.insert(u64::MAX, 1);
    let k2 = wheel.insert(5, 2);
    assert_eq!(wheel.next_expiration(), Some(u64::MAX));
    wheel.advance(u64::MAX, &mut out);
    assert_eq!(out.len(), 2);
    assert_eq!(wheel.remove(k), None);
    assert_eq!(wheel.remove(k2), None);
    assert_eq!(wheel.now(), u64::MAX);
    assert_eq!(wheel.next_expiration(), None);
}

/// A single advance to `u64::MAX` fires everything, in order, without overflow.
#[test]
fn advance_straight_to_u64_max_fires_everything() {
    let mut wheel = Wheel::new();
    let mut rng = Rng(99);
    for i in 0..500u64 {
        // Deadlines spread over all magnitudes, many in distinct 2^36 epochs.
        let deadline = (rng.next() >> (i % 64)).max(1);
        wheel.insert(deadline, deadline);
    }
    wheel.insert(u64::MAX, u64::MAX);
    wheel.insert(0, 0);
    let mut out = Vec::new();
    wheel.advance(u64::MAX, &mut out);
    assert_eq!(out.len(), 502);
    assert!(wheel.is_empty());
    assert_eq!(out[0].1, 0, "pending entry comes first");
    assert!(out.windows(2).all(|w| w[0].1 <= w[1].1), "deadline order");
    assert_eq!(out.last().map(|e| e.1), Some(u64::MAX));
}

/// Many overflow entries in distinct 2^36-tick epochs, crossed by one `advance`.
#[test]
fn jump_over_many_overflow_epochs_is_fast_and_ordered() {
    let mut wheel = Wheel::new();
    let mut rng = Rng(5);
    let n = 50_000u64;
    for i in 0..n {
        let deadline = ((i + 1) << 37) | rng.below(1 << 37);
        wheel.insert(deadline, deadline);
    }
    let mut out = Vec::new();
    let start = std::time::Instant::now();
    wheel.advance(n << 37, &mut out);
    assert_eq!(out.len() as u64, n - 1);
    assert!(out.windows(2).all(|w| w[0].1 <= w[1].1), "deadline order");
    assert!(out.iter().all(|e| e.1 < n << 37));
    assert_eq!(wheel.len(), 1);
    let left = wheel.next_expiration();
    assert!(left.is_some_and(|t| t > n << 37 && t <= (n << 37) | ((1 << 37) - 1)));
    out.clear();
    wheel.advance(u64::MAX, &mut out);
    assert_eq!(out.len(), 1);
    assert!(out[0].1 >= n << 37);
    assert!(start.elapsed() < std::time::Duration::from_secs(2));
}

/// 10^6 insert+remove cycles at now+3,600,000 reuse the same node; the slab stays tiny.
#[test]
fn million_insert_remove_cycles_keep_slab_tiny() {
    let mut wheel = Wheel::new();
    let anchor = wheel.insert(u64::MAX, 0u64);
    let mut last = None;
    for i in 0..1_000_000u64 {
        if i % 1000 == 0 {
            let mut out = Vec::new();
            wheel.advance(i * 7, &mut out);
            assert!(out.is_empty());
        }
        let deadline = wheel.now() + 3_600_000;
        let key = wheel.insert(deadline, i);
        assert_eq!(wheel.deadline(key), Some(deadline));
        assert_eq!(wheel.remove(key), Some(i));
        assert_eq!(wheel.remove(key), None);
        assert_ne!(Some(key), last, "a reused node must get a fresh key");
        last = Some(key);
    }
    assert_eq!(wheel.len(), 1);
    assert_eq!(wheel.slab.len(), 2);
    assert!(wheel.slab.capacity() <= 4);
    assert!(wheel
        .levels
        .iter()
        .chain(&wheel.odd)
        .all(|l| l.occupied == 0));
    assert_eq!(wheel.remove(anchor), Some(0));
    assert!(wheel.is_empty());
}

/// Keys of removed, fired or never-issued entries are rejected, even when the node is reused.
#[test]
fn stale_keys_are_detected() {
    let mut wheel = Wheel::new();
    let a = wheel.insert(5, 'a');
    assert_eq!(wheel.remove(a), Some('a'));
    let b = wheel.insert(5, 'b');
    assert_eq!(a.index, b.index, "node reused");
    assert_ne!(a, b);
    assert_eq!(wheel.remove(a), None);
    assert_eq!(wheel.deadline(a), None);
    assert_eq!(wheel.deadline(b), Some(5));
    let mut out = Vec::new();
    wheel.advance(5, &mut out);
    assert_eq!(out, [(b, 'b')]);
    assert_eq!(wheel.remove(b), None);
    let bogus = TimerKey {
        index: 12345,
        generation: 0,
    };
    assert_eq!(wheel.remove(bogus), None);
    assert_eq!(wheel.deadline(bogus), None);
}

/// Deadlines <= now fire at the next advance; advancing backwards does not move time back.
#[test]
fn past_deadlines_and_backwards_advance() {
    let mut wheel = Wheel::new();
    let mut out = Vec::new();
    wheel.advance(1000, &mut out);
    let k = wheel.insert(3, "past");
    wheel.insert(1000, "now");
    wheel.insert(1001, "future");
    assert_eq!(wheel.next_expiration(), Some(1000));
    assert_eq!(wheel.deadline(k), Some(3));
    wheel.advance(10, &mut out); // backwards: treated as 1000
    assert_eq!(wheel.now(), 1000);
    let mut got: Vec<&str> = out.iter().map(|e| e.1).collect();
    got.sort_unstable();
    assert_eq!(got, ["now", "past"]);
    out.clear();
    wheel.advance(1001, &mut out);
    assert_eq!(out.iter().map(|e| e.1).collect::<Vec<_>>(), ["future"]);
}

/// Unlinking the head, middle and tail of a slot list keeps the other entries intact.
#[test]
fn same_slot_removal_keeps_neighbours() {
    let mut wheel = Wheel::new();
    let keys: Vec<TimerKey> = (0..5u32).map(|i| wheel.insert(100, i)).collect();
    assert_eq!(wheel.remove(keys[2]), Some(2)); // middle
    assert_eq!(wheel.remove(keys[4]), Some(4)); // head (pushed last)
    assert_eq!(wheel.remove(keys[0]), Some(0)); // tail
    let mut out = Vec::new();
    wheel.advance(100, &mut out);
    let mut got: Vec<u32> = out.iter().map(|e| e.1).collect();
    got.sort_unstable();
    assert_eq!(got, [1, 3]);
    // Removing the only entry of a slot clears its occupancy bit.
    let k = wheel.insert(5000, 9);
    assert_ne!(wheel.levels[2].occupied, 0);
    assert_eq!(wheel.remove(k), Some(9));
    assert!(wheel
        .levels
        .iter()
        .chain(&wheel.odd)
        .all(|l| l.occupied == 0));
    assert_eq!(wheel.next_expiration(), None);
}

/// next_expiration is never after the earliest deadline and advancing to it makes progress.
#[test]
fn next_expiration_bounds_and_progress() {
    let mut rng = Rng(0x1234_5678);
    let mut wheel = Wheel::new();
    let mut deadlines: HashMap<u32, u64> = HashMap::new();
    for id in 0..3000u32 {
        let d = match id % 4 {
            0 => rng.below(1 << 12),
            1 => rng.below(1 << 24),
            2 => rng.below(1 << 40),
            _ => rng.next(),
        };
        wheel.insert(d, id);
        deadlines.insert(id, d);
    }
    let mut out = Vec::new();
    let mut iterations = 0u64;
    while let Some(next) = wheel.next_expiration() {
        iterations += 1;
        let earliest = deadlines.values().copied().min();
        assert!(
            Some(next) <= earliest,
            "next_expiration later than earliest deadline"
        );
        assert!(next >= wheel.now());
        out.clear();
        wheel.advance(next, &mut out);
        wheel.prepare();
        for (_, id) in &out {
            assert!(deadlines.remove(id).is_some_and(|d| d <= next));
        }
        // Progress: something fired, or the next event moved strictly forward.
        assert!(!out.is_empty() || wheel.next_expiration().is_none_or(|n| n > next));
    }
    assert!(deadlines.is_empty());
    assert!(wheel.is_empty());
    // Each entry moves at most 6 levels (plus overflow epochs), so this stays small.
    assert!(iterations < 3000 * 8, "{iterations} iterations");
}

/// Empty and sparse wheels jump across 10^9 ticks and beyond without per-tick work.
#[test]
fn huge_jumps_are_fast() {
    let mut wheel: Wheel<u32> = Wheel::new();
    let mut out = Vec::new();
    wheel.advance(1_000_000_000, &mut out); // empty
    assert!(out.is_empty());
    assert_eq!(wheel.now(), 1_000_000_000);
    for i in 0..100u32 {
        wheel.insert(1_000_000_000 + u64::from(i) * 10_000_000, i);
    }
    for step in 1..=1000u64 {
        wheel.advance(1_000_000_000 + step * 1_000_000, &mut out);
    }
    assert_eq!(out.len(), 100);
    assert!(out.iter().enumerate().all(|(i, e)| e.1 == i as u32));
    assert_eq!(wheel.next_expiration(), None);
    let start = std::time::Instant::now();
    wheel.insert(u64::MAX / 2, 7);
    wheel.advance(u64::MAX, &mut out);
    assert_eq!(out.len(), 101);
    assert!(start.elapsed() < std::time::Duration::from_secs(1));
}
