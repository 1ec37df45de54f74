//! Choosing: which workers a pending task is offered to (eligible, longest idle first,
//! `order_by`), and which pending task a freed worker gets (ROUTING.md §2.5, §3.3, §4.6).

use super::time_of_day;
use crate::api::resources::{QueueOrder, TaskStatus};
use crate::emulator::engine::context::Context;
use crate::emulator::engine::query::{self, view, Loads};
use crate::emulator::engine::state::{channel_has_room, Lane, Millis, Task, Worker, Workspace};
use crate::expr::{ChannelLoad, WorkerView};
use crate::workflow::{CompiledStep, StepContext};

impl Context<'_> {
    /// Reserve eligible workers for a pending task (up to the queue's
    /// `max_reserved_workers`), optionally only `only_worker`. Returns how many.
    pub(in crate::emulator::engine) fn try_reserve(
        &mut self,
        workspace: &str,
        task_sid: &str,
        only_worker: Option<&str>,
    ) -> usize {
        let now = self.now;
        let Some(ws) = self.state.workspaces.get(workspace) else {
            return 0;
        };
        let Some(task) = ws.tasks.get(task_sid) else {
            return 0;
        };
        let loads = Loads::of(ws);
        let only = match only_worker {
            Some(sid) => match ws.workers.get(sid) {
                Some(worker) => Some(worker),
                None => return 0,
            },
            None => None,
        };
        let Some((queue_sid, chosen)) = choose(ws, task, only, loads, now) else {
            return 0;
        };
        for worker in &chosen {
            self.create_reservation(workspace, task_sid, worker, &queue_sid);
        }
        chosen.len()
    }

    /// Offer `worker_sid` the best pending tasks it may take, until it has no room.
    /// Walks the pending-task indexes of the worker's queues in queue order and stops at
    /// the first task the worker may take, so the cost does not grow with the backlog.
    pub(in crate::emulator::engine) fn route_worker(&mut self, workspace: &str, worker_sid: &str) {
        loop {
            let now = self.now;
            let Some(ws) = self.state.workspaces.get(workspace) else {
                return;
            };
            let Some(worker) = ws.workers.get(worker_sid) else {
                return;
            };
            if !ws
                .activities
                .get(&worker.activity_sid)
                .is_some_and(|a| a.available)
            {
                return;
            }
            let loads = Loads::of(ws);
            if !has_room(ws, worker, loads) {
                return;
            }
            let Some((task_sid, queue_sid)) = first_task_for(ws, worker, loads, now) else {
                return;
            };
            self.create_reservation(workspace, &task_sid, worker_sid, &queue_sid);
        }
    }

    /// Route every pending task of the workspace, best first.
    pub(in crate::emulator::engine) fn route_all(&mut self, workspace: &str) {
        let Some(ws) = self.state.workspaces.get(workspace) else {
            return;
        };
        let order = ws.prioritize_queue_order;
        let mut pending: Vec<&Task> = ws
            .tasks
            .iter()
            .filter(|t| t.assignment_status == TaskStatus::Pending)
            .collect();
        pending.sort_by(|a, b| task_order(ws, a, b, order));
        let sids: Vec<String> = pending.iter().map(|t| t.sid.clone()).collect();
        for task in sids {
            self.try_reserve(workspace, &task, None);
        }
    }
}

/// Whether a worker could take one more task on some channel (or, single-tasking, has
/// nothing in progress).
fn has_room(ws: &Workspace, worker: &Worker, loads: &Loads) -> bool {
    if !ws.multi_task_enabled {
        return loads.busy(&worker.sid) == 0;
    }
    worker
        .channels
        .iter()
        .any(|channel| channel_has_room(loads, worker, channel))
}

