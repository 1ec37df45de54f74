//! Routing: tasks walk their workflow (filters, steps, timeouts, `skip_if`), eligible
//! workers are reserved, and reservations end (accept, reject, timeout, cancel,
//! rescind). Everything follows ROUTING.md; choices where it says UNCONFIRMED are
//! commented where they are made.
//!
//! This is part of the pure engine: it changes the state, records events, schedules
//! deadlines and asks for assignment callbacks through effects. It never does I/O.

use serde_json::{json, Map, Value};

use super::query::{self, Loads};
use super::resources::{task_data, worker_data, Context};
use super::state::{Deadline, Millis, Reservation, Routing, Task, Worker, Workspace};
use super::{Effect, EngineError};
use crate::expr::{TimeOfDay, WorkerView};
use crate::workflow::{CompiledStep, StepContext};

use crate::api::limits::MAX_ASSIGNMENTS;
/// Reservation timeout for tasks that have no workflow (sent straight to a queue).
const DEFAULT_RESERVATION_TIMEOUT_SECONDS: i64 =
    crate::api::limits::DEFAULT_RESERVATION_TIMEOUT_SECONDS as i64;

/// What a callback reply or REST update asks of a pending reservation.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Accept; `instruction` records a telephony instruction (dequeue, call, …) that
    /// accepted it, as sent (no telephony is emulated).
    Accept {
        /// The instruction document, if any.
        instruction: Option<Value>,
    },
    /// Reject, moving the worker to `activity` if given.
    Reject {
        /// Activity SID.
        activity: Option<String>,
        /// Whether the REST API asked (then an absent activity means the worker's
        /// activity before the reservation, §5.2); the callback instruction leaves the
        /// worker where it is.
        rest: bool,
    },
    /// Keep pending (an empty reply, `{}`, or an instruction that does not accept).
    KeepPending {
        /// An instruction to record, if any.
        instruction: Option<Value>,
    },
}

fn terminal(status: &str) -> bool {
    matches!(status, "completed" | "canceled")
}

fn time_of_day(now: Millis) -> TimeOfDay {
    TimeOfDay::from_unix_seconds(now.div_euclid(1000))
}

/// The event fields of a reservation (task and worker groups, queue, workflow).
fn reservation_data(ws: &Workspace, reservation: &Reservation, now: Millis) -> Map<String, Value> {
    let mut data = Map::new();
    if let Some(task) = ws.tasks.get(&reservation.task_sid) {
        data.extend(task_data(ws, task, now));
        if let Some(entered) = task.task_queue_entered {
            data.insert(
                "task_age_in_queue".into(),
                json!(((now - entered).max(0) / 1000).to_string()),
            );
        }
    }
    if let Some(worker) = ws.workers.get(&reservation.worker_sid) {
        data.extend(worker_data(ws, worker));
    }
    data.insert("reservation_sid".into(), json!(reservation.sid));
    if let Some(queue) = reservation
        .task_queue_sid
        .as_deref()
        .and_then(|q| ws.queues.get(q))
    {
        data.insert("task_queue_sid".into(), json!(queue.sid));
        data.insert("task_queue_name".into(), json!(queue.friendly_name));
        data.insert(
            "task_queue_target_expression".into(),
            json!(queue.target_workers),
        );
    }
    data
}

