//! List envelopes and paging: `PageSize` (1-1000, default 50), `PageToken` (`PA<sid>`
//! for the page after that item, `PB<sid>` for the page before it), `Page` echoed for
//! client state, and `meta` with absolute URLs back to the emulator.

use axum::http::StatusCode;
use axum::response::Response;
use serde::Serialize;
use serde_json::{json, Value};

use super::{json_response, Req};
use crate::emulator::engine::query::Listed;
use crate::emulator::engine::state::{Record, Table};
use crate::emulator::engine::EngineError;

const DEFAULT_PAGE_SIZE: usize = 50;
const MAX_PAGE_SIZE: usize = 1000;

struct Paging {
    page_size: usize,
    page: usize,
    token: Option<String>,
}

fn paging(req: &Req) -> Result<Paging, EngineError> {
    let get = |name: &str| {
        req.query
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let page_size = match get("PageSize") {
        None => DEFAULT_PAGE_SIZE,
        Some(text) => match text.trim().parse::<usize>() {
            Ok(size) if (1..=MAX_PAGE_SIZE).contains(&size) => size,
            _ => return Err(EngineError::invalid_page_size()),
        },
    };
    let page = match get("Page") {
        None => 0,
        Some(text) => text
            .trim()
            .parse::<usize>()
            .map_err(|_| EngineError::invalid_page())?,
    };
    let token = get("PageToken").filter(|t| !t.is_empty());
    if page > 0 && token.is_none() {
        // Absolute paging on TaskRouter lists was retired (warning 40153, then 400).
        return Err(EngineError::absolute_paging());
    }
    Ok(Paging {
        page_size,
        page,
        token,
    })
}

fn invalid_token() -> EngineError {
    EngineError {
        status: 400,
        code: 21481,
        message: "Invalid PageToken".to_string(),
    }
}

/// The slice of `positions` this request asks for: (start, end) indices.
fn window(
    paging: &Paging,
    positions: &[(u64, String)],
    position_of: impl Fn(&str) -> Option<u64>,
) -> Result<(usize, usize), EngineError> {
    let start = match paging.token.as_deref() {
        None => 0,
        Some(token) => {
            let (after, sid) = if let Some(sid) = token.strip_prefix("PA") {
                (true, sid)
            } else if let Some(sid) = token.strip_prefix("PB") {
                (false, sid)
            } else {
                return Err(invalid_token());
            };
            let position = position_of(sid).ok_or_else(invalid_token)?;
            // The item itself, or (if it is gone) where it stood in creation order.
            let index = positions.iter().position(|(p, _)| *p == position);
            if after {
                match index {
                    Some(index) => index + 1,
                    None => positions
                        .iter()
                        .position(|(p, _)| *p > position)
                        .unwrap_or(positions.len()),
                }
            } else {
                let end = index.unwrap_or_else(|| {
                    positions
                        .iter()
                        .position(|(p, _)| *p > position)
                        .unwrap_or(positions.len())
                });
                return Ok((end.saturating_sub(paging.page_size), end));
            }
        }
    };
    Ok((start, (start + paging.page_size).min(positions.len())))
}

fn page_url(req: &Req, page_size: usize, page: usize, token: Option<&str>) -> String {
    let mut serializer = url::form_urlencoded::Serializer::new(String::new());
    for (key, value) in &req.query {
        if !matches!(key.as_str(), "PageSize" | "Page" | "PageToken") {
            serializer.append_pair(key, value);
        }
    }
    serializer.append_pair("PageSize", &page_size.to_string());
    serializer.append_pair("Page", &page.to_string());
    if let Some(token) = token {
        serializer.append_pair("PageToken", token);
    }
    format!("{}{}?{}", req.base, req.path, serializer.finish())
}

fn envelope(
    req: &Req,
    paging: &Paging,
    key: &str,
    items: Vec<Value>,
    ids: &[(u64, String)],
    (start, end): (usize, usize),
) -> Value {
    let next = (end < ids.len()).then(|| {
        let last = &ids[end - 1].1;
        page_url(
            req,
            paging.page_size,
            paging.page + 1,
            Some(&format!("PA{last}")),
        )
    });
    let previous = (start > 0).then(|| {
        let first = &ids[start].1;
        page_url(
            req,
            paging.page_size,
            paging.page.saturating_sub(1),
            Some(&format!("PB{first}")),
        )
    });
    json!({
        key: items,
        "meta": {
            "page": paging.page,
            "page_size": paging.page_size,
            "first_page_url": page_url(req, paging.page_size, 0, None),
            "previous_page_url": previous,
            "url": page_url(req, paging.page_size, paging.page, paging.token.as_deref()),
            "next_page_url": next,
            "key": key,
        }
    })
}

/// One page of `items` (positions from `table`) under `key`.
pub fn respond<T: Record, M: Serialize>(
    req: &Req,
    table: &Table<T>,
    items: Listed<'_, T>,
    key: &str,
    encode: impl Fn(&T) -> M,
) -> Result<Response, EngineError> {
    let paging = paging(req)?;
    let ids: Vec<(u64, String)> = items
        .iter()
        .map(|(p, item)| (*p, item.sid().to_string()))
        .collect();
    let range = window(&paging, &ids, |sid| table.position(sid))?;
    let values: Vec<Value> = items[range.0..range.1]
        .iter()
        .map(|(_, item)| serde_json::to_value(encode(item)).unwrap_or(Value::Null))
        .collect();
    Ok(json_response(
        StatusCode::OK,
        &envelope(req, &paging, key, values, &ids, range),
        None,
    ))
}

/// One page of already-encoded values (positions are their order; each has a `sid`).
pub fn respond_values(req: &Req, values: Vec<Value>, key: &str) -> Result<Response, EngineError> {
    let paging = paging(req)?;
    let ids: Vec<(u64, String)> = values
        .iter()
        .enumerate()
        .map(|(index, value)| {
            (
                index as u64,
                value
                    .get("sid")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect();
    let range = window(&paging, &ids, |sid| {
        ids.iter().find(|(_, s)| s == sid).map(|(p, _)| *p)
    })?;
    let page: Vec<Value> = values[range.0..range.1].to_vec();
    Ok(json_response(
        StatusCode::OK,
        &envelope(req, &paging, key, page, &ids, range),
        None,
    ))
}
