//! The task and reservation events of routing.

use serde_json::{json, Map, Value};

use crate::emulator::engine::context::Context;
use crate::emulator::engine::events::{task_data, worker_data};
use crate::emulator::engine::state::{EventType, Millis, Reservation, Workspace};

impl Context<'_> {
    pub(super) fn emit_task(
        &mut self,
        workspace: &str,
        task_sid: &str,
        event_type: EventType,
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
        self.emit(workspace, event_type, task_sid, data);
    }

    pub(super) fn emit_reservation(
        &mut self,
        workspace: &str,
        reservation_sid: &str,
        event_type: EventType,
    ) {
        let now = self.now;
        let Some(ws) = self.state.workspaces.get(workspace) else {
            return;
        };
        let Some(reservation) = ws.reservations.get(reservation_sid) else {
            return;
        };
        let data = reservation_data(ws, reservation, now);
        self.emit(workspace, event_type, reservation_sid, data);
    }
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
