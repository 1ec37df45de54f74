//! Activities: create, update, delete (refused while anything refers to one).

use crate::emulator::engine::state::EventType;
use serde_json::{json, Map, Value};

use crate::api::resources::*;
use crate::emulator::engine::context::{name_param, Context};
use crate::emulator::engine::error::EngineError;
use crate::emulator::engine::state::Activity;
use crate::emulator::engine::Reply;

impl Context<'_> {
    pub(in crate::emulator::engine) fn create_activity(
        &mut self,
        workspace: &str,
        params: CreateActivityParams,
    ) -> Result<Reply, EngineError> {
        self.workspace(workspace)?;
        let friendly_name = name_param("FriendlyName", &params.friendly_name)?;
        let now = self.now;
        let sid = self.sids.next("WA");
        let available = params.available.unwrap_or(false);
        self.workspace_mut(workspace)?.activities.insert(Activity {
            sid: sid.clone(),
            friendly_name: friendly_name.clone(),
            available,
            created: now,
            updated: now,
        });
        let data = activity_data(&sid, &friendly_name, available);
        self.emit(workspace, EventType::ActivityCreated, &sid, data);
        Ok(Reply::Created(sid))
    }

    pub(in crate::emulator::engine) fn update_activity(
        &mut self,
        workspace: &str,
        sid: &str,
        params: UpdateActivityParams,
    ) -> Result<Reply, EngineError> {
        let ws = self.workspace(workspace)?;
        ws.activities
            .get(sid)
            .ok_or_else(|| EngineError::not_in_workspace(workspace, "Activities", sid))?;
        let friendly_name = params
            .friendly_name
            .as_deref()
            .map(|n| name_param("FriendlyName", n))
            .transpose()?;
        let now = self.now;
        let ws = self.workspace_mut(workspace)?;
        let Some(activity) = ws.activities.get_mut(sid) else {
            return Err(EngineError::not_in_workspace(workspace, "Activities", sid));
        };
        if let Some(name) = friendly_name {
            activity.friendly_name = name;
        }
        activity.updated = now;
        let data = activity_data(sid, &activity.friendly_name, activity.available);
        self.emit(workspace, EventType::ActivityUpdated, sid, data);
        Ok(Reply::Updated(sid.to_string()))
    }

    pub(in crate::emulator::engine) fn delete_activity(
        &mut self,
        workspace: &str,
        sid: &str,
    ) -> Result<Reply, EngineError> {
        let ws = self.workspace(workspace)?;
        let activity = ws
            .activities
            .get(sid)
            .ok_or_else(|| EngineError::not_in_workspace(workspace, "Activities", sid))?;
        // An activity that anything still refers to cannot go (WIRE.md §3.3: code unconfirmed).
        if ws.default_activity_sid == sid || ws.timeout_activity_sid == sid {
            return Err(EngineError::in_use(
                "activity",
                sid,
                "the workspace (default or timeout activity)",
            ));
        }
        if let Some(worker) = ws.workers.iter().find(|w| w.activity_sid == sid) {
            return Err(EngineError::in_use(
                "activity",
                sid,
                &format!("worker {}", worker.sid),
            ));
        }
        if let Some(queue) = ws.queues.iter().find(|q| {
            q.reservation_activity_sid.as_deref() == Some(sid)
                || q.assignment_activity_sid.as_deref() == Some(sid)
        }) {
            return Err(EngineError::in_use(
                "activity",
                sid,
                &format!("task queue {}", queue.sid),
            ));
        }
        let data = activity_data(sid, &activity.friendly_name, activity.available);
        self.workspace_mut(workspace)?.activities.remove(sid);
        self.emit(workspace, EventType::ActivityDeleted, sid, data);
        Ok(Reply::Deleted)
    }
}

fn activity_data(sid: &str, name: &str, available: bool) -> Map<String, Value> {
    let mut data = Map::new();
    data.insert("activity_sid".into(), json!(sid));
    data.insert("activity_name".into(), json!(name));
    data.insert("activity_available".into(), json!(available.to_string()));
    data
}