impl Context<'_> {
    fn task_path(workspace: &str, task: &str) -> String {
        format!("/Workspaces/{workspace}/Tasks/{task}")
    }

    fn emit_task(
        &mut self,
        workspace: &str,
        task_sid: &str,
        event_type: &str,
        description: String,
        extra: Map<String, Value>,
    ) {
        let now = self.now;
        let Some(ws) = self.state.workspaces.get(workspace) else {
            return;
        };
        let Some(task) = ws.tasks.get(task_sid) else {
            return;
        };
        let mut data = task_data(ws, task, now);
        data.extend(extra);
        self.emit(
            workspace,
            event_type,
            ("task", task_sid, Self::task_path(workspace, task_sid)),
            description,
            data,
        );
    }

    fn emit_reservation(&mut self, workspace: &str, reservation_sid: &str, event_type: &str) {
        let now = self.now;
        let Some(ws) = self.state.workspaces.get(workspace) else {
            return;
        };
        let Some(reservation) = ws.reservations.get(reservation_sid) else {
            return;
        };
        let data = reservation_data(ws, reservation, now);
        let worker = ws
            .workers
            .get(&reservation.worker_sid)
            .map(|w| w.friendly_name.clone())
            .unwrap_or_default();
        let description = format!(
            "Reservation {reservation_sid} for worker {worker} {}",
            event_type.trim_start_matches("reservation.")
        );
        let path = format!(
            "/Workspaces/{workspace}/Tasks/{}/Reservations/{reservation_sid}",
            reservation.task_sid
        );
        self.emit(
            workspace,
            event_type,
            ("reservation", reservation_sid, path),
            description,
            data,
        );
    }

    // -------------------------------------------------------------- workflow walk

    /// A new task (or one whose attributes changed while pending) enters its workflow.
    pub(super) fn enter_workflow(&mut self, workspace: &str, task_sid: &str) {
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
        self.emit_task(
            workspace,
            task_sid,
            "workflow.entered",
            format!("Task {task_sid} entered workflow {workflow_name}"),
            extra,
        );
        self.walk_from_filter(workspace, task_sid, 0, true, false);
    }

    fn task_mut(&mut self, workspace: &str, task_sid: &str) -> Option<&mut Task> {
        self.state
            .workspaces
            .get_mut(workspace)?
            .tasks
            .get_mut(task_sid)
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
                    "workflow.skipped"
                } else {
                    "workflow.timeout"
                };
                self.emit_task(
                    workspace,
                    task_sid,
                    event,
                    format!("Task {task_sid} left its workflow"),
                    Map::new(),
                );
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
            "workflow.target-matched",
            format!("Task {task_sid} matched a workflow target"),
            Map::new(),
        );
        if previous_queue.is_some() && previous_queue.as_deref() != Some(compiled.queue.as_str()) {
            self.emit_task(
                workspace,
                task_sid,
                "task-queue.moved",
                format!("Task {task_sid} moved to another queue"),
                Map::new(),
            );
        }
        self.emit_task(
            workspace,
            task_sid,
            "task-queue.entered",
            format!("Task {task_sid} entered a task queue"),
            Map::new(),
        );
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
        let views: Vec<(Vec<crate::expr::ChannelLoad<'_>>, &Worker)> = ws
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
    fn next_step(&mut self, workspace: &str, task_sid: &str, skipped: bool) {
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

    // -------------------------------------------------------------- reserving

    /// Reserve eligible workers for a pending task (up to the queue's
    /// `max_reserved_workers`), optionally only `only_worker`. Returns how many.
    pub(super) fn try_reserve(
        &mut self,
        workspace: &str,
        task_sid: &str,
        only_worker: Option<&str>,
    ) -> usize {
        let now = self.now;
        let Some(ws) = self.state.workspaces.get(workspace) else {
            return 0;
        };
        let Some(task) = ws.tasks.get(task_sid) else {
            return 0;
        };
        let loads = Loads::of(ws);
        let only = match only_worker {
            Some(sid) => match ws.workers.get(sid) {
                Some(worker) => Some(worker),
                None => return 0,
            },
            None => None,
        };
        let Some((queue_sid, chosen)) = choose(ws, task, only, loads, now) else {
            return 0;
        };
        for worker in &chosen {
            self.create_reservation(workspace, task_sid, worker, &queue_sid);
        }
        chosen.len()
    }

    fn create_reservation(
        &mut self,
        workspace: &str,
        task_sid: &str,
        worker_sid: &str,
        queue_sid: &str,
    ) {
        let now = self.now;
        let sid = self.sids.next("WR");
        let Some(ws) = self.state.workspaces.get_mut(workspace) else {
            return;
        };
        let multitasking = ws.multi_task_enabled;
        let reservation_activity = ws
            .queues
            .get(queue_sid)
            .and_then(|q| q.reservation_activity_sid.clone());
        let Some(worker) = ws.workers.get_mut(worker_sid) else {
            return;
        };
        let previous_activity_sid = worker.activity_sid.clone();
        // Single-tasking workspaces move the worker to the queue's reservation activity (§3.6).
        if !multitasking {
            if let Some(activity) = reservation_activity {
                worker.activity_sid = activity;
                worker.status_changed = now;
            }
        }
        let Some(task) = ws.tasks.get_mut(task_sid) else {
            return;
        };
        let first = task.assignment_status == "pending";
        if first {
            task.assignment_status = "reserved".into();
            task.assignments += 1;
            task.version += 1;
            task.updated = now;
        }
        let workflow_sid = task.workflow_sid.clone();
        ws.reindex(task_sid);
        ws.set_idle_since(worker_sid, now);
        let timeout = workflow_sid
            .as_deref()
            .and_then(|w| ws.workflows.get(w))
            .map_or(DEFAULT_RESERVATION_TIMEOUT_SECONDS, |w| {
                w.task_reservation_timeout
            });
        ws.add_reservation(Reservation {
            sid: sid.clone(),
            task_sid: task_sid.to_string(),
            worker_sid: worker_sid.to_string(),
            status: "pending".into(),
            created: now,
            updated: now,
            version: 0,
            task_queue_sid: Some(queue_sid.to_string()),
            previous_activity_sid,
            instruction: None,
        });
        ws.activate(&sid);
        self.state.schedule(
            now + timeout * 1000,
            Deadline::Reservation {
                workspace: workspace.to_string(),
                reservation: sid.clone(),
            },
        );
        self.emit_reservation(workspace, &sid, "reservation.created");
        self.request_callback(workspace, &sid);
    }

    /// Ask the runner to POST the assignment callback (§5.2), if the workflow has a URL.
    fn request_callback(&mut self, workspace: &str, reservation_sid: &str) {
        let now = self.now;
        let account = self.state.account_sid.clone();
        let Some(ws) = self.state.workspaces.get(workspace) else {
            return;
        };
        let Some(reservation) = ws.reservations.get(reservation_sid) else {
            return;
        };
        let Some(task) = ws.tasks.get(&reservation.task_sid) else {
            return;
        };
        let Some(workflow) = task
            .workflow_sid
            .as_deref()
            .and_then(|w| ws.workflows.get(w))
        else {
            return;
        };
        let Some(url) = workflow.assignment_callback_url.clone() else {
            return;
        };
        let worker = ws.workers.get(&reservation.worker_sid);
        let params = vec![
            ("AccountSid".to_string(), account),
            ("WorkspaceSid".to_string(), ws.sid.clone()),
            ("WorkflowSid".to_string(), workflow.sid.clone()),
            (
                "TaskQueueSid".to_string(),
                reservation.task_queue_sid.clone().unwrap_or_default(),
            ),
            ("WorkerSid".to_string(), reservation.worker_sid.clone()),
            (
                "WorkerAttributes".to_string(),
                worker.map(|w| w.attributes.clone()).unwrap_or_default(),
            ),
            ("TaskSid".to_string(), task.sid.clone()),
            ("TaskAttributes".to_string(), task.attributes.clone()),
            (
                "TaskAge".to_string(),
                ((now - task.created).max(0) / 1000).to_string(),
            ),
            ("TaskPriority".to_string(), task.priority.to_string()),
            ("ReservationSid".to_string(), reservation_sid.to_string()),
            ("Timestamp".to_string(), now.div_euclid(1000).to_string()),
        ];
        self.effects.push(Effect::AssignmentCallback {
            workspace: workspace.to_string(),
            reservation: reservation_sid.to_string(),
            url,
            fallback_url: workflow.fallback_assignment_callback_url.clone(),
            params,
        });
    }

    /// Offer `worker_sid` the best pending tasks it may take, until it has no room.
    /// Walks the pending-task indexes of the worker's queues in queue order and stops at
    /// the first task the worker may take, so the cost does not grow with the backlog.
    pub(super) fn route_worker(&mut self, workspace: &str, worker_sid: &str) {
        loop {
            let now = self.now;
            let Some(ws) = self.state.workspaces.get(workspace) else {
                return;
            };
            let Some(worker) = ws.workers.get(worker_sid) else {
                return;
            };
            if !ws
                .activities
                .get(&worker.activity_sid)
                .is_some_and(|a| a.available)
            {
                return;
            }
            let loads = Loads::of(ws);
            if !has_room(ws, worker, loads) {
                return;
            }
            let Some((task_sid, queue_sid)) = first_task_for(ws, worker, loads, now) else {
                return;
            };
            self.create_reservation(workspace, &task_sid, worker_sid, &queue_sid);
        }
    }

    /// Route every pending task of the workspace, best first.
    pub(super) fn route_all(&mut self, workspace: &str) {
        let Some(ws) = self.state.workspaces.get(workspace) else {
            return;
        };
        let order = ws.prioritize_queue_order.clone();
        let mut pending: Vec<&Task> = ws
            .tasks
            .iter()
            .filter(|t| t.assignment_status == "pending")
            .collect();
        pending.sort_by(|a, b| task_order(ws, a, b, &order));
        let sids: Vec<String> = pending.iter().map(|t| t.sid.clone()).collect();
        for task in sids {
            self.try_reserve(workspace, &task, None);
        }
    }

    // -------------------------------------------------------------- reservation outcomes

    /// Apply a decision to a pending reservation.
    pub(super) fn decide(
        &mut self,
        workspace: &str,
        reservation_sid: &str,
        decision: Decision,
    ) -> Result<(), EngineError> {
        match decision {
            Decision::Accept { instruction } => {
                self.accept(workspace, reservation_sid, instruction)
            }
            Decision::Reject { activity, rest } => {
                self.reject(workspace, reservation_sid, activity, rest)
            }
            Decision::KeepPending { instruction } => {
                if let (Some(instruction), Some(reservation)) = (
                    instruction,
                    self.reservation_mut(workspace, reservation_sid),
                ) {
                    reservation.instruction = Some(instruction);
                }
                Ok(())
            }
        }
    }

    fn reservation_mut(&mut self, workspace: &str, sid: &str) -> Option<&mut Reservation> {
        self.state
            .workspaces
            .get_mut(workspace)?
            .reservations
            .get_mut(sid)
    }

    fn set_status(&mut self, workspace: &str, reservation_sid: &str, status: &str) {
        let now = self.now;
        let Some(reservation) = self.reservation_mut(workspace, reservation_sid) else {
            return;
        };
        reservation.status = status.to_string();
        reservation.updated = now;
        reservation.version += 1;
        let active = matches!(status, "pending" | "accepted" | "wrapping");
        if let Some(ws) = self.state.workspaces.get_mut(workspace) {
            if active {
                ws.activate(reservation_sid);
            } else {
                ws.deactivate(reservation_sid);
            }
        }
        let Some(reservation) = self.reservation_mut(workspace, reservation_sid) else {
            return;
        };
        // A reservation that ends frees its worker's slot: offer it other work.
        if matches!(
            status,
            "rejected" | "timeout" | "canceled" | "rescinded" | "completed"
        ) {
            let worker = reservation.worker_sid.clone();
            self.dirty_workers.push((workspace.to_string(), worker));
        }
    }

    fn pending_reservation(&self, workspace: &str, sid: &str) -> Result<Reservation, EngineError> {
        let ws = self
            .state
            .workspaces
            .get(workspace)
            .ok_or_else(|| EngineError::not_found(&format!("/Workspaces/{workspace}")))?;
        let reservation = ws.reservations.get(sid).ok_or_else(|| {
            EngineError::not_found(&format!("/Workspaces/{workspace}/Reservations/{sid}"))
        })?;
        if reservation.status != "pending" {
            return Err(EngineError::bad_request(format!(
                "Reservation {sid} is already in state [{}] and cannot be updated",
                reservation.status
            )));
        }
        Ok(reservation.clone())
    }

    fn accept(
        &mut self,
        workspace: &str,
        reservation_sid: &str,
        instruction: Option<Value>,
    ) -> Result<(), EngineError> {
        let reservation = self.pending_reservation(workspace, reservation_sid)?;
        let now = self.now;
        self.set_status(workspace, reservation_sid, "accepted");
        if let Some(instruction) = instruction {
            if let Some(r) = self.reservation_mut(workspace, reservation_sid) {
                r.instruction = Some(instruction);
            }
        }
        let Some(ws) = self.state.workspaces.get_mut(workspace) else {
            return Ok(());
        };
        let multitasking = ws.multi_task_enabled;
        let assignment_activity = reservation
            .task_queue_sid
            .as_deref()
            .and_then(|q| ws.queues.get(q))
            .and_then(|q| q.assignment_activity_sid.clone());
        if let Some(task) = ws.tasks.get_mut(&reservation.task_sid) {
            task.assignment_status = "assigned".into();
            task.version += 1;
            task.updated = now;
            // The workflow is done with the task once a reservation is accepted.
            task.routing = None;
        }
        ws.reindex(&reservation.task_sid);
        if !multitasking {
            if let (Some(activity), Some(worker)) = (
                assignment_activity,
                ws.workers.get_mut(&reservation.worker_sid),
            ) {
                worker.activity_sid = activity;
                worker.status_changed = now;
            }
        }
        let siblings: Vec<String> = ws
            .task_reservations(&reservation.task_sid)
            .filter(|r| r.status == "pending" && r.sid != reservation_sid)
            .map(|r| r.sid.clone())
            .collect();
        self.emit_reservation(workspace, reservation_sid, "reservation.accepted");
        // First accept wins; the other offers are withdrawn (§3.5).
        for sibling in siblings {
            self.set_status(workspace, &sibling, "rescinded");
            self.emit_reservation(workspace, &sibling, "reservation.rescinded");
        }
        Ok(())
    }

    fn reject(
        &mut self,
        workspace: &str,
        reservation_sid: &str,
        activity: Option<String>,
        rest: bool,
    ) -> Result<(), EngineError> {
        let reservation = self.pending_reservation(workspace, reservation_sid)?;
        if let Some(activity) = &activity {
            let known = self
                .state
                .workspaces
                .get(workspace)
                .is_some_and(|ws| ws.activities.get(activity).is_some());
            if !known {
                return Err(EngineError::bad_request(format!("Invalid WorkerActivitySid: activity {activity} does not exist in workspace {workspace}")));
            }
        }
        self.set_status(workspace, reservation_sid, "rejected");
        if let Some(task) = self.task_mut(workspace, &reservation.task_sid) {
            // Not offered to the same worker again (the rule; ROUTING.md §5.4
            // allows a re-offer, which with a REST reject would loop at once).
            task.rejected_by.push(reservation.worker_sid.clone());
        }
        // The rejection is recorded before what it causes (the worker's move).
        self.emit_reservation(workspace, reservation_sid, "reservation.rejected");
        // REST without an activity: back to the activity before the reservation (§5.2).
        let target = activity.or_else(|| rest.then(|| reservation.previous_activity_sid.clone()));
        if let Some(activity) = target {
            self.move_worker(workspace, &reservation.worker_sid, &activity);
        }
        self.after_unaccepted(workspace, &reservation.task_sid);
        Ok(())
    }

    /// A reservation's timer ran out (§5.3).
    fn time_out(&mut self, workspace: &str, reservation_sid: &str) {
        let Ok(reservation) = self.pending_reservation(workspace, reservation_sid) else {
            return;
        };
        self.set_status(workspace, reservation_sid, "timeout");
        // The reservation's end is recorded before what it causes (the worker's move).
        self.emit_reservation(workspace, reservation_sid, "reservation.timeout");
        let timeout_activity = self
            .state
            .workspaces
            .get(workspace)
            .map(|ws| ws.timeout_activity_sid.clone());
        if let Some(activity) = timeout_activity {
            self.move_worker(workspace, &reservation.worker_sid, &activity);
        }
        self.after_unaccepted(workspace, &reservation.task_sid);
    }

    /// After a reservation ended without acceptance: back to pending once none is left,
    /// then try again in the same step, or move on if its deadline passed (§2.3.2).
    fn after_unaccepted(&mut self, workspace: &str, task_sid: &str) {
        let now = self.now;
        let Some(ws) = self.state.workspaces.get_mut(workspace) else {
            return;
        };
        let still_pending = ws
            .task_reservations(task_sid)
            .any(|r| r.status == "pending");
        if still_pending {
            return;
        }
        let Some(task) = ws.tasks.get_mut(task_sid) else {
            return;
        };
        if task.assignment_status != "reserved" {
            return;
        }
        task.assignment_status = "pending".into();
        task.version += 1;
        task.updated = now;
        let assignments = task.assignments;
        ws.reindex(task_sid);
        let Some(task) = ws.tasks.get(task_sid) else {
            return;
        };
        if assignments >= MAX_ASSIGNMENTS {
            self.cancel_task(
                workspace,
                task_sid,
                "Task TTL Exceeded or Max assignment count exceeded",
            );
            return;
        }
        let expired = task
            .routing
            .as_ref()
            .is_some_and(|r| r.expired || r.deadline.is_some_and(|d| d <= now));
        if expired {
            self.emit_task(
                workspace,
                task_sid,
                "task-queue.timeout",
                format!("Task {task_sid} timed out of its queue"),
                Map::new(),
            );
            if let Some(routing) = self
                .task_mut(workspace, task_sid)
                .and_then(|t| t.routing.as_mut())
            {
                routing.expired = false;
            }
            self.next_step(workspace, task_sid, false);
        } else {
            self.try_reserve(workspace, task_sid, None);
        }
    }

    fn move_worker(&mut self, workspace: &str, worker_sid: &str, activity: &str) {
        let now = self.now;
        let Some(ws) = self.state.workspaces.get_mut(workspace) else {
            return;
        };
        let Some(worker) = ws.workers.get_mut(worker_sid) else {
            return;
        };
        if worker.activity_sid == activity {
            return;
        }
        let previous = std::mem::replace(&mut worker.activity_sid, activity.to_string());
        let since = std::mem::replace(&mut worker.status_changed, now);
        worker.version += 1;
        worker.updated = now;
        let worker = worker.clone();
        let previous_name = ws.activity_name(&previous).unwrap_or_default().to_string();
        let mut data = worker_data(ws, &worker);
        let elapsed = (now - since).max(0);
        data.insert("worker_previous_activity_sid".into(), json!(previous));
        data.insert("worker_previous_activity_name".into(), json!(previous_name));
        data.insert(
            "worker_time_in_previous_activity".into(),
            json!((elapsed / 1000).to_string()),
        );
        data.insert(
            "worker_time_in_previous_activity_ms".into(),
            json!(elapsed.to_string()),
        );
        let activity_name = ws.activity_name(activity).unwrap_or_default().to_string();
        let description = format!(
            "Worker {} updated to {} Activity",
            worker.friendly_name, activity_name
        );
        self.emit(
            workspace,
            "worker.activity.update",
            (
                "worker",
                worker_sid,
                format!("/Workspaces/{workspace}/Workers/{worker_sid}"),
            ),
            description,
            data,
        );
        self.dirty_workers
            .push((workspace.to_string(), worker_sid.to_string()));
    }

    /// Cancel a pending or reserved task with `reason` (TTL, workflow end, limits).
    pub(super) fn cancel_task(&mut self, workspace: &str, task_sid: &str, reason: &str) {
        let now = self.now;
        let Some(task) = self.task_mut(workspace, task_sid) else {
            return;
        };
        if terminal(&task.assignment_status)
            || task.assignment_status == "assigned"
            || task.assignment_status == "wrapping"
        {
            return;
        }
        task.assignment_status = "canceled".into();
        task.reason = Some(reason.to_string());
        task.routing = None;
        task.finished = Some(now);
        task.version += 1;
        task.updated = now;
        if let Some(ws) = self.state.workspaces.get_mut(workspace) {
            ws.reindex(task_sid);
        }
        self.end_reservations(workspace, task_sid, "canceled");
        let mut extra = Map::new();
        extra.insert("task_canceled_reason".into(), json!(reason));
        self.emit_task(
            workspace,
            task_sid,
            "task.canceled",
            format!("Task {task_sid} canceled: {reason}"),
            extra,
        );
        self.schedule_cleanup(workspace, task_sid);
    }

    /// Pending reservations of a task end with `status` (`canceled`), with their events.
    pub(super) fn end_reservations(&mut self, workspace: &str, task_sid: &str, status: &str) {
        let Some(ws) = self.state.workspaces.get(workspace) else {
            return;
        };
        let pending: Vec<String> = ws
            .task_reservations(task_sid)
            .filter(|r| r.status == "pending")
            .map(|r| r.sid.clone())
            .collect();
        for sid in pending {
            self.set_status(workspace, &sid, status);
            self.emit_reservation(workspace, &sid, &format!("reservation.{status}"));
        }
    }

    /// The accepted reservation follows its task into wrap-up or completion.
    pub(super) fn follow_task(&mut self, workspace: &str, task_sid: &str, status: &str) {
        let now = self.now;
        let Some(ws) = self.state.workspaces.get(workspace) else {
            return;
        };
        let active: Vec<(String, String)> = ws
            .task_reservations(task_sid)
            .filter(|r| matches!(r.status.as_str(), "accepted" | "wrapping"))
            .map(|r| (r.sid.clone(), r.worker_sid.clone()))
            .collect();
        for (sid, worker) in active {
            self.set_status(workspace, &sid, status);
            let event = if status == "wrapping" {
                "reservation.wrapup"
            } else {
                "reservation.completed"
            };
            self.emit_reservation(workspace, &sid, event);
            if status == "completed" {
                if let Some(ws) = self.state.workspaces.get_mut(workspace) {
                    ws.set_idle_since(&worker, now);
                }
                self.dirty_workers.push((workspace.to_string(), worker));
            }
        }
    }

    pub(super) fn schedule_cleanup(&mut self, workspace: &str, task_sid: &str) {
        if let Some(keep) = self.state.keep_finished {
            let at = self.now + keep;
            self.state.schedule(
                at,
                Deadline::Cleanup {
                    workspace: workspace.to_string(),
                    task: task_sid.to_string(),
                },
            );
        }
    }

    // -------------------------------------------------------------- timers

    /// Fire one due deadline; stale ones do nothing.
    pub(super) fn fire(&mut self, deadline: Deadline) {
        match deadline {
            Deadline::Reservation {
                workspace,
                reservation,
            } => self.time_out(&workspace, &reservation),
            Deadline::Step {
                workspace,
                task,
                generation,
            } => {
                let Some(t) = self
                    .state
                    .workspaces
                    .get(&workspace)
                    .and_then(|ws| ws.tasks.get(&task))
                else {
                    return;
                };
                let current = t
                    .routing
                    .as_ref()
                    .is_some_and(|r| r.generation == generation);
                if !current {
                    return;
                }
                match t.assignment_status.as_str() {
                    "pending" => {
                        self.emit_task(
                            &workspace,
                            &task,
                            "task-queue.timeout",
                            format!("Task {task} timed out of its queue"),
                            Map::new(),
                        );
                        self.next_step(&workspace, &task, false);
                    }
                    // A pending reservation is left to finish; the task moves on if it ends
                    // unaccepted (UNCONFIRMED: TaskRouter's docs do not say).
                    "reserved" => {
                        if let Some(routing) = self
                            .task_mut(&workspace, &task)
                            .and_then(|t| t.routing.as_mut())
                        {
                            routing.expired = true;
                        }
                    }
                    _ => {}
                }
            }
            Deadline::TaskTtl { workspace, task } => {
                let live = self
                    .state
                    .workspaces
                    .get(&workspace)
                    .and_then(|ws| ws.tasks.get(&task))
                    .is_some_and(|t| {
                        matches!(t.assignment_status.as_str(), "pending" | "reserved")
                    });
                if live {
                    self.cancel_task(&workspace, &task, "Task TTL Exceeded");
                }
            }
            Deadline::Cleanup { workspace, task } => {
                let Some(ws) = self.state.workspaces.get_mut(&workspace) else {
                    return;
                };
                if ws
                    .tasks
                    .get(&task)
                    .is_some_and(|t| terminal(&t.assignment_status))
                {
                    ws.remove_task(&task);
                }
            }
        }
    }
}

/// Whether a worker could take one more task on some channel (or, single-tasking, has
/// nothing in progress).
fn has_room(ws: &Workspace, worker: &Worker, loads: &Loads) -> bool {
    if !ws.multi_task_enabled {
        return loads.busy(&worker.sid) == 0;
    }
    worker.channels.iter().any(|channel| {
        channel.available
            && i64::from(loads.counts(&worker.sid, &channel.task_channel_sid).1)
                < channel.configured_capacity
    })
}

/// The workers to reserve for a pending task now, best first, with the task's queue:
/// eligible (§4.6), longest idle first then `order_by` (§2.5), up to the room left under
/// `max_reserved_workers`. `only` restricts the choice to one worker. Pure.
fn choose(
    ws: &Workspace,
    task: &Task,
    only: Option<&Worker>,
    loads: &Loads,
    now: Millis,
) -> Option<(String, Vec<String>)> {
    if task.assignment_status != "pending" || task.routing.as_ref().is_some_and(|r| r.expired) {
        return None;
    }
    let queue = task
        .task_queue_sid
        .as_deref()
        .and_then(|q| ws.queues.get(q))?;
    let step = task
        .routing
        .as_ref()
        .and_then(|r| step_of(&r.workflow, r.filter, r.step).cloned());
    let multitasking = ws.multi_task_enabled;
    let channel = ws
        .channels
        .get(&task.task_channel_sid)
        .map(|c| c.unique_name.as_str());
    let holders = loads.holders(&task.sid);
    let room = (queue.max_reserved_workers.max(1) as usize).saturating_sub(holders.len());
    if room == 0 {
        return None;
    }
    // Cheap checks first, so expressions run and views are built only for workers that
    // could take the task at all.
    let free_on_channel = |w: &Worker| {
        !multitasking
            || w.channels.iter().any(|c| {
                c.task_channel_sid == task.task_channel_sid
                    && c.available
                    && i64::from(loads.counts(&w.sid, &c.task_channel_sid).1)
                        < c.configured_capacity
            })
    };
    let admissible = |w: &&Worker| {
        ws.activities
            .get(&w.activity_sid)
            .is_some_and(|a| a.available)
            && free_on_channel(w)
            && !holders.contains(&w.sid)
            && !task.rejected_by.contains(&w.sid)
            && task
                .routing_target
                .as_deref()
                .is_none_or(|target| target == w.sid)
            && (multitasking || loads.busy(&w.sid) == 0)
    };
    let default_step;
    let step_ref = match &step {
        Some(step) => step,
        None => {
            default_step = plain_step(&queue.sid);
            &default_step
        }
    };
    let context = StepContext {
        step: step_ref,
        queue: &queue.def,
        task: &task.attributes_json,
        time: Some(time_of_day(now)),
        // Single-tasking workspaces ignore channel capacity (§4.6 rule 4).
        task_channel: if multitasking { channel } else { None },
    };
    // Longest idle first (§2.5): the workspace keeps its workers in that order, so
    // without `order_by` the walk stops at the first `room` eligible workers.
    let candidates: Box<dyn Iterator<Item = &Worker> + '_> = match only {
        Some(worker) => Box::new(std::iter::once(worker)),
        None => Box::new(ws.idle.iter().filter_map(|(_, _, sid)| ws.workers.get(sid))),
    };
    let chosen: Vec<String> = match &step_ref.order_by {
        None => candidates
            .filter(admissible)
            .filter(|w| context.is_eligible(&view(ws, w, &loads.channels(ws, w))))
            .take(room)
            .map(|w| w.sid.clone())
            .collect(),
        Some(order_by) => {
            let admitted: Vec<&Worker> = candidates.filter(admissible).collect();
            let channel_loads: Vec<Vec<crate::expr::ChannelLoad<'_>>> =
                admitted.iter().map(|w| loads.channels(ws, w)).collect();
            let mut views: Vec<WorkerView<'_>> = admitted
                .iter()
                .zip(&channel_loads)
                .map(|(w, c)| view(ws, w, c))
                .collect();
            views.retain(|v| context.is_eligible(v));
            order_by.sort(&mut views);
            views.iter().take(room).map(|v| v.sid.to_string()).collect()
        }
    };
    (!chosen.is_empty()).then(|| (queue.sid.clone(), chosen))
}

