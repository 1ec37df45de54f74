//! `trctl task-channel …`: kinds of work (voice, chat, sms, default, …).

use super::{crud_commands, no_extra, NoExtra, NoFlags};
use crate::cli::resolve::Kind;

crud_commands! {
    /// Task channel commands.
    pub enum TaskChannelCommand {
        noun: "task channel",
        plural: "task channels",
        a_noun: "a task channel",
        resource: "task_channel",
        kind: Some(Kind::TaskChannel),
        list: ListTaskChannelArgs => list_task_channel_received,
        get: fetch_task_channel_received,
        create: CreateTaskChannelArgs => create_task_channel_received,
        update: UpdateTaskChannelArgs => update_task_channel_received,
        delete: |client, workspace, sid, _flags: NoFlags| client.delete_task_channel(workspace, &sid),
        extra: NoExtra => no_extra,
    }
}
