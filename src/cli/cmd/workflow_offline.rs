//! `trctl workflow validate` and `trctl workflow test`: check and try a workflow
//! configuration offline.
//!
//! Reads the configuration (a file, `@file`, `-` or inline JSON; a bare config or a
//! Workflow resource), the optional queue and worker lists (as `trctl queue list` /
//! `worker list --output json` print them, or the API's list pages), and prints what
//! [`crate::workflow`] decides: errors with JSON paths, the route a task takes, and which
//! workers each step could reserve. No network; routing rules live in `workflow`.

use std::borrow::Cow;
use std::io::{self, Write};
use std::path::Path;

use clap::Args;
use serde_json::{json, Value};

use crate::cli::input::json_arg;
use crate::expr::{TimeOfDay, WorkerView};
use crate::workflow::{
    plan, CompiledStep, CompiledWorkflow, ConfigErrorKind, ConfigErrors, EndReason, FilterChoice,
    Ineligible, QueueDef, RouteInput, RoutePlan, StepContext, StepExit, StepVisit, TargetWorkers,
    WorkerVerdict, DEFAULT_TASK_TTL,
};

use super::expr::{fail, finish, now, parse_error_json, render_parse_error};

/// Arguments of `trctl workflow validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Workflow configuration: a file path, @file, - (stdin) or inline JSON. A Workflow
    /// resource whose `configuration` field holds the document is accepted too.
    #[arg(value_name = "CONFIG")]
    pub config: String,
    /// Queues the configuration may reference (every `queue` must be one of their SIDs):
    /// the JSON of `trctl queue list --output json`, or an API page {"task_queues": […]}.
    #[arg(long, value_name = "FILE")]
    pub queues: Option<String>,
}

/// Arguments of `trctl workflow test`.
#[derive(Debug, Args)]
pub struct TestArgs {
    /// Workflow configuration: a file path, @file, - (stdin) or inline JSON (bare, or a
    /// Workflow resource).
    #[arg(value_name = "CONFIG")]
    pub config: String,
    /// The task's attributes: inline JSON, @file or -.
    #[arg(long, value_name = "JSON")]
    pub attributes: String,
    /// Task age in seconds at which to report the active step.
    #[arg(long, value_name = "SECONDS", default_value_t = 0)]
    pub at: u64,
    /// Queues, to show names and check target_workers (as for `validate`).
    #[arg(long, value_name = "FILE")]
    pub queues: Option<String>,
    /// Workers, to show who is eligible at each step and to decide skip_if: the JSON of
    /// `trctl worker list --output json`, or an API page {"workers": […]}.
    #[arg(long, value_name = "FILE")]
    pub workers: Option<String>,
    /// The priority the task is created with.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub priority: u32,
    /// The task's TTL in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = DEFAULT_TASK_TTL)]
    pub ttl: u64,
    /// Time of day for taskrouter.* variables, as `DAY HH:MM` in UTC [default: now].
    #[arg(long, value_name = "DAY HH:MM")]
    pub time: Option<TimeOfDay>,
}

/// A worker read from a file or flag, owning what a [`WorkerView`] borrows.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct WorkerRecord {
    sid: String,
    friendly_name: String,
    activity_sid: String,
    activity_name: String,
    available: bool,
    attributes: Value,
}

impl WorkerRecord {
    /// A Worker resource (`attributes` is a JSON string, as the API returns it, or an
    /// object), or, when the value has no `attributes` key, a bare attributes object.
    pub(crate) fn from_value(value: &Value, label: &str) -> Result<Self, String> {
        let Value::Object(map) = value else {
            return Err(format!("{label}: expected a JSON object"));
        };
        if !map.contains_key("attributes") {
            return Ok(WorkerRecord {
                sid: String::new(),
                friendly_name: String::new(),
                activity_sid: String::new(),
                activity_name: String::new(),
                available: true,
                attributes: value.clone(),
            });
        }
        let text = |key: &str| -> Result<String, String> {
            match map.get(key) {
                None | Some(Value::Null) => Ok(String::new()),
                Some(Value::String(text)) => Ok(text.clone()),
                Some(_) => Err(format!("{label}: `{key}` must be a string")),
            }
        };
        let attributes = match map.get("attributes") {
            Some(Value::String(text)) => serde_json::from_str(text)
                .map_err(|error| format!("{label}: `attributes` is not valid JSON: {error}"))?,
            Some(object @ Value::Object(_)) => object.clone(),
            _ => {
                return Err(format!(
                    "{label}: `attributes` must be a JSON string or object"
                ))
            }
        };
        let available = match map.get("available") {
            // Worker resources always carry `available`; a hand-written one may not, and
            // is then taken as available.
            None | Some(Value::Null) => true,
            Some(Value::Bool(flag)) => *flag,
            Some(_) => return Err(format!("{label}: `available` must be true or false")),
        };
        Ok(WorkerRecord {
            sid: text("sid")?,
            friendly_name: text("friendly_name")?,
            activity_sid: text("activity_sid")?,
            activity_name: text("activity_name")?,
            available,
            attributes,
        })
    }

