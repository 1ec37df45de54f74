//! An event's fields packed into one string, and the process-wide table of the field
//! names they use.

use std::collections::HashMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

type Names = (Vec<&'static str>, HashMap<&'static str, u16>);

fn name_table() -> std::sync::MutexGuard<'static, Names> {
    static NAMES: std::sync::OnceLock<std::sync::Mutex<Names>> = std::sync::OnceLock::new();
    NAMES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The number of an interned field name: one copy of each for the whole process. The
/// set is fixed by the code (no name comes from a request), so the leaked strings are
/// bounded.
fn name_id(name: &str) -> u16 {
    let mut table = name_table();
    if let Some(id) = table.1.get(name) {
        return *id;
    }
    let leaked: &'static str = Box::leak(name.to_string().into_boxed_str());
    // More than 65,535 distinct names cannot come from the code's fixed set.
    let id = u16::try_from(table.0.len()).unwrap_or(u16::MAX);
    table.0.push(leaked);
    table.1.insert(leaked, id);
    id
}

/// Every interned name, by number.
fn names() -> Vec<&'static str> {
    name_table().0.clone()
}

/// An event's fields, compact: every value one after the other in one string, and per
/// field the number of its (interned) name and where its value ends. The event log is
/// most of a busy emulator's memory; a JSON map per event cost about 3 KB, this about a
/// sixth of it.
#[derive(Debug, Clone, Default)]
pub struct EventData {
    text: Box<str>,
    /// (name, end of the value in `text`; the top bit set when the value is JSON text
    /// rather than a string)
    fields: Box<[(u16, u32)]>,
}

const JSON_VALUE: u32 = 1 << 31;

/// Saved as `[name, value, is_json]` triples: name numbers are this process's own.
impl Serialize for EventData {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for EventData {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let fields = Vec::<(String, String, bool)>::deserialize(deserializer)?;
        if let Some((name, _, _)) = fields.iter().find(|(name, _, _)| name.len() > 64) {
            return Err(D::Error::custom(format!("unknown event field {name:?}")));
        }
        Ok(EventData::from_fields(fields.iter().map(
            |(name, value, json)| (name.as_str(), value.as_str(), *json),
        )))
    }
}

impl EventData {
    /// Pack a map (values are strings; anything else is kept as its JSON text).
    pub fn from_map(map: serde_json::Map<String, Value>) -> EventData {
        let mut text = String::new();
        let mut fields = Vec::with_capacity(map.len());
        for (key, value) in map {
            let flag = match value {
                Value::String(value) => {
                    text.push_str(&value);
                    0
                }
                other => {
                    text.push_str(&other.to_string());
                    JSON_VALUE
                }
            };
            let end = u32::try_from(text.len())
                .unwrap_or(JSON_VALUE - 1)
                .min(JSON_VALUE - 1);
            fields.push((name_id(&key), end | flag));
        }
        EventData {
            text: text.into_boxed_str(),
            fields: fields.into_boxed_slice(),
        }
    }

    /// Pack fields given as (name, value text, whether the text is JSON), as
    /// [`EventData::iter`] gives them.
    pub fn from_fields<'a>(
        fields: impl IntoIterator<Item = (&'a str, &'a str, bool)>,
    ) -> EventData {
        let mut text = String::new();
        let mut packed = Vec::new();
        for (name, value, json) in fields {
            text.push_str(value);
            let end = u32::try_from(text.len())
                .unwrap_or(JSON_VALUE - 1)
                .min(JSON_VALUE - 1);
            packed.push((name_id(name), end | if json { JSON_VALUE } else { 0 }));
        }
        EventData {
            text: text.into_boxed_str(),
            fields: packed.into_boxed_slice(),
        }
    }

    /// Every field in order: name, value text, whether the text is JSON.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &str, bool)> + '_ {
        let names = names();
        let mut start = 0usize;
        self.fields.iter().map(move |(name, end)| {
            let json = end & JSON_VALUE != 0;
            let end = ((end & !JSON_VALUE) as usize).min(self.text.len());
            let value = self.text.get(start..end).unwrap_or("");
            start = end;
            (
                names.get(usize::from(*name)).copied().unwrap_or(""),
                value,
                json,
            )
        })
    }

    /// A string field's value (no name table copy: statistics read fields of every event).
    pub fn get(&self, key: &str) -> Option<&str> {
        let id = *name_table().1.get(key)?;
        let mut start = 0usize;
        for (name, end) in self.fields.iter() {
            let stop = ((end & !JSON_VALUE) as usize).min(self.text.len());
            if *name == id {
                return (end & JSON_VALUE == 0)
                    .then(|| self.text.get(start..stop))
                    .flatten();
            }
            start = stop;
        }
        None
    }

    /// The fields as a JSON object, in order.
    pub fn to_map(&self) -> serde_json::Map<String, Value> {
        self.iter()
            .map(|(name, value, json)| {
                let value = if json {
                    serde_json::from_str(value).unwrap_or(Value::Null)
                } else {
                    Value::String(value.to_string())
                };
                (name.to_string(), value)
            })
            .collect()
    }
}
