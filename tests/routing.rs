//! The routing engine, driven directly: one line of setup and one of assertion per
//! rule, manual time, counting SIDs, no sleeps, no I/O.

use proptest::prelude::*;
use serde_json::json;
use trctl::api::resources::*;
use trctl::emulator::engine::state::{Deadline, Workspace};
use trctl::emulator::engine::{
    CallbackReply, Command, CountingSids, Effect, Engine, EngineError, Millis, Outcome, Reply,
};

const T0: Millis = 1_700_000_000_000;

struct World {
    engine: Engine,
    now: Millis,
    ws: String,
    effects: Vec<Effect>,
}

impl World {
    fn new() -> World {
        let mut engine = Engine::new(
            "AC00000000000000000000000000000001",
            Box::new(CountingSids::default()),
        );
        let params = CreateWorkspaceParams {
            friendly_name: "Routing".into(),
            ..Default::default()
        };
        let Reply::Created(ws) = engine
            .apply(Command::CreateWorkspace(params), T0)
            .unwrap()
            .reply
        else {
            unreachable!()
        };
        World {
            engine,
            now: T0,
            ws,
            effects: Vec::new(),
        }
    }

    fn try_apply(&mut self, command: Command) -> Result<Outcome, EngineError> {
        let outcome = self.engine.apply(command, self.now)?;
        self.effects.extend(outcome.effects.clone());
        Ok(outcome)
    }

    fn apply(&mut self, command: Command) -> String {
        match self.try_apply(command).unwrap().reply {
            Reply::Created(sid) | Reply::Updated(sid) => sid,
            Reply::Deleted => String::new(),
        }
    }

    fn state(&self) -> &Workspace {
        self.engine.state().workspaces.get(&self.ws).unwrap()
    }

    fn activity(&self, name: &str) -> String {
        self.state()
            .activities
            .iter()
            .find(|a| a.friendly_name == name)
            .unwrap()
            .sid
            .clone()
    }

    fn queue(&mut self, name: &str, target: &str) -> String {
        let params = CreateTaskQueueParams {
            friendly_name: name.into(),
            target_workers: Some(target.into()),
            ..Default::default()
        };
        self.apply(Command::CreateTaskQueue {
            workspace: self.ws.clone(),
            params,
        })
    }

    fn queue_with(&mut self, name: &str, target: &str, max_reserved: i64, order: &str) -> String {
        let params = CreateTaskQueueParams {
            friendly_name: name.into(),
            target_workers: Some(target.into()),
            max_reserved_workers: Some(max_reserved),
            task_order: Some(order.into()),
            ..Default::default()
        };
        self.apply(Command::CreateTaskQueue {
            workspace: self.ws.clone(),
            params,
        })
    }

    fn workflow(&mut self, config: serde_json::Value) -> String {
        let params = CreateWorkflowParams {
            friendly_name: format!("Workflow {}", self.state().workflows.len()),
            configuration: config.to_string(),
            assignment_callback_url: Some("http://127.0.0.1:9/assignment".into()),
            ..Default::default()
        };
        self.apply(Command::CreateWorkflow {
            workspace: self.ws.clone(),
            params,
        })
    }

    fn worker(&mut self, name: &str, attributes: serde_json::Value) -> String {
        let params = CreateWorkerParams {
            friendly_name: name.into(),
            attributes: Some(attributes.to_string()),
            ..Default::default()
        };
        self.apply(Command::CreateWorker {
            workspace: self.ws.clone(),
            params,
        })
    }

    fn set_activity(&mut self, worker: &str, activity: &str) {
        let activity = self.activity(activity);
        let params = UpdateWorkerParams {
            activity_sid: Some(activity),
            ..Default::default()
        };
        self.apply(Command::UpdateWorker {
            workspace: self.ws.clone(),
            sid: worker.into(),
            params,
        });
    }

    fn task(&mut self, workflow: &str, attributes: serde_json::Value) -> String {
        self.task_with(workflow, attributes, None, None)
    }

    fn task_with(
        &mut self,
        workflow: &str,
        attributes: serde_json::Value,
        priority: Option<i64>,
        timeout: Option<i64>,
    ) -> String {
        let params = CreateTaskParams {
            workflow_sid: Some(workflow.into()),
            attributes: Some(attributes.to_string()),
            priority,
            timeout,
            ..Default::default()
        };
        self.apply(Command::CreateTask {
            workspace: self.ws.clone(),
            params,
        })
    }

    fn status(&self, task: &str) -> String {
        self.state()
            .tasks
            .get(task)
            .map(|t| t.assignment_status.to_string())
            .unwrap_or_else(|| "gone".into())
    }

