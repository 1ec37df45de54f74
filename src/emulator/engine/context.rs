//! The context a command runs in: the state, the SID source, the time, the effects and
//! the workers to route afterwards. Each command's handler (in `commands`) and the
//! routing (in `routing`) are `impl Context` blocks of their own; this file holds the
//! dispatch, the timer loop and the small checks every handler shares.

use super::error::EngineError;
use super::state::{Millis, State, Task, Workspace};
use super::{Command, Effect, Reply, SidSource};
use crate::api::limits;

// TaskRouter's limits and defaults (crate::api::limits), as the engine's integers.
pub(super) const MAX_TASK_TIMEOUT: i64 = limits::MAX_TASK_TTL_SECONDS as i64;
pub(super) const DEFAULT_TASK_TIMEOUT: i64 = limits::DEFAULT_TASK_TTL_SECONDS as i64;
pub(super) const DEFAULT_RESERVATION_TIMEOUT: i64 =
    limits::DEFAULT_RESERVATION_TIMEOUT_SECONDS as i64;
pub(super) const MAX_RESERVATION_TIMEOUT: i64 = limits::MAX_RESERVATION_TIMEOUT_SECONDS as i64;
pub(super) const MAX_PRIORITY: i64 = limits::MAX_PRIORITY as i64;

/// One command's view of the engine while it runs.
pub(super) struct Context<'a> {
    pub(super) state: &'a mut State,
    pub(super) sids: &'a mut dyn SidSource,
    pub(super) now: Millis,
    /// The latest time a command was applied before this one: timers never fire earlier.
    pub(super) floor: Millis,
    pub(super) effects: Vec<Effect>,
    /// Workers that may take work now (activity or capacity changed): routed at the end.
    pub(super) dirty_workers: Vec<(String, String)>,
}

pub(super) fn check_if_match(if_match: Option<&str>, version: u64) -> Result<(), EngineError> {
    if let Some(expected) = if_match {
        let trimmed = expected.trim().trim_matches('"');
        if trimmed != "*" && trimmed != version.to_string() {
            return Err(EngineError::precondition_failed(expected, version));
        }
    }
    Ok(())
}

pub(super) fn one_of(name: &str, value: &str, allowed: &[&str]) -> Result<(), EngineError> {
    if allowed.contains(&value) {
        Ok(())
    } else {
        Err(EngineError::not_one_of(name, value, allowed))
    }
}

/// A parameter of one of the spec's closed sets, parsed into its enum (the message is
/// `one_of`'s, listing the values).
pub(super) fn enum_param<T>(name: &str, value: &str) -> Result<T, EngineError>
where
    T: std::str::FromStr<Err = crate::api::UnknownValue>,
{
    value.parse().map_err(|unknown: crate::api::UnknownValue| {
        EngineError::not_one_of(name, value, unknown.allowed)
    })
}

pub(super) fn url_param(name: &str, value: &Option<String>) -> Result<Option<String>, EngineError> {
    match value.as_deref() {
        None => Ok(None),
        // Sending the parameter empty clears it (WIRE.md §1.4).
        Some("") => Ok(None),
        Some(text) => {
            let parsed = url::Url::parse(text).map_err(|_| EngineError::invalid_url(name, text))?;
            if parsed.scheme() != "http" && parsed.scheme() != "https" {
                return Err(EngineError::not_http_url(name, text));
            }
            Ok(Some(text.to_string()))
        }
    }
}

/// The records whose `FriendlyName` is unique in their workspace. Queues: TaskRouter
/// refuses a second one of a name; workers: unconfirmed, observed in practice.
#[derive(Debug, Clone, Copy)]
pub(super) enum UniqueName {
    Queue,
    Worker,
}

impl Context<'_> {
    /// Refuse `name` when a queue or worker of the workspace other than `except` (the
    /// one being renamed) already has it.
    pub(super) fn check_unique_name(
        &self,
        workspace: &str,
        kind: UniqueName,
        name: &str,
        except: Option<&str>,
    ) -> Result<(), EngineError> {
        let ws = self.workspace(workspace)?;
        let other = |sid: &str, friendly_name: &str| friendly_name == name && except != Some(sid);
        let (what, taken) = match kind {
            UniqueName::Queue => (
                "Queue",
                ws.queues.iter().any(|q| other(&q.sid, &q.friendly_name)),
            ),
            UniqueName::Worker => (
                "Worker",
                ws.workers.iter().any(|w| other(&w.sid, &w.friendly_name)),
            ),
        };
        if taken {
            return Err(EngineError::duplicate(
                what,
                name,
                workspace,
                &self.state.account_sid,
            ));
        }
        Ok(())
    }
}

pub(super) fn name_param(name: &str, value: &str) -> Result<String, EngineError> {
    if value.trim().is_empty() {
        return Err(EngineError::missing_parameter(name));
    }
    if value.chars().count() > 64 {
        return Err(EngineError::name_too_long(name));
    }
    Ok(value.to_string())
}

impl Context<'_> {
    /// Route the workers whose situation changed, until nothing more can be reserved.
    pub(super) fn settle(&mut self) {
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

    pub(super) fn apply(&mut self, command: Command) -> Result<Reply, EngineError> {
        match command {
            Command::CreateWorkspace(params) => self.create_workspace(params),
            Command::UpdateWorkspace { workspace, params } => {
                self.update_workspace(&workspace, params)
            }
            Command::DeleteWorkspace { workspace } => self.delete_workspace(&workspace),
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
            } => self.callback_reply(&workspace, reservation, reply),
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

    pub(super) fn workspace(&self, sid: &str) -> Result<&Workspace, EngineError> {
        self.state
            .workspaces
            .get(sid)
            .ok_or_else(|| EngineError::no_workspace(sid))
    }

    pub(super) fn workspace_mut(&mut self, sid: &str) -> Result<&mut Workspace, EngineError> {
        self.state
            .workspaces
            .get_mut(sid)
            .ok_or_else(|| EngineError::no_workspace(sid))
    }

    pub(super) fn task_mut(&mut self, workspace: &str, task_sid: &str) -> Option<&mut Task> {
        self.state
            .workspaces
            .get_mut(workspace)?
            .tasks
            .get_mut(task_sid)
    }
}
