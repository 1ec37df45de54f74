//! Workflow configurations: ROUTING.md §2.8's timelines, the quickstart workflow, validation
//! with JSON paths, worker eligibility, and `trctl workflow validate|test` run in-process.

use clap::Parser;
use serde_json::{json, Value};

use trctl::cli::cmd::workflow_offline::{test, validate, TestArgs, ValidateArgs};
use trctl::expr::{ChannelLoad, WorkerView};
use trctl::workflow::{
    plan, CompiledStep, CompiledWorkflow, ConfigErrorKind, EndReason, FilterChoice, Ineligible,
    QueueDef, RouteInput, RoutePlan, StepContext, TargetWorkers,
};

fn fixture(name: &str) -> String {
    format!(
        "{}/tests/fixtures/workflow/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn compile(config: Value) -> CompiledWorkflow {
    CompiledWorkflow::from_value(&config, None).unwrap_or_else(|errors| panic!("invalid: {errors}"))
}

/// Workflow W1 of ROUTING.md §2.8 (`gold_last_timeout` gives target 3 a timeout, for
/// scenario B).
fn w1(gold_last_timeout: Option<u64>) -> CompiledWorkflow {
    let mut last = json!({"queue": "QC"});
    if let Some(timeout) = gold_last_timeout {
        last["timeout"] = json!(timeout);
    }
    compile(json!({"task_routing": {
        "filters": [
            {"filter_friendly_name": "gold", "expression": "tier == 'gold'",
             "targets": [{"queue": "QA", "priority": 5, "timeout": 30},
                         {"queue": "QB", "priority": 20, "timeout": 60},
                         last]},
            {"filter_friendly_name": "any-ticket", "expression": "kind == 'ticket'",
             "targets": [{"queue": "QB", "timeout": 40}]}
        ],
        "default_filter": {"queue": "QD"}}}))
}

/// Workflow W2 of ROUTING.md §2.8; `qb_skip` adds `"skip_if": "1==1"` to the second target.
fn w2(qb_skip: bool) -> CompiledWorkflow {
    let mut second = json!({"queue": "QB", "timeout": 30});
    if qb_skip {
        second["skip_if"] = json!("1==1");
    }
    compile(json!({"task_routing": {
        "filters": [{"expression": "1==1", "targets": [
            {"queue": "QA", "skip_if": "workers.available == 0", "timeout": 60},
            second]}],
        "default_filter": {"queue": "QD"}}}))
}

fn queue(sid: &str, target_workers: &str) -> QueueDef {
    QueueDef {
        sid: sid.to_string(),
        friendly_name: format!("queue {sid}"),
        target_workers: TargetWorkers::from_field(Some(target_workers))
            .expect("valid target_workers"),
    }
}

/// A worker owning its attributes, for building views.
struct Agent {
    sid: &'static str,
    activity: (&'static str, &'static str, bool),
    attributes: Value,
}

impl Agent {
    fn new(sid: &'static str, available: bool, attributes: Value) -> Self {
        let activity = if available {
            ("WA0AVL", "Available", true)
        } else {
            ("WA0OFF", "Offline", false)
        };
        Agent {
            sid,
            activity,
            attributes,
        }
    }

    fn view(&self) -> WorkerView<'_> {
        WorkerView {
            sid: self.sid,
            friendly_name: self.sid,
            activity_sid: self.activity.0,
            activity_name: self.activity.1,
            available: self.activity.2,
            attributes: &self.attributes,
            channels: &[],
        }
    }
}

/// Plan with skip decisions taken from `agents` and `queues`, as an engine would.
fn plan_with<'w>(
    workflow: &'w CompiledWorkflow,
    attributes: &Value,
    age: u64,
    queues: &[QueueDef],
    agents: &[Agent],
) -> RoutePlan<'w> {
    let views: Vec<WorkerView<'_>> = agents.iter().map(Agent::view).collect();
    let input = RouteInput {
        age,
        ..RouteInput::new(attributes)
    };
    let mut skips = |_: FilterChoice, step: &CompiledStep| {
        let queue = queues
            .iter()
            .find(|queue| queue.sid == step.queue)
            .expect("queue defined");
        StepContext {
            step,
            queue,
            task: attributes,
            time: None,
            task_channel: None,
        }
        .skips_on_entry(&views)
    };
    plan(workflow, &input, &mut skips)
}

