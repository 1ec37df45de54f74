//! Rendering resources for people (table) and scripts (json, ndjson, tsv).
//!
//! Renderers take JSON values: for json/ndjson the object exactly as the API sent it
//! (its keys, in its order), for table/tsv the model's view of it, where every spec
//! field has a column. [`crate::cli::Ctx`] picks which. This module knows nothing of HTTP.

use std::io::Write;

use comfy_table::{presets, ContentArrangement, Table};
use serde_json::Value;

use crate::cli::config::OutputFormat;

/// Default table columns per resource (what `twilio-cli` shows, plus the status fields
/// a TaskRouter user looks for first).
pub fn default_columns(resource: &str) -> &'static [&'static str] {
    match resource {
        "workspace" => &[
            "sid",
            "friendly_name",
            "default_activity_name",
            "prioritize_queue_order",
        ],
        "activity" => &["sid", "friendly_name", "available"],
        "task_channel" => &[
            "sid",
            "unique_name",
            "friendly_name",
            "channel_optimized_routing",
        ],
        "task_queue" => &[
            "sid",
            "friendly_name",
            "target_workers",
            "task_order",
            "max_reserved_workers",
        ],
        "workflow" => &[
            "sid",
            "friendly_name",
            "assignment_callback_url",
            "task_reservation_timeout",
        ],
        "worker" => &[
            "sid",
            "friendly_name",
            "activity_name",
            "available",
            "attributes",
        ],
        "worker_channel" => &[
            "sid",
            "task_channel_unique_name",
            "configured_capacity",
            "assigned_tasks",
            "available",
        ],
        "task" => &[
            "sid",
            "assignment_status",
            "priority",
            "age",
            "task_queue_friendly_name",
            "attributes",
        ],
        "reservation" => &[
            "sid",
            "reservation_status",
            "task_sid",
            "worker_name",
            "worker_sid",
        ],
        "event" => &[
            "sid",
            "event_type",
            "event_date",
            "resource_sid",
            "description",
        ],
        _ => &[],
    }
}

/// How to print.
#[derive(Debug, Clone)]
pub struct Renderer {
    /// Format.
    pub format: OutputFormat,
    /// Chosen columns/fields; empty for the defaults.
    pub fields: Vec<String>,
}

impl Renderer {
    /// Print one resource.
    pub fn one(&self, out: &mut dyn Write, value: &Value) -> std::io::Result<()> {
        match self.format {
            OutputFormat::Json => {
                writeln!(out, "{}", pretty(&self.pick(value)))
            }
            OutputFormat::Ndjson => writeln!(out, "{}", self.pick(value)),
            OutputFormat::Tsv => {
                self.rows(out, std::slice::from_ref(value), &self.columns(value, ""))
            }
            OutputFormat::Table => {
                // Field names aligned, values as they are: a long value (links,
                // attributes) must not pad every other line.
                let object = self.pick(value);
                if let Value::Object(map) = &object {
                    let width = map.keys().map(|k| k.chars().count()).max().unwrap_or(0);
                    for (key, field) in map {
                        writeln!(out, "{key:<width$}  {}", cell(field))?;
                    }
                }
                Ok(())
            }
        }
    }

    /// Print a list of resources of kind `resource`.
    pub fn many(
        &self,
        out: &mut dyn Write,
        resource: &str,
        items: &[Value],
    ) -> std::io::Result<()> {
        match self.format {
            OutputFormat::Json => {
                let picked: Vec<Value> = items.iter().map(|item| self.pick(item)).collect();
                writeln!(out, "{}", pretty(&Value::Array(picked)))
            }
            OutputFormat::Ndjson => {
                for item in items {
                    writeln!(out, "{}", self.pick(item))?;
                }
                Ok(())
            }
            OutputFormat::Tsv | OutputFormat::Table => {
                let columns = match items.first() {
                    Some(first) => self.columns(first, resource),
                    None => self.columns(&Value::Null, resource),
                };
                if self.format == OutputFormat::Tsv {
                    return self.rows(out, items, &columns);
                }
                if items.is_empty() {
                    return Ok(());
                }
                let mut table = new_table();
                table.set_header(columns.clone());
                for item in items {
                    table.add_row(
                        columns
                            .iter()
                            .map(|column| cell(item.get(column).unwrap_or(&Value::Null))),
                    );
                }
                writeln!(out, "{table}")
            }
        }
    }

