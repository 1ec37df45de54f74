//! The emulator's HTTP layer: TaskRouter v1 routes, request decoding, Basic auth, list
//! envelopes and paging, and Twilio's error shape.
//!
//! Every handler is the same short sequence: authenticate (middleware) → decode the
//! query or form into the spec's parameter struct → apply a command to the engine or
//! run a query on its state (one lock, so no half-applied change is ever visible) →
//! encode. Nothing here decides anything about routing.

pub mod encode;
mod error;
mod paging;
mod stats;

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRequest, Path, Request, State as AxumState};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use base64::Engine as _;
use serde::Serialize;
use serde_json::{json, Value};

use super::app::App;
use super::engine::state::{State, Workspace};
use super::engine::{query, Command, EngineError, Millis, Reply};
use crate::api::resources::*;
use crate::api::ParamError;
use encode::Urls;
pub use error::error_response;

type Shared = Arc<App>;

/// Largest request body the emulator reads (413 beyond it). Twilio caps task attributes
/// at 16 KiB and workflow configurations at 64 KiB; 2 MiB leaves room for any request a
/// helper library builds.
pub const MAX_REQUEST_BODY: usize = 2 * 1024 * 1024;

/// The router for all TaskRouter v1 paths.
pub fn router(app: Shared) -> Router {
    let ws = "/v1/Workspaces/{ws}";
    Router::new()
        .route(
            "/v1/Workspaces",
            get(list_workspaces).post(create_workspace),
        )
        .route(
            ws,
            get(fetch_workspace)
                .post(update_workspace)
                .delete(delete_workspace),
        )
        .route(
            &format!("{ws}/Activities"),
            get(list_activities).post(create_activity),
        )
        .route(
            &format!("{ws}/Activities/{{sid}}"),
            get(fetch_activity)
                .post(update_activity)
                .delete(delete_activity),
        )
        .route(
            &format!("{ws}/TaskChannels"),
            get(list_channels).post(create_channel),
        )
        .route(
            &format!("{ws}/TaskChannels/{{sid}}"),
            get(fetch_channel)
                .post(update_channel)
                .delete(delete_channel),
        )
        .route(
            &format!("{ws}/TaskQueues"),
            get(list_queues).post(create_queue),
        )
        .route(
            &format!("{ws}/TaskQueues/Statistics"),
            get(stats::list_queue_statistics),
        )
        .route(
            &format!("{ws}/TaskQueues/RealTimeStatistics"),
            post(stats::bulk_queue_statistics),
        )
        .route(
            &format!("{ws}/TaskQueues/{{sid}}"),
            get(fetch_queue).post(update_queue).delete(delete_queue),
        )
        .route(
            &format!("{ws}/TaskQueues/{{sid}}/Statistics"),
            get(stats::queue_statistics),
        )
        .route(
            &format!("{ws}/TaskQueues/{{sid}}/RealTimeStatistics"),
            get(stats::queue_realtime_statistics),
        )
        .route(
            &format!("{ws}/TaskQueues/{{sid}}/CumulativeStatistics"),
            get(stats::queue_cumulative_statistics),
        )
        .route(
            &format!("{ws}/Workflows"),
            get(list_workflows).post(create_workflow),
        )
        .route(
            &format!("{ws}/Workflows/{{sid}}"),
            get(fetch_workflow)
                .post(update_workflow)
                .delete(delete_workflow),
        )
        .route(
            &format!("{ws}/Workflows/{{sid}}/Statistics"),
            get(stats::workflow_statistics),
        )
        .route(
            &format!("{ws}/Workflows/{{sid}}/RealTimeStatistics"),
            get(stats::workflow_realtime_statistics),
        )
        .route(
            &format!("{ws}/Workflows/{{sid}}/CumulativeStatistics"),
            get(stats::workflow_cumulative_statistics),
        )
        .route(
            &format!("{ws}/Workers"),
            get(list_workers).post(create_worker),
        )
        .route(
            &format!("{ws}/Workers/Statistics"),
            get(stats::workers_statistics),
        )
        .route(
            &format!("{ws}/Workers/RealTimeStatistics"),
            get(stats::workers_realtime_statistics),
        )
        .route(
            &format!("{ws}/Workers/CumulativeStatistics"),
            get(stats::workers_cumulative_statistics),
        )
        .route(
            &format!("{ws}/Workers/{{sid}}"),
            get(fetch_worker).post(update_worker).delete(delete_worker),
        )
        .route(
            &format!("{ws}/Workers/{{sid}}/Statistics"),
            get(stats::worker_statistics),
        )
        .route(
            &format!("{ws}/Workers/{{sid}}/Channels"),
            get(list_worker_channels),
        )
        .route(
            &format!("{ws}/Workers/{{sid}}/Channels/{{channel}}"),
            get(fetch_worker_channel).post(update_worker_channel),
        )
        .route(
            &format!("{ws}/Workers/{{sid}}/Reservations"),
            get(list_worker_reservations),
        )
        .route(
            &format!("{ws}/Workers/{{sid}}/Reservations/{{reservation}}"),
            get(fetch_worker_reservation).post(update_worker_reservation),
        )
        .route(&format!("{ws}/Tasks"), get(list_tasks).post(create_task))
        .route(
            &format!("{ws}/Tasks/{{sid}}"),
            get(fetch_task).post(update_task).delete(delete_task),
        )
        .route(
            &format!("{ws}/Tasks/{{sid}}/Reservations"),
            get(list_task_reservations),
        )
        .route(
            &format!("{ws}/Tasks/{{sid}}/Reservations/{{reservation}}"),
            get(fetch_task_reservation).post(update_task_reservation),
        )
        .route(&format!("{ws}/Events"), get(list_events))
        .route(&format!("{ws}/Events/{{sid}}"), get(fetch_event))
        .route(
            &format!("{ws}/Statistics"),
            get(stats::workspace_statistics),
        )
        .route(
            &format!("{ws}/RealTimeStatistics"),
            get(stats::workspace_realtime_statistics),
        )
        .route(
            &format!("{ws}/CumulativeStatistics"),
            get(stats::workspace_cumulative_statistics),
        )
        .route("/trctl/clock", get(clock_now))
        .route("/trctl/clock/advance", post(clock_advance))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(app.clone(), authenticate))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_REQUEST_BODY))
        .with_state(app)
}