    fn queue_of(&self, task: &str) -> Option<String> {
        self.state()
            .tasks
            .get(task)
            .and_then(|t| t.task_queue_sid.clone())
    }

    /// (reservation, worker, status) of a task, oldest first.
    fn reservations(&self, task: &str) -> Vec<(String, String, String)> {
        self.state()
            .reservations
            .iter()
            .filter(|r| r.task_sid == task)
            .map(|r| (r.sid.clone(), r.worker_sid.clone(), r.status.to_string()))
            .collect()
    }

    fn pending(&self, task: &str) -> String {
        let pending: Vec<_> = self
            .reservations(task)
            .into_iter()
            .filter(|r| r.2 == "pending")
            .collect();
        assert_eq!(
            pending.len(),
            1,
            "expected one pending reservation for {task}: {pending:?}"
        );
        pending[0].0.clone()
    }

    fn update_reservation(
        &mut self,
        reservation: &str,
        params: UpdateTaskReservationParams,
    ) -> Result<Outcome, EngineError> {
        let task = self
            .state()
            .reservations
            .get(reservation)
            .unwrap()
            .task_sid
            .clone();
        self.try_apply(Command::UpdateReservation {
            workspace: self.ws.clone(),
            task: Some(task),
            worker: None,
            sid: reservation.into(),
            params,
        })
    }

    fn accept(&mut self, reservation: &str) {
        self.update_reservation(
            reservation,
            UpdateTaskReservationParams {
                reservation_status: Some("accepted".into()),
                ..Default::default()
            },
        )
        .unwrap();
    }

    fn reject(&mut self, reservation: &str) {
        self.update_reservation(
            reservation,
            UpdateTaskReservationParams {
                reservation_status: Some("rejected".into()),
                ..Default::default()
            },
        )
        .unwrap();
    }

    fn set_task_status(&mut self, task: &str, status: &str) -> Result<Outcome, EngineError> {
        let params = UpdateTaskParams {
            assignment_status: Some(status.into()),
            reason: Some("test".into()),
            ..Default::default()
        };
        self.try_apply(Command::UpdateTask {
            workspace: self.ws.clone(),
            sid: task.into(),
            params,
        })
    }

    fn advance(&mut self, seconds: i64) {
        self.now += seconds * 1000;
        self.apply(Command::Tick);
    }

    fn reply(&mut self, reservation: &str, body: serde_json::Value) {
        self.apply(Command::CallbackReply {
            workspace: self.ws.clone(),
            reservation: reservation.into(),
            reply: CallbackReply::Instruction(body),
        });
    }

    fn worker_activity(&self, worker: &str) -> String {
        let sid = &self.state().workers.get(worker).unwrap().activity_sid;
        self.state()
            .activities
            .get(sid)
            .unwrap()
            .friendly_name
            .clone()
    }

    fn events(&self) -> Vec<String> {
        self.state()
            .events
            .iter()
            .map(|e| e.event_type.to_string())
            .collect()
    }

    fn callbacks(&self) -> Vec<&Effect> {
        self.effects
            .iter()
            .filter(|e| matches!(e, Effect::AssignmentCallback { .. }))
            .collect()
    }
}

/// The quickstart's two queues and workflow (QUICKSTART.md).
fn quickstart() -> (World, String, String, String) {
    let mut world = World::new();
    let spanish = world.queue("Customer Care Requests - Spanish", "languages HAS \"es\"");
    let english = world.queue("Customer Care Requests - English", "languages HAS \"en\"");
    let workflow = world.workflow(json!({"task_routing": {"filters": [
        {"filter_friendly_name": "Language - Spanish", "expression": "selected_language==\"es\"", "targets": [{"queue": spanish}]},
        {"filter_friendly_name": "Language - English", "expression": "selected_language==\"en\"", "targets": [{"queue": english}]}
    ], "default_filter": {"queue": english}}}));
    (world, spanish, english, workflow)
}

#[test]
fn a_task_waits_until_a_matching_worker_becomes_available() {
    let (mut w, spanish, _, workflow) = quickstart();
    let alice = w.worker("Alice", json!({"languages": ["en", "es"]}));
    let task = w.task(&workflow, json!({"selected_language": "es"}));
    assert_eq!(
        (w.status(&task), w.queue_of(&task)),
        ("pending".to_string(), Some(spanish))
    );
    assert!(w.reservations(&task).is_empty(), "Alice is offline");
    w.set_activity(&alice, "Available");
    assert_eq!(w.status(&task), "reserved");
    assert_eq!(w.reservations(&task)[0].1, alice);
    let reservation = w.pending(&task);
    w.accept(&reservation);
    assert_eq!(
        (w.status(&task), w.reservations(&task)[0].2.as_str()),
        ("assigned".to_string(), "accepted")
    );
    w.set_task_status(&task, "completed").unwrap();
    assert_eq!(
        (w.status(&task), w.reservations(&task)[0].2.as_str()),
        ("completed".to_string(), "completed")
    );
    let events = w.events();
    for expected in [
        "workflow.entered",
        "task-queue.entered",
        "reservation.created",
        "reservation.accepted",
        "task.completed",
        "reservation.completed",
    ] {
        assert!(
            events.contains(&expected.to_string()),
            "{expected} missing from {events:?}"
        );
    }
}

