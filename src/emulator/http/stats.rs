//! The statistics endpoints: the window, channel and split parameters decoded by the
//! spec's parameter structs, the figures computed by `engine::stats` under one lock,
//! and encoded into the spec's statistics models.
//!
//! The figures' wire names are written once, in the model builders below. The
//! `Statistics` endpoints nest the real-time and cumulative parts, free-form objects in
//! the spec, as the same models without their envelope (`account_sid`,
//! `workspace_sid`, the scope's SID, `url`), which Twilio's nested parts do not carry.

use std::collections::BTreeMap;

use axum::extract::{Path, State as AxumState};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Serialize;
use serde_json::{json, Map, Number, Value};

use super::{bad_param, find_ws, json_response, paging, read, Req, Shared};
use crate::api::resources as model;
use crate::api::wire::format_date;
use crate::api::ParamError;
use crate::emulator::engine::state::{TaskQueue, Workspace};
use crate::emulator::engine::stats::{self, Window, WindowParams};
use crate::emulator::engine::{EngineError, Millis};

// ---------------------------------------------------------------- parameters

/// The window parameters of an endpoint's parameter struct.
trait Windowed: Sized {
    fn from_pairs(pairs: &[(String, String)]) -> Result<Self, ParamError>;
    fn window(&self) -> WindowParams<'_>;
}

/// `Windowed` for a parameter struct: `dated` ones have `Minutes`, `StartDate` and
/// `EndDate`, `split` ones `SplitByWaitTime` too; every one has `TaskChannel`.
macro_rules! windowed {
    (@impl $params:ty, |$p:ident| $window:expr) => {
        impl Windowed for $params {
            fn from_pairs(pairs: &[(String, String)]) -> Result<Self, ParamError> {
                <$params>::from_pairs(pairs)
            }
            fn window(&self) -> WindowParams<'_> {
                let $p = self;
                $window
            }
        }
    };
    (split: $($params:ty),*) => {$(
        windowed!(@impl $params, |p| WindowParams {
            split_by_wait_time: p.split_by_wait_time.as_deref(),
            ..dated!(p)
        });
    )*};
    (dated: $($params:ty),*) => {$(
        windowed!(@impl $params, |p| dated!(p));
    )*};
    (channel: $($params:ty),*) => {$(
        windowed!(@impl $params, |p| WindowParams {
            task_channel: p.task_channel.as_deref(),
            ..WindowParams::default()
        });
    )*};
}

macro_rules! dated {
    ($p:ident) => {
        WindowParams {
            minutes: $p.minutes,
            start_date: $p.start_date.as_deref(),
            end_date: $p.end_date.as_deref(),
            split_by_wait_time: None,
            task_channel: $p.task_channel.as_deref(),
        }
    };
}

windowed!(split:
    model::FetchWorkspaceStatisticsParams,
    model::FetchWorkspaceCumulativeStatisticsParams,
    model::FetchTaskQueueStatisticsParams,
    model::FetchTaskQueueCumulativeStatisticsParams,
    model::ListTaskQueuesStatisticsParams,
    model::FetchWorkflowStatisticsParams,
    model::FetchWorkflowCumulativeStatisticsParams);
windowed!(dated:
    model::FetchWorkerStatisticsParams,
    model::FetchWorkersCumulativeStatisticsParams,
    model::FetchWorkerInstanceStatisticsParams);
windowed!(channel:
    model::FetchWorkspaceRealTimeStatisticsParams,
    model::FetchTaskQueueRealTimeStatisticsParams,
    model::FetchWorkflowRealTimeStatisticsParams,
    model::FetchWorkersRealTimeStatisticsParams);

/// What a statistics handler answers from: the envelope, the workspace, the time and
/// the decoded parameters.
struct Ctx<'a, P> {
    env: Envelope,
    workspace: &'a Workspace,
    now: Millis,
    params: &'a P,
}