async fn not_found(uri: axum::http::Uri) -> Response {
    let path = uri.path().strip_prefix("/v1").unwrap_or(uri.path());
    EngineError::not_found(path).into_response()
}

async fn method_not_allowed(method: Method) -> Response {
    error_response(
        405,
        20004,
        &format!("Method {method} not allowed on this resource"),
    )
}

/// HTTP Basic with the account SID and token, or an accepted API key.
async fn authenticate(AxumState(app): AxumState<Shared>, request: Request, next: Next) -> Response {
    let authorized = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Basic "))
        .and_then(|encoded| {
            base64::engine::general_purpose::STANDARD
                .decode(encoded.trim())
                .ok()
        })
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .is_some_and(|pair| {
            let (user, password) = pair.split_once(':').unwrap_or((pair.as_str(), ""));
            let credentials = &app.credentials;
            (user == credentials.account_sid
                && constant_time_eq(password, credentials.auth_token.expose()))
                || credentials
                    .api_keys
                    .iter()
                    .any(|(key, secret)| user == key && constant_time_eq(password, secret.expose()))
        });
    if !authorized {
        return error::unauthorized();
    }
    next.run(request).await
}

fn constant_time_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A decoded request: the base URL for links, query pairs, form pairs, `If-Match`.
struct Req {
    base: String,
    path: String,
    query: Vec<(String, String)>,
    form: Vec<(String, String)>,
    json: Option<Value>,
    if_match: Option<String>,
}

impl<S: Send + Sync> FromRequest<S> for Req {
    type Rejection = Response;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let (parts, body) = request.into_parts();
        let headers: &HeaderMap = &parts.headers;
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("127.0.0.1")
            .to_string();
        let public = parts.extensions.get::<PublicUrl>().map(|p| p.0.clone());
        let base = public.unwrap_or_else(|| format!("http://{host}"));
        let query = parts
            .uri
            .query()
            .map(|q| {
                url::form_urlencoded::parse(q.as_bytes())
                    .into_owned()
                    .collect()
            })
            .unwrap_or_default();
        // The boundary is case-sensitive, so the raw value is kept for multipart.
        let content_type_raw = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let content_type = content_type_raw.to_ascii_lowercase();
        let if_match = headers
            .get(header::IF_MATCH)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let path = parts.uri.path().to_string();
        let request = Request::from_parts(parts, body);
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                if crate::http_server::is_body_timeout(&rejection) {
                    error_response(408, 408, "The request body did not arrive in time")
                } else if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    // Twilio documents no code for this; the status doubles as the code, as
                    // Twilio's own bodies do for plain HTTP errors (UNCONFIRMED).
                    error_response(
                        413,
                        413,
                        &format!("The request body is larger than {MAX_REQUEST_BODY} bytes"),
                    )
                } else {
                    error_response(
                        400,
                        20001,
                        "The request body could not be read (cut short, or not sent in time)",
                    )
                }
            })?;
        let (form, json) = if content_type.starts_with("application/json") {
            let value = serde_json::from_slice(&bytes).map_err(|err| {
                error_response(400, 20001, &format!("The JSON body is not valid: {err}"))
            })?;
            (Vec::new(), Some(value))
        } else if crate::multipart::is_multipart(&content_type) {
            // twilio-node 3.40.0 and older post every request as multipart; Twilio accepts
            // it, with the same parameters as the form-encoded body.
            let form = crate::multipart::decode(&content_type_raw, bytes)
                .await
                .map_err(|err| error_response(400, 20001, &err.to_string()))?;
            (form, None)
        } else {
            (
                url::form_urlencoded::parse(&bytes).into_owned().collect(),
                None,
            )
        };
        Ok(Req {
            base,
            path,
            query,
            form,
            json,
            if_match,
        })
    }
}

