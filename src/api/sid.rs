//! SIDs: two uppercase letters and 32 hex digits (`WT0123…`).
//!
//! Only syntax is checked here; whether the resource exists is the server's business.

/// Whether `value` is a well-formed SID with the given two-letter prefix.
pub fn is_sid(prefix: &str, value: &str) -> bool {
    value.len() == 34
        && value.starts_with(prefix)
        && value[2..].bytes().all(|byte| byte.is_ascii_hexdigit())
}

/// Whether `value` looks like any SID (two uppercase letters, 32 hex digits).
pub fn is_any_sid(value: &str) -> bool {
    value.len() == 34
        && value.as_bytes()[..2].iter().all(u8::is_ascii_uppercase)
        && value[2..].bytes().all(|byte| byte.is_ascii_hexdigit())
}

/// SID prefixes of TaskRouter resources.
pub mod prefix {
    /// Account.
    pub const ACCOUNT: &str = "AC";
    /// API key (used as a username).
    pub const API_KEY: &str = "SK";
    /// Workspace.
    pub const WORKSPACE: &str = "WS";
    /// Workflow.
    pub const WORKFLOW: &str = "WW";
    /// Task queue.
    pub const TASK_QUEUE: &str = "WQ";
    /// Worker.
    pub const WORKER: &str = "WK";
    /// Activity.
    pub const ACTIVITY: &str = "WA";
    /// Task.
    pub const TASK: &str = "WT";
    /// Reservation.
    pub const RESERVATION: &str = "WR";
    /// Task channel.
    pub const TASK_CHANNEL: &str = "TC";
    /// Worker channel.
    pub const WORKER_CHANNEL: &str = "WC";
    /// Event.
    pub const EVENT: &str = "EV";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_sids() {
        assert!(is_sid("WT", "WT0123456789abcdef0123456789abcdef"));
        assert!(is_sid("WT", "WT0123456789ABCDEF0123456789ABCDEF"));
        assert!(!is_sid("WT", "WQ0123456789abcdef0123456789abcdef"));
        assert!(!is_sid("WT", "WT0123456789abcdef0123456789abcde"));
        assert!(!is_sid("WT", "WT0123456789abcdef0123456789abcdeg"));
        assert!(is_any_sid("WQ0123456789abcdef0123456789abcdef"));
        assert!(!is_any_sid("English Queue"));
        assert!(!is_any_sid("wq0123456789abcdef0123456789abcdef"));
    }
}