impl<P: Windowed> Ctx<'_, P> {
    /// The window the parameters ask for. Handlers call it after finding the scope's
    /// record, so an unknown SID is a 404 whatever window was asked for.
    fn window(&self) -> Result<Window, EngineError> {
        Window::new(self.workspace, self.now, &self.params.window())
    }
}

/// Decode `P` from the query, then answer with `respond` under one lock.
fn windowed_read<P: Windowed, M: Serialize>(
    app: &Shared,
    ws: &str,
    req: &Req,
    respond: impl FnOnce(&Ctx<'_, P>) -> Result<M, EngineError>,
) -> Response {
    let params = match P::from_pairs(&req.query) {
        Ok(params) => params,
        Err(error) => return bad_param(error),
    };
    read(app, |state, now| {
        let workspace = find_ws(state, ws)?;
        let cx = Ctx {
            env: Envelope {
                account_sid: Some(state.account_sid.clone()),
                workspace_sid: Some(workspace.sid.clone()),
                url: Some(format!("{}{}", req.base, req.path)),
            },
            workspace,
            now,
            params: &params,
        };
        let body = respond(&cx)?;
        Ok(json_response(StatusCode::OK, &body, None))
    })
}

// ---------------------------------------------------------------- wire encoding

/// The fields every statistics body has; all `None` in a nested part.
struct Envelope {
    account_sid: Option<String>,
    workspace_sid: Option<String>,
    url: Option<String>,
}

const NESTED: Envelope = Envelope {
    account_sid: None,
    workspace_sid: None,
    url: None,
};

/// A model as a nested part: without the envelope fields it leaves empty.
fn nested<T: Serialize>(model: &T) -> Value {
    let mut value = serde_json::to_value(model).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut value {
        for key in [
            "account_sid",
            "workspace_sid",
            "task_queue_sid",
            "workflow_sid",
            "worker_sid",
            "url",
        ] {
            if map.get(key) == Some(&Value::Null) {
                map.shift_remove(key);
            }
        }
    }
    value
}

fn count(n: u64) -> Option<Number> {
    Some(n.into())
}

fn seconds(n: i64) -> Option<Number> {
    Some(n.into())
}

fn activity_statistics(activities: &[stats::ActivityCount]) -> Option<Value> {
    let list = activities
        .iter()
        .map(|a| json!({"sid": a.sid, "friendly_name": a.friendly_name, "workers": a.workers}))
        .collect();
    Some(Value::Array(list))
}

/// `tasks_by_status` and `tasks_by_priority`, keys in text order.
fn by_status(tasks: &stats::TaskCounts) -> Option<Value> {
    let map: BTreeMap<&str, u64> = tasks
        .by_status
        .iter()
        .map(|(status, n)| (status.as_str(), *n))
        .collect();
    Some(json!(map))
}

fn by_priority(tasks: &stats::TaskCounts) -> Option<Value> {
    let map: BTreeMap<String, u64> = tasks
        .by_priority
        .iter()
        .map(|(priority, n)| (priority.to_string(), *n))
        .collect();
    Some(json!(map))
}

fn waiting_age(waiting: &Option<stats::Waiting>) -> Option<Number> {
    seconds(waiting.as_ref().map_or(0, |w| w.age))
}

fn waiting_sid(waiting: &Option<stats::Waiting>) -> Option<String> {
    waiting.as_ref().map(|w| w.sid.clone())
}

fn durations(d: &stats::Durations) -> Option<Value> {
    Some(json!({"avg": d.avg, "min": d.min, "max": d.max, "total": d.total}))
}

/// `split_by_wait_time`: null when no threshold was asked for, else one entry per
/// threshold keyed by its seconds.
fn split_by_wait_time(splits: &[stats::WaitSplit]) -> Option<Value> {
    if splits.is_empty() {
        return Some(Value::Null);
    }
    let side = |s: &stats::SplitCounts| json!({"tasks_canceled": s.tasks_canceled, "reservations_accepted": s.reservations_accepted});
    let mut map = Map::new();
    for split in splits {
        map.insert(
            split.threshold.to_string(),
            json!({"above": side(&split.above), "below": side(&split.below)}),
        );
    }
    Some(Value::Object(map))
}

fn activity_durations(list: &[stats::ActivityDuration]) -> Option<Value> {
    let list = list
        .iter()
        .map(|a| {
            let d = &a.durations;
            json!({
                "sid": a.sid,
                "friendly_name": a.friendly_name,
                "avg": d.avg,
                "min": d.min,
                "max": d.max,
                "total": d.total,
            })
        })
        .collect();
    Some(Value::Array(list))
}

fn workspace_realtime(
    env: &Envelope,
    f: &stats::WorkspaceRealtime,
) -> model::WorkspaceRealTimeStatistics {
    model::WorkspaceRealTimeStatistics {
        account_sid: env.account_sid.clone(),
        activity_statistics: activity_statistics(&f.activities),
        longest_task_waiting_age: waiting_age(&f.tasks.longest_waiting),
        longest_task_waiting_sid: waiting_sid(&f.tasks.longest_waiting),
        tasks_by_priority: by_priority(&f.tasks),
        tasks_by_status: by_status(&f.tasks),
        total_tasks: count(f.tasks.total),
        total_workers: count(f.total_workers),
        workspace_sid: env.workspace_sid.clone(),
        url: env.url.clone(),
        extra: Map::new(),
    }
}

fn workspace_cumulative(
    env: &Envelope,
    f: &stats::WorkspaceCumulative,
) -> model::WorkspaceCumulativeStatistics {
    let r = &f.reservations;
    model::WorkspaceCumulativeStatistics {
        account_sid: env.account_sid.clone(),
        avg_task_acceptance_time: seconds(f.tasks.avg_acceptance_time),
        start_time: Some(format_date(f.start)),
        end_time: Some(format_date(f.end)),
        reservations_created: count(r.created),
        reservations_accepted: count(r.accepted),
        reservations_rejected: count(r.rejected),
        reservations_timed_out: count(r.timed_out),
        reservations_canceled: count(r.canceled),
        reservations_rescinded: count(r.rescinded),
        split_by_wait_time: split_by_wait_time(&f.tasks.split_by_wait_time),
        wait_duration_until_accepted: durations(&f.tasks.wait_until_accepted),
        wait_duration_until_canceled: durations(&f.tasks.wait_until_canceled),
        tasks_canceled: count(f.tasks.canceled),
        tasks_completed: count(f.tasks.completed),
        tasks_created: count(f.created),
        tasks_deleted: count(f.tasks.deleted),
        tasks_moved: count(f.tasks.moved),
        tasks_timed_out_in_workflow: count(f.timed_out_in_workflow),
        workspace_sid: env.workspace_sid.clone(),
        url: env.url.clone(),
        extra: Map::new(),
    }
}

fn queue_realtime(
    env: &Envelope,
    queue_sid: Option<&str>,
    f: &stats::QueueRealtime,
) -> model::TaskQueueRealTimeStatistics {
    model::TaskQueueRealTimeStatistics {
        account_sid: env.account_sid.clone(),
        activity_statistics: activity_statistics(&f.activities),
        longest_task_waiting_age: waiting_age(&f.tasks.longest_waiting),
        longest_task_waiting_sid: waiting_sid(&f.tasks.longest_waiting),
        longest_relative_task_age_in_queue: waiting_age(&f.longest_in_queue),
        longest_relative_task_sid_in_queue: waiting_sid(&f.longest_in_queue),
        task_queue_sid: queue_sid.map(str::to_string),
        tasks_by_priority: by_priority(&f.tasks),
        tasks_by_status: by_status(&f.tasks),
        total_available_workers: count(f.available_workers),
        total_eligible_workers: count(f.eligible_workers),
        total_tasks: count(f.tasks.total),
        workspace_sid: env.workspace_sid.clone(),
        url: env.url.clone(),
        extra: Map::new(),
    }
}

fn queue_cumulative(
    env: &Envelope,
    queue_sid: Option<&str>,
    f: &stats::QueueCumulative,
) -> model::TaskQueueCumulativeStatistics {
    let r = &f.reservations;
    model::TaskQueueCumulativeStatistics {
        account_sid: env.account_sid.clone(),
        avg_task_acceptance_time: seconds(f.tasks.avg_acceptance_time),
        start_time: Some(format_date(f.start)),
        end_time: Some(format_date(f.end)),
        reservations_created: count(r.created),
        reservations_accepted: count(r.accepted),
        reservations_rejected: count(r.rejected),
        reservations_timed_out: count(r.timed_out),
        reservations_canceled: count(r.canceled),
        reservations_rescinded: count(r.rescinded),
        split_by_wait_time: split_by_wait_time(&f.tasks.split_by_wait_time),
        task_queue_sid: queue_sid.map(str::to_string),
        wait_duration_until_accepted: durations(&f.tasks.wait_until_accepted),
        wait_duration_until_canceled: durations(&f.tasks.wait_until_canceled),
        wait_duration_in_queue_until_accepted: durations(&f.wait_in_queue_until_accepted),
        tasks_canceled: count(f.tasks.canceled),
        tasks_completed: count(f.tasks.completed),
        tasks_deleted: count(f.tasks.deleted),
        tasks_entered: count(f.entered),
        tasks_moved: count(f.tasks.moved),
        workspace_sid: env.workspace_sid.clone(),
        url: env.url.clone(),
        extra: Map::new(),
    }
}

fn workflow_realtime(
    env: &Envelope,
    workflow_sid: Option<&str>,
    tasks: &stats::TaskCounts,
) -> model::WorkflowRealTimeStatistics {
    model::WorkflowRealTimeStatistics {
        account_sid: env.account_sid.clone(),
        longest_task_waiting_age: waiting_age(&tasks.longest_waiting),
        longest_task_waiting_sid: waiting_sid(&tasks.longest_waiting),
        tasks_by_priority: by_priority(tasks),
        tasks_by_status: by_status(tasks),
        total_tasks: count(tasks.total),
        workflow_sid: workflow_sid.map(str::to_string),
        workspace_sid: env.workspace_sid.clone(),
        url: env.url.clone(),
        extra: Map::new(),
    }
}

fn workflow_cumulative(
    env: &Envelope,
    workflow_sid: Option<&str>,
    f: &stats::WorkflowCumulative,
) -> model::WorkflowCumulativeStatistics {
    let r = &f.reservations;
    model::WorkflowCumulativeStatistics {
        account_sid: env.account_sid.clone(),
        avg_task_acceptance_time: seconds(f.tasks.avg_acceptance_time),
        start_time: Some(format_date(f.start)),
        end_time: Some(format_date(f.end)),
        reservations_created: count(r.created),
        reservations_accepted: count(r.accepted),
        reservations_rejected: count(r.rejected),
        reservations_timed_out: count(r.timed_out),
        reservations_canceled: count(r.canceled),
        reservations_rescinded: count(r.rescinded),
        split_by_wait_time: split_by_wait_time(&f.tasks.split_by_wait_time),
        wait_duration_until_accepted: durations(&f.tasks.wait_until_accepted),
        wait_duration_until_canceled: durations(&f.tasks.wait_until_canceled),
        tasks_canceled: count(f.tasks.canceled),
        tasks_completed: count(f.tasks.completed),
        tasks_entered: count(f.entered),
        tasks_deleted: count(f.tasks.deleted),
        tasks_moved: count(f.tasks.moved),
        tasks_timed_out_in_workflow: count(f.timed_out_in_workflow),
        workflow_sid: workflow_sid.map(str::to_string),
        workspace_sid: env.workspace_sid.clone(),
        url: env.url.clone(),
        extra: Map::new(),
    }
}

fn workers_realtime(
    env: &Envelope,
    f: &stats::WorkersRealtime,
) -> model::WorkersRealTimeStatistics {
    model::WorkersRealTimeStatistics {
        account_sid: env.account_sid.clone(),
        activity_statistics: activity_statistics(&f.activities),
        total_workers: count(f.total_workers),
        workspace_sid: env.workspace_sid.clone(),
        url: env.url.clone(),
        extra: Map::new(),
    }
}

fn workers_cumulative(
    env: &Envelope,
    f: &stats::WorkersCumulative,
) -> model::WorkersCumulativeStatistics {
    let r = &f.reservations;
    model::WorkersCumulativeStatistics {
        account_sid: env.account_sid.clone(),
        start_time: Some(format_date(f.start)),
        end_time: Some(format_date(f.end)),
        activity_durations: activity_durations(&f.activity_durations),
        reservations_created: count(r.created),
        reservations_accepted: count(r.accepted),
        reservations_rejected: count(r.rejected),
        reservations_timed_out: count(r.timed_out),
        reservations_canceled: count(r.canceled),
        reservations_rescinded: count(r.rescinded),
        workspace_sid: env.workspace_sid.clone(),
        url: env.url.clone(),
        extra: Map::new(),
    }
}

// ---------------------------------------------------------------- workspace

pub(super) async fn workspace_statistics(
    AxumState(app): AxumState<Shared>,
    Path(ws): Path<String>,
    req: Req,
) -> Response {
    windowed_read(
        &app,
        &ws,
        &req,
        |cx: &Ctx<'_, model::FetchWorkspaceStatisticsParams>| {
            let env = &cx.env;
            let workspace = cx.workspace;
            let now = cx.now;
            let window = &cx.window()?;
            let realtime = stats::workspace_realtime(workspace, now, window.channel.as_deref());
            let cumulative = stats::workspace_cumulative(workspace, window);
            Ok(model::WorkspaceStatistics {
                realtime: Some(nested(&workspace_realtime(&NESTED, &realtime))),
                cumulative: Some(nested(&workspace_cumulative(&NESTED, &cumulative))),
                account_sid: env.account_sid.clone(),
                workspace_sid: env.workspace_sid.clone(),
                url: env.url.clone(),
                extra: Map::new(),
            })
        },
    )
}

