//! `trctl trigger assignment|event URL`: play TaskRouter. Send a signed callback with
//! every documented parameter (WIRE.md §5.2, §7.1–7.3), then judge the reply as
//! TaskRouter would ([`crate::serve::reply::check_reply`]). With `--count` it becomes a
//! small load generator: one keep-alive HTTP client, `--concurrency` workers, and a
//! latency summary.
//!
//! The callback parameters come from [`crate::serve::callback::Sample`]; signing, sending
//! and the capped read of the reply ([`MAX_REPLY`]) are [`crate::serve::send`], the
//! sender the emulator uses too; this module only plans, measures and prints. It
//! does not retry (TaskRouter's retry policy is UNCONFIRMED, WIRE.md §5.3) and does not
//! call a fallback URL.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::{Args, ValueEnum};
use serde::Serialize;
use serde_json::{json, Value};

use crate::api::redact_url;
use crate::api::sid::{RandomSids, SidSource};
use crate::cli::error::{EXIT_API, EXIT_NETWORK};
use crate::cli::{CliError, Ctx};
use crate::serve::callback::{CallbackKind, Sample};
use crate::serve::callback::{ASSIGNMENT_TIMEOUT, MAX_REPLY};
use crate::serve::reply::{check_reply, ReplyReport, Verdict};
use crate::serve::send::{self, Limits, SendError, Target};

/// Which callback to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TriggerKind {
    /// An assignment callback (a Workflow's AssignmentCallbackUrl).
    Assignment,
    /// An event callback (a Workspace's EventCallbackUrl).
    Event,
}

impl From<TriggerKind> for CallbackKind {
    fn from(kind: TriggerKind) -> CallbackKind {
        match kind {
            TriggerKind::Assignment => CallbackKind::Assignment,
            TriggerKind::Event => CallbackKind::Event,
        }
    }
}

/// Flags of `trigger`.
#[derive(Args, Debug)]
pub struct TriggerArgs {
    /// `assignment` or `event`.
    #[arg(value_enum)]
    pub kind: TriggerKind,
    /// The callback URL, exactly as TaskRouter would be configured with it (it is signed
    /// as written).
    pub url: String,
    /// `TaskAttributes` (inline JSON, @file or -).
    #[arg(
        long,
        value_name = "JSON",
        default_value = r#"{"type":"support","selected_language":"en"}"#
    )]
    pub task_attributes: String,
    /// `WorkerAttributes` (inline JSON, @file or -).
    #[arg(
        long,
        value_name = "JSON",
        default_value = r#"{"contact_uri":"client:alice"}"#
    )]
    pub worker_attributes: String,
    /// `EventType` of event callbacks (WIRE.md §7.2).
    #[arg(long, value_name = "TYPE", default_value = "reservation.created")]
    pub event_type: String,
    /// Set a parameter, replacing the default of that name; repeat a name to send it
    /// several times.
    #[arg(short = 'F', long = "field", value_name = "NAME=VALUE")]
    pub fields: Vec<String>,
    /// Requests to send.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    pub count: u64,
    /// Requests in flight at once (with --count).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub concurrency: u64,
    /// Give up on a request after this many milliseconds (default: TaskRouter's 5 s
    /// assignment-callback limit).
    #[arg(long, default_value_t = ASSIGNMENT_TIMEOUT.as_millis() as u64, value_parser = clap::value_parser!(u64).range(1..))]
    pub timeout_ms: u64,
}

/// Everything needed to send callbacks, resolved from the flags.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Assignment or event.
    pub kind: CallbackKind,
    /// Target URL, signed as written.
    pub url: String,
    /// Key of the signature.
    pub auth_token: crate::api::Secret,
    /// Builds the default parameters.
    pub sample: Sample,
    /// `EventType` of event callbacks.
    pub event_type: String,
    /// `-F` parameters: they replace defaults of the same name.
    pub fields: Vec<(String, String)>,
    /// Requests to send.
    pub count: u64,
    /// Requests in flight at once.
    pub concurrency: u64,
    /// Per-request time limit.
    pub timeout: Duration,
}

