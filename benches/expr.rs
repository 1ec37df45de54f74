//! Compile and evaluate five representative expressions (target: each evaluation < 200 ns),
//! and the costliest expressions the limits of `trctl::expr::limits` allow.
//!
//! Run with `cargo bench --bench expr`. Evaluation uses the scopes a routing engine would:
//! a filter scope over task attributes, and a target scope over a task and a worker.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use serde_json::{json, Value};

use trctl::expr::{
    Expression, FilterScope, MemberScope, TargetScope, WorkerView, MAX_EXPRESSION_BYTES,
    MAX_LIST_ITEMS, MAX_TERMS,
};

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

/// `MAX_TERMS` comparisons joined by OR, `term(i)` each, none true on the bench worker so
/// every one is evaluated.
fn or_chain(term: impl Fn(usize) -> String) -> String {
    let source = (0..MAX_TERMS).map(term).collect::<Vec<_>>().join(" OR ");
    assert!(
        source.len() <= MAX_EXPRESSION_BYTES,
        "{} bytes",
        source.len()
    );
    source
}

/// The costliest queue-membership evaluations the limits allow, each against one worker
/// whose attributes are as large as TaskRouter allows (4096 characters). Every term is
/// false, so nothing short-circuits.
fn at_limits(c: &mut Criterion) {
    // About 2,000 numbers: the longest array a 4096-character attributes document holds,
    // so each HAS term scans as much as one term can.
    let numbers: Vec<u32> = vec![0; 2_040];
    let big_array = json!({ "skills": numbers });
    let long_text = json!({ "note": "x".repeat(4_070) });
    let small = json!({"skill": "zz", "sid_like": "WK00000000000000000000000000000999"});
    assert!(big_array.to_string().len() <= 4096 && long_text.to_string().len() <= 4096);
    let list: Vec<String> = (0..MAX_LIST_ITEMS).map(|i| format!("'s{i}'")).collect();
    let cases: [(&str, String, &Value); 4] = [
        (
            "terms_scalar",
            or_chain(|i| format!("skill == 'a{i}'")),
            &small,
        ),
        (
            "terms_has_2040_items",
            or_chain(|i| format!("skills HAS 'a{i}'")),
            &big_array,
        ),
        (
            "terms_contains_4070_chars",
            or_chain(|i| format!("note CONTAINS 'y{i}'")),
            &long_text,
        ),
        (
            "list_in",
            format!("sid_like IN [{}]", list.join(",")),
            &small,
        ),
    ];
    let mut group = c.benchmark_group("evaluate_at_limits");
    for (name, source, attributes) in &cases {
        assert!(source.len() <= MAX_EXPRESSION_BYTES, "{name}");
        let expression = Expression::compile(source).expect("at-limit expressions compile");
        let worker = WorkerView {
            sid: "WK00000000000000000000000000000001",
            friendly_name: "ana",
            activity_sid: "WA00000000000000000000000000000001",
            activity_name: "Available",
            available: true,
            attributes,
            channels: &[],
        };
        let scope = MemberScope { worker: &worker };
        assert!(!expression.evaluate(&scope), "{name} must be false");
        group.bench_function(*name, |b| {
            b.iter(|| black_box(&expression).evaluate(black_box(&scope)))
        });
    }
    group.finish();
    let mut compile = c.benchmark_group("compile_at_limits");
    compile.bench_function("terms_scalar", |b| {
        b.iter(|| Expression::compile(black_box(&cases[0].1)).is_ok())
    });
    compile.finish();
}

criterion_group!(benches, bench, at_limits);
criterion_main!(benches);
