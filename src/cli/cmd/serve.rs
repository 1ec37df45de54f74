//! `trctl serve`: run the callback listener of [`crate::serve`] in the foreground and
//! print one line per callback on standard error.
//!
//! This module turns flags into a [`ServeConfig`] (reading and compiling `--rules`,
//! rendering a bad rule with a caret), prints the listening URLs, and runs the log writer
//! (a blocking thread fed by the listener's bounded channel). It does not decide replies
//! or check signatures: the library does.

use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::Duration;

use clap::{Args, ValueEnum};
use serde_json::Value;

use crate::api::Secret;
use crate::cli::{CliError, Ctx};
use crate::serve::instruction::{
    Call, Conference, Dequeue, Instruction, Redirect, Reject, RuleSet, RulesError,
};
use crate::serve::log::{LogRecord, LogSink};
use crate::serve::reply::{ExecConfig, FixedReply, Mode};
use crate::serve::ServeConfig;

/// Records waiting for the writer before new ones are dropped (and counted).
const LOG_CAPACITY: usize = 8192;

/// The instructions `--instruction` can answer with (WIRE.md §5.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InstructionName {
    /// Accept the reservation.
    Accept,
    /// Reject it (`--activity` moves the worker).
    Reject,
    /// Bridge an `<Enqueue>`d call to the worker (`--dequeue-from`, `--to`, `--post-work-activity`).
    Dequeue,
    /// Call the worker (`--from` and `--url` required; `--to`, `--accept`).
    Call,
    /// Redirect the customer's call (`--url` required; `--call-sid`, else the task's `call_sid`).
    Redirect,
    /// Conference worker and caller (`--to`, `--from`, `--post-work-activity`).
    Conference,
}

/// Flags of `serve`.
#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: IpAddr,
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 5000)]
    pub port: u16,
    /// Path of the assignment callback.
    #[arg(long, default_value = crate::serve::DEFAULT_ASSIGNMENT_PATH)]
    pub path: String,
    /// Path of event callbacks (answered 204).
    #[arg(long, default_value = crate::serve::DEFAULT_EVENTS_PATH)]
    pub events_path: String,
    /// Answer every assignment callback with this instruction (default: `{}`, no instruction).
    #[arg(long, value_enum, conflicts_with_all = ["rules", "exec"])]
    pub instruction: Option<InstructionName>,
    /// `reject`: the activity to move the worker to (WA…).
    #[arg(long, value_name = "WA…")]
    pub activity: Option<String>,
    /// `dequeue`: the caller ID of the call to the worker (its `from`).
    #[arg(long, value_name = "NUMBER")]
    pub dequeue_from: Option<String>,
    /// `dequeue`/`conference`: the worker's activity after the call (WA…).
    #[arg(long, value_name = "WA…")]
    pub post_work_activity: Option<String>,
    /// `dequeue`/`call`/`conference`: the worker's contact URI (default: its `contact_uri` attribute).
    #[arg(long)]
    pub to: Option<String>,
    /// `call`/`conference` (and `dequeue` without --dequeue-from): the caller ID.
    #[arg(long)]
    pub from: Option<String>,
    /// `call`/`redirect`: the TwiML URL.
    #[arg(long)]
    pub url: Option<String>,
    /// `redirect`: the customer call (CA…); default: the task attribute `call_sid`.
    #[arg(long, value_name = "CA…")]
    pub call_sid: Option<String>,
    /// `call`/`redirect`: accept the reservation too.
    #[arg(long)]
    pub accept: bool,
    /// Pick the instruction by rules: a JSON array of {"when": EXPR, "instruction": {...}};
    /// `task.` keys read task attributes, `worker.` keys worker attributes; first match
    /// wins, no match answers `{}`.
    #[arg(long, value_name = "FILE", conflicts_with = "exec")]
    pub rules: Option<PathBuf>,
    /// Pipe each assignment callback as JSON to `sh -c CMD` (in its own process group)
    /// and answer with the JSON object it has printed when it exits, if TaskRouter would
    /// carry it out (`{}` otherwise).
    #[arg(long, value_name = "CMD")]
    pub exec: Option<String>,
    /// Time limit of --exec commands, in milliseconds (TaskRouter waits 5000); then the
    /// command's whole process group is killed.
    #[arg(long, default_value_t = 4000, value_name = "MS")]
    pub exec_timeout_ms: u64,
    /// Most --exec commands running at once; a callback over it is answered `{}` at once.
    #[arg(long, default_value_t = crate::serve::MAX_EXEC_CHILDREN, value_name = "N")]
    pub exec_max: usize,
    /// The base URL TaskRouter calls (a tunnel or proxy): signatures are checked against
    /// it plus the request's path and query.
    #[arg(long, value_name = "URL")]
    pub public_url: Option<String>,
    /// Do not check X-Twilio-Signature (it is checked whenever an auth token is set).
    #[arg(long)]
    pub no_verify: bool,
    /// Log each callback as one JSON object per line (NDJSON) instead of a readable line.
    #[arg(long)]
    pub log_json: bool,
    /// Also append each callback as NDJSON to this file.
    #[arg(long, value_name = "PATH")]
    pub log_file: Option<PathBuf>,
    /// Connection limits and timeouts.
    #[command(flatten)]
    pub server: crate::cli::server_flags::ServerFlags,
}

