//! Task channels: create (adding a worker channel to every worker), update, delete.

use crate::emulator::engine::state::EventType;
use serde_json::{json, Map, Value};

use crate::api::resources::*;
use crate::emulator::engine::context::{name_param, Context};
use crate::emulator::engine::error::EngineError;
use crate::emulator::engine::state::{TaskChannel, WorkerChannel};
use crate::emulator::engine::Reply;

impl Context<'_> {
    /// The SID of the task channel a `TaskChannels/{Sid}` path names: its SID or its
    /// unique name (`voice`, `chat`, ...). UNCONFIRMED against live Twilio: the spec
    /// gives that path parameter no SID pattern (unlike every other resource's `Sid`),
    /// the same as `Workers/{WorkerSid}/Channels/{Sid}`, which takes a unique name too,
    /// and twilio-node users write `taskChannels('voice')`. The SID is tried first, then
    /// the unique name.
    pub(in crate::emulator::engine) fn channel_sid(
        &self,
        workspace: &str,
        reference: &str,
    ) -> Result<String, EngineError> {
        self.workspace(workspace)?
            .channel_by_ref(reference)
            .map(|channel| channel.sid.clone())
            .ok_or_else(|| EngineError::not_in_workspace(workspace, "TaskChannels", reference))
    }

    pub(in crate::emulator::engine) fn create_channel(
        &mut self,
        workspace: &str,
        params: CreateTaskChannelParams,
    ) -> Result<Reply, EngineError> {
        let ws = self.workspace(workspace)?;
        let friendly_name = name_param("FriendlyName", &params.friendly_name)?;
        let unique_name = name_param("UniqueName", &params.unique_name)?;
        // Unique names appear in expressions (worker.channel.<name>…), so no hyphens (ROUTING.md §4.4).
        if unique_name.contains('-') || unique_name.contains(char::is_whitespace) {
            return Err(EngineError::invalid_unique_name(&unique_name));
        }
        if ws.channels.iter().any(|c| c.unique_name == unique_name) {
            return Err(EngineError::duplicate_channel(&unique_name, workspace));
        }
        let worker_sids: Vec<String> = ws.workers.iter().map(|w| w.sid.clone()).collect();
        let now = self.now;
        let sid = self.sids.next("TC");
        let channel_sids: Vec<String> = worker_sids.iter().map(|_| self.sids.next("WC")).collect();
        let ws = self.workspace_mut(workspace)?;
        ws.channels.insert(TaskChannel {
            sid: sid.clone(),
            friendly_name: friendly_name.clone(),
            unique_name: unique_name.clone(),
            channel_optimized_routing: params.channel_optimized_routing,
            created: now,
            updated: now,
        });
        // Every worker gets a channel for the new task channel.
        for (worker_sid, channel_sid) in worker_sids.iter().zip(channel_sids) {
            if let Some(worker) = ws.workers.get_mut(worker_sid) {
                worker.channels.push(WorkerChannel {
                    sid: channel_sid,
                    task_channel_sid: sid.clone(),
                    configured_capacity: 1,
                    available: true,
                    created: now,
                    updated: now,
                });
            }
        }
        ws.refresh_offers();
        let data = channel_data(
            &sid,
            &friendly_name,
            &unique_name,
            params.channel_optimized_routing,
        );
        self.emit(workspace, EventType::TaskChannelCreated, &sid, data);
        Ok(Reply::Created(sid))
    }

    pub(in crate::emulator::engine) fn update_channel(
        &mut self,
        workspace: &str,
        sid: &str,
        params: UpdateTaskChannelParams,
    ) -> Result<Reply, EngineError> {
        let resolved = self.channel_sid(workspace, sid)?;
        let sid = resolved.as_str();
        let friendly_name = params
            .friendly_name
            .as_deref()
            .map(|n| name_param("FriendlyName", n))
            .transpose()?;
        let now = self.now;
        let ws = self.workspace_mut(workspace)?;
        let Some(channel) = ws.channels.get_mut(sid) else {
            return Err(EngineError::not_in_workspace(
                workspace,
                "TaskChannels",
                sid,
            ));
        };
        if let Some(name) = friendly_name {
            channel.friendly_name = name;
        }
        if let Some(optimized) = params.channel_optimized_routing {
            channel.channel_optimized_routing = Some(optimized);
        }
        channel.updated = now;
        let data = channel_data(
            sid,
            &channel.friendly_name,
            &channel.unique_name,
            channel.channel_optimized_routing,
        );
        self.emit(workspace, EventType::TaskChannelUpdated, sid, data);
        Ok(Reply::Updated(sid.to_string()))
    }

    pub(in crate::emulator::engine) fn delete_channel(
        &mut self,
        workspace: &str,
        sid: &str,
    ) -> Result<Reply, EngineError> {
        let resolved = self.channel_sid(workspace, sid)?;
        let sid = resolved.as_str();
        let ws = self.workspace(workspace)?;
        let channel = ws
            .channels
            .get(sid)
            .ok_or_else(|| EngineError::not_in_workspace(workspace, "TaskChannels", sid))?;
        if let Some(task) = ws
            .tasks
            .iter()
            .find(|t| t.task_channel_sid == sid && !t.assignment_status.is_terminal())
        {
            return Err(EngineError::in_use(
                "task channel",
                sid,
                &format!("task {}", task.sid),
            ));
        }
        let data = channel_data(
            sid,
            &channel.friendly_name,
            &channel.unique_name,
            channel.channel_optimized_routing,
        );
        let ws = self.workspace_mut(workspace)?;
        ws.channels.remove(sid);
        for worker in ws.workers.iter_mut() {
            worker.channels.retain(|c| c.task_channel_sid != sid);
        }
        ws.refresh_offers();
        self.emit(workspace, EventType::TaskChannelDeleted, sid, data);
        Ok(Reply::Deleted)
    }
}

fn channel_data(
    sid: &str,
    name: &str,
    unique: &str,
    optimized: Option<bool>,
) -> Map<String, Value> {
    let mut data = Map::new();
    data.insert("task_channel_sid".into(), json!(sid));
    data.insert("task_channel_name".into(), json!(name));
    data.insert("task_channel_unique_name".into(), json!(unique));
    data.insert(
        "task_channel_optimized_routing".into(),
        json!(optimized.unwrap_or(false).to_string()),
    );
    data
}
