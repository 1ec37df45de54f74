//! The `trctl` binary against a local recording server: each command's request
//! (method, path, form, query, auth) and its output, exit codes and messages.

use std::sync::Arc;

use crate::common::{self, Recorder, Reply, ACCOUNT, TOKEN, WORKSPACE};
use assert_cmd::Command;
use serde_json::{json, Value};

const WORKFLOW: &str = "WW0123456789abcdef0123456789abcdef";
const TASK: &str = "WT0123456789abcdef0123456789abcdef";
const RESERVATION: &str = "WR0123456789abcdef0123456789abcdef";
const OTHER_RESERVATION: &str = "WR00000000000000000000000000000002";
const ACTIVITY: &str = "WA0123456789abcdef0123456789abcdef";
const WORKER: &str = "WK0123456789abcdef0123456789abcdef";

/// The binary with a pinned environment: no inherited credentials, an empty HOME,
/// and a working directory without a `.env`.
fn trctl(dir: &tempfile::TempDir) -> Command {
    let mut command = Command::cargo_bin("trctl").unwrap();
    command
        .env_clear()
        .env("HOME", dir.path())
        .current_dir(dir.path());
    command
}

/// The binary with credentials and base URL as flags.
fn trctl_with(dir: &tempfile::TempDir, url: &str) -> Command {
    let mut command = trctl(dir);
    command.args([
        "--base-url",
        url,
        "--account-sid",
        ACCOUNT,
        "--auth-token",
        TOKEN,
        "--workspace",
        WORKSPACE,
    ]);
    command
}

fn task_json(base: &str, sid: &str, status: &str) -> Value {
    json!({
        "account_sid": ACCOUNT, "age": 0, "assignment_status": status,
        "attributes": "{\"selected_language\":\"es\"}", "addons": "{}",
        "date_created": "2024-03-01T10:00:00Z", "date_updated": "2024-03-01T10:00:00Z",
        "task_queue_entered_date": null, "priority": 0, "reason": null, "sid": sid,
        "task_queue_sid": null, "task_queue_friendly_name": null,
        "task_channel_sid": "TC0123456789abcdef0123456789abcdef", "task_channel_unique_name": "default",
        "timeout": 86400, "workflow_sid": WORKFLOW, "workflow_friendly_name": "Quickstart",
        "workspace_sid": WORKSPACE, "url": format!("{base}/v1/Workspaces/{WORKSPACE}/Tasks/{sid}"),
        "links": {"reservations": format!("{base}/v1/Workspaces/{WORKSPACE}/Tasks/{sid}/Reservations")},
        "virtual_start_time": "2024-03-01T10:00:00Z", "ignore_capacity": false, "routing_target": null
    })
}

fn reservation_json(sid: &str, status: &str) -> Value {
    json!({"account_sid": ACCOUNT, "sid": sid, "reservation_status": status, "task_sid": TASK,
           "worker_sid": WORKER, "worker_name": "Alice", "workspace_sid": WORKSPACE,
           "date_created": "2024-03-01T10:00:00Z", "date_updated": "2024-03-01T10:00:00Z",
           "url": "u", "links": {}})
}

fn list_json(key: &str, items: Vec<Value>, next: Option<String>) -> Value {
    json!({key: items, "meta": {"page": 0, "page_size": 50, "first_page_url": "f", "previous_page_url": null,
           "url": "u", "next_page_url": next, "key": key}})
}

fn stdout_json(output: &std::process::Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|err| {
        panic!(
            "stdout is not JSON ({err}):\n{}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).to_string()
}

#[test]
fn task_create_sends_one_post_with_form_fields_and_basic_auth() {
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::start(Arc::new(|_, _, base| {
        Reply::json(201, &task_json(base, TASK, "pending"))
    }));
    let output = trctl_with(&dir, &recorder.url)
        .args([
            "task",
            "create",
            "--workflow",
            WORKFLOW,
            "--attributes",
            r#"{"selected_language":"es"}"#,
            "--output",
            "json",
        ])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let requests = recorder.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, format!("/v1/Workspaces/{WORKSPACE}/Tasks"));
    assert_eq!(
        request.form,
        vec![
            ("WorkflowSid".to_string(), WORKFLOW.to_string()),
            (
                "Attributes".to_string(),
                r#"{"selected_language":"es"}"#.to_string()
            )
        ]
    );
    assert_eq!(request.basic_auth().unwrap(), format!("{ACCOUNT}:{TOKEN}"));
    assert!(request.headers["user-agent"].starts_with("trctl/"));
    assert_eq!(
        stdout_json(&output),
        task_json(&recorder.url, TASK, "pending")
    );
}

#[test]
fn reservation_accept_and_reject_send_the_status() {
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::always(Reply::json(200, &reservation_json(RESERVATION, "accepted")));
    let output = trctl_with(&dir, &recorder.url)
        .args(["reservation", "accept", RESERVATION, "--task", TASK])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let request = recorder.last();
    assert_eq!(request.method, "POST");
    assert_eq!(
        request.path,
        format!("/v1/Workspaces/{WORKSPACE}/Tasks/{TASK}/Reservations/{RESERVATION}")
    );
    assert_eq!(
        request.form,
        vec![("ReservationStatus".to_string(), "accepted".to_string())]
    );

    let output = trctl_with(&dir, &recorder.url)
        .args([
            "reservation",
            "reject",
            RESERVATION,
            "--task",
            TASK,
            "--activity",
            ACTIVITY,
        ])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let request = recorder.last();
    assert_eq!(
        request.path,
        format!("/v1/Workspaces/{WORKSPACE}/Tasks/{TASK}/Reservations/{RESERVATION}")
    );
    assert_eq!(
        request.form_value("ReservationStatus").as_deref(),
        Some("rejected")
    );
    assert_eq!(
        request.form_value("WorkerActivitySid").as_deref(),
        Some(ACTIVITY)
    );
    assert_eq!(recorder.count(), 2);
}

#[test]
fn accept_through_the_worker_uses_the_worker_path() {
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::always(Reply::json(200, &reservation_json(RESERVATION, "accepted")));
    let output = trctl_with(&dir, &recorder.url)
        .args(["reservation", "accept", RESERVATION, "--worker", WORKER])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    recorder.assert_last(
        "POST",
        &format!("/v1/Workspaces/{WORKSPACE}/Workers/{WORKER}/Reservations/{RESERVATION}"),
    );
}

#[test]
fn accept_without_a_sid_acts_on_the_single_pending_reservation() {
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::start(Arc::new(|request, _, _| {
        if request.method == "GET" {
            Reply::json(
                200,
                &list_json(
                    "reservations",
                    vec![reservation_json(RESERVATION, "pending")],
                    None,
                ),
            )
        } else {
            Reply::json(200, &reservation_json(RESERVATION, "accepted"))
        }
    }));
    let output = trctl_with(&dir, &recorder.url)
        .args(["reservation", "accept", "--task", TASK])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let requests = recorder.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].method, "GET");
    assert_eq!(
        requests[0].query_value("ReservationStatus").as_deref(),
        Some("pending")
    );
    assert_eq!(
        requests[1].path,
        format!("/v1/Workspaces/{WORKSPACE}/Tasks/{TASK}/Reservations/{RESERVATION}")
    );
}

