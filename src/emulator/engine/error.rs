//! Errors the engine answers with: Twilio's status, code and message.
//!
//! Message texts live here so their wording is reviewed as a set: every refusal has one
//! constructor below, and call sites name the failure rather than spell its text. Codes follow WIRE.md
//! §3: 20001 for bad requests and refused state changes (TaskRouter's generic
//! bad-request code; exact codes for several cases are unconfirmed there), 20404 for
//! unknown resources, 20412 for a failed If-Match.

use std::fmt::Display;

use crate::api::resources::TaskStatus;

/// A refusal, in Twilio's terms.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status} {code}: {message}")]
pub struct EngineError {
    /// HTTP status.
    pub status: u16,
    /// Twilio error code.
    pub code: i64,
    /// Message.
    pub message: String,
}

impl EngineError {
    /// 404 / 20404 for the resource at `path` (below `/v1`).
    pub fn not_found(path: &str) -> EngineError {
        EngineError {
            status: 404,
            code: 20404,
            message: format!("The requested resource {path} was not found"),
        }
    }
    /// 404 / 20404: no workspace `sid`.
    pub fn no_workspace(sid: &str) -> EngineError {
        EngineError::not_found(&format!("/Workspaces/{sid}"))
    }
    /// 404 / 20404: no `sid` in the workspace's `collection` (its URL segment, such as
    /// `Tasks` or `TaskQueues`).
    pub fn not_in_workspace(workspace: &str, collection: &str, sid: &str) -> EngineError {
        EngineError::not_found(&format!("/Workspaces/{workspace}/{collection}/{sid}"))
    }
    /// 400 / 20001 with a message: only for the named constructors below, so the text of
    /// each refusal is written once.
    fn bad_request(message: impl Into<String>) -> EngineError {
        EngineError {
            status: 400,
            code: 20001,
            message: message.into(),
        }
    }
    /// 412 / 20412: the If-Match value is not the current version.
    pub fn precondition_failed(expected: &str, actual: u64) -> EngineError {
        EngineError {
            status: 412,
            code: 20412,
            message: format!(
                "Precondition Failed: If-Match {expected} does not match the current version {actual}"
            ),
        }
    }
    /// 400 / 20001: something still refers to the resource being deleted.
    pub fn in_use(what: &str, sid: &str, by: &str) -> EngineError {
        EngineError::bad_request(format!("Cannot delete {what} {sid}: it is in use by {by}"))
    }
    /// 400 / 20001: a name that must be unique is taken.
    pub fn duplicate(what: &str, name: &str, workspace: &str, account: &str) -> EngineError {
        EngineError::bad_request(format!(
            "{what} named {name} already exists for workspace {workspace} for account {account}"
        ))
    }

    // Parameters: missing, malformed or out of bounds. All 400 / 20001.

