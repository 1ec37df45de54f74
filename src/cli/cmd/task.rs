//! `trctl task …`: tasks, plus `cancel`, `complete` and `wrapup` shortcuts for the
//! status updates a TaskRouter app makes most.

use clap::{Args, Subcommand};

use super::crud_commands;
use crate::api::resources::{DeleteTaskParams, UpdateTaskParams};
use crate::api::Client;
use crate::cli::params::DeleteTaskArgs;
use crate::cli::resolve::Resolver;
use crate::cli::{CliError, Ctx};

crud_commands! {
    /// Task commands.
    pub enum TaskCommand {
        noun: "task",
        plural: "tasks",
        a_noun: "a task",
        resource: "task",
        kind: None,
        list: ListTaskArgs => list_task_received,
        get: fetch_task_received,
        create: CreateTaskArgs => create_task_received,
        update: UpdateTaskArgs => update_task_received,
        delete: |client, workspace, sid, flags: DeleteTaskArgs| client.delete_task(workspace, &sid, &DeleteTaskParams { if_match: flags.if_match.clone() }),
        extra: TaskShortcut => run_shortcut,
    }
}

/// Status shortcuts.
#[derive(Subcommand, Debug)]
pub enum TaskShortcut {
    /// Cancel a pending or reserved task (AssignmentStatus=canceled).
    Cancel(StatusArgs),
    /// Complete an assigned or wrapping task (AssignmentStatus=completed).
    Complete(StatusArgs),
    /// Move an assigned task to wrap-up (AssignmentStatus=wrapping).
    #[command(visible_alias = "wrap-up")]
    Wrapup(StatusArgs),
}

/// Flags of the status shortcuts.
#[derive(Args, Debug)]
pub struct StatusArgs {
    /// Task SID (WT…).
    pub task: String,
    /// Why (stored in the task's `reason`).
    #[arg(long)]
    pub reason: Option<String>,
    /// Only apply if the task's ETag equals this value.
    #[arg(long)]
    pub if_match: Option<String>,
}

async fn run_shortcut(
    ctx: &mut Ctx,
    client: &Client,
    _resolver: &Resolver<'_>,
    workspace: &str,
    shortcut: TaskShortcut,
) -> Result<(), CliError> {
    let (status, args) = match shortcut {
        TaskShortcut::Cancel(args) => ("canceled", args),
        TaskShortcut::Complete(args) => ("completed", args),
        TaskShortcut::Wrapup(args) => ("wrapping", args),
    };
    let params = UpdateTaskParams {
        assignment_status: Some(status.to_string()),
        reason: args.reason,
        if_match: args.if_match,
        ..UpdateTaskParams::default()
    };
    let item = client
        .update_task_received(workspace, &args.task, &params)
        .await?;
    ctx.print_one(&item)
}
