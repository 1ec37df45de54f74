//! Where the engine's new SIDs come from. The source is injected, so the engine stays
//! deterministic in tests; the types live next to the SID syntax in [`crate::api::sid`]
//! (the listener and `trctl trigger` use them too) and are re-exported here so the
//! engine's paths keep working.

pub use crate::api::sid::{CountingSids, RandomSids, SidSource};
