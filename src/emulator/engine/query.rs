//! Reads: list filters exactly as the spec defines them, and derived views (worker
//! channel load, worker eligibility for a queue). Pure functions of a borrowed state.

use std::collections::HashMap;

use serde_json::Value;

use super::error::EngineError;
use super::state::EventType;
use super::state::{
    Activity, Event, Millis, Record, Reservation, State, Table, Task, TaskChannel, TaskQueue,
    Worker, Workflow, Workspace,
};
use super::validate;
use crate::api::resources::*;
use crate::expr::{ChannelLoad, WorkerView};
use crate::workflow::TargetWorkers;

/// A filtered list: (creation position, record) in creation order.
pub type Listed<'a, T> = Vec<(u64, &'a T)>;

fn positioned<'a, T: Record>(table: &'a Table<T>, keep: impl Fn(&T) -> bool) -> Listed<'a, T> {
    table
        .iter()
        .filter(|item| keep(item))
        .filter_map(|item| {
            table
                .position_of(item.sid())
                .map(|position| (position, item))
        })
        .collect()
}

/// `Ordering=DateCreated:desc` (and friends) reverses creation order; other keys fall
/// back to creation order, which is TaskRouter's default.
fn apply_ordering<'a, T>(mut items: Listed<'a, T>, ordering: Option<&str>) -> Listed<'a, T> {
    if let Some(ordering) = ordering {
        if ordering
            .split(',')
            .any(|clause| clause.trim().to_ascii_lowercase().ends_with(":desc"))
        {
            items.reverse();
        }
    }
    items
}

fn truthy(value: &str) -> bool {
    matches!(value.to_ascii_lowercase().as_str(), "true" | "1" | "yes")
}

/// Workspaces, filtered.
pub fn workspaces<'a>(state: &'a State, params: &ListWorkspaceParams) -> Listed<'a, Workspace> {
    positioned(&state.workspaces, |ws| {
        params
            .friendly_name
            .as_deref()
            .is_none_or(|name| ws.friendly_name == name)
    })
}

/// Activities, filtered.
pub fn activities<'a>(ws: &'a Workspace, params: &ListActivityParams) -> Listed<'a, Activity> {
    positioned(&ws.activities, |activity| {
        params
            .friendly_name
            .as_deref()
            .is_none_or(|name| activity.friendly_name == name)
            && params
                .available
                .as_deref()
                .is_none_or(|available| activity.available == truthy(available))
    })
}

/// Task channels.
pub fn channels(ws: &Workspace) -> Listed<'_, TaskChannel> {
    positioned(&ws.channels, |_| true)
}

/// Workflows, filtered.
pub fn workflows<'a>(ws: &'a Workspace, params: &ListWorkflowParams) -> Listed<'a, Workflow> {
    positioned(&ws.workflows, |workflow| {
        params
            .friendly_name
            .as_deref()
            .is_none_or(|name| workflow.friendly_name == name)
    })
}

/// Per-channel load of a worker, for expressions and the worker channel resource.
pub fn channel_loads<'a>(ws: &'a Workspace, worker: &'a Worker) -> Vec<ChannelLoad<'a>> {
    Loads::of(ws).channels(ws, worker)
}

/// (accepted, pending+accepted+wrapping) reservations of `worker` on a task channel.
pub fn channel_counts(ws: &Workspace, worker: &Worker, task_channel_sid: &str) -> (u32, u32) {
    Loads::of(ws).counts(&worker.sid, task_channel_sid)
}