#[test]
fn accept_without_a_sid_refuses_none_or_several() {
    let dir = tempfile::tempdir().unwrap();
    let none = Recorder::always(Reply::json(200, &list_json("reservations", vec![], None)));
    let output = trctl_with(&dir, &none.url)
        .args(["reservation", "accept", "--task", TASK])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("has no pending reservation"),
        "{}",
        stderr(&output)
    );
    assert_eq!(none.count(), 1, "nothing may be updated");

    let several = Recorder::always(Reply::json(
        200,
        &list_json(
            "reservations",
            vec![
                reservation_json(RESERVATION, "pending"),
                reservation_json(OTHER_RESERVATION, "pending"),
            ],
            None,
        ),
    ));
    let output = trctl_with(&dir, &several.url)
        .args(["reservation", "reject", "--worker", WORKER])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert!(
        message.contains("2 pending reservations") && message.contains(OTHER_RESERVATION),
        "{message}"
    );
    assert_eq!(several.count(), 1);
}

#[test]
fn rate_limited_twice_then_created_succeeds_after_three_requests() {
    let dir = tempfile::tempdir().unwrap();
    let throttled = Reply::json(
        429,
        &json!({"code": 20429, "message": "Too many requests", "status": 429}),
    )
    .with_header("Retry-After", "0");
    let created = Reply::json(201, &task_json("http://x", TASK, "pending"));
    let recorder = Recorder::sequence(vec![throttled.clone(), throttled, created]);
    let output = trctl_with(&dir, &recorder.url)
        .args(["task", "create", "--workflow", WORKFLOW, "-o", "json"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(recorder.count(), 3);
    assert!(recorder.requests().iter().all(|r| r.method == "POST"));
    assert_eq!(stdout_json(&output)["sid"], TASK);
}

#[test]
fn rate_limited_past_the_retries_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::always(
        Reply::json(
            429,
            &json!({"code": 20429, "message": "Too many requests", "status": 429}),
        )
        .with_header("Retry-After", "0"),
    );
    let output = trctl_with(&dir, &recorder.url)
        .args(["--max-retries", "2", "task", "list"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3));
    assert_eq!(recorder.count(), 3);
    assert!(
        stderr(&output).contains("gave up after 3 attempts"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn server_errors_are_retried_for_get_but_not_for_post() {
    let dir = tempfile::tempdir().unwrap();
    let failing = Reply::json(
        503,
        &json!({"code": 20503, "message": "Service unavailable", "status": 503}),
    )
    .with_header("Retry-After", "0");
    let recorder = Recorder::sequence(vec![
        failing.clone(),
        Reply::json(200, &task_json("http://x", TASK, "pending")),
    ]);
    let output = trctl_with(&dir, &recorder.url)
        .args(["task", "get", TASK])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(recorder.count(), 2);

    let recorder = Recorder::always(failing);
    let output = trctl_with(&dir, &recorder.url)
        .args(["task", "create", "--workflow", WORKFLOW])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        recorder.count(),
        1,
        "a POST must not be repeated after a 5xx"
    );
    assert!(stderr(&output).contains("20503"));
}

#[test]
fn not_found_exits_1_with_the_twilio_error() {
    let dir = tempfile::tempdir().unwrap();
    let body = json!({"code": 20404, "message": format!("The requested resource /Workspaces/{WORKSPACE}/Tasks/{TASK} was not found"),
                      "more_info": "https://www.twilio.com/docs/errors/20404", "status": 404});
    let recorder = Recorder::always(Reply::json(404, &body));
    let output = trctl_with(&dir, &recorder.url)
        .args(["task", "get", TASK])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert!(message.contains("20404"), "{message}");
    assert!(message.contains("was not found"), "{message}");
    assert!(
        message.contains("https://www.twilio.com/docs/errors/20404"),
        "{message}"
    );
    assert_eq!(recorder.count(), 1, "a 404 is not retried");
}

#[test]
fn refused_credentials_exit_4_and_never_show_the_token() {
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::always(Reply::json(
        401,
        &json!({"code": 20003, "message": "Authenticate", "status": 401}),
    ));
    let output = trctl_with(&dir, &recorder.url)
        .args(["task", "list"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(4));
    assert!(stderr(&output).contains("20003"));
    assert!(!stderr(&output).contains(TOKEN));
    assert!(!String::from_utf8_lossy(&output.stdout).contains(TOKEN));
}

#[test]
fn unreachable_server_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    // Bind and drop a listener to get a loopback port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let output = trctl_with(&dir, &format!("http://127.0.0.1:{port}"))
        .args(["--max-retries", "0", "task", "list"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3));
    assert!(
        stderr(&output).contains("network error"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn paging_follows_next_page_url_and_returns_every_item() {
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::start(Arc::new(|request, _, base| {
        let second = request.query_value("PageToken").is_some();
        let (items, next) = if second {
            (
                vec![task_json(
                    base,
                    "WT00000000000000000000000000000003",
                    "pending",
                )],
                None,
            )
        } else {
            let next = format!("{base}/v1/Workspaces/{WORKSPACE}/Tasks?PageSize=2&Page=1&PageToken=PAWT00000000000000000000000000000002");
            (
                vec![
                    task_json(base, "WT00000000000000000000000000000001", "pending"),
                    task_json(base, "WT00000000000000000000000000000002", "pending"),
                ],
                Some(next),
            )
        };
        Reply::json(200, &list_json("tasks", items, next))
    }));
    let output = trctl_with(&dir, &recorder.url)
        .args(["task", "list", "--all", "--page-size", "2", "-o", "json"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let sids: Vec<String> = stdout_json(&output)
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["sid"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        sids,
        [
            "WT00000000000000000000000000000001",
            "WT00000000000000000000000000000002",
            "WT00000000000000000000000000000003"
        ]
    );
    let requests = recorder.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].query_value("PageSize").as_deref(), Some("2"));
    assert_eq!(
        requests[1].query_value("PageToken").as_deref(),
        Some("PAWT00000000000000000000000000000002")
    );
    assert_eq!(
        requests[1].basic_auth().unwrap(),
        format!("{ACCOUNT}:{TOKEN}")
    );

    // --limit stops early without fetching the second page.
    let before = recorder.count();
    let output = trctl_with(&dir, &recorder.url)
        .args([
            "task",
            "list",
            "--limit",
            "2",
            "--page-size",
            "2",
            "-o",
            "ndjson",
        ])
        .output()
        .unwrap();
    assert!(output.status.success());
    assert_eq!(String::from_utf8_lossy(&output.stdout).lines().count(), 2);
    assert_eq!(recorder.count(), before + 1);
}

/// A task as an API might send it: keys out of the model's order, a field the model
/// does not know, and optional fields (`reason`, `links`, `routing_target`, …) absent.
fn unusual_task_text(sid: &str) -> String {
    format!(
        r#"{{"sid":"{sid}","zz_new_field":{{"nested":[1,2]}},"priority":7,"assignment_status":"pending","account_sid":"{ACCOUNT}","workspace_sid":"{WORKSPACE}","attributes":"{{}}","age":12}}"#
    )
}

fn keys(value: &Value) -> Vec<String> {
    value
        .as_object()
        .map(|map| map.keys().cloned().collect())
        .unwrap_or_default()
}

#[test]
fn json_output_is_the_resource_as_the_api_sent_it() {
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::start(Arc::new(|request, _, base| {
        let body = if request.path.ends_with("/Tasks") {
            let second = request.query_value("PageToken").is_some();
            let (sid, next) = if second {
                ("WT00000000000000000000000000000002", "null".to_string())
            } else {
                (
                    "WT00000000000000000000000000000001",
                    format!("\"{base}/v1/Workspaces/{WORKSPACE}/Tasks?PageSize=1&Page=1&PageToken=PA2\""),
                )
            };
            format!(
                r#"{{"tasks":[{}],"meta":{{"page":0,"page_size":1,"first_page_url":"f","previous_page_url":null,"url":"u","next_page_url":{next},"key":"tasks"}}}}"#,
                unusual_task_text(sid)
            )
        } else {
            unusual_task_text(TASK)
        };
        Reply {
            status: 200,
            headers: vec![("content-type".into(), "application/json".into())],
            body,
        }
    }));
    let sent: Value = serde_json::from_str(&unusual_task_text(TASK)).unwrap();
    let expected_keys = [
        "sid",
        "zz_new_field",
        "priority",
        "assignment_status",
        "account_sid",
        "workspace_sid",
        "attributes",
        "age",
    ];

    let output = trctl_with(&dir, &recorder.url)
        .args(["task", "get", TASK, "-o", "json"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let printed = stdout_json(&output);
    assert_eq!(keys(&printed), expected_keys);
    assert_eq!(printed, sent);

    // ndjson: the same object on one line.
    let output = trctl_with(&dir, &recorder.url)
        .args(["task", "get", TASK, "-o", "ndjson"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        format!("{}\n", unusual_task_text(TASK))
    );

    // --fields picks from the object as sent, unknown fields included.
    let output = trctl_with(&dir, &recorder.url)
        .args([
            "task",
            "get",
            TASK,
            "-o",
            "json",
            "--fields",
            "zz_new_field,sid",
        ])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        stdout_json(&output),
        json!({"zz_new_field": {"nested": [1, 2]}, "sid": TASK})
    );

    // A list across two pages is one array of the items as sent.
    let output = trctl_with(&dir, &recorder.url)
        .args(["task", "list", "--all", "--page-size", "1", "-o", "json"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let printed = stdout_json(&output);
    let items = printed.as_array().expect("an array");
    let expected: Vec<Value> = [
        "WT00000000000000000000000000000001",
        "WT00000000000000000000000000000002",
    ]
    .iter()
    .map(|sid| serde_json::from_str(&unusual_task_text(sid)).unwrap())
    .collect();
    assert_eq!(items, &expected);
    for item in items {
        assert_eq!(keys(item), expected_keys);
    }
    assert_eq!(recorder.count(), 5);

    // Tables still go through the model: every spec column, absent ones empty.
    let output = trctl_with(&dir, &recorder.url)
        .args(["task", "get", TASK])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.lines().any(|line| line.starts_with("routing_target")),
        "{text}"
    );
}

#[test]
fn list_filters_go_in_the_query_with_repeated_keys() {
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::always(Reply::json(200, &list_json("tasks", vec![], None)));
    let output = trctl_with(&dir, &recorder.url)
        .args([
            "task",
            "list",
            "--assignment-status",
            "pending,reserved",
            "--evaluate-task-attributes",
            "selected_language == \"es\"",
            "--workflow",
            WORKFLOW,
        ])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let request = recorder.last();
    assert_eq!(request.method, "GET");
    let statuses: Vec<&str> = request
        .query
        .iter()
        .filter(|(k, _)| k == "AssignmentStatus")
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(statuses, ["pending", "reserved"]);
    assert_eq!(
        request.query_value("EvaluateTaskAttributes").as_deref(),
        Some("selected_language == \"es\"")
    );
    assert_eq!(
        request.query_value("WorkflowSid").as_deref(),
        Some(WORKFLOW)
    );
}

#[test]
fn credentials_from_the_environment_only() {
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::start(Arc::new(|_, _, base| {
        Reply::json(201, &task_json(base, TASK, "pending"))
    }));
    let output = trctl(&dir)
        .env("TRCTL_BASE_URL", &recorder.url)
        .env("TWILIO_ACCOUNT_SID", ACCOUNT)
        .env("TWILIO_AUTH_TOKEN", TOKEN)
        .env("TWILIO_WORKSPACE_SID", WORKSPACE)
        .args([
            "task",
            "create",
            "--workflow",
            WORKFLOW,
            "--attributes",
            "{}",
        ])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        recorder.last().basic_auth().unwrap(),
        format!("{ACCOUNT}:{TOKEN}")
    );
    recorder.assert_last("POST", &format!("/v1/Workspaces/{WORKSPACE}/Tasks"));
}

#[test]
fn credentials_from_a_dotenv_file_only() {
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::start(Arc::new(|_, _, base| {
        Reply::json(201, &task_json(base, TASK, "pending"))
    }));
    std::fs::write(
        dir.path().join(".env"),
        format!("TRCTL_BASE_URL={}\nTWILIO_ACCOUNT_SID={ACCOUNT}\nTWILIO_AUTH_TOKEN={TOKEN}\nTWILIO_WORKSPACE_SID={WORKSPACE}\n", recorder.url),
    )
    .unwrap();
    let output = trctl(&dir)
        .args(["task", "create", "--workflow", WORKFLOW])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        recorder.last().basic_auth().unwrap(),
        format!("{ACCOUNT}:{TOKEN}")
    );
}

#[test]
fn a_malformed_dotenv_is_ignored_as_a_whole() {
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::start(Arc::new(|_, _, base| {
        Reply::json(200, &task_json(base, TASK, "pending"))
    }));
    std::fs::write(
        dir.path().join(".env"),
        format!("TRCTL_BASE_URL={}\nTWILIO_ACCOUNT_SID={ACCOUNT}\nTWILIO_AUTH_TOKEN={TOKEN}\nTWILIO_WORKSPACE_SID={WORKSPACE}\nthis is not valid\n", recorder.url),
    )
    .unwrap();
    // The lines before the bad one must not be used: no credentials, no request.
    let output = trctl(&dir).args(["task", "get", TASK]).output().unwrap();
    let message = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{message}");
    assert!(
        message.contains("warning: ignoring .env: line 5 does not parse"),
        "{message}"
    );
    assert!(message.contains("TWILIO_ACCOUNT_SID"), "{message}");
    assert!(!message.contains(TOKEN), "{message}");
    assert_eq!(recorder.count(), 0);

    // The environment still works next to the ignored file.
    let output = trctl(&dir)
        .env("TRCTL_BASE_URL", &recorder.url)
        .env("TWILIO_ACCOUNT_SID", ACCOUNT)
        .env("TWILIO_AUTH_TOKEN", TOKEN)
        .env("TWILIO_WORKSPACE_SID", WORKSPACE)
        .args(["task", "get", TASK])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stderr(&output).contains("ignoring .env"));
    assert_eq!(recorder.count(), 1);
}

#[test]
fn flags_beat_environment_and_environment_beats_dotenv() {
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::always(Reply::json(200, &list_json("tasks", vec![], None)));
    std::fs::write(dir.path().join(".env"), format!("TRCTL_BASE_URL={}\nTWILIO_ACCOUNT_SID=ACdotenv\nTWILIO_AUTH_TOKEN=dotenv-token\nTWILIO_WORKSPACE_SID={WORKSPACE}\n", recorder.url)).unwrap();
    let output = trctl(&dir)
        .env("TWILIO_AUTH_TOKEN", "env-token")
        .args(["task", "list"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(recorder.last().basic_auth().unwrap(), "ACdotenv:env-token");
    let output = trctl(&dir)
        .env("TWILIO_AUTH_TOKEN", "env-token")
        .args(["task", "list", "--auth-token", "flag-token"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(recorder.last().basic_auth().unwrap(), "ACdotenv:flag-token");
}

#[test]
fn api_key_and_secret_authenticate() {
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::always(Reply::json(200, &list_json("workspaces", vec![], None)));
    let output = trctl(&dir)
        .env("TWILIO_API_KEY", "SK0123456789abcdef0123456789abcdef")
        .env("TWILIO_API_SECRET", "key-secret")
        .args(["workspace", "list", "--base-url", &recorder.url])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        recorder.last().basic_auth().unwrap(),
        "SK0123456789abcdef0123456789abcdef:key-secret"
    );
}

#[test]
fn missing_credentials_name_the_flags_and_variables() {
    let dir = tempfile::tempdir().unwrap();
    let output = trctl(&dir)
        .args(["--base-url", "http://127.0.0.1:9", "task", "list"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    for needle in [
        "--account-sid",
        "--auth-token",
        "TWILIO_ACCOUNT_SID",
        "TWILIO_AUTH_TOKEN",
        "TWILIO_API_KEY",
    ] {
        assert!(message.contains(needle), "{message}");
    }
}

#[test]
fn missing_workspace_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::always(Reply::json(200, &list_json("tasks", vec![], None)));
    let output = trctl(&dir)
        .args([
            "--base-url",
            &recorder.url,
            "--account-sid",
            ACCOUNT,
            "--auth-token",
            TOKEN,
            "task",
            "list",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("TWILIO_WORKSPACE_SID"),
        "{}",
        stderr(&output)
    );
    assert_eq!(recorder.count(), 0);
}

#[test]
fn plain_http_to_a_remote_host_is_refused_unless_insecure() {
    let dir = tempfile::tempdir().unwrap();
    let output = trctl_with(&dir, "http://taskrouter.example.test")
        .args(["task", "list"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("--insecure"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn invalid_json_is_refused_before_any_request() {
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::always(Reply::json(201, &json!({})));
    let output = trctl_with(&dir, &recorder.url)
        .args([
            "task",
            "create",
            "--workflow",
            WORKFLOW,
            "--attributes",
            "{\"selected_language\": es}",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    assert!(
        message.contains("--attributes is not valid JSON"),
        "{message}"
    );
    assert!(message.contains("line 1, column 23"), "{message}");
    assert_eq!(recorder.count(), 0);
}

#[test]
fn attributes_from_a_file_and_from_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::always(Reply::json(201, &task_json("http://x", TASK, "pending")));
    std::fs::write(dir.path().join("attrs.json"), "{\"type\": \"support\"}\n").unwrap();
    let output = trctl_with(&dir, &recorder.url)
        .args([
            "task",
            "create",
            "--workflow",
            WORKFLOW,
            "--attributes",
            "@attrs.json",
        ])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        recorder.last().form_value("Attributes").as_deref(),
        Some("{\"type\": \"support\"}")
    );
    let output = trctl_with(&dir, &recorder.url)
        .args([
            "task",
            "create",
            "--workflow",
            WORKFLOW,
            "--attributes",
            "-",
        ])
        .write_stdin("{\"type\":\"sales\"}\n")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        recorder.last().form_value("Attributes").as_deref(),
        Some("{\"type\":\"sales\"}")
    );
}

fn named_resources(base: &str) -> common::Responder {
    let _ = base;
    Arc::new(|request, _, base| {
        if request.method == "GET" && request.path.ends_with("/Workflows") {
            let workflow = |sid: &str, name: &str| json!({"sid": sid, "friendly_name": name});
            return Reply::json(
                200,
                &list_json(
                    "workflows",
                    vec![
                        workflow(WORKFLOW, "Quickstart"),
                        workflow("WW00000000000000000000000000000002", "Twin"),
                        workflow("WW00000000000000000000000000000003", "Twin"),
                    ],
                    None,
                ),
            );
        }
        if request.method == "GET" && request.path.ends_with("/Workspaces") {
            return Reply::json(
                200,
                &list_json(
                    "workspaces",
                    vec![json!({"sid": WORKSPACE, "friendly_name": "Quickstart Workspace"})],
                    None,
                ),
            );
        }
        Reply::json(201, &task_json(base, TASK, "pending"))
    })
}

#[test]
fn friendly_names_resolve_with_one_list_call() {
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::start(named_resources(""));
    let output = trctl(&dir)
        .args([
            "--base-url",
            &recorder.url,
            "--account-sid",
            ACCOUNT,
            "--auth-token",
            TOKEN,
        ])
        .args([
            "--workspace",
            "Quickstart Workspace",
            "task",
            "create",
            "--workflow",
            "Quickstart",
        ])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let requests = recorder.requests();
    assert_eq!(requests.len(), 3, "one lookup per name, then the create");
    assert_eq!(requests[0].path, "/v1/Workspaces");
    assert_eq!(
        requests[1].path,
        format!("/v1/Workspaces/{WORKSPACE}/Workflows")
    );
    assert_eq!(requests[1].query_value("PageSize").as_deref(), Some("1000"));
    assert_eq!(
        requests[2].form_value("WorkflowSid").as_deref(),
        Some(WORKFLOW)
    );
}

#[test]
fn unknown_and_ambiguous_names_list_the_candidates() {
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::start(named_resources(""));
    let output = trctl_with(&dir, &recorder.url)
        .args(["task", "create", "--workflow", "Nope"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    assert!(
        message.contains("no workflow named \"Nope\"") && message.contains("\"Quickstart\""),
        "{message}"
    );
    let output = trctl_with(&dir, &recorder.url)
        .args(["task", "create", "--workflow", "Twin"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    assert!(
        message.contains("ambiguous")
            && message.contains("WW00000000000000000000000000000002")
            && message.contains("WW00000000000000000000000000000003"),
        "{message}"
    );
    assert!(
        recorder.requests().iter().all(|r| r.method == "GET"),
        "nothing may be created"
    );
}

#[test]
fn a_sid_of_the_wrong_kind_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::always(Reply::json(201, &json!({})));
    let output = trctl_with(&dir, &recorder.url)
        .args(["task", "create", "--workflow", ACTIVITY])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("is not a workflow SID"),
        "{}",
        stderr(&output)
    );
    assert_eq!(recorder.count(), 0);
}

#[test]
fn global_flags_work_before_and_after_the_subcommand() {
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::always(Reply::json(200, &task_json("http://x", TASK, "pending")));
    let output = trctl(&dir)
        .args([
            "task",
            "get",
            TASK,
            "--base-url",
            &recorder.url,
            "--account-sid",
            ACCOUNT,
            "--auth-token",
            TOKEN,
            "--workspace",
            WORKSPACE,
            "--output",
            "json",
        ])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout_json(&output)["sid"], TASK);
}

#[test]
fn task_shortcuts_update_the_status() {
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::always(Reply::json(200, &task_json("http://x", TASK, "canceled")));
    for (verb, status) in [
        ("cancel", "canceled"),
        ("complete", "completed"),
        ("wrapup", "wrapping"),
    ] {
        let output = trctl_with(&dir, &recorder.url)
            .args(["task", verb, TASK, "--reason", "done"])
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", stderr(&output));
        let request = recorder.last();
        assert_eq!(
            request.path,
            format!("/v1/Workspaces/{WORKSPACE}/Tasks/{TASK}")
        );
        assert_eq!(
            request.form,
            vec![
                ("AssignmentStatus".to_string(), status.to_string()),
                ("Reason".to_string(), "done".to_string())
            ]
        );
    }
}

#[test]
fn if_match_is_sent_as_a_header() {
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::always(Reply::json(200, &task_json("http://x", TASK, "pending")));
    let output = trctl_with(&dir, &recorder.url)
        .args(["task", "update", TASK, "--priority", "5", "--if-match", "3"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let request = recorder.last();
    assert_eq!(
        request.headers.get("if-match").map(String::as_str),
        Some("3")
    );
    assert_eq!(
        request.form,
        vec![("Priority".to_string(), "5".to_string())]
    );
}

#[test]
fn queue_create_maps_every_flag() {
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::always(Reply::json(
        201,
        &json!({"sid": "WQ0123456789abcdef0123456789abcdef", "friendly_name": "Spanish"}),
    ));
    let output = trctl_with(&dir, &recorder.url)
        .args([
            "queue",
            "create",
            "--name",
            "Spanish",
            "--target-workers",
            "languages HAS \"es\"",
            "--max-reserved-workers",
            "2",
            "--task-order",
            "LIFO",
        ])
        .args([
            "--reservation-activity",
            ACTIVITY,
            "--assignment-activity",
            ACTIVITY,
        ])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let request = recorder.last();
    assert_eq!(
        request.path,
        format!("/v1/Workspaces/{WORKSPACE}/TaskQueues")
    );
    assert_eq!(
        request.form_value("FriendlyName").as_deref(),
        Some("Spanish")
    );
    assert_eq!(
        request.form_value("TargetWorkers").as_deref(),
        Some("languages HAS \"es\"")
    );
    assert_eq!(
        request.form_value("MaxReservedWorkers").as_deref(),
        Some("2")
    );
    assert_eq!(request.form_value("TaskOrder").as_deref(), Some("LIFO"));
    assert_eq!(
        request.form_value("ReservationActivitySid").as_deref(),
        Some(ACTIVITY)
    );
    assert_eq!(
        request.form_value("AssignmentActivitySid").as_deref(),
        Some(ACTIVITY)
    );
}

#[test]
fn bad_enum_and_number_values_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::always(Reply::json(201, &json!({})));
    let output = trctl_with(&dir, &recorder.url)
        .args(["queue", "create", "--name", "Q", "--task-order", "RANDOM"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let output = trctl_with(&dir, &recorder.url)
        .args(["task", "create", "--priority", "high"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(recorder.count(), 0);
}

#[test]
fn workflow_create_reads_the_configuration_file() {
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::always(Reply::json(201, &json!({"sid": WORKFLOW})));
    let config = r#"{"task_routing":{"filters":[],"default_filter":{"queue":"WQ0123456789abcdef0123456789abcdef"}}}"#;
    std::fs::write(dir.path().join("workflow.json"), config).unwrap();
    let output = trctl_with(&dir, &recorder.url)
        .args([
            "workflow",
            "create",
            "--name",
            "Quickstart",
            "--config",
            "@workflow.json",
            "--assignment-callback-url",
            "http://127.0.0.1:5000/assignment_callback",
            "--task-reservation-timeout",
            "30",
        ])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let request = recorder.last();
    assert_eq!(request.form_value("Configuration").as_deref(), Some(config));
    assert_eq!(
        request.form_value("AssignmentCallbackUrl").as_deref(),
        Some("http://127.0.0.1:5000/assignment_callback")
    );
    assert_eq!(
        request.form_value("TaskReservationTimeout").as_deref(),
        Some("30")
    );
}

#[test]
fn worker_update_and_channel_update() {
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::start(Arc::new(|request, _, _| {
        if request.method == "GET" && request.path.ends_with("/Channels") {
            return Reply::json(
                200,
                &list_json(
                    "channels",
                    vec![
                        json!({"sid": "WC0123456789abcdef0123456789abcdef", "task_channel_unique_name": "voice"}),
                    ],
                    None,
                ),
            );
        }
        Reply::json(200, &json!({"sid": WORKER}))
    }));
    let output = trctl_with(&dir, &recorder.url)
        .args([
            "worker",
            "update",
            WORKER,
            "--activity",
            ACTIVITY,
            "--attributes",
            "{\"languages\":[\"es\"]}",
            "--reject-pending-reservations",
            "true",
        ])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let request = recorder.last();
    assert_eq!(request.form_value("ActivitySid").as_deref(), Some(ACTIVITY));
    assert_eq!(
        request.form_value("RejectPendingReservations").as_deref(),
        Some("true")
    );
    let output = trctl_with(&dir, &recorder.url)
        .args([
            "worker",
            "channel",
            "update",
            WORKER,
            "voice",
            "--capacity",
            "3",
            "--available",
            "false",
        ])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let request = recorder.last();
    assert_eq!(request.path, format!("/v1/Workspaces/{WORKSPACE}/Workers/{WORKER}/Channels/WC0123456789abcdef0123456789abcdef"));
    assert_eq!(
        request.form,
        vec![
            ("Capacity".to_string(), "3".to_string()),
            ("Available".to_string(), "false".to_string())
        ]
    );
}

#[test]
fn reservation_update_sends_instruction_parameters() {
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::always(Reply::json(200, &reservation_json(RESERVATION, "accepted")));
    let output = trctl_with(&dir, &recorder.url)
        .args([
            "reservation",
            "update",
            RESERVATION,
            "--task",
            TASK,
            "--instruction",
            "dequeue",
            "--dequeue-from",
            "+15005550006",
        ])
        .args([
            "--dequeue-status-callback-event",
            "answered,completed",
            "--dequeue-post-work-activity",
            ACTIVITY,
        ])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let request = recorder.last();
    assert_eq!(
        request.form_value("Instruction").as_deref(),
        Some("dequeue")
    );
    assert_eq!(
        request.form_value("DequeueFrom").as_deref(),
        Some("+15005550006")
    );
    assert_eq!(
        request.form_values("DequeueStatusCallbackEvent"),
        ["answered", "completed"]
    );
    assert_eq!(
        request.form_value("DequeuePostWorkActivitySid").as_deref(),
        Some(ACTIVITY)
    );
}

#[test]
fn event_list_and_statistics() {
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::start(Arc::new(|request, _, _| {
        if request.path.ends_with("/Events") {
            return Reply::json(
                200,
                &list_json(
                    "events",
                    vec![json!({"sid": "EV1", "event_type": "task.created"})],
                    None,
                ),
            );
        }
        Reply::json(
            200,
            &json!({"account_sid": ACCOUNT, "realtime": {"total_tasks": 1}, "cumulative": {}}),
        )
    }));
    let output = trctl_with(&dir, &recorder.url)
        .args([
            "event",
            "list",
            "--event-type",
            "task.created",
            "--minutes",
            "60",
            "-o",
            "tsv",
            "--fields",
            "sid,event_type",
        ])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "sid\tevent_type\nEV1\ttask.created\n"
    );
    let request = recorder.last();
    assert_eq!(
        request.query_value("EventType").as_deref(),
        Some("task.created")
    );
    assert_eq!(request.query_value("Minutes").as_deref(), Some("60"));

    for (args, path) in [
        (vec!["stats", "workspace"], format!("/v1/Workspaces/{WORKSPACE}/Statistics")),
        (vec!["stats", "workspace", "--realtime"], format!("/v1/Workspaces/{WORKSPACE}/RealTimeStatistics")),
        (vec!["stats", "workspace", "--cumulative", "--minutes", "30"], format!("/v1/Workspaces/{WORKSPACE}/CumulativeStatistics")),
        (vec!["stats", "queue", "WQ0123456789abcdef0123456789abcdef", "--cumulative"], format!("/v1/Workspaces/{WORKSPACE}/TaskQueues/WQ0123456789abcdef0123456789abcdef/CumulativeStatistics")),
        (vec!["stats", "workflow", WORKFLOW, "--realtime"], format!("/v1/Workspaces/{WORKSPACE}/Workflows/{WORKFLOW}/RealTimeStatistics")),
        (vec!["stats", "workers", "--cumulative"], format!("/v1/Workspaces/{WORKSPACE}/Workers/CumulativeStatistics")),
        (vec!["stats", "worker", WORKER], format!("/v1/Workspaces/{WORKSPACE}/Workers/{WORKER}/Statistics")),
    ] {
        let output = trctl_with(&dir, &recorder.url).args(&args).args(["-o", "json"]).output().unwrap();
        assert!(output.status.success(), "{args:?}: {}", stderr(&output));
        recorder.assert_last("GET", &path);
    }
    let output = trctl_with(&dir, &recorder.url)
        .args(["stats", "workspace", "--realtime", "--minutes", "5"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn bulk_queue_statistics_send_a_json_body() {
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::always(Reply::json(
        200,
        &json!({"task_queue_data": [], "task_queue_response_count": 0}),
    ));
    let output = trctl_with(&dir, &recorder.url)
        .args([
            "stats",
            "queues",
            "--realtime",
            "--queue",
            "WQ0123456789abcdef0123456789abcdef,WQ00000000000000000000000000000002",
        ])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let request = recorder.last();
    assert_eq!(request.method, "POST");
    assert_eq!(request.headers["content-type"], "application/json");
    let body: Value = serde_json::from_str(&request.body).unwrap();
    assert_eq!(
        body["QueueSids"],
        json!([
            "WQ0123456789abcdef0123456789abcdef",
            "WQ00000000000000000000000000000002"
        ])
    );
}

#[test]
fn raw_api_command() {
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::always(Reply::json(200, &json!({"ok": true})));
    let output = trctl_with(&dir, &recorder.url)
        .args([
            "api",
            "POST",
            &format!("/Workspaces/{WORKSPACE}/Tasks/{TASK}"),
            "-F",
            "Priority=3",
            "-F",
            "Tag=a",
            "-F",
            "Tag=b",
        ])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let request = recorder.last();
    assert_eq!(
        request.path,
        format!("/v1/Workspaces/{WORKSPACE}/Tasks/{TASK}")
    );
    assert_eq!(request.form_values("Tag"), ["a", "b"]);
    assert_eq!(stdout_json(&output), json!({"ok": true}));
    let output = trctl_with(&dir, &recorder.url)
        .args(["api", "GET", "v1/Workspaces", "-F", "FriendlyName=x"])
        .output()
        .unwrap();
    assert!(output.status.success());
    assert_eq!(
        recorder.last().query_value("FriendlyName").as_deref(),
        Some("x")
    );
    let output = trctl_with(&dir, &recorder.url)
        .args(["api", "PUT", "/v1/Workspaces"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn table_output_shows_the_default_columns() {
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::start(Arc::new(|_, _, base| {
        Reply::json(
            200,
            &list_json("tasks", vec![task_json(base, TASK, "pending")], None),
        )
    }));
    let output = trctl_with(&dir, &recorder.url)
        .args(["task", "list"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let text = String::from_utf8_lossy(&output.stdout);
    let header = text.lines().next().unwrap();
    for column in ["sid", "assignment_status", "priority"] {
        assert!(header.contains(column), "{text}");
    }
    assert!(text.contains(TASK) && text.contains("pending"), "{text}");
}

#[test]
fn help_never_shows_the_token_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let output = trctl(&dir)
        .env("TWILIO_AUTH_TOKEN", TOKEN)
        .env("TWILIO_API_SECRET", TOKEN)
        .args(["task", "list", "--help"])
        .output()
        .unwrap();
    assert!(output.status.success());
    assert!(!String::from_utf8_lossy(&output.stdout).contains(TOKEN));
}

#[test]
fn completions_are_generated() {
    let dir = tempfile::tempdir().unwrap();
    let output = trctl(&dir).args(["completions", "bash"]).output().unwrap();
    assert!(output.status.success());
    let script = String::from_utf8_lossy(&output.stdout);
    assert!(
        script.contains("trctl") && script.contains("reservation"),
        "{script}"
    );
}

#[test]
fn unknown_flags_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let output = trctl(&dir)
        .args(["task", "create", "--no-such-flag"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn a_redirect_exits_1_and_the_location_gets_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let foreign = Recorder::always(Reply::json(201, &task_json("x", TASK, "pending")));
    let location = format!("{}/v1/elsewhere", foreign.url);
    let base = Recorder::always(Reply::empty(307).with_header("Location", &location));
    let output = trctl_with(&dir, &base.url)
        .args([
            "task",
            "create",
            "--workflow",
            WORKFLOW,
            "--attributes",
            "{}",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(output.stdout.is_empty());
    let message = stderr(&output);
    assert!(
        message.contains("307") && message.contains(&location),
        "{message}"
    );
    assert_eq!(base.count(), 1);
    assert_eq!(foreign.count(), 0);
}

#[test]
fn credentials_in_the_base_url_are_refused_and_not_echoed() {
    let dir = tempfile::tempdir().unwrap();
    for url in [
        "http://AC0123456789abcdef0123456789abcdef:s3cr3t-token@127.0.0.1:4799",
        "http://AC0123456789abcdef0123456789abcdef:s3cr3t-token@[::1",
    ] {
        let output = trctl_with(&dir, url)
            .args(["task", "get", TASK])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{url}");
        let message = stderr(&output);
        assert!(!message.contains("s3cr3t-token"), "{message}");
        assert!(message.contains("base URL"), "{message}");
        let output = trctl(&dir)
            .env("TRCTL_BASE_URL", url)
            .env("TWILIO_ACCOUNT_SID", ACCOUNT)
            .env("TWILIO_AUTH_TOKEN", TOKEN)
            .args(["--workspace", WORKSPACE, "task", "get", TASK])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{url}");
        assert!(!stderr(&output).contains("s3cr3t-token"));
    }
}

#[test]
fn region_and_edge_must_be_host_labels() {
    let dir = tempfile::tempdir().unwrap();
    for (name, value) in [
        ("TWILIO_REGION", "x@127.0.0.1:4750/"),
        ("TWILIO_EDGE", "a.b"),
        ("TWILIO_REGION", "ie1/../"),
    ] {
        let output = trctl(&dir)
            .env(name, value)
            .args(["--account-sid", ACCOUNT, "--auth-token", TOKEN])
            .args([
                "--workspace",
                WORKSPACE,
                "--max-retries",
                "0",
                "task",
                "get",
                TASK,
            ])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{name}={value}");
        assert!(stderr(&output).contains(name), "{}", stderr(&output));
    }
}

#[test]
fn an_endless_body_exits_non_zero_with_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let url = common::hostile_body_server(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n",
        true,
    );
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_trctl"))
        .env_clear()
        .env("HOME", dir.path())
        .current_dir(dir.path())
        .args([
            "--base-url",
            &url,
            "--account-sid",
            ACCOUNT,
            "--auth-token",
            TOKEN,
        ])
        .args(["--workspace", WORKSPACE, "task", "get", TASK])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("larger than"),
        "{}",
        stderr(&output)
    );
    // The kernel keeps the largest resident set of any waited-for child; the other
    // children of this test binary are small trctl runs, so this bounds this one.
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage fills the struct it is given.
    let peak_kib = unsafe {
        libc::getrusage(libc::RUSAGE_CHILDREN, usage.as_mut_ptr());
        usage.assume_init().ru_maxrss
    };
    assert!(peak_kib < 200 * 1024, "peak RSS {peak_kib} KiB");
}
