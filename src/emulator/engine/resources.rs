//! Command handlers: check everything first, then change the state, then record events.
//! A handler that returns an error has changed nothing.

use serde_json::{json, Map, Value};

use super::error::EngineError;
use super::routing::Decision;
use super::state::{
    intern, Activity, Event, EventData, Millis, State, Table, Task, TaskChannel, TaskQueue, Worker,
    WorkerChannel, Workflow, Workspace,
};
use super::validate;
use super::{CallbackReply, Command, Effect, Reply, SidSource};
use crate::api::limits;
use crate::api::resources::*;
use crate::workflow::{QueueDef, TargetWorkers};
use std::sync::Arc;

// TaskRouter's limits and defaults (crate::api::limits), as the engine's integers.
const MAX_TASK_TIMEOUT: i64 = limits::MAX_TASK_TTL_SECONDS as i64;
const DEFAULT_TASK_TIMEOUT: i64 = limits::DEFAULT_TASK_TTL_SECONDS as i64;
const DEFAULT_RESERVATION_TIMEOUT: i64 = limits::DEFAULT_RESERVATION_TIMEOUT_SECONDS as i64;
const MAX_RESERVATION_TIMEOUT: i64 = limits::MAX_RESERVATION_TIMEOUT_SECONDS as i64;
const MAX_PRIORITY: i64 = limits::MAX_PRIORITY as i64;

/// The default activities of a new workspace, in Twilio's order (ROUTING.md §4.1).
const DEFAULT_ACTIVITIES: [(&str, bool); 3] = [
    ("Offline", false),
    ("Available", true),
    ("Unavailable", false),
];
/// The default task channels of a new workspace (ROUTING.md §4.4).
const DEFAULT_CHANNELS: [(&str, &str); 5] = [
    ("Voice", "voice"),
    ("SMS", "sms"),
    ("Chat", "chat"),
    ("Video", "video"),
    ("Default", "default"),
];

pub(super) struct Context<'a> {
    pub state: &'a mut State,
    pub sids: &'a mut dyn SidSource,
    pub now: Millis,
    /// The latest time a command was applied before this one: timers never fire earlier.
    pub floor: Millis,
    pub effects: Vec<Effect>,
    /// Workers that may take work now (activity or capacity changed): routed at the end.
    pub dirty_workers: Vec<(String, String)>,
}

/// A queue's compiled membership rule (the text was checked when it was set).
pub(super) fn queue_def(sid: &str, name: &str, target_workers: &str) -> Arc<QueueDef> {
    Arc::new(QueueDef {
        sid: sid.to_string(),
        friendly_name: name.to_string(),
        target_workers: TargetWorkers::from_field(Some(target_workers))
            .unwrap_or(TargetWorkers::Nobody),
    })
}

/// Path of a workspace-level collection item below `/v1`, for not-found messages.
fn path(workspace: &str, collection: &str, sid: &str) -> String {
    format!("/Workspaces/{workspace}/{collection}/{sid}")
}

fn check_if_match(if_match: Option<&str>, version: u64) -> Result<(), EngineError> {
    if let Some(expected) = if_match {
        let trimmed = expected.trim().trim_matches('"');
        if trimmed != "*" && trimmed != version.to_string() {
            return Err(EngineError::precondition_failed(expected, version));
        }
    }
    Ok(())
}

fn one_of(name: &str, value: &str, allowed: &[&str]) -> Result<(), EngineError> {
    if allowed.contains(&value) {
        Ok(())
    } else {
        Err(EngineError::bad_request(format!(
            "Invalid {name}: {value:?} is not one of {}",
            allowed.join(", ")
        )))
    }
}

fn url_param(name: &str, value: &Option<String>) -> Result<Option<String>, EngineError> {
    match value.as_deref() {
        None => Ok(None),
        // Sending the parameter empty clears it (WIRE.md §1.4).
        Some("") => Ok(None),
        Some(text) => {
            let parsed = url::Url::parse(text).map_err(|_| {
                EngineError::bad_request(format!("Invalid {name}: {text:?} is not a URL"))
            })?;
            if parsed.scheme() != "http" && parsed.scheme() != "https" {
                return Err(EngineError::bad_request(format!(
                    "Invalid {name}: {text:?} is not an http(s) URL"
                )));
            }
            Ok(Some(text.to_string()))
        }
    }
}

fn name_param(name: &str, value: &str) -> Result<String, EngineError> {
    if value.trim().is_empty() {
        return Err(EngineError::bad_request(format!(
            "Missing required parameter {name} in the post body"
        )));
    }
    if value.chars().count() > 64 {
        return Err(EngineError::bad_request(format!(
            "Invalid {name}: longer than 64 characters"
        )));
    }
    Ok(value.to_string())
}

