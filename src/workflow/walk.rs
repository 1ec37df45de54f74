//! The workflow walk as a state machine (ROUTING.md §2.3.5): where a task stands in its
//! workflow, and what moves it on.
//!
//! A [`Position`] says which filter and step a task is in (or the default filter, or that
//! it has left the workflow), when it entered that filter, the current step's deadline,
//! the priority in force, and an epoch that changes on every move. It is `Copy` and holds
//! no references: whoever keeps one per task keeps the [`CompiledWorkflow`] and the task's
//! attributes beside it and hands them in as a [`WalkContext`] on every call.
//!
//! Moves are driven from outside, since only the caller knows time and workers:
//!
//! - [`Position::start`]: the task enters the workflow at an instant (first matching
//!   filter, else the default filter, else it ends with [`EndReason::NoFilterMatched`]);
//!   [`Position::restart`] does it again for a task already walking;
//! - [`Position::skip`]: the step just entered is skipped (the caller decided that its
//!   `skip_if` holds and nobody was reservable, ROUTING.md §2.3.4);
//! - [`Position::time_out`]: the step's cumulative deadline has come (§2.3.3);
//! - [`Position::ttl_expired`]: the task's TTL ended.
//!
//! Each returns the [`Transition`]s it caused, in order, for the caller to turn into its
//! own output (events and queue moves in the emulator, legs and visits in
//! [`plan`](super::plan)). [`Position::start_with`] and [`Position::time_out_with`] do the
//! same and also apply skips on entry themselves, asking a predicate, for callers that
//! have nothing to do between entering a step and deciding its skip.
//!
//! Two callers drive it, so they cannot disagree: [`plan`](super::plan) (behind `trctl
//! workflow test`, with simulated ages) and the emulator's routing
//! (`emulator::engine::routing::walk`, with real events: a task's creation or new
//! attributes, step timers, a reservation that ends unaccepted after the deadline). The
//! differential test in `tests/differential.rs` checks that they agree.
//!
//! # TTL against step deadlines
//!
//! The machine keeps no TTL; the caller knows it. The one rule both callers follow is
//! [`Position::next_due`]: **at the same instant the TTL comes first**. A step whose
//! deadline is at or after the TTL's end is never left by timeout; the task is canceled
//! for its TTL there. (The emulator schedules a task's TTL timer when the task is
//! created, before any step timer, and fires timers of one instant in the order they were
//! set, so it already behaves this way.)
//!
//! Time is whatever the caller counts in, through [`Instant`]: whole seconds of task age
//! (`u64`, as `plan` does) or wall-clock [`Millis`] (as the emulator does).

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::expr::TimeOfDay;

use super::config::{CompiledStep, CompiledWorkflow};
use super::route::{EndReason, FilterChoice};

/// A point in time the walk can add step timeouts to.
pub trait Instant: Copy + Ord + fmt::Debug {
    /// This instant plus whole seconds, saturating at the largest instant.
    fn plus_seconds(self, seconds: u64) -> Self;
}

/// Whole seconds (a task's age, as [`plan`](super::plan) counts).
impl Instant for u64 {
    fn plus_seconds(self, seconds: u64) -> Self {
        self.saturating_add(seconds)
    }
}

/// Milliseconds on some clock (the emulator's time).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Millis(pub i64);

impl Instant for Millis {
    fn plus_seconds(self, seconds: u64) -> Self {
        let millis = i64::try_from(seconds)
            .unwrap_or(i64::MAX)
            .saturating_mul(1000);
        Millis(self.0.saturating_add(millis))
    }
}

/// What the walk reads besides the position: the workflow the task follows, its
/// attributes, and the time of day for `taskrouter.*` variables at the moment of the call.
#[derive(Debug, Clone, Copy)]
pub struct WalkContext<'a> {
    /// The configuration the task follows.
    pub workflow: &'a CompiledWorkflow,
    /// The task's attributes.
    pub attributes: &'a Value,
    /// The time of day, if any.
    pub time: Option<TimeOfDay>,
}

