//! Compile and evaluate five representative expressions (target: each evaluation < 200 ns).
//!
//! Run with `cargo bench --bench expr`. Evaluation uses the scopes a routing engine would:
//! a filter scope over task attributes, and a target scope over a task and a worker.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use serde_json::{json, Value};

use trctl::expr::{Expression, FilterScope, TargetScope, WorkerView};

/// Twenty language codes, the last one matching the task.
fn in_list() -> String {
    let codes = [
        "ar", "bg", "cs", "da", "de", "el", "en", "et", "fi", "fr", "ga", "hr", "hu", "it", "lt",
        "lv", "mt", "nl", "pl", "es",
    ];
    let quoted: Vec<String> = codes.iter().map(|code| format!("\"{code}\"")).collect();
    format!("selected_language IN [{}]", quoted.join(", "))
}

const NESTED: &str = r#"((type == "ticket" AND (tier >= 2 OR vip == true)) OR (type == "chat" AND (languages HAS "fr" OR region == "emea"))) AND (skill_rating > 3 OR (score < 9.5 AND note CONTAINS "refund"))"#;

fn task() -> Value {
    json!({
        "type": "ticket",
        "tier": 1,
        "vip": true,
        "skill_rating": 5.5,
        "selected_language": "es",
        "languages": ["en", "es", "fr"],
        "region": "emea",
        "score": 4.5,
        "note": "refund requested",
        "customer": {"id": 42, "segment": "gold"}
    })
}

fn bench(c: &mut Criterion) {
    let task = task();
    let worker_attributes =
        json!({"languages": ["en", "de", "es"], "skills": ["billing"], "level": 3});
    let worker = WorkerView {
        sid: "WK00000000000000000000000000000001",
        friendly_name: "ana",
        activity_sid: "WA00000000000000000000000000000001",
        activity_name: "Available",
        available: true,
        attributes: &worker_attributes,
        channels: &[],
    };
    let filter_scope = FilterScope {
        task: &task,
        time: None,
    };
    let target_scope = TargetScope {
        task: &task,
        worker: &worker,
        time: None,
    };

    let in_list = in_list();
    let filters: [(&str, &str); 4] = [
        ("has", r#"languages HAS "es""#),
        ("and", r#"skill_rating >= 5.1 AND type == "ticket""#),
        ("in_20", &in_list),
        ("nested_4", NESTED),
    ];
    let target = ("target_has", "worker.languages HAS task.selected_language");

    let mut compile_group = c.benchmark_group("compile");
    for (name, source) in filters.iter().chain([&target]) {
        compile_group.bench_function(*name, |b| {
            b.iter(|| {
                Expression::compile(black_box(source))
                    .map(|expression| expression.ast().keys().len())
            })
        });
    }
    compile_group.finish();

    let mut eval_group = c.benchmark_group("evaluate");
    for (name, source) in filters {
        let expression = Expression::compile(source).expect("benchmark expressions parse");
        assert!(
            expression.evaluate(&filter_scope),
            "{name} should be true on the bench task"
        );
        eval_group.bench_function(name, |b| {
            b.iter(|| black_box(&expression).evaluate(black_box(&filter_scope)))
        });
    }
    let expression = Expression::compile(target.1).expect("benchmark expressions parse");
    assert!(expression.evaluate(&target_scope));
    eval_group.bench_function(target.0, |b| {
        b.iter(|| black_box(&expression).evaluate(black_box(&target_scope)))
    });
    eval_group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