pub(super) async fn workspace_realtime_statistics(
    AxumState(app): AxumState<Shared>,
    Path(ws): Path<String>,
    req: Req,
) -> Response {
    windowed_read(
        &app,
        &ws,
        &req,
        |cx: &Ctx<'_, model::FetchWorkspaceRealTimeStatisticsParams>| {
            let env = &cx.env;
            let workspace = cx.workspace;
            let now = cx.now;
            let window = &cx.window()?;
            let figures = stats::workspace_realtime(workspace, now, window.channel.as_deref());
            Ok(workspace_realtime(env, &figures))
        },
    )
}

pub(super) async fn workspace_cumulative_statistics(
    AxumState(app): AxumState<Shared>,
    Path(ws): Path<String>,
    req: Req,
) -> Response {
    windowed_read(
        &app,
        &ws,
        &req,
        |cx: &Ctx<'_, model::FetchWorkspaceCumulativeStatisticsParams>| {
            let env = &cx.env;
            let workspace = cx.workspace;
            let window = &cx.window()?;
            let figures = stats::workspace_cumulative(workspace, window);
            Ok(workspace_cumulative(env, &figures))
        },
    )
}

// ---------------------------------------------------------------- task queues

fn find_queue<'a>(workspace: &'a Workspace, sid: &str) -> Result<&'a TaskQueue, EngineError> {
    workspace
        .queues
        .get(sid)
        .ok_or_else(|| EngineError::not_in_workspace(&workspace.sid, "TaskQueues", sid))
}

