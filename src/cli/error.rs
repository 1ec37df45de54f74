//! Errors at the CLI edge and the exit codes they map to.
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | the API answered with an error (Twilio code, message and more_info shown) |
//! | 2 | usage or input error (bad flag, bad JSON, missing credentials) |
//! | 3 | network failure, or retries exhausted |
//! | 4 | authentication refused (401/403) |

use crate::api;

/// Exit code: success.
pub const EXIT_OK: u8 = 0;
/// Exit code: the API answered with an error.
pub const EXIT_API: u8 = 1;
/// Exit code: usage or input error.
pub const EXIT_USAGE: u8 = 2;
/// Exit code: network failure or retries exhausted.
pub const EXIT_NETWORK: u8 = 3;
/// Exit code: authentication refused.
pub const EXIT_AUTH: u8 = 4;

/// An error to report to the user, with the exit code it maps to.
#[derive(Debug)]
pub struct CliError {
    /// Process exit code.
    pub exit_code: u8,
    /// One-line message (lowercase, names the bad input).
    pub message: String,
}

impl CliError {
    /// A usage or input error (exit 2).
    pub fn usage(message: impl Into<String>) -> CliError {
        CliError {
            exit_code: EXIT_USAGE,
            message: message.into(),
        }
    }
    /// The outcome of a command that printed its own messages: `Ok` for 0, else an
    /// error with that exit code and nothing more to say.
    pub fn from_exit_code(code: u8) -> Result<(), CliError> {
        if code == EXIT_OK {
            Ok(())
        } else {
            Err(CliError {
                exit_code: code,
                message: String::new(),
            })
        }
    }
    /// A refusal caused by the state of the service, e.g. no pending reservation (exit 1).
    pub fn state(message: impl Into<String>) -> CliError {
        CliError {
            exit_code: EXIT_API,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CliError {}

impl From<api::Error> for CliError {
    fn from(error: api::Error) -> CliError {
        let exit_code = match &error {
            api::Error::Api(body) if body.is_auth() => EXIT_AUTH,
            api::Error::Api(_)
            | api::Error::Decode { .. }
            | api::Error::Redirect { .. }
            | api::Error::TooLarge { .. } => EXIT_API,
            api::Error::RetriesExhausted { .. } | api::Error::Network { .. } => EXIT_NETWORK,
            api::Error::Url { .. } => EXIT_USAGE,
        };
        let message = match &error {
            api::Error::Api(body) if body.is_auth() => format!(
                "{body}\n(check TWILIO_ACCOUNT_SID / TWILIO_AUTH_TOKEN, or TWILIO_API_KEY / TWILIO_API_SECRET)"
            ),
            other => other.to_string(),
        };
        CliError { exit_code, message }
    }
}

impl From<crate::cli::input::InputError> for CliError {
    fn from(error: crate::cli::input::InputError) -> CliError {
        CliError::usage(error.to_string())
    }
}
