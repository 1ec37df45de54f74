//! Twilio's error envelope: `{code, message, more_info, status}` with the status code.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::emulator::engine::EngineError;

impl IntoResponse for EngineError {
    fn into_response(self) -> Response {
        error_response(self.status, self.code, &self.message)
    }
}

/// An error response in Twilio's shape.
pub fn error_response(status: u16, code: i64, message: &str) -> Response {
    let body = json!({
        "code": code,
        "message": message,
        "more_info": format!("https://www.twilio.com/docs/errors/{code}"),
        "status": status,
    });
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (status, body.to_string()).into_response();
    response
        .headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
    response
}

/// 401 / 20003, as TaskRouter answers bad or missing credentials (WIRE.md §1.2).
pub fn unauthorized() -> Response {
    let body = json!({
        "code": 20003,
        "detail": "Your AccountSid or AuthToken was incorrect.",
        "message": "Authentication Error - invalid username",
        "more_info": "https://www.twilio.com/docs/errors/20003",
        "status": 401,
    });
    let mut response = (StatusCode::UNAUTHORIZED, body.to_string()).into_response();
    let headers = response.headers_mut();
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    // Whether Twilio sends this is unconfirmed (WIRE.md §10.7); it helps curl users.
    headers.insert(
        "www-authenticate",
        HeaderValue::from_static("Basic realm=\"Twilio API\""),
    );
    response
}