#[test]
fn a_reservation_asks_for_the_assignment_callback_with_the_documented_parameters() {
    let (mut w, spanish, _, workflow) = quickstart();
    let alice = w.worker("Alice", json!({"languages": ["es"]}));
    w.set_activity(&alice, "Available");
    let task = w.task(&workflow, json!({"selected_language": "es"}));
    let reservation = w.pending(&task);
    let callbacks = w.callbacks();
    assert_eq!(callbacks.len(), 1);
    let Effect::AssignmentCallback {
        url,
        params,
        reservation: r,
        ..
    } = callbacks[0]
    else {
        unreachable!()
    };
    assert_eq!(
        (url.as_str(), r.as_str()),
        ("http://127.0.0.1:9/assignment", reservation.as_str())
    );
    let names: Vec<&str> = params.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        [
            "AccountSid",
            "WorkspaceSid",
            "WorkflowSid",
            "TaskQueueSid",
            "WorkerSid",
            "WorkerAttributes",
            "TaskSid",
            "TaskAttributes",
            "TaskAge",
            "TaskPriority",
            "ReservationSid",
            "Timestamp"
        ]
    );
    let get = |key: &str| params.iter().find(|(k, _)| k == key).unwrap().1.clone();
    assert_eq!(
        (get("TaskQueueSid"), get("WorkerSid"), get("TaskSid")),
        (spanish, alice, task)
    );
    assert_eq!(get("Timestamp"), (T0 / 1000).to_string());
}

#[test]
fn an_accept_instruction_in_the_callback_reply_assigns_the_task() {
    let (mut w, _, _, workflow) = quickstart();
    let alice = w.worker("Alice", json!({"languages": ["es"]}));
    w.set_activity(&alice, "Available");
    let task = w.task(&workflow, json!({"selected_language": "es"}));
    let reservation = w.pending(&task);
    w.reply(&reservation, json!({"instruction": "accept"}));
    assert_eq!(w.status(&task), "assigned");
}

#[test]
fn an_empty_reply_leaves_the_reservation_pending() {
    let (mut w, _, _, workflow) = quickstart();
    let alice = w.worker("Alice", json!({"languages": ["es"]}));
    w.set_activity(&alice, "Available");
    let task = w.task(&workflow, json!({"selected_language": "es"}));
    let reservation = w.pending(&task);
    w.apply(Command::CallbackReply {
        workspace: w.ws.clone(),
        reservation: reservation.clone(),
        reply: CallbackReply::NoInstruction,
    });
    assert_eq!(w.reservations(&task)[0].2, "pending");
}

#[test]
fn a_reservation_times_out_after_the_workflow_timeout_and_the_worker_goes_offline() {
    let (mut w, _, _, workflow) = quickstart();
    let alice = w.worker("Alice", json!({"languages": ["es"]}));
    w.set_activity(&alice, "Available");
    let task = w.task(&workflow, json!({"selected_language": "es"}));
    w.advance(119);
    assert_eq!(w.reservations(&task)[0].2, "pending");
    w.advance(2);
    assert_eq!(w.reservations(&task)[0].2, "timeout");
    assert_eq!(
        (w.status(&task), w.worker_activity(&alice)),
        ("pending".to_string(), "Offline".to_string())
    );
    assert!(w.events().contains(&"reservation.timeout".to_string()));
}

#[test]
fn a_rejected_task_goes_to_the_next_worker_and_not_back() {
    let (mut w, _, _, workflow) = quickstart();
    let alice = w.worker("Alice", json!({"languages": ["es"]}));
    let bob = w.worker("Bob", json!({"languages": ["es"]}));
    w.set_activity(&alice, "Available");
    w.set_activity(&bob, "Available");
    let task = w.task(&workflow, json!({"selected_language": "es"}));
    assert_eq!(
        w.reservations(&task)[0].1,
        alice,
        "Alice has been idle longest"
    );
    let first = w.pending(&task);
    w.reject(&first);
    let reservations = w.reservations(&task);
    assert_eq!(
        (
            reservations[0].2.as_str(),
            reservations[1].1.as_str(),
            reservations[1].2.as_str()
        ),
        ("rejected", bob.as_str(), "pending")
    );
    let second = w.pending(&task);
    w.reject(&second);
    assert_eq!(
        w.status(&task),
        "pending",
        "nobody left who has not rejected it"
    );
    assert_eq!(w.reservations(&task).len(), 2);
}

