//! Which workers a routing step may reserve, and in which order (ROUTING.md §3.4, §4.6,
//! §2.5, §2.6).
//!
//! Pure checks over borrowed [`WorkerView`]s: queue membership (`target_workers`), the
//! step's target expression, known-agent routing, activity availability and channel
//! capacity. [`StepContext::is_eligible`] is the allocation-free test a routing engine
//! calls per worker; [`StepContext::reasons`] and [`StepContext::explain`] say why not,
//! for people. This module does not track reservations (rule 5 of §4.6, "does not already
//! hold a reservation for this task", is the engine's to check) and picks no worker.

use std::cmp::Ordering;

use serde::Serialize;
use serde_json::Value;

use crate::expr::{
    lookup_json, Expression, KeyPath, MemberScope, ParseError, QueueCounts, Root, SkipScope,
    TargetScope, TimeOfDay, WorkerView, MAX_ORDER_BY_CLAUSES,
};

use super::config::{CompiledStep, KnownBy};

/// A TaskQueue's `target_workers` (ROUTING.md §3.1).
#[derive(Debug, Clone, PartialEq)]
pub enum TargetWorkers {
    /// Omitted or `null`: the create-time default `1==1`, every worker is a member.
    Everyone,
    /// An empty string: nobody is a member (the API text says tasks then wait until moved
    /// or deleted; UNCONFIRMED, ROUTING.md's suggested reading).
    Nobody,
    /// An expression over worker attributes.
    Expression(Expression),
}

impl TargetWorkers {
    /// From the resource field: `None` for omitted / `null`.
    pub fn from_field(field: Option<&str>) -> Result<Self, ParseError> {
        match field {
            None => Ok(TargetWorkers::Everyone),
            Some(text) if text.trim().is_empty() => Ok(TargetWorkers::Nobody),
            Some(text) => Expression::compile(text).map(TargetWorkers::Expression),
        }
    }

    /// Whether `worker` is a member.
    pub fn admits(&self, worker: &WorkerView<'_>) -> bool {
        match self {
            TargetWorkers::Everyone => true,
            TargetWorkers::Nobody => false,
            TargetWorkers::Expression(expression) => expression.evaluate(&MemberScope { worker }),
        }
    }

    /// Whether a bare attributes document would be a member: the TaskQueues list filter
    /// `EvaluateWorkerAttributes` (ROUTING.md §1.1, §3.1), where there is no real worker.
    pub fn admits_attributes(&self, attributes: &Value) -> bool {
        match self {
            TargetWorkers::Everyone => true,
            TargetWorkers::Nobody => false,
            TargetWorkers::Expression(expression) => expression.matches_document(attributes),
        }
    }

    /// The text shown to people: the expression, `1==1` or `""`.
    pub fn describe(&self) -> String {
        match self {
            TargetWorkers::Everyone => "1==1 (default)".to_string(),
            TargetWorkers::Nobody => "\"\" (empty: no members)".to_string(),
            TargetWorkers::Expression(expression) => expression.source().to_string(),
        }
    }
}

/// What routing needs to know of a TaskQueue.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueDef {
    /// `WQ…` SID (what workflow targets reference).
    pub sid: String,
    /// Friendly name (for people, and for the "use the SID" hint).
    pub friendly_name: String,
    /// Membership rule.
    pub target_workers: TargetWorkers,
}

/// Why a worker may not be reserved in a step. Listed in the order of ROUTING.md §4.6.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Ineligible {
    /// The queue's `target_workers` is false for this worker (§4.6 rule 1).
    NotInQueue,
    /// Known-agent routing names another worker, or none (§2.6). `wanted` is the task
    /// attribute's value when it is a string.
    NotKnownWorker {
        /// The SID or friendly name the task asks for.
        wanted: Option<String>,
    },
    /// The step's target `expression` is false for this task and worker (§4.6 rule 2).
    TargetExpressionFalse,
    /// The worker's Activity is not available (§4.6 rule 3).
    NotAvailable {
        /// The Activity it is in.
        activity_name: String,
    },
    /// The worker's channel for the task's channel is switched off (§4.6 rule 4).
    ChannelUnavailable {
        /// Channel unique name.
        channel: String,
    },
    /// The worker's channel for the task's channel is full (§4.6 rule 4).
    NoCapacity {
        /// Channel unique name.
        channel: String,
    },
}

