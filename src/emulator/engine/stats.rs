//! Statistics computed from the state (real-time) and the event log (cumulative), as
//! plain figures: counts, durations in seconds and breakdowns. The HTTP layer gives them
//! their wire names; nothing here knows the JSON.
//!
//! Counts that only routing produces (reservations, acceptance times) come from the
//! events the engine records, so they fill in as soon as those events exist.

use std::collections::BTreeMap;

use super::error::EngineError;
use super::query;
use super::state::*;
use crate::api::resources::TaskStatus;

/// A statistics window: `[start, end]` in epoch ms, the split thresholds and the channel.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Window {
    /// Start (inclusive).
    pub start: Millis,
    /// End (inclusive).
    pub end: Millis,
    /// `SplitByWaitTime` thresholds in seconds, in the order asked for.
    pub split: Vec<i64>,
    /// Only this task channel (SID).
    pub channel: Option<String>,
}

/// The window parameters of a statistics request, as its parameter struct decoded them
/// (an endpoint without one of them leaves it `None`).
#[derive(Debug, Clone, Copy, Default)]
pub struct WindowParams<'a> {
    /// `Minutes`.
    pub minutes: Option<i64>,
    /// `StartDate`.
    pub start_date: Option<&'a str>,
    /// `EndDate`.
    pub end_date: Option<&'a str>,
    /// `SplitByWaitTime`: comma-separated seconds.
    pub split_by_wait_time: Option<&'a str>,
    /// `TaskChannel`: a channel's SID or unique name.
    pub task_channel: Option<&'a str>,
}

impl Window {
    /// The window a request asks for at `now`: the last `Minutes` (default 15) or the
    /// dates, the split thresholds, and the channel resolved in `ws`.
    pub fn new(
        ws: &Workspace,
        now: Millis,
        params: &WindowParams<'_>,
    ) -> Result<Window, EngineError> {
        let (start, end) = query::window(now, params.minutes, params.start_date, params.end_date)?;
        let split = match params.split_by_wait_time {
            Some(text) => text
                .split(',')
                .map(|t| {
                    t.trim()
                        .parse::<i64>()
                        .map_err(|_| EngineError::invalid_split_by_wait_time(text))
                })
                .collect::<Result<Vec<_>, _>>()?,
            None => Vec::new(),
        };
        let channel = match params.task_channel {
            Some(reference) => Some(
                ws.channel_by_ref(reference)
                    .map(|c| c.sid.clone())
                    .ok_or_else(|| EngineError::unknown_task_channel(reference, &ws.sid))?,
            ),
            None => None,
        };
        Ok(Window {
            start,
            end,
            split,
            channel,
        })
    }
}

// ---------------------------------------------------------------- real-time figures

/// How many of the workers counted are in one activity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivityCount {
    /// The activity's SID.
    pub sid: String,
    /// Its name.
    pub friendly_name: String,
    /// Workers in it.
    pub workers: u64,
}

/// The task that has waited longest, and for how long.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiting {
    /// The task's SID.
    pub sid: String,
    /// Seconds waited.
    pub age: i64,
}

/// Live (not final) tasks: how many, by status and priority, and the oldest waiting.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TaskCounts {
    /// Live tasks.
    pub total: u64,
    /// Every live status, with zero for those no task is in.
    pub by_status: BTreeMap<TaskStatus, u64>,
    /// Priorities that at least one live task has.
    pub by_priority: BTreeMap<i64, u64>,
    /// The waiting (pending or reserved) task created first.
    pub longest_waiting: Option<Waiting>,
}

impl TaskCounts {
    /// No tasks: every live status at zero.
    pub fn none() -> TaskCounts {
        TaskCounts {
            by_status: TaskStatus::ALL
                .iter()
                .filter(|s| !s.is_terminal())
                .map(|s| (*s, 0))
                .collect(),
            ..TaskCounts::default()
        }
    }

