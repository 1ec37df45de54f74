//! `trctl emulator`: serve the local TaskRouter emulator until Ctrl-C / SIGTERM.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;

use crate::api::Secret;
use crate::cli::{CliError, Ctx};
use crate::emulator::clock::{Clock, ManualClock, ScaledClock, SystemClock};
use crate::emulator::engine::RandomSids;
use crate::emulator::persist::StateFile;
use crate::emulator::{
    Emulator, EmulatorConfig, DEV_ACCOUNT_SID, DEV_API_KEY_SECRET, DEV_API_KEY_SID, DEV_AUTH_TOKEN,
};

/// Flags of `emulator`.
#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct EmulatorArgs {
    /// Act on a running emulator instead of starting one.
    #[command(subcommand)]
    pub action: Option<EmulatorAction>,
    /// Address to listen on (loopback by default: the emulator is for this machine).
    #[arg(long, default_value = "127.0.0.1")]
    pub host: IpAddr,
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 4010)]
    pub port: u16,
    /// Base URL to put in `url` and `links` when clients reach the emulator through
    /// another address (a tunnel or proxy).
    #[arg(long, value_name = "URL")]
    pub public_url: Option<String>,
    /// Run every timer (reservation and step timeouts, TTLs) N times faster.
    #[arg(long, value_name = "N", default_value_t = 1.0)]
    pub time_scale: f64,
    /// `manual` freezes time until `trctl emulator advance` moves it.
    #[arg(long, value_enum, default_value_t = ClockKind::System)]
    pub clock: ClockKind,
    /// Keep completed and canceled tasks instead of removing them after 5 minutes.
    #[arg(long)]
    pub keep_finished: bool,
    /// Seconds queued event callbacks get to go out after Ctrl-C or SIGTERM; what is
    /// left is counted and reported.
    #[arg(long, value_name = "S", default_value_t = crate::emulator::DEFAULT_DRAIN_TIMEOUT.as_secs_f64())]
    pub drain_timeout: f64,
    /// Keep the whole state in FILE across restarts: loaded at start (a missing file is
    /// a fresh start), saved shortly after every change and on exit. Credentials are
    /// never written to it.
    #[arg(long, value_name = "FILE", env = "TRCTL_EMULATOR_STATE")]
    pub state: Option<PathBuf>,
    /// Seconds between the whitespace heartbeat frames the worker SDK's websocket gets
    /// (Twilio: 15; shorter for tests).
    #[arg(long, value_name = "S", default_value_t = crate::emulator::gateway::DEFAULT_HEARTBEAT.as_secs_f64())]
    pub gateway_heartbeat: f64,
    /// Connection limits and timeouts (last: their help heading applies to what follows).
    #[command(flatten)]
    pub server: crate::cli::server_flags::ServerFlags,
}

/// Where the API key the emulator accepts comes from.
enum ApiKeyOrigin {
    /// `--api-key`/`--api-secret` or the environment: the secret is never printed.
    Yours(String, Secret),
    /// The fixed development pair (with the development token only).
    Development,
    /// None: your own auth token and no API key.
    None,
}

/// Clock choices.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockKind {
    /// Real time (scaled by --time-scale).
    System,
    /// Frozen until advanced.
    Manual,
}

/// Commands for a running emulator.
#[derive(clap::Subcommand, Debug)]
pub enum EmulatorAction {
    /// Move a `--clock manual` emulator's time forward (e.g. `121s`, `2m`, `1h30m`),
    /// firing every timer that falls due, in order and each at its own time: one long
    /// advance ends where the same advance in short steps would.
    Advance {
        /// How far: a duration such as 121s, 2m or 500ms.
        duration: String,
    },
}