/// Where in its workflow a task is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
enum Place {
    /// Step `step` of `task_routing.filters[filter]`.
    Step { filter: u32, step: u32 },
    /// The default filter's only step.
    Default,
    /// Out of the workflow.
    Ended(EndReason),
}

/// A task's place in its workflow. Small and `Copy`: one is kept per routed task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position<T> {
    place: Place,
    /// When the task entered the current filter: step deadlines count from here.
    filter_entered: T,
    /// When the current step times out (`None`: it has no timeout).
    deadline: Option<T>,
    /// The task's priority as the walk last set or carried it (ROUTING.md §2.4).
    priority: u32,
    /// Changes on every move, so a timer set for an earlier step can be told stale.
    epoch: u32,
    /// The deadline came while the caller could not move the task (a reservation was
    /// pending); it moves on as soon as it can.
    overdue: bool,
}

/// A [`Position`] taken apart ([`Position::parts`], [`Position::from_parts`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parts<T> {
    /// The filter (`None` once ended).
    pub filter: Option<FilterChoice>,
    /// The step in that filter (0 for the default filter).
    pub step: usize,
    /// When the filter was entered.
    pub filter_entered: T,
    /// When the step times out.
    pub deadline: Option<T>,
    /// The priority in force.
    pub priority: u32,
    /// The move counter.
    pub epoch: u32,
    /// A deadline came while the task could not move.
    pub overdue: bool,
    /// Why the walk ended, once it has.
    pub ended: Option<EndReason>,
}

/// How a task leaves a step other than by ending the walk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Exit {
    /// Its deadline came.
    TimedOut,
    /// Skipped on entry.
    Skipped,
}

/// A step entered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry<T> {
    /// Which filter.
    pub filter: FilterChoice,
    /// The step's index in that filter (0 for the default filter).
    pub step: usize,
    /// When.
    pub at: T,
    /// When the filter was entered (equals `at` for a filter's first step).
    pub filter_entered: T,
    /// The priority in force from now on (the step's own, or the one carried over).
    pub priority: u32,
    /// Whether the step set `priority` itself (the caller updates the task then).
    pub sets_priority: bool,
    /// When the step times out, if it has a timeout.
    pub deadline: Option<T>,
}

/// One thing that happened on the walk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition<T> {
    /// The task entered a step: a target matched (events `workflow.target-matched`,
    /// `task-queue.entered`, and `task-queue.moved` when the queue changes).
    Entered(Entry<T>),
    /// The task left a step (a timeout: event `task-queue.timeout`).
    Left {
        /// Which filter.
        filter: FilterChoice,
        /// Which step.
        step: usize,
        /// When.
        at: T,
        /// Why.
        exit: Exit,
    },
    /// The walk is over ([`EndReason::event`] and [`EndReason::reason_text`] say what the
    /// task sees).
    Ended {
        /// When.
        at: T,
        /// Why.
        reason: EndReason,
    },
}

/// The transitions of one call, in order (at most two: leaving a step, then entering the
/// next or ending).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Moves<T> {
    items: [Option<Transition<T>>; 2],
    next: usize,
}

impl<T> Moves<T> {
    fn none() -> Self {
        Moves {
            items: [None, None],
            next: 0,
        }
    }

    fn two(first: Transition<T>, second: Transition<T>) -> Self {
        Moves {
            items: [Some(first), Some(second)],
            next: 0,
        }
    }
}

impl<T: Copy> Iterator for Moves<T> {
    type Item = Transition<T>;

    fn next(&mut self) -> Option<Transition<T>> {
        let item = self.items.get(self.next).copied().flatten()?;
        self.next += 1;
        Some(item)
    }
}

/// What comes first for a task still in the walk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Due<T> {
    /// The current step times out at this instant.
    Step(T),
    /// The task's TTL ends first (or at the same instant).
    Ttl(T),
}