/// The configured public URL, inserted into requests by a layer when set.
#[derive(Debug, Clone)]
pub struct PublicUrl(pub String);

fn bad_param(error: ParamError) -> Response {
    error_response(400, 20001, &error.to_string())
}

fn json_response<T: Serialize>(status: StatusCode, body: &T, etag: Option<u64>) -> Response {
    let text = serde_json::to_string(body).unwrap_or_else(|_| "{}".to_string());
    let mut response = (status, text).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Some(version) = etag {
        if let Ok(value) = HeaderValue::from_str(&version.to_string()) {
            headers.insert(header::ETAG, value);
        }
    }
    response
}

fn find_ws<'a>(state: &'a State, sid: &str) -> Result<&'a Workspace, EngineError> {
    state
        .workspaces
        .get(sid)
        .ok_or_else(|| EngineError::no_workspace(sid))
}

/// Apply a command, then render the resource it names under the same lock.
fn write(
    app: &App,
    command: Command,
    render: impl FnOnce(&State, &str, Millis) -> Result<Response, EngineError>,
) -> Response {
    let now = app.clock.now();
    let mut engine = app.lock_at(now);
    let outcome = match engine.apply(command, now) {
        Ok(outcome) => outcome,
        Err(err) => return err.into_response(),
    };
    // Effects leave before the lock is released, so callbacks and events keep the
    // order in which the engine produced them.
    app.dispatch(&engine, outcome.effects);
    match outcome.reply {
        Reply::Deleted => StatusCode::NO_CONTENT.into_response(),
        Reply::Created(sid) => match render(engine.state(), &sid, now) {
            Ok(mut response) => {
                *response.status_mut() = StatusCode::CREATED;
                response
            }
            Err(err) => err.into_response(),
        },
        Reply::Updated(sid) => {
            render(engine.state(), &sid, now).unwrap_or_else(|err| err.into_response())
        }
    }
}

/// Run a read under the lock.
fn read(app: &App, f: impl FnOnce(&State, Millis) -> Result<Response, EngineError>) -> Response {
    let now = app.clock.now();
    let engine = app.lock_at(now);
    f(engine.state(), now).unwrap_or_else(|err| err.into_response())
}

macro_rules! decode {
    ($params:ty, $pairs:expr) => {
        match <$params>::from_pairs($pairs) {
            Ok(params) => params,
            Err(error) => return bad_param(error),
        }
    };
}

// ---------------------------------------------------------------- workspaces

async fn list_workspaces(AxumState(app): AxumState<Shared>, req: Req) -> Response {
    let params = decode!(ListWorkspaceParams, &req.query);
    read(&app, |state, _| {
        let urls = Urls { base: &req.base };
        let items = query::workspaces(state, &params);
        paging::respond(&req, &state.workspaces, items, "workspaces", |ws| {
            encode::workspace(&urls, &state.account_sid, ws)
        })
    })
}

async fn create_workspace(AxumState(app): AxumState<Shared>, req: Req) -> Response {
    let params = decode!(CreateWorkspaceParams, &req.form);
    write(&app, Command::CreateWorkspace(params), |state, sid, _| {
        render_workspace(&req, state, sid)
    })
}

fn render_workspace(req: &Req, state: &State, sid: &str) -> Result<Response, EngineError> {
    let ws = find_ws(state, sid)?;
    Ok(json_response(
        StatusCode::OK,
        &encode::workspace(&Urls { base: &req.base }, &state.account_sid, ws),
        None,
    ))
}

