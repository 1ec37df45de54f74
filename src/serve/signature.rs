//! `X-Twilio-Signature`: compute and check it (WIRE.md §4).
//!
//! Pure functions over strings and bytes: no HTTP types, no clock, no allocation beyond
//! the string to sign. The listener calls [`validate_form`] or [`validate_json`]; `trctl
//! trigger` calls [`sign`]. This module does not decide which URL a request was sent to
//! (the listener does, from `--public-url` or the `Host` header) and does not decode
//! forms (see [`super::callback`]).

use base64::Engine;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Name of the header Twilio puts the signature in.
pub const HEADER: &str = "x-twilio-signature";

/// Name of the query parameter carrying the body hash of JSON callbacks (WIRE.md §4.3).
pub const BODY_SHA256_PARAM: &str = "bodySHA256";

/// The string Twilio signs: the URL as given, then `name` + `value` for each decoded
/// parameter, sorted by name then value, each distinct pair once (WIRE.md §4.1, §4.2).
///
/// Sorting is by bytes, which for UTF-8 is code-point order, as §4.1 asks.
pub fn string_to_sign<'a>(
    url: &str,
    params: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> String {
    let mut pairs: Vec<(&str, &str)> = params.into_iter().collect();
    pairs.sort_unstable();
    // §4.2: a repeated name contributes each of its distinct values once.
    pairs.dedup();
    let extra: usize = pairs
        .iter()
        .map(|(name, value)| name.len() + value.len())
        .sum();
    let mut text = String::with_capacity(url.len() + extra);
    text.push_str(url);
    for (name, value) in pairs {
        text.push_str(name);
        text.push_str(value);
    }
    text
}

/// The raw HMAC-SHA1 digest of `text` keyed with the auth token.
fn digest(auth_token: &[u8], text: &str) -> [u8; 20] {
    // HMAC accepts keys of any length, so `new_from_slice` cannot fail here.
    let mut mac = match Hmac::<Sha1>::new_from_slice(auth_token) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC takes keys of any length"),
    };
    mac.update(text.as_bytes());
    mac.finalize().into_bytes().into()
}

/// The `X-Twilio-Signature` value for a request to `url` carrying `params` (pass no
/// parameters for GET requests and JSON bodies).
pub fn sign<'a>(
    auth_token: &str,
    url: &str,
    params: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> String {
    let text = string_to_sign(url, params);
    base64::engine::general_purpose::STANDARD.encode(digest(auth_token.as_bytes(), &text))
}