    /// Borrow as a view for expressions.
    pub(crate) fn view(&self) -> WorkerView<'_> {
        WorkerView {
            sid: &self.sid,
            friendly_name: &self.friendly_name,
            activity_sid: &self.activity_sid,
            activity_name: &self.activity_name,
            available: self.available,
            attributes: &self.attributes,
            channels: &[],
        }
    }
}

/// Read a FILE|JSON argument: an existing path is read as a file; otherwise the usual
/// inline / `@file` / `-` rules apply.
fn read_text(flag: &str, value: &str) -> Result<String, String> {
    let inline = value.trim_start().starts_with(['{', '[']);
    let value = if value == "-" || value.starts_with('@') || inline {
        value.to_string()
    } else if Path::new(value).is_file() {
        format!("@{value}")
    } else {
        return Err(format!(
            "{flag}: no such file {value:?} (give a file path, @file, - for stdin, or inline JSON)"
        ));
    };
    json_arg(flag, &value).map_err(|error| error.to_string())
}

fn read_value(flag: &str, value: &str) -> Result<Value, String> {
    let text = read_text(flag, value)?;
    serde_json::from_str(&text).map_err(|error| format!("{flag} is not valid JSON: {error}"))
}

/// The items of a list file: a bare array, or the API page's array under `key`.
fn list_items(flag: &str, value: Value, key: &str) -> Result<Vec<Value>, String> {
    match value {
        Value::Array(items) => Ok(items),
        Value::Object(mut map) => match map.remove(key) {
            Some(Value::Array(items)) => Ok(items),
            _ => Err(format!(
                "{flag}: expected a JSON array, or an object with a \"{key}\" array"
            )),
        },
        _ => Err(format!(
            "{flag}: expected a JSON array, or an object with a \"{key}\" array"
        )),
    }
}

fn load_queues(value: &str) -> Result<Vec<QueueDef>, String> {
    let items = list_items("--queues", read_value("--queues", value)?, "task_queues")?;
    items
        .iter()
        .enumerate()
        .map(|(index, item)| {
            let label = format!("--queues: item {index}");
            let field = |key: &str| match item.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(text)) => Ok(Some(text.clone())),
                Some(_) => Err(format!("{label}: `{key}` must be a string")),
            };
            let sid = field("sid")?.ok_or_else(|| format!("{label}: `sid` is missing"))?;
            let friendly_name = field("friendly_name")?.unwrap_or_else(|| sid.clone());
            let target_workers = field("target_workers")?;
            let target_workers = TargetWorkers::from_field(target_workers.as_deref()).map_err(|error| {
                let source = target_workers.as_deref().unwrap_or_default();
                if error.kind.is_limit() {
                    return format!("{label} ({friendly_name}): target_workers {error}");
                }
                let (_, column) = error.line_column(source);
                format!(
                    "{label} ({friendly_name}): target_workers {source:?}: {error} (column {column})"
                )
            })?;
            Ok(QueueDef {
                sid,
                friendly_name,
                target_workers,
            })
        })
        .collect()
}

fn load_workers(value: &str) -> Result<Vec<WorkerRecord>, String> {
    let items = list_items("--workers", read_value("--workers", value)?, "workers")?;
    items
        .iter()
        .enumerate()
        .map(|(index, item)| WorkerRecord::from_value(item, &format!("--workers: item {index}")))
        .collect()
}

/// The configuration text: the argument itself, or a Workflow resource's `configuration`.
fn load_config_text(value: &str) -> Result<String, String> {
    let text = read_text("CONFIG", value)?;
    let document: Value = serde_json::from_str(&text)
        .map_err(|error| format!("CONFIG is not valid JSON: {error}"))?;
    match document.get("configuration") {
        Some(Value::String(inner)) if document.get("task_routing").is_none() => Ok(inner.clone()),
        Some(inner @ Value::Object(_)) if document.get("task_routing").is_none() => {
            Ok(inner.to_string())
        }
        _ => Ok(text),
    }
}

