//! Global flags and their resolution into a client configuration.
//!
//! Precedence: flags > environment > `.env` in the working directory. clap reads the
//! flags and the environment (`env = …`); [`load_dotenv`] copies `.env` entries into
//! the environment beforehand without overriding variables that are already set, which
//! gives `.env` the lowest rank. The auth token never appears in help (`hide_env_values`)
//! or in any message.

use std::net::IpAddr;
use std::time::Duration;

use clap::{Args, ValueEnum};

use crate::api::{self, Client, Credentials, RetryPolicy, Secret};
use crate::cli::CliError;

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum OutputFormat {
    /// Aligned columns for people.
    #[default]
    Table,
    /// The resource as the API returned it; a list is one JSON array.
    Json,
    /// One JSON object per line.
    Ndjson,
    /// Tab-separated values with a header line.
    Tsv,
}

/// Flags accepted by every command, before or after the subcommand.
#[derive(Args, Debug, Clone, Default)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// Account SID (AC…) used as the Basic-auth username.
    #[arg(long, global = true, env = "TWILIO_ACCOUNT_SID", value_name = "AC…")]
    pub account_sid: Option<String>,
    /// Auth token (prefer the environment or .env: flags show up in process lists).
    #[arg(
        long,
        global = true,
        env = "TWILIO_AUTH_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub auth_token: Option<String>,
    /// API key SID (SK…), used with --api-secret instead of the auth token.
    #[arg(long, global = true, env = "TWILIO_API_KEY", value_name = "SK…")]
    pub api_key: Option<String>,
    /// API key secret.
    #[arg(
        long,
        global = true,
        env = "TWILIO_API_SECRET",
        hide_env_values = true,
        value_name = "SECRET"
    )]
    pub api_secret: Option<String>,
    /// Workspace (SID or friendly name) for workspace-scoped commands.
    #[arg(long, global = true, env = "TWILIO_WORKSPACE_SID", value_name = "WS…")]
    pub workspace: Option<String>,
    /// API base URL (default https://taskrouter.twilio.com, or the regional host from
    /// TWILIO_REGION / TWILIO_EDGE).
    #[arg(long, global = true, env = "TRCTL_BASE_URL", value_name = "URL")]
    pub base_url: Option<String>,
    /// Allow plain http:// to a host other than loopback (credentials travel in clear).
    #[arg(long, global = true)]
    pub insecure: bool,
    /// Retries on 429 (any method) and on 5xx or connection errors (GET/DELETE only).
    #[arg(long, global = true, default_value_t = 3, value_name = "N")]
    pub max_retries: u32,
    /// Timeout of each HTTP request, in seconds.
    #[arg(long, global = true, default_value_t = 30.0, value_name = "SECONDS")]
    pub http_timeout: f64,
    /// Output format.
    #[arg(long, short = 'o', global = true, value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
    /// Most items a list prints.
    #[arg(long, global = true, default_value_t = 50, value_name = "N")]
    pub limit: usize,
    /// Print every item of a list (follow every page).
    #[arg(long, global = true)]
    pub all: bool,
    /// Items per page requested from the API (1-1000).
    #[arg(long, global = true, value_name = "N", value_parser = clap::value_parser!(i64).range(1..=1000))]
    pub page_size: Option<i64>,
    /// Columns (table/tsv) or fields (json/ndjson) to print, comma-separated.
    #[arg(long, global = true, value_delimiter = ',', value_name = "A,B,…")]
    pub fields: Vec<String>,
}

/// Copy `.env` from the working directory into the environment (never overriding).
/// A malformed file is reported and otherwise ignored, as xh does with its config: the
/// whole file is parsed first, and nothing is set unless every line parses, so the
/// warning never hides credentials taken from the lines before the bad one.
pub fn load_dotenv() -> Option<String> {
    let path = std::path::Path::new(".env");
    if !path.exists() {
        return None;
    }
    let contents = match std::fs::read_to_string(path) {
        Ok(contents) => contents,
        Err(err) => return Some(format!("warning: ignoring .env: cannot read it: {err}")),
    };
    match parse_dotenv(&contents) {
        Ok(entries) => {
            for (key, value) in entries {
                // The environment outranks .env; the first entry of a repeated key wins.
                if std::env::var_os(&key).is_none() {
                    std::env::set_var(key, value);
                }
            }
            None
        }
        Err(message) => Some(format!("warning: ignoring .env: {message}")),
    }
}