impl Context<'_> {
    /// Route the workers whose situation changed, until nothing more can be reserved.
    pub fn settle(&mut self) {
        while let Some((workspace, worker)) = self.dirty_workers.pop() {
            self.dirty_workers
                .retain(|entry| entry != &(workspace.clone(), worker.clone()));
            self.route_worker(&workspace, &worker);
        }
    }

    /// Fire every deadline due by `self.now`, one at a time, earliest first (ties in the
    /// order they were set), each at its own instant: `self.now` is that deadline while it
    /// fires and while the workers it freed are routed, so whatever it causes (the next
    /// step, new deadlines, events, reservations) is dated then. Deadlines a firing sets
    /// that still fall due by the end are fired in turn. Time never runs backwards: a
    /// deadline older than `floor` (the latest time a command was applied) fires at
    /// `floor`. `self.now` is the end time again when this returns.
    fn tick(&mut self) {
        let end = self.now;
        let floor = self.floor.min(end);
        while let Some(first) = self.state.deadlines.first().cloned() {
            if first.0 > end {
                break;
            }
            self.state.deadlines.remove(&first);
            self.now = first.0.max(floor);
            self.fire(first.2);
            self.settle();
        }
        self.now = end;
    }

    pub fn apply(&mut self, command: Command) -> Result<Reply, EngineError> {
        match command {
            Command::CreateWorkspace(params) => self.create_workspace(params),
            Command::UpdateWorkspace { workspace, params } => {
                self.update_workspace(&workspace, params)
            }
            Command::DeleteWorkspace { workspace } => {
                self.workspace(&workspace)?;
                self.state.workspaces.remove(&workspace);
                Ok(Reply::Deleted)
            }
            Command::CreateActivity { workspace, params } => {
                self.create_activity(&workspace, params)
            }
            Command::UpdateActivity {
                workspace,
                sid,
                params,
            } => self.update_activity(&workspace, &sid, params),
            Command::DeleteActivity { workspace, sid } => self.delete_activity(&workspace, &sid),
            Command::CreateTaskChannel { workspace, params } => {
                self.create_channel(&workspace, params)
            }
            Command::UpdateTaskChannel {
                workspace,
                sid,
                params,
            } => self.update_channel(&workspace, &sid, params),
            Command::DeleteTaskChannel { workspace, sid } => self.delete_channel(&workspace, &sid),
            Command::CreateTaskQueue { workspace, params } => self.create_queue(&workspace, params),
            Command::UpdateTaskQueue {
                workspace,
                sid,
                params,
            } => self.update_queue(&workspace, &sid, params),
            Command::DeleteTaskQueue { workspace, sid } => self.delete_queue(&workspace, &sid),
            Command::CreateWorkflow { workspace, params } => {
                self.create_workflow(&workspace, params)
            }
            Command::UpdateWorkflow {
                workspace,
                sid,
                params,
            } => self.update_workflow(&workspace, &sid, params),
            Command::DeleteWorkflow { workspace, sid } => self.delete_workflow(&workspace, &sid),
            Command::CreateWorker { workspace, params } => self.create_worker(&workspace, params),
            Command::UpdateWorker {
                workspace,
                sid,
                params,
            } => self.update_worker(&workspace, &sid, params),
            Command::DeleteWorker {
                workspace,
                sid,
                if_match,
            } => self.delete_worker(&workspace, &sid, if_match.as_deref()),
            Command::UpdateWorkerChannel {
                workspace,
                worker,
                sid,
                params,
            } => self.update_worker_channel(&workspace, &worker, &sid, params),
            Command::CreateTask { workspace, params } => self.create_task(&workspace, params),
            Command::UpdateTask {
                workspace,
                sid,
                params,
            } => self.update_task(&workspace, &sid, params),
            Command::DeleteTask {
                workspace,
                sid,
                if_match,
            } => self.delete_task(&workspace, &sid, if_match.as_deref()),
            Command::Tick => {
                self.tick();
                Ok(Reply::Updated(String::new()))
            }
            Command::CallbackReply {
                workspace,
                reservation,
                reply,
            } => {
                let decision = match reply {
                    CallbackReply::NoInstruction | CallbackReply::Failed => {
                        return Ok(Reply::Updated(reservation))
                    }
                    CallbackReply::Instruction(body) => instruction_decision(&body),
                };
                // The reservation may have ended meanwhile (timeout, REST): then the reply
                // has nothing left to act on.
                let pending = self
                    .state
                    .workspaces
                    .get(&workspace)
                    .and_then(|ws| ws.reservations.get(&reservation))
                    .is_some_and(|r| r.status == "pending");
                if pending {
                    self.decide(&workspace, &reservation, decision)?;
                }
                Ok(Reply::Updated(reservation))
            }
            Command::UpdateReservation {
                workspace,
                task,
                worker,
                sid,
                params,
            } => self.update_reservation(
                &workspace,
                task.as_deref(),
                worker.as_deref(),
                &sid,
                params,
            ),
        }
    }

    fn workspace(&self, sid: &str) -> Result<&Workspace, EngineError> {
        self.state
            .workspaces
            .get(sid)
            .ok_or_else(|| EngineError::not_found(&format!("/Workspaces/{sid}")))
    }

    fn workspace_mut(&mut self, sid: &str) -> Result<&mut Workspace, EngineError> {
        self.state
            .workspaces
            .get_mut(sid)
            .ok_or_else(|| EngineError::not_found(&format!("/Workspaces/{sid}")))
    }

    /// Record an event in the workspace's log and tell the runner.
    pub(super) fn emit(
        &mut self,
        workspace: &str,
        event_type: &str,
        resource: (&str, &str, String),
        description: String,
        mut data: Map<String, Value>,
    ) {
        let sid = self.sids.next("EV");
        let now = self.now;
        let Some(ws) = self.state.workspaces.get_mut(workspace) else {
            return;
        };
        data.insert("workspace_sid".into(), json!(ws.sid));
        data.insert("workspace_name".into(), json!(ws.friendly_name));
        let (resource_type, resource_sid, resource_path) = resource;
        // Only a workspace with an event callback URL has anyone to deliver to (its
        // EventsFilter is applied at delivery); the others skip the runner entirely.
        let deliver = ws.event_callback_url.is_some();
        ws.events.insert(Event {
            sid: sid.clone(),
            event_type: intern(event_type),
            description,
            resource_type: intern(resource_type),
            resource_sid: resource_sid.to_string(),
            resource_path,
            date: now,
            data: EventData::from_map(data),
        });
        if deliver {
            self.effects.push(Effect::Event {
                workspace: workspace.to_string(),
                event: sid,
            });
        }
    }

    // ------------------------------------------------------------------ workspaces

    fn create_workspace(&mut self, params: CreateWorkspaceParams) -> Result<Reply, EngineError> {
        let friendly_name = name_param("FriendlyName", &params.friendly_name)?;
        let template = params
            .template
            .clone()
            .unwrap_or_else(|| "NONE".to_string());
        one_of("Template", &template, &["NONE", "FIFO"])?;
        let order = params
            .prioritize_queue_order
            .clone()
            .unwrap_or_else(|| "FIFO".to_string());
        one_of(
            "PrioritizeQueueOrder",
            &order,
            PRIORITIZE_QUEUE_ORDER_VALUES,
        )?;
        let event_callback_url = url_param("EventCallbackUrl", &params.event_callback_url)?;
        let now = self.now;
        let sid = self.sids.next("WS");
        let mut workspace = Workspace {
            sid: sid.clone(),
            friendly_name,
            event_callback_url,
            events_filter: params.events_filter.filter(|f| !f.is_empty()),
            default_activity_sid: String::new(),
            timeout_activity_sid: String::new(),
            // New workspaces are multitasking unless asked otherwise (ROUTING.md §4.2).
            multi_task_enabled: params.multi_task_enabled.unwrap_or(true),
            prioritize_queue_order: order,
            created: now,
            updated: now,
            activities: Table::default(),
            channels: Table::default(),
            queues: Table::default(),
            workflows: Table::default(),
            workers: Table::default(),
            tasks: Table::default(),
            reservations: Table::default(),
            events: Table::default(),
            pending: Default::default(),
            loads: Default::default(),
            by_task: Default::default(),
            idle: Default::default(),
        };
        for (name, available) in DEFAULT_ACTIVITIES {
            let activity_sid = self.sids.next("WA");
            if name == "Offline" {
                workspace.default_activity_sid = activity_sid.clone();
                workspace.timeout_activity_sid = activity_sid.clone();
            }
            workspace.activities.insert(Activity {
                sid: activity_sid,
                friendly_name: name.into(),
                available,
                created: now,
                updated: now,
            });
        }
        for (name, unique) in DEFAULT_CHANNELS {
            let channel_sid = self.sids.next("TC");
            workspace.channels.insert(TaskChannel {
                sid: channel_sid,
                friendly_name: name.into(),
                unique_name: unique.into(),
                channel_optimized_routing: None,
                created: now,
                updated: now,
            });
        }
        if template == "FIFO" {
            // What the FIFO template creates, as observed (ROUTING.md §4.3, unconfirmed).
            let queue_sid = self.sids.next("WQ");
            workspace.queues.insert(TaskQueue {
                sid: queue_sid.clone(),
                friendly_name: "Sample Queue".into(),
                target_workers: "1==1".into(),
                max_reserved_workers: 1,
                task_order: "FIFO".into(),
                reservation_activity_sid: None,
                assignment_activity_sid: None,
                def: queue_def(&queue_sid, "Sample Queue", "1==1"),
                created: now,
                updated: now,
            });
            let configuration =
                json!({"task_routing": {"default_filter": {"queue": queue_sid}}}).to_string();
            let compiled = validate::workflow_configuration(&workspace, &configuration)?;
            workspace.workflows.insert(Workflow {
                sid: self.sids.next("WW"),
                friendly_name: "Default Fifo Workflow".into(),
                configuration,
                assignment_callback_url: None,
                fallback_assignment_callback_url: None,
                task_reservation_timeout: DEFAULT_RESERVATION_TIMEOUT,
                compiled,
                created: now,
                updated: now,
            });
        }
        let name = workspace.friendly_name.clone();
        self.state.workspaces.insert(workspace);
        self.emit(
            &sid,
            "workspace.created",
            ("workspace", &sid, format!("/Workspaces/{sid}")),
            format!("Workspace {name} created"),
            Map::new(),
        );
        Ok(Reply::Created(sid))
    }

    fn update_workspace(
        &mut self,
        sid: &str,
        params: UpdateWorkspaceParams,
    ) -> Result<Reply, EngineError> {
        let ws = self.workspace(sid)?;
        for (name, value) in [
            ("DefaultActivitySid", &params.default_activity_sid),
            ("TimeoutActivitySid", &params.timeout_activity_sid),
        ] {
            if let Some(activity) = value {
                if ws.activities.get(activity).is_none() {
                    return Err(EngineError::bad_request(format!(
                        "Invalid {name}: activity {activity} does not exist in workspace {sid}"
                    )));
                }
            }
        }
        if let Some(order) = &params.prioritize_queue_order {
            one_of("PrioritizeQueueOrder", order, PRIORITIZE_QUEUE_ORDER_VALUES)?;
        }
        let friendly_name = params
            .friendly_name
            .as_deref()
            .map(|n| name_param("FriendlyName", n))
            .transpose()?;
        let event_callback_url = match &params.event_callback_url {
            Some(_) => Some(url_param("EventCallbackUrl", &params.event_callback_url)?),
            None => None,
        };
        let now = self.now;
        let ws = self.workspace_mut(sid)?;
        if let Some(name) = friendly_name {
            ws.friendly_name = name;
        }
        if let Some(url) = event_callback_url {
            ws.event_callback_url = url;
        }
        if let Some(filter) = params.events_filter {
            ws.events_filter = Some(filter).filter(|f| !f.is_empty());
        }
        if let Some(activity) = params.default_activity_sid {
            ws.default_activity_sid = activity;
        }
        if let Some(activity) = params.timeout_activity_sid {
            ws.timeout_activity_sid = activity;
        }
        if let Some(enabled) = params.multi_task_enabled {
            ws.multi_task_enabled = enabled;
        }
        if let Some(order) = params.prioritize_queue_order {
            ws.prioritize_queue_order = order;
        }
        ws.updated = now;
        let name = ws.friendly_name.clone();
        self.emit(
            sid,
            "workspace.updated",
            ("workspace", sid, format!("/Workspaces/{sid}")),
            format!("Workspace {name} updated"),
            Map::new(),
        );
        Ok(Reply::Updated(sid.to_string()))
    }

    // ------------------------------------------------------------------ activities

    fn create_activity(
        &mut self,
        workspace: &str,
        params: CreateActivityParams,
    ) -> Result<Reply, EngineError> {
        self.workspace(workspace)?;
        let friendly_name = name_param("FriendlyName", &params.friendly_name)?;
        let now = self.now;
        let sid = self.sids.next("WA");
        let available = params.available.unwrap_or(false);
        self.workspace_mut(workspace)?.activities.insert(Activity {
            sid: sid.clone(),
            friendly_name: friendly_name.clone(),
            available,
            created: now,
            updated: now,
        });
        let data = activity_data(&sid, &friendly_name, available);
        self.emit(
            workspace,
            "activity.created",
            ("activity", &sid, path(workspace, "Activities", &sid)),
            format!("Activity {friendly_name} created"),
            data,
        );
        Ok(Reply::Created(sid))
    }

    fn update_activity(
        &mut self,
        workspace: &str,
        sid: &str,
        params: UpdateActivityParams,
    ) -> Result<Reply, EngineError> {
        let ws = self.workspace(workspace)?;
        ws.activities
            .get(sid)
            .ok_or_else(|| EngineError::not_found(&path(workspace, "Activities", sid)))?;
        let friendly_name = params
            .friendly_name
            .as_deref()
            .map(|n| name_param("FriendlyName", n))
            .transpose()?;
        let now = self.now;
        let ws = self.workspace_mut(workspace)?;
        let Some(activity) = ws.activities.get_mut(sid) else {
            return Err(EngineError::not_found(&path(workspace, "Activities", sid)));
        };
        if let Some(name) = friendly_name {
            activity.friendly_name = name;
        }
        activity.updated = now;
        let data = activity_data(sid, &activity.friendly_name, activity.available);
        let description = format!("Activity {} updated", activity.friendly_name);
        self.emit(
            workspace,
            "activity.updated",
            ("activity", sid, path(workspace, "Activities", sid)),
            description,
            data,
        );
        Ok(Reply::Updated(sid.to_string()))
    }

    fn delete_activity(&mut self, workspace: &str, sid: &str) -> Result<Reply, EngineError> {
        let ws = self.workspace(workspace)?;
        let activity = ws
            .activities
            .get(sid)
            .ok_or_else(|| EngineError::not_found(&path(workspace, "Activities", sid)))?;
        // An activity that anything still refers to cannot go (WIRE.md §3.3: code unconfirmed).
        if ws.default_activity_sid == sid || ws.timeout_activity_sid == sid {
            return Err(EngineError::in_use(
                "activity",
                sid,
                "the workspace (default or timeout activity)",
            ));
        }
        if let Some(worker) = ws.workers.iter().find(|w| w.activity_sid == sid) {
            return Err(EngineError::in_use(
                "activity",
                sid,
                &format!("worker {}", worker.sid),
            ));
        }
        if let Some(queue) = ws.queues.iter().find(|q| {
            q.reservation_activity_sid.as_deref() == Some(sid)
                || q.assignment_activity_sid.as_deref() == Some(sid)
        }) {
            return Err(EngineError::in_use(
                "activity",
                sid,
                &format!("task queue {}", queue.sid),
            ));
        }
        let data = activity_data(sid, &activity.friendly_name, activity.available);
        let description = format!("Activity {} deleted", activity.friendly_name);
        self.workspace_mut(workspace)?.activities.remove(sid);
        self.emit(
            workspace,
            "activity.deleted",
            ("activity", sid, path(workspace, "Activities", sid)),
            description,
            data,
        );
        Ok(Reply::Deleted)
    }

    // ------------------------------------------------------------------ task channels

    fn create_channel(
        &mut self,
        workspace: &str,
        params: CreateTaskChannelParams,
    ) -> Result<Reply, EngineError> {
        let ws = self.workspace(workspace)?;
        let friendly_name = name_param("FriendlyName", &params.friendly_name)?;
        let unique_name = name_param("UniqueName", &params.unique_name)?;
        // Unique names appear in expressions (worker.channel.<name>…), so no hyphens (ROUTING.md §4.4).
        if unique_name.contains('-') || unique_name.contains(char::is_whitespace) {
            return Err(EngineError::bad_request(format!(
                "Invalid UniqueName {unique_name:?}: it may not contain hyphens or spaces"
            )));
        }
        if ws.channels.iter().any(|c| c.unique_name == unique_name) {
            return Err(EngineError::bad_request(format!("Task channel with unique name {unique_name} already exists for workspace {workspace}")));
        }
        let worker_sids: Vec<String> = ws.workers.iter().map(|w| w.sid.clone()).collect();
        let now = self.now;
        let sid = self.sids.next("TC");
        let channel_sids: Vec<String> = worker_sids.iter().map(|_| self.sids.next("WC")).collect();
        let ws = self.workspace_mut(workspace)?;
        ws.channels.insert(TaskChannel {
            sid: sid.clone(),
            friendly_name: friendly_name.clone(),
            unique_name: unique_name.clone(),
            channel_optimized_routing: params.channel_optimized_routing,
            created: now,
            updated: now,
        });
        // Every worker gets a channel for the new task channel.
        for (worker_sid, channel_sid) in worker_sids.iter().zip(channel_sids) {
            if let Some(worker) = ws.workers.get_mut(worker_sid) {
                worker.channels.push(WorkerChannel {
                    sid: channel_sid,
                    task_channel_sid: sid.clone(),
                    configured_capacity: 1,
                    available: true,
                    created: now,
                    updated: now,
                });
            }
        }
        let data = channel_data(
            &sid,
            &friendly_name,
            &unique_name,
            params.channel_optimized_routing,
        );
        self.emit(
            workspace,
            "task-channel.created",
            ("task-channel", &sid, path(workspace, "TaskChannels", &sid)),
            format!("Task channel {unique_name} created"),
            data,
        );
        Ok(Reply::Created(sid))
    }

    fn update_channel(
        &mut self,
        workspace: &str,
        sid: &str,
        params: UpdateTaskChannelParams,
    ) -> Result<Reply, EngineError> {
        self.workspace(workspace)?
            .channels
            .get(sid)
            .ok_or_else(|| EngineError::not_found(&path(workspace, "TaskChannels", sid)))?;
        let friendly_name = params
            .friendly_name
            .as_deref()
            .map(|n| name_param("FriendlyName", n))
            .transpose()?;
        let now = self.now;
        let ws = self.workspace_mut(workspace)?;
        let Some(channel) = ws.channels.get_mut(sid) else {
            return Err(EngineError::not_found(&path(
                workspace,
                "TaskChannels",
                sid,
            )));
        };
        if let Some(name) = friendly_name {
            channel.friendly_name = name;
        }
        if let Some(optimized) = params.channel_optimized_routing {
            channel.channel_optimized_routing = Some(optimized);
        }
        channel.updated = now;
        let data = channel_data(
            sid,
            &channel.friendly_name,
            &channel.unique_name,
            channel.channel_optimized_routing,
        );
        let description = format!("Task channel {} updated", channel.unique_name);
        self.emit(
            workspace,
            "task-channel.updated",
            ("task-channel", sid, path(workspace, "TaskChannels", sid)),
            description,
            data,
        );
        Ok(Reply::Updated(sid.to_string()))
    }

    fn delete_channel(&mut self, workspace: &str, sid: &str) -> Result<Reply, EngineError> {
        let ws = self.workspace(workspace)?;
        let channel = ws
            .channels
            .get(sid)
            .ok_or_else(|| EngineError::not_found(&path(workspace, "TaskChannels", sid)))?;
        if let Some(task) = ws
            .tasks
            .iter()
            .find(|t| t.task_channel_sid == sid && !is_terminal(&t.assignment_status))
        {
            return Err(EngineError::in_use(
                "task channel",
                sid,
                &format!("task {}", task.sid),
            ));
        }
        let data = channel_data(
            sid,
            &channel.friendly_name,
            &channel.unique_name,
            channel.channel_optimized_routing,
        );
        let description = format!("Task channel {} deleted", channel.unique_name);
        let ws = self.workspace_mut(workspace)?;
        ws.channels.remove(sid);
        for worker in ws.workers.iter_mut() {
            worker.channels.retain(|c| c.task_channel_sid != sid);
        }
        self.emit(
            workspace,
            "task-channel.deleted",
            ("task-channel", sid, path(workspace, "TaskChannels", sid)),
            description,
            data,
        );
        Ok(Reply::Deleted)
    }

    // ------------------------------------------------------------------ task queues

    fn check_queue_activity(
        ws: &Workspace,
        name: &str,
        value: &Option<String>,
    ) -> Result<(), EngineError> {
        match value.as_deref() {
            None | Some("") => Ok(()),
            Some(sid) if ws.activities.get(sid).is_some() => Ok(()),
            Some(sid) => Err(EngineError::bad_request(format!(
                "Invalid {name}: activity {sid} does not exist in workspace {}",
                ws.sid
            ))),
        }
    }

    fn create_queue(
        &mut self,
        workspace: &str,
        params: CreateTaskQueueParams,
    ) -> Result<Reply, EngineError> {
        let account = self.state.account_sid.clone();
        let ws = self.workspace(workspace)?;
        let friendly_name = name_param("FriendlyName", &params.friendly_name)?;
        if ws.queues.iter().any(|q| q.friendly_name == friendly_name) {
            return Err(EngineError::duplicate(
                "Queue",
                &friendly_name,
                workspace,
                &account,
            ));
        }
        // Omitted means everyone (`1==1`); sent empty means nobody (ROUTING.md §3.1).
        let target_workers = params
            .target_workers
            .clone()
            .unwrap_or_else(|| "1==1".to_string());
        validate::target_workers(&target_workers)?;
        let max_reserved = params.max_reserved_workers.unwrap_or(1);
        if !(1..=50).contains(&max_reserved) {
            return Err(EngineError::bad_request(format!(
                "Invalid MaxReservedWorkers {max_reserved}: it must be between 1 and 50"
            )));
        }
        let task_order = params
            .task_order
            .clone()
            .unwrap_or_else(|| "FIFO".to_string());
        one_of("TaskOrder", &task_order, TASK_QUEUE_ENUM_TASK_ORDER)?;
        Self::check_queue_activity(
            ws,
            "ReservationActivitySid",
            &params.reservation_activity_sid,
        )?;
        Self::check_queue_activity(ws, "AssignmentActivitySid", &params.assignment_activity_sid)?;
        let now = self.now;
        let sid = self.sids.next("WQ");
        self.workspace_mut(workspace)?.queues.insert(TaskQueue {
            sid: sid.clone(),
            friendly_name: friendly_name.clone(),
            target_workers: target_workers.clone(),
            max_reserved_workers: max_reserved,
            task_order,
            reservation_activity_sid: params.reservation_activity_sid.filter(|s| !s.is_empty()),
            assignment_activity_sid: params.assignment_activity_sid.filter(|s| !s.is_empty()),
            def: queue_def(&sid, &friendly_name, &target_workers),
            created: now,
            updated: now,
        });
        let data = queue_data(&sid, &friendly_name, &target_workers);
        self.emit(
            workspace,
            "task-queue.created",
            ("task-queue", &sid, path(workspace, "TaskQueues", &sid)),
            format!("Task queue {friendly_name} created"),
            data,
        );
        Ok(Reply::Created(sid))
    }

    fn update_queue(
        &mut self,
        workspace: &str,
        sid: &str,
        params: UpdateTaskQueueParams,
    ) -> Result<Reply, EngineError> {
        let account = self.state.account_sid.clone();
        let ws = self.workspace(workspace)?;
        ws.queues
            .get(sid)
            .ok_or_else(|| EngineError::not_found(&path(workspace, "TaskQueues", sid)))?;
        let friendly_name = params
            .friendly_name
            .as_deref()
            .map(|n| name_param("FriendlyName", n))
            .transpose()?;
        if let Some(name) = &friendly_name {
            if ws
                .queues
                .iter()
                .any(|q| &q.friendly_name == name && q.sid != sid)
            {
                return Err(EngineError::duplicate("Queue", name, workspace, &account));
            }
        }
        if let Some(target) = &params.target_workers {
            validate::target_workers(target)?;
        }
        if let Some(max) = params.max_reserved_workers {
            if !(1..=50).contains(&max) {
                return Err(EngineError::bad_request(format!(
                    "Invalid MaxReservedWorkers {max}: it must be between 1 and 50"
                )));
            }
        }
        if let Some(order) = &params.task_order {
            one_of("TaskOrder", order, TASK_QUEUE_ENUM_TASK_ORDER)?;
        }
        Self::check_queue_activity(
            ws,
            "ReservationActivitySid",
            &params.reservation_activity_sid,
        )?;
        Self::check_queue_activity(ws, "AssignmentActivitySid", &params.assignment_activity_sid)?;
        let now = self.now;
        let ws = self.workspace_mut(workspace)?;
        let Some(queue) = ws.queues.get_mut(sid) else {
            return Err(EngineError::not_found(&path(workspace, "TaskQueues", sid)));
        };
        let expression_changed = params
            .target_workers
            .as_ref()
            .is_some_and(|t| t != &queue.target_workers);
        if let Some(name) = friendly_name {
            queue.friendly_name = name;
        }
        if let Some(target) = params.target_workers {
            queue.target_workers = target;
        }
        if let Some(max) = params.max_reserved_workers {
            queue.max_reserved_workers = max;
        }
        if let Some(order) = params.task_order {
            queue.task_order = order;
        }
        if let Some(activity) = params.reservation_activity_sid {
            queue.reservation_activity_sid = Some(activity).filter(|s| !s.is_empty());
        }
        if let Some(activity) = params.assignment_activity_sid {
            queue.assignment_activity_sid = Some(activity).filter(|s| !s.is_empty());
        }
        queue.def = queue_def(&queue.sid, &queue.friendly_name, &queue.target_workers);
        queue.updated = now;
        let data = queue_data(sid, &queue.friendly_name, &queue.target_workers);
        let description = format!(
            "Task queue {} target expression updated",
            queue.friendly_name
        );
        if expression_changed {
            self.emit(
                workspace,
                "task-queue.expression.updated",
                ("task-queue", sid, path(workspace, "TaskQueues", sid)),
                description,
                data,
            );
        }
        // New members or more room per task may make waiting tasks routable.
        self.route_all(workspace);
        Ok(Reply::Updated(sid.to_string()))
    }

    fn delete_queue(&mut self, workspace: &str, sid: &str) -> Result<Reply, EngineError> {
        let ws = self.workspace(workspace)?;
        let queue = ws
            .queues
            .get(sid)
            .ok_or_else(|| EngineError::not_found(&path(workspace, "TaskQueues", sid)))?;
        if let Some(workflow) = ws.workflows.iter().find(|w| w.configuration.contains(sid)) {
            return Err(EngineError::in_use(
                "task queue",
                sid,
                &format!("workflow {}", workflow.sid),
            ));
        }
        if let Some(task) = ws.tasks.iter().find(|t| {
            t.task_queue_sid.as_deref() == Some(sid) && !is_terminal(&t.assignment_status)
        }) {
            return Err(EngineError::in_use(
                "task queue",
                sid,
                &format!("task {}", task.sid),
            ));
        }
        let data = queue_data(sid, &queue.friendly_name, &queue.target_workers);
        let description = format!("Task queue {} deleted", queue.friendly_name);
        self.workspace_mut(workspace)?.queues.remove(sid);
        self.emit(
            workspace,
            "task-queue.deleted",
            ("task-queue", sid, path(workspace, "TaskQueues", sid)),
            description,
            data,
        );
        Ok(Reply::Deleted)
    }

    // ------------------------------------------------------------------ workflows

    fn create_workflow(
        &mut self,
        workspace: &str,
        params: CreateWorkflowParams,
    ) -> Result<Reply, EngineError> {
        let ws = self.workspace(workspace)?;
        let friendly_name = name_param("FriendlyName", &params.friendly_name)?;
        let compiled = validate::workflow_configuration(ws, &params.configuration)?;
        let assignment_callback_url =
            url_param("AssignmentCallbackUrl", &params.assignment_callback_url)?;
        let fallback = url_param(
            "FallbackAssignmentCallbackUrl",
            &params.fallback_assignment_callback_url,
        )?;
        let timeout = params
            .task_reservation_timeout
            .unwrap_or(DEFAULT_RESERVATION_TIMEOUT);
        if !(1..=MAX_RESERVATION_TIMEOUT).contains(&timeout) {
            return Err(EngineError::bad_request(format!("Invalid TaskReservationTimeout {timeout}: it must be between 1 and {MAX_RESERVATION_TIMEOUT}")));
        }
        let now = self.now;
        let sid = self.sids.next("WW");
        self.workspace_mut(workspace)?.workflows.insert(Workflow {
            sid: sid.clone(),
            friendly_name: friendly_name.clone(),
            configuration: params.configuration,
            assignment_callback_url,
            fallback_assignment_callback_url: fallback,
            task_reservation_timeout: timeout,
            compiled,
            created: now,
            updated: now,
        });
        let data = workflow_data(&sid, &friendly_name);
        self.emit(
            workspace,
            "workflow.created",
            ("workflow", &sid, path(workspace, "Workflows", &sid)),
            format!("Workflow {friendly_name} created"),
            data,
        );
        Ok(Reply::Created(sid))
    }

    fn update_workflow(
        &mut self,
        workspace: &str,
        sid: &str,
        params: UpdateWorkflowParams,
    ) -> Result<Reply, EngineError> {
        let ws = self.workspace(workspace)?;
        ws.workflows
            .get(sid)
            .ok_or_else(|| EngineError::not_found(&path(workspace, "Workflows", sid)))?;
        let friendly_name = params
            .friendly_name
            .as_deref()
            .map(|n| name_param("FriendlyName", n))
            .transpose()?;
        let compiled = match &params.configuration {
            Some(configuration) => Some(validate::workflow_configuration(ws, configuration)?),
            None => None,
        };
        let callback = match &params.assignment_callback_url {
            Some(_) => Some(url_param(
                "AssignmentCallbackUrl",
                &params.assignment_callback_url,
            )?),
            None => None,
        };
        let fallback = match &params.fallback_assignment_callback_url {
            Some(_) => Some(url_param(
                "FallbackAssignmentCallbackUrl",
                &params.fallback_assignment_callback_url,
            )?),
            None => None,
        };
        if let Some(timeout) = params.task_reservation_timeout {
            if !(1..=MAX_RESERVATION_TIMEOUT).contains(&timeout) {
                return Err(EngineError::bad_request(format!("Invalid TaskReservationTimeout {timeout}: it must be between 1 and {MAX_RESERVATION_TIMEOUT}")));
            }
        }
        let now = self.now;
        let ws = self.workspace_mut(workspace)?;
        let Some(workflow) = ws.workflows.get_mut(sid) else {
            return Err(EngineError::not_found(&path(workspace, "Workflows", sid)));
        };
        if let Some(name) = friendly_name {
            workflow.friendly_name = name;
        }
        if let (Some(configuration), Some(compiled)) = (params.configuration, compiled) {
            workflow.configuration = configuration;
            workflow.compiled = compiled;
        }
        if let Some(url) = callback {
            workflow.assignment_callback_url = url;
        }
        if let Some(url) = fallback {
            workflow.fallback_assignment_callback_url = url;
        }
        if let Some(timeout) = params.task_reservation_timeout {
            workflow.task_reservation_timeout = timeout;
        }
        workflow.updated = now;
        let data = workflow_data(sid, &workflow.friendly_name);
        let description = format!("Workflow {} updated", workflow.friendly_name);
        self.emit(
            workspace,
            "workflow.updated",
            ("workflow", sid, path(workspace, "Workflows", sid)),
            description,
            data,
        );
        // With ReEvaluateTasks, pending tasks walk the new configuration from the top;
        // others keep the one they entered with (ROUTING.md §2.7).
        if params
            .re_evaluate_tasks
            .as_deref()
            .is_some_and(|v| matches!(v.to_ascii_lowercase().as_str(), "true" | "1" | "yes"))
        {
            let pending: Vec<String> = self
                .workspace(workspace)?
                .tasks
                .iter()
                .filter(|t| {
                    t.workflow_sid.as_deref() == Some(sid) && t.assignment_status == "pending"
                })
                .map(|t| t.sid.clone())
                .collect();
            for task in pending {
                self.enter_workflow(workspace, &task);
            }
        }
        // A new reservation timeout or callback URL changes nobody's eligibility, but a
        // pass is cheap and keeps "routing re-runs on every change" simple to reason about.
        self.route_all(workspace);
        Ok(Reply::Updated(sid.to_string()))
    }

    fn delete_workflow(&mut self, workspace: &str, sid: &str) -> Result<Reply, EngineError> {
        let ws = self.workspace(workspace)?;
        let workflow = ws
            .workflows
            .get(sid)
            .ok_or_else(|| EngineError::not_found(&path(workspace, "Workflows", sid)))?;
        if let Some(task) = ws
            .tasks
            .iter()
            .find(|t| t.workflow_sid.as_deref() == Some(sid) && !is_terminal(&t.assignment_status))
        {
            return Err(EngineError::in_use(
                "workflow",
                sid,
                &format!("task {}", task.sid),
            ));
        }
        let data = workflow_data(sid, &workflow.friendly_name);
        let description = format!("Workflow {} deleted", workflow.friendly_name);
        self.workspace_mut(workspace)?.workflows.remove(sid);
        self.emit(
            workspace,
            "workflow.deleted",
            ("workflow", sid, path(workspace, "Workflows", sid)),
            description,
            data,
        );
        Ok(Reply::Deleted)
    }

    // ------------------------------------------------------------------ workers

    fn create_worker(
        &mut self,
        workspace: &str,
        params: CreateWorkerParams,
    ) -> Result<Reply, EngineError> {
        let account = self.state.account_sid.clone();
        let ws = self.workspace(workspace)?;
        let friendly_name = name_param("FriendlyName", &params.friendly_name)?;
        // Worker names are unique in a workspace (unconfirmed; observed in practice).
        if ws.workers.iter().any(|w| w.friendly_name == friendly_name) {
            return Err(EngineError::duplicate(
                "Worker",
                &friendly_name,
                workspace,
                &account,
            ));
        }
        let activity_sid = params
            .activity_sid
            .clone()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| ws.default_activity_sid.clone());
        if ws.activities.get(&activity_sid).is_none() {
            return Err(EngineError::bad_request(format!("Invalid ActivitySid: activity {activity_sid} does not exist in workspace {workspace}")));
        }
        let attributes = params
            .attributes
            .clone()
            .unwrap_or_else(|| "{}".to_string());
        let attributes_json = validate::attributes(&attributes)?;
        let channel_sids: Vec<String> = ws.channels.iter().map(|c| c.sid.clone()).collect();
        let now = self.now;
        let sid = self.sids.next("WK");
        let channels = channel_sids
            .into_iter()
            .map(|task_channel_sid| WorkerChannel {
                sid: self.sids.next("WC"),
                task_channel_sid,
                // Default capacity 1 and available (ROUTING.md §4.5: unconfirmed, suggested).
                configured_capacity: 1,
                available: true,
                created: now,
                updated: now,
            })
            .collect();
        let worker = Worker {
            sid: sid.clone(),
            friendly_name,
            attributes,
            attributes_json,
            activity_sid,
            status_changed: now,
            created: now,
            updated: now,
            version: 0,
            channels,
            idle_since: now,
        };
        let ws = self.workspace_mut(workspace)?;
        let data = worker_data(ws, &worker);
        let description = format!("Worker {} created", worker.friendly_name);
        ws.add_worker(worker);
        self.emit(
            workspace,
            "worker.created",
            ("worker", &sid, path(workspace, "Workers", &sid)),
            description,
            data,
        );
        self.dirty_workers
            .push((workspace.to_string(), sid.clone()));
        Ok(Reply::Created(sid))
    }

    fn update_worker(
        &mut self,
        workspace: &str,
        sid: &str,
        params: UpdateWorkerParams,
    ) -> Result<Reply, EngineError> {
        let account = self.state.account_sid.clone();
        let ws = self.workspace(workspace)?;
        let worker = ws
            .workers
            .get(sid)
            .ok_or_else(|| EngineError::not_found(&path(workspace, "Workers", sid)))?;
        check_if_match(params.if_match.as_deref(), worker.version)?;
        let friendly_name = params
            .friendly_name
            .as_deref()
            .map(|n| name_param("FriendlyName", n))
            .transpose()?;
        if let Some(name) = &friendly_name {
            if ws
                .workers
                .iter()
                .any(|w| &w.friendly_name == name && w.sid != sid)
            {
                return Err(EngineError::duplicate("Worker", name, workspace, &account));
            }
        }
        let new_activity = match params.activity_sid.as_deref() {
            Some(activity) => Some(
                ws.activities
                    .get(activity)
                    .ok_or_else(|| EngineError::bad_request(format!("Invalid ActivitySid: activity {activity} does not exist in workspace {workspace}")))?,
            ),
            None => None,
        };
        if params.reject_pending_reservations == Some(true)
            && new_activity.is_some_and(|a| a.available)
        {
            return Err(EngineError::bad_request("RejectPendingReservations is only allowed when moving the worker to an unavailable activity"));
        }
        let attributes_json = params
            .attributes
            .as_deref()
            .map(validate::attributes)
            .transpose()?;
        let previous_activity = worker.activity_sid.clone();
        let previous_name = ws
            .activity_name(&previous_activity)
            .unwrap_or_default()
            .to_string();
        let now = self.now;
        let ws = self.workspace_mut(workspace)?;
        let Some(worker) = ws.workers.get_mut(sid) else {
            return Err(EngineError::not_found(&path(workspace, "Workers", sid)));
        };
        let activity_changed = params
            .activity_sid
            .as_ref()
            .is_some_and(|a| a != &worker.activity_sid);
        let attributes_changed = params
            .attributes
            .as_ref()
            .is_some_and(|a| a != &worker.attributes);
        let previous_since = worker.status_changed;
        if let Some(name) = friendly_name {
            worker.friendly_name = name;
        }
        if let (Some(text), Some(json)) = (params.attributes, attributes_json) {
            worker.attributes = text;
            worker.attributes_json = json;
        }
        if activity_changed {
            if let Some(activity) = params.activity_sid {
                worker.activity_sid = activity;
                worker.status_changed = now;
            }
        }
        worker.version += 1;
        worker.updated = now;
        let worker = worker.clone();
        let to_reject: Vec<String> = if params.reject_pending_reservations == Some(true) {
            ws.reservations
                .iter()
                .filter(|r| r.worker_sid == sid && r.status == "pending")
                .map(|r| r.sid.clone())
                .collect()
        } else {
            Vec::new()
        };
        let data = worker_data(ws, &worker);
        if activity_changed {
            let mut data = data.clone();
            let elapsed = (now - previous_since).max(0);
            data.insert(
                "worker_previous_activity_sid".into(),
                json!(previous_activity),
            );
            data.insert("worker_previous_activity_name".into(), json!(previous_name));
            data.insert(
                "worker_time_in_previous_activity".into(),
                json!((elapsed / 1000).to_string()),
            );
            data.insert(
                "worker_time_in_previous_activity_ms".into(),
                json!(elapsed.to_string()),
            );
            let activity_name = ws
                .activity_name(&worker.activity_sid)
                .unwrap_or_default()
                .to_string();
            let description = format!(
                "Worker {} updated to {} Activity",
                worker.friendly_name, activity_name
            );
            self.emit(
                workspace,
                "worker.activity.update",
                ("worker", sid, path(workspace, "Workers", sid)),
                description,
                data.clone(),
            );
        }
        if attributes_changed {
            let description = format!("Worker {} attributes updated", worker.friendly_name);
            self.emit(
                workspace,
                "worker.attributes.update",
                ("worker", sid, path(workspace, "Workers", sid)),
                description,
                data,
            );
        }
        for reservation in to_reject {
            self.decide(
                workspace,
                &reservation,
                Decision::Reject {
                    activity: None,
                    rest: false,
                },
            )?;
        }
        if activity_changed || attributes_changed {
            self.dirty_workers
                .push((workspace.to_string(), sid.to_string()));
        }
        Ok(Reply::Updated(sid.to_string()))
    }

    fn delete_worker(
        &mut self,
        workspace: &str,
        sid: &str,
        if_match: Option<&str>,
    ) -> Result<Reply, EngineError> {
        let ws = self.workspace(workspace)?;
        let worker = ws
            .workers
            .get(sid)
            .ok_or_else(|| EngineError::not_found(&path(workspace, "Workers", sid)))?;
        check_if_match(if_match, worker.version)?;
        if let Some(reservation) = ws.reservations.iter().find(|r| {
            r.worker_sid == sid && matches!(r.status.as_str(), "pending" | "accepted" | "wrapping")
        }) {
            return Err(EngineError::in_use(
                "worker",
                sid,
                &format!("reservation {}", reservation.sid),
            ));
        }
        let data = worker_data(ws, worker);
        let description = format!("Worker {} deleted", worker.friendly_name);
        self.workspace_mut(workspace)?.remove_worker(sid);
        self.emit(
            workspace,
            "worker.deleted",
            ("worker", sid, path(workspace, "Workers", sid)),
            description,
            data,
        );
        Ok(Reply::Deleted)
    }

    fn update_worker_channel(
        &mut self,
        workspace: &str,
        worker_sid: &str,
        sid: &str,
        params: UpdateWorkerChannelParams,
    ) -> Result<Reply, EngineError> {
        let channel_path = format!("/Workspaces/{workspace}/Workers/{worker_sid}/Channels/{sid}");
        let ws = self.workspace(workspace)?;
        let worker = ws
            .workers
            .get(worker_sid)
            .ok_or_else(|| EngineError::not_found(&path(workspace, "Workers", worker_sid)))?;
        // A channel may be named by its WC… SID or by its task channel (SID or unique name).
        let task_channel = ws.channel_by_ref(sid).map(|c| c.sid.clone());
        let index = worker
            .channels
            .iter()
            .position(|c| c.sid == sid || Some(&c.task_channel_sid) == task_channel.as_ref())
            .ok_or_else(|| EngineError::not_found(&channel_path))?;
        if let Some(capacity) = params.capacity {
            if !(0..=50).contains(&capacity) {
                return Err(EngineError::bad_request(format!(
                    "Invalid Capacity {capacity}: it must be between 0 and 50"
                )));
            }
        }
        let now = self.now;
        let ws = self.workspace_mut(workspace)?;
        let Some(worker) = ws.workers.get_mut(worker_sid) else {
            return Err(EngineError::not_found(&channel_path));
        };
        let channel = &mut worker.channels[index];
        let previous_capacity = channel.configured_capacity;
        let previous_available = channel.available;
        if let Some(capacity) = params.capacity {
            channel.configured_capacity = capacity;
        }
        if let Some(available) = params.available {
            channel.available = available;
        }
        channel.updated = now;
        let channel = channel.clone();
        worker.updated = now;
        let worker = worker.clone();
        let mut data = worker_data(ws, &worker);
        let unique_name = ws
            .channels
            .get(&channel.task_channel_sid)
            .map(|c| c.unique_name.clone())
            .unwrap_or_default();
        data.insert("task_channel_sid".into(), json!(channel.task_channel_sid));
        data.insert("task_channel_unique_name".into(), json!(unique_name));
        data.insert(
            "worker_channel_available".into(),
            json!(channel.available.to_string()),
        );
        data.insert(
            "worker_channel_available_capacity".into(),
            json!(channel.configured_capacity.to_string()),
        );
        data.insert(
            "worker_channel_previous_capacity".into(),
            json!(previous_capacity.to_string()),
        );
        let resource = || ("worker", worker_sid, path(workspace, "Workers", worker_sid));
        if previous_capacity != channel.configured_capacity {
            self.emit(
                workspace,
                "worker.capacity.update",
                resource(),
                format!(
                    "Worker {} capacity on {unique_name} updated",
                    worker.friendly_name
                ),
                data.clone(),
            );
        }
        if previous_available != channel.available {
            self.emit(
                workspace,
                "worker.channel.availability.update",
                resource(),
                format!(
                    "Worker {} availability on {unique_name} updated",
                    worker.friendly_name
                ),
                data,
            );
        }
        self.dirty_workers
            .push((workspace.to_string(), worker_sid.to_string()));
        Ok(Reply::Updated(channel.sid))
    }

    // ------------------------------------------------------------------ tasks

    fn create_task(
        &mut self,
        workspace: &str,
        params: CreateTaskParams,
    ) -> Result<Reply, EngineError> {
        let ws = self.workspace(workspace)?;
        let queue_sid = params.task_queue_sid.clone().filter(|s| !s.is_empty());
        if let Some(queue) = &queue_sid {
            if ws.queues.get(queue).is_none() {
                return Err(EngineError::bad_request(format!("Invalid TaskQueueSid: task queue {queue} does not exist in workspace {workspace}")));
            }
        }
        let workflow_sid = match params.workflow_sid.clone().filter(|s| !s.is_empty()) {
            Some(sid) => {
                if ws.workflows.get(&sid).is_none() {
                    return Err(EngineError::bad_request(format!("Invalid WorkflowSid: workflow {sid} does not exist in workspace {workspace}")));
                }
                Some(sid)
            }
            // The workflow may be omitted when the workspace has exactly one (TaskRouter docs).
            None if queue_sid.is_none() => {
                let mut workflows = ws.workflows.iter();
                match (workflows.next(), workflows.next()) {
                    (Some(only), None) => Some(only.sid.clone()),
                    _ => {
                        return Err(EngineError::bad_request(
                            "Missing required parameter WorkflowSid in the post body",
                        ))
                    }
                }
            }
            None => None,
        };
        let attributes = params
            .attributes
            .clone()
            .unwrap_or_else(|| "{}".to_string());
        let attributes_json = validate::attributes(&attributes)?;
        let priority = params.priority.unwrap_or(0);
        if !(0..=MAX_PRIORITY).contains(&priority) {
            return Err(EngineError::bad_request(format!(
                "Invalid Priority {priority}: it must be between 0 and {MAX_PRIORITY}"
            )));
        }
        let timeout = params.timeout.unwrap_or(DEFAULT_TASK_TIMEOUT);
        if !(1..=MAX_TASK_TIMEOUT).contains(&timeout) {
            return Err(EngineError::bad_request(format!(
                "Invalid Timeout {timeout}: it must be between 1 and {MAX_TASK_TIMEOUT}"
            )));
        }
        let channel_ref = params
            .task_channel
            .clone()
            .filter(|c| !c.is_empty())
            .unwrap_or_else(|| "default".to_string());
        let task_channel_sid = ws
            .channel_by_ref(&channel_ref)
            .map(|c| c.sid.clone())
            .ok_or_else(|| EngineError::bad_request(format!("Invalid TaskChannel: {channel_ref} is not a task channel of workspace {workspace}")))?;
        let virtual_start_time = match params.virtual_start_time.as_deref() {
            Some(text) => validate::date_time("VirtualStartTime", text)?,
            None => self.now,
        };
        if let Some(target) = params.routing_target.as_deref().filter(|t| !t.is_empty()) {
            if ws.workers.get(target).is_none() {
                return Err(EngineError::bad_request(format!("Invalid RoutingTarget: worker {target} does not exist in workspace {workspace}")));
            }
        }
        let ignore_capacity = params
            .ignore_capacity
            .as_deref()
            .map(|value| matches!(value.to_ascii_lowercase().as_str(), "true" | "1" | "yes"));
        let now = self.now;
        let sid = self.sids.next("WT");
        let task = Task {
            sid: sid.clone(),
            attributes,
            attributes_json,
            assignment_status: "pending".into(),
            priority,
            reason: None,
            timeout,
            task_channel_sid,
            workflow_sid,
            task_queue_entered: queue_sid.as_ref().map(|_| now),
            task_queue_sid: queue_sid,
            virtual_start_time,
            routing_target: params.routing_target.filter(|t| !t.is_empty()),
            ignore_capacity,
            addons: "{}".into(),
            created: now,
            updated: now,
            version: 0,
            routing: None,
            rejected_by: Vec::new(),
            assignments: 0,
            finished: None,
            indexed: None,
        };
        let ws = self.workspace_mut(workspace)?;
        let data = task_data(ws, &task, now);
        ws.tasks.insert(task);
        ws.reindex(&sid);
        self.emit(
            workspace,
            "task.created",
            ("task", &sid, path(workspace, "Tasks", &sid)),
            format!("Task {sid} created"),
            data,
        );
        self.state.schedule(
            now + timeout * 1000,
            super::state::Deadline::TaskTtl {
                workspace: workspace.to_string(),
                task: sid.clone(),
            },
        );
        let has_workflow = self
            .workspace(workspace)?
            .tasks
            .get(&sid)
            .is_some_and(|t| t.workflow_sid.is_some());
        if has_workflow {
            self.enter_workflow(workspace, &sid);
        } else {
            self.try_reserve(workspace, &sid, None);
        }
        Ok(Reply::Created(sid))
    }

    fn update_task(
        &mut self,
        workspace: &str,
        sid: &str,
        params: UpdateTaskParams,
    ) -> Result<Reply, EngineError> {
        let account = self.state.account_sid.clone();
        let ws = self.workspace(workspace)?;
        let task = ws
            .tasks
            .get(sid)
            .ok_or_else(|| EngineError::not_found(&path(workspace, "Tasks", sid)))?;
        check_if_match(params.if_match.as_deref(), task.version)?;
        let current = task.assignment_status.as_str();
        if let Some(status) = params.assignment_status.as_deref() {
            one_of("AssignmentStatus", status, TASK_ENUM_STATUS)?;
            // Transitions the REST API may ask for (WIRE.md §9); messages as observed (§3.3).
            match status {
                "canceled" if !matches!(current, "pending" | "reserved") => {
                    return Err(EngineError::bad_request(format!("Cannot cancel task {sid} in workspace {workspace} for account {account} because it is not pending or reserved.")));
                }
                "wrapping" if current != "assigned" => {
                    return Err(EngineError::bad_request(format!("Cannot wrap up a task {sid} in workspace {workspace} for account {account} because it's not currently assigned")));
                }
                "completed" if !matches!(current, "assigned" | "wrapping") => {
                    return Err(EngineError::bad_request(format!("Cannot complete task {sid} in workspace {workspace} for account {account} because it is not assigned or wrapping.")));
                }
                "pending" | "reserved" | "assigned" if status != current => {
                    return Err(EngineError::bad_request(format!("Cannot update task {sid} to status {status}: only canceled, wrapping and completed can be requested")));
                }
                _ => {}
            }
            if matches!(status, "wrapping" | "completed") && params.attributes.is_some() {
                return Err(EngineError::bad_request("Attributes cannot be changed in the same request that moves a task to wrapping or completed; send two requests"));
            }
        }
        let attributes_json = params
            .attributes
            .as_deref()
            .map(validate::attributes)
            .transpose()?;
        if let Some(priority) = params.priority {
            if !(0..=MAX_PRIORITY).contains(&priority) {
                return Err(EngineError::bad_request(format!(
                    "Invalid Priority {priority}: it must be between 0 and {MAX_PRIORITY}"
                )));
            }
        }
        let channel = match params.task_channel.as_deref() {
            Some(reference) => Some(
                ws.channel_by_ref(reference)
                    .map(|c| c.sid.clone())
                    .ok_or_else(|| EngineError::bad_request(format!("Invalid TaskChannel: {reference} is not a task channel of workspace {workspace}")))?,
            ),
            None => None,
        };
        let virtual_start_time = params
            .virtual_start_time
            .as_deref()
            .map(|t| validate::date_time("VirtualStartTime", t))
            .transpose()?;
        let now = self.now;
        let ws = self.workspace_mut(workspace)?;
        let Some(task) = ws.tasks.get_mut(sid) else {
            return Err(EngineError::not_found(&path(workspace, "Tasks", sid)));
        };
        let new_status = params
            .assignment_status
            .clone()
            .filter(|s| s != &task.assignment_status);
        let attributes_changed = params
            .attributes
            .as_ref()
            .is_some_and(|a| a != &task.attributes);
        if let (Some(text), Some(json)) = (params.attributes, attributes_json) {
            task.attributes = text;
            task.attributes_json = json;
        }
        if let Some(priority) = params.priority {
            task.priority = priority;
        }
        let channel_changed = channel
            .as_ref()
            .is_some_and(|c| *c != task.task_channel_sid);
        if let Some(channel) = channel {
            task.task_channel_sid = channel;
        }
        if let Some(time) = virtual_start_time {
            task.virtual_start_time = time;
        }
        if let Some(status) = &new_status {
            task.assignment_status = status.clone();
            task.reason = params.reason.clone().or(task.reason.take());
            if is_terminal(status) {
                task.finished = Some(now);
                task.routing = None;
            }
        }
        task.version += 1;
        task.updated = now;
        let task = task.clone();
        ws.reindex(sid);
        if channel_changed {
            // A new channel moves the load of its live reservations.
            ws.recount_task(sid);
        }
        let mut data = task_data(ws, &task, now);
        let resource = || ("task", sid, path(workspace, "Tasks", sid));
        if attributes_changed || params.priority.is_some() {
            self.emit(
                workspace,
                "task.updated",
                resource(),
                format!("Task {sid} updated"),
                data.clone(),
            );
        }
        if let Some(status) = new_status {
            let (event_type, reason_key) = match status.as_str() {
                "canceled" => ("task.canceled", "task_canceled_reason"),
                "wrapping" => ("task.wrapup", "task_completed_reason"),
                _ => ("task.completed", "task_completed_reason"),
            };
            if let Some(reason) = &task.reason {
                data.insert(reason_key.into(), json!(reason));
            }
            self.emit(
                workspace,
                event_type,
                resource(),
                format!("Task {sid} {status}"),
                data,
            );
            match status.as_str() {
                // Pending reservations end with the task (ROUTING.md §5.6).
                "canceled" => self.end_reservations(workspace, sid, "canceled"),
                other => self.follow_task(workspace, sid, other),
            }
            if is_terminal(&status) {
                self.schedule_cleanup(workspace, sid);
            }
        } else if task.assignment_status == "pending" {
            // New attributes restart the walk from the first filter (age kept,
            // ROUTING.md §2.7 suggestion); a new priority may win a worker now.
            if attributes_changed && task.workflow_sid.is_some() {
                self.enter_workflow(workspace, sid);
            } else {
                self.try_reserve(workspace, sid, None);
            }
        }
        Ok(Reply::Updated(sid.to_string()))
    }

    fn delete_task(
        &mut self,
        workspace: &str,
        sid: &str,
        if_match: Option<&str>,
    ) -> Result<Reply, EngineError> {
        let ws = self.workspace(workspace)?;
        let task = ws
            .tasks
            .get(sid)
            .ok_or_else(|| EngineError::not_found(&path(workspace, "Tasks", sid)))?;
        check_if_match(if_match, task.version)?;
        let data = task_data(ws, task, self.now);
        let holders: Vec<String> = ws
            .task_reservations(sid)
            .filter(|r| matches!(r.status.as_str(), "accepted" | "wrapping"))
            .map(|r| r.worker_sid.clone())
            .collect();
        self.end_reservations(workspace, sid, "canceled");
        for worker in holders {
            self.dirty_workers.push((workspace.to_string(), worker));
        }
        self.workspace_mut(workspace)?.remove_task(sid);
        self.emit(
            workspace,
            "task.deleted",
            ("task", sid, path(workspace, "Tasks", sid)),
            format!("Task {sid} deleted"),
            data,
        );
        Ok(Reply::Deleted)
    }

    // ------------------------------------------------------------------ reservations

    fn update_reservation(
        &mut self,
        workspace: &str,
        task: Option<&str>,
        worker: Option<&str>,
        sid: &str,
        params: UpdateTaskReservationParams,
    ) -> Result<Reply, EngineError> {
        let ws = self.workspace(workspace)?;
        let reservation_path = match (task, worker) {
            (Some(task), _) => format!("/Workspaces/{workspace}/Tasks/{task}/Reservations/{sid}"),
            (None, Some(worker)) => {
                format!("/Workspaces/{workspace}/Workers/{worker}/Reservations/{sid}")
            }
            (None, None) => format!("/Workspaces/{workspace}/Reservations/{sid}"),
        };
        let reservation = ws
            .reservations
            .get(sid)
            .filter(|r| {
                task.is_none_or(|t| r.task_sid == t) && worker.is_none_or(|w| r.worker_sid == w)
            })
            .ok_or_else(|| EngineError::not_found(&reservation_path))?;
        check_if_match(params.if_match.as_deref(), reservation.version)?;
        let current = reservation.status.clone();
        let task_sid = reservation.task_sid.clone();
        let instruction = params.instruction.as_deref().map(str::to_ascii_lowercase);
        if params.reservation_status.is_none() && instruction.is_none() {
            return Err(EngineError::bad_request(
                "Missing required parameter ReservationStatus or Instruction in the post body",
            ));
        }
        if let Some(status) = params.reservation_status.as_deref() {
            one_of("ReservationStatus", status, TASK_RESERVATION_ENUM_STATUS)?;
            let refused = || {
                EngineError::bad_request(format!(
                    "Reservation {sid} is already in state [{current}] and cannot be updated to [{status}]"
                ))
            };
            match (current.as_str(), status) {
                ("pending", "accepted") => {
                    self.decide(workspace, sid, Decision::Accept { instruction: None })?
                }
                ("pending", "rejected") => {
                    let activity = params.worker_activity_sid.clone().filter(|a| !a.is_empty());
                    self.decide(
                        workspace,
                        sid,
                        Decision::Reject {
                            activity,
                            rest: true,
                        },
                    )?
                }
                // Wrap-up and completion of the reservation carry the task along (Flex).
                ("accepted", "wrapping")
                | ("accepted", "completed")
                | ("wrapping", "completed") => {
                    let update = UpdateTaskParams {
                        assignment_status: Some(status.to_string()),
                        ..Default::default()
                    };
                    self.update_task(workspace, &task_sid, update)?;
                }
                _ => return Err(refused()),
            }
            return Ok(Reply::Updated(sid.to_string()));
        }
        // An instruction without a status (WIRE.md §6.3). No telephony is emulated: the
        // instruction is recorded, and accepts where TaskRouter's would.
        let instruction = instruction.unwrap_or_default();
        one_of(
            "Instruction",
            &instruction,
            &["conference", "dequeue", "call", "redirect", "supervise"],
        )?;
        let record = serde_json::Value::Object(
            params
                .to_pairs()
                .into_iter()
                .map(|(key, value)| (key.to_string(), serde_json::Value::String(value)))
                .collect(),
        );
        if instruction == "supervise" {
            if current != "accepted" {
                return Err(EngineError::bad_request(format!(
                    "Reservation {sid} must be accepted before it can be supervised (it is {current})"
                )));
            }
            if let Some(reservation) = self.workspace_mut(workspace)?.reservations.get_mut(sid) {
                reservation.instruction = Some(record);
                reservation.version += 1;
            }
            return Ok(Reply::Updated(sid.to_string()));
        }
        if current != "pending" {
            return Err(EngineError::bad_request(format!(
                "Reservation {sid} is already in state [{current}] and cannot take the {instruction} instruction"
            )));
        }
        let required: Vec<(&str, &Option<String>)> = match instruction.as_str() {
            "dequeue" => vec![("DequeueFrom", &params.dequeue_from)],
            "call" => vec![
                ("CallFrom", &params.call_from),
                ("CallUrl", &params.call_url),
            ],
            "redirect" => vec![
                ("RedirectCallSid", &params.redirect_call_sid),
                ("RedirectUrl", &params.redirect_url),
            ],
            _ => Vec::new(),
        };
        if let Some((name, _)) = required
            .iter()
            .find(|(_, value)| value.as_deref().is_none_or(str::is_empty))
        {
            return Err(EngineError::bad_request(format!(
                "Missing required parameter {name} for the {instruction} instruction"
            )));
        }
        let accepts = match instruction.as_str() {
            "call" => params.call_accept == Some(true),
            "redirect" => params.redirect_accept == Some(true),
            _ => true,
        };
        let decision = if accepts {
            Decision::Accept {
                instruction: Some(record),
            }
        } else {
            Decision::KeepPending {
                instruction: Some(record),
            }
        };
        self.decide(workspace, sid, decision)?;
        Ok(Reply::Updated(sid.to_string()))
    }
}

