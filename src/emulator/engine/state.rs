//! The emulator's state: workspaces and everything in them, as plain records.
//!
//! Records hold what TaskRouter stores (attributes as the exact string the client sent,
//! times as epoch milliseconds); turning them into the wire format is the HTTP layer's
//! job. Every collection keeps creation order, which is the order lists are served in.

use std::cmp::Reverse;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use rustc_hash::FxBuildHasher;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::query::Loads;
use crate::api::resources::{QueueOrder, ReservationStatus, TaskOrder, TaskStatus};
use crate::workflow::{CompiledWorkflow, QueueDef, TargetWorkers};

/// Epoch milliseconds.
pub type Millis = i64;

mod event;
mod event_data;
mod indexes;
mod routing;
mod table;

pub use event::{Event, EventType, ResourceKind, UnknownEventType, WORKSPACE_FIELDS};
pub use event_data::{EventData, SharedValues};
pub use indexes::channel_has_room;
pub use routing::Routing;
pub use table::{Record, Table};

/// What a queue's compiled rule is until restore compiles it.
fn unset_queue_def() -> Arc<QueueDef> {
    Arc::new(QueueDef {
        sid: String::new(),
        friendly_name: String::new(),
        target_workers: TargetWorkers::Nobody,
    })
}

macro_rules! record {
    ($($type:ty),*) => {$(
        impl Record for $type {
            fn sid(&self) -> &str {
                &self.sid
            }
        }
    )*};
}

/// A workspace and its contents.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Workspace {
    /// `WS…`
    pub sid: String,
    /// Name.
    pub friendly_name: String,
    /// Where events are POSTed (empty: nowhere).
    pub event_callback_url: Option<String>,
    /// Comma-separated event types to POST (empty: all).
    pub events_filter: Option<String>,
    /// Activity of new workers.
    pub default_activity_sid: String,
    /// Activity a worker moves to when a reservation times out.
    pub timeout_activity_sid: String,
    /// Multitasking (true for every new workspace unless asked otherwise).
    pub multi_task_enabled: bool,
    /// Which queue's task a worker in several gets first.
    pub prioritize_queue_order: QueueOrder,
    /// Created.
    pub created: Millis,
    /// Last changed.
    pub updated: Millis,
    /// Activities.
    pub activities: Table<Activity>,
    /// Task channels.
    pub channels: Table<TaskChannel>,
    /// Task queues.
    pub queues: Table<TaskQueue>,
    /// Workflows.
    pub workflows: Table<Workflow>,
    /// Workers (each with its channels).
    pub workers: Table<Worker>,
    /// Tasks.
    pub tasks: Table<Task>,
    /// Reservations of every task.
    pub reservations: Table<Reservation>,
    /// The event log.
    pub events: Table<Event>,
    /// The values its events share ([`EventData`]).
    #[serde(default)]
    pub event_values: SharedValues,
    /// Pending tasks per queue, in the order workers take them (kept by [`Workspace::reindex`]).
    /// Keyed by (queue, task channel), so a worker full on one channel skips its tasks.
    /// Derived from the tasks: not saved, rebuilt on restore (as are the three below).
    /// Looked up by `(&str, &str)` through [`Lane`]; a task's [`IndexKey`] shares the
    /// key's strings.
    #[serde(skip)]
    pub pending: hashbrown::HashMap<(Arc<str>, Arc<str>), QueueIndex, FxBuildHasher>,
    /// The load of every worker from the reservations that hold a slot (pending,
    /// accepted or wrapping), kept by [`Workspace::activate`] and [`Workspace::deactivate`].
    #[serde(skip)]
    pub loads: Loads,
    /// Each task's reservations, oldest first (kept by [`Workspace::add_reservation`] and
    /// [`Workspace::remove_task`]).
    #[serde(skip)]
    pub by_task: HashMap<String, Vec<String>>,
    /// Every worker by (idle since, creation position): the order workers are offered
    /// tasks in (kept by [`Workspace::add_worker`], [`Workspace::set_idle_since`] and
    /// [`Workspace::remove_worker`]).
    #[serde(skip)]
    pub idle: BTreeSet<(Millis, u64, String)>,
    /// The workers that could be offered a task of a channel now, per task channel, in
    /// the same order as `idle`: in an available activity and, multitasking, with room on
    /// that channel (single-tasking: with nothing in progress, under every channel). A
    /// task looks here instead of at every worker, so a task created while every worker
    /// is busy costs nothing per worker. Kept by [`Workspace::refresh_offer`] (called
    /// wherever a worker's activity, channels, load or idle time changes).
    #[serde(skip)]
    pub offerable: HashMap<String, BTreeSet<(Millis, u64, String)>>,
}

