//! The workflow configuration document (ROUTING.md §2.2): typed model, validation, and
//! compilation into a [`CompiledWorkflow`] whose expressions are parsed once.
//!
//! Decoding walks the JSON by hand rather than through serde's derive so that every fault
//! names its JSON path (`task_routing.filters[1].targets[0].expression`) and all faults are
//! reported at once. The typed [`WorkflowConfig`] still implements serde both ways
//! (deserializing runs the same validation). What is checked follows ROUTING.md §2.9;
//! unknown keys are ignored with a warning, as it suggests. This module does not route a
//! task (see `route`) nor judge workers (see `eligibility`), and does no I/O.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::expr::{
    parse_key_path, Expression, FilterScope, KeyPath, ParseError, Root, TimeOfDay,
    MAX_WORKFLOW_TARGETS,
};

use super::eligibility::{OrderBy, QueueDef};

pub use crate::api::limits::{MAX_CONFIGURATION_BYTES, MAX_PRIORITY};

/// A workflow configuration document.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(try_from = "Value")]
pub struct WorkflowConfig {
    /// The only top-level key.
    pub task_routing: TaskRouting,
}

/// `task_routing`.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct TaskRouting {
    /// Filters, tried top to bottom.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<Filter>,
    /// Where tasks matching no filter go.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_filter: Option<Target>,
}

/// One filter.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Filter {
    /// Label for people.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter_friendly_name: Option<String>,
    /// Filter expression over task attributes.
    pub expression: String,
    /// Routing steps, in order; never empty.
    pub targets: Vec<Target>,
}

/// One routing step ("target"), or the default filter.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Target {
    /// TaskQueue SID; required on a filter's first target, inherited by later ones.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue: Option<String>,
    /// Priority set on entering the step (strings such as `"10"` are normalised).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<u32>,
    /// Seconds until the step times out (positive; strings normalised).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u64>,
    /// Target worker expression (`task.` / `worker.` prefixes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expression: Option<String>,
    /// Worker ordering, e.g. `worker.level DESC`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_by: Option<String>,
    /// Skip condition over `workers.*` counters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skip_if: Option<String>,
    /// `task.<attr>` holding the SID of the known worker.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub known_worker_sid: Option<String>,
    /// `task.<attr>` holding the friendly name of the known worker.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub known_worker_friendly_name: Option<String>,
}

/// The keys a target may have (ROUTING.md §2.2; Twilio's Java helper models the same set).
const TARGET_KEYS: [&str; 8] = [
    "queue",
    "priority",
    "timeout",
    "expression",
    "order_by",
    "skip_if",
    "known_worker_sid",
    "known_worker_friendly_name",
];

/// How known-agent routing identifies the worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KnownBy {
    /// `known_worker_sid`.
    Sid,
    /// `known_worker_friendly_name`.
    FriendlyName,
}

/// A compiled known-agent rule: which task attribute names the worker.
#[derive(Debug, Clone, PartialEq)]
pub struct KnownWorker {
    /// SID or friendly name.
    pub by: KnownBy,
    /// The `task.<attr>` key.
    pub attribute: KeyPath,
}

/// A routing step ready to run: expressions compiled, queue resolved, time offsets summed.
#[derive(Debug, Clone, PartialEq)]
pub struct CompiledStep {
    /// Position in its filter's `targets` (0 for the default filter).
    pub index: usize,
    /// The queue SID, written on this target or inherited from an earlier one.
    pub queue: String,
    /// Whether `queue` was inherited (ROUTING.md §2.2).
    pub queue_inherited: bool,
    /// Priority applied on entry, if any.
    pub priority: Option<u32>,
    /// Step timeout in seconds, if any.
    pub timeout: Option<u64>,
    /// Target worker expression.
    pub expression: Option<Expression>,
    /// Skip condition.
    pub skip_if: Option<Expression>,
    /// Worker ordering.
    pub order_by: Option<OrderBy>,
    /// Known-agent routing.
    pub known_worker: Option<KnownWorker>,
    /// Sum of the timeouts of the earlier targets of the filter: where this step starts
    /// when no step is skipped, counted from the task entering the filter (ROUTING.md
    /// §2.3.3: step deadlines are cumulative, not reset per step).
    pub start_offset: u64,
    /// `start_offset + timeout`: the step's deadline from filter entry; `None` when the
    /// step has no timeout and so waits until the task is assigned or its TTL ends.
    pub end_offset: Option<u64>,
}

/// A filter ready to run.
#[derive(Debug, Clone, PartialEq)]
pub struct CompiledFilter {
    /// Position in `task_routing.filters`.
    pub index: usize,
    /// `filter_friendly_name`.
    pub name: Option<String>,
    /// The filter expression.
    pub expression: Expression,
    /// The targets; never empty.
    pub steps: Vec<CompiledStep>,
}

