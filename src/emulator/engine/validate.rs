//! Checks shared by the handlers: attributes documents, expressions, workflow
//! configurations and dates, each refused with TaskRouter's 400 and a message naming
//! the parameter.

use serde_json::Value;

use super::error::EngineError;
use super::state::{Millis, Workspace};
use crate::expr::{Expression, ParseError};
use crate::workflow::{CompiledWorkflow, QueueDef, TargetWorkers};

pub use crate::api::limits::{MAX_ATTRIBUTES_CHARS, MAX_CONFIGURATION_BYTES};

/// A task's or worker's `Attributes`: a JSON object of at most 4096 characters.
pub fn attributes(text: &str) -> Result<Value, EngineError> {
    if text.chars().count() > MAX_ATTRIBUTES_CHARS {
        return Err(EngineError::attributes_too_long(
            text.chars().count(),
            MAX_ATTRIBUTES_CHARS,
        ));
    }
    let value: Value = serde_json::from_str(text).map_err(EngineError::attributes_not_json)?;
    if !value.is_object() {
        return Err(EngineError::attributes_not_object());
    }
    Ok(value)
}

/// A queue's `TargetWorkers`: empty (nobody) or a valid expression within the bounds of
/// [`crate::expr::limits`].
pub fn target_workers(text: &str) -> Result<(), EngineError> {
    TargetWorkers::from_field(Some(text))
        .map(|_| ())
        .map_err(|err| expression_error("TargetWorkers", text, &err))
}

/// An expression-valued filter (`EvaluateTaskAttributes`, `TargetWorkersExpression`).
pub fn expression(name: &str, text: &str) -> Result<Expression, EngineError> {
    Expression::compile(text).map_err(|err| expression_error(name, text, &err))
}

/// The 400 for an expression parameter `name` that does not compile. A refusal for size
/// names the parameter and the limit ("TargetWorkers expression has 300 terms; the limit
/// is 256") and leaves the oversized text out.
fn expression_error(name: &str, text: &str, err: &ParseError) -> EngineError {
    if err.kind.is_limit() {
        EngineError::expression_over_limit(name, err)
    } else {
        EngineError::invalid_expression(name, text, err)
    }
}

/// A workflow `Configuration`, checked against the workspace's queues.
pub fn workflow_configuration(
    ws: &Workspace,
    text: &str,
) -> Result<std::sync::Arc<CompiledWorkflow>, EngineError> {
    if text.len() > MAX_CONFIGURATION_BYTES {
        return Err(EngineError::configuration_too_large(
            text.len(),
            MAX_CONFIGURATION_BYTES,
        ));
    }
    let queues = queue_defs(ws);
    CompiledWorkflow::from_json(text, Some(&queues))
        .map(std::sync::Arc::new)
        .map_err(EngineError::invalid_configuration)
}

/// The workspace's queues as the workflow library sees them.
pub fn queue_defs(ws: &Workspace) -> Vec<QueueDef> {
    ws.queues
        .iter()
        .map(|queue| QueueDef::clone(&queue.def))
        .collect()
}

/// An ISO 8601 date-time parameter, as epoch milliseconds.
pub fn date_time(name: &str, text: &str) -> Result<Millis, EngineError> {
    parse_date_time(text).ok_or_else(|| EngineError::invalid_date_time(name, text))
}

/// Parse RFC 3339 / ISO 8601 (`2024-01-02T03:04:05Z`, with or without fractions or offset),
/// or a bare date (midnight UTC).
pub fn parse_date_time(text: &str) -> Option<Millis> {
    use time::format_description::well_known::Rfc3339;
    if let Ok(moment) = time::OffsetDateTime::parse(text.trim(), &Rfc3339) {
        return Some((moment.unix_timestamp_nanos() / 1_000_000) as Millis);
    }
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let date = time::Date::parse(text.trim(), &format).ok()?;
    Some(date.midnight().assume_utc().unix_timestamp() * 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_must_be_a_json_object() {
        assert!(attributes("{\"a\":1}").is_ok());
        assert_eq!(attributes("not-json").unwrap_err().status, 400);
        assert!(attributes("[1]").is_err());
        assert!(attributes(&format!("{{\"a\":\"{}\"}}", "x".repeat(5000))).is_err());
    }

    #[test]
    fn dates_parse() {
        assert_eq!(parse_date_time("1970-01-01T00:00:01Z"), Some(1000));
        assert_eq!(parse_date_time("1970-01-02"), Some(86_400_000));
        assert_eq!(parse_date_time("1970-01-01T01:00:00+01:00"), Some(0));
        assert_eq!(parse_date_time("yesterday"), None);
    }
}
