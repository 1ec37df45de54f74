//! The callback listener behind `trctl serve`: answers TaskRouter's assignment callbacks
//! (WIRE.md §5) and event callbacks (WIRE.md §7.1), checking their signatures (§4).
//!
//! Rooms: [`signature`] (pure HMAC checks), [`callback`] (decoding, sample callbacks),
//! [`instruction`] (instructions and rules), [`reply`] (the pure decision and the reply
//! checks `trctl trigger` uses), [`exec`] (the `--exec` child), [`send`] (the signed-callback sender the emulator
//! and `trctl trigger` use), [`log`] (records and
//! their bounded channel). This module wires them into an axum [`router`] and [`run`]s
//! it on a pre-bound listener, so tests can use port 0.
//!
//! A request goes through named steps: route (404) → method (405) → read the body
//! (≤ 64 KiB, else 413) → decode (400 if malformed) → verify the signature (403) →
//! [`reply::decide`] → answer → log. The listener never prints (records go to a [`log::LogSink`]), never blocks a
//! handler (the `--exec` child is awaited, not waited for), and never panics on input.
//!
//! `--exec` commands ([`exec`]) are bounded: at most [`reply::ExecConfig::max_running`]
//! (default [`MAX_EXEC_CHILDREN`]) run at once, and a callback over the bound is
//! answered `{}` at once with the reason in its log record. On shutdown a running
//! command gets the rest of its time limit; a request dropped before it is answered
//! kills its command's process group (see [`exec`]).

pub mod callback;
pub mod exec;
pub mod instruction;
pub mod log;
pub mod reply;
pub mod send;
pub mod signature;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::api::Secret;
use callback::{Callback, CallbackKind, DecodeError};
use log::{LogRecord, LogSink, Verification};
use reply::{Decision, Mode};

/// Largest body accepted ([`callback::MAX_REQUEST`]); larger bodies get 413.
pub const MAX_BODY: usize = callback::MAX_REQUEST;

/// Default path of the assignment callback.
pub const DEFAULT_ASSIGNMENT_PATH: &str = "/assignment_callback";
/// Default path of event callbacks.
pub const DEFAULT_EVENTS_PATH: &str = "/events";
/// Path of the health check.
pub const HEALTH_PATH: &str = "/healthz";

/// How to run a listener.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Path of assignment callbacks (default `/assignment_callback`).
    pub assignment_path: String,
    /// Path of event callbacks (default `/events`).
    pub events_path: String,
    /// How assignment callbacks are answered.
    pub mode: Mode,
    /// Auth token for signature checks; with one set, checks are on unless `verify` is
    /// false.
    pub auth_token: Option<Secret>,
    /// Check signatures when a token is set (`--no-verify` turns this off).
    pub verify: bool,
    /// Base URL TaskRouter calls (e.g. `https://abc.example.test` behind a tunnel): the
    /// signed URL is this plus the request's path and query. Without it the URL is
    /// `http://` + the `Host` header + path and query.
    pub public_url: Option<String>,
    /// Where log records go; `None` keeps nothing.
    pub log: Option<LogSink>,
}

impl Default for ServeConfig {
    fn default() -> ServeConfig {
        ServeConfig {
            assignment_path: DEFAULT_ASSIGNMENT_PATH.to_string(),
            events_path: DEFAULT_EVENTS_PATH.to_string(),
            mode: Mode::Empty,
            auth_token: None,
            verify: true,
            public_url: None,
            log: None,
        }
    }
}

/// Why a configuration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A path that does not start with `/`, or two endpoints on one path.
    #[error("{0}")]
    Path(String),
    /// `public_url` is not an http(s) URL.
    #[error("invalid public URL {url}: {reason}")]
    PublicUrl {
        /// As given.
        url: String,
        /// Why.
        reason: String,
    },
}