impl std::fmt::Display for Ineligible {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Ineligible::NotInQueue => f.write_str("not a member of the queue (target_workers is false)"),
            Ineligible::NotKnownWorker { wanted: Some(wanted) } => {
                write!(f, "known-agent routing asks for `{wanted}`")
            }
            Ineligible::NotKnownWorker { wanted: None } => {
                f.write_str("known-agent routing names no worker (the task attribute is missing or not a string)")
            }
            Ineligible::TargetExpressionFalse => f.write_str("the step's target expression is false"),
            Ineligible::NotAvailable { activity_name } => {
                write!(f, "not available (activity `{activity_name}`)")
            }
            Ineligible::ChannelUnavailable { channel } => {
                write!(f, "channel `{channel}` is switched off for this worker")
            }
            Ineligible::NoCapacity { channel } => write!(f, "no free capacity on channel `{channel}`"),
        }
    }
}

/// One worker's verdict for a step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WorkerVerdict {
    /// Worker SID.
    pub sid: String,
    /// Worker friendly name.
    pub friendly_name: String,
    /// Empty when the worker is eligible.
    pub reasons: Vec<Ineligible>,
}

impl WorkerVerdict {
    /// Whether nothing stands in the way.
    pub fn eligible(&self) -> bool {
        self.reasons.is_empty()
    }
}

/// Everything needed to judge workers for one task in one step.
#[derive(Debug, Clone, Copy)]
pub struct StepContext<'a> {
    /// The routing step (a filter target or the default filter).
    pub step: &'a CompiledStep,
    /// The step's queue.
    pub queue: &'a QueueDef,
    /// The task's attributes.
    pub task: &'a Value,
    /// The current time, for `taskrouter.*` in the target expression.
    pub time: Option<TimeOfDay>,
    /// The task's channel unique name, to check capacity; `None` skips the check.
    pub task_channel: Option<&'a str>,
}

impl<'a> StepContext<'a> {
    fn known_worker_matches(&self, worker: &WorkerView<'_>) -> bool {
        let Some(known) = &self.step.known_worker else {
            return true;
        };
        match self.wanted_worker() {
            Some(wanted) => match known.by {
                KnownBy::Sid => worker.sid == wanted,
                // Friendly names are unique per workspace regardless of case (ROUTING.md
                // §1.7); whether the lookup ignores case is UNCONFIRMED, we match exactly.
                KnownBy::FriendlyName => worker.friendly_name == wanted,
            },
            None => false,
        }
    }

    /// The SID or friendly name known-agent routing asks for, if the task names one.
    /// JSON `null` and non-strings name nobody (§2.6).
    pub fn wanted_worker(&self) -> Option<&'a str> {
        let known = self.step.known_worker.as_ref()?;
        lookup_json(self.task, known.attribute.rest())?.as_str()
    }

    fn target_expression_holds(&self, worker: &WorkerView<'_>) -> bool {
        self.step.expression.as_ref().is_none_or(|expression| {
            expression.evaluate(&TargetScope {
                task: self.task,
                worker,
                time: self.time,
            })
        })
    }

    fn channel_problem(&self, worker: &WorkerView<'_>) -> Option<Ineligible> {
        let channel = self.task_channel?;
        // A worker without data for the channel is not limited by it: callers that track
        // capacity pass every channel.
        let load = worker
            .channels
            .iter()
            .find(|load| load.unique_name == channel)?;
        if !load.available {
            Some(Ineligible::ChannelUnavailable {
                channel: channel.to_string(),
            })
        } else if load.occupied >= load.configured_capacity {
            Some(Ineligible::NoCapacity {
                channel: channel.to_string(),
            })
        } else {
            None
        }
    }

    /// Whether the worker belongs to the step's queue.
    pub fn is_member(&self, worker: &WorkerView<'_>) -> bool {
        self.queue.target_workers.admits(worker)
    }

    /// Whether `worker` may be reserved now. Allocation-free; cheapest checks first.
    pub fn is_eligible(&self, worker: &WorkerView<'_>) -> bool {
        worker.available
            && self.channel_problem(worker).is_none()
            && self.known_worker_matches(worker)
            && self.is_member(worker)
            && self.target_expression_holds(worker)
    }

    /// Every reason `worker` may not be reserved now; empty when it may.
    pub fn reasons(&self, worker: &WorkerView<'_>) -> Vec<Ineligible> {
        let mut reasons = Vec::new();
        if !self.is_member(worker) {
            reasons.push(Ineligible::NotInQueue);
        }
        if !self.known_worker_matches(worker) {
            reasons.push(Ineligible::NotKnownWorker {
                wanted: self.wanted_worker().map(str::to_string),
            });
        }
        if !self.target_expression_holds(worker) {
            reasons.push(Ineligible::TargetExpressionFalse);
        }
        if !worker.available {
            reasons.push(Ineligible::NotAvailable {
                activity_name: worker.activity_name.to_string(),
            });
        }
        reasons.extend(self.channel_problem(worker));
        reasons
    }

    /// A verdict for each worker, in the order given.
    pub fn explain(&self, workers: &[WorkerView<'_>]) -> Vec<WorkerVerdict> {
        workers
            .iter()
            .map(|worker| WorkerVerdict {
                sid: worker.sid.to_string(),
                friendly_name: worker.friendly_name.to_string(),
                reasons: self.reasons(worker),
            })
            .collect()
    }

    /// The `skip_if` counters over the queue's members (ROUTING.md §1.9.4: members only,
    /// not narrowed by the target expression — UNCONFIRMED, its suggestion; capacity is
    /// not counted).
    pub fn counts(&self, workers: &[WorkerView<'_>]) -> QueueCounts {
        let mut counts = QueueCounts::default();
        for worker in workers.iter().filter(|worker| self.is_member(worker)) {
            if worker.available {
                counts.available += 1;
            } else {
                counts.unavailable += 1;
            }
            match counts
                .by_activity
                .iter_mut()
                .find(|(activity, _)| activity == worker.activity_sid)
            {
                Some((_, count)) => *count += 1,
                None => counts
                    .by_activity
                    .push((worker.activity_sid.to_string(), 1)),
            }
        }
        counts
    }

    /// Whether the task skips this step on entry: no worker is reservable right away and
    /// the step's `skip_if` is true (ROUTING.md §2.3.4). `workers` should be the whole
    /// workspace (or at least the queue's members).
    pub fn skips_on_entry(&self, workers: &[WorkerView<'_>]) -> bool {
        let Some(skip_if) = &self.step.skip_if else {
            return false;
        };
        if workers.iter().any(|worker| self.is_eligible(worker)) {
            return false;
        }
        skip_if.evaluate(&SkipScope {
            counts: &self.counts(workers),
        })
    }
}

/// A parsed `order_by` (ROUTING.md §2.5): `worker.<path> ASC|DESC`, comma-separated.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderBy {
    clauses: Vec<OrderClause>,
}

/// One `order_by` clause.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderClause {
    /// The key, starting with `worker.`.
    pub key: KeyPath,
    /// `DESC` (otherwise `ASC`).
    pub descending: bool,
}