/// Every `KEY=value` entry of a `.env` text, or a message naming the first line that
/// does not parse. The message never shows a value (it may be a token), only the line
/// number and the key, which is why dotenvy's own message (it quotes the text) is not used.
fn parse_dotenv(contents: &str) -> Result<Vec<(String, String)>, String> {
    // dotenvy strips a byte-order mark only when it loads a file itself.
    let contents = contents.strip_prefix('\u{feff}').unwrap_or(contents);
    let mut entries = Vec::new();
    for entry in dotenvy::from_read_iter(contents.as_bytes()) {
        match entry {
            Ok(pair) => entries.push(pair),
            Err(dotenvy::Error::LineParse(..)) => {
                return Err(format!(
                    "{} does not parse (expected KEY=value); nothing from .env was used",
                    bad_dotenv_line(contents)
                ))
            }
            Err(err) => return Err(format!("{err}; nothing from .env was used")),
        }
    }
    Ok(entries)
}

/// Which line of a `.env` that dotenvy refuses is at fault, as `line N` or
/// `line N (KEY)`. dotenvy's error carries the offending text but no line number, so
/// the lines are fed again one entry at a time (an entry may span lines inside quotes).
fn bad_dotenv_line(contents: &str) -> String {
    let lines: Vec<&str> = contents.lines().collect();
    let mut start = 0;
    let mut pending = String::new();
    for (at, line) in lines.iter().enumerate() {
        if pending.is_empty() {
            start = at;
        }
        pending.push_str(line);
        pending.push('\n');
        match dotenvy::from_read_iter(pending.as_bytes()).find_map(Result::err) {
            None => pending.clear(),
            // The whole buffer back means a quote still open at its end: read on.
            Some(dotenvy::Error::LineParse(text, _)) if text == pending => {}
            Some(_) => break,
        }
    }
    let first = lines.get(start).copied().unwrap_or("");
    match first.split_once('=') {
        Some((key, _)) if !key.trim().is_empty() => {
            format!("line {} ({})", start + 1, key.trim())
        }
        _ => format!("line {}", start + 1),
    }
}

/// Where requests go: `--base-url`, else Twilio's regional host, else the default.
pub fn base_url(global: &GlobalArgs) -> Result<String, CliError> {
    if let Some(url) = global.base_url.as_deref().filter(|url| !url.is_empty()) {
        return Ok(url.trim_end_matches('/').to_string());
    }
    let region = host_label("TWILIO_REGION")?;
    let edge = host_label("TWILIO_EDGE")?;
    Ok(regional_url(region.as_deref(), edge.as_deref()))
}

/// A region or edge from the environment: it becomes part of a host name, so only
/// letters, digits and hyphens are taken (anything else could re-point the client,
/// e.g. `x@127.0.0.1/`). The value is not echoed.
fn host_label(name: &str) -> Result<Option<String>, CliError> {
    let Some(value) = std::env::var(name).ok().filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    if value.len() <= 63 && value.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        Ok(Some(value))
    } else {
        Err(CliError::usage(format!(
            "{name} must be a name such as ie1 or dublin: letters, digits and hyphens only (at most 63)"
        )))
    }
}

/// The helper libraries' host rule: `taskrouter.{edge}.{region}.twilio.com`, with
/// region `us1` when only an edge is given, and `taskrouter.{region}.twilio.com` when
/// only a region is given.
pub fn regional_url(region: Option<&str>, edge: Option<&str>) -> String {
    match (region, edge) {
        (None, None) => api::DEFAULT_BASE_URL.to_string(),
        (Some(region), None) => format!("https://taskrouter.{region}.twilio.com"),
        (None, Some(edge)) => format!("https://taskrouter.{edge}.us1.twilio.com"),
        (Some(region), Some(edge)) => format!("https://taskrouter.{edge}.{region}.twilio.com"),
    }
}

/// Refuse plain http to anything but loopback unless `--insecure`.
pub fn check_transport(url: &str, insecure: bool) -> Result<(), CliError> {
    let parsed = url::Url::parse(url).map_err(|err| {
        CliError::usage(format!("invalid base URL {}: {err}", api::redact_url(url)))
    })?;
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(CliError::usage(format!(
            "invalid base URL {}: it must not carry credentials (user:password@); set TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN instead",
            api::redact_url(url)
        )));
    }
    match parsed.scheme() {
        "https" => Ok(()),
        "http" => {
            if insecure || is_loopback(&parsed) {
                Ok(())
            } else {
                Err(CliError::usage(format!(
                    "refusing plain http:// to {}: credentials would travel in clear (use https://, a loopback address, or --insecure)",
                    parsed.host_str().unwrap_or("?")
                )))
            }
        }
        other => Err(CliError::usage(format!(
            "invalid base URL {}: scheme {other} is not http or https",
            api::redact_url(url)
        ))),
    }
}

fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

