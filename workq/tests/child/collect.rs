//! A `tracing` subscriber that keeps (level, message) of every event.

use std::sync::{Arc, Mutex, OnceLock};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

/// Collects (level, message) of every event.
#[derive(Clone, Default)]
pub struct Collect(Arc<Mutex<Vec<(Level, String)>>>);

impl Collect {
    /// The collector installed as the process's global default (once).
    pub fn global() -> &'static Collect {
        static GLOBAL: OnceLock<Collect> = OnceLock::new();
        GLOBAL.get_or_init(|| {
            let collect = Collect::default();
            tracing::subscriber::set_global_default(collect.clone())
                .expect("no other global subscriber");
            collect
        })
    }

    /// How many events of `level` contain `needle`.
    pub fn count(&self, level: Level, needle: &str) -> usize {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter(|(l, m)| *l == level && m.contains(needle))
            .count()
    }
}

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
            .unwrap_or_else(|p| p.into_inner())
            .push((*event.metadata().level(), m.0));
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}
