//! `trctl token worker`: mint a worker's Access Token for TaskRouter's worker SDK
//! (twilio-taskrouter.js), signed with an API key, as Twilio's helper libraries do.

use clap::{Args, Subcommand};

use crate::api::token::{self, ApiKey, WorkerGrant};
use crate::api::Secret;
use crate::cli::resolve::Kind;
use crate::cli::{CliError, Ctx};

/// Token commands.
#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// Print an Access Token for a worker (HS256 JWT with a TaskRouter grant), signed
    /// with the API key from --api-key/--api-secret or TWILIO_API_KEY/TWILIO_API_SECRET.
    Worker(WorkerTokenArgs),
    /// Check an Access Token against the API key from --api-key/--api-secret (or
    /// TWILIO_API_KEY/TWILIO_API_SECRET) and --account-sid (or TWILIO_ACCOUNT_SID), and
    /// print its claims as JSON; refused tokens exit 4 with the reason.
    Verify {
        /// The token, or `-` to read it from standard input.
        token: String,
    },
}

/// Flags of `token worker`.
#[derive(Args, Debug)]
pub struct WorkerTokenArgs {
    /// Worker SID or friendly name (in --workspace).
    pub worker: String,
    /// How long the token lives, e.g. 1h, 30m, 90s (at most 24h, Twilio's limit).
    #[arg(long, default_value = "1h", value_name = "DURATION")]
    pub ttl: String,
    /// `grants.identity` (default: the worker's friendly name).
    #[arg(long, value_name = "ID")]
    pub identity: Option<String>,
    /// `grants.task_router.role`: `worker` for agents (Twilio's tests also use `admin`).
    #[arg(long, default_value = token::WORKER_ROLE, value_name = "ROLE")]
    pub role: String,
}

/// Run a token command.
pub async fn run(ctx: &mut Ctx, command: TokenCommand) -> Result<(), CliError> {
    match command {
        TokenCommand::Worker(args) => worker(ctx, args).await,
        TokenCommand::Verify { token } => verify(ctx, &token),
    }
}

/// The lifetime in whole seconds: a humantime duration (a bare number is seconds),
/// from 1 s to 24 h. Twilio refuses Access Tokens that live longer than 24 hours
/// (error 20157), so longer is refused here rather than minted and refused later.
fn ttl_secs(text: &str) -> Result<u64, CliError> {
    let trimmed = text.trim();
    let secs = match trimmed.parse::<u64>() {
        Ok(secs) => secs,
        Err(_) => humantime::parse_duration(trimmed)
            .map_err(|err| {
                CliError::usage(format!("invalid --ttl {text:?}: {err} (e.g. 1h, 30m, 90s)"))
            })?
            .as_secs(),
    };
    if secs == 0 || secs > token::MAX_TTL_SECS {
        return Err(CliError::usage(format!(
            "--ttl must be from 1s to 24h (Twilio's limit for Access Tokens), got {text}"
        )));
    }
    Ok(secs)
}

/// The API key that signs: both halves from the flags or the environment.
fn api_key(ctx: &Ctx) -> Result<ApiKey, CliError> {
    let non_empty = |value: &Option<String>| value.clone().filter(|v| !v.is_empty());
    match (
        non_empty(&ctx.global.api_key),
        non_empty(&ctx.global.api_secret),
    ) {
        (Some(sid), Some(secret)) => {
            if !crate::api::sid::is_sid(crate::api::sid::prefix::API_KEY, &sid) {
                return Err(CliError::usage(
                    "--api-key / TWILIO_API_KEY must be an API key SID: SK followed by 32 hex digits",
                ));
            }
            Ok(ApiKey {
                sid,
                secret: Secret::new(secret),
            })
        }
        (key, _) => Err(CliError::usage(format!(
            "an Access Token is signed with an API key: {}; pass --api-key SK… and --api-secret, or set TWILIO_API_KEY and TWILIO_API_SECRET (trctl emulator prints its development pair in its banner)",
            if key.is_some() {
                "no API secret"
            } else {
                "no API key"
            }
        ))),
    }
}