    fn of<'a>(tasks: impl Iterator<Item = &'a Task>, now: Millis) -> TaskCounts {
        let mut counts = TaskCounts::none();
        let mut oldest: Option<&Task> = None;
        for task in tasks.filter(|t| !t.assignment_status.is_terminal()) {
            counts.total += 1;
            *counts.by_status.entry(task.assignment_status).or_default() += 1;
            *counts.by_priority.entry(task.priority).or_default() += 1;
            if task.assignment_status.is_waiting()
                && oldest.is_none_or(|o| task.created < o.created)
            {
                oldest = Some(task);
            }
        }
        counts.longest_waiting = oldest.map(|t| Waiting {
            sid: t.sid.clone(),
            age: seconds_since(now, t.created),
        });
        counts
    }
}

fn seconds_since(now: Millis, then: Millis) -> i64 {
    (now - then).max(0) / 1000
}

/// Real-time figures of a workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkspaceRealtime {
    /// Workers by activity, every activity listed.
    pub activities: Vec<ActivityCount>,
    /// Its tasks.
    pub tasks: TaskCounts,
    /// All its workers.
    pub total_workers: u64,
}

/// Real-time figures of a task queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueRealtime {
    /// The queue's eligible workers by activity, every activity listed.
    pub activities: Vec<ActivityCount>,
    /// The tasks in the queue.
    pub tasks: TaskCounts,
    /// The waiting task that entered the queue first, aged from its entry.
    pub longest_in_queue: Option<Waiting>,
    /// Eligible workers in an available activity.
    pub available_workers: u64,
    /// Workers the queue's `TargetWorkers` admits.
    pub eligible_workers: u64,
}

impl QueueRealtime {
    /// A queue with no workers and no tasks (what an unknown queue SID reports).
    pub fn empty(ws: &Workspace) -> QueueRealtime {
        QueueRealtime {
            activities: activity_counts(ws, std::iter::empty()),
            tasks: TaskCounts::none(),
            longest_in_queue: None,
            available_workers: 0,
            eligible_workers: 0,
        }
    }
}

/// Real-time figures of all workers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkersRealtime {
    /// Workers by activity, every activity listed.
    pub activities: Vec<ActivityCount>,
    /// All workers.
    pub total_workers: u64,
}

fn activity_counts<'a>(
    ws: &Workspace,
    workers: impl Iterator<Item = &'a Worker> + Clone,
) -> Vec<ActivityCount> {
    ws.activities
        .iter()
        .map(|activity| ActivityCount {
            sid: activity.sid.clone(),
            friendly_name: activity.friendly_name.clone(),
            workers: workers
                .clone()
                .filter(|w| w.activity_sid == activity.sid)
                .count() as u64,
        })
        .collect()
}

fn on_channel(task: &Task, channel: Option<&str>) -> bool {
    channel.is_none_or(|c| task.task_channel_sid == c)
}

/// A workspace's real-time figures, its tasks on `channel` only when given.
pub fn workspace_realtime(ws: &Workspace, now: Millis, channel: Option<&str>) -> WorkspaceRealtime {
    WorkspaceRealtime {
        activities: activity_counts(ws, ws.workers.iter()),
        tasks: TaskCounts::of(ws.tasks.iter().filter(|t| on_channel(t, channel)), now),
        total_workers: ws.workers.len() as u64,
    }
}

/// A queue's real-time figures, its tasks on `channel` only when given.
pub fn queue_realtime(
    ws: &Workspace,
    queue: &TaskQueue,
    now: Millis,
    channel: Option<&str>,
) -> QueueRealtime {
    let members: Vec<&Worker> = ws
        .workers
        .iter()
        .filter(|w| query::is_member(ws, queue, w))
        .collect();
    let available = members
        .iter()
        .filter(|w| {
            ws.activities
                .get(&w.activity_sid)
                .is_some_and(|a| a.available)
        })
        .count();
    let in_queue = || {
        ws.tasks.iter().filter(|t| {
            t.task_queue_sid.as_deref() == Some(queue.sid.as_str()) && on_channel(t, channel)
        })
    };
    let entered = |t: &Task| t.task_queue_entered.unwrap_or(t.created);
    let longest_in_queue = in_queue()
        .filter(|t| t.assignment_status.is_waiting())
        .min_by_key(|t| entered(t))
        .map(|t| Waiting {
            sid: t.sid.clone(),
            age: seconds_since(now, entered(t)),
        });
    QueueRealtime {
        activities: activity_counts(ws, members.iter().copied()),
        tasks: TaskCounts::of(in_queue(), now),
        longest_in_queue,
        available_workers: available as u64,
        eligible_workers: members.len() as u64,
    }
}