async fn fetch_workspace(
    AxumState(app): AxumState<Shared>,
    Path(ws): Path<String>,
    req: Req,
) -> Response {
    read(&app, |state, _| render_workspace(&req, state, &ws))
}

async fn update_workspace(
    AxumState(app): AxumState<Shared>,
    Path(ws): Path<String>,
    req: Req,
) -> Response {
    let params = decode!(UpdateWorkspaceParams, &req.form);
    write(
        &app,
        Command::UpdateWorkspace {
            workspace: ws,
            params,
        },
        |state, sid, _| render_workspace(&req, state, sid),
    )
}

async fn delete_workspace(AxumState(app): AxumState<Shared>, Path(ws): Path<String>) -> Response {
    write(
        &app,
        Command::DeleteWorkspace { workspace: ws },
        |_, _, _| Ok(StatusCode::NO_CONTENT.into_response()),
    )
}

// ---------------------------------------------------------------- simple resources

/// Fetch/render helpers for resources that live directly in a workspace.
macro_rules! workspace_resource {
    ($render:ident, $table:ident, $collection:literal, $encode:path) => {
        fn $render(req: &Req, state: &State, ws: &str, sid: &str) -> Result<Response, EngineError> {
            let workspace = find_ws(state, ws)?;
            let item = workspace
                .$table
                .get(sid)
                .ok_or_else(|| EngineError::not_in_workspace(ws, $collection, sid))?;
            Ok(json_response(
                StatusCode::OK,
                &$encode(
                    &Urls { base: &req.base },
                    &state.account_sid,
                    workspace,
                    item,
                ),
                None,
            ))
        }
    };
}

workspace_resource!(render_activity, activities, "Activities", encode::activity);
workspace_resource!(render_queue, queues, "TaskQueues", encode::task_queue);
workspace_resource!(render_workflow, workflows, "Workflows", encode::workflow);

/// A task channel by SID or unique name (`TaskChannels/voice`; the choice is explained
/// at the engine's `channel_sid`).
fn render_channel(req: &Req, state: &State, ws: &str, sid: &str) -> Result<Response, EngineError> {
    let workspace = find_ws(state, ws)?;
    let item = workspace
        .channel_by_ref(sid)
        .ok_or_else(|| EngineError::not_in_workspace(ws, "TaskChannels", sid))?;
    let body = encode::task_channel(
        &Urls { base: &req.base },
        &state.account_sid,
        workspace,
        item,
    );
    Ok(json_response(StatusCode::OK, &body, None))
}

fn render_worker(req: &Req, state: &State, ws: &str, sid: &str) -> Result<Response, EngineError> {
    let workspace = find_ws(state, ws)?;
    let worker = workspace
        .workers
        .get(sid)
        .ok_or_else(|| EngineError::not_in_workspace(ws, "Workers", sid))?;
    let body = encode::worker(
        &Urls { base: &req.base },
        &state.account_sid,
        workspace,
        worker,
    );
    Ok(json_response(StatusCode::OK, &body, Some(worker.version)))
}

fn render_task(
    req: &Req,
    state: &State,
    ws: &str,
    sid: &str,
    now: Millis,
) -> Result<Response, EngineError> {
    let workspace = find_ws(state, ws)?;
    let task = workspace
        .tasks
        .get(sid)
        .ok_or_else(|| EngineError::not_in_workspace(ws, "Tasks", sid))?;
    let body = encode::task(
        &Urls { base: &req.base },
        &state.account_sid,
        workspace,
        task,
        now,
    );
    Ok(json_response(StatusCode::OK, &body, Some(task.version)))
}

