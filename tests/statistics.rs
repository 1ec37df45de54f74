//! The statistics endpoints over HTTP, pinned: one scripted workspace (manual clock,
//! counting SIDs, so every body is reproducible) and every statistics endpoint with and
//! without its window, channel and split parameters, plus the refusals. The bodies are
//! compared as JSON values with `tests/fixtures/statistics.json`; run with
//! `TRCTL_BLESS_STATISTICS=1` to write that file again after a deliberate change.

use std::path::Path;

use crate::common::EmulatorThread;
use reqwest::Method;
use serde_json::{json, Map, Value};
use trctl::api::{Client, RequestBody};

const START: i64 = 1_700_000_000_000;

async fn send(
    client: &Client,
    method: Method,
    path: &str,
    query: &[(&str, &str)],
    body: RequestBody,
) -> (u16, Value) {
    let query: Vec<(&str, String)> = query.iter().map(|(k, v)| (*k, v.to_string())).collect();
    let response = client
        .send(method, path, &query, &body, None)
        .await
        .unwrap();
    let value = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
    (response.status, value)
}

async fn post(client: &Client, path: &str, form: &[(&'static str, &str)]) -> Value {
    let form = form.iter().map(|(k, v)| (*k, v.to_string())).collect();
    let (status, body) = send(client, Method::POST, path, &[], RequestBody::Form(form)).await;
    assert!(status == 200 || status == 201, "{path}: {status} {body}");
    body
}

async fn advance(client: &Client, seconds: &str) {
    post(client, "/trctl/clock/advance", &[("Seconds", seconds)]).await;
}

fn sid(body: &Value) -> String {
    body["sid"].as_str().unwrap().to_string()
}

/// A workspace with two queues (one everybody serves, one nobody does), a workflow,
/// three workers and tasks on two channels that are accepted, canceled, completed and
/// left waiting at different ages.
async fn scripted(client: &Client) -> (String, String, String, String, String) {
    let ws = sid(&post(client, "/v1/Workspaces", &[("FriendlyName", "Stats")]).await);
    let w = format!("/v1/Workspaces/{ws}");
    let activities = send(
        client,
        Method::GET,
        &format!("{w}/Activities"),
        &[],
        RequestBody::None,
    )
    .await
    .1;
    let activity = |name: &str| {
        activities["activities"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["friendly_name"] == name)
            .map(sid)
            .unwrap()
    };
    let (available, offline) = (activity("Available"), activity("Offline"));
    let support = sid(&post(
        client,
        &format!("{w}/TaskQueues"),
        &[
            ("FriendlyName", "Support"),
            ("TargetWorkers", "skill == \"support\""),
        ],
    )
    .await);
    post(
        client,
        &format!("{w}/TaskQueues"),
        &[("FriendlyName", "Nobody"), ("TargetWorkers", "nobody == 1")],
    )
    .await;
    let config =
        json!({"task_routing": {"filters": [], "default_filter": {"queue": support}}}).to_string();
    let workflow = sid(&post(
        client,
        &format!("{w}/Workflows"),
        &[("FriendlyName", "Main"), ("Configuration", &config)],
    )
    .await);
    let alice = sid(&post(
        client,
        &format!("{w}/Workers"),
        &[
            ("FriendlyName", "alice"),
            ("Attributes", r#"{"skill":"support"}"#),
            ("ActivitySid", &available),
        ],
    )
    .await);
    post(
        client,
        &format!("{w}/Workers"),
        &[
            ("FriendlyName", "bob"),
            ("Attributes", r#"{"skill":"support"}"#),
            ("ActivitySid", &offline),
        ],
    )
    .await;
    post(
        client,
        &format!("{w}/Workers"),
        &[("FriendlyName", "carol"), ("Attributes", "{}")],
    )
    .await;
    let task = |priority: &'static str, channel: &'static str| {
        let w = w.clone();
        let workflow = workflow.clone();
        async move {
            sid(&post(
                client,
                &format!("{w}/Tasks"),
                &[
                    ("WorkflowSid", &workflow),
                    ("Attributes", "{}"),
                    ("Priority", priority),
                    ("TaskChannel", channel),
                ],
            )
            .await)
        }
    };
    let first = task("5", "voice").await;
    advance(client, "12").await;
    let second = task("10", "chat").await;
    advance(client, "8").await;
    let third = task("2", "voice").await;
    advance(client, "40").await;
    // The first task waited 60 s and is accepted by alice, then completed.
    let reservations = send(
        client,
        Method::GET,
        &format!("{w}/Tasks/{first}/Reservations"),
        &[],
        RequestBody::None,
    )
    .await
    .1;
    let reservation = sid(&reservations["reservations"][0]);
    post(
        client,
        &format!("{w}/Tasks/{first}/Reservations/{reservation}"),
        &[("ReservationStatus", "accepted")],
    )
    .await;
    advance(client, "5").await;
    post(
        client,
        &format!("{w}/Tasks/{first}"),
        &[("AssignmentStatus", "completed"), ("Reason", "done")],
    )
    .await;
    // The second waited 53 s and is canceled; the third keeps waiting.
    post(
        client,
        &format!("{w}/Tasks/{second}"),
        &[("AssignmentStatus", "canceled")],
    )
    .await;
    advance(client, "7").await;
    let _ = third;
    (ws, support, workflow, alice, offline)
}

#[tokio::test(flavor = "multi_thread")]
async fn statistics_bodies_are_pinned() {
    let emulator = EmulatorThread::start_with(trctl::emulator::EmulatorConfig {
        clock: std::sync::Arc::new(trctl::emulator::clock::ManualClock::new(START)),
        sids: Box::new(trctl::emulator::engine::CountingSids::default()),
        ..Default::default()
    });
    let client = emulator.client();
    let (ws, queue, workflow, worker, _) = scripted(&client).await;
    let w = format!("/v1/Workspaces/{ws}");
    let unknown_queue = "WQ0000000000000000000000000000ffff";

    let window: &[(&str, &str)] = &[
        ("StartDate", "2023-11-14T22:13:00Z"),
        ("EndDate", "2023-11-14T22:14:30Z"),
    ];
    let variants: Vec<(&str, Vec<(&str, &str)>)> = vec![
        ("plain", vec![]),
        ("minutes", vec![("Minutes", "1")]),
        ("dates", window.to_vec()),
        ("split", vec![("SplitByWaitTime", "53,10,60,100")]),
        ("voice", vec![("TaskChannel", "voice")]),
        ("bad_minutes", vec![("Minutes", "ten")]),
        ("zero_minutes", vec![("Minutes", "0")]),
        (
            "minutes_and_date",
            vec![("Minutes", "5"), ("StartDate", "2023-11-14T22:13:00Z")],
        ),
        ("bad_date", vec![("EndDate", "soon")]),
        ("bad_split", vec![("SplitByWaitTime", "5,x")]),
        ("bad_channel", vec![("TaskChannel", "fax")]),
    ];
    let endpoints = [
        "/Statistics".to_string(),
        "/RealTimeStatistics".to_string(),
        "/CumulativeStatistics".to_string(),
        "/TaskQueues/Statistics".to_string(),
        format!("/TaskQueues/{queue}/Statistics"),
        format!("/TaskQueues/{queue}/RealTimeStatistics"),
        format!("/TaskQueues/{queue}/CumulativeStatistics"),
        format!("/Workflows/{workflow}/Statistics"),
        format!("/Workflows/{workflow}/RealTimeStatistics"),
        format!("/Workflows/{workflow}/CumulativeStatistics"),
        "/Workers/Statistics".to_string(),
        "/Workers/RealTimeStatistics".to_string(),
        "/Workers/CumulativeStatistics".to_string(),
        format!("/Workers/{worker}/Statistics"),
    ];
    let mut seen = Map::new();
    for endpoint in &endpoints {
        for (name, query) in &variants {
            let (status, body) = send(
                &client,
                Method::GET,
                &format!("{w}{endpoint}"),
                query,
                RequestBody::None,
            )
            .await;
            seen.insert(
                format!("GET {endpoint} {name}"),
                json!({"status": status, "body": body}),
            );
        }
    }
    // An unknown queue, workflow or worker is a 404 before its window is checked.
    for path in [
        format!("/TaskQueues/{unknown_queue}/Statistics"),
        "/Workflows/WW0000000000000000000000000000ffff/CumulativeStatistics".to_string(),
        "/Workers/WK0000000000000000000000000000ffff/Statistics".to_string(),
    ] {
        let query = [("SplitByWaitTime", "5,x"), ("TaskChannel", "fax")];
        let (status, body) = send(
            &client,
            Method::GET,
            &format!("{w}{path}"),
            &query,
            RequestBody::None,
        )
        .await;
        seen.insert(
            format!("GET {path} unknown"),
            json!({"status": status, "body": body}),
        );
    }
    let bulk_path = format!("{w}/TaskQueues/RealTimeStatistics");
    for (name, body) in [
        (
            "known_and_unknown",
            json!({"QueueSids": [queue, unknown_queue]}),
        ),
        ("camel_case", json!({"queueSids": [queue]})),
        ("empty", json!({"QueueSids": []})),
        ("malformed", json!({"QueueSids": ["nope"]})),
    ] {
        let (status, body) = send(
            &client,
            Method::POST,
            &bulk_path,
            &[],
            RequestBody::Json(body),
        )
        .await;
        seen.insert(
            format!("POST /TaskQueues/RealTimeStatistics {name}"),
            json!({"status": status, "body": body}),
        );
    }
    // The emulator's port differs from run to run: links are compared without it.
    let text = Value::Object(seen)
        .to_string()
        .replace(&emulator.url, "http://emulator");
    let seen: Value = serde_json::from_str(&text).unwrap();

    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/statistics.json");
    if std::env::var_os("TRCTL_BLESS_STATISTICS").is_some() {
        let text = serde_json::to_string_pretty(&seen).unwrap() + "\n";
        std::fs::write(&file, text).unwrap();
        return;
    }
    let pinned: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let (Value::Object(pinned), Value::Object(seen)) = (&pinned, &seen) else {
        unreachable!("both are objects");
    };
    let mut problems = Vec::new();
    for (key, expected) in pinned {
        match seen.get(key) {
            None => problems.push(format!("{key}: not requested any more")),
            Some(actual) if actual != expected => {
                problems.push(format!("{key}:\n  pinned {expected}\n  now    {actual}"))
            }
            Some(_) => {}
        }
    }
    for key in seen.keys().filter(|k| !pinned.contains_key(*k)) {
        problems.push(format!("{key}: not pinned"));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