impl ServeConfig {
    /// Check the paths and the public URL.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for path in [&self.assignment_path, &self.events_path] {
            if !path.starts_with('/') {
                return Err(ConfigError::Path(format!(
                    "path {path:?} must start with `/`"
                )));
            }
        }
        let paths = [
            self.assignment_path.as_str(),
            self.events_path.as_str(),
            HEALTH_PATH,
        ];
        if paths[0] == paths[1] || paths[0] == paths[2] || paths[1] == paths[2] {
            return Err(ConfigError::Path(format!(
                "the assignment path {}, the events path {} and {HEALTH_PATH} must differ",
                paths[0], paths[1]
            )));
        }
        if let Some(url) = &self.public_url {
            let parsed = url::Url::parse(url).map_err(|err| ConfigError::PublicUrl {
                url: crate::api::redact_url(url),
                reason: err.to_string(),
            })?;
            if !matches!(parsed.scheme(), "http" | "https") {
                return Err(ConfigError::PublicUrl {
                    url: crate::api::redact_url(url),
                    reason: "expected http:// or https://".into(),
                });
            }
        }
        Ok(())
    }

    /// Whether requests must carry a valid signature.
    pub fn verifies(&self) -> bool {
        self.verify
            && self
                .auth_token
                .as_ref()
                .is_some_and(|t| !t.expose().is_empty())
    }
}

/// What the handler shares: the configuration, with the public URL trimmed once.
struct App {
    config: ServeConfig,
    public_base: Option<String>,
    /// One permit per `--exec` command allowed to run at the same time
    /// ([`reply::ExecConfig::max_running`]), so a burst of callbacks cannot fork without
    /// limit. A callback that finds none free is answered `{}` at once: waiting for a
    /// slot would only make TaskRouter's 5 s run out later.
    exec_slots: tokio::sync::Semaphore,
}

/// Default bound of `--exec` commands running at once (`--exec-max`); callbacks over it
/// are answered `{}` without running the command, and the log says the bound was reached.
pub const MAX_EXEC_CHILDREN: usize = 64;

/// The listener's router. Every path is dispatched by one handler, so paths from the
/// configuration can never make axum's route table panic.
pub fn router(config: ServeConfig) -> axum::Router {
    let public_base = config
        .public_url
        .as_deref()
        .map(|url| url.trim_end_matches('/').to_string());
    let slots = match &config.mode {
        Mode::Exec(exec) => exec.max_running.min(tokio::sync::Semaphore::MAX_PERMITS),
        _ => 0,
    };
    let app = Arc::new(App {
        config,
        public_base,
        exec_slots: tokio::sync::Semaphore::new(slots),
    });
    axum::Router::new().fallback(handle).with_state(app)
}

/// Serve `config` on `listener` with `limits` (timeouts, connection limit) until
/// `shutdown` completes, then let in-flight requests finish within the limits' shutdown
/// deadline. A running `--exec` command finishes too, within its time limit or that
/// deadline, whichever comes first; its process group is killed then at the latest, so
/// none of its processes outlive the listener.
pub async fn run(
    config: ServeConfig,
    listener: tokio::net::TcpListener,
    limits: crate::http_server::Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    crate::http_server::serve(listener, router(config), limits, shutdown).await
}

/// Bind `addr` (e.g. `127.0.0.1:0`) and serve in a background task; the handle stops
/// the listener when dropped.
pub async fn spawn(config: ServeConfig, addr: SocketAddr) -> std::io::Result<RunningServer> {
    let listener = crate::http_server::bind(addr).await?;
    let local = listener.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let limits = crate::http_server::Limits::default();
        let _ = run(config, listener, limits, async {
            let _ = stopped.await;
        })
        .await;
    });
    Ok(RunningServer {
        url: format!("http://{local}"),
        addr: local,
        stop: Some(stop),
        task: Some(task),
    })
}