    /// A required parameter is absent or empty (`name` may list alternatives).
    pub fn missing_parameter(name: &str) -> EngineError {
        EngineError::bad_request(format!(
            "Missing required parameter {name} in the post body"
        ))
    }
    /// An instruction needs a parameter the request does not carry.
    pub fn missing_instruction_parameter(name: &str, instruction: &str) -> EngineError {
        EngineError::bad_request(format!(
            "Missing required parameter {name} for the {instruction} instruction"
        ))
    }
    /// An enumerated parameter has a value outside `allowed`.
    pub fn not_one_of(name: &str, value: &str, allowed: &[&str]) -> EngineError {
        EngineError::bad_request(format!(
            "Invalid {name}: {value:?} is not one of {}",
            allowed.join(", ")
        ))
    }
    /// A numeric parameter outside its inclusive bounds.
    pub fn out_of_range(name: &str, value: i64, min: i64, max: i64) -> EngineError {
        EngineError::bad_request(format!(
            "Invalid {name} {value}: it must be between {min} and {max}"
        ))
    }
    /// A URL parameter that does not parse.
    pub fn invalid_url(name: &str, text: &str) -> EngineError {
        EngineError::bad_request(format!("Invalid {name}: {text:?} is not a URL"))
    }
    /// A URL parameter whose scheme is neither http nor https.
    pub fn not_http_url(name: &str, text: &str) -> EngineError {
        EngineError::bad_request(format!("Invalid {name}: {text:?} is not an http(s) URL"))
    }
    /// A name longer than the 64 characters TaskRouter allows.
    pub fn name_too_long(name: &str) -> EngineError {
        EngineError::bad_request(format!("Invalid {name}: longer than 64 characters"))
    }
    /// A date-time parameter that is not ISO 8601.
    pub fn invalid_date_time(name: &str, text: &str) -> EngineError {
        EngineError::bad_request(format!(
            "Invalid {name}: {text:?} is not an ISO 8601 date-time such as 2024-01-02T03:04:05Z"
        ))
    }
    /// `Attributes` longer than `limit` characters.
    pub fn attributes_too_long(chars: usize, limit: usize) -> EngineError {
        EngineError::bad_request(format!(
            "Invalid Attributes: {chars} characters is more than the {limit} allowed"
        ))
    }
    /// `Attributes` that do not parse as JSON.
    pub fn attributes_not_json(err: impl Display) -> EngineError {
        EngineError::bad_request(format!("Invalid Attributes: not valid JSON ({err})"))
    }
    /// `Attributes` that are JSON but not an object.
    pub fn attributes_not_object() -> EngineError {
        EngineError::bad_request("Invalid Attributes: the JSON must be an object")
    }
    /// A parameter other than `Attributes` that must hold a JSON object.
    pub fn not_a_json_object(name: &str, text: &str) -> EngineError {
        EngineError::bad_request(format!("Invalid {name}: {text:?} is not a JSON object"))
    }
    /// An expression parameter that does not compile.
    pub fn invalid_expression(name: &str, text: &str, err: impl Display) -> EngineError {
        EngineError::bad_request(format!("Invalid {name} expression {text:?}: {err}"))
    }
    /// An expression parameter over a size limit; the oversized text is left out.
    pub fn expression_over_limit(name: &str, err: impl Display) -> EngineError {
        EngineError::bad_request(format!("Invalid {name}: {name} {err}"))
    }
    /// A workflow `Configuration` over `limit` bytes.
    pub fn configuration_too_large(bytes: usize, limit: usize) -> EngineError {
        EngineError::bad_request(format!(
            "Invalid Configuration: {bytes} bytes is more than the {limit} allowed"
        ))
    }
    /// A workflow `Configuration` the workflow library refuses.
    pub fn invalid_configuration(err: impl Display) -> EngineError {
        EngineError::bad_request(format!("Invalid Configuration: {err}"))
    }
    /// A TaskChannel `UniqueName` that could not be used in expressions.
    pub fn invalid_unique_name(unique_name: &str) -> EngineError {
        EngineError::bad_request(format!(
            "Invalid UniqueName {unique_name:?}: it may not contain hyphens or spaces"
        ))
    }

    // References to resources the workspace does not have. All 400 / 20001.

    /// Parameter `name` names an activity that does not exist.
    pub fn unknown_activity(name: &str, sid: &str, workspace: &str) -> EngineError {
        EngineError::bad_request(format!(
            "Invalid {name}: activity {sid} does not exist in workspace {workspace}"
        ))
    }
    /// Parameter `name` names a worker that does not exist.
    pub fn unknown_worker(name: &str, sid: &str, workspace: &str) -> EngineError {
        EngineError::bad_request(format!(
            "Invalid {name}: worker {sid} does not exist in workspace {workspace}"
        ))
    }
    /// Parameter `name` names a task queue that does not exist.
    pub fn unknown_queue(name: &str, sid: &str, workspace: &str) -> EngineError {
        EngineError::bad_request(format!(
            "Invalid {name}: task queue {sid} does not exist in workspace {workspace}"
        ))
    }
    /// `TaskQueueName` matches no queue's friendly name.
    pub fn no_queue_named(queue_name: &str, workspace: &str) -> EngineError {
        EngineError::bad_request(format!(
            "Invalid TaskQueueName: no task queue named {queue_name} in workspace {workspace}"
        ))
    }
    /// Parameter `name` names a workflow that does not exist.
    pub fn unknown_workflow(name: &str, sid: &str, workspace: &str) -> EngineError {
        EngineError::bad_request(format!(
            "Invalid {name}: workflow {sid} does not exist in workspace {workspace}"
        ))
    }
    /// `TaskChannel` (a SID or unique name) matches no channel.
    pub fn unknown_task_channel(reference: &str, workspace: &str) -> EngineError {
        EngineError::bad_request(format!(
            "Invalid TaskChannel: {reference} is not a task channel of workspace {workspace}"
        ))
    }
    /// A TaskChannel unique name that is taken.
    pub fn duplicate_channel(unique_name: &str, workspace: &str) -> EngineError {
        EngineError::bad_request(format!(
            "Task channel with unique name {unique_name} already exists for workspace {workspace}"
        ))
    }

