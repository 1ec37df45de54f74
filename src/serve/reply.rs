//! What to answer a callback ([`decide`]) and how TaskRouter would judge an answer
//! ([`judge`], with the time check [`check_reply`]). All pure: no I/O, no clock
//! (elapsed time is passed in). [`judge`] is the one place the reply rules live: the
//! emulator's runner carries out its [`Reading`], `trctl trigger` and `serve --exec`
//! print or act on its findings.
//!
//! [`decide`] does not run `--exec` commands (it says [`Decision::Exec`] and the
//! listener runs them, see [`super::exec`]) and does not check signatures.

use std::time::Duration;

use axum::body::Bytes;
use serde_json::Value;

use super::callback::{Callback, CallbackKind};
use super::instruction::{Instruction, RuleSet, INSTRUCTION_NAMES};
use crate::expr::WorkerView;

/// The `{}` reply: "no instruction" (WIRE.md §5.3).
pub const EMPTY_OBJECT: &[u8] = b"{}";

/// How assignment callbacks are answered.
#[derive(Debug, Clone, Default)]
pub enum Mode {
    /// Always `{}`: the app accepts or rejects later through the REST API.
    #[default]
    Empty,
    /// Always this instruction.
    Fixed(FixedReply),
    /// The first matching rule's instruction, else `{}`.
    Rules(RuleSet),
    /// Whatever a shell command prints.
    Exec(ExecConfig),
}

/// A fixed instruction and its body, serialised once.
#[derive(Debug, Clone)]
pub struct FixedReply {
    /// The instruction.
    pub instruction: Instruction,
    /// Its JSON body.
    pub body: Bytes,
}

impl FixedReply {
    /// Serialise `instruction` once for every reply.
    pub fn new(instruction: Instruction) -> FixedReply {
        let body = Bytes::from(instruction.to_json_bytes());
        FixedReply { instruction, body }
    }
}

/// `--exec`: the command, its time limit and how many may run at once.
#[derive(Debug, Clone)]
pub struct ExecConfig {
    /// Run with `sh -c`.
    pub command: String,
    /// Its process group is killed after this long; TaskRouter waits 5 s (WIRE.md §5.3),
    /// so the default is 4 s.
    pub timeout: Duration,
    /// Most commands running at once (`--exec-max`, default
    /// [`MAX_EXEC_CHILDREN`](super::MAX_EXEC_CHILDREN)); a callback over it is answered
    /// `{}` at once, without running the command.
    pub max_running: usize,
}

impl ExecConfig {
    /// `command` with the default time limit and bound.
    pub fn new(command: impl Into<String>) -> ExecConfig {
        ExecConfig {
            command: command.into(),
            timeout: DEFAULT_EXEC_TIMEOUT,
            max_running: super::MAX_EXEC_CHILDREN,
        }
    }
}

/// Default time limit of `--exec` commands: under TaskRouter's 5 s (WIRE.md §5.3).
pub const DEFAULT_EXEC_TIMEOUT: Duration = Duration::from_secs(4);

/// The answer to a callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Answer now with this status and JSON body (empty for 204).
    Reply {
        /// HTTP status.
        status: u16,
        /// JSON body (`Content-Type: application/json` in every case).
        body: Bytes,
        /// Index of the rule that matched, in rules mode.
        rule: Option<usize>,
    },
    /// Run the `--exec` command and answer with what it prints.
    Exec,
}

impl Decision {
    fn reply(status: u16, body: Bytes) -> Decision {
        Decision::Reply {
            status,
            body,
            rule: None,
        }
    }
}

