//! Start the emulator in-process, give it an assignment-callback receiver that answers
//! `{"instruction":"accept"}`, and drive one task through the TaskRouter lifecycle:
//! created → reserved (callback) → assigned → completed. Prints each stage with the
//! time it took.
//!
//! ```sh
//! cargo run --example embedded_emulator
//! ```

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::json;
use trctl::api::resources::*;
use trctl::api::{Client, Credentials, Secret};
use trctl::emulator::{Emulator, EmulatorConfig, DEV_ACCOUNT_SID, DEV_AUTH_TOKEN};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
    let emulator = Emulator::new(EmulatorConfig::default())
        .spawn(loopback)
        .await?;

    // The app's side: answer every assignment callback by accepting the reservation.
    let receiver = tokio::net::TcpListener::bind(loopback).await?;
    let callback_url = format!("http://{}/assignment_callback", receiver.local_addr()?);
    let app = axum::Router::new().route(
        "/assignment_callback",
        axum::routing::post(|| async { axum::Json(json!({"instruction": "accept"})) }),
    );
    tokio::spawn(async move { axum::serve(receiver, app).await });

    let client = Client::builder(Credentials {
        username: DEV_ACCOUNT_SID.into(),
        password: Secret::new(DEV_AUTH_TOKEN),
    })
    .base_url(&emulator.url)
    .build()?;
    let ws = client
        .create_workspace(&CreateWorkspaceParams {
            friendly_name: "Example".into(),
            template: Some("FIFO".into()),
            ..Default::default()
        })
        .await?
        .sid
        .unwrap_or_default();
    let workflow = client
        .list_workflow(&ws, &ListWorkflowParams::default())
        .await?
        .items
        .remove(0);
    let workflow_sid = workflow.sid.unwrap_or_default();
    let params = UpdateWorkflowParams {
        assignment_callback_url: Some(callback_url),
        ..Default::default()
    };
    client.update_workflow(&ws, &workflow_sid, &params).await?;
    let worker = client
        .create_worker(
            &ws,
            &CreateWorkerParams {
                friendly_name: "Alice".into(),
                ..Default::default()
            },
        )
        .await?;
    let worker_sid = worker.sid.unwrap_or_default();
    let activities = client
        .list_activity(
            &ws,
            &ListActivityParams {
                friendly_name: Some("Available".into()),
                ..Default::default()
            },
        )
        .await?;
    let available = activities
        .items
        .first()
        .and_then(|a| a.sid.clone())
        .unwrap_or_default();

    let task = client
        .create_task(
            &ws,
            &CreateTaskParams {
                workflow_sid: Some(workflow_sid),
                attributes: Some("{\"type\":\"support\"}".into()),
                ..Default::default()
            },
        )
        .await?;
    let task_sid = task.sid.unwrap_or_default();
    println!(
        "task {task_sid}: {}",
        task.assignment_status.unwrap_or_default()
    );

    let started = Instant::now();
    client
        .update_worker(
            &ws,
            &worker_sid,
            &UpdateWorkerParams {
                activity_sid: Some(available),
                ..Default::default()
            },
        )
        .await?;
    loop {
        let status = client
            .fetch_task(&ws, &task_sid)
            .await?
            .assignment_status
            .unwrap_or_default();
        if status == "assigned" {
            println!(
                "task {task_sid}: assigned {:.1} ms after Alice became available",
                started.elapsed().as_secs_f64() * 1000.0
            );
            break;
        }
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(5),
            "the task was not assigned (status {status})"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let done = UpdateTaskParams {
        assignment_status: Some("completed".into()),
        reason: Some("example".into()),
        ..Default::default()
    };
    let task = client.update_task(&ws, &task_sid, &done).await?;
    println!(
        "task {task_sid}: {}",
        task.assignment_status.unwrap_or_default()
    );
    emulator.stop().await;
    Ok(())
}
