//! Records to Twilio's JSON: the spec's models, every field present, dates in
//! `YYYY-MM-DDTHH:MM:SSZ`, and `url`/`links` built from the emulator's own base URL so
//! clients that follow links stay on the emulator.

use serde_json::{json, Map, Value};

use crate::api::resources as model;
use crate::emulator::engine::query;
use crate::emulator::engine::state::*;

/// `2014-05-14T18:50:02Z`: the wire date format, kept with the wire model.
pub use crate::api::wire::format_date as date;

fn links(pairs: &[(&str, String)]) -> Option<Value> {
    let mut map = Map::new();
    for (name, url) in pairs {
        map.insert((*name).to_string(), json!(url));
    }
    Some(Value::Object(map))
}

/// URL builder rooted at the emulator's base URL.
pub struct Urls<'a> {
    /// e.g. `http://127.0.0.1:4010` (no trailing slash).
    pub base: &'a str,
}

impl Urls<'_> {
    /// `{base}/v1/Workspaces/{ws}` + `rest`.
    pub fn ws(&self, workspace: &str, rest: &str) -> String {
        format!("{}/v1/Workspaces/{workspace}{rest}", self.base)
    }
}

/// A workspace.
pub fn workspace(urls: &Urls<'_>, account: &str, ws: &Workspace) -> model::Workspace {
    let me = |rest: &str| urls.ws(&ws.sid, rest);
    model::Workspace {
        account_sid: Some(account.to_string()),
        date_created: Some(date(ws.created)),
        date_updated: Some(date(ws.updated)),
        default_activity_name: ws
            .activity_name(&ws.default_activity_sid)
            .map(str::to_string),
        default_activity_sid: Some(ws.default_activity_sid.clone()),
        event_callback_url: ws.event_callback_url.clone(),
        events_filter: ws.events_filter.clone(),
        friendly_name: Some(ws.friendly_name.clone()),
        multi_task_enabled: Some(ws.multi_task_enabled),
        sid: Some(ws.sid.clone()),
        timeout_activity_name: ws
            .activity_name(&ws.timeout_activity_sid)
            .map(str::to_string),
        timeout_activity_sid: Some(ws.timeout_activity_sid.clone()),
        prioritize_queue_order: Some(ws.prioritize_queue_order.to_string()),
        url: Some(me("")),
        links: links(&[
            ("activities", me("/Activities")),
            ("statistics", me("/Statistics")),
            ("real_time_statistics", me("/RealTimeStatistics")),
            ("cumulative_statistics", me("/CumulativeStatistics")),
            ("task_queues", me("/TaskQueues")),
            ("tasks", me("/Tasks")),
            ("workers", me("/Workers")),
            ("workflows", me("/Workflows")),
            ("task_channels", me("/TaskChannels")),
            ("events", me("/Events")),
        ]),
        extra: Map::new(),
    }
}

/// An activity.
pub fn activity(
    urls: &Urls<'_>,
    account: &str,
    ws: &Workspace,
    activity: &Activity,
) -> model::Activity {
    model::Activity {
        account_sid: Some(account.to_string()),
        available: Some(activity.available),
        date_created: Some(date(activity.created)),
        date_updated: Some(date(activity.updated)),
        friendly_name: Some(activity.friendly_name.clone()),
        sid: Some(activity.sid.clone()),
        workspace_sid: Some(ws.sid.clone()),
        url: Some(urls.ws(&ws.sid, &format!("/Activities/{}", activity.sid))),
        links: links(&[("workspace", urls.ws(&ws.sid, ""))]),
        extra: Map::new(),
    }
}

/// A task channel.
pub fn task_channel(
    urls: &Urls<'_>,
    account: &str,
    ws: &Workspace,
    channel: &TaskChannel,
) -> model::TaskChannel {
    model::TaskChannel {
        account_sid: Some(account.to_string()),
        date_created: Some(date(channel.created)),
        date_updated: Some(date(channel.updated)),
        friendly_name: Some(channel.friendly_name.clone()),
        sid: Some(channel.sid.clone()),
        unique_name: Some(channel.unique_name.clone()),
        workspace_sid: Some(ws.sid.clone()),
        channel_optimized_routing: channel.channel_optimized_routing,
        url: Some(urls.ws(&ws.sid, &format!("/TaskChannels/{}", channel.sid))),
        links: links(&[("workspace", urls.ws(&ws.sid, ""))]),
        extra: Map::new(),
    }
}