/// Decide the answer to `callback` in `mode`.
///
/// Event callbacks get 204 whatever the mode (WIRE.md §7.1). Assignment callbacks get
/// 200 and a JSON object: `{}` or an instruction (WIRE.md §5.3).
pub fn decide(mode: &Mode, callback: &Callback) -> Decision {
    if callback.kind == CallbackKind::Event {
        return Decision::reply(204, Bytes::new());
    }
    match mode {
        Mode::Empty => Decision::reply(200, Bytes::from_static(EMPTY_OBJECT)),
        Mode::Fixed(fixed) => Decision::reply(200, fixed_body(fixed, callback)),
        Mode::Rules(rules) => {
            let worker = WorkerView {
                sid: callback.param("WorkerSid").unwrap_or(""),
                friendly_name: callback.param("WorkerName").unwrap_or(""),
                activity_sid: callback.param("WorkerActivitySid").unwrap_or(""),
                activity_name: callback.param("WorkerActivityName").unwrap_or(""),
                // Not in the documented parameters (WIRE.md §5.2); the worker was just
                // reserved, so it was available.
                available: true,
                attributes: &callback.worker_attributes,
                channels: &[],
            };
            match rules.first_match(&callback.task_attributes, &worker) {
                Some((index, rule)) => Decision::Reply {
                    status: 200,
                    body: rule.body.clone(),
                    rule: Some(index),
                },
                None => Decision::reply(200, Bytes::from_static(EMPTY_OBJECT)),
            }
        }
        Mode::Exec(_) => Decision::Exec,
    }
}

/// A fixed `redirect` without a `call_sid` takes the task attribute `call_sid` (set by
/// the voice integration, WIRE.md §6.4) of each callback; everything else is fixed.
fn fixed_body(fixed: &FixedReply, callback: &Callback) -> Bytes {
    if let Instruction::Redirect(redirect) = &fixed.instruction {
        if redirect.call_sid.is_empty() {
            if let Some(call_sid) = callback
                .task_attributes
                .get("call_sid")
                .and_then(Value::as_str)
            {
                let mut filled = redirect.clone();
                filled.call_sid = call_sid.to_string();
                return Bytes::from(Instruction::Redirect(filled).to_json_bytes());
            }
        }
    }
    fixed.body.clone()
}

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// As TaskRouter wants it.
    Pass,
    /// Accepted, but not what the docs recommend.
    Warn,
    /// TaskRouter would ignore the reply (or raise an alert).
    Fail,
}

/// One finding about a reply.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Check {
    /// Short name: `status`, `time`, `content-type`, `json`, `instruction`.
    pub check: &'static str,
    /// Outcome.
    pub verdict: Verdict,
    /// One lowercase sentence.
    pub message: String,
}

/// Everything [`check_reply`] found.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ReplyReport {
    /// Findings in order.
    pub checks: Vec<Check>,
    /// The instruction TaskRouter would carry out, if any.
    pub instruction: Option<String>,
}

impl ReplyReport {
    /// No finding failed.
    pub fn ok(&self) -> bool {
        self.checks
            .iter()
            .all(|check| check.verdict != Verdict::Fail)
    }

    /// The first failing finding.
    pub fn first_failure(&self) -> Option<&Check> {
        self.checks
            .iter()
            .find(|check| check.verdict == Verdict::Fail)
    }
}

impl ReplyReport {
    /// The report on a reply too large to read (over `limit` bytes): it fails, and like
    /// any unusable answer carries no instruction.
    pub fn oversized(limit: usize) -> ReplyReport {
        ReplyReport {
            checks: vec![Check {
                check: "size",
                verdict: Verdict::Fail,
                message: format!(
                    "a reply over {limit} bytes: trctl does not read it, and the emulator treats it as a failed callback (fallback URL)"
                ),
            }],
            instruction: None,
        }
    }
}

/// What TaskRouter (and so the emulator) does with a reply, beside the findings.
#[derive(Debug, Clone, PartialEq)]
pub enum Reading {
    /// No usable answer (not 2xx): the fallback URL is tried, if any.
    Failed,
    /// An answer without an instruction to carry out: the reservation stays pending.
    NoInstruction,
    /// A JSON object whose `instruction` is a string: the whole object, to carry out.
    Instruction(Value),
}

