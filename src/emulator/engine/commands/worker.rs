//! Workers and their channels: create, update (activity, attributes, rejecting pending
//! reservations), delete, and a worker channel's capacity and availability.

use crate::emulator::engine::state::EventType;
use serde_json::json;

use crate::api::resources::*;
use crate::emulator::engine::context::{check_if_match, name_param, Context, UniqueName};
use crate::emulator::engine::error::EngineError;
use crate::emulator::engine::events::{previous_activity_data, worker_data};
use crate::emulator::engine::routing::Decision;
use crate::emulator::engine::state::{Worker, WorkerChannel};
use crate::emulator::engine::{validate, Reply};

impl Context<'_> {
    pub(in crate::emulator::engine) fn create_worker(
        &mut self,
        workspace: &str,
        params: CreateWorkerParams,
    ) -> Result<Reply, EngineError> {
        let ws = self.workspace(workspace)?;
        let friendly_name = name_param("FriendlyName", &params.friendly_name)?;
        self.check_unique_name(workspace, UniqueName::Worker, &friendly_name, None)?;
        let activity_sid = params
            .activity_sid
            .clone()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| ws.default_activity_sid.clone());
        if ws.activities.get(&activity_sid).is_none() {
            return Err(EngineError::unknown_activity(
                "ActivitySid",
                &activity_sid,
                workspace,
            ));
        }
        let attributes = params
            .attributes
            .clone()
            .unwrap_or_else(|| "{}".to_string());
        let attributes_json = validate::attributes(&attributes)?;
        let channel_sids: Vec<String> = ws.channels.iter().map(|c| c.sid.clone()).collect();
        let now = self.now;
        let sid = self.sids.next("WK");
        let channels = channel_sids
            .into_iter()
            .map(|task_channel_sid| WorkerChannel {
                sid: self.sids.next("WC"),
                task_channel_sid,
                // Default capacity 1 and available (ROUTING.md §4.5: unconfirmed, suggested).
                configured_capacity: 1,
                available: true,
                created: now,
                updated: now,
            })
            .collect();
        let worker = Worker {
            sid: sid.clone(),
            friendly_name,
            attributes,
            attributes_json,
            activity_sid,
            status_changed: now,
            created: now,
            updated: now,
            version: 0,
            channels,
            idle_since: now,
        };
        let ws = self.workspace_mut(workspace)?;
        let data = worker_data(ws, &worker);
        ws.add_worker(worker);
        self.emit(workspace, EventType::WorkerCreated, &sid, data);
        self.dirty_workers
            .push((workspace.to_string(), sid.clone()));
        Ok(Reply::Created(sid))
    }

    pub(in crate::emulator::engine) fn update_worker(
        &mut self,
        workspace: &str,
        sid: &str,
        params: UpdateWorkerParams,
    ) -> Result<Reply, EngineError> {
        let ws = self.workspace(workspace)?;
        let worker = ws
            .workers
            .get(sid)
            .ok_or_else(|| EngineError::not_in_workspace(workspace, "Workers", sid))?;
        check_if_match(params.if_match.as_deref(), worker.version)?;
        let friendly_name = params
            .friendly_name
            .as_deref()
            .map(|n| name_param("FriendlyName", n))
            .transpose()?;
        if let Some(name) = &friendly_name {
            self.check_unique_name(workspace, UniqueName::Worker, name, Some(sid))?;
        }
        let new_activity = match params.activity_sid.as_deref() {
            Some(activity) => Some(ws.activities.get(activity).ok_or_else(|| {
                EngineError::unknown_activity("ActivitySid", activity, workspace)
            })?),
            None => None,
        };
        if params.reject_pending_reservations == Some(true)
            && new_activity.is_some_and(|a| a.available)
        {
            return Err(EngineError::reject_pending_needs_unavailable());
        }
        let attributes_json = params
            .attributes
            .as_deref()
            .map(validate::attributes)
            .transpose()?;
        let previous_activity = worker.activity_sid.clone();
        let previous_name = ws
            .activity_name(&previous_activity)
            .unwrap_or_default()
            .to_string();
        let now = self.now;
        let ws = self.workspace_mut(workspace)?;
        let Some(worker) = ws.workers.get_mut(sid) else {
            return Err(EngineError::not_in_workspace(workspace, "Workers", sid));
        };
        let activity_changed = params
            .activity_sid
            .as_ref()
            .is_some_and(|a| a != &worker.activity_sid);
        let attributes_changed = params
            .attributes
            .as_ref()
            .is_some_and(|a| a != &worker.attributes);
        let previous_since = worker.status_changed;
        if let Some(name) = friendly_name {
            worker.friendly_name = name;
        }
        if let (Some(text), Some(json)) = (params.attributes, attributes_json) {
            worker.attributes = text;
            worker.attributes_json = json;
        }
        if activity_changed {
            if let Some(activity) = params.activity_sid {
                worker.activity_sid = activity;
                worker.status_changed = now;
            }
        }
        worker.version += 1;
        worker.updated = now;
        let worker = worker.clone();
        ws.refresh_offer(&worker.sid);
        let to_reject: Vec<String> = if params.reject_pending_reservations == Some(true) {
            ws.reservations
                .iter()
                .filter(|r| r.worker_sid == sid && r.status == ReservationStatus::Pending)
                .map(|r| r.sid.clone())
                .collect()
        } else {
            Vec::new()
        };
        let data = worker_data(ws, &worker);
        if activity_changed {
            let mut data = data.clone();
            previous_activity_data(
                &mut data,
                &previous_activity,
                &previous_name,
                now - previous_since,
            );
            self.emit(
                workspace,
                EventType::WorkerActivityUpdate,
                sid,
                data.clone(),
            );
        }
        if attributes_changed {
            self.emit(workspace, EventType::WorkerAttributesUpdate, sid, data);
        }
        for reservation in to_reject {
            self.decide(
                workspace,
                &reservation,
                Decision::Reject {
                    activity: None,
                    rest: false,
                },
            )?;
        }
        if activity_changed || attributes_changed {
            self.dirty_workers
                .push((workspace.to_string(), sid.to_string()));
        }
        Ok(Reply::Updated(sid.to_string()))
    }

    pub(in crate::emulator::engine) fn delete_worker(
        &mut self,
        workspace: &str,
        sid: &str,
        if_match: Option<&str>,
    ) -> Result<Reply, EngineError> {
        let ws = self.workspace(workspace)?;
        let worker = ws
            .workers
            .get(sid)
            .ok_or_else(|| EngineError::not_in_workspace(workspace, "Workers", sid))?;
        check_if_match(if_match, worker.version)?;
        if let Some(reservation) = ws
            .reservations
            .iter()
            .find(|r| r.worker_sid == sid && r.status.is_live())
        {
            return Err(EngineError::in_use(
                "worker",
                sid,
                &format!("reservation {}", reservation.sid),
            ));
        }
        let data = worker_data(ws, worker);
        self.workspace_mut(workspace)?.remove_worker(sid);
        self.emit(workspace, EventType::WorkerDeleted, sid, data);
        Ok(Reply::Deleted)
    }

    pub(in crate::emulator::engine) fn update_worker_channel(
        &mut self,
        workspace: &str,
        worker_sid: &str,
        sid: &str,
        params: UpdateWorkerChannelParams,
    ) -> Result<Reply, EngineError> {
        let channel_path = format!("/Workspaces/{workspace}/Workers/{worker_sid}/Channels/{sid}");
        let ws = self.workspace(workspace)?;
        let worker = ws
            .workers
            .get(worker_sid)
            .ok_or_else(|| EngineError::not_in_workspace(workspace, "Workers", worker_sid))?;
        // A channel may be named by its WC… SID or by its task channel (SID or unique name).
        let task_channel = ws.channel_by_ref(sid).map(|c| c.sid.clone());
        let index = worker
            .channels
            .iter()
            .position(|c| c.sid == sid || Some(&c.task_channel_sid) == task_channel.as_ref())
            .ok_or_else(|| EngineError::not_found(&channel_path))?;
        if let Some(capacity) = params.capacity {
            if !(0..=50).contains(&capacity) {
                return Err(EngineError::out_of_range("Capacity", capacity, 0, 50));
            }
        }
        let now = self.now;
        let ws = self.workspace_mut(workspace)?;
        let Some(worker) = ws.workers.get_mut(worker_sid) else {
            return Err(EngineError::not_found(&channel_path));
        };
        let channel = &mut worker.channels[index];
        let previous_capacity = channel.configured_capacity;
        let previous_available = channel.available;
        if let Some(capacity) = params.capacity {
            channel.configured_capacity = capacity;
        }
        if let Some(available) = params.available {
            channel.available = available;
        }
        channel.updated = now;
        let channel = channel.clone();
        worker.updated = now;
        let worker = worker.clone();
        ws.refresh_offer(&worker.sid);
        let mut data = worker_data(ws, &worker);
        let unique_name = ws
            .channels
            .get(&channel.task_channel_sid)
            .map(|c| c.unique_name.clone())
            .unwrap_or_default();
        data.insert("task_channel_sid".into(), json!(channel.task_channel_sid));
        data.insert("task_channel_unique_name".into(), json!(unique_name));
        data.insert(
            "worker_channel_available".into(),
            json!(channel.available.to_string()),
        );
        data.insert(
            "worker_channel_available_capacity".into(),
            json!(channel.configured_capacity.to_string()),
        );
        data.insert(
            "worker_channel_previous_capacity".into(),
            json!(previous_capacity.to_string()),
        );
        if previous_capacity != channel.configured_capacity {
            self.emit(
                workspace,
                EventType::WorkerCapacityUpdate,
                worker_sid,
                data.clone(),
            );
        }
        if previous_available != channel.available {
            self.emit(
                workspace,
                EventType::WorkerChannelAvailabilityUpdate,
                worker_sid,
                data,
            );
        }
        self.dirty_workers
            .push((workspace.to_string(), worker_sid.to_string()));
        Ok(Reply::Updated(channel.sid))
    }
}