/// Per-worker load from the live reservations (pending, accepted, wrapping). The
/// workspace keeps one up to date as reservations start, change status and end
/// ([`Workspace::activate`], [`Workspace::deactivate`]), so a routing decision reads it
/// without counting every reservation again; [`Loads::recount`] counts from scratch
/// (for consistency checks).
#[derive(Debug, Clone, Default)]
pub struct Loads {
    /// worker → its load
    workers: HashMap<String, WorkerLoad>,
    /// task → workers with a pending reservation for it, in reservation order
    holders: HashMap<String, Vec<String>>,
    /// reservation → what it contributes (so removal undoes exactly what was added)
    entries: HashMap<String, LoadEntry>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct WorkerLoad {
    /// Live reservations, any channel.
    busy: u32,
    /// (task channel, accepted, pending+accepted+wrapping); no entry while zero.
    channels: Vec<(String, u32, u32)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct LoadEntry {
    worker: String,
    task: String,
    channel: String,
    accepted: bool,
    pending: bool,
}

impl Loads {
    /// The load the workspace keeps.
    pub fn of(ws: &Workspace) -> &Loads {
        &ws.loads
    }

    /// Count the live reservations of `ws` from scratch, from their statuses.
    pub fn recount(ws: &Workspace) -> Loads {
        let mut loads = Loads::default();
        let live = |r: &&Reservation| r.status.is_live();
        for reservation in ws.reservations.iter().filter(live) {
            if let Some(task) = ws.tasks.get(&reservation.task_sid) {
                loads.add(reservation, &task.task_channel_sid);
            }
        }
        loads
    }

    /// Count a live reservation (replacing what it counted before) on `channel`.
    pub fn add(&mut self, reservation: &Reservation, channel: &str) {
        self.remove(&reservation.sid);
        let entry = LoadEntry {
            worker: reservation.worker_sid.clone(),
            task: reservation.task_sid.clone(),
            channel: channel.to_string(),
            accepted: reservation.status == ReservationStatus::Accepted,
            pending: reservation.status == ReservationStatus::Pending,
        };
        let load = self.workers.entry(entry.worker.clone()).or_default();
        load.busy += 1;
        match load
            .channels
            .iter_mut()
            .find(|(c, _, _)| *c == entry.channel)
        {
            Some((_, accepted, occupied)) => {
                *accepted += u32::from(entry.accepted);
                *occupied += 1;
            }
            None => load
                .channels
                .push((entry.channel.clone(), u32::from(entry.accepted), 1)),
        }
        if entry.pending {
            self.holders
                .entry(entry.task.clone())
                .or_default()
                .push(entry.worker.clone());
        }
        self.entries.insert(reservation.sid.clone(), entry);
    }

    /// Whether a reservation is counted (it holds its worker's slot).
    pub fn holds(&self, reservation: &str) -> bool {
        self.entries.contains_key(reservation)
    }

    /// How many reservations are counted.
    pub fn held(&self) -> usize {
        self.entries.len()
    }

    /// Stop counting a reservation.
    pub fn remove(&mut self, reservation: &str) {
        let Some(entry) = self.entries.remove(reservation) else {
            return;
        };
        if let Some(load) = self.workers.get_mut(&entry.worker) {
            load.busy = load.busy.saturating_sub(1);
            if let Some(at) = load
                .channels
                .iter()
                .position(|(c, _, _)| *c == entry.channel)
            {
                let slot = &mut load.channels[at];
                slot.1 = slot.1.saturating_sub(u32::from(entry.accepted));
                slot.2 = slot.2.saturating_sub(1);
                if slot.2 == 0 {
                    load.channels.swap_remove(at);
                }
            }
            if load.busy == 0 {
                self.workers.remove(&entry.worker);
            }
        }
        if entry.pending {
            if let Some(workers) = self.holders.get_mut(&entry.task) {
                if let Some(at) = workers.iter().position(|w| *w == entry.worker) {
                    workers.remove(at);
                }
                if workers.is_empty() {
                    self.holders.remove(&entry.task);
                }
            }
        }
    }

    /// Whether two counts agree (order of entries aside).
    pub fn same_as(&self, other: &Loads) -> bool {
        let normal = |loads: &Loads| {
            type Row = (String, u32, Vec<(String, u32, u32)>);
            let mut workers: Vec<Row> = loads
                .workers
                .iter()
                .map(|(w, load)| {
                    let mut channels = load.channels.clone();
                    channels.sort();
                    (w.clone(), load.busy, channels)
                })
                .collect();
            workers.sort();
            let mut holders: Vec<(String, Vec<String>)> = loads
                .holders
                .iter()
                .map(|(t, ws)| {
                    let mut ws = ws.clone();
                    ws.sort();
                    (t.clone(), ws)
                })
                .collect();
            holders.sort();
            (workers, holders)
        };
        normal(self) == normal(other)
    }

    /// Live reservations of a worker, any channel.
    pub fn busy(&self, worker: &str) -> u32 {
        self.workers.get(worker).map_or(0, |load| load.busy)
    }

    /// Workers holding a pending reservation for a task.
    pub fn holders(&self, task: &str) -> &[String] {
        self.holders.get(task).map_or(&[], Vec::as_slice)
    }

    /// (accepted, occupied) of a worker on a task channel.
    pub fn counts(&self, worker: &str, task_channel_sid: &str) -> (u32, u32) {
        self.workers
            .get(worker)
            .and_then(|load| load.channels.iter().find(|(c, _, _)| c == task_channel_sid))
            .map_or((0, 0), |(_, accepted, occupied)| (*accepted, *occupied))
    }

    /// A worker's channels as expressions see them.
    pub fn channels<'a>(
        &self,
        ws: &'a Workspace,
        worker: &'a Worker,
    ) -> Vec<crate::expr::ChannelLoad<'a>> {
        worker
            .channels
            .iter()
            .map(|channel| {
                let (assigned, occupied) = self.counts(&worker.sid, &channel.task_channel_sid);
                crate::expr::ChannelLoad {
                    unique_name: ws
                        .channels
                        .get(&channel.task_channel_sid)
                        .map_or("", |c| c.unique_name.as_str()),
                    configured_capacity: u32::try_from(channel.configured_capacity).unwrap_or(0),
                    assigned_tasks: assigned,
                    occupied,
                    available: channel.available,
                }
            })
            .collect()
    }
}