macro_rules! crud_handlers {
    (
        list: $list:ident($ListParams:ty) => |$lws:ident, $lparams:ident, $lnow:ident| $query:expr, $key:literal, $table:ident, $encode:path;
        create: $create:ident($CreateParams:ty) => $CreateCmd:ident;
        fetch: $fetch:ident;
        update: $update:ident($UpdateParams:ty) => $UpdateCmd:ident;
        delete: $delete:ident => $DeleteCmd:ident;
        render: $render:ident;
    ) => {
        async fn $list(
            AxumState(app): AxumState<Shared>,
            Path(ws): Path<String>,
            req: Req,
        ) -> Response {
            let params = decode!($ListParams, &req.query);
            read(&app, |state, now| {
                let $lws = find_ws(state, &ws)?;
                let $lparams = &params;
                let $lnow = now;
                let _ = $lnow;
                let items = $query;
                let urls = Urls { base: &req.base };
                paging::respond(&req, &$lws.$table, items, $key, |item| {
                    $encode(&urls, &state.account_sid, $lws, item)
                })
            })
        }

        async fn $create(
            AxumState(app): AxumState<Shared>,
            Path(ws): Path<String>,
            req: Req,
        ) -> Response {
            let params = decode!($CreateParams, &req.form);
            let workspace = ws.clone();
            write(
                &app,
                Command::$CreateCmd { workspace, params },
                |state, sid, _| $render(&req, state, &ws, sid),
            )
        }

        async fn $fetch(
            AxumState(app): AxumState<Shared>,
            Path((ws, sid)): Path<(String, String)>,
            req: Req,
        ) -> Response {
            read(&app, |state, _| $render(&req, state, &ws, &sid))
        }

        async fn $update(
            AxumState(app): AxumState<Shared>,
            Path((ws, sid)): Path<(String, String)>,
            req: Req,
        ) -> Response {
            let params = decode!($UpdateParams, &req.form);
            let workspace = ws.clone();
            write(
                &app,
                Command::$UpdateCmd {
                    workspace,
                    sid,
                    params,
                },
                |state, sid, _| $render(&req, state, &ws, sid),
            )
        }

        async fn $delete(
            AxumState(app): AxumState<Shared>,
            Path((workspace, sid)): Path<(String, String)>,
        ) -> Response {
            write(&app, Command::$DeleteCmd { workspace, sid }, |_, _, _| {
                Ok(StatusCode::NO_CONTENT.into_response())
            })
        }
    };
}

crud_handlers! {
    list: list_activities(ListActivityParams) => |ws, params, now| query::activities(ws, params), "activities", activities, encode::activity;
    create: create_activity(CreateActivityParams) => CreateActivity;
    fetch: fetch_activity;
    update: update_activity(UpdateActivityParams) => UpdateActivity;
    delete: delete_activity => DeleteActivity;
    render: render_activity;
}

crud_handlers! {
    list: list_channels(ListTaskChannelParams) => |ws, params, now| { let _ = params; query::channels(ws) }, "channels", channels, encode::task_channel;
    create: create_channel(CreateTaskChannelParams) => CreateTaskChannel;
    fetch: fetch_channel;
    update: update_channel(UpdateTaskChannelParams) => UpdateTaskChannel;
    delete: delete_channel => DeleteTaskChannel;
    render: render_channel;
}

crud_handlers! {
    list: list_queues(ListTaskQueueParams) => |ws, params, now| query::queues(ws, params)?, "task_queues", queues, encode::task_queue;
    create: create_queue(CreateTaskQueueParams) => CreateTaskQueue;
    fetch: fetch_queue;
    update: update_queue(UpdateTaskQueueParams) => UpdateTaskQueue;
    delete: delete_queue => DeleteTaskQueue;
    render: render_queue;
}

crud_handlers! {
    list: list_workflows(ListWorkflowParams) => |ws, params, now| query::workflows(ws, params), "workflows", workflows, encode::workflow;
    create: create_workflow(CreateWorkflowParams) => CreateWorkflow;
    fetch: fetch_workflow;
    update: update_workflow(UpdateWorkflowParams) => UpdateWorkflow;
    delete: delete_workflow => DeleteWorkflow;
    render: render_workflow;
}

// ---------------------------------------------------------------- workers

async fn list_workers(
    AxumState(app): AxumState<Shared>,
    Path(ws): Path<String>,
    req: Req,
) -> Response {
    let params = decode!(ListWorkerParams, &req.query);
    read(&app, |state, _| {
        let workspace = find_ws(state, &ws)?;
        let items = query::workers(workspace, &params)?;
        let urls = Urls { base: &req.base };
        paging::respond(&req, &workspace.workers, items, "workers", |w| {
            encode::worker(&urls, &state.account_sid, workspace, w)
        })
    })
}

async fn create_worker(
    AxumState(app): AxumState<Shared>,
    Path(ws): Path<String>,
    req: Req,
) -> Response {
    let params = decode!(CreateWorkerParams, &req.form);
    let workspace = ws.clone();
    write(
        &app,
        Command::CreateWorker { workspace, params },
        |state, sid, _| render_worker(&req, state, &ws, sid),
    )
}

async fn fetch_worker(
    AxumState(app): AxumState<Shared>,
    Path((ws, sid)): Path<(String, String)>,
    req: Req,
) -> Response {
    read(&app, |state, _| render_worker(&req, state, &ws, &sid))
}