/// A workflow's real-time figures: its tasks, on `channel` only when given.
pub fn workflow_realtime(
    ws: &Workspace,
    workflow: &Workflow,
    now: Millis,
    channel: Option<&str>,
) -> TaskCounts {
    TaskCounts::of(
        ws.tasks.iter().filter(|t| {
            t.workflow_sid.as_deref() == Some(workflow.sid.as_str()) && on_channel(t, channel)
        }),
        now,
    )
}

/// Real-time figures of all workers.
pub fn workers_realtime(ws: &Workspace) -> WorkersRealtime {
    WorkersRealtime {
        activities: activity_counts(ws, ws.workers.iter()),
        total_workers: ws.workers.len() as u64,
    }
}

// ---------------------------------------------------------------- cumulative figures

/// Reservations by what happened to them, counted from their events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReservationCounts {
    /// Created.
    pub created: u64,
    /// Accepted.
    pub accepted: u64,
    /// Rejected.
    pub rejected: u64,
    /// Timed out.
    pub timed_out: u64,
    /// Canceled.
    pub canceled: u64,
    /// Rescinded.
    pub rescinded: u64,
}

/// A set of durations in seconds: average (rounded down), least, most and sum; all zero
/// when the set is empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Durations {
    /// Average, rounded down.
    pub avg: i64,
    /// Least.
    pub min: i64,
    /// Most.
    pub max: i64,
    /// Sum.
    pub total: i64,
}

impl Durations {
    /// The summary of `values`.
    pub fn of(values: &[i64]) -> Durations {
        let total: i64 = values.iter().sum();
        Durations {
            avg: if values.is_empty() {
                0
            } else {
                total / values.len() as i64
            },
            min: values.iter().min().copied().unwrap_or(0),
            max: values.iter().max().copied().unwrap_or(0),
            total,
        }
    }
}

/// Outcomes on one side of a wait-time threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SplitCounts {
    /// Tasks canceled.
    pub tasks_canceled: u64,
    /// Reservations accepted.
    pub reservations_accepted: u64,
}

/// Outcomes of tasks that waited more than `threshold` seconds (`above`) and at most
/// that long (`below`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaitSplit {
    /// The threshold in seconds.
    pub threshold: i64,
    /// Waited longer than the threshold.
    pub above: SplitCounts,
    /// Waited the threshold or less.
    pub below: SplitCounts,
}

/// What ended a task's wait, for the split by wait time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitEnd {
    /// The task was canceled.
    Canceled,
    /// A reservation of it was accepted.
    Accepted,
}

/// One split per threshold, in the order given, from waits that ended after `age`
/// seconds.
pub fn split_by_wait_time(waits: &[(WaitEnd, i64)], thresholds: &[i64]) -> Vec<WaitSplit> {
    thresholds
        .iter()
        .map(|&threshold| {
            let mut split = WaitSplit {
                threshold,
                above: SplitCounts::default(),
                below: SplitCounts::default(),
            };
            for &(end, age) in waits {
                let side = if age > threshold {
                    &mut split.above
                } else {
                    &mut split.below
                };
                match end {
                    WaitEnd::Canceled => side.tasks_canceled += 1,
                    WaitEnd::Accepted => side.reservations_accepted += 1,
                }
            }
            split
        })
        .collect()
}

