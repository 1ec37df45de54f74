//! Statistics computed from the state (real-time) and the event log (cumulative).
//!
//! Every field of the spec's statistics schemas is produced with its JSON type; counts
//! that only routing produces (reservations, acceptance times) come from the events the
//! engine records, so they fill in as soon as those events exist.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use super::query;
use super::state::*;
use crate::api::resources::TaskStatus;

/// A statistics window: `[start, end]` in epoch ms, and the split thresholds.
#[derive(Debug, Clone, Default)]
pub struct Window {
    /// Start (inclusive).
    pub start: Millis,
    /// End (inclusive).
    pub end: Millis,
    /// `SplitByWaitTime` thresholds in seconds.
    pub split: Vec<i64>,
    /// Only this task channel (SID).
    pub channel: Option<String>,
}

fn is_waiting(task: &Task) -> bool {
    task.assignment_status.is_waiting()
}

fn is_live(task: &Task) -> bool {
    !task.assignment_status.is_terminal()
}

/// Real-time task figures over a set of tasks: totals, by status, by priority, oldest waiting.
fn task_figures<'a>(tasks: impl Iterator<Item = &'a Task>, now: Millis) -> Map<String, Value> {
    let mut by_status: BTreeMap<&str, i64> = TaskStatus::ALL
        .iter()
        .filter(|s| !s.is_terminal())
        .map(|s| (s.as_str(), 0))
        .collect();
    let mut by_priority: BTreeMap<String, i64> = BTreeMap::new();
    let mut total = 0;
    let mut oldest: Option<&Task> = None;
    for task in tasks.filter(|t| is_live(t)) {
        total += 1;
        *by_status
            .entry(task.assignment_status.as_str())
            .or_default() += 1;
        *by_priority.entry(task.priority.to_string()).or_default() += 1;
        if is_waiting(task) && oldest.is_none_or(|o| task.created < o.created) {
            oldest = Some(task);
        }
    }
    let mut map = Map::new();
    map.insert(
        "longest_task_waiting_age".into(),
        json!(oldest.map_or(0, |t| (now - t.created).max(0) / 1000)),
    );
    map.insert(
        "longest_task_waiting_sid".into(),
        json!(oldest.map(|t| t.sid.clone())),
    );
    map.insert("tasks_by_priority".into(), json!(by_priority));
    map.insert("tasks_by_status".into(), json!(by_status));
    map.insert("total_tasks".into(), json!(total));
    map
}

fn activity_statistics<'a>(
    ws: &Workspace,
    workers: impl Iterator<Item = &'a Worker> + Clone,
) -> Value {
    let list: Vec<Value> = ws
        .activities
        .iter()
        .map(|activity| {
            let count = workers
                .clone()
                .filter(|w| w.activity_sid == activity.sid)
                .count();
            json!({"sid": activity.sid, "friendly_name": activity.friendly_name, "workers": count})
        })
        .collect();
    Value::Array(list)
}

fn channel_ok(ws: &Workspace, task: &Task, window: &Window) -> bool {
    let _ = ws;
    window
        .channel
        .as_deref()
        .is_none_or(|c| task.task_channel_sid == c)
}

/// Workspace real-time statistics (without the envelope fields).
pub fn workspace_realtime(ws: &Workspace, now: Millis, window: &Window) -> Map<String, Value> {
    let mut map = Map::new();
    map.insert(
        "activity_statistics".into(),
        activity_statistics(ws, ws.workers.iter()),
    );
    map.extend(task_figures(
        ws.tasks.iter().filter(|t| channel_ok(ws, t, window)),
        now,
    ));
    map.insert("total_workers".into(), json!(ws.workers.len()));
    map
}

/// Task queue real-time statistics.
pub fn queue_realtime(
    ws: &Workspace,
    queue: &TaskQueue,
    now: Millis,
    window: &Window,
) -> Map<String, Value> {
    let members: Vec<&Worker> = ws
        .workers
        .iter()
        .filter(|w| query::is_member(ws, queue, w))
        .collect();
    let available = members
        .iter()
        .filter(|w| {
            ws.activities
                .get(&w.activity_sid)
                .is_some_and(|a| a.available)
        })
        .count();
    let in_queue = || {
        ws.tasks.iter().filter(|t| {
            t.task_queue_sid.as_deref() == Some(queue.sid.as_str()) && channel_ok(ws, t, window)
        })
    };
    let mut map = Map::new();
    map.insert(
        "activity_statistics".into(),
        activity_statistics(ws, members.iter().copied()),
    );
    map.extend(task_figures(in_queue(), now));
    let oldest_in_queue = in_queue()
        .filter(|t| is_waiting(t))
        .min_by_key(|t| t.task_queue_entered.unwrap_or(t.created));
    map.insert(
        "longest_relative_task_age_in_queue".into(),
        json!(
            oldest_in_queue.map_or(0, |t| (now - t.task_queue_entered.unwrap_or(t.created))
                .max(0)
                / 1000)
        ),
    );
    map.insert(
        "longest_relative_task_sid_in_queue".into(),
        json!(oldest_in_queue.map(|t| t.sid.clone())),
    );
    map.insert("total_available_workers".into(), json!(available));
    map.insert("total_eligible_workers".into(), json!(members.len()));
    map
}