/// Run the listener until Ctrl-C / SIGTERM.
pub async fn run(ctx: &mut Ctx, args: ServeArgs) -> Result<(), CliError> {
    let mut config = config(&args, ctx.global.auth_token.as_deref())?;
    let limits = args.server.limits()?;
    let log_file = match &args.log_file {
        Some(path) => Some(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|err| {
                    CliError::usage(format!("cannot open --log-file {}: {err}", path.display()))
                })?,
        ),
        None => None,
    };
    let (sink, receiver) = LogSink::channel(LOG_CAPACITY);
    let dropped = sink.dropped_counter();
    config.log = Some(sink);

    let addr = SocketAddr::new(args.host, args.port);
    let listener = crate::http_server::bind(addr).await.map_err(|err| {
        CliError::usage(format!(
            "cannot listen on {addr}: {err} (try another --port)"
        ))
    })?;
    let local = listener
        .local_addr()
        .map_err(|err| CliError::usage(err.to_string()))?;
    let base = format!("http://{local}");
    ctx.print_text(&banner(&config, &base))?;
    ctx.flush()?;

    let json = args.log_json;
    let writer = tokio::task::spawn_blocking(move || write_log(receiver, json, log_file));
    let served = crate::serve::run(
        config,
        listener,
        limits,
        crate::cli::cmd::emulator::shutdown_signal(),
    )
    .await;
    // The router (and with it the sink) is gone once `run` returns: the writer drains
    // what is left and stops.
    let _ = writer.await;
    served.map_err(|err| CliError::usage(format!("the listener stopped: {err}")))?;
    let lost = dropped.load(Ordering::Relaxed);
    if lost > 0 {
        ctx.note(&format!(
            "trctl serve: {lost} log records dropped (the log could not keep up)"
        ));
    }
    ctx.note("trctl serve: stopped");
    Ok(())
}

/// Resolve the flags into a listener configuration (no I/O except reading `--rules`).
pub fn config(args: &ServeArgs, auth_token: Option<&str>) -> Result<ServeConfig, CliError> {
    let mode = if let Some(path) = &args.rules {
        let text = std::fs::read_to_string(path).map_err(|err| {
            CliError::usage(format!("cannot read --rules {}: {err}", path.display()))
        })?;
        let rules = RuleSet::parse(&text)
            .map_err(|error| CliError::usage(rules_message(&path.display().to_string(), &error)))?;
        Mode::Rules(rules)
    } else if let Some(command) = &args.exec {
        if args.exec_timeout_ms == 0 {
            return Err(CliError::usage("--exec-timeout-ms must be above 0"));
        }
        if args.exec_max == 0 {
            return Err(CliError::usage("--exec-max must be above 0"));
        }
        Mode::Exec(ExecConfig {
            command: command.clone(),
            timeout: Duration::from_millis(args.exec_timeout_ms),
            max_running: args.exec_max,
        })
    } else if let Some(name) = args.instruction {
        Mode::Fixed(FixedReply::new(instruction(args, name)?))
    } else {
        Mode::Empty
    };
    if args.instruction.is_none() {
        check_unused(args, &[])?;
    }
    let config = ServeConfig {
        assignment_path: args.path.clone(),
        events_path: args.events_path.clone(),
        mode,
        auth_token: auth_token.filter(|t| !t.is_empty()).map(Secret::new),
        verify: !args.no_verify,
        public_url: args.public_url.clone(),
        log: None,
    };
    config
        .validate()
        .map_err(|err| CliError::usage(err.to_string()))?;
    Ok(config)
}