impl Plan {
    /// A plan with default sample values, for tests and tools.
    pub fn new(kind: CallbackKind, url: &str, auth_token: &str) -> Plan {
        let (now_seconds, now_millis) = now();
        Plan {
            kind,
            url: url.to_string(),
            auth_token: crate::api::Secret::new(auth_token),
            sample: Sample {
                account_sid: RandomSids.next("AC"),
                task_attributes: r#"{"type":"support","selected_language":"en"}"#.into(),
                worker_attributes: r#"{"contact_uri":"client:alice"}"#.into(),
                now_seconds,
                now_millis,
            },
            event_type: "reservation.created".into(),
            fields: Vec::new(),
            count: 1,
            concurrency: 1,
            timeout: ASSIGNMENT_TIMEOUT,
        }
    }

    /// One callback's parameters: fresh SIDs, then the `-F` fields.
    pub fn params(&self) -> Vec<(String, String)> {
        let mut sids = RandomSids;
        let mut params = match self.kind {
            CallbackKind::Assignment => self.sample.assignment(&mut sids),
            CallbackKind::Event => self.sample.event(&self.event_type, &mut sids),
        };
        if !self.fields.is_empty() {
            params.retain(|(key, _)| !self.fields.iter().any(|(name, _)| name == key));
            params.extend(self.fields.iter().cloned());
        }
        params
    }

