//! Routing a task through a compiled workflow when nobody accepts it (ROUTING.md §2.3).
//!
//! [`plan`] answers "where is this task at age N, and what happens to it in the end?":
//! which filter matched (or the default filter, or none), each step it visits with its
//! cumulative start and deadline, the priority in force, the step active at the asked age,
//! and the final outcome (waits until TTL, `workflow.timeout`, `workflow.skipped`, or
//! canceled for matching nothing). It assumes no reservation is ever accepted; whether a
//! step is skipped on entry is asked of the caller, who knows the workers (see
//! [`StepContext::skips_on_entry`](super::StepContext::skips_on_entry)). No clock is read:
//! ages are numbers the caller gives.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::expr::TimeOfDay;

use super::config::{CompiledStep, CompiledWorkflow};
use super::walk::{step_at, Due, Exit, Position, Transition, WalkContext};

/// Default task TTL in seconds, as `workflow test` takes it.
pub const DEFAULT_TASK_TTL: u64 = crate::api::limits::DEFAULT_TASK_TTL_SECONDS as u64;

/// What to route.
#[derive(Debug, Clone, Copy)]
pub struct RouteInput<'a> {
    /// The task's attributes.
    pub attributes: &'a Value,
    /// The task's age (seconds since it entered the workflow) to report the active step at.
    pub age: u64,
    /// The priority the task was created with (0 when none, ROUTING.md §2.4).
    pub priority: u32,
    /// The task's TTL in seconds.
    pub ttl: u64,
    /// The time of day for `taskrouter.*` variables, if any.
    pub time: Option<TimeOfDay>,
}

impl<'a> RouteInput<'a> {
    /// Age 0, priority 0, default TTL, no time of day.
    pub fn new(attributes: &'a Value) -> Self {
        RouteInput {
            attributes,
            age: 0,
            priority: 0,
            ttl: DEFAULT_TASK_TTL,
            time: None,
        }
    }
}

/// A filter, or the default filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FilterChoice {
    /// `task_routing.filters[n]`.
    Filter(usize),
    /// `task_routing.default_filter`.
    Default,
}

/// How the task leaves a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepExit {
    /// Its cumulative deadline passed.
    TimedOut,
    /// `skip_if` held on entry and no worker was reservable.
    Skipped,
    /// It has no timeout: the task waits there until assigned or its TTL ends.
    Waits,
    /// The task's TTL ends before the step's deadline.
    TtlExpires,
}

/// One step the task passes through.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepVisit<'w> {
    /// The step.
    #[serde(skip)]
    pub step: &'w CompiledStep,
    /// Task priority while in the step (the step's own, or carried over, §2.4).
    pub priority: u32,
    /// Task age on entering.
    pub entered_at: u64,
    /// Task age on leaving; `None` when it waits there for good.
    pub left_at: Option<u64>,
    /// Why it leaves.
    pub exit: StepExit,
}

/// The steps walked in one filter (or the default filter).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Leg<'w> {
    /// Which filter.
    pub filter: FilterChoice,
    /// Task age on entering the filter.
    pub entered_at: u64,
    /// Steps visited, in order.
    pub steps: Vec<StepVisit<'w>>,
}

/// How the walk ends (assuming nobody accepts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// The task waits in its last step until its TTL ends, then is canceled with reason
    /// `Task TTL Exceeded` (ROUTING.md §2.3.1, §6.3).
    TtlExceeded,
    /// The last target of the last matching filter timed out: the task falls out of the
    /// workflow and is canceled (event `workflow.timeout`, §2.3.3). The default filter is
    /// never reached this way.
    WorkflowTimeout,
    /// The last target was skipped and neither a later filter nor the default filter
    /// applies: the task is removed (event `workflow.skipped`, §2.3.4).
    WorkflowSkipped,
    /// No filter matched and there is no `default_filter`. ROUTING.md §2.3.1 leaves this
    /// UNCONFIRMED and suggests canceling at once like a workflow timeout; we follow it.
    NoFilterMatched,
}