/// What happened to the tasks of a scope (workspace, queue or workflow) in the window.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TaskOutcomes {
    /// Average seconds from creation to an accepted reservation, rounded down.
    pub avg_acceptance_time: i64,
    /// Waits that ended in an accepted reservation.
    pub wait_until_accepted: Durations,
    /// Waits that ended in a cancel.
    pub wait_until_canceled: Durations,
    /// Tasks canceled.
    pub canceled: u64,
    /// Tasks completed.
    pub completed: u64,
    /// Tasks deleted.
    pub deleted: u64,
    /// Tasks moved to another queue.
    pub moved: u64,
    /// One split per `SplitByWaitTime` threshold (none when none was asked for).
    pub split_by_wait_time: Vec<WaitSplit>,
}

/// A workspace's cumulative figures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkspaceCumulative {
    /// The window's start.
    pub start: Millis,
    /// Its end.
    pub end: Millis,
    /// Reservations.
    pub reservations: ReservationCounts,
    /// Task outcomes.
    pub tasks: TaskOutcomes,
    /// Tasks created.
    pub created: u64,
    /// Tasks that timed out in their workflow.
    pub timed_out_in_workflow: u64,
}

/// A queue's cumulative figures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueCumulative {
    /// The window's start.
    pub start: Millis,
    /// Its end.
    pub end: Millis,
    /// Reservations.
    pub reservations: ReservationCounts,
    /// Task outcomes.
    pub tasks: TaskOutcomes,
    /// Tasks that entered the queue.
    pub entered: u64,
    /// Waits in the queue that ended in an accepted reservation, aged from the entry.
    pub wait_in_queue_until_accepted: Durations,
}

/// A workflow's cumulative figures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkflowCumulative {
    /// The window's start.
    pub start: Millis,
    /// Its end.
    pub end: Millis,
    /// Reservations.
    pub reservations: ReservationCounts,
    /// Task outcomes.
    pub tasks: TaskOutcomes,
    /// Tasks that entered the workflow.
    pub entered: u64,
    /// Tasks that timed out in it.
    pub timed_out_in_workflow: u64,
}

/// Seconds spent in one activity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivityDuration {
    /// The activity's SID.
    pub sid: String,
    /// Its name.
    pub friendly_name: String,
    /// The spans spent in it.
    pub durations: Durations,
}

/// Cumulative figures of all workers or of one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkersCumulative {
    /// The window's start.
    pub start: Millis,
    /// Its end.
    pub end: Millis,
    /// Reservations.
    pub reservations: ReservationCounts,
    /// Time in each activity, every activity listed.
    pub activity_durations: Vec<ActivityDuration>,
}

/// Which events count for a cumulative scope.
#[derive(Debug, Clone, Copy)]
enum Scope<'a> {
    Workspace,
    Queue(&'a str),
    Workflow(&'a str),
    Workers(Option<&'a str>),
}

/// The events of a scope in a window.
struct Scoped<'a> {
    ws: &'a Workspace,
    events: Vec<&'a Event>,
}

impl<'a> Scoped<'a> {
    fn new(ws: &'a Workspace, scope: Scope<'_>, window: &Window) -> Scoped<'a> {
        let events = ws
            .events
            .iter()
            .filter(|e| in_scope(ws, e, scope, window))
            .collect();
        Scoped { ws, events }
    }

    fn of_type(&self, event_type: EventType) -> impl Iterator<Item = &&'a Event> + '_ {
        self.events
            .iter()
            .filter(move |e| e.event_type == event_type)
    }

    fn count(&self, event_type: EventType) -> u64 {
        self.of_type(event_type).count() as u64
    }

    fn seconds(&self, event: &Event, key: &str) -> Option<i64> {
        event.field(self.ws, key).and_then(|v| v.parse().ok())
    }

    fn ages(&self, event_type: EventType) -> Vec<i64> {
        self.of_type(event_type)
            .filter_map(|e| self.seconds(e, "task_age"))
            .collect()
    }

    fn reservations(&self) -> ReservationCounts {
        ReservationCounts {
            created: self.count(EventType::ReservationCreated),
            accepted: self.count(EventType::ReservationAccepted),
            rejected: self.count(EventType::ReservationRejected),
            timed_out: self.count(EventType::ReservationTimeout),
            canceled: self.count(EventType::ReservationCanceled),
            rescinded: self.count(EventType::ReservationRescinded),
        }
    }

    fn tasks(&self, window: &Window) -> TaskOutcomes {
        let accepted = self.ages(EventType::ReservationAccepted);
        let waits: Vec<(WaitEnd, i64)> = self
            .events
            .iter()
            .filter_map(|e| {
                let end = match e.event_type {
                    EventType::TaskCanceled => WaitEnd::Canceled,
                    EventType::ReservationAccepted => WaitEnd::Accepted,
                    _ => return None,
                };
                self.seconds(e, "task_age").map(|age| (end, age))
            })
            .collect();
        TaskOutcomes {
            avg_acceptance_time: Durations::of(&accepted).avg,
            wait_until_accepted: Durations::of(&accepted),
            wait_until_canceled: Durations::of(&self.ages(EventType::TaskCanceled)),
            canceled: self.count(EventType::TaskCanceled),
            completed: self.count(EventType::TaskCompleted),
            deleted: self.count(EventType::TaskDeleted),
            moved: self.count(EventType::TaskQueueMoved),
            split_by_wait_time: split_by_wait_time(&waits, &window.split),
        }
    }
}