/// The whole walk, one line per step: `filter queue pPRIORITY entered..left exit`, then
/// the end.
fn timeline(workflow: &CompiledWorkflow, route: &RoutePlan<'_>) -> Vec<String> {
    let mut lines: Vec<String> = route
        .legs
        .iter()
        .flat_map(|leg| {
            let name = filter_name(workflow, leg.filter);
            leg.steps.iter().map(move |visit| {
                let left = visit
                    .left_at
                    .map_or("".to_string(), |left| left.to_string());
                format!(
                    "{name} {} p{} {}..{left} {}",
                    visit.step.queue,
                    visit.priority,
                    visit.entered_at,
                    serde_json::to_value(visit.exit)
                        .expect("serializes")
                        .as_str()
                        .unwrap_or_default()
                )
            })
        })
        .collect();
    lines.push(format!("end {} {:?}", route.end.at, route.end.reason));
    lines
}

fn filter_name(workflow: &CompiledWorkflow, choice: FilterChoice) -> String {
    match choice {
        FilterChoice::Filter(index) => workflow.filters()[index]
            .name
            .clone()
            .unwrap_or(format!("#{index}")),
        FilterChoice::Default => "default".to_string(),
    }
}

/// Where the task is at its age: `filter queue pPRIORITY`, or `done REASON`.
fn position(workflow: &CompiledWorkflow, route: &RoutePlan<'_>) -> String {
    match route.active_visit() {
        Some((leg, visit)) => format!(
            "{} {} p{}",
            filter_name(workflow, leg.filter),
            visit.step.queue,
            visit.priority
        ),
        None => format!("done {:?}", route.end.reason),
    }
}

/// One test per line: `name: workflow, attributes at AGE => position;` (no workers, so no
/// step is skipped).
macro_rules! at_age {
    ($($name:ident: $workflow:expr, $attributes:tt at $age:expr => $expected:expr;)*) => {$(
        #[test]
        fn $name() {
            let workflow = $workflow;
            let attributes = json!($attributes);
            let input = RouteInput { age: $age, ..RouteInput::new(&attributes) };
            let route = plan(&workflow, &input, &mut trctl::workflow::never_skip);
            assert_eq!(position(&workflow, &route), $expected);
        }
    )*};
}

mod timelines {
    use super::*;

    at_age! {
        a_starts_in_qa: w1(None), {"tier": "gold"} at 0 => "gold QA p5";
        a_still_qa_at_29: w1(None), {"tier": "gold"} at 29 => "gold QA p5";
        a_qb_at_30: w1(None), {"tier": "gold"} at 30 => "gold QB p20";
        a_qb_at_89: w1(None), {"tier": "gold"} at 89 => "gold QB p20";
        a_qc_at_90_priority_kept: w1(None), {"tier": "gold"} at 90 => "gold QC p20";
        a_qc_until_ttl: w1(None), {"tier": "gold"} at 86_399 => "gold QC p20";
        a_canceled_at_ttl: w1(None), {"tier": "gold"} at 86_400 => "done TtlExceeded";
        b_gold_qc_at_95: w1(Some(10)), {"tier": "gold", "kind": "ticket"} at 95 => "gold QC p20";
        b_next_filter_at_100: w1(Some(10)), {"tier": "gold", "kind": "ticket"} at 100 => "any-ticket QB p20";
        b_next_filter_at_139: w1(Some(10)), {"tier": "gold", "kind": "ticket"} at 139 => "any-ticket QB p20";
        b_workflow_timeout_at_140: w1(Some(10)), {"tier": "gold", "kind": "ticket"} at 140 => "done WorkflowTimeout";
        c_default_filter: w1(None), {"kind": "other"} at 0 => "default QD p0";
        c_default_until_ttl: w1(None), {"kind": "other"} at 50_000 => "default QD p0";
        // Scenario D: worker X accepts at t=45, which happens in QB.
        d_in_qb_when_accepted: w1(None), {"tier": "gold"} at 45 => "gold QB p20";
        // Scenario E: Y rejects at t=5 — the task is still in QA's window.
        e_in_qa_after_reject: w1(None), {"tier": "gold"} at 5 => "gold QA p5";
        e_moves_to_qb_at_30: w1(None), {"tier": "gold"} at 30 => "gold QB p20";
        ticket_only_first_filter_skipped: w1(None), {"kind": "ticket"} at 10 => "any-ticket QB p0";
        ticket_only_times_out_at_40: w1(None), {"kind": "ticket"} at 40 => "done WorkflowTimeout";
    }