/// The first pending task, in queue order across the worker's queues, that the worker
/// may take now, with its queue.
fn first_task_for(
    ws: &Workspace,
    worker: &Worker,
    loads: &Loads,
    now: Millis,
) -> Option<(String, String)> {
    let mut heads: Vec<std::iter::Peekable<Box<dyn Iterator<Item = &str> + '_>>> = Vec::new();
    // Only channels the worker has room on (any channel when single-tasking: then it has
    // nothing in progress at all).
    let open: Vec<&str> = worker
        .channels
        .iter()
        .filter(|c| {
            !ws.multi_task_enabled
                || (c.available
                    && i64::from(loads.counts(&worker.sid, &c.task_channel_sid).1)
                        < c.configured_capacity)
        })
        .map(|c| c.task_channel_sid.as_str())
        .collect();
    for queue in ws.queues.iter() {
        let mut member = None;
        for channel in &open {
            let Some(index) = ws.pending.get(&(queue.sid.clone(), channel.to_string())) else {
                continue;
            };
            if index.fifo.is_empty()
                || !*member.get_or_insert_with(|| query::is_member(ws, queue, worker))
            {
                continue;
            }
            let tasks: Box<dyn Iterator<Item = &str> + '_> = if queue.task_order == "LIFO" {
                Box::new(index.lifo.iter().map(|entry| entry.2.as_str()))
            } else {
                Box::new(index.fifo.iter().map(|entry| entry.3.as_str()))
            };
            heads.push(tasks.peekable());
        }
    }
    let prefer = ws.prioritize_queue_order.as_str();
    loop {
        // The best head across the queues (§3.3), then the next, lazily.
        let mut best: Option<(usize, &Task)> = None;
        for (position, head) in heads.iter_mut().enumerate() {
            let Some(task) = head.peek().and_then(|sid| ws.tasks.get(sid)) else {
                continue;
            };
            if best.is_none_or(|(_, current)| {
                task_order(ws, task, current, prefer) == std::cmp::Ordering::Less
            }) {
                best = Some((position, task));
            }
        }
        let (position, task) = best?;
        heads[position].next();
        if let Some((queue, _)) = choose(ws, task, Some(worker), loads, now) {
            return Some((task.sid.clone(), queue));
        }
    }
}

