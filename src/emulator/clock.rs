//! Where the emulator's time comes from: the system clock, or a manual clock that only
//! moves when told (tests, `--clock manual`). The engine never reads either; the HTTP
//! layer and the runner read the clock and pass `now` in.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use super::engine::Millis;

/// A source of the current time.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Now, in epoch milliseconds.
    fn now(&self) -> Millis;
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Millis {
        let since_epoch = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        since_epoch.as_millis() as Millis
    }
}

/// A clock that stands still until advanced.
#[derive(Debug, Clone, Default)]
pub struct ManualClock {
    now: Arc<AtomicI64>,
}

impl ManualClock {
    /// A manual clock showing `start`.
    pub fn new(start: Millis) -> ManualClock {
        ManualClock {
            now: Arc::new(AtomicI64::new(start)),
        }
    }
    /// Move forward by `millis` and return the new time.
    pub fn advance(&self, millis: Millis) -> Millis {
        self.now.fetch_add(millis, Ordering::SeqCst) + millis
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Millis {
        self.now.load(Ordering::SeqCst)
    }
}