    // Refused state changes. All 400 / 20001.

    /// A task may not move from its status to `status` (messages as observed, WIRE.md §3.3).
    pub fn task_cannot_become(
        sid: &str,
        workspace: &str,
        account: &str,
        status: TaskStatus,
    ) -> EngineError {
        EngineError::bad_request(match status {
            TaskStatus::Canceled => format!("Cannot cancel task {sid} in workspace {workspace} for account {account} because it is not pending or reserved."),
            TaskStatus::Wrapping => format!("Cannot wrap up a task {sid} in workspace {workspace} for account {account} because it's not currently assigned"),
            TaskStatus::Completed => format!("Cannot complete task {sid} in workspace {workspace} for account {account} because it is not assigned or wrapping."),
            TaskStatus::Pending | TaskStatus::Reserved | TaskStatus::Assigned => format!("Cannot update task {sid} to status {status}: only canceled, wrapping and completed can be requested"),
        })
    }
    /// `Attributes` sent with a move to wrapping or completed.
    pub fn attributes_with_closing_status() -> EngineError {
        EngineError::bad_request("Attributes cannot be changed in the same request that moves a task to wrapping or completed; send two requests")
    }
    /// A reservation that is no longer pending cannot be updated.
    pub fn reservation_not_pending(sid: &str, current: impl Display) -> EngineError {
        EngineError::bad_request(format!(
            "Reservation {sid} is already in state [{current}] and cannot be updated"
        ))
    }
    /// A reservation may not move from `current` to the requested `status`.
    pub fn reservation_cannot_become(
        sid: &str,
        current: impl Display,
        status: impl Display,
    ) -> EngineError {
        EngineError::bad_request(format!(
            "Reservation {sid} is already in state [{current}] and cannot be updated to [{status}]"
        ))
    }
    /// An instruction for a reservation that is no longer pending.
    pub fn reservation_cannot_take(
        sid: &str,
        current: impl Display,
        instruction: &str,
    ) -> EngineError {
        EngineError::bad_request(format!(
            "Reservation {sid} is already in state [{current}] and cannot take the {instruction} instruction"
        ))
    }
    /// `supervise` on a reservation that is not accepted.
    pub fn supervise_unaccepted(sid: &str, current: impl Display) -> EngineError {
        EngineError::bad_request(format!(
            "Reservation {sid} must be accepted before it can be supervised (it is {current})"
        ))
    }
    /// `RejectPendingReservations` with a move to an available activity.
    pub fn reject_pending_needs_unavailable() -> EngineError {
        EngineError::bad_request("RejectPendingReservations is only allowed when moving the worker to an unavailable activity")
    }

    // List filters and statistics windows. All 400 / 20001.

    /// An `AssignmentStatus` filter value that is not a task status.
    pub fn invalid_assignment_status_filter(value: &str, allowed: &[&str]) -> EngineError {
        EngineError::bad_request(format!(
            "Invalid AssignmentStatus {value:?}: it must be one of {}",
            allowed.join(", ")
        ))
    }
    /// A `ReservationStatus` filter value that is not a reservation status.
    pub fn invalid_reservation_status_filter(value: &str) -> EngineError {
        EngineError::bad_request(format!("Invalid ReservationStatus {value:?}"))
    }
    /// An `Ordering` key other than the sortable ones.
    pub fn invalid_ordering(ordering: &str) -> EngineError {
        EngineError::bad_request(format!(
            "Invalid Ordering {ordering:?}: sort by DateCreated, Priority or VirtualStartTime"
        ))
    }
    /// An `Ordering` that sorts by both DateCreated and VirtualStartTime.
    pub fn ordering_conflict() -> EngineError {
        EngineError::bad_request(
            "Invalid Ordering: DateCreated and VirtualStartTime cannot be combined",
        )
    }
    /// A statistics window given both as `Minutes` and as dates.
    pub fn minutes_with_dates() -> EngineError {
        EngineError::bad_request("Minutes cannot be combined with StartDate or EndDate")
    }
    /// A statistics window of zero or fewer `Minutes`.
    pub fn minutes_not_positive(minutes: i64) -> EngineError {
        EngineError::bad_request(format!("Invalid Minutes {minutes}: it must be positive"))
    }
    /// A `SplitByWaitTime` list with an entry that is not an integer.
    pub fn invalid_split_by_wait_time(text: &str) -> EngineError {
        EngineError::bad_request(format!("Invalid SplitByWaitTime: {text:?}"))
    }
    /// Bulk queue statistics asked for no queues or more than 50.
    pub fn queue_sids_count(count: usize) -> EngineError {
        EngineError::bad_request(format!(
            "QueueSids must list between 1 and 50 task queue SIDs, got {count}"
        ))
    }
    /// A `QueueSids` entry that is not a task queue SID.
    pub fn invalid_queue_sid(text: &str) -> EngineError {
        EngineError::bad_request(format!(
            "Invalid QueueSids: {text:?} is not a task queue SID"
        ))
    }

