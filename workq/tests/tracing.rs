//! The library's trace events reach an installed `tracing` subscriber: queue,
//! start and finish of an item, and a panic as an error naming the item.
#![cfg(feature = "tracing")]
#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};
use workq::{Work, Worker};

/// Collects (level, message) of every event.
#[derive(Clone, Default)]
struct Collect(Arc<Mutex<Vec<(Level, String)>>>);

struct Message(String);

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        }
    }
}

impl Subscriber for Collect {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut m = Message(String::new());
        event.record(&mut m);
        self.0
            .lock()
            .unwrap()
            .push((*event.metadata().level(), m.0));
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

#[test]
fn events_reach_the_subscriber() {
    let collect = Collect::default();
    tracing::subscriber::set_global_default(collect.clone()).unwrap();
    let worker = Worker::new("traced").unwrap();
    let fine = Work::named("fine-item", |_| {});
    let boom = Work::named("boom-item", |_| panic!("kaboom"));
    worker.queue(&fine).unwrap();
    worker.queue(&boom).unwrap();
    worker.flush().unwrap();
    // The panic is reported right after its run has finished (so that the hook
    // sees the item idle): it may come just after the flush returns.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !collect
        .0
        .lock()
        .unwrap()
        .iter()
        .any(|(l, _)| *l == Level::ERROR)
    {
        assert!(
            std::time::Instant::now() < deadline,
            "no error event after 30 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    let events = collect.0.lock().unwrap().clone();
    let has = |level: Level, needle: &str| {
        events
            .iter()
            .any(|(l, m)| *l == level && m.contains(needle))
    };
    assert!(
        has(Level::TRACE, "queue 'fine-item' on 'traced'"),
        "{events:?}"
    );
    assert!(has(Level::TRACE, "start 'fine-item'"), "{events:?}");
    assert!(has(Level::TRACE, "finish 'fine-item'"), "{events:?}");
    assert!(has(Level::ERROR, "'boom-item'"), "{events:?}");
    assert!(has(Level::ERROR, "kaboom"), "{events:?}");
}
