//! An event's fields packed into one string, and the process-wide table of the field
//! names they use.

use std::collections::HashMap;
use std::hash::BuildHasher;

use hashbrown::HashTable;
use rustc_hash::FxBuildHasher;
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

/// The values events repeat (SIDs, names, attributes, statuses: a task's events all
/// carry its SID, attributes, channel, queue and workflow), kept once per workspace and
/// named in an event by number. Values only ever join (an event log is never pruned, and
/// every value here is one some event holds).
///
/// The values sit end to end in one string, a value's number giving where it ends (four
/// bytes a value, where an `Arc<str>` each cost 32 and an allocation).
#[derive(Debug, Clone, Default)]
pub struct SharedValues {
    text: String,
    /// Where each value ends in `text`, by number.
    ends: Vec<u32>,
    /// Numbers of the values, found by the value's hash.
    index: HashTable<u32>,
}

fn value_hash(value: &str) -> u64 {
    FxBuildHasher.hash_one(value)
}

/// The value numbered `id` in `text` (empty for a number no value has, which only a
/// damaged file could give).
fn value_at<'a>(text: &'a str, ends: &[u32], id: u32) -> &'a str {
    let id = id as usize;
    let start = match id.checked_sub(1) {
        Some(before) => ends.get(before).copied(),
        None => Some(0),
    };
    match (start, ends.get(id)) {
        (Some(start), Some(end)) => text.get(start as usize..*end as usize).unwrap_or(""),
        _ => "",
    }
}

impl SharedValues {
    /// The number of `value`, added if new (`None` when the numbers or the text are
    /// full: the event then keeps the value itself).
    fn intern(&mut self, value: &str) -> Option<u32> {
        let (text, ends) = (&self.text, &self.ends);
        if let Some(id) = self
            .index
            .find(value_hash(value), |id| value_at(text, ends, *id) == value)
        {
            return Some(*id);
        }
        self.push(value)
    }

    /// Add `value` under the next number, even if it is there already.
    fn push(&mut self, value: &str) -> Option<u32> {
        let id = u32::try_from(self.ends.len())
            .ok()
            .filter(|id| *id < SHARED)?;
        let end = u32::try_from(self.text.len() + value.len()).ok()?;
        self.text.push_str(value);
        self.ends.push(end);
        let (text, ends) = (&self.text, &self.ends);
        self.index.insert_unique(value_hash(value), id, |id| {
            value_hash(value_at(text, ends, *id))
        });
        Some(id)
    }

    /// The value numbered `id` (empty for a number no value has, which only a damaged
    /// file could give).
    fn get(&self, id: u32) -> &str {
        value_at(&self.text, &self.ends, id)
    }

    /// How many values.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }
}

/// Saved as the list of values, in number order.
impl Serialize for SharedValues {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq((0..self.ends.len()).map(|id| self.get(id as u32)))
    }
}

impl<'de> Deserialize<'de> for SharedValues {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let values = Vec::<String>::deserialize(deserializer)?;
        let mut shared = SharedValues::default();
        for value in values {
            // A value saved twice keeps both numbers (events may name either).
            if shared.push(&value).is_none() {
                return Err(D::Error::custom("too many shared event values"));
            }
        }
        Ok(shared)
    }
}

/// An event's fields, compact: per field the number of its (interned) name and either
/// the number of its value among the workspace's [`SharedValues`] or where its value
/// ends in the event's own text (values that are new at every event, the `_ms`
/// durations, and JSON values). The event log is most of a busy emulator's memory; a
/// JSON map per event cost about 3 KB, a packed string of every value about 500 bytes,
/// this about 100.
///
/// Everything sits in one allocation: a head of three `u16` (the number of fields, the
/// length of the owning event's SID, the length of its resource SID or [`NO_RESOURCE`]),
/// the fields, six bytes each, then the text: the event's SID and resource SID (its
/// [`EventData::head`], empty for fields not yet in an event) and the values.
#[derive(Debug, Clone, Default)]
pub struct EventData {
    packed: Box<[u8]>,
}

/// Bytes before the fields.
const HEAD: usize = 6;
/// The resource SID length that says there is none.
const NO_RESOURCE: u16 = u16::MAX;
/// The longest SID a head holds (longer ones are cut at a character boundary; the
/// engine's are 34 bytes, and restore refuses longer ones).
pub const MAX_HEAD_SID: usize = u16::MAX as usize - 1;

/// `text` cut to at most `max` bytes at a character boundary.
fn clip(text: &str, max: usize) -> &str {
    let mut at = text.len().min(max);
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    &text[..at]
}