/// The step a routing position points at.
fn step_of(
    workflow: &crate::workflow::CompiledWorkflow,
    filter: Option<usize>,
    step: usize,
) -> Option<&CompiledStep> {
    match filter {
        Some(filter) => workflow.filters().get(filter)?.steps.get(step),
        None => workflow.default_filter(),
    }
}

/// A step with no conditions, for tasks sent straight to a queue.
fn plain_step(queue: &str) -> CompiledStep {
    CompiledStep {
        index: 0,
        queue: queue.to_string(),
        queue_inherited: false,
        priority: None,
        timeout: None,
        expression: None,
        skip_if: None,
        order_by: None,
        known_worker: None,
        start_offset: 0,
        end_offset: None,
    }
}

/// Which of two pending tasks a worker gets first (§3.3): the workspace's preferred
/// queue order first; FIFO by priority then age, LIFO newest first ignoring priority.
fn task_order(ws: &Workspace, a: &Task, b: &Task, prefer: &str) -> std::cmp::Ordering {
    let order_of = |t: &Task| {
        t.task_queue_sid
            .as_deref()
            .and_then(|q| ws.queues.get(q))
            .map_or("FIFO", |q| q.task_order.as_str())
            .to_string()
    };
    let (oa, ob) = (order_of(a), order_of(b));
    if oa != ob {
        return if oa == prefer {
            std::cmp::Ordering::Less
        } else {
            std::cmp::Ordering::Greater
        };
    }
    if oa == "LIFO" {
        return b.virtual_start_time.cmp(&a.virtual_start_time);
    }
    b.priority
        .cmp(&a.priority)
        .then(a.virtual_start_time.cmp(&b.virtual_start_time))
        .then(a.created.cmp(&b.created))
}

/// A worker as expressions see it.
fn view<'a>(
    ws: &'a Workspace,
    worker: &'a Worker,
    channels: &'a [crate::expr::ChannelLoad<'a>],
) -> WorkerView<'a> {
    let activity = ws.activities.get(&worker.activity_sid);
    WorkerView {
        sid: &worker.sid,
        friendly_name: &worker.friendly_name,
        activity_sid: &worker.activity_sid,
        activity_name: activity.map_or("", |a| a.friendly_name.as_str()),
        available: activity.is_some_and(|a| a.available),
        attributes: &worker.attributes_json,
        channels,
    }
}
