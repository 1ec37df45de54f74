//! How long an unrelated request waits while the costliest request the limits allow is
//! being handled: `GET /Activities` sent while a worst-case task create holds the engine.
//!
//! Run with `cargo bench --bench stall`. It starts an in-process emulator on 127.0.0.1
//! (port 0, its own runtime and threads, as `trctl emulator` would be), builds the worst
//! case of benches/engine.rs (`at_limits`) over HTTP, then, `ROUNDS` times, sends the task
//! create and, while it is in flight, `GET /Activities` back to back, and prints how long
//! the creates took and the slowest `GET /Activities` of each round (median and worst of
//! the rounds), with the `GET /Activities` figure when nothing else is in flight. The last line of output is the same as JSON, for
//! benches/compare/run.py.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};
use trctl::api::{Client, Credentials, RequestBody, Secret};
use trctl::emulator::{Emulator, EmulatorConfig, DEV_ACCOUNT_SID, DEV_AUTH_TOKEN};
use trctl::expr::{MAX_EXPRESSION_BYTES, MAX_TERMS, MAX_WORKFLOW_TARGETS};

const WORKERS: usize = 50;
const QUEUES: usize = 100;
const ROUNDS: usize = 30;

/// `MAX_TERMS` terms `key == 'aN'` joined by OR; the last is `key == last`.
fn expression(key: &str, last: &str) -> String {
    let mut terms: Vec<String> = (0..MAX_TERMS - 1)
        .map(|i| format!("{key} == 'a{i}'"))
        .collect();
    terms.push(format!("{key} == '{last}'"));
    let source = terms.join(" OR ");
    assert!(source.len() <= MAX_EXPRESSION_BYTES);
    source
}

async fn call(client: &Client, method: Method, path: &str, form: &[(&str, String)]) -> Value {
    let body = if form.is_empty() {
        RequestBody::None
    } else {
        RequestBody::FormOwned(
            form.iter()
                .map(|(key, value)| (key.to_string(), value.clone()))
                .collect(),
        )
    };
    let response = client
        .send(method, path, &[], &body, None)
        .await
        .expect("the emulator answers");
    assert!(response.status < 300, "{path}: {}", response.status);
    serde_json::from_slice(&response.body).unwrap_or(Value::Null)
}

fn sid_of(value: &Value) -> String {
    value["sid"].as_str().expect("a sid").to_string()
}

/// Median and worst of `times`, in milliseconds, printed under `label` and returned.
fn summary(label: &str, mut times: Vec<Duration>) -> Value {
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let median = ms(times[times.len() / 2]);
    let worst = ms(times[times.len() - 1]);
    println!(
        "{label:<48} median {median:>8.2} ms   worst {worst:>8.2} ms   ({} runs)",
        times.len()
    );
    json!({"median_ms": median, "worst_ms": worst, "runs": times.len()})
}

