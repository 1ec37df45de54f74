//! The local TaskRouter emulator: TaskRouter v1's REST API, in memory, with Twilio's
//! wire format, so trctl, Twilio's helper libraries and users' apps can run offline.
//!
//! Rooms: [`http`] (routes, decoding, encoding, auth) → [`app`] (the engine behind its
//! lock, shared with [`runner`] and [`persist`]) → [`engine`] (a pure,
//! deterministic state machine) ; [`clock`] supplies `now`. [`Emulator`] wires them and
//! serves on a listener; tests and the quickstart start it in-process on port 0.

pub mod app;
pub mod clock;
pub mod engine;
pub mod gateway;
pub mod http;
pub mod persist;
pub mod runner;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use crate::api::Secret;
use clock::{Clock, SystemClock};
use engine::{Engine, RandomSids, SidSource};

/// Account SID the emulator accepts when none is configured.
pub const DEV_ACCOUNT_SID: &str = "AC00000000000000000000000000000000";
/// Auth token the emulator accepts when none is configured.
pub const DEV_AUTH_TOKEN: &str = "trctl-emulator-token";
/// API key SID the emulator accepts (for Basic auth and for signing Access Tokens) when
/// it runs with the development credentials and no API key is configured.
pub const DEV_API_KEY_SID: &str = "SK00000000000000000000000000000000";
/// That key's secret: fixed and public, like [`DEV_AUTH_TOKEN`].
pub const DEV_API_KEY_SECRET: &str = "trctl-emulator-dev-api-key-secret";

/// The development API key pair, as [`EmulatorConfig::api_keys`] takes it.
pub fn dev_api_key() -> (String, Secret) {
    (DEV_API_KEY_SID.to_string(), Secret::new(DEV_API_KEY_SECRET))
}

/// Where the emulator reports what goes wrong outside any request (failed callbacks,
/// dropped events); the CLI prints these lines, a library user may log them.
pub type Notice = Arc<dyn Fn(&str) + Send + Sync>;

/// Default [`EmulatorConfig::drain_timeout`].
pub const DEFAULT_DRAIN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

/// How to run an emulator.
pub struct EmulatorConfig {
    /// Accepted account SID.
    pub account_sid: String,
    /// Its auth token.
    pub auth_token: Secret,
    /// Accepted API keys (the default: the development pair, [`dev_api_key`]).
    pub api_keys: Vec<(String, Secret)>,
    /// Base URL for `url`/`links` when the emulator is reached through another address.
    pub public_url: Option<String>,
    /// Time source.
    pub clock: Arc<dyn Clock>,
    /// SID source.
    pub sids: Box<dyn SidSource>,
    /// How long finished tasks are kept (TaskRouter: 5 minutes); `None` keeps them.
    pub keep_finished: Option<engine::Millis>,
    /// Where failed callbacks and dropped events are reported; `None` drops the notes.
    pub notice: Option<Notice>,
    /// How long queued event callbacks get to go out when the emulator stops.
    pub drain_timeout: std::time::Duration,
    /// Where to keep the state across restarts (`--state`): start from what it holds and
    /// save every change to it (in the background once served; call
    /// [`Emulator::save_state`] before stopping to save the last ones). `None`: in memory
    /// only.
    pub state: Option<persist::StateFile>,
    /// The worker SDK's gateway (heartbeat interval).
    pub gateway: gateway::GatewayConfig,
}

impl Default for EmulatorConfig {
    fn default() -> EmulatorConfig {
        EmulatorConfig {
            account_sid: DEV_ACCOUNT_SID.to_string(),
            auth_token: Secret::new(DEV_AUTH_TOKEN),
            api_keys: vec![dev_api_key()],
            public_url: None,
            clock: Arc::new(SystemClock),
            sids: Box::new(RandomSids),
            keep_finished: Some(5 * 60 * 1000),
            notice: None,
            drain_timeout: DEFAULT_DRAIN_TIMEOUT,
            state: None,
            gateway: gateway::GatewayConfig::default(),
        }
    }
}

/// An emulator: its state, its router and its runner.
#[derive(Clone)]
pub struct Emulator {
    app: Arc<app::App>,
    runner: Arc<Mutex<RunnerSlot>>,
    notice: Notice,
    drain_timeout: std::time::Duration,
}

/// The runner before, during and after its life.
enum RunnerSlot {
    Waiting(tokio::sync::mpsc::UnboundedReceiver<engine::Effect>),
    Running(runner::Runner),
    Done,
}