/// The pending tasks of one queue, ordered both ways TaskRouter orders queues (§3.3).
/// A task is named by its creation position in the workspace's tasks (the last number
/// of each entry; [`Table::at`] finds it), which its entry holds anyway for ordering,
/// so the index keeps no copy of the SIDs.
#[derive(Debug, Clone, Default)]
pub struct QueueIndex {
    /// FIFO: higher priority first, then older (virtual start time), then created first.
    pub fifo: BTreeSet<(Reverse<i64>, Millis, u64)>,
    /// LIFO: newest first, priority ignored.
    pub lifo: BTreeSet<(Reverse<Millis>, Reverse<u64>)>,
}

/// A `(queue, task channel)` key of [`Workspace::pending`] as borrowed strings, to look
/// an index up without building its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Lane<'a>(pub &'a str, pub &'a str);

impl hashbrown::Equivalent<(Arc<str>, Arc<str>)> for Lane<'_> {
    fn equivalent(&self, key: &(Arc<str>, Arc<str>)) -> bool {
        self.0 == &*key.0 && self.1 == &*key.1
    }
}

// `Lane` must hash as the key it stands for: a tuple hashes its fields in order, and an
// `Arc<str>` as its `str`, which is what the derived `Hash` of two `&str` does too.

/// Where a task stands in its queue's index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexKey {
    /// The queue (the index key's own string, shared).
    pub queue: Arc<str>,
    /// The task channel (likewise).
    pub channel: Arc<str>,
    /// Priority when indexed.
    pub priority: i64,
    /// Virtual start time when indexed.
    pub virtual_start_time: Millis,
    /// Creation position.
    pub position: u64,
}

/// A worker state.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Activity {
    /// `WA…`
    pub sid: String,
    /// Name.
    pub friendly_name: String,
    /// Whether workers in it may receive tasks (fixed at creation).
    pub available: bool,
    /// Created.
    pub created: Millis,
    /// Last changed.
    pub updated: Millis,
}

/// A kind of work.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TaskChannel {
    /// `TC…`
    pub sid: String,
    /// Name.
    pub friendly_name: String,
    /// Name used in requests and expressions (`voice`, `chat`, …).
    pub unique_name: String,
    /// Prefer the longest-idle worker on this channel.
    pub channel_optimized_routing: Option<bool>,
    /// Created.
    pub created: Millis,
    /// Last changed.
    pub updated: Millis,
}

/// A task queue.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TaskQueue {
    /// `WQ…`
    pub sid: String,
    /// Name (unique in the workspace).
    pub friendly_name: String,
    /// Which workers the queue may reserve.
    pub target_workers: String,
    /// Reservations per task at once (1-50).
    pub max_reserved_workers: i64,
    /// The order workers take the queue's tasks in.
    pub task_order: TaskOrder,
    /// Activity a worker moves to when reserved (single-tasking).
    pub reservation_activity_sid: Option<String>,
    /// Activity a worker moves to when assigned (single-tasking).
    pub assignment_activity_sid: Option<String>,
    /// Membership rule, compiled once when set (from `target_workers` again on restore).
    #[serde(skip, default = "unset_queue_def")]
    pub def: Arc<QueueDef>,
    /// Created.
    pub created: Millis,
    /// Last changed.
    pub updated: Millis,
}

