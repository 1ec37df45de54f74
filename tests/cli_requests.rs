//! One row per command: the request it sends (method, path, form or query pairs).
//! Complements tests/cli.rs, which checks the behaviours around the requests.

use std::sync::Arc;

use crate::common::{Recorder, Reply, ACCOUNT, TOKEN, WORKSPACE};
use assert_cmd::Command;
use serde_json::json;

const WS: &str = WORKSPACE;
const WA: &str = "WA0123456789abcdef0123456789abcdef";
const WQ: &str = "WQ0123456789abcdef0123456789abcdef";
const WW: &str = "WW0123456789abcdef0123456789abcdef";
const WK: &str = "WK0123456789abcdef0123456789abcdef";
const WT: &str = "WT0123456789abcdef0123456789abcdef";
const WR: &str = "WR0123456789abcdef0123456789abcdef";
const TC: &str = "TC0123456789abcdef0123456789abcdef";
const WC: &str = "WC0123456789abcdef0123456789abcdef";
const EV: &str = "EV0123456789abcdef0123456789abcdef";

/// (arguments, method, path, expected form-or-query pairs)
type Row = (
    Vec<String>,
    &'static str,
    String,
    Vec<(&'static str, &'static str)>,
);

fn row(
    args: &str,
    method: &'static str,
    path: &str,
    pairs: &[(&'static str, &'static str)],
) -> Row {
    let args = shell_words(args);
    (args, method, format!("/v1{path}"), pairs.to_vec())
}

