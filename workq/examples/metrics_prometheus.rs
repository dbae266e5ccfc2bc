//! workq's numbers in Prometheus' text format, through the `metrics` facade: the
//! program installs its recorder as it would anyway (here the Prometheus one, with
//! no HTTP server), and one call, `workq::metrics::record()`, sends every live
//! queue's counters, gauges and latency percentiles to it. A server would call
//! it before rendering each scrape, or start `workq::metrics::export_every`.
//!
//! Without workq's feature you would read `stats()` of each queue yourself and
//! copy every field into a gauge or counter by hand.
//!
//! Run with `cargo run -p workq --features metrics --example metrics_prometheus`.

use metrics_exporter_prometheus::PrometheusBuilder;
use workq::{Pool, Work};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let prometheus = PrometheusBuilder::new().install_recorder()?;

    let pool = Pool::builder()
        .name("resize")
        .max_threads(2)
        .latency_histograms(true)
        .build()?;
    let items: Vec<Work> = (0..100)
        .map(|i| Work::named(format!("resize-{i}"), |_ctx| {}))
        .collect();
    for item in &items {
        pool.queue(item)?;
    }
    pool.flush()?;

    workq::metrics::record();
    let text = prometheus.render();
    // Only the pool's lines (workq's own queues are in `text` too).
    for line in text.lines() {
        if line.starts_with('#') || line.contains("queue=\"resize\"") {
            println!("{line}");
        }
    }
    assert!(text.contains("workq_runs_total{queue=\"resize\""));
    Ok(())
}
