//! `trctl workflow …`: workflows. (Offline `validate`/`test` join here with the
//! expressions work.)

use super::{crud_commands, no_extra, NoExtra, NoFlags};
use crate::cli::resolve::Kind;

crud_commands! {
    /// Workflow commands.
    pub enum WorkflowCommand {
        noun: "workflow",
        plural: "workflows",
        a_noun: "a workflow",
        resource: "workflow",
        kind: Some(Kind::Workflow),
        list: ListWorkflowArgs => list_workflow,
        get: fetch_workflow,
        create: CreateWorkflowArgs => create_workflow,
        update: UpdateWorkflowArgs => update_workflow,
        delete: |client, workspace, sid, _flags: NoFlags| client.delete_workflow(workspace, &sid),
        extra: NoExtra => no_extra,
    }
}