impl CompiledFilter {
    /// `"name"` or `#index` for messages.
    pub fn label(&self) -> String {
        match &self.name {
            Some(name) => format!("\"{name}\""),
            None => format!("#{}", self.index),
        }
    }
}

/// A validated configuration with every expression compiled once. The default is the
/// empty configuration, which routes nothing (a placeholder until one is compiled).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CompiledWorkflow {
    config: WorkflowConfig,
    filters: Vec<CompiledFilter>,
    default_filter: Option<CompiledStep>,
    warnings: Vec<ConfigWarning>,
}

impl CompiledWorkflow {
    /// Validate and compile configuration text (a JSON document, as in the Workflow
    /// resource's `configuration` field). `queues`, when given, is the workspace's queue
    /// list and every `queue` must be one of their SIDs.
    pub fn from_json(text: &str, queues: Option<&[QueueDef]>) -> Result<Self, ConfigErrors> {
        if text.len() > MAX_CONFIGURATION_BYTES {
            return Err(ConfigErrors(vec![ConfigError {
                path: String::new(),
                kind: ConfigErrorKind::TooLarge { bytes: text.len() },
            }]));
        }
        let value: Value = serde_json::from_str(text).map_err(|error| {
            ConfigErrors(vec![ConfigError {
                path: String::new(),
                kind: ConfigErrorKind::InvalidJson {
                    message: error.to_string(),
                },
            }])
        })?;
        Self::from_value(&value, queues)
    }

    /// Validate and compile an already-parsed document.
    pub fn from_value(value: &Value, queues: Option<&[QueueDef]>) -> Result<Self, ConfigErrors> {
        let mut decoder = Decoder {
            queues,
            errors: Vec::new(),
            warnings: Vec::new(),
        };
        let decoded = decoder.workflow(value);
        match decoded {
            Some(workflow) if decoder.errors.is_empty() => Ok(CompiledWorkflow {
                warnings: decoder.warnings,
                ..workflow
            }),
            _ => Err(ConfigErrors(decoder.errors)),
        }
    }

    /// The typed document.
    pub fn config(&self) -> &WorkflowConfig {
        &self.config
    }

    /// The typed document, by value.
    pub fn into_config(self) -> WorkflowConfig {
        self.config
    }

    /// Compiled filters, in order.
    pub fn filters(&self) -> &[CompiledFilter] {
        &self.filters
    }

    /// The default filter as a single step without timeout (only `queue` and `priority`
    /// are honoured, ROUTING.md §2.2 — UNCONFIRMED, its suggestion).
    pub fn default_filter(&self) -> Option<&CompiledStep> {
        self.default_filter.as_ref()
    }

    /// Things that are valid but probably not what the author meant.
    pub fn warnings(&self) -> &[ConfigWarning] {
        &self.warnings
    }

    /// The first filter at position `from` or later whose expression holds for the task
    /// (ROUTING.md §2.3.1: first match wins, like a `switch`). `from` > 0 is how a task
    /// continues after the last target of a filter timed out or was skipped (§2.3.3).
    pub fn select_filter(
        &self,
        task: &Value,
        from: usize,
        time: Option<TimeOfDay>,
    ) -> Option<usize> {
        let scope = FilterScope { task, time };
        self.filters
            .iter()
            .enumerate()
            .skip(from)
            .find(|(_, filter)| filter.expression.evaluate(&scope))
            .map(|(position, _)| position)
    }

    /// Every queue SID the configuration references, in order of first use.
    pub fn queue_sids(&self) -> Vec<&str> {
        let mut sids: Vec<&str> = Vec::new();
        let steps = self
            .filters
            .iter()
            .flat_map(|filter| filter.steps.iter())
            .chain(self.default_filter.iter());
        for step in steps {
            if !sids.contains(&step.queue.as_str()) {
                sids.push(&step.queue);
            }
        }
        sids
    }
}

impl TryFrom<Value> for WorkflowConfig {
    type Error = ConfigErrors;

    fn try_from(value: Value) -> Result<Self, Self::Error> {
        CompiledWorkflow::from_value(&value, None).map(CompiledWorkflow::into_config)
    }
}

/// A fault in a configuration, at a JSON path.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigError {
    /// Dotted JSON path such as `task_routing.filters[0].targets[1].timeout`; empty for
    /// the document itself.
    pub path: String,
    /// What is wrong.
    pub kind: ConfigErrorKind,
}