    fn columns(&self, sample: &Value, resource: &str) -> Vec<String> {
        if !self.fields.is_empty() {
            return self.fields.clone();
        }
        let defaults = default_columns(resource);
        if !defaults.is_empty() {
            return defaults.iter().map(|c| c.to_string()).collect();
        }
        match sample {
            Value::Object(map) => map.keys().cloned().collect(),
            _ => Vec::new(),
        }
    }

    fn rows(
        &self,
        out: &mut dyn Write,
        items: &[Value],
        columns: &[String],
    ) -> std::io::Result<()> {
        writeln!(out, "{}", columns.join("\t"))?;
        for item in items {
            let row: Vec<String> = columns
                .iter()
                .map(|column| tsv_cell(item.get(column).unwrap_or(&Value::Null)))
                .collect();
            writeln!(out, "{}", row.join("\t"))?;
        }
        Ok(())
    }

    /// With `--fields`, keep only those fields (in the order given).
    fn pick(&self, value: &Value) -> Value {
        if self.fields.is_empty() {
            return value.clone();
        }
        let mut picked = serde_json::Map::new();
        for field in &self.fields {
            picked.insert(
                field.clone(),
                value.get(field).cloned().unwrap_or(Value::Null),
            );
        }
        Value::Object(picked)
    }
}

fn new_table() -> Table {
    let mut table = Table::new();
    table
        .load_preset(presets::NOTHING)
        .set_content_arrangement(ContentArrangement::Disabled);
    table
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
}

/// A table cell: strings bare, null empty, the rest compact JSON.
fn cell(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// A TSV cell: like a table cell, with tabs and newlines escaped so rows stay rows.
fn tsv_cell(value: &Value) -> String {
    cell(value)
        .replace('\\', "\\\\")
        .replace('\t', "\\t")
        .replace('\n', "\\n")
        .replace('\r', "\\r")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn render(format: OutputFormat, fields: &[&str], items: &[Value]) -> String {
        let renderer = Renderer {
            format,
            fields: fields.iter().map(|f| f.to_string()).collect(),
        };
        let mut out = Vec::new();
        renderer.many(&mut out, "task", items).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn json_list_is_one_array() {
        let text = render(
            OutputFormat::Json,
            &[],
            &[json!({"sid":"WT1"}), json!({"sid":"WT2"})],
        );
        let parsed: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(parsed, json!([{"sid":"WT1"},{"sid":"WT2"}]));
    }

    #[test]
    fn ndjson_is_one_line_each() {
        let text = render(
            OutputFormat::Ndjson,
            &["sid"],
            &[json!({"sid":"WT1","age":3}), json!({"sid":"WT2"})],
        );
        assert_eq!(text, "{\"sid\":\"WT1\"}\n{\"sid\":\"WT2\"}\n");
    }

    #[test]
    fn tsv_escapes_tabs() {
        let text = render(
            OutputFormat::Tsv,
            &["sid", "attributes"],
            &[json!({"sid":"WT1","attributes":"a\tb"})],
        );
        assert_eq!(text, "sid\tattributes\nWT1\ta\\tb\n");
    }

    #[test]
    fn table_uses_default_columns() {
        let text = render(
            OutputFormat::Table,
            &[],
            &[json!({"sid":"WT1","assignment_status":"pending","priority":0,"age":5})],
        );
        let header = text.lines().next().unwrap();
        assert!(
            header.contains("sid") && header.contains("assignment_status"),
            "{text}"
        );
        assert!(text.contains("pending"));
    }
}
