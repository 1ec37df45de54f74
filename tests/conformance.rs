//! Every JSON body the emulator returns, checked against the response schema of its
//! operation in Twilio's OpenAPI description (read from ../shared when present): every
//! property present, JSON types right, enums within the spec's values. Also: every path
//! of the spec is routed.

use std::path::Path;

use crate::common::EmulatorThread;
use reqwest::Method;
use serde_json::{json, Value};
use trctl::api::{Client, RequestBody, OPERATIONS};

fn spec() -> Option<Value> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/taskrouter/twilio_taskrouter_v1.json");
    let text = std::fs::read_to_string(path).ok()?;
    serde_json::from_str(&text).ok()
}

fn resolve<'a>(spec: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            let name = reference.rsplit('/').next().unwrap_or_default();
            &spec["components"]["schemas"][name]
        }
        None => schema,
    }
}

/// Problems with `value` against `schema`, each prefixed with its JSON path.
fn check(spec: &Value, schema: &Value, value: &Value, path: &str, problems: &mut Vec<String>) {
    let schema = resolve(spec, schema);
    let nullable = schema
        .get("nullable")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if value.is_null() {
        if !nullable && schema.get("type").is_some() {
            problems.push(format!("{path}: null but the schema says not nullable"));
        }
        return;
    }
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        if !values.contains(value) {
            problems.push(format!("{path}: {value} is not one of {values:?}"));
        }
    }
    let ok = match schema.get("type").and_then(Value::as_str) {
        Some("string") => value.is_string(),
        Some("integer") => value.is_i64() || value.is_u64(),
        Some("number") => value.is_number(),
        Some("boolean") => value.is_boolean(),
        Some("array") => value.is_array(),
        Some("object") => value.is_object(),
        _ => true,
    };
    if !ok {
        problems.push(format!("{path}: {value} is not of type {}", schema["type"]));
        return;
    }
    if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
        let Some(object) = value.as_object() else {
            return;
        };
        for (name, property) in properties {
            match object.get(name) {
                Some(field) => check(spec, property, field, &format!("{path}.{name}"), problems),
                None => problems.push(format!("{path}.{name}: missing")),
            }
        }
    }
    if let (Some(items), Some(array)) = (schema.get("items"), value.as_array()) {
        for (index, item) in array.iter().enumerate() {
            check(spec, items, item, &format!("{path}[{index}]"), problems);
        }
    }
}

fn response_schema<'a>(spec: &'a Value, operation_id: &str) -> (&'a Value, u16) {
    let op = OPERATIONS
        .iter()
        .find(|op| op.id == operation_id)
        .unwrap_or_else(|| panic!("{operation_id}"));
    let responses = &spec["paths"][op.path][op.method.to_lowercase()]["responses"];
    let (code, response) = responses.as_object().unwrap().iter().next().unwrap();
    (
        &response["content"]["application/json"]["schema"],
        code.parse().unwrap(),
    )
}

struct Checker<'a> {
    spec: &'a Value,
    client: Client,
    problems: Vec<String>,
    checked: std::collections::BTreeSet<&'static str>,
}