/// Run the emulator in the foreground, or act on a running one.
pub async fn run(ctx: &mut Ctx, args: EmulatorArgs) -> Result<(), CliError> {
    if let Some(EmulatorAction::Advance { duration }) = &args.action {
        return advance(ctx, duration).await;
    }
    if !(args.time_scale.is_finite() && args.time_scale > 0.0) {
        return Err(CliError::usage(format!(
            "--time-scale must be a positive number, got {}",
            args.time_scale
        )));
    }
    if args.clock == ClockKind::Manual && args.time_scale != 1.0 {
        return Err(CliError::usage(
            "--time-scale has no effect with --clock manual (drop one of them)",
        ));
    }
    let limits = args.server.limits()?;
    let drain_timeout = crate::cli::server_flags::seconds("--drain-timeout", args.drain_timeout)?;
    let heartbeat =
        crate::cli::server_flags::seconds("--gateway-heartbeat", args.gateway_heartbeat)?;
    let non_empty = |value: &Option<String>| value.clone().filter(|v| !v.is_empty());
    let account_sid =
        non_empty(&ctx.global.account_sid).unwrap_or_else(|| DEV_ACCOUNT_SID.to_string());
    let (token, token_is_yours) = match non_empty(&ctx.global.auth_token) {
        Some(token) => (token, true),
        None => (DEV_AUTH_TOKEN.to_string(), false),
    };
    // An API key from the flags or the environment, else the development pair, which
    // comes only with the development token: an emulator guarded by your own token
    // does not also open to a key whose secret is public.
    let api_key = match (
        non_empty(&ctx.global.api_key),
        non_empty(&ctx.global.api_secret),
    ) {
        (Some(key), Some(secret)) => ApiKeyOrigin::Yours(key, Secret::new(secret)),
        _ if token_is_yours => ApiKeyOrigin::None,
        _ => ApiKeyOrigin::Development,
    };
    let api_keys = match &api_key {
        ApiKeyOrigin::Yours(key, secret) => vec![(key.clone(), secret.clone())],
        ApiKeyOrigin::Development => vec![crate::emulator::dev_api_key()],
        ApiKeyOrigin::None => Vec::new(),
    };
    if let Some(url) = &args.public_url {
        let parsed = url::Url::parse(url).map_err(|err| {
            CliError::usage(format!(
                "invalid --public-url {}: {err}",
                crate::api::redact_url(url)
            ))
        })?;
        // It goes into every `url` and `links` the emulator serves.
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(CliError::usage(format!(
                "invalid --public-url {}: it must not carry credentials (user:password@)",
                crate::api::redact_url(url)
            )));
        }
    }
    // Opened (and fully checked) before anything listens: a file that cannot be read
    // back stops the start and is left as it is.
    let state = match &args.state {
        Some(path) => Some(
            StateFile::open(path, &account_sid).map_err(|err| CliError::usage(err.to_string()))?,
        ),
        None => None,
    };
    // A manual or scaled clock resumes at the saved emulator time (see `persist`).
    let resume = state.as_ref().and_then(StateFile::clock_now);
    let state_line = match &state {
        Some(file) => match file.workspaces() {
            Some(count) => format!(
                "state: {} (restored, {count} workspace{})\n",
                file.path().display(),
                if count == 1 { "" } else { "s" }
            ),
            None => format!(
                "state: {} (new: written at the first change)\n",
                file.path().display()
            ),
        },
        None => String::new(),
    };
    let keeps_state = state.is_some();
    let emulator = Emulator::new(EmulatorConfig {
        account_sid: account_sid.clone(),
        auth_token: Secret::new(token.clone()),
        api_keys,
        public_url: args.public_url.clone(),
        clock: match args.clock {
            ClockKind::Manual => Arc::new(ManualClock::new(
                resume.unwrap_or_else(|| SystemClock.now()),
            )),
            ClockKind::System if args.time_scale != 1.0 => Arc::new(match resume {
                Some(start) => ScaledClock::starting_at(start, args.time_scale),
                None => ScaledClock::new(args.time_scale),
            }),
            ClockKind::System => Arc::new(SystemClock),
        },
        sids: Box::new(RandomSids),
        keep_finished: if args.keep_finished {
            None
        } else {
            Some(5 * 60 * 1000)
        },
        // Notes from the runner (failed callbacks, dropped events) go to stderr as they
        // happen; the banner and results stay on stdout.
        notice: Some(Arc::new(|message: &str| {
            eprintln!("trctl emulator: {message}")
        })),
        drain_timeout,
        state,
        gateway: crate::emulator::gateway::GatewayConfig { heartbeat },
    });
    let addr = SocketAddr::new(args.host, args.port);
    let listener = crate::http_server::bind(addr).await.map_err(|err| {
        CliError::usage(format!(
            "cannot listen on {addr}: {err} (try another --port)"
        ))
    })?;
    let local = listener
        .local_addr()
        .map_err(|err| CliError::usage(err.to_string()))?;
    let shutdown = shutdown_signal();
    let base = args
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{local}"));
    // The fixed development token is no secret and is printed; a token from your
    // environment or flags never is.
    let token_line = if token_is_yours {
        "TWILIO_AUTH_TOKEN=<the auth token from your environment or --auth-token>".to_string()
    } else {
        format!("TWILIO_AUTH_TOKEN={token}")
    };
    // Likewise the development API secret is printed and yours never is. The key SID
    // is no secret.
    let (key_accepted, key_lines) = match &api_key {
        ApiKeyOrigin::Yours(key, _) => (
            format!(", or as API key {key} with your API secret"),
            format!(
                "TWILIO_API_KEY={key}\n\
                 TWILIO_API_SECRET=<the API secret from your environment or --api-secret>\n"
            ),
        ),
        ApiKeyOrigin::Development => (
            format!(", or as API key {DEV_API_KEY_SID} with the development secret"),
            format!(
                "TWILIO_API_KEY={DEV_API_KEY_SID}\n\
                 TWILIO_API_SECRET={DEV_API_KEY_SECRET}\n"
            ),
        ),
        ApiKeyOrigin::None => (
            String::new(),
            "# no API key (needed to sign Access Tokens): start with --api-key and --api-secret\n"
                .to_string(),
        ),
    };
    ctx.print_text(&format!(
        "trctl emulator: TaskRouter v1 on {base}\n\
         accepts Basic auth as account {account_sid} with {}{key_accepted}\n\
         paste into a shell (prefix with export) or a .env file:\n\
         TRCTL_BASE_URL={base}\n\
         TWILIO_ACCOUNT_SID={account_sid}\n\
         {token_line}\n\
         {key_lines}\
         {state_line}\
         press Ctrl-C to stop\n",
        if token_is_yours {
            "your auth token"
        } else {
            "the development token"
        }
    ))?;
    ctx.flush()?;
    let report = emulator
        .serve_until_stopped(listener, limits, shutdown)
        .await
        .map_err(|err| CliError::usage(format!("the emulator stopped: {err}")))?;
    if let Some(report) = report {
        let total = report.delivered + report.failed + report.dropped + report.undelivered;
        if total > 0 {
            ctx.note(&format!(
                "trctl emulator: event callbacks: {} delivered, {} failed, {} dropped (queue full), {} not delivered (still queued after the {} s drain)",
                report.delivered, report.failed, report.dropped, report.undelivered, args.drain_timeout
            ));
        }
    }
    if keeps_state {
        emulator.save_state().await.map_err(|err| CliError {
            exit_code: crate::cli::error::EXIT_API,
            message: format!("{err}; the file keeps the previous save"),
        })?;
    }
    ctx.note("trctl emulator: stopped");
    Ok(())
}

