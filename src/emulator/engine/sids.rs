//! Where new SIDs come from: injected, so the engine stays deterministic in tests.

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
    use crate::api::sid::is_sid;

    #[test]
    fn sids_are_well_formed() {
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
