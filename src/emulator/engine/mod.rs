//! The emulator's engine: a synchronous, deterministic state machine.
//!
//! [`Engine::apply`] takes a [`Command`] (a decoded write request) and the current time,
//! checks it the way TaskRouter does, changes the [`State`], and returns an [`Outcome`]:
//! what to answer and the [`Effect`]s the surrounding runner must carry out. It never
//! reads a clock, never does I/O and takes SIDs from an injected [`SidSource`]. Reads go
//! through [`query`] on a borrowed state. The HTTP layer decodes, calls, encodes; it
//! never decides anything.
//!
//! # Time and timers
//!
//! Timers (reservation timeouts, workflow step deadlines, task TTLs, cleanup of finished
//! tasks) are deadlines in the state's schedule. [`Command::Tick`] applied at `now` fires
//! every deadline due by `now`, **one at a time, earliest first** (deadlines at the same
//! instant in the order they were set), and each fires **at its own time**: while it
//! fires, and while the workers it freed are routed, the engine's time is that deadline,
//! not `now`. So whatever a firing causes (the next step or filter, the deadlines that
//! step sets, event dates, `task_queue_entered_date`, new reservations and their
//! timeouts) is dated at that instant, and a deadline it sets that is still due by `now`
//! fires in turn, in order. One tick to `T` therefore ends in the same state as many
//! ticks at every deadline up to `T`, whatever the size of the step (a manual clock's
//! advance, `--time-scale`, or a system clock after the emulator was busy). The only
//! exception keeps time monotonic: a deadline older than the latest time a command was
//! applied fires at that time instead.

mod commands;
mod context;
pub mod delivery;
pub mod error;
mod events;
pub mod query;
mod routing;
pub mod sids;
pub mod snapshot;
pub mod state;
pub mod stats;
mod status;
mod validate;

pub use error::EngineError;
pub use sids::{CountingSids, RandomSids, SidSource};
pub use snapshot::{Restored, Snapshot};
pub use state::{Millis, State};

use crate::api::resources::*;

/// A write request, decoded.
#[derive(Debug, Clone)]
#[allow(missing_docs)]
// Built once per request and consumed at once; boxing would only add noise.
#[allow(clippy::large_enum_variant)]
pub enum Command {
    CreateWorkspace(CreateWorkspaceParams),
    UpdateWorkspace {
        workspace: String,
        params: UpdateWorkspaceParams,
    },
    DeleteWorkspace {
        workspace: String,
    },
    CreateActivity {
        workspace: String,
        params: CreateActivityParams,
    },
    UpdateActivity {
        workspace: String,
        sid: String,
        params: UpdateActivityParams,
    },
    DeleteActivity {
        workspace: String,
        sid: String,
    },
    CreateTaskChannel {
        workspace: String,
        params: CreateTaskChannelParams,
    },
    UpdateTaskChannel {
        workspace: String,
        sid: String,
        params: UpdateTaskChannelParams,
    },
    DeleteTaskChannel {
        workspace: String,
        sid: String,
    },
    CreateTaskQueue {
        workspace: String,
        params: CreateTaskQueueParams,
    },
    UpdateTaskQueue {
        workspace: String,
        sid: String,
        params: UpdateTaskQueueParams,
    },
    DeleteTaskQueue {
        workspace: String,
        sid: String,
    },
    CreateWorkflow {
        workspace: String,
        params: CreateWorkflowParams,
    },
    UpdateWorkflow {
        workspace: String,
        sid: String,
        params: UpdateWorkflowParams,
    },
    DeleteWorkflow {
        workspace: String,
        sid: String,
    },
    CreateWorker {
        workspace: String,
        params: CreateWorkerParams,
    },
    UpdateWorker {
        workspace: String,
        sid: String,
        params: UpdateWorkerParams,
    },
    DeleteWorker {
        workspace: String,
        sid: String,
        if_match: Option<String>,
    },
    UpdateWorkerChannel {
        workspace: String,
        worker: String,
        sid: String,
        params: UpdateWorkerChannelParams,
    },
    CreateTask {
        workspace: String,
        params: CreateTaskParams,
    },
    UpdateTask {
        workspace: String,
        sid: String,
        params: UpdateTaskParams,
    },
    DeleteTask {
        workspace: String,
        sid: String,
        if_match: Option<String>,
    },
    /// Fire every timer due by `now` (reservation and step timeouts, TTLs, cleanup),
    /// in deadline order, each at its own time (see the module docs).
    Tick,
    /// What the app answered to an assignment callback (after any fallback).
    CallbackReply {
        workspace: String,
        reservation: String,
        reply: CallbackReply,
    },
    /// A reservation update through its task (`task` set) or its worker (`worker` set).
    UpdateReservation {
        workspace: String,
        task: Option<String>,
        worker: Option<String>,
        sid: String,
        params: UpdateTaskReservationParams,
    },
}