/// A workflow.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Workflow {
    /// `WW…`
    pub sid: String,
    /// Name.
    pub friendly_name: String,
    /// The configuration document, exactly as sent.
    pub configuration: String,
    /// Assignment callback URL.
    pub assignment_callback_url: Option<String>,
    /// Fallback assignment callback URL.
    pub fallback_assignment_callback_url: Option<String>,
    /// Seconds a reservation stays pending.
    pub task_reservation_timeout: i64,
    /// The configuration, compiled once when set (from `configuration` again on restore).
    #[serde(skip)]
    pub compiled: Arc<CompiledWorkflow>,
    /// Created.
    pub created: Millis,
    /// Last changed.
    pub updated: Millis,
}

/// A worker.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Worker {
    /// `WK…`
    pub sid: String,
    /// Name (unique in the workspace).
    pub friendly_name: String,
    /// Attributes, exactly as sent.
    pub attributes: String,
    /// The same, parsed (for expressions; parsed again on restore).
    #[serde(skip)]
    pub attributes_json: Value,
    /// Current activity.
    pub activity_sid: String,
    /// When the activity last changed.
    pub status_changed: Millis,
    /// Created.
    pub created: Millis,
    /// Last changed.
    pub updated: Millis,
    /// Version for ETag / If-Match (0 at creation).
    pub version: u64,
    /// One channel per task channel of the workspace.
    pub channels: Vec<WorkerChannel>,
    /// Since when the worker has had nothing new: the longest idle is reserved first
    /// (ROUTING.md §2.5). Set at creation, on each reservation and when a task ends.
    pub idle_since: Millis,
}

/// A worker's capacity on one task channel.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WorkerChannel {
    /// `WC…`
    pub sid: String,
    /// The task channel.
    pub task_channel_sid: String,
    /// Tasks of this channel the worker may hold at once.
    pub configured_capacity: i64,
    /// Whether the worker takes tasks of this channel now.
    pub available: bool,
    /// Created.
    pub created: Millis,
    /// Last changed.
    pub updated: Millis,
}

/// A task.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Task {
    /// `WT…`
    pub sid: String,
    /// Attributes, exactly as sent (checked to be a JSON object when set). Only the
    /// text is kept: the parsed document of every stored task took more memory than the
    /// rest of the task, so expressions parse it when they need it
    /// ([`Task::attributes_value`]).
    pub attributes: String,
    /// Where the task is in its lifecycle.
    pub assignment_status: TaskStatus,
    /// Priority (higher first).
    pub priority: i64,
    /// Why it was canceled / completed / wrapped up.
    pub reason: Option<String>,
    /// Time to live in seconds.
    pub timeout: i64,
    /// Channel.
    pub task_channel_sid: String,
    /// Workflow (absent for tasks sent straight to a queue).
    pub workflow_sid: Option<String>,
    /// Queue the task is in, once it has entered one.
    pub task_queue_sid: Option<String>,
    /// When it entered that queue.
    pub task_queue_entered: Option<Millis>,
    /// Creation time as seen by ordering.
    pub virtual_start_time: Millis,
    /// Worker the task must go to.
    pub routing_target: Option<String>,
    /// Ignore the target worker's capacity.
    pub ignore_capacity: Option<bool>,
    /// Add-ons document.
    pub addons: String,
    /// Created.
    pub created: Millis,
    /// Last changed.
    pub updated: Millis,
    /// Version for ETag / If-Match (0 at creation).
    pub version: u64,
    /// Where the task is in its workflow (absent for tasks sent straight to a queue).
    pub routing: Option<Routing>,
    /// Workers that rejected the task; not offered it again.
    pub rejected_by: Rejected,
    /// pending→reserved transitions so far (TaskRouter cancels at 1,000).
    pub assignments: u32,
    /// When the task reached `completed` or `canceled`.
    pub finished: Option<Millis>,
    /// Its entry in the queue index while it is pending in a queue (rebuilt on restore).
    #[serde(skip)]
    pub indexed: Option<IndexKey>,
}

/// The workers that rejected a task: one word while there are none (as for most tasks),
/// saved as the list (empty when none) older builds wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
// The box is the point: one word in every task instead of a `Vec`'s three.
#[allow(clippy::box_collection)]
pub struct Rejected(Option<Box<Vec<String>>>);