async fn update_worker(
    AxumState(app): AxumState<Shared>,
    Path((ws, sid)): Path<(String, String)>,
    req: Req,
) -> Response {
    let mut params = decode!(UpdateWorkerParams, &req.form);
    params.if_match = req.if_match.clone();
    let workspace = ws.clone();
    write(
        &app,
        Command::UpdateWorker {
            workspace,
            sid,
            params,
        },
        |state, sid, _| render_worker(&req, state, &ws, sid),
    )
}

async fn delete_worker(
    AxumState(app): AxumState<Shared>,
    Path((workspace, sid)): Path<(String, String)>,
    req: Req,
) -> Response {
    write(
        &app,
        Command::DeleteWorker {
            workspace,
            sid,
            if_match: req.if_match,
        },
        |_, _, _| Ok(StatusCode::NO_CONTENT.into_response()),
    )
}

fn render_worker_channel(
    req: &Req,
    state: &State,
    ws: &str,
    worker: &str,
    channel: &str,
) -> Result<Response, EngineError> {
    let workspace = find_ws(state, ws)?;
    let missing = || {
        EngineError::not_found(&format!(
            "/Workspaces/{ws}/Workers/{worker}/Channels/{channel}"
        ))
    };
    let record = workspace.workers.get(worker).ok_or_else(missing)?;
    let task_channel = workspace.channel_by_ref(channel).map(|c| c.sid.clone());
    let item = record
        .channels
        .iter()
        .find(|c| c.sid == channel || Some(&c.task_channel_sid) == task_channel.as_ref())
        .ok_or_else(missing)?;
    let body = encode::worker_channel(
        &Urls { base: &req.base },
        &state.account_sid,
        workspace,
        record,
        item,
    );
    Ok(json_response(StatusCode::OK, &body, None))
}

async fn list_worker_channels(
    AxumState(app): AxumState<Shared>,
    Path((ws, worker)): Path<(String, String)>,
    req: Req,
) -> Response {
    let _params = decode!(ListWorkerChannelParams, &req.query);
    read(&app, |state, _| {
        let workspace = find_ws(state, &ws)?;
        let record = workspace
            .workers
            .get(&worker)
            .ok_or_else(|| EngineError::not_in_workspace(&ws, "Workers", &worker))?;
        let urls = Urls { base: &req.base };
        let items: Vec<Value> = record
            .channels
            .iter()
            .map(|c| {
                serde_json::to_value(encode::worker_channel(
                    &urls,
                    &state.account_sid,
                    workspace,
                    record,
                    c,
                ))
                .unwrap_or(Value::Null)
            })
            .collect();
        paging::respond_values(&req, items, "channels")
    })
}

async fn fetch_worker_channel(
    AxumState(app): AxumState<Shared>,
    Path((ws, worker, channel)): Path<(String, String, String)>,
    req: Req,
) -> Response {
    read(&app, |state, _| {
        render_worker_channel(&req, state, &ws, &worker, &channel)
    })
}

async fn update_worker_channel(
    AxumState(app): AxumState<Shared>,
    Path((ws, worker, channel)): Path<(String, String, String)>,
    req: Req,
) -> Response {
    let params = decode!(UpdateWorkerChannelParams, &req.form);
    let command = Command::UpdateWorkerChannel {
        workspace: ws.clone(),
        worker: worker.clone(),
        sid: channel,
        params,
    };
    write(&app, command, |state, sid, _| {
        render_worker_channel(&req, state, &ws, &worker, sid)
    })
}

// ---------------------------------------------------------------- tasks

async fn list_tasks(
    AxumState(app): AxumState<Shared>,
    Path(ws): Path<String>,
    req: Req,
) -> Response {
    let params = decode!(ListTaskParams, &req.query);
    read(&app, |state, now| {
        let workspace = find_ws(state, &ws)?;
        let items = query::tasks(workspace, &params)?;
        let urls = Urls { base: &req.base };
        paging::respond(&req, &workspace.tasks, items, "tasks", |t| {
            encode::task(&urls, &state.account_sid, workspace, t, now)
        })
    })
}

async fn create_task(
    AxumState(app): AxumState<Shared>,
    Path(ws): Path<String>,
    req: Req,
) -> Response {
    let params = decode!(CreateTaskParams, &req.form);
    let workspace = ws.clone();
    write(
        &app,
        Command::CreateTask { workspace, params },
        |state, sid, now| render_task(&req, state, &ws, sid, now),
    )
}