/// An assignment-callback answer, as the runner understood it (WIRE.md §5.3).
#[derive(Debug, Clone, PartialEq)]
pub enum CallbackReply {
    /// 2xx with no instruction (empty body, `{}`, or JSON without `instruction`).
    NoInstruction,
    /// A JSON object with `instruction`: the whole object.
    Instruction(serde_json::Value),
    /// No usable answer from the URL or its fallback: the reservation stays pending
    /// until it times out.
    Failed,
}

/// What a command answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// A resource was created; its SID (and its parent's, for nested resources).
    Created(String),
    /// A resource was changed.
    Updated(String),
    /// A resource was deleted.
    Deleted,
}

/// Something the runner must do after a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// POST the assignment callback for a new reservation (and its fallback on failure).
    AssignmentCallback {
        /// Workspace.
        workspace: String,
        /// Reservation.
        reservation: String,
        /// The workflow's AssignmentCallbackUrl.
        url: String,
        /// The workflow's FallbackAssignmentCallbackUrl.
        fallback_url: Option<String>,
        /// The form parameters to sign and send.
        params: Vec<(String, String)>,
    },
    /// POST an event callback: an event was recorded in a workspace with an event
    /// callback URL whose `EventsFilter` lets it through.
    Event {
        /// Workspace.
        workspace: String,
        /// The event's SID.
        event: String,
        /// The workspace's EventCallbackUrl when the event happened.
        url: String,
        /// The form parameters to sign and send.
        params: Vec<(String, String)>,
    },
}

/// The result of a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The answer.
    pub reply: Reply,
    /// What happened as a consequence.
    pub effects: Vec<Effect>,
}

/// The state machine.
pub struct Engine {
    state: State,
    sids: Box<dyn SidSource>,
    /// The latest `now` a command was applied at (not saved: a restored engine starts
    /// from `Millis::MIN`). Timers due earlier fire at this time, never before it.
    latest: Millis,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// An engine for `account_sid` taking SIDs from `sids`.
    pub fn new(account_sid: impl Into<String>, sids: Box<dyn SidSource>) -> Engine {
        Engine {
            state: State::new(account_sid),
            sids,
            latest: Millis::MIN,
        }
    }

    /// The current state, for reads.
    pub fn state(&self) -> &State {
        &self.state
    }

    /// A copy of the whole state as plain data, for saving (see [`snapshot`]). This is
    /// a deep copy: the only part of saving done while the engine is held.
    pub fn snapshot(&self) -> Snapshot {
        snapshot::take(&self.state, self.sids.saved())
    }

    /// An engine carrying on from a restored snapshot, taking SIDs from `sids` (which
    /// resumes from what the snapshot remembers of its source, if anything).
    pub fn from_restored(restored: Restored, mut sids: Box<dyn SidSource>) -> Engine {
        if let Some(saved) = &restored.sids {
            sids.resume(saved);
        }
        Engine {
            state: restored.state,
            sids,
            latest: Millis::MIN,
        }
    }

    /// Apply one command at time `now`. On error nothing has changed.
    pub fn apply(&mut self, command: Command, now: Millis) -> Result<Outcome, EngineError> {
        let mut context = context::Context {
            state: &mut self.state,
            sids: self.sids.as_mut(),
            now,
            floor: self.latest,
            effects: Vec::new(),
            dirty_workers: Vec::new(),
        };
        let reply = context.apply(command)?;
        context.settle();
        self.latest = self.latest.max(now);
        Ok(Outcome {
            reply,
            effects: context.effects,
        })
    }

    /// When the next timer is due, for the runner to sleep until.
    pub fn next_deadline(&self) -> Option<Millis> {
        self.state.next_deadline()
    }

    /// How long finished tasks are kept before removal (`None`: forever).
    pub fn set_keep_finished(&mut self, keep: Option<Millis>) {
        self.state.keep_finished = keep;
    }
}