impl EndReason {
    /// The event TaskRouter emits (for `NoFilterMatched`, our choice).
    pub fn event(self) -> &'static str {
        match self {
            EndReason::TtlExceeded => "task.canceled",
            EndReason::WorkflowTimeout | EndReason::NoFilterMatched => "workflow.timeout",
            EndReason::WorkflowSkipped => "workflow.skipped",
        }
    }

    /// The task's cancel `reason` text. Only the TTL text is documented (§6.6); the
    /// workflow-timeout text is third-party (UNCONFIRMED), and we reuse it for the other
    /// two cases.
    pub fn reason_text(self) -> &'static str {
        match self {
            EndReason::TtlExceeded => "Task TTL Exceeded",
            _ => "Task canceled on Workflow timeout",
        }
    }

    /// A sentence for people.
    pub fn describe(self) -> &'static str {
        match self {
            EndReason::TtlExceeded => {
                "waits in its last queue until a worker accepts it or its TTL ends; then it is canceled (\"Task TTL Exceeded\")"
            }
            EndReason::WorkflowTimeout => {
                "the last step timed out and no later filter matches: the task is canceled (workflow.timeout); the default filter is not used after a timeout"
            }
            EndReason::WorkflowSkipped => {
                "the last step was skipped and no later filter or default filter applies: the task is removed (workflow.skipped)"
            }
            EndReason::NoFilterMatched => {
                "no filter matched and there is no default_filter: the task is canceled on entry (workflow.timeout; UNCONFIRMED on Twilio, this emulator's choice)"
            }
        }
    }
}

/// The end of the walk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PlanEnd {
    /// Task age at which it happens.
    pub at: u64,
    /// What happens.
    pub reason: EndReason,
}

/// Where the task is at the asked age.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Active {
    /// Index into [`RoutePlan::legs`].
    pub leg: usize,
    /// Index into that leg's `steps`.
    pub visit: usize,
}

/// The whole route of a task, assuming nobody accepts it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RoutePlan<'w> {
    /// The filters entered, in order (empty when nothing matched and there is no default).
    pub legs: Vec<Leg<'w>>,
    /// How it ends.
    pub end: PlanEnd,
    /// The age asked about.
    pub age: u64,
    /// The step the task is in at `age`; `None` once the walk has ended by then.
    pub active: Option<Active>,
}

impl<'w> RoutePlan<'w> {
    /// The filter first matched (`None` if no named filter matched).
    pub fn matched_filter(&self) -> Option<usize> {
        match self.legs.first()?.filter {
            FilterChoice::Filter(index) => Some(index),
            FilterChoice::Default => None,
        }
    }

    /// The active leg and step, if any.
    pub fn active_visit(&self) -> Option<(&Leg<'w>, &StepVisit<'w>)> {
        let active = self.active?;
        let leg = self.legs.get(active.leg)?;
        Some((leg, leg.steps.get(active.visit)?))
    }
}

/// A skip decision that never skips: the plan when no worker data is known.
pub fn never_skip(_: FilterChoice, _: &CompiledStep) -> bool {
    false
}

/// Walk the workflow for a task (ROUTING.md §2.3.5), asking `skips_on_entry` whether each
/// step with a `skip_if` is skipped when the task enters it.
///
/// Timing (ROUTING.md §2.3.3): a step's deadline is the moment the task entered the filter
/// plus the sum of the timeouts of that filter's targets up to and including it — skipped
/// steps included (UNCONFIRMED; the literal cumulative reading §2.8 suggests). A later
/// filter's clock starts when the task enters it (§2.8 scenario B: deadline 140).
pub fn plan<'w>(
    workflow: &'w CompiledWorkflow,
    input: &RouteInput<'_>,
    skips_on_entry: &mut dyn FnMut(FilterChoice, &CompiledStep) -> bool,
) -> RoutePlan<'w> {
    let cx = WalkContext {
        workflow,
        attributes: input.attributes,
        time: input.time,
    };
    let mut transitions = Vec::new();
    // At the same instant the TTL comes first (see `walk`): a TTL of 0 ends the task
    // before it enters anything.
    if input.ttl > 0 {
        let mut position =
            Position::start_with(&cx, 0, input.priority, skips_on_entry, &mut transitions);
        while let Some(due) = position.next_due(input.ttl) {
            match due {
                Due::Step(at) => position.time_out_with(&cx, at, skips_on_entry, &mut transitions),
                Due::Ttl(at) => transitions.extend(position.ttl_expired(at)),
            }
        }
    } else {
        transitions.push(Transition::Ended {
            at: input.ttl,
            reason: EndReason::TtlExceeded,
        });
    }
    let (legs, end) = legs_of(workflow, &transitions);
    let active = active_at(&legs, end, input.age);
    RoutePlan {
        legs,
        end,
        age: input.age,
        active,
    }
}

