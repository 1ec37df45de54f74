//! The library client's cross-cutting rules: Retry-After, paging limits, error decoding.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::{self, hostile_body_server, Recorder, Reply};
use serde_json::json;
use trctl::api::resources::{CreateTaskParams, ListTaskParams};
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

/// A base server answering every request with `status` and a `Location`: either
/// `foreign` (a hop that changes origin) or its own `/v1/hop1`, which in turn sends the
/// client on to `foreign` (a same-origin hop first).
fn redirecting(status: u16, foreign: String, same_origin_first: bool) -> Recorder {
    Recorder::start(Arc::new(move |request, _, _| {
        let location = if same_origin_first && !request.path.starts_with("/v1/hop") {
            "/v1/hop1".to_string()
        } else {
            format!("{foreign}/v1/hop2?PageToken=secret-looking")
        };
        Reply::empty(status).with_header("Location", &location)
    }))
}

#[tokio::test(flavor = "multi_thread")]
async fn redirects_are_errors_and_nothing_reaches_the_location() {
    let foreign = Recorder::always(Reply::json(
        201,
        &json!({"sid": "WT0123456789abcdef0123456789abcdef"}),
    ));
    for status in [301, 302, 303, 307, 308] {
        for same_origin_first in [false, true] {
            let base = redirecting(status, foreign.url.clone(), same_origin_first);
            let client = common::client(&base.url);
            let get = client
                .fetch_task(common::WORKSPACE, "WT0123456789abcdef0123456789abcdef")
                .await
                .unwrap_err();
            let post = client
                .create_task(
                    common::WORKSPACE,
                    &CreateTaskParams {
                        attributes: Some("{\"secret\":\"body\"}".into()),
                        ..CreateTaskParams::default()
                    },
                )
                .await
                .unwrap_err();
            for error in [get, post] {
                let Error::Redirect {
                    status: seen,
                    location,
                    ..
                } = &error
                else {
                    panic!("expected a redirect error, got {error:?}")
                };
                assert_eq!(*seen, status);
                let location = location.clone().unwrap_or_default();
                assert!(!location.contains("PageToken"), "{location}");
                assert!(error.to_string().contains(&status.to_string()), "{error}");
            }
            // One request per call reached the base: the hop was not followed either.
            assert_eq!(base.count(), 2, "{status} same-origin={same_origin_first}");
        }
    }
    assert_eq!(foreign.count(), 0, "the foreign host saw a request");
}

#[tokio::test(flavor = "multi_thread")]
async fn absolute_urls_to_another_origin_are_refused_before_sending() {
    let base = Recorder::always(Reply::json(200, &json!({})));
    let foreign = Recorder::always(Reply::json(200, &json!({})));
    let client = common::client(&base.url);
    let error = client
        .send(
            reqwest::Method::GET,
            &format!("{}/v1/Workspaces", foreign.url),
            &[],
            &trctl::api::RequestBody::None,
            None,
        )
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Url { .. }), "{error:?}");
    assert_eq!((base.count(), foreign.count()), (0, 0));
}

#[tokio::test(flavor = "multi_thread")]
async fn oversized_bodies_fail_cleanly() {
    let endless = hostile_body_server(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n",
        true,
    );
    let declared = hostile_body_server(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2147483648\r\n\r\n",
        false,
    );
    for url in [endless, declared] {
        let client = Client::builder(Credentials {
            username: common::ACCOUNT.into(),
            password: Secret::new(common::TOKEN),
        })
        .base_url(&url)
        .max_body(4 * 1024 * 1024)
        .build()
        .unwrap();
        let error = client
            .fetch_task(common::WORKSPACE, "WT0123456789abcdef0123456789abcdef")
            .await
            .unwrap_err();
        assert!(
            matches!(error, Error::TooLarge { limit, .. } if limit == 4 * 1024 * 1024),
            "{error:?}"
        );
        assert!(error.to_string().contains("larger than"), "{error}");
    }
}
