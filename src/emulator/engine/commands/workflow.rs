//! Workflows: create, update (with `ReEvaluateTasks`), delete.

use crate::emulator::engine::state::EventType;
use serde_json::{json, Map, Value};

use crate::api::resources::*;
use crate::emulator::engine::context::{
    name_param, url_param, Context, DEFAULT_RESERVATION_TIMEOUT, MAX_RESERVATION_TIMEOUT,
};
use crate::emulator::engine::error::EngineError;
use crate::emulator::engine::state::Workflow;
use crate::emulator::engine::{validate, Reply};

impl Context<'_> {
    pub(in crate::emulator::engine) fn create_workflow(
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
            return Err(EngineError::out_of_range(
                "TaskReservationTimeout",
                timeout,
                1,
                MAX_RESERVATION_TIMEOUT,
            ));
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
        self.emit(workspace, EventType::WorkflowCreated, &sid, data);
        Ok(Reply::Created(sid))
    }

    pub(in crate::emulator::engine) fn update_workflow(
        &mut self,
        workspace: &str,
        sid: &str,
        params: UpdateWorkflowParams,
    ) -> Result<Reply, EngineError> {
        let ws = self.workspace(workspace)?;
        ws.workflows
            .get(sid)
            .ok_or_else(|| EngineError::not_in_workspace(workspace, "Workflows", sid))?;
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
                return Err(EngineError::out_of_range(
                    "TaskReservationTimeout",
                    timeout,
                    1,
                    MAX_RESERVATION_TIMEOUT,
                ));
            }
        }
        let now = self.now;
        let ws = self.workspace_mut(workspace)?;
        let Some(workflow) = ws.workflows.get_mut(sid) else {
            return Err(EngineError::not_in_workspace(workspace, "Workflows", sid));
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
        self.emit(workspace, EventType::WorkflowUpdated, sid, data);
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
                    t.workflow_sid.as_deref() == Some(sid)
                        && t.assignment_status == TaskStatus::Pending
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

    pub(in crate::emulator::engine) fn delete_workflow(
        &mut self,
        workspace: &str,
        sid: &str,
    ) -> Result<Reply, EngineError> {
        let ws = self.workspace(workspace)?;
        let workflow = ws
            .workflows
            .get(sid)
            .ok_or_else(|| EngineError::not_in_workspace(workspace, "Workflows", sid))?;
        if let Some(task) = ws
            .tasks
            .iter()
            .find(|t| t.workflow_sid.as_deref() == Some(sid) && !t.assignment_status.is_terminal())
        {
            return Err(EngineError::in_use(
                "workflow",
                sid,
                &format!("task {}", task.sid),
            ));
        }
        let data = workflow_data(sid, &workflow.friendly_name);
        self.workspace_mut(workspace)?.workflows.remove(sid);
        self.emit(workspace, EventType::WorkflowDeleted, sid, data);
        Ok(Reply::Deleted)
    }
}

fn workflow_data(sid: &str, name: &str) -> Map<String, Value> {
    let mut data = Map::new();
    data.insert("workflow_sid".into(), json!(sid));
    data.insert("workflow_name".into(), json!(name));
    data
}