/// A queue's real-time and cumulative parts, nested.
fn queue_parts(
    workspace: &Workspace,
    queue: &TaskQueue,
    window: &Window,
    now: Millis,
) -> (Option<Value>, Option<Value>) {
    let realtime = stats::queue_realtime(workspace, queue, now, window.channel.as_deref());
    let cumulative = stats::queue_cumulative(workspace, &queue.sid, window);
    (
        Some(nested(&queue_realtime(&NESTED, None, &realtime))),
        Some(nested(&queue_cumulative(&NESTED, None, &cumulative))),
    )
}

pub(super) async fn queue_statistics(
    AxumState(app): AxumState<Shared>,
    Path((ws, sid)): Path<(String, String)>,
    req: Req,
) -> Response {
    windowed_read(
        &app,
        &ws,
        &req,
        |cx: &Ctx<'_, model::FetchTaskQueueStatisticsParams>| {
            let env = &cx.env;
            let workspace = cx.workspace;
            let now = cx.now;
            let queue = find_queue(workspace, &sid)?;
            let window = &cx.window()?;
            let (realtime, cumulative) = queue_parts(workspace, queue, window, now);
            Ok(model::TaskQueueStatistics {
                account_sid: env.account_sid.clone(),
                cumulative,
                realtime,
                task_queue_sid: Some(queue.sid.clone()),
                workspace_sid: env.workspace_sid.clone(),
                url: env.url.clone(),
                extra: Map::new(),
            })
        },
    )
}