async fn fetch_task(
    AxumState(app): AxumState<Shared>,
    Path((ws, sid)): Path<(String, String)>,
    req: Req,
) -> Response {
    read(&app, |state, now| render_task(&req, state, &ws, &sid, now))
}

async fn update_task(
    AxumState(app): AxumState<Shared>,
    Path((ws, sid)): Path<(String, String)>,
    req: Req,
) -> Response {
    let mut params = decode!(UpdateTaskParams, &req.form);
    params.if_match = req.if_match.clone();
    let workspace = ws.clone();
    write(
        &app,
        Command::UpdateTask {
            workspace,
            sid,
            params,
        },
        |state, sid, now| render_task(&req, state, &ws, sid, now),
    )
}

async fn delete_task(
    AxumState(app): AxumState<Shared>,
    Path((workspace, sid)): Path<(String, String)>,
    req: Req,
) -> Response {
    write(
        &app,
        Command::DeleteTask {
            workspace,
            sid,
            if_match: req.if_match,
        },
        |_, _, _| Ok(StatusCode::NO_CONTENT.into_response()),
    )
}

// ---------------------------------------------------------------- reservations

fn render_reservation(
    req: &Req,
    state: &State,
    ws: &str,
    task: Option<&str>,
    worker: Option<&str>,
    sid: &str,
) -> Result<Response, EngineError> {
    let workspace = find_ws(state, ws)?;
    let path = match (task, worker) {
        (Some(task), _) => format!("/Workspaces/{ws}/Tasks/{task}/Reservations/{sid}"),
        (None, Some(worker)) => format!("/Workspaces/{ws}/Workers/{worker}/Reservations/{sid}"),
        (None, None) => format!("/Workspaces/{ws}/Reservations/{sid}"),
    };
    let reservation = workspace
        .reservations
        .get(sid)
        .filter(|r| {
            task.is_none_or(|t| r.task_sid == t) && worker.is_none_or(|w| r.worker_sid == w)
        })
        .ok_or_else(|| EngineError::not_found(&path))?;
    let urls = Urls { base: &req.base };
    let body = match task {
        Some(_) => serde_json::to_value(encode::task_reservation(
            &urls,
            &state.account_sid,
            workspace,
            reservation,
        )),
        None => serde_json::to_value(encode::worker_reservation(
            &urls,
            &state.account_sid,
            workspace,
            reservation,
        )),
    }
    .unwrap_or(Value::Null);
    Ok(json_response(
        StatusCode::OK,
        &body,
        Some(reservation.version),
    ))
}

async fn list_task_reservations(
    AxumState(app): AxumState<Shared>,
    Path((ws, task)): Path<(String, String)>,
    req: Req,
) -> Response {
    let params = decode!(ListTaskReservationParams, &req.query);
    read(&app, |state, _| {
        let workspace = find_ws(state, &ws)?;
        workspace
            .tasks
            .get(&task)
            .ok_or_else(|| EngineError::not_in_workspace(&ws, "Tasks", &task))?;
        let items = query::reservations(
            workspace,
            Some(&task),
            None,
            params.reservation_status.as_deref(),
            params.worker_sid.as_deref(),
        )?;
        let urls = Urls { base: &req.base };
        paging::respond(&req, &workspace.reservations, items, "reservations", |r| {
            encode::task_reservation(&urls, &state.account_sid, workspace, r)
        })
    })
}

async fn list_worker_reservations(
    AxumState(app): AxumState<Shared>,
    Path((ws, worker)): Path<(String, String)>,
    req: Req,
) -> Response {
    let params = decode!(ListWorkerReservationParams, &req.query);
    read(&app, |state, _| {
        let workspace = find_ws(state, &ws)?;
        workspace
            .workers
            .get(&worker)
            .ok_or_else(|| EngineError::not_in_workspace(&ws, "Workers", &worker))?;
        let items = query::reservations(
            workspace,
            None,
            Some(&worker),
            params.reservation_status.as_deref(),
            None,
        )?;
        let urls = Urls { base: &req.base };
        paging::respond(&req, &workspace.reservations, items, "reservations", |r| {
            encode::worker_reservation(&urls, &state.account_sid, workspace, r)
        })
    })
}

async fn fetch_task_reservation(
    AxumState(app): AxumState<Shared>,
    Path((ws, task, sid)): Path<(String, String, String)>,
    req: Req,
) -> Response {
    read(&app, |state, _| {
        render_reservation(&req, state, &ws, Some(&task), None, &sid)
    })
}