fn pack(fields: &[Field], sid: &str, resource: Option<&str>, values: &str) -> EventData {
    let fields = &fields[..fields.len().min(usize::from(u16::MAX))];
    let sid = clip(sid, MAX_HEAD_SID);
    let resource = resource.map(|r| clip(r, MAX_HEAD_SID));
    let mut packed = Vec::with_capacity(
        HEAD + 6 * fields.len() + sid.len() + resource.map_or(0, str::len) + values.len(),
    );
    let len16 = |n: usize| u16::try_from(n).unwrap_or(u16::MAX);
    packed.extend_from_slice(&len16(fields.len()).to_le_bytes());
    packed.extend_from_slice(&len16(sid.len()).to_le_bytes());
    packed.extend_from_slice(
        &resource
            .map_or(NO_RESOURCE, |r| len16(r.len()))
            .to_le_bytes(),
    );
    for field in fields {
        for word in field.0 {
            packed.extend_from_slice(&word.to_le_bytes());
        }
    }
    packed.extend_from_slice(sid.as_bytes());
    packed.extend_from_slice(resource.unwrap_or("").as_bytes());
    packed.extend_from_slice(values.as_bytes());
    EventData {
        packed: packed.into_boxed_slice(),
    }
}

/// One field of an [`EventData`]: its name number and its value word, in six bytes
/// (a `(u16, u32)` pair would take eight).
#[derive(Debug, Clone, Copy)]
struct Field([u16; 3]);

const _: () = assert!(std::mem::size_of::<Field>() == 6);

impl Field {
    fn new(name: u16, value: u32) -> Field {
        Field([name, (value & 0xffff) as u16, (value >> 16) as u16])
    }
    fn name(self) -> u16 {
        self.0[0]
    }
    fn value(self) -> u32 {
        u32::from(self.0[1]) | (u32::from(self.0[2]) << 16)
    }
}

const JSON_VALUE: u32 = 1 << 31;
const SHARED: u32 = 1 << 30;
const NUMBER: u32 = SHARED - 1;

/// Whether a field's values are worth sharing: every string but the millisecond
/// durations, which are new at nearly every event.
fn shared_field(name: &str) -> bool {
    !name.ends_with("_ms")
}

/// A value as saved: its text, or the number of a shared value.
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum SavedValue<'a> {
    Shared(u32),
    #[serde(borrow)]
    Text(std::borrow::Cow<'a, str>),
}

/// Saved as `[name, value, is_json]` triples (name numbers are this process's own), a
/// shared value as its number.
impl Serialize for EventData {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let names = names();
        serializer.collect_seq(self.raw().map(|(name, value, json)| {
            let name = names.get(usize::from(name)).copied().unwrap_or("");
            let value = match value {
                Raw::Shared(id) => SavedValue::Shared(id),
                Raw::Text(text) => SavedValue::Text(text.into()),
            };
            (name, value, json)
        }))
    }
}

impl<'de> Deserialize<'de> for EventData {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let fields = Vec::<(String, SavedValue<'de>, bool)>::deserialize(deserializer)?;
        if let Some((name, _, _)) = fields.iter().find(|(name, _, _)| name.len() > 64) {
            return Err(D::Error::custom(format!("unknown event field {name:?}")));
        }
        let mut text = String::new();
        let mut packed = Vec::with_capacity(fields.len());
        for (name, value, json) in &fields {
            let value = match value {
                SavedValue::Shared(id) if *id <= NUMBER => id | SHARED,
                SavedValue::Shared(id) => {
                    return Err(D::Error::custom(format!("shared value {id} out of range")))
                }
                SavedValue::Text(value) => {
                    text.push_str(value);
                    end(&text) | if *json { JSON_VALUE } else { 0 }
                }
            };
            packed.push(Field::new(name_id(name), value));
        }
        Ok(pack(&packed, "", None, &text))
    }
}

/// Where the value just added to `text` ends.
fn end(text: &str) -> u32 {
    u32::try_from(text.len()).unwrap_or(NUMBER).min(NUMBER)
}

/// A field's value as stored.
enum Raw<'a> {
    Shared(u32),
    Text(&'a str),
}

impl EventData {
    /// Pack a map (values are strings; anything else is kept as its JSON text), sharing
    /// the values worth sharing through `shared`.
    pub fn from_map(map: serde_json::Map<String, Value>, shared: &mut SharedValues) -> EventData {
        let mut text = String::new();
        let mut fields = Vec::with_capacity(map.len());
        for (key, value) in map {
            let value = match value {
                Value::String(value) => {
                    match shared_field(&key).then(|| shared.intern(&value)).flatten() {
                        Some(id) => id | SHARED,
                        None => {
                            text.push_str(&value);
                            end(&text)
                        }
                    }
                }
                other => {
                    text.push_str(&other.to_string());
                    end(&text) | JSON_VALUE
                }
            };
            fields.push(Field::new(name_id(&key), value));
        }
        pack(&fields, "", None, &text)
    }

