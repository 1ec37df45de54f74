//! Timers fire at their own time, however far one tick jumps (ROUTING.md §2.3.3).
//!
//! Each scenario is run twice on the engine: one tick straight to the end, and ticks at
//! many intermediate instants. Both must end in the same state, and that state must be
//! the walk `workflow::route::plan` predicts (what `trctl workflow test` prints).

use proptest::prelude::*;
use serde_json::{json, Value};
use trctl::api::resources::*;
use trctl::emulator::engine::state::Workspace;
use trctl::emulator::engine::{Command, CountingSids, Engine, Millis, Reply};
use trctl::workflow::{never_skip, plan, RouteInput};

const T0: Millis = 1_700_000_000_000;

struct World {
    engine: Engine,
    now: Millis,
    ws: String,
}

fn sid(reply: Reply) -> String {
    match reply {
        Reply::Created(sid) | Reply::Updated(sid) => sid,
        Reply::Deleted => String::new(),
    }
}

impl World {
    fn new() -> World {
        let mut engine = Engine::new(
            "AC00000000000000000000000000000001",
            Box::new(CountingSids::default()),
        );
        let params = CreateWorkspaceParams {
            friendly_name: "Ticks".into(),
            ..Default::default()
        };
        let ws = sid(engine
            .apply(Command::CreateWorkspace(params), T0)
            .unwrap()
            .reply);
        World {
            engine,
            now: T0,
            ws,
        }
    }

    fn apply(&mut self, command: Command) -> String {
        sid(self.engine.apply(command, self.now).unwrap().reply)
    }