#[test]
fn a_rejecting_instruction_moves_the_worker() {
    let (mut w, _, _, workflow) = quickstart();
    let alice = w.worker("Alice", json!({"languages": ["es"]}));
    w.set_activity(&alice, "Available");
    let task = w.task(&workflow, json!({"selected_language": "es"}));
    let reservation = w.pending(&task);
    let unavailable = w.activity("Unavailable");
    w.reply(
        &reservation,
        json!({"instruction": "reject", "activity_sid": unavailable}),
    );
    assert_eq!(
        (
            w.reservations(&task)[0].2.as_str(),
            w.worker_activity(&alice)
        ),
        ("rejected", "Unavailable".to_string())
    );
}

#[test]
fn a_step_timeout_escalates_to_the_next_target() {
    let mut w = World::new();
    let first = w.queue("First", "level == 1");
    let second = w.queue("Second", "level == 2");
    let workflow = w.workflow(json!({"task_routing": {"filters": [
        {"expression": "1==1", "targets": [{"queue": first, "timeout": 30}, {"queue": second, "priority": 10}]}
    ]}}));
    let senior = w.worker("Senior", json!({"level": 2}));
    w.set_activity(&senior, "Available");
    let task = w.task(&workflow, json!({}));
    assert_eq!(
        (w.queue_of(&task), w.status(&task)),
        (Some(first.clone()), "pending".to_string())
    );
    w.advance(29);
    assert_eq!(w.queue_of(&task), Some(first));
    w.advance(1);
    assert_eq!(w.queue_of(&task), Some(second));
    assert_eq!(w.state().tasks.get(&task).unwrap().priority, 10);
    assert_eq!(
        (w.status(&task), w.reservations(&task)[0].1.clone()),
        ("reserved".to_string(), senior)
    );
    let events = w.events();
    assert!(
        events.contains(&"task-queue.timeout".to_string())
            && events.contains(&"task-queue.moved".to_string()),
        "{events:?}"
    );
}

#[test]
fn a_task_that_runs_off_its_last_step_is_canceled() {
    let mut w = World::new();
    let queue = w.queue("Only", "1==1");
    let workflow = w.workflow(json!({"task_routing": {"filters": [{"expression": "1==1", "targets": [{"queue": queue, "timeout": 10}]}]}}));
    let task = w.task(&workflow, json!({}));
    w.advance(10);
    assert_eq!(w.status(&task), "canceled");
    assert_eq!(
        w.state().tasks.get(&task).unwrap().reason.as_deref(),
        Some("Task canceled on Workflow timeout")
    );
    assert!(w.events().contains(&"workflow.timeout".to_string()));
}

#[test]
fn no_matching_filter_uses_the_default_filter_or_cancels() {
    let (mut w, _, english, workflow) = quickstart();
    let task = w.task(&workflow, json!({"selected_language": "fr"}));
    assert_eq!(
        (w.status(&task), w.queue_of(&task)),
        ("pending".to_string(), Some(english))
    );
    let queue = w.queue("Only", "1==1");
    let strict = w.workflow(json!({"task_routing": {"filters": [{"expression": "selected_language == \"es\"", "targets": [{"queue": queue}]}]}}));
    let orphan = w.task(&strict, json!({"selected_language": "fr"}));
    assert_eq!(w.status(&orphan), "canceled");
}

#[test]
fn skip_if_skips_a_step_nobody_can_serve() {
    let mut w = World::new();
    let first = w.queue("First", "team == \"a\"");
    let second = w.queue("Second", "team == \"b\"");
    let workflow = w.workflow(json!({"task_routing": {"filters": [
        {"expression": "1==1", "targets": [{"queue": first, "timeout": 60, "skip_if": "workers.available == 0"}, {"queue": second}]}
    ]}}));
    let task = w.task(&workflow, json!({}));
    assert_eq!(
        w.queue_of(&task),
        Some(second),
        "no available member in First"
    );
}

#[test]
fn the_task_ttl_cancels_a_waiting_task() {
    let (mut w, _, _, workflow) = quickstart();
    let task = w.task_with(
        &workflow,
        json!({"selected_language": "es"}),
        None,
        Some(10),
    );
    w.advance(10);
    assert_eq!(w.status(&task), "canceled");
    assert_eq!(
        w.state().tasks.get(&task).unwrap().reason.as_deref(),
        Some("Task TTL Exceeded")
    );
}

