//! The signed-callback sender: what TaskRouter does when it calls an app, done once for
//! the emulator's runner (assignment and event callbacks) and `trctl trigger` (single
//! and load runs).
//!
//! A send signs the parameters ([`super::signature::sign`], WIRE.md §4), form-encodes
//! them, POSTs them with `X-Twilio-Signature`, and reads at most `max_reply` bytes of
//! the answer, all within one time limit. It does not judge the answer (that is
//! [`super::reply::judge`]), retry, or call a fallback URL: callers decide. The auth token
//! only signs; it is never part of an error or a log line.

use std::fmt;
use std::time::{Duration, Instant};

use super::signature;

/// A callback URL parsed once (a load run sends thousands of callbacks to it).
#[derive(Debug, Clone)]
pub struct Target {
    /// What is requested: the URL without its fragment.
    url: reqwest::Url,
    /// What is signed: the URL as configured, fragment removed. The fragment carries
    /// connection overrides, is never sent, and so is not signed (WIRE.md §4.7,
    /// unconfirmed).
    signed: String,
}

impl Target {
    /// Parse `url`; the error names it with any credentials hidden.
    pub fn parse(url: &str) -> Result<Target, String> {
        let signed = url.split('#').next().unwrap_or(url).to_string();
        let parsed = reqwest::Url::parse(&signed)
            .map_err(|err| format!("{}: {err}", crate::api::redact_url(url)))?;
        Ok(Target {
            url: parsed,
            signed,
        })
    }

    /// The URL as signed (fragment removed).
    pub fn as_str(&self) -> &str {
        &self.signed
    }
}

/// The limits of one send.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// From the start of the request to the last byte of the answer.
    pub timeout: Duration,
    /// Most answer bytes read.
    pub max_reply: usize,
}

/// An answer that arrived in time and within the size cap.
#[derive(Debug, Clone)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// `Content-Type` as received.
    pub content_type: Option<String>,
    /// The body.
    pub body: Vec<u8>,
    /// From the start of the request to the last body byte.
    pub elapsed: Duration,
}

