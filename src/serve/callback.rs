//! Callbacks as data: decoding a request body into parameters, and building the
//! parameters TaskRouter would send (for `trctl trigger` and tests).
//!
//! Decoding is strict where TaskRouter's own encoder would never be sloppy (a `%` not
//! followed by two hex digits, bytes that are not UTF-8) and lenient elsewhere (unknown
//! keys are kept, attributes that are not JSON stay strings). Nothing here does I/O or
//! reads the clock: [`Sample`] takes `now` and a SID source from its caller.

use std::time::Duration;

use serde_json::{Map, Value};

use crate::api::sid::SidSource;

// Time limits and size caps of callbacks, in one place: the emulator's runner, the
// listener, `trctl trigger` and the reply judge all read them from here.

/// How long TaskRouter gives an app to answer an assignment callback: 5 s. An answer
/// that comes later counts as no answer, and the fallback URL is tried (WIRE.md §5.3).
pub const ASSIGNMENT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long TaskRouter gives an event callback endpoint to answer: 15 s (WIRE.md §7.1;
/// what it does after a miss is not documented, and trctl does not retry).
pub const EVENT_TIMEOUT: Duration = Duration::from_secs(15);
/// Largest callback reply trctl reads (the emulator and `trctl trigger`). A reply is an
/// instruction of a few hundred bytes, so a larger one is treated as a failed callback
/// rather than held in memory; no TaskRouter limit is documented.
pub const MAX_REPLY: usize = 64 * 1024;
/// Largest callback request body the listener accepts. TaskRouter's callbacks are a few
/// KiB (attributes are capped at 16 KiB per task, WIRE.md §1.9).
pub const MAX_REQUEST: usize = 64 * 1024;

/// The time limit of a callback of this kind.
pub fn timeout_of(kind: CallbackKind) -> Duration {
    match kind {
        CallbackKind::Assignment => ASSIGNMENT_TIMEOUT,
        CallbackKind::Event => EVENT_TIMEOUT,
    }
}

/// Which endpoint a callback arrived at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CallbackKind {
    /// A Workflow's `AssignmentCallbackUrl` (WIRE.md §5).
    Assignment,
    /// A Workspace's `EventCallbackUrl` (WIRE.md §7.1).
    Event,
}

impl CallbackKind {
    /// `assignment` or `event`.
    pub fn as_str(self) -> &'static str {
        match self {
            CallbackKind::Assignment => "assignment",
            CallbackKind::Event => "event",
        }
    }
}

/// Why a body could not be decoded. The listener answers 400 with the message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// `%` not followed by two hex digits.
    #[error("malformed form body: bad percent escape at byte {offset}")]
    BadEscape {
        /// Byte offset of the `%` in the body.
        offset: usize,
    },
    /// The decoded bytes of a name or value are not UTF-8.
    #[error("malformed form body: a decoded name or value is not UTF-8")]
    NotUtf8,
    /// A JSON body that is not a JSON object.
    #[error("malformed JSON body: {0}")]
    Json(String),
}

/// Decode `application/x-www-form-urlencoded` bytes (also used for query strings):
/// `+` is a space, `%XX` a byte; empty segments (`a=1&&b=2`) are skipped and a segment
/// without `=` is a name with an empty value, as browsers and Twilio's libraries do.
pub fn decode_form(body: &[u8]) -> Result<Vec<(String, String)>, DecodeError> {
    let mut params = Vec::with_capacity(16);
    let mut offset = 0;
    for segment in body.split(|&b| b == b'&') {
        let start = offset;
        offset += segment.len() + 1;
        if segment.is_empty() {
            continue;
        }
        let (name, value, value_start) = match segment.iter().position(|&b| b == b'=') {
            Some(eq) => (&segment[..eq], &segment[eq + 1..], start + eq + 1),
            None => (segment, &segment[segment.len()..], start + segment.len()),
        };
        params.push((
            decode_component(name, start)?,
            decode_component(value, value_start)?,
        ));
    }
    Ok(params)
}

fn decode_component(raw: &[u8], offset: usize) -> Result<String, DecodeError> {
    // Fast path: nothing to decode.
    if !raw.iter().any(|&b| b == b'%' || b == b'+') {
        return std::str::from_utf8(raw)
            .map(str::to_owned)
            .map_err(|_| DecodeError::NotUtf8);
    }
    let mut bytes = Vec::with_capacity(raw.len());
    let mut index = 0;
    while index < raw.len() {
        match raw[index] {
            b'+' => bytes.push(b' '),
            b'%' => {
                let high = raw.get(index + 1).and_then(|&b| hex_value(b));
                let low = raw.get(index + 2).and_then(|&b| hex_value(b));
                match (high, low) {
                    (Some(high), Some(low)) => bytes.push(high << 4 | low),
                    _ => {
                        return Err(DecodeError::BadEscape {
                            offset: offset + index,
                        })
                    }
                }
                index += 2;
            }
            other => bytes.push(other),
        }
        index += 1;
    }
    String::from_utf8(bytes).map_err(|_| DecodeError::NotUtf8)
}

