//! `multipart/form-data` request bodies (what twilio-node 3.40.0 and older send) over
//! HTTP: the emulator decodes them into the same parameters as a form body, with the
//! same size limit, and refuses broken ones with Twilio's error body.

use crate::common::{multipart_body, EmulatorThread, EMULATOR_ACCOUNT, EMULATOR_TOKEN};
use serde_json::Value;

/// POST `body` with `content_type` to the emulator and return status and JSON body.
async fn post(url: &str, content_type: &str, body: impl Into<reqwest::Body>) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(url)
        .basic_auth(EMULATOR_ACCOUNT, Some(EMULATOR_TOKEN))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body)
}

async fn post_multipart(url: &str, params: &[(&str, &str)]) -> (u16, Value) {
    let (content_type, body) = multipart_body(params);
    post(url, &content_type, body).await
}

async fn post_form(url: &str, params: &[(&str, &str)]) -> (u16, Value) {
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params.iter().copied())
        .finish();
    post(url, "application/x-www-form-urlencoded", body).await
}

/// The fields of a response that do not depend on SIDs or times.
fn stable(mut body: Value) -> Value {
    if let Some(map) = body.as_object_mut() {
        for key in [
            "sid",
            "url",
            "links",
            "date_created",
            "date_updated",
            "date_status_changed",
        ] {
            map.remove(key);
        }
    }
    body
}

#[tokio::test(flavor = "multi_thread")]
async fn multipart_bodies_give_the_same_resources_as_forms() {
    let emulator = EmulatorThread::start();
    let base = format!("{}/v1", emulator.url);
    let (status, ws) = post_multipart(
        &format!("{base}/Workspaces"),
        &[("FriendlyName", "multi & part = ok")],
    )
    .await;
    assert_eq!(status, 201, "{ws}");
    assert_eq!(ws["friendly_name"], "multi & part = ok");
    let ws = ws["sid"].as_str().unwrap().to_string();

    // A worker with JSON attributes (quotes, newline, non-ASCII) and an activity.
    let attributes = "{\"skills\": [\"es\", \"en\"],\n \"name\": \"Zoë\"}";
    let worker_params = [("FriendlyName", "alice"), ("Attributes", attributes)];
    let (status, by_multipart) =
        post_multipart(&format!("{base}/Workspaces/{ws}/Workers"), &worker_params).await;
    assert_eq!(status, 201, "{by_multipart}");
    let worker_params = [("FriendlyName", "bob"), ("Attributes", attributes)];
    let (status, by_form) =
        post_form(&format!("{base}/Workspaces/{ws}/Workers"), &worker_params).await;
    assert_eq!(status, 201, "{by_form}");
    let (mut a, mut b) = (stable(by_multipart.clone()), stable(by_form));
    a["friendly_name"] = Value::Null;
    b["friendly_name"] = Value::Null;
    assert_eq!(a, b, "the same parameters make the same worker");
    assert_eq!(by_multipart["attributes"], attributes);

    // An update through multipart changes what it names and nothing else.
    let worker = by_multipart["sid"].as_str().unwrap();
    let (status, updated) = post_multipart(
        &format!("{base}/Workspaces/{ws}/Workers/{worker}"),
        &[("FriendlyName", "alice two")],
    )
    .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["friendly_name"], "alice two");
    assert_eq!(updated["attributes"], attributes);

    // Repeated fields are repeated keys: whichever one a form's decoding keeps, the
    // multipart decoding keeps the one in the same place.
    let queues = format!("{base}/Workspaces/{ws}/TaskQueues");
    let (form_status, form_body) = post_form(
        &queues,
        &[("FriendlyName", "form 1"), ("FriendlyName", "form 2")],
    )
    .await;
    let (multi_status, multi_body) = post_multipart(
        &queues,
        &[("FriendlyName", "multi 1"), ("FriendlyName", "multi 2")],
    )
    .await;
    assert_eq!(multi_status, form_status, "{multi_body} vs {form_body}");
    let kept = |body: &Value, prefix: &str| {
        body["friendly_name"]
            .as_str()
            .and_then(|name| name.strip_prefix(prefix))
            .map(str::to_string)
    };
    assert!(kept(&form_body, "form ").is_some(), "{form_body}");
    assert_eq!(kept(&multi_body, "multi "), kept(&form_body, "form "));

    // Parameter errors are the same as for a form.
    let workers = format!("{base}/Workspaces/{ws}/Workers");
    let bad = [("FriendlyName", "carol"), ("Attributes", "not-json")];
    let (status, body) = post_multipart(&workers, &bad).await;
    assert_eq!((status, body.clone()), post_form(&workers, &bad).await);
    assert_eq!((status, body["code"].as_i64()), (400, Some(20001)));
    assert!(
        body["message"].as_str().unwrap().contains("Attributes"),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn broken_multipart_gets_400_with_twilios_error_body() {
    let emulator = EmulatorThread::start();
    let url = format!("{}/v1/Workspaces", emulator.url);
    let (_, good) = multipart_body(&[("FriendlyName", "x")]);
    let cut = good[..good.len() - 20].to_string();
    let cases: [(&str, String); 3] = [
        ("multipart/form-data", good.clone()),
        (
            "multipart/form-data; boundary=--------------------------trctl0123456789",
            cut,
        ),
        (
            "multipart/form-data; boundary=--------------------------trctl0123456789",
            "----------------------------trctl0123456789\r\nContent-Disposition: form-data\r\n\r\nx\r\n----------------------------trctl0123456789--\r\n".to_string(),
        ),
    ];
    for (index, (content_type, body)) in cases.into_iter().enumerate() {
        let (status, error) = post(&url, content_type, body).await;
        assert_eq!(status, 400, "case {index}: {error}");
        assert_eq!(error["code"], 20001, "{error}");
        assert_eq!(error["status"], 400, "{error}");
        assert_eq!(
            error["more_info"], "https://www.twilio.com/docs/errors/20001",
            "{error}"
        );
        assert!(
            error["message"].as_str().unwrap().contains("multipart"),
            "{error}"
        );
    }
    // Nothing was created.
    let list: Value = reqwest::Client::new()
        .get(&url)
        .basic_auth(EMULATOR_ACCOUNT, Some(EMULATOR_TOKEN))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        list["workspaces"].as_array().map(Vec::len),
        Some(0),
        "{list}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn multipart_bodies_have_the_form_size_limit() {
    let emulator = EmulatorThread::start();
    let url = format!("{}/v1/Workspaces", emulator.url);
    let big = "x".repeat(trctl::emulator::http::MAX_REQUEST_BODY);
    let (status, error) = post_multipart(&url, &[("FriendlyName", &big)]).await;
    assert_eq!(
        (status, error["code"].as_i64()),
        (413, Some(413)),
        "{error}"
    );
}
