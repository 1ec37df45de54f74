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
        list: ListActivityArgs => list_activity,
        get: fetch_activity,
        create: CreateActivityArgs => create_activity,
        update: UpdateActivityArgs => update_activity,
        delete: |client, workspace, sid, _flags: NoFlags| client.delete_activity(workspace, &sid),
        extra: NoExtra => no_extra,
    }
}