async fn fetch_worker_reservation(
    AxumState(app): AxumState<Shared>,
    Path((ws, worker, sid)): Path<(String, String, String)>,
    req: Req,
) -> Response {
    read(&app, |state, _| {
        render_reservation(&req, state, &ws, None, Some(&worker), &sid)
    })
}

async fn update_task_reservation(
    AxumState(app): AxumState<Shared>,
    Path((ws, task, sid)): Path<(String, String, String)>,
    req: Req,
) -> Response {
    let mut params = decode!(UpdateTaskReservationParams, &req.form);
    params.if_match = req.if_match.clone();
    let command = Command::UpdateReservation {
        workspace: ws.clone(),
        task: Some(task.clone()),
        worker: None,
        sid,
        params,
    };
    write(&app, command, |state, sid, _| {
        render_reservation(&req, state, &ws, Some(&task), None, sid)
    })
}

async fn update_worker_reservation(
    AxumState(app): AxumState<Shared>,
    Path((ws, worker, sid)): Path<(String, String, String)>,
    req: Req,
) -> Response {
    let params = decode!(UpdateWorkerReservationParams, &req.form);
    // The worker-scoped update takes the task-scoped parameters minus supervision.
    let params = UpdateTaskReservationParams {
        if_match: req.if_match.clone(),
        ..task_params_from_worker(params)
    };
    let command = Command::UpdateReservation {
        workspace: ws.clone(),
        task: None,
        worker: Some(worker.clone()),
        sid,
        params,
    };
    write(&app, command, |state, sid, _| {
        render_reservation(&req, state, &ws, None, Some(&worker), sid)
    })
}

/// Re-decode worker-scoped reservation parameters as task-scoped ones (same names).
fn task_params_from_worker(params: UpdateWorkerReservationParams) -> UpdateTaskReservationParams {
    let pairs: Vec<(String, String)> = params
        .to_pairs()
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    UpdateTaskReservationParams::from_pairs(&pairs).unwrap_or_default()
}

// ---------------------------------------------------------------- events

async fn list_events(
    AxumState(app): AxumState<Shared>,
    Path(ws): Path<String>,
    req: Req,
) -> Response {
    let params = decode!(ListEventParams, &req.query);
    read(&app, |state, now| {
        let workspace = find_ws(state, &ws)?;
        let items = query::events(workspace, &params, now)?;
        let urls = Urls { base: &req.base };
        paging::respond(&req, &workspace.events, items, "events", |e| {
            encode::event(&urls, &state.account_sid, workspace, e)
        })
    })
}

async fn fetch_event(
    AxumState(app): AxumState<Shared>,
    Path((ws, sid)): Path<(String, String)>,
    req: Req,
) -> Response {
    read(&app, |state, _| {
        let workspace = find_ws(state, &ws)?;
        let event = workspace
            .events
            .get(&sid)
            .ok_or_else(|| EngineError::not_in_workspace(&ws, "Events", &sid))?;
        Ok(json_response(
            StatusCode::OK,
            &encode::event(
                &Urls { base: &req.base },
                &state.account_sid,
                workspace,
                event,
            ),
            None,
        ))
    })
}

// ---------------------------------------------------------------- emulator control (not Twilio's)

fn clock_body(now: Millis) -> Value {
    json!({"now_ms": now, "now": encode::date(now)})
}

async fn clock_now(AxumState(app): AxumState<Shared>) -> Response {
    json_response(StatusCode::OK, &clock_body(app.clock.now()), None)
}

/// `POST /trctl/clock/advance` with `Seconds=…` (decimals allowed): moves a manual
/// clock forward and fires whatever falls due, each timer at its own deadline (the engine
/// steps through them in order), so one long advance ends like many short ones.
async fn clock_advance(AxumState(app): AxumState<Shared>, req: Req) -> Response {
    let Some(manual) = app.clock.manual() else {
        return error_response(
            400,
            20001,
            "The emulator's clock is not manual (start it with --clock manual)",
        );
    };
    let seconds = req
        .form
        .iter()
        .chain(&req.query)
        .rev()
        .find(|(k, _)| k == "Seconds")
        .map(|(_, v)| v.clone());
    let Some(seconds) = seconds
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
    else {
        return error_response(
            400,
            20001,
            "Missing or invalid parameter Seconds (a non-negative number)",
        );
    };
    let now = manual.advance((seconds * 1000.0).round() as Millis);
    if let Err(err) = app.apply(Command::Tick) {
        return err.into_response();
    }
    json_response(StatusCode::OK, &clock_body(now), None)
}
