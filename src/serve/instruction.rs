//! Assignment instructions (WIRE.md §5.4) and the rules file that picks one per callback.
//!
//! [`Instruction`] serialises to the snake_case JSON object TaskRouter reads from an
//! assignment-callback reply. [`RuleSet`] is a JSON array of `{"when": EXPR,
//! "instruction": {...}}`; expressions use the target scope (`task.` = task attributes,
//! `worker.` = worker attributes and SID) and the first rule that matches wins.
//!
//! This module does not read files (the CLI hands over the text), does not render
//! errors with carets (the CLI does, from the [`ParseError`] kept in [`RulesError`]), and
//! does not check that SIDs in instructions exist.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::expr::{Expression, ParseError, TargetScope, WorkerView};

/// One instruction, tagged by its `instruction` key (WIRE.md §5.4).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "instruction", rename_all = "snake_case")]
pub enum Instruction {
    /// Accept the reservation; TaskRouter does nothing else.
    Accept,
    /// Reject it, optionally moving the worker to `activity_sid`.
    Reject(Reject),
    /// Bridge a call queued with `<Enqueue>` to the worker.
    Dequeue(Dequeue),
    /// Place an outbound call to the worker.
    Call(Call),
    /// Redirect the customer's call to new TwiML.
    Redirect(Redirect),
    /// Put worker and caller into a conference.
    Conference(Conference),
}

/// `reject`: documented as needing `activity_sid`; without it the worker keeps its
/// activity (WIRE.md §5.4).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Reject {
    /// Activity to move the worker to (an unavailable one, so the task is not re-offered).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activity_sid: Option<String>,
}

/// `dequeue` (WIRE.md §5.4).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Dequeue {
    /// Worker's contact URI (default: the worker attribute `contact_uri`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// Caller ID shown to the worker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Activity to move the worker to after the call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_work_activity_sid: Option<String>,
    /// `do-not-record` (default) or `record-from-answer`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<String>,
    /// Ring time in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u32>,
    /// Receives the call's status webhooks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_callback_url: Option<String>,
    /// Comma-separated subset of `initiated,ringing,answered,completed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_callback_events: Option<String>,
}

/// `call` (WIRE.md §5.4): `from` and `url` are required.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Call {
    /// Worker's contact URI (default: the worker attribute `contact_uri`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// Caller ID of the outbound call.
    pub from: String,
    /// TwiML for the worker's leg.
    pub url: String,
    /// Accept the reservation when the call is placed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accept: Option<bool>,
    /// `do-not-record` (default) or `record-from-answer`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<String>,
    /// Ring time in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u32>,
    /// Receives the call's status webhooks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_callback_url: Option<String>,
}

/// `redirect` (WIRE.md §5.4): `call_sid` and `url` are required. The docs disagree on
/// whether it accepts the reservation; `accept` decides (UNCONFIRMED, §5.4).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Redirect {
    /// The parked customer call (`CA…`).
    pub call_sid: String,
    /// TwiML to redirect it to.
    pub url: String,
    /// Accept the reservation too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accept: Option<bool>,
}

/// `conference`: its accepted key set is UNCONFIRMED (WIRE.md §5.4, §10 item 10), so
/// besides the common keys any other snake_case key is passed through as written.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Conference {
    /// Worker's contact URI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// Caller ID for the worker's leg.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Activity after the conference (deprecated; not in multitasking workspaces).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_work_activity_sid: Option<String>,
    /// Ring time in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u32>,
    /// Further conference-participant keys (§6.4 in snake_case), passed through.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Instruction {
    /// The `instruction` value: `accept`, `reject`, …
    pub fn name(&self) -> &'static str {
        match self {
            Instruction::Accept => "accept",
            Instruction::Reject(_) => "reject",
            Instruction::Dequeue(_) => "dequeue",
            Instruction::Call(_) => "call",
            Instruction::Redirect(_) => "redirect",
            Instruction::Conference(_) => "conference",
        }
    }

    /// The reply body: the instruction as a compact JSON object.
    pub fn to_json_bytes(&self) -> Vec<u8> {
        // Serialising plain structs and string maps into a Vec cannot fail.
        serde_json::to_vec(self).unwrap_or_else(|_| b"{}".to_vec())
    }

    /// Read one instruction object, refusing keys the instruction does not know (a
    /// typo such as `activty_sid` would otherwise vanish silently). `conference`
    /// passes unknown keys through, so it refuses none.
    pub fn from_value(value: &Value) -> Result<Instruction, String> {
        let instruction: Instruction =
            Instruction::deserialize(value).map_err(|err| err.to_string())?;
        if let (Value::Object(given), Ok(Value::Object(known))) =
            (value, serde_json::to_value(&instruction))
        {
            if let Some(unknown) = given.keys().find(|key| !known.contains_key(*key)) {
                if given.get(unknown).is_some_and(|v| !v.is_null()) {
                    return Err(format!(
                        "unknown key `{unknown}` for instruction `{}`",
                        instruction.name()
                    ));
                }
            }
        }
        Ok(instruction)
    }
}

