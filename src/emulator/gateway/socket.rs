//! The websocket of one worker session: token check, `init`, heartbeat, events, expiry.
//!
//! The SDK never sends anything over the socket; the server speaks first (`init`) and
//! alone. Refusals are told over the socket (upgrade, then a close frame with
//! [`CLOSE_REFUSED`] and the reason), so the app sees why in its `disconnected` event.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use futures_util::SinkExt;
use serde_json::json;
use tokio::sync::mpsc;

use super::{Outbound, CLOSE_EXPIRED, CLOSE_REFUSED};
use crate::api::token::Claims;
use crate::emulator::app::App;

/// Close reasons are at most 123 bytes (RFC 6455 §5.5).
const MAX_REASON: usize = 123;

/// A token the gateway accepted: its claims and how long it still lives.
#[derive(Debug, Clone)]
pub(super) struct Authorized {
    pub(super) claims: Claims,
    /// Until `exp`, in milliseconds of wall time.
    pub(super) remaining_ms: u64,
}

/// Wall-clock seconds and milliseconds. Tokens are minted against the wall clock (by
/// `trctl token worker` or a helper library), so they are checked against it too, not
/// against the emulator's (possibly manual or scaled) clock.
fn wall_now() -> (u64, u64) {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    (ms / 1000, ms)
}

/// Check `token` (signature, lifetime, account, TaskRouter grant) and that the worker it
/// names exists in the workspace it names; why not, in words, otherwise.
pub(super) fn authorize(app: &App, token: Option<&str>) -> Result<Authorized, String> {
    let token = token
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(|| "no token: pass the worker's Access Token".to_string())?;
    let (now_s, now_ms) = wall_now();
    let claims = app
        .credentials
        .token_verifier()
        .verify(token, now_s)
        .map_err(|err| format!("the token was refused: {err}"))?;
    {
        let engine = app.lock();
        let workspace = engine
            .state()
            .workspaces
            .get(&claims.workspace_sid)
            .ok_or_else(|| {
                format!(
                    "the token's workspace {} does not exist",
                    claims.workspace_sid
                )
            })?;
        if workspace.workers.get(&claims.worker_sid).is_none() {
            return Err(format!(
                "the token's worker {} does not exist in workspace {}",
                claims.worker_sid, claims.workspace_sid
            ));
        }
    }
    let remaining_ms = claims
        .expires_at
        .saturating_mul(1000)
        .saturating_sub(now_ms);
    Ok(Authorized {
        claims,
        remaining_ms,
    })
}

/// `true`/`false` query flags as the SDK writes them; anything else is `default`.
fn flag(query: &[(String, String)], name: &str, default: bool) -> bool {
    query
        .iter()
        .find(|(key, _)| key == name)
        .map_or(default, |(_, value)| match value.as_str() {
            "true" => true,
            "false" => false,
            _ => default,
        })
}

/// `GET /v1/wschannels`: upgrade and run the session.
pub(super) async fn connect(
    State(app): State<Arc<App>>,
    Query(query): Query<Vec<(String, String)>>,
    upgrade: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    let upgrade = match upgrade {
        Ok(upgrade) => upgrade,
        Err(rejection) => {
            let status = rejection.status();
            let body = json!({
                "message": format!("this is the worker SDK's websocket: {rejection}"),
                "status": status.as_u16(),
            });
            return (status, axum::Json(body)).into_response();
        }
    };
    let token = query
        .iter()
        .find(|(key, _)| key == "token")
        .map(|(_, value)| value.as_str());
    let admitted = authorize(&app, token);
    let close_others = flag(&query, "closeExistingSessions", false);
    upgrade
        .on_upgrade(move |socket| run(app, socket, admitted, close_others))
        .into_response()
}

fn close(code: u16, reason: &str) -> Message {
    let mut end = reason.len().min(MAX_REASON);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    Message::Close(Some(CloseFrame {
        code,
        reason: reason[..end].into(),
    }))
}

/// One session, from `init` to its close.
async fn run(
    app: Arc<App>,
    mut socket: WebSocket,
    admitted: Result<Authorized, String>,
    close_others: bool,
) {
    let authorized = match admitted {
        Ok(authorized) => authorized,
        Err(reason) => {
            let _ = socket.send(close(CLOSE_REFUSED, &reason)).await;
            return;
        }
    };
    let claims = &authorized.claims;
    let (out, mut outbound) = mpsc::unbounded_channel();
    let gateway = &app.gateway;
    let id = gateway.register(&claims.worker_sid, out, close_others);
    let init = json!({
        "event_type": "init",
        "payload": {
            "channel_id": claims.worker_sid,
            "account_sid": claims.account_sid,
            "workspace_sid": claims.workspace_sid,
            "token_lifetime": authorized.remaining_ms,
        }
    });
    let mut open = socket
        .send(Message::Text(init.to_string().into()))
        .await
        .is_ok();
    let period = gateway.config.heartbeat.max(Duration::from_millis(10));
    let mut heartbeat = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let expiry = tokio::time::sleep(Duration::from_millis(authorized.remaining_ms));
    tokio::pin!(expiry);
    while open {
        tokio::select! {
            received = socket.recv() => match received {
                // The SDK sends nothing; whatever comes is ignored, but a close or an
                // error ends the session.
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => open = false,
                Some(Ok(_)) => {}
            },
            next = outbound.recv() => match next {
                Some(Outbound::Text(frame)) => {
                    open = socket.send(Message::Text(frame.as_ref().into())).await.is_ok();
                }
                Some(Outbound::Close(code, reason)) => {
                    let _ = socket.send(close(code, &reason)).await;
                    open = false;
                }
                None => open = false,
            },
            _ = heartbeat.tick() => {
                open = socket.send(Message::Text(" ".into())).await.is_ok();
            }
            () = &mut expiry => {
                let _ = socket
                    .send(close(CLOSE_EXPIRED, "the token expired: connect again with a new one"))
                    .await;
                open = false;
            }
        }
    }
    gateway.unregister(&claims.worker_sid, id);
    // Answer a client's close (or finish ours) and flush it, briefly: a peer that went
    // away must not hold the task.
    let _ = tokio::time::timeout(Duration::from_secs(1), SinkExt::close(&mut socket)).await;
}