pub(super) async fn queue_realtime_statistics(
    AxumState(app): AxumState<Shared>,
    Path((ws, sid)): Path<(String, String)>,
    req: Req,
) -> Response {
    windowed_read(
        &app,
        &ws,
        &req,
        |cx: &Ctx<'_, model::FetchTaskQueueRealTimeStatisticsParams>| {
            let env = &cx.env;
            let workspace = cx.workspace;
            let now = cx.now;
            let queue = find_queue(workspace, &sid)?;
            let window = &cx.window()?;
            let figures = stats::queue_realtime(workspace, queue, now, window.channel.as_deref());
            Ok(queue_realtime(env, Some(&queue.sid), &figures))
        },
    )
}

pub(super) async fn queue_cumulative_statistics(
    AxumState(app): AxumState<Shared>,
    Path((ws, sid)): Path<(String, String)>,
    req: Req,
) -> Response {
    windowed_read(
        &app,
        &ws,
        &req,
        |cx: &Ctx<'_, model::FetchTaskQueueCumulativeStatisticsParams>| {
            let env = &cx.env;
            let workspace = cx.workspace;
            let queue = find_queue(workspace, &sid)?;
            let window = &cx.window()?;
            let figures = stats::queue_cumulative(workspace, &queue.sid, window);
            Ok(queue_cumulative(env, Some(&queue.sid), &figures))
        },
    )
}