async fn run(client: Client) {
    let ws = sid_of(
        &call(
            &client,
            Method::POST,
            "/v1/Workspaces",
            &[("FriendlyName", "Stall".into())],
        )
        .await,
    );
    let base = format!("/v1/Workspaces/{ws}");
    let activities = call(&client, Method::GET, &format!("{base}/Activities"), &[]).await;
    let available = activities["activities"]
        .as_array()
        .and_then(|items| items.iter().find(|a| a["friendly_name"] == "Available"))
        .map(sid_of)
        .expect("an Available activity");
    for index in 0..WORKERS {
        call(
            &client,
            Method::POST,
            &format!("{base}/Workers"),
            &[
                ("FriendlyName", format!("W{index}")),
                ("ActivitySid", available.clone()),
                ("Attributes", json!({"skill": "zz"}).to_string()),
            ],
        )
        .await;
    }
    let mut queues = Vec::new();
    for index in 0..QUEUES {
        let queue = call(
            &client,
            Method::POST,
            &format!("{base}/TaskQueues"),
            &[
                ("FriendlyName", format!("Q{index}")),
                ("TargetWorkers", expression("skill", "zz")),
            ],
        )
        .await;
        queues.push(sid_of(&queue));
    }
    let per_filter = MAX_WORKFLOW_TARGETS / 10;
    let filters: Vec<Value> = (0..10)
        .map(|f| {
            let targets: Vec<Value> = (0..per_filter)
                .map(|t| {
                    json!({
                        "queue": queues[(f * per_filter + t) % queues.len()],
                        "expression": expression("worker.skill", "nobody"),
                        "skip_if": "workers.available > 0",
                        "timeout": 60,
                    })
                })
                .collect();
            json!({"expression": expression("kind", "zz"), "targets": targets})
        })
        .collect();
    let workflow = call(
        &client,
        Method::POST,
        &format!("{base}/Workflows"),
        &[
            ("FriendlyName", "Worst".into()),
            (
                "Configuration",
                json!({"task_routing": {"filters": filters}}).to_string(),
            ),
        ],
    )
    .await;
    let workflow = sid_of(&workflow);

    let activities_path = format!("{base}/Activities");
    let mut idle = Vec::new();
    for _ in 0..ROUNDS {
        let started = Instant::now();
        call(&client, Method::GET, &activities_path, &[]).await;
        idle.push(started.elapsed());
    }
    let mut creates = Vec::new();
    let mut waits = Vec::new();
    let mut overlapping = 0;
    for _ in 0..ROUNDS {
        let create_client = client.clone();
        let create_path = format!("{base}/Tasks");
        let create_form = vec![
            ("WorkflowSid", workflow.clone()),
            ("Attributes", json!({"kind": "zz"}).to_string()),
        ];
        let create = tokio::spawn(async move {
            let started = Instant::now();
            // Every step is skipped, so the task leaves the workflow within its create.
            let task = call(&create_client, Method::POST, &create_path, &create_form).await;
            assert_eq!(task["assignment_status"], "canceled");
            started.elapsed()
        });
        // GET /Activities back to back for as long as the create is in flight; the
        // slowest of them is how long a request can wait behind it.
        let mut slowest = Duration::ZERO;
        while !create.is_finished() {
            let started = Instant::now();
            call(&client, Method::GET, &activities_path, &[]).await;
            slowest = slowest.max(started.elapsed());
            overlapping += 1;
        }
        waits.push(slowest);
        creates.push(create.await.expect("the create task"));
    }
    println!(
        "{WORKERS} workers, {QUEUES} queues, {MAX_WORKFLOW_TARGETS} targets, {MAX_TERMS}-term expressions"
    );
    let idle = summary("GET /Activities, nothing else in flight", idle);
    let creates = summary("POST /Tasks walking every step (worst case)", creates);
    let waits = summary("slowest GET /Activities during that POST", waits);
    println!("({overlapping} GET /Activities overlapped the {ROUNDS} creates)");
    println!(
        "{}",
        json!({
            "workers": WORKERS,
            "queues": QUEUES,
            "targets": MAX_WORKFLOW_TARGETS,
            "terms": MAX_TERMS,
            "activities_idle": idle,
            "task_create": creates,
            "activities_during_create": waits,
            "overlapping_gets": overlapping,
        })
    );
}

fn main() {
    // `cargo bench` passes `--bench`; there is nothing to filter.
    let (url_tx, url_rx) = std::sync::mpsc::channel();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a tokio runtime");
        runtime.block_on(async move {
            let emulator = Emulator::new(EmulatorConfig::default());
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind 127.0.0.1:0");
            let address = listener.local_addr().expect("local address");
            url_tx
                .send(format!("http://{address}"))
                .expect("send the URL");
            emulator
                .serve(listener, async {
                    let _ = stopped.await;
                })
                .await
                .expect("the emulator serves");
        });
    });
    let url = url_rx.recv().expect("the emulator's URL");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async {
        let client = Client::builder(Credentials {
            username: DEV_ACCOUNT_SID.into(),
            password: Secret::new(DEV_AUTH_TOKEN),
        })
        .base_url(&url)
        .build()
        .expect("a client");
        run(client).await;
    });
    let _ = stop.send(());
    let _ = server.join();
}
