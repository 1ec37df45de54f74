//! Log records of the listener and the bounded channel they travel on.
//!
//! The listener never prints: each request produces one [`LogRecord`], handed to a
//! [`LogSink`] without waiting. When the channel is full the record is dropped and
//! counted ([`LogSink::dropped`]) so a slow terminal can never slow the replies. The
//! reader (the CLI's writer task) decides how records look; this module only defines
//! their fields and their NDJSON form.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::body::Bytes;
use serde::{Serialize, Serializer};
use serde_json::Value;
use tokio::sync::mpsc;

/// Outcome of the signature check of one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verification {
    /// The signature matched.
    Passed,
    /// The signature was absent or wrong; the request got 403.
    Failed,
    /// Not checked: no auth token configured, or `--no-verify`.
    Off,
}

/// What happened to one request.
#[derive(Debug, Clone, Serialize)]
pub struct LogRecord {
    /// `assignment`, `event`, or `unknown` (no such path; `/healthz` is not logged).
    pub kind: &'static str,
    /// `GET` or `POST` (or whatever was sent).
    pub method: String,
    /// Request path.
    pub path: String,
    /// Status answered.
    pub status: u16,
    /// `EventType` of event callbacks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_type: Option<String>,
    /// `ReservationSid`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reservation: Option<String>,
    /// `TaskSid`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task: Option<String>,
    /// `WorkerSid`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub worker: Option<String>,
    /// `TaskQueueSid`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue: Option<String>,
    /// Decoded `TaskAttributes` (NULL when absent).
    pub task_attributes: Value,
    /// Decoded `WorkerAttributes` (NULL when absent).
    pub worker_attributes: Value,
    /// The reply body, as JSON when it is JSON (parsed only when the record is written).
    #[serde(serialize_with = "reply_as_json")]
    pub reply: Bytes,
    /// Index of the rule that chose the reply (rules mode).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<usize>,
    /// Time from the request's arrival to its reply being ready, in milliseconds.
    pub latency_ms: f64,
    /// Signature check outcome.
    pub verified: Verification,
    /// Why the request was refused, or what went wrong producing the reply.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

fn reply_as_json<S: Serializer>(reply: &Bytes, serializer: S) -> Result<S::Ok, S::Error> {
    if reply.is_empty() {
        return serializer.serialize_none();
    }
    match serde_json::from_slice::<Value>(reply) {
        Ok(value) => value.serialize(serializer),
        Err(_) => serializer.serialize_str(&String::from_utf8_lossy(reply)),
    }
}

/// The sending end of the log channel. Cloning shares the channel and the drop counter.
#[derive(Debug, Clone)]
pub struct LogSink {
    sender: mpsc::Sender<LogRecord>,
    dropped: Arc<AtomicU64>,
}

impl LogSink {
    /// A sink and the receiver to read records from; at most `capacity` records wait.
    pub fn channel(capacity: usize) -> (LogSink, mpsc::Receiver<LogRecord>) {
        let (sender, receiver) = mpsc::channel(capacity.max(1));
        (
            LogSink {
                sender,
                dropped: Arc::default(),
            },
            receiver,
        )
    }

    /// Hand over a record without waiting; drop and count it if the channel is full
    /// (or its reader is gone).
    pub fn emit(&self, record: LogRecord) {
        if self.sender.try_send(record).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The drop counter, shared: readable after every sink is gone (a sink kept only to
    /// read the count would keep the channel open).
    pub fn dropped_counter(&self) -> Arc<AtomicU64> {
        self.dropped.clone()
    }

    /// How many records were dropped so far.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> LogRecord {
        LogRecord {
            kind: "assignment",
            method: "POST".into(),
            path: "/assignment_callback".into(),
            status: 200,
            event_type: None,
            reservation: Some("WR1".into()),
            task: None,
            worker: None,
            queue: None,
            task_attributes: serde_json::json!({"a": 1}),
            worker_attributes: Value::Null,
            reply: Bytes::from_static(br#"{"instruction":"accept"}"#),
            rule: Some(0),
            latency_ms: 0.5,
            verified: Verification::Passed,
            error: None,
        }
    }

    #[test]
    fn full_channel_drops_and_counts() {
        let (sink, mut receiver) = LogSink::channel(1);
        sink.emit(record());
        sink.emit(record());
        assert_eq!(sink.dropped(), 1);
        assert!(receiver.try_recv().is_ok());
    }

    #[test]
    fn ndjson_embeds_the_reply_as_json() {
        let line = serde_json::to_value(record()).unwrap();
        assert_eq!(line["reply"]["instruction"], "accept");
        assert_eq!(line["verified"], "passed");
        assert!(line.get("task").is_none());
    }
}