/// Names accepted in the `instruction` key, for checks and help texts.
pub const INSTRUCTION_NAMES: [&str; 6] = [
    "accept",
    "reject",
    "dequeue",
    "call",
    "redirect",
    "conference",
];

/// One compiled rule.
#[derive(Debug, Clone)]
pub struct Rule {
    /// The condition; `None` (no `when` key) matches every callback.
    pub when: Option<Expression>,
    /// What to answer when it matches.
    pub instruction: Instruction,
    /// The instruction's reply body, serialised once at load time.
    pub body: axum::body::Bytes,
}

/// An ordered list of rules: the first match wins, no match answers `{}`.
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    /// The rules in file order.
    pub rules: Vec<Rule>,
}

/// Why a rules file was refused.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum RulesError {
    /// The text is not JSON, or not an array of objects.
    #[error("rules file is not a JSON array of rules: {0}")]
    Json(String),
    /// A rule's `when` does not parse.
    #[error("rule {index}: `when` does not parse: {error}")]
    Expression {
        /// 0-based position of the rule in the array.
        index: usize,
        /// The expression as written, for rendering a caret under the fault.
        expression: String,
        /// The parse error, with its span in `source`.
        error: ParseError,
    },
    /// A rule is not an object with an `instruction`, or the instruction is invalid.
    #[error("rule {index}: {message}")]
    Rule {
        /// 0-based position of the rule in the array.
        index: usize,
        /// What is wrong.
        message: String,
    },
}

/// A rule as written in the file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    #[serde(default)]
    when: Option<String>,
    instruction: Value,
}

impl RuleSet {
    /// Parse and compile a rules document. Every rule is checked, so a bad one is
    /// refused before the listener starts.
    pub fn parse(text: &str) -> Result<RuleSet, RulesError> {
        let raw: Vec<Value> =
            serde_json::from_str(text).map_err(|err| RulesError::Json(err.to_string()))?;
        let mut rules = Vec::with_capacity(raw.len());
        for (index, value) in raw.into_iter().enumerate() {
            let rule: RawRule = serde_json::from_value(value).map_err(|err| RulesError::Rule {
                index,
                message: format!("{err} (expected {{\"when\": \"…\", \"instruction\": {{…}}}})"),
            })?;
            let when =
                match rule.when {
                    Some(source) => Some(Expression::compile(&source).map_err(|error| {
                        RulesError::Expression {
                            index,
                            expression: source.clone(),
                            error,
                        }
                    })?),
                    None => None,
                };
            let instruction = Instruction::from_value(&rule.instruction)
                .map_err(|message| RulesError::Rule { index, message })?;
            let body = axum::body::Bytes::from(instruction.to_json_bytes());
            rules.push(Rule {
                when,
                instruction,
                body,
            });
        }
        Ok(RuleSet { rules })
    }