impl Checker<'_> {
    /// Send the request for `operation_id` and check status and body; returns the body.
    async fn call(
        &mut self,
        operation_id: &'static str,
        path: &str,
        form: &[(&'static str, String)],
    ) -> Value {
        let op = OPERATIONS.iter().find(|op| op.id == operation_id).unwrap();
        let method = Method::from_bytes(op.method.as_bytes()).unwrap();
        let body = if operation_id == "CreateTaskQueueBulkRealTimeStatistics" {
            RequestBody::Json(
                json!({"QueueSids": form.iter().map(|(_, v)| v.clone()).collect::<Vec<_>>()}),
            )
        } else if method == Method::POST {
            RequestBody::Form(form.to_vec())
        } else {
            RequestBody::None
        };
        let query: Vec<(&str, String)> = if method == Method::GET {
            form.to_vec()
        } else {
            Vec::new()
        };
        let response = self
            .client
            .send(method, path, &query, &body, None)
            .await
            .unwrap();
        let (schema, expected_status) = response_schema(self.spec, operation_id);
        if response.status != expected_status {
            self.problems.push(format!(
                "{operation_id}: status {} instead of {expected_status}: {}",
                response.status,
                String::from_utf8_lossy(&response.body)
            ));
            return Value::Null;
        }
        self.checked.insert(operation_id);
        if expected_status == 204 {
            return Value::Null;
        }
        let value: Value = serde_json::from_slice(&response.body).unwrap();
        check(self.spec, schema, &value, operation_id, &mut self.problems);
        value
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_body_matches_the_spec() {
    let Some(spec) = spec() else {
        eprintln!("skipped: ../shared/taskrouter/twilio_taskrouter_v1.json is not present");
        return;
    };
    let emulator = EmulatorThread::start();
    let mut c = Checker {
        spec: &spec,
        client: emulator.client(),
        problems: Vec::new(),
        checked: Default::default(),
    };
    let s = |v: &Value, key: &str| v[key].as_str().unwrap_or_default().to_string();

    let ws_body = c
        .call(
            "CreateWorkspace",
            "/v1/Workspaces",
            &[
                ("FriendlyName", "Conformance".into()),
                ("Template", "FIFO".into()),
            ],
        )
        .await;
    let ws = s(&ws_body, "sid");
    let w = format!("/v1/Workspaces/{ws}");
    c.call("FetchWorkspace", &w, &[]).await;
    c.call(
        "UpdateWorkspace",
        &w,
        &[("EventsFilter", "task.created".into())],
    )
    .await;
    c.call("ListWorkspace", "/v1/Workspaces", &[]).await;

    let activity = c
        .call(
            "CreateActivity",
            &format!("{w}/Activities"),
            &[("FriendlyName", "Busy".into())],
        )
        .await;
    let wa = s(&activity, "sid");
    c.call("FetchActivity", &format!("{w}/Activities/{wa}"), &[])
        .await;
    c.call(
        "UpdateActivity",
        &format!("{w}/Activities/{wa}"),
        &[("FriendlyName", "Lunch".into())],
    )
    .await;
    c.call("ListActivity", &format!("{w}/Activities"), &[])
        .await;

    let channel = c
        .call(
            "CreateTaskChannel",
            &format!("{w}/TaskChannels"),
            &[
                ("FriendlyName", "Email".into()),
                ("UniqueName", "email".into()),
            ],
        )
        .await;
    let tc = s(&channel, "sid");
    c.call("FetchTaskChannel", &format!("{w}/TaskChannels/{tc}"), &[])
        .await;
    c.call(
        "UpdateTaskChannel",
        &format!("{w}/TaskChannels/{tc}"),
        &[("ChannelOptimizedRouting", "true".into())],
    )
    .await;
    c.call("ListTaskChannel", &format!("{w}/TaskChannels"), &[])
        .await;

    let queue = c
        .call(
            "CreateTaskQueue",
            &format!("{w}/TaskQueues"),
            &[
                ("FriendlyName", "Spanish".into()),
                ("TargetWorkers", "languages HAS \"es\"".into()),
                ("ReservationActivitySid", wa.clone()),
                ("AssignmentActivitySid", wa.clone()),
            ],
        )
        .await;
    let wq = s(&queue, "sid");
    c.call("FetchTaskQueue", &format!("{w}/TaskQueues/{wq}"), &[])
        .await;
    c.call(
        "UpdateTaskQueue",
        &format!("{w}/TaskQueues/{wq}"),
        &[("MaxReservedWorkers", "2".into())],
    )
    .await;
    c.call("ListTaskQueue", &format!("{w}/TaskQueues"), &[])
        .await;

    let config = json!({"task_routing": {"filters": [{"expression": "selected_language == \"es\"", "targets": [{"queue": wq}]}]}}).to_string();
    let workflow = c
        .call(
            "CreateWorkflow",
            &format!("{w}/Workflows"),
            &[
                ("FriendlyName", "Spanish".into()),
                ("Configuration", config),
                ("AssignmentCallbackUrl", "http://127.0.0.1:9/a".into()),
            ],
        )
        .await;
    let ww = s(&workflow, "sid");
    c.call("FetchWorkflow", &format!("{w}/Workflows/{ww}"), &[])
        .await;
    c.call(
        "UpdateWorkflow",
        &format!("{w}/Workflows/{ww}"),
        &[("TaskReservationTimeout", "60".into())],
    )
    .await;
    c.call("ListWorkflow", &format!("{w}/Workflows"), &[]).await;

    let worker = c
        .call(
            "CreateWorker",
            &format!("{w}/Workers"),
            &[
                ("FriendlyName", "Alice".into()),
                ("Attributes", "{\"languages\":[\"es\"]}".into()),
            ],
        )
        .await;
    let wk = s(&worker, "sid");
    c.call("FetchWorker", &format!("{w}/Workers/{wk}"), &[])
        .await;
    c.call(
        "UpdateWorker",
        &format!("{w}/Workers/{wk}"),
        &[("ActivitySid", wa.clone())],
    )
    .await;
    let available = c
        .call(
            "ListActivity",
            &format!("{w}/Activities"),
            &[("FriendlyName", "Available".into())],
        )
        .await;
    let available_sid = available["activities"][0]["sid"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    c.call("ListWorker", &format!("{w}/Workers"), &[]).await;
    let channels = c
        .call(
            "ListWorkerChannel",
            &format!("{w}/Workers/{wk}/Channels"),
            &[],
        )
        .await;
    let wc = channels["channels"][0]["sid"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    c.call(
        "FetchWorkerChannel",
        &format!("{w}/Workers/{wk}/Channels/{wc}"),
        &[],
    )
    .await;
    c.call(
        "UpdateWorkerChannel",
        &format!("{w}/Workers/{wk}/Channels/{wc}"),
        &[("Capacity", "2".into())],
    )
    .await;

    let task = c
        .call(
            "CreateTask",
            &format!("{w}/Tasks"),
            &[
                ("WorkflowSid", ww.clone()),
                ("Attributes", "{\"selected_language\":\"es\"}".into()),
            ],
        )
        .await;
    let wt = s(&task, "sid");
    c.call("FetchTask", &format!("{w}/Tasks/{wt}"), &[]).await;
    c.call(
        "UpdateTask",
        &format!("{w}/Tasks/{wt}"),
        &[("Priority", "3".into())],
    )
    .await;
    c.call("ListTask", &format!("{w}/Tasks"), &[]).await;
    // Alice becomes available: the routing engine reserves her for the Spanish task.
    c.call(
        "UpdateWorker",
        &format!("{w}/Workers/{wk}"),
        &[("ActivitySid", available_sid.clone())],
    )
    .await;
    let reservations = c
        .call(
            "ListTaskReservation",
            &format!("{w}/Tasks/{wt}/Reservations"),
            &[],
        )
        .await;
    let wr = reservations["reservations"][0]["sid"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    c.call(
        "ListWorkerReservation",
        &format!("{w}/Workers/{wk}/Reservations"),
        &[],
    )
    .await;
    c.call(
        "FetchTaskReservation",
        &format!("{w}/Tasks/{wt}/Reservations/{wr}"),
        &[],
    )
    .await;
    c.call(
        "FetchWorkerReservation",
        &format!("{w}/Workers/{wk}/Reservations/{wr}"),
        &[],
    )
    .await;
    c.call(
        "UpdateWorkerReservation",
        &format!("{w}/Workers/{wk}/Reservations/{wr}"),
        &[
            ("ReservationStatus", "rejected".into()),
            ("WorkerActivitySid", available_sid.clone()),
        ],
    )
    .await;
    let second = c
        .call(
            "CreateTask",
            &format!("{w}/Tasks"),
            &[
                ("WorkflowSid", ww.clone()),
                ("Attributes", "{\"selected_language\":\"es\"}".into()),
            ],
        )
        .await;
    let wt2 = s(&second, "sid");
    let reservations = c
        .call(
            "ListTaskReservation",
            &format!("{w}/Tasks/{wt2}/Reservations"),
            &[],
        )
        .await;
    let wr2 = reservations["reservations"][0]["sid"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    c.call(
        "UpdateTaskReservation",
        &format!("{w}/Tasks/{wt2}/Reservations/{wr2}"),
        &[("ReservationStatus", "accepted".into())],
    )
    .await;
    c.call(
        "UpdateTask",
        &format!("{w}/Tasks/{wt2}"),
        &[
            ("AssignmentStatus", "completed".into()),
            ("Reason", "done".into()),
        ],
    )
    .await;

    let events = c.call("ListEvent", &format!("{w}/Events"), &[]).await;
    let ev = events["events"][0]["sid"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    c.call("FetchEvent", &format!("{w}/Events/{ev}"), &[]).await;

    for (id, suffix) in [
        ("FetchWorkspaceStatistics", "/Statistics"),
        ("FetchWorkspaceRealTimeStatistics", "/RealTimeStatistics"),
        (
            "FetchWorkspaceCumulativeStatistics",
            "/CumulativeStatistics",
        ),
        ("ListTaskQueuesStatistics", "/TaskQueues/Statistics"),
        ("FetchWorkerStatistics", "/Workers/Statistics"),
        (
            "FetchWorkersRealTimeStatistics",
            "/Workers/RealTimeStatistics",
        ),
        (
            "FetchWorkersCumulativeStatistics",
            "/Workers/CumulativeStatistics",
        ),
    ] {
        c.call(id, &format!("{w}{suffix}"), &[]).await;
    }
    c.call(
        "FetchTaskQueueStatistics",
        &format!("{w}/TaskQueues/{wq}/Statistics"),
        &[("SplitByWaitTime", "5,30".into())],
    )
    .await;
    c.call(
        "FetchTaskQueueRealTimeStatistics",
        &format!("{w}/TaskQueues/{wq}/RealTimeStatistics"),
        &[],
    )
    .await;
    c.call(
        "FetchTaskQueueCumulativeStatistics",
        &format!("{w}/TaskQueues/{wq}/CumulativeStatistics"),
        &[],
    )
    .await;
    c.call(
        "CreateTaskQueueBulkRealTimeStatistics",
        &format!("{w}/TaskQueues/RealTimeStatistics"),
        &[("", wq.clone())],
    )
    .await;
    c.call(
        "FetchWorkflowStatistics",
        &format!("{w}/Workflows/{ww}/Statistics"),
        &[],
    )
    .await;
    c.call(
        "FetchWorkflowRealTimeStatistics",
        &format!("{w}/Workflows/{ww}/RealTimeStatistics"),
        &[],
    )
    .await;
    c.call(
        "FetchWorkflowCumulativeStatistics",
        &format!("{w}/Workflows/{ww}/CumulativeStatistics"),
        &[],
    )
    .await;
    c.call(
        "FetchWorkerInstanceStatistics",
        &format!("{w}/Workers/{wk}/Statistics"),
        &[],
    )
    .await;

    c.call(
        "UpdateTask",
        &format!("{w}/Tasks/{wt}"),
        &[("AssignmentStatus", "canceled".into())],
    )
    .await;
    c.call("DeleteTask", &format!("{w}/Tasks/{wt}"), &[]).await;
    c.call("DeleteTask", &format!("{w}/Tasks/{wt2}"), &[]).await;
    c.call("DeleteWorkflow", &format!("{w}/Workflows/{ww}"), &[])
        .await;
    c.call("DeleteTaskQueue", &format!("{w}/TaskQueues/{wq}"), &[])
        .await;
    c.call("DeleteWorker", &format!("{w}/Workers/{wk}"), &[])
        .await;
    c.call("DeleteActivity", &format!("{w}/Activities/{wa}"), &[])
        .await;
    c.call("DeleteTaskChannel", &format!("{w}/TaskChannels/{tc}"), &[])
        .await;
    c.call("DeleteWorkspace", &w, &[]).await;

    assert!(
        c.problems.is_empty(),
        "{} problems:\n{}",
        c.problems.len(),
        c.problems.join("\n")
    );
    let unchecked: Vec<&str> = OPERATIONS
        .iter()
        .map(|op| op.id)
        .filter(|id| !c.checked.contains(id))
        .collect();
    assert!(
        unchecked.is_empty(),
        "operations not exercised: {unchecked:?}"
    );
}

#[test]
fn reservation_bodies_match_the_spec() {
    let Some(spec) = spec() else { return };
    use trctl::api::resources::CreateWorkspaceParams;
    use trctl::emulator::engine::state::Reservation;
    use trctl::emulator::engine::{Command, CountingSids, Engine, Reply};
    use trctl::emulator::http::encode::{self, Urls};
    let mut engine = Engine::new(
        "AC00000000000000000000000000000001",
        Box::new(CountingSids::default()),
    );
    let params = CreateWorkspaceParams {
        friendly_name: "R".into(),
        ..Default::default()
    };
    let Reply::Created(ws_sid) = engine
        .apply(Command::CreateWorkspace(params), 0)
        .unwrap()
        .reply
    else {
        panic!()
    };
    let ws = engine.state().workspaces.get(&ws_sid).unwrap();
    let reservation = Reservation {
        sid: "WR00000000000000000000000000000001".into(),
        task_sid: "WT00000000000000000000000000000001".into(),
        worker_sid: "WK00000000000000000000000000000001".into(),
        status: trctl::api::resources::ReservationStatus::Pending,
        created: 0,
        updated: 0,
        version: 0,
        task_queue_sid: None,
        previous_activity_sid: "WA00000000000000000000000000000001".into(),
        instruction: None,
    };
    let urls = Urls {
        base: "http://127.0.0.1:1",
    };
    let mut problems = Vec::new();
    let task_view =
        serde_json::to_value(encode::task_reservation(&urls, "AC1", ws, &reservation)).unwrap();
    check(
        &spec,
        response_schema(&spec, "FetchTaskReservation").0,
        &task_view,
        "task reservation",
        &mut problems,
    );
    let worker_view =
        serde_json::to_value(encode::worker_reservation(&urls, "AC1", ws, &reservation)).unwrap();
    check(
        &spec,
        response_schema(&spec, "FetchWorkerReservation").0,
        &worker_view,
        "worker reservation",
        &mut problems,
    );
    assert!(problems.is_empty(), "{problems:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn every_path_of_the_spec_is_routed() {
    let emulator = EmulatorThread::start();
    let client = emulator.client();
    // A path the router knows answers an unsupported method with 405; an unknown path
    // answers 404 whatever the method.
    let mut unrouted = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for op in OPERATIONS {
        if !seen.insert(op.path) {
            continue;
        }
        let concrete = op
            .path
            .split('/')
            .map(|segment| {
                if segment.starts_with('{') {
                    "XX00000000000000000000000000000001"
                } else {
                    segment
                }
            })
            .collect::<Vec<_>>()
            .join("/");
        let response = client
            .send(Method::PUT, &concrete, &[], &RequestBody::None, None)
            .await
            .unwrap();
        if response.status != 405 {
            unrouted.push(format!("{} -> {}", op.path, response.status));
        }
    }
    assert_eq!(seen.len(), 37);
    assert!(unrouted.is_empty(), "paths not routed: {unrouted:?}");
    let response = client
        .send(
            Method::PUT,
            "/v1/Workspaces/WS1/Nothing",
            &[],
            &RequestBody::None,
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        response.status, 404,
        "the probe can tell routed from unrouted"
    );
}

#[test]
fn the_checker_catches_missing_and_mistyped_fields() {
    let Some(spec) = spec() else { return };
    let schema = response_schema(&spec, "FetchTask").0;
    let mut problems = Vec::new();
    check(
        &spec,
        schema,
        &json!({"sid": "WT1", "age": "3", "assignment_status": "lost"}),
        "task",
        &mut problems,
    );
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with("task.age: \"3\" is not of type")),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with("task.assignment_status: \"lost\" is not one of")),
        "{problems:?}"
    );
    assert!(
        problems.iter().any(|p| p == "task.priority: missing"),
        "{problems:?}"
    );
}
