//! `trctl expr eval` and `trctl expr check`: try TaskRouter expressions offline.
//!
//! Reads the JSON arguments (inline, `@file` or `-`), builds a scope, and prints the
//! result, an explanation tree, or a syntax error with a caret under the offending column.
//! It also hosts [`render_parse_error`], the caret renderer the workflow commands reuse.
//! The language itself lives in [`crate::expr`]; nothing here decides what an operator
//! means. No network.

use std::io::{self, Write};

use clap::{Args, Subcommand};
use serde_json::{json, Value};

use crate::cli::input::json_value_arg;
use crate::expr::{
    lookup_json, Explanation, Expression, ParseError, Root, Scope, TimeOfDay, ValueRef, WorkerView,
};

use super::workflow_offline::WorkerRecord;

/// Offline expression tools.
#[derive(Debug, Subcommand)]
pub enum ExprCommand {
    /// Evaluate an expression and print true or false.
    ///
    /// Unprefixed keys read --attributes (task attributes for a workflow filter, worker
    /// attributes for a queue's target_workers); task.* and worker.* keys read --task and
    /// --worker (workflow target expressions); taskrouter.* reads --time.
    Eval(EvalArgs),
    /// Check an expression's syntax; exit 2 with the error position if it is invalid.
    Check(CheckArgs),
}

/// Arguments of `trctl expr eval`.
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// The expression, e.g. 'languages HAS "en"'.
    #[arg(value_name = "EXPR")]
    pub expression: String,
    /// Document for unprefixed keys: inline JSON, @file, or - for stdin [default: {}].
    #[arg(long, value_name = "JSON")]
    pub attributes: Option<String>,
    /// Worker for worker.* keys: a Worker resource (sid, friendly_name, attributes,
    /// activity_name, activity_sid) or just its attributes object.
    #[arg(long, value_name = "JSON")]
    pub worker: Option<String>,
    /// Task attributes for task.* keys.
    #[arg(long, value_name = "JSON")]
    pub task: Option<String>,
    /// Time of day for taskrouter.* variables, as `DAY HH:MM` in UTC [default: now].
    #[arg(long, value_name = "DAY HH:MM")]
    pub time: Option<TimeOfDay>,
    /// Print every sub-expression's value as an indented tree before the result.
    #[arg(long)]
    pub explain: bool,
}

/// Arguments of `trctl expr check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The expression to check.
    #[arg(value_name = "EXPR")]
    pub expression: String,
}

/// Run an `expr` subcommand; returns the process exit code (0 ok, 2 invalid input, 1 when
/// writing the output failed).
pub fn run(cmd: &ExprCommand, json_output: bool, out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    let result = match cmd {
        ExprCommand::Eval(args) => eval(args, json_output, out, err),
        ExprCommand::Check(args) => check(args, json_output, out, err),
    };
    finish(result, err)
}

/// Map an output failure to an exit code: a closed pipe (`| head`) is not an error.
pub(crate) fn finish(result: io::Result<u8>, err: &mut dyn Write) -> u8 {
    match result {
        Ok(code) => code,
        Err(error) if error.kind() == io::ErrorKind::BrokenPipe => 0,
        Err(error) => {
            let _ = writeln!(err, "error: cannot write output: {error}");
            1
        }
    }
}

/// Report invalid input: a JSON object on `out` for scripts, or `error: …` on `err`.
pub(crate) fn fail(
    json_output: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
    message: &str,
) -> io::Result<u8> {
    if json_output {
        writeln!(out, "{}", json!({"error": {"message": message}}))?;
    } else {
        writeln!(err, "error: {message}")?;
    }
    Ok(2)
}

/// A syntax error as text: the message, the source line, and carets under the span.
///
/// ```text
/// error: expected a value (…), found end of input
///   |
/// 1 | languages HAS
///   |              ^
/// ```
pub fn render_parse_error(source: &str, error: &ParseError) -> String {
    // A refusal for size is about the whole text: no line to show, and echoing a huge
    // source under carets would only bury the message.
    if error.kind.is_limit() {
        return format!("error: {error}\n");
    }
    let (line_number, column) = error.line_column(source);
    let line = source.split('\n').nth(line_number - 1).unwrap_or("");
    let line = line.strip_suffix('\r').unwrap_or(line);
    // Keep tabs as tabs so the caret lines up however the terminal expands them.
    let padding: String = line
        .chars()
        .take(column - 1)
        .map(|ch| if ch == '\t' { '\t' } else { ' ' })
        .collect();
    let width = source
        .get(error.span.start..error.span.end)
        .map_or(0, |text| {
            text.split('\n').next().unwrap_or("").chars().count()
        })
        .max(1);
    let gutter = " ".repeat(line_number.to_string().len());
    format!(
        "error: {error}\n{gutter} |\n{line_number} | {line}\n{gutter} | {padding}{carets}\n",
        carets = "^".repeat(width)
    )
}

/// A syntax error as JSON for scripts.
pub(crate) fn parse_error_json(source: &str, error: &ParseError) -> Value {
    let (line, column) = error.line_column(source);
    json!({
        "message": error.to_string(),
        "start": error.span.start,
        "end": error.span.end,
        "line": line,
        "column": column,
    })
}

