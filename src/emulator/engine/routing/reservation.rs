//! The reservation lifecycle: creation and the assignment callback, accept, reject,
//! timeout, rescind; and how a task's end (cancel, wrap-up, completion, cleanup) carries
//! its reservations along (ROUTING.md §3.5, §5).

use crate::emulator::engine::state::EventType;
use serde_json::{json, Map, Value};

use super::Decision;
use crate::api::limits::MAX_ASSIGNMENTS;
use crate::api::resources::{ReservationStatus, TaskStatus};
use crate::emulator::engine::context::{Context, DEFAULT_RESERVATION_TIMEOUT};
use crate::emulator::engine::state::{Deadline, Reservation};
use crate::emulator::engine::{Effect, EngineError};
use crate::workflow::Millis as WalkMillis;

impl Context<'_> {
    pub(super) fn create_reservation(
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
        let first = task.assignment_status == TaskStatus::Pending;
        if first {
            task.set_status(TaskStatus::Reserved);
            task.assignments += 1;
            task.version += 1;
            task.updated = now;
        }
        let workflow_sid = task.workflow_sid.clone();
        ws.reindex(task_sid);
        ws.set_idle_since(worker_sid, now);
        // A task sent straight to a queue has no workflow: the default timeout then.
        let timeout = workflow_sid
            .as_deref()
            .and_then(|w| ws.workflows.get(w))
            .map_or(DEFAULT_RESERVATION_TIMEOUT, |w| w.task_reservation_timeout);
        ws.add_reservation(Reservation {
            sid: sid.clone(),
            task_sid: task_sid.to_string(),
            worker_sid: worker_sid.to_string(),
            status: ReservationStatus::Pending,
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
                workspace: workspace.into(),
                reservation: sid.as_str().into(),
            },
        );
        self.emit_reservation(workspace, &sid, EventType::ReservationCreated);
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

    // -------------------------------------------------------------- reservation outcomes

    /// Apply a decision to a pending reservation.
    pub(in crate::emulator::engine) fn decide(
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
                    reservation.instruction = Some(Box::new(instruction));
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

    fn set_status(&mut self, workspace: &str, reservation_sid: &str, status: ReservationStatus) {
        let now = self.now;
        let Some(reservation) = self.reservation_mut(workspace, reservation_sid) else {
            return;
        };
        debug_assert!(
            reservation.status.can_become(status),
            "reservation {reservation_sid}: {} cannot become {status}",
            reservation.status
        );
        reservation.status = status;
        reservation.updated = now;
        reservation.version += 1;
        if let Some(ws) = self.state.workspaces.get_mut(workspace) {
            if status.is_live() {
                ws.activate(reservation_sid);
            } else {
                ws.deactivate(reservation_sid);
            }
        }
        let Some(reservation) = self.reservation_mut(workspace, reservation_sid) else {
            return;
        };
        // A reservation that ends frees its worker's slot: offer it other work.
        if !status.is_live() {
            let worker = reservation.worker_sid.clone();
            self.dirty_workers.push((workspace.to_string(), worker));
        }
    }

    fn pending_reservation(&self, workspace: &str, sid: &str) -> Result<Reservation, EngineError> {
        let ws = self.workspace(workspace)?;
        let reservation = ws
            .reservations
            .get(sid)
            .ok_or_else(|| EngineError::not_in_workspace(workspace, "Reservations", sid))?;
        if reservation.status != ReservationStatus::Pending {
            return Err(EngineError::reservation_not_pending(
                sid,
                reservation.status,
            ));
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
        self.set_status(workspace, reservation_sid, ReservationStatus::Accepted);
        if let Some(instruction) = instruction {
            if let Some(r) = self.reservation_mut(workspace, reservation_sid) {
                r.instruction = Some(Box::new(instruction));
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
            task.set_status(TaskStatus::Assigned);
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
            ws.refresh_offer(&reservation.worker_sid);
        }
        let siblings: Vec<String> = ws
            .task_reservations(&reservation.task_sid)
            .filter(|r| r.status == ReservationStatus::Pending && r.sid != reservation_sid)
            .map(|r| r.sid.clone())
            .collect();
        self.emit_reservation(workspace, reservation_sid, EventType::ReservationAccepted);
        // First accept wins; the other offers are withdrawn (§3.5).
        for sibling in siblings {
            self.set_status(workspace, &sibling, ReservationStatus::Rescinded);
            self.emit_reservation(workspace, &sibling, EventType::ReservationRescinded);
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
                return Err(EngineError::unknown_activity(
                    "WorkerActivitySid",
                    activity,
                    workspace,
                ));
            }
        }
        self.set_status(workspace, reservation_sid, ReservationStatus::Rejected);
        if let Some(task) = self.task_mut(workspace, &reservation.task_sid) {
            // Not offered to the same worker again (the rule; ROUTING.md §5.4
            // allows a re-offer, which with a REST reject would loop at once).
            task.rejected_by.push(reservation.worker_sid.clone());
        }
        // The rejection is recorded before what it causes (the worker's move).
        self.emit_reservation(workspace, reservation_sid, EventType::ReservationRejected);
        // REST without an activity: back to the activity before the reservation (§5.2).
        let target = activity.or_else(|| rest.then(|| reservation.previous_activity_sid.clone()));
        if let Some(activity) = target {
            self.move_worker(workspace, &reservation.worker_sid, &activity);
        }
        self.after_unaccepted(workspace, &reservation.task_sid);
        Ok(())
    }

    /// A reservation's timer ran out (§5.3).
    pub(super) fn time_out(&mut self, workspace: &str, reservation_sid: &str) {
        let Ok(reservation) = self.pending_reservation(workspace, reservation_sid) else {
            return;
        };
        self.set_status(workspace, reservation_sid, ReservationStatus::Timeout);
        // The reservation's end is recorded before what it causes (the worker's move).
        self.emit_reservation(workspace, reservation_sid, EventType::ReservationTimeout);
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
            .any(|r| r.status == ReservationStatus::Pending);
        if still_pending {
            return;
        }
        let Some(task) = ws.tasks.get_mut(task_sid) else {
            return;
        };
        if task.assignment_status != TaskStatus::Reserved {
            return;
        }
        task.set_status(TaskStatus::Pending);
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
        let due = task
            .routing
            .as_ref()
            .is_some_and(|r| r.position.is_due(WalkMillis(now)));
        if due {
            self.step_timed_out(workspace, task_sid);
        } else {
            self.try_reserve(workspace, task_sid, None);
        }
    }

    /// Cancel a pending or reserved task with `reason` (TTL, workflow end, limits).
    pub(in crate::emulator::engine) fn cancel_task(
        &mut self,
        workspace: &str,
        task_sid: &str,
        reason: &str,
    ) {
        let now = self.now;
        let Some(task) = self.task_mut(workspace, task_sid) else {
            return;
        };
        // Only a task not yet assigned can be canceled (`TaskStatus::can_become`).
        if !task.assignment_status.can_become(TaskStatus::Canceled) {
            return;
        }
        task.set_status(TaskStatus::Canceled);
        task.reason = Some(reason.to_string());
        task.routing = None;
        task.finished = Some(now);
        task.version += 1;
        task.updated = now;
        if let Some(ws) = self.state.workspaces.get_mut(workspace) {
            ws.reindex(task_sid);
        }
        self.end_reservations(workspace, task_sid, ReservationStatus::Canceled);
        let mut extra = Map::new();
        extra.insert("task_canceled_reason".into(), json!(reason));
        self.emit_task(workspace, task_sid, EventType::TaskCanceled, extra);
        self.schedule_cleanup(workspace, task_sid);
    }

    /// Pending reservations of a task end with `status` (`canceled`), with their events.
    pub(in crate::emulator::engine) fn end_reservations(
        &mut self,
        workspace: &str,
        task_sid: &str,
        status: ReservationStatus,
    ) {
        let Some(ws) = self.state.workspaces.get(workspace) else {
            return;
        };
        let pending: Vec<String> = ws
            .task_reservations(task_sid)
            .filter(|r| r.status == ReservationStatus::Pending)
            .map(|r| r.sid.clone())
            .collect();
        for sid in pending {
            self.set_status(workspace, &sid, status);
            // Every caller ends them as canceled.
            self.emit_reservation(workspace, &sid, EventType::ReservationCanceled);
        }
    }

    /// The accepted reservation follows its task into wrap-up or completion.
    pub(in crate::emulator::engine) fn follow_task(
        &mut self,
        workspace: &str,
        task_sid: &str,
        status: ReservationStatus,
    ) {
        let now = self.now;
        let Some(ws) = self.state.workspaces.get(workspace) else {
            return;
        };
        let active: Vec<(String, String)> = ws
            .task_reservations(task_sid)
            .filter(|r| r.status.is_held())
            .map(|r| (r.sid.clone(), r.worker_sid.clone()))
            .collect();
        for (sid, worker) in active {
            self.set_status(workspace, &sid, status);
            let event = if status == ReservationStatus::Wrapping {
                EventType::ReservationWrapup
            } else {
                EventType::ReservationCompleted
            };
            self.emit_reservation(workspace, &sid, event);
            if status == ReservationStatus::Completed {
                if let Some(ws) = self.state.workspaces.get_mut(workspace) {
                    ws.set_idle_since(&worker, now);
                }
                self.dirty_workers.push((workspace.to_string(), worker));
            }
        }
    }

    pub(in crate::emulator::engine) fn schedule_cleanup(
        &mut self,
        workspace: &str,
        task_sid: &str,
    ) {
        // The task's TTL can no longer fire (only a waiting task times out, and a
        // finished one never waits again): it leaves the schedule rather than wait there,
        // stale, for up to the task's whole timeout.
        if let Some(at) = self
            .state
            .workspaces
            .get(workspace)
            .and_then(|ws| ws.tasks.get(task_sid))
            .map(|task| {
                task.created
                    .saturating_add(task.timeout.saturating_mul(1000))
            })
        {
            self.state.unschedule_ttl(at, workspace, task_sid);
        }
        if let Some(keep) = self.state.keep_finished {
            let at = self.now + keep;
            self.state.schedule(
                at,
                Deadline::Cleanup {
                    workspace: workspace.into(),
                    task: task_sid.into(),
                },
            );
        }
    }
}