/// Split on spaces, keeping single-quoted parts together (enough for these rows).
fn shell_words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for ch in text.chars() {
        match ch {
            '\'' => quoted = !quoted,
            ' ' if !quoted => {
                if !current.is_empty() {
                    words.push(std::mem::take(&mut current));
                }
            }
            _ => current.push(ch),
        }
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

fn rows() -> Vec<Row> {
    let w = format!("/Workspaces/{WS}");
    vec![
        row("workspace list --friendly-name Support", "GET", "/Workspaces", &[("FriendlyName", "Support")]),
        row(&format!("workspace get {WS}"), "GET", &w, &[]),
        row("workspace create --name Support --template FIFO --event-callback-url http://127.0.0.1:9/events --multi-task-enabled true --prioritize-queue-order LIFO", "POST", "/Workspaces",
            &[("FriendlyName", "Support"), ("EventCallbackUrl", "http://127.0.0.1:9/events"), ("MultiTaskEnabled", "true"), ("Template", "FIFO"), ("PrioritizeQueueOrder", "LIFO")]),
        row(&format!("workspace update {WS} --default-activity {WA} --timeout-activity {WA} --events-filter task.created"), "POST", &w,
            &[("DefaultActivitySid", WA), ("EventsFilter", "task.created"), ("TimeoutActivitySid", WA)]),
        row(&format!("workspace delete {WS}"), "DELETE", &w, &[]),
        row("activity list --available true", "GET", &format!("{w}/Activities"), &[("Available", "true")]),
        row(&format!("activity get {WA}"), "GET", &format!("{w}/Activities/{WA}"), &[]),
        row("activity create --name Busy --available false", "POST", &format!("{w}/Activities"), &[("FriendlyName", "Busy"), ("Available", "false")]),
        row(&format!("activity update {WA} --name Lunch"), "POST", &format!("{w}/Activities/{WA}"), &[("FriendlyName", "Lunch")]),
        row(&format!("activity delete {WA}"), "DELETE", &format!("{w}/Activities/{WA}"), &[]),
        row("task-channel list", "GET", &format!("{w}/TaskChannels"), &[]),
        row(&format!("task-channel get {TC}"), "GET", &format!("{w}/TaskChannels/{TC}"), &[]),
        row("task-channel create --name Chat --unique-name chat --channel-optimized-routing true", "POST", &format!("{w}/TaskChannels"),
            &[("FriendlyName", "Chat"), ("UniqueName", "chat"), ("ChannelOptimizedRouting", "true")]),
        row(&format!("task-channel update {TC} --name Chats"), "POST", &format!("{w}/TaskChannels/{TC}"), &[("FriendlyName", "Chats")]),
        row(&format!("task-channel delete {TC}"), "DELETE", &format!("{w}/TaskChannels/{TC}"), &[]),
        row("queue list --evaluate-worker-attributes '{\"languages\":[\"es\"]}' --ordering DateCreated:desc", "GET", &format!("{w}/TaskQueues"),
            &[("EvaluateWorkerAttributes", "{\"languages\":[\"es\"]}"), ("Ordering", "DateCreated:desc")]),
        row(&format!("queue get {WQ}"), "GET", &format!("{w}/TaskQueues/{WQ}"), &[]),
        row(&format!("queue update {WQ} --target-workers '1==1' --max-reserved-workers 3"), "POST", &format!("{w}/TaskQueues/{WQ}"),
            &[("TargetWorkers", "1==1"), ("MaxReservedWorkers", "3")]),
        row(&format!("queue delete {WQ}"), "DELETE", &format!("{w}/TaskQueues/{WQ}"), &[]),
        row("workflow list --name Quickstart", "GET", &format!("{w}/Workflows"), &[("FriendlyName", "Quickstart")]),
        row(&format!("workflow get {WW}"), "GET", &format!("{w}/Workflows/{WW}"), &[]),
        row(&format!("workflow update {WW} --assignment-callback-url http://127.0.0.1:5000/a --re-evaluate-tasks true"), "POST", &format!("{w}/Workflows/{WW}"),
            &[("AssignmentCallbackUrl", "http://127.0.0.1:5000/a"), ("ReEvaluateTasks", "true")]),
        row(&format!("workflow delete {WW}"), "DELETE", &format!("{w}/Workflows/{WW}"), &[]),
        row(&format!("worker list --activity {WA} --available 1 --target-workers-expression 'languages HAS \"es\"'"), "GET", &format!("{w}/Workers"),
            &[("ActivitySid", WA), ("Available", "1"), ("TargetWorkersExpression", "languages HAS \"es\"")]),
        row(&format!("worker get {WK}"), "GET", &format!("{w}/Workers/{WK}"), &[]),
        row(&format!("worker create --name Alice --activity {WA} --attributes '{{\"languages\":[\"en\"]}}'"), "POST", &format!("{w}/Workers"),
            &[("FriendlyName", "Alice"), ("ActivitySid", WA), ("Attributes", "{\"languages\":[\"en\"]}")]),
        row(&format!("worker delete {WK} --if-match 2"), "DELETE", &format!("{w}/Workers/{WK}"), &[]),
        row(&format!("worker channel list {WK}"), "GET", &format!("{w}/Workers/{WK}/Channels"), &[]),
        row(&format!("worker channel get {WK} {WC}"), "GET", &format!("{w}/Workers/{WK}/Channels/{WC}"), &[]),
        row(&format!("task get {WT}"), "GET", &format!("{w}/Tasks/{WT}"), &[]),
        row(&format!("task create --task-queue {WQ} --priority 10 --timeout 3600 --channel chat --virtual-start-time 2024-01-02T00:00:00Z"), "POST", &format!("{w}/Tasks"),
            &[("Timeout", "3600"), ("Priority", "10"), ("TaskChannel", "chat"), ("VirtualStartTime", "2024-01-02T00:00:00Z"), ("TaskQueueSid", WQ)]),
        row(&format!("task update {WT} --attributes '{{}}'"), "POST", &format!("{w}/Tasks/{WT}"), &[("Attributes", "{}")]),
        row(&format!("task delete {WT}"), "DELETE", &format!("{w}/Tasks/{WT}"), &[]),
        row(&format!("reservation list --task {WT} --status pending"), "GET", &format!("{w}/Tasks/{WT}/Reservations"), &[("ReservationStatus", "pending")]),
        row(&format!("reservation list --task {WT} --worker {WK}"), "GET", &format!("{w}/Tasks/{WT}/Reservations"), &[("WorkerSid", WK)]),
        row(&format!("reservation list --worker {WK} --status accepted"), "GET", &format!("{w}/Workers/{WK}/Reservations"), &[("ReservationStatus", "accepted")]),
        row(&format!("reservation get {WR} --task {WT}"), "GET", &format!("{w}/Tasks/{WT}/Reservations/{WR}"), &[]),
        row(&format!("reservation get {WR} --worker {WK}"), "GET", &format!("{w}/Workers/{WK}/Reservations/{WR}"), &[]),
        row(&format!("reservation reject {WR} --worker {WK}"), "POST", &format!("{w}/Workers/{WK}/Reservations/{WR}"), &[("ReservationStatus", "rejected")]),
        row(&format!("reservation update {WR} --task {WT} --instruction conference --from +15005550006 --end-conference-on-exit true --conference-status-callback-event start,end --conference-region ie1"),
            "POST", &format!("{w}/Tasks/{WT}/Reservations/{WR}"),
            &[("Instruction", "conference"), ("From", "+15005550006"), ("EndConferenceOnExit", "true"), ("ConferenceStatusCallbackEvent", "start"), ("ConferenceStatusCallbackEvent", "end"), ("Region", "ie1")]),
        row(&format!("reservation update {WR} --task {WT} --instruction supervise --supervisor-mode monitor --supervisor client:sup"),
            "POST", &format!("{w}/Tasks/{WT}/Reservations/{WR}"),
            &[("Instruction", "supervise"), ("SupervisorMode", "monitor"), ("Supervisor", "client:sup")]),
        row(&format!("reservation update {WR} --worker {WK} --instruction call --call-from +15005550006 --call-url http://127.0.0.1:9/twiml --call-accept true"),
            "POST", &format!("{w}/Workers/{WK}/Reservations/{WR}"),
            &[("Instruction", "call"), ("CallFrom", "+15005550006"), ("CallUrl", "http://127.0.0.1:9/twiml"), ("CallAccept", "true")]),
        row(&format!("event list --task {WT} --reservation {WR} --start-date 2024-01-01T00:00:00Z --end-date 2024-01-02T00:00:00Z --task-channel voice"),
            "GET", &format!("{w}/Events"),
            &[("EndDate", "2024-01-02T00:00:00Z"), ("ReservationSid", WR), ("StartDate", "2024-01-01T00:00:00Z"), ("TaskSid", WT), ("TaskChannel", "voice")]),
        row(&format!("event get {EV}"), "GET", &format!("{w}/Events/{EV}"), &[]),
        row(&format!("stats queue {WQ} --split-by-wait-time 5,30"), "GET", &format!("{w}/TaskQueues/{WQ}/Statistics"), &[("SplitByWaitTime", "5,30")]),
        row(&format!("stats queue {WQ} --realtime --task-channel voice"), "GET", &format!("{w}/TaskQueues/{WQ}/RealTimeStatistics"), &[("TaskChannel", "voice")]),
        row("stats queues --friendly-name Spanish --minutes 60", "GET", &format!("{w}/TaskQueues/Statistics"), &[("FriendlyName", "Spanish"), ("Minutes", "60")]),
        row(&format!("stats workflow {WW}"), "GET", &format!("{w}/Workflows/{WW}/Statistics"), &[]),
        row(&format!("stats workflow {WW} --cumulative --minutes 5"), "GET", &format!("{w}/Workflows/{WW}/CumulativeStatistics"), &[("Minutes", "5")]),
        row(&format!("stats workers --task-queue {WQ}"), "GET", &format!("{w}/Workers/Statistics"), &[("TaskQueueSid", WQ)]),
        row("stats workers --realtime", "GET", &format!("{w}/Workers/RealTimeStatistics"), &[]),
    ]
}

#[test]
fn every_command_sends_the_expected_request() {
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::start(Arc::new(|request, _, _| {
        if request.method == "DELETE" {
            return Reply::empty(204);
        }
        if request.method == "GET" && request.path.ends_with("/Channels") {
            return Reply::json(
                200,
                &json!({"channels": [{"sid": WC, "task_channel_unique_name": "voice"}], "meta": {"key": "channels", "next_page_url": null}}),
            );
        }
        let key = request.path.rsplit('/').next().unwrap_or_default();
        let list_key = match key {
            "Workspaces" => Some("workspaces"),
            "Activities" => Some("activities"),
            "TaskChannels" => Some("channels"),
            "TaskQueues" => Some("task_queues"),
            "Workflows" => Some("workflows"),
            "Workers" => Some("workers"),
            "Tasks" => Some("tasks"),
            "Reservations" => Some("reservations"),
            "Events" => Some("events"),
            "Statistics" if request.path.ends_with("TaskQueues/Statistics") => {
                Some("task_queues_statistics")
            }
            _ => None,
        };
        match (request.method.as_str(), list_key) {
            ("GET", Some(key)) => Reply::json(
                200,
                &json!({key: [], "meta": {"key": key, "next_page_url": null}}),
            ),
            ("POST", Some(_)) => Reply::json(201, &json!({"sid": "XX"})),
            _ => Reply::json(200, &json!({"sid": "XX"})),
        }
    }));
    let mut failures = Vec::new();
    for (args, method, path, pairs) in rows() {
        let before = recorder.count();
        let output = Command::cargo_bin("trctl")
            .unwrap()
            .env_clear()
            .current_dir(dir.path())
            .args([
                "--base-url",
                &recorder.url,
                "--account-sid",
                ACCOUNT,
                "--auth-token",
                TOKEN,
                "--workspace",
                WS,
                "-o",
                "json",
            ])
            .args(&args)
            .output()
            .unwrap();
        if !output.status.success() {
            failures.push(format!(
                "{args:?}: exit {:?}: {}",
                output.status.code(),
                String::from_utf8_lossy(&output.stderr)
            ));
            continue;
        }
        let requests = recorder.requests();
        let Some(last) = requests.get(before..).and_then(|new| new.last()) else {
            failures.push(format!("{args:?}: no request"));
            continue;
        };
        let got: Vec<(String, String)> = if method == "POST" {
            last.form.clone()
        } else {
            last.query.clone()
        };
        let want: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        if (last.method.as_str(), last.path.as_str()) != (method, path.as_str()) || got != want {
            failures.push(format!(
                "{args:?}:\n  want {method} {path} {want:?}\n  got  {} {} {got:?}",
                last.method, last.path
            ));
        }
        if method == "DELETE"
            && args.contains(&"--if-match".to_string())
            && last.headers.get("if-match").map(String::as_str) != Some("2")
        {
            failures.push(format!("{args:?}: If-Match header missing"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} commands sent the wrong request:\n{}",
        failures.len(),
        rows().len(),
        failures.join("\n")
    );
}
