//! `trctl serve` and `trctl trigger` end to end: the listener in-process on 127.0.0.1:0,
//! driven by the trigger code path, by raw requests, by random bodies, and by the binary.
//!
//! Not covered here: TaskRouter's routing engine calling the listener (the emulator has
//! no routing yet), and interop with Twilio's Python RequestValidator (tests/compat,
//! see tests/compat/README-serve.md).

use std::sync::Arc;
use std::time::Duration;

use crate::common;
use assert_cmd::Command;
use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use trctl::cli::cmd::trigger::{self, Plan};
use trctl::serve::callback::{Callback, CallbackKind};
use trctl::serve::instruction::{Instruction, RuleSet};
use trctl::serve::log::{LogRecord, LogSink, Verification};
use trctl::serve::reply::{self, ExecConfig, FixedReply, Mode};
use trctl::serve::{signature, RunningServer, ServeConfig};

const TOKEN: &str = "serve-test-token";
const SPANISH_RULES: &str =
    r#"[{"when":"task.selected_language == \"es\"","instruction":{"instruction":"accept"}}]"#;

fn config(mode: Mode) -> ServeConfig {
    ServeConfig {
        mode,
        auth_token: Some(trctl::api::Secret::new(TOKEN)),
        ..ServeConfig::default()
    }
}