pub(super) async fn list_queue_statistics(
    AxumState(app): AxumState<Shared>,
    Path(ws): Path<String>,
    req: Req,
) -> Response {
    let params = match model::ListTaskQueuesStatisticsParams::from_pairs(&req.query) {
        Ok(params) => params,
        Err(error) => return bad_param(error),
    };
    read(&app, |state, now| {
        let workspace = find_ws(state, &ws)?;
        let window = Window::new(workspace, now, &params.window())?;
        let items: Vec<(u64, &TaskQueue)> = workspace
            .queues
            .iter()
            .filter(|q| {
                params
                    .friendly_name
                    .as_deref()
                    .is_none_or(|name| q.friendly_name.contains(name))
            })
            .filter_map(|q| workspace.queues.position_of(&q.sid).map(|p| (p, q)))
            .collect();
        paging::respond(
            &req,
            &workspace.queues,
            items,
            "task_queues_statistics",
            |queue| {
                let (realtime, cumulative) = queue_parts(workspace, queue, &window, now);
                // List items carry no `url` (the spec's schema has none).
                model::TaskQueuesStatistics {
                    account_sid: Some(state.account_sid.clone()),
                    cumulative,
                    realtime,
                    task_queue_sid: Some(queue.sid.clone()),
                    workspace_sid: Some(workspace.sid.clone()),
                    extra: Map::new(),
                }
            },
        )
    })
}