    #[test]
    fn scenario_a_full_timeline() {
        let workflow = w1(None);
        let attributes = json!({"tier": "gold"});
        let route = plan(
            &workflow,
            &RouteInput::new(&attributes),
            &mut trctl::workflow::never_skip,
        );
        assert_eq!(
            timeline(&workflow, &route),
            [
                "gold QA p5 0..30 timed_out",
                "gold QB p20 30..90 timed_out",
                "gold QC p20 90.. waits",
                "end 86400 TtlExceeded",
            ]
        );
        assert_eq!(route.end.reason.reason_text(), "Task TTL Exceeded");
    }

    #[test]
    fn scenario_b_full_timeline_never_reaches_default() {
        let workflow = w1(Some(10));
        let attributes = json!({"tier": "gold", "kind": "ticket"});
        let route = plan(
            &workflow,
            &RouteInput::new(&attributes),
            &mut trctl::workflow::never_skip,
        );
        assert_eq!(
            timeline(&workflow, &route),
            [
                "gold QA p5 0..30 timed_out",
                "gold QB p20 30..90 timed_out",
                "gold QC p20 90..100 timed_out",
                "any-ticket QB p20 100..140 timed_out",
                "end 140 WorkflowTimeout",
            ]
        );
        assert_eq!(route.end.reason.event(), "workflow.timeout");
    }

    #[test]
    fn scenario_d_and_e_workers_in_the_step() {
        let workflow = w1(None);
        let attributes = json!({"tier": "gold"});
        let queues = [queue("QA", "team == 'a'"), queue("QB", "team == 'b'")];
        // D: X is a QB member and available at t=45, so it can be reserved and accept.
        let x = Agent::new("WKX", true, json!({"team": "b"}));
        let step_qb = &workflow.filters()[0].steps[1];
        let context = StepContext {
            step: step_qb,
            queue: &queues[1],
            task: &attributes,
            time: None,
            task_channel: None,
        };
        assert!(context.is_eligible(&x.view()));
        // E: Y rejected without leaving its available activity: still eligible in QA.
        let y = Agent::new("WKY", true, json!({"team": "a"}));
        let step_qa = &workflow.filters()[0].steps[0];
        let context = StepContext {
            step: step_qa,
            queue: &queues[0],
            task: &attributes,
            time: None,
            task_channel: None,
        };
        assert!(context.is_eligible(&y.view()));
        // ...but not once it moved to an unavailable activity.
        let y_offline = Agent::new("WKY", false, json!({"team": "a"}));
        assert_eq!(
            context.reasons(&y_offline.view()),
            [Ineligible::NotAvailable {
                activity_name: "Offline".into()
            }]
        );
    }

    fn w2_queues() -> [QueueDef; 3] {
        [
            queue("QA", "team == 'a'"),
            queue("QB", "team == 'b'"),
            queue("QD", "1==1"),
        ]
    }

    #[test]
    fn w2_qa_all_offline_skips_and_times_out_of_qb_without_default() {
        let workflow = w2(false);
        let agents = [
            Agent::new("WK1", false, json!({"team": "a"})),
            Agent::new("WK2", false, json!({"team": "a"})),
        ];
        let route = plan_with(&workflow, &json!({}), 0, &w2_queues(), &agents);
        assert_eq!(
            timeline(&workflow, &route),
            [
                "#0 QA p0 0..0 skipped",
                // Literal cumulative reading (UNCONFIRMED, ROUTING.md §2.8): 60 + 30.
                "#0 QB p0 0..90 timed_out",
                "end 90 WorkflowTimeout",
            ]
        );
        assert_eq!(position(&workflow, &route), "#0 QB p0");
    }

