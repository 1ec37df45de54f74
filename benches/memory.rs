//! The emulator engine's memory per stored task, driven directly (no HTTP), counted by
//! a global allocator that tracks live heap bytes: the state the lifecycle benchmark
//! leaves (1,000 available workers in one queue; 20,000 tasks through reserved →
//! accepted → completed, then tasks added until 100,000 are stored, the rest waiting),
//! with finished tasks kept (`--keep-finished`). Prints one JSON object on stdout.
//!
//! `cargo bench --bench memory` (about 10 s in release).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use serde_json::json;
use trctl::api::resources::*;
use trctl::emulator::engine::{Command, CountingSids, Engine, Reply};

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every call is passed on to the system allocator unchanged; only a counter is
// updated beside it.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: same layout, as the caller promised.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: `ptr` came from `alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        // SAFETY: as for `GlobalAlloc::realloc`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn live() -> isize {
    LIVE.load(Ordering::Relaxed)
}

const NOW: i64 = 1_700_000_000_000;
const WORKERS: usize = 1_000;
const CYCLED: usize = 20_000;
const STORED: usize = 100_000;

fn apply(engine: &mut Engine, command: Command, now: i64) -> String {
    match engine.apply(command, now).expect("bench command").reply {
        Reply::Created(sid) | Reply::Updated(sid) => sid,
        Reply::Deleted => String::new(),
    }
}

fn main() {
    let base = live();
    let mut engine = Engine::new(
        "AC00000000000000000000000000000001",
        Box::new(CountingSids::default()),
    );
    engine.set_keep_finished(None);
    let mut now = NOW;
    let ws = apply(
        &mut engine,
        Command::CreateWorkspace(CreateWorkspaceParams {
            friendly_name: "Bench".into(),
            ..Default::default()
        }),
        now,
    );
    let queue = apply(
        &mut engine,
        Command::CreateTaskQueue {
            workspace: ws.clone(),
            params: CreateTaskQueueParams {
                friendly_name: "Everyone".into(),
                target_workers: Some("1==1".into()),
                ..Default::default()
            },
        },
        now,
    );
    let config = json!({"task_routing": {"filters": [{"expression": "1==1", "targets": [{"queue": queue}]}]}}).to_string();
    let workflow = apply(
        &mut engine,
        Command::CreateWorkflow {
            workspace: ws.clone(),
            params: CreateWorkflowParams {
                friendly_name: "All".into(),
                configuration: config,
                ..Default::default()
            },
        },
        now,
    );
    let available = engine
        .state()
        .workspaces
        .get(&ws)
        .and_then(|w| w.activities.iter().find(|a| a.friendly_name == "Available"))
        .map(|a| a.sid.clone())
        .expect("Available activity");
    for index in 0..WORKERS {
        apply(
            &mut engine,
            Command::CreateWorker {
                workspace: ws.clone(),
                params: CreateWorkerParams {
                    friendly_name: format!("worker-{index}"),
                    activity_sid: Some(available.clone()),
                    attributes: Some(format!("{{\"index\":{index}}}")),
                },
            },
            now,
        );
    }
    let setup = live();
    let create = |engine: &mut Engine, now: i64| {
        apply(
            engine,
            Command::CreateTask {
                workspace: ws.clone(),
                params: CreateTaskParams {
                    workflow_sid: Some(workflow.clone()),
                    attributes: Some("{\"type\":\"support\",\"selected_language\":\"en\"}".into()),
                    ..Default::default()
                },
            },
            now,
        )
    };
    let started = std::time::Instant::now();
    for _ in 0..CYCLED {
        now += 1;
        let task = create(&mut engine, now);
        let reservation = engine
            .state()
            .workspaces
            .get(&ws)
            .and_then(|w| w.reservations.iter().rev().find(|r| r.task_sid == task))
            .map(|r| r.sid.clone())
            .expect("the task was reserved at once");
        apply(
            &mut engine,
            Command::UpdateReservation {
                workspace: ws.clone(),
                task: Some(task.clone()),
                worker: None,
                sid: reservation,
                params: UpdateTaskReservationParams {
                    reservation_status: Some("accepted".into()),
                    ..Default::default()
                },
            },
            now,
        );
        apply(
            &mut engine,
            Command::UpdateTask {
                workspace: ws.clone(),
                sid: task,
                params: UpdateTaskParams {
                    assignment_status: Some("completed".into()),
                    reason: Some("done".into()),
                    ..Default::default()
                },
            },
            now,
        );
    }
    let cycle_time = started.elapsed();
    let after_cycle = live();
    let started = std::time::Instant::now();
    for _ in CYCLED..STORED {
        now += 1;
        create(&mut engine, now);
    }
    let fill_time = started.elapsed();
    let stored = live();
    let workspace = engine.state().workspaces.get(&ws).expect("workspace");
    let tasks = workspace.tasks.iter().count();
    let events = workspace.events.iter().count();
    let mib = |bytes: isize| bytes as f64 / (1024.0 * 1024.0);
    let finished_bytes = (after_cycle - setup) as f64 / CYCLED as f64;
    let pending_bytes = (stored - after_cycle) as f64 / (STORED - CYCLED) as f64;
    eprintln!(
        "memory: {tasks} tasks, {events} events: {:.1} MiB live ({:.0} B per finished task, {:.0} B per pending task)",
        mib(stored - base),
        finished_bytes,
        pending_bytes
    );
    println!(
        "{}",
        json!({
            "tasks_stored": tasks,
            "events_stored": events,
            "live_mib_setup": mib(setup - base),
            "live_mib_after_cycle": mib(after_cycle - base),
            "live_mib_stored": mib(stored - base),
            "bytes_per_finished_task": finished_bytes.round(),
            "bytes_per_pending_task": pending_bytes.round(),
            "engine_us_per_cycled_task": (cycle_time.as_secs_f64() * 1e6 / CYCLED as f64),
            "engine_us_per_pending_create": (fill_time.as_secs_f64() * 1e6 / (STORED - CYCLED) as f64),
        })
    );
}