#[test]
fn multi_reservation_first_accept_wins_and_the_rest_are_rescinded() {
    let mut w = World::new();
    let queue = w.queue_with("Broadcast", "1==1", 3, "FIFO");
    let workflow = w.workflow(json!({"task_routing": {"filters": [{"expression": "1==1", "targets": [{"queue": queue}]}]}}));
    for name in ["A", "B"] {
        let worker = w.worker(name, json!({}));
        w.set_activity(&worker, "Available");
    }
    let task = w.task(&workflow, json!({}));
    let reservations = w.reservations(&task);
    assert_eq!(
        reservations.len(),
        2,
        "both available workers are offered the task"
    );
    w.accept(&reservations[1].0);
    let statuses: Vec<String> = w.reservations(&task).into_iter().map(|r| r.2).collect();
    assert_eq!(statuses, ["rescinded", "accepted"]);
    let err = w
        .update_reservation(
            &reservations[0].0,
            UpdateTaskReservationParams {
                reservation_status: Some("accepted".into()),
                ..Default::default()
            },
        )
        .unwrap_err();
    assert_eq!(err.status, 400);
}

#[test]
fn capacity_holds_the_second_task_until_the_first_completes() {
    let (mut w, _, _, workflow) = quickstart();
    let alice = w.worker("Alice", json!({"languages": ["es"]}));
    w.set_activity(&alice, "Available");
    let first = w.task(&workflow, json!({"selected_language": "es"}));
    let second = w.task(&workflow, json!({"selected_language": "es"}));
    assert_eq!(
        (w.status(&first), w.status(&second)),
        ("reserved".to_string(), "pending".to_string())
    );
    let reservation = w.pending(&first);
    w.accept(&reservation);
    assert_eq!(
        w.status(&second),
        "pending",
        "the one slot is taken by the assigned task"
    );
    w.set_task_status(&first, "completed").unwrap();
    assert_eq!(w.status(&second), "reserved");
}

#[test]
fn higher_priority_is_served_first_then_older() {
    let (mut w, _, _, workflow) = quickstart();
    let low = w.task_with(&workflow, json!({"selected_language": "es"}), Some(1), None);
    w.now += 1000;
    let high = w.task_with(&workflow, json!({"selected_language": "es"}), Some(5), None);
    w.now += 1000;
    let high_later = w.task_with(&workflow, json!({"selected_language": "es"}), Some(5), None);
    let alice = w.worker("Alice", json!({"languages": ["es"]}));
    w.set_activity(&alice, "Available");
    assert_eq!(
        (w.status(&high), w.status(&high_later), w.status(&low)),
        ("reserved".into(), "pending".into(), "pending".into())
    );
}

#[test]
fn a_lifo_queue_serves_the_newest_first() {
    let mut w = World::new();
    let queue = w.queue_with("Stack", "1==1", 1, "LIFO");
    let workflow = w.workflow(json!({"task_routing": {"filters": [{"expression": "1==1", "targets": [{"queue": queue}]}]}}));
    let old = w.task_with(&workflow, json!({}), Some(9), None);
    w.now += 1000;
    let new = w.task(&workflow, json!({}));
    let worker = w.worker("W", json!({}));
    w.set_activity(&worker, "Available");
    assert_eq!(
        (w.status(&new), w.status(&old)),
        ("reserved".into(), "pending".into())
    );
}

#[test]
fn illegal_transitions_are_refused() {
    let (mut w, _, _, workflow) = quickstart();
    let task = w.task(&workflow, json!({"selected_language": "es"}));
    assert_eq!(
        w.set_task_status(&task, "completed").unwrap_err().status,
        400
    );
    assert_eq!(
        w.set_task_status(&task, "wrapping").unwrap_err().status,
        400
    );
    let alice = w.worker("Alice", json!({"languages": ["es"]}));
    w.set_activity(&alice, "Available");
    let reservation = w.pending(&task);
    w.accept(&reservation);
    assert_eq!(
        w.set_task_status(&task, "canceled").unwrap_err().status,
        400,
        "an assigned task is never canceled"
    );
    let again = w
        .update_reservation(
            &reservation,
            UpdateTaskReservationParams {
                reservation_status: Some("rejected".into()),
                ..Default::default()
            },
        )
        .unwrap_err();
    assert!(
        again.message.contains("already in state [accepted]"),
        "{}",
        again.message
    );
    w.set_task_status(&task, "wrapping").unwrap();
    assert_eq!(w.reservations(&task)[0].2, "wrapping");
}