    // Paging. All 400 / 20001.

    /// `PageSize` outside 1..=the maximum, or not a number.
    pub fn invalid_page_size() -> EngineError {
        EngineError::bad_request("Invalid PageSize.")
    }
    /// `Page` that is not a number.
    pub fn invalid_page() -> EngineError {
        EngineError::bad_request("Invalid Page.")
    }
    /// `Page` without `PageToken` (absolute paging was retired: warning 40153, then 400).
    pub fn absolute_paging() -> EngineError {
        EngineError::bad_request("Absolute paging (Page without PageToken) is not supported on TaskRouter lists; follow meta.next_page_url")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each refusal's wire text, spelled out in full: clients and the compat suite match
    /// on these, so a change here should be deliberate.
    #[test]
    fn refusals_keep_their_wire_texts() {
        let ws = "WS1";
        let cases: Vec<(EngineError, &str)> = vec![
            (EngineError::missing_parameter("FriendlyName"), "Missing required parameter FriendlyName in the post body"),
            (EngineError::missing_instruction_parameter("CallFrom", "call"), "Missing required parameter CallFrom for the call instruction"),
            (EngineError::not_one_of("TaskOrder", "x", &["FIFO", "LIFO"]), "Invalid TaskOrder: \"x\" is not one of FIFO, LIFO"),
            (EngineError::out_of_range("Capacity", 51, 0, 50), "Invalid Capacity 51: it must be between 0 and 50"),
            (EngineError::invalid_url("EventCallbackUrl", "nope"), "Invalid EventCallbackUrl: \"nope\" is not a URL"),
            (EngineError::not_http_url("EventCallbackUrl", "ftp://h"), "Invalid EventCallbackUrl: \"ftp://h\" is not an http(s) URL"),
            (EngineError::name_too_long("FriendlyName"), "Invalid FriendlyName: longer than 64 characters"),
            (EngineError::invalid_date_time("StartDate", "soon"), "Invalid StartDate: \"soon\" is not an ISO 8601 date-time such as 2024-01-02T03:04:05Z"),
            (EngineError::attributes_too_long(5000, 4096), "Invalid Attributes: 5000 characters is more than the 4096 allowed"),
            (EngineError::attributes_not_json("eof"), "Invalid Attributes: not valid JSON (eof)"),
            (EngineError::attributes_not_object(), "Invalid Attributes: the JSON must be an object"),
            (EngineError::not_a_json_object("EvaluateWorkerAttributes", "[1]"), "Invalid EvaluateWorkerAttributes: \"[1]\" is not a JSON object"),
            (EngineError::invalid_expression("TargetWorkers", "a ==", "bad"), "Invalid TargetWorkers expression \"a ==\": bad"),
            (EngineError::expression_over_limit("TargetWorkers", "has 300 terms"), "Invalid TargetWorkers: TargetWorkers has 300 terms"),
            (EngineError::configuration_too_large(9, 8), "Invalid Configuration: 9 bytes is more than the 8 allowed"),
            (EngineError::invalid_configuration("no filters"), "Invalid Configuration: no filters"),
            (EngineError::invalid_unique_name("a-b"), "Invalid UniqueName \"a-b\": it may not contain hyphens or spaces"),
            (EngineError::unknown_activity("ActivitySid", "WA1", ws), "Invalid ActivitySid: activity WA1 does not exist in workspace WS1"),
            (EngineError::unknown_worker("RoutingTarget", "WK1", ws), "Invalid RoutingTarget: worker WK1 does not exist in workspace WS1"),
            (EngineError::unknown_queue("TaskQueueSid", "WQ1", ws), "Invalid TaskQueueSid: task queue WQ1 does not exist in workspace WS1"),
            (EngineError::no_queue_named("Sales", ws), "Invalid TaskQueueName: no task queue named Sales in workspace WS1"),
            (EngineError::unknown_workflow("WorkflowSid", "WW1", ws), "Invalid WorkflowSid: workflow WW1 does not exist in workspace WS1"),
            (EngineError::unknown_task_channel("sms", ws), "Invalid TaskChannel: sms is not a task channel of workspace WS1"),
            (EngineError::duplicate_channel("sms", ws), "Task channel with unique name sms already exists for workspace WS1"),
            (EngineError::duplicate("Queue", "Sales", ws, "AC1"), "Queue named Sales already exists for workspace WS1 for account AC1"),
            (EngineError::in_use("worker", "WK1", "reservation WR1"), "Cannot delete worker WK1: it is in use by reservation WR1"),
            (EngineError::task_cannot_become("WT1", ws, "AC1", TaskStatus::Canceled), "Cannot cancel task WT1 in workspace WS1 for account AC1 because it is not pending or reserved."),
            (EngineError::task_cannot_become("WT1", ws, "AC1", TaskStatus::Wrapping), "Cannot wrap up a task WT1 in workspace WS1 for account AC1 because it's not currently assigned"),
            (EngineError::task_cannot_become("WT1", ws, "AC1", TaskStatus::Completed), "Cannot complete task WT1 in workspace WS1 for account AC1 because it is not assigned or wrapping."),
            (EngineError::task_cannot_become("WT1", ws, "AC1", TaskStatus::Reserved), "Cannot update task WT1 to status reserved: only canceled, wrapping and completed can be requested"),
            (EngineError::attributes_with_closing_status(), "Attributes cannot be changed in the same request that moves a task to wrapping or completed; send two requests"),
            (EngineError::reservation_not_pending("WR1", "accepted"), "Reservation WR1 is already in state [accepted] and cannot be updated"),
            (EngineError::reservation_cannot_become("WR1", "accepted", "rejected"), "Reservation WR1 is already in state [accepted] and cannot be updated to [rejected]"),
            (EngineError::reservation_cannot_take("WR1", "accepted", "dequeue"), "Reservation WR1 is already in state [accepted] and cannot take the dequeue instruction"),
            (EngineError::supervise_unaccepted("WR1", "pending"), "Reservation WR1 must be accepted before it can be supervised (it is pending)"),
            (EngineError::reject_pending_needs_unavailable(), "RejectPendingReservations is only allowed when moving the worker to an unavailable activity"),
            (EngineError::invalid_assignment_status_filter("lost", &["pending", "reserved"]), "Invalid AssignmentStatus \"lost\": it must be one of pending, reserved"),
            (EngineError::invalid_reservation_status_filter("lost"), "Invalid ReservationStatus \"lost\""),
            (EngineError::invalid_ordering("Age"), "Invalid Ordering \"Age\": sort by DateCreated, Priority or VirtualStartTime"),
            (EngineError::ordering_conflict(), "Invalid Ordering: DateCreated and VirtualStartTime cannot be combined"),
            (EngineError::minutes_with_dates(), "Minutes cannot be combined with StartDate or EndDate"),
            (EngineError::minutes_not_positive(0), "Invalid Minutes 0: it must be positive"),
            (EngineError::invalid_split_by_wait_time("5,x"), "Invalid SplitByWaitTime: \"5,x\""),
            (EngineError::queue_sids_count(51), "QueueSids must list between 1 and 50 task queue SIDs, got 51"),
            (EngineError::invalid_queue_sid("WX1"), "Invalid QueueSids: \"WX1\" is not a task queue SID"),
            (EngineError::invalid_page_size(), "Invalid PageSize."),
            (EngineError::invalid_page(), "Invalid Page."),
            (EngineError::absolute_paging(), "Absolute paging (Page without PageToken) is not supported on TaskRouter lists; follow meta.next_page_url"),
        ];
        for (error, message) in cases {
            assert_eq!((error.status, error.code), (400, 20001), "{message}");
            assert_eq!(error.message, message);
        }
    }

    #[test]
    fn missing_resources_are_404_with_their_path() {
        let error = EngineError::not_in_workspace("WS1", "TaskQueues", "WQ1");
        assert_eq!((error.status, error.code), (404, 20404));
        assert_eq!(
            error.message,
            "The requested resource /Workspaces/WS1/TaskQueues/WQ1 was not found"
        );
        assert_eq!(
            EngineError::no_workspace("WS1").message,
            "The requested resource /Workspaces/WS1 was not found"
        );
        let stale = EngineError::precondition_failed("\"3\"", 4);
        assert_eq!((stale.status, stale.code), (412, 20412));
        assert_eq!(
            stale.message,
            "Precondition Failed: If-Match \"3\" does not match the current version 4"
        );
    }
}
