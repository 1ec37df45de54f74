//! [`Event`]: one entry of a workspace's event log, kept small. The event log is most of
//! a busy emulator's memory, so an event stores only what cannot be worked out again
//! when it is read: its SID, its [`EventType`], its date and the fields of the moment
//! (without the workspace's, which every event of the log shares). The resource type,
//! the resource's SID and path, and the description are derived when the event is
//! encoded or delivered.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::event_data::MAX_HEAD_SID;
use super::{EventData, Millis, SharedValues, Workspace};

/// The kind of resource an event is about (the wire's `resource_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceKind {
    /// `workspace`
    Workspace,
    /// `activity`
    Activity,
    /// `task-channel`
    TaskChannel,
    /// `task-queue`
    TaskQueue,
    /// `workflow`
    Workflow,
    /// `worker`
    Worker,
    /// `task`
    Task,
    /// `reservation`
    Reservation,
}

impl ResourceKind {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceKind::Workspace => "workspace",
            ResourceKind::Activity => "activity",
            ResourceKind::TaskChannel => "task-channel",
            ResourceKind::TaskQueue => "task-queue",
            ResourceKind::Workflow => "workflow",
            ResourceKind::Worker => "worker",
            ResourceKind::Task => "task",
            ResourceKind::Reservation => "reservation",
        }
    }

    /// The event field that holds the resource's SID (none for a workspace: its SID is
    /// the log's own).
    fn sid_field(self) -> Option<&'static str> {
        match self {
            ResourceKind::Workspace => None,
            ResourceKind::Activity => Some("activity_sid"),
            ResourceKind::TaskChannel => Some("task_channel_sid"),
            ResourceKind::TaskQueue => Some("task_queue_sid"),
            ResourceKind::Workflow => Some("workflow_sid"),
            ResourceKind::Worker => Some("worker_sid"),
            ResourceKind::Task => Some("task_sid"),
            ResourceKind::Reservation => Some("reservation_sid"),
        }
    }
}

macro_rules! event_types {
    ($($variant:ident = $wire:literal, $kind:ident;)*) => {
        /// Every event type the emulator emits (WIRE.md §7.2), one byte each; the wire
        /// keeps TaskRouter's strings ([`EventType::as_str`], [`FromStr`]).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[allow(missing_docs)]
        pub enum EventType {
            $($variant,)*
        }

        impl EventType {
            /// Every event type, in the order declared.
            pub const ALL: &'static [EventType] = &[$(EventType::$variant,)*];

            /// The wire string, e.g. `task.created`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(EventType::$variant => $wire,)*
                }
            }

            /// The kind of resource an event of this type is about.
            pub fn resource(self) -> ResourceKind {
                match self {
                    $(EventType::$variant => ResourceKind::$kind,)*
                }
            }
        }

        impl FromStr for EventType {
            type Err = UnknownEventType;
            fn from_str(text: &str) -> Result<EventType, UnknownEventType> {
                match text {
                    $($wire => Ok(EventType::$variant),)*
                    _ => Err(UnknownEventType),
                }
            }
        }
    };
}

event_types! {
    WorkspaceCreated = "workspace.created", Workspace;
    WorkspaceUpdated = "workspace.updated", Workspace;
    ActivityCreated = "activity.created", Activity;
    ActivityUpdated = "activity.updated", Activity;
    ActivityDeleted = "activity.deleted", Activity;
    TaskChannelCreated = "task-channel.created", TaskChannel;
    TaskChannelUpdated = "task-channel.updated", TaskChannel;
    TaskChannelDeleted = "task-channel.deleted", TaskChannel;
    TaskQueueCreated = "task-queue.created", TaskQueue;
    TaskQueueExpressionUpdated = "task-queue.expression.updated", TaskQueue;
    TaskQueueDeleted = "task-queue.deleted", TaskQueue;
    TaskQueueEntered = "task-queue.entered", Task;
    TaskQueueMoved = "task-queue.moved", Task;
    TaskQueueTimeout = "task-queue.timeout", Task;
    WorkflowCreated = "workflow.created", Workflow;
    WorkflowUpdated = "workflow.updated", Workflow;
    WorkflowDeleted = "workflow.deleted", Workflow;
    WorkflowEntered = "workflow.entered", Task;
    WorkflowTargetMatched = "workflow.target-matched", Task;
    WorkflowTimeout = "workflow.timeout", Task;
    WorkflowSkipped = "workflow.skipped", Task;
    WorkerCreated = "worker.created", Worker;
    WorkerActivityUpdate = "worker.activity.update", Worker;
    WorkerAttributesUpdate = "worker.attributes.update", Worker;
    WorkerCapacityUpdate = "worker.capacity.update", Worker;
    WorkerChannelAvailabilityUpdate = "worker.channel.availability.update", Worker;
    WorkerDeleted = "worker.deleted", Worker;
    TaskCreated = "task.created", Task;
    TaskUpdated = "task.updated", Task;
    TaskCanceled = "task.canceled", Task;
    TaskWrapup = "task.wrapup", Task;
    TaskCompleted = "task.completed", Task;
    TaskDeleted = "task.deleted", Task;
    ReservationCreated = "reservation.created", Reservation;
    ReservationAccepted = "reservation.accepted", Reservation;
    ReservationRejected = "reservation.rejected", Reservation;
    ReservationTimeout = "reservation.timeout", Reservation;
    ReservationCanceled = "reservation.canceled", Reservation;
    ReservationRescinded = "reservation.rescinded", Reservation;
    ReservationWrapup = "reservation.wrapup", Reservation;
    ReservationCompleted = "reservation.completed", Reservation;
}

