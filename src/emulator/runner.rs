//! The runner carries out what the engine asks for, outside the engine: it POSTs signed
//! assignment callbacks (falling back to the fallback URL) and feeds the answers back as
//! commands, delivers events to each workspace's event callback URL, and fires timers
//! when their deadline comes. It changes state only by sending commands.
//!
//! Event delivery: each workspace has its own queue and its own sender task, so a slow
//! or dead endpoint delays only that workspace's events, never routing (the dispatcher
//! only enqueues) nor another workspace. Within a workspace events go one at a time, in
//! the order they were recorded, one attempt each with a 15 s limit (TaskRouter's retry
//! policy for event callbacks is not documented; trctl does not retry). A queue holds at
//! most [`EVENT_QUEUE_CAPACITY`] events; what overflows is dropped, counted and reported.
//! On shutdown [`Runner::drain`] gives the queues a deadline and counts what was left.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::mpsc;

use super::engine::{CallbackReply, Command, Effect};
use super::http::App;
use super::Notice;
use crate::serve::signature;

/// How long TaskRouter waits for an assignment callback answer (WIRE.md §5.3).
const ASSIGNMENT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long it waits for an event callback answer (WIRE.md §7.1).
const EVENT_TIMEOUT: Duration = Duration::from_secs(15);
/// Largest assignment-callback reply read. A reply is an instruction of a few hundred
/// bytes; a larger one is treated as a failed callback (so the fallback URL is tried),
/// and the emulator never holds more than this per callback.
pub const MAX_CALLBACK_REPLY: usize = 64 * 1024;
/// Events waiting per workspace before new ones are dropped.
pub const EVENT_QUEUE_CAPACITY: usize = 50_000;

/// What happened to the events handed to the runner for delivery.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    /// Answered with a 2xx.
    pub delivered: u64,
    /// Sent, but no 2xx answer in time (refused, timed out, error status).
    pub failed: u64,
    /// Not sent: the workspace's `EventsFilter` left them out, or it had no URL any more.
    pub skipped: u64,
    /// Dropped because the workspace's queue was full.
    pub dropped: u64,
    /// Still queued (or in flight) when the drain deadline passed.
    pub undelivered: u64,
}

#[derive(Default)]
struct Counters {
    delivered: AtomicU64,
    failed: AtomicU64,
    skipped: AtomicU64,
    dropped: AtomicU64,
}

/// One workspace's queue: its sender and how many events it holds or is sending.
struct Queue {
    sender: mpsc::Sender<String>,
    pending: Arc<AtomicUsize>,
}

/// The per-workspace event queues.
struct EventQueues {
    app: Arc<App>,
    http: reqwest::Client,
    notice: Option<Notice>,
    counters: Arc<Counters>,
    state: Mutex<QueuesState>,
}

#[derive(Default)]
struct QueuesState {
    closed: bool,
    queues: HashMap<String, Queue>,
    workers: Vec<tokio::task::JoinHandle<()>>,
    pending: Vec<Arc<AtomicUsize>>,
    /// Events that arrived after the drain began.
    late: u64,
}

impl EventQueues {
    fn enqueue(self: &Arc<Self>, workspace: String, event: String) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if state.closed {
            state.late += 1;
            return;
        }
        if !state.queues.contains_key(&workspace) {
            let (sender, receiver) = mpsc::channel(EVENT_QUEUE_CAPACITY);
            let pending = Arc::new(AtomicUsize::new(0));
            let worker = tokio::spawn(self.clone().deliver(
                workspace.clone(),
                receiver,
                pending.clone(),
            ));
            state.workers.push(worker);
            state.pending.push(pending.clone());
            state
                .queues
                .insert(workspace.clone(), Queue { sender, pending });
        }
        let Some(queue) = state.queues.get(&workspace) else {
            return;
        };
        queue.pending.fetch_add(1, Ordering::AcqRel);
        if queue.sender.try_send(event).is_err() {
            queue.pending.fetch_sub(1, Ordering::AcqRel);
            let dropped = self.counters.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if dropped == 1 || dropped % 1000 == 0 {
                self.notify(&format!(
                    "event callbacks of {workspace}: the queue is full ({EVENT_QUEUE_CAPACITY} waiting, the endpoint is too slow); {dropped} event(s) dropped so far"
                ));
            }
        }
    }

    /// Send a workspace's events one at a time, in order.
    async fn deliver(
        self: Arc<Self>,
        workspace: String,
        mut receiver: mpsc::Receiver<String>,
        pending: Arc<AtomicUsize>,
    ) {
        let mut failing: u64 = 0;
        while let Some(event) = receiver.recv().await {
            match self.app.event_callback(&workspace, &event) {
                None => {
                    self.counters.skipped.fetch_add(1, Ordering::Relaxed);
                }
                Some((url, params)) => {
                    let token = self.app.credentials.auth_token.expose().to_string();
                    let sent = signed_post(&self.http, &token, &url, &params, EVENT_TIMEOUT).await;
                    let outcome = match sent {
                        Ok(response) if response.status().is_success() => Ok(()),
                        Ok(response) => {
                            Err(format!("answered HTTP {}", response.status().as_u16()))
                        }
                        Err(reason) => Err(reason),
                    };
                    match outcome {
                        Ok(()) => {
                            self.counters.delivered.fetch_add(1, Ordering::Relaxed);
                            if failing > 0 {
                                self.notify(&format!(
                                    "event callbacks of {workspace} delivered again after {failing} failure(s)"
                                ));
                                failing = 0;
                            }
                        }
                        Err(reason) => {
                            self.counters.failed.fetch_add(1, Ordering::Relaxed);
                            if failing == 0 {
                                self.notify(&format!(
                                    "event callback to {} failed ({reason}); the event is not sent again, and further failures are counted until one succeeds",
                                    crate::api::redact_url(&url)
                                ));
                            }
                            failing += 1;
                        }
                    }
                }
            }
            pending.fetch_sub(1, Ordering::AcqRel);
        }
    }

    fn notify(&self, message: &str) {
        if let Some(notice) = &self.notice {
            notice(message);
        }
    }

    fn report(&self, undelivered: u64) -> DeliveryReport {
        DeliveryReport {
            delivered: self.counters.delivered.load(Ordering::Relaxed),
            failed: self.counters.failed.load(Ordering::Relaxed),
            skipped: self.counters.skipped.load(Ordering::Relaxed),
            dropped: self.counters.dropped.load(Ordering::Relaxed),
            undelivered,
        }
    }
}