/// What an assignment-callback instruction asks (WIRE.md §5.4).
fn instruction_decision(body: &serde_json::Value) -> Decision {
    let name = body
        .get("instruction")
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let flag = |key: &str| match body.get(key) {
        Some(serde_json::Value::Bool(value)) => *value,
        // The string "true" is seen in the wild (WIRE.md §5.4).
        Some(serde_json::Value::String(text)) => text.eq_ignore_ascii_case("true"),
        _ => false,
    };
    match name.as_str() {
        "accept" => Decision::Accept { instruction: None },
        "reject" => Decision::Reject {
            activity: body
                .get("activity_sid")
                .and_then(|v| v.as_str())
                .map(str::to_string),
            rest: false,
        },
        "dequeue" | "conference" => Decision::Accept {
            instruction: Some(body.clone()),
        },
        "call" | "redirect" if flag("accept") => Decision::Accept {
            instruction: Some(body.clone()),
        },
        "call" | "redirect" => Decision::KeepPending {
            instruction: Some(body.clone()),
        },
        // Unknown instructions do nothing (TaskRouter raises alert 55555).
        _ => Decision::KeepPending { instruction: None },
    }
}

/// Whether a task status is final.
pub(crate) fn is_terminal(status: &str) -> bool {
    matches!(status, "completed" | "canceled")
}