/// A string that names no event type the emulator emits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnknownEventType;

impl fmt::Display for UnknownEventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("unknown event type")
    }
}

impl std::error::Error for UnknownEventType {}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for EventType {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for EventType {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let text = String::deserialize(deserializer)?;
        text.parse()
            .map_err(|_| D::Error::custom(format!("unknown event type {text:?}")))
    }
}

/// The fields every event of a workspace shares: added when an event is read, never
/// stored with it.
pub const WORKSPACE_FIELDS: [&str; 2] = ["workspace_sid", "workspace_name"];

/// One entry of the event log.
#[derive(Debug, Clone)]
pub struct Event {
    /// What happened.
    pub event_type: EventType,
    /// When it happened.
    pub date: Millis,
    /// The event's fields at the time (snake_case keys, string values), without the
    /// workspace's ([`WORKSPACE_FIELDS`]), with the event's SID and the resource's SID
    /// (only when the fields do not already hold it, see [`Event::resource_sid`]) as
    /// their head: one allocation per event ([`EventData::head`]).
    pub data: EventData,
}

/// Saved as `{sid, event_type, resource_sid (when stored), date, data}`.
impl Serialize for Event {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Saved<'a> {
            sid: &'a str,
            event_type: EventType,
            #[serde(skip_serializing_if = "Option::is_none")]
            resource_sid: Option<&'a str>,
            date: Millis,
            data: &'a EventData,
        }
        let (sid, resource_sid) = self.data.head();
        Saved {
            sid,
            event_type: self.event_type,
            resource_sid,
            date: self.date,
            data: &self.data,
        }
        .serialize(serializer)
    }
}

/// A saved [`Event`]. Files written before events were made compact also hold
/// `description`, `resource_type` and `resource_path` (ignored: they are derived now)
/// and the workspace's fields in `data` (dropped).
#[derive(Deserialize)]
struct SavedEvent {
    sid: String,
    event_type: EventType,
    #[serde(default)]
    resource_sid: Option<String>,
    date: Millis,
    data: EventData,
}

impl<'de> Deserialize<'de> for Event {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let saved = SavedEvent::deserialize(deserializer)?;
        let too_long = |sid: &str| sid.len() > MAX_HEAD_SID;
        if too_long(&saved.sid) || saved.resource_sid.as_deref().is_some_and(too_long) {
            return Err(D::Error::custom(format!(
                "event {:?}: a SID longer than {MAX_HEAD_SID} bytes",
                clip_for_error(&saved.sid)
            )));
        }
        let mut data = saved.data;
        // Files from before values were shared hold every value in the event, so the
        // empty set of shared values reads them.
        let none = SharedValues::default();
        if data
            .iter(&none)
            .any(|(name, _, _)| WORKSPACE_FIELDS.contains(&name))
        {
            data = EventData::from_fields(
                data.iter(&none)
                    .filter(|(name, _, _)| !WORKSPACE_FIELDS.contains(name))
                    .map(|(name, value, json)| -> (&str, &str, bool) { (name, value, json) }),
            );
        }
        // The resource SID is kept as saved (the shared values it may repeat are not at
        // hand here): files written since only hold it when the fields lack it.
        let resource_sid = saved
            .resource_sid
            .filter(|_| saved.event_type.resource() != ResourceKind::Workspace);
        Ok(Event {
            event_type: saved.event_type,
            date: saved.date,
            data: data.with_head(&saved.sid, resource_sid.as_deref()),
        })
    }
}

/// The start of an over-long SID, for an error message.
fn clip_for_error(sid: &str) -> String {
    sid.chars().take(40).collect()
}