impl Rejected {
    /// Whether this worker rejected the task.
    pub fn contains(&self, worker_sid: &str) -> bool {
        self.0
            .iter()
            .flat_map(|list| list.iter())
            .any(|sid| sid == worker_sid)
    }
    /// Record a rejection.
    pub fn push(&mut self, worker_sid: String) {
        self.0.get_or_insert_with(Box::default).push(worker_sid);
    }
    /// The workers, in the order they rejected.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0
            .iter()
            .flat_map(|list| list.iter())
            .map(String::as_str)
    }
}

impl Serialize for Rejected {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for Rejected {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let list = Vec::<String>::deserialize(deserializer)?;
        Ok(Rejected((!list.is_empty()).then(|| Box::new(list))))
    }
}

/// A reservation of a worker for a task.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Reservation {
    /// `WR…`
    pub sid: String,
    /// The task.
    pub task_sid: String,
    /// The worker.
    pub worker_sid: String,
    /// Where the reservation is in its lifecycle.
    pub status: ReservationStatus,
    /// The queue the task was in when reserved.
    pub task_queue_sid: Option<String>,
    /// The worker's activity when reserved (a REST reject without an activity returns
    /// the worker there).
    pub previous_activity_sid: String,
    /// An instruction the reservation was accepted with (dequeue, call, …), as sent
    /// (boxed: one word in the many reservations without one).
    pub instruction: Option<Box<Value>>,
    /// Created.
    pub created: Millis,
    /// Last changed.
    pub updated: Millis,
    /// Version for ETag / If-Match.
    pub version: u64,
}

record!(
    Workspace,
    Activity,
    TaskChannel,
    TaskQueue,
    Workflow,
    Worker,
    Task,
    Reservation
);

impl Record for Event {
    fn sid(&self) -> &str {
        Event::sid(self)
    }
}

impl Task {
    /// The attributes parsed, for expressions and the workflow walk (an empty object if
    /// the text is not a JSON object, which the checks when it is set rule out).
    pub fn attributes_value(&self) -> Value {
        match serde_json::from_str(&self.attributes) {
            Ok(value @ Value::Object(_)) => value,
            _ => Value::Object(serde_json::Map::new()),
        }
    }

    /// Move the task to `next`, one of the steps [`TaskStatus::can_become`] allows.
    pub fn set_status(&mut self, next: TaskStatus) {
        debug_assert!(
            self.assignment_status.can_become(next),
            "task {}: {} cannot become {next}",
            self.sid,
            self.assignment_status
        );
        self.assignment_status = next;
    }
}

/// Something that happens at a time. Every stored task has one or more waiting in the
/// schedule, so the SIDs are boxed `str`s (two words each, not three).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Deadline {
    /// A reservation's `task_reservation_timeout` ends.
    Reservation {
        /// Workspace.
        workspace: Box<str>,
        /// Reservation.
        reservation: Box<str>,
    },
    /// A workflow step's cumulative timeout ends.
    Step {
        /// Workspace.
        workspace: Box<str>,
        /// Task.
        task: Box<str>,
        /// The routing generation it was set for.
        generation: u64,
    },
    /// A task's TTL ends.
    TaskTtl {
        /// Workspace.
        workspace: Box<str>,
        /// Task.
        task: Box<str>,
    },
    /// A finished task is removed.
    Cleanup {
        /// Workspace.
        workspace: Box<str>,
        /// Task.
        task: Box<str>,
    },
}

/// The whole emulated account.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct State {
    /// The account every resource belongs to.
    pub account_sid: String,
    /// Workspaces.
    pub workspaces: Table<Workspace>,
    /// Pending timers, earliest first; stale ones are ignored when they fire.
    pub deadlines: BTreeSet<(Millis, u64, Deadline)>,
    /// Sequence for deadlines at the same instant (fired in the order set).
    pub deadline_seq: u64,
    /// How long finished tasks are kept (TaskRouter: 5 minutes); `None` keeps them.
    /// Configuration, not state: each start sets it from its flags.
    #[serde(skip)]
    pub keep_finished: Option<Millis>,
}

impl State {
    /// An empty account.
    pub fn new(account_sid: impl Into<String>) -> State {
        State {
            account_sid: account_sid.into(),
            workspaces: Table::default(),
            deadlines: BTreeSet::new(),
            deadline_seq: 0,
            keep_finished: Some(5 * 60 * 1000),
        }
    }