/// The step `index` of `filter` (the default filter has only step 0), as a [`Transition`]
/// names it.
pub fn step_at(
    workflow: &CompiledWorkflow,
    filter: FilterChoice,
    index: usize,
) -> Option<&CompiledStep> {
    match filter {
        FilterChoice::Filter(filter) => workflow.filters().get(filter)?.steps.get(index),
        FilterChoice::Default if index == 0 => workflow.default_filter(),
        FilterChoice::Default => None,
    }
}

/// Saturating `usize` → `u32` (a valid workflow holds at most `MAX_WORKFLOW_TARGETS`
/// targets, far below `u32::MAX`).
fn small(index: usize) -> u32 {
    u32::try_from(index).unwrap_or(u32::MAX)
}

impl<T: Instant> Position<T> {
    /// The task enters the workflow at `at` with priority `priority` (the one it was
    /// created with): the first filter whose expression holds, else the default filter,
    /// else the walk ends with [`EndReason::NoFilterMatched`] (ROUTING.md §2.3.1).
    pub fn start(cx: &WalkContext<'_>, at: T, priority: u32) -> (Position<T>, Transition<T>) {
        Position::begin(cx, at, priority, 0)
    }

    /// The task walks its workflow again from the top at `at`, as [`start`](Self::start)
    /// does (its attributes changed, or its workflow was re-evaluated, ROUTING.md §2.7),
    /// and the epoch keeps moving on, so no timer set for the walk before is taken for
    /// one of the new walk.
    pub fn restart(&mut self, cx: &WalkContext<'_>, at: T, priority: u32) -> Transition<T> {
        let (position, transition) = Position::begin(cx, at, priority, self.epoch);
        *self = position;
        transition
    }

    fn begin(
        cx: &WalkContext<'_>,
        at: T,
        priority: u32,
        epoch: u32,
    ) -> (Position<T>, Transition<T>) {
        let mut position = Position {
            place: Place::Ended(EndReason::NoFilterMatched),
            filter_entered: at,
            deadline: None,
            priority,
            epoch,
            overdue: false,
        };
        let transition = position.select(cx, 0, true, EndReason::NoFilterMatched, at);
        (position, transition)
    }

    /// The step just entered is skipped at `at` (its `skip_if` held and nobody was
    /// reservable, ROUTING.md §2.3.4): on to the next step, or the next matching filter,
    /// or the default filter (a skip leaves it available), or the walk ends with
    /// [`EndReason::WorkflowSkipped`]. Nothing happens in the default filter or once ended.
    pub fn skip(&mut self, cx: &WalkContext<'_>, at: T) -> Moves<T> {
        self.leave(cx, at, Exit::Skipped)
    }

    /// The current step's deadline has come; the task leaves the step at `at` (its
    /// deadline, or later when the caller had to wait for a reservation to end): on to
    /// the next step, or the next matching filter, or the walk ends with
    /// [`EndReason::WorkflowTimeout`]; the default filter is never reached this way
    /// (§2.3.3). Nothing happens when the step has no deadline, when `at` is before it
    /// (unless the position is [overdue](Self::defer_timeout)), in the default filter or
    /// once ended.
    pub fn time_out(&mut self, cx: &WalkContext<'_>, at: T) -> Moves<T> {
        if !self.is_due(at) {
            return Moves::none();
        }
        self.leave(cx, at, Exit::TimedOut)
    }

    /// The task's TTL ended at `at`: the walk ends with [`EndReason::TtlExceeded`].
    /// Nothing happens once ended.
    pub fn ttl_expired(&mut self, at: T) -> Option<Transition<T>> {
        if self.ended().is_some() {
            return None;
        }
        Some(self.finish(EndReason::TtlExceeded, at))
    }

    /// [`start`](Self::start), then skip each step entered for which `skips_on_entry`
    /// says so (asked only of steps that have a `skip_if`). Appends to `out`.
    pub fn start_with(
        cx: &WalkContext<'_>,
        at: T,
        priority: u32,
        skips_on_entry: &mut dyn FnMut(FilterChoice, &CompiledStep) -> bool,
        out: &mut Vec<Transition<T>>,
    ) -> Position<T> {
        let (mut position, first) = Position::start(cx, at, priority);
        out.push(first);
        position.skip_while(cx, at, skips_on_entry, out);
        position
    }