/// [`judge`]'s result: the findings `trctl trigger` and `serve --exec` print or act on,
/// and what the emulator does with the same reply. One function yields both, so the two
/// cannot drift apart.
#[derive(Debug, Clone, PartialEq)]
pub struct Judgement {
    /// Findings (no time check: [`judge`] does not know how long the reply took).
    pub report: ReplyReport,
    /// What is carried out.
    pub reading: Reading,
}

/// Judge a reply the way TaskRouter would, elapsed time aside (WIRE.md §5.3 for
/// assignments, §7.1 for events). `content_type` is the header's value as received.
///
/// The [`Reading`] follows TaskRouter: not 2xx → [`Reading::Failed`]; 2xx with an empty
/// body, a body without the JSON content type (error 40000), a body that is not a JSON
/// object (40001) or an object without a string `instruction` (40005, or `{}`) →
/// [`Reading::NoInstruction`]; otherwise the object, as [`Reading::Instruction`].
///
/// An instruction the findings call unknown or incomplete is still handed on as
/// [`Reading::Instruction`]: whether it is carried out is the engine's call (it does
/// nothing for an unknown name, TaskRouter's alert, and refuses a reject naming an
/// unknown activity, 40100), so the judge never decides twice. Names are matched
/// case-sensitively here, while the engine lower-cases them (unconfirmed which is right).
pub fn judge(
    kind: CallbackKind,
    status: u16,
    content_type: Option<&str>,
    body: &[u8],
) -> Judgement {
    let mut checks = Vec::with_capacity(4);
    let mut push = |check: &'static str, verdict: Verdict, message: String| {
        checks.push(Check {
            check,
            verdict,
            message,
        })
    };
    let done = |checks: Vec<Check>, instruction: Option<String>, reading: Reading| Judgement {
        report: ReplyReport {
            checks,
            instruction,
        },
        reading,
    };
    if kind == CallbackKind::Event {
        let reading = if (200..=299).contains(&status) {
            Reading::NoInstruction
        } else {
            Reading::Failed
        };
        match status {
            204 => push(
                "status",
                Verdict::Pass,
                "status 204 No Content, as documented".into(),
            ),
            200..=299 => push(
                "status",
                Verdict::Warn,
                format!("status {status}: accepted, but the docs ask for 204 No Content"),
            ),
            _ => push(
                "status",
                Verdict::Fail,
                format!("status {status}: not 2xx (what TaskRouter then does is unconfirmed)"),
            ),
        }
        return done(checks, None, reading);
    }
    match status {
        200 => push("status", Verdict::Pass, "status 200".into()),
        201..=299 => push(
            "status",
            Verdict::Warn,
            format!("status {status}: TaskRouter documents 200 (other 2xx unconfirmed)"),
        ),
        _ => {
            push("status", Verdict::Fail, format!("status {status}: not 200, so TaskRouter ignores the reply and calls the fallback URL"));
            return done(checks, None, Reading::Failed);
        }
    }
    let trimmed = body.trim_ascii();
    if trimmed.is_empty() {
        push("instruction", Verdict::Pass, "empty body: no instruction; accept or reject later via REST before the reservation times out".into());
        return done(checks, None, Reading::NoInstruction);
    }
    let is_json_type = content_type.is_some_and(|value| {
        value
            .split(';')
            .next()
            .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"))
    });
    if is_json_type {
        push(
            "content-type",
            Verdict::Pass,
            "content type application/json".into(),
        );
    } else {
        push(
            "content-type",
            Verdict::Fail,
            format!(
                "content type {} is not application/json: error 40000, no instruction carried out",
                content_type.unwrap_or("(none)")
            ),
        );
    }
    let object = match serde_json::from_slice::<Value>(trimmed) {
        Ok(Value::Object(map)) => {
            push("json", Verdict::Pass, "body is a JSON object".into());
            map
        }
        Ok(Value::String(_)) => {
            push(
                "json",
                Verdict::Fail,
                "body is a JSON string (escaped JSON?): warning 40001, no instruction carried out"
                    .into(),
            );
            return done(checks, None, Reading::NoInstruction);
        }
        Ok(_) => {
            push(
                "json",
                Verdict::Fail,
                "body is JSON but not an object: warning 40001, no instruction carried out".into(),
            );
            return done(checks, None, Reading::NoInstruction);
        }
        Err(err) => {
            push(
                "json",
                Verdict::Fail,
                format!("body is not JSON ({err}): warning 40001, no instruction carried out"),
            );
            return done(checks, None, Reading::NoInstruction);
        }
    };
    let instruction = match object.get("instruction") {
        None if object.is_empty() => {
            push("instruction", Verdict::Pass, "`{}`: no instruction; accept or reject later via REST before the reservation times out".into());
            None
        }
        None => {
            push(
                "instruction",
                Verdict::Warn,
                "no `instruction` key: warning 40005, treated as no instruction".into(),
            );
            None
        }
        Some(Value::String(name)) if INSTRUCTION_NAMES.contains(&name.as_str()) => {
            match Instruction::from_value(&Value::Object(object.clone())) {
                Ok(parsed) => {
                    push(
                        "instruction",
                        Verdict::Pass,
                        format!("instruction `{name}` is known and complete"),
                    );
                    if let Instruction::Reject(reject) = &parsed {
                        if reject.activity_sid.is_none() {
                            push("instruction", Verdict::Warn, "`reject` without `activity_sid`: the worker keeps its activity and may be offered the task again".into());
                        }
                    }
                }
                // Unknown extra keys or a missing required key: TaskRouter's handling of
                // either is not documented; report it without failing on extras.
                Err(message) if message.starts_with("unknown key") => {
                    push(
                        "instruction",
                        Verdict::Warn,
                        format!("{message} (TaskRouter may ignore it)"),
                    );
                }
                Err(message) => {
                    push(
                        "instruction",
                        Verdict::Fail,
                        format!("instruction `{name}` is incomplete: {message}"),
                    );
                }
            }
            Some(name.clone())
        }
        Some(other) => {
            push(
                "instruction",
                Verdict::Fail,
                format!(
                    "unknown instruction {other} (expected one of {})",
                    INSTRUCTION_NAMES.join(", ")
                ),
            );
            None
        }
    };
    // Without the JSON content type nothing is carried out (40000), whatever the body.
    if !is_json_type {
        return done(checks, None, Reading::NoInstruction);
    }
    let reading = if object.get("instruction").is_some_and(Value::is_string) {
        Reading::Instruction(Value::Object(object))
    } else {
        Reading::NoInstruction
    };
    done(checks, instruction, reading)
}