    #[test]
    fn w2_no_skip_when_a_qa_worker_is_reservable() {
        let workflow = w2(false);
        let agents = [
            Agent::new("WK1", true, json!({"team": "a"})),
            Agent::new("WK2", false, json!({"team": "a"})),
        ];
        let route = plan_with(&workflow, &json!({}), 59, &w2_queues(), &agents);
        assert_eq!(
            timeline(&workflow, &route),
            [
                "#0 QA p0 0..60 timed_out",
                "#0 QB p0 60..90 timed_out",
                "end 90 WorkflowTimeout"
            ]
        );
        assert_eq!(position(&workflow, &route), "#0 QA p0");
    }

    #[test]
    fn w2_skipping_the_last_target_falls_to_the_default_filter() {
        let workflow = w2(true);
        let agents = [
            Agent::new("WK1", false, json!({"team": "a"})),
            Agent::new("WK2", false, json!({"team": "b"})),
        ];
        let route = plan_with(&workflow, &json!({}), 1_000, &w2_queues(), &agents);
        assert_eq!(
            timeline(&workflow, &route),
            [
                "#0 QA p0 0..0 skipped",
                "#0 QB p0 0..0 skipped",
                "default QD p0 0.. waits",
                "end 86400 TtlExceeded"
            ]
        );
        assert_eq!(position(&workflow, &route), "default QD p0");
    }

    #[test]
    fn skipping_out_without_default_is_workflow_skipped() {
        let workflow = compile(json!({"task_routing": {"filters": [
            {"expression": "1==1", "targets": [{"queue": "QA", "skip_if": "1==1"}]}]}}));
        let route = plan_with(&workflow, &json!({}), 0, &[queue("QA", "1==1")], &[]);
        assert_eq!(
            timeline(&workflow, &route),
            ["#0 QA p0 0..0 skipped", "end 0 WorkflowSkipped"]
        );
        assert_eq!(route.end.reason.event(), "workflow.skipped");
    }
}

/// The quickstart workflow (QUICKSTART.md): Spanish and English filters.
mod quickstart {
    use super::*;

    const SPANISH: &str = "WQ11111111111111111111111111111111";
    const ENGLISH: &str = "WQ22222222222222222222222222222222";

    fn load(name: &str) -> CompiledWorkflow {
        let text = std::fs::read_to_string(fixture(name)).expect("fixture");
        CompiledWorkflow::from_json(&text, None).expect("valid")
    }

    #[test]
    fn spanish_task_goes_to_the_spanish_queue() {
        let workflow = load("quickstart.json");
        let attributes = json!({"selected_language": "es"});
        let route = plan(
            &workflow,
            &RouteInput::new(&attributes),
            &mut trctl::workflow::never_skip,
        );
        assert_eq!(route.matched_filter(), Some(0));
        assert_eq!(
            route
                .active_visit()
                .map(|(_, visit)| visit.step.queue.as_str()),
            Some(SPANISH)
        );
        let english = json!({"selected_language": "en"});
        let route = plan(
            &workflow,
            &RouteInput::new(&english),
            &mut trctl::workflow::never_skip,
        );
        assert_eq!(
            route
                .active_visit()
                .map(|(_, visit)| visit.step.queue.as_str()),
            Some(ENGLISH)
        );
    }

    #[test]
    fn french_without_default_matches_nothing_and_is_canceled() {
        let workflow = load("quickstart.json");
        let attributes = json!({"selected_language": "fr"});
        let route = plan(
            &workflow,
            &RouteInput::new(&attributes),
            &mut trctl::workflow::never_skip,
        );
        assert_eq!(route.matched_filter(), None);
        assert!(route.legs.is_empty());
        assert_eq!(
            (route.end.at, route.end.reason),
            (0, EndReason::NoFilterMatched)
        );
    }

    #[test]
    fn french_with_default_goes_to_the_default_queue() {
        let workflow = load("quickstart_with_default.json");
        let attributes = json!({"selected_language": "fr"});
        let route = plan(
            &workflow,
            &RouteInput::new(&attributes),
            &mut trctl::workflow::never_skip,
        );
        assert_eq!(route.matched_filter(), None);
        let (leg, visit) = route.active_visit().expect("routed");
        assert_eq!(
            (leg.filter, visit.step.queue.as_str()),
            (FilterChoice::Default, ENGLISH)
        );
        assert_eq!(route.end.reason, EndReason::TtlExceeded);
    }
}