/// What is wrong with a configuration.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ConfigErrorKind {
    /// The text is not JSON.
    InvalidJson {
        /// serde_json's message.
        message: String,
    },
    /// Over [`MAX_CONFIGURATION_BYTES`].
    TooLarge {
        /// Actual size.
        bytes: usize,
    },
    /// A required key is absent.
    Missing,
    /// A value has the wrong JSON type.
    WrongType {
        /// The type required.
        expected: &'static str,
        /// The type found.
        found: &'static str,
    },
    /// `targets` is an empty array.
    EmptyTargets,
    /// The first target of a filter has no `queue` (ROUTING.md §2.9).
    FirstTargetNeedsQueue,
    /// `timeout` is not a positive integer.
    BadTimeout {
        /// The value as written.
        value: String,
    },
    /// `priority` is not an integer in 0…2^31−1.
    BadPriority {
        /// The value as written.
        value: String,
    },
    /// Both `known_worker_sid` and `known_worker_friendly_name` on one target.
    BothKnownWorkerKeys,
    /// A `known_worker_*` value that is not `task.<attribute>`.
    BadKnownWorker {
        /// The value as written.
        value: String,
    },
    /// An `order_by` that is not `worker.<attr> ASC|DESC, …`.
    BadOrderBy {
        /// What is wrong.
        problem: String,
    },
    /// An expression that does not parse.
    Expression {
        /// The expression text.
        source: String,
        /// The parser's error (span into `source`).
        error: ParseError,
    },
    /// More targets, all filters together, than [`MAX_WORKFLOW_TARGETS`].
    TooManyTargets {
        /// How many there are.
        count: usize,
    },
    /// `queue` is not the SID of a known queue.
    UnknownQueue {
        /// The value as written.
        queue: String,
        /// The SID of a queue whose friendly name is `queue`, if any.
        sid_for_name: Option<String>,
    },
}

impl fmt::Display for ConfigErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigErrorKind::InvalidJson { message } => write!(f, "not valid JSON: {message}"),
            ConfigErrorKind::TooLarge { bytes } => write!(
                f,
                "configuration is {bytes} bytes; TaskRouter accepts at most {MAX_CONFIGURATION_BYTES}"
            ),
            ConfigErrorKind::Missing => f.write_str("required key is missing"),
            ConfigErrorKind::WrongType { expected, found } => {
                write!(f, "expected {expected}, found {found}")
            }
            ConfigErrorKind::EmptyTargets => f.write_str("a filter needs at least one target"),
            ConfigErrorKind::FirstTargetNeedsQueue => {
                f.write_str("the first target of a filter must name a queue (add \"queue\": \"WQ…\")")
            }
            ConfigErrorKind::BadTimeout { value } => {
                write!(f, "timeout must be a positive whole number of seconds, found {value}")
            }
            ConfigErrorKind::BadPriority { value } => write!(
                f,
                "priority must be a whole number from 0 to {MAX_PRIORITY}, found {value}"
            ),
            ConfigErrorKind::BothKnownWorkerKeys => f.write_str(
                "known_worker_sid and known_worker_friendly_name cannot both be set (keep one)",
            ),
            ConfigErrorKind::BadKnownWorker { value } => write!(
                f,
                "expected a task attribute such as \"task.agent_sid\", found {value:?}"
            ),
            ConfigErrorKind::BadOrderBy { problem } => write!(f, "bad order_by: {problem}"),
            // A refusal for size names the limit; echoing the source would repeat the
            // very text that was too big.
            ConfigErrorKind::Expression { error, .. } if error.kind.is_limit() => error.fmt(f),
            ConfigErrorKind::Expression { source, error } => {
                let (line, column) = error.line_column(source);
                if line == 1 {
                    write!(f, "bad expression {source:?}: {error} (column {column})")
                } else {
                    write!(f, "bad expression {source:?}: {error} (line {line}, column {column})")
                }
            }
            ConfigErrorKind::TooManyTargets { count } => write!(
                f,
                "workflow has {count} targets across its filters; the limit is {MAX_WORKFLOW_TARGETS}"
            ),
            ConfigErrorKind::UnknownQueue {
                queue,
                sid_for_name: Some(sid),
            } => write!(
                f,
                "{queue:?} is a queue's friendly name; targets reference queues by SID (use \"{sid}\")"
            ),
            ConfigErrorKind::UnknownQueue { queue, .. } => {
                write!(f, "no queue with SID {queue:?} in the queue list")
            }
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "configuration: {}", self.kind)
        } else {
            write!(f, "{}: {}", self.path, self.kind)
        }
    }
}

impl std::error::Error for ConfigError {}

/// Every fault found in a configuration (never empty when returned as an error).
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (position, error) in self.0.iter().enumerate() {
            if position > 0 {
                f.write_str("; ")?;
            }
            error.fmt(f)?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// Something valid that is probably a mistake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigWarning {
    /// JSON path, as in [`ConfigError`].
    pub path: String,
    /// What looks wrong.
    pub kind: WarningKind,
}

