//! Reservations: REST updates (status or instruction) and what an assignment-callback
//! reply asks.

use crate::api::resources::*;
use crate::emulator::engine::context::{check_if_match, enum_param, one_of, Context};
use crate::emulator::engine::error::EngineError;
use crate::emulator::engine::routing::Decision;
use crate::emulator::engine::{CallbackReply, Reply};

impl Context<'_> {
    /// What the app answered to an assignment callback (after any fallback).
    pub(in crate::emulator::engine) fn callback_reply(
        &mut self,
        workspace: &str,
        reservation: String,
        reply: CallbackReply,
    ) -> Result<Reply, EngineError> {
        let decision = match reply {
            CallbackReply::NoInstruction | CallbackReply::Failed => {
                return Ok(Reply::Updated(reservation))
            }
            CallbackReply::Instruction(body) => instruction_decision(&body),
        };
        // The reservation may have ended meanwhile (timeout, REST): then the reply
        // has nothing left to act on.
        let pending = self
            .state
            .workspaces
            .get(workspace)
            .and_then(|ws| ws.reservations.get(&reservation))
            .is_some_and(|r| r.status == ReservationStatus::Pending);
        if pending {
            self.decide(workspace, &reservation, decision)?;
        }
        Ok(Reply::Updated(reservation))
    }

    pub(in crate::emulator::engine) fn update_reservation(
        &mut self,
        workspace: &str,
        task: Option<&str>,
        worker: Option<&str>,
        sid: &str,
        params: UpdateTaskReservationParams,
    ) -> Result<Reply, EngineError> {
        let ws = self.workspace(workspace)?;
        let reservation_path = match (task, worker) {
            (Some(task), _) => format!("/Workspaces/{workspace}/Tasks/{task}/Reservations/{sid}"),
            (None, Some(worker)) => {
                format!("/Workspaces/{workspace}/Workers/{worker}/Reservations/{sid}")
            }
            (None, None) => format!("/Workspaces/{workspace}/Reservations/{sid}"),
        };
        let reservation = ws
            .reservations
            .get(sid)
            .filter(|r| {
                task.is_none_or(|t| r.task_sid == t) && worker.is_none_or(|w| r.worker_sid == w)
            })
            .ok_or_else(|| EngineError::not_found(&reservation_path))?;
        check_if_match(params.if_match.as_deref(), reservation.version)?;
        let current = reservation.status;
        let task_sid = reservation.task_sid.clone();
        let instruction = params.instruction.as_deref().map(str::to_ascii_lowercase);
        if params.reservation_status.is_none() && instruction.is_none() {
            return Err(EngineError::missing_parameter(
                "ReservationStatus or Instruction",
            ));
        }
        if let Some(status) = params.reservation_status.as_deref() {
            let status: ReservationStatus = enum_param("ReservationStatus", status)?;
            let refused = || EngineError::reservation_cannot_become(sid, current, status);
            // The steps a client may ask for (`ReservationStatus::requestable`).
            if !current.requestable(status) {
                return Err(refused());
            }
            match status {
                ReservationStatus::Accepted => {
                    self.decide(workspace, sid, Decision::Accept { instruction: None })?
                }
                ReservationStatus::Rejected => {
                    let activity = params.worker_activity_sid.clone().filter(|a| !a.is_empty());
                    self.decide(
                        workspace,
                        sid,
                        Decision::Reject {
                            activity,
                            rest: true,
                        },
                    )?
                }
                // Wrap-up and completion of the reservation carry the task along (Flex).
                ReservationStatus::Wrapping | ReservationStatus::Completed => {
                    let update = UpdateTaskParams {
                        assignment_status: Some(status.to_string()),
                        ..Default::default()
                    };
                    self.update_task(workspace, &task_sid, update)?;
                }
                ReservationStatus::Pending
                | ReservationStatus::Timeout
                | ReservationStatus::Canceled
                | ReservationStatus::Rescinded => return Err(refused()),
            }
            return Ok(Reply::Updated(sid.to_string()));
        }
        // An instruction without a status (WIRE.md §6.3). No telephony is emulated: the
        // instruction is recorded, and accepts where TaskRouter's would.
        let instruction = instruction.unwrap_or_default();
        one_of(
            "Instruction",
            &instruction,
            &["conference", "dequeue", "call", "redirect", "supervise"],
        )?;
        let record = serde_json::Value::Object(
            params
                .to_pairs()
                .into_iter()
                .map(|(key, value)| (key.to_string(), serde_json::Value::String(value)))
                .collect(),
        );
        if instruction == "supervise" {
            if current != ReservationStatus::Accepted {
                return Err(EngineError::supervise_unaccepted(sid, current));
            }
            if let Some(reservation) = self.workspace_mut(workspace)?.reservations.get_mut(sid) {
                reservation.instruction = Some(Box::new(record));
                reservation.version += 1;
            }
            return Ok(Reply::Updated(sid.to_string()));
        }
        if current != ReservationStatus::Pending {
            return Err(EngineError::reservation_cannot_take(
                sid,
                current,
                &instruction,
            ));
        }
        let required: Vec<(&str, &Option<String>)> = match instruction.as_str() {
            "dequeue" => vec![("DequeueFrom", &params.dequeue_from)],
            "call" => vec![
                ("CallFrom", &params.call_from),
                ("CallUrl", &params.call_url),
            ],
            "redirect" => vec![
                ("RedirectCallSid", &params.redirect_call_sid),
                ("RedirectUrl", &params.redirect_url),
            ],
            _ => Vec::new(),
        };
        if let Some((name, _)) = required
            .iter()
            .find(|(_, value)| value.as_deref().is_none_or(str::is_empty))
        {
            return Err(EngineError::missing_instruction_parameter(
                name,
                &instruction,
            ));
        }
        let accepts = match instruction.as_str() {
            "call" => params.call_accept == Some(true),
            "redirect" => params.redirect_accept == Some(true),
            _ => true,
        };
        let decision = if accepts {
            Decision::Accept {
                instruction: Some(record),
            }
        } else {
            Decision::KeepPending {
                instruction: Some(record),
            }
        };
        self.decide(workspace, sid, decision)?;
        Ok(Reply::Updated(sid.to_string()))
    }
}

/// What an assignment-callback instruction asks (WIRE.md §5.4).
fn instruction_decision(body: &serde_json::Value) -> Decision {
    let name = body
        .get("instruction")
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let flag = |key: &str| match body.get(key) {
        Some(serde_json::Value::Bool(value)) => *value,
        // The string "true" is seen in the wild (WIRE.md §5.4).
        Some(serde_json::Value::String(text)) => text.eq_ignore_ascii_case("true"),
        _ => false,
    };
    match name.as_str() {
        "accept" => Decision::Accept { instruction: None },
        "reject" => Decision::Reject {
            activity: body
                .get("activity_sid")
                .and_then(|v| v.as_str())
                .map(str::to_string),
            rest: false,
        },
        "dequeue" | "conference" => Decision::Accept {
            instruction: Some(body.clone()),
        },
        "call" | "redirect" if flag("accept") => Decision::Accept {
            instruction: Some(body.clone()),
        },
        "call" | "redirect" => Decision::KeepPending {
            instruction: Some(body.clone()),
        },
        // Unknown instructions do nothing (TaskRouter raises alert 55555).
        _ => Decision::KeepPending { instruction: None },
    }
}
