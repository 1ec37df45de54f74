//! The client's error type: what went wrong, typed so callers can branch on it.
//!
//! Twilio answers errors with a JSON body (`code`, `message`, `more_info`, `status`);
//! [`ApiError`] holds it. Network faults and exhausted retries are separate variants so
//! the CLI can map each to its own exit code. Nothing here prints.

use std::fmt;

/// Twilio's error body, as sent with a non-2xx status.
#[derive(Debug, Clone, PartialEq, serde::Deserialize, serde::Serialize)]
pub struct ApiError {
    /// HTTP status of the response.
    #[serde(default)]
    pub status: u16,
    /// Twilio error code (e.g. 20404); the HTTP status when the body has none.
    #[serde(default)]
    pub code: i64,
    /// Human-readable message.
    #[serde(default)]
    pub message: String,
    /// Link to the error's documentation.
    #[serde(default)]
    pub more_info: Option<String>,
    /// Extra data some errors carry.
    #[serde(default)]
    pub details: Option<serde_json::Value>,
}

impl ApiError {
    /// Build from a status and a body: Twilio's JSON error when it parses, else a
    /// generic error naming the status (so a proxy's HTML page still gives a clear error).
    pub fn from_response(status: u16, body: &[u8]) -> ApiError {
        match serde_json::from_slice::<ApiError>(body) {
            Ok(mut parsed) => {
                if parsed.status == 0 {
                    parsed.status = status;
                }
                if parsed.code == 0 {
                    parsed.code = i64::from(status);
                }
                if parsed.message.is_empty() {
                    parsed.message = default_message(status).to_string();
                }
                parsed
            }
            Err(_) => ApiError {
                status,
                code: i64::from(status),
                message: default_message(status).to_string(),
                more_info: None,
                details: None,
            },
        }
    }

    /// Whether the error means the credentials were refused.
    pub fn is_auth(&self) -> bool {
        self.status == 401 || self.status == 403
    }
}

fn default_message(status: u16) -> &'static str {
    match status {
        400 => "bad request",
        401 => "authentication failed",
        403 => "forbidden",
        404 => "not found",
        405 => "method not allowed",
        409 => "conflict",
        412 => "precondition failed",
        429 => "too many requests",
        500..=599 => "server error",
        _ => "unexpected response",
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "HTTP {} error {}: {}",
            self.status, self.code, self.message
        )?;
        if let Some(more_info) = &self.more_info {
            write!(f, " ({more_info})")?;
        }
        Ok(())
    }
}

/// Everything a client call can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The API answered with an error status and (usually) Twilio's error body.
    #[error("{0}")]
    Api(Box<ApiError>),
    /// Every attempt failed with a retryable status; the last answer is kept.
    #[error("gave up after {attempts} attempts: {last}")]
    RetriesExhausted {
        /// How many requests were sent.
        attempts: u32,
        /// The last error answer.
        last: Box<ApiError>,
    },
    /// The request never got an answer (connection refused, DNS, timeout…).
    #[error("network error calling {url}: {message}")]
    Network {
        /// The URL that was called.
        url: String,
        /// What went wrong, with its causes.
        message: String,
        /// How many requests were sent.
        attempts: u32,
    },
    /// The answer was not the JSON the spec describes.
    #[error("unexpected response from {url}: {message}")]
    Decode {
        /// The URL that was called.
        url: String,
        /// The parser's complaint.
        message: String,
    },
    /// The server answered with a redirect, which TaskRouter never does; nothing was
    /// sent to its `Location`.
    #[error("{url} answered HTTP {status}, a redirect{}; TaskRouter does not redirect API calls, so trctl does not follow it (check the base URL)", location.as_deref().map(|l| format!(" to {l}")).unwrap_or_default())]
    Redirect {
        /// The URL that was called.
        url: String,
        /// The 3xx status.
        status: u16,
        /// Its `Location` header, redacted and without the query.
        location: Option<String>,
    },
    /// The response body was larger than the client reads.
    #[error("the response from {url} is larger than {limit} bytes, the most trctl reads; nothing was decoded")]
    TooLarge {
        /// The URL that was called.
        url: String,
        /// The limit in bytes.
        limit: usize,
    },
    /// A URL (base URL or a `next_page_url`) could not be used.
    #[error("invalid URL {url}: {message}")]
    Url {
        /// The offending URL.
        url: String,
        /// Why it was refused.
        message: String,
    },
}

impl Error {
    /// The API error body, when the API answered.
    pub fn api(&self) -> Option<&ApiError> {
        match self {
            Error::Api(error) => Some(error),
            Error::RetriesExhausted { last, .. } => Some(last),
            _ => None,
        }
    }
}