/// `floor((1 − occupied / capacity) × 100)`, 0 when the capacity is 0 (ROUTING.md §1.9.3).
pub fn available_capacity_percentage(configured: i64, occupied: u32) -> i64 {
    if configured <= 0 {
        return 0;
    }
    let free = (configured - i64::from(occupied)).max(0);
    free * 100 / configured
}

/// Whether `worker` is a member of `queue` (its `target_workers` admits the worker).
pub fn is_member(ws: &Workspace, queue: &TaskQueue, worker: &Worker) -> bool {
    with_view(ws, worker, |view| queue.def.target_workers.admits(view))
}

/// A worker as expressions see it, with its channels' loads.
pub fn view<'a>(
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

/// Call `f` with the worker as expressions see it.
pub fn with_view<R>(ws: &Workspace, worker: &Worker, f: impl FnOnce(&WorkerView<'_>) -> R) -> R {
    let loads = channel_loads(ws, worker);
    f(&view(ws, worker, &loads))
}

/// Task queues, filtered.
pub fn queues<'a>(
    ws: &'a Workspace,
    params: &ListTaskQueueParams,
) -> Result<Listed<'a, TaskQueue>, EngineError> {
    let worker_doc = match params.evaluate_worker_attributes.as_deref() {
        Some(text) => Some(
            validate::attributes(text)
                .map_err(|_| EngineError::not_a_json_object("EvaluateWorkerAttributes", text))?,
        ),
        None => None,
    };
    let worker = match params.worker_sid.as_deref() {
        Some(sid) => Some(
            ws.workers
                .get(sid)
                .ok_or_else(|| EngineError::unknown_worker("WorkerSid", sid, &ws.sid))?,
        ),
        None => None,
    };
    let items = positioned(&ws.queues, |queue| {
        params
            .friendly_name
            .as_deref()
            .is_none_or(|name| queue.friendly_name == name)
            && worker_doc
                .as_ref()
                .is_none_or(|doc| admits_document(queue, doc))
            && worker.is_none_or(|worker| is_member(ws, queue, worker))
    });
    Ok(apply_ordering(items, params.ordering.as_deref()))
}

/// Whether a queue's `target_workers` admits a bare attributes document. Uses the rule
/// compiled when the queue was written, so listing costs no parsing.
fn admits_document(queue: &TaskQueue, attributes: &Value) -> bool {
    let view = WorkerView {
        sid: "",
        friendly_name: "",
        activity_sid: "",
        activity_name: "",
        available: false,
        attributes,
        channels: &[],
    };
    queue.def.target_workers.admits(&view)
}