    fn state(&self) -> &Workspace {
        self.engine.state().workspaces.get(&self.ws).unwrap()
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

    fn workflow(&mut self, config: Value, reservation_timeout: Option<i64>) -> String {
        let params = CreateWorkflowParams {
            friendly_name: "Walk".into(),
            configuration: config.to_string(),
            assignment_callback_url: Some("http://127.0.0.1:9/assignment".into()),
            task_reservation_timeout: reservation_timeout,
            ..Default::default()
        };
        self.apply(Command::CreateWorkflow {
            workspace: self.ws.clone(),
            params,
        })
    }

    fn available_worker(&mut self, attributes: Value) -> String {
        let params = CreateWorkerParams {
            friendly_name: "Alice".into(),
            attributes: Some(attributes.to_string()),
            ..Default::default()
        };
        let worker = self.apply(Command::CreateWorker {
            workspace: self.ws.clone(),
            params,
        });
        let available = self
            .state()
            .activities
            .iter()
            .find(|a| a.friendly_name == "Available")
            .unwrap()
            .sid
            .clone();
        self.apply(Command::UpdateWorker {
            workspace: self.ws.clone(),
            sid: worker.clone(),
            params: UpdateWorkerParams {
                activity_sid: Some(available),
                ..Default::default()
            },
        });
        worker
    }

    fn task(&mut self, workflow: &str, ttl: Option<i64>) -> String {
        let params = CreateTaskParams {
            workflow_sid: Some(workflow.into()),
            attributes: Some("{}".into()),
            timeout: ttl,
            ..Default::default()
        };
        self.apply(Command::CreateTask {
            workspace: self.ws.clone(),
            params,
        })
    }

    /// Tick at `at` (milliseconds after T0).
    fn tick_at(&mut self, at: Millis) {
        self.now = T0 + at;
        self.apply(Command::Tick);
    }

    /// Everything a timer can change, with times relative to T0.
    fn summary(&self, task: &str) -> Summary {
        let ws = self.state();
        let t = ws.tasks.get(task).unwrap();
        Summary {
            status: t.assignment_status.to_string(),
            queue: t.task_queue_sid.clone(),
            entered: t.task_queue_entered.map(|at| at - T0),
            reason: t.reason.clone(),
            finished: t.finished.map(|at| at - T0),
            updated: t.updated - T0,
            events: ws
                .events
                .iter()
                .filter(|e| e.date >= T0)
                .map(|e| {
                    (
                        e.event_type.as_str(),
                        e.resource_sid(ws).to_string(),
                        e.date - T0,
                    )
                })
                .collect(),
            reservations: ws
                .reservations
                .iter()
                .map(|r| (r.status.to_string(), r.created - T0, r.updated - T0))
                .collect(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Summary {
    status: String,
    queue: Option<String>,
    entered: Option<Millis>,
    reason: Option<String>,
    finished: Option<Millis>,
    updated: Millis,
    events: Vec<(&'static str, String, Millis)>,
    reservations: Vec<(String, Millis, Millis)>,
}

/// A scenario: queues `Q1`..`Q3` (nobody in them unless `worker` names a queue's
/// attribute), a workflow built from the queue SIDs, one task created at T0.
struct Scenario {
    config: fn(&[String]) -> Value,
    ttl: Option<i64>,
    reservation_timeout: Option<i64>,
    /// Attributes of one available worker; queue `Qn` targets `qn == 1`.
    worker: Option<Value>,
}

impl Scenario {
    fn plain(config: fn(&[String]) -> Value, ttl: Option<i64>) -> Scenario {
        Scenario {
            config,
            ttl,
            reservation_timeout: None,
            worker: None,
        }
    }

    /// Run with ticks at `ticks` (milliseconds after the task was created, ascending).
    fn run(&self, ticks: &[Millis]) -> (World, String, Summary) {
        let mut w = World::new();
        let queues: Vec<String> = (1..=3)
            .map(|n| w.queue(&format!("Q{n}"), &format!("q{n} == 1")))
            .collect();
        let workflow = w.workflow((self.config)(&queues), self.reservation_timeout);
        if let Some(attributes) = &self.worker {
            w.available_worker(attributes.clone());
        }
        let task = w.task(&workflow, self.ttl);
        for &at in ticks {
            w.tick_at(at);
        }
        let summary = w.summary(&task);
        (w, task, summary)
    }

    /// One tick to `end`, and ticks every `step` ms up to it: the same state, returned.
    fn one_and_many(&self, end: Millis, step: Millis) -> (World, String, Summary) {
        let (_, _, many) = self.run(&(1..=end / step).map(|k| k * step).collect::<Vec<_>>());
        let (w, task, one) = self.run(&[end]);
        assert_eq!(one, many, "one tick to {end} ms vs ticks every {step} ms");
        (w, task, one)
    }
}

/// What `plan` predicts at age `age` seconds: (status, queue, entered at ms, reason,
/// finished at ms).
fn planned(w: &World, task: &str, age: u64) -> (String, Option<String>, Option<Millis>) {
    let ws = w.state();
    let t = ws.tasks.get(task).unwrap();
    let workflow = &ws
        .workflows
        .get(t.workflow_sid.as_deref().unwrap())
        .unwrap()
        .compiled;
    let attributes = json!({});
    let input = RouteInput {
        age,
        ttl: t.timeout as u64,
        ..RouteInput::new(&attributes)
    };
    let route = plan(workflow, &input, &mut never_skip);
    match route.active_visit() {
        Some((_, visit)) => (
            "pending".into(),
            Some(visit.step.queue.clone()),
            Some(visit.entered_at as Millis * 1000),
        ),
        None => (
            format!("canceled: {}", route.end.reason.reason_text()),
            None,
            Some(route.end.at as Millis * 1000),
        ),
    }
}

/// The engine's state in `planned`'s terms.
fn observed(s: &Summary) -> (String, Option<String>, Option<Millis>) {
    if s.status == "pending" {
        (s.status.clone(), s.queue.clone(), s.entered)
    } else {
        (
            format!("{}: {}", s.status, s.reason.clone().unwrap_or_default()),
            None,
            s.finished,
        )
    }
}

fn two_filters_30_then_10(q: &[String]) -> Value {
    json!({"task_routing": {"filters": [
        {"filter_friendly_name": "A", "expression": "1==1",
         "targets": [{"queue": q[0], "timeout": 30}]},
        {"filter_friendly_name": "B", "expression": "1==1",
         "targets": [{"queue": q[1], "timeout": 10}]},
    ]}})
}

/// Issue 14, reproduction (1).
#[test]
fn a_later_filter_entered_mid_advance_times_out_from_its_own_entry() {
    let scenario = Scenario::plain(two_filters_30_then_10, None);
    let (w, task, s) = scenario.one_and_many(65_000, 1_000);
    // Filter A ends at 30, filter B is entered then and ends at 40; the default filter is
    // never reached by a timeout, so the task falls out of the workflow at 40.
    assert_eq!(
        observed(&s),
        (
            "canceled: Task canceled on Workflow timeout".to_string(),
            None,
            Some(40_000)
        )
    );
    assert_eq!(observed(&s), planned(&w, &task, 65));
    assert!(s
        .events
        .iter()
        .any(|(kind, _, at)| *kind == "workflow.timeout" && *at == 40_000));
}

/// Issue 14, reproduction (2).
#[test]
fn a_second_filter_entered_mid_advance_reaches_its_last_target() {
    let scenario = Scenario::plain(
        |q| {
            json!({"task_routing": {"filters": [
                {"expression": "1==1", "targets": [{"queue": q[2], "timeout": 60}]},
                {"expression": "1==1",
                 "targets": [{"queue": q[0], "timeout": 10}, {"queue": q[2]}]},
            ]}})
        },
        None,
    );
    let (w, task, s) = scenario.one_and_many(70_000, 5_000);
    assert_eq!(s.status, "pending");
    assert_eq!(s.entered, Some(70_000));
    assert_eq!(observed(&s), planned(&w, &task, 70));
}

/// Issue 14, reproduction (3).
#[test]
fn the_next_step_is_entered_at_the_deadline_not_at_the_end_of_the_advance() {
    let scenario = Scenario::plain(
        |q| {
            json!({"task_routing": {"filters": [
                {"expression": "1==1",
                 "targets": [{"queue": q[2], "timeout": 5}, {"queue": q[0]}]},
            ]}})
        },
        None,
    );
    let (w, task, s) = scenario.one_and_many(18_000, 1_000);
    assert_eq!((s.status.as_str(), s.entered), ("pending", Some(5_000)));
    assert_eq!(s.updated, 5_000);
    assert_eq!(observed(&s), planned(&w, &task, 18));
    let moved: Vec<Millis> = s
        .events
        .iter()
        .filter(|(kind, _, _)| *kind == "task-queue.moved")
        .map(|(_, _, at)| *at)
        .collect();
    assert_eq!(moved, vec![5_000]);
}

/// Issue 14, reproduction (4).
#[test]
fn a_workflow_timeout_before_the_ttl_wins_even_if_one_advance_passes_both() {
    let scenario = Scenario::plain(
        |q| {
            json!({"task_routing": {"filters": [
                {"expression": "1==1", "targets": [{"queue": q[0], "timeout": 50}]},
                {"expression": "1==1", "targets": [{"queue": q[1], "timeout": 30}]},
            ]}})
        },
        Some(100),
    );
    let (w, task, s) = scenario.one_and_many(105_000, 1_000);
    assert_eq!(
        observed(&s),
        (
            "canceled: Task canceled on Workflow timeout".to_string(),
            None,
            Some(80_000)
        )
    );
    assert_eq!(observed(&s), planned(&w, &task, 105));
}

#[test]
fn a_step_deadline_at_the_ttl_loses_to_the_ttl() {
    // The step's deadline and the TTL are both at 100 s: the TTL comes first (the rule
    // `workflow::walk` documents and `plan` follows), so the task never enters Q2.
    let scenario = Scenario::plain(
        |q| {
            json!({"task_routing": {"filters": [{"expression": "1==1",
                "targets": [{"queue": q[0], "timeout": 100}, {"queue": q[1]}]}]}})
        },
        Some(100),
    );
    let (w, task, s) = scenario.one_and_many(120_000, 10_000);
    assert_eq!(
        observed(&s),
        (
            "canceled: Task TTL Exceeded".to_string(),
            None,
            Some(100_000)
        )
    );
    assert_eq!(observed(&s), planned(&w, &task, 120));
    assert!(!s
        .events
        .iter()
        .any(|(kind, _, _)| *kind == "task-queue.moved"));
}

#[test]
fn a_reservation_made_mid_advance_times_out_from_its_creation() {
    // Nobody serves Q1; at 10 the task moves to Q2, where Alice is reserved at once. The
    // reservation times out 5 s later (at 15), Alice goes offline, the task waits in Q2.
    let scenario = Scenario {
        config: |q| {
            json!({"task_routing": {"filters": [
                {"expression": "1==1",
                 "targets": [{"queue": q[0], "timeout": 10}, {"queue": q[1]}]},
            ]}})
        },
        ttl: None,
        reservation_timeout: Some(5),
        worker: Some(json!({"q2": 1})),
    };
    let (_, _, s) = scenario.one_and_many(30_000, 1_000);
    assert_eq!(
        s.reservations,
        vec![("timeout".to_string(), 10_000, 15_000)]
    );
    assert_eq!((s.status.as_str(), s.entered), ("pending", Some(10_000)));
}

#[test]
fn a_step_timer_of_the_walk_before_new_attributes_does_not_move_the_new_walk() {
    // Q1 times out at 30. New attributes at 10 start the walk again: Q1 is entered at 10
    // and its deadline is 40 (filter entry plus 30, ROUTING.md §2.7 suggestion). The
    // timer set for 30 belongs to the old walk and must not move the task then.
    let mut w = World::new();
    let queues: Vec<String> = (1..=3)
        .map(|n| w.queue(&format!("Q{n}"), &format!("q{n} == 1")))
        .collect();
    let workflow = w.workflow(
        json!({"task_routing": {"filters": [{"expression": "1==1",
            "targets": [{"queue": queues[0], "timeout": 30}, {"queue": queues[1]}]}]}}),
        None,
    );
    let task = w.task(&workflow, None);
    w.now = T0 + 10_000;
    w.apply(Command::UpdateTask {
        workspace: w.ws.clone(),
        sid: task.clone(),
        params: UpdateTaskParams {
            attributes: Some(r#"{"x": 1}"#.into()),
            ..Default::default()
        },
    });
    w.tick_at(35_000);
    let s = w.summary(&task);
    assert_eq!(
        (s.queue.as_deref(), s.entered),
        (Some(queues[0].as_str()), Some(10_000))
    );
    w.tick_at(40_000);
    let s = w.summary(&task);
    assert_eq!(
        (s.queue.as_deref(), s.entered),
        (Some(queues[1].as_str()), Some(40_000))
    );
}

/// A random workflow: 1–3 filters (each true or false) of 1–3 targets over Q1–Q3 with
/// timeouts of 1–40 s or none.
/// Filters as (matches?, targets as (queue index, timeout)).
type Filters = Vec<(bool, Vec<(usize, Option<u32>)>)>;

fn random_config() -> impl Strategy<Value = Filters> {
    let target = (0..3usize, proptest::option::weighted(0.8, 1..40u32));
    let filter = (
        proptest::bool::weighted(0.8),
        proptest::collection::vec(target, 1..4),
    );
    proptest::collection::vec(filter, 1..4)
}

fn build(filters: &Filters, q: &[String], default: bool) -> Value {
    let filters: Vec<Value> = filters
        .iter()
        .map(|(matches, targets)| {
            let targets: Vec<Value> = targets
                .iter()
                .map(|(queue, timeout)| match timeout {
                    Some(t) => json!({"queue": q[*queue], "timeout": t}),
                    None => json!({"queue": q[*queue]}),
                })
                .collect();
            json!({"expression": if *matches { "1==1" } else { "1==2" }, "targets": targets})
        })
        .collect();
    if default {
        json!({"task_routing": {"filters": filters, "default_filter": {"queue": q[2]}}})
    } else {
        json!({"task_routing": {"filters": filters}})
    }
}

fn run_random(
    filters: &Filters,
    default: bool,
    ttl: i64,
    worker: Option<usize>,
    ticks: &[Millis],
) -> Summary {
    let mut w = World::new();
    let queues: Vec<String> = (1..=3)
        .map(|n| w.queue(&format!("Q{n}"), &format!("q{n} == 1")))
        .collect();
    let workflow = w.workflow(build(filters, &queues, default), Some(7));
    if let Some(n) = worker {
        w.available_worker(json!({ format!("q{}", n + 1): 1 }));
    }
    let task = w.task(&workflow, Some(ttl));
    for &at in ticks {
        w.tick_at(at);
    }
    w.summary(&task)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, .. ProptestConfig::default() })]

    /// One big tick and many small ones (at random instants) end in the same state.
    #[test]
    fn one_big_tick_equals_many_small_ones(
        filters in random_config(),
        default in proptest::bool::ANY,
        ttl in 20..150i64,
        worker in proptest::option::of(0..3usize),
        end in 0..160_000i64,
        cuts in proptest::collection::vec(0..160_000i64, 0..12),
    ) {
        let mut ticks: Vec<Millis> = cuts.into_iter().filter(|c| *c < end).collect();
        ticks.sort_unstable();
        ticks.push(end);
        let many = run_random(&filters, default, ttl, worker, &ticks);
        let one = run_random(&filters, default, ttl, worker, &[end]);
        prop_assert_eq!(one, many);
    }

    /// Without workers, one tick lands where `plan` says the task is at that age.
    #[test]
    fn one_big_tick_lands_where_the_plan_says(
        filters in random_config(),
        default in proptest::bool::ANY,
        ttl in 20..150i64,
        end in 0..160i64,
    ) {
        let mut w = World::new();
        let queues: Vec<String> = (1..=3)
            .map(|n| w.queue(&format!("Q{n}"), &format!("q{n} == 1")))
            .collect();
        let workflow = w.workflow(build(&filters, &queues, default), None);
        let task = w.task(&workflow, Some(ttl));
        w.tick_at(end * 1000);
        let s = w.summary(&task);
        prop_assert_eq!(observed(&s), planned(&w, &task, end as u64));
    }
}
