//! `trctl quickstart`: the official TaskRouter quickstart as a walkthrough that runs
//! anywhere. By default it starts the emulator and a `trctl serve` listener in-process
//! on free loopback ports; `--target live` runs the same steps on a real account.
//!
//! Every stage is reported when it is *observed* (read back from the API or seen by the
//! listener), not when it is requested. The run exits 0 only if every stage was seen as
//! expected; otherwise it names the stage and what was seen instead.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use serde::Serialize;
use serde_json::json;

use crate::api::resources::*;
use crate::api::{Client, Credentials, Secret};
use crate::cli::{CliError, Ctx};
use crate::emulator::{Emulator, EmulatorConfig, DEV_ACCOUNT_SID, DEV_AUTH_TOKEN};
use crate::serve::instruction::Instruction;
use crate::serve::log::{LogRecord, LogSink};
use crate::serve::reply::{FixedReply, Mode};
use crate::serve::{RunningServer, ServeConfig};

/// Names from QUICKSTART.md (the workspace's name is ours: the tutorial's is only in a
/// screenshot).
const WORKSPACE: &str = "TaskRouter Quickstart";
const SPANISH: &str = "Customer Care Requests - Spanish";
const ENGLISH: &str = "Customer Care Requests - English";
const WORKFLOW: &str = "Incoming Customer Care Requests";
/// How long a stage may take before it counts as not observed.
const STAGE_TIMEOUT: Duration = Duration::from_secs(10);

/// Where the walkthrough runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Target {
    /// An in-process emulator (no account, no network).
    Emulator,
    /// The real TaskRouter, with the configured credentials.
    Live,
}

/// Flags of `quickstart`.
#[derive(Args, Debug)]
pub struct QuickstartArgs {
    /// Where to run (default: the emulator; `live` needs credentials and --public-url).
    #[arg(long, value_enum)]
    pub target: Option<Target>,
    /// Port of the in-process callback listener (0: any free port).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Public URL that reaches the listener (live target: TaskRouter must be able to call it).
    #[arg(long, value_name = "URL")]
    pub public_url: Option<String>,
    /// Delete what the walkthrough created when it ends.
    #[arg(long)]
    pub cleanup: bool,
    /// Do not ask before working on a live account.
    #[arg(long)]
    pub yes: bool,
}

/// One observed stage.
#[derive(Debug, Clone, Serialize)]
pub struct Stage {
    /// Short name, stable for scripts (`task-1-created`, …).
    pub stage: String,
    /// Milliseconds since the walkthrough started.
    pub elapsed_ms: u128,
    /// What was observed.
    pub detail: String,
    /// The task involved, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_sid: Option<String>,
    /// The reservation involved, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reservation_sid: Option<String>,
    /// The worker involved, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub worker_sid: Option<String>,
    /// The status observed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

struct Walk<'a> {
    ctx: &'a mut Ctx,
    /// A JSON transcript at the end (`--output json`) instead of a line per stage.
    json: bool,
    started: Instant,
    stages: Vec<Stage>,
}

impl Walk<'_> {
    fn record(
        &mut self,
        stage: &str,
        detail: String,
        task: Option<&str>,
        reservation: Option<&str>,
        worker: Option<&str>,
        status: Option<&str>,
    ) -> Result<(), CliError> {
        let stage = Stage {
            stage: stage.to_string(),
            elapsed_ms: self.started.elapsed().as_millis(),
            detail,
            task_sid: task.map(str::to_string),
            reservation_sid: reservation.map(str::to_string),
            worker_sid: worker.map(str::to_string),
            status: status.map(str::to_string),
        };
        if !self.json {
            let mut line = format!(
                "[{:>7.3}s] {:<26} {}",
                stage.elapsed_ms as f64 / 1000.0,
                stage.stage,
                stage.detail
            );
            // Every SID of the stage is on its line; the ones its detail names already
            // are not repeated.
            let sids: Vec<String> = [
                ("task", &stage.task_sid),
                ("reservation", &stage.reservation_sid),
                ("worker", &stage.worker_sid),
            ]
            .into_iter()
            .filter_map(|(label, sid)| Some((label, sid.as_deref()?)))
            .filter(|(_, sid)| !stage.detail.contains(sid))
            .map(|(label, sid)| format!("{label} {sid}"))
            .collect();
            if !sids.is_empty() {
                line.push_str(&format!(" ({})", sids.join(", ")));
            }
            if let Some(status) = &stage.status {
                line.push_str(&format!(" -> {status}"));
            }
            line.push('\n');
            self.ctx.print_text(&line)?;
            self.ctx.flush()?;
        }
        self.stages.push(stage);
        Ok(())
    }
}