/// Workers, filtered.
pub fn workers<'a>(
    ws: &'a Workspace,
    params: &ListWorkerParams,
) -> Result<Listed<'a, Worker>, EngineError> {
    let expression = match params.target_workers_expression.as_deref() {
        Some(text) => Some(TargetWorkers::Expression(validate::expression(
            "TargetWorkersExpression",
            text,
        )?)),
        None => None,
    };
    let queue = match (
        params.task_queue_sid.as_deref(),
        params.task_queue_name.as_deref(),
    ) {
        (Some(sid), _) => Some(
            ws.queues
                .get(sid)
                .ok_or_else(|| EngineError::unknown_queue("TaskQueueSid", sid, &ws.sid))?,
        ),
        (None, Some(name)) => Some(
            ws.queues
                .iter()
                .find(|q| q.friendly_name == name)
                .ok_or_else(|| EngineError::no_queue_named(name, &ws.sid))?,
        ),
        (None, None) => None,
    };
    let items = positioned(&ws.workers, |worker| {
        let activity = ws.activities.get(&worker.activity_sid);
        params
            .friendly_name
            .as_deref()
            .is_none_or(|name| worker.friendly_name == name)
            && params
                .activity_sid
                .as_deref()
                .is_none_or(|sid| worker.activity_sid == sid)
            && params
                .activity_name
                .as_deref()
                .is_none_or(|name| activity.is_some_and(|a| a.friendly_name == name))
            && params
                .available
                .as_deref()
                .is_none_or(|value| activity.is_some_and(|a| a.available) == truthy(value))
            && expression
                .as_ref()
                .is_none_or(|target| with_view(ws, worker, |view| target.admits(view)))
            && queue.is_none_or(|queue| is_member(ws, queue, worker))
    });
    Ok(apply_ordering(items, params.ordering.as_deref()))
}

/// Tasks, filtered.
pub fn tasks<'a>(
    ws: &'a Workspace,
    params: &ListTaskParams,
) -> Result<Listed<'a, Task>, EngineError> {
    let statuses = params
        .assignment_status
        .iter()
        .map(|status| {
            status.parse::<TaskStatus>().map_err(|_| {
                EngineError::invalid_assignment_status_filter(status, TASK_ENUM_STATUS)
            })
        })
        .collect::<Result<Vec<TaskStatus>, EngineError>>()?;
    if let Some(ordering) = params.ordering.as_deref() {
        let keys: Vec<&str> = ordering
            .split(',')
            .map(|c| c.split(':').next().unwrap_or("").trim())
            .collect();
        if keys
            .iter()
            .any(|k| !matches!(*k, "DateCreated" | "Priority" | "VirtualStartTime"))
        {
            return Err(EngineError::invalid_ordering(ordering));
        }
        if keys.contains(&"DateCreated") && keys.contains(&"VirtualStartTime") {
            return Err(EngineError::ordering_conflict());
        }
    }
    let expression = match params.evaluate_task_attributes.as_deref() {
        Some(text) => Some(validate::expression("EvaluateTaskAttributes", text)?),
        None => None,
    };
    let workflow_by_name = params.workflow_name.as_deref().map(|name| {
        ws.workflows
            .iter()
            .filter(|w| w.friendly_name == name)
            .map(|w| w.sid.clone())
            .collect::<Vec<_>>()
    });
    let queue_by_name = params.task_queue_name.as_deref().map(|name| {
        ws.queues
            .iter()
            .filter(|q| q.friendly_name == name)
            .map(|q| q.sid.clone())
            .collect::<Vec<_>>()
    });
    let mut items = positioned(&ws.tasks, |task| {
        params.priority.is_none_or(|p| task.priority == p)
            && (statuses.is_empty() || statuses.contains(&task.assignment_status))
            && params
                .workflow_sid
                .as_deref()
                .is_none_or(|w| task.workflow_sid.as_deref() == Some(w))
            && workflow_by_name
                .as_ref()
                .is_none_or(|sids| task.workflow_sid.as_ref().is_some_and(|w| sids.contains(w)))
            && params
                .task_queue_sid
                .as_deref()
                .is_none_or(|q| task.task_queue_sid.as_deref() == Some(q))
            && queue_by_name.as_ref().is_none_or(|sids| {
                task.task_queue_sid
                    .as_ref()
                    .is_some_and(|q| sids.contains(q))
            })
            && params
                .routing_target
                .as_deref()
                .is_none_or(|t| task.routing_target.as_deref() == Some(t))
            && params
                .has_addons
                .is_none_or(|has| (task.addons != "{}") == has)
            && expression
                .as_ref()
                .is_none_or(|e| e.matches_document(&task.attributes_value()))
    });
    if let Some(ordering) = params.ordering.as_deref() {
        for clause in ordering.split(',').rev() {
            let mut parts = clause.split(':');
            let key = parts.next().unwrap_or("").trim();
            let descending = parts
                .next()
                .is_some_and(|o| o.trim().eq_ignore_ascii_case("desc"));
            items.sort_by(|(pa, a), (pb, b)| {
                let order = match key {
                    "Priority" => a.priority.cmp(&b.priority),
                    "VirtualStartTime" => a.virtual_start_time.cmp(&b.virtual_start_time),
                    _ => pa.cmp(pb),
                };
                if descending {
                    order.reverse()
                } else {
                    order
                }
            });
        }
    }
    Ok(items)
}