/// A task queue.
pub fn task_queue(
    urls: &Urls<'_>,
    account: &str,
    ws: &Workspace,
    queue: &TaskQueue,
) -> model::TaskQueue {
    let me = |rest: &str| urls.ws(&ws.sid, &format!("/TaskQueues/{}{rest}", queue.sid));
    let mut link_list = Vec::new();
    if let Some(sid) = &queue.assignment_activity_sid {
        link_list.push((
            "assignment_activity",
            urls.ws(&ws.sid, &format!("/Activities/{sid}")),
        ));
    }
    if let Some(sid) = &queue.reservation_activity_sid {
        link_list.push((
            "reservation_activity",
            urls.ws(&ws.sid, &format!("/Activities/{sid}")),
        ));
    }
    link_list.extend([
        ("workspace", urls.ws(&ws.sid, "")),
        ("statistics", me("/Statistics")),
        ("real_time_statistics", me("/RealTimeStatistics")),
        ("cumulative_statistics", me("/CumulativeStatistics")),
        (
            "list_statistics",
            urls.ws(&ws.sid, "/TaskQueues/Statistics"),
        ),
        (
            "bulk_real_time_statistics",
            urls.ws(&ws.sid, "/TaskQueues/RealTimeStatistics"),
        ),
    ]);
    model::TaskQueue {
        account_sid: Some(account.to_string()),
        assignment_activity_sid: queue.assignment_activity_sid.clone(),
        assignment_activity_name: queue
            .assignment_activity_sid
            .as_deref()
            .and_then(|s| ws.activity_name(s))
            .map(str::to_string),
        date_created: Some(date(queue.created)),
        date_updated: Some(date(queue.updated)),
        friendly_name: Some(queue.friendly_name.clone()),
        max_reserved_workers: Some(queue.max_reserved_workers),
        reservation_activity_sid: queue.reservation_activity_sid.clone(),
        reservation_activity_name: queue
            .reservation_activity_sid
            .as_deref()
            .and_then(|s| ws.activity_name(s))
            .map(str::to_string),
        sid: Some(queue.sid.clone()),
        target_workers: Some(queue.target_workers.clone()),
        task_order: Some(queue.task_order.to_string()),
        url: Some(me("")),
        workspace_sid: Some(ws.sid.clone()),
        links: links(&link_list),
        extra: Map::new(),
    }
}

/// A workflow.
pub fn workflow(
    urls: &Urls<'_>,
    account: &str,
    ws: &Workspace,
    workflow: &Workflow,
) -> model::Workflow {
    let me = |rest: &str| urls.ws(&ws.sid, &format!("/Workflows/{}{rest}", workflow.sid));
    model::Workflow {
        account_sid: Some(account.to_string()),
        assignment_callback_url: workflow.assignment_callback_url.clone(),
        configuration: Some(workflow.configuration.clone()),
        date_created: Some(date(workflow.created)),
        date_updated: Some(date(workflow.updated)),
        document_content_type: Some("application/json".to_string()),
        fallback_assignment_callback_url: workflow.fallback_assignment_callback_url.clone(),
        friendly_name: Some(workflow.friendly_name.clone()),
        sid: Some(workflow.sid.clone()),
        task_reservation_timeout: Some(workflow.task_reservation_timeout),
        workspace_sid: Some(ws.sid.clone()),
        url: Some(me("")),
        links: links(&[
            ("statistics", me("/Statistics")),
            ("real_time_statistics", me("/RealTimeStatistics")),
            ("cumulative_statistics", me("/CumulativeStatistics")),
        ]),
        extra: Map::new(),
    }
}