    /// [`time_out`](Self::time_out), then skip each step entered for which
    /// `skips_on_entry` says so. Appends to `out`.
    pub fn time_out_with(
        &mut self,
        cx: &WalkContext<'_>,
        at: T,
        skips_on_entry: &mut dyn FnMut(FilterChoice, &CompiledStep) -> bool,
        out: &mut Vec<Transition<T>>,
    ) {
        let before = out.len();
        out.extend(self.time_out(cx, at));
        if out.len() > before {
            self.skip_while(cx, at, skips_on_entry, out);
        }
    }

    /// What ends the current step first for a task whose TTL ends at `ttl_end`: its
    /// deadline if strictly earlier, else the TTL (at the same instant the TTL wins).
    /// `None` once the walk has ended.
    pub fn next_due(&self, ttl_end: T) -> Option<Due<T>> {
        if self.ended().is_some() {
            return None;
        }
        Some(match self.deadline {
            Some(deadline) if deadline < ttl_end => Due::Step(deadline),
            _ => Due::Ttl(ttl_end),
        })
    }

    /// Whether the task should leave its step by timeout at `now`: it was marked
    /// [overdue](Self::defer_timeout), or its deadline is at or before `now`.
    pub fn is_due(&self, now: T) -> bool {
        self.ended().is_none() && (self.overdue || self.deadline.is_some_and(|d| d <= now))
    }

    /// The deadline came but the caller cannot move the task yet (a reservation is
    /// pending, UNCONFIRMED on TaskRouter): remember it, so [`is_due`](Self::is_due) holds
    /// until the task moves.
    pub fn defer_timeout(&mut self) {
        if self.deadline.is_some() && self.ended().is_none() {
            self.overdue = true;
        }
    }

    /// Whether a deadline came while the task could not move ([`defer_timeout`]
    /// (Self::defer_timeout)) and it has not moved since: nobody should be offered it
    /// until it does.
    pub fn is_overdue(&self) -> bool {
        self.overdue
    }

    /// Everything the position holds, for a caller that saves positions in a format of
    /// its own ([`from_parts`](Self::from_parts) makes the same position again).
    pub fn parts(&self) -> Parts<T> {
        Parts {
            filter: self.filter(),
            step: self.step(),
            filter_entered: self.filter_entered,
            deadline: self.deadline,
            priority: self.priority,
            epoch: self.epoch,
            overdue: self.overdue,
            ended: self.ended(),
        }
    }

    /// The position [`parts`](Self::parts) described. `ended` wins over `filter`; no
    /// filter and no end reads as the default filter.
    pub fn from_parts(parts: Parts<T>) -> Position<T> {
        let place = match (parts.ended, parts.filter) {
            (Some(reason), _) => Place::Ended(reason),
            (None, Some(FilterChoice::Filter(filter))) => Place::Step {
                filter: small(filter),
                step: small(parts.step),
            },
            (None, Some(FilterChoice::Default) | None) => Place::Default,
        };
        let open = parts.ended.is_none();
        Position {
            place,
            filter_entered: parts.filter_entered,
            deadline: parts.deadline.filter(|_| open),
            priority: parts.priority,
            epoch: parts.epoch,
            overdue: parts.overdue && open,
        }
    }

    /// The priority in force changed from outside (an API update, §2.4): carried on until
    /// a step sets its own.
    pub fn set_priority(&mut self, priority: u32) {
        self.priority = priority;
    }

    /// The filter the task is in (`None` once ended).
    pub fn filter(&self) -> Option<FilterChoice> {
        match self.place {
            Place::Step { filter, .. } => Some(FilterChoice::Filter(filter as usize)),
            Place::Default => Some(FilterChoice::Default),
            Place::Ended(_) => None,
        }
    }