/// What looks wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WarningKind {
    /// A key TaskRouter does not document; ignored (ROUTING.md §2.9 suggests ignoring).
    UnknownKey,
    /// A target key in `default_filter` other than `queue` / `priority`: ignored.
    IgnoredInDefaultFilter,
    /// `friendly_name` on a filter: an old spelling of `filter_friendly_name`.
    LegacyFriendlyName,
    /// A key without `task.`/`worker.` prefix in a target expression: always NULL (T-10).
    UnprefixedKeyInTarget {
        /// The key.
        key: String,
    },
    /// A `task.`/`worker.` key in a filter expression, where keys are bare task
    /// attributes: it looks for an attribute named `task` or `worker`.
    PrefixedKeyInFilter {
        /// The key.
        key: String,
    },
    /// A key in `skip_if` that is not a `workers.*` counter: always NULL.
    NotACounterInSkipIf {
        /// The key.
        key: String,
    },
    /// Targets after a target that has neither `timeout` nor `skip_if` are never reached.
    UnreachableTargets,
    /// No filters and no `default_filter`: every task is canceled on entry.
    NoRoutes,
}

impl fmt::Display for WarningKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WarningKind::UnknownKey => f.write_str("unknown key, ignored"),
            WarningKind::IgnoredInDefaultFilter => {
                f.write_str("ignored in default_filter (only queue and priority apply)")
            }
            WarningKind::LegacyFriendlyName => {
                f.write_str("old spelling; TaskRouter documents filter_friendly_name")
            }
            WarningKind::UnprefixedKeyInTarget { key } => write!(
                f,
                "`{key}` has no task. or worker. prefix, so it is always null in a target expression"
            ),
            WarningKind::PrefixedKeyInFilter { key } => write!(
                f,
                "filter expressions read task attributes without a prefix; `{key}` looks for an attribute named `{}`",
                key.split(['.', '[']).next().unwrap_or_default()
            ),
            WarningKind::NotACounterInSkipIf { key } => write!(
                f,
                "`{key}` is not a workers.* counter, so it is always null in skip_if"
            ),
            WarningKind::UnreachableTargets => f.write_str(
                "this target has no timeout and no skip_if, so the targets after it are never reached",
            ),
            WarningKind::NoRoutes => f.write_str(
                "no filters and no default_filter: every task would be canceled on entry",
            ),
        }
    }
}

impl fmt::Display for ConfigWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "configuration: {}", self.kind)
        } else {
            write!(f, "{}: {}", self.path, self.kind)
        }
    }
}

/// JSON type names for messages.
fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Which kind of expression a field holds, for the key-namespace warnings.
#[derive(Clone, Copy)]
enum ExpressionRole {
    Filter,
    Target,
    SkipIf,
}

/// One pass over the document that both builds the typed model and compiles it, collecting
/// every error and warning on the way.
struct Decoder<'q> {
    queues: Option<&'q [QueueDef]>,
    errors: Vec<ConfigError>,
    warnings: Vec<ConfigWarning>,
}