fn hex_value(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

/// Decode a JSON body (Event Streams style, WIRE.md §4.3) into parameters: each key of
/// the top-level object, strings as they are and other values as compact JSON.
pub fn decode_json(body: &[u8]) -> Result<Vec<(String, String)>, DecodeError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|err| DecodeError::Json(err.to_string()))?;
    let Value::Object(map) = value else {
        return Err(DecodeError::Json("expected a JSON object".into()));
    };
    Ok(map
        .into_iter()
        .map(|(key, value)| match value {
            Value::String(text) => (key, text),
            other => (key, other.to_string()),
        })
        .collect())
}

/// A decoded callback: its parameters and its attributes parsed once.
#[derive(Debug, Clone)]
pub struct Callback {
    /// Which endpoint it arrived at.
    pub kind: CallbackKind,
    /// Every parameter, decoded, in arrival order (unknown keys kept).
    pub params: Vec<(String, String)>,
    /// `TaskAttributes` parsed as JSON; the raw string if it is not JSON; NULL if absent.
    pub task_attributes: Value,
    /// `WorkerAttributes`, likewise.
    pub worker_attributes: Value,
}

impl Callback {
    /// A callback from decoded parameters.
    pub fn new(kind: CallbackKind, params: Vec<(String, String)>) -> Callback {
        let attributes = |name: &str| match params.iter().find(|(key, _)| key == name) {
            Some((_, raw)) => {
                serde_json::from_str(raw).unwrap_or_else(|_| Value::String(raw.clone()))
            }
            None => Value::Null,
        };
        let task_attributes = attributes("TaskAttributes");
        let worker_attributes = attributes("WorkerAttributes");
        Callback {
            kind,
            params,
            task_attributes,
            worker_attributes,
        }
    }

    /// The first value of parameter `name`.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// The parameters as borrowed pairs (what the signature functions take).
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> + Clone {
        self.params.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// What `--exec` commands read on stdin: `{"kind": …, "params": {Name: value, …},
    /// "task": {task attributes}, "worker": {worker attributes}}`. A repeated
    /// parameter keeps its last value in `params`.
    pub fn to_exec_json(&self) -> Value {
        let params: Map<String, Value> = self
            .params
            .iter()
            .map(|(key, value)| (key.clone(), Value::String(value.clone())))
            .collect();
        serde_json::json!({
            "kind": self.kind.as_str(),
            "params": params,
            "task": self.task_attributes,
            "worker": self.worker_attributes,
        })
    }
}

/// Builds the parameters of realistic callbacks, for `trctl trigger` and tests.
///
/// Each call draws fresh SIDs from the given source (the emulator's [`SidSource`]:
/// random ones for real use, counting ones for tests) except the account, which callers
/// usually fix.
#[derive(Debug, Clone)]
pub struct Sample {
    /// `AccountSid` to send.
    pub account_sid: String,
    /// `TaskAttributes` (a JSON string).
    pub task_attributes: String,
    /// `WorkerAttributes` (a JSON string).
    pub worker_attributes: String,
    /// Current time, Unix seconds.
    pub now_seconds: u64,
    /// Milliseconds part of the current time.
    pub now_millis: u16,
}

impl Sample {
    /// The twelve documented assignment-callback parameters (WIRE.md §5.2).
    pub fn assignment(&self, sids: &mut dyn SidSource) -> Vec<(String, String)> {
        let pairs = [
            ("AccountSid", self.account_sid.clone()),
            ("WorkspaceSid", sids.next("WS")),
            ("WorkflowSid", sids.next("WW")),
            ("TaskQueueSid", sids.next("WQ")),
            ("WorkerSid", sids.next("WK")),
            ("WorkerAttributes", self.worker_attributes.clone()),
            ("TaskSid", sids.next("WT")),
            ("TaskAttributes", self.task_attributes.clone()),
            ("TaskAge", "12".to_string()),
            ("TaskPriority", "0".to_string()),
            ("ReservationSid", sids.next("WR")),
            // Epoch seconds [OBS] (WIRE.md §5.2).
            ("Timestamp", self.now_seconds.to_string()),
        ];
        pairs
            .into_iter()
            .map(|(key, value)| (key.to_string(), value))
            .collect()
    }