/// Why a send has no usable answer. The texts are what `trctl emulator` prints in its
/// notices ("… failed (no answer within 5 s)").
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendError {
    /// No complete answer within the time limit.
    Timeout(Duration),
    /// The connection was refused or the host could not be reached.
    Unreachable,
    /// The answer is larger than the cap; its head arrived.
    TooLarge {
        /// HTTP status of the answer.
        status: u16,
        /// The cap.
        limit: usize,
        /// Until the cap was found exceeded.
        elapsed: Duration,
    },
    /// The connection broke while the body was read.
    CutShort,
    /// Anything else, described without the URL.
    Other(String),
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::Timeout(limit) if limit.subsec_millis() == 0 => {
                write!(f, "no answer within {} s", limit.as_secs())
            }
            SendError::Timeout(limit) => write!(f, "no answer within {} ms", limit.as_millis()),
            SendError::Unreachable => f.write_str("connection refused or unreachable"),
            SendError::TooLarge { limit, .. } => write!(f, "a reply over {limit} bytes"),
            SendError::CutShort => f.write_str("the reply was cut short"),
            SendError::Other(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for SendError {}

/// Sign `params` with `token`, POST them to `target`, and read the answer.
pub async fn send(
    http: &reqwest::Client,
    token: &str,
    target: &Target,
    params: &[(String, String)],
    limits: Limits,
) -> Result<Answer, SendError> {
    let pairs = params.iter().map(|(k, v)| (k.as_str(), v.as_str()));
    let signature = signature::sign(token, &target.signed, pairs.clone());
    let body = url::form_urlencoded::Serializer::new(String::with_capacity(1024))
        .extend_pairs(pairs)
        .finish();
    let started = Instant::now();
    let deadline = tokio::time::Instant::now() + limits.timeout;
    let request = http
        .post(target.url.clone())
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .header("X-Twilio-Signature", signature)
        .timeout(limits.timeout)
        .body(body)
        .send();
    let response = match tokio::time::timeout_at(deadline, request).await {
        Err(_) => return Err(SendError::Timeout(limits.timeout)),
        Ok(Err(err)) if err.is_timeout() => return Err(SendError::Timeout(limits.timeout)),
        Ok(Err(err)) if err.is_connect() => return Err(SendError::Unreachable),
        Ok(Err(err)) => {
            return Err(SendError::Other(crate::api::error_chain(
                &err.without_url(),
            )))
        }
        Ok(Ok(response)) => response,
    };
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let body = match tokio::time::timeout_at(
        deadline,
        crate::api::read_capped(response, limits.max_reply),
    )
    .await
    {
        Err(_) => return Err(SendError::Timeout(limits.timeout)),
        Ok(Err(crate::api::BodyError::TooLarge)) => {
            return Err(SendError::TooLarge {
                status,
                limit: limits.max_reply,
                elapsed: started.elapsed(),
            })
        }
        Ok(Err(crate::api::BodyError::Read(err))) if err.is_timeout() => {
            return Err(SendError::Timeout(limits.timeout))
        }
        Ok(Err(crate::api::BodyError::Read(_))) => return Err(SendError::CutShort),
        Ok(Ok(body)) => body,
    };
    Ok(Answer {
        status,
        content_type,
        body,
        elapsed: started.elapsed(),
    })
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use axum::http::HeaderMap;

    use super::*;
    use crate::serve::callback::decode_form;

    const TOKEN: &str = "0123456789abcdef0123456789abcdef";

    /// What the recording server saw of one request.
    #[derive(Debug, Clone)]
    struct Seen {
        path_and_query: String,
        signature: Option<String>,
        content_type: Option<String>,
        body: Vec<u8>,
    }

    /// A server on 127.0.0.1:0 that records each request and answers with `reply`
    /// (status, body) after `delay`. It stops when the test's runtime ends.
    async fn recording_server(
        status: u16,
        reply: Vec<u8>,
        delay: Duration,
    ) -> (String, Arc<Mutex<Vec<Seen>>>) {
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let record = seen.clone();
        let app = axum::Router::new().fallback(
            move |uri: axum::http::Uri, headers: HeaderMap, body: axum::body::Bytes| {
                let record = record.clone();
                let reply = reply.clone();
                async move {
                    let header = |name: &str| {
                        headers
                            .get(name)
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_owned)
                    };
                    record.lock().unwrap().push(Seen {
                        path_and_query: uri
                            .path_and_query()
                            .map(|p| p.as_str().to_owned())
                            .unwrap_or_default(),
                        signature: header("x-twilio-signature"),
                        content_type: header("content-type"),
                        body: body.to_vec(),
                    });
                    tokio::time::sleep(delay).await;
                    (
                        axum::http::StatusCode::from_u16(status).unwrap(),
                        [("content-type", "application/json")],
                        reply,
                    )
                }
            },
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        (format!("http://{address}"), seen)
    }

    fn params() -> Vec<(String, String)> {
        vec![
            ("TaskAttributes".into(), r#"{"note":"a b+c&d"}"#.into()),
            ("Tag".into(), "beta".into()),
            ("Tag".into(), "alpha".into()),
        ]
    }

    const LIMITS: Limits = Limits {
        timeout: Duration::from_secs(5),
        max_reply: 64,
    };

    #[tokio::test]
    async fn sends_a_signed_form_and_reads_the_answer() {
        let (base, seen) =
            recording_server(200, br#"{"instruction":"accept"}"#.to_vec(), Duration::ZERO).await;
        let url = format!("{base}/hooks/assignment?ws=dev#ct=2000");
        let target = Target::parse(&url).unwrap();
        assert_eq!(target.as_str(), format!("{base}/hooks/assignment?ws=dev"));
        let http = reqwest::Client::new();
        let answer = send(&http, TOKEN, &target, &params(), LIMITS)
            .await
            .unwrap();
        assert_eq!(answer.status, 200);
        assert_eq!(answer.content_type.as_deref(), Some("application/json"));
        assert_eq!(answer.body, br#"{"instruction":"accept"}"#);

        let seen = seen.lock().unwrap().clone();
        assert_eq!(seen.len(), 1);
        let request = &seen[0];
        assert_eq!(request.path_and_query, "/hooks/assignment?ws=dev");
        assert_eq!(
            request.content_type.as_deref(),
            Some("application/x-www-form-urlencoded")
        );
        let decoded = decode_form(&request.body).unwrap();
        assert_eq!(decoded, params());
        let signature = request.signature.as_deref().unwrap();
        let pairs = || decoded.iter().map(|(k, v)| (k.as_str(), v.as_str()));
        assert!(signature::validate_form(
            TOKEN,
            target.as_str(),
            pairs(),
            signature
        ));
        assert!(!signature::validate_form(
            "another token, not the signer's",
            target.as_str(),
            pairs(),
            signature
        ));
    }

    #[tokio::test]
    async fn a_reply_over_the_cap_is_not_read() {
        let (base, _) = recording_server(200, vec![b' '; 65], Duration::ZERO).await;
        let target = Target::parse(&base).unwrap();
        let http = reqwest::Client::new();
        let err = send(&http, TOKEN, &target, &params(), LIMITS)
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                SendError::TooLarge {
                    status: 200,
                    limit: 64,
                    ..
                }
            ),
            "{err:?}"
        );
        assert_eq!(err.to_string(), "a reply over 64 bytes");
        // Exactly at the cap is fine.
        let (base, _) = recording_server(200, vec![b' '; 64], Duration::ZERO).await;
        let target = Target::parse(&base).unwrap();
        let answer = send(&http, TOKEN, &target, &params(), LIMITS)
            .await
            .unwrap();
        assert_eq!(answer.body.len(), 64);
    }

    #[tokio::test]
    async fn a_slow_answer_times_out() {
        let (base, seen) = recording_server(200, b"{}".to_vec(), Duration::from_secs(30)).await;
        let target = Target::parse(&base).unwrap();
        let http = reqwest::Client::new();
        let limits = Limits {
            timeout: Duration::from_millis(200),
            ..LIMITS
        };
        let started = Instant::now();
        let err = send(&http, TOKEN, &target, &params(), limits)
            .await
            .unwrap_err();
        assert_eq!(err, SendError::Timeout(limits.timeout));
        assert_eq!(err.to_string(), "no answer within 200 ms");
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(seen.lock().unwrap().len(), 1);
        let err = SendError::Timeout(Duration::from_secs(15));
        assert_eq!(err.to_string(), "no answer within 15 s");
    }

    #[tokio::test]
    async fn a_closed_port_is_unreachable() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        drop(listener);
        let target = Target::parse(&format!("http://{address}/x")).unwrap();
        let err = send(&reqwest::Client::new(), TOKEN, &target, &params(), LIMITS)
            .await
            .unwrap_err();
        assert_eq!(err, SendError::Unreachable);
        assert_eq!(err.to_string(), "connection refused or unreachable");
        assert!(Target::parse("not a url").is_err());
    }
}
