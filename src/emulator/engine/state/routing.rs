//! A task's place in its workflow, and how it is saved.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::Millis;
use crate::workflow::{
    CompiledWorkflow, EndReason, FilterChoice, Millis as WalkMillis, Parts, Position,
};

/// A task's position in its workflow: the workflow walk's own [`Position`] (see
/// `crate::workflow::walk`), beside the configuration it walks.
///
/// Saved in the shape the engine's walk had before it used the shared one (filter, step,
/// filter entry, deadline, generation, expired), so `--state` files of either build load
/// in the other. The priority in force is not saved: it is the task's own `priority`,
/// which restore hands back ([`Routing::carry_priority`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(from = "RoutingRecord", into = "RoutingRecord")]
pub struct Routing {
    /// The configuration the task entered with (a workflow update without
    /// `ReEvaluateTasks` leaves tasks on the old one, ROUTING.md §2.7). A snapshot keeps
    /// it beside the state (see `engine::snapshot`), shared rather than once per task.
    pub workflow: Arc<CompiledWorkflow>,
    /// Where the task is in it.
    pub position: Position<WalkMillis>,
}

impl Routing {
    /// The priority in force is the task's (after a restore, or an API update, §2.4).
    pub fn carry_priority(&mut self, priority: i64) {
        self.position
            .set_priority(u32::try_from(priority.max(0)).unwrap_or(u32::MAX));
    }

    /// Whether a step deadline set at `generation` is for the current step.
    pub fn is_current(&self, generation: u64) -> bool {
        u64::from(self.position.epoch()) == generation
    }
}

/// [`Routing`] as saved.
#[derive(Serialize, Deserialize)]
struct RoutingRecord {
    /// The filter, or `None` for the default filter.
    filter: Option<usize>,
    /// The step within the filter.
    step: usize,
    /// When the task entered the filter: step deadlines count from here.
    filter_entered: Millis,
    /// When the current step times out.
    deadline: Option<Millis>,
    /// Changes on every step change, so stale step deadlines are ignored.
    generation: u64,
    /// The step's deadline passed while a reservation was pending: move on when it ends.
    expired: bool,
    /// Why the walk ended (absent while it goes on, which is whenever the engine saves).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ended: Option<EndReason>,
}

impl From<Routing> for RoutingRecord {
    fn from(routing: Routing) -> RoutingRecord {
        let parts = routing.position.parts();
        RoutingRecord {
            filter: match parts.filter {
                Some(FilterChoice::Filter(index)) => Some(index),
                Some(FilterChoice::Default) | None => None,
            },
            step: parts.step,
            filter_entered: parts.filter_entered.0,
            deadline: parts.deadline.map(|at| at.0),
            generation: u64::from(parts.epoch),
            expired: parts.overdue,
            ended: parts.ended,
        }
    }
}

impl From<RoutingRecord> for Routing {
    fn from(record: RoutingRecord) -> Routing {
        Routing {
            // Set again by restore (`engine::snapshot`).
            workflow: Arc::default(),
            position: Position::from_parts(Parts {
                filter: Some(
                    record
                        .filter
                        .map_or(FilterChoice::Default, FilterChoice::Filter),
                ),
                step: record.step,
                filter_entered: WalkMillis(record.filter_entered),
                deadline: record.deadline.map(WalkMillis),
                // Restore carries the task's own priority over (`carry_priority`).
                priority: 0,
                // Generations were counted in u64 before; timers compare the same way.
                epoch: u32::try_from(record.generation).unwrap_or(u32::MAX),
                overdue: record.expired,
                ended: record.ended,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workflow::WalkContext;
    use serde_json::json;

    #[test]
    fn a_routing_saves_in_the_shape_older_builds_wrote_and_read() {
        let workflow = Arc::new(
            CompiledWorkflow::from_value(
                &json!({"task_routing": {"filters": [{"expression": "1==1", "targets": [
                    {"queue": "QA", "timeout": 10}, {"queue": "QB", "timeout": 20}]}]}}),
                None,
            )
            .expect("valid workflow"),
        );
        let attributes = json!({});
        let cx = WalkContext {
            workflow: &workflow,
            attributes: &attributes,
            time: None,
        };
        let (mut position, _) = Position::start(&cx, WalkMillis(1_000), 3);
        position.time_out(&cx, WalkMillis(11_000)).count();
        position.defer_timeout();
        let routing = Routing {
            workflow: workflow.clone(),
            position,
        };
        let saved = serde_json::to_value(&routing).expect("serializes");
        assert_eq!(
            saved,
            json!({"filter": 0, "step": 1, "filter_entered": 1_000, "deadline": 31_000,
                   "generation": 2, "expired": true})
        );
        let mut back: Routing = serde_json::from_value(saved).expect("deserializes");
        back.carry_priority(3);
        assert_eq!(back.position, position);
        assert!(back.is_current(2) && !back.is_current(1));
        // The default filter is a null filter, as before.
        let old: Routing = serde_json::from_value(json!({"filter": null, "step": 0,
            "filter_entered": 5, "deadline": null, "generation": 7, "expired": false}))
        .expect("an older file's routing");
        assert_eq!(old.position.filter(), Some(FilterChoice::Default));
        assert_eq!(old.position.epoch(), 7);
    }
}
