//! Workspaces: creation (with the default activities and channels, and the FIFO
//! template), updates and deletion.

use crate::emulator::engine::state::EventType;
use serde_json::{json, Map};

use super::queue_def;
use crate::api::resources::*;
use crate::emulator::engine::context::{
    enum_param, name_param, one_of, url_param, Context, DEFAULT_RESERVATION_TIMEOUT,
};
use crate::emulator::engine::error::EngineError;
use crate::emulator::engine::state::{
    Activity, Table, TaskChannel, TaskQueue, Workflow, Workspace,
};
use crate::emulator::engine::{validate, Reply};

impl Context<'_> {
    pub(in crate::emulator::engine) fn delete_workspace(
        &mut self,
        sid: &str,
    ) -> Result<Reply, EngineError> {
        self.workspace(sid)?;
        self.state.workspaces.remove(sid);
        Ok(Reply::Deleted)
    }

    pub(in crate::emulator::engine) fn create_workspace(
        &mut self,
        params: CreateWorkspaceParams,
    ) -> Result<Reply, EngineError> {
        let friendly_name = name_param("FriendlyName", &params.friendly_name)?;
        let template = params
            .template
            .clone()
            .unwrap_or_else(|| "NONE".to_string());
        one_of("Template", &template, &["NONE", "FIFO"])?;
        let order = match params.prioritize_queue_order.as_deref() {
            Some(order) => enum_param("PrioritizeQueueOrder", order)?,
            None => QueueOrder::Fifo,
        };
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
            event_values: Default::default(),
            pending: Default::default(),
            loads: Default::default(),
            by_task: Default::default(),
            idle: Default::default(),
            offerable: Default::default(),
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
                task_order: TaskOrder::Fifo,
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
        self.state.workspaces.insert(workspace);
        self.emit(&sid, EventType::WorkspaceCreated, &sid, Map::new());
        Ok(Reply::Created(sid))
    }

    pub(in crate::emulator::engine) fn update_workspace(
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
                    return Err(EngineError::unknown_activity(name, activity, sid));
                }
            }
        }
        let order: Option<QueueOrder> = params
            .prioritize_queue_order
            .as_deref()
            .map(|order| enum_param("PrioritizeQueueOrder", order))
            .transpose()?;
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
            ws.refresh_offers();
        }
        if let Some(order) = order {
            ws.prioritize_queue_order = order;
        }
        ws.updated = now;
        self.emit(sid, EventType::WorkspaceUpdated, sid, Map::new());
        Ok(Reply::Updated(sid.to_string()))
    }
}

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