/// Fold the walk's transitions into legs and visits.
fn legs_of<'w>(
    workflow: &'w CompiledWorkflow,
    transitions: &[Transition<u64>],
) -> (Vec<Leg<'w>>, PlanEnd) {
    let mut legs: Vec<Leg<'w>> = Vec::new();
    // The open visit's deadline, to tell a step cut by the TTL from one without timeout.
    let mut open_deadline = None;
    for transition in transitions {
        match *transition {
            Transition::Entered(entry) => {
                let Some(step) = step_at(workflow, entry.filter, entry.step) else {
                    continue;
                };
                if entry.step == 0 {
                    legs.push(Leg {
                        filter: entry.filter,
                        entered_at: entry.at,
                        steps: Vec::new(),
                    });
                }
                open_deadline = entry.deadline;
                if let Some(leg) = legs.last_mut() {
                    leg.steps.push(StepVisit {
                        step,
                        priority: entry.priority,
                        entered_at: entry.at,
                        left_at: None,
                        exit: StepExit::Waits,
                    });
                }
            }
            Transition::Left { at, exit, .. } => {
                if let Some(visit) = open_visit(&mut legs) {
                    visit.left_at = Some(at);
                    visit.exit = match exit {
                        Exit::TimedOut => StepExit::TimedOut,
                        Exit::Skipped => StepExit::Skipped,
                    };
                }
                open_deadline = None;
            }
            Transition::Ended { at, reason } => {
                if reason == EndReason::TtlExceeded && open_deadline.is_some() {
                    if let Some(visit) = open_visit(&mut legs) {
                        visit.left_at = Some(at);
                        visit.exit = StepExit::TtlExpires;
                    }
                }
                return (legs, PlanEnd { at, reason });
            }
        }
    }
    // The walk always ends (with the TTL at the latest); this is never reached.
    let end = PlanEnd {
        at: 0,
        reason: EndReason::TtlExceeded,
    };
    (legs, end)
}

/// The last visit, if the task is still in it.
fn open_visit<'a, 'w>(legs: &'a mut [Leg<'w>]) -> Option<&'a mut StepVisit<'w>> {
    legs.last_mut()?
        .steps
        .last_mut()
        .filter(|visit| visit.left_at.is_none())
}

