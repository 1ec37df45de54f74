//! Routing: tasks walk their workflow (filters, steps, timeouts, `skip_if`), eligible
//! workers are reserved, and reservations end (accept, reject, timeout, cancel,
//! rescind). Everything follows ROUTING.md; choices where it says UNCONFIRMED are
//! commented where they are made.
//!
//! This is part of the pure engine: it changes the state, records events, schedules
//! deadlines and asks for assignment callbacks through effects. It never does I/O.
//!
//! By concern: [`walk`] moves a task through its workflow, [`choose`] picks the workers
//! (or, for a freed worker, the task), [`reservation`] runs a reservation from creation
//! to its end and ends tasks, [`timers`] fires deadlines, [`workers`] moves a worker to
//! another activity, and [`events`] records the task and reservation events.

use serde_json::Value;

use super::state::Millis;
use crate::expr::TimeOfDay;

mod choose;
mod events;
mod reservation;
mod timers;
mod walk;
mod workers;

/// What a callback reply or REST update asks of a pending reservation.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Decision {
    /// Accept; `instruction` records a telephony instruction (dequeue, call, …) that
    /// accepted it, as sent (no telephony is emulated).
    Accept {
        /// The instruction document, if any.
        instruction: Option<Value>,
    },
    /// Reject, moving the worker to `activity` if given.
    Reject {
        /// Activity SID.
        activity: Option<String>,
        /// Whether the REST API asked (then an absent activity means the worker's
        /// activity before the reservation, §5.2); the callback instruction leaves the
        /// worker where it is.
        rest: bool,
    },
    /// Keep pending (an empty reply, `{}`, or an instruction that does not accept).
    KeepPending {
        /// An instruction to record, if any.
        instruction: Option<Value>,
    },
}

fn time_of_day(now: Millis) -> TimeOfDay {
    TimeOfDay::from_unix_seconds(now.div_euclid(1000))
}
