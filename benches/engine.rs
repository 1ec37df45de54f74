//! The routing engine's cost per routing event, driven directly (no HTTP):
//! (a) one worker becomes available while N tasks wait in its queue;
//! (b) one task is created while M workers are available.
//! N and M are 1,000, 10,000 and 100,000. Only the routing event is timed
//! (`iter_custom`); resetting the state between events is not.

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use serde_json::json;
use trctl::api::resources::*;
use trctl::emulator::engine::{Command, CountingSids, Engine, Reply};

const NOW: i64 = 1_700_000_000_000;

struct Setup {
    engine: Engine,
    ws: String,
    workflow: String,
    available: String,
    offline: String,
}

fn sid(engine: &mut Engine, command: Command) -> String {
    match engine.apply(command, NOW).expect("setup command").reply {
        Reply::Created(sid) | Reply::Updated(sid) => sid,
        Reply::Deleted => String::new(),
    }
}

fn setup() -> Setup {
    let mut engine = Engine::new(
        "AC00000000000000000000000000000001",
        Box::new(CountingSids::default()),
    );
    let ws = sid(
        &mut engine,
        Command::CreateWorkspace(CreateWorkspaceParams {
            friendly_name: "Bench".into(),
            ..Default::default()
        }),
    );
    let queue = sid(
        &mut engine,
        Command::CreateTaskQueue {
            workspace: ws.clone(),
            params: CreateTaskQueueParams {
                friendly_name: "All".into(),
                target_workers: Some("1==1".into()),
                ..Default::default()
            },
        },
    );
    let config = json!({"task_routing": {"filters": [{"expression": "1==1", "targets": [{"queue": queue}]}]}}).to_string();
    let workflow = sid(
        &mut engine,
        Command::CreateWorkflow {
            workspace: ws.clone(),
            params: CreateWorkflowParams {
                friendly_name: "All".into(),
                configuration: config,
                ..Default::default()
            },
        },
    );
    let state = engine.state().workspaces.get(&ws).expect("workspace");
    let find = |name: &str| {
        state
            .activities
            .iter()
            .find(|a| a.friendly_name == name)
            .map(|a| a.sid.clone())
            .expect("activity")
    };
    let (available, offline) = (find("Available"), find("Offline"));
    Setup {
        engine,
        ws,
        workflow,
        available,
        offline,
    }
}

fn task(s: &mut Setup) -> String {
    let params = CreateTaskParams {
        workflow_sid: Some(s.workflow.clone()),
        attributes: Some("{\"type\":\"support\"}".into()),
        ..Default::default()
    };
    sid(
        &mut s.engine,
        Command::CreateTask {
            workspace: s.ws.clone(),
            params,
        },
    )
}

fn worker(s: &mut Setup, name: &str, activity: &str) -> String {
    let params = CreateWorkerParams {
        friendly_name: name.into(),
        activity_sid: Some(activity.into()),
        attributes: Some("{}".into()),
    };
    sid(
        &mut s.engine,
        Command::CreateWorker {
            workspace: s.ws.clone(),
            params,
        },
    )
}

fn set_activity(s: &mut Setup, worker: &str, activity: &str) {
    let params = UpdateWorkerParams {
        activity_sid: Some(activity.into()),
        ..Default::default()
    };
    sid(
        &mut s.engine,
        Command::UpdateWorker {
            workspace: s.ws.clone(),
            sid: worker.into(),
            params,
        },
    );
}

fn cancel(s: &mut Setup, task: &str) {
    let params = UpdateTaskParams {
        assignment_status: Some("canceled".into()),
        reason: Some("bench".into()),
        ..Default::default()
    };
    sid(
        &mut s.engine,
        Command::UpdateTask {
            workspace: s.ws.clone(),
            sid: task.into(),
            params,
        },
    );
}

/// The task a worker was just reserved for.
fn reserved_task(s: &Setup, worker: &str) -> String {
    let ws = s.engine.state().workspaces.get(&s.ws).expect("workspace");
    ws.reservations
        .iter()
        .rev()
        .find(|r| r.worker_sid == worker && r.status == "pending")
        .map(|r| r.task_sid.clone())
        .expect("a reservation was made")
}

fn worker_becomes_available(c: &mut Criterion) {
    let mut group = c.benchmark_group("worker_available_with_pending_tasks");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(3));
    for n in [1_000usize, 10_000, 100_000] {
        let mut s = setup();
        let offline = s.offline.clone();
        let alice = worker(&mut s, "Alice", &offline);
        for _ in 0..n {
            task(&mut s);
        }
        group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            b.iter_custom(|iterations| {
                let mut total = Duration::ZERO;
                for _ in 0..iterations {
                    let available = s.available.clone();
                    let started = Instant::now();
                    set_activity(&mut s, &alice, &available);
                    total += started.elapsed();
                    // Reset, untimed: Alice offline, her task canceled, a new one queued.
                    let taken = reserved_task(&s, &alice);
                    let offline = s.offline.clone();
                    set_activity(&mut s, &alice, &offline);
                    cancel(&mut s, &taken);
                    task(&mut s);
                }
                total
            })
        });
    }
    group.finish();
}

fn task_created_with_available_workers(c: &mut Criterion) {
    let mut group = c.benchmark_group("task_created_with_available_workers");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(3));
    for m in [1_000usize, 10_000, 100_000] {
        let mut s = setup();
        let available = s.available.clone();
        for index in 0..m {
            worker(&mut s, &format!("W{index}"), &available);
        }
        group.bench_with_input(BenchmarkId::from_parameter(m), &m, |b, _| {
            b.iter_custom(|iterations| {
                let mut total = Duration::ZERO;
                for _ in 0..iterations {
                    let started = Instant::now();
                    let created = task(&mut s);
                    total += started.elapsed();
                    cancel(&mut s, &created);
                }
                total
            })
        });
    }
    group.finish();
}

criterion_group!(
    benches,
    worker_becomes_available,
    task_created_with_available_workers
);
criterion_main!(benches);
