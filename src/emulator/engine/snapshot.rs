//! The engine's state as plain data, to save and to restore (the emulator's `--state`
//! file). This module copies and rebuilds; it reads no file and no clock (`persist`
//! does the file side).
//!
//! A [`Snapshot`] is the [`State`] with everything that can be derived left out: the
//! compiled queue rules and workflow configurations, the parsed attributes, and the
//! indexes (pending tasks per queue, loads, each task's reservations, the idle order).
//! [`Snapshot::restore`] compiles, parses and rebuilds them from the records, so a
//! saved file can never hold an index that disagrees with its records. What cannot be
//! derived is kept: the records with their creation positions (empty slots included, so
//! page tokens and the idle/queue tie-breaks are unchanged), the timers with their
//! sequence numbers, and the SID source's memory, if it has any.
//!
//! One thing is neither a record nor derivable: a task keeps routing by the workflow
//! configuration it entered with when the workflow is updated without
//! `ReEvaluateTasks`. Most tasks route by their workflow's current configuration; only
//! the others are listed, and each distinct old configuration is saved once.

use std::collections::HashMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::query::Loads;
use super::state::{State, Workspace};
use crate::workflow::{CompiledWorkflow, TargetWorkers};

/// The engine's state as plain data.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Snapshot {
    /// Every workspace and its records, and the timers.
    pub state: State,
    /// Workflow configurations that some tasks still route by although their workflow
    /// has a newer one (each once, as its JSON document).
    pub configurations: Vec<Value>,
    /// Which task routes by which of `configurations`.
    pub routing: Vec<RoutingRef>,
    /// What the SID source remembers ([`super::SidSource::saved`]).
    pub sids: Option<String>,
}

/// A task that routes by a configuration other than its workflow's current one.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RoutingRef {
    /// Workspace.
    pub workspace: String,
    /// Task.
    pub task: String,
    /// Position in [`Snapshot::configurations`].
    pub configuration: usize,
}

/// A snapshot made whole again, ready to become an engine.
#[derive(Debug)]
pub struct Restored {
    pub(super) state: State,
    pub(super) sids: Option<String>,
}

impl Restored {
    /// The restored state, for reads.
    pub fn state(&self) -> &State {
        &self.state
    }
}

/// Copy `state` (the caller holds the engine, so this is the part to keep short).
pub(super) fn take(state: &State, sids: Option<String>) -> Snapshot {
    let mut configurations = Vec::new();
    let mut seen: HashMap<*const CompiledWorkflow, usize> = HashMap::new();
    let mut routing = Vec::new();
    for ws in state.workspaces.iter() {
        for task in ws.tasks.iter() {
            let Some(route) = &task.routing else {
                continue;
            };
            let current = task
                .workflow_sid
                .as_deref()
                .and_then(|sid| ws.workflows.get(sid))
                .is_some_and(|workflow| Arc::ptr_eq(&workflow.compiled, &route.workflow));
            if current {
                continue;
            }
            let configuration = *seen.entry(Arc::as_ptr(&route.workflow)).or_insert_with(|| {
                // A typed configuration always serializes; `null` would fail on restore.
                configurations
                    .push(serde_json::to_value(route.workflow.config()).unwrap_or_default());
                configurations.len() - 1
            });
            routing.push(RoutingRef {
                workspace: ws.sid.clone(),
                task: task.sid.clone(),
                configuration,
            });
        }
    }
    Snapshot {
        // The derived indexes are rebuilt on restore: not copying them keeps this short.
        state: State {
            account_sid: state.account_sid.clone(),
            workspaces: state.workspaces.copy_with(Workspace::records),
            deadlines: state.deadlines.clone(),
            deadline_seq: state.deadline_seq,
            keep_finished: state.keep_finished,
        },
        configurations,
        routing,
        sids,
    }
}

