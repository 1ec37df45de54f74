//! SIDs: two uppercase letters and 32 hex digits (`WT0123…`).
//!
//! Only syntax is checked here; whether the resource exists is the server's business.
//! Fresh SIDs come from a [`SidSource`]: the emulator's engine has one injected (so its
//! runs are reproducible), and `trctl trigger` draws random ones for sample callbacks.

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

/// A source of fresh SIDs.
pub trait SidSource: Send {
    /// A new SID with the given two-letter prefix.
    fn next(&mut self, prefix: &str) -> String;
    /// What the source must remember to carry on after a restart (kept in a state
    /// snapshot); `None` when it has nothing to remember, like random SIDs.
    fn saved(&self) -> Option<String> {
        None
    }
    /// Carry on from what [`SidSource::saved`] gave (ignored when it does not apply).
    fn resume(&mut self, _saved: &str) {}
}

/// Random SIDs, like Twilio's (prefix + 32 lowercase hex digits).
#[derive(Debug, Default)]
pub struct RandomSids;

impl SidSource for RandomSids {
    fn next(&mut self, prefix: &str) -> String {
        let value: u128 = rand::random();
        format!("{prefix}{value:032x}")
    }
}

/// Counting SIDs (`WT00…01`, `WT00…02`, …) for reproducible tests.
#[derive(Debug, Default)]
pub struct CountingSids {
    count: u128,
}

impl SidSource for CountingSids {
    fn next(&mut self, prefix: &str) -> String {
        self.count += 1;
        format!("{prefix}{:032x}", self.count)
    }
    fn saved(&self) -> Option<String> {
        Some(self.count.to_string())
    }
    fn resume(&mut self, saved: &str) {
        if let Ok(count) = saved.parse() {
            self.count = count;
        }
    }
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

    #[test]
    fn sid_sources_give_well_formed_sids() {
        assert!(is_sid("WT", &RandomSids.next("WT")));
        let mut counting = CountingSids::default();
        assert_eq!(counting.next("WQ"), "WQ00000000000000000000000000000001");
        assert!(is_sid("WQ", &counting.next("WQ")));
        let mut resumed = CountingSids::default();
        resumed.resume(&counting.saved().unwrap_or_default());
        assert_eq!(resumed.next("WT"), "WT00000000000000000000000000000003");
        assert_eq!(RandomSids.saved(), None);
    }
}
