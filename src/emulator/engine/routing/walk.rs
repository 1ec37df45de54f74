//! Entering and walking the workflow: filters, steps, step timeouts, `skip_if`, the
//! default filter, falling out of the workflow (ROUTING.md §2.3).

use crate::emulator::engine::state::EventType;
use serde_json::{json, Map};

use super::choose::view;
use super::{step_of, time_of_day};
use crate::emulator::engine::context::Context;
use crate::emulator::engine::query::Loads;
use crate::emulator::engine::state::{Deadline, Millis, Routing, Worker};
use crate::expr::{ChannelLoad, WorkerView};
use crate::workflow::{CompiledStep, StepContext};

impl Context<'_> {
    /// A new task (or one whose attributes changed while pending) enters its workflow.
    pub(in crate::emulator::engine) fn enter_workflow(&mut self, workspace: &str, task_sid: &str) {
        let Some(ws) = self.state.workspaces.get(workspace) else {
            return;
        };
        let Some(task) = ws.tasks.get(task_sid) else {
            return;
        };
        let Some(workflow) = task
            .workflow_sid
            .as_deref()
            .and_then(|w| ws.workflows.get(w))
        else {
            // Sent straight to a queue: no walk, just routing in that queue.
            return;
        };
        let compiled = workflow.compiled.clone();
        let workflow_sid = workflow.sid.clone();
        let workflow_name = workflow.friendly_name.clone();
        let now = self.now;
        if let Some(task) = self.task_mut(workspace, task_sid) {
            task.routing = Some(Routing {
                workflow: compiled,
                filter: None,
                step: 0,
                filter_entered: now,
                deadline: None,
                generation: 0,
                expired: false,
            });
        }
        let mut extra = Map::new();
        extra.insert("workflow_sid".into(), json!(workflow_sid));
        extra.insert("workflow_name".into(), json!(workflow_name));
        self.emit_task(workspace, task_sid, EventType::WorkflowEntered, extra);
        self.walk_from_filter(workspace, task_sid, 0, true, false);
    }

    /// First matching filter at `from` or later, else the default filter (only when
    /// allowed), else the task falls out of the workflow (§2.3.1, §2.3.3).
    fn walk_from_filter(
        &mut self,
        workspace: &str,
        task_sid: &str,
        from: usize,
        allow_default: bool,
        skipped: bool,
    ) {
        let now = self.now;
        let Some(task) = self
            .state
            .workspaces
            .get(workspace)
            .and_then(|ws| ws.tasks.get(task_sid))
        else {
            return;
        };
        let Some(routing) = task.routing.clone() else {
            return;
        };
        match routing
            .workflow
            .select_filter(&task.attributes_json, from, Some(time_of_day(now)))
        {
            Some(filter) => self.enter_step(workspace, task_sid, Some(filter), 0, now),
            None if allow_default && routing.workflow.default_filter().is_some() => {
                self.enter_step(workspace, task_sid, None, 0, now)
            }
            None => {
                // No filter left: canceled and removed from the workflow. A task that
                // matched no filter at all and has no default filter is handled the same
                // way (UNCONFIRMED, §2.3.1 point 4).
                let event = if skipped {
                    EventType::WorkflowSkipped
                } else {
                    EventType::WorkflowTimeout
                };
                self.emit_task(workspace, task_sid, event, Map::new());
                self.cancel_task(workspace, task_sid, "Task canceled on Workflow timeout");
            }
        }
    }

    /// Enter step `step` of `filter` (or the default filter).
    fn enter_step(
        &mut self,
        workspace: &str,
        task_sid: &str,
        filter: Option<usize>,
        step: usize,
        filter_entered: Millis,
    ) {
        let now = self.now;
        let Some(ws) = self.state.workspaces.get(workspace) else {
            return;
        };
        let Some(task) = ws.tasks.get(task_sid) else {
            return;
        };
        let Some(routing) = task.routing.clone() else {
            return;
        };
        let Some(compiled) = step_of(&routing.workflow, filter, step).cloned() else {
            return;
        };
        let previous_queue = task.task_queue_sid.clone();
        let queue_exists = ws.queues.get(&compiled.queue).is_some();
        let generation = routing.generation + 1;
        let deadline = compiled
            .end_offset
            .map(|end| filter_entered + (end as Millis) * 1000);
        if let Some(task) = self.task_mut(workspace, task_sid) {
            task.routing = Some(Routing {
                filter,
                step,
                filter_entered,
                deadline,
                generation,
                expired: false,
                ..routing
            });
            if let Some(priority) = compiled.priority {
                task.priority = i64::from(priority);
            }
            if queue_exists {
                task.task_queue_sid = Some(compiled.queue.clone());
                task.task_queue_entered = Some(now);
            }
            task.updated = now;
        }
        if let Some(ws) = self.state.workspaces.get_mut(workspace) {
            ws.reindex(task_sid);
        }
        self.emit_task(
            workspace,
            task_sid,
            EventType::WorkflowTargetMatched,
            Map::new(),
        );
        if previous_queue.is_some() && previous_queue.as_deref() != Some(compiled.queue.as_str()) {
            self.emit_task(workspace, task_sid, EventType::TaskQueueMoved, Map::new());
        }
        self.emit_task(workspace, task_sid, EventType::TaskQueueEntered, Map::new());
        let created = self.try_reserve(workspace, task_sid, None);
        if created == 0 && self.skips_on_entry(workspace, task_sid, &compiled) {
            self.next_step(workspace, task_sid, true);
            return;
        }
        if let Some(at) = deadline {
            self.state.schedule(
                at,
                Deadline::Step {
                    workspace: workspace.to_string(),
                    task: task_sid.to_string(),
                    generation,
                },
            );
        }
    }

    fn skips_on_entry(&self, workspace: &str, task_sid: &str, step: &CompiledStep) -> bool {
        if step.skip_if.is_none() {
            return false;
        }
        let Some(ws) = self.state.workspaces.get(workspace) else {
            return false;
        };
        let Some(task) = ws.tasks.get(task_sid) else {
            return false;
        };
        let Some(queue) = ws.queues.get(&step.queue) else {
            return false;
        };
        let loads = Loads::of(ws);
        let channel = ws
            .channels
            .get(&task.task_channel_sid)
            .map(|c| c.unique_name.as_str());
        let views: Vec<(Vec<ChannelLoad<'_>>, &Worker)> = ws
            .workers
            .iter()
            .map(|w| (loads.channels(ws, w), w))
            .collect();
        let workers: Vec<WorkerView<'_>> = views
            .iter()
            .map(|(channels, w)| view(ws, w, channels))
            .collect();
        let context = StepContext {
            step,
            queue: &queue.def,
            task: &task.attributes_json,
            time: Some(time_of_day(self.now)),
            task_channel: channel,
        };
        context.skips_on_entry(&workers)
    }

    /// Leave the current step: the next target, or the next filter (§2.3.5 next_step).
    pub(super) fn next_step(&mut self, workspace: &str, task_sid: &str, skipped: bool) {
        let Some(task) = self
            .state
            .workspaces
            .get(workspace)
            .and_then(|ws| ws.tasks.get(task_sid))
        else {
            return;
        };
        let Some(routing) = task.routing.clone() else {
            return;
        };
        // The default filter has one step without timeout; nothing follows it.
        let Some(filter) = routing.filter else {
            return;
        };
        let steps = routing
            .workflow
            .filters()
            .get(filter)
            .map_or(0, |f| f.steps.len());
        if routing.step + 1 < steps {
            self.enter_step(
                workspace,
                task_sid,
                Some(filter),
                routing.step + 1,
                routing.filter_entered,
            );
        } else {
            // Timeouts never reach the default filter; a skip does (§2.3.3, §2.3.4).
            self.walk_from_filter(workspace, task_sid, filter + 1, skipped, skipped);
        }
    }
}