impl Decoder<'_> {
    fn error(&mut self, path: &str, kind: ConfigErrorKind) {
        self.errors.push(ConfigError {
            path: path.to_string(),
            kind,
        });
    }

    fn warn(&mut self, path: &str, kind: WarningKind) {
        self.warnings.push(ConfigWarning {
            path: path.to_string(),
            kind,
        });
    }

    fn object<'v>(&mut self, value: &'v Value, path: &str) -> Option<&'v Map<String, Value>> {
        match value {
            Value::Object(map) => Some(map),
            other => {
                self.error(
                    path,
                    ConfigErrorKind::WrongType {
                        expected: "an object",
                        found: type_name(other),
                    },
                );
                None
            }
        }
    }

    fn unknown_keys(&mut self, map: &Map<String, Value>, path: &str, known: &[&str]) {
        for key in map.keys().filter(|key| !known.contains(&key.as_str())) {
            self.warn(&join(path, key), WarningKind::UnknownKey);
        }
    }

    /// An optional string field; `null` counts as absent.
    fn string<'v>(
        &mut self,
        map: &'v Map<String, Value>,
        key: &str,
        path: &str,
    ) -> Option<&'v str> {
        match map.get(key)? {
            Value::Null => None,
            Value::String(text) => Some(text),
            other => {
                self.error(
                    &join(path, key),
                    ConfigErrorKind::WrongType {
                        expected: "a string",
                        found: type_name(other),
                    },
                );
                None
            }
        }
    }

    fn required_string<'v>(
        &mut self,
        map: &'v Map<String, Value>,
        key: &str,
        path: &str,
    ) -> Option<&'v str> {
        if map.get(key).is_none_or(Value::is_null) {
            self.error(&join(path, key), ConfigErrorKind::Missing);
            return None;
        }
        self.string(map, key, path)
    }

    fn expression(&mut self, source: &str, path: &str, role: ExpressionRole) -> Option<Expression> {
        match Expression::compile(source) {
            Ok(expression) => {
                for key in expression.keys() {
                    let warning = match (role, key.root()) {
                        (ExpressionRole::Filter, Root::Task | Root::Worker) => {
                            WarningKind::PrefixedKeyInFilter {
                                key: key.to_string(),
                            }
                        }
                        (ExpressionRole::Target, Root::Other | Root::Workers) => {
                            WarningKind::UnprefixedKeyInTarget {
                                key: key.to_string(),
                            }
                        }
                        (ExpressionRole::SkipIf, root) if root != Root::Workers => {
                            WarningKind::NotACounterInSkipIf {
                                key: key.to_string(),
                            }
                        }
                        _ => continue,
                    };
                    self.warn(path, warning);
                }
                Some(expression)
            }
            Err(error) => {
                self.error(
                    path,
                    ConfigErrorKind::Expression {
                        source: source.to_string(),
                        error,
                    },
                );
                None
            }
        }
    }

    /// A whole number written as a JSON number or a string of digits (docs show both,
    /// ROUTING.md §2.2).
    fn whole_number(value: &Value) -> Option<i128> {
        match value {
            Value::Number(number) => number
                .as_i64()
                .map(i128::from)
                .or_else(|| number.as_u64().map(i128::from))
                .or_else(|| {
                    number
                        .as_f64()
                        .filter(|value| value.fract() == 0.0 && value.abs() < 1e18)
                        .map(|value| value as i128)
                }),
            Value::String(text) => text.trim().parse::<i64>().ok().map(i128::from),
            _ => None,
        }
    }

    fn priority(&mut self, map: &Map<String, Value>, path: &str) -> Option<u32> {
        let value = map.get("priority").filter(|value| !value.is_null())?;
        match Self::whole_number(value).and_then(|number| u32::try_from(number).ok()) {
            Some(priority) if priority <= MAX_PRIORITY => Some(priority),
            _ => {
                self.error(
                    &join(path, "priority"),
                    ConfigErrorKind::BadPriority {
                        value: value.to_string(),
                    },
                );
                None
            }
        }
    }

    fn timeout(&mut self, map: &Map<String, Value>, path: &str) -> Option<u64> {
        let value = map.get("timeout").filter(|value| !value.is_null())?;
        match Self::whole_number(value).and_then(|number| u64::try_from(number).ok()) {
            Some(timeout) if timeout > 0 => Some(timeout),
            _ => {
                self.error(
                    &join(path, "timeout"),
                    ConfigErrorKind::BadTimeout {
                        value: value.to_string(),
                    },
                );
                None
            }
        }
    }

    fn check_queue(&mut self, queue: &str, path: &str) {
        let Some(queues) = self.queues else {
            return;
        };
        if queues.iter().any(|known| known.sid == queue) {
            return;
        }
        // ROUTING.md §2.9: friendly names in `queue` appear only in third-party docs and
        // should be rejected; say which SID was probably meant.
        let sid_for_name = queues
            .iter()
            .find(|known| known.friendly_name == queue)
            .map(|known| known.sid.clone());
        self.error(
            &join(path, "queue"),
            ConfigErrorKind::UnknownQueue {
                queue: queue.to_string(),
                sid_for_name,
            },
        );
    }

    fn known_worker(&mut self, map: &Map<String, Value>, path: &str) -> Option<KnownWorker> {
        let by_sid = self.string(map, "known_worker_sid", path);
        let by_name = self.string(map, "known_worker_friendly_name", path);
        let (by, key, value) = match (by_sid, by_name) {
            (Some(_), Some(_)) => {
                self.error(path, ConfigErrorKind::BothKnownWorkerKeys);
                return None;
            }
            (Some(value), None) => (KnownBy::Sid, "known_worker_sid", value),
            (None, Some(value)) => (KnownBy::FriendlyName, "known_worker_friendly_name", value),
            (None, None) => return None,
        };
        match parse_key_path(value) {
            Ok(attribute) if attribute.root() == Root::Task && !attribute.rest().is_empty() => {
                Some(KnownWorker { by, attribute })
            }
            _ => {
                self.error(
                    &join(path, key),
                    ConfigErrorKind::BadKnownWorker {
                        value: value.to_string(),
                    },
                );
                None
            }
        }
    }

    /// A target (or the default filter when `inherited` is `None` and `is_default`).
    fn target(
        &mut self,
        value: &Value,
        path: &str,
        inherited: Option<&str>,
        is_default: bool,
    ) -> Option<(Target, CompiledStep)> {
        let map = self.object(value, path)?;
        let errors_before = self.errors.len();
        if is_default {
            for key in map.keys() {
                if TARGET_KEYS.contains(&key.as_str()) {
                    if key != "queue" && key != "priority" {
                        self.warn(&join(path, key), WarningKind::IgnoredInDefaultFilter);
                    }
                } else {
                    self.warn(&join(path, key), WarningKind::UnknownKey);
                }
            }
        } else {
            self.unknown_keys(map, path, &TARGET_KEYS);
        }
        let written_queue = if is_default {
            self.required_string(map, "queue", path)
        } else {
            self.string(map, "queue", path)
        };
        if let Some(queue) = written_queue {
            self.check_queue(queue, path);
        }
        let queue = match (written_queue, inherited) {
            (Some(queue), _) => Some((queue, false)),
            (None, Some(queue)) => Some((queue, true)),
            (None, None) => {
                if !is_default && map.get("queue").is_none_or(Value::is_null) {
                    self.error(&join(path, "queue"), ConfigErrorKind::FirstTargetNeedsQueue);
                }
                None
            }
        };
        let priority = self.priority(map, path);
        let raw = Target {
            queue: written_queue.map(str::to_string),
            priority,
            timeout: self.timeout(map, path),
            expression: self.string(map, "expression", path).map(str::to_string),
            order_by: self.string(map, "order_by", path).map(str::to_string),
            skip_if: self.string(map, "skip_if", path).map(str::to_string),
            known_worker_sid: self
                .string(map, "known_worker_sid", path)
                .map(str::to_string),
            known_worker_friendly_name: self
                .string(map, "known_worker_friendly_name", path)
                .map(str::to_string),
        };
        // The default filter honours only queue and priority (warned above).
        let (expression, skip_if, order_by, known_worker, timeout) = if is_default {
            (None, None, None, None, None)
        } else {
            let expression = raw.expression.as_deref().and_then(|source| {
                self.expression(source, &join(path, "expression"), ExpressionRole::Target)
            });
            let skip_if = raw.skip_if.as_deref().and_then(|source| {
                self.expression(source, &join(path, "skip_if"), ExpressionRole::SkipIf)
            });
            let order_by = raw
                .order_by
                .as_deref()
                .and_then(|text| match OrderBy::parse(text) {
                    Ok(order_by) => Some(order_by),
                    Err(problem) => {
                        self.error(
                            &join(path, "order_by"),
                            ConfigErrorKind::BadOrderBy { problem },
                        );
                        None
                    }
                });
            let known_worker = self.known_worker(map, path);
            (expression, skip_if, order_by, known_worker, raw.timeout)
        };
        let (queue, queue_inherited) = queue?;
        if self.errors.len() > errors_before {
            return None;
        }
        let step = CompiledStep {
            index: 0,
            queue: queue.to_string(),
            queue_inherited,
            priority,
            timeout,
            expression,
            skip_if,
            order_by,
            known_worker,
            start_offset: 0,
            end_offset: None,
        };
        Some((raw, step))
    }

    fn filter(
        &mut self,
        value: &Value,
        index: usize,
        path: &str,
    ) -> Option<(Filter, CompiledFilter)> {
        let map = self.object(value, path)?;
        let mut known = vec!["filter_friendly_name", "expression", "targets"];
        let mut name = self
            .string(map, "filter_friendly_name", path)
            .map(str::to_string);
        if map.contains_key("friendly_name") {
            known.push("friendly_name");
            self.warn(
                &join(path, "friendly_name"),
                WarningKind::LegacyFriendlyName,
            );
            if name.is_none() {
                name = self.string(map, "friendly_name", path).map(str::to_string);
            }
        }
        self.unknown_keys(map, path, &known);
        let source = self.required_string(map, "expression", path);
        let expression = source.and_then(|source| {
            self.expression(source, &join(path, "expression"), ExpressionRole::Filter)
        });
        let targets_path = join(path, "targets");
        let targets = match map.get("targets") {
            None | Some(Value::Null) => {
                self.error(&targets_path, ConfigErrorKind::Missing);
                None
            }
            Some(Value::Array(items)) if items.is_empty() => {
                self.error(&targets_path, ConfigErrorKind::EmptyTargets);
                None
            }
            Some(Value::Array(items)) => Some(items),
            Some(other) => {
                self.error(
                    &targets_path,
                    ConfigErrorKind::WrongType {
                        expected: "an array",
                        found: type_name(other),
                    },
                );
                None
            }
        };
        let mut raw_targets = Vec::new();
        let mut steps = Vec::new();
        let mut inherited: Option<String> = None;
        let mut complete = true;
        for (position, item) in targets.into_iter().flatten().enumerate() {
            let target_path = format!("{targets_path}[{position}]");
            // Only the first target may not inherit; a failed earlier target still lets
            // later ones be checked (with no inherited queue to lean on).
            let inherit = if position == 0 {
                None
            } else {
                inherited.as_deref().or(Some(""))
            };
            match self.target(item, &target_path, inherit, false) {
                Some((raw, mut step)) => {
                    step.index = position;
                    inherited = Some(step.queue.clone());
                    raw_targets.push(raw);
                    steps.push(step);
                }
                None => complete = false,
            }
        }
        if !complete {
            return None;
        }
        // Cumulative offsets (ROUTING.md §2.3.3), and the unreachable-target warning
        // (§2.3.2 rule 4: a later target is reached only by timeout or skip).
        let mut elapsed: u64 = 0;
        let last = steps.len().saturating_sub(1);
        for (position, step) in steps.iter_mut().enumerate() {
            step.start_offset = elapsed;
            step.end_offset = step.timeout.map(|timeout| elapsed.saturating_add(timeout));
            elapsed = step.end_offset.unwrap_or(elapsed);
            if position < last && step.timeout.is_none() && step.skip_if.is_none() {
                self.warn(
                    &format!("{targets_path}[{position}]"),
                    WarningKind::UnreachableTargets,
                );
            }
        }
        let filter = Filter {
            filter_friendly_name: name.clone(),
            expression: source?.to_string(),
            targets: raw_targets,
        };
        let compiled = CompiledFilter {
            index,
            name,
            expression: expression?,
            steps,
        };
        Some((filter, compiled))
    }

    fn workflow(&mut self, value: &Value) -> Option<CompiledWorkflow> {
        let root = self.object(value, "")?;
        self.unknown_keys(root, "", &["task_routing"]);
        let Some(routing_value) = root.get("task_routing") else {
            self.error("task_routing", ConfigErrorKind::Missing);
            return None;
        };
        let routing = self.object(routing_value, "task_routing")?;
        self.unknown_keys(routing, "task_routing", &["filters", "default_filter"]);

        let mut filters = Vec::new();
        let mut compiled_filters = Vec::new();
        match routing.get("filters") {
            None | Some(Value::Null) => {}
            Some(Value::Array(items)) if total_targets(items) > MAX_WORKFLOW_TARGETS => self.error(
                "task_routing.filters",
                ConfigErrorKind::TooManyTargets {
                    count: total_targets(items),
                },
            ),
            Some(Value::Array(items)) => {
                for (index, item) in items.iter().enumerate() {
                    let path = format!("task_routing.filters[{index}]");
                    if let Some((filter, compiled)) = self.filter(item, index, &path) {
                        filters.push(filter);
                        compiled_filters.push(compiled);
                    }
                }
            }
            Some(other) => self.error(
                "task_routing.filters",
                ConfigErrorKind::WrongType {
                    expected: "an array",
                    found: type_name(other),
                },
            ),
        }

        let (default_filter, compiled_default) = match routing.get("default_filter") {
            None | Some(Value::Null) => (None, None),
            Some(value) => match self.target(value, "task_routing.default_filter", None, true) {
                Some((raw, step)) => (Some(raw), Some(step)),
                None => (None, None),
            },
        };
        if compiled_filters.is_empty() && compiled_default.is_none() && self.errors.is_empty() {
            self.warn("task_routing", WarningKind::NoRoutes);
        }
        Some(CompiledWorkflow {
            config: WorkflowConfig {
                task_routing: TaskRouting {
                    filters,
                    default_filter,
                },
            },
            filters: compiled_filters,
            default_filter: compiled_default,
            warnings: Vec::new(),
        })
    }
}

