//! Recording events: the workspace's event log and the runner's `Event` effect, and the
//! groups of event fields that several commands and the routing share (WIRE.md §7.3).

use serde_json::{json, Map, Value};

use super::context::Context;
use super::state::{Event, EventData, EventType, Millis, Task, Worker, Workspace};
use super::{delivery, Effect};

impl Context<'_> {
    /// Record an event about the resource `resource_sid` in the workspace's log and tell
    /// the runner. Only what happened is stored: the type, the date and the fields of
    /// the moment (the event's description, resource type and path are derived from
    /// them when it is read, the workspace's fields added then).
    pub(super) fn emit(
        &mut self,
        workspace: &str,
        event_type: EventType,
        resource_sid: &str,
        data: Map<String, Value>,
    ) {
        let sid = self.sids.next("EV");
        let now = self.now;
        let Some(ws) = self.state.workspaces.get_mut(workspace) else {
            return;
        };
        // Only a workspace with an event callback URL has anyone to deliver to; the
        // others skip the runner entirely.
        let deliver = ws.event_callback_url.is_some();
        let data = EventData::from_map(data, &mut ws.event_values);
        let event = Event::new(
            sid.as_str().into(),
            event_type,
            Some(resource_sid),
            now,
            data,
            &ws.event_values,
        );
        ws.events.insert(event);
        // The whole delivery is decided now, as the event happens: whether the
        // EventsFilter lets it through, where it goes and what it says. The runner only
        // sends it.
        if deliver {
            if let Some((url, params)) = delivery::event_callback(self.state, workspace, &sid) {
                self.effects.push(Effect::Event {
                    workspace: workspace.to_string(),
                    event: sid,
                    url,
                    params,
                });
            }
        }
    }
}

/// The fields of a worker's activity change that say where it came from: the previous
/// activity and the time spent in it (`elapsed`, clamped at zero).
pub(super) fn previous_activity_data(
    data: &mut Map<String, Value>,
    previous_sid: &str,
    previous_name: &str,
    elapsed: Millis,
) {
    let elapsed = elapsed.max(0);
    data.insert("worker_previous_activity_sid".into(), json!(previous_sid));
    data.insert("worker_previous_activity_name".into(), json!(previous_name));
    data.insert(
        "worker_time_in_previous_activity".into(),
        json!((elapsed / 1000).to_string()),
    );
    data.insert(
        "worker_time_in_previous_activity_ms".into(),
        json!(elapsed.to_string()),
    );
}

/// The worker group of event fields (WIRE.md §7.3).
pub(super) fn worker_data(ws: &Workspace, worker: &Worker) -> Map<String, Value> {
    let mut data = Map::new();
    data.insert("worker_sid".into(), json!(worker.sid));
    data.insert("worker_name".into(), json!(worker.friendly_name));
    data.insert("worker_attributes".into(), json!(worker.attributes));
    data.insert("worker_activity_sid".into(), json!(worker.activity_sid));
    data.insert(
        "worker_activity_name".into(),
        json!(ws.activity_name(&worker.activity_sid).unwrap_or_default()),
    );
    data.insert("worker_version".into(), json!(worker.version.to_string()));
    data
}

/// The task group of event fields (WIRE.md §7.3).
pub(super) fn task_data(ws: &Workspace, task: &Task, now: Millis) -> Map<String, Value> {
    let mut data = Map::new();
    data.insert("task_sid".into(), json!(task.sid));
    data.insert("task_attributes".into(), json!(task.attributes));
    data.insert(
        "task_age".into(),
        json!(((now - task.created).max(0) / 1000).to_string()),
    );
    data.insert("task_priority".into(), json!(task.priority.to_string()));
    data.insert(
        "task_assignment_status".into(),
        json!(task.assignment_status),
    );
    if let Some(channel) = ws.channels.get(&task.task_channel_sid) {
        data.insert("task_channel_sid".into(), json!(channel.sid));
        data.insert(
            "task_channel_unique_name".into(),
            json!(channel.unique_name),
        );
    }
    if let Some(workflow) = task
        .workflow_sid
        .as_deref()
        .and_then(|w| ws.workflows.get(w))
    {
        data.insert("workflow_sid".into(), json!(workflow.sid));
        data.insert("workflow_name".into(), json!(workflow.friendly_name));
    }
    if let Some(queue) = task
        .task_queue_sid
        .as_deref()
        .and_then(|q| ws.queues.get(q))
    {
        data.insert("task_queue_sid".into(), json!(queue.sid));
        data.insert("task_queue_name".into(), json!(queue.friendly_name));
    }
    data
}
