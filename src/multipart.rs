//! `multipart/form-data` request bodies, decoded into the same name/value pairs a form
//! body gives. Both listeners use it: the emulator's REST API (twilio-node 3.40.0 and
//! older post every request this way) and `trctl serve` (a callback posted by such a
//! client). The parsing itself is `multer`'s; this module only turns its fields into
//! pairs.
//!
//! The body arrives whole (the listener has already applied its size limit), so the
//! limit holds for multipart exactly as for form bodies.

use axum::body::Bytes;

/// Why a multipart body could not be turned into parameters.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MultipartError {
    /// The `Content-Type` header names no usable boundary.
    #[error("the multipart/form-data Content-Type has no boundary")]
    NoBoundary,
    /// The body does not follow the multipart framing.
    #[error("the multipart/form-data body is malformed: {0}")]
    Malformed(String),
    /// A part has no `name` in its `Content-Disposition`.
    #[error("a part of the multipart/form-data body has no name")]
    UnnamedPart,
    /// A part's name or value is not UTF-8.
    #[error("the multipart/form-data part `{0}` is not UTF-8")]
    NotUtf8(String),
}

/// Whether a `Content-Type` value is `multipart/form-data` (parameters such as the
/// boundary may follow; the media type is matched without regard to case).
pub fn is_multipart(content_type: &str) -> bool {
    content_type
        .split(';')
        .next()
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("multipart/form-data"))
}

/// The parts of a `multipart/form-data` body as `(name, value)` pairs, in body order;
/// a repeated name gives repeated pairs, as a repeated key does in a form. A part sent
/// as a file counts as a field: its content is the value.
pub async fn decode(
    content_type: &str,
    body: Bytes,
) -> Result<Vec<(String, String)>, MultipartError> {
    let boundary = multer::parse_boundary(content_type).map_err(|_| MultipartError::NoBoundary)?;
    let stream =
        futures_util::stream::once(async move { Ok::<Bytes, std::convert::Infallible>(body) });
    let mut multipart = multer::Multipart::new(stream, boundary);
    let mut pairs = Vec::new();
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(err) => return Err(malformed(err)),
        };
        let name = field
            .name()
            .map(str::to_owned)
            .ok_or(MultipartError::UnnamedPart)?;
        let value = field.bytes().await.map_err(malformed)?;
        let value =
            String::from_utf8(value.to_vec()).map_err(|_| MultipartError::NotUtf8(name.clone()))?;
        pairs.push((name, value));
    }
    Ok(pairs)
}

fn malformed(err: multer::Error) -> MultipartError {
    match err {
        multer::Error::NoMultipart | multer::Error::NoBoundary => MultipartError::NoBoundary,
        other => MultipartError::Malformed(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TYPE: &str = "multipart/form-data; boundary=XyZ";

    fn body(parts: &[(&str, &str)]) -> Bytes {
        let mut text = String::new();
        for (name, value) in parts {
            text.push_str(&format!(
                "--XyZ\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            ));
        }
        text.push_str("--XyZ--\r\n");
        Bytes::from(text)
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[tokio::test]
    async fn fields_become_pairs_in_order_and_repeats_stay() {
        let sent = [
            ("FriendlyName", "a b&c=d"),
            ("Channels", "voice"),
            ("Channels", "chat"),
            ("Empty", ""),
            ("Text", "line one\r\nline two é"),
        ];
        assert_eq!(decode(TYPE, body(&sent)).await, Ok(pairs(&sent)));
        assert_eq!(decode(TYPE, body(&[])).await, Ok(Vec::new()));
    }

    #[tokio::test]
    async fn broken_bodies_are_refused() {
        assert_eq!(
            decode("multipart/form-data", body(&[("a", "1")])).await,
            Err(MultipartError::NoBoundary)
        );
        let cut =
            Bytes::from_static(b"--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1");
        assert!(matches!(
            decode(TYPE, cut).await,
            Err(MultipartError::Malformed(_))
        ));
        let unnamed =
            Bytes::from_static(b"--XyZ\r\nContent-Disposition: form-data\r\n\r\n1\r\n--XyZ--\r\n");
        assert_eq!(
            decode(TYPE, unnamed).await,
            Err(MultipartError::UnnamedPart)
        );
        let latin1 = Bytes::from_static(
            b"--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n\xff\r\n--XyZ--\r\n",
        );
        assert_eq!(
            decode(TYPE, latin1).await,
            Err(MultipartError::NotUtf8("a".into()))
        );
    }

    #[test]
    fn media_type_is_matched_without_case() {
        assert!(is_multipart("multipart/form-data; boundary=x"));
        assert!(is_multipart("Multipart/Form-Data"));
        assert!(!is_multipart("application/x-www-form-urlencoded"));
        assert!(!is_multipart("multipart/mixed; boundary=x"));
    }
}
