//! The routing engine's cost per routing event, driven directly (no HTTP):
//! (a) one worker becomes available while N tasks wait in its queue;
//! (b) one task is created while M workers are available.
//! N and M are 1,000, 10,000 and 100,000. Only the routing event is timed
//! (`iter_custom`); resetting the state between events is not.
//! (c) the costliest requests the limits of `trctl::expr::limits` allow, at the scale the
//! README's "Limits" paragraph promises: a task create that walks every step of a
//! workflow, a queue update that re-routes the backlog, and a worker list filter.

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use serde_json::json;
use trctl::api::resources::*;
use trctl::emulator::engine::{query, Command, CountingSids, Engine, Reply};
use trctl::expr::{MAX_EXPRESSION_BYTES, MAX_TERMS, MAX_WORKFLOW_TARGETS};

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
        .find(|r| r.worker_sid == worker && r.status.as_str() == "pending")
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

/// Workers, queues and pending tasks of the documented scale the limits are measured at.
pub const SCALE_WORKERS: usize = 50;
/// Queues, each with a `TargetWorkers` at the term limit.
pub const SCALE_QUEUES: usize = 100;
/// Tasks waiting when a queue update re-routes them.
pub const SCALE_PENDING: usize = 100;

/// `MAX_TERMS` comparisons of the kind the fault campaign used (`skill == 'aN'`), joined by
/// OR. Only the last is true when `last_true`, so evaluating it always runs every term.
fn worst_expression(key: &str, last_true: bool) -> String {
    let mut terms: Vec<String> = (0..MAX_TERMS - 1)
        .map(|i| format!("{key} == 'a{i}'"))
        .collect();
    terms.push(if last_true {
        format!("{key} == 'zz'")
    } else {
        format!("{key} == 'a{MAX_TERMS}'")
    });
    let source = terms.join(" OR ");
    assert!(
        source.len() <= MAX_EXPRESSION_BYTES,
        "{} bytes",
        source.len()
    );
    source
}

/// A workspace at the documented scale with every expression at the limits, arranged so
/// that nothing short-circuits: every worker is a member of every queue (the last term of
/// each `TargetWorkers` holds), no worker passes any target expression (none of its terms
/// holds), and every step's `skip_if` is true, so a new task enters and skips every one of
/// the `MAX_WORKFLOW_TARGETS` steps, checking every worker against the queue and target at
/// each, and is finally canceled.
fn worst_case_setup() -> (Setup, Vec<String>) {
    let mut s = setup();
    let available = s.available.clone();
    for index in 0..SCALE_WORKERS {
        let params = CreateWorkerParams {
            friendly_name: format!("W{index}"),
            activity_sid: Some(available.clone()),
            attributes: Some(json!({"skill": "zz", "level": index}).to_string()),
        };
        sid(
            &mut s.engine,
            Command::CreateWorker {
                workspace: s.ws.clone(),
                params,
            },
        );
    }
    let member = worst_expression("skill", true);
    let queues: Vec<String> = (0..SCALE_QUEUES)
        .map(|index| {
            sid(
                &mut s.engine,
                Command::CreateTaskQueue {
                    workspace: s.ws.clone(),
                    params: CreateTaskQueueParams {
                        friendly_name: format!("Q{index}"),
                        target_workers: Some(member.clone()),
                        ..Default::default()
                    },
                },
            )
        })
        .collect();
    // Filter expressions over the task, true on the last term; target expressions over
    // the worker, never true; skip_if true on its last term.
    let filter_expression = worst_expression("kind", true);
    let target_expression = worst_expression("worker.skill", false)
        .replace("worker.skill == 'zz'", "worker.skill == 'nobody'");
    // `skip_if` is short: at the term limit too the document would pass TaskRouter's
    // 1 MB, and it is evaluated once per step, not once per worker.
    let skip_if = "workers.available > 0";
    let filters_count = 10;
    let per_filter = MAX_WORKFLOW_TARGETS / filters_count;
    let filters: Vec<serde_json::Value> = (0..filters_count)
        .map(|f| {
            let targets: Vec<serde_json::Value> = (0..per_filter)
                .map(|t| {
                    json!({
                        "queue": queues[(f * per_filter + t) % queues.len()],
                        "expression": target_expression,
                        "skip_if": skip_if,
                        "timeout": 60,
                    })
                })
                .collect();
            json!({"expression": filter_expression, "targets": targets})
        })
        .collect();
    let configuration = json!({"task_routing": {"filters": filters}}).to_string();
    let workflow = sid(
        &mut s.engine,
        Command::CreateWorkflow {
            workspace: s.ws.clone(),
            params: CreateWorkflowParams {
                friendly_name: "Worst".into(),
                configuration,
                ..Default::default()
            },
        },
    );
    s.workflow = workflow;
    (s, queues)
}