/// How many targets the filters hold together (what is not an array counts as none; the
/// decoder reports it).
fn total_targets(filters: &[Value]) -> usize {
    filters
        .iter()
        .filter_map(|filter| filter.get("targets")?.as_array())
        .map(Vec::len)
        .sum()
}

/// `path.key`, or `key` at the root.
fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn errors(config: Value) -> Vec<String> {
        match CompiledWorkflow::from_value(&config, None) {
            Ok(_) => Vec::new(),
            Err(ConfigErrors(errors)) => errors.iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn offsets_are_cumulative_and_queues_inherited() {
        let workflow = CompiledWorkflow::from_value(
            &json!({"task_routing": {"filters": [{"expression": "1==1", "targets": [
                {"queue": "QA", "timeout": 30, "priority": "5"},
                {"timeout": "60"},
                {"queue": "QC"}
            ]}]}}),
            None,
        )
        .expect("valid");
        let steps = &workflow.filters()[0].steps;
        assert_eq!(steps[1].queue, "QA");
        assert!(steps[1].queue_inherited);
        assert_eq!(steps[0].priority, Some(5));
        assert_eq!(
            steps
                .iter()
                .map(|s| (s.start_offset, s.end_offset))
                .collect::<Vec<_>>(),
            [(0, Some(30)), (30, Some(90)), (90, None)]
        );
        assert!(workflow.warnings().is_empty(), "{:?}", workflow.warnings());
    }

    #[test]
    fn every_fault_is_reported_with_its_path() {
        let found = errors(json!({"task_routing": {"filters": [
            {"expression": "a ==", "targets": [{"timeout": 0}]},
            {"targets": [{"queue": "Q", "priority": -1, "known_worker_sid": "task.a", "known_worker_friendly_name": "task.b"}]},
            {"expression": "1==1", "targets": []}
        ], "default_filter": {"priority": 1}}}));
        assert_eq!(
            found,
            [
                "task_routing.filters[0].expression: bad expression \"a ==\": expected a value (string, number, true, false, null, array or key), found end of input (column 5)",
                "task_routing.filters[0].targets[0].queue: the first target of a filter must name a queue (add \"queue\": \"WQ…\")",
                "task_routing.filters[0].targets[0].timeout: timeout must be a positive whole number of seconds, found 0",
                "task_routing.filters[1].expression: required key is missing",
                "task_routing.filters[1].targets[0].priority: priority must be a whole number from 0 to 2147483647, found -1",
                "task_routing.filters[1].targets[0]: known_worker_sid and known_worker_friendly_name cannot both be set (keep one)",
                "task_routing.filters[2].targets: a filter needs at least one target",
                "task_routing.default_filter.queue: required key is missing",
            ]
        );
    }

    #[test]
    fn wrong_types_are_named() {
        assert_eq!(
            errors(json!([])),
            ["configuration: expected an object, found an array"]
        );
        assert_eq!(errors(json!({})), ["task_routing: required key is missing"]);
        assert_eq!(
            errors(json!({"task_routing": {"filters": {}}})),
            ["task_routing.filters: expected an array, found an object"]
        );
        assert_eq!(
            errors(
                json!({"task_routing": {"filters": [{"expression": 1, "targets": [{"queue": "Q"}]}]}})
            ),
            ["task_routing.filters[0].expression: expected a string, found a number"]
        );
        assert_eq!(
            errors(json!({"task_routing": {"filters": [{"expression": "1==1", "targets": [{"queue": "Q", "timeout": 1.5}]}]}})),
            ["task_routing.filters[0].targets[0].timeout: timeout must be a positive whole number of seconds, found 1.5"]
        );
        assert_eq!(
            errors(json!({"task_routing": {"filters": [{"expression": "1==1", "targets": [{"queue": "Q", "priority": 2147483648u64}]}]}})),
            ["task_routing.filters[0].targets[0].priority: priority must be a whole number from 0 to 2147483647, found 2147483648"]
        );
    }

    #[test]
    fn warnings_for_suspicious_but_valid_configurations() {
        let workflow = CompiledWorkflow::from_value(
            &json!({"task_routing": {"filters": [
                {"friendly_name": "old", "expression": "task.lang == 'fr'", "extra": 1, "targets": [
                    {"queue": "QA", "expression": "lang == task.lang"},
                    {"queue": "QB", "skip_if": "available == 0"}
                ]}
            ], "default_filter": {"queue": "QD", "timeout": 5}}}),
            None,
        )
        .expect("valid");
        let warnings: Vec<String> = workflow
            .warnings()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            warnings,
            [
                "task_routing.filters[0].friendly_name: old spelling; TaskRouter documents filter_friendly_name",
                "task_routing.filters[0].extra: unknown key, ignored",
                "task_routing.filters[0].expression: filter expressions read task attributes without a prefix; `task.lang` looks for an attribute named `task`",
                "task_routing.filters[0].targets[0].expression: `lang` has no task. or worker. prefix, so it is always null in a target expression",
                "task_routing.filters[0].targets[1].skip_if: `available` is not a workers.* counter, so it is always null in skip_if",
                "task_routing.filters[0].targets[0]: this target has no timeout and no skip_if, so the targets after it are never reached",
                "task_routing.default_filter.timeout: ignored in default_filter (only queue and priority apply)",
            ]
        );
        assert_eq!(workflow.filters()[0].name.as_deref(), Some("old"));
    }

    #[test]
    fn serde_round_trip_normalises_numbers() {
        let config: WorkflowConfig = serde_json::from_value(json!({"task_routing": {
            "filters": [{"filter_friendly_name": "f", "expression": "a == 1",
                         "targets": [{"queue": "Q", "priority": "10", "timeout": "20"}]}]}}))
        .expect("valid");
        assert_eq!(
            serde_json::to_value(&config).expect("serializes"),
            json!({"task_routing": {"filters": [{"filter_friendly_name": "f", "expression": "a == 1",
                   "targets": [{"queue": "Q", "priority": 10, "timeout": 20}]}]}})
        );
        let bad: Result<WorkflowConfig, _> = serde_json::from_value(json!({"task_routing": 1}));
        assert!(bad
            .expect_err("invalid")
            .to_string()
            .contains("task_routing: expected an object"));
    }

    #[test]
    fn size_limit_and_bad_json() {
        let huge = format!(
            "{{\"task_routing\":{{}},\"pad\":\"{}\"}}",
            "x".repeat(MAX_CONFIGURATION_BYTES)
        );
        let error = CompiledWorkflow::from_json(&huge, None).expect_err("too large");
        assert!(matches!(error.0[0].kind, ConfigErrorKind::TooLarge { .. }));
        let error = CompiledWorkflow::from_json("{", None).expect_err("bad json");
        assert!(matches!(
            error.0[0].kind,
            ConfigErrorKind::InvalidJson { .. }
        ));
    }
}
