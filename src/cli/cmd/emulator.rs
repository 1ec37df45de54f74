//! `trctl emulator`: serve the local TaskRouter emulator until Ctrl-C / SIGTERM.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use clap::Args;

use crate::api::Secret;
use crate::cli::{CliError, Ctx};
use crate::emulator::clock::SystemClock;
use crate::emulator::engine::RandomSids;
use crate::emulator::{Emulator, EmulatorConfig, DEV_ACCOUNT_SID, DEV_AUTH_TOKEN};

/// Flags of `emulator`.
#[derive(Args, Debug)]
pub struct EmulatorArgs {
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
}

/// Run the emulator in the foreground.
pub async fn run(ctx: &mut Ctx, args: EmulatorArgs) -> Result<(), CliError> {
    let non_empty = |value: &Option<String>| value.clone().filter(|v| !v.is_empty());
    let account_sid =
        non_empty(&ctx.global.account_sid).unwrap_or_else(|| DEV_ACCOUNT_SID.to_string());
    let (token, token_is_yours) = match non_empty(&ctx.global.auth_token) {
        Some(token) => (token, true),
        None => (DEV_AUTH_TOKEN.to_string(), false),
    };
    let mut api_keys = Vec::new();
    if let (Some(key), Some(secret)) = (
        non_empty(&ctx.global.api_key),
        non_empty(&ctx.global.api_secret),
    ) {
        api_keys.push((key, Secret::new(secret)));
    }
    if let Some(url) = &args.public_url {
        url::Url::parse(url)
            .map_err(|err| CliError::usage(format!("invalid --public-url {url}: {err}")))?;
    }
    let emulator = Emulator::new(EmulatorConfig {
        account_sid: account_sid.clone(),
        auth_token: Secret::new(token.clone()),
        api_keys,
        public_url: args.public_url.clone(),
        clock: Arc::new(SystemClock),
        sids: Box::new(RandomSids),
    });
    let addr = SocketAddr::new(args.host, args.port);
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|err| {
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
    ctx.print_text(&format!(
        "trctl emulator: TaskRouter v1 on {base}\n\
         accepts Basic auth as account {account_sid} with {}\n\
         paste into a shell (prefix with export) or a .env file:\n\
         TRCTL_BASE_URL={base}\n\
         TWILIO_ACCOUNT_SID={account_sid}\n\
         {token_line}\n\
         press Ctrl-C to stop\n",
        if token_is_yours {
            "your auth token"
        } else {
            "the development token"
        }
    ))?;
    ctx.flush()?;
    emulator
        .serve(listener, shutdown)
        .await
        .map_err(|err| CliError::usage(format!("the emulator stopped: {err}")))?;
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
