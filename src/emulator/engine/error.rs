//! Errors the engine answers with: Twilio's status, code and message.
//!
//! Message texts live here so their wording is reviewed as a set. Codes follow WIRE.md
//! §3: 20001 for bad requests and refused state changes (TaskRouter's generic
//! bad-request code; exact codes for several cases are unconfirmed there), 20404 for
//! unknown resources, 20412 for a failed If-Match.

/// A refusal, in Twilio's terms.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status} {code}: {message}")]
pub struct EngineError {
    /// HTTP status.
    pub status: u16,
    /// Twilio error code.
    pub code: i64,
    /// Message.
    pub message: String,
}

impl EngineError {
    /// 404 / 20404 for the resource at `path` (below `/v1`).
    pub fn not_found(path: &str) -> EngineError {
        EngineError {
            status: 404,
            code: 20404,
            message: format!("The requested resource {path} was not found"),
        }
    }
    /// 400 / 20001 with a message.
    pub fn bad_request(message: impl Into<String>) -> EngineError {
        EngineError {
            status: 400,
            code: 20001,
            message: message.into(),
        }
    }
    /// 412 / 20412: the If-Match value is not the current version.
    pub fn precondition_failed(expected: &str, actual: u64) -> EngineError {
        EngineError {
            status: 412,
            code: 20412,
            message: format!(
                "Precondition Failed: If-Match {expected} does not match the current version {actual}"
            ),
        }
    }
    /// 400 / 20001: something still refers to the resource being deleted.
    pub fn in_use(what: &str, sid: &str, by: &str) -> EngineError {
        EngineError::bad_request(format!("Cannot delete {what} {sid}: it is in use by {by}"))
    }
    /// 400 / 20001: a name that must be unique is taken.
    pub fn duplicate(what: &str, name: &str, workspace: &str, account: &str) -> EngineError {
        EngineError::bad_request(format!(
            "{what} named {name} already exists for workspace {workspace} for account {account}"
        ))
    }
}