/// A rules-file error, with a caret under a bad expression.
pub fn rules_message(path: &str, error: &RulesError) -> String {
    match error {
        RulesError::Expression {
            index,
            expression,
            error,
        } => {
            let rendered = crate::cli::cmd::expr::render_parse_error(expression, error);
            // Keep the source line and the caret; the message line is ours.
            let picture = rendered.split_once('\n').map_or("", |(_, rest)| rest);
            format!(
                "{path}: rule {index}: `when` does not parse: {error}\n{}",
                picture.trim_end_matches('\n')
            )
        }
        other => format!("{path}: {other}"),
    }
}

/// The fixed instruction from `--instruction` and its flags.
fn instruction(args: &ServeArgs, name: InstructionName) -> Result<Instruction, CliError> {
    let name_text = instruction_name(name);
    let required = |value: &Option<String>, flag: &str| {
        value
            .clone()
            .ok_or_else(|| CliError::usage(format!("--instruction {name_text} needs {flag}")))
    };
    let accept = args.accept.then_some(true);
    let (instruction, used): (Instruction, &[&str]) = match name {
        InstructionName::Accept => (Instruction::Accept, &[]),
        InstructionName::Reject => (
            Instruction::Reject(Reject {
                activity_sid: args.activity.clone(),
            }),
            &["--activity"],
        ),
        InstructionName::Dequeue => (
            Instruction::Dequeue(Dequeue {
                to: args.to.clone(),
                from: args.dequeue_from.clone().or_else(|| args.from.clone()),
                post_work_activity_sid: args.post_work_activity.clone(),
                ..Dequeue::default()
            }),
            &["--to", "--from", "--dequeue-from", "--post-work-activity"],
        ),
        InstructionName::Call => (
            Instruction::Call(Call {
                to: args.to.clone(),
                from: required(&args.from, "--from")?,
                url: required(&args.url, "--url")?,
                accept,
                ..Call::default()
            }),
            &["--to", "--from", "--url", "--accept"],
        ),
        InstructionName::Redirect => (
            Instruction::Redirect(Redirect {
                // Empty: filled from each task's `call_sid` attribute (see reply::decide).
                call_sid: args.call_sid.clone().unwrap_or_default(),
                url: required(&args.url, "--url")?,
                accept,
            }),
            &["--url", "--call-sid", "--accept"],
        ),
        InstructionName::Conference => (
            Instruction::Conference(Conference {
                to: args.to.clone(),
                from: args.from.clone(),
                post_work_activity_sid: args.post_work_activity.clone(),
                ..Conference::default()
            }),
            &["--to", "--from", "--post-work-activity"],
        ),
    };
    check_unused(args, used)?;
    Ok(instruction)
}

/// Refuse instruction flags the chosen instruction does not use, instead of ignoring them.
fn check_unused(args: &ServeArgs, used: &[&str]) -> Result<(), CliError> {
    let given = [
        ("--activity", args.activity.is_some()),
        ("--dequeue-from", args.dequeue_from.is_some()),
        ("--post-work-activity", args.post_work_activity.is_some()),
        ("--to", args.to.is_some()),
        ("--from", args.from.is_some()),
        ("--url", args.url.is_some()),
        ("--call-sid", args.call_sid.is_some()),
        ("--accept", args.accept),
    ];
    match given
        .iter()
        .find(|(flag, set)| *set && !used.contains(flag))
    {
        Some((flag, _)) => Err(CliError::usage(match args.instruction {
            Some(name) => format!(
                "{flag} does not apply to --instruction {} (see trctl serve --help)",
                instruction_name(name)
            ),
            None => format!("{flag} needs --instruction (see trctl serve --help)"),
        })),
        None => Ok(()),
    }
}

/// `accept`, `reject`, … as typed on the command line.
fn instruction_name(name: InstructionName) -> String {
    name.to_possible_value()
        .map(|value| value.get_name().to_string())
        .unwrap_or_default()
}