fn compile(
    source: &str,
    json_output: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> io::Result<Result<Expression, u8>> {
    match Expression::compile(source) {
        Ok(expression) => Ok(Ok(expression)),
        Err(error) => {
            if json_output {
                let body = json!({"valid": false, "error": parse_error_json(source, &error)});
                writeln!(out, "{body}")?;
            } else {
                write!(err, "{}", render_parse_error(source, &error))?;
            }
            Ok(Err(2))
        }
    }
}

fn check(
    args: &CheckArgs,
    json_output: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> io::Result<u8> {
    let expression = match compile(&args.expression, json_output, out, err)? {
        Ok(expression) => expression,
        Err(code) => return Ok(code),
    };
    if json_output {
        writeln!(
            out,
            "{}",
            json!({"valid": true, "canonical": expression.to_string()})
        )?;
    } else {
        writeln!(out, "ok: {expression}")?;
    }
    Ok(0)
}

/// The scope of `trctl expr eval`: each prefix reads its own flag, the rest `--attributes`.
struct EvalScope<'a> {
    attributes: &'a Value,
    task: Option<&'a Value>,
    worker: Option<WorkerView<'a>>,
    time: TimeOfDay,
}

impl Scope for EvalScope<'_> {
    fn lookup(&self, key: &crate::expr::KeyPath) -> Option<ValueRef<'_>> {
        match (key.root(), self.task, &self.worker) {
            (Root::Task, Some(task), _) => lookup_json(task, key.rest()).map(ValueRef::from_json),
            (Root::Worker, _, Some(worker)) => worker.lookup_prefixed(key.rest()),
            (Root::TaskRouter, _, _) => self.time.lookup(key.rest()),
            _ => self.attributes.lookup(key),
        }
    }
}

fn eval(
    args: &EvalArgs,
    json_output: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> io::Result<u8> {
    let expression = match compile(&args.expression, json_output, out, err)? {
        Ok(expression) => expression,
        Err(code) => return Ok(code),
    };
    let document = |flag: &str, value: &Option<String>| -> Result<Option<Value>, String> {
        value
            .as_deref()
            .map(|value| json_value_arg(flag, value).map_err(|error| error.to_string()))
            .transpose()
    };
    let loaded = document("--attributes", &args.attributes).and_then(|attributes| {
        let task = document("--task", &args.task)?;
        let worker = match document("--worker", &args.worker)? {
            Some(value) => Some(WorkerRecord::from_value(&value, "--worker")?),
            None => None,
        };
        Ok((attributes, task, worker))
    });
    let (attributes, task, worker) = match loaded {
        Ok(loaded) => loaded,
        Err(message) => return fail(json_output, out, err, &message),
    };
    let empty = Value::Object(Default::default());
    let scope = EvalScope {
        attributes: attributes.as_ref().unwrap_or(&empty),
        task: task.as_ref(),
        worker: worker.as_ref().map(WorkerRecord::view),
        time: args.time.unwrap_or_else(now),
    };
    if args.explain {
        let explanation = expression.explain(&scope);
        if json_output {
            writeln!(
                out,
                "{}",
                json!({"result": explanation.value, "explanation": explanation})
            )?;
        } else {
            write_tree(out, &explanation, 0)?;
            writeln!(out, "{}", explanation.value)?;
        }
    } else {
        let result = expression.evaluate(&scope);
        if json_output {
            writeln!(out, "{}", json!({"result": result}))?;
        } else {
            writeln!(out, "{result}")?;
        }
    }
    Ok(0)
}

fn write_tree(out: &mut dyn Write, node: &Explanation, depth: usize) -> io::Result<()> {
    let indent = "  ".repeat(depth);
    write!(out, "{indent}{:<5} {}", node.value, node.expression)?;
    if !node.keys.is_empty() {
        let keys: Vec<String> = node
            .keys
            .iter()
            .map(|resolved| format!("{} = {}", resolved.key, resolved.value))
            .collect();
        write!(out, "    [{}]", keys.join(", "))?;
    }
    writeln!(out)?;
    for child in &node.children {
        write_tree(out, child, depth + 1)?;
    }
    Ok(())
}

/// The current UTC time of day. The CLI is the one room allowed to read the clock.
pub(crate) fn now() -> TimeOfDay {
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX)
        });
    TimeOfDay::from_unix_seconds(seconds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caret_under_end_of_input() {
        let source = "languages HAS";
        let error = Expression::compile(source).expect_err("invalid");
        assert_eq!(
            render_parse_error(source, &error),
            "error: expected a value (string, number, true, false, null, array or key), found end of input\n  |\n1 | languages HAS\n  |              ^\n"
        );
    }

    #[test]
    fn carets_span_the_token_on_its_line() {
        let source = "a == 1 AND\n\tb ~ 2";
        let error = Expression::compile(source).expect_err("invalid");
        let rendered = render_parse_error(source, &error);
        assert!(rendered.ends_with("2 | \tb ~ 2\n  | \t  ^\n"), "{rendered}");
    }
}
