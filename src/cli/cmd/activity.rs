//! `trctl activity …`: the states a worker can be in.

use super::{crud_commands, no_extra, NoExtra, NoFlags};
use crate::cli::resolve::Kind;

crud_commands! {
    /// Activity commands.
    pub enum ActivityCommand {
        noun: "activity",
        plural: "activities",
        a_noun: "an activity",
        resource: "activity",
        kind: Some(Kind::Activity),
        list: ListActivityArgs => list_activity_received,
        get: fetch_activity_received,
        create: CreateActivityArgs => create_activity_received,
        update: UpdateActivityArgs => update_activity_received,
        delete: |client, workspace, sid, _flags: NoFlags| client.delete_activity(workspace, &sid),
        extra: NoExtra => no_extra,
    }
}