/// Load and compile a workflow, reporting problems; `Err` holds the exit code.
fn load_workflow(
    config: &str,
    queues: Option<&[QueueDef]>,
    json_output: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> io::Result<Result<CompiledWorkflow, u8>> {
    let text = match load_config_text(config) {
        Ok(text) => text,
        Err(message) => return fail(json_output, out, err, &message).map(Err),
    };
    match CompiledWorkflow::from_json(&text, queues) {
        Ok(workflow) => Ok(Ok(workflow)),
        Err(errors) => {
            report_errors(&errors, json_output, out, err)?;
            Ok(Err(2))
        }
    }
}

fn report_errors(
    errors: &ConfigErrors,
    json_output: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> io::Result<()> {
    if json_output {
        let list: Vec<Value> = errors
            .0
            .iter()
            .map(|error| {
                let mut entry = json!({"path": error.path, "message": error.kind.to_string()});
                if let ConfigErrorKind::Expression { source, error } = &error.kind {
                    entry["expression"] = parse_error_json(source, error);
                }
                entry
            })
            .collect();
        return writeln!(out, "{}", json!({"valid": false, "errors": list}));
    }
    let count = errors.0.len();
    writeln!(
        err,
        "invalid workflow configuration ({count} problem{}):",
        if count == 1 { "" } else { "s" }
    )?;
    for error in &errors.0 {
        writeln!(err, "- {error}")?;
        if let ConfigErrorKind::Expression { source, error } = &error.kind {
            for line in render_parse_error(source, error).lines().skip(1) {
                writeln!(err, "  {line}")?;
            }
        }
    }
    Ok(())
}

fn warnings_json(workflow: &CompiledWorkflow) -> Vec<Value> {
    workflow
        .warnings()
        .iter()
        .map(|warning| json!({"path": warning.path, "message": warning.kind.to_string()}))
        .collect()
}

fn write_warnings(workflow: &CompiledWorkflow, err: &mut dyn Write) -> io::Result<()> {
    for warning in workflow.warnings() {
        writeln!(err, "warning: {warning}")?;
    }
    Ok(())
}

fn optional_queues(
    queues: Option<&str>,
    json_output: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> io::Result<Result<Option<Vec<QueueDef>>, u8>> {
    match queues.map(load_queues).transpose() {
        Ok(queues) => Ok(Ok(queues)),
        Err(message) => fail(json_output, out, err, &message).map(Err),
    }
}

/// `trctl workflow validate`: exit 0 when valid (warnings on stderr), 2 when not.
pub fn validate(
    args: &ValidateArgs,
    json_output: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> u8 {
    finish(validate_inner(args, json_output, out, err), err)
}

fn validate_inner(
    args: &ValidateArgs,
    json_output: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> io::Result<u8> {
    let queues = match optional_queues(args.queues.as_deref(), json_output, out, err)? {
        Ok(queues) => queues,
        Err(code) => return Ok(code),
    };
    let workflow = match load_workflow(&args.config, queues.as_deref(), json_output, out, err)? {
        Ok(workflow) => workflow,
        Err(code) => return Ok(code),
    };
    let filters = workflow.filters().len();
    let default = workflow.default_filter().map(|step| step.queue.as_str());
    if json_output {
        writeln!(
            out,
            "{}",
            json!({
                "valid": true,
                "filters": filters,
                "default_filter": default,
                "warnings": warnings_json(&workflow),
            })
        )?;
    } else {
        let default = match default {
            Some(queue) => {
                format!("default filter → {}", queue_label(queue, queues.as_deref()))
            }
            None => "no default filter".to_string(),
        };
        writeln!(
            out,
            "ok: workflow configuration is valid ({filters} filter{}, {default})",
            if filters == 1 { "" } else { "s" }
        )?;
        write_warnings(&workflow, err)?;
    }
    Ok(0)
}

fn queue_label(sid: &str, queues: Option<&[QueueDef]>) -> String {
    match queues.and_then(|queues| queues.iter().find(|queue| queue.sid == sid)) {
        Some(queue) => format!("{} ({})", queue.friendly_name, queue.sid),
        None => sid.to_string(),
    }
}

fn queue_name<'q>(sid: &str, queues: Option<&'q [QueueDef]>) -> Option<&'q str> {
    queues?
        .iter()
        .find(|queue| queue.sid == sid)
        .map(|queue| queue.friendly_name.as_str())
}

/// Everything `test` reports about workers, precomputed per step.
struct WorkerReport {
    verdicts: Vec<WorkerVerdict>,
    /// The queue's target_workers as written, to say which rule a non-member failed.
    target_workers: String,
    /// The queue's target_workers was not known (no `--queues`, or the SID is missing).
    membership_assumed: bool,
}

fn judge_workers(
    step: &CompiledStep,
    queues: Option<&[QueueDef]>,
    attributes: &Value,
    time: TimeOfDay,
    views: &[WorkerView<'_>],
) -> WorkerReport {
    let (queue, membership_assumed) = step_queue(step, queues);
    let context = StepContext {
        step,
        queue: &queue,
        task: attributes,
        time: Some(time),
        task_channel: None,
    };
    WorkerReport {
        verdicts: context.explain(views),
        target_workers: queue.target_workers.describe(),
        membership_assumed,
    }
}

/// The step's queue from the list, or (flagged `true`) a stand-in that admits every
/// worker when the queue's target_workers is unknown.
fn step_queue<'q>(
    step: &CompiledStep,
    queues: Option<&'q [QueueDef]>,
) -> (Cow<'q, QueueDef>, bool) {
    match queues.and_then(|queues| queues.iter().find(|queue| queue.sid == step.queue)) {
        Some(queue) => (Cow::Borrowed(queue), false),
        None => (
            Cow::Owned(QueueDef {
                sid: step.queue.clone(),
                friendly_name: step.queue.clone(),
                target_workers: TargetWorkers::Everyone,
            }),
            true,
        ),
    }
}

/// `trctl workflow test`: print the route a task takes and, with `--workers`, who is
/// eligible at each step. Exit 0, or 2 for invalid input.
pub fn test(args: &TestArgs, json_output: bool, out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    finish(test_inner(args, json_output, out, err), err)
}

fn test_inner(
    args: &TestArgs,
    json_output: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> io::Result<u8> {
    let queues = match optional_queues(args.queues.as_deref(), json_output, out, err)? {
        Ok(queues) => queues,
        Err(code) => return Ok(code),
    };
    let loaded = read_value("--attributes", &args.attributes).and_then(|attributes| {
        let workers = args.workers.as_deref().map(load_workers).transpose()?;
        Ok((attributes, workers))
    });
    let (attributes, workers) = match loaded {
        Ok(loaded) => loaded,
        Err(message) => return fail(json_output, out, err, &message),
    };
    let workflow = match load_workflow(&args.config, queues.as_deref(), json_output, out, err)? {
        Ok(workflow) => workflow,
        Err(code) => return Ok(code),
    };
    let time = args.time.unwrap_or_else(now);
    let views: Option<Vec<WorkerView<'_>>> = workers
        .as_ref()
        .map(|workers| workers.iter().map(WorkerRecord::view).collect());
    let input = RouteInput {
        attributes: &attributes,
        age: args.at,
        priority: args.priority,
        ttl: args.ttl,
        time: Some(time),
    };
    // With workers known, a step with skip_if is skipped on entry when nobody is
    // reservable and the condition holds (ROUTING.md §2.3.4); without them it never is.
    let queue_list = queues.as_deref();
    let mut skips = |_: FilterChoice, step: &CompiledStep| match &views {
        Some(views) => {
            let (queue, _) = step_queue(step, queue_list);
            StepContext {
                step,
                queue: &queue,
                task: &attributes,
                time: Some(time),
                task_channel: None,
            }
            .skips_on_entry(views)
        }
        None => false,
    };
    let route = plan(&workflow, &input, &mut skips);
    let reports: Vec<Vec<Option<WorkerReport>>> = route
        .legs
        .iter()
        .map(|leg| {
            leg.steps
                .iter()
                .map(|visit| {
                    views.as_deref().map(|views| {
                        judge_workers(visit.step, queue_list, &attributes, time, views)
                    })
                })
                .collect()
        })
        .collect();
    if json_output {
        let body = route_json(&workflow, &route, &reports, queue_list, views.is_some());
        writeln!(out, "{body}")?;
    } else {
        write_route(
            out,
            &workflow,
            &route,
            &reports,
            queue_list,
            views.is_some(),
        )?;
        write_warnings(&workflow, err)?;
    }
    Ok(0)
}

fn filter_label(workflow: &CompiledWorkflow, choice: FilterChoice) -> String {
    match choice {
        FilterChoice::Filter(index) => match workflow.filters().get(index) {
            Some(filter) => format!("filter {} ({})", filter.label(), filter.expression.source()),
            None => format!("filter #{index}"),
        },
        FilterChoice::Default => "default filter".to_string(),
    }
}

fn exit_text(visit: &StepVisit<'_>) -> String {
    match (visit.exit, visit.left_at) {
        (StepExit::TimedOut, Some(left)) => format!("times out at {left}s"),
        (StepExit::Skipped, _) => "skipped on entry (skip_if true, nobody reservable)".to_string(),
        (StepExit::TtlExpires, Some(left)) => format!("TTL ends at {left}s"),
        _ => "waits until assigned or the TTL ends".to_string(),
    }
}

fn write_route(
    out: &mut dyn Write,
    workflow: &CompiledWorkflow,
    route: &RoutePlan<'_>,
    reports: &[Vec<Option<WorkerReport>>],
    queues: Option<&[QueueDef]>,
    workers_known: bool,
) -> io::Result<()> {
    match (
        route.matched_filter(),
        route.legs.first().map(|leg| leg.filter),
    ) {
        (Some(index), _) => writeln!(
            out,
            "matched: {}",
            filter_label(workflow, FilterChoice::Filter(index))
        )?,
        (None, Some(FilterChoice::Default)) => {
            writeln!(out, "matched: no filter; the default filter applies")?
        }
        _ => writeln!(out, "matched: no filter, and there is no default filter")?,
    }
    for (leg_index, leg) in route.legs.iter().enumerate() {
        writeln!(
            out,
            "{} (entered at {}s):",
            filter_label(workflow, leg.filter),
            leg.entered_at
        )?;
        for (visit_index, visit) in leg.steps.iter().enumerate() {
            let step = visit.step;
            let active = route
                .active
                .is_some_and(|active| active.leg == leg_index && active.visit == visit_index);
            let timeout = step.timeout.map_or("no timeout".to_string(), |timeout| {
                format!("timeout {timeout}s")
            });
            writeln!(
                out,
                "  step {}: queue {}{}, priority {}, {timeout}; from {}s, {}{}",
                step.index,
                queue_label(&step.queue, queues),
                if step.queue_inherited {
                    " (inherited)"
                } else {
                    ""
                },
                visit.priority,
                visit.entered_at,
                exit_text(visit),
                if active {
                    format!("   <- active at {}s", route.age)
                } else {
                    String::new()
                },
            )?;
            if let Some(expression) = &step.expression {
                writeln!(out, "    target expression: {}", expression.source())?;
            }
            if let Some(skip_if) = &step.skip_if {
                let note = if workers_known {
                    ""
                } else {
                    " (not evaluated: pass --workers)"
                };
                writeln!(out, "    skip_if: {}{note}", skip_if.source())?;
            }
            if let Some(known) = &step.known_worker {
                writeln!(out, "    known worker: {}", known.attribute)?;
            }
            if let Some(Some(report)) = reports.get(leg_index).and_then(|leg| leg.get(visit_index))
            {
                write_workers(out, report)?;
            }
        }
    }
    let end = route.end;
    writeln!(out, "outcome at {}s: {}", end.at, end.reason.describe())?;
    match route.active_visit() {
        Some((leg, visit)) => writeln!(
            out,
            "at {}s: in step {} of the {}, queue {}, priority {}",
            route.age,
            visit.step.index,
            filter_label(workflow, leg.filter),
            queue_label(&visit.step.queue, queues),
            visit.priority
        ),
        None => writeln!(
            out,
            "at {}s: no longer routed ({})",
            route.age,
            end_word(end.reason)
        ),
    }
}

fn end_word(reason: EndReason) -> &'static str {
    match reason {
        EndReason::TtlExceeded => "canceled: Task TTL Exceeded",
        EndReason::WorkflowTimeout => "canceled: workflow.timeout",
        EndReason::WorkflowSkipped => "removed: workflow.skipped",
        EndReason::NoFilterMatched => "canceled on entry: no filter matched",
    }
}

fn write_workers(out: &mut dyn Write, report: &WorkerReport) -> io::Result<()> {
    if report.membership_assumed {
        writeln!(out, "    workers (queue target_workers unknown, every worker counted as a member; pass --queues):")?;
    } else {
        writeln!(out, "    workers:")?;
    }
    for verdict in &report.verdicts {
        let name = if verdict.friendly_name.is_empty() {
            &verdict.sid
        } else {
            &verdict.friendly_name
        };
        if verdict.eligible() {
            writeln!(out, "      eligible      {name} ({})", verdict.sid)?;
        } else {
            let reasons: Vec<String> = verdict
                .reasons
                .iter()
                .map(|reason| match reason {
                    Ineligible::NotInQueue => {
                        format!(
                            "not a member of the queue (target_workers `{}` is false)",
                            report.target_workers
                        )
                    }
                    other => other.to_string(),
                })
                .collect();
            writeln!(
                out,
                "      not eligible  {name} ({}): {}",
                verdict.sid,
                reasons.join("; ")
            )?;
        }
    }
    Ok(())
}

fn route_json(
    workflow: &CompiledWorkflow,
    route: &RoutePlan<'_>,
    reports: &[Vec<Option<WorkerReport>>],
    queues: Option<&[QueueDef]>,
    workers_known: bool,
) -> Value {
    let filter_json = |choice: FilterChoice| match choice {
        FilterChoice::Filter(index) => {
            let filter = workflow.filters().get(index);
            json!({
                "index": index,
                "name": filter.and_then(|filter| filter.name.clone()),
                "expression": filter.map(|filter| filter.expression.source()),
            })
        }
        FilterChoice::Default => json!("default"),
    };
    let legs: Vec<Value> = route
        .legs
        .iter()
        .enumerate()
        .map(|(leg_index, leg)| {
            let steps: Vec<Value> = leg
                .steps
                .iter()
                .enumerate()
                .map(|(visit_index, visit)| {
                    let step = visit.step;
                    let mut entry = json!({
                        "step": step.index,
                        "queue_sid": step.queue,
                        "queue_name": queue_name(&step.queue, queues),
                        "queue_inherited": step.queue_inherited,
                        "priority": visit.priority,
                        "timeout": step.timeout,
                        "entered_at": visit.entered_at,
                        "left_at": visit.left_at,
                        "exit": visit.exit,
                        "expression": step.expression.as_ref().map(|e| e.source()),
                        "skip_if": step.skip_if.as_ref().map(|e| e.source()),
                        "active": route.active.is_some_and(|a| a.leg == leg_index && a.visit == visit_index),
                    });
                    if let Some(Some(report)) = reports.get(leg_index).and_then(|leg| leg.get(visit_index)) {
                        entry["membership_assumed"] = json!(report.membership_assumed);
                        entry["workers"] = report
                            .verdicts
                            .iter()
                            .map(|verdict| {
                                json!({
                                    "sid": verdict.sid,
                                    "friendly_name": verdict.friendly_name,
                                    "eligible": verdict.eligible(),
                                    "reasons": verdict.reasons.iter().map(|reason| json!({
                                        "code": reason,
                                        "message": reason.to_string(),
                                    })).collect::<Vec<_>>(),
                                })
                            })
                            .collect();
                    }
                    entry
                })
                .collect();
            json!({"filter": filter_json(leg.filter), "entered_at": leg.entered_at, "steps": steps})
        })
        .collect();
    let active = route.active_visit().map(|(leg, visit)| {
        json!({
            "filter": filter_json(leg.filter),
            "step": visit.step.index,
            "queue_sid": visit.step.queue,
            "queue_name": queue_name(&visit.step.queue, queues),
            "priority": visit.priority,
            "expression": visit.step.expression.as_ref().map(|e| e.source()),
        })
    });
    json!({
        "matched_filter": route.matched_filter().map(|index| filter_json(FilterChoice::Filter(index))),
        "default_filter_used": route.legs.iter().any(|leg| leg.filter == FilterChoice::Default),
        "legs": legs,
        "at": route.age,
        "active": active,
        "outcome": {
            "at": route.end.at,
            "reason": route.end.reason,
            "event": route.end.reason.event(),
            "cancel_reason": route.end.reason.reason_text(),
            "description": route.end.reason.describe(),
        },
        "skip_if_evaluated": workers_known,
        "warnings": warnings_json(workflow),
    })
}
