//! The TaskRouter lifecycle end to end over HTTP: the emulator routes, POSTs signed
//! assignment callbacks to a receiver in the test, honours the reply or waits for the
//! Reservations API, times reservations out on a manual clock, and logs every event.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::{self, EmulatorThread, Recorded, Recorder, Reply, EMULATOR_TOKEN};
use serde_json::{json, Value};
use trctl::api::resources::*;
use trctl::api::{Client, RequestBody};

/// Poll `check` until it returns `Some`, for at most five seconds (the runner works in
/// the background; nothing here depends on how fast it is).
async fn eventually<T>(what: &str, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    let started = Instant::now();
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

struct Quickstart {
    client: Client,
    ws: String,
    workflow: String,
    alice: String,
    available: String,
    offline: String,
}

async fn quickstart(client: Client, callback_url: &str, event_url: Option<&str>) -> Quickstart {
    let ws = client
        .create_workspace(&CreateWorkspaceParams {
            friendly_name: "Quickstart".into(),
            event_callback_url: event_url.map(str::to_string),
            ..Default::default()
        })
        .await
        .unwrap()
        .sid
        .unwrap();
    let queue = |name: &str, language: &str| CreateTaskQueueParams {
        friendly_name: name.into(),
        target_workers: Some(format!("languages HAS \"{language}\"")),
        ..Default::default()
    };
    let spanish = client
        .create_task_queue(&ws, &queue("Customer Care Requests - Spanish", "es"))
        .await
        .unwrap()
        .sid
        .unwrap();
    let english = client
        .create_task_queue(&ws, &queue("Customer Care Requests - English", "en"))
        .await
        .unwrap()
        .sid
        .unwrap();
    let config = json!({"task_routing": {"filters": [
        {"filter_friendly_name": "Language - Spanish", "expression": "selected_language==\"es\"", "targets": [{"queue": spanish}]},
        {"filter_friendly_name": "Language - English", "expression": "selected_language==\"en\"", "targets": [{"queue": english}]}
    ], "default_filter": {"queue": english}}});
    let workflow = client
        .create_workflow(
            &ws,
            &CreateWorkflowParams {
                friendly_name: "Tech Support".into(),
                configuration: config.to_string(),
                assignment_callback_url: Some(callback_url.into()),
                task_reservation_timeout: Some(120),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .sid
        .unwrap();
    let alice = client
        .create_worker(
            &ws,
            &CreateWorkerParams {
                friendly_name: "Alice".into(),
                attributes: Some(json!({"languages": ["en", "es"]}).to_string()),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .sid
        .unwrap();
    let activities = client
        .list_activity(&ws, &ListActivityParams::default())
        .await
        .unwrap()
        .items;
    let find = |name: &str| {
        activities
            .iter()
            .find(|a| a.friendly_name.as_deref() == Some(name))
            .unwrap()
            .sid
            .clone()
            .unwrap()
    };
    Quickstart {
        available: find("Available"),
        offline: find("Offline"),
        client,
        ws,
        workflow,
        alice,
    }
}

impl Quickstart {
    /// Give the workflow a fallback assignment callback URL.
    async fn set_fallback(&self, url: &str) {
        let params = UpdateWorkflowParams {
            fallback_assignment_callback_url: Some(url.to_string()),
            ..Default::default()
        };
        self.client
            .update_workflow(&self.ws, &self.workflow, &params)
            .await
            .unwrap();
    }

    async fn set_activity(&self, activity: &str) {
        let params = UpdateWorkerParams {
            activity_sid: Some(activity.into()),
            ..Default::default()
        };
        self.client
            .update_worker(&self.ws, &self.alice, &params)
            .await
            .unwrap();
    }
    async fn task(&self) -> String {
        let params = CreateTaskParams {
            workflow_sid: Some(self.workflow.clone()),
            attributes: Some("{\"selected_language\":\"es\"}".into()),
            ..Default::default()
        };
        self.client
            .create_task(&self.ws, &params)
            .await
            .unwrap()
            .sid
            .unwrap()
    }
    async fn status(&self, task: &str) -> String {
        self.client
            .fetch_task(&self.ws, task)
            .await
            .unwrap()
            .assignment_status
            .unwrap()
    }
    async fn reservations(&self, task: &str) -> Vec<TaskReservation> {
        self.client
            .list_task_reservation(&self.ws, task, &ListTaskReservationParams::default())
            .await
            .unwrap()
            .items
    }
}

/// A receiver that answers assignment callbacks with `answer` and checks each one's
/// signature against the emulator's token.
fn receiver(answer: Value) -> (Recorder, Arc<Mutex<Vec<bool>>>) {
    let verdicts: Arc<Mutex<Vec<bool>>> = Arc::default();
    let seen = verdicts.clone();
    let recorder = Recorder::start(Arc::new(move |request: &Recorded, _, base| {
        let url = format!("{base}{}", request.path);
        let expected = trctl::serve::signature::sign(
            EMULATOR_TOKEN,
            &url,
            request.form.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        );
        seen.lock()
            .unwrap()
            .push(request.headers.get("x-twilio-signature") == Some(&expected));
        Reply::json(200, &answer)
    }));
    (recorder, verdicts)
}

#[tokio::test(flavor = "multi_thread")]
async fn accept_through_the_reservations_api_after_an_empty_callback_reply() {
    let emulator = EmulatorThread::start();
    let (callbacks, signatures) = receiver(json!({}));
    let q = quickstart(
        emulator.client(),
        &format!("{}/assignment_callback", callbacks.url),
        None,
    )
    .await;
    let task = q.task().await;
    assert_eq!(q.status(&task).await, "pending");
    q.set_activity(&q.available).await;
    assert_eq!(q.status(&task).await, "reserved");
    let request = eventually("the assignment callback", async || {
        callbacks.requests().first().cloned()
    })
    .await;
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, "/assignment_callback");
    assert_eq!(
        request.form_value("TaskSid").as_deref(),
        Some(task.as_str())
    );
    assert_eq!(
        request.form_value("WorkerSid").as_deref(),
        Some(q.alice.as_str())
    );
    assert_eq!(
        request.form_value("TaskAttributes").as_deref(),
        Some("{\"selected_language\":\"es\"}")
    );
    for key in [
        "AccountSid",
        "WorkspaceSid",
        "WorkflowSid",
        "TaskQueueSid",
        "WorkerAttributes",
        "TaskAge",
        "TaskPriority",
        "ReservationSid",
        "Timestamp",
    ] {
        assert!(request.form_value(key).is_some(), "{key} missing");
    }
    assert_eq!(
        signatures.lock().unwrap().as_slice(),
        [true],
        "the callback is signed with the auth token"
    );
    // `{}` leaves the reservation pending until the app accepts through the REST API.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let reservation = q.reservations(&task).await.remove(0);
    assert_eq!(reservation.reservation_status.as_deref(), Some("pending"));
    let params = UpdateTaskReservationParams {
        reservation_status: Some("accepted".into()),
        ..Default::default()
    };
    q.client
        .update_task_reservation(&q.ws, &task, reservation.sid.as_deref().unwrap(), &params)
        .await
        .unwrap();
    assert_eq!(q.status(&task).await, "assigned");
    assert_eq!(callbacks.count(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_accept_instruction_in_the_callback_reply_assigns_the_task() {
    let emulator = EmulatorThread::start();
    let (callbacks, signatures) = receiver(json!({"instruction": "accept"}));
    let q = quickstart(
        emulator.client(),
        &format!("{}/assignment_callback", callbacks.url),
        None,
    )
    .await;
    q.set_activity(&q.available).await;
    let task = q.task().await;
    eventually("the task to be assigned", async || {
        (q.status(&task).await == "assigned").then_some(())
    })
    .await;
    let reservation = q.reservations(&task).await.remove(0);
    assert_eq!(reservation.reservation_status.as_deref(), Some("accepted"));
    assert_eq!(callbacks.count(), 1);
    assert_eq!(signatures.lock().unwrap().as_slice(), [true]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_callback_falls_back_and_a_manual_clock_times_the_reservation_out() {
    let emulator = EmulatorThread::manual();
    let failing = Recorder::always(Reply::json(500, &json!({})));
    let (fallback, _) = receiver(json!({}));
    let q = quickstart(
        emulator.client(),
        &format!("{}/assignment_callback", failing.url),
        None,
    )
    .await;
    q.set_fallback(&format!("{}/fallback", fallback.url)).await;
    q.set_activity(&q.available).await;
    let task = q.task().await;
    eventually("the fallback callback", async || {
        fallback.requests().first().cloned()
    })
    .await;
    assert_eq!(failing.count(), 1);
    let advance = |seconds: &str| {
        let client = q.client.clone();
        let seconds = seconds.to_string();
        async move {
            let response = client
                .send(
                    reqwest::Method::POST,
                    "/trctl/clock/advance",
                    &[],
                    &RequestBody::Form(vec![("Seconds", seconds)]),
                    None,
                )
                .await
                .unwrap();
            assert_eq!(response.status, 200);
        }
    };
    advance("119").await;
    assert_eq!(
        q.reservations(&task).await[0].reservation_status.as_deref(),
        Some("pending")
    );
    advance("2").await;
    assert_eq!(
        q.reservations(&task).await[0].reservation_status.as_deref(),
        Some("timeout")
    );
    assert_eq!(q.status(&task).await, "pending");
    let alice = q.client.fetch_worker(&q.ws, &q.alice).await.unwrap();
    assert_eq!(
        alice.activity_sid,
        Some(q.offline.clone()),
        "a timed-out worker goes to the timeout activity"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn events_are_logged_in_order_and_delivered_signed() {
    let emulator = EmulatorThread::start();
    let (callbacks, _) = receiver(json!({"instruction": "accept"}));
    let events = Recorder::always(Reply::empty(204));
    let q = quickstart(
        emulator.client(),
        &format!("{}/assignment_callback", callbacks.url),
        Some(&format!("{}/events", events.url)),
    )
    .await;
    q.set_activity(&q.available).await;
    let task = q.task().await;
    eventually("assignment", async || {
        (q.status(&task).await == "assigned").then_some(())
    })
    .await;
    let params = UpdateTaskParams {
        assignment_status: Some("completed".into()),
        reason: Some("done".into()),
        ..Default::default()
    };
    q.client.update_task(&q.ws, &task, &params).await.unwrap();
    let logged = q
        .client
        .list_event(
            &q.ws,
            &ListEventParams {
                task_sid: Some(task.clone()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let types: Vec<String> = q
        .client
        .collect(logged, None)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.event_type.unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "task.created",
            "workflow.entered",
            "workflow.target-matched",
            "task-queue.entered",
            "reservation.created",
            "reservation.accepted",
            "task.completed",
            "reservation.completed"
        ]
    );
    let delivered = eventually("the event callbacks", async || {
        let types: Vec<String> = events
            .requests()
            .iter()
            .filter_map(|r| r.form_value("EventType"))
            .collect();
        types
            .contains(&"reservation.completed".to_string())
            .then_some(types)
    })
    .await;
    let position = |name: &str| delivered.iter().position(|t| t == name).unwrap();
    assert!(
        position("task.created") < position("reservation.created")
            && position("reservation.created") < position("reservation.accepted")
    );
    let first = events
        .requests()
        .into_iter()
        .find(|r| r.form_value("EventType").as_deref() == Some("reservation.accepted"))
        .unwrap();
    assert_eq!(first.form_value("TaskSid").as_deref(), Some(task.as_str()));
    assert_eq!(
        first.form_value("WorkerSid").as_deref(),
        Some(q.alice.as_str())
    );
    assert!(first.headers.contains_key("x-twilio-signature"));
}

#[test]
fn trctl_emulator_advance_moves_a_manual_clock() {
    let emulator = EmulatorThread::manual();
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        assert_cmd::Command::cargo_bin("trctl")
            .unwrap()
            .env_clear()
            .current_dir(dir.path())
            .env("TRCTL_BASE_URL", &emulator.url)
            .env("TWILIO_ACCOUNT_SID", common::EMULATOR_ACCOUNT)
            .env("TWILIO_AUTH_TOKEN", EMULATOR_TOKEN)
            .args(args)
            .output()
            .unwrap()
    };
    let output = run(&["emulator", "advance", "2m"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // The manual clock starts at 2023-11-14T22:13:20Z; two minutes later:
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "emulator time is now 2023-11-14T22:15:20Z\n"
    );
    let output = run(&["emulator", "advance", "soon"]);
    assert_eq!(output.status.code(), Some(2));
}

/// An event endpoint that accepts connections and never answers (each callback waits
/// for the emulator's 15 s limit). Holds its connections until the test ends.
fn silent_endpoint() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/events", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            match stream {
                Ok(stream) => held.push(stream),
                Err(_) => return,
            }
        }
    });
    url
}

async fn event_count(client: &Client, ws: &str) -> usize {
    let page = client
        .list_event(
            ws,
            &ListEventParams {
                page_size: Some(1000),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    client.collect(page, None).await.unwrap().len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_event_endpoint_delays_neither_routing_nor_other_workspaces_and_nothing_is_lost_silently(
) {
    let emulator = trctl::emulator::Emulator::new(trctl::emulator::EmulatorConfig {
        drain_timeout: Duration::from_millis(500),
        ..Default::default()
    });
    let running = emulator
        .spawn("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let client = common::emulator_client(&running.url);
    let (callbacks, _) = receiver(json!({}));
    let fast_events = Recorder::always(Reply::empty(204));

    // The stuck workspace: the whole quickstart, a worker made available, a task routed.
    let slow = quickstart(
        client.clone(),
        &format!("{}/assignment_callback", callbacks.url),
        Some(&silent_endpoint()),
    )
    .await;
    slow.set_activity(&slow.available).await;
    let task = slow.task().await;
    eventually("the reservation in the stuck workspace", async || {
        (slow.status(&task).await == "reserved").then_some(())
    })
    .await;

    // Another workspace's events go out at once all the same.
    let fast = quickstart(
        client.clone(),
        &format!("{}/assignment_callback", callbacks.url),
        Some(&format!("{}/events", fast_events.url)),
    )
    .await;
    let fast_total = event_count(&client, &fast.ws).await;
    assert!(fast_total > 0);
    eventually("the other workspace's event callbacks", async || {
        (fast_events.count() == fast_total).then_some(())
    })
    .await;

    let slow_total = event_count(&client, &slow.ws).await;
    let report = emulator.stop_runner().await.expect("the runner ran");
    // Every event is accounted for: delivered, failed, or counted as not delivered.
    assert_eq!(
        report.delivered + report.failed + report.dropped + report.undelivered,
        (fast_total + slow_total) as u64,
        "{report:?}"
    );
    assert_eq!(report.delivered, fast_total as u64, "{report:?}");
    assert!(report.undelivered > 0, "{report:?}");
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_oversized_callback_reply_is_a_failed_callback_and_the_fallback_answers() {
    let emulator = EmulatorThread::start();
    // An endless JSON reply (it would be an accept if it ever ended).
    let endless = common::hostile_body_server(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n",
        true,
    );
    let (fallback, _) = receiver(json!({"instruction": "accept"}));
    let q = quickstart(
        emulator.client(),
        &format!("{endless}/assignment_callback"),
        None,
    )
    .await;
    q.set_fallback(&format!("{}/fallback", fallback.url)).await;
    q.set_activity(&q.available).await;
    let task = q.task().await;
    eventually("the fallback's accept", async || {
        (q.status(&task).await == "assigned").then_some(())
    })
    .await;
    assert_eq!(fallback.count(), 1);
}

/// Replies the judge (serve::reply::judge) reads as carrying nothing out: an unknown
/// instruction (handed to the engine, which does nothing) and an accept without the
/// JSON content type (error 40000). The reservation stays pending and the task reserved.
#[tokio::test(flavor = "multi_thread")]
async fn unknown_or_mistyped_instructions_leave_the_reservation_pending() {
    let replies = [
        Reply::json(200, &json!({"instruction": "teleport"})),
        Reply {
            status: 200,
            headers: vec![("content-type".into(), "text/plain".into())],
            body: json!({"instruction": "accept"}).to_string(),
        },
    ];
    for reply in replies {
        let emulator = EmulatorThread::start();
        let callbacks = Recorder::start(Arc::new(move |_, _, _| reply.clone()));
        let q = quickstart(
            emulator.client(),
            &format!("{}/assignment_callback", callbacks.url),
            None,
        )
        .await;
        q.set_activity(&q.available).await;
        let task = q.task().await;
        eventually("the assignment callback", async || {
            callbacks.requests().first().cloned()
        })
        .await;
        // The reply is applied just after it is received; give it time to (not) act.
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(q.status(&task).await, "reserved");
        let reservations = q.reservations(&task).await;
        assert_eq!(reservations.len(), 1);
        assert_eq!(
            reservations[0].reservation_status.as_deref(),
            Some("pending")
        );
    }
}