#[test]
fn canceling_a_reserved_task_cancels_its_reservation() {
    let (mut w, _, _, workflow) = quickstart();
    let alice = w.worker("Alice", json!({"languages": ["es"]}));
    w.set_activity(&alice, "Available");
    let task = w.task(&workflow, json!({"selected_language": "es"}));
    w.set_task_status(&task, "canceled").unwrap();
    assert_eq!(w.reservations(&task)[0].2, "canceled");
    assert!(w.events().contains(&"reservation.canceled".to_string()));
}

#[test]
fn a_finished_task_leaves_no_ttl_timer_behind() {
    let (mut w, _, _, workflow) = quickstart();
    let ttls = |w: &World, task: &str| {
        w.engine
            .state()
            .deadlines
            .iter()
            .filter(|(_, _, d)| matches!(d, Deadline::TaskTtl { task: t, .. } if &**t == task))
            .count()
    };
    let done = w.task_with(
        &workflow,
        json!({"selected_language": "es"}),
        None,
        Some(60),
    );
    let other = w.task_with(
        &workflow,
        json!({"selected_language": "es"}),
        None,
        Some(60),
    );
    assert_eq!((ttls(&w, &done), ttls(&w, &other)), (1, 1));
    w.set_task_status(&done, "canceled").unwrap();
    // Only the finished task's timer goes, though both are due at the same instant.
    assert_eq!((ttls(&w, &done), ttls(&w, &other)), (0, 1));
    w.advance(60);
    assert_eq!(w.status(&other), "canceled");
    assert_eq!(
        w.state().tasks.get(&other).unwrap().reason.as_deref(),
        Some("Task TTL Exceeded")
    );
}

#[test]
fn finished_tasks_are_removed_after_five_minutes() {
    let (mut w, _, _, workflow) = quickstart();
    let task = w.task(&workflow, json!({"selected_language": "es"}));
    w.set_task_status(&task, "canceled").unwrap();
    w.advance(299);
    assert_eq!(w.status(&task), "canceled");
    w.advance(1);
    assert_eq!(w.status(&task), "gone");
}

#[test]
fn updated_attributes_reroute_a_pending_task() {
    let (mut w, spanish, english, workflow) = quickstart();
    let task = w.task(&workflow, json!({"selected_language": "en"}));
    assert_eq!(w.queue_of(&task), Some(english));
    let params = UpdateTaskParams {
        attributes: Some(json!({"selected_language": "es"}).to_string()),
        ..Default::default()
    };
    w.apply(Command::UpdateTask {
        workspace: w.ws.clone(),
        sid: task.clone(),
        params,
    });
    assert_eq!(w.queue_of(&task), Some(spanish));
}

// ------------------------------------------------------------------ invariants

#[derive(Debug, Clone)]
enum Op {
    CreateTask(u8),
    Available(u8, bool),
    Capacity(u8, i64),
    Accept(u8),
    Reject(u8),
    Complete(u8),
    Cancel(u8),
    Advance(u16),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0u8..3).prop_map(Op::CreateTask),
        3 => (0u8..4, any::<bool>()).prop_map(|(w, a)| Op::Available(w, a)),
        1 => (0u8..4, 0i64..3).prop_map(|(w, c)| Op::Capacity(w, c)),
        2 => (0u8..16).prop_map(Op::Accept),
        1 => (0u8..16).prop_map(Op::Reject),
        2 => (0u8..16).prop_map(Op::Complete),
        1 => (0u8..16).prop_map(Op::Cancel),
        2 => (1u16..200).prop_map(Op::Advance),
    ]
}