    /// An HTTP client for this plan: keep-alive, one idle connection per worker.
    pub fn client(&self) -> Result<reqwest::Client, String> {
        reqwest::Client::builder()
            .timeout(self.timeout)
            .pool_max_idle_per_host(self.concurrency as usize)
            .user_agent(concat!("trctl-trigger/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|err| format!("cannot build the HTTP client: {err}"))
    }
}

fn now() -> (u64, u16) {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    (since.as_secs(), since.subsec_millis() as u16)
}

/// One request and its reply.
#[derive(Debug, Clone, Serialize)]
pub struct Exchange {
    /// HTTP status.
    pub status: u16,
    /// `Content-Type` of the reply.
    pub content_type: Option<String>,
    /// Reply body as text.
    pub body: String,
    /// Send to last body byte.
    #[serde(serialize_with = "as_millis")]
    pub elapsed: Duration,
    /// What TaskRouter would make of it.
    pub report: ReplyReport,
}

fn as_millis<S: serde::Serializer>(elapsed: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_f64(elapsed.as_secs_f64() * 1000.0)
}

/// Send one signed callback and judge the reply. `Err` is a transport failure (no
/// reply: refused connection, timeout, broken body).
pub async fn send_one(client: &reqwest::Client, plan: &Plan) -> Result<Exchange, String> {
    let target = Target::parse(&plan.url)?;
    send_to(client, plan, &target).await
}

/// [`send_one`] to a URL parsed once (a load run sends thousands to the same one).
async fn send_to(
    client: &reqwest::Client,
    plan: &Plan,
    target: &Target,
) -> Result<Exchange, String> {
    let params = plan.params();
    let limits = Limits {
        timeout: plan.timeout,
        max_reply: MAX_REPLY,
    };
    match send::send(client, plan.auth_token.expose(), target, &params, limits).await {
        Ok(answer) => {
            let report = check_reply(
                plan.kind,
                answer.status,
                answer.content_type.as_deref(),
                &answer.body,
                answer.elapsed,
            );
            Ok(Exchange {
                status: answer.status,
                content_type: answer.content_type,
                body: String::from_utf8_lossy(&answer.body).into_owned(),
                elapsed: answer.elapsed,
                report,
            })
        }
        // An answer came, but too big to read: a failed check, not a transport error.
        Err(SendError::TooLarge {
            status,
            limit,
            elapsed,
        }) => Ok(Exchange {
            status,
            content_type: None,
            body: String::new(),
            elapsed,
            report: ReplyReport::oversized(limit),
        }),
        Err(err) => Err(describe(&plan.url, &err)),
    }
}

fn describe(url: &str, err: &SendError) -> String {
    let url = redact_url(url);
    match err {
        SendError::Timeout(_) => format!(
            "no reply from {url} within the time limit (TaskRouter would call the fallback URL)"
        ),
        SendError::Unreachable => format!("cannot connect to {url} (is the listener running?)"),
        other => format!("request to {url} failed: {other}"),
    }
}

/// Totals of a run of many requests.
#[derive(Debug, Clone, Serialize)]
pub struct LoadReport {
    /// Requests sent.
    pub requests: u64,
    /// Replies that passed every check (warnings allowed).
    pub passed: u64,
    /// Replies TaskRouter would reject.
    pub failed: u64,
    /// Requests without a reply.
    pub errors: u64,
    /// Wall time of the run, seconds.
    pub seconds: f64,
    /// Requests per second over the run.
    pub requests_per_second: f64,
    /// Latency percentiles of replies, milliseconds.
    pub latency_ms: Percentiles,
    /// The first few distinct failure messages.
    pub failures: Vec<String>,
}

impl LoadReport {
    /// No failed check and no transport error.
    pub fn ok(&self) -> bool {
        self.failed == 0 && self.errors == 0
    }
}

/// Latency summary in milliseconds.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Percentiles {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Slowest.
    pub max: f64,
}

/// Most failure messages kept for the report.
const MAX_FAILURES: usize = 5;

/// Send `plan.count` callbacks with `plan.concurrency` in flight over one client.
pub async fn load(plan: Arc<Plan>) -> Result<LoadReport, String> {
    let client = plan.client()?;
    let target = Arc::new(Target::parse(&plan.url)?);
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut workers = Vec::with_capacity(plan.concurrency as usize);
    for _ in 0..plan.concurrency.min(plan.count) {
        let (client, plan, next) = (client.clone(), plan.clone(), next.clone());
        let target = target.clone();
        workers.push(tokio::spawn(async move {
            let mut tally = Tally::default();
            while next.fetch_add(1, Ordering::Relaxed) < plan.count {
                match send_to(&client, &plan, &target).await {
                    Ok(exchange) => {
                        tally.latencies_us.push(exchange.elapsed.as_micros() as u64);
                        match exchange.report.first_failure() {
                            None => tally.passed += 1,
                            Some(check) => {
                                tally.failed += 1;
                                tally.note(format!("{}: {}", check.check, check.message));
                            }
                        }
                    }
                    Err(message) => {
                        tally.errors += 1;
                        tally.note(message);
                    }
                }
            }
            tally
        }));
    }
    let mut total = Tally::default();
    for worker in workers {
        let tally = worker
            .await
            .map_err(|err| format!("a sender task failed: {err}"))?;
        total.merge(tally);
    }
    let seconds = started.elapsed().as_secs_f64();
    let requests = total.passed + total.failed + total.errors;
    Ok(LoadReport {
        requests,
        passed: total.passed,
        failed: total.failed,
        errors: total.errors,
        seconds,
        requests_per_second: if seconds > 0.0 {
            requests as f64 / seconds
        } else {
            0.0
        },
        latency_ms: percentiles(&total.latencies_us),
        failures: total.failures,
    })
}

#[derive(Default)]
struct Tally {
    passed: u64,
    failed: u64,
    errors: u64,
    latencies_us: Vec<u64>,
    failures: Vec<String>,
}

impl Tally {
    fn note(&mut self, message: String) {
        if self.failures.len() < MAX_FAILURES && !self.failures.contains(&message) {
            self.failures.push(message);
        }
    }