    /// An event callback of `event_type`: the base parameters of WIRE.md §7.1 plus the
    /// field groups §7.2 lists for that type (§7.3). Types it does not know get the base
    /// parameters only.
    pub fn event(&self, event_type: &str, sids: &mut dyn SidSource) -> Vec<(String, String)> {
        let mut params: Vec<(String, String)> = Vec::with_capacity(40);
        let mut add = |key: &str, value: String| params.push((key.to_string(), value));
        let task_sid = sids.next("WT");
        let worker_sid = sids.next("WK");
        let reservation_sid = sids.next("WR");
        let queue_sid = sids.next("WQ");
        let workflow_sid = sids.next("WW");
        let activity_sid = sids.next("WA");
        let channel_sid = sids.next("TC");
        let workspace_sid = sids.next("WS");
        let family = event_type.split('.').next().unwrap_or(event_type);
        let (resource_type, resource_sid) = match family {
            "reservation" => ("reservation", reservation_sid.clone()),
            "task" => ("task", task_sid.clone()),
            "worker" => ("worker", worker_sid.clone()),
            "activity" => ("activity", activity_sid.clone()),
            "task-queue" => ("taskqueue", queue_sid.clone()),
            "workflow" => ("workflow", workflow_sid.clone()),
            "task-channel" => ("taskchannel", channel_sid.clone()),
            _ => ("workspace", workspace_sid.clone()),
        };
        add("EventType", event_type.to_string());
        add("AccountSid", self.account_sid.clone());
        add("WorkspaceSid", workspace_sid);
        add("WorkspaceName", "trctl trigger".to_string());
        add(
            "EventDescription",
            format!("{event_type} sent by trctl trigger"),
        );
        // Captured payloads use lowercase resource types [OBS] (WIRE.md §7.1).
        add("ResourceType", resource_type.to_string());
        add("ResourceSid", resource_sid);
        add("Timestamp", self.now_seconds.to_string());
        add(
            "TimestampMs",
            format!("{}{:03}", self.now_seconds, self.now_millis),
        );
        add("Sid", sids.next("EV"));

        let with_task = matches!(family, "reservation" | "task")
            || matches!(
                event_type,
                "task-queue.entered"
                    | "task-queue.timeout"
                    | "task-queue.moved"
                    | "workflow.target-matched"
                    | "workflow.entered"
                    | "workflow.timeout"
                    | "workflow.skipped"
            );
        let with_worker =
            (family == "reservation" && event_type != "reservation.failed") || family == "worker";
        if with_task {
            add("TaskSid", task_sid);
            add("TaskAttributes", self.task_attributes.clone());
            add("TaskAge", "12".to_string());
            add("TaskPriority", "0".to_string());
            let status = match event_type {
                "reservation.accepted" => "assigned",
                "task.canceled" => "canceled",
                "task.completed" | "reservation.completed" => "completed",
                "task.wrapup" | "reservation.wrapup" => "wrapping",
                _ => "reserved",
            };
            add("TaskAssignmentStatus", status.to_string());
            add("TaskCanceledReason", String::new());
            add("TaskCompletedReason", String::new());
        }
        if with_worker {
            add("WorkerSid", worker_sid);
            add("WorkerName", "alice".to_string());
            add("WorkerAttributes", self.worker_attributes.clone());
            add("WorkerActivitySid", activity_sid.clone());
            add("WorkerActivityName", "Available".to_string());
            add("WorkerVersion", "1".to_string());
            if event_type == "worker.activity.update" {
                add("WorkerPreviousActivitySid", sids.next("WA"));
                add("WorkerPreviousActivityName", "Offline".to_string());
                add("WorkerTimeInPreviousActivity", "42".to_string());
                add("WorkerTimeInPreviousActivityMs", "42000".to_string());
            }
        }
        if family == "reservation" || family == "task" || family == "task-queue" {
            add("TaskQueueSid", queue_sid);
        }
        if family == "task-queue" && !with_task {
            add("TaskQueueName", "Support".to_string());
            add("TaskQueueTargetExpression", "1==1".to_string());
        }
        if family == "reservation" {
            add("ReservationSid", reservation_sid);
        }
        if family == "reservation" || with_task || family == "workflow" {
            add("WorkflowSid", workflow_sid);
        }
        if family == "workflow" && !with_task {
            add("WorkflowName", "Default".to_string());
        }
        if family == "activity" {
            add("ActivitySid", activity_sid);
            add("ActivityName", "Available".to_string());
            add("ActivityAvailable", "true".to_string());
        }
        if family == "task-channel" {
            add("TaskChannelSid", channel_sid);
            add("TaskChannelName", "Voice".to_string());
            add("TaskChannelUniqueName", "voice".to_string());
            add("TaskChannelOptimizedRouting", "false".to_string());
        }
        params
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::sid::is_any_sid;
    use crate::api::sid::CountingSids;

    #[test]
    fn form_decoding_table() {
        let ok = |body: &str| decode_form(body.as_bytes()).unwrap();
        let pairs = |list: &[(&str, &str)]| {
            list.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<Vec<_>>()
        };
        assert_eq!(ok(""), pairs(&[]));
        assert_eq!(ok("a=1&b=2"), pairs(&[("a", "1"), ("b", "2")]));
        assert_eq!(ok("a=x+y%2Bz"), pairs(&[("a", "x y+z")]));
        assert_eq!(ok("a&&b="), pairs(&[("a", ""), ("b", "")]));
        assert_eq!(ok("k=%C3%A9"), pairs(&[("k", "é")]));
        assert_eq!(ok("a=1=2"), pairs(&[("a", "1=2")]));
        assert_eq!(
            decode_form(b"a=1&b=%zz"),
            Err(DecodeError::BadEscape { offset: 6 })
        );
        assert_eq!(
            decode_form(b"a=%4"),
            Err(DecodeError::BadEscape { offset: 2 })
        );
        assert_eq!(decode_form(b"a=%FF"), Err(DecodeError::NotUtf8));
        assert_eq!(decode_form(b"a=\xff"), Err(DecodeError::NotUtf8));
    }

    #[test]
    fn json_decoding() {
        let params = decode_json(br#"{"EventType":"task.created","n":1,"o":{"a":true}}"#).unwrap();
        assert_eq!(
            params,
            vec![
                ("EventType".to_string(), "task.created".to_string()),
                ("n".to_string(), "1".to_string()),
                ("o".to_string(), r#"{"a":true}"#.to_string()),
            ]
        );
        assert!(decode_json(b"[1]").is_err());
        assert!(decode_json(b"{").is_err());
    }

    #[test]
    fn attributes_are_parsed_once() {
        let callback = Callback::new(
            CallbackKind::Assignment,
            vec![
                (
                    "TaskAttributes".into(),
                    r#"{"selected_language":"es"}"#.into(),
                ),
                ("WorkerAttributes".into(), "not json".into()),
            ],
        );
        assert_eq!(callback.task_attributes["selected_language"], "es");
        assert_eq!(callback.worker_attributes, Value::String("not json".into()));
        assert_eq!(callback.to_exec_json()["task"]["selected_language"], "es");
    }

    fn sample() -> Sample {
        Sample {
            account_sid: "AC00000000000000000000000000000001".into(),
            task_attributes: "{}".into(),
            worker_attributes: r#"{"contact_uri":"client:alice"}"#.into(),
            now_seconds: 1_700_000_000,
            now_millis: 7,
        }
    }

    #[test]
    fn assignment_sample_has_the_twelve_documented_keys() {
        let mut sids = CountingSids::default();
        let params = sample().assignment(&mut sids);
        let keys: Vec<&str> = params.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "AccountSid",
                "WorkspaceSid",
                "WorkflowSid",
                "TaskQueueSid",
                "WorkerSid",
                "WorkerAttributes",
                "TaskSid",
                "TaskAttributes",
                "TaskAge",
                "TaskPriority",
                "ReservationSid",
                "Timestamp"
            ]
        );
        for (key, value) in &params {
            if key.ends_with("Sid") {
                assert!(is_any_sid(value), "{key}={value}");
            }
        }
    }

    #[test]
    fn event_samples_carry_their_groups() {
        let mut sids = CountingSids::default();
        let has = |params: &[(String, String)], key: &str| params.iter().any(|(k, _)| k == key);
        let reservation = sample().event("reservation.created", &mut sids);
        for key in [
            "EventType",
            "AccountSid",
            "WorkspaceSid",
            "WorkspaceName",
            "EventDescription",
            "ResourceType",
            "ResourceSid",
            "Timestamp",
            "TimestampMs",
            "Sid",
            "TaskSid",
            "WorkerSid",
            "TaskQueueSid",
            "ReservationSid",
            "WorkflowSid",
        ] {
            assert!(has(&reservation, key), "reservation.created lacks {key}");
        }
        let activity = sample().event("activity.created", &mut sids);
        assert!(has(&activity, "ActivityAvailable"));
        assert!(!has(&activity, "TaskSid"));
        let failed = sample().event("reservation.failed", &mut sids);
        assert!(!has(&failed, "WorkerSid"));
        let ms = reservation
            .iter()
            .find(|(k, _)| k == "TimestampMs")
            .unwrap();
        assert_eq!(ms.1, "1700000000007");
    }
}