    /// The first rule whose condition holds for this task and worker, if any.
    pub fn first_match(&self, task: &Value, worker: &WorkerView<'_>) -> Option<(usize, &Rule)> {
        let scope = TargetScope {
            task,
            worker,
            // UNCONFIRMED choice: no time-of-day variables in rules (`taskrouter.*` is NULL),
            // so a rule's outcome depends only on the callback.
            time: None,
        };
        self.rules.iter().enumerate().find(|(_, rule)| {
            rule.when
                .as_ref()
                .is_none_or(|expression| expression.evaluate(&scope))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn worker<'a>(attributes: &'a Value) -> WorkerView<'a> {
        WorkerView {
            sid: "WK00000000000000000000000000000005",
            friendly_name: "alice",
            activity_sid: "",
            activity_name: "",
            available: true,
            attributes,
            channels: &[],
        }
    }

    #[test]
    fn instructions_serialise_to_snake_case_objects() {
        let table = [
            (Instruction::Accept, json!({"instruction": "accept"})),
            (
                Instruction::Reject(Reject {
                    activity_sid: Some("WA1".into()),
                }),
                json!({"instruction": "reject", "activity_sid": "WA1"}),
            ),
            (
                Instruction::Reject(Reject::default()),
                json!({"instruction": "reject"}),
            ),
            (
                Instruction::Dequeue(Dequeue {
                    from: Some("+15005550006".into()),
                    post_work_activity_sid: Some("WA2".into()),
                    status_callback_events: Some("answered,completed".into()),
                    ..Dequeue::default()
                }),
                json!({"instruction": "dequeue", "from": "+15005550006",
                       "post_work_activity_sid": "WA2", "status_callback_events": "answered,completed"}),
            ),
            (
                Instruction::Call(Call {
                    from: "+1".into(),
                    url: "https://a.test/t".into(),
                    accept: Some(true),
                    ..Call::default()
                }),
                json!({"instruction": "call", "from": "+1", "url": "https://a.test/t", "accept": true}),
            ),
            (
                Instruction::Redirect(Redirect {
                    call_sid: "CA1".into(),
                    url: "https://a.test/hold".into(),
                    accept: Some(true),
                }),
                json!({"instruction": "redirect", "call_sid": "CA1", "url": "https://a.test/hold", "accept": true}),
            ),
        ];
        for (instruction, expected) in table {
            assert_eq!(serde_json::to_value(&instruction).unwrap(), expected);
            assert_eq!(Instruction::from_value(&expected).unwrap(), instruction);
        }
    }

    #[test]
    fn conference_passes_extra_keys_through() {
        let value = json!({"instruction": "conference", "from": "+1", "beep": "onEnter", "end_conference_on_exit": true});
        let instruction = Instruction::from_value(&value).unwrap();
        assert_eq!(serde_json::to_value(&instruction).unwrap(), value);
    }

    #[test]
    fn bad_instructions_are_refused() {
        for (value, needle) in [
            (
                json!({"instruction": "reject", "activty_sid": "WA1"}),
                "activty_sid",
            ),
            (json!({"instruction": "teleport"}), "teleport"),
            (json!({"instruction": "call", "from": "+1"}), "url"),
            (json!({"activity_sid": "WA1"}), "instruction"),
        ] {
            let error = Instruction::from_value(&value).unwrap_err();
            assert!(error.contains(needle), "{value}: {error}");
        }
    }

    #[test]
    fn first_match_wins_and_no_match_is_none() {
        let rules = RuleSet::parse(
            r#"[
              {"when": "task.selected_language == \"es\"", "instruction": {"instruction": "accept"}},
              {"when": "worker.level > 2", "instruction": {"instruction": "reject", "activity_sid": "WA9"}},
              {"when": "task.selected_language IN [\"es\", \"fr\"]", "instruction": {"instruction": "reject"}}
            ]"#,
        )
        .unwrap();
        let senior = json!({"level": 3});
        let junior = json!({"level": 1});
        let pick = |task: Value, attrs: &Value| {
            rules
                .first_match(&task, &worker(attrs))
                .map(|(index, rule)| (index, rule.instruction.name()))
        };
        assert_eq!(
            pick(json!({"selected_language": "es"}), &senior),
            Some((0, "accept"))
        );
        assert_eq!(
            pick(json!({"selected_language": "en"}), &senior),
            Some((1, "reject"))
        );
        assert_eq!(
            pick(json!({"selected_language": "fr"}), &junior),
            Some((2, "reject"))
        );
        assert_eq!(pick(json!({"selected_language": "en"}), &junior), None);
        // Unprefixed keys are NULL in the target scope: never true.
        assert_eq!(pick(json!("not an object"), &Value::Null), None);
        assert_eq!(
            &rules.rules[1].body[..],
            br#"{"instruction":"reject","activity_sid":"WA9"}"#
        );
    }

    #[test]
    fn a_rule_without_when_matches_everything() {
        let rules = RuleSet::parse(r#"[{"instruction": {"instruction": "accept"}}]"#).unwrap();
        assert!(rules
            .first_match(&Value::Null, &worker(&Value::Null))
            .is_some());
    }

    #[test]
    fn bad_rules_name_their_index() {
        let error = RuleSet::parse(
            r#"[{"when": "task.a == 1", "instruction": {"instruction": "accept"}},
                {"when": "task.a == ", "instruction": {"instruction": "accept"}}]"#,
        )
        .unwrap_err();
        match &error {
            RulesError::Expression {
                index,
                expression,
                error,
            } => {
                assert_eq!(*index, 1);
                assert_eq!(expression, "task.a == ");
                assert_eq!(error.line_column(expression), (1, 11));
            }
            other => panic!("{other:?}"),
        }
        for (text, needle) in [
            ("{}", "not a JSON array"),
            ("[1]", "rule 0"),
            (r#"[{"when": "task.a == 1"}]"#, "instruction"),
            (
                r#"[{"when": "task.a == 1", "instruction": {}, "then": 1}]"#,
                "then",
            ),
            (r#"[{"instruction": {"instruction": "nope"}}]"#, "rule 0"),
        ] {
            let message = RuleSet::parse(text).unwrap_err().to_string();
            assert!(message.contains(needle), "{text}: {message}");
        }
    }
}