/// `QueueSids` of a bulk request's JSON body (both spellings appear in Twilio's docs,
/// WIRE.md §8.6; either is accepted). The generated parameter struct decodes query and
/// form pairs only, so the body is read here.
fn queue_sids(req: &Req) -> Vec<String> {
    req.json
        .as_ref()
        .and_then(|body| body.get("QueueSids").or_else(|| body.get("queueSids")))
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

pub(super) async fn bulk_queue_statistics(
    AxumState(app): AxumState<Shared>,
    Path(ws): Path<String>,
    req: Req,
) -> Response {
    let sids = queue_sids(&req);
    read(&app, |state, now| {
        let workspace = find_ws(state, &ws)?;
        if sids.is_empty() || sids.len() > 50 {
            return Err(EngineError::queue_sids_count(sids.len()));
        }
        if let Some(bad) = sids.iter().find(|sid| !crate::api::sid::is_sid("WQ", sid)) {
            return Err(EngineError::invalid_queue_sid(bad));
        }
        let data: Vec<Value> = sids
            .iter()
            .map(|sid| {
                let figures = match workspace.queues.get(sid) {
                    Some(queue) => stats::queue_realtime(workspace, queue, now, None),
                    // Well-formed SIDs that are not in the workspace come back as zeros.
                    None => stats::QueueRealtime::empty(workspace),
                };
                let mut entry = nested(&queue_realtime(&NESTED, None, &figures));
                if let Value::Object(map) = &mut entry {
                    // A bulk entry has no queue-relative ages; it names its queue last.
                    map.shift_remove("longest_relative_task_age_in_queue");
                    map.shift_remove("longest_relative_task_sid_in_queue");
                    map.insert("task_queue_sid".into(), json!(sid));
                }
                entry
            })
            .collect();
        let body = model::TaskQueueBulkRealTimeStatistics {
            account_sid: Some(state.account_sid.clone()),
            workspace_sid: Some(workspace.sid.clone()),
            task_queue_data: Some(Value::Array(data)),
            task_queue_response_count: count(sids.len() as u64),
            url: Some(format!("{}{}", req.base, req.path)),
            extra: Map::new(),
        };
        Ok(json_response(StatusCode::OK, &body, None))
    })
}

// ---------------------------------------------------------------- workflows

fn find_workflow<'a>(
    workspace: &'a Workspace,
    sid: &str,
) -> Result<&'a crate::emulator::engine::state::Workflow, EngineError> {
    workspace
        .workflows
        .get(sid)
        .ok_or_else(|| EngineError::not_in_workspace(&workspace.sid, "Workflows", sid))
}

pub(super) async fn workflow_statistics(
    AxumState(app): AxumState<Shared>,
    Path((ws, sid)): Path<(String, String)>,
    req: Req,
) -> Response {
    windowed_read(
        &app,
        &ws,
        &req,
        |cx: &Ctx<'_, model::FetchWorkflowStatisticsParams>| {
            let env = &cx.env;
            let workspace = cx.workspace;
            let now = cx.now;
            let workflow = find_workflow(workspace, &sid)?;
            let window = &cx.window()?;
            let realtime =
                stats::workflow_realtime(workspace, workflow, now, window.channel.as_deref());
            let cumulative = stats::workflow_cumulative(workspace, &workflow.sid, window);
            Ok(model::WorkflowStatistics {
                account_sid: env.account_sid.clone(),
                cumulative: Some(nested(&workflow_cumulative(&NESTED, None, &cumulative))),
                realtime: Some(nested(&workflow_realtime(&NESTED, None, &realtime))),
                workflow_sid: Some(workflow.sid.clone()),
                workspace_sid: env.workspace_sid.clone(),
                url: env.url.clone(),
                extra: Map::new(),
            })
        },
    )
}

pub(super) async fn workflow_realtime_statistics(
    AxumState(app): AxumState<Shared>,
    Path((ws, sid)): Path<(String, String)>,
    req: Req,
) -> Response {
    windowed_read(
        &app,
        &ws,
        &req,
        |cx: &Ctx<'_, model::FetchWorkflowRealTimeStatisticsParams>| {
            let env = &cx.env;
            let workspace = cx.workspace;
            let now = cx.now;
            let workflow = find_workflow(workspace, &sid)?;
            let window = &cx.window()?;
            let figures =
                stats::workflow_realtime(workspace, workflow, now, window.channel.as_deref());
            Ok(workflow_realtime(env, Some(&workflow.sid), &figures))
        },
    )
}