impl Snapshot {
    /// Compile, parse and index what the snapshot leaves out. Fails (with a message
    /// naming the record) on anything a state written by the engine cannot hold.
    pub fn restore(self) -> Result<Restored, String> {
        let Snapshot {
            mut state,
            configurations,
            routing,
            sids,
        } = self;
        let compiled = configurations
            .iter()
            .enumerate()
            .map(|(at, value)| {
                CompiledWorkflow::from_value(value, None)
                    .map(Arc::new)
                    .map_err(|err| format!("saved workflow configuration #{at} is invalid: {err}"))
            })
            .collect::<Result<Vec<_>, String>>()?;
        let mut old: HashMap<String, HashMap<String, Arc<CompiledWorkflow>>> = HashMap::new();
        for entry in routing {
            let Some(config) = compiled.get(entry.configuration) else {
                return Err(format!(
                    "task {} routes by configuration #{}, which is not saved",
                    entry.task, entry.configuration
                ));
            };
            old.entry(entry.workspace)
                .or_default()
                .insert(entry.task, config.clone());
        }
        let none = HashMap::new();
        for ws in state.workspaces.iter_mut() {
            let old = old.get(&ws.sid).unwrap_or(&none);
            rebuild(ws, old).map_err(|err| format!("workspace {}: {err}", ws.sid))?;
        }
        Ok(Restored { state, sids })
    }
}

fn parse_attributes(kind: &str, sid: &str, text: &str) -> Result<Value, String> {
    match serde_json::from_str::<Value>(text) {
        Ok(value) if value.is_object() => Ok(value),
        _ => Err(format!(
            "{kind} {sid} has attributes that are not a JSON object"
        )),
    }
}

fn rebuild(ws: &mut Workspace, old: &HashMap<String, Arc<CompiledWorkflow>>) -> Result<(), String> {
    for queue in ws.queues.iter_mut() {
        TargetWorkers::from_field(Some(&queue.target_workers))
            .map_err(|err| format!("queue {} has an invalid TargetWorkers: {err}", queue.sid))?;
        queue.def =
            super::commands::queue_def(&queue.sid, &queue.friendly_name, &queue.target_workers);
    }
    let mut current = HashMap::new();
    for workflow in ws.workflows.iter_mut() {
        // Checked against the queues when it was set; a queue deleted since does not
        // make it fail now.
        let compiled =
            CompiledWorkflow::from_json(&workflow.configuration, None).map_err(|err| {
                format!(
                    "workflow {} has an invalid configuration: {err}",
                    workflow.sid
                )
            })?;
        workflow.compiled = Arc::new(compiled);
        current.insert(workflow.sid.clone(), workflow.compiled.clone());
    }
    for worker in ws.workers.iter_mut() {
        worker.attributes_json = parse_attributes("worker", &worker.sid, &worker.attributes)?;
    }
    for task in ws.tasks.iter_mut() {
        // Checked as when set; only the text is kept (`Task::attributes_value`).
        parse_attributes("task", &task.sid, &task.attributes)?;
        task.indexed = None;
        if let Some(route) = task.routing.as_mut() {
            let config = old.get(&task.sid).or_else(|| {
                task.workflow_sid
                    .as_deref()
                    .and_then(|sid| current.get(sid))
            });
            match config {
                Some(config) => {
                    route.workflow = config.clone();
                    route.carry_priority(task.priority);
                }
                None => {
                    return Err(format!(
                        "task {} routes by a workflow configuration that is not saved",
                        task.sid
                    ))
                }
            }
        }
    }
    ws.by_task.clear();
    for reservation in ws.reservations.iter() {
        if ws.tasks.get(&reservation.task_sid).is_none() {
            return Err(format!(
                "reservation {} is of task {}, which is not saved",
                reservation.sid, reservation.task_sid
            ));
        }
        ws.by_task
            .entry(reservation.task_sid.clone())
            .or_default()
            .push(reservation.sid.clone());
    }
    ws.idle = ws.idle_order();
    ws.pending.clear();
    let tasks: Vec<String> = ws.tasks.iter().map(|task| task.sid.clone()).collect();
    for sid in tasks {
        ws.reindex(&sid);
    }
    ws.loads = Loads::recount(ws);
    ws.refresh_offers();
    Ok(())
}