    /// The step's index in its filter (0 for the default filter or once ended).
    pub fn step(&self) -> usize {
        match self.place {
            Place::Step { step, .. } => step as usize,
            Place::Default | Place::Ended(_) => 0,
        }
    }

    /// The compiled step the task is in.
    pub fn current_step<'w>(&self, workflow: &'w CompiledWorkflow) -> Option<&'w CompiledStep> {
        step_at(workflow, self.filter()?, self.step())
    }

    /// When the task entered its current filter.
    pub fn filter_entered(&self) -> T {
        self.filter_entered
    }

    /// When the current step times out, if it does.
    pub fn deadline(&self) -> Option<T> {
        self.deadline
    }

    /// The priority in force.
    pub fn priority(&self) -> u32 {
        self.priority
    }

    /// Changes on every move (wrapping): a timer set at epoch `e` is stale when
    /// `epoch() != e`.
    pub fn epoch(&self) -> u32 {
        self.epoch
    }

    /// Why the walk ended, once it has.
    pub fn ended(&self) -> Option<EndReason> {
        match self.place {
            Place::Ended(reason) => Some(reason),
            Place::Step { .. } | Place::Default => None,
        }
    }

    fn skip_while(
        &mut self,
        cx: &WalkContext<'_>,
        at: T,
        skips_on_entry: &mut dyn FnMut(FilterChoice, &CompiledStep) -> bool,
        out: &mut Vec<Transition<T>>,
    ) {
        // Each skip moves strictly forward (a later step or a later filter), so this ends.
        // The default filter's step has no `skip_if`.
        while let (Some(filter @ FilterChoice::Filter(_)), Some(step)) =
            (self.filter(), self.current_step(cx.workflow))
        {
            if step.skip_if.is_none() || !skips_on_entry(filter, step) {
                break;
            }
            out.extend(self.skip(cx, at));
        }
    }

    /// Leave the current named-filter step (§2.3.5 `next_step`).
    fn leave(&mut self, cx: &WalkContext<'_>, at: T, exit: Exit) -> Moves<T> {
        let Place::Step { filter, step } = self.place else {
            return Moves::none();
        };
        let left = Transition::Left {
            filter: FilterChoice::Filter(filter as usize),
            step: step as usize,
            at,
            exit,
        };
        // Timeouts never reach the default filter; a skip does (§2.3.3, §2.3.4): a
        // skipped-out filter counts as never matched, and the last way out decides
        // (UNCONFIRMED corner, §2.3.5).
        let (allow_default, fall_out) = match exit {
            Exit::TimedOut => (false, EndReason::WorkflowTimeout),
            Exit::Skipped => (true, EndReason::WorkflowSkipped),
        };
        let steps = cx
            .workflow
            .filters()
            .get(filter as usize)
            .map_or(0, |f| f.steps.len());
        let next = step as usize + 1;
        let then = if next < steps {
            let filter_entered = self.filter_entered;
            match self.enter(
                cx,
                FilterChoice::Filter(filter as usize),
                next,
                at,
                filter_entered,
            ) {
                Some(entered) => entered,
                None => self.finish(fall_out, at),
            }
        } else {
            self.select(cx, filter as usize + 1, allow_default, fall_out, at)
        };
        Moves::two(left, then)
    }

    /// The first filter at `from` or later that matches, else the default filter (when
    /// allowed and present), else the end with `fall_out`.
    fn select(
        &mut self,
        cx: &WalkContext<'_>,
        from: usize,
        allow_default: bool,
        fall_out: EndReason,
        at: T,
    ) -> Transition<T> {
        let entered = match cx.workflow.select_filter(cx.attributes, from, cx.time) {
            Some(index) => self.enter(cx, FilterChoice::Filter(index), 0, at, at),
            None if allow_default && cx.workflow.default_filter().is_some() => {
                self.enter(cx, FilterChoice::Default, 0, at, at)
            }
            None => None,
        };
        match entered {
            Some(entered) => entered,
            None => self.finish(fall_out, at),
        }
    }

    fn enter(
        &mut self,
        cx: &WalkContext<'_>,
        filter: FilterChoice,
        step: usize,
        at: T,
        filter_entered: T,
    ) -> Option<Transition<T>> {
        let compiled = step_at(cx.workflow, filter, step)?;
        let place = match filter {
            FilterChoice::Filter(index) => Place::Step {
                filter: small(index),
                step: small(step),
            },
            FilterChoice::Default => Place::Default,
        };
        let priority = compiled.priority.unwrap_or(self.priority);
        let deadline = compiled
            .end_offset
            .map(|offset| filter_entered.plus_seconds(offset));
        *self = Position {
            place,
            filter_entered,
            deadline,
            priority,
            epoch: self.epoch.wrapping_add(1),
            overdue: false,
        };
        Some(Transition::Entered(Entry {
            filter,
            step,
            at,
            filter_entered,
            priority,
            sets_priority: compiled.priority.is_some(),
            deadline,
        }))
    }

    fn finish(&mut self, reason: EndReason, at: T) -> Transition<T> {
        self.place = Place::Ended(reason);
        self.deadline = None;
        self.overdue = false;
        self.epoch = self.epoch.wrapping_add(1);
        Transition::Ended { at, reason }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn workflow(config: Value) -> CompiledWorkflow {
        CompiledWorkflow::from_value(&config, None).expect("valid workflow")
    }

    fn cx<'a>(workflow: &'a CompiledWorkflow, attributes: &'a Value) -> WalkContext<'a> {
        WalkContext {
            workflow,
            attributes,
            time: None,
        }
    }

    fn entered(filter: FilterChoice, step: usize, at: u64) -> impl Fn(&Transition<u64>) -> bool {
        move |t| matches!(t, Transition::Entered(e) if e.filter == filter && e.step == step && e.at == at)
    }

    #[test]
    fn a_position_is_small() {
        // One is kept per pending task in the emulator.
        assert!(std::mem::size_of::<Position<Millis>>() <= 48);
    }

    #[test]
    fn start_enters_the_first_matching_filter() {
        let workflow = workflow(json!({"task_routing": {"filters": [
            {"expression": "a == 1", "targets": [{"queue": "QA"}]},
            {"expression": "a == 2", "targets": [{"queue": "QB", "priority": 4, "timeout": 30}]}
        ]}}));
        let attributes = json!({"a": 2});
        let (position, first) = Position::start(&cx(&workflow, &attributes), 100u64, 1);
        assert_eq!(
            first,
            Transition::Entered(Entry {
                filter: FilterChoice::Filter(1),
                step: 0,
                at: 100,
                filter_entered: 100,
                priority: 4,
                sets_priority: true,
                deadline: Some(130),
            })
        );
        assert_eq!(position.filter(), Some(FilterChoice::Filter(1)));
        assert_eq!(position.deadline(), Some(130));
        assert_eq!(position.priority(), 4);
        assert_eq!(
            position.current_step(&workflow).map(|s| s.queue.as_str()),
            Some("QB")
        );
    }

    #[test]
    fn no_match_uses_the_default_filter_or_ends() {
        let with_default = workflow(json!({"task_routing": {
            "filters": [{"expression": "a == 1", "targets": [{"queue": "QA"}]}],
            "default_filter": {"queue": "QD"}}}));
        let attributes = json!({});
        let (position, first) = Position::start(&cx(&with_default, &attributes), 0u64, 3);
        assert!(entered(FilterChoice::Default, 0, 0)(&first));
        assert_eq!(position.priority(), 3);
        assert_eq!(position.deadline(), None);

        let without = workflow(json!({"task_routing": {"filters": [
            {"expression": "a == 1", "targets": [{"queue": "QA"}]}]}}));
        let (position, first) = Position::start(&cx(&without, &attributes), 7u64, 0);
        assert_eq!(
            first,
            Transition::Ended {
                at: 7,
                reason: EndReason::NoFilterMatched
            }
        );
        assert_eq!(position.ended(), Some(EndReason::NoFilterMatched));
        assert_eq!(position.next_due(100), None);
    }

    #[test]
    fn timeouts_are_cumulative_from_filter_entry_and_never_reach_the_default() {
        let workflow = workflow(json!({"task_routing": {
            "filters": [
                {"expression": "1==1", "targets": [{"queue": "Q1", "timeout": 30}, {"queue": "Q2", "timeout": 10}]},
                {"expression": "1==1", "targets": [{"queue": "Q3", "timeout": 5}]}
            ],
            "default_filter": {"queue": "QD"}}}));
        let attributes = json!({});
        let cx = cx(&workflow, &attributes);
        let (mut position, _) = Position::start(&cx, 0u64, 0);
        // Too early: nothing happens.
        assert_eq!(position.time_out(&cx, 29).count(), 0);
        let epoch = position.epoch();
        let moves: Vec<_> = position.time_out(&cx, 30).collect();
        assert_eq!(
            moves[0],
            Transition::Left {
                filter: FilterChoice::Filter(0),
                step: 0,
                at: 30,
                exit: Exit::TimedOut
            }
        );
        assert!(entered(FilterChoice::Filter(0), 1, 30)(&moves[1]));
        assert_ne!(position.epoch(), epoch);
        assert_eq!(position.deadline(), Some(40));
        let moves: Vec<_> = position.time_out(&cx, 40).collect();
        assert!(entered(FilterChoice::Filter(1), 0, 40)(&moves[1]));
        assert_eq!(position.filter_entered(), 40);
        assert_eq!(position.deadline(), Some(45));
        let moves: Vec<_> = position.time_out(&cx, 45).collect();
        assert_eq!(
            moves[1],
            Transition::Ended {
                at: 45,
                reason: EndReason::WorkflowTimeout
            }
        );
        assert_eq!(position.ended(), Some(EndReason::WorkflowTimeout));
        assert_eq!(position.time_out(&cx, 100).count(), 0);
        assert_eq!(position.ttl_expired(100), None);
    }

    #[test]
    fn skipping_the_last_step_leaves_the_default_filter_available() {
        let config = |default: bool| {
            let mut config = json!({"task_routing": {"filters": [
                {"expression": "1==1", "targets": [
                    {"queue": "QA", "timeout": 60, "skip_if": "1==1"},
                    {"queue": "QB", "skip_if": "1==1"}]}]}});
            if default {
                config["task_routing"]["default_filter"] = json!({"queue": "QD"});
            }
            workflow(config)
        };
        let attributes = json!({});
        let with_default = config(true);
        let mut out = Vec::new();
        let position = Position::start_with(
            &cx(&with_default, &attributes),
            5u64,
            0,
            &mut |_, _| true,
            &mut out,
        );
        assert_eq!(position.filter(), Some(FilterChoice::Default));
        let exits: Vec<_> = out
            .iter()
            .filter_map(|t| match t {
                Transition::Left { step, exit, at, .. } => Some((*step, *exit, *at)),
                _ => None,
            })
            .collect();
        assert_eq!(exits, [(0, Exit::Skipped, 5), (1, Exit::Skipped, 5)]);

        let without = config(false);
        let mut out = Vec::new();
        let position = Position::start_with(
            &cx(&without, &attributes),
            5u64,
            0,
            &mut |_, _| true,
            &mut out,
        );
        assert_eq!(position.ended(), Some(EndReason::WorkflowSkipped));
        assert_eq!(
            out.last(),
            Some(&Transition::Ended {
                at: 5,
                reason: EndReason::WorkflowSkipped
            })
        );
        // Asked once per step that has a skip_if, never about the default filter.
        let mut asked = Vec::new();
        let mut out = Vec::new();
        Position::start_with(
            &cx(&with_default, &attributes),
            0u64,
            0,
            &mut |filter, step| {
                asked.push((filter, step.index));
                false
            },
            &mut out,
        );
        assert_eq!(asked, [(FilterChoice::Filter(0), 0)]);
    }

    #[test]
    fn the_ttl_wins_a_tie_with_a_step_deadline() {
        let workflow = workflow(json!({"task_routing": {"filters": [
            {"expression": "1==1", "targets": [{"queue": "QA", "timeout": 100}, {"queue": "QB"}]}]}}));
        let attributes = json!({});
        let (mut position, _) = Position::start(&cx(&workflow, &attributes), 0u64, 0);
        assert_eq!(position.next_due(101), Some(Due::Step(100)));
        assert_eq!(position.next_due(100), Some(Due::Ttl(100)));
        assert_eq!(
            position.ttl_expired(100),
            Some(Transition::Ended {
                at: 100,
                reason: EndReason::TtlExceeded
            })
        );
        assert_eq!(position.next_due(100), None);
    }

    #[test]
    fn a_deferred_timeout_moves_on_later_from_the_original_clock() {
        let workflow = workflow(json!({"task_routing": {"filters": [
            {"expression": "1==1", "targets": [{"queue": "QA", "timeout": 10}, {"queue": "QB", "timeout": 10}]}]}}));
        let attributes = json!({});
        let cx = cx(&workflow, &attributes);
        let (mut position, _) = Position::start(&cx, Millis(1_000), 0);
        assert!(!position.is_due(Millis(10_999)));
        assert!(position.is_due(Millis(11_000)));
        position.defer_timeout();
        // The reservation ends at 13 s; the task moves then, and the next deadline still
        // counts from filter entry (1 s + 20 s).
        let moves: Vec<_> = position.time_out(&cx, Millis(13_000)).collect();
        assert_eq!(moves.len(), 2);
        assert_eq!(position.step(), 1);
        assert_eq!(position.deadline(), Some(Millis(21_000)));
        assert!(!position.is_due(Millis(13_000)));
    }

    #[test]
    fn a_position_resumes_from_its_parts() {
        let workflow = workflow(json!({"task_routing": {"filters": [
            {"expression": "1==1", "targets": [{"queue": "QA", "timeout": 10}, {"queue": "QB", "priority": 2, "timeout": 10}]}]}}));
        let attributes = json!({});
        let cx = cx(&workflow, &attributes);
        let (mut position, _) = Position::start(&cx, 0u64, 1);
        position.time_out(&cx, 10).count();
        position.defer_timeout();
        assert!(position.is_overdue());
        assert_eq!(Position::from_parts(position.parts()), position);
        position.time_out(&cx, 20).count();
        assert!(!position.is_overdue());
        let ended = Position::from_parts(position.parts());
        assert_eq!(ended, position);
        assert_eq!(ended.ended(), Some(EndReason::WorkflowTimeout));
    }

    #[test]
    fn a_restart_walks_from_the_top_with_a_new_epoch() {
        let workflow = workflow(json!({"task_routing": {"filters": [
            {"expression": "a == 1", "targets": [{"queue": "QA", "timeout": 30}]},
            {"expression": "1==1", "targets": [{"queue": "QB", "timeout": 30}]}]}}));
        let first = json!({"a": 1});
        let (mut position, _) = Position::start(&cx(&workflow, &first), 0u64, 0);
        let before = position.epoch();
        let second = json!({"a": 2});
        let entered = position.restart(&cx(&workflow, &second), 10, 0);
        assert!(matches!(entered, Transition::Entered(e) if e.filter == FilterChoice::Filter(1)));
        assert_eq!(position.deadline(), Some(40));
        assert_ne!(position.epoch(), before);
    }

    #[test]
    fn millis_saturate() {
        assert_eq!(Millis(5).plus_seconds(2), Millis(2_005));
        assert_eq!(Millis(5).plus_seconds(u64::MAX), Millis(i64::MAX));
        assert_eq!(u64::MAX.plus_seconds(1), u64::MAX);
    }
}