/// Judge a reply the way TaskRouter would, including how long it took: the time check,
/// then [`judge`]'s findings.
pub fn check_reply(
    kind: CallbackKind,
    status: u16,
    content_type: Option<&str>,
    body: &[u8],
    elapsed: Duration,
) -> ReplyReport {
    let limit = super::callback::timeout_of(kind);
    let millis = elapsed.as_millis();
    let time = if elapsed <= limit {
        Check {
            check: "time",
            verdict: Verdict::Pass,
            message: format!("answered in {millis} ms (limit {} ms)", limit.as_millis()),
        }
    } else {
        Check {
            check: "time",
            verdict: Verdict::Fail,
            message: format!(
                "answered in {millis} ms, over TaskRouter's {} ms limit: the reply is ignored",
                limit.as_millis()
            ),
        }
    };
    let mut report = judge(kind, status, content_type, body).report;
    report.checks.insert(0, time);
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serve::instruction::Reject;

    fn assignment(task_attributes: &str) -> Callback {
        Callback::new(
            CallbackKind::Assignment,
            vec![
                ("TaskAttributes".into(), task_attributes.into()),
                ("WorkerAttributes".into(), r#"{"level":3}"#.into()),
                ("WorkerSid".into(), "WK1".into()),
            ],
        )
    }

    fn body_of(decision: &Decision) -> &[u8] {
        match decision {
            Decision::Reply { body, .. } => body,
            Decision::Exec => b"<exec>",
        }
    }

    #[test]
    fn events_get_204_in_every_mode() {
        let event = Callback::new(CallbackKind::Event, vec![]);
        for mode in [
            Mode::Empty,
            Mode::Fixed(FixedReply::new(Instruction::Accept)),
        ] {
            assert_eq!(decide(&mode, &event), Decision::reply(204, Bytes::new()));
        }
    }

    #[test]
    fn modes_decide_assignment_replies() {
        let callback = assignment(r#"{"selected_language":"es","call_sid":"CA9"}"#);
        assert_eq!(body_of(&decide(&Mode::Empty, &callback)), b"{}");
        let reject = FixedReply::new(Instruction::Reject(Reject {
            activity_sid: Some("WA1".into()),
        }));
        assert_eq!(
            body_of(&decide(&Mode::Fixed(reject), &callback)),
            br#"{"instruction":"reject","activity_sid":"WA1"}"#
        );
        let redirect =
            FixedReply::new(Instruction::Redirect(crate::serve::instruction::Redirect {
                call_sid: String::new(),
                url: "https://a.test/t".into(),
                accept: None,
            }));
        assert_eq!(
            body_of(&decide(&Mode::Fixed(redirect), &callback)),
            br#"{"instruction":"redirect","call_sid":"CA9","url":"https://a.test/t"}"#
        );
        let rules = RuleSet::parse(
            r#"[{"when":"task.selected_language == \"es\"","instruction":{"instruction":"accept"}},
                {"when":"worker.level > 5","instruction":{"instruction":"reject"}}]"#,
        )
        .unwrap();
        let mode = Mode::Rules(rules);
        let decision = decide(&mode, &callback);
        assert_eq!(body_of(&decision), br#"{"instruction":"accept"}"#);
        assert!(matches!(
            decision,
            Decision::Reply {
                rule: Some(0),
                status: 200,
                ..
            }
        ));
        let english = assignment(r#"{"selected_language":"en"}"#);
        assert_eq!(body_of(&decide(&mode, &english)), b"{}");
        let exec = Mode::Exec(ExecConfig::new("true"));
        assert_eq!(decide(&exec, &callback), Decision::Exec);
    }

    fn verdicts(report: &ReplyReport) -> Vec<(&'static str, Verdict)> {
        report.checks.iter().map(|c| (c.check, c.verdict)).collect()
    }

    /// (status, content type, body, elapsed, passes?)
    type Case<'a> = (u16, Option<&'a str>, &'a [u8], Duration, bool);

    #[test]
    fn assignment_reply_checks() {
        use Verdict::*;
        let fast = Duration::from_millis(3);
        let json = Some("application/json; charset=utf-8");
        let a = CallbackKind::Assignment;
        let report = check_reply(a, 200, json, br#"{"instruction":"accept"}"#, fast);
        assert!(report.ok());
        assert_eq!(report.instruction.as_deref(), Some("accept"));
        let table: [Case; 10] = [
            (200, json, b"{}", fast, true),
            (200, None, b"", fast, true),
            (
                200,
                Some("text/html"),
                br#"{"instruction":"accept"}"#,
                fast,
                false,
            ),
            (200, json, b"accept", fast, false),
            (200, json, br#""{\"instruction\":\"accept\"}""#, fast, false),
            (200, json, br#"{"instruction":"teleport"}"#, fast, false),
            (
                200,
                json,
                br#"{"instruction":"call","from":"+1"}"#,
                fast,
                false,
            ),
            (500, json, b"{}", fast, false),
            (200, json, b"{}", Duration::from_millis(5001), false),
            (200, json, br#"{"note":"x"}"#, fast, true),
        ];
        for (status, content_type, body, elapsed, ok) in table {
            let report = check_reply(a, status, content_type, body, elapsed);
            assert_eq!(
                report.ok(),
                ok,
                "{status} {content_type:?} {:?}: {report:?}",
                String::from_utf8_lossy(body)
            );
        }
        let warned = check_reply(a, 200, json, br#"{"instruction":"reject"}"#, fast);
        assert!(verdicts(&warned).contains(&("instruction", Warn)));
    }

    #[test]
    fn event_reply_checks() {
        let e = CallbackKind::Event;
        let fast = Duration::from_millis(1);
        assert!(
            verdicts(&check_reply(e, 204, None, b"", fast)).contains(&("status", Verdict::Pass))
        );
        assert!(
            verdicts(&check_reply(e, 200, None, b"ok", fast)).contains(&("status", Verdict::Warn))
        );
        assert!(!check_reply(e, 404, None, b"", fast).ok());
        assert!(check_reply(e, 204, None, b"", Duration::from_secs(14)).ok());
    }

    /// What the emulator carries out for each reply: the rules the runner's own
    /// `interpret_reply` had, now read from [`judge`] (WIRE.md §5.3).
    #[test]
    fn judge_reads_replies_as_taskrouter_does() {
        use Reading::{Failed, NoInstruction};
        let a = CallbackKind::Assignment;
        let json = Some("application/json");
        let accept: &[u8] = br#"{"instruction":"accept"}"#;
        let carried = |body: &[u8]| Reading::Instruction(serde_json::from_slice(body).unwrap());
        let call: &[u8] = br#"{"instruction":"call","from":"+1"}"#;
        let teleport: &[u8] = br#"{"instruction":"teleport"}"#;
        let table: Vec<(u16, Option<&str>, &[u8], Reading)> = vec![
            (200, json, b"", NoInstruction),
            (200, None, b"  \n", NoInstruction),
            (200, json, b"{}", NoInstruction),
            (200, json, b"not json", NoInstruction),
            (
                200,
                json,
                br#""{\"instruction\":\"accept\"}""#,
                NoInstruction,
            ),
            (200, json, b"[1,2]", NoInstruction),
            (200, json, br#"{"note":"x"}"#, NoInstruction),
            (200, json, br#"{"instruction":5}"#, NoInstruction),
            (200, None, accept, NoInstruction),
            (200, Some("text/html"), accept, NoInstruction),
            (200, Some("application/json-seq"), accept, NoInstruction),
            (200, json, accept, carried(accept)),
            (
                200,
                Some("Application/JSON; charset=utf-8"),
                accept,
                carried(accept),
            ),
            (201, json, accept, carried(accept)),
            (
                200,
                json,
                b" {\"instruction\":\"accept\"}\n",
                carried(accept),
            ),
            // Unknown or incomplete: handed on, the engine decides (and does nothing).
            (200, json, teleport, carried(teleport)),
            (200, json, call, carried(call)),
            (302, json, accept, Failed),
            (404, None, b"", Failed),
            (500, json, accept, Failed),
        ];
        for (status, content_type, body, expected) in table {
            let judgement = judge(a, status, content_type, body);
            assert_eq!(
                judgement.reading,
                expected,
                "{status} {content_type:?} {:?}: {:?}",
                String::from_utf8_lossy(body),
                judgement.report
            );
            // The report names an instruction only when one is carried out.
            if judgement.report.instruction.is_some() {
                assert!(matches!(judgement.reading, Reading::Instruction(_)));
            }
        }
        // A known instruction under the wrong content type is reported but not named.
        let wrong_type = judge(a, 200, Some("text/plain"), accept);
        assert_eq!(wrong_type.report.instruction, None);
        assert!(!wrong_type.report.ok());
        let e = CallbackKind::Event;
        assert_eq!(judge(e, 204, None, b"").reading, NoInstruction);
        assert_eq!(judge(e, 200, None, b"ok").reading, NoInstruction);
        assert_eq!(judge(e, 503, None, b"").reading, Failed);
    }

    #[test]
    fn an_oversized_reply_fails() {
        let report = ReplyReport::oversized(65536);
        assert!(!report.ok());
        assert_eq!(report.first_failure().map(|c| c.check), Some("size"));
        assert_eq!(report.instruction, None);
    }
}