/// Basic-auth credentials from the flags/environment: API key + secret when both are
/// set, else Account SID + auth token.
pub fn credentials(global: &GlobalArgs) -> Result<Credentials, CliError> {
    let non_empty = |value: &Option<String>| value.clone().filter(|v| !v.is_empty());
    if let (Some(key), Some(secret)) = (non_empty(&global.api_key), non_empty(&global.api_secret)) {
        return Ok(Credentials {
            username: key,
            password: Secret::new(secret),
        });
    }
    match (
        non_empty(&global.account_sid),
        non_empty(&global.auth_token),
    ) {
        (Some(account_sid), Some(token)) => Ok(Credentials {
            username: account_sid,
            password: Secret::new(token),
        }),
        (account_sid, token) => {
            let missing = match (account_sid, token) {
                (None, None) => "no credentials",
                (None, Some(_)) => "no account SID",
                _ => "no auth token",
            };
            Err(CliError::usage(format!(
                "{missing}: pass --account-sid and --auth-token, or set TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN (or TWILIO_API_KEY and TWILIO_API_SECRET) in the environment or in .env"
            )))
        }
    }
}

/// Build the API client from the global flags.
pub fn client(global: &GlobalArgs) -> Result<Client, CliError> {
    let url = base_url(global)?;
    check_transport(&url, global.insecure)?;
    let credentials = credentials(global)?;
    if !(global.http_timeout.is_finite() && global.http_timeout > 0.0) {
        return Err(CliError::usage(format!(
            "--http-timeout must be a positive number of seconds, got {}",
            global.http_timeout
        )));
    }
    let retry = RetryPolicy {
        max_retries: global.max_retries,
        ..RetryPolicy::default()
    };
    Ok(Client::builder(credentials)
        .base_url(url)
        .retry(retry)
        .timeout(Duration::from_secs_f64(global.http_timeout))
        .build()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotenv_entries_parse_in_order() {
        let entries = parse_dotenv("\u{feff}A=1\n# comment\n\nexport B=\"two words\"\n").unwrap();
        assert_eq!(
            entries,
            [
                ("A".to_string(), "1".to_string()),
                ("B".to_string(), "two words".to_string())
            ]
        );
    }

    #[test]
    fn a_bad_dotenv_line_is_named_and_its_value_hidden() {
        let message = parse_dotenv("A=1\nB=2\nthis is not valid\nC=3\n").unwrap_err();
        assert!(message.starts_with("line 3 does not parse"), "{message}");
        let message = parse_dotenv("A=\"multi\nline\"\nTWILIO_AUTH_TOKEN=sec ret\n").unwrap_err();
        assert!(
            message.starts_with("line 3 (TWILIO_AUTH_TOKEN) does not parse"),
            "{message}"
        );
        assert!(!message.contains("sec"), "{message}");
        let message = parse_dotenv("A=1\nB=\"open\nC=3\n").unwrap_err();
        assert!(
            message.starts_with("line 2 (B) does not parse"),
            "{message}"
        );
    }

    #[test]
    fn regional_hosts_follow_the_helper_libraries() {
        assert_eq!(regional_url(None, None), "https://taskrouter.twilio.com");
        assert_eq!(
            regional_url(Some("ie1"), Some("dublin")),
            "https://taskrouter.dublin.ie1.twilio.com"
        );
        assert_eq!(
            regional_url(None, Some("sydney")),
            "https://taskrouter.sydney.us1.twilio.com"
        );
        assert_eq!(
            regional_url(Some("au1"), None),
            "https://taskrouter.au1.twilio.com"
        );
    }

    #[test]
    fn plain_http_only_to_loopback() {
        assert!(check_transport("http://127.0.0.1:4010", false).is_ok());
        assert!(check_transport("http://localhost:4010", false).is_ok());
        assert!(check_transport("http://[::1]:4010", false).is_ok());
        assert!(check_transport("https://taskrouter.twilio.com", false).is_ok());
        let err = check_transport("http://example.test", false).unwrap_err();
        assert_eq!(err.exit_code, 2);
        assert!(err.message.contains("--insecure"));
        assert!(check_transport("http://example.test", true).is_ok());
        assert!(check_transport("ftp://example.test", true).is_err());
    }

    #[test]
    fn missing_credentials_name_flags_and_variables() {
        let global = GlobalArgs::default();
        let err = credentials(&global).unwrap_err();
        for needle in [
            "--account-sid",
            "--auth-token",
            "TWILIO_ACCOUNT_SID",
            "TWILIO_AUTH_TOKEN",
        ] {
            assert!(err.message.contains(needle), "{}", err.message);
        }
    }

    #[test]
    fn api_key_wins_over_token() {
        let global = GlobalArgs {
            account_sid: Some("AC1".into()),
            auth_token: Some("t".into()),
            api_key: Some("SK1".into()),
            api_secret: Some("s".into()),
            ..GlobalArgs::default()
        };
        let credentials = credentials(&global).unwrap();
        assert_eq!(credentials.username, "SK1");
        assert_eq!(credentials.password.expose(), "s");
    }
}