impl OrderClause {
    /// The worker's value for this clause: `Ok(None)` when missing or null, `Err` when it
    /// is not an integer.
    fn integer(&self, worker: &WorkerView<'_>) -> Result<Option<f64>, ()> {
        match lookup_json(worker.attributes, self.key.rest()) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(number)) => match number.as_f64() {
                Some(value) if value.fract() == 0.0 => Ok(Some(value)),
                _ => Err(()),
            },
            Some(_) => Err(()),
        }
    }
}

impl OrderBy {
    /// Parse `worker.finance ASC, worker.support DESC`. A clause without direction is
    /// ascending (UNCONFIRMED; docs always write one).
    pub fn parse(text: &str) -> Result<OrderBy, String> {
        let count = text.split(',').count();
        if count > MAX_ORDER_BY_CLAUSES {
            return Err(format!(
                "{count} clauses; the limit is {MAX_ORDER_BY_CLAUSES}"
            ));
        }
        let mut clauses = Vec::new();
        for clause in text.split(',') {
            let mut words = clause.split_whitespace();
            let Some(path) = words.next() else {
                return Err("empty clause (expected `worker.<attribute> ASC|DESC`)".to_string());
            };
            let key = crate::expr::parse_key_path(path)
                .map_err(|error| format!("bad key `{path}`: {error}"))?;
            if key.root() != Root::Worker || key.rest().is_empty() {
                return Err(format!("`{path}` must start with `worker.`"));
            }
            let descending = match words.next() {
                None => false,
                Some(word) if word.eq_ignore_ascii_case("asc") => false,
                Some(word) if word.eq_ignore_ascii_case("desc") => true,
                Some(word) => {
                    return Err(format!(
                        "expected ASC or DESC after `{path}`, found `{word}`"
                    ))
                }
            };
            if let Some(extra) = words.next() {
                return Err(format!(
                    "unexpected `{extra}` (separate clauses with commas)"
                ));
            }
            clauses.push(OrderClause { key, descending });
        }
        Ok(OrderBy { clauses })
    }

    /// The clauses, in priority order.
    pub fn clauses(&self) -> &[OrderClause] {
        &self.clauses
    }