/// Reservations of a task or a worker, filtered by status (and worker).
pub fn reservations<'a>(
    ws: &'a Workspace,
    task: Option<&str>,
    worker: Option<&str>,
    status: Option<&str>,
    worker_filter: Option<&str>,
) -> Result<Listed<'a, Reservation>, EngineError> {
    let status = status
        .map(|status| {
            status
                .parse::<ReservationStatus>()
                .map_err(|_| EngineError::invalid_reservation_status_filter(status))
        })
        .transpose()?;
    Ok(positioned(&ws.reservations, |r| {
        task.is_none_or(|t| r.task_sid == t)
            && worker.is_none_or(|w| r.worker_sid == w)
            && worker_filter.is_none_or(|w| r.worker_sid == w)
            && status.is_none_or(|s| r.status == s)
    }))
}

/// The events window: `StartDate`/`EndDate`, or the last `Minutes` (default 15) before `now`.
pub fn window(
    now: Millis,
    minutes: Option<i64>,
    start: Option<&str>,
    end: Option<&str>,
) -> Result<(Millis, Millis), EngineError> {
    if minutes.is_some() && (start.is_some() || end.is_some()) {
        return Err(EngineError::minutes_with_dates());
    }
    let end_time = match end {
        Some(text) => validate::date_time("EndDate", text)?,
        None => now,
    };
    let start_time = match (start, minutes) {
        (Some(text), _) => validate::date_time("StartDate", text)?,
        (None, Some(minutes)) if minutes <= 0 => {
            return Err(EngineError::minutes_not_positive(minutes))
        }
        (None, minutes) => end_time - minutes.unwrap_or(15) * 60_000,
    };
    Ok((start_time, end_time))
}

/// Events, filtered.
pub fn events<'a>(
    ws: &'a Workspace,
    params: &ListEventParams,
    now: Millis,
) -> Result<Listed<'a, Event>, EngineError> {
    let (start, end) = window(
        now,
        params.minutes,
        params.start_date.as_deref(),
        params.end_date.as_deref(),
    )?;
    let channel = params.task_channel.as_deref().map(|c| {
        ws.channel_by_ref(c)
            .map(|c| c.sid.clone())
            .unwrap_or_else(|| c.to_string())
    });
    let field = |event: &Event, key: &str| event.field(ws, key).map(str::to_string);
    // A type the emulator never emits matches no event.
    let event_type = params
        .event_type
        .as_deref()
        .map(|t| t.parse::<EventType>().ok());
    Ok(positioned(&ws.events, |event| {
        event.date >= start
            && event.date <= end
            && event_type.is_none_or(|t| t == Some(event.event_type))
            && params.sid.as_deref().is_none_or(|s| event.sid() == s)
            && params
                .task_sid
                .as_deref()
                .is_none_or(|s| field(event, "task_sid").as_deref() == Some(s))
            && params
                .worker_sid
                .as_deref()
                .is_none_or(|s| field(event, "worker_sid").as_deref() == Some(s))
            && params
                .reservation_sid
                .as_deref()
                .is_none_or(|s| field(event, "reservation_sid").as_deref() == Some(s))
            && params
                .task_queue_sid
                .as_deref()
                .is_none_or(|s| field(event, "task_queue_sid").as_deref() == Some(s))
            && params
                .workflow_sid
                .as_deref()
                .is_none_or(|s| field(event, "workflow_sid").as_deref() == Some(s))
            && channel
                .as_deref()
                .is_none_or(|c| field(event, "task_channel_sid").as_deref() == Some(c))
    }))
}
