//! The worker SDK's gateway (`/v1/wschannels`): the websocket a worker's session lives
//! on and the POST endpoint the SDK proxies its API calls through, driven the way
//! twilio-taskrouter.js 2.x drives them.

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use trctl::api::token::{self, ApiKey, WorkerGrant};
use trctl::api::Secret;
use trctl::emulator::{Emulator, EmulatorConfig, RunningEmulator};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// An emulator whose gateway beats every `heartbeat`.
async fn start(heartbeat: Duration) -> RunningEmulator {
    let emulator = Emulator::new(EmulatorConfig {
        gateway: trctl::emulator::gateway::GatewayConfig { heartbeat },
        ..Default::default()
    });
    emulator
        .spawn("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

/// A REST call with the development credentials; the status and the JSON body.
async fn rest(
    url: &str,
    method: reqwest::Method,
    path: &str,
    form: &[(&str, &str)],
) -> (u16, Value) {
    let request = reqwest::Client::new()
        .request(method, format!("{url}/v1/{path}"))
        .basic_auth(
            trctl::emulator::DEV_ACCOUNT_SID,
            Some(trctl::emulator::DEV_AUTH_TOKEN),
        );
    let request = if form.is_empty() {
        request
    } else {
        request.form(form)
    };
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// A FIFO workspace with one worker; (workspace, worker, the Available activity).
async fn workspace_with_worker(url: &str) -> (String, String, String) {
    let (status, ws) = rest(
        url,
        reqwest::Method::POST,
        "Workspaces",
        &[("FriendlyName", "Agents"), ("Template", "FIFO")],
    )
    .await;
    assert_eq!(status, 201, "{ws}");
    let ws = ws["sid"].as_str().unwrap().to_string();
    let (_, worker) = rest(
        url,
        reqwest::Method::POST,
        &format!("Workspaces/{ws}/Workers"),
        &[
            ("FriendlyName", "Alice"),
            ("Attributes", r#"{"skill":"sales"}"#),
        ],
    )
    .await;
    let worker = worker["sid"].as_str().unwrap().to_string();
    let (_, activities) = rest(
        url,
        reqwest::Method::GET,
        &format!("Workspaces/{ws}/Activities?FriendlyName=Available"),
        &[],
    )
    .await;
    let available = activities["activities"][0]["sid"]
        .as_str()
        .unwrap()
        .to_string();
    (ws, worker, available)
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn dev_key() -> ApiKey {
    ApiKey {
        sid: trctl::emulator::DEV_API_KEY_SID.into(),
        secret: Secret::new(trctl::emulator::DEV_API_KEY_SECRET),
    }
}

/// A worker token as `trctl token worker` mints it, issued at `issued` for `ttl` s.
fn worker_token(key: &ApiKey, ws: &str, worker: &str, issued: u64, ttl: u64) -> String {
    let grant = WorkerGrant {
        identity: "alice".into(),
        workspace_sid: ws.into(),
        worker_sid: worker.into(),
        role: "worker".into(),
    };
    token::mint(key, trctl::emulator::DEV_ACCOUNT_SID, &grant, issued, ttl).unwrap()
}

/// Open the socket the way the SDK does (its query keys, in its order).
async fn connect(url: &str, token: &str, extra: &str) -> Socket {
    let host = url.strip_prefix("http://").unwrap();
    let address = format!(
        "ws://{host}/v1/wschannels?token={token}&closeExistingSessions=false&clientVersion=2.1.1{extra}"
    );
    let (socket, _) = tokio_tungstenite::connect_async(address).await.unwrap();
    socket
}

/// The next frame within `within` (panics on silence).
async fn next_frame(socket: &mut Socket, within: Duration) -> Message {
    tokio::time::timeout(within, socket.next())
        .await
        .expect("a frame in time")
        .expect("the socket still open")
        .expect("a frame, not an error")
}

/// The next JSON frame, skipping heartbeats.
async fn next_event(socket: &mut Socket, within: Duration) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match next_frame(socket, left).await {
            Message::Text(text) if text.trim().is_empty() => continue,
            Message::Text(text) => return serde_json::from_str(&text).unwrap(),
            other => panic!("expected a text frame, got {other:?}"),
        }
    }
}

/// The close frame the server sends next (skipping heartbeats): code and reason.
async fn closed_with(socket: &mut Socket, within: Duration) -> (u16, String) {
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match next_frame(socket, left).await {
            Message::Text(text) if text.trim().is_empty() => continue,
            Message::Close(Some(frame)) => {
                return (u16::from(frame.code), frame.reason.to_string())
            }
            other => panic!("expected a close frame, got {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_the_gateway_refuses_close_the_socket_with_the_reason() {
    let running = start(Duration::from_secs(15)).await;
    let (ws, worker, _) = workspace_with_worker(&running.url).await;
    let key = dev_key();
    let forged = ApiKey {
        sid: key.sid.clone(),
        secret: Secret::new("not-the-secret"),
    };
    let cases = [
        (String::new(), "no token"),
        ("not-a-jwt".to_string(), "not a valid Access Token"),
        (worker_token(&forged, &ws, &worker, now(), 60), "signature"),
        (worker_token(&key, &ws, &worker, now() - 120, 60), "expired"),
        (
            worker_token(&key, &ws, "WK0123456789abcdef0123456789abcdef", now(), 60),
            "does not exist",
        ),
    ];
    for (token, why) in cases {
        let mut socket = connect(&running.url, &token, "").await;
        let (code, reason) = closed_with(&mut socket, Duration::from_secs(5)).await;
        assert_eq!(
            code,
            trctl::emulator::gateway::CLOSE_REFUSED,
            "{why}: {reason}"
        );
        assert!(reason.contains(why), "{why}: {reason}");
    }
    // A plain GET (no upgrade) is answered in JSON, as the SDK reads errors.
    let response = reqwest::get(format!("{}/v1/wschannels", running.url))
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    let body: Value = response.json().await.unwrap();
    assert!(
        body["message"].as_str().unwrap().contains("websocket"),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_comes_first_with_the_lifetime_in_milliseconds_then_heartbeats() {
    let running = start(Duration::from_millis(100)).await;
    let (ws, worker, _) = workspace_with_worker(&running.url).await;
    let token = worker_token(&dev_key(), &ws, &worker, now(), 600);
    let mut socket = connect(&running.url, &token, "").await;
    let init = match next_frame(&mut socket, Duration::from_secs(5)).await {
        Message::Text(text) => serde_json::from_str::<Value>(&text).unwrap(),
        other => panic!("init must come first, got {other:?}"),
    };
    assert_eq!(init["event_type"], "init", "{init}");
    let payload = &init["payload"];
    assert_eq!(payload["channel_id"], worker.as_str());
    assert_eq!(payload["account_sid"], trctl::emulator::DEV_ACCOUNT_SID);
    assert_eq!(payload["workspace_sid"], ws.as_str());
    let lifetime = payload["token_lifetime"].as_u64().expect("a number");
    assert!(
        (598_000..=600_000).contains(&lifetime),
        "milliseconds left of a 600 s token: {lifetime}"
    );
    // Whitespace text frames at the configured interval (the SDK's heartbeat).
    let started = Instant::now();
    for _ in 0..3 {
        match next_frame(&mut socket, Duration::from_secs(2)).await {
            Message::Text(text) => assert!(text.trim().is_empty(), "{text:?}"),
            other => panic!("expected a heartbeat, got {other:?}"),
        }
    }
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(250) && took < Duration::from_secs(2),
        "3 heartbeats 100 ms apart took {took:?}"
    );
    assert!(running.url.starts_with("http://"));
    let _ = socket.close(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_socket_closes_when_the_token_expires() {
    let running = start(Duration::from_secs(15)).await;
    let (ws, worker, _) = workspace_with_worker(&running.url).await;
    let token = worker_token(&dev_key(), &ws, &worker, now(), 2);
    let mut socket = connect(&running.url, &token, "").await;
    let init = next_event(&mut socket, Duration::from_secs(5)).await;
    let lifetime = init["payload"]["token_lifetime"].as_u64().unwrap();
    assert!(lifetime <= 2_000, "{lifetime}");
    let started = Instant::now();
    let (code, reason) = closed_with(&mut socket, Duration::from_secs(5)).await;
    assert_eq!(code, trctl::emulator::gateway::CLOSE_EXPIRED, "{reason}");
    assert!(reason.contains("expired"), "{reason}");
    assert!(started.elapsed() <= Duration::from_millis(lifetime + 500));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_existing_sessions_closes_the_workers_other_sessions_only() {
    let running = start(Duration::from_secs(15)).await;
    let (ws, worker, _) = workspace_with_worker(&running.url).await;
    let token = worker_token(&dev_key(), &ws, &worker, now(), 600);
    let mut first = connect(&running.url, &token, "").await;
    next_event(&mut first, Duration::from_secs(5)).await;
    // Without the flag, both stay.
    let mut second = connect(&running.url, &token, "").await;
    next_event(&mut second, Duration::from_secs(5)).await;
    let host = running.url.strip_prefix("http://").unwrap();
    let address = format!(
        "ws://{host}/v1/wschannels?token={token}&closeExistingSessions=true&clientVersion=2.1.1"
    );
    let (mut third, _) = tokio_tungstenite::connect_async(address).await.unwrap();
    next_event(&mut third, Duration::from_secs(5)).await;
    for old in [&mut first, &mut second] {
        let (code, _) = closed_with(old, Duration::from_secs(5)).await;
        assert_eq!(code, trctl::emulator::gateway::CLOSE_REPLACED);
    }
    // The new one is still open: a client close is answered.
    third.send(Message::Close(None)).await.unwrap();
    match next_frame(&mut third, Duration::from_secs(5)).await {
        Message::Close(frame) => {
            assert!(frame.is_none_or(|f| f.code == CloseCode::Normal || u16::from(f.code) == 1005))
        }
        other => panic!("expected the close answered, got {other:?}"),
    }
}