fn banner(config: &ServeConfig, base: &str) -> String {
    let public = config
        .public_url
        .as_deref()
        .map(|url| crate::api::redact_url(url.trim_end_matches('/')))
        .unwrap_or_else(|| base.to_string());
    let mode = match &config.mode {
        Mode::Empty => "answer {} (no instruction)".to_string(),
        Mode::Fixed(fixed) => format!("answer {}", String::from_utf8_lossy(&fixed.body)),
        Mode::Rules(rules) => format!("answer by {} rules (else {{}})", rules.rules.len()),
        Mode::Exec(exec) => format!(
            "answer with the output of `{}` (at most {} at once)",
            exec.command, exec.max_running
        ),
    };
    let verify = if config.verifies() {
        "X-Twilio-Signature checked (missing or wrong: 403)"
    } else if config.verify {
        "X-Twilio-Signature NOT checked: no auth token (set TWILIO_AUTH_TOKEN)"
    } else {
        "X-Twilio-Signature NOT checked (--no-verify)"
    };
    format!(
        "trctl serve: listening on {base}\n\
         assignment callback URL: {public}{}\n\
         event callback URL:      {public}{}\n\
         {mode}; {verify}\n\
         press Ctrl-C to stop\n",
        config.assignment_path, config.events_path
    )
}

