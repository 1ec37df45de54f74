//! Moving a worker to another activity, with its event.

use crate::emulator::engine::context::Context;
use crate::emulator::engine::events::{previous_activity_data, worker_data};
use crate::emulator::engine::state::EventType;

impl Context<'_> {
    pub(super) fn move_worker(&mut self, workspace: &str, worker_sid: &str, activity: &str) {
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
        ws.refresh_offer(worker_sid);
        let previous_name = ws.activity_name(&previous).unwrap_or_default().to_string();
        let mut data = worker_data(ws, &worker);
        previous_activity_data(&mut data, &previous, &previous_name, now - since);
        self.emit(workspace, EventType::WorkerActivityUpdate, worker_sid, data);
        self.dirty_workers
            .push((workspace.to_string(), worker_sid.to_string()));
    }
}