/// A worker.
pub fn worker(urls: &Urls<'_>, account: &str, ws: &Workspace, worker: &Worker) -> model::Worker {
    let me = |rest: &str| urls.ws(&ws.sid, &format!("/Workers/{}{rest}", worker.sid));
    let activity = ws.activities.get(&worker.activity_sid);
    model::Worker {
        account_sid: Some(account.to_string()),
        activity_name: activity.map(|a| a.friendly_name.clone()),
        activity_sid: Some(worker.activity_sid.clone()),
        attributes: Some(worker.attributes.clone()),
        available: Some(activity.is_some_and(|a| a.available)),
        date_created: Some(date(worker.created)),
        date_status_changed: Some(date(worker.status_changed)),
        date_updated: Some(date(worker.updated)),
        friendly_name: Some(worker.friendly_name.clone()),
        sid: Some(worker.sid.clone()),
        workspace_sid: Some(ws.sid.clone()),
        url: Some(me("")),
        links: links(&[
            ("channels", me("/Channels")),
            (
                "activity",
                urls.ws(&ws.sid, &format!("/Activities/{}", worker.activity_sid)),
            ),
            ("workspace", urls.ws(&ws.sid, "")),
            ("statistics", me("/Statistics")),
            (
                "real_time_statistics",
                urls.ws(&ws.sid, "/Workers/RealTimeStatistics"),
            ),
            (
                "cumulative_statistics",
                urls.ws(&ws.sid, "/Workers/CumulativeStatistics"),
            ),
            ("worker_statistics", me("/Statistics")),
            ("worker_channels", me("/Channels")),
            ("reservations", me("/Reservations")),
        ]),
        extra: Map::new(),
    }
}

/// One of a worker's channels.
pub fn worker_channel(
    urls: &Urls<'_>,
    account: &str,
    ws: &Workspace,
    worker: &Worker,
    channel: &WorkerChannel,
) -> model::WorkerChannel {
    let (assigned, occupied) = query::channel_counts(ws, worker, &channel.task_channel_sid);
    model::WorkerChannel {
        account_sid: Some(account.to_string()),
        assigned_tasks: Some(i64::from(assigned)),
        available: Some(channel.available),
        available_capacity_percentage: Some(query::available_capacity_percentage(
            channel.configured_capacity,
            occupied,
        )),
        configured_capacity: Some(channel.configured_capacity),
        date_created: Some(date(channel.created)),
        date_updated: Some(date(channel.updated)),
        sid: Some(channel.sid.clone()),
        task_channel_sid: Some(channel.task_channel_sid.clone()),
        task_channel_unique_name: ws
            .channels
            .get(&channel.task_channel_sid)
            .map(|c| c.unique_name.clone()),
        worker_sid: Some(worker.sid.clone()),
        workspace_sid: Some(ws.sid.clone()),
        url: Some(urls.ws(
            &ws.sid,
            &format!("/Workers/{}/Channels/{}", worker.sid, channel.sid),
        )),
        extra: Map::new(),
    }
}

/// A task.
pub fn task(
    urls: &Urls<'_>,
    account: &str,
    ws: &Workspace,
    task: &Task,
    now: Millis,
) -> model::Task {
    let me = |rest: &str| urls.ws(&ws.sid, &format!("/Tasks/{}{rest}", task.sid));
    let mut link_list = Vec::new();
    if let Some(queue) = &task.task_queue_sid {
        link_list.push((
            "task_queue",
            urls.ws(&ws.sid, &format!("/TaskQueues/{queue}")),
        ));
    }
    if let Some(workflow) = &task.workflow_sid {
        link_list.push((
            "workflow",
            urls.ws(&ws.sid, &format!("/Workflows/{workflow}")),
        ));
    }
    link_list.push(("workspace", urls.ws(&ws.sid, "")));
    link_list.push(("reservations", me("/Reservations")));
    let channel = ws.channels.get(&task.task_channel_sid);
    model::Task {
        account_sid: Some(account.to_string()),
        age: Some((now - task.created).max(0) / 1000),
        assignment_status: Some(task.assignment_status.to_string()),
        attributes: Some(task.attributes.clone()),
        addons: Some(task.addons.clone()),
        date_created: Some(date(task.created)),
        date_updated: Some(date(task.updated)),
        task_queue_entered_date: task.task_queue_entered.map(date),
        priority: Some(task.priority),
        reason: task.reason.clone(),
        sid: Some(task.sid.clone()),
        task_queue_sid: task.task_queue_sid.clone(),
        task_queue_friendly_name: task
            .task_queue_sid
            .as_deref()
            .and_then(|q| ws.queues.get(q))
            .map(|q| q.friendly_name.clone()),
        task_channel_sid: Some(task.task_channel_sid.clone()),
        task_channel_unique_name: channel.map(|c| c.unique_name.clone()),
        timeout: Some(task.timeout),
        workflow_sid: task.workflow_sid.clone(),
        workflow_friendly_name: task
            .workflow_sid
            .as_deref()
            .and_then(|w| ws.workflows.get(w))
            .map(|w| w.friendly_name.clone()),
        workspace_sid: Some(ws.sid.clone()),
        url: Some(me("")),
        links: links(&link_list),
        virtual_start_time: Some(date(task.virtual_start_time)),
        ignore_capacity: task.ignore_capacity,
        routing_target: task.routing_target.clone(),
        extra: Map::new(),
    }
}