async fn worker(ctx: &mut Ctx, args: WorkerTokenArgs) -> Result<(), CliError> {
    // Everything that needs no request is checked first.
    let ttl = ttl_secs(&args.ttl)?;
    let key = api_key(ctx)?;
    if args.role.trim().is_empty() {
        return Err(CliError::usage("--role must not be empty"));
    }
    if args.identity.as_deref().is_some_and(str::is_empty) {
        return Err(CliError::usage("--identity must not be empty"));
    }
    let client = ctx.client()?;
    let resolver = ctx.resolver(&client).await?;
    let workspace = resolver.workspace()?.to_string();
    let sid = resolver.resolve(Kind::Worker, &args.worker).await?;
    // Fetched even when given by SID: the token names a worker that exists, and its
    // account and friendly name come from the API.
    let found = client.fetch_worker(&workspace, &sid).await?;
    // The token's subject is the worker's own account (the one the API key belongs to);
    // --account-sid only stands in when the API leaves it out.
    let account_sid = found
        .account_sid
        .clone()
        .filter(|sid| !sid.is_empty())
        .or_else(|| ctx.global.account_sid.clone().filter(|sid| !sid.is_empty()))
        .ok_or_else(|| {
            CliError::state("the worker's account SID is unknown: pass --account-sid AC…")
        })?;
    // The default identity is the worker's friendly name: it is unique in its
    // workspace and it is what the agent is called everywhere else. The SDK never reads
    // it; other Twilio SDKs sharing the token show it.
    let identity = match args.identity {
        Some(identity) => identity,
        None => found
            .friendly_name
            .clone()
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| sid.clone()),
    };
    let grant = WorkerGrant {
        identity,
        workspace_sid: workspace,
        worker_sid: sid,
        role: args.role,
    };
    let now = unix_now()?;
    let minted = token::mint(&key, &account_sid, &grant, now, ttl)
        .map_err(|err| CliError::usage(err.to_string()))?;
    if ctx.json_output() {
        let value = serde_json::json!({
            "token": minted,
            "identity": grant.identity,
            "account_sid": account_sid,
            "workspace_sid": grant.workspace_sid,
            "worker_sid": grant.worker_sid,
            "role": grant.role,
            "expires_at": crate::api::wire::format_date(
                i64::try_from(now.saturating_add(ttl).saturating_mul(1000)).unwrap_or(i64::MAX),
            ),
        });
        ctx.print_text(&format!("{value}\n"))
    } else {
        ctx.print_text(&format!("{minted}\n"))
    }
}

/// `trctl token verify`: the claims if the token is valid now for this account and key.
fn verify(ctx: &mut Ctx, token: &str) -> Result<(), CliError> {
    let key = api_key(ctx)?;
    let account_sid = ctx
        .global
        .account_sid
        .clone()
        .filter(|sid| !sid.is_empty())
        .ok_or_else(|| {
            CliError::usage(
                "no account SID to check the token's subject against: pass --account-sid or set TWILIO_ACCOUNT_SID",
            )
        })?;
    let text = if token == "-" {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin().lock(), &mut text).map_err(|err| {
            CliError::usage(format!("cannot read the token from standard input: {err}"))
        })?;
        text
    } else {
        token.to_string()
    };
    let now = unix_now()?;
    match token::Verifier::new(account_sid, vec![key]).verify(&text, now) {
        Ok(claims) => {
            let value = serde_json::to_value(&claims)
                .map_err(|err| CliError::state(format!("cannot render the claims: {err}")))?;
            ctx.print_text(&format!("{value}\n"))
        }
        Err(token::VerifyError::Malformed(reason)) => Err(CliError::usage(format!(
            "not a valid Access Token: {reason}"
        ))),
        Err(err) => Err(CliError {
            exit_code: crate::cli::error::EXIT_AUTH,
            message: format!("token refused: {err}"),
        }),
    }
}

/// Whole seconds since the Unix epoch, from the system clock.
fn unix_now() -> Result<u64, CliError> {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .map_err(|_| CliError::state("the system clock is before 1970"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_takes_durations_and_seconds_within_a_day() {
        assert_eq!(ttl_secs("1h").unwrap(), 3600);
        assert_eq!(ttl_secs("90s").unwrap(), 90);
        assert_eq!(ttl_secs("1h 30m").unwrap(), 5400);
        assert_eq!(ttl_secs("120").unwrap(), 120);
        assert_eq!(ttl_secs("24h").unwrap(), 86_400);
        for bad in ["0", "0s", "500ms", "24h 1s", "2d", "soon", "-5"] {
            let err = ttl_secs(bad).unwrap_err();
            assert_eq!(err.exit_code, crate::cli::error::EXIT_USAGE, "{bad}");
        }
    }
}
