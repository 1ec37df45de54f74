//! The engine's cost bounds over HTTP: expressions and workflow configurations over the
//! limits of `trctl::expr::limits` are refused with a 400 that names the limit, and
//! expressions at the limits are accepted.

use crate::common::EmulatorThread;
use reqwest::Method;
use serde_json::{json, Value};
use trctl::api::{Client, RequestBody};
use trctl::expr::{MAX_EXPRESSION_BYTES, MAX_NESTING, MAX_TERMS, MAX_WORKFLOW_TARGETS};

async fn call(
    client: &Client,
    method: Method,
    path: &str,
    query: &[(&str, String)],
    form: &[(&'static str, String)],
) -> (u16, Value) {
    let body = if form.is_empty() {
        RequestBody::None
    } else {
        RequestBody::Form(form.to_vec())
    };
    let response = client
        .send(method, path, query, &body, None)
        .await
        .expect("the emulator answers");
    let value = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
    (response.status, value)
}

/// `n` terms such as the fault campaign sent: `skill == 'a0' OR skill == 'a1' OR …`.
fn or_terms(n: usize) -> String {
    (0..n)
        .map(|i| format!("skill == 'a{i}'"))
        .collect::<Vec<_>>()
        .join(" OR ")
}

/// The shortest terms there are, so `MAX_TERMS + 1` of them fit in the byte limit.
fn short_terms(n: usize) -> String {
    vec!["a==1"; n].join(" OR ")
}

fn message(body: &Value) -> &str {
    body["message"].as_str().unwrap_or_default()
}

/// A 400 with the bad-request code whose message contains every one of `needles`.
fn assert_refused(status: u16, body: &Value, needles: &[&str]) {
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["code"], 20001, "{body}");
    for needle in needles {
        assert!(message(body).contains(needle), "{needle:?} not in {body}");
    }
    // The oversized text is not echoed back.
    assert!(
        message(body).len() < 400,
        "message too long: {}",
        message(body).len()
    );
}

async fn workspace(client: &Client) -> String {
    let (status, body) = call(
        client,
        Method::POST,
        "/v1/Workspaces",
        &[],
        &[("FriendlyName", "Limits".into())],
    )
    .await;
    assert_eq!(status, 201, "{body}");
    body["sid"].as_str().expect("workspace sid").to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn queue_target_workers_over_the_limits_is_refused_on_create_and_update() {
    let emulator = EmulatorThread::start();
    let client = emulator.client();
    let ws = workspace(&client).await;
    let queues = format!("/v1/Workspaces/{ws}/TaskQueues");
    let huge = or_terms(60_000);
    let bytes = huge.len().to_string();
    let limit = MAX_EXPRESSION_BYTES.to_string();

    let (status, body) = call(
        &client,
        Method::POST,
        &queues,
        &[],
        &[
            ("FriendlyName", "Huge".into()),
            ("TargetWorkers", huge.clone()),
        ],
    )
    .await;
    assert_refused(status, &body, &["TargetWorkers", &bytes, &limit]);

    let too_many = short_terms(MAX_TERMS + 1);
    let (status, body) = call(
        &client,
        Method::POST,
        &queues,
        &[],
        &[("FriendlyName", "Many".into()), ("TargetWorkers", too_many)],
    )
    .await;
    let expected = format!(
        "TargetWorkers expression has {} terms; the limit is {MAX_TERMS}",
        MAX_TERMS + 1
    );
    assert_refused(status, &body, &[&expected]);

    // At the limits: accepted, then an update over them is refused and changes nothing.
    let at_limit = short_terms(MAX_TERMS);
    let (status, body) = call(
        &client,
        Method::POST,
        &queues,
        &[],
        &[
            ("FriendlyName", "AtLimit".into()),
            ("TargetWorkers", at_limit.clone()),
        ],
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let queue = body["sid"].as_str().expect("queue sid").to_string();
    let (status, body) = call(
        &client,
        Method::POST,
        &format!("{queues}/{queue}"),
        &[],
        &[("TargetWorkers", huge)],
    )
    .await;
    assert_refused(status, &body, &["TargetWorkers", &bytes, &limit]);
    let deep = format!(
        "{}a == 1{}",
        "(".repeat(MAX_NESTING + 1),
        ")".repeat(MAX_NESTING + 1)
    );
    let (status, body) = call(
        &client,
        Method::POST,
        &format!("{queues}/{queue}"),
        &[],
        &[("TargetWorkers", deep)],
    )
    .await;
    assert_refused(status, &body, &["TargetWorkers", &MAX_NESTING.to_string()]);
    let (status, body) = call(&client, Method::GET, &format!("{queues}/{queue}"), &[], &[]).await;
    assert_eq!(status, 200);
    assert_eq!(body["target_workers"], at_limit.as_str());
}

#[tokio::test(flavor = "multi_thread")]
async fn workflows_over_the_limits_are_refused() {
    let emulator = EmulatorThread::start();
    let client = emulator.client();
    let ws = workspace(&client).await;
    let (status, body) = call(
        &client,
        Method::POST,
        &format!("/v1/Workspaces/{ws}/TaskQueues"),
        &[],
        &[("FriendlyName", "Q".into())],
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let queue = body["sid"].as_str().expect("queue sid").to_string();
    let workflows = format!("/v1/Workspaces/{ws}/Workflows");
    let create = |name: &'static str, config: Value| {
        let client = client.clone();
        let workflows = workflows.clone();
        async move {
            call(
                &client,
                Method::POST,
                &workflows,
                &[],
                &[
                    ("FriendlyName", name.to_string()),
                    ("Configuration", config.to_string()),
                ],
            )
            .await
        }
    };
    let too_many = short_terms(MAX_TERMS + 1);
    let terms_message = format!(
        "expression has {} terms; the limit is {MAX_TERMS}",
        MAX_TERMS + 1
    );

    let (status, body) = create(
        "filter",
        json!({"task_routing": {"filters": [{"expression": too_many, "targets": [{"queue": queue}]}]}}),
    )
    .await;
    assert_refused(
        status,
        &body,
        &["task_routing.filters[0].expression", &terms_message],
    );

    let (status, body) = create(
        "target",
        json!({"task_routing": {"filters": [{"expression": "1==1",
            "targets": [{"queue": queue, "expression": too_many}]}]}}),
    )
    .await;
    assert_refused(
        status,
        &body,
        &[
            "task_routing.filters[0].targets[0].expression",
            &terms_message,
        ],
    );

    let huge = or_terms(40_000);
    let (status, body) = create(
        "huge target",
        json!({"task_routing": {"filters": [{"expression": "1==1",
            "targets": [{"queue": queue, "skip_if": huge}]}]}}),
    )
    .await;
    assert_refused(
        status,
        &body,
        &["skip_if", &MAX_EXPRESSION_BYTES.to_string()],
    );

    // Too many targets across the filters, however they are spread.
    let expected = format!(
        "workflow has {} targets across its filters; the limit is {MAX_WORKFLOW_TARGETS}",
        MAX_WORKFLOW_TARGETS + 1
    );
    let filter = json!({"expression": "1==1", "targets": [{"queue": queue}]});
    let filters = vec![filter.clone(); MAX_WORKFLOW_TARGETS + 1];
    let (status, body) = create("filters", json!({"task_routing": {"filters": filters}})).await;
    assert_refused(status, &body, &["task_routing.filters", &expected]);
    let targets = vec![json!({"queue": queue, "timeout": 10}); MAX_WORKFLOW_TARGETS];
    let (status, body) = create(
        "targets",
        json!({"task_routing": {"filters": [
            {"expression": "1==1", "targets": targets},
            {"expression": "1==1", "targets": [{"queue": queue}]}
        ]}}),
    )
    .await;
    assert_refused(status, &body, &[&expected]);

    // At the limits: accepted. Ten filters of ten targets, every expression at the term
    // limit (the whole document stays under TaskRouter's size limit).
    let at_limit = short_terms(MAX_TERMS);
    let step = json!({"queue": queue, "timeout": 10, "expression": at_limit, "skip_if": at_limit});
    let filter = json!({"expression": at_limit, "targets": vec![step; MAX_WORKFLOW_TARGETS / 10]});
    let (status, body) = create(
        "at limits",
        json!({"task_routing": {"filters": vec![filter; 10]}}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn list_filters_over_the_limits_are_refused() {
    let emulator = EmulatorThread::start();
    let client = emulator.client();
    let ws = workspace(&client).await;
    let too_many = short_terms(MAX_TERMS + 1);
    let terms_message = format!(
        "expression has {} terms; the limit is {MAX_TERMS}",
        MAX_TERMS + 1
    );
    let too_long = or_terms(1_000);
    for (collection, parameter) in [
        ("Tasks", "EvaluateTaskAttributes"),
        ("Workers", "TargetWorkersExpression"),
    ] {
        let path = format!("/v1/Workspaces/{ws}/{collection}");
        let (status, body) = call(
            &client,
            Method::GET,
            &path,
            &[(parameter, too_many.clone())],
            &[],
        )
        .await;
        assert_refused(status, &body, &[parameter, &terms_message]);
        let (status, body) = call(
            &client,
            Method::GET,
            &path,
            &[(parameter, too_long.clone())],
            &[],
        )
        .await;
        assert_refused(
            status,
            &body,
            &[parameter, &MAX_EXPRESSION_BYTES.to_string()],
        );
        let (status, body) = call(
            &client,
            Method::GET,
            &path,
            &[(parameter, short_terms(MAX_TERMS))],
            &[],
        )
        .await;
        assert_eq!(status, 200, "{parameter} at the limit: {body}");
    }
}

/// The binary with a pinned environment, run in `dir`.
fn trctl(dir: &tempfile::TempDir) -> assert_cmd::Command {
    let mut command = assert_cmd::Command::cargo_bin("trctl").expect("the trctl binary");
    command
        .env_clear()
        .env("HOME", dir.path())
        .current_dir(dir.path())
        .timeout(std::time::Duration::from_secs(60));
    command
}

#[test]
fn offline_commands_refuse_the_same_expressions() {
    let dir = tempfile::tempdir().expect("temp dir");
    let too_many = short_terms(MAX_TERMS + 1);
    let output = trctl(&dir)
        .args(["expr", "check", &too_many])
        .output()
        .expect("trctl runs");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("the limit is {MAX_TERMS}")),
        "{stderr}"
    );
    assert!(stderr.len() < 400, "the source is not echoed: {stderr}");

    let deep = format!("{}a == 1{}", "(".repeat(4_000), ")".repeat(4_000));
    let output = trctl(&dir)
        .args(["expr", "eval", &deep, "--attributes", "{}"])
        .output()
        .expect("trctl runs");
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    assert!(String::from_utf8_lossy(&output.stderr).contains("levels deep"));

    let config = json!({"task_routing": {"filters": [{"expression": "1==1",
        "targets": [{"queue": "WQ00000000000000000000000000000001", "expression": or_terms(2_000)}]}]}});
    let path = dir.path().join("workflow.json");
    std::fs::write(&path, config.to_string()).expect("write the configuration");
    for command in ["validate", "test"] {
        let mut cmd = trctl(&dir);
        cmd.args(["workflow", command, "workflow.json"]);
        if command == "test" {
            cmd.args(["--attributes", "{}"]);
        }
        let output = cmd.output().expect("trctl runs");
        assert_eq!(output.status.code(), Some(2), "{command}: {output:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("task_routing.filters[0].targets[0].expression")
                && stderr.contains(&format!("the limit is {MAX_EXPRESSION_BYTES} bytes")),
            "{command}: {stderr}"
        );
    }
}