    /// Pack fields given as (name, value text, whether the text is JSON), as
    /// [`EventData::iter`] gives them, every value the event's own.
    pub fn from_fields<'a>(
        fields: impl IntoIterator<Item = (&'a str, &'a str, bool)>,
    ) -> EventData {
        let mut text = String::new();
        let mut packed = Vec::new();
        for (name, value, json) in fields {
            text.push_str(value);
            packed.push(Field::new(
                name_id(name),
                end(&text) | if json { JSON_VALUE } else { 0 },
            ));
        }
        pack(&packed, "", None, &text)
    }

    /// The same fields with `sid` and `resource` as their head (see [`EventData`]).
    pub fn with_head(&self, sid: &str, resource: Option<&str>) -> EventData {
        let fields: Vec<Field> = (0..self.count()).map(|at| self.field(at)).collect();
        pack(&fields, sid, resource, self.values())
    }

    /// The owning event's SID and resource SID, as [`EventData::with_head`] set them.
    pub fn head(&self) -> (&str, Option<&str>) {
        let start = self.text_start();
        let sid_len = usize::from(self.word(2));
        let resource_len = self.word(4);
        let text = |from: usize, len: usize| {
            self.packed
                .get(from..from.saturating_add(len))
                .and_then(|bytes| std::str::from_utf8(bytes).ok())
                .unwrap_or("")
        };
        let resource =
            (resource_len != NO_RESOURCE).then(|| text(start + sid_len, usize::from(resource_len)));
        (text(start, sid_len), resource)
    }

    /// The little-endian `u16` at byte `at` (0 past the end: an empty `EventData` has
    /// no fields and no head).
    fn word(&self, at: usize) -> u16 {
        self.packed
            .get(at..at + 2)
            .map_or(0, |bytes| u16::from_le_bytes([bytes[0], bytes[1]]))
    }
    fn count(&self) -> usize {
        usize::from(self.word(0))
    }
    fn field(&self, index: usize) -> Field {
        let at = HEAD + 6 * index;
        Field([self.word(at), self.word(at + 2), self.word(at + 4)])
    }
    fn text_start(&self) -> usize {
        HEAD + 6 * self.count()
    }
    /// The values' text (after the head).
    fn values(&self) -> &str {
        let head = usize::from(self.word(2))
            + match self.word(4) {
                NO_RESOURCE => 0,
                len => usize::from(len),
            };
        self.packed
            .get(self.text_start() + head..)
            .and_then(|bytes| std::str::from_utf8(bytes).ok())
            .unwrap_or("")
    }

    /// Every field as stored: name number, value, whether JSON.
    fn raw(&self) -> impl Iterator<Item = (u16, Raw<'_>, bool)> + '_ {
        let mut start = 0usize;
        let values = self.values();
        (0..self.count()).map(move |at| {
            let field = self.field(at);
            let (name, value) = (field.name(), field.value());
            if value & SHARED != 0 {
                return (name, Raw::Shared(value & NUMBER), false);
            }
            let json = value & JSON_VALUE != 0;
            let stop = ((value & NUMBER) as usize).min(values.len());
            let text = values.get(start..stop).unwrap_or("");
            start = stop;
            (name, Raw::Text(text), json)
        })
    }

    /// Every field in order: name, value text, whether the text is JSON (`shared`: the
    /// workspace's values).
    pub fn iter<'a>(
        &'a self,
        shared: &'a SharedValues,
    ) -> impl Iterator<Item = (&'static str, &'a str, bool)> + 'a {
        let names = names();
        self.raw().map(move |(name, value, json)| {
            let value = match value {
                Raw::Shared(id) => shared.get(id),
                Raw::Text(text) => text,
            };
            (
                names.get(usize::from(name)).copied().unwrap_or(""),
                value,
                json,
            )
        })
    }

    /// A string field's value (no name table copy: statistics read fields of every event).
    pub fn get<'a>(&'a self, shared: &'a SharedValues, key: &str) -> Option<&'a str> {
        let id = *name_table().1.get(key)?;
        self.raw()
            .find(|(name, _, _)| *name == id)
            .and_then(|(_, value, json)| match value {
                Raw::Shared(number) => Some(shared.get(number)),
                // Only string values answer, as `Value::as_str` did.
                Raw::Text(text) => (!json).then_some(text),
            })
    }

    /// The fields as a JSON object, in order.
    pub fn to_map(&self, shared: &SharedValues) -> serde_json::Map<String, Value> {
        self.iter(shared)
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