/// Workflow real-time statistics.
pub fn workflow_realtime(
    ws: &Workspace,
    workflow: &Workflow,
    now: Millis,
    window: &Window,
) -> Map<String, Value> {
    task_figures(
        ws.tasks.iter().filter(|t| {
            t.workflow_sid.as_deref() == Some(workflow.sid.as_str()) && channel_ok(ws, t, window)
        }),
        now,
    )
}

/// Real-time statistics of all workers.
pub fn workers_realtime(ws: &Workspace) -> Map<String, Value> {
    let mut map = Map::new();
    map.insert(
        "activity_statistics".into(),
        activity_statistics(ws, ws.workers.iter()),
    );
    map.insert("total_workers".into(), json!(ws.workers.len()));
    map
}

/// Which events count for a cumulative scope.
#[derive(Debug, Clone, Copy)]
pub enum Scope<'a> {
    /// The whole workspace.
    Workspace,
    /// One queue.
    Queue(&'a str),
    /// One workflow.
    Workflow(&'a str),
    /// All workers.
    Workers,
    /// One worker.
    Worker(&'a str),
}

fn in_scope(ws: &Workspace, event: &Event, scope: Scope<'_>, window: &Window) -> bool {
    if event.date < window.start || event.date > window.end {
        return false;
    }
    let field = |key: &str| event.field(ws, key);
    if let Some(channel) = &window.channel {
        if field("task_channel_sid").is_some_and(|c| c != channel) {
            return false;
        }
    }
    match scope {
        Scope::Workspace | Scope::Workers => true,
        Scope::Queue(sid) => field("task_queue_sid") == Some(sid),
        Scope::Workflow(sid) => field("workflow_sid") == Some(sid),
        Scope::Worker(sid) => field("worker_sid") == Some(sid),
    }
}

fn duration_summary(values: &[i64]) -> Value {
    let total: i64 = values.iter().sum();
    let count = values.len() as i64;
    json!({
        "avg": if count == 0 { 0 } else { total / count },
        "min": values.iter().min().copied().unwrap_or(0),
        "max": values.iter().max().copied().unwrap_or(0),
        "total": total,
    })
}

fn seconds_field(ws: &Workspace, event: &Event, key: &str) -> Option<i64> {
    event.field(ws, key).and_then(|v| v.parse().ok())
}

/// Cumulative statistics of a scope over the window, every field the scope's schema has.
pub fn cumulative(ws: &Workspace, scope: Scope<'_>, window: &Window) -> Map<String, Value> {
    let events: Vec<&Event> = ws
        .events
        .iter()
        .filter(|e| in_scope(ws, e, scope, window))
        .collect();
    let count =
        |event_type: EventType| events.iter().filter(|e| e.event_type == event_type).count();
    let accepted_waits: Vec<i64> = events
        .iter()
        .filter(|e| e.event_type == EventType::ReservationAccepted)
        .filter_map(|e| seconds_field(ws, e, "task_age"))
        .collect();
    let canceled_waits: Vec<i64> = events
        .iter()
        .filter(|e| e.event_type == EventType::TaskCanceled)
        .filter_map(|e| seconds_field(ws, e, "task_age"))
        .collect();
    let mut map = Map::new();
    map.insert(
        "start_time".into(),
        json!(crate::api::wire::format_date(window.start)),
    );
    map.insert(
        "end_time".into(),
        json!(crate::api::wire::format_date(window.end)),
    );
    for (key, event_type) in [
        ("reservations_created", EventType::ReservationCreated),
        ("reservations_accepted", EventType::ReservationAccepted),
        ("reservations_rejected", EventType::ReservationRejected),
        ("reservations_timed_out", EventType::ReservationTimeout),
        ("reservations_canceled", EventType::ReservationCanceled),
        ("reservations_rescinded", EventType::ReservationRescinded),
    ] {
        map.insert(key.into(), json!(count(event_type)));
    }
    if matches!(scope, Scope::Workers | Scope::Worker(_)) {
        map.insert(
            "activity_durations".into(),
            activity_durations(ws, scope, window, &events),
        );
        return map;
    }
    let average = if accepted_waits.is_empty() {
        0
    } else {
        accepted_waits.iter().sum::<i64>() / accepted_waits.len() as i64
    };
    map.insert("avg_task_acceptance_time".into(), json!(average));
    map.insert(
        "wait_duration_until_accepted".into(),
        duration_summary(&accepted_waits),
    );
    map.insert(
        "wait_duration_until_canceled".into(),
        duration_summary(&canceled_waits),
    );
    map.insert(
        "tasks_canceled".into(),
        json!(count(EventType::TaskCanceled)),
    );
    map.insert(
        "tasks_completed".into(),
        json!(count(EventType::TaskCompleted)),
    );
    map.insert("tasks_deleted".into(), json!(count(EventType::TaskDeleted)));
    map.insert(
        "tasks_moved".into(),
        json!(count(EventType::TaskQueueMoved)),
    );
    match scope {
        Scope::Workspace => {
            map.insert("tasks_created".into(), json!(count(EventType::TaskCreated)));
            map.insert(
                "tasks_timed_out_in_workflow".into(),
                json!(count(EventType::WorkflowTimeout)),
            );
        }
        Scope::Queue(_) => {
            map.insert(
                "tasks_entered".into(),
                json!(count(EventType::TaskQueueEntered)),
            );
            let in_queue: Vec<i64> = events
                .iter()
                .filter(|e| e.event_type == EventType::ReservationAccepted)
                .filter_map(|e| {
                    seconds_field(ws, e, "task_age_in_queue")
                        .or_else(|| seconds_field(ws, e, "task_age"))
                })
                .collect();
            map.insert(
                "wait_duration_in_queue_until_accepted".into(),
                duration_summary(&in_queue),
            );
        }
        Scope::Workflow(_) => {
            map.insert(
                "tasks_entered".into(),
                json!(count(EventType::WorkflowEntered)),
            );
            map.insert(
                "tasks_timed_out_in_workflow".into(),
                json!(count(EventType::WorkflowTimeout)),
            );
        }
        Scope::Workers | Scope::Worker(_) => {}
    }
    map.insert(
        "split_by_wait_time".into(),
        split_by_wait_time(ws, &events, &window.split),
    );
    map
}

fn split_by_wait_time(ws: &Workspace, events: &[&Event], thresholds: &[i64]) -> Value {
    if thresholds.is_empty() {
        return Value::Null;
    }
    let mut split = Map::new();
    for threshold in thresholds {
        let mut above = (0, 0);
        let mut below = (0, 0);
        for event in events {
            let Some(age) = seconds_field(ws, event, "task_age") else {
                continue;
            };
            let side = if age > *threshold {
                &mut above
            } else {
                &mut below
            };
            match event.event_type {
                EventType::TaskCanceled => side.0 += 1,
                EventType::ReservationAccepted => side.1 += 1,
                _ => {}
            }
        }
        split.insert(
            threshold.to_string(),
            json!({
                "above": {"tasks_canceled": above.0, "reservations_accepted": above.1},
                "below": {"tasks_canceled": below.0, "reservations_accepted": below.1},
            }),
        );
    }
    Value::Object(split)
}

/// Seconds each activity was held, from the activity-change events in the window plus
/// the time the workers have spent in their current activity.
fn activity_durations(
    ws: &Workspace,
    scope: Scope<'_>,
    window: &Window,
    events: &[&Event],
) -> Value {
    let mut spans: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for event in events
        .iter()
        .filter(|e| e.event_type == EventType::WorkerActivityUpdate)
    {
        let previous = event.field(ws, "worker_previous_activity_sid");
        let millis = seconds_field(ws, event, "worker_time_in_previous_activity_ms");
        if let (Some(previous), Some(millis)) = (previous, millis) {
            spans
                .entry(previous.to_string())
                .or_default()
                .push(millis / 1000);
        }
    }
    for worker in ws.workers.iter() {
        if let Scope::Worker(sid) = scope {
            if worker.sid != sid {
                continue;
            }
        }
        let since = worker.status_changed.max(window.start);
        if since <= window.end {
            spans
                .entry(worker.activity_sid.clone())
                .or_default()
                .push((window.end - since) / 1000);
        }
    }
    let list: Vec<Value> = ws
        .activities
        .iter()
        .map(|activity| {
            let values = spans.get(&activity.sid).cloned().unwrap_or_default();
            let summary = duration_summary(&values);
            json!({
                "sid": activity.sid,
                "friendly_name": activity.friendly_name,
                "avg": summary["avg"],
                "min": summary["min"],
                "max": summary["max"],
                "total": summary["total"],
            })
        })
        .collect();
    Value::Array(list)
}
