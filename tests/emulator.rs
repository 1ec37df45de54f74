//! The emulator's REST surface end to end, through trctl's own client and CLI:
//! every resource created, fetched, listed with paging, filtered, updated, deleted,
//! and the error paths TaskRouter has.

use crate::common::{self, EmulatorThread, EMULATOR_ACCOUNT, EMULATOR_TOKEN};
use assert_cmd::Command;
use reqwest::Method;
use serde_json::{json, Value};
use trctl::api::resources::*;
use trctl::api::{Client, Error, RequestBody};

async fn workspace(client: &Client, template: Option<&str>) -> String {
    let params = CreateWorkspaceParams {
        friendly_name: "Test Workspace".into(),
        template: template.map(str::to_string),
        ..Default::default()
    };
    client.create_workspace(&params).await.unwrap().sid.unwrap()
}

fn api_error(error: Error) -> (u16, i64, String) {
    let body = error
        .api()
        .cloned()
        .unwrap_or_else(|| panic!("expected an API error, got {error:?}"));
    (body.status, body.code, body.message)
}

async fn raw(
    client: &Client,
    method: Method,
    path: &str,
    form: &[(&'static str, &str)],
) -> (u16, Value) {
    let body = if form.is_empty() && method != Method::POST {
        RequestBody::None
    } else {
        RequestBody::Form(form.iter().map(|(k, v)| (*k, v.to_string())).collect())
    };
    let response = client.send(method, path, &[], &body, None).await.unwrap();
    let value = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
    (response.status, value)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_workspace_has_the_default_activities_and_channels() {
    let emulator = EmulatorThread::start();
    let client = emulator.client();
    let ws = workspace(&client, None).await;
    let fetched = client.fetch_workspace(&ws).await.unwrap();
    assert_eq!(fetched.default_activity_name.as_deref(), Some("Offline"));
    assert_eq!(fetched.timeout_activity_name.as_deref(), Some("Offline"));
    assert_eq!(fetched.multi_task_enabled, Some(true));
    let activities = client
        .list_activity(&ws, &ListActivityParams::default())
        .await
        .unwrap()
        .items;
    let names: Vec<(String, bool)> = activities
        .iter()
        .map(|a| (a.friendly_name.clone().unwrap(), a.available.unwrap()))
        .collect();
    assert_eq!(
        names,
        [
            ("Offline".to_string(), false),
            ("Available".to_string(), true),
            ("Unavailable".to_string(), false)
        ]
    );
    let channels = client
        .list_task_channel(&ws, &ListTaskChannelParams::default())
        .await
        .unwrap()
        .items;
    let unique: Vec<String> = channels
        .iter()
        .map(|c| c.unique_name.clone().unwrap())
        .collect();
    assert_eq!(unique, ["voice", "sms", "chat", "video", "default"]);
    assert!(client
        .list_task_queue(&ws, &ListTaskQueueParams::default())
        .await
        .unwrap()
        .items
        .is_empty());
    let events = client
        .list_event(&ws, &ListEventParams::default())
        .await
        .unwrap()
        .items;
    assert_eq!(events[0].event_type.as_deref(), Some("workspace.created"));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_fifo_template_adds_a_queue_and_a_workflow() {
    let emulator = EmulatorThread::start();
    let client = emulator.client();
    let ws = workspace(&client, Some("FIFO")).await;
    let queues = client
        .list_task_queue(&ws, &ListTaskQueueParams::default())
        .await
        .unwrap()
        .items;
    assert_eq!(queues.len(), 1);
    assert_eq!(queues[0].friendly_name.as_deref(), Some("Sample Queue"));
    assert_eq!(queues[0].target_workers.as_deref(), Some("1==1"));
    let workflows = client
        .list_workflow(&ws, &ListWorkflowParams::default())
        .await
        .unwrap()
        .items;
    assert_eq!(workflows.len(), 1);
    let config: Value =
        serde_json::from_str(workflows[0].configuration.as_deref().unwrap()).unwrap();
    assert_eq!(
        config["task_routing"]["default_filter"]["queue"],
        json!(queues[0].sid)
    );
    // With exactly one workflow, a task may omit WorkflowSid.
    let task = client
        .create_task(&ws, &CreateTaskParams::default())
        .await
        .unwrap();
    assert_eq!(task.workflow_sid, workflows[0].sid);
}

#[tokio::test(flavor = "multi_thread")]
async fn every_resource_through_its_lifecycle() {
    let emulator = EmulatorThread::start();
    let client = emulator.client();
    let ws = workspace(&client, None).await;

    // Activities
    let busy = client
        .create_activity(
            &ws,
            &CreateActivityParams {
                friendly_name: "Busy".into(),
                available: Some(false),
            },
        )
        .await
        .unwrap();
    let busy_sid = busy.sid.clone().unwrap();
    assert_eq!(
        (busy.friendly_name.as_deref(), busy.available),
        (Some("Busy"), Some(false))
    );
    let renamed = client
        .update_activity(
            &ws,
            &busy_sid,
            &UpdateActivityParams {
                friendly_name: Some("Lunch".into()),
            },
        )
        .await
        .unwrap();
    assert_eq!(renamed.friendly_name.as_deref(), Some("Lunch"));
    let available = client
        .list_activity(
            &ws,
            &ListActivityParams {
                available: Some("true".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .items;
    assert_eq!(available.len(), 1);
    client.delete_activity(&ws, &busy_sid).await.unwrap();
    assert_eq!(
        api_error(client.fetch_activity(&ws, &busy_sid).await.unwrap_err()).1,
        20404
    );

    // Task channels
    let sms = client
        .create_task_channel(
            &ws,
            &CreateTaskChannelParams {
                friendly_name: "Email".into(),
                unique_name: "email".into(),
                channel_optimized_routing: Some(true),
            },
        )
        .await
        .unwrap();
    let sms_sid = sms.sid.clone().unwrap();
    assert_eq!(sms.channel_optimized_routing, Some(true));
    let updated = client
        .update_task_channel(
            &ws,
            &sms_sid,
            &UpdateTaskChannelParams {
                friendly_name: Some("E-mail".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(updated.friendly_name.as_deref(), Some("E-mail"));
    client.delete_task_channel(&ws, &sms_sid).await.unwrap();

    // Queues
    let spanish = client
        .create_task_queue(
            &ws,
            &CreateTaskQueueParams {
                friendly_name: "Spanish".into(),
                target_workers: Some("languages HAS \"es\"".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let spanish_sid = spanish.sid.clone().unwrap();
    assert_eq!(
        (spanish.task_order.as_deref(), spanish.max_reserved_workers),
        (Some("FIFO"), Some(1))
    );
    let english = client
        .create_task_queue(
            &ws,
            &CreateTaskQueueParams {
                friendly_name: "English".into(),
                target_workers: Some("languages HAS \"en\"".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let english_sid = english.sid.clone().unwrap();
    let lifo = client
        .update_task_queue(
            &ws,
            &english_sid,
            &UpdateTaskQueueParams {
                task_order: Some("LIFO".into()),
                max_reserved_workers: Some(3),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        (lifo.task_order.as_deref(), lifo.max_reserved_workers),
        (Some("LIFO"), Some(3))
    );

    // Workflow
    let config = json!({"task_routing": {"filters": [
        {"filter_friendly_name": "Spanish", "expression": "selected_language == \"es\"", "targets": [{"queue": spanish_sid}]},
        {"filter_friendly_name": "English", "expression": "selected_language == \"en\"", "targets": [{"queue": english_sid}]}
    ]}})
    .to_string();
    let workflow = client
        .create_workflow(
            &ws,
            &CreateWorkflowParams {
                friendly_name: "Quickstart".into(),
                configuration: config.clone(),
                assignment_callback_url: Some("http://127.0.0.1:9/assignment".into()),
                task_reservation_timeout: Some(30),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let workflow_sid = workflow.sid.clone().unwrap();
    assert_eq!(workflow.configuration.as_deref(), Some(config.as_str()));
    assert_eq!(workflow.task_reservation_timeout, Some(30));
    let cleared = client
        .update_workflow(
            &ws,
            &workflow_sid,
            &UpdateWorkflowParams {
                assignment_callback_url: Some(String::new()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        cleared.assignment_callback_url, None,
        "an empty value clears the URL"
    );

    // Workers, with their channels
    let mut workers = Vec::new();
    for (name, languages) in [
        ("Alice", json!(["es", "en"])),
        ("Bob", json!(["en"])),
        ("Carol", json!(["fr"])),
    ] {
        let worker = client
            .create_worker(
                &ws,
                &CreateWorkerParams {
                    friendly_name: name.into(),
                    attributes: Some(json!({"languages": languages}).to_string()),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(worker.activity_name.as_deref(), Some("Offline"));
        workers.push(worker.sid.unwrap());
    }
    let eligible = client
        .list_worker(
            &ws,
            &ListWorkerParams {
                task_queue_sid: Some(spanish_sid.clone()),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .items;
    assert_eq!(
        eligible
            .iter()
            .map(|w| w.friendly_name.clone().unwrap())
            .collect::<Vec<_>>(),
        ["Alice"]
    );
    let by_expression = client
        .list_worker(
            &ws,
            &ListWorkerParams {
                target_workers_expression: Some("languages HAS \"en\"".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .items;
    assert_eq!(by_expression.len(), 2);
    let activities = client
        .list_activity(&ws, &ListActivityParams::default())
        .await
        .unwrap()
        .items;
    let available_sid = activities
        .iter()
        .find(|a| a.friendly_name.as_deref() == Some("Available"))
        .unwrap()
        .sid
        .clone()
        .unwrap();
    let alice = client
        .update_worker(
            &ws,
            &workers[0],
            &UpdateWorkerParams {
                activity_sid: Some(available_sid.clone()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        (alice.activity_name.as_deref(), alice.available),
        (Some("Available"), Some(true))
    );
    let available_workers = client
        .list_worker(
            &ws,
            &ListWorkerParams {
                available: Some("1".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .items;
    assert_eq!(available_workers.len(), 1);
    let queues_for_bob = client
        .list_task_queue(
            &ws,
            &ListTaskQueueParams {
                evaluate_worker_attributes: Some("{\"languages\":[\"en\"]}".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .items;
    assert_eq!(
        queues_for_bob
            .iter()
            .map(|q| q.friendly_name.clone().unwrap())
            .collect::<Vec<_>>(),
        ["English"]
    );
    let channels = client
        .list_worker_channel(&ws, &workers[0], &ListWorkerChannelParams::default())
        .await
        .unwrap()
        .items;
    assert_eq!(channels.len(), 5);
    let voice = channels
        .iter()
        .find(|c| c.task_channel_unique_name.as_deref() == Some("voice"))
        .unwrap();
    assert_eq!(
        (
            voice.configured_capacity,
            voice.available_capacity_percentage
        ),
        (Some(1), Some(100))
    );
    let voice_sid = voice.sid.clone().unwrap();
    let changed = client
        .update_worker_channel(
            &ws,
            &workers[0],
            &voice_sid,
            &UpdateWorkerChannelParams {
                capacity: Some(3),
                available: Some(false),
            },
        )
        .await
        .unwrap();
    assert_eq!(
        (changed.configured_capacity, changed.available),
        (Some(3), Some(false))
    );
    assert_eq!(
        client
            .fetch_worker_channel(&ws, &workers[0], &voice_sid)
            .await
            .unwrap()
            .configured_capacity,
        Some(3)
    );

    // Tasks, listed with paging
    let mut tasks = Vec::new();
    for (index, language) in ["es", "en", "es", "fr", "es"].iter().enumerate() {
        let task = client
            .create_task(
                &ws,
                &CreateTaskParams {
                    workflow_sid: Some(workflow_sid.clone()),
                    attributes: Some(json!({"selected_language": language}).to_string()),
                    priority: Some(index as i64),
                    task_channel: Some("voice".into()),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        // A task matching no filter, in a workflow without a default filter, falls out
        // of the workflow at once (ROUTING.md §2.3.1).
        let expected = if *language == "fr" {
            "canceled"
        } else {
            "pending"
        };
        assert_eq!(task.assignment_status.as_deref(), Some(expected));
        assert_eq!(task.task_channel_unique_name.as_deref(), Some("voice"));
        tasks.push(task.sid.unwrap());
    }
    let first = client
        .list_task(
            &ws,
            &ListTaskParams {
                page_size: Some(2),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(first.items.len(), 2);
    assert!(first.has_next());
    let all = client.collect(first, None).await.unwrap();
    assert_eq!(
        all.iter()
            .map(|t| t.sid.clone().unwrap())
            .collect::<Vec<_>>(),
        tasks
    );
    let spanish_tasks = client
        .list_task(
            &ws,
            &ListTaskParams {
                evaluate_task_attributes: Some("selected_language == \"es\"".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .items;
    assert_eq!(spanish_tasks.len(), 3);
    let by_priority = client
        .list_task(
            &ws,
            &ListTaskParams {
                ordering: Some("Priority:desc".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .items;
    assert_eq!(by_priority[0].sid.as_deref(), Some(tasks[4].as_str()));
    let updated = client
        .update_task(
            &ws,
            &tasks[0],
            &UpdateTaskParams {
                priority: Some(9),
                attributes: Some("{\"selected_language\":\"en\"}".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(updated.priority, Some(9));
    let canceled = client
        .update_task(
            &ws,
            &tasks[1],
            &UpdateTaskParams {
                assignment_status: Some("canceled".into()),
                reason: Some("test".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        (
            canceled.assignment_status.as_deref(),
            canceled.reason.as_deref()
        ),
        (Some("canceled"), Some("test"))
    );
    let pending = client
        .list_task(
            &ws,
            &ListTaskParams {
                assignment_status: vec!["pending".into()],
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .items;
    assert_eq!(pending.len(), 3);
    assert!(client
        .list_task_reservation(&ws, &tasks[0], &ListTaskReservationParams::default())
        .await
        .unwrap()
        .items
        .is_empty());
    assert!(client
        .list_worker_reservation(&ws, &workers[0], &ListWorkerReservationParams::default())
        .await
        .unwrap()
        .items
        .is_empty());
    client
        .delete_task(&ws, &tasks[2], &DeleteTaskParams::default())
        .await
        .unwrap();
    assert_eq!(
        api_error(client.fetch_task(&ws, &tasks[2]).await.unwrap_err()).0,
        404
    );

    // Events recorded the changes, with filters
    let task_events = client
        .list_event(
            &ws,
            &ListEventParams {
                task_sid: Some(tasks[1].clone()),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .items;
    let types: Vec<String> = task_events
        .iter()
        .map(|e| e.event_type.clone().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "task.created",
            "workflow.entered",
            "workflow.target-matched",
            "task-queue.entered",
            "task.canceled"
        ]
    );
    let activity_events = client
        .list_event(
            &ws,
            &ListEventParams {
                event_type: Some("worker.activity.update".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .items;
    assert_eq!(activity_events.len(), 1);
    let event = client
        .fetch_event(&ws, activity_events[0].sid.as_deref().unwrap())
        .await
        .unwrap();
    assert_eq!(
        event.event_data.as_ref().unwrap()["worker_previous_activity_name"],
        "Offline"
    );

    // Statistics reflect the state
    let realtime = client
        .fetch_task_queue_real_time_statistics(
            &ws,
            &spanish_sid,
            &FetchTaskQueueRealTimeStatisticsParams::default(),
        )
        .await
        .unwrap();
    assert_eq!(
        realtime.total_eligible_workers.map(|n| n.as_i64()),
        Some(Some(1))
    );
    let workspace_stats = client
        .fetch_workspace_statistics(&ws, &FetchWorkspaceStatisticsParams::default())
        .await
        .unwrap();
    // Tasks 0 and 4 are live: 1 and 3 are canceled, 2 was deleted.
    assert_eq!(workspace_stats.realtime.as_ref().unwrap()["total_tasks"], 2);
    assert_eq!(
        workspace_stats.cumulative.as_ref().unwrap()["tasks_canceled"],
        2
    );

    // Deletion rules and deletes
    let (status, code, message) = api_error(
        client
            .delete_task_queue(&ws, &spanish_sid)
            .await
            .unwrap_err(),
    );
    assert_eq!((status, code), (400, 20001));
    assert!(message.contains("workflow"), "{message}");
    let (status, _, _) = api_error(
        client
            .delete_workflow(&ws, &workflow_sid)
            .await
            .unwrap_err(),
    );
    assert_eq!(status, 400, "a workflow with live tasks stays");
    for task in [&tasks[0], &tasks[4]] {
        client
            .update_task(
                &ws,
                task,
                &UpdateTaskParams {
                    assignment_status: Some("canceled".into()),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
    }
    client.delete_workflow(&ws, &workflow_sid).await.unwrap();
    client.delete_task_queue(&ws, &spanish_sid).await.unwrap();
    for worker in &workers {
        client
            .delete_worker(&ws, worker, &DeleteWorkerParams::default())
            .await
            .unwrap();
    }
    client.delete_workspace(&ws).await.unwrap();
    assert_eq!(
        api_error(client.fetch_workspace(&ws).await.unwrap_err()).1,
        20404
    );
}

/// `TaskChannels/{Sid}` takes a unique name as well as a SID (UNCONFIRMED against live
/// Twilio; see the engine's `channel_sid`): twilio-node's `taskChannels('voice').fetch()`.
#[tokio::test(flavor = "multi_thread")]
async fn task_channels_are_found_by_unique_name_too() {
    let emulator = EmulatorThread::start();
    let client = emulator.client();
    let ws = workspace(&client, None).await;
    let voice = client.fetch_task_channel(&ws, "voice").await.unwrap();
    assert_eq!(voice.unique_name.as_deref(), Some("voice"));
    let voice_sid = voice.sid.clone().unwrap();
    assert!(voice_sid.starts_with("TC"), "{voice_sid}");
    let by_sid = client.fetch_task_channel(&ws, &voice_sid).await.unwrap();
    assert_eq!(by_sid.unique_name.as_deref(), Some("voice"));

    let params = UpdateTaskChannelParams {
        friendly_name: Some("Phone".into()),
        ..Default::default()
    };
    let updated = client
        .update_task_channel(&ws, "voice", &params)
        .await
        .unwrap();
    assert_eq!(updated.sid.as_deref(), Some(voice_sid.as_str()));
    assert_eq!(updated.friendly_name.as_deref(), Some("Phone"));
    assert_eq!(
        client
            .fetch_task_channel(&ws, &voice_sid)
            .await
            .unwrap()
            .friendly_name
            .as_deref(),
        Some("Phone")
    );

    let created = client
        .create_task_channel(
            &ws,
            &CreateTaskChannelParams {
                friendly_name: "Email".into(),
                unique_name: "email".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    client.delete_task_channel(&ws, "email").await.unwrap();
    let (status, code, message) = api_error(
        client
            .fetch_task_channel(&ws, created.sid.as_deref().unwrap())
            .await
            .unwrap_err(),
    );
    assert_eq!((status, code), (404, 20404), "{message}");
    let (status, code, message) =
        api_error(client.fetch_task_channel(&ws, "email").await.unwrap_err());
    assert_eq!((status, code), (404, 20404));
    assert!(message.contains("/TaskChannels/email"), "{message}");
    let (status, _, _) = api_error(
        client
            .update_task_channel(&ws, "nosuch", &params)
            .await
            .unwrap_err(),
    );
    assert_eq!(status, 404);
    let (status, _, _) = api_error(client.delete_task_channel(&ws, "nosuch").await.unwrap_err());
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn error_paths_answer_like_twilio() {
    let emulator = EmulatorThread::start();
    let client = emulator.client();
    let ws = workspace(&client, Some("FIFO")).await;
    let tasks = format!("/v1/Workspaces/{ws}/Tasks");

    // Wrong credentials: 401 / 20003.
    let wrong = trctl::api::Client::builder(trctl::api::Credentials {
        username: EMULATOR_ACCOUNT.into(),
        password: trctl::api::Secret::new("nope"),
    })
    .base_url(&emulator.url)
    .build()
    .unwrap();
    let response = wrong
        .send(Method::GET, &tasks, &[], &RequestBody::None, None)
        .await
        .unwrap();
    assert_eq!(response.status, 401);
    let body: Value = serde_json::from_slice(&response.body).unwrap();
    assert_eq!(body["code"], 20003);

    // Unknown task: 404 / 20404, naming the path.
    let (status, body) = raw(
        &client,
        Method::GET,
        &format!("{tasks}/WT00000000000000000000000000000099"),
        &[],
    )
    .await;
    assert_eq!((status, body["code"].as_i64()), (404, Some(20404)));
    assert_eq!(body["message"], format!("The requested resource /Workspaces/{ws}/Tasks/WT00000000000000000000000000000099 was not found"));
    assert_eq!(
        body["more_info"],
        "https://www.twilio.com/docs/errors/20404"
    );

    // Bad attributes, missing and malformed parameters: 400 naming the parameter.
    let (status, body) = raw(&client, Method::POST, &tasks, &[("Attributes", "not-json")]).await;
    assert_eq!((status, body["code"].as_i64()), (400, Some(20001)));
    assert!(body["message"].as_str().unwrap().contains("Attributes"));
    let (status, body) = raw(&client, Method::POST, &tasks, &[("Priority", "high")]).await;
    assert_eq!(status, 400);
    assert!(body["message"].as_str().unwrap().contains("Priority"));
    let (status, body) = raw(
        &client,
        Method::POST,
        &format!("/v1/Workspaces/{ws}/Activities"),
        &[],
    )
    .await;
    assert_eq!(status, 400);
    assert!(body["message"].as_str().unwrap().contains("FriendlyName"));

    // Expressions and workflow configurations are checked.
    let queues = format!("/v1/Workspaces/{ws}/TaskQueues");
    let (status, body) = raw(
        &client,
        Method::POST,
        &queues,
        &[
            ("FriendlyName", "Broken"),
            ("TargetWorkers", "languages HAS"),
        ],
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        body["message"].as_str().unwrap().contains("TargetWorkers"),
        "{body}"
    );
    let (status, body) = raw(
        &client,
        Method::POST,
        &queues,
        &[("FriendlyName", "Sample Queue")],
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        body["message"].as_str().unwrap().contains("already exists"),
        "{body}"
    );
    let bad_config = json!({"task_routing": {"default_filter": {"queue": "WQ00000000000000000000000000000099"}}}).to_string();
    let (status, _) = raw(
        &client,
        Method::POST,
        &format!("/v1/Workspaces/{ws}/Workflows"),
        &[("FriendlyName", "Bad"), ("Configuration", &bad_config)],
    )
    .await;
    assert_eq!(status, 400);
    let (status, _) = raw(
        &client,
        Method::POST,
        &format!("/v1/Workspaces/{ws}/Workflows"),
        &[("FriendlyName", "Bad"), ("Configuration", "{")],
    )
    .await;
    assert_eq!(status, 400);

    // In-use activity.
    let fetched = client.fetch_workspace(&ws).await.unwrap();
    let (status, _) = raw(
        &client,
        Method::DELETE,
        &format!(
            "/v1/Workspaces/{ws}/Activities/{}",
            fetched.default_activity_sid.unwrap()
        ),
        &[],
    )
    .await;
    assert_eq!(status, 400);

    // If-Match and ETag on tasks.
    let created = client
        .send(
            Method::POST,
            &tasks,
            &[],
            &RequestBody::Form(vec![("Attributes", "{}".into())]),
            None,
        )
        .await
        .unwrap();
    assert_eq!(created.status, 201);
    assert_eq!(created.etag.as_deref(), Some("0"));
    let task: Value = serde_json::from_slice(&created.body).unwrap();
    let task_path = format!("{tasks}/{}", task["sid"].as_str().unwrap());
    let updated = client
        .send(
            Method::POST,
            &task_path,
            &[],
            &RequestBody::Form(vec![("Priority", "2".into())]),
            Some("0"),
        )
        .await
        .unwrap();
    assert_eq!((updated.status, updated.etag.as_deref()), (200, Some("1")));
    let stale = client
        .send(
            Method::POST,
            &task_path,
            &[],
            &RequestBody::Form(vec![("Priority", "3".into())]),
            Some("0"),
        )
        .await
        .unwrap();
    assert_eq!(stale.status, 412);
    let body: Value = serde_json::from_slice(&stale.body).unwrap();
    assert_eq!(body["code"], 20412);
    let unchanged = client
        .fetch_task(&ws, task["sid"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(
        unchanged.priority,
        Some(2),
        "a refused update changes nothing"
    );

    // Illegal status changes.
    let (status, body) = raw(
        &client,
        Method::POST,
        &task_path,
        &[("AssignmentStatus", "completed")],
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("Cannot complete"),
        "{body}"
    );
    let (status, body) = raw(
        &client,
        Method::POST,
        &task_path,
        &[("AssignmentStatus", "wrapping")],
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("not currently assigned"),
        "{body}"
    );

    // Paging parameters.
    let response = client
        .send(
            Method::GET,
            &tasks,
            &[("PageSize", "0".into())],
            &RequestBody::None,
            None,
        )
        .await
        .unwrap();
    assert_eq!(response.status, 400);
    let response = client
        .send(
            Method::GET,
            &tasks,
            &[("PageToken", "nonsense".into())],
            &RequestBody::None,
            None,
        )
        .await
        .unwrap();
    assert_eq!(response.status, 400);
    let body: Value = serde_json::from_slice(&response.body).unwrap();
    assert_eq!(body["code"], 21481);
    let response = client
        .send(
            Method::GET,
            &tasks,
            &[("Page", "2".into())],
            &RequestBody::None,
            None,
        )
        .await
        .unwrap();
    assert_eq!(response.status, 400);

    // Unknown paths and methods.
    let (status, _) = raw(&client, Method::GET, "/v1/Nothing", &[]).await;
    assert_eq!(status, 404);
    let response = client
        .send(
            Method::DELETE,
            &format!("/v1/Workspaces/{ws}/Events"),
            &[],
            &RequestBody::None,
            None,
        )
        .await
        .unwrap();
    assert_eq!(response.status, 405);
}

#[tokio::test(flavor = "multi_thread")]
async fn list_meta_links_back_to_the_emulator() {
    let emulator = EmulatorThread::start();
    let client = emulator.client();
    let ws = workspace(&client, None).await;
    let path = format!("/v1/Workspaces/{ws}/Activities");
    // Two of the three default activities are unavailable: two pages of one.
    let response = client
        .send(
            Method::GET,
            &path,
            &[("PageSize", "1".into()), ("Available", "false".into())],
            &RequestBody::None,
            None,
        )
        .await
        .unwrap();
    let body: Value = serde_json::from_slice(&response.body).unwrap();
    let meta = &body["meta"];
    assert_eq!(body["activities"][0]["friendly_name"], "Offline");
    assert_eq!(meta["key"], "activities");
    assert_eq!(meta["page"], 0);
    assert_eq!(meta["page_size"], 1);
    assert_eq!(meta["previous_page_url"], Value::Null);
    assert_eq!(
        meta["first_page_url"],
        format!("{}{path}?Available=false&PageSize=1&Page=0", emulator.url)
    );
    let next = meta["next_page_url"].as_str().unwrap();
    assert!(
        next.starts_with(&format!(
            "{}{path}?Available=false&PageSize=1&Page=1&PageToken=PA",
            emulator.url
        )),
        "{next}"
    );
    let second = client
        .send(Method::GET, next, &[], &RequestBody::None, None)
        .await
        .unwrap();
    let second: Value = serde_json::from_slice(&second.body).unwrap();
    assert_eq!(second["activities"][0]["friendly_name"], "Unavailable");
    assert_eq!(second["meta"]["page"], 1);
    assert_eq!(second["meta"]["next_page_url"], Value::Null);
    let previous = second["meta"]["previous_page_url"].as_str().unwrap();
    assert!(previous.contains("PageToken=PB"), "{previous}");
    let back = client
        .send(Method::GET, previous, &[], &RequestBody::None, None)
        .await
        .unwrap();
    let back: Value = serde_json::from_slice(&back.body).unwrap();
    assert_eq!(back["activities"][0]["friendly_name"], "Offline");
}

#[test]
fn the_cli_works_against_the_emulator() {
    let emulator = EmulatorThread::start();
    let dir = tempfile::tempdir().unwrap();
    let trctl = |args: &[&str]| {
        let output = Command::cargo_bin("trctl")
            .unwrap()
            .env_clear()
            .current_dir(dir.path())
            .env("TRCTL_BASE_URL", &emulator.url)
            .env("TWILIO_ACCOUNT_SID", EMULATOR_ACCOUNT)
            .env("TWILIO_AUTH_TOKEN", EMULATOR_TOKEN)
            .args(args)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    };
    let created: Value = serde_json::from_str(&trctl(&[
        "workspace",
        "create",
        "--name",
        "CLI",
        "--template",
        "FIFO",
        "-o",
        "json",
    ]))
    .unwrap();
    let ws = created["sid"].as_str().unwrap().to_string();
    let with_ws = |extra: &[&str]| {
        let mut args = vec!["--workspace", "CLI"];
        args.extend_from_slice(extra);
        trctl(&args)
    };
    with_ws(&[
        "queue",
        "create",
        "--name",
        "Spanish",
        "--target-workers",
        "languages HAS \"es\"",
    ]);
    with_ws(&[
        "worker",
        "create",
        "--name",
        "Alice",
        "--attributes",
        "{\"languages\":[\"es\"]}",
    ]);
    with_ws(&["worker", "update", "Alice", "--activity", "Available"]);
    let worker: Value =
        serde_json::from_str(&with_ws(&["worker", "get", "Alice", "-o", "json"])).unwrap();
    assert_eq!(worker["activity_name"], "Available");
    let task: Value = serde_json::from_str(&with_ws(&[
        "task",
        "create",
        "--workflow",
        "Default Fifo Workflow",
        "--attributes",
        "{\"selected_language\":\"es\"}",
        "-o",
        "json",
    ]))
    .unwrap();
    // Alice is available and the FIFO queue takes everyone: reserved at once.
    assert_eq!(task["assignment_status"], "reserved");
    assert_eq!(task["workspace_sid"], ws);
    let listed: Value = serde_json::from_str(&with_ws(&["task", "list", "-o", "json"])).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    with_ws(&[
        "task",
        "cancel",
        task["sid"].as_str().unwrap(),
        "--reason",
        "done",
    ]);
    let events = with_ws(&["event", "list", "-o", "tsv", "--fields", "event_type"]);
    assert!(events.contains("task.canceled"), "{events}");
    let stats: Value = serde_json::from_str(&with_ws(&[
        "stats",
        "queue",
        "Spanish",
        "--realtime",
        "-o",
        "json",
    ]))
    .unwrap();
    assert_eq!(stats["total_eligible_workers"], 1);
    with_ws(&[
        "worker",
        "channel",
        "update",
        "Alice",
        "voice",
        "--capacity",
        "2",
    ]);
    let channel: Value = serde_json::from_str(&with_ws(&[
        "worker", "channel", "get", "Alice", "voice", "-o", "json",
    ]))
    .unwrap();
    assert_eq!(channel["configured_capacity"], 2);
    let reservations: Value = serde_json::from_str(&with_ws(&[
        "reservation",
        "list",
        "--worker",
        "Alice",
        "-o",
        "json",
    ]))
    .unwrap();
    assert_eq!(
        reservations[0]["reservation_status"], "canceled",
        "canceling the task canceled its reservation"
    );
    trctl(&["workspace", "delete", "CLI"]);
}

// ---------------------------------------------------------------- --state across restarts

/// `trctl emulator --port 0 --state FILE` as a child process, killed (by its own PID)
/// when dropped.
#[cfg(unix)]
fn stateful_emulator(
    dir: &std::path::Path,
    state: &std::path::Path,
    extra: &[&str],
) -> common::ServerProcess {
    common::ServerProcess::start_with(|command| {
        command
            .current_dir(dir)
            .args(["emulator", "--state"])
            .arg(state)
            .args(extra);
    })
}

#[cfg(unix)]
async fn created(client: &Client, path: &str, form: &[(&'static str, &str)]) -> Value {
    let (status, body) = raw(client, Method::POST, path, form).await;
    assert_eq!(status, 201, "{path}: {body}");
    body
}

#[cfg(unix)]
async fn get(client: &Client, path: &str) -> Value {
    let (status, body) = raw(client, Method::GET, path, &[]).await;
    assert_eq!(status, 200, "{path}: {body}");
    body
}

/// Everything the API shows of a workspace, minus what moves by itself (task ages).
#[cfg(unix)]
async fn everything(client: &Client, ws: &str) -> Value {
    let mut all = serde_json::Map::new();
    for (key, path) in [
        ("workspace", format!("/v1/Workspaces/{ws}")),
        ("activities", format!("/v1/Workspaces/{ws}/Activities")),
        ("channels", format!("/v1/Workspaces/{ws}/TaskChannels")),
        ("queues", format!("/v1/Workspaces/{ws}/TaskQueues")),
        ("workflows", format!("/v1/Workspaces/{ws}/Workflows")),
        ("workers", format!("/v1/Workspaces/{ws}/Workers")),
        ("tasks", format!("/v1/Workspaces/{ws}/Tasks")),
        (
            "events",
            format!("/v1/Workspaces/{ws}/Events?PageSize=1000"),
        ),
    ] {
        let mut body = get(client, &path).await;
        if let Some(tasks) = body.get_mut("tasks").and_then(Value::as_array_mut) {
            for task in tasks {
                if let Some(task) = task.as_object_mut() {
                    task.remove("age");
                    task.remove("task_queue_entered_date");
                }
            }
        }
        // Links name the emulator's address, which changes with each start.
        let text = body.to_string().replace(&client_base(client), "BASE");
        all.insert(key.to_string(), serde_json::from_str(&text).unwrap());
    }
    Value::Object(all)
}

#[cfg(unix)]
fn client_base(client: &Client) -> String {
    client.base_url().trim_end_matches('/').to_string()
}

/// Stop a stateful emulator with `signal` mid-work and check that the next start has
/// everything and carries on: the same records, the pending reservation still pending
/// until its original deadline (or timed out at start when that passed while it was
/// down), and new routing.
#[cfg(unix)]
async fn state_survives(signal: libc::c_int, down_past_the_deadline: bool) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("emulator-state.json");
    let first = stateful_emulator(dir.path(), &file, &[]);
    assert!(
        first.banner.contains("(new: written at the first change)"),
        "{}",
        first.banner
    );
    let client = first.client();
    let ws = created(&client, "/v1/Workspaces", &[("FriendlyName", "Kept")]).await;
    let ws = ws["sid"].as_str().unwrap().to_string();
    let base = format!("/v1/Workspaces/{ws}");
    let activities = get(&client, &format!("{base}/Activities")).await;
    let activity = |name: &str| {
        activities["activities"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["friendly_name"] == name)
            .unwrap()["sid"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (available, offline) = (activity("Available"), activity("Offline"));
    created(
        &client,
        &format!("{base}/Activities"),
        &[("FriendlyName", "Lunch")],
    )
    .await;
    let queue = created(
        &client,
        &format!("{base}/TaskQueues"),
        &[
            ("FriendlyName", "Sales"),
            ("TargetWorkers", "skills HAS \"sales\""),
        ],
    )
    .await;
    let queue = queue["sid"].as_str().unwrap().to_string();
    let config = json!({"task_routing": {"filters": [
        {"expression": "type == \"sale\"", "targets": [{"queue": queue}]}
    ], "default_filter": {"queue": queue}}})
    .to_string();
    let workflow = created(
        &client,
        &format!("{base}/Workflows"),
        &[
            ("FriendlyName", "Sales"),
            ("Configuration", &config),
            ("TaskReservationTimeout", "6"),
        ],
    )
    .await;
    let workflow = workflow["sid"].as_str().unwrap().to_string();
    let worker = |name: &'static str, activity: String| {
        let client = &client;
        let base = &base;
        async move {
            let body = created(
                client,
                &format!("{base}/Workers"),
                &[
                    ("FriendlyName", name),
                    ("ActivitySid", &activity),
                    ("Attributes", "{\"skills\":[\"sales\"]}"),
                ],
            )
            .await;
            body["sid"].as_str().unwrap().to_string()
        }
    };
    let alice = worker("Alice", available.clone()).await;
    let bob = worker("Bob", offline.clone()).await;
    let task = |attributes: &'static str| {
        let client = &client;
        let base = &base;
        let workflow = &workflow;
        async move {
            created(
                client,
                &format!("{base}/Tasks"),
                &[("WorkflowSid", workflow), ("Attributes", attributes)],
            )
            .await
        }
    };
    let reserved = task("{\"type\":\"sale\",\"n\":1}").await;
    let reserved_at = std::time::Instant::now();
    let waiting = task("{\"type\":\"sale\",\"n\":2}").await;
    assert_eq!(reserved["assignment_status"], "reserved");
    assert_eq!(waiting["assignment_status"], "pending");
    let (reserved, waiting) = (
        reserved["sid"].as_str().unwrap().to_string(),
        waiting["sid"].as_str().unwrap().to_string(),
    );
    let reservations = format!("{base}/Tasks/{reserved}/Reservations");
    let pending = get(&client, &reservations).await;
    let reservation = pending["reservations"][0].clone();
    assert_eq!(reservation["reservation_status"], "pending");
    assert_eq!(reservation["worker_sid"], alice);
    let before = everything(&client, &ws).await;

    // Past the debounce, so even SIGKILL finds everything saved.
    tokio::time::sleep(std::time::Duration::from_millis(900)).await;
    let status = first.stop(signal);
    if signal == libc::SIGTERM {
        assert!(status.success(), "{status:?}");
    }
    let saved = std::fs::read(&file).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the state file is for its owner only");
    }
    assert!(
        !saved
            .windows(EMULATOR_TOKEN.len())
            .any(|w| w == EMULATOR_TOKEN.as_bytes()),
        "the auth token is not state"
    );
    if down_past_the_deadline {
        tokio::time::sleep(std::time::Duration::from_secs(7).saturating_sub(reserved_at.elapsed()))
            .await;
    }

    let second = stateful_emulator(dir.path(), &file, &[]);
    assert!(
        second.banner.contains("(restored, 1 workspace)"),
        "{}",
        second.banner
    );
    let client = second.client();
    if down_past_the_deadline {
        // The timeout came due while the emulator was down: it fires at start.
        let after = get(&client, &reservations).await;
        assert_eq!(after["reservations"][0]["reservation_status"], "timeout");
        assert_eq!(after["reservations"][0]["sid"], reservation["sid"]);
        let task = get(&client, &format!("{base}/Tasks/{reserved}")).await;
        assert_eq!(task["assignment_status"], "pending");
        let alice = get(&client, &format!("{base}/Workers/{alice}")).await;
        assert_eq!(
            alice["activity_name"], "Offline",
            "moved to the timeout activity"
        );
        return;
    }
    // Same SIDs, attributes, statuses, positions, event log, links.
    assert_eq!(everything(&client, &ws).await, before);
    let still = get(&client, &reservations).await;
    for field in [
        "sid",
        "reservation_status",
        "worker_sid",
        "date_created",
        "date_updated",
    ] {
        assert_eq!(
            still["reservations"][0][field], reservation[field],
            "{field}"
        );
    }

    // Routing carries on: Bob becomes available and takes the waiting task.
    let (status, _) = raw(
        &client,
        Method::POST,
        &format!("{base}/Workers/{bob}"),
        &[("ActivitySid", &available)],
    )
    .await;
    assert_eq!(status, 200);
    let task = get(&client, &format!("{base}/Tasks/{waiting}")).await;
    assert_eq!(task["assignment_status"], "reserved");
    let bobs = get(&client, &format!("{base}/Workers/{bob}/Reservations")).await;
    assert_eq!(bobs["reservations"][0]["task_sid"], waiting);

    // The first reservation times out at its original deadline (6 s after it was made),
    // not 6 s after the restart.
    let timed_out = loop {
        let now = get(&client, &reservations).await;
        if now["reservations"][0]["reservation_status"] == "timeout" {
            break reserved_at.elapsed();
        }
        assert!(
            reserved_at.elapsed() < std::time::Duration::from_secs(15),
            "no timeout"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert!(
        timed_out > std::time::Duration::from_millis(5_500)
            && timed_out < std::time::Duration::from_millis(7_500),
        "timed out {timed_out:?} after it was made"
    );
    let status = second.stop(libc::SIGTERM);
    assert!(status.success());
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn state_survives_sigterm_and_routing_carries_on() {
    state_survives(libc::SIGTERM, false).await;
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn state_survives_sigkill() {
    state_survives(libc::SIGKILL, false).await;
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn timers_due_while_down_fire_at_start() {
    state_survives(libc::SIGKILL, true).await;
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn a_manual_clock_resumes_where_it_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("manual.json");
    let first = stateful_emulator(dir.path(), &file, &["--clock", "manual"]);
    let client = first.client();
    created(&client, "/v1/Workspaces", &[("FriendlyName", "Frozen")]).await;
    let (status, moved) = raw(
        &client,
        Method::POST,
        "/trctl/clock/advance",
        &[("Seconds", "3600")],
    )
    .await;
    assert_eq!(status, 200);
    assert!(first.stop(libc::SIGTERM).success());
    let second = stateful_emulator(dir.path(), &file, &["--clock", "manual"]);
    let now = get(&second.client(), "/trctl/clock").await;
    assert_eq!(
        now["now_ms"], moved["now_ms"],
        "no time passed on a manual clock"
    );
}

#[cfg(unix)]
#[test]
fn an_unreadable_state_file_stops_the_start_and_is_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, &[u8], &str); 5] = [
        ("garbage", b"\x00\x9f\xffnot json at all", "not valid JSON"),
        (
            "truncated",
            br#"{"format":"trctl-emulator-state","version":1,"saved_at":1,"clock_now":1,"snapshot":{"state":{"account_sid":"AC"#,
            "damaged",
        ),
        (
            "future",
            br#"{"format":"trctl-emulator-state","version":99,"snapshot":{}}"#,
            "version 99 of the emulator state format; this trctl supports version 1",
        ),
        ("foreign", br#"{"format":"something-else","version":1}"#, "not a trctl emulator state file"),
        (
            "other-account",
            br#"{"format":"trctl-emulator-state","version":1,"saved_at":1,"clock_now":1,"snapshot":{"state":{"account_sid":"AC11111111111111111111111111111111","workspaces":{"items":[],"removed":[]},"deadlines":[],"deadline_seq":0},"configurations":[],"routing":[],"sids":null}}"#,
            "holds the state of account AC11111111111111111111111111111111",
        ),
    ];
    for (name, bytes, message) in cases {
        let file = dir.path().join(format!("{name}.json"));
        std::fs::write(&file, bytes).unwrap();
        let output = Command::cargo_bin("trctl")
            .unwrap()
            .env_clear()
            .env("HOME", dir.path())
            .current_dir(dir.path())
            .args(["emulator", "--port", "0"])
            .env("TRCTL_EMULATOR_STATE", &file)
            .timeout(std::time::Duration::from_secs(20))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{name}: {stderr}");
        assert!(stderr.contains(message), "{name}: {stderr}");
        assert!(output.stdout.is_empty(), "{name}: nothing was served");
        assert_eq!(std::fs::read(&file).unwrap(), bytes, "{name} is unchanged");
    }
    // A missing file is a fresh start, but only where it can be created later.
    let output = Command::cargo_bin("trctl")
        .unwrap()
        .env_clear()
        .env("HOME", dir.path())
        .current_dir(dir.path())
        .args([
            "emulator",
            "--port",
            "0",
            "--state",
            "no-such-dir/state.json",
        ])
        .timeout(std::time::Duration::from_secs(20))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("the directory no-such-dir does not exist"),
        "{stderr}"
    );
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 5, "no temporary file was left: {names:?}");
}

/// A fresh manual-clock emulator: queues Q1 and Q2 nobody serves, a workflow from
/// `config(q1, q2)`, one task; then the clock advances by each of `advances` seconds.
/// Returns the task as the API shows it.
async fn walk_with_advances(config: fn(&str, &str) -> Value, advances: &[&str]) -> Value {
    let emulator = EmulatorThread::manual();
    let client = emulator.client();
    let ws = workspace(&client, None).await;
    let base = format!("/v1/Workspaces/{ws}");
    let mut queues = Vec::new();
    for name in ["Q1", "Q2"] {
        let queue = created(
            &client,
            &format!("{base}/TaskQueues"),
            &[("FriendlyName", name), ("TargetWorkers", "nobody == 1")],
        )
        .await;
        queues.push(queue["sid"].as_str().unwrap().to_string());
    }
    let configuration = config(&queues[0], &queues[1]).to_string();
    let workflow = created(
        &client,
        &format!("{base}/Workflows"),
        &[("FriendlyName", "Walk"), ("Configuration", &configuration)],
    )
    .await;
    let workflow = workflow["sid"].as_str().unwrap().to_string();
    let task = created(
        &client,
        &format!("{base}/Tasks"),
        &[("WorkflowSid", &workflow), ("Attributes", "{}")],
    )
    .await;
    for seconds in advances {
        let (status, body) = raw(
            &client,
            Method::POST,
            "/trctl/clock/advance",
            &[("Seconds", seconds)],
        )
        .await;
        assert_eq!(status, 200, "{body}");
    }
    let path = format!("{base}/Tasks/{}", task["sid"].as_str().unwrap());
    let (status, task) = raw(&client, Method::GET, &path, &[]).await;
    assert_eq!(status, 200, "{task}");
    // SIDs differ between emulators: keep what timers decide.
    let queue_name = queues
        .iter()
        .position(|q| task["task_queue_sid"] == q.as_str())
        .map(|i| format!("Q{}", i + 1));
    json!({
        "assignment_status": task["assignment_status"],
        "reason": task["reason"],
        "queue": queue_name,
        "task_queue_entered_date": task["task_queue_entered_date"],
        "date_created": task["date_created"],
        "date_updated": task["date_updated"],
        "age": task["age"],
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn one_clock_advance_past_several_deadlines_fires_each_at_its_own_time() {
    // Filter A ends at 30, filter B (entered then) at 40: canceled at 40.
    let two_filters = |q1: &str, q2: &str| {
        json!({"task_routing": {"filters": [
            {"expression": "1==1", "targets": [{"queue": q1, "timeout": 30}]},
            {"expression": "1==1", "targets": [{"queue": q2, "timeout": 10}]},
        ]}})
    };
    let one = walk_with_advances(two_filters, &["65"]).await;
    let split = walk_with_advances(two_filters, &["30", "10", "25"]).await;
    assert_eq!(one, split);
    assert_eq!(one["assignment_status"], "canceled");
    assert_eq!(one["reason"], "Task canceled on Workflow timeout");

    // Q1 for 5 s, then Q2: entered at age 5, not at 18.
    let two_steps = |q1: &str, q2: &str| {
        json!({"task_routing": {"filters": [
            {"expression": "1==1",
             "targets": [{"queue": q1, "timeout": 5}, {"queue": q2}]},
        ]}})
    };
    let one = walk_with_advances(two_steps, &["18"]).await;
    let split = walk_with_advances(two_steps, &["5", "13"]).await;
    assert_eq!(one, split);
    assert_eq!(one["assignment_status"], "pending");
    assert_eq!(one["queue"], "Q2");
    assert_eq!(one["date_created"], "2023-11-14T22:13:20Z");
    assert_eq!(one["task_queue_entered_date"], "2023-11-14T22:13:25Z");
}

/// A request that arrives after a deadline passed but before the timer task fired it
/// (here: a manual clock moved without a tick) sees the state as of its own time: the
/// reservation has timed out, and accepting it is refused, as on TaskRouter.
#[tokio::test(flavor = "multi_thread")]
async fn requests_see_every_timer_due_by_their_time() {
    let clock = std::sync::Arc::new(trctl::emulator::clock::ManualClock::new(1_700_000_000_000));
    let emulator = EmulatorThread::start_with(trctl::emulator::EmulatorConfig {
        clock: clock.clone(),
        ..Default::default()
    });
    let client = emulator.client();
    let ws = workspace(&client, None).await;
    let base = format!("/v1/Workspaces/{ws}");
    let activities = get(
        &client,
        &format!("{base}/Activities?FriendlyName=Available"),
    )
    .await;
    let available = activities["activities"][0]["sid"]
        .as_str()
        .unwrap()
        .to_string();
    let queue = created(
        &client,
        &format!("{base}/TaskQueues"),
        &[("FriendlyName", "All"), ("TargetWorkers", "1==1")],
    )
    .await;
    let configuration = json!({"task_routing": {"filters": [
        {"expression": "1==1", "targets": [{"queue": queue["sid"]}]}
    ]}})
    .to_string();
    let workflow = created(
        &client,
        &format!("{base}/Workflows"),
        &[
            ("FriendlyName", "All"),
            ("Configuration", &configuration),
            ("TaskReservationTimeout", "5"),
        ],
    )
    .await;
    created(
        &client,
        &format!("{base}/Workers"),
        &[("FriendlyName", "alice"), ("ActivitySid", &available)],
    )
    .await;
    let task = created(
        &client,
        &format!("{base}/Tasks"),
        &[
            ("WorkflowSid", workflow["sid"].as_str().unwrap()),
            ("Attributes", "{}"),
        ],
    )
    .await;
    let task_path = format!("{base}/Tasks/{}", task["sid"].as_str().unwrap());
    let reservations = get(&client, &format!("{task_path}/Reservations")).await;
    let reservation = &reservations["reservations"][0];
    assert_eq!(
        reservation["reservation_status"], "pending",
        "{reservations}"
    );
    let reservation_path = format!(
        "{task_path}/Reservations/{}",
        reservation["sid"].as_str().unwrap()
    );

    // Past the 5 s reservation timeout, with no tick in between.
    clock.advance(6_000);
    let fetched = get(&client, &reservation_path).await;
    assert_eq!(fetched["reservation_status"], "timeout", "{fetched}");
    let (status, body) = raw(
        &client,
        Method::POST,
        &reservation_path,
        &[("ReservationStatus", "accepted")],
    )
    .await;
    assert!(
        (400..500).contains(&status),
        "accepting a timed-out reservation: {status} {body}"
    );
    let task = get(&client, &task_path).await;
    assert_ne!(task["assignment_status"], "assigned", "{task}");
}