pub(super) async fn workflow_cumulative_statistics(
    AxumState(app): AxumState<Shared>,
    Path((ws, sid)): Path<(String, String)>,
    req: Req,
) -> Response {
    windowed_read(
        &app,
        &ws,
        &req,
        |cx: &Ctx<'_, model::FetchWorkflowCumulativeStatisticsParams>| {
            let env = &cx.env;
            let workspace = cx.workspace;
            let workflow = find_workflow(workspace, &sid)?;
            let window = &cx.window()?;
            let figures = stats::workflow_cumulative(workspace, &workflow.sid, window);
            Ok(workflow_cumulative(env, Some(&workflow.sid), &figures))
        },
    )
}

// ---------------------------------------------------------------- workers

pub(super) async fn workers_statistics(
    AxumState(app): AxumState<Shared>,
    Path(ws): Path<String>,
    req: Req,
) -> Response {
    windowed_read(
        &app,
        &ws,
        &req,
        |cx: &Ctx<'_, model::FetchWorkerStatisticsParams>| {
            let env = &cx.env;
            let workspace = cx.workspace;
            let window = &cx.window()?;
            let realtime = stats::workers_realtime(workspace);
            let cumulative = stats::workers_cumulative(workspace, None, window);
            Ok(model::WorkerStatistics {
                realtime: Some(nested(&workers_realtime(&NESTED, &realtime))),
                cumulative: Some(nested(&workers_cumulative(&NESTED, &cumulative))),
                account_sid: env.account_sid.clone(),
                workspace_sid: env.workspace_sid.clone(),
                url: env.url.clone(),
                extra: Map::new(),
            })
        },
    )
}

pub(super) async fn workers_realtime_statistics(
    AxumState(app): AxumState<Shared>,
    Path(ws): Path<String>,
    req: Req,
) -> Response {
    windowed_read(
        &app,
        &ws,
        &req,
        |cx: &Ctx<'_, model::FetchWorkersRealTimeStatisticsParams>| {
            let env = &cx.env;
            let workspace = cx.workspace;
            // The figures do not depend on the channel, but an unknown one is refused.
            cx.window()?;
            Ok(workers_realtime(env, &stats::workers_realtime(workspace)))
        },
    )
}

pub(super) async fn workers_cumulative_statistics(
    AxumState(app): AxumState<Shared>,
    Path(ws): Path<String>,
    req: Req,
) -> Response {
    windowed_read(
        &app,
        &ws,
        &req,
        |cx: &Ctx<'_, model::FetchWorkersCumulativeStatisticsParams>| {
            let env = &cx.env;
            let workspace = cx.workspace;
            let window = &cx.window()?;
            let figures = stats::workers_cumulative(workspace, None, window);
            Ok(workers_cumulative(env, &figures))
        },
    )
}

pub(super) async fn worker_statistics(
    AxumState(app): AxumState<Shared>,
    Path((ws, sid)): Path<(String, String)>,
    req: Req,
) -> Response {
    windowed_read(
        &app,
        &ws,
        &req,
        |cx: &Ctx<'_, model::FetchWorkerInstanceStatisticsParams>| {
            let env = &cx.env;
            let workspace = cx.workspace;
            let worker = workspace
                .workers
                .get(&sid)
                .ok_or_else(|| EngineError::not_in_workspace(&workspace.sid, "Workers", &sid))?;
            let window = &cx.window()?;
            let figures = stats::workers_cumulative(workspace, Some(&worker.sid), window);
            Ok(model::WorkerInstanceStatistics {
                account_sid: env.account_sid.clone(),
                cumulative: Some(nested(&workers_cumulative(&NESTED, &figures))),
                worker_sid: Some(worker.sid.clone()),
                workspace_sid: env.workspace_sid.clone(),
                url: env.url.clone(),
                extra: Map::new(),
            })
        },
    )
}