/// Lowercase hex SHA-256 of a body, as JSON callbacks carry it in `bodySHA256`.
pub fn body_sha256_hex(body: &[u8]) -> String {
    let hash = Sha256::digest(body);
    let mut hex = String::with_capacity(64);
    for byte in hash {
        hex.push(char::from(HEX[usize::from(byte >> 4)]));
        hex.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    hex
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Byte comparison whose time does not depend on where the inputs differ (WIRE.md §4.4).
/// Lengths are not secret: base64 signatures are always 28 characters.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// Check a form-encoded (or GET) request: the signature must match `url` either without
/// an explicit port or with the scheme's default port added, like the helper libraries
/// (WIRE.md §4.4). `params` are the decoded body parameters (none for GET).
pub fn validate_form<'a>(
    auth_token: &str,
    url: &str,
    params: impl IntoIterator<Item = (&'a str, &'a str)> + Clone,
    signature: &str,
) -> bool {
    let matches = |candidate: &str| {
        let expected = sign(auth_token, candidate, params.clone());
        constant_time_eq(expected.as_bytes(), signature.as_bytes())
    };
    // The URL as given is one of the two variants; try it first, since senders usually
    // sign what they call, and compute the other one only when needed.
    if matches(url) {
        return true;
    }
    let [without, with] = url_variants(url);
    let other = if with == url { without } else { with };
    other != url && matches(&other)
}

/// Check a JSON-body request (WIRE.md §4.3): the URL's `bodySHA256` must be the body's
/// hash, and the signature must match the URL alone (with the same port variants as
/// [`validate_form`]). A URL without `bodySHA256` fails.
pub fn validate_json(auth_token: &str, url: &str, body: &[u8], signature: &str) -> bool {
    let Some(claimed) = query_value(url, BODY_SHA256_PARAM) else {
        return false;
    };
    let actual = body_sha256_hex(body);
    // Evaluate both halves so the time taken does not reveal which one failed.
    let hash_ok = constant_time_eq(claimed.as_bytes(), actual.as_bytes());
    let signature_ok = validate_form(auth_token, url, std::iter::empty(), signature);
    hash_ok & signature_ok
}

/// The first value of query parameter `name` in `url`, percent-decoded.
fn query_value(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    let query = query.split('#').next().unwrap_or(query);
    form_urlencoded::parse(query.as_bytes())
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

/// `url` without an explicit port, and `url` with the scheme's default port when it had
/// none (`:443` for https, `:80` otherwise), in that order (WIRE.md §4.4). A non-default
/// port is dropped in the first and kept in the second. URLs the split cannot read are
/// returned as they are, once.
pub fn url_variants(url: &str) -> [String; 2] {
    let Some(parts) = UrlParts::split(url) else {
        return [url.to_string(), url.to_string()];
    };
    let without = parts.join(None);
    let with = match parts.port {
        Some(_) => url.to_string(),
        None => {
            let default = if parts.scheme.eq_ignore_ascii_case("https") {
                "443"
            } else {
                "80"
            };
            parts.join(Some(default))
        }
    };
    [without, with]
}

/// A URL cut into the pieces the port variants need, borrowing from the original.
struct UrlParts<'a> {
    /// `https`.
    scheme: &'a str,
    /// `user:pass@host` or `host` (IPv6 hosts keep their brackets).
    userinfo_host: &'a str,
    /// The digits after the host's `:`, if any.
    port: Option<&'a str>,
    /// Everything from the first `/`, `?` or `#` after the authority.
    rest: &'a str,
}

impl<'a> UrlParts<'a> {
    fn split(url: &'a str) -> Option<UrlParts<'a>> {
        let (scheme, after) = url.split_once("://")?;
        let end = after.find(['/', '?', '#']).unwrap_or(after.len());
        let (authority, rest) = after.split_at(end);
        // The host starts after the last `@`; a port is `:digits` after the host (and
        // after the closing `]` of an IPv6 literal).
        let host_start = authority.rfind('@').map_or(0, |at| at + 1);
        let host = &authority[host_start..];
        let search_from = host.rfind(']').map_or(0, |bracket| bracket + 1);
        let (userinfo_host, port) = match host[search_from..].rfind(':') {
            Some(colon) => {
                let colon = host_start + search_from + colon;
                let digits = &authority[colon + 1..];
                if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                (&authority[..colon], Some(digits))
            }
            None => (authority, None),
        };
        Some(UrlParts {
            scheme,
            userinfo_host,
            port,
            rest,
        })
    }

    fn join(&self, port: Option<&str>) -> String {
        let mut url = String::with_capacity(
            self.scheme.len() + 3 + self.userinfo_host.len() + 6 + self.rest.len(),
        );
        url.push_str(self.scheme);
        url.push_str("://");
        url.push_str(self.userinfo_host);
        if let Some(port) = port {
            url.push(':');
            url.push_str(port);
        }
        url.push_str(self.rest);
        url
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// WIRE.md §4.5: the shared auth token of the vectors.
    const TOKEN: &str = "0123456789abcdef0123456789abcdef";
    const URL_A: &str = "https://trctl.example.test/hooks/assignment?ws=dev";
    const URL_443: &str = "https://trctl.example.test:443/hooks/assignment?ws=dev";
    const URL_8443: &str = "https://trctl.example.test:8443/hooks/assignment?ws=dev";
    const SIG_A: &str = "Wf8q2k5lvUGcLDWUv5TF5m50HXo=";
    const SIG_443: &str = "iz75gV03e1QvozPJt9G23Vf+4pk=";
    const SIG_8443: &str = "G8hseuFifFTaczmb0CDqCW3rEwQ=";

    /// Vector A's wire body, decoded by the same decoder the listener uses.
    fn vector_a_params() -> Vec<(String, String)> {
        let body = "AccountSid=AC00000000000000000000000000000001&WorkspaceSid=WS00000000000000000000000000000002&WorkflowSid=WW00000000000000000000000000000003&TaskQueueSid=WQ00000000000000000000000000000004&WorkerSid=WK00000000000000000000000000000005&WorkerAttributes=%7B%22contact_uri%22%3A%22client%3Aalice%22%7D&TaskSid=WT00000000000000000000000000000006&TaskAttributes=%7B%22type%22%3A%22support%22%2C%22note%22%3A%22a+b%2Bc%22%7D&TaskAge=12&TaskPriority=0&ReservationSid=WR00000000000000000000000000000007&Timestamp=1700000000";
        crate::serve::callback::decode_form(body.as_bytes()).expect("vector A decodes")
    }

    fn borrowed(params: &[(String, String)]) -> impl Iterator<Item = (&str, &str)> + Clone {
        params.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    #[test]
    fn vector_a_string_and_signature() {
        let params = vector_a_params();
        let text = string_to_sign(URL_A, borrowed(&params));
        assert_eq!(
            text,
            r#"https://trctl.example.test/hooks/assignment?ws=devAccountSidAC00000000000000000000000000000001ReservationSidWR00000000000000000000000000000007TaskAge12TaskAttributes{"type":"support","note":"a b+c"}TaskPriority0TaskQueueSidWQ00000000000000000000000000000004TaskSidWT00000000000000000000000000000006Timestamp1700000000WorkerAttributes{"contact_uri":"client:alice"}WorkerSidWK00000000000000000000000000000005WorkflowSidWW00000000000000000000000000000003WorkspaceSidWS00000000000000000000000000000002"#
        );
        assert_eq!(sign(TOKEN, URL_A, borrowed(&params)), SIG_A);
    }

    #[test]
    fn vector_b_port_variants() {
        let params = vector_a_params();
        let p = || borrowed(&params);
        assert_eq!(sign(TOKEN, URL_443, p()), SIG_443);
        assert_eq!(sign(TOKEN, URL_8443, p()), SIG_8443);
        // (URL the validator is given, signature presented, accepted?)
        let table = [
            (URL_A, SIG_A, true),
            (URL_A, SIG_443, true),
            (URL_443, SIG_A, true),
            (URL_443, SIG_443, true),
            (URL_8443, SIG_8443, true),
            (URL_8443, SIG_A, true),
            (URL_8443, SIG_443, false),
            (URL_A, SIG_8443, false),
        ];
        for (url, signature, accepted) in table {
            assert_eq!(
                validate_form(TOKEN, url, p(), signature),
                accepted,
                "{url} with {signature}"
            );
        }
    }

    #[test]
    fn vector_c_repeated_parameter() {
        let url = "https://trctl.example.test/hooks/x";
        let params = [
            ("EventType", "task.created"),
            ("Tag", "beta"),
            ("Tag", "alpha"),
            ("Tag", "alpha"),
        ];
        assert_eq!(
            string_to_sign(url, params),
            "https://trctl.example.test/hooks/xEventTypetask.createdTagalphaTagbeta"
        );
        assert_eq!(sign(TOKEN, url, params), "0au963eWykAALffpwlUSn5tnTnk=");
        assert!(validate_form(
            TOKEN,
            url,
            params,
            "0au963eWykAALffpwlUSn5tnTnk="
        ));
    }

    #[test]
    fn vector_d_json_body() {
        let body =
            br#"{"EventType":"task.created","TaskSid":"WT00000000000000000000000000000006"}"#;
        let hash = "96467bdb56c2738b641a5a724b1559882aeebb6389d4b673a5f221c37afc7e74";
        assert_eq!(body_sha256_hex(body), hash);
        let url = format!("https://trctl.example.test/hooks/json?{BODY_SHA256_PARAM}={hash}");
        let signature = "02SkhT03EtUtwM56JUrlBvEok5c=";
        assert_eq!(sign(TOKEN, &url, std::iter::empty()), signature);
        assert!(validate_json(TOKEN, &url, body, signature));
        // A changed body no longer matches its hash, even with a valid URL signature.
        assert!(!validate_json(TOKEN, &url, b"{}", signature));
        // No hash in the URL: refused.
        assert!(!validate_json(
            TOKEN,
            "https://trctl.example.test/hooks/json",
            body,
            signature
        ));
    }

    #[test]
    fn tampering_fails() {
        let mut params = vector_a_params();
        assert!(validate_form(TOKEN, URL_A, borrowed(&params), SIG_A));
        // A changed value, an added parameter, another URL, another token: all refused.
        params[0].1 = "AC00000000000000000000000000000009".into();
        assert!(!validate_form(TOKEN, URL_A, borrowed(&params), SIG_A));
        let mut params = vector_a_params();
        params.push(("Extra".into(), "1".into()));
        assert!(!validate_form(TOKEN, URL_A, borrowed(&params), SIG_A));
        let params = vector_a_params();
        let other_url = "https://trctl.example.test/hooks/assignment?ws=prod";
        assert!(!validate_form(TOKEN, other_url, borrowed(&params), SIG_A));
        assert!(!validate_form(
            "another-token",
            URL_A,
            borrowed(&params),
            SIG_A
        ));
        assert!(!validate_form(TOKEN, URL_A, borrowed(&params), ""));
    }

    #[test]
    fn url_variants_table() {
        let table = [
            ("https://h/p?q=1", "https://h/p?q=1", "https://h:443/p?q=1"),
            ("http://h/p", "http://h/p", "http://h:80/p"),
            ("http://h:8080/p", "http://h/p", "http://h:8080/p"),
            ("https://h", "https://h", "https://h:443"),
            (
                "https://u:pw@h:99?x",
                "https://u:pw@h?x",
                "https://u:pw@h:99?x",
            ),
            (
                "http://[::1]:5000/a",
                "http://[::1]/a",
                "http://[::1]:5000/a",
            ),
            ("http://[::1]/a", "http://[::1]/a", "http://[::1]:80/a"),
            ("not a url", "not a url", "not a url"),
        ];
        for (url, without, with) in table {
            assert_eq!(
                url_variants(url),
                [without.to_string(), with.to_string()],
                "{url}"
            );
        }
    }

    #[test]
    fn constant_time_eq_basics() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }
}
