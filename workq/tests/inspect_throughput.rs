//! What serving costs the inspected program: Work items queued and run per
//! second on a Pool, with no client and with 4 client processes attached (this
//! test binary re-run, reading every line). A measurement, not a check:
//! `cargo test --release -p workq --features inspect --test inspect_throughput -- --ignored --nocapture`.
#![cfg(all(feature = "inspect", unix))]
#![allow(clippy::unwrap_used)]

#[path = "inspect/support.rs"]
mod support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::{mark, role, Client, Proc, TempDir};
use workq::inspect::Message;
use workq::{Pool, Work};

/// The entry of every re-run: a client that reads every line until the end.
#[test]
fn role_entry() {
    let Some(role) = role() else {
        return;
    };
    assert_eq!(role, "drain");
    let mut client = Client::connect(std::path::Path::new(&std::env::var("SOCK").unwrap()));
    assert!(matches!(client.message(), Message::Hello { .. }));
    mark("reading");
    while client.raw_line().is_some() {}
    std::process::exit(0);
}

/// Items queued and run per second for `span`, 64 items a round, on `pool`.
fn items_per_second(pool: &Pool, span: Duration) -> f64 {
    let runs = Arc::new(AtomicU64::new(0));
    let items: Vec<Work> = (0..64)
        .map(|_| {
            let runs = runs.clone();
            Work::new(move |_| {
                runs.fetch_add(1, Ordering::Relaxed);
            })
        })
        .collect();
    let start = Instant::now();
    while start.elapsed() < span {
        for item in &items {
            pool.queue(item).unwrap();
        }
        pool.flush().unwrap();
    }
    runs.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[test]
#[ignore = "a measurement: run it with --release --ignored --nocapture"]
fn throughput_with_and_without_clients() {
    if role().is_some() {
        return;
    }
    let dir = TempDir::new("bench");
    let sock = dir.join("bench.sock");
    let pool = Pool::builder().name("bench").build().unwrap();
    let endpoint = workq::inspect::serve_at(&sock).unwrap();
    let span = Duration::from_secs(2);
    items_per_second(&pool, Duration::from_millis(200)); // warm-up
    let (mut without, mut with) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        without.push(items_per_second(&pool, span));
        let clients: Vec<Proc> = (0..4)
            .map(|_| {
                let c = Proc::start("role_entry", "drain", &[("SOCK", sock.to_str().unwrap())]);
                c.expect("reading");
                c
            })
            .collect();
        with.push(items_per_second(&pool, span));
        drop(clients); // killed
    }
    drop(endpoint);
    let (a, b) = (median(&without), median(&with));
    println!(
        "items queued+run per second on a Pool (median of 3 x 2 s): 0 clients {a:.0}, 4 clients {b:.0} ({:+.1}%)",
        (b - a) / a * 100.0
    );
    println!("  runs: 0 clients {without:?}");
    println!("  runs: 4 clients {with:?}");
}
