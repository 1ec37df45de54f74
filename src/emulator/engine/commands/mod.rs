//! Command handlers, one file per resource: check everything first, then change the
//! state, then record events. A handler that returns an error has changed nothing.

mod activity;
mod channel;
mod queue;
mod reservation;
mod task;
mod worker;
mod workflow;
mod workspace;

pub(super) use queue::queue_def;
