//! `trctl api METHOD PATH [-F Key=Value]…`: any request, for what the typed commands
//! do not cover. GET/DELETE fields go in the query string, POST fields in the form body.

use clap::Args;
use reqwest::Method;

use crate::api::RequestBody;
use crate::cli::{CliError, Ctx};

/// Flags of `api`.
#[derive(Args, Debug)]
pub struct ApiArgs {
    /// HTTP method: GET, POST or DELETE.
    pub method: String,
    /// Path below the base URL, e.g. /v1/Workspaces (a missing /v1 is added).
    pub path: String,
    /// A parameter, repeatable (`-F AssignmentStatus=pending -F AssignmentStatus=reserved`);
    /// a value `@file` is read from the file.
    #[arg(short = 'F', long = "field", value_name = "KEY=VALUE")]
    pub fields: Vec<String>,
    /// Send this JSON document as the body instead of a form (inline, @file or -).
    #[arg(long, conflicts_with = "fields")]
    pub json: Option<String>,
    /// `If-Match` header.
    #[arg(long)]
    pub if_match: Option<String>,
}

/// Send the request and print the JSON answer.
pub async fn run(ctx: &mut Ctx, args: ApiArgs) -> Result<(), CliError> {
    let method = match args.method.to_ascii_uppercase().as_str() {
        "GET" => Method::GET,
        "POST" => Method::POST,
        "DELETE" => Method::DELETE,
        other => {
            return Err(CliError::usage(format!(
                "unsupported method {other:?} (TaskRouter uses GET, POST and DELETE)"
            )))
        }
    };
    let mut path = args.path.clone();
    if !path.starts_with('/') {
        path.insert(0, '/');
    }
    if !path.starts_with("/v1/") && path != "/v1" {
        path.insert_str(0, "/v1");
    }
    let mut pairs: Vec<(String, String)> = Vec::new();
    for field in &args.fields {
        let (key, value) = field
            .split_once('=')
            .ok_or_else(|| CliError::usage(format!("-F {field:?} is not KEY=VALUE")))?;
        let value = crate::cli::input::raw_arg(&format!("-F {key}"), value)?;
        pairs.push((key.to_string(), value));
    }
    let client = ctx.client()?;
    // The client's bodies borrow 'static keys; leak-free alternative: own them here.
    let owned: Vec<(&str, String)> = pairs.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    let (query, body) = if let Some(json) = &args.json {
        let value = crate::cli::input::json_value_arg("--json", json)?;
        (Vec::new(), RequestBody::Json(value))
    } else if method == Method::POST {
        (Vec::new(), RequestBody::FormOwned(pairs.clone()))
    } else {
        (owned, RequestBody::None)
    };
    let response = client
        .send(method, &path, &query, &body, args.if_match.as_deref())
        .await?;
    if !(200..300).contains(&response.status) {
        let body = crate::api::ApiError::from_response(response.status, &response.body);
        return Err(crate::api::Error::Api(Box::new(body)).into());
    }
    if response.body.is_empty() {
        return Ok(());
    }
    match serde_json::from_slice::<serde_json::Value>(&response.body) {
        Ok(value) => ctx.print_text(&format!(
            "{}\n",
            serde_json::to_string_pretty(&value).unwrap_or_else(|_| value.to_string())
        )),
        Err(_) => ctx.print_text(&String::from_utf8_lossy(&response.body)),
    }
}
