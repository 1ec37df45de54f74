//! Task queues: create, update (routing again afterwards), delete; and the compiled
//! membership rule a queue carries.

use crate::emulator::engine::state::EventType;
use serde_json::{json, Map, Value};
use std::sync::Arc;

use crate::api::resources::*;
use crate::emulator::engine::context::{enum_param, name_param, Context, UniqueName};
use crate::emulator::engine::error::EngineError;
use crate::emulator::engine::state::{TaskQueue, Workspace};
use crate::emulator::engine::{validate, Reply};
use crate::workflow::{QueueDef, TargetWorkers};

impl Context<'_> {
    fn check_queue_activity(
        ws: &Workspace,
        name: &str,
        value: &Option<String>,
    ) -> Result<(), EngineError> {
        match value.as_deref() {
            None | Some("") => Ok(()),
            Some(sid) if ws.activities.get(sid).is_some() => Ok(()),
            Some(sid) => Err(EngineError::unknown_activity(name, sid, &ws.sid)),
        }
    }

    pub(in crate::emulator::engine) fn create_queue(
        &mut self,
        workspace: &str,
        params: CreateTaskQueueParams,
    ) -> Result<Reply, EngineError> {
        let ws = self.workspace(workspace)?;
        let friendly_name = name_param("FriendlyName", &params.friendly_name)?;
        self.check_unique_name(workspace, UniqueName::Queue, &friendly_name, None)?;
        // Omitted means everyone (`1==1`); sent empty means nobody (ROUTING.md §3.1).
        let target_workers = params
            .target_workers
            .clone()
            .unwrap_or_else(|| "1==1".to_string());
        validate::target_workers(&target_workers)?;
        let max_reserved = params.max_reserved_workers.unwrap_or(1);
        if !(1..=50).contains(&max_reserved) {
            return Err(EngineError::out_of_range(
                "MaxReservedWorkers",
                max_reserved,
                1,
                50,
            ));
        }
        let task_order = match params.task_order.as_deref() {
            Some(order) => enum_param("TaskOrder", order)?,
            None => TaskOrder::Fifo,
        };
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
        self.emit(workspace, EventType::TaskQueueCreated, &sid, data);
        Ok(Reply::Created(sid))
    }

    pub(in crate::emulator::engine) fn update_queue(
        &mut self,
        workspace: &str,
        sid: &str,
        params: UpdateTaskQueueParams,
    ) -> Result<Reply, EngineError> {
        let ws = self.workspace(workspace)?;
        ws.queues
            .get(sid)
            .ok_or_else(|| EngineError::not_in_workspace(workspace, "TaskQueues", sid))?;
        let friendly_name = params
            .friendly_name
            .as_deref()
            .map(|n| name_param("FriendlyName", n))
            .transpose()?;
        if let Some(name) = &friendly_name {
            self.check_unique_name(workspace, UniqueName::Queue, name, Some(sid))?;
        }
        if let Some(target) = &params.target_workers {
            validate::target_workers(target)?;
        }
        if let Some(max) = params.max_reserved_workers {
            if !(1..=50).contains(&max) {
                return Err(EngineError::out_of_range("MaxReservedWorkers", max, 1, 50));
            }
        }
        let task_order: Option<TaskOrder> = params
            .task_order
            .as_deref()
            .map(|order| enum_param("TaskOrder", order))
            .transpose()?;
        Self::check_queue_activity(
            ws,
            "ReservationActivitySid",
            &params.reservation_activity_sid,
        )?;
        Self::check_queue_activity(ws, "AssignmentActivitySid", &params.assignment_activity_sid)?;
        let now = self.now;
        let ws = self.workspace_mut(workspace)?;
        let Some(queue) = ws.queues.get_mut(sid) else {
            return Err(EngineError::not_in_workspace(workspace, "TaskQueues", sid));
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
        if let Some(order) = task_order {
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
        if expression_changed {
            self.emit(workspace, EventType::TaskQueueExpressionUpdated, sid, data);
        }
        // New members or more room per task may make waiting tasks routable.
        self.route_all(workspace);
        Ok(Reply::Updated(sid.to_string()))
    }

    pub(in crate::emulator::engine) fn delete_queue(
        &mut self,
        workspace: &str,
        sid: &str,
    ) -> Result<Reply, EngineError> {
        let ws = self.workspace(workspace)?;
        let queue = ws
            .queues
            .get(sid)
            .ok_or_else(|| EngineError::not_in_workspace(workspace, "TaskQueues", sid))?;
        if let Some(workflow) = ws.workflows.iter().find(|w| w.configuration.contains(sid)) {
            return Err(EngineError::in_use(
                "task queue",
                sid,
                &format!("workflow {}", workflow.sid),
            ));
        }
        if let Some(task) = ws.tasks.iter().find(|t| {
            t.task_queue_sid.as_deref() == Some(sid) && !t.assignment_status.is_terminal()
        }) {
            return Err(EngineError::in_use(
                "task queue",
                sid,
                &format!("task {}", task.sid),
            ));
        }
        let data = queue_data(sid, &queue.friendly_name, &queue.target_workers);
        self.workspace_mut(workspace)?.queues.remove(sid);
        self.emit(workspace, EventType::TaskQueueDeleted, sid, data);
        Ok(Reply::Deleted)
    }
}

/// A queue's compiled membership rule (the text was checked when it was set).
pub(in crate::emulator::engine) fn queue_def(
    sid: &str,
    name: &str,
    target_workers: &str,
) -> Arc<QueueDef> {
    Arc::new(QueueDef {
        sid: sid.to_string(),
        friendly_name: name.to_string(),
        target_workers: TargetWorkers::from_field(Some(target_workers))
            .unwrap_or(TargetWorkers::Nobody),
    })
}

fn queue_data(sid: &str, name: &str, target: &str) -> Map<String, Value> {
    let mut data = Map::new();
    data.insert("task_queue_sid".into(), json!(sid));
    data.insert("task_queue_name".into(), json!(name));
    data.insert("task_queue_target_expression".into(), json!(target));
    data
}
