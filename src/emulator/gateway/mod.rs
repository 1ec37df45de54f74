//! The gateway: what Twilio's worker SDK (twilio-taskrouter.js 2.x) talks to instead of
//! Twilio's "event-bridge", on the emulator's own port.
//!
//! - `GET /v1/wschannels?token=…` upgrades to the websocket a worker's session lives
//!   on ([`socket`]): the Access Token is checked, `init` goes first, a whitespace frame
//!   keeps the SDK's heartbeat alive, and the socket closes when the token expires.
//!
//! Close codes (Twilio's own are not documented; the SDK gives none a meaning and shows
//! the reason to the app as `disconnected`): [`CLOSE_REFUSED`], [`CLOSE_EXPIRED`],
//! [`CLOSE_REPLACED`], [`CLOSE_SHUTDOWN`].

mod socket;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::routing::get;
use axum::Router;
use tokio::sync::mpsc;

use super::app::App;

/// How often a session gets a whitespace frame (the SDK drops a link after 30 s of
/// silence; Twilio's event-bridge sends one every 15 s).
pub const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(15);

/// Close code: the token (or the worker it names) was refused.
pub const CLOSE_REFUSED: u16 = 4001;
/// Close code: the token's `exp` passed.
pub const CLOSE_EXPIRED: u16 = 4002;
/// Close code: a newer session of the worker asked for the others to close
/// (`closeExistingSessions=true`).
pub const CLOSE_REPLACED: u16 = 4003;
/// Close code: the emulator is stopping.
pub const CLOSE_SHUTDOWN: u16 = 1001;

/// How the gateway behaves.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// Interval of the whitespace heartbeat frame.
    pub heartbeat: Duration,
}

impl Default for GatewayConfig {
    fn default() -> GatewayConfig {
        GatewayConfig {
            heartbeat: DEFAULT_HEARTBEAT,
        }
    }
}

/// What a session's socket task is told to send.
#[derive(Debug, Clone)]
pub(crate) enum Outbound {
    /// A text frame (an event, already encoded).
    Text(Arc<str>),
    /// Close with this code and reason, and end the session.
    Close(u16, String),
}

/// One connected session.
#[derive(Debug)]
struct Session {
    id: u64,
    out: mpsc::UnboundedSender<Outbound>,
}

/// Who is connected, and how to reach them.
#[derive(Debug)]
pub struct Gateway {
    config: GatewayConfig,
    /// Sessions by worker SID (SIDs are unique across workspaces).
    sessions: Mutex<HashMap<String, Vec<Session>>>,
    next_id: AtomicU64,
}

impl Gateway {
    /// A gateway with no session yet.
    pub fn new(config: GatewayConfig) -> Gateway {
        Gateway {
            config,
            sessions: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
        }
    }

    fn sessions(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<Session>>> {
        // Nothing panics while holding it; a poisoned map is still a consistent one.
        self.sessions
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Add a session of `worker`; with `close_others` the worker's other sessions are
    /// told to close first. Its id, for [`Gateway::unregister`].
    fn register(
        &self,
        worker: &str,
        out: mpsc::UnboundedSender<Outbound>,
        close_others: bool,
    ) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut sessions = self.sessions();
        let list = sessions.entry(worker.to_string()).or_default();
        if close_others {
            for old in list.drain(..) {
                let _ = old.out.send(Outbound::Close(
                    CLOSE_REPLACED,
                    "another session of this worker replaced this one (closeExistingSessions)"
                        .into(),
                ));
            }
        }
        list.push(Session { id, out });
        id
    }

    /// Remove a session; how many sessions the worker still has.
    fn unregister(&self, worker: &str, id: u64) -> usize {
        let mut sessions = self.sessions();
        let Some(list) = sessions.get_mut(worker) else {
            return 0;
        };
        list.retain(|session| session.id != id);
        let left = list.len();
        if left == 0 {
            sessions.remove(worker);
        }
        left
    }

    /// Whether `worker` has a session.
    pub fn is_connected(&self, worker: &str) -> bool {
        self.sessions().contains_key(worker)
    }

    /// How many sessions are open.
    pub fn session_count(&self) -> usize {
        self.sessions().values().map(Vec::len).sum()
    }

    /// Send a text frame to every session of `worker`; how many sessions it went to.
    pub fn send(&self, worker: &str, frame: &Arc<str>) -> usize {
        let sessions = self.sessions();
        let Some(list) = sessions.get(worker) else {
            return 0;
        };
        for session in list {
            let _ = session.out.send(Outbound::Text(frame.clone()));
        }
        list.len()
    }

    /// Tell every session to close (the emulator is stopping).
    pub fn close_all(&self) {
        for list in self.sessions().values() {
            for session in list {
                let _ = session.out.send(Outbound::Close(
                    CLOSE_SHUTDOWN,
                    "the emulator is stopping".into(),
                ));
            }
        }
    }
}

/// The gateway's routes: the websocket (GET) at `/v1/wschannels`. Not behind Basic
/// auth: the SDK authenticates with its Access Token alone.
pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/v1/wschannels", get(socket::connect))
        .with_state(app)
}
