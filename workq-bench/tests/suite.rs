//! Every scenario at tiny sizes: nothing panics, workq keeps its guarantees, and
//! the report renders as a table, markdown, JSON that parses, and an SVG plot.

use workq_bench::report::{to_json, to_markdown, to_table};
use workq_bench::{Options, Scenario, Sizes};

/// The counting allocator, so the memory rows have numbers.
#[global_allocator]
static GLOBAL: &workq_bench::StatsAlloc<std::alloc::System> = &workq_bench::INSTRUMENTED_SYSTEM;

#[test]
fn every_scenario_at_tiny_sizes() {
    let options = Options {
        scenarios: Scenario::ALL.to_vec(),
        sizes: Sizes::tiny(),
        quick: true,
        progress: false,
    };
    let report = workq_bench::run(&options, "tests/suite.rs");
    assert_eq!(report.sections.len(), Scenario::ALL.len());
    let table = to_table(&report);
    assert_eq!(report.workq_violations(), 0, "{table}");
    assert!(report.counting_allocator);
    for s in &report.sections {
        assert!(!s.rows.is_empty(), "{}", s.scenario);
        for r in &s.rows {
            assert_eq!(r.values.len(), s.systems.len(), "{}", r.metric);
            assert!(r.counting_allocator, "{}", r.metric);
        }
    }
    // The workq value of the first row of `scenario` whose metric starts with
    // `metric`.
    let workq_value = |scenario: Scenario, metric: &str| {
        report
            .sections
            .iter()
            .find(|s| s.scenario == scenario)
            .and_then(|s| s.rows.iter().find(|r| r.metric.starts_with(metric)))
            .and_then(|r| r.workq())
    };
    let armed = workq_value(Scenario::Memory, "armed item: arming").expect("bytes per armed item");
    assert!(armed.is_finite() && armed > 0.0, "{table}");
    let chain = report
        .sections
        .iter()
        .find(|s| s.scenario == Scenario::Chain)
        .expect("the chain section");
    let per_run = chain.rows[0].workq().expect("ns per chained run");
    assert!(per_run.is_finite() && per_run > 0.0, "{table}");

    let allocs =
        workq_value(Scenario::Jobs, "heap: allocation calls").expect("allocations per job");
    assert!(allocs.is_finite() && allocs >= 1.0, "{table}");
    assert!(table.contains("allocator") && table.contains("counting"));

    let json = serde_json::to_string(&to_json(&report)).expect("JSON");
    let parsed: serde_json::Value = serde_json::from_str(&json).expect("JSON parses");
    assert_eq!(parsed["scenarios"][2]["name"], "coalescing");
    assert_eq!(parsed["workq_violations"], 0);
    assert_eq!(
        parsed["scenarios"][0]["rows"][0]["counting_allocator"],
        true
    );

    let md = to_markdown(&report, Some("benchmarks.svg"));
    assert!(md.contains("## Targets") && md.contains("![workq vs the best peer"));
    let svg = std::env::temp_dir().join(format!("workq-bench-{}.svg", std::process::id()));
    workq_bench::plot::write_svg(&report, &svg).expect("plot");
    let text = std::fs::read_to_string(&svg).expect("read the plot");
    let _ = std::fs::remove_file(&svg);
    assert!(text.starts_with("<svg") && text.contains("workq"), "{text}");
}