fn worst_task(s: &mut Setup) -> String {
    let params = CreateTaskParams {
        workflow_sid: Some(s.workflow.clone()),
        attributes: Some(json!({"kind": "zz"}).to_string()),
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

fn at_limits(c: &mut Criterion) {
    let mut group = c.benchmark_group("at_limits");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(5));
    let (mut s, queues) = worst_case_setup();
    // The task walks all the steps and falls out of the workflow (canceled).
    let probe = worst_task(&mut s);
    let status = s
        .engine
        .state()
        .workspaces
        .get(&s.ws)
        .and_then(|ws| ws.tasks.get(&probe))
        .map(|t| t.assignment_status.as_str());
    assert_eq!(status, Some("canceled"), "the walk reached the end");
    group.bench_function("task_create_walks_every_step", |b| {
        b.iter(|| worst_task(&mut s))
    });

    // A queue update re-routes every pending task. The backlog waits in a queue whose
    // `TargetWorkers` (at the term limit) admits nobody, so every update checks every
    // pending task against every worker and reserves nothing.
    let nobody = sid(
        &mut s.engine,
        Command::CreateTaskQueue {
            workspace: s.ws.clone(),
            params: CreateTaskQueueParams {
                friendly_name: "Nobody".into(),
                target_workers: Some(worst_expression("skill", false)),
                ..Default::default()
            },
        },
    );
    let config = json!({"task_routing": {"filters": [{"expression": "1==1", "targets": [{"queue": nobody}]}]}}).to_string();
    let parked = sid(
        &mut s.engine,
        Command::CreateWorkflow {
            workspace: s.ws.clone(),
            params: CreateWorkflowParams {
                friendly_name: "Parked".into(),
                configuration: config,
                ..Default::default()
            },
        },
    );
    for _ in 0..SCALE_PENDING {
        let params = CreateTaskParams {
            workflow_sid: Some(parked.clone()),
            attributes: Some("{}".into()),
            ..Default::default()
        };
        sid(
            &mut s.engine,
            Command::CreateTask {
                workspace: s.ws.clone(),
                params,
            },
        );
    }
    let mut flip = false;
    group.bench_function("queue_update_reroutes_backlog", |b| {
        b.iter(|| {
            // Alternate between two equally costly expressions so each update changes it.
            flip = !flip;
            let key = if flip { "skill" } else { "level" };
            sid(
                &mut s.engine,
                Command::UpdateTaskQueue {
                    workspace: s.ws.clone(),
                    sid: nobody.clone(),
                    params: UpdateTaskQueueParams {
                        target_workers: Some(worst_expression(key, false)),
                        ..Default::default()
                    },
                },
            )
        })
    });

    let list = ListWorkerParams {
        target_workers_expression: Some(worst_expression("skill", false)),
        task_queue_sid: queues.first().cloned(),
        ..Default::default()
    };
    group.bench_function("worker_list_filter", |b| {
        b.iter(|| {
            let ws = s.engine.state().workspaces.get(&s.ws).expect("workspace");
            query::workers(ws, &list).map(|items| items.len())
        })
    });
    group.finish();
}

criterion_group!(
    benches,
    worker_becomes_available,
    task_created_with_available_workers,
    at_limits
);
criterion_main!(benches);