fn active_at(legs: &[Leg<'_>], end: PlanEnd, age: u64) -> Option<Active> {
    if age >= end.at {
        return None;
    }
    legs.iter().enumerate().find_map(|(leg_index, leg)| {
        leg.steps
            .iter()
            .position(|visit| {
                visit.exit != StepExit::Skipped
                    && visit.entered_at <= age
                    && visit.left_at.is_none_or(|left| age < left)
            })
            .map(|visit| Active {
                leg: leg_index,
                visit,
            })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn workflow(config: Value) -> CompiledWorkflow {
        CompiledWorkflow::from_value(&config, None).expect("valid workflow")
    }

    #[test]
    fn ttl_cuts_a_long_step() {
        let workflow = workflow(json!({"task_routing": {"filters": [
            {"expression": "1==1", "targets": [{"queue": "QA", "timeout": 500}, {"queue": "QB"}]}
        ]}}));
        let attributes = json!({});
        let input = RouteInput {
            ttl: 100,
            age: 99,
            ..RouteInput::new(&attributes)
        };
        let plan = plan(&workflow, &input, &mut never_skip);
        assert_eq!(plan.legs[0].steps.len(), 1);
        assert_eq!(plan.legs[0].steps[0].exit, StepExit::TtlExpires);
        assert_eq!(
            plan.end,
            PlanEnd {
                at: 100,
                reason: EndReason::TtlExceeded
            }
        );
        assert_eq!(plan.active, Some(Active { leg: 0, visit: 0 }));
    }

    #[test]
    fn nothing_matches_without_default() {
        let workflow = workflow(json!({"task_routing": {"filters": [
            {"expression": "a == 1", "targets": [{"queue": "QA"}]}
        ]}}));
        let attributes = json!({"a": 2});
        let plan = plan(&workflow, &RouteInput::new(&attributes), &mut never_skip);
        assert!(plan.legs.is_empty());
        assert_eq!(
            plan.end,
            PlanEnd {
                at: 0,
                reason: EndReason::NoFilterMatched
            }
        );
        assert_eq!(plan.active, None);
        assert_eq!(plan.matched_filter(), None);
    }

    #[test]
    fn initial_priority_carries_until_a_step_sets_one() {
        let workflow = workflow(json!({"task_routing": {"filters": [
            {"expression": "1==1", "targets": [{"queue": "QA", "timeout": 10}, {"priority": 7}]}
        ]}}));
        let attributes = json!({});
        let input = RouteInput {
            priority: 3,
            ..RouteInput::new(&attributes)
        };
        let plan = plan(&workflow, &input, &mut never_skip);
        let priorities: Vec<u32> = plan.legs[0]
            .steps
            .iter()
            .map(|visit| visit.priority)
            .collect();
        assert_eq!(priorities, [3, 7]);
    }

    /// The four cases of issue 14 where one large clock advance made the emulator
    /// disagree; `workflow test`'s answers, which the emulator must match.
    #[test]
    fn issue_14_reproductions() {
        let attributes = json!({});
        let active_queue = |config: Value, age: u64, ttl: u64| {
            let workflow = workflow(config);
            let input = RouteInput {
                age,
                ttl,
                ..RouteInput::new(&attributes)
            };
            let route = plan(&workflow, &input, &mut never_skip);
            let active = route
                .active_visit()
                .map(|(_, visit)| (visit.step.queue.clone(), visit.entered_at));
            (active, route.end)
        };
        let (active, end) = active_queue(
            json!({"task_routing": {"filters": [
                {"expression": "1==1", "targets": [{"queue": "Q1", "timeout": 30}]},
                {"expression": "1==1", "targets": [{"queue": "Q2", "timeout": 10}]}]}}),
            65,
            DEFAULT_TASK_TTL,
        );
        assert_eq!(active, None);
        assert_eq!(
            end,
            PlanEnd {
                at: 40,
                reason: EndReason::WorkflowTimeout
            }
        );
        let (active, _) = active_queue(
            json!({"task_routing": {"filters": [
                {"expression": "1==1", "targets": [{"queue": "Q3", "timeout": 60}]},
                {"expression": "1==1", "targets": [{"queue": "Q1", "timeout": 10}, {"queue": "Q3"}]}]}}),
            70,
            DEFAULT_TASK_TTL,
        );
        assert_eq!(active, Some(("Q3".to_string(), 70)));
        let (active, _) = active_queue(
            json!({"task_routing": {"filters": [
                {"expression": "1==1", "targets": [{"queue": "Q3", "timeout": 5}, {"queue": "Q1"}]}]}}),
            18,
            DEFAULT_TASK_TTL,
        );
        assert_eq!(active, Some(("Q1".to_string(), 5)));
        let (active, end) = active_queue(
            json!({"task_routing": {"filters": [
                {"expression": "1==1", "targets": [{"queue": "Q1", "timeout": 50}, {"queue": "Q2", "timeout": 30}]}]}}),
            105,
            100,
        );
        assert_eq!(active, None);
        assert_eq!(
            end,
            PlanEnd {
                at: 80,
                reason: EndReason::WorkflowTimeout
            }
        );
    }

    /// `plan` as it was before it was built on [`super::super::walk`], kept to check that
    /// the rewrite answers the same.
    fn reference_plan<'w>(
        workflow: &'w CompiledWorkflow,
        input: &RouteInput<'_>,
        skips_on_entry: &mut dyn FnMut(FilterChoice, &CompiledStep) -> bool,
    ) -> RoutePlan<'w> {
        let mut legs = Vec::new();
        let mut priority = input.priority;
        let mut now = 0;
        let mut from = 0;
        let mut allow_default = true;
        let mut fall_out = EndReason::NoFilterMatched;
        let end = loop {
            if now >= input.ttl {
                break PlanEnd {
                    at: input.ttl,
                    reason: EndReason::TtlExceeded,
                };
            }
            let Some(index) = workflow.select_filter(input.attributes, from, input.time) else {
                match workflow.default_filter() {
                    Some(step) if allow_default => {
                        priority = step.priority.unwrap_or(priority);
                        legs.push(Leg {
                            filter: FilterChoice::Default,
                            entered_at: now,
                            steps: vec![StepVisit {
                                step,
                                priority,
                                entered_at: now,
                                left_at: None,
                                exit: StepExit::Waits,
                            }],
                        });
                        break PlanEnd {
                            at: input.ttl,
                            reason: EndReason::TtlExceeded,
                        };
                    }
                    _ => {
                        break PlanEnd {
                            at: now,
                            reason: fall_out,
                        }
                    }
                }
            };
            let choice = FilterChoice::Filter(index);
            let filter_entered = now;
            let mut steps = Vec::new();
            let mut last_exit = StepExit::Waits;
            for step in &workflow.filters()[index].steps {
                priority = step.priority.unwrap_or(priority);
                let entered_at = now;
                let (left_at, exit) = if step.skip_if.is_some() && skips_on_entry(choice, step) {
                    (Some(now), StepExit::Skipped)
                } else {
                    match step.end_offset {
                        Some(offset) => {
                            let deadline = filter_entered.saturating_add(offset);
                            if deadline >= input.ttl {
                                (Some(input.ttl), StepExit::TtlExpires)
                            } else {
                                (Some(deadline), StepExit::TimedOut)
                            }
                        }
                        None => (None, StepExit::Waits),
                    }
                };
                steps.push(StepVisit {
                    step,
                    priority,
                    entered_at,
                    left_at,
                    exit,
                });
                last_exit = exit;
                match (exit, left_at) {
                    (StepExit::TimedOut | StepExit::Skipped, Some(left)) => now = left,
                    _ => break,
                }
            }
            legs.push(Leg {
                filter: choice,
                entered_at: filter_entered,
                steps,
            });
            match last_exit {
                StepExit::TimedOut => {
                    allow_default = false;
                    fall_out = EndReason::WorkflowTimeout;
                }
                StepExit::Skipped => {
                    allow_default = true;
                    fall_out = EndReason::WorkflowSkipped;
                }
                StepExit::Waits | StepExit::TtlExpires => {
                    break PlanEnd {
                        at: input.ttl,
                        reason: EndReason::TtlExceeded,
                    }
                }
            }
            from = index + 1;
        };
        let active = active_at(&legs, end, input.age);
        RoutePlan {
            legs,
            end,
            age: input.age,
            active,
        }
    }

    fn target() -> impl Strategy<Value = Value> {
        (
            0..4u8,
            proptest::option::of(1..60u64),
            proptest::option::of(0..10u32),
            any::<bool>(),
        )
            .prop_map(|(queue, timeout, priority, skip)| {
                let mut target = json!({"queue": format!("Q{queue}")});
                if let Some(timeout) = timeout {
                    target["timeout"] = json!(timeout);
                }
                if let Some(priority) = priority {
                    target["priority"] = json!(priority);
                }
                if skip {
                    target["skip_if"] = json!("1==1");
                }
                target
            })
    }

    fn config() -> impl Strategy<Value = Value> {
        let expression = prop_oneof![Just("1==1"), Just("a == 1"), Just("a == 2"), Just("b == 1")];
        let filter = (expression, proptest::collection::vec(target(), 1..4)).prop_map(
            |(expression, targets)| json!({"expression": expression, "targets": targets}),
        );
        (
            proptest::collection::vec(filter, 0..4),
            proptest::option::of(proptest::option::of(0..10u32)),
        )
            .prop_map(|(filters, default)| {
                let mut routing = json!({"filters": filters});
                if let Some(priority) = default {
                    routing["default_filter"] = match priority {
                        Some(priority) => json!({"queue": "QD", "priority": priority}),
                        None => json!({"queue": "QD"}),
                    };
                }
                json!({"task_routing": routing})
            })
    }

    proptest! {
        #[test]
        fn plan_on_the_walk_answers_as_before(
            config in config(),
            a in 0..3u8,
            b in 0..2u8,
            ttl in prop_oneof![Just(0u64), 1..250u64, Just(u64::MAX)],
            age in 0..260u64,
            priority in 0..5u32,
            skips in any::<u16>(),
        ) {
            let workflow = CompiledWorkflow::from_value(&config, None).expect("generated workflows are valid");
            let attributes = json!({"a": a, "b": b});
            let input = RouteInput { attributes: &attributes, age, priority, ttl, time: None };
            let mut decide = |filter: FilterChoice, step: &CompiledStep| match filter {
                FilterChoice::Filter(index) => skips & (1 << ((index * 4 + step.index) % 16)) != 0,
                FilterChoice::Default => true,
            };
            let expected = reference_plan(&workflow, &input, &mut decide);
            let actual = plan(&workflow, &input, &mut decide);
            prop_assert_eq!(actual, expected);
        }
    }
}
