//! The library client's cross-cutting rules: Retry-After, paging limits, error decoding.

mod common;

use std::time::{Duration, Instant};

use common::{Recorder, Reply};
use serde_json::json;
use trctl::api::resources::ListTaskParams;
use trctl::api::{Client, Credentials, Error, RetryPolicy, Secret};

fn client_with(url: &str, retry: RetryPolicy) -> Client {
    Client::builder(Credentials {
        username: common::ACCOUNT.into(),
        password: Secret::new(common::TOKEN),
    })
    .base_url(url)
    .retry(retry)
    .build()
    .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn retry_after_is_honoured() {
    let recorder = Recorder::sequence(vec![
        Reply::json(
            429,
            &json!({"code": 20429, "message": "slow down", "status": 429}),
        )
        .with_header("Retry-After", "1"),
        Reply::json(
            200,
            &json!({"tasks": [], "meta": {"key": "tasks", "next_page_url": null}}),
        ),
    ]);
    let retry = RetryPolicy {
        base_delay: Duration::ZERO,
        ..RetryPolicy::default()
    };
    let client = client_with(&recorder.url, retry);
    let started = Instant::now();
    let page = client
        .list_task(common::WORKSPACE, &ListTaskParams::default())
        .await
        .unwrap();
    assert!(page.items.is_empty());
    assert_eq!(recorder.count(), 2);
    // Without Retry-After the zero base delay would retry at once.
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn errors_are_typed() {
    let recorder = Recorder::always(Reply::json(
        400,
        &json!({"code": 20001, "message": "Invalid PageSize.", "more_info": "https://www.twilio.com/docs/errors/20001", "status": 400}),
    ));
    let client = common::client(&recorder.url);
    let error = client
        .list_task(common::WORKSPACE, &ListTaskParams::default())
        .await
        .unwrap_err();
    let Error::Api(body) = &error else {
        panic!("expected an API error, got {error:?}")
    };
    assert_eq!(
        (body.status, body.code, body.message.as_str()),
        (400, 20001, "Invalid PageSize.")
    );
    assert_eq!(
        error.api().unwrap().more_info.as_deref(),
        Some("https://www.twilio.com/docs/errors/20001")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_body_that_is_not_the_spec_json_is_a_decode_error() {
    let recorder = Recorder::always(Reply::json(200, &json!({"sid": 5})));
    let client = common::client(&recorder.url);
    let error = client
        .fetch_task(common::WORKSPACE, "WT0123456789abcdef0123456789abcdef")
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Decode { .. }), "{error:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn next_page_urls_to_another_host_are_not_followed() {
    let recorder = Recorder::always(Reply::json(
        200,
        &json!({"tasks": [{"sid": "WT1"}], "meta": {"key": "tasks", "next_page_url": "https://elsewhere.example.test/v1/Workspaces/WS/Tasks?PageToken=PA1"}}),
    ));
    let client = common::client(&recorder.url);
    let first = client
        .list_task(common::WORKSPACE, &ListTaskParams::default())
        .await
        .unwrap();
    let error = client.collect(first, None).await.unwrap_err();
    assert!(matches!(error, Error::Url { .. }), "{error:?}");
    assert_eq!(recorder.count(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn list_parameters_are_sent_in_the_query() {
    let recorder = Recorder::always(Reply::json(
        200,
        &json!({"tasks": [], "meta": {"key": "tasks", "next_page_url": null}}),
    ));
    let client = common::client(&recorder.url);
    let params = ListTaskParams {
        assignment_status: vec!["pending".into(), "reserved".into()],
        has_addons: Some(true),
        priority: Some(3),
        page_size: Some(20),
        ..Default::default()
    };
    client.list_task(common::WORKSPACE, &params).await.unwrap();
    let request = recorder.last();
    let expected: Vec<(String, String)> = [
        ("Priority", "3"),
        ("AssignmentStatus", "pending"),
        ("AssignmentStatus", "reserved"),
        ("HasAddons", "true"),
        ("PageSize", "20"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(request.query, expected);
    assert!(request
        .headers
        .get("accept")
        .is_some_and(|v| v.contains("application/json")));
}
