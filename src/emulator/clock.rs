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
    /// How long to wait in real time for `millis` of this clock to pass; `None` when
    /// only an explicit advance moves it (a manual clock).
    fn real_delay(&self, millis: Millis) -> Option<std::time::Duration> {
        Some(std::time::Duration::from_millis(millis.max(0) as u64))
    }
    /// The manual clock behind this one, if it can be advanced by hand.
    fn manual(&self) -> Option<&ManualClock> {
        None
    }
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
    fn real_delay(&self, _millis: Millis) -> Option<std::time::Duration> {
        None
    }
    fn manual(&self) -> Option<&ManualClock> {
        Some(self)
    }
}

/// The system clock running `scale` times faster from the moment it was made, so a
/// 120-second reservation timeout passes in 120/scale seconds (`--time-scale`).
#[derive(Debug, Clone)]
pub struct ScaledClock {
    start_real: std::time::Instant,
    start: Millis,
    scale: f64,
}

impl ScaledClock {
    /// A clock starting at the system time, running `scale` (> 0) times faster.
    pub fn new(scale: f64) -> ScaledClock {
        ScaledClock::starting_at(SystemClock.now(), scale)
    }

    /// A clock showing `start` now and running `scale` (> 0) times faster from there
    /// (a restart with `--state` resumes the saved emulated time).
    pub fn starting_at(start: Millis, scale: f64) -> ScaledClock {
        ScaledClock {
            start_real: std::time::Instant::now(),
            start,
            scale: if scale.is_finite() && scale > 0.0 {
                scale
            } else {
                1.0
            },
        }
    }
}

impl Clock for ScaledClock {
    fn now(&self) -> Millis {
        let elapsed = self.start_real.elapsed().as_secs_f64() * 1000.0 * self.scale;
        self.start + elapsed as Millis
    }
    fn real_delay(&self, millis: Millis) -> Option<std::time::Duration> {
        Some(std::time::Duration::from_secs_f64(
            millis.max(0) as f64 / 1000.0 / self.scale,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_advanced() {
        let clock = ManualClock::new(1_000);
        assert_eq!(clock.now(), 1_000);
        assert_eq!(clock.advance(121_000), 122_000);
        assert_eq!(clock.now(), 122_000);
        assert!(clock.real_delay(5).is_none());
    }

    #[test]
    fn a_scaled_clock_resumes_at_a_saved_time() {
        let clock = ScaledClock::starting_at(1_000, 100.0);
        let now = clock.now();
        // A test may be descheduled for a while; only the start and direction matter.
        assert!((1_000..1_000 + 60_000).contains(&now), "{now}");
    }

    #[test]
    fn scaled_clock_shortens_waits() {
        let clock = ScaledClock::new(100.0);
        assert_eq!(
            clock.real_delay(120_000),
            Some(std::time::Duration::from_millis(1_200))
        );
    }
}