/// The names the Workspace schema's `prioritize_queue_order` takes.
const PRIORITIZE_QUEUE_ORDER_VALUES: &[&str] = WORKSPACE_ENUM_QUEUE_ORDER;

fn activity_data(sid: &str, name: &str, available: bool) -> Map<String, Value> {
    let mut data = Map::new();
    data.insert("activity_sid".into(), json!(sid));
    data.insert("activity_name".into(), json!(name));
    data.insert("activity_available".into(), json!(available.to_string()));
    data
}

fn channel_data(
    sid: &str,
    name: &str,
    unique: &str,
    optimized: Option<bool>,
) -> Map<String, Value> {
    let mut data = Map::new();
    data.insert("task_channel_sid".into(), json!(sid));
    data.insert("task_channel_name".into(), json!(name));
    data.insert("task_channel_unique_name".into(), json!(unique));
    data.insert(
        "task_channel_optimized_routing".into(),
        json!(optimized.unwrap_or(false).to_string()),
    );
    data
}

fn queue_data(sid: &str, name: &str, target: &str) -> Map<String, Value> {
    let mut data = Map::new();
    data.insert("task_queue_sid".into(), json!(sid));
    data.insert("task_queue_name".into(), json!(name));
    data.insert("task_queue_target_expression".into(), json!(target));
    data
}