fn in_scope(ws: &Workspace, event: &Event, scope: Scope<'_>, window: &Window) -> bool {
    if event.date < window.start || event.date > window.end {
        return false;
    }
    let field = |key: &str| event.field(ws, key);
    if let Some(channel) = &window.channel {
        if field("task_channel_sid").is_some_and(|c| c != channel) {
            return false;
        }
    }
    match scope {
        Scope::Workspace | Scope::Workers(None) => true,
        Scope::Queue(sid) => field("task_queue_sid") == Some(sid),
        Scope::Workflow(sid) => field("workflow_sid") == Some(sid),
        Scope::Workers(Some(sid)) => field("worker_sid") == Some(sid),
    }
}

/// A workspace's cumulative figures over the window.
pub fn workspace_cumulative(ws: &Workspace, window: &Window) -> WorkspaceCumulative {
    let scoped = Scoped::new(ws, Scope::Workspace, window);
    WorkspaceCumulative {
        start: window.start,
        end: window.end,
        reservations: scoped.reservations(),
        tasks: scoped.tasks(window),
        created: scoped.count(EventType::TaskCreated),
        timed_out_in_workflow: scoped.count(EventType::WorkflowTimeout),
    }
}

/// A queue's cumulative figures over the window.
pub fn queue_cumulative(ws: &Workspace, queue_sid: &str, window: &Window) -> QueueCumulative {
    let scoped = Scoped::new(ws, Scope::Queue(queue_sid), window);
    let in_queue: Vec<i64> = scoped
        .of_type(EventType::ReservationAccepted)
        .filter_map(|e| {
            scoped
                .seconds(e, "task_age_in_queue")
                .or_else(|| scoped.seconds(e, "task_age"))
        })
        .collect();
    QueueCumulative {
        start: window.start,
        end: window.end,
        reservations: scoped.reservations(),
        tasks: scoped.tasks(window),
        entered: scoped.count(EventType::TaskQueueEntered),
        wait_in_queue_until_accepted: Durations::of(&in_queue),
    }
}

/// A workflow's cumulative figures over the window.
pub fn workflow_cumulative(
    ws: &Workspace,
    workflow_sid: &str,
    window: &Window,
) -> WorkflowCumulative {
    let scoped = Scoped::new(ws, Scope::Workflow(workflow_sid), window);
    WorkflowCumulative {
        start: window.start,
        end: window.end,
        reservations: scoped.reservations(),
        tasks: scoped.tasks(window),
        entered: scoped.count(EventType::WorkflowEntered),
        timed_out_in_workflow: scoped.count(EventType::WorkflowTimeout),
    }
}

/// Cumulative figures over the window of all workers, or of `worker` alone.
pub fn workers_cumulative(
    ws: &Workspace,
    worker: Option<&str>,
    window: &Window,
) -> WorkersCumulative {
    let scoped = Scoped::new(ws, Scope::Workers(worker), window);
    WorkersCumulative {
        start: window.start,
        end: window.end,
        reservations: scoped.reservations(),
        activity_durations: activity_durations(&scoped, worker, window),
    }
}

