//! Flags shared by the commands that run a server (`trctl emulator`, `trctl serve`).

use std::time::Duration;

use clap::Args;

use crate::cli::CliError;
use crate::http_server::{self, Limits};

/// Connection limits and timeouts of a listener.
#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Connections")]
pub struct ServerFlags {
    /// Seconds a client has to send a request's headers; also how long an idle
    /// keep-alive connection stays open.
    #[arg(long, value_name = "S", default_value_t = http_server::DEFAULT_HEADER_TIMEOUT.as_secs_f64())]
    pub header_timeout: f64,
    /// Seconds a client has to send a request's body once its headers arrived.
    #[arg(long, value_name = "S", default_value_t = http_server::DEFAULT_BODY_TIMEOUT.as_secs_f64())]
    pub body_timeout: f64,
    /// Most connections open at once (never more than the descriptor limit allows); at
    /// the limit the longest-idle connection is closed to make room.
    #[arg(long, value_name = "N", default_value_t = http_server::DEFAULT_MAX_CONNECTIONS)]
    pub max_connections: usize,
    /// Seconds requests in progress get to finish after Ctrl-C or SIGTERM.
    #[arg(long, value_name = "S", default_value_t = http_server::DEFAULT_SHUTDOWN_TIMEOUT.as_secs_f64())]
    pub shutdown_timeout: f64,
}

impl ServerFlags {
    /// The limits, with every duration checked.
    pub fn limits(&self) -> Result<Limits, CliError> {
        if self.max_connections == 0 {
            return Err(CliError::usage("--max-connections must be at least 1"));
        }
        Ok(Limits {
            header_timeout: seconds("--header-timeout", self.header_timeout)?,
            body_timeout: seconds("--body-timeout", self.body_timeout)?,
            max_connections: self.max_connections,
            shutdown_timeout: seconds("--shutdown-timeout", self.shutdown_timeout)?,
        })
    }
}

/// A positive, finite number of seconds (at most a day).
pub fn seconds(flag: &str, value: f64) -> Result<Duration, CliError> {
    if value.is_finite() && value > 0.0 && value <= 86_400.0 {
        Ok(Duration::from_secs_f64(value))
    } else {
        Err(CliError::usage(format!(
            "{flag} must be a positive number of seconds (at most 86400), got {value}"
        )))
    }
}
