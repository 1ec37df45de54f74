//! `trctl workflow …`: workflows on the API, plus `validate` and `test`, which check a
//! configuration offline (no credentials needed).

use super::{crud_commands, no_extra, NoExtra, NoFlags};
use crate::cli::resolve::Kind;

crud_commands! {
    /// Workflow commands that talk to the API.
    pub enum WorkflowRemoteCommand {
        noun: "workflow",
        plural: "workflows",
        a_noun: "a workflow",
        resource: "workflow",
        kind: Some(Kind::Workflow),
        list: ListWorkflowArgs => list_workflow_received,
        get: fetch_workflow_received,
        create: CreateWorkflowArgs => create_workflow_received,
        update: UpdateWorkflowArgs => update_workflow_received,
        delete: |client, workspace, sid, _flags: NoFlags| client.delete_workflow(workspace, &sid),
        extra: NoExtra => no_extra,
    }
}

/// Workflow commands.
#[derive(clap::Subcommand, Debug)]
pub enum WorkflowCommand {
    #[command(flatten)]
    Remote(WorkflowRemoteCommand),
    /// Check a workflow configuration offline: syntax, expressions, queues (exit 0 or 2).
    Validate(super::workflow_offline::ValidateArgs),
    /// Show how a configuration routes a task offline: the filter, each step, the step
    /// active at --at seconds, and (with --workers) who is eligible and why not.
    Test(super::workflow_offline::TestArgs),
}

/// Run a workflow command.
pub async fn run_command(
    ctx: &mut crate::cli::Ctx,
    command: WorkflowCommand,
) -> Result<(), crate::cli::CliError> {
    let json = ctx.json_output();
    match command {
        WorkflowCommand::Remote(command) => run(ctx, command).await,
        WorkflowCommand::Validate(args) => {
            let code =
                super::workflow_offline::validate(&args, json, ctx.out(), &mut std::io::stderr());
            crate::cli::CliError::from_exit_code(code)
        }
        WorkflowCommand::Test(args) => {
            let code =
                super::workflow_offline::test(&args, json, ctx.out(), &mut std::io::stderr());
            crate::cli::CliError::from_exit_code(code)
        }
    }
}