/// Completes on Ctrl-C or SIGTERM. The handlers are installed when this is called, not
/// when the future is first polled, so a signal that arrives early is not lost.
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let mut terminate =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    let interrupt = tokio::signal::ctrl_c();
    async move {
        #[cfg(unix)]
        let terminated = async {
            match terminate.as_mut() {
                Some(signal) => {
                    signal.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        #[cfg(not(unix))]
        let terminated = std::future::pending::<()>();
        tokio::select! {
            _ = interrupt => {}
            () = terminated => {}
        }
    }
}

/// `trctl emulator advance DURATION`: POST the emulator's clock control endpoint.
async fn advance(ctx: &mut Ctx, duration: &str) -> Result<(), CliError> {
    let parsed = humantime::parse_duration(duration)
        .or_else(|_| {
            duration
                .trim()
                .parse::<f64>()
                .map(std::time::Duration::from_secs_f64)
                .map_err(|_| ())
        })
        .map_err(|_| {
            CliError::usage(format!(
                "invalid duration {duration:?} (e.g. 121s, 2m, 500ms)"
            ))
        })?;
    let client = ctx.client()?;
    let body =
        crate::api::RequestBody::Form(vec![("Seconds", format!("{}", parsed.as_secs_f64()))]);
    let response = client
        .send(
            reqwest::Method::POST,
            "/trctl/clock/advance",
            &[],
            &body,
            None,
        )
        .await?;
    if !(200..300).contains(&response.status) {
        let error = crate::api::ApiError::from_response(response.status, &response.body);
        return Err(crate::api::Error::Api(Box::new(error)).into());
    }
    let value: serde_json::Value = serde_json::from_slice(&response.body).unwrap_or_default();
    match value.get("now").and_then(|v| v.as_str()) {
        Some(now) => ctx.print_text(&format!("emulator time is now {now}\n")),
        None => Ok(()),
    }
}