/// A listener running in the background; dropping it stops it.
pub struct RunningServer {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// The bound address.
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl RunningServer {
    /// Stop, and wait until in-flight requests are answered.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Which endpoint a path names.
enum Endpoint {
    Callback(CallbackKind),
    Health,
    Unknown,
}

fn route(config: &ServeConfig, path: &str) -> Endpoint {
    if path == config.assignment_path {
        Endpoint::Callback(CallbackKind::Assignment)
    } else if path == config.events_path {
        Endpoint::Callback(CallbackKind::Event)
    } else if path == HEALTH_PATH {
        Endpoint::Health
    } else {
        Endpoint::Unknown
    }
}

/// A request turned away: answered `{"error": message}` and logged.
struct Refusal {
    status: StatusCode,
    verified: Verification,
    message: String,
}

impl Refusal {
    fn new(status: StatusCode, message: String) -> Refusal {
        Refusal {
            status,
            verified: Verification::Off,
            message,
        }
    }
}

async fn handle(State(app): State<Arc<App>>, request: Request) -> Response {
    let started = Instant::now();
    let (parts, body) = request.into_parts();
    let config = &app.config;
    let kind = match route(config, parts.uri.path()) {
        Endpoint::Callback(kind) => kind,
        Endpoint::Health => {
            return json_response(StatusCode::OK, Bytes::from_static(br#"{"status":"ok"}"#))
        }
        Endpoint::Unknown => {
            let message = format!(
                "no endpoint at {} (callbacks go to {} and {})",
                parts.uri.path(),
                config.assignment_path,
                config.events_path
            );
            let refusal = Refusal::new(StatusCode::NOT_FOUND, message);
            return refuse(config, &parts, "unknown", started, refusal);
        }
    };
    match answer(&app, kind, &parts, body, started).await {
        Ok(response) => response,
        Err(refusal) => {
            let not_allowed = refusal.status == StatusCode::METHOD_NOT_ALLOWED;
            let mut response = refuse(config, &parts, kind.as_str(), started, refusal);
            if not_allowed {
                response
                    .headers_mut()
                    .insert(header::ALLOW, HeaderValue::from_static("GET, POST"));
            }
            response
        }
    }
}

/// The steps of a callback: method → body (bounded) → parameters → signature →
/// decision (and `--exec`) → reply → log record.
async fn answer(
    app: &App,
    kind: CallbackKind,
    parts: &axum::http::request::Parts,
    body: Body,
    started: Instant,
) -> Result<Response, Refusal> {
    let config = &app.config;
    if parts.method != Method::POST && parts.method != Method::GET {
        let message = format!("method {} not allowed (use POST or GET)", parts.method);
        return Err(Refusal::new(StatusCode::METHOD_NOT_ALLOWED, message));
    }
    let bytes = axum::body::to_bytes(body, MAX_BODY).await.map_err(|err| {
        if crate::http_server::is_body_timeout(&err) {
            Refusal::new(StatusCode::REQUEST_TIMEOUT, err.to_string())
        } else if crate::http_server::is_too_large(&err) {
            let message = format!("body larger than {MAX_BODY} bytes");
            Refusal::new(StatusCode::PAYLOAD_TOO_LARGE, message)
        } else {
            Refusal::new(
                StatusCode::BAD_REQUEST,
                "the body was cut short".to_string(),
            )
        }
    })?;
    let is_json = is_json_body(&parts.headers);
    let params = decode_params(parts, &bytes, is_json)
        .await
        .map_err(|message| Refusal::new(StatusCode::BAD_REQUEST, message))?;
    let verified = if config.verifies() {
        verify(app, parts, &bytes, &params, is_json).map_err(|message| Refusal {
            status: StatusCode::FORBIDDEN,
            verified: Verification::Failed,
            message,
        })?;
        Verification::Passed
    } else {
        Verification::Off
    };

    let callback = Callback::new(kind, params);
    let (status, body, rule, error) = match reply::decide(&config.mode, &callback) {
        Decision::Reply { status, body, rule } => (status, body, rule, None),
        Decision::Exec => match &config.mode {
            Mode::Exec(exec_config) => {
                let outcome = run_exec(app, exec_config, &callback).await;
                (200, outcome.body, None, outcome.error)
            }
            // `decide` answers Exec only in exec mode.
            _ => (200, Bytes::from_static(reply::EMPTY_OBJECT), None, None),
        },
    };
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    let response = json_response(status, body.clone());

    if let Some(sink) = &config.log {
        let take = |name: &str| callback.param(name).map(str::to_owned);
        sink.emit(LogRecord {
            kind: kind.as_str(),
            method: parts.method.to_string(),
            path: parts.uri.path().to_string(),
            status: status.as_u16(),
            event_type: take("EventType"),
            reservation: take("ReservationSid"),
            task: take("TaskSid"),
            worker: take("WorkerSid"),
            queue: take("TaskQueueSid"),
            task_attributes: callback.task_attributes,
            worker_attributes: callback.worker_attributes,
            reply: body,
            rule,
            latency_ms: millis_since(started),
            verified,
            error,
        });
    }
    Ok(response)
}

/// Run the `--exec` command if a slot is free, else answer `{}` at once.
async fn run_exec(app: &App, config: &reply::ExecConfig, callback: &Callback) -> exec::ExecOutcome {
    let Ok(_slot) = app.exec_slots.try_acquire() else {
        return exec::ExecOutcome::failed(format!(
            "the bound of {} --exec commands running at once was reached (--exec-max): answered {{}} without running the command",
            config.max_running
        ));
    };
    let input = callback.to_exec_json().to_string().into_bytes();
    exec::run(config, input).await
}

/// The parameters: the query string for GET, the body for POST (JSON, multipart or a
/// form). Multipart parameters are signed like a form's (the decoded pairs), so
/// [`verify`] treats both alike.
async fn decode_params(
    parts: &axum::http::request::Parts,
    body: &Bytes,
    is_json: bool,
) -> Result<Vec<(String, String)>, String> {
    if parts.method == Method::GET {
        return callback::decode_form(parts.uri.query().unwrap_or("").as_bytes())
            .map_err(|error| error.to_string());
    }
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    if !is_json && crate::multipart::is_multipart(content_type) {
        return crate::multipart::decode(content_type, body.clone())
            .await
            .map_err(|error| error.to_string());
    }
    decode_body(body, is_json).map_err(|error| error.to_string())
}

/// Answer a refusal and log it.
fn refuse(
    config: &ServeConfig,
    parts: &axum::http::request::Parts,
    kind: &'static str,
    started: Instant,
    refusal: Refusal,
) -> Response {
    let body = Bytes::from(serde_json::json!({ "error": refusal.message }).to_string());
    if let Some(sink) = &config.log {
        sink.emit(LogRecord {
            kind,
            method: parts.method.to_string(),
            path: parts.uri.path().to_string(),
            status: refusal.status.as_u16(),
            event_type: None,
            reservation: None,
            task: None,
            worker: None,
            queue: None,
            task_attributes: serde_json::Value::Null,
            worker_attributes: serde_json::Value::Null,
            reply: body.clone(),
            rule: None,
            latency_ms: millis_since(started),
            verified: refusal.verified,
            error: Some(refusal.message),
        });
    }
    json_response(refusal.status, body)
}

fn millis_since(started: Instant) -> f64 {
    started.elapsed().as_secs_f64() * 1000.0
}

fn json_response(status: StatusCode, body: Bytes) -> Response {
    let mut response = (status, Body::from(body)).into_response();
    // WIRE.md §5.3 (assignment) and §7.1 (events, even with 204) both ask for JSON.
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

fn is_json_body(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"))
}

/// Check `X-Twilio-Signature` against the URL TaskRouter signed.
fn verify(
    app: &App,
    parts: &axum::http::request::Parts,
    body: &Bytes,
    params: &[(String, String)],
    is_json: bool,
) -> Result<(), String> {
    let Some(token) = &app.config.auth_token else {
        return Ok(());
    };
    let Some(signature) = parts.headers.get(signature::HEADER) else {
        return Err("missing X-Twilio-Signature header (or run with --no-verify)".into());
    };
    let signature = signature
        .to_str()
        .map_err(|_| "X-Twilio-Signature is not ASCII".to_string())?;
    let url = signed_url(app, parts);
    let valid = if parts.method == Method::GET {
        signature::validate_form(token.expose(), &url, std::iter::empty(), signature)
    } else if is_json {
        signature::validate_json(token.expose(), &url, body, signature)
    } else {
        let pairs = params.iter().map(|(k, v)| (k.as_str(), v.as_str()));
        signature::validate_form(token.expose(), &url, pairs, signature)
    };
    if valid {
        Ok(())
    } else {
        Err(format!(
            "X-Twilio-Signature does not match {url} (wrong auth token, or set --public-url to the URL TaskRouter calls)"
        ))
    }
}

/// The URL the sender signed: `public_url` + path and query, else `http://Host` + path
/// and query. (UNCONFIRMED choice: `X-Forwarded-*` headers are not trusted; behind a
/// proxy, pass the public URL.)
fn signed_url(app: &App, parts: &axum::http::request::Parts) -> String {
    let path_and_query = parts
        .uri
        .path_and_query()
        .map_or("/", |value| value.as_str());
    match &app.public_base {
        Some(base) => format!("{base}{path_and_query}"),
        None => {
            let host = parts
                .headers
                .get(header::HOST)
                .and_then(|value| value.to_str().ok())
                .or_else(|| parts.uri.authority().map(|a| a.as_str()))
                .unwrap_or("localhost");
            format!("http://{host}{path_and_query}")
        }
    }
}

/// Decode the parameters of a request body the way the listener does (for property
/// tests and tools): JSON when `json`, else a form.
pub fn decode_body(body: &[u8], json: bool) -> Result<Vec<(String, String)>, DecodeError> {
    if json {
        callback::decode_json(body)
    } else {
        callback::decode_form(body)
    }
}
