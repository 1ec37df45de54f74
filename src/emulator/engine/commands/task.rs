//! Tasks: create (entering the workflow or the queue), update (status transitions,
//! attributes, priority, channel), delete.

use crate::emulator::engine::state::EventType;
use serde_json::json;

use crate::api::resources::*;
use crate::emulator::engine::context::{
    check_if_match, enum_param, Context, DEFAULT_TASK_TIMEOUT, MAX_PRIORITY, MAX_TASK_TIMEOUT,
};
use crate::emulator::engine::error::EngineError;
use crate::emulator::engine::events::task_data;
use crate::emulator::engine::state::{Deadline, Rejected, Task};
use crate::emulator::engine::{validate, Reply};

impl Context<'_> {
    pub(in crate::emulator::engine) fn create_task(
        &mut self,
        workspace: &str,
        params: CreateTaskParams,
    ) -> Result<Reply, EngineError> {
        let ws = self.workspace(workspace)?;
        let queue_sid = params.task_queue_sid.clone().filter(|s| !s.is_empty());
        if let Some(queue) = &queue_sid {
            if ws.queues.get(queue).is_none() {
                return Err(EngineError::unknown_queue("TaskQueueSid", queue, workspace));
            }
        }
        let workflow_sid = match params.workflow_sid.clone().filter(|s| !s.is_empty()) {
            Some(sid) => {
                if ws.workflows.get(&sid).is_none() {
                    return Err(EngineError::unknown_workflow(
                        "WorkflowSid",
                        &sid,
                        workspace,
                    ));
                }
                Some(sid)
            }
            // The workflow may be omitted when the workspace has exactly one (TaskRouter docs).
            None if queue_sid.is_none() => {
                let mut workflows = ws.workflows.iter();
                match (workflows.next(), workflows.next()) {
                    (Some(only), None) => Some(only.sid.clone()),
                    _ => return Err(EngineError::missing_parameter("WorkflowSid")),
                }
            }
            None => None,
        };
        let attributes = params
            .attributes
            .clone()
            .unwrap_or_else(|| "{}".to_string());
        validate::attributes(&attributes)?;
        let priority = params.priority.unwrap_or(0);
        if !(0..=MAX_PRIORITY).contains(&priority) {
            return Err(EngineError::out_of_range(
                "Priority",
                priority,
                0,
                MAX_PRIORITY,
            ));
        }
        let timeout = params.timeout.unwrap_or(DEFAULT_TASK_TIMEOUT);
        if !(1..=MAX_TASK_TIMEOUT).contains(&timeout) {
            return Err(EngineError::out_of_range(
                "Timeout",
                timeout,
                1,
                MAX_TASK_TIMEOUT,
            ));
        }
        let channel_ref = params
            .task_channel
            .clone()
            .filter(|c| !c.is_empty())
            .unwrap_or_else(|| "default".to_string());
        let task_channel_sid = ws
            .channel_by_ref(&channel_ref)
            .map(|c| c.sid.clone())
            .ok_or_else(|| EngineError::unknown_task_channel(&channel_ref, workspace))?;
        let virtual_start_time = match params.virtual_start_time.as_deref() {
            Some(text) => validate::date_time("VirtualStartTime", text)?,
            None => self.now,
        };
        if let Some(target) = params.routing_target.as_deref().filter(|t| !t.is_empty()) {
            if ws.workers.get(target).is_none() {
                return Err(EngineError::unknown_worker(
                    "RoutingTarget",
                    target,
                    workspace,
                ));
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
            assignment_status: TaskStatus::Pending,
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
            rejected_by: Rejected::default(),
            assignments: 0,
            finished: None,
            indexed: None,
        };
        let ws = self.workspace_mut(workspace)?;
        let data = task_data(ws, &task, now);
        ws.tasks.insert(task);
        ws.reindex(&sid);
        self.emit(workspace, EventType::TaskCreated, &sid, data);
        self.state.schedule(
            now + timeout * 1000,
            Deadline::TaskTtl {
                workspace: workspace.into(),
                task: sid.as_str().into(),
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

    pub(in crate::emulator::engine) fn update_task(
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
            .ok_or_else(|| EngineError::not_in_workspace(workspace, "Tasks", sid))?;
        check_if_match(params.if_match.as_deref(), task.version)?;
        let current = task.assignment_status;
        let requested: Option<TaskStatus> = params
            .assignment_status
            .as_deref()
            .map(|status| enum_param("AssignmentStatus", status))
            .transpose()?;
        if let Some(status) = requested {
            // Transitions the REST API may ask for (WIRE.md §9; the lifecycle is
            // `TaskStatus::can_become`); asking for the status the task has changes nothing,
            // except for the requestable ones. Messages as observed (§3.3).
            let allowed = if status.requestable() {
                current.can_become(status)
            } else {
                status == current
            };
            if !allowed {
                return Err(EngineError::task_cannot_become(
                    sid, workspace, &account, status,
                ));
            }
            if matches!(status, TaskStatus::Wrapping | TaskStatus::Completed)
                && params.attributes.is_some()
            {
                return Err(EngineError::attributes_with_closing_status());
            }
        }
        if let Some(text) = params.attributes.as_deref() {
            validate::attributes(text)?;
        }
        if let Some(priority) = params.priority {
            if !(0..=MAX_PRIORITY).contains(&priority) {
                return Err(EngineError::out_of_range(
                    "Priority",
                    priority,
                    0,
                    MAX_PRIORITY,
                ));
            }
        }
        let channel = match params.task_channel.as_deref() {
            Some(reference) => Some(
                ws.channel_by_ref(reference)
                    .map(|c| c.sid.clone())
                    .ok_or_else(|| EngineError::unknown_task_channel(reference, workspace))?,
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
            return Err(EngineError::not_in_workspace(workspace, "Tasks", sid));
        };
        let new_status = requested.filter(|s| *s != task.assignment_status);
        let attributes_changed = params
            .attributes
            .as_ref()
            .is_some_and(|a| a != &task.attributes);
        if let Some(text) = params.attributes {
            task.attributes = text;
        }
        if let Some(priority) = params.priority {
            task.priority = priority;
            // Carried on by the walk until a step sets its own (ROUTING.md §2.4).
            if let Some(routing) = task.routing.as_mut() {
                routing.carry_priority(priority);
            }
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
        if let Some(status) = new_status {
            task.set_status(status);
            task.reason = params.reason.clone().or(task.reason.take());
            if status.is_terminal() {
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
        if attributes_changed || params.priority.is_some() {
            self.emit(workspace, EventType::TaskUpdated, sid, data.clone());
        }
        if let Some(status) = new_status {
            // What the accepted reservation does with its task (none for a cancel).
            let (event_type, reason_key, follow) = match status {
                TaskStatus::Canceled => (EventType::TaskCanceled, "task_canceled_reason", None),
                TaskStatus::Wrapping => (
                    EventType::TaskWrapup,
                    "task_completed_reason",
                    Some(ReservationStatus::Wrapping),
                ),
                // Only requestable statuses get here (checked above): completed.
                TaskStatus::Completed
                | TaskStatus::Pending
                | TaskStatus::Reserved
                | TaskStatus::Assigned => (
                    EventType::TaskCompleted,
                    "task_completed_reason",
                    Some(ReservationStatus::Completed),
                ),
            };
            if let Some(reason) = &task.reason {
                data.insert(reason_key.into(), json!(reason));
            }
            self.emit(workspace, event_type, sid, data);
            match follow {
                Some(next) => self.follow_task(workspace, sid, next),
                // Pending reservations end with the task (ROUTING.md §5.6).
                None => self.end_reservations(workspace, sid, ReservationStatus::Canceled),
            }
            if status.is_terminal() {
                self.schedule_cleanup(workspace, sid);
            }
        } else if task.assignment_status == TaskStatus::Pending {
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

    pub(in crate::emulator::engine) fn delete_task(
        &mut self,
        workspace: &str,
        sid: &str,
        if_match: Option<&str>,
    ) -> Result<Reply, EngineError> {
        let ws = self.workspace(workspace)?;
        let task = ws
            .tasks
            .get(sid)
            .ok_or_else(|| EngineError::not_in_workspace(workspace, "Tasks", sid))?;
        check_if_match(if_match, task.version)?;
        let data = task_data(ws, task, self.now);
        let holders: Vec<String> = ws
            .task_reservations(sid)
            .filter(|r| r.status.is_held())
            .map(|r| r.worker_sid.clone())
            .collect();
        self.end_reservations(workspace, sid, ReservationStatus::Canceled);
        for worker in holders {
            self.dirty_workers.push((workspace.to_string(), worker));
        }
        self.workspace_mut(workspace)?.remove_task(sid);
        self.emit(workspace, EventType::TaskDeleted, sid, data);
        Ok(Reply::Deleted)
    }
}