impl Emulator {
    /// An emulator with the given configuration: empty state, or the state in
    /// `config.state`.
    pub fn new(mut config: EmulatorConfig) -> Emulator {
        let (effects, receiver) = tokio::sync::mpsc::unbounded_channel();
        let restored = config.state.as_mut().and_then(|file| file.take_restored());
        let mut engine = match restored {
            Some(restored) => Engine::from_restored(restored, config.sids),
            None => Engine::new(config.account_sid.clone(), config.sids),
        };
        engine.set_keep_finished(config.keep_finished);
        let app = app::App {
            effects,
            wake: tokio::sync::Notify::new(),
            armed: std::sync::atomic::AtomicI64::new(engine::Millis::MAX),
            engine: Mutex::new(engine),
            clock: config.clock,
            credentials: app::Credentials {
                account_sid: config.account_sid,
                auth_token: config.auth_token,
                api_keys: config.api_keys,
            },
            public_url: config
                .public_url
                .map(|url| url.trim_end_matches('/').to_string()),
            saver: config
                .state
                .map(|file| Arc::new(persist::Saver::new(file.path().to_path_buf()))),
            gateway: gateway::Gateway::new(config.gateway),
        };
        Emulator {
            app: Arc::new(app),
            runner: Arc::new(Mutex::new(RunnerSlot::Waiting(receiver))),
            // Without a hook the notes are dropped.
            notice: config.notice.unwrap_or_else(|| Arc::new(|_: &str| {})),
            drain_timeout: config.drain_timeout,
        }
    }

    /// The axum router serving TaskRouter v1.
    pub fn router(&self) -> axum::Router {
        // The gateway's routes sit outside the REST API's Basic auth (the worker SDK
        // authenticates with an Access Token) and its fallback.
        let router = http::router(self.app.clone()).merge(gateway::router(self.app.clone()));
        match &self.app.public_url {
            Some(url) => {
                let public = http::PublicUrl(url.clone());
                router.layer(axum::Extension(public))
            }
            None => router,
        }
    }

    /// Start the runner (callbacks, events, timers) on the current runtime; once.
    pub fn start_runner(&self) {
        let Ok(mut slot) = self.runner.lock() else {
            return;
        };
        if matches!(*slot, RunnerSlot::Waiting(_)) {
            if let RunnerSlot::Waiting(receiver) = std::mem::replace(&mut *slot, RunnerSlot::Done) {
                *slot = RunnerSlot::Running(runner::start(
                    self.app.clone(),
                    receiver,
                    self.notice.clone(),
                ));
                persist::start(self.app.clone(), self.notice.clone());
            }
        }
    }

    /// Stop the runner: queued event callbacks get the drain deadline to go out; the
    /// report says what became of every event handed to it. `None` if it never ran.
    pub async fn stop_runner(&self) -> Option<runner::DeliveryReport> {
        let running = {
            let mut slot = self.runner.lock().ok()?;
            match std::mem::replace(&mut *slot, RunnerSlot::Done) {
                RunnerSlot::Running(running) => Some(running),
                other => {
                    *slot = other;
                    None
                }
            }
        }?;
        Some(running.drain(self.drain_timeout).await)
    }

    /// Save the state now if it changed since the last save (`--state`; on shutdown).
    /// `Ok(false)`: nothing to save.
    pub async fn save_state(&self) -> Result<bool, persist::PersistError> {
        persist::save(&self.app).await
    }

    /// Apply a command directly (as the HTTP layer would), e.g. from a test.
    pub fn apply(&self, command: engine::Command) -> Result<engine::Outcome, engine::EngineError> {
        self.app.apply(command)
    }

    /// Serve on `listener` with the default limits until `shutdown` completes, then
    /// finish in-flight requests. The runner starts with the first `serve`.
    pub async fn serve(
        &self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        self.serve_with(listener, crate::http_server::Limits::default(), shutdown)
            .await
    }

    /// [`Emulator::serve`] with the given connection limits and timeouts.
    pub async fn serve_with(
        &self,
        listener: tokio::net::TcpListener,
        limits: crate::http_server::Limits,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        self.start_runner();
        // Upgraded websockets are no longer the HTTP server's connections: the gateway
        // closes them itself when the shutdown begins.
        let app = self.app.clone();
        let shutdown = async move {
            shutdown.await;
            app.gateway.close_all();
        };
        crate::http_server::serve(listener, self.router(), limits, shutdown).await
    }

    /// [`Emulator::serve_with`], then [`Emulator::stop_runner`]: the way a process that
    /// owns the emulator stops it.
    pub async fn serve_until_stopped(
        &self,
        listener: tokio::net::TcpListener,
        limits: crate::http_server::Limits,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<Option<runner::DeliveryReport>> {
        self.serve_with(listener, limits, shutdown).await?;
        Ok(self.stop_runner().await)
    }

    /// Bind `addr` (e.g. `127.0.0.1:0`) and serve in a background task. The returned
    /// handle stops the server when dropped.
    pub async fn spawn(&self, addr: SocketAddr) -> std::io::Result<RunningEmulator> {
        let listener = crate::http_server::bind(addr).await?;
        let local = listener.local_addr()?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let emulator = self.clone();
        let task = tokio::spawn(async move {
            let _ = emulator
                .serve(listener, async {
                    let _ = stopped.await;
                })
                .await;
        });
        Ok(RunningEmulator {
            url: format!("http://{local}"),
            addr: local,
            stop: Some(stop),
            task: Some(task),
        })
    }
}

/// A served emulator; dropping it stops the server.
pub struct RunningEmulator {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// The bound address.
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl RunningEmulator {
    /// Stop and wait until the server has finished.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for RunningEmulator {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