mod validation {
    use super::*;

    fn error_paths(config: Value, queues: Option<&[QueueDef]>) -> Vec<String> {
        match CompiledWorkflow::from_value(&config, queues) {
            Ok(_) => Vec::new(),
            Err(errors) => errors.0.iter().map(|error| error.path.clone()).collect(),
        }
    }

    #[test]
    fn bad_expression_names_its_path_and_span() {
        let config = json!({"task_routing": {"filters": [
            {"expression": "1==1", "targets": [{"queue": "QA"}]},
            {"expression": "1==1", "targets": [{"queue": "QA", "expression": "worker.languages HAS"}]}]}});
        let errors = CompiledWorkflow::from_value(&config, None)
            .expect_err("invalid")
            .0;
        assert_eq!(errors.len(), 1);
        assert_eq!(
            errors[0].path,
            "task_routing.filters[1].targets[0].expression"
        );
        match &errors[0].kind {
            ConfigErrorKind::Expression { source, error } => {
                assert_eq!(source, "worker.languages HAS");
                assert_eq!((error.span.start, error.span.end), (20, 20));
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn unknown_queue_only_with_a_queue_list() {
        let config = json!({"task_routing": {"filters": [
            {"expression": "1==1", "targets": [{"queue": "QA"}, {"queue": "QZ"}]}],
            "default_filter": {"queue": "queue QA"}}});
        assert!(error_paths(config.clone(), None).is_empty());
        let queues = [queue("QA", "1==1")];
        let errors = CompiledWorkflow::from_value(&config, Some(&queues))
            .expect_err("unknown queues")
            .0;
        let messages: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            messages,
            [
                "task_routing.filters[0].targets[1].queue: no queue with SID \"QZ\" in the queue list",
                "task_routing.default_filter.queue: \"queue QA\" is a queue's friendly name; targets reference queues by SID (use \"QA\")",
            ]
        );
    }

    #[test]
    fn skip_if_and_known_worker_and_order_by_are_checked() {
        let config = json!({"task_routing": {"filters": [{"expression": "1==1", "targets": [
            {"queue": "Q", "skip_if": "workers.available ==", "known_worker_sid": "agent", "order_by": "worker.level SIDEWAYS"}]}]}});
        assert_eq!(
            error_paths(config, None),
            [
                "task_routing.filters[0].targets[0].skip_if",
                "task_routing.filters[0].targets[0].order_by",
                "task_routing.filters[0].targets[0].known_worker_sid",
            ]
        );
    }

    #[test]
    fn only_a_default_filter_is_valid() {
        let workflow = compile(json!({"task_routing": {"default_filter": {"queue": "WQsample"}}}));
        assert!(workflow.filters().is_empty());
        assert_eq!(workflow.queue_sids(), ["WQsample"]);
    }
}

mod eligibility {
    use super::*;

    #[test]
    fn every_reason_is_reported() {
        let workflow = compile(
            json!({"task_routing": {"filters": [{"expression": "1==1", "targets": [
            {"queue": "Q", "expression": "worker.level >= task.min_level"}]}]}}),
        );
        let step = &workflow.filters()[0].steps[0];
        let queue = queue("Q", "languages HAS 'es'");
        let task = json!({"min_level": 3});
        let context = StepContext {
            step,
            queue: &queue,
            task: &task,
            time: None,
            task_channel: Some("chat"),
        };
        let good = Agent::new("WKgood", true, json!({"languages": ["es"], "level": 4}));
        let bad = Agent::new("WKbad", false, json!({"languages": ["en"], "level": 1}));
        let full_channel = [ChannelLoad {
            unique_name: "chat",
            configured_capacity: 2,
            assigned_tasks: 2,
            occupied: 2,
            available: true,
        }];
        let busy_agent = Agent::new("WKbusy", true, json!({"languages": ["es"], "level": 5}));
        let busy = WorkerView {
            channels: &full_channel,
            ..busy_agent.view()
        };
        let verdicts = context.explain(&[good.view(), bad.view(), busy]);
        assert!(verdicts[0].eligible());
        assert_eq!(
            verdicts[1].reasons,
            [
                Ineligible::NotInQueue,
                Ineligible::TargetExpressionFalse,
                Ineligible::NotAvailable {
                    activity_name: "Offline".into()
                },
            ]
        );
        assert_eq!(
            verdicts[2].reasons,
            [Ineligible::NoCapacity {
                channel: "chat".into()
            }]
        );
        assert!(!context.is_eligible(&busy));
    }

    #[test]
    fn known_worker_routing_targets_one_worker() {
        let workflow = compile(
            json!({"task_routing": {"filters": [{"expression": "1==1", "targets": [
            {"queue": "Q", "known_worker_friendly_name": "task.agent", "timeout": 60}, {"queue": "Q"}]}]}}),
        );
        let step = &workflow.filters()[0].steps[0];
        let queue = queue("Q", "1==1");
        let alice = Agent::new("alice", true, json!({}));
        let bob = Agent::new("bob", true, json!({}));
        let task = json!({"agent": "bob"});
        let context = StepContext {
            step,
            queue: &queue,
            task: &task,
            time: None,
            task_channel: None,
        };
        assert!(!context.is_eligible(&alice.view()));
        assert!(context.is_eligible(&bob.view()));
        assert_eq!(
            context.reasons(&alice.view()),
            [Ineligible::NotKnownWorker {
                wanted: Some("bob".into())
            }]
        );
        // A JSON null names nobody: the task waits for the step's timeout (§2.6).
        let nobody = json!({"agent": null});
        let context = StepContext {
            task: &nobody,
            ..context
        };
        assert!(!context.is_eligible(&bob.view()));
    }

    #[test]
    fn skip_counters_cover_queue_members_only() {
        let workflow = w2(false);
        let step = &workflow.filters()[0].steps[0];
        let queue = queue("QA", "team == 'a'");
        let task = json!({});
        let context = StepContext {
            step,
            queue: &queue,
            task: &task,
            time: None,
            task_channel: None,
        };
        let agents = [
            Agent::new("WK1", false, json!({"team": "a"})),
            Agent::new("WK2", true, json!({"team": "b"})),
        ];
        let views: Vec<WorkerView<'_>> = agents.iter().map(Agent::view).collect();
        let counts = context.counts(&views);
        assert_eq!((counts.available, counts.unavailable), (0, 1));
        assert_eq!(counts.by_activity, [("WA0OFF".to_string(), 1)]);
        assert!(context.skips_on_entry(&views));
    }
}

/// `trctl workflow validate|test`, parsed by clap and run in-process.
mod cli {
    use super::*;

    #[derive(Parser)]
    struct ValidateHarness {
        #[command(flatten)]
        args: ValidateArgs,
    }

    #[derive(Parser)]
    struct TestHarness {
        #[command(flatten)]
        args: TestArgs,
    }

    struct Run {
        code: u8,
        out: String,
        err: String,
    }

    fn collect(run: impl FnOnce(&mut Vec<u8>, &mut Vec<u8>) -> u8) -> Run {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = run(&mut out, &mut err);
        Run {
            code,
            out: String::from_utf8(out).expect("utf-8"),
            err: String::from_utf8(err).expect("utf-8"),
        }
    }

    fn run_validate(args: &[&str], json_output: bool) -> Run {
        let harness = ValidateHarness::try_parse_from(
            std::iter::once("validate").chain(args.iter().copied()),
        )
        .unwrap_or_else(|error| panic!("clap rejected {args:?}: {error}"));
        collect(|out, err| validate(&harness.args, json_output, out, err))
    }

    fn run_test(args: &[&str], json_output: bool) -> Run {
        let harness =
            TestHarness::try_parse_from(std::iter::once("test").chain(args.iter().copied()))
                .unwrap_or_else(|error| panic!("clap rejected {args:?}: {error}"));
        collect(|out, err| test(&harness.args, json_output, out, err))
    }

    #[test]
    fn validate_a_file_with_queues() {
        let run = run_validate(
            &[
                &fixture("quickstart.json"),
                "--queues",
                &fixture("quickstart_queues.json"),
            ],
            false,
        );
        assert_eq!(
            (run.code, run.out.as_str(), run.err.as_str()),
            (
                0,
                "ok: workflow configuration is valid (2 filters, no default filter)\n",
                ""
            )
        );
    }

    #[test]
    fn validate_a_workflow_resource_inline_as_json() {
        let resource = json!({
            "sid": "WW1", "friendly_name": "Incoming Customer Care Requests",
            "configuration": std::fs::read_to_string(fixture("quickstart_with_default.json")).expect("fixture"),
        })
        .to_string();
        let run = run_validate(&[&resource], true);
        assert_eq!(run.code, 0);
        let body: Value = serde_json::from_str(&run.out).expect("json");
        assert_eq!(
            body,
            json!({"valid": true, "filters": 2, "default_filter": "WQ22222222222222222222222222222222", "warnings": []})
        );
    }

    #[test]
    fn validate_reports_paths_and_carets() {
        let config = r#"{"task_routing":{"filters":[{"expression":"selected_language ==","targets":[{"queue":"WQ1","timeout":-5}]}]}}"#;
        let run = run_validate(&[config], false);
        assert_eq!(run.code, 2);
        assert_eq!(run.out, "");
        assert_eq!(
            run.err,
            concat!(
                "invalid workflow configuration (2 problems):\n",
                "- task_routing.filters[0].expression: bad expression \"selected_language ==\": expected a value (string, number, true, false, null, array or key), found end of input (column 21)\n",
                "    |\n",
                "  1 | selected_language ==\n",
                "    |                     ^\n",
                "- task_routing.filters[0].targets[0].timeout: timeout must be a positive whole number of seconds, found -5\n",
            )
        );
    }

    #[test]
    fn validate_unknown_queue_as_json() {
        let config = r#"{"task_routing":{"filters":[{"expression":"1==1","targets":[{"queue":"WQnope"}]}]}}"#;
        let run = run_validate(
            &[config, "--queues", &fixture("quickstart_queues.json")],
            true,
        );
        assert_eq!(run.code, 2);
        let body: Value = serde_json::from_str(&run.out).expect("json");
        assert_eq!(body["valid"], json!(false));
        assert_eq!(
            body["errors"][0]["path"],
            json!("task_routing.filters[0].targets[0].queue")
        );
    }

    #[test]
    fn validate_bad_inputs_exit_2() {
        let missing = run_validate(&["no/such/workflow.json"], false);
        assert_eq!(missing.code, 2);
        assert!(missing.err.contains("no such file"), "{}", missing.err);
        let bad_json = run_validate(&["{\"task_routing\": "], false);
        assert_eq!(bad_json.code, 2);
        assert!(
            bad_json.err.starts_with("error: CONFIG is not valid JSON"),
            "{}",
            bad_json.err
        );
        let bad_queues = run_validate(
            &[
                &fixture("quickstart.json"),
                "--queues",
                r#"[{"sid":"WQ1","target_workers":"a =="}]"#,
            ],
            false,
        );
        assert_eq!(bad_queues.code, 2);
        assert!(
            bad_queues.err.contains("target_workers"),
            "{}",
            bad_queues.err
        );
    }

    #[test]
    fn test_spanish_task_with_workers() {
        let run = run_test(
            &[
                &fixture("quickstart.json"),
                "--attributes",
                r#"{"selected_language":"es"}"#,
                "--queues",
                &fixture("quickstart_queues.json"),
                "--workers",
                &fixture("quickstart_workers.json"),
            ],
            false,
        );
        assert_eq!(run.code, 0, "{}", run.err);
        assert_eq!(
            run.out,
            concat!(
                "matched: filter \"Spanish\" (selected_language == \"es\")\n",
                "filter \"Spanish\" (selected_language == \"es\") (entered at 0s):\n",
                "  step 0: queue Customer Care Requests - Spanish (WQ11111111111111111111111111111111), priority 0, no timeout; from 0s, waits until assigned or the TTL ends   <- active at 0s\n",
                "    workers:\n",
                "      eligible      Alice (WK11111111111111111111111111111111)\n",
                "      not eligible  Bob (WK22222222222222222222222222222222): not a member of the queue (target_workers `languages HAS \"es\"` is false)\n",
                "outcome at 86400s: waits in its last queue until a worker accepts it or its TTL ends; then it is canceled (\"Task TTL Exceeded\")\n",
                "at 0s: in step 0 of the filter \"Spanish\" (selected_language == \"es\"), queue Customer Care Requests - Spanish (WQ11111111111111111111111111111111), priority 0\n",
            )
        );
    }

    #[test]
    fn test_french_without_default_as_json() {
        let run = run_test(
            &[
                &fixture("quickstart.json"),
                "--attributes",
                r#"{"selected_language":"fr"}"#,
            ],
            true,
        );
        assert_eq!(run.code, 0);
        let body: Value = serde_json::from_str(&run.out).expect("json");
        assert_eq!(body["matched_filter"], Value::Null);
        assert_eq!(body["default_filter_used"], json!(false));
        assert_eq!(body["active"], Value::Null);
        assert_eq!(body["outcome"]["reason"], json!("no_filter_matched"));
        assert_eq!(body["outcome"]["at"], json!(0));
        assert_eq!(body["outcome"]["event"], json!("workflow.timeout"));
    }

    #[test]
    fn test_french_with_default_as_text() {
        let run = run_test(
            &[
                &fixture("quickstart_with_default.json"),
                "--attributes",
                r#"{"selected_language":"fr"}"#,
                "--queues",
                &fixture("quickstart_queues.json"),
                "--at",
                "120",
            ],
            false,
        );
        assert_eq!(run.code, 0);
        assert!(
            run.out
                .starts_with("matched: no filter; the default filter applies\n"),
            "{}",
            run.out
        );
        assert!(
            run.out.ends_with("at 120s: in step 0 of the default filter, queue Customer Care Requests - English (WQ22222222222222222222222222222222), priority 0\n"),
            "{}",
            run.out
        );
    }

    #[test]
    fn test_json_lists_steps_and_workers() {
        let config = json!({"task_routing": {"filters": [{"filter_friendly_name": "gold", "expression": "tier == 'gold'", "targets": [
            {"queue": "WQ11111111111111111111111111111111", "priority": 5, "timeout": 30},
            {"queue": "WQ22222222222222222222222222222222", "priority": 20}]}]}})
        .to_string();
        let run = run_test(
            &[
                &config,
                "--attributes",
                r#"{"tier":"gold"}"#,
                "--at",
                "31",
                "--queues",
                &fixture("quickstart_queues.json"),
                "--workers",
                &fixture("quickstart_workers.json"),
            ],
            true,
        );
        assert_eq!(run.code, 0, "{}", run.out);
        let body: Value = serde_json::from_str(&run.out).expect("json");
        let steps = &body["legs"][0]["steps"];
        assert_eq!(
            steps[0]["queue_name"],
            json!("Customer Care Requests - Spanish")
        );
        assert_eq!(steps[0]["left_at"], json!(30));
        assert_eq!(steps[0]["exit"], json!("timed_out"));
        assert_eq!(steps[1]["active"], json!(true));
        assert_eq!(
            body["active"]["queue_name"],
            json!("Customer Care Requests - English")
        );
        assert_eq!(body["active"]["priority"], json!(20));
        let spanish_workers: Vec<(Value, Value)> = steps[0]["workers"]
            .as_array()
            .expect("workers")
            .iter()
            .map(|worker| (worker["friendly_name"].clone(), worker["eligible"].clone()))
            .collect();
        assert_eq!(
            spanish_workers,
            [(json!("Alice"), json!(true)), (json!("Bob"), json!(false))]
        );
        assert_eq!(
            steps[0]["workers"][1]["reasons"][0]["code"],
            json!({"reason": "not_in_queue"})
        );
        assert_eq!(steps[1]["workers"][1]["eligible"], json!(true));
    }

    #[test]
    fn test_bad_attributes_exit_2() {
        let run = run_test(&[&fixture("quickstart.json"), "--attributes", "{"], false);
        assert_eq!(run.code, 2);
        assert!(run.err.starts_with("error: --attributes"), "{}", run.err);
        let workers = run_test(
            &[
                &fixture("quickstart.json"),
                "--attributes",
                "{}",
                "--workers",
                r#"[{"sid":"WK1","attributes":"nope"}]"#,
            ],
            false,
        );
        assert_eq!(workers.code, 2);
        assert!(
            workers
                .err
                .contains("--workers: item 0: `attributes` is not valid JSON"),
            "{}",
            workers.err
        );
    }
}
