//! One page of a list response: the items under the resource key, and `meta`.
//!
//! Clients never build page URLs; they follow `meta.next_page_url` until it is null.

use serde::{Deserialize, Serialize};

/// The `meta` object of a list response.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Meta {
    /// Page index (informational).
    #[serde(default)]
    pub page: Option<i64>,
    /// Items per page.
    #[serde(default)]
    pub page_size: Option<i64>,
    /// URL of the first page.
    #[serde(default)]
    pub first_page_url: Option<String>,
    /// URL of the previous page, if any.
    #[serde(default)]
    pub previous_page_url: Option<String>,
    /// URL of this page.
    #[serde(default)]
    pub url: Option<String>,
    /// URL of the next page; `None` on the last page.
    #[serde(default)]
    pub next_page_url: Option<String>,
    /// The name of the property holding the items.
    #[serde(default)]
    pub key: Option<String>,
}

/// One page of items.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    /// The items of this page.
    pub items: Vec<T>,
    /// Paging information.
    pub meta: Meta,
}

impl<T> Page<T> {
    /// Whether a further page exists.
    pub fn has_next(&self) -> bool {
        self.meta
            .next_page_url
            .as_deref()
            .is_some_and(|url| !url.is_empty())
    }
}