/// Seconds each activity was held, from the activity-change events in the window plus
/// the time the workers have spent in their current activity.
fn activity_durations(
    scoped: &Scoped<'_>,
    worker: Option<&str>,
    window: &Window,
) -> Vec<ActivityDuration> {
    let ws = scoped.ws;
    let mut spans: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
    for event in scoped.of_type(EventType::WorkerActivityUpdate) {
        let previous = event.field(ws, "worker_previous_activity_sid");
        let millis = scoped.seconds(event, "worker_time_in_previous_activity_ms");
        if let (Some(previous), Some(millis)) = (previous, millis) {
            spans.entry(previous).or_default().push(millis / 1000);
        }
    }
    for w in ws.workers.iter() {
        if worker.is_some_and(|sid| w.sid != sid) {
            continue;
        }
        let since = w.status_changed.max(window.start);
        if since <= window.end {
            spans
                .entry(w.activity_sid.as_str())
                .or_default()
                .push((window.end - since) / 1000);
        }
    }
    ws.activities
        .iter()
        .map(|activity| ActivityDuration {
            sid: activity.sid.clone(),
            friendly_name: activity.friendly_name.clone(),
            durations: Durations::of(
                spans
                    .get(activity.sid.as_str())
                    .map_or(&[][..], Vec::as_slice),
            ),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wait_of_exactly_the_threshold_counts_below_it() {
        let waits = [
            (WaitEnd::Accepted, 9),
            (WaitEnd::Accepted, 10),
            (WaitEnd::Canceled, 10),
            (WaitEnd::Accepted, 11),
            (WaitEnd::Canceled, 60),
        ];
        let splits = split_by_wait_time(&waits, &[10, 60]);
        assert_eq!(
            splits,
            vec![
                WaitSplit {
                    threshold: 10,
                    above: SplitCounts {
                        tasks_canceled: 1,
                        reservations_accepted: 1
                    },
                    below: SplitCounts {
                        tasks_canceled: 1,
                        reservations_accepted: 2
                    },
                },
                WaitSplit {
                    threshold: 60,
                    above: SplitCounts::default(),
                    below: SplitCounts {
                        tasks_canceled: 2,
                        reservations_accepted: 3
                    },
                },
            ]
        );
    }

    #[test]
    fn splits_keep_the_order_asked_for_and_none_asked_gives_none() {
        let waits = [(WaitEnd::Accepted, 0)];
        let thresholds: Vec<i64> = split_by_wait_time(&waits, &[30, 5, -1])
            .iter()
            .map(|s| s.threshold)
            .collect();
        assert_eq!(thresholds, vec![30, 5, -1]);
        assert!(split_by_wait_time(&waits, &[]).is_empty());
        // A wait of zero seconds is above a negative threshold.
        assert_eq!(
            split_by_wait_time(&waits, &[-1])[0]
                .above
                .reservations_accepted,
            1
        );
    }

    #[test]
    fn durations_round_the_average_down_and_are_zero_when_empty() {
        assert_eq!(Durations::of(&[]), Durations::default());
        assert_eq!(
            Durations::of(&[3, 4, 10]),
            Durations {
                avg: 5,
                min: 3,
                max: 10,
                total: 17
            }
        );
        assert_eq!(Durations::of(&[1, 2]).avg, 1);
    }

    #[test]
    fn no_tasks_still_lists_every_live_status() {
        let none = TaskCounts::none();
        assert_eq!(none.total, 0);
        let statuses: Vec<TaskStatus> = none.by_status.keys().copied().collect();
        let live: Vec<TaskStatus> = TaskStatus::ALL
            .iter()
            .copied()
            .filter(|s| !s.is_terminal())
            .collect();
        assert_eq!(statuses.len(), live.len());
        assert!(live.iter().all(|s| none.by_status.get(s) == Some(&0)));
        assert!(none.by_priority.is_empty() && none.longest_waiting.is_none());
    }
}