    fn merge(&mut self, other: Tally) {
        self.passed += other.passed;
        self.failed += other.failed;
        self.errors += other.errors;
        self.latencies_us.extend(other.latencies_us);
        for message in other.failures {
            self.note(message);
        }
    }
}

fn percentiles(latencies_us: &[u64]) -> Percentiles {
    // 1 µs to 10 min at 3 significant digits; values above are clamped.
    let Ok(mut histogram) = hdrhistogram::Histogram::<u64>::new_with_bounds(1, 600_000_000, 3)
    else {
        return Percentiles::default();
    };
    for &value in latencies_us {
        histogram.saturating_record(value.max(1));
    }
    if histogram.is_empty() {
        return Percentiles::default();
    }
    let ms = |us: u64| us as f64 / 1000.0;
    Percentiles {
        p50: ms(histogram.value_at_quantile(0.50)),
        p90: ms(histogram.value_at_quantile(0.90)),
        p99: ms(histogram.value_at_quantile(0.99)),
        max: ms(histogram.max()),
    }
}

/// Resolve the flags into a plan.
pub fn plan(ctx: &Ctx, args: &TriggerArgs) -> Result<Plan, CliError> {
    let token = ctx
        .global
        .auth_token
        .clone()
        .filter(|token| !token.is_empty())
        .ok_or_else(|| {
            CliError::usage(
                "trigger signs its requests with the auth token: pass --auth-token or set TWILIO_AUTH_TOKEN (the listener must use the same one)",
            )
        })?;
    let parsed = url::Url::parse(&args.url)
        .map_err(|err| CliError::usage(format!("invalid URL {}: {err}", redact_url(&args.url))))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(CliError::usage(format!(
            "invalid URL {}: expected http:// or https://",
            redact_url(&args.url)
        )));
    }
    let mut plan = Plan::new(args.kind.into(), &args.url, &token);
    if let Some(account) = ctx.global.account_sid.clone().filter(|sid| !sid.is_empty()) {
        plan.sample.account_sid = account;
    }
    plan.sample.task_attributes =
        crate::cli::input::json_arg("--task-attributes", &args.task_attributes)?;
    plan.sample.worker_attributes =
        crate::cli::input::json_arg("--worker-attributes", &args.worker_attributes)?;
    plan.event_type = args.event_type.clone();
    for field in &args.fields {
        let (name, value) = field
            .split_once('=')
            .ok_or_else(|| CliError::usage(format!("-F {field:?} is not NAME=VALUE")))?;
        plan.fields.push((name.to_string(), value.to_string()));
    }
    plan.count = args.count;
    plan.concurrency = args.concurrency;
    plan.timeout = Duration::from_millis(args.timeout_ms);
    Ok(plan)
}

/// Run `trigger`.
pub async fn run(ctx: &mut Ctx, args: TriggerArgs) -> Result<(), CliError> {
    let plan = plan(ctx, &args)?;
    if plan.count == 1 {
        single(ctx, &plan).await
    } else {
        many(ctx, plan).await
    }
}

async fn single(ctx: &mut Ctx, plan: &Plan) -> Result<(), CliError> {
    let client = plan.client().map_err(CliError::usage)?;
    let outcome = send_one(&client, plan).await;
    let json = ctx.json_output();
    match outcome {
        Err(message) => {
            if json {
                let value =
                    json!({"url": plan.url, "kind": plan.kind, "ok": false, "error": message});
                ctx.print_text(&format!("{value}\n"))?;
                return CliError::from_exit_code(EXIT_NETWORK);
            }
            Err(CliError {
                exit_code: EXIT_NETWORK,
                message,
            })
        }
        Ok(exchange) => {
            let ok = exchange.report.ok();
            let text = if json {
                let body = serde_json::from_str::<Value>(&exchange.body)
                    .unwrap_or_else(|_| Value::String(exchange.body.clone()));
                let mut value = json!({
                    "url": plan.url,
                    "kind": plan.kind,
                    "status": exchange.status,
                    "content_type": exchange.content_type,
                    "body": body,
                    "elapsed_ms": exchange.elapsed.as_secs_f64() * 1000.0,
                    "checks": exchange.report.checks,
                    "instruction": exchange.report.instruction,
                    "ok": ok,
                });
                if exchange.body.is_empty() {
                    value["body"] = Value::Null;
                }
                format!("{value}\n")
            } else {
                single_text(plan, &exchange)
            };
            ctx.print_text(&text)?;
            CliError::from_exit_code(if ok { 0 } else { EXIT_API })
        }
    }
}