fn check_invariants(w: &World) -> Result<(), String> {
    let ws = w.state();
    if !ws.index_is_consistent() {
        return Err("the pending-task index does not match the pending tasks".into());
    }
    if !ws.loads_are_consistent() {
        return Err(
            "the kept worker loads, idle order or per-task reservations do not match a recount"
                .into(),
        );
    }
    let active: Vec<&str> = ws
        .reservations
        .iter()
        .filter(|r| matches!(r.status.as_str(), "pending" | "accepted" | "wrapping"))
        .map(|r| r.sid.as_str())
        .collect();
    if active.len() != ws.loads.held() || active.iter().any(|sid| !ws.loads.holds(sid)) {
        return Err(format!(
            "active reservations {active:?} but the loads count {} reservations",
            ws.loads.held()
        ));
    }
    for worker in ws.workers.iter() {
        for channel in &worker.channels {
            let held = ws
                .reservations
                .iter()
                .filter(|r| {
                    r.worker_sid == worker.sid
                        && matches!(r.status.as_str(), "pending" | "accepted" | "wrapping")
                })
                .filter(|r| {
                    ws.tasks
                        .get(&r.task_sid)
                        .is_some_and(|t| t.task_channel_sid == channel.task_channel_sid)
                })
                .count() as i64;
            // Lowering capacity does not withdraw reservations already held.
            let reserved_after_lowering = held > channel.configured_capacity
                && ws
                    .events
                    .iter()
                    .any(|e| e.event_type.as_str() == "worker.capacity.update");
            if held > channel.configured_capacity.max(1) && !reserved_after_lowering {
                return Err(format!(
                    "worker {} holds {held} on a channel of capacity {}",
                    worker.friendly_name, channel.configured_capacity
                ));
            }
        }
    }
    for task in ws.tasks.iter() {
        let accepted = ws
            .reservations
            .iter()
            .filter(|r| r.task_sid == task.sid && r.status == ReservationStatus::Accepted)
            .count();
        if accepted > 1 {
            return Err(format!(
                "task {} has {accepted} accepted reservations",
                task.sid
            ));
        }
        if task.assignment_status == TaskStatus::Assigned && accepted != 1 {
            return Err(format!(
                "assigned task {} has {accepted} accepted reservations",
                task.sid
            ));
        }
        let pending = ws
            .reservations
            .iter()
            .filter(|r| r.task_sid == task.sid && r.status == ReservationStatus::Pending)
            .count();
        if (task.assignment_status == TaskStatus::Reserved) != (pending > 0) {
            return Err(format!(
                "task {} is {} with {pending} pending reservations",
                task.sid, task.assignment_status
            ));
        }
    }
    // Routing has run: no pending task has an eligible worker left unreserved.
    for task in ws.tasks.iter().filter(|t| {
        t.assignment_status == TaskStatus::Pending
            && t.routing.as_ref().is_some_and(|r| !r.position.is_overdue())
    }) {
        for worker in ws.workers.iter() {
            let available = ws
                .activities
                .get(&worker.activity_sid)
                .is_some_and(|a| a.available);
            let busy = ws
                .reservations
                .iter()
                .filter(|r| {
                    r.worker_sid == worker.sid
                        && matches!(r.status.as_str(), "pending" | "accepted" | "wrapping")
                })
                .count() as i64;
            let capacity = worker
                .channels
                .iter()
                .find(|c| c.task_channel_sid == task.task_channel_sid)
                .map_or(0, |c| {
                    if c.available {
                        c.configured_capacity
                    } else {
                        0
                    }
                });
            if available && busy < capacity && !task.rejected_by.contains(&worker.sid) {
                return Err(format!(
                    "pending task {} left unreserved while {} is free",
                    task.sid, worker.friendly_name
                ));
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, .. ProptestConfig::default() })]

    #[test]
    fn random_operations_keep_the_invariants(ops in proptest::collection::vec(op(), 1..60)) {
        let mut w = World::new();
        let queue = w.queue("Everyone", "1==1");
        let workflow = w.workflow(json!({"task_routing": {"filters": [{"expression": "1==1", "targets": [{"queue": queue}]}]}}));
        let workers: Vec<String> = (0..4).map(|i| w.worker(&format!("W{i}"), json!({}))).collect();
        let default_channel = w.state().channels.iter().find(|c| c.unique_name == "default").unwrap().sid.clone();
        let mut tasks: Vec<String> = Vec::new();
        for op in ops {
            let reservation_at = |w: &World, index: u8| w.state().reservations.iter().nth(index as usize).map(|r| r.sid.clone());
            match op {
                Op::CreateTask(priority) => tasks.push(w.task_with(&workflow, json!({}), Some(i64::from(priority)), None)),
                Op::Available(i, on) => w.set_activity(&workers[i as usize], if on { "Available" } else { "Offline" }),
                Op::Capacity(i, capacity) => {
                    let worker = workers[i as usize].clone();
                    let params = UpdateWorkerChannelParams { capacity: Some(capacity), available: None };
                    let _ = w.try_apply(Command::UpdateWorkerChannel { workspace: w.ws.clone(), worker, sid: default_channel.clone(), params });
                }
                Op::Accept(i) => if let Some(r) = reservation_at(&w, i) {
                    let _ = w.update_reservation(&r, UpdateTaskReservationParams { reservation_status: Some("accepted".into()), ..Default::default() });
                },
                Op::Reject(i) => if let Some(r) = reservation_at(&w, i) {
                    let _ = w.update_reservation(&r, UpdateTaskReservationParams { reservation_status: Some("rejected".into()), ..Default::default() });
                },
                Op::Complete(i) => if let Some(task) = tasks.get(i as usize % tasks.len().max(1)).cloned() {
                    let _ = w.set_task_status(&task, "completed");
                },
                Op::Cancel(i) => if let Some(task) = tasks.get(i as usize % tasks.len().max(1)).cloned() {
                    let _ = w.set_task_status(&task, "canceled");
                },
                Op::Advance(seconds) => w.advance(i64::from(seconds)),
            }
            if let Err(problem) = check_invariants(&w) {
                prop_assert!(false, "{}", problem);
            }
        }
    }
}

