//! `trctl queue …`: task queues.

use super::{crud_commands, no_extra, NoExtra, NoFlags};
use crate::cli::resolve::Kind;

crud_commands! {
    /// Task queue commands.
    pub enum QueueCommand {
        noun: "task queue",
        plural: "task queues",
        a_noun: "a task queue",
        resource: "task_queue",
        kind: Some(Kind::TaskQueue),
        list: ListTaskQueueArgs => list_task_queue_received,
        get: fetch_task_queue_received,
        create: CreateTaskQueueArgs => create_task_queue_received,
        update: UpdateTaskQueueArgs => update_task_queue_received,
        delete: |client, workspace, sid, _flags: NoFlags| client.delete_task_queue(workspace, &sid),
        extra: NoExtra => no_extra,
    }
}
