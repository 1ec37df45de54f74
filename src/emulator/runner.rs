//! The runner carries out what the engine asks for, outside the engine: it POSTs signed
//! assignment callbacks (falling back to the fallback URL) and feeds the answers back as
//! commands, delivers events to the workspace's event callback URL in order, and fires
//! timers when their deadline comes. It changes state only by sending commands.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::mpsc;

use super::engine::{CallbackReply, Command, Effect};
use super::http::App;
use crate::serve::signature;

/// How long TaskRouter waits for an assignment callback answer (WIRE.md §5.3).
const ASSIGNMENT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long it waits for an event callback answer (WIRE.md §7.1).
const EVENT_TIMEOUT: Duration = Duration::from_secs(15);

/// Start the runner's tasks on the current tokio runtime.
pub fn start(app: Arc<App>, effects: mpsc::UnboundedReceiver<Effect>) {
    let http = reqwest::Client::builder()
        .user_agent(concat!("trctl-emulator/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_default();
    let (events_tx, events_rx) = mpsc::unbounded_channel::<(String, String)>();
    tokio::spawn(dispatch(app.clone(), http.clone(), effects, events_tx));
    tokio::spawn(deliver_events(app.clone(), http, events_rx));
    tokio::spawn(timers(app));
}

async fn dispatch(
    app: Arc<App>,
    http: reqwest::Client,
    mut effects: mpsc::UnboundedReceiver<Effect>,
    events: mpsc::UnboundedSender<(String, String)>,
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
                // Callbacks run concurrently and never hold the engine while waiting.
                tokio::spawn(async move {
                    let token = app.credentials.auth_token.expose().to_string();
                    let mut reply = post_assignment(&http, &token, &url, &params).await;
                    if reply.is_none() {
                        if let Some(fallback) = fallback_url {
                            reply = post_assignment(&http, &token, &fallback, &params).await;
                        }
                    }
                    let reply = reply.unwrap_or(CallbackReply::Failed);
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
            Effect::Event { workspace, event } => {
                let _ = events.send((workspace, event));
            }
        }
    }
}

/// POST one assignment callback; `None` when there was no usable 2xx answer in time.
async fn post_assignment(
    http: &reqwest::Client,
    token: &str,
    url: &str,
    params: &[(String, String)],
) -> Option<CallbackReply> {
    let response = signed_post(http, token, url, params, ASSIGNMENT_TIMEOUT).await?;
    if !response.status().is_success() {
        return None;
    }
    let json_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("application/json"));
    let body = response.bytes().await.ok()?;
    Some(interpret_reply(json_type, &body))
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
) -> Option<reqwest::Response> {
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
        .ok()
}

/// Deliver events in the order they were recorded, honouring `EventsFilter`.
async fn deliver_events(
    app: Arc<App>,
    http: reqwest::Client,
    mut events: mpsc::UnboundedReceiver<(String, String)>,
) {
    while let Some((workspace, event)) = events.recv().await {
        let Some((url, params)) = app.event_callback(&workspace, &event) else {
            continue;
        };
        let token = app.credentials.auth_token.expose().to_string();
        // Delivery is best effort: one attempt, then on to the next event (retries are
        // UNCONFIRMED for TaskRouter, WIRE.md §10.11).
        let _ = signed_post(&http, &token, &url, &params, EVENT_TIMEOUT).await;
    }
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
