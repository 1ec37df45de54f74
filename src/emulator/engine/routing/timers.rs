//! Firing deadlines: reservation timeouts, step timeouts, task TTLs, cleanup.

use crate::api::resources::TaskStatus;
use crate::emulator::engine::context::Context;
use crate::emulator::engine::state::Deadline;

impl Context<'_> {
    /// Fire one due deadline; stale ones do nothing.
    pub(in crate::emulator::engine) fn fire(&mut self, deadline: Deadline) {
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
                let current = t.routing.as_ref().is_some_and(|r| r.is_current(generation));
                if !current {
                    return;
                }
                match t.assignment_status {
                    TaskStatus::Pending => self.step_timed_out(&workspace, &task),
                    // A pending reservation is left to finish; the task moves on if it ends
                    // unaccepted (UNCONFIRMED: TaskRouter's docs do not say).
                    TaskStatus::Reserved => {
                        if let Some(routing) = self
                            .task_mut(&workspace, &task)
                            .and_then(|t| t.routing.as_mut())
                        {
                            routing.position.defer_timeout();
                        }
                    }
                    TaskStatus::Assigned
                    | TaskStatus::Wrapping
                    | TaskStatus::Completed
                    | TaskStatus::Canceled => {}
                }
            }
            Deadline::TaskTtl { workspace, task } => {
                let live = self
                    .state
                    .workspaces
                    .get(&workspace)
                    .and_then(|ws| ws.tasks.get(&task))
                    .is_some_and(|t| t.assignment_status.is_waiting());
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
                    .is_some_and(|t| t.assignment_status.is_terminal())
                {
                    ws.remove_task(&task);
                }
            }
        }
    }
}