/// The running runner's handle.
pub struct Runner {
    events: Arc<EventQueues>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Runner {
    /// Stop taking events, give the queued ones until `deadline` to go out, then stop
    /// the runner and say what happened to every event it was given.
    pub async fn drain(self, deadline: Duration) -> DeliveryReport {
        let (workers, pending, late) = {
            let mut state = self.events.state.lock().unwrap_or_else(|p| p.into_inner());
            state.closed = true;
            // Dropping the senders lets each worker end once its queue is empty.
            state.queues.clear();
            (
                std::mem::take(&mut state.workers),
                std::mem::take(&mut state.pending),
                state.late,
            )
        };
        let aborts: Vec<_> = workers.iter().map(|w| w.abort_handle()).collect();
        let _ = tokio::time::timeout(deadline, async {
            for worker in workers {
                let _ = worker.await;
            }
        })
        .await;
        for abort in aborts {
            abort.abort();
        }
        for task in &self.tasks {
            task.abort();
        }
        let left: u64 = pending
            .iter()
            .map(|p| p.load(Ordering::Acquire) as u64)
            .sum();
        self.events.report(left + late)
    }
}

/// Start the runner's tasks on the current tokio runtime.
pub fn start(
    app: Arc<App>,
    effects: mpsc::UnboundedReceiver<Effect>,
    notice: Option<Notice>,
) -> Runner {
    let http = reqwest::Client::builder()
        .user_agent(concat!("trctl-emulator/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_default();
    let events = Arc::new(EventQueues {
        app: app.clone(),
        http: http.clone(),
        notice: notice.clone(),
        counters: Arc::default(),
        state: Mutex::default(),
    });
    let tasks = vec![
        tokio::spawn(dispatch(app.clone(), http, effects, events.clone(), notice)),
        tokio::spawn(timers(app)),
    ];
    Runner { events, tasks }
}

async fn dispatch(
    app: Arc<App>,
    http: reqwest::Client,
    mut effects: mpsc::UnboundedReceiver<Effect>,
    events: Arc<EventQueues>,
    notice: Option<Notice>,
) {
    while let Some(effect) = effects.recv().await {
        match effect {
            Effect::AssignmentCallback {
                workspace,
                reservation,
                url,
                fallback_url,
                params,
            } => {
                let app = app.clone();
                let http = http.clone();
                let notice = notice.clone();
                // Callbacks run concurrently and never hold the engine while waiting.
                tokio::spawn(async move {
                    let token = app.credentials.auth_token.expose().to_string();
                    let mut reply = post_assignment(&http, &token, &url, &params).await;
                    if let (Err(reason), Some(fallback)) = (&reply, &fallback_url) {
                        if let Some(notice) = &notice {
                            notice(&format!(
                                "assignment callback for {reservation} to {} failed ({reason}); trying the fallback URL",
                                crate::api::redact_url(&url)
                            ));
                        }
                        reply = post_assignment(&http, &token, fallback, &params).await;
                    }
                    let reply = match reply {
                        Ok(reply) => reply,
                        Err(reason) => {
                            if let Some(notice) = &notice {
                                notice(&format!(
                                    "assignment callback for {reservation} failed ({reason}); the reservation stays pending"
                                ));
                            }
                            CallbackReply::Failed
                        }
                    };
                    // A refused instruction (say, a reject naming an unknown activity) is an
                    // alert on TaskRouter (40100), not an answer to anyone: the reservation
                    // stays as it was.
                    let _ = app.apply(Command::CallbackReply {
                        workspace,
                        reservation,
                        reply,
                    });
                });
            }
            Effect::Event { workspace, event } => events.enqueue(workspace, event),
        }
    }
}

/// POST one assignment callback; why not when there was no usable 2xx answer in time.
async fn post_assignment(
    http: &reqwest::Client,
    token: &str,
    url: &str,
    params: &[(String, String)],
) -> Result<CallbackReply, String> {
    let mut response = signed_post(http, token, url, params, ASSIGNMENT_TIMEOUT).await?;
    if !response.status().is_success() {
        return Err(format!("answered HTTP {}", response.status().as_u16()));
    }
    let json_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("application/json"));
    if response
        .content_length()
        .is_some_and(|length| length > MAX_CALLBACK_REPLY as u64)
    {
        return Err(format!("a reply over {MAX_CALLBACK_REPLY} bytes"));
    }
    let mut body = Vec::new();
    loop {
        match tokio::time::timeout(ASSIGNMENT_TIMEOUT, response.chunk()).await {
            Ok(Ok(Some(chunk))) => {
                if body.len() + chunk.len() > MAX_CALLBACK_REPLY {
                    return Err(format!("a reply over {MAX_CALLBACK_REPLY} bytes"));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(Ok(None)) => break,
            Ok(Err(_)) => return Err("the reply was cut short".to_string()),
            Err(_) => return Err("the reply body did not arrive in time".to_string()),
        }
    }
    Ok(interpret_reply(json_type, &body))
}

/// What a 2xx answer means (WIRE.md §5.3): a JSON object with `instruction` is an
/// instruction; an empty body, `{}`, other JSON, a non-JSON body or a JSON body without
/// the JSON content type (errors 40000/40001/40005 on TaskRouter) carry none.
pub fn interpret_reply(json_content_type: bool, body: &[u8]) -> CallbackReply {
    if body.iter().all(u8::is_ascii_whitespace) || !json_content_type {
        return CallbackReply::NoInstruction;
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(value) if value.get("instruction").is_some_and(Value::is_string) => {
            CallbackReply::Instruction(value)
        }
        _ => CallbackReply::NoInstruction,
    }
}

async fn signed_post(
    http: &reqwest::Client,
    token: &str,
    url: &str,
    params: &[(String, String)],
    timeout: Duration,
) -> Result<reqwest::Response, String> {
    // The fragment (connection overrides) is not sent and not signed (WIRE.md §4.7).
    let target = url.split('#').next().unwrap_or(url);
    let signature = signature::sign(
        token,
        target,
        params.iter().map(|(k, v)| (k.as_str(), v.as_str())),
    );
    let body = crate::api::encode_form(
        &params
            .iter()
            .map(|(k, v)| (k.as_str(), v.clone()))
            .collect::<Vec<_>>(),
    );
    http.post(target)
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .header("X-Twilio-Signature", signature)
        .timeout(timeout)
        .body(body)
        .send()
        .await
        .map_err(|err| {
            if err.is_timeout() {
                format!("no answer within {} s", timeout.as_secs())
            } else if err.is_connect() {
                "connection refused or unreachable".to_string()
            } else {
                crate::api::error_chain(&err.without_url())
            }
        })
}

/// Fire timers: sleep until the next deadline (in the clock's terms) or until woken by a
/// change that may have set an earlier one.
async fn timers(app: Arc<App>) {
    loop {
        let now = app.clock.now();
        let next = app.next_deadline();
        let wait = match next {
            Some(at) if at <= now => {
                // Tick cannot fail: it only fires deadlines.
                let _ = app.apply(Command::Tick);
                continue;
            }
            Some(at) => app.clock.real_delay(at - now),
            None => None,
        };
        match wait {
            // Wake a little after the deadline so integer rounding never fires early.
            Some(delay) => {
                let _ = tokio::time::timeout(delay + Duration::from_millis(1), app.wake.notified())
                    .await;
            }
            None => app.wake.notified().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_are_read_as_taskrouter_reads_them() {
        assert_eq!(interpret_reply(true, b""), CallbackReply::NoInstruction);
        assert_eq!(interpret_reply(true, b"{}"), CallbackReply::NoInstruction);
        assert_eq!(
            interpret_reply(true, b"not json"),
            CallbackReply::NoInstruction
        );
        assert_eq!(
            interpret_reply(false, br#"{"instruction":"accept"}"#),
            CallbackReply::NoInstruction
        );
        assert_eq!(
            interpret_reply(true, br#"{"instruction":"accept"}"#),
            CallbackReply::Instruction(serde_json::json!({"instruction": "accept"}))
        );
    }
}