    /// Sort `workers` in place. The sort is stable, so the order the caller passed in
    /// (longest idle first, §2.5) breaks the remaining ties. Workers lacking an attribute
    /// go after those that have it, in either direction. Returns `false`, leaving the
    /// slice untouched, when some worker holds a non-integer value for a clause: TaskRouter
    /// then ignores the whole `order_by` (§2.5).
    pub fn sort(&self, workers: &mut [WorkerView<'_>]) -> bool {
        let all_integers = workers.iter().all(|worker| {
            self.clauses
                .iter()
                .all(|clause| clause.integer(worker).is_ok())
        });
        if !all_integers {
            return false;
        }
        workers.sort_by(|a, b| {
            for clause in &self.clauses {
                let left = clause.integer(a).ok().flatten();
                let right = clause.integer(b).ok().flatten();
                let ordering = match (left, right) {
                    (Some(left), Some(right)) => {
                        let ordering = left.total_cmp(&right);
                        if clause.descending {
                            ordering.reverse()
                        } else {
                            ordering
                        }
                    }
                    (Some(_), None) => Ordering::Less,
                    (None, Some(_)) => Ordering::Greater,
                    (None, None) => Ordering::Equal,
                };
                if ordering != Ordering::Equal {
                    return ordering;
                }
            }
            Ordering::Equal
        });
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn worker<'a>(sid: &'a str, attributes: &'a Value) -> WorkerView<'a> {
        WorkerView {
            sid,
            friendly_name: sid,
            activity_sid: "WA1",
            activity_name: "Available",
            available: true,
            attributes,
            channels: &[],
        }
    }

    #[test]
    fn target_workers_field() {
        let attributes = json!({"languages": ["es"]});
        let ana = worker("WK1", &attributes);
        assert!(TargetWorkers::from_field(None).expect("ok").admits(&ana));
        assert!(!TargetWorkers::from_field(Some(" "))
            .expect("ok")
            .admits(&ana));
        assert!(TargetWorkers::from_field(Some("languages HAS 'es'"))
            .expect("ok")
            .admits(&ana));
        assert!(TargetWorkers::from_field(Some("languages HAS")).is_err());
        let spanish = TargetWorkers::from_field(Some("languages HAS 'es'")).expect("ok");
        assert!(spanish.admits_attributes(&attributes));
        assert!(!spanish.admits_attributes(&json!({"languages": ["en"]})));
    }

    /// ROUTING.md §2.5: Alice {finance:10, support:8}, Bob {finance:10, support:5},
    /// `worker.finance ASC, worker.support ASC` → Bob, Alice; Bob lacking `support` →
    /// Alice, Bob.
    #[test]
    fn order_by_example() {
        let order = OrderBy::parse("worker.finance ASC, worker.support ASC").expect("parses");
        let alice_attributes = json!({"finance": 10, "support": 8});
        let bob_attributes = json!({"finance": 10, "support": 5});
        let mut workers = [
            worker("alice", &alice_attributes),
            worker("bob", &bob_attributes),
        ];
        assert!(order.sort(&mut workers));
        assert_eq!(workers.map(|w| w.sid), ["bob", "alice"]);

        let bob_without_support = json!({"finance": 10});
        let mut workers = [
            worker("bob", &bob_without_support),
            worker("alice", &alice_attributes),
        ];
        assert!(order.sort(&mut workers));
        assert_eq!(workers.map(|w| w.sid), ["alice", "bob"]);

        let descending = OrderBy::parse("worker.support DESC").expect("parses");
        let mut workers = [
            worker("bob", &bob_attributes),
            worker("alice", &alice_attributes),
        ];
        assert!(descending.sort(&mut workers));
        assert_eq!(workers.map(|w| w.sid), ["alice", "bob"]);
    }

    #[test]
    fn order_by_on_non_integers_is_ignored() {
        let order = OrderBy::parse("worker.level").expect("parses");
        let text = json!({"level": "high"});
        let number = json!({"level": 1});
        let mut workers = [worker("a", &text), worker("b", &number)];
        assert!(!order.sort(&mut workers));
        assert_eq!(workers.map(|w| w.sid), ["a", "b"]);
    }

    #[test]
    fn order_by_clauses_are_bounded() {
        let clauses = |n: usize| vec!["worker.a DESC"; n].join(", ");
        let order = OrderBy::parse(&clauses(MAX_ORDER_BY_CLAUSES)).expect("at the limit");
        assert_eq!(order.clauses().len(), MAX_ORDER_BY_CLAUSES);
        let error = OrderBy::parse(&clauses(MAX_ORDER_BY_CLAUSES + 1)).expect_err("over");
        assert_eq!(
            error,
            format!(
                "{} clauses; the limit is {MAX_ORDER_BY_CLAUSES}",
                MAX_ORDER_BY_CLAUSES + 1
            )
        );
    }

    #[test]
    fn order_by_syntax() {
        assert!(OrderBy::parse("level ASC").is_err());
        assert!(OrderBy::parse("worker.level UP").is_err());
        assert!(OrderBy::parse("worker.a ASC worker.b").is_err());
        assert!(OrderBy::parse("worker.a ASC,").is_err());
        assert_eq!(
            OrderBy::parse("worker.a.b desc")
                .expect("ok")
                .clauses()
                .len(),
            1
        );
    }
}
