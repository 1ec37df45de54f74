//! Workflow configurations and routing (ROUTING.md §2–§4), built on [`crate::expr`].
//!
//! - [`config`]: the configuration document as typed serde structures; validation with
//!   JSON-path errors; compilation into a [`CompiledWorkflow`] (every expression parsed
//!   once).
//! - [`route`]: where a task goes and when, assuming nobody accepts it ([`plan`]).
//! - [`walk`]: the walk itself as a state machine ([`Position`] and its [`Transition`]s),
//!   shared by [`plan`] and the emulator.
//! - [`eligibility`]: queue membership, which workers a step may reserve and why not,
//!   `skip_if` counters, `order_by`.
//!
//! A routing engine keeps a [`CompiledWorkflow`] per Workflow, calls
//! [`CompiledWorkflow::select_filter`] on entry and after a filter is exhausted, uses each
//! [`CompiledStep`]'s `end_offset` for deadlines, and a [`StepContext`] per step to test
//! workers. Everything here is pure: no I/O, no clock, no randomness.
//!
//! ```
//! use trctl::workflow::{plan, never_skip, CompiledWorkflow, RouteInput};
//! use serde_json::json;
//!
//! let workflow = CompiledWorkflow::from_json(
//!     r#"{"task_routing":{"filters":[{"expression":"selected_language == \"es\"",
//!         "targets":[{"queue":"WQspanish"}]}]}}"#,
//!     None,
//! )?;
//! let task = json!({"selected_language": "es"});
//! let route = plan(&workflow, &RouteInput::new(&task), &mut never_skip);
//! assert_eq!(route.matched_filter(), Some(0));
//! assert_eq!(route.active_visit().map(|(_, visit)| visit.step.queue.as_str()), Some("WQspanish"));
//! # Ok::<(), trctl::workflow::ConfigErrors>(())
//! ```

pub mod config;
pub mod eligibility;
pub mod route;
pub mod walk;

pub use config::{
    CompiledFilter, CompiledStep, CompiledWorkflow, ConfigError, ConfigErrorKind, ConfigErrors,
    ConfigWarning, Filter, KnownBy, KnownWorker, Target, TaskRouting, WarningKind, WorkflowConfig,
    MAX_CONFIGURATION_BYTES, MAX_PRIORITY,
};
pub use eligibility::{
    Ineligible, OrderBy, OrderClause, QueueDef, StepContext, TargetWorkers, WorkerVerdict,
};
pub use route::{
    never_skip, plan, Active, EndReason, FilterChoice, Leg, PlanEnd, RouteInput, RoutePlan,
    StepExit, StepVisit, DEFAULT_TASK_TTL,
};
pub use walk::{
    step_at, Due, Entry, Exit, Instant, Millis, Moves, Parts, Position, Transition, WalkContext,
};