/// The engine decides each event callback as the event happens: only the types the
/// workspace's EventsFilter lists become deliveries, each with the URL and the signed
/// form parameters, so the runner has nothing left to look up.
#[test]
fn event_deliveries_are_decided_when_the_event_happens() {
    let mut world = World::new();
    let ws = world.ws.clone();
    world.apply(Command::UpdateWorkspace {
        workspace: ws.clone(),
        params: UpdateWorkspaceParams {
            event_callback_url: Some("https://example.com/events".into()),
            events_filter: Some("task.created, task.canceled".into()),
            ..Default::default()
        },
    });
    let queue = world.queue("All", "1==1");
    let workflow = world.workflow(json!({"task_routing": {"filters": [
        {"expression": "1==1", "targets": [{"queue": queue}]}
    ]}}));
    world.effects.clear();
    let task = world.task(&workflow, json!({"kind": "call"}));
    let deliveries: Vec<(&str, &[(String, String)])> = world
        .effects
        .iter()
        .filter_map(|effect| match effect {
            Effect::Event { url, params, .. } => Some((url.as_str(), params.as_slice())),
            Effect::AssignmentCallback { .. } => None,
        })
        .collect();
    // workflow.entered, task-queue.entered … happened too, but the filter lets only
    // task.created through.
    assert!(world.events().len() > 1, "{:?}", world.events());
    assert_eq!(deliveries.len(), 1, "{deliveries:?}");
    let (url, params) = deliveries[0];
    assert_eq!(url, "https://example.com/events");
    let param = |name: &str| {
        params
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    };
    assert_eq!(param("EventType"), Some("task.created"));
    assert_eq!(param("WorkspaceSid"), Some(ws.as_str()));
    assert_eq!(param("TaskSid"), Some(task.as_str()));
    assert_eq!(param("TaskAttributes"), Some(r#"{"kind":"call"}"#));
}

#[test]
fn queue_and_worker_names_are_unique_in_a_workspace_on_create_and_on_rename() {
    let mut world = World::new();
    world.queue("Sales", "1==1");
    let support = world.queue("Support", "1==1");
    let alice = world.worker("alice", json!({}));
    world.worker("bob", json!({}));
    let taken = |result: Result<Outcome, EngineError>, what: &str, name: &str| {
        let err = result.expect_err("refused");
        assert_eq!((err.status, err.code), (400, 20001));
        assert!(
            err.message
                .starts_with(&format!("{what} named {name} already exists for workspace")),
            "{}",
            err.message
        );
    };
    let ws = world.ws.clone();
    let again = CreateTaskQueueParams {
        friendly_name: "Sales".into(),
        ..Default::default()
    };
    let result = world.try_apply(Command::CreateTaskQueue {
        workspace: ws.clone(),
        params: again,
    });
    taken(result, "Queue", "Sales");
    let rename_queue = |name: &str| Command::UpdateTaskQueue {
        workspace: ws.clone(),
        sid: support.clone(),
        params: UpdateTaskQueueParams {
            friendly_name: Some(name.into()),
            ..Default::default()
        },
    };
    taken(world.try_apply(rename_queue("Sales")), "Queue", "Sales");
    // Its own name is not taken by another queue.
    assert!(world.try_apply(rename_queue("Support")).is_ok());
    let again = CreateWorkerParams {
        friendly_name: "alice".into(),
        ..Default::default()
    };
    let result = world.try_apply(Command::CreateWorker {
        workspace: ws.clone(),
        params: again,
    });
    taken(result, "Worker", "alice");
    let rename_worker = |name: &str| Command::UpdateWorker {
        workspace: ws.clone(),
        sid: alice.clone(),
        params: UpdateWorkerParams {
            friendly_name: Some(name.into()),
            ..Default::default()
        },
    };
    taken(world.try_apply(rename_worker("bob")), "Worker", "bob");
    assert!(world.try_apply(rename_worker("alice")).is_ok());
    // A queue and a worker may share a name.
    assert!(world.try_apply(rename_worker("Sales")).is_ok());
}