fn failed(stage: &str, expected: &str, seen: &str) -> CliError {
    CliError::state(format!(
        "quickstart stage {stage} failed: expected {expected}, saw {seen}"
    ))
}

/// Poll `check` until it gives `Some`, or fail the stage with the last thing seen.
async fn observe<T>(
    stage: &str,
    expected: &str,
    mut check: impl AsyncFnMut() -> Result<Result<T, String>, CliError>,
) -> Result<T, CliError> {
    let started = Instant::now();
    loop {
        match check().await? {
            Ok(value) => return Ok(value),
            Err(seen) if started.elapsed() >= STAGE_TIMEOUT => {
                return Err(failed(stage, expected, &seen))
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
        }
    }
}

/// Run the walkthrough.
pub async fn run(ctx: &mut Ctx, args: QuickstartArgs) -> Result<(), CliError> {
    let target = match args.target {
        Some(target) => target,
        None if has_credentials(ctx) => {
            // Credentials are configured: the real account, after asking.
            Target::Live
        }
        None => Target::Emulator,
    };
    let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
    // The emulator target owns its server; the live one talks to the configured account.
    let (_emulator, client, token) = match target {
        Target::Emulator => {
            let emulator = Emulator::new(EmulatorConfig::default())
                .spawn(loopback)
                .await
                .map_err(|err| CliError::usage(format!("cannot start the emulator: {err}")))?;
            let credentials = Credentials {
                username: DEV_ACCOUNT_SID.into(),
                password: Secret::new(DEV_AUTH_TOKEN),
            };
            let client = Client::builder(credentials)
                .base_url(&emulator.url)
                .build()?;
            (Some(emulator), client, DEV_AUTH_TOKEN.to_string())
        }
        Target::Live => {
            let Some(public_url) = &args.public_url else {
                return Err(CliError::usage(
                    "the live target needs --public-url: TaskRouter must reach the callback listener (a tunnel such as ngrok to --port)",
                ));
            };
            url::Url::parse(public_url).map_err(|err| {
                CliError::usage(format!(
                    "invalid --public-url {}: {err}",
                    crate::api::redact_url(public_url)
                ))
            })?;
            if !args.yes && !confirm(ctx)? {
                return Err(CliError::usage(
                    "not confirmed: nothing was changed (pass --yes to skip the question)",
                ));
            }
            let token = ctx.global.auth_token.clone().filter(|t| !t.is_empty()).ok_or_else(|| {
                CliError::usage("the live target signs callbacks with the auth token: set TWILIO_AUTH_TOKEN")
            })?;
            (None, ctx.client()?, token)
        }
    };
    let json = ctx.json_output();
    let mut walk = Walk {
        json,
        started: Instant::now(),
        stages: Vec::new(),
        ctx,
    };
    let outcome = walkthrough(&mut walk, &client, &token, target, &args).await;
    if json {
        let transcript = json!({
            "target": match target { Target::Emulator => "emulator", Target::Live => "live" },
            "ok": outcome.is_ok(),
            "error": outcome.as_ref().err().map(|e| e.message.clone()),
            "stages": walk.stages,
        });
        walk.ctx.print_text(&format!(
            "{}\n",
            serde_json::to_string_pretty(&transcript).unwrap_or_default()
        ))?;
    }
    outcome
}

fn has_credentials(ctx: &Ctx) -> bool {
    let set = |value: &Option<String>| value.as_deref().is_some_and(|v| !v.is_empty());
    (set(&ctx.global.account_sid) && set(&ctx.global.auth_token))
        || (set(&ctx.global.api_key) && set(&ctx.global.api_secret))
}

fn confirm(ctx: &mut Ctx) -> Result<bool, CliError> {
    use std::io::IsTerminal;
    if !std::io::stdin().is_terminal() {
        return Err(CliError::usage(
            "credentials are configured, so the quickstart would change the real account; pass --yes to go ahead, or --target emulator",
        ));
    }
    ctx.note("trctl quickstart will create or reuse a workspace named \"TaskRouter Quickstart\" on your Twilio account. Continue? [y/N]");
    let mut answer = String::new();
    std::io::stdin()
        .read_line(&mut answer)
        .map_err(|err| CliError::usage(err.to_string()))?;
    Ok(matches!(
        answer.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}

/// The listener: answers with `mode`, records what it received.
async fn listener(
    token: &str,
    mode: Mode,
    port: u16,
    public_url: Option<String>,
) -> Result<(RunningServer, Arc<Mutex<Vec<LogRecord>>>), CliError> {
    let (sink, mut receiver) = LogSink::channel(1024);
    let seen: Arc<Mutex<Vec<LogRecord>>> = Arc::default();
    let collected = seen.clone();
    tokio::spawn(async move {
        while let Some(record) = receiver.recv().await {
            if let Ok(mut all) = collected.lock() {
                all.push(record);
            }
        }
    });
    let config = ServeConfig {
        mode,
        auth_token: Some(Secret::new(token)),
        public_url,
        log: Some(sink),
        ..ServeConfig::default()
    };
    let server = crate::serve::spawn(config, SocketAddr::from(([127, 0, 0, 1], port)))
        .await
        .map_err(|err| {
            CliError::usage(format!(
                "cannot start the callback listener on port {port}: {err} (try another --port)"
            ))
        })?;
    Ok((server, seen))
}

fn callback_record(seen: &Arc<Mutex<Vec<LogRecord>>>, reservation: &str) -> Option<LogRecord> {
    seen.lock()
        .ok()?
        .iter()
        .find(|r| r.kind == "assignment" && r.reservation.as_deref() == Some(reservation))
        .cloned()
}

async fn walkthrough(
    walk: &mut Walk<'_>,
    client: &Client,
    token: &str,
    target: Target,
    args: &QuickstartArgs,
) -> Result<(), CliError> {
    // ---- Part 1: the workspace, reused by name on a live account.
    let setup = setup(client).await?;
    let ws = setup.workspace.clone();
    walk.record(
        "setup",
        format!(
            "workspace {ws} ({}), workers Alice and Bob, queues Spanish and English, workflow {}",
            setup.note, setup.workflow
        ),
        None,
        None,
        None,
        None,
    )?;

    // ---- Part 2, step 1: the assignment callback answers {} (accept later by REST).
    let public = |server: &RunningServer| {
        args.public_url
            .clone()
            .unwrap_or_else(|| server.url.clone())
    };
    let (first_listener, first_seen) =
        listener(token, Mode::Empty, args.port, args.public_url.clone()).await?;
    let callback_url = format!(
        "{}{}",
        public(&first_listener),
        crate::serve::DEFAULT_ASSIGNMENT_PATH
    );
    let params = UpdateWorkflowParams {
        assignment_callback_url: Some(callback_url.clone()),
        ..Default::default()
    };
    client
        .update_workflow(&ws, &setup.workflow, &params)
        .await?;
    walk.record(
        "callback-url-set",
        format!("workflow calls {callback_url}, answered with {{}}"),
        None,
        None,
        None,
        None,
    )?;

    // ---- Step 2: Alice offline; a Spanish task waits.
    set_activity(client, &ws, &setup.alice, &setup.offline).await?;
    let seen = worker_activity(client, &ws, &setup.alice).await?;
    walk.record(
        "alice-offline",
        "Alice is Offline".into(),
        None,
        None,
        Some(&setup.alice),
        Some(&seen),
    )?;
    let first = create_task(client, &ws, &setup.workflow).await?;
    let status = observe("task-1-pending", "pending", async || {
        task_status(client, &ws, &first)
            .await
            .map(|s| if s == "pending" { Ok(s) } else { Err(s) })
    })
    .await?;
    walk.record(
        "task-1-created",
        format!("task {first} with {{\"selected_language\":\"es\"}} waits in {SPANISH}"),
        Some(&first),
        None,
        None,
        Some(&status),
    )?;

    // Alice available: she is reserved and the callback arrives.
    set_activity(client, &ws, &setup.alice, &setup.available).await?;
    walk.record(
        "alice-available",
        "Alice is Available".into(),
        None,
        None,
        Some(&setup.alice),
        Some("Available"),
    )?;
    let reservation = observe(
        "reservation-1-pending",
        "a pending reservation",
        async || pending_reservation(client, &ws, &first).await,
    )
    .await?;
    walk.record(
        "reservation-1-pending",
        format!("Alice reserved for task {first}"),
        Some(&first),
        Some(&reservation),
        Some(&setup.alice),
        Some("pending"),
    )?;
    let record = observe(
        "callback-1-received",
        "an assignment callback for the reservation",
        async || {
            Ok(callback_record(&first_seen, &reservation)
                .ok_or_else(|| "no callback yet".to_string()))
        },
    )
    .await?;
    walk.record(
        "callback-1-received",
        format!(
            "the listener received the assignment callback and answered {}",
            String::from_utf8_lossy(&record.reply)
        ),
        Some(&first),
        Some(&reservation),
        Some(&setup.alice),
        None,
    )?;

    // ---- Step 3: accept through the Reservations API.
    let accept = UpdateTaskReservationParams {
        reservation_status: Some("accepted".into()),
        ..Default::default()
    };
    client
        .update_task_reservation(&ws, &first, &reservation, &accept)
        .await?;
    let status = observe("task-1-assigned", "assigned", async || {
        task_status(client, &ws, &first)
            .await
            .map(|s| if s == "assigned" { Ok(s) } else { Err(s) })
    })
    .await?;
    walk.record(
        "reservation-1-accepted",
        "accepted through the Reservations REST API".into(),
        Some(&first),
        Some(&reservation),
        Some(&setup.alice),
        Some("accepted"),
    )?;
    walk.record(
        "task-1-assigned",
        format!("task {first} is assigned to Alice"),
        Some(&first),
        Some(&reservation),
        Some(&setup.alice),
        Some(&status),
    )?;
    first_listener.stop().await;

    // ---- Step 4: the callback answers {"instruction":"accept"}.
    set_activity(client, &ws, &setup.alice, &setup.offline).await?;
    let seen = worker_activity(client, &ws, &setup.alice).await?;
    walk.record(
        "alice-offline-again",
        "Alice is Offline".into(),
        None,
        None,
        Some(&setup.alice),
        Some(&seen),
    )?;
    let (second_listener, second_seen) = listener(
        token,
        Mode::Fixed(FixedReply::new(Instruction::Accept)),
        args.port,
        args.public_url.clone(),
    )
    .await?;
    let callback_url = format!(
        "{}{}",
        public(&second_listener),
        crate::serve::DEFAULT_ASSIGNMENT_PATH
    );
    let params = UpdateWorkflowParams {
        assignment_callback_url: Some(callback_url.clone()),
        ..Default::default()
    };
    client
        .update_workflow(&ws, &setup.workflow, &params)
        .await?;
    walk.record(
        "callback-answers-accept",
        format!("workflow calls {callback_url}, answered with {{\"instruction\":\"accept\"}}"),
        None,
        None,
        None,
        None,
    )?;
    let second = create_task(client, &ws, &setup.workflow).await?;
    let status = observe("task-2-pending", "pending", async || {
        task_status(client, &ws, &second)
            .await
            .map(|s| if s == "pending" { Ok(s) } else { Err(s) })
    })
    .await?;
    walk.record(
        "task-2-created",
        format!("task {second} waits in {SPANISH}"),
        Some(&second),
        None,
        None,
        Some(&status),
    )?;
    set_activity(client, &ws, &setup.alice, &setup.available).await?;
    walk.record(
        "alice-available-again",
        "Alice is Available".into(),
        None,
        None,
        Some(&setup.alice),
        Some("Available"),
    )?;
    let status = observe("task-2-assigned", "assigned", async || {
        task_status(client, &ws, &second)
            .await
            .map(|s| if s == "assigned" { Ok(s) } else { Err(s) })
    })
    .await?;
    let reservation = client
        .list_task_reservation(
            &ws,
            &second,
            &ListTaskReservationParams {
                reservation_status: Some("accepted".into()),
                ..Default::default()
            },
        )
        .await?
        .items
        .into_iter()
        .next()
        .and_then(|r| r.sid)
        .ok_or_else(|| failed("task-2-assigned", "an accepted reservation", "none"))?;
    let record = observe(
        "callback-2-received",
        "an assignment callback for the reservation",
        async || {
            Ok(callback_record(&second_seen, &reservation)
                .ok_or_else(|| "no callback yet".to_string()))
        },
    )
    .await?;
    walk.record(
        "callback-2-accepted",
        format!(
            "the listener answered {} and TaskRouter accepted",
            String::from_utf8_lossy(&record.reply)
        ),
        Some(&second),
        Some(&reservation),
        Some(&setup.alice),
        Some("accepted"),
    )?;
    walk.record(
        "task-2-assigned",
        format!("task {second} is assigned to Alice"),
        Some(&second),
        Some(&reservation),
        Some(&setup.alice),
        Some(&status),
    )?;
    second_listener.stop().await;

    // ---- Complete both tasks.
    for (stage, task) in [("task-1-completed", &first), ("task-2-completed", &second)] {
        let done = UpdateTaskParams {
            assignment_status: Some("completed".into()),
            reason: Some("quickstart done".into()),
            ..Default::default()
        };
        client.update_task(&ws, task, &done).await?;
        let status = observe(stage, "completed", async || {
            task_status(client, &ws, task)
                .await
                .map(|s| if s == "completed" { Ok(s) } else { Err(s) })
        })
        .await?;
        walk.record(
            stage,
            format!("task {task} completed"),
            Some(task),
            None,
            None,
            Some(&status),
        )?;
    }

    // Leave the workflow without our (now stopped) listener.
    let params = UpdateWorkflowParams {
        assignment_callback_url: Some(String::new()),
        ..Default::default()
    };
    client
        .update_workflow(&ws, &setup.workflow, &params)
        .await?;
    let _ = target;
    if args.cleanup {
        cleanup(client, &setup).await?;
        walk.record(
            "cleanup",
            format!("deleted what the walkthrough created in {ws}"),
            None,
            None,
            None,
            None,
        )?;
    }
    walk.record(
        "done",
        "every stage observed as expected".into(),
        None,
        None,
        None,
        None,
    )?;
    Ok(())
}

struct Setup {
    workspace: String,
    created_workspace: bool,
    created: Vec<(&'static str, String)>,
    workflow: String,
    alice: String,
    offline: String,
    available: String,
    note: &'static str,
}

async fn setup(client: &Client) -> Result<Setup, CliError> {
    let existing = client
        .list_workspace(&ListWorkspaceParams {
            friendly_name: Some(WORKSPACE.into()),
            ..Default::default()
        })
        .await?
        .items
        .into_iter()
        .find_map(|w| w.sid);
    let (workspace, created_workspace) = match existing {
        Some(sid) => (sid, false),
        None => {
            let params = CreateWorkspaceParams {
                friendly_name: WORKSPACE.into(),
                ..Default::default()
            };
            (
                client
                    .create_workspace(&params)
                    .await?
                    .sid
                    .unwrap_or_default(),
                true,
            )
        }
    };
    let ws = workspace.as_str();
    let mut created = Vec::new();
    let activities = client
        .list_activity(
            ws,
            &ListActivityParams {
                page_size: Some(1000),
                ..Default::default()
            },
        )
        .await?
        .items;
    let find_activity = |available: bool, preferred: &[&str]| {
        preferred
            .iter()
            .find_map(|name| {
                activities.iter().find(|a| {
                    a.friendly_name.as_deref() == Some(name) && a.available == Some(available)
                })
            })
            .and_then(|a| a.sid.clone())
    };
    let offline = find_activity(false, &["Offline"])
        .ok_or_else(|| CliError::state(format!("workspace {ws} has no Offline activity")))?;
    // The tutorial's available activity is "Idle"; new workspaces call it "Available".
    let available = find_activity(true, &["Idle", "Available"])
        .ok_or_else(|| CliError::state(format!("workspace {ws} has no available activity")))?;

    let queue = |name: &'static str, language: &'static str| async move {
        let found = client
            .list_task_queue(
                ws,
                &ListTaskQueueParams {
                    friendly_name: Some(name.into()),
                    ..Default::default()
                },
            )
            .await?
            .items
            .into_iter()
            .find_map(|q| q.sid);
        Ok::<_, CliError>(match found {
            Some(sid) => (sid, false),
            None => {
                let params = CreateTaskQueueParams {
                    friendly_name: name.into(),
                    target_workers: Some(format!("languages HAS \"{language}\"")),
                    ..Default::default()
                };
                (
                    client
                        .create_task_queue(ws, &params)
                        .await?
                        .sid
                        .unwrap_or_default(),
                    true,
                )
            }
        })
    };
    let (spanish, new_spanish) = queue(SPANISH, "es").await?;
    let (english, new_english) = queue(ENGLISH, "en").await?;
    if new_spanish {
        created.push(("queue", spanish.clone()));
    }
    if new_english {
        created.push(("queue", english.clone()));
    }
    let mut alice = String::new();
    for (name, attributes) in [
        ("Alice", json!({"languages": ["en", "es"]})),
        ("Bob", json!({"languages": ["en"]})),
    ] {
        let found = client
            .list_worker(
                ws,
                &ListWorkerParams {
                    friendly_name: Some(name.into()),
                    ..Default::default()
                },
            )
            .await?
            .items
            .into_iter()
            .find_map(|w| w.sid);
        let sid = match found {
            Some(sid) => sid,
            None => {
                let params = CreateWorkerParams {
                    friendly_name: name.into(),
                    attributes: Some(attributes.to_string()),
                    activity_sid: Some(offline.clone()),
                };
                let sid = client
                    .create_worker(ws, &params)
                    .await?
                    .sid
                    .unwrap_or_default();
                created.push(("worker", sid.clone()));
                sid
            }
        };
        if name == "Alice" {
            alice = sid;
        }
    }
    // The tutorial's workspace is single-tasking: Alice takes the second task while the
    // first is still assigned. In a multitasking workspace that needs a second slot on
    // her default channel.
    let channels = client
        .list_worker_channel(ws, &alice, &ListWorkerChannelParams::default())
        .await?
        .items;
    if let Some(channel) = channels
        .iter()
        .find(|c| c.task_channel_unique_name.as_deref() == Some("default"))
        .and_then(|c| c.sid.clone())
    {
        let params = UpdateWorkerChannelParams {
            capacity: Some(2),
            available: Some(true),
        };
        client
            .update_worker_channel(ws, &alice, &channel, &params)
            .await?;
    }
    let config = json!({"task_routing": {"filters": [
        {"filter_friendly_name": "Spanish", "expression": "selected_language == \"es\"", "targets": [{"queue": spanish}]},
        {"filter_friendly_name": "English", "expression": "selected_language == \"en\"", "targets": [{"queue": english}]}
    ]}})
    .to_string();
    let found = client
        .list_workflow(
            ws,
            &ListWorkflowParams {
                friendly_name: Some(WORKFLOW.into()),
                ..Default::default()
            },
        )
        .await?
        .items
        .into_iter()
        .find_map(|w| w.sid);
    let workflow = match found {
        Some(sid) => {
            let params = UpdateWorkflowParams {
                configuration: Some(config),
                task_reservation_timeout: Some(1200),
                ..Default::default()
            };
            client.update_workflow(ws, &sid, &params).await?;
            sid
        }
        None => {
            // A long reservation timeout: the walkthrough accepts by hand (QUICKSTART.md).
            let params = CreateWorkflowParams {
                friendly_name: WORKFLOW.into(),
                configuration: config,
                task_reservation_timeout: Some(1200),
                ..Default::default()
            };
            let sid = client
                .create_workflow(ws, &params)
                .await?
                .sid
                .unwrap_or_default();
            created.push(("workflow", sid.clone()));
            sid
        }
    };
    let note = if created_workspace {
        "created"
    } else {
        "reused"
    };
    Ok(Setup {
        workspace,
        created_workspace,
        created,
        workflow,
        alice,
        offline,
        available,
        note,
    })
}

async fn cleanup(client: &Client, setup: &Setup) -> Result<(), CliError> {
    let ws = setup.workspace.as_str();
    if setup.created_workspace {
        client.delete_workspace(ws).await?;
        return Ok(());
    }
    for (kind, sid) in setup.created.iter().rev() {
        match *kind {
            "workflow" => client.delete_workflow(ws, sid).await?,
            "queue" => client.delete_task_queue(ws, sid).await?,
            _ => {
                client
                    .delete_worker(ws, sid, &DeleteWorkerParams::default())
                    .await?
            }
        }
    }
    Ok(())
}

async fn set_activity(
    client: &Client,
    ws: &str,
    worker: &str,
    activity: &str,
) -> Result<(), CliError> {
    let params = UpdateWorkerParams {
        activity_sid: Some(activity.into()),
        ..Default::default()
    };
    client.update_worker(ws, worker, &params).await?;
    Ok(())
}

async fn worker_activity(client: &Client, ws: &str, worker: &str) -> Result<String, CliError> {
    Ok(client
        .fetch_worker(ws, worker)
        .await?
        .activity_name
        .unwrap_or_default())
}

async fn create_task(client: &Client, ws: &str, workflow: &str) -> Result<String, CliError> {
    let params = CreateTaskParams {
        workflow_sid: Some(workflow.into()),
        attributes: Some("{\"selected_language\":\"es\"}".into()),
        ..Default::default()
    };
    Ok(client
        .create_task(ws, &params)
        .await?
        .sid
        .unwrap_or_default())
}

async fn task_status(client: &Client, ws: &str, task: &str) -> Result<String, CliError> {
    Ok(client
        .fetch_task(ws, task)
        .await?
        .assignment_status
        .unwrap_or_default())
}

async fn pending_reservation(
    client: &Client,
    ws: &str,
    task: &str,
) -> Result<Result<String, String>, CliError> {
    let params = ListTaskReservationParams {
        reservation_status: Some("pending".into()),
        ..Default::default()
    };
    let found = client
        .list_task_reservation(ws, task, &params)
        .await?
        .items
        .into_iter()
        .find_map(|r| r.sid);
    Ok(found.ok_or_else(|| "no pending reservation".to_string()))
}