fn workflow_data(sid: &str, name: &str) -> Map<String, Value> {
    let mut data = Map::new();
    data.insert("workflow_sid".into(), json!(sid));
    data.insert("workflow_name".into(), json!(name));
    data
}

/// The worker group of event fields (WIRE.md §7.3).
pub(crate) fn worker_data(ws: &Workspace, worker: &Worker) -> Map<String, Value> {
    let mut data = Map::new();
    data.insert("worker_sid".into(), json!(worker.sid));
    data.insert("worker_name".into(), json!(worker.friendly_name));
    data.insert("worker_attributes".into(), json!(worker.attributes));
    data.insert("worker_activity_sid".into(), json!(worker.activity_sid));
    data.insert(
        "worker_activity_name".into(),
        json!(ws.activity_name(&worker.activity_sid).unwrap_or_default()),
    );
    data.insert("worker_version".into(), json!(worker.version.to_string()));
    data
}

/// The task group of event fields (WIRE.md §7.3).
pub(crate) fn task_data(ws: &Workspace, task: &Task, now: Millis) -> Map<String, Value> {
    let mut data = Map::new();
    data.insert("task_sid".into(), json!(task.sid));
    data.insert("task_attributes".into(), json!(task.attributes));
    data.insert(
        "task_age".into(),
        json!(((now - task.created).max(0) / 1000).to_string()),
    );
    data.insert("task_priority".into(), json!(task.priority.to_string()));
    data.insert(
        "task_assignment_status".into(),
        json!(task.assignment_status),
    );
    if let Some(channel) = ws.channels.get(&task.task_channel_sid) {
        data.insert("task_channel_sid".into(), json!(channel.sid));
        data.insert(
            "task_channel_unique_name".into(),
            json!(channel.unique_name),
        );
    }
    if let Some(workflow) = task
        .workflow_sid
        .as_deref()
        .and_then(|w| ws.workflows.get(w))
    {
        data.insert("workflow_sid".into(), json!(workflow.sid));
        data.insert("workflow_name".into(), json!(workflow.friendly_name));
    }
    if let Some(queue) = task
        .task_queue_sid
        .as_deref()
        .and_then(|q| ws.queues.get(q))
    {
        data.insert("task_queue_sid".into(), json!(queue.sid));
        data.insert("task_queue_name".into(), json!(queue.friendly_name));
    }
    data
}