    /// Set a timer.
    pub fn schedule(&mut self, at: Millis, deadline: Deadline) {
        self.deadline_seq += 1;
        self.deadlines.insert((at, self.deadline_seq, deadline));
    }

    /// Take a task's TTL timer, set for `at` when the task was created, out of the
    /// schedule (it cannot fire once the task has finished).
    pub fn unschedule_ttl(&mut self, at: Millis, workspace: &str, task: &str) {
        // The least deadline of all, so the range holds every timer set for `at`.
        let least = || Deadline::Reservation {
            workspace: Box::default(),
            reservation: Box::default(),
        };
        let found = self
            .deadlines
            .range((at, 0, least())..(at.saturating_add(1), 0, least()))
            .find(|(_, _, deadline)| {
                matches!(deadline, Deadline::TaskTtl { workspace: w, task: t }
                    if **w == *workspace && **t == *task)
            })
            .cloned();
        if let Some(key) = found {
            self.deadlines.remove(&key);
        }
    }

    /// When the next timer fires.
    pub fn next_deadline(&self) -> Option<Millis> {
        self.deadlines.first().map(|(at, _, _)| *at)
    }
}

#[cfg(test)]
mod event_data_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn packed_fields_read_back_in_order_with_their_types() {
        let map = json!({"task_sid": "WT1", "empty": "", "task_age": 5, "wait_ms": "1500", "flag": true, "task_attributes": "{\"a\":\"é\"}"})
            .as_object()
            .cloned()
            .unwrap_or_default();
        let mut shared = SharedValues::default();
        let data = EventData::from_map(map.clone(), &mut shared);
        assert_eq!(data.to_map(&shared), map);
        let keys: Vec<&str> = data.iter(&shared).map(|(key, _, _)| key).collect();
        assert_eq!(
            keys,
            [
                "task_sid",
                "empty",
                "task_age",
                "wait_ms",
                "flag",
                "task_attributes"
            ]
        );
        assert_eq!(data.get(&shared, "task_sid"), Some("WT1"));
        assert_eq!(data.get(&shared, "empty"), Some(""));
        assert_eq!(data.get(&shared, "wait_ms"), Some("1500"));
        assert_eq!(data.get(&shared, "task_attributes"), Some("{\"a\":\"é\"}"));
        // Only string values answer `get`, as `Value::as_str` did.
        assert_eq!(data.get(&shared, "task_age"), None);
        assert_eq!(data.get(&shared, "missing"), None);
        assert!(EventData::from_map(serde_json::Map::new(), &mut shared)
            .to_map(&shared)
            .is_empty());
        // A second event with the same values adds none.
        let values = shared.len();
        let again = EventData::from_map(map.clone(), &mut shared);
        assert_eq!(shared.len(), values);
        // Saved and read back, with the shared values saved beside.
        let saved = serde_json::to_string(&(&again, &shared)).unwrap_or_default();
        let (data, shared): (EventData, SharedValues) =
            serde_json::from_str(&saved).expect("reads back");
        assert_eq!(data.to_map(&shared), map);
        // Events saved before values were shared hold their values themselves.
        let old: EventData =
            serde_json::from_str(r#"[["task_sid","WT1",false],["task_age","5",true]]"#)
                .expect("old form");
        assert_eq!(
            old.to_map(&SharedValues::default()),
            *json!({"task_sid": "WT1", "task_age": 5})
                .as_object()
                .expect("object")
        );
    }

    #[test]
    fn removed_records_keep_their_position() {
        let mut table: Table<Event> = Table::default();
        for sid in ["EV1", "EV2", "EV3"] {
            table.insert(Event::new(
                sid.into(),
                EventType::TaskCreated,
                None,
                0,
                EventData::default(),
                &SharedValues::default(),
            ));
        }
        assert_eq!(table.position("EV2"), Some(1));
        assert!(table.remove("EV2").is_some());
        assert_eq!(table.position("EV2"), Some(1));
        assert!(table.get("EV2").is_none());
        let after: Vec<&str> = table.after(Some(1)).map(|e| e.sid()).collect();
        assert_eq!(after, ["EV3"]);
    }
}