/// The workers to reserve for a pending task now, best first, with the task's queue:
/// eligible (§4.6), longest idle first then `order_by` (§2.5), up to the room left under
/// `max_reserved_workers`. `only` restricts the choice to one worker. Pure.
fn choose(
    ws: &Workspace,
    task: &Task,
    only: Option<&Worker>,
    loads: &Loads,
    now: Millis,
) -> Option<(String, Vec<String>)> {
    if task.assignment_status != TaskStatus::Pending
        || task
            .routing
            .as_ref()
            .is_some_and(|r| r.position.is_overdue())
    {
        return None;
    }
    let queue = task
        .task_queue_sid
        .as_deref()
        .and_then(|q| ws.queues.get(q))?;
    let step = task
        .routing
        .as_ref()
        .and_then(|r| r.position.current_step(&r.workflow).cloned());
    let multitasking = ws.multi_task_enabled;
    let channel = ws
        .channels
        .get(&task.task_channel_sid)
        .map(|c| c.unique_name.as_str());
    let holders = loads.holders(&task.sid);
    let room = (queue.max_reserved_workers.max(1) as usize).saturating_sub(holders.len());
    if room == 0 {
        return None;
    }
    // Cheap checks first, so expressions run and views are built only for workers that
    // could take the task at all.
    let free_on_channel = |w: &Worker| {
        !multitasking
            || w.channels.iter().any(|c| {
                c.task_channel_sid == task.task_channel_sid && channel_has_room(loads, w, c)
            })
    };
    let admissible = |w: &&Worker| {
        ws.activities
            .get(&w.activity_sid)
            .is_some_and(|a| a.available)
            && free_on_channel(w)
            && !holders.contains(&w.sid)
            && !task.rejected_by.contains(&w.sid)
            && task
                .routing_target
                .as_deref()
                .is_none_or(|target| target == w.sid)
            && (multitasking || loads.busy(&w.sid) == 0)
    };
    let default_step;
    let step_ref = match &step {
        Some(step) => step,
        None => {
            default_step = plain_step(&queue.sid);
            &default_step
        }
    };
    let attributes = task.attributes_value();
    let context = StepContext {
        step: step_ref,
        queue: &queue.def,
        task: &attributes,
        time: Some(time_of_day(now)),
        // Single-tasking workspaces ignore channel capacity (§4.6 rule 4).
        task_channel: if multitasking { channel } else { None },
    };
    // Longest idle first (§2.5): the workspace keeps its offerable workers in that order, so
    // without `order_by` the walk stops at the first `room` eligible workers.
    let candidates: Box<dyn Iterator<Item = &Worker> + '_> = match only {
        Some(worker) => Box::new(std::iter::once(worker)),
        // Only the workers that could take a task of this channel now; `admissible`
        // checks them again, so the index only has to be complete, never exact.
        None => Box::new(
            ws.offerable
                .get(&task.task_channel_sid)
                .into_iter()
                .flatten()
                .filter_map(|(_, _, sid)| ws.workers.get(sid)),
        ),
    };
    let chosen: Vec<String> = match &step_ref.order_by {
        None => candidates
            .filter(admissible)
            .filter(|w| context.is_eligible(&view(ws, w, &loads.channels(ws, w))))
            .take(room)
            .map(|w| w.sid.clone())
            .collect(),
        Some(order_by) => {
            let admitted: Vec<&Worker> = candidates.filter(admissible).collect();
            let channel_loads: Vec<Vec<ChannelLoad<'_>>> =
                admitted.iter().map(|w| loads.channels(ws, w)).collect();
            let mut views: Vec<WorkerView<'_>> = admitted
                .iter()
                .zip(&channel_loads)
                .map(|(w, c)| view(ws, w, c))
                .collect();
            views.retain(|v| context.is_eligible(v));
            order_by.sort(&mut views);
            views.iter().take(room).map(|v| v.sid.to_string()).collect()
        }
    };
    (!chosen.is_empty()).then(|| (queue.sid.clone(), chosen))
}

/// The first pending task, in queue order across the worker's queues, that the worker
/// may take now, with its queue.
fn first_task_for(
    ws: &Workspace,
    worker: &Worker,
    loads: &Loads,
    now: Millis,
) -> Option<(String, String)> {
    let mut heads: Vec<std::iter::Peekable<Box<dyn Iterator<Item = u64> + '_>>> = Vec::new();
    // Only channels the worker has room on (any channel when single-tasking: then it has
    // nothing in progress at all).
    let open: Vec<&str> = worker
        .channels
        .iter()
        .filter(|c| !ws.multi_task_enabled || channel_has_room(loads, worker, c))
        .map(|c| c.task_channel_sid.as_str())
        .collect();
    for queue in ws.queues.iter() {
        let mut member = None;
        for channel in &open {
            let Some(index) = ws.pending.get(&Lane(&queue.sid, channel)) else {
                continue;
            };
            if index.fifo.is_empty()
                || !*member.get_or_insert_with(|| query::is_member(ws, queue, worker))
            {
                continue;
            }
            // Each entry names its task by creation position.
            let tasks: Box<dyn Iterator<Item = u64> + '_> = if queue.task_order.is_lifo() {
                Box::new(index.lifo.iter().map(|entry| entry.1 .0))
            } else {
                Box::new(index.fifo.iter().map(|entry| entry.2))
            };
            heads.push(tasks.peekable());
        }
    }
    let prefer = ws.prioritize_queue_order;
    loop {
        // The best head across the queues (§3.3), then the next, lazily.
        let mut best: Option<(usize, &Task)> = None;
        for (position, head) in heads.iter_mut().enumerate() {
            let Some(task) = head.peek().and_then(|at| ws.tasks.at(*at)) else {
                continue;
            };
            if best.is_none_or(|(_, current)| {
                task_order(ws, task, current, prefer) == std::cmp::Ordering::Less
            }) {
                best = Some((position, task));
            }
        }
        let (position, task) = best?;
        heads[position].next();
        if let Some((queue, _)) = choose(ws, task, Some(worker), loads, now) {
            return Some((task.sid.clone(), queue));
        }
    }
}

/// A step with no conditions, for tasks sent straight to a queue.
fn plain_step(queue: &str) -> CompiledStep {
    CompiledStep {
        index: 0,
        queue: queue.to_string(),
        queue_inherited: false,
        priority: None,
        timeout: None,
        expression: None,
        skip_if: None,
        order_by: None,
        known_worker: None,
        start_offset: 0,
        end_offset: None,
    }
}

/// Which of two pending tasks a worker gets first (§3.3): the workspace's preferred
/// queue order first; FIFO by priority then age, LIFO newest first ignoring priority.
fn task_order(ws: &Workspace, a: &Task, b: &Task, prefer: QueueOrder) -> std::cmp::Ordering {
    // A task outside any queue counts as FIFO.
    let lifo = |t: &Task| {
        t.task_queue_sid
            .as_deref()
            .and_then(|q| ws.queues.get(q))
            .is_some_and(|q| q.task_order.is_lifo())
    };
    let (la, lb) = (lifo(a), lifo(b));
    if la != lb {
        return if la == prefer.is_lifo() {
            std::cmp::Ordering::Less
        } else {
            std::cmp::Ordering::Greater
        };
    }
    if la {
        return b.virtual_start_time.cmp(&a.virtual_start_time);
    }
    b.priority
        .cmp(&a.priority)
        .then(a.virtual_start_time.cmp(&b.virtual_start_time))
        .then(a.created.cmp(&b.created))
}
