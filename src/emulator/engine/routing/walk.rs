//! Entering and walking the workflow (ROUTING.md §2.3). The walk itself (filters, steps,
//! cumulative step timeouts, `skip_if`, the default filter, falling out of the workflow)
//! is `crate::workflow::walk`, the same state machine `trctl workflow test` runs; this
//! file drives it with the engine's events and turns what it reports into the task's
//! queue, priority, events, reservations and timers.

use serde_json::{json, Map};

use super::time_of_day;
use crate::emulator::engine::context::Context;
use crate::emulator::engine::query::{view, Loads};
use crate::emulator::engine::state::{Deadline, EventType, Routing, Worker};
use crate::expr::{ChannelLoad, WorkerView};
use crate::workflow::{
    step_at, CompiledStep, EndReason, Exit, Millis as WalkMillis, Moves, Position, StepContext,
    Transition, WalkContext,
};

impl Context<'_> {
    /// A new task (or one whose attributes changed while pending) enters its workflow.
    pub(in crate::emulator::engine) fn enter_workflow(&mut self, workspace: &str, task_sid: &str) {
        let now = self.now;
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
        let attributes = task.attributes_value();
        let cx = WalkContext {
            workflow: &compiled,
            attributes: &attributes,
            time: Some(time_of_day(now)),
        };
        let priority = u32::try_from(task.priority.max(0)).unwrap_or(u32::MAX);
        // Walking again (new attributes, a re-evaluated workflow): from the top, with an
        // epoch that tells the old walk's step timers apart from the new one's.
        let (position, first) = match &task.routing {
            Some(routing) => {
                let mut position = routing.position;
                let first = position.restart(&cx, WalkMillis(now), priority);
                (position, first)
            }
            None => Position::start(&cx, WalkMillis(now), priority),
        };
        if let Some(task) = self.task_mut(workspace, task_sid) {
            task.routing = Some(Routing {
                workflow: compiled,
                position,
            });
        }
        let mut extra = Map::new();
        extra.insert("workflow_sid".into(), json!(workflow_sid));
        extra.insert("workflow_name".into(), json!(workflow_name));
        self.emit_task(workspace, task_sid, EventType::WorkflowEntered, extra);
        self.follow(workspace, task_sid, first);
    }

    /// The current step's deadline has come (or came while a reservation was pending and
    /// that reservation has now ended unaccepted): the task leaves the step by timeout.
    pub(super) fn step_timed_out(&mut self, workspace: &str, task_sid: &str) {
        let moves = self.walk(workspace, task_sid, |position, cx, now| {
            position.time_out(cx, now)
        });
        self.follow_all(workspace, task_sid, moves);
    }

    /// Move the task's position with `step`, given the walk's context at `self.now`, and
    /// return what happened (nothing when the task has no position).
    fn walk(
        &mut self,
        workspace: &str,
        task_sid: &str,
        step: impl FnOnce(&mut Position<WalkMillis>, &WalkContext<'_>, WalkMillis) -> Moves<WalkMillis>,
    ) -> Option<Moves<WalkMillis>> {
        let now = self.now;
        let task = self.state.workspaces.get(workspace)?.tasks.get(task_sid)?;
        let routing = task.routing.as_ref()?;
        let attributes = task.attributes_value();
        let cx = WalkContext {
            workflow: &routing.workflow,
            attributes: &attributes,
            time: Some(time_of_day(now)),
        };
        let mut position = routing.position;
        let moves = step(&mut position, &cx, WalkMillis(now));
        if let Some(routing) = self
            .task_mut(workspace, task_sid)
            .and_then(|t| t.routing.as_mut())
        {
            routing.position = position;
        }
        Some(moves)
    }

    fn follow_all(&mut self, workspace: &str, task_sid: &str, moves: Option<Moves<WalkMillis>>) {
        for transition in moves.into_iter().flatten() {
            self.follow(workspace, task_sid, transition);
        }
    }

    /// Carry out one move of the walk: leaving a step by timeout records
    /// `task-queue.timeout`; entering one moves the task to its queue, tries to reserve a
    /// worker, then skips the step (§2.3.4) or sets its deadline; the end cancels the task.
    fn follow(&mut self, workspace: &str, task_sid: &str, transition: Transition<WalkMillis>) {
        match transition {
            Transition::Left {
                exit: Exit::TimedOut,
                ..
            } => self.emit_task(workspace, task_sid, EventType::TaskQueueTimeout, Map::new()),
            Transition::Left {
                exit: Exit::Skipped,
                ..
            } => {}
            Transition::Entered(entry) => {
                let Some(step) = self.entered_step(workspace, task_sid, entry.step, entry.filter)
                else {
                    return;
                };
                self.enter_step(
                    workspace,
                    task_sid,
                    &step,
                    entry.priority,
                    entry.sets_priority,
                );
                let created = self.try_reserve(workspace, task_sid, None);
                if created == 0 && self.skips_on_entry(workspace, task_sid, &step) {
                    let moves = self.walk(workspace, task_sid, |position, cx, now| {
                        position.skip(cx, now)
                    });
                    self.follow_all(workspace, task_sid, moves);
                    return;
                }
                if let (Some(at), Some(generation)) =
                    (entry.deadline, self.generation(workspace, task_sid))
                {
                    self.state.schedule(
                        at.0,
                        Deadline::Step {
                            workspace: workspace.into(),
                            task: task_sid.into(),
                            generation,
                        },
                    );
                }
            }
            Transition::Ended { reason, .. } => {
                // Nothing left to walk: the task leaves the workflow and is canceled. The
                // TTL is the engine's own timer (`timers`), which cancels the task itself.
                self.emit_task(workspace, task_sid, end_event(reason), Map::new());
                self.cancel_task(workspace, task_sid, reason.reason_text());
            }
        }
    }

    fn entered_step(
        &self,
        workspace: &str,
        task_sid: &str,
        step: usize,
        filter: crate::workflow::FilterChoice,
    ) -> Option<CompiledStep> {
        let task = self.state.workspaces.get(workspace)?.tasks.get(task_sid)?;
        let routing = task.routing.as_ref()?;
        step_at(&routing.workflow, filter, step).cloned()
    }

    fn generation(&self, workspace: &str, task_sid: &str) -> Option<u64> {
        let task = self.state.workspaces.get(workspace)?.tasks.get(task_sid)?;
        Some(u64::from(task.routing.as_ref()?.position.epoch()))
    }

    /// The task is in `step` now: its queue, priority and the events of a matched target.
    fn enter_step(
        &mut self,
        workspace: &str,
        task_sid: &str,
        step: &CompiledStep,
        priority: u32,
        sets_priority: bool,
    ) {
        let now = self.now;
        let Some(ws) = self.state.workspaces.get(workspace) else {
            return;
        };
        let Some(task) = ws.tasks.get(task_sid) else {
            return;
        };
        let previous_queue = task.task_queue_sid.clone();
        let queue_exists = ws.queues.get(&step.queue).is_some();
        if let Some(task) = self.task_mut(workspace, task_sid) {
            if sets_priority {
                task.priority = i64::from(priority);
            }
            if queue_exists {
                task.task_queue_sid = Some(step.queue.clone());
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
        if previous_queue.is_some() && previous_queue.as_deref() != Some(step.queue.as_str()) {
            self.emit_task(workspace, task_sid, EventType::TaskQueueMoved, Map::new());
        }
        self.emit_task(workspace, task_sid, EventType::TaskQueueEntered, Map::new());
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
        let attributes = task.attributes_value();
        let context = StepContext {
            step,
            queue: &queue.def,
            task: &attributes,
            time: Some(time_of_day(self.now)),
            task_channel: channel,
        };
        context.skips_on_entry(&workers)
    }
}

/// The event a walk's end records (`workflow.timeout` also for matching no filter, as
/// [`EndReason::event`] says).
fn end_event(reason: EndReason) -> EventType {
    match reason {
        EndReason::TtlExceeded => EventType::TaskCanceled,
        EndReason::WorkflowTimeout | EndReason::NoFilterMatched => EventType::WorkflowTimeout,
        EndReason::WorkflowSkipped => EventType::WorkflowSkipped,
    }
}