async fn start(config: ServeConfig) -> RunningServer {
    trctl::serve::spawn(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

fn plan(server: &RunningServer, kind: CallbackKind) -> Plan {
    let path = match kind {
        CallbackKind::Assignment => "/assignment_callback",
        CallbackKind::Event => "/events",
    };
    Plan::new(kind, &format!("{}{path}", server.url), TOKEN)
}

async fn trigger_once(plan: &Plan) -> trigger::Exchange {
    let client = plan.client().unwrap();
    trigger::send_one(&client, plan).await.unwrap()
}

#[tokio::test]
async fn default_reply_is_an_empty_object() {
    let server = start(config(Mode::Empty)).await;
    let exchange = trigger_once(&plan(&server, CallbackKind::Assignment)).await;
    assert_eq!(exchange.status, 200);
    assert_eq!(exchange.content_type.as_deref(), Some("application/json"));
    assert_eq!(exchange.body, "{}");
    assert!(exchange.report.ok(), "{:?}", exchange.report);
    assert_eq!(exchange.report.instruction, None);
}

#[tokio::test]
async fn fixed_instruction_is_carried_out() {
    let mode = Mode::Fixed(FixedReply::new(Instruction::Accept));
    let server = start(config(mode)).await;
    let exchange = trigger_once(&plan(&server, CallbackKind::Assignment)).await;
    assert_eq!(exchange.body, r#"{"instruction":"accept"}"#);
    assert_eq!(exchange.report.instruction.as_deref(), Some("accept"));
}

#[tokio::test]
async fn rules_accept_spanish_tasks_and_answer_empty_for_others() {
    let rules = RuleSet::parse(SPANISH_RULES).unwrap();
    let server = start(config(Mode::Rules(rules))).await;
    let mut spanish = plan(&server, CallbackKind::Assignment);
    spanish.sample.task_attributes = r#"{"selected_language":"es"}"#.into();
    let exchange = trigger_once(&spanish).await;
    assert_eq!(exchange.body, r#"{"instruction":"accept"}"#);
    let mut english = plan(&server, CallbackKind::Assignment);
    english.sample.task_attributes = r#"{"selected_language":"en"}"#.into();
    assert_eq!(trigger_once(&english).await.body, "{}");
    let mut none = plan(&server, CallbackKind::Assignment);
    none.sample.task_attributes = "{}".into();
    assert_eq!(trigger_once(&none).await.body, "{}");
}

#[tokio::test]
async fn events_are_answered_204_whatever_the_mode() {
    let mode = Mode::Fixed(FixedReply::new(Instruction::Accept));
    let server = start(config(mode)).await;
    for event_type in [
        "reservation.created",
        "task.created",
        "worker.activity.update",
        "activity.created",
    ] {
        let mut plan = plan(&server, CallbackKind::Event);
        plan.event_type = event_type.into();
        let exchange = trigger_once(&plan).await;
        assert_eq!(exchange.status, 204, "{event_type}");
        assert_eq!(exchange.body, "");
        assert!(exchange.report.ok());
    }
}

/// A form body and its signature for `url`.
fn signed_form(url: &str, params: &[(&str, &str)]) -> (String, String) {
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params.iter().copied())
        .finish();
    (body, signature::sign(TOKEN, url, params.iter().copied()))
}

async fn post(
    url: &str,
    body: impl Into<reqwest::Body>,
    headers: &[(&str, &str)],
) -> (u16, String) {
    let mut request = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

#[tokio::test]
async fn unsigned_and_tampered_requests_get_403() {
    let (sink, mut records) = LogSink::channel(64);
    let server = start(ServeConfig {
        log: Some(sink),
        ..config(Mode::Empty)
    })
    .await;
    let url = format!("{}/assignment_callback", server.url);
    let params = [("TaskSid", "WT1"), ("TaskAttributes", r#"{"a":1}"#)];
    let (body, signature) = signed_form(&url, &params);
    assert_eq!(
        post(&url, body.clone(), &[("x-twilio-signature", &signature)])
            .await
            .0,
        200
    );
    let (status, text) = post(&url, body.clone(), &[]).await;
    assert_eq!(status, 403);
    assert!(text.contains("missing X-Twilio-Signature"), "{text}");
    let tampered = body.replace("WT1", "WT2");
    assert_eq!(
        post(&url, tampered, &[("x-twilio-signature", &signature)])
            .await
            .0,
        403
    );
    assert_eq!(
        post(&url, body, &[("x-twilio-signature", "AAAA")]).await.0,
        403
    );
    let verdicts: Vec<(u16, Verification)> = (0..4)
        .map(|_| {
            let record = records.try_recv().expect("a record per request");
            (record.status, record.verified)
        })
        .collect();
    assert_eq!(
        verdicts,
        [
            (200, Verification::Passed),
            (403, Verification::Failed),
            (403, Verification::Failed),
            (403, Verification::Failed)
        ]
    );
}

#[tokio::test]
async fn no_token_or_no_verify_skips_the_check() {
    for config in [
        ServeConfig::default(),
        ServeConfig {
            verify: false,
            ..config(Mode::Empty)
        },
    ] {
        let server = start(config).await;
        let (status, body) = post(
            &format!("{}/assignment_callback", server.url),
            "TaskSid=WT1",
            &[],
        )
        .await;
        assert_eq!((status, body.as_str()), (200, "{}"));
    }
}

#[tokio::test]
async fn public_url_is_the_signed_url() {
    let server = start(ServeConfig {
        public_url: Some("https://tunnel.example.test/".into()),
        ..config(Mode::Empty)
    })
    .await;
    let local = format!("{}/assignment_callback?ws=dev", server.url);
    let public = "https://tunnel.example.test/assignment_callback?ws=dev";
    let params = [("TaskSid", "WT1")];
    let (body, signature) = signed_form(public, &params);
    assert_eq!(
        post(&local, body.clone(), &[("x-twilio-signature", &signature)])
            .await
            .0,
        200
    );
    // The helper libraries' port variant: signed with :443 added is accepted too.
    let with_port = signature::sign(
        TOKEN,
        "https://tunnel.example.test:443/assignment_callback?ws=dev",
        params,
    );
    assert_eq!(
        post(&local, body.clone(), &[("x-twilio-signature", &with_port)])
            .await
            .0,
        200
    );
    // Signed for the local address: refused, because TaskRouter signs the public one.
    let (_, local_signature) = signed_form(&local, &params);
    assert_eq!(
        post(&local, body, &[("x-twilio-signature", &local_signature)])
            .await
            .0,
        403
    );
}

#[tokio::test]
async fn get_and_json_callbacks_are_verified_too() {
    let server = start(config(Mode::Fixed(FixedReply::new(Instruction::Accept)))).await;
    let client = reqwest::Client::new();
    let get_url = format!(
        "{}/assignment_callback?TaskSid=WT1&TaskAttributes=%7B%7D",
        server.url
    );
    let signature = signature::sign(TOKEN, &get_url, std::iter::empty());
    let response = client
        .get(&get_url)
        .header("x-twilio-signature", signature)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.text().await.unwrap(),
        r#"{"instruction":"accept"}"#
    );

    let body = r#"{"EventType":"task.created","TaskSid":"WT00000000000000000000000000000006"}"#;
    let json_url = format!(
        "{}/events?bodySHA256={}",
        server.url,
        signature::body_sha256_hex(body.as_bytes())
    );
    let signature = signature::sign(TOKEN, &json_url, std::iter::empty());
    let send = |body: &'static str, signature: String| {
        client
            .post(&json_url)
            .header("content-type", "application/json")
            .header("x-twilio-signature", signature)
            .body(body)
            .send()
    };
    assert_eq!(send(body, signature.clone()).await.unwrap().status(), 204);
    assert_eq!(
        send(r#"{"EventType":"task.deleted"}"#, signature)
            .await
            .unwrap()
            .status(),
        403
    );
}

/// twilio-node 3.40.0 and older post multipart: the listener decodes the parts into the
/// same parameters a form gives, checks the signature over them as over a form, and
/// the rules see the task's attributes.
#[tokio::test]
async fn multipart_callbacks_are_decoded_and_verified_like_forms() {
    let rules = RuleSet::parse(SPANISH_RULES).unwrap();
    let server = start(config(Mode::Rules(rules))).await;
    let url = format!("{}/assignment_callback", server.url);
    let params = [
        ("TaskSid", "WT00000000000000000000000000000001"),
        ("TaskAttributes", r#"{"selected_language":"es"}"#),
        ("ReservationSid", "WR00000000000000000000000000000001"),
    ];
    let (content_type, body) = common::multipart_body(&params);
    let client = reqwest::Client::new();
    let send = |body: String, signature: String| {
        client
            .post(&url)
            .header("content-type", &content_type)
            .header("x-twilio-signature", signature)
            .body(body)
            .send()
    };
    let signed = signature::sign(TOKEN, &url, params.iter().copied());
    let response = send(body.clone(), signed.clone()).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.text().await.unwrap(),
        r#"{"instruction":"accept"}"#
    );
    // The same signature over other parameters fails, as for a form.
    let mut tampered = params;
    tampered[1].1 = r#"{"selected_language":"en"}"#;
    let (_, tampered_body) = common::multipart_body(&tampered);
    assert_eq!(send(tampered_body, signed).await.unwrap().status(), 403);
    // A broken multipart body is a 400, not a signature failure.
    let cut = body[..body.len() - 10].to_string();
    let signature = signature::sign(TOKEN, &url, params.iter().copied());
    assert_eq!(send(cut, signature).await.unwrap().status(), 400);
}

#[tokio::test]
async fn refusals_oversized_malformed_unknown() {
    let server = start(ServeConfig::default()).await;
    let url = format!("{}/assignment_callback", server.url);
    let big = format!("TaskAttributes={}", "a".repeat(trctl::serve::MAX_BODY));
    assert_eq!(post(&url, big, &[]).await.0, 413);
    let just_fits = format!("A={}", "a".repeat(trctl::serve::MAX_BODY - 2));
    assert_eq!(post(&url, just_fits, &[]).await.0, 200);
    assert_eq!(post(&url, "TaskSid=%zz", &[]).await.0, 400);
    assert_eq!(post(&url, b"TaskSid=\xff".to_vec(), &[]).await.0, 400);
    let (status, body) = post(&format!("{}/nowhere", server.url), "", &[]).await;
    assert_eq!(status, 404);
    assert!(body.contains("/assignment_callback"), "{body}");
    let client = reqwest::Client::new();
    let put = client.put(&url).body("").send().await.unwrap();
    assert_eq!(put.status(), 405);
    let health = client
        .get(format!("{}/healthz", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let json = client
        .post(format!("{}/events", server.url))
        .header("content-type", "application/json")
        .body("[1,2")
        .send()
        .await
        .unwrap();
    assert_eq!(json.status(), 400);
}

#[tokio::test]
async fn random_bodies_never_get_a_5xx() {
    let rules = RuleSet::parse(SPANISH_RULES).unwrap();
    let verifying = start(config(Mode::Rules(rules.clone()))).await;
    let open = start(ServeConfig {
        mode: Mode::Rules(rules),
        ..ServeConfig::default()
    })
    .await;
    let client = reqwest::Client::new();
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x5e7e);
    let alphabet: &[u8] = b"=&%+abcXYZ019{}\":,[] \xff\xc3\xa9";
    let content_types = [
        "application/x-www-form-urlencoded",
        "application/json",
        "text/plain",
        "",
    ];
    for round in 0..300 {
        let length = rng.gen_range(0..200);
        let body: Vec<u8> = (0..length)
            .map(|_| alphabet[rng.gen_range(0..alphabet.len())])
            .collect();
        let server = if round % 2 == 0 { &verifying } else { &open };
        let path = ["/assignment_callback", "/events", "/x"][round % 3];
        let mut request = client
            .post(format!("{}{path}", server.url))
            .body(body.clone());
        let content_type = content_types[rng.gen_range(0..content_types.len())];
        if !content_type.is_empty() {
            request = request.header("content-type", content_type);
        }
        let status = request.send().await.unwrap().status();
        assert!(
            status.as_u16() < 500,
            "{status} for {path} {content_type} {:?}",
            String::from_utf8_lossy(&body)
        );
    }
    // Both listeners still answer.
    for server in [&verifying, &open] {
        let health = client
            .get(format!("{}/healthz", server.url))
            .send()
            .await
            .unwrap();
        assert_eq!(health.status(), 200);
    }
}

proptest! {
    /// Any bytes: decoding either fails cleanly or yields a callback the decision can
    /// answer, and an assignment always gets 200 with a JSON object.
    #[test]
    fn decode_and_decide_never_panic(body in proptest::collection::vec(any::<u8>(), 0..512), json in any::<bool>()) {
        let rules = RuleSet::parse(SPANISH_RULES).unwrap();
        let mode = Mode::Rules(rules);
        if let Ok(params) = trctl::serve::decode_body(&body, json) {
            let callback = Callback::new(CallbackKind::Assignment, params);
            match reply::decide(&mode, &callback) {
                reply::Decision::Reply { status, body, .. } => {
                    prop_assert_eq!(status, 200);
                    prop_assert!(serde_json::from_slice::<serde_json::Value>(&body).unwrap().is_object());
                }
                reply::Decision::Exec => prop_assert!(false, "exec outside exec mode"),
            }
        }
    }

    /// Whatever the parameters, a form encoded by the sender decodes to the same pairs
    /// and the sender's signature validates.
    #[test]
    fn encode_decode_sign_validate(params in proptest::collection::vec(("[A-Za-z]{1,8}", "\\PC{0,12}"), 0..8)) {
        let url = "https://trctl.example.test/cb?x=1";
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .finish();
        let decoded = trctl::serve::callback::decode_form(body.as_bytes()).unwrap();
        prop_assert_eq!(&decoded, &params);
        let pairs = decoded.iter().map(|(k, v)| (k.as_str(), v.as_str()));
        let signature = signature::sign(TOKEN, url, pairs.clone());
        prop_assert!(signature::validate_form(TOKEN, url, pairs, &signature));
    }
}

#[cfg(unix)]
#[tokio::test]
async fn exec_mode_replies_with_the_commands_output() {
    let exec = |command: &str, millis: u64| {
        Mode::Exec(ExecConfig {
            command: command.into(),
            timeout: Duration::from_millis(millis),
            max_running: trctl::serve::MAX_EXEC_CHILDREN,
        })
    };
    // The command sees the callback: answer accept only for Spanish tasks.
    let script = r#"if grep -q '"selected_language":"es"'; then echo '{"instruction":"accept"}'; else echo '{}'; fi"#;
    let (sink, mut records) = LogSink::channel(64);
    let server = start(ServeConfig {
        log: Some(sink),
        ..config(exec(script, 4000))
    })
    .await;
    let mut spanish = plan(&server, CallbackKind::Assignment);
    spanish.sample.task_attributes = r#"{"selected_language":"es"}"#.into();
    assert_eq!(
        trigger_once(&spanish).await.body,
        r#"{"instruction":"accept"}"#
    );
    assert_eq!(
        trigger_once(&plan(&server, CallbackKind::Assignment))
            .await
            .body,
        "{}"
    );

    let bad = start(ServeConfig {
        log: Some(LogSink::channel(1).0),
        ..config(exec("echo not-json", 4000))
    })
    .await;
    let exchange = trigger_once(&plan(&bad, CallbackKind::Assignment)).await;
    assert_eq!((exchange.status, exchange.body.as_str()), (200, "{}"));

    let slow = start(config(exec("sleep 3", 200))).await;
    let exchange = trigger_once(&plan(&slow, CallbackKind::Assignment)).await;
    assert_eq!(exchange.body, "{}");
    assert!(
        exchange.elapsed < Duration::from_secs(2),
        "{:?}",
        exchange.elapsed
    );

    let first: LogRecord = records.try_recv().unwrap();
    assert_eq!(first.task_attributes["selected_language"], "es");
    assert_eq!(first.verified, Verification::Passed);
    assert!(first
        .reservation
        .as_deref()
        .is_some_and(|sid| sid.starts_with("WR")));
}

#[cfg(unix)]
#[tokio::test]
async fn shutdown_finishes_in_flight_requests() {
    let mode = Mode::Exec(ExecConfig {
        command: r#"sleep 0.3; echo '{"instruction":"accept"}'"#.into(),
        timeout: Duration::from_secs(4),
        max_running: trctl::serve::MAX_EXEC_CHILDREN,
    });
    let server = start(config(mode)).await;
    let plan = Arc::new(plan(&server, CallbackKind::Assignment));
    let in_flight = {
        let plan = plan.clone();
        tokio::spawn(async move { trigger_once(&plan).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    server.stop().await;
    let exchange = in_flight.await.unwrap();
    assert_eq!(exchange.body, r#"{"instruction":"accept"}"#);
}

#[tokio::test]
async fn load_run_over_keep_alive_has_no_errors() {
    let server = start(config(Mode::Fixed(FixedReply::new(Instruction::Accept)))).await;
    let mut plan = plan(&server, CallbackKind::Assignment);
    plan.count = 300;
    plan.concurrency = 8;
    let report = trigger::load(Arc::new(plan)).await.unwrap();
    assert_eq!(
        (report.requests, report.passed, report.failed, report.errors),
        (300, 300, 0, 0),
        "{report:?}"
    );
    assert!(report.latency_ms.p50 <= report.latency_ms.p99);
    assert!(report.latency_ms.p99 <= report.latency_ms.max);
}

// ---- the binary ----

fn trctl(dir: &tempfile::TempDir) -> Command {
    let mut command = Command::cargo_bin("trctl").unwrap();
    command
        .env_clear()
        .env("HOME", dir.path())
        .current_dir(dir.path());
    command
}

#[test]
fn binary_trigger_load_against_in_process_serve() {
    let dir = tempfile::tempdir().unwrap();
    let serve =
        common::ServeThread::start(config(Mode::Fixed(FixedReply::new(Instruction::Accept))));
    let url = format!("{}/assignment_callback", serve.url);
    let output = trctl(&dir)
        .args([
            "--auth-token",
            TOKEN,
            "-o",
            "json",
            "trigger",
            "assignment",
            &url,
            "--count",
            "200",
            "--concurrency",
            "8",
        ])
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["requests"], 200);
    assert_eq!(report["passed"], 200);
    assert_eq!(report["errors"], 0);
    assert_eq!(report["failed"], 0);
    assert_eq!(report["ok"], true);

    // A wrong token: every reply is 403, which TaskRouter would not use: exit 1.
    trctl(&dir)
        .args([
            "--auth-token",
            "wrong",
            "trigger",
            "assignment",
            &url,
            "--count",
            "5",
        ])
        .assert()
        .code(1)
        .stdout(predicates::str::contains("failed 5"));
}

#[test]
fn binary_trigger_single_reply_and_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let rules = RuleSet::parse(SPANISH_RULES).unwrap();
    let serve = common::ServeThread::start(config(Mode::Rules(rules)));
    let url = format!("{}/assignment_callback", serve.url);
    trctl(&dir)
        .args([
            "--auth-token",
            TOKEN,
            "trigger",
            "assignment",
            &url,
            "--task-attributes",
            r#"{"selected_language":"es"}"#,
        ])
        .assert()
        .success()
        .stdout(predicates::str::contains(r#"{"instruction":"accept"}"#))
        .stdout(predicates::str::contains(
            "verdict: ok, TaskRouter would carry out `accept`",
        ));
    trctl(&dir)
        .args([
            "--auth-token",
            TOKEN,
            "trigger",
            "event",
            &format!("{}/events", serve.url),
            "-F",
            "EventType=task.created",
        ])
        .assert()
        .success()
        .stdout(predicates::str::contains("status 204"));
}

#[test]
fn binary_trigger_needs_a_token_and_a_listener() {
    let dir = tempfile::tempdir().unwrap();
    trctl(&dir)
        .args([
            "trigger",
            "assignment",
            "http://127.0.0.1:9/assignment_callback",
        ])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("TWILIO_AUTH_TOKEN"));
    // Port 9 (discard) on loopback: nothing listens, so no reply: exit 3.
    trctl(&dir)
        .args([
            "--auth-token",
            TOKEN,
            "trigger",
            "assignment",
            "http://127.0.0.1:9/assignment_callback",
        ])
        .assert()
        .code(3)
        .stderr(predicates::str::contains("cannot connect"));
}

#[test]
fn binary_serve_refuses_a_bad_rule_with_index_and_caret() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rules.json");
    std::fs::write(
        &path,
        r#"[{"when":"task.a == 1","instruction":{"instruction":"accept"}},
            {"when":"task.lang HAS","instruction":{"instruction":"accept"}}]"#,
    )
    .unwrap();
    let output = trctl(&dir)
        .args(["serve", "--port", "0", "--rules", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("rule 1: `when` does not parse"), "{stderr}");
    assert!(
        stderr.contains("1 | task.lang HAS\n  |              ^"),
        "{stderr}"
    );
    trctl(&dir)
        .args(["serve", "--instruction", "accept", "--exec", "cat"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("cannot be used with"));
}

/// The real binary: start `trctl serve --port 0`, read its URL, send a callback, stop it
/// with SIGTERM (by its PID) and check the NDJSON log and the clean exit.
#[cfg(unix)]
#[test]
fn binary_serve_logs_ndjson_and_stops_on_sigterm() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let log_file = dir.path().join("callbacks.ndjson");
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("trctl"))
        .env_clear()
        .env("HOME", dir.path())
        .env("TWILIO_AUTH_TOKEN", TOKEN)
        .current_dir(dir.path())
        .args([
            "serve",
            "--port",
            "0",
            "--log-json",
            "--log-file",
            log_file.to_str().unwrap(),
            "--instruction",
            "reject",
            "--activity",
            "WA00000000000000000000000000000011",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    let base = first.trim().rsplit(' ').next().unwrap().to_string();
    assert!(base.starts_with("http://127.0.0.1:"), "{first}");

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let plan = Plan::new(
        CallbackKind::Assignment,
        &format!("{base}/assignment_callback"),
        TOKEN,
    );
    let exchange = runtime.block_on(trigger_once(&plan));
    assert_eq!(
        exchange.body,
        r#"{"instruction":"reject","activity_sid":"WA00000000000000000000000000000011"}"#
    );

    let pid = child.id().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let line = stderr
        .lines()
        .find(|line| line.starts_with('{'))
        .expect("an NDJSON line");
    let record: serde_json::Value = serde_json::from_str(line).unwrap();
    assert_eq!(record["kind"], "assignment");
    assert_eq!(record["verified"], "passed");
    assert_eq!(record["reply"]["instruction"], "reject");
    assert!(!stderr.contains(TOKEN), "the token must never be printed");
    let file = std::fs::read_to_string(&log_file).unwrap();
    assert_eq!(file.lines().count(), 1);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(file.trim()).unwrap()["status"],
        200
    );
}

#[cfg(unix)]
#[tokio::test]
async fn exec_mode_under_concurrent_load() {
    let mode = Mode::Exec(ExecConfig {
        command: r#"cat >/dev/null; echo '{"instruction":"accept"}'"#.into(),
        timeout: Duration::from_secs(4),
        max_running: trctl::serve::MAX_EXEC_CHILDREN,
    });
    let server = start(config(mode)).await;
    let mut plan = plan(&server, CallbackKind::Assignment);
    plan.count = 100;
    plan.concurrency = 16;
    let report = trigger::load(Arc::new(plan)).await.unwrap();
    assert_eq!(
        (report.passed, report.failed, report.errors),
        (100, 0, 0),
        "{report:?}"
    );
}

/// Whether process group `pgid` is gone (`kill(-pgid, 0)` fails with ESRCH), waiting up
/// to 2 s for the kill to land and the processes to be reaped.
#[cfg(unix)]
fn group_gone(pgid: libc::pid_t) -> bool {
    let until = std::time::Instant::now() + Duration::from_secs(2);
    loop {
        // SAFETY: signal 0 only checks that the group exists.
        let alive = unsafe { libc::kill(-pgid, 0) } == 0
            || std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH);
        if !alive {
            return true;
        }
        if std::time::Instant::now() > until {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The process group ids the `--exec` commands wrote into `dir` (one file each, named
/// by the group id, `$$`).
#[cfg(unix)]
fn written_groups(dir: &std::path::Path) -> Vec<libc::pid_t> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
                .filter(|pgid: &libc::pid_t| *pgid > 1)
                .collect()
        })
        .unwrap_or_default()
}

/// Waits up to 10 s for `count` commands to have written their group id into `dir`.
#[cfg(unix)]
async fn wait_for_groups(dir: &std::path::Path, count: usize) -> Vec<libc::pid_t> {
    for _ in 0..500 {
        let groups = written_groups(dir);
        if groups.len() >= count {
            return groups;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("fewer than {count} --exec commands started");
}

/// On a failed assertion, kill the process groups the test started, so none lingers.
#[cfg(unix)]
struct KillGroupsOnPanic(Vec<libc::pid_t>);

#[cfg(unix)]
impl Drop for KillGroupsOnPanic {
    fn drop(&mut self) {
        if std::thread::panicking() {
            for pgid in &self.0 {
                // SAFETY: sends a signal to a group this test started.
                unsafe {
                    libc::killpg(*pgid, libc::SIGKILL);
                }
            }
        }
    }
}

/// Issue 13: with the bound reached, a callback is answered `{}` at once (it used to wait
/// for a slot), and the log says the bound was reached.
#[cfg(unix)]
#[tokio::test]
async fn exec_over_the_bound_is_answered_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let command = format!("echo > '{}'/$$; sleep 100", dir.path().display());
    let (sink, mut records) = LogSink::channel(64);
    let server = start(ServeConfig {
        log: Some(sink),
        ..config(Mode::Exec(ExecConfig {
            command,
            timeout: Duration::from_millis(2500),
            max_running: 2,
        }))
    })
    .await;
    let plan = Arc::new(plan(&server, CallbackKind::Assignment));
    let slow: Vec<_> = (0..2)
        .map(|_| {
            let plan = plan.clone();
            tokio::spawn(async move { trigger_once(&plan).await })
        })
        .collect();
    let groups = wait_for_groups(dir.path(), 2).await;
    let _cleanup = KillGroupsOnPanic(groups.clone());

    let over = trigger_once(&plan).await;
    assert_eq!((over.status, over.body.as_str()), (200, "{}"));
    assert!(
        over.elapsed < Duration::from_millis(1000),
        "{:?}",
        over.elapsed
    );
    let record: LogRecord = records.recv().await.unwrap();
    let error = record.error.unwrap_or_default();
    assert!(error.contains("bound of 2"), "{error}");
    // The third callback did not run the command.
    assert_eq!(written_groups(dir.path()).len(), 2);

    for exchange in slow {
        assert_eq!(exchange.await.unwrap().body, "{}");
    }
    for record in [records.recv().await.unwrap(), records.recv().await.unwrap()] {
        let error = record.error.unwrap_or_default();
        assert!(error.contains("process group was killed"), "{error}");
    }
    for pgid in groups {
        assert!(group_gone(pgid), "process group {pgid} survived");
    }
    // Slots are given back: a fourth callback runs the command again.
    let again = tokio::spawn({
        let plan = plan.clone();
        async move { trigger_once(&plan).await }
    });
    let groups = wait_for_groups(dir.path(), 3).await;
    let _cleanup = KillGroupsOnPanic(groups);
    assert_eq!(again.await.unwrap().body, "{}");
}

/// Issue 13 end to end: `trctl serve --exec` with a command that leaves a background
/// `sleep` and runs a foreground one; one callback, then SIGTERM. serve stops once the
/// time limit has ended the command, and nothing of its process group survives.
#[cfg(unix)]
#[test]
fn binary_serve_exec_leaves_no_process_behind() {
    use std::io::Read;
    let dir = tempfile::tempdir().unwrap();
    let groups = dir.path().join("groups");
    std::fs::create_dir(&groups).unwrap();
    let command = format!("sleep 100 & echo > '{}'/$$; sleep 100", groups.display());
    let mut server = common::ServerProcess::start_with(|child| {
        child
            .env("TWILIO_AUTH_TOKEN", TOKEN)
            .args(["serve", "--log-json", "--exec-timeout-ms", "1500"])
            .args(["--exec", &command])
            .stderr(std::process::Stdio::piped());
    });
    let mut stderr_pipe = server.child.stderr.take().unwrap();
    let stderr_reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr_pipe.read_to_string(&mut text);
        text
    });

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let plan = Plan::new(
        CallbackKind::Assignment,
        &format!("{}/assignment_callback", server.url),
        TOKEN,
    );
    let in_flight = runtime.spawn(async move { trigger_once(&plan).await });
    let started = runtime.block_on(wait_for_groups(&groups, 1));
    let _cleanup = KillGroupsOnPanic(started.clone());

    let stopping = std::time::Instant::now();
    server.terminate();
    let status = server
        .wait_for_exit(Duration::from_secs(10))
        .expect("serve still running 10 s after SIGTERM");
    assert!(status.success(), "{status:?}");
    assert!(
        stopping.elapsed() < Duration::from_secs(10),
        "{:?}",
        stopping.elapsed()
    );
    assert_eq!(runtime.block_on(in_flight).unwrap().body, "{}");
    for pgid in started {
        assert!(group_gone(pgid), "process group {pgid} survived serve");
    }
    let stderr = stderr_reader.join().unwrap();
    let line = stderr
        .lines()
        .find(|line| line.starts_with('{'))
        .expect("an NDJSON line");
    let record: serde_json::Value = serde_json::from_str(line).unwrap();
    assert!(
        record["error"]
            .as_str()
            .is_some_and(|error| error.contains("process group was killed")),
        "{record}"
    );
}

/// Issue 13's burst: concurrent callbacks against a slow command that also starts a
/// background child used to leave one orphan per running command. Now the ones within
/// the bound are killed as a group at the time limit and the rest never start.
#[cfg(unix)]
#[tokio::test]
async fn exec_burst_against_a_slow_command_leaves_no_orphan() {
    let dir = tempfile::tempdir().unwrap();
    let command = format!(
        "sleep 100 & echo > '{}'/$$; sleep 100",
        dir.path().display()
    );
    let server = start(config(Mode::Exec(ExecConfig {
        command,
        timeout: Duration::from_millis(1500),
        max_running: 6,
    })))
    .await;
    let plan = Arc::new(plan(&server, CallbackKind::Assignment));
    let burst: Vec<_> = (0..20)
        .map(|_| {
            let plan = plan.clone();
            tokio::spawn(async move { trigger_once(&plan).await })
        })
        .collect();
    for exchange in burst {
        assert_eq!(exchange.await.unwrap().body, "{}");
    }
    let groups = written_groups(dir.path());
    let _cleanup = KillGroupsOnPanic(groups.clone());
    assert!(
        !groups.is_empty() && groups.len() <= 6,
        "{} commands ran",
        groups.len()
    );
    for pgid in groups {
        assert!(group_gone(pgid), "process group {pgid} survived");
    }
}

/// An app answering every request with 200 and a JSON body of `size` bytes.
async fn oversized_app(size: usize) -> String {
    let body = format!(r#"{{"instruction":"accept","pad":"{}"}}"#, "x".repeat(size));
    let app = axum::Router::new().fallback(move || {
        let body = body.clone();
        async move { ([("content-type", "application/json")], body) }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{address}/assignment_callback")
}

#[tokio::test]
async fn trigger_caps_the_reply_and_fails_an_oversized_one() {
    let url = oversized_app(trctl::serve::callback::MAX_REPLY).await;
    let plan = Plan::new(CallbackKind::Assignment, &url, TOKEN);
    let exchange = trigger_once(&plan).await;
    assert_eq!(exchange.status, 200);
    assert_eq!(exchange.body, "", "an oversized body is not kept");
    let failure = exchange.report.first_failure().expect("a failed check");
    assert_eq!(failure.check, "size");
    assert_eq!(exchange.report.instruction, None);

    let load = trigger::load(Arc::new(Plan {
        count: 20,
        concurrency: 4,
        ..plan
    }))
    .await
    .unwrap();
    assert_eq!((load.requests, load.failed, load.errors), (20, 20, 0));

    // Under the cap the same reply is read and judged.
    let url = oversized_app(100).await;
    let exchange = trigger_once(&Plan::new(CallbackKind::Assignment, &url, TOKEN)).await;
    assert!(exchange.report.ok(), "{:?}", exchange.report);
    assert_eq!(exchange.report.instruction.as_deref(), Some("accept"));
}