fn single_text(plan: &Plan, exchange: &Exchange) -> String {
    let mut text = format!(
        "-> POST {} ({} callback, signed)\n<- {} in {:.1} ms, content-type: {}\n",
        plan.url,
        plan.kind.as_str(),
        exchange.status,
        exchange.elapsed.as_secs_f64() * 1000.0,
        exchange.content_type.as_deref().unwrap_or("(none)")
    );
    if exchange.body.is_empty() {
        text.push_str("(empty body)\n");
    } else {
        text.push_str(exchange.body.trim_end());
        text.push('\n');
    }
    for check in &exchange.report.checks {
        let label = match check.verdict {
            Verdict::Pass => "ok  ",
            Verdict::Warn => "warn",
            Verdict::Fail => "FAIL",
        };
        text.push_str(&format!(
            "  {label} {:<12} {}\n",
            check.check, check.message
        ));
    }
    let verdict = match (&exchange.report.first_failure(), plan.kind, &exchange.report.instruction) {
        (Some(check), _, _) => format!("verdict: FAILED ({}): TaskRouter would not use this reply\n", check.check),
        (None, CallbackKind::Event, _) => "verdict: ok, TaskRouter would take this event reply\n".to_string(),
        (None, CallbackKind::Assignment, Some(name)) => format!("verdict: ok, TaskRouter would carry out `{name}`\n"),
        (None, CallbackKind::Assignment, None) => {
            "verdict: ok, no instruction: the reservation stays pending until accepted or rejected via REST\n".to_string()
        }
    };
    text.push_str(&verdict);
    text
}

async fn many(ctx: &mut Ctx, plan: Plan) -> Result<(), CliError> {
    let plan = Arc::new(plan);
    let report = load(plan.clone()).await.map_err(CliError::usage)?;
    let text = if ctx.json_output() {
        let mut value = serde_json::to_value(&report).unwrap_or(Value::Null);
        value["ok"] = Value::Bool(report.ok());
        value["url"] = Value::String(plan.url.clone());
        value["concurrency"] = json!(plan.concurrency);
        format!("{value}\n")
    } else {
        let l = report.latency_ms;
        let mut text = format!(
            "{} {} callbacks to {} with concurrency {}\n\
             passed {}, failed {}, errors {}\n\
             {:.0} requests/s over {:.2} s\n\
             latency ms: p50 {:.2}  p90 {:.2}  p99 {:.2}  max {:.2}\n",
            report.requests,
            plan.kind.as_str(),
            plan.url,
            plan.concurrency,
            report.passed,
            report.failed,
            report.errors,
            report.requests_per_second,
            report.seconds,
            l.p50,
            l.p90,
            l.p99,
            l.max
        );
        for failure in &report.failures {
            text.push_str(&format!("  FAIL {failure}\n"));
        }
        text.push_str(if report.ok() {
            "verdict: ok\n"
        } else {
            "verdict: FAILED\n"
        });
        text
    };
    ctx.print_text(&text)?;
    let code = if report.errors > 0 {
        EXIT_NETWORK
    } else if report.failed > 0 {
        EXIT_API
    } else {
        0
    };
    CliError::from_exit_code(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_replace_defaults_and_may_repeat() {
        let mut plan = Plan::new(CallbackKind::Assignment, "http://127.0.0.1:1/a", "t");
        plan.fields = vec![
            ("TaskAge".into(), "99".into()),
            ("Tag".into(), "a".into()),
            ("Tag".into(), "b".into()),
        ];
        let params = plan.params();
        let values = |key: &str| {
            params
                .iter()
                .filter(|(k, _)| k == key)
                .map(|(_, v)| v.as_str())
                .collect::<Vec<_>>()
        };
        assert_eq!(values("TaskAge"), ["99"]);
        assert_eq!(values("Tag"), ["a", "b"]);
        assert_eq!(values("ReservationSid").len(), 1);
    }

    #[test]
    fn percentiles_of_a_known_set() {
        let values: Vec<u64> = (1..=100).map(|ms| ms * 1000).collect();
        let p = percentiles(&values);
        assert!((p.p50 - 50.0).abs() < 0.1, "{p:?}");
        assert!((p.p99 - 99.0).abs() < 0.1, "{p:?}");
        assert!((p.max - 100.0).abs() < 0.1, "{p:?}");
        assert_eq!(percentiles(&[]).max, 0.0);
    }
}