fn reservation_links(urls: &Urls<'_>, ws: &Workspace, reservation: &Reservation) -> Option<Value> {
    links(&[
        (
            "task",
            urls.ws(&ws.sid, &format!("/Tasks/{}", reservation.task_sid)),
        ),
        (
            "worker",
            urls.ws(&ws.sid, &format!("/Workers/{}", reservation.worker_sid)),
        ),
        ("workspace", urls.ws(&ws.sid, "")),
    ])
}

/// A reservation seen from its task.
pub fn task_reservation(
    urls: &Urls<'_>,
    account: &str,
    ws: &Workspace,
    reservation: &Reservation,
) -> model::TaskReservation {
    model::TaskReservation {
        account_sid: Some(account.to_string()),
        date_created: Some(date(reservation.created)),
        date_updated: Some(date(reservation.updated)),
        reservation_status: Some(reservation.status.to_string()),
        sid: Some(reservation.sid.clone()),
        task_sid: Some(reservation.task_sid.clone()),
        worker_name: ws
            .workers
            .get(&reservation.worker_sid)
            .map(|w| w.friendly_name.clone()),
        worker_sid: Some(reservation.worker_sid.clone()),
        workspace_sid: Some(ws.sid.clone()),
        url: Some(urls.ws(
            &ws.sid,
            &format!(
                "/Tasks/{}/Reservations/{}",
                reservation.task_sid, reservation.sid
            ),
        )),
        links: reservation_links(urls, ws, reservation),
        extra: Map::new(),
    }
}

/// A reservation seen from its worker.
pub fn worker_reservation(
    urls: &Urls<'_>,
    account: &str,
    ws: &Workspace,
    reservation: &Reservation,
) -> model::WorkerReservation {
    model::WorkerReservation {
        account_sid: Some(account.to_string()),
        date_created: Some(date(reservation.created)),
        date_updated: Some(date(reservation.updated)),
        reservation_status: Some(reservation.status.to_string()),
        sid: Some(reservation.sid.clone()),
        task_sid: Some(reservation.task_sid.clone()),
        worker_name: ws
            .workers
            .get(&reservation.worker_sid)
            .map(|w| w.friendly_name.clone()),
        worker_sid: Some(reservation.worker_sid.clone()),
        workspace_sid: Some(ws.sid.clone()),
        url: Some(urls.ws(
            &ws.sid,
            &format!(
                "/Workers/{}/Reservations/{}",
                reservation.worker_sid, reservation.sid
            ),
        )),
        links: reservation_links(urls, ws, reservation),
        extra: Map::new(),
    }
}

/// An event.
pub fn event(urls: &Urls<'_>, account: &str, ws: &Workspace, event: &Event) -> model::Event {
    model::Event {
        account_sid: Some(account.to_string()),
        actor_sid: Some(ws.sid.clone()),
        actor_type: Some("workspace".to_string()),
        actor_url: Some(urls.ws(&ws.sid, "")),
        description: Some(event.description(ws)),
        event_data: Some(Value::Object(event.data_map(ws))),
        event_date: Some(date(event.date)),
        event_date_ms: Some(event.date),
        event_type: Some(event.event_type.as_str().to_string()),
        resource_sid: Some(event.resource_sid(ws).to_string()),
        resource_type: Some(event.resource_type().as_str().to_string()),
        resource_url: Some(format!("{}/v1{}", urls.base, event.resource_path(ws))),
        sid: Some(event.sid().to_string()),
        source: Some("twilio".to_string()),
        source_ip_address: Some("127.0.0.1".to_string()),
        url: Some(urls.ws(&ws.sid, &format!("/Events/{}", event.sid()))),
        workspace_sid: Some(ws.sid.clone()),
        extra: Map::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_use_twilio_format() {
        assert_eq!(date(0), "1970-01-01T00:00:00Z");
        assert_eq!(date(1_400_093_402_999), "2014-05-14T18:50:02Z");
    }
}