/// The writer thread: one line per record on stderr, NDJSON to the file; flushes when
/// the channel is momentarily empty so bursts are written in batches.
fn write_log(
    mut receiver: tokio::sync::mpsc::Receiver<LogRecord>,
    json: bool,
    file: Option<std::fs::File>,
) {
    let stderr = std::io::stderr();
    let mut err = std::io::BufWriter::new(stderr.lock());
    let mut file = file.map(std::io::BufWriter::new);
    while let Some(first) = receiver.blocking_recv() {
        let mut next = Some(first);
        while let Some(record) = next {
            let now = now_rfc3339();
            if json || file.is_some() {
                let line = ndjson(&record, &now);
                if json {
                    let _ = writeln!(err, "{line}");
                }
                if let Some(file) = &mut file {
                    let _ = writeln!(file, "{line}");
                }
            }
            if !json {
                let _ = writeln!(err, "{}", readable(&record, &now));
            }
            next = receiver.try_recv().ok();
        }
        let _ = err.flush();
        if let Some(file) = &mut file {
            let _ = file.flush();
        }
    }
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// The NDJSON form: the record's fields plus `time`.
pub fn ndjson(record: &LogRecord, now: &str) -> String {
    let mut value = serde_json::to_value(record).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut value {
        map.insert("time".into(), Value::String(now.to_string()));
    }
    value.to_string()
}

/// The readable form: time, kind, status, latency, SIDs, attributes, reply.
pub fn readable(record: &LogRecord, now: &str) -> String {
    let clock = now.get(11..19).unwrap_or(now);
    let mut line = format!(
        "{clock} {} {} {} {} {:.1}ms sig:{}",
        record.kind,
        record.method,
        record.path,
        record.status,
        record.latency_ms,
        serde_json::to_value(record.verified)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    );
    let mut field = |label: &str, value: &Option<String>| {
        if let Some(value) = value {
            line.push_str(&format!(" {label}={value}"));
        }
    };
    field("event", &record.event_type);
    field("reservation", &record.reservation);
    field("task", &record.task);
    field("worker", &record.worker);
    field("queue", &record.queue);
    if !record.task_attributes.is_null() {
        line.push_str(&format!(
            " task_attributes={}",
            short(&record.task_attributes.to_string())
        ));
    }
    if !record.worker_attributes.is_null() {
        line.push_str(&format!(
            " worker_attributes={}",
            short(&record.worker_attributes.to_string())
        ));
    }
    if let Some(error) = &record.error {
        line.push_str(&format!(" error: {error}"));
    } else if !record.reply.is_empty() {
        line.push_str(&format!(
            " -> {}",
            short(&String::from_utf8_lossy(&record.reply))
        ));
        if let Some(rule) = record.rule {
            line.push_str(&format!(" (rule {rule})"));
        }
    }
    line
}

/// At most 160 characters, with an ellipsis.
fn short(text: &str) -> String {
    const LIMIT: usize = 160;
    if text.chars().count() <= LIMIT {
        text.to_string()
    } else {
        let mut cut: String = text.chars().take(LIMIT).collect();
        cut.push('…');
        cut
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Wrapper {
        #[command(flatten)]
        args: ServeArgs,
    }

    fn parse(line: &[&str]) -> Result<ServeArgs, clap::Error> {
        let mut argv = vec!["serve"];
        argv.extend_from_slice(line);
        Wrapper::try_parse_from(argv).map(|w| w.args)
    }

    fn body(line: &[&str]) -> Result<String, String> {
        let args = parse(line).map_err(|e| e.to_string())?;
        let config = config(&args, None).map_err(|e| e.message)?;
        match config.mode {
            Mode::Fixed(fixed) => Ok(String::from_utf8_lossy(&fixed.body).into_owned()),
            Mode::Empty => Ok("{}".into()),
            other => Ok(format!("{other:?}")),
        }
    }

    #[test]
    fn instruction_flags_build_the_reply() {
        let table: [(&[&str], &str); 6] = [
            (&[], "{}"),
            (&["--instruction", "accept"], r#"{"instruction":"accept"}"#),
            (
                &["--instruction", "reject", "--activity", "WA1"],
                r#"{"instruction":"reject","activity_sid":"WA1"}"#,
            ),
            (
                &[
                    "--instruction",
                    "dequeue",
                    "--dequeue-from",
                    "+1555",
                    "--post-work-activity",
                    "WA2",
                ],
                r#"{"instruction":"dequeue","from":"+1555","post_work_activity_sid":"WA2"}"#,
            ),
            (
                &[
                    "--instruction",
                    "call",
                    "--from",
                    "+1",
                    "--url",
                    "https://a.test/t",
                    "--accept",
                ],
                r#"{"instruction":"call","from":"+1","url":"https://a.test/t","accept":true}"#,
            ),
            (
                &[
                    "--instruction",
                    "redirect",
                    "--url",
                    "https://a.test/h",
                    "--call-sid",
                    "CA1",
                ],
                r#"{"instruction":"redirect","call_sid":"CA1","url":"https://a.test/h"}"#,
            ),
        ];
        for (line, expected) in table {
            assert_eq!(body(line).as_deref(), Ok(expected), "{line:?}");
        }
    }

    #[test]
    fn wrong_flag_combinations_are_refused() {
        for (line, needle) in [
            (&["--instruction", "call", "--url", "u"][..], "needs --from"),
            (
                &["--instruction", "accept", "--activity", "WA1"][..],
                "--activity does not apply",
            ),
            (&["--activity", "WA1"][..], "needs --instruction"),
            (&["--path", "nope"][..], "must start with"),
            (&["--path", "/events"][..], "must differ"),
            (&["--public-url", "ftp://x"][..], "http"),
            (
                &["--exec", "cat", "--exec-max", "0"][..],
                "--exec-max must be above 0",
            ),
        ] {
            let error = body(line).unwrap_err();
            assert!(error.contains(needle), "{line:?}: {error}");
        }
        for line in [
            &["--instruction", "accept", "--exec", "cat"][..],
            &["--rules", "r.json", "--exec", "cat"][..],
            &["--instruction", "accept", "--rules", "r.json"][..],
        ] {
            let error = parse(line).err().map(|e| e.kind());
            assert_eq!(
                error,
                Some(clap::error::ErrorKind::ArgumentConflict),
                "{line:?}"
            );
        }
    }

    #[test]
    fn exec_flags_set_the_limits() {
        let bound = |line: &[&str]| match config(&parse(line).unwrap(), None).map(|c| c.mode) {
            Ok(Mode::Exec(exec)) => Some((exec.max_running, exec.timeout)),
            _ => None,
        };
        assert_eq!(
            bound(&["--exec", "cat"]),
            Some((crate::serve::MAX_EXEC_CHILDREN, Duration::from_secs(4)))
        );
        assert_eq!(
            bound(&[
                "--exec",
                "cat",
                "--exec-max",
                "3",
                "--exec-timeout-ms",
                "900"
            ]),
            Some((3, Duration::from_millis(900)))
        );
    }

    #[test]
    fn bad_rule_is_shown_with_its_index_and_a_caret() {
        let error = RuleSet::parse(
            r#"[{"when":"task.a == 1","instruction":{"instruction":"accept"}},
                {"when":"task.lang == ","instruction":{"instruction":"accept"}}]"#,
        )
        .unwrap_err();
        let message = rules_message("rules.json", &error);
        let expected = "rules.json: rule 1: `when` does not parse: expected a value (string, number, true, false, null, array or key), found end of input\n  |\n1 | task.lang == \n  |              ^";
        assert_eq!(message, expected);
    }
}