impl Event {
    /// An event about the resource `resource_sid` (`None`: the workspace itself), its
    /// fields' shared values in `shared`.
    pub fn new(
        sid: Box<str>,
        event_type: EventType,
        resource_sid: Option<&str>,
        date: Millis,
        data: EventData,
        shared: &SharedValues,
    ) -> Event {
        let derived = event_type
            .resource()
            .sid_field()
            .and_then(|field| data.get(shared, field));
        // Kept only when the fields do not say it already (never, as the engine builds
        // its events; a workspace's own events need nothing either).
        let resource_sid = match (event_type.resource(), resource_sid) {
            (ResourceKind::Workspace, _) | (_, None) => None,
            (_, Some(sid)) if derived == Some(sid) => None,
            (_, Some(sid)) => Some(sid),
        };
        Event {
            event_type,
            date,
            data: data.with_head(&sid, resource_sid),
        }
    }

    /// `EV…`
    pub fn sid(&self) -> &str {
        self.data.head().0
    }

    /// A string field's value.
    pub fn field<'a>(&'a self, ws: &'a Workspace, key: &str) -> Option<&'a str> {
        self.data.get(&ws.event_values, key)
    }

    /// The fields in order: name, value text, whether the text is JSON (without the
    /// workspace's).
    pub fn fields<'a>(
        &'a self,
        ws: &'a Workspace,
    ) -> impl Iterator<Item = (&'static str, &'a str, bool)> + 'a {
        self.data.iter(&ws.event_values)
    }

    /// The kind of resource the event is about.
    pub fn resource_type(&self) -> ResourceKind {
        self.event_type.resource()
    }

    /// The SID of the resource the event is about.
    pub fn resource_sid<'a>(&'a self, ws: &'a Workspace) -> &'a str {
        if let Some(sid) = self.data.head().1 {
            return sid;
        }
        match self.event_type.resource().sid_field() {
            Some(field) => self.field(ws, field).unwrap_or_default(),
            None => &ws.sid,
        }
    }

    /// The resource's path below `/v1`.
    pub fn resource_path(&self, ws: &Workspace) -> String {
        let sid = self.resource_sid(ws);
        let collection = match self.resource_type() {
            ResourceKind::Workspace => return format!("/Workspaces/{sid}"),
            ResourceKind::Activity => "Activities",
            ResourceKind::TaskChannel => "TaskChannels",
            ResourceKind::TaskQueue => "TaskQueues",
            ResourceKind::Workflow => "Workflows",
            ResourceKind::Worker => "Workers",
            ResourceKind::Task => "Tasks",
            ResourceKind::Reservation => {
                let task = self.field(ws, "task_sid").unwrap_or_default();
                return format!("/Workspaces/{}/Tasks/{task}/Reservations/{sid}", ws.sid);
            }
        };
        format!("/Workspaces/{}/{collection}/{sid}", ws.sid)
    }

    /// The event's fields as a JSON object, in order, the workspace's last (as they
    /// were when events stored them). The workspace's name is its current one: a
    /// renamed workspace shows its new name in every event (UNCONFIRMED: TaskRouter's
    /// docs do not say which).
    pub fn data_map(&self, ws: &Workspace) -> serde_json::Map<String, serde_json::Value> {
        let mut map = self.data.to_map(&ws.event_values);
        map.insert("workspace_sid".into(), ws.sid.clone().into());
        map.insert("workspace_name".into(), ws.friendly_name.clone().into());
        map
    }

    /// trctl's own one-line description of the event, from its type and fields (the
    /// names in it are those of the moment, as the fields have them; a workspace's is
    /// its current one).
    pub fn description(&self, ws: &Workspace) -> String {
        let field = |key: &str| self.field(ws, key).unwrap_or_default();
        let sid = self.resource_sid(ws);
        let ty = self.event_type;
        // The last word of the type: `created`, `updated`, `deleted`, `accepted` …
        let verb = ty.as_str().rsplit('.').next().unwrap_or_default();
        use EventType as E;
        match ty {
            E::WorkspaceCreated | E::WorkspaceUpdated => {
                format!("Workspace {} {verb}", ws.friendly_name)
            }
            E::ActivityCreated | E::ActivityUpdated | E::ActivityDeleted => {
                format!("Activity {} {verb}", field("activity_name"))
            }
            E::TaskChannelCreated | E::TaskChannelUpdated | E::TaskChannelDeleted => {
                format!("Task channel {} {verb}", field("task_channel_unique_name"))
            }
            E::TaskQueueCreated | E::TaskQueueDeleted => {
                format!("Task queue {} {verb}", field("task_queue_name"))
            }
            E::TaskQueueExpressionUpdated => format!(
                "Task queue {} target expression updated",
                field("task_queue_name")
            ),
            E::WorkflowCreated | E::WorkflowUpdated | E::WorkflowDeleted => {
                format!("Workflow {} {verb}", field("workflow_name"))
            }
            E::WorkerCreated | E::WorkerDeleted => {
                format!("Worker {} {verb}", field("worker_name"))
            }
            E::WorkerActivityUpdate => format!(
                "Worker {} updated to {} Activity",
                field("worker_name"),
                field("worker_activity_name")
            ),
            E::WorkerAttributesUpdate => {
                format!("Worker {} attributes updated", field("worker_name"))
            }
            E::WorkerCapacityUpdate => format!(
                "Worker {} capacity on {} updated",
                field("worker_name"),
                field("task_channel_unique_name")
            ),
            E::WorkerChannelAvailabilityUpdate => format!(
                "Worker {} availability on {} updated",
                field("worker_name"),
                field("task_channel_unique_name")
            ),
            E::TaskCreated | E::TaskUpdated | E::TaskCompleted | E::TaskDeleted => {
                format!("Task {sid} {verb}")
            }
            E::TaskWrapup => format!("Task {sid} wrapping"),
            E::TaskCanceled => match self.field(ws, "task_canceled_reason") {
                Some(reason) => format!("Task {sid} canceled: {reason}"),
                None => format!("Task {sid} canceled"),
            },
            E::WorkflowEntered => {
                format!("Task {sid} entered workflow {}", field("workflow_name"))
            }
            E::WorkflowTargetMatched => format!("Task {sid} matched a workflow target"),
            E::WorkflowTimeout | E::WorkflowSkipped => format!("Task {sid} left its workflow"),
            E::TaskQueueEntered => format!("Task {sid} entered a task queue"),
            E::TaskQueueMoved => format!("Task {sid} moved to another queue"),
            E::TaskQueueTimeout => format!("Task {sid} timed out of its queue"),
            E::ReservationCreated
            | E::ReservationAccepted
            | E::ReservationRejected
            | E::ReservationTimeout
            | E::ReservationCanceled
            | E::ReservationRescinded
            | E::ReservationWrapup
            | E::ReservationCompleted => format!(
                "Reservation {sid} for worker {} {verb}",
                field("worker_name")
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_type_reads_back_from_its_wire_string() {
        for ty in EventType::ALL {
            assert_eq!(ty.as_str().parse::<EventType>(), Ok(*ty));
        }
        assert_eq!("task".parse::<EventType>(), Err(UnknownEventType));
        assert_eq!(std::mem::size_of::<EventType>(), 1);
    }

    #[test]
    fn an_event_saved_before_events_were_compact_still_loads() {
        let saved = serde_json::json!({
            "sid": "EV1",
            "event_type": "task.created",
            "description": "Task WT1 created",
            "resource_type": "task",
            "resource_sid": "WT1",
            "resource_path": "/Workspaces/WS1/Tasks/WT1",
            "date": 5,
            "data": [
                ["task_sid", "WT1", false],
                ["workspace_sid", "WS1", false],
                ["workspace_name", "W", false]
            ]
        });
        let event: Event = serde_json::from_value(saved).expect("old event loads");
        assert_eq!(event.event_type, EventType::TaskCreated);
        assert_eq!(event.date, 5);
        let names: Vec<&str> = event
            .data
            .iter(&SharedValues::default())
            .map(|(name, _, _)| name)
            .collect();
        // The workspace's fields are added when the event is read.
        assert_eq!(names, ["task_sid"]);
        let unknown = serde_json::json!({
            "sid": "EV1", "event_type": "task.nonsense", "date": 5, "data": []
        });
        assert!(serde_json::from_value::<Event>(unknown).is_err());
    }

    #[test]
    fn the_resource_sid_is_stored_only_when_the_fields_lack_it() {
        let none = SharedValues::default();
        let data = EventData::from_fields([("task_sid", "WT1", false)]);
        let event = Event::new(
            "EV1".into(),
            EventType::TaskCreated,
            Some("WT1"),
            0,
            data.clone(),
            &none,
        );
        assert!(event.data.head().1.is_none());
        assert_eq!(event.sid(), "EV1");
        let event = Event::new(
            "EV1".into(),
            EventType::TaskCreated,
            Some("WT2"),
            0,
            data,
            &none,
        );
        assert_eq!(event.data.head().1, Some("WT2"));
        // Saved and read back, the SIDs in front of the fields come back apart from them.
        let saved = serde_json::to_value(&event).expect("serializes");
        assert_eq!(saved["sid"], "EV1");
        assert_eq!(saved["resource_sid"], "WT2");
        assert_eq!(
            saved["data"],
            serde_json::json!([["task_sid", "WT1", false]])
        );
        let back: Event = serde_json::from_value(saved.clone()).expect("reads back");
        assert_eq!((back.sid(), back.data.head().1), ("EV1", Some("WT2")));
        assert_eq!(back.data.get(&none, "task_sid"), Some("WT1"));
        let mut long = saved;
        long["sid"] = "E".repeat(MAX_HEAD_SID + 1).into();
        assert!(serde_json::from_value::<Event>(long).is_err());
    }
}
