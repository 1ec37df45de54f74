//! Scopes: what a key means in each place an expression is used (ROUTING.md §1.1, §1.9).
//!
//! The evaluator asks a [`Scope`] for each key; the scope answers with a borrowed
//! [`ValueRef`], so a routing engine can hand over its own `serde_json` documents and
//! worker records without copying them. The four scopes here match the four places
//! TaskRouter evaluates expressions: workflow filters ([`FilterScope`]), TaskQueue
//! `target_workers` ([`MemberScope`]), target expressions ([`TargetScope`]) and `skip_if`
//! ([`SkipScope`]). Nothing here reads a clock: time-of-day values come in as a
//! [`TimeOfDay`] the caller built.

use std::fmt;
use std::str::FromStr;

use serde_json::Value;

use super::ast::{KeyPath, PathSegment, Root};
use super::value::ValueRef;

/// Where the evaluator reads keys from.
pub trait Scope {
    /// The value at `key`, or `None` for NULL (missing keys are NULL, ROUTING.md §1.3).
    fn lookup(&self, key: &KeyPath) -> Option<ValueRef<'_>>;
}

impl<S: Scope + ?Sized> Scope for &S {
    fn lookup(&self, key: &KeyPath) -> Option<ValueRef<'_>> {
        (**self).lookup(key)
    }
}

/// A bare JSON document is a scope: every key is looked up in it. This is what the list
/// filters of the REST API need (`EvaluateTaskAttributes`, `EvaluateWorkerAttributes`).
impl Scope for Value {
    fn lookup(&self, key: &KeyPath) -> Option<ValueRef<'_>> {
        lookup_json(self, key.segments()).map(ValueRef::from_json)
    }
}

/// Walk `segments` into `document`: names descend into objects, indices into arrays
/// (zero-based). Anything that does not fit is missing. Key names match exactly
/// (ROUTING.md §1.3: case-sensitivity UNCONFIRMED; JSON keys are case-sensitive).
pub fn lookup_json<'v>(document: &'v Value, segments: &[PathSegment]) -> Option<&'v Value> {
    segments
        .iter()
        .try_fold(document, |current, segment| match (segment, current) {
            (PathSegment::Key(name), Value::Object(map)) => map.get(&**name),
            (PathSegment::Index(index), Value::Array(items)) => items.get(*index),
            _ => None,
        })
}

/// Workflow filter expressions and task list filters: bare keys are task attributes;
/// `taskrouter.*` are the time-of-day variables when a time is given (ROUTING.md §1.9.5).
#[derive(Debug, Clone, Copy)]
pub struct FilterScope<'a> {
    /// The task's attributes.
    pub task: &'a Value,
    /// The current time (UTC), if time-of-day variables should resolve.
    pub time: Option<TimeOfDay>,
}

impl Scope for FilterScope<'_> {
    fn lookup(&self, key: &KeyPath) -> Option<ValueRef<'_>> {
        if let (Root::TaskRouter, Some(time)) = (key.root(), self.time) {
            return time.lookup(key.rest());
        }
        self.task.lookup(key)
    }
}

/// A worker as expressions see it: its attributes and built-in fields, all borrowed.
#[derive(Debug, Clone, Copy)]
pub struct WorkerView<'a> {
    /// `WK…` SID.
    pub sid: &'a str,
    /// Friendly name.
    pub friendly_name: &'a str,
    /// SID of the current Activity.
    pub activity_sid: &'a str,
    /// Friendly name of the current Activity.
    pub activity_name: &'a str,
    /// Whether the current Activity has `available=true`.
    pub available: bool,
    /// The worker's attributes (a JSON object; anything else resolves nothing).
    pub attributes: &'a Value,
    /// Per-channel load, for `worker.channel.<name>.*` (ROUTING.md §1.9.3). May be empty.
    pub channels: &'a [ChannelLoad<'a>],
}

/// One of a worker's channels, as multitasking variables and capacity checks see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelLoad<'a> {
    /// Task Channel unique name (`voice`, `chat`, …).
    pub unique_name: &'a str,
    /// Configured capacity.
    pub configured_capacity: u32,
    /// Reservations on this channel in `accepted` state.
    pub assigned_tasks: u32,
    /// Reservations on this channel that are `pending`, `accepted` or `wrapping`.
    pub occupied: u32,
    /// The worker channel's `available` flag.
    pub available: bool,
}

impl ChannelLoad<'_> {
    /// `floor((1 − occupied / configured_capacity) × 100)`, 0 when the capacity is 0
    /// (ROUTING.md §1.9.3; the zero case is UNCONFIRMED, its suggestion).
    ///
    /// ROUTING.md's second worked example ("capacity 3, 2 tasks → 66") disagrees with its
    /// own formula (which gives 33); we follow the formula, which matches the variable's
    /// name: the share of capacity still free.
    pub fn available_capacity_percentage(&self) -> u32 {
        if self.configured_capacity == 0 {
            return 0;
        }
        let free = self.configured_capacity.saturating_sub(self.occupied);
        // Widen so `free * 100` cannot overflow for any u32 capacity.
        (u64::from(free) * 100 / u64::from(self.configured_capacity)) as u32
    }
}

impl<'a> WorkerView<'a> {
    /// A built-in field (`sid`, `friendly_name`, `activity_sid`, `activity_name`) or a
    /// channel variable (`channel.<name>.configured_capacity|assigned_tasks|
    /// available_capacity_percentage`), if `rest` names one.
    pub fn builtin(&self, rest: &[PathSegment]) -> Option<ValueRef<'a>> {
        match rest {
            [field] => match name(field)? {
                "sid" => Some(ValueRef::String(self.sid)),
                "friendly_name" => Some(ValueRef::String(self.friendly_name)),
                "activity_sid" => Some(ValueRef::String(self.activity_sid)),
                "activity_name" => Some(ValueRef::String(self.activity_name)),
                _ => None,
            },
            [PathSegment::Key(channel_word), channel, variable] if &**channel_word == "channel" => {
                let channel = name(channel)?;
                let load = self
                    .channels
                    .iter()
                    .find(|load| load.unique_name == channel)?;
                let value = match name(variable)? {
                    "configured_capacity" => load.configured_capacity,
                    "assigned_tasks" => load.assigned_tasks,
                    "available_capacity_percentage" => load.available_capacity_percentage(),
                    _ => return None,
                };
                Some(ValueRef::Number(f64::from(value)))
            }
            _ => None,
        }
    }

    /// `worker.<rest>` in a target expression: built-in fields win over attributes of the
    /// same name, because ROUTING.md §1.9.1 documents them as the worker's own fields.
    pub fn lookup_prefixed(&self, rest: &[PathSegment]) -> Option<ValueRef<'a>> {
        self.builtin(rest)
            .or_else(|| lookup_json(self.attributes, rest).map(ValueRef::from_json))
    }
}

fn name(segment: &PathSegment) -> Option<&str> {
    match segment {
        PathSegment::Key(name) => Some(name),
        PathSegment::Index(_) => None,
    }
}

/// TaskQueue `target_workers` (and the Workers list filter): bare keys are worker
/// attributes. The built-in fields are also visible, after the attributes (ROUTING.md
/// §1.1: UNCONFIRMED in `target_workers`, suggested visible; the documented namespace is
/// the attributes, so an attribute of the same name wins here).
#[derive(Debug, Clone, Copy)]
pub struct MemberScope<'a> {
    /// The worker being tested.
    pub worker: &'a WorkerView<'a>,
}

impl Scope for MemberScope<'_> {
    fn lookup(&self, key: &KeyPath) -> Option<ValueRef<'_>> {
        lookup_json(self.worker.attributes, key.segments())
            .map(ValueRef::from_json)
            .or_else(|| self.worker.builtin(key.segments()))
    }
}

/// Workflow target expressions: `task.` reads the task's attributes, `worker.` the
/// candidate worker, `taskrouter.` the time (ROUTING.md §1.9.1, §1.9.5). Unprefixed keys
/// are NULL (T-10; UNCONFIRMED, ROUTING.md's suggestion), and `task.` reads attributes
/// only, not task resource fields such as `task.priority` (UNCONFIRMED, suggested).
#[derive(Debug, Clone, Copy)]
pub struct TargetScope<'a> {
    /// The task's attributes.
    pub task: &'a Value,
    /// The candidate worker.
    pub worker: &'a WorkerView<'a>,
    /// The current time (UTC), if time-of-day variables should resolve.
    pub time: Option<TimeOfDay>,
}

impl Scope for TargetScope<'_> {
    fn lookup(&self, key: &KeyPath) -> Option<ValueRef<'_>> {
        match key.root() {
            Root::Task => lookup_json(self.task, key.rest()).map(ValueRef::from_json),
            Root::Worker => self.worker.lookup_prefixed(key.rest()),
            Root::TaskRouter => self.time?.lookup(key.rest()),
            Root::Workers | Root::Other => None,
        }
    }
}

/// Counters about the members of a step's queue, for `skip_if` (ROUTING.md §1.9.4).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueueCounts {
    /// Members whose Activity is available.
    pub available: u32,
    /// Members whose Activity is not available.
    pub unavailable: u32,
    /// Members per Activity SID (only activities with members need an entry).
    pub by_activity: Vec<(String, u32)>,
}

/// `skip_if` expressions: `workers.available`, `workers.unavailable`,
/// `workers.<ActivitySid>` (ROUTING.md §1.9.4).
///
/// `workers.WA…` for an activity with no members is 0, not NULL, so `workers.WAx < 2`
/// holds when nobody is in that activity. Other names (`workers.idle`, …) are not
/// documented and are NULL (UNCONFIRMED, ROUTING.md's suggestion).
#[derive(Debug, Clone, Copy)]
pub struct SkipScope<'a> {
    /// The counters of the step's queue.
    pub counts: &'a QueueCounts,
}

impl Scope for SkipScope<'_> {
    fn lookup(&self, key: &KeyPath) -> Option<ValueRef<'_>> {
        if key.root() != Root::Workers {
            return None;
        }
        let [PathSegment::Key(name)] = key.rest() else {
            return None;
        };
        let count = match &**name {
            "available" => self.counts.available,
            "unavailable" => self.counts.unavailable,
            sid if sid.starts_with("WA") => self
                .counts
                .by_activity
                .iter()
                .find(|(activity, _)| activity == sid)
                .map_or(0, |(_, count)| *count),
            _ => return None,
        };
        Some(ValueRef::Number(f64::from(count)))
    }
}

/// Day of the week, as `taskrouter.dayOfWeek` spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Weekday {
    /// Monday.
    Mon,
    /// Tuesday.
    Tue,
    /// Wednesday.
    Wed,
    /// Thursday.
    Thu,
    /// Friday.
    Fri,
    /// Saturday.
    Sat,
    /// Sunday.
    Sun,
}

impl Weekday {
    const ALL: [Weekday; 7] = [
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
        Weekday::Sat,
        Weekday::Sun,
    ];

    /// `Mon` … `Sun` (ROUTING.md §1.9.5).
    pub fn as_str(self) -> &'static str {
        match self {
            Weekday::Mon => "Mon",
            Weekday::Tue => "Tue",
            Weekday::Wed => "Wed",
            Weekday::Thu => "Thu",
            Weekday::Fri => "Fri",
            Weekday::Sat => "Sat",
            Weekday::Sun => "Sun",
        }
    }
}

impl fmt::Display for Weekday {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Weekday {
    type Err = String;

    /// Accepts the three-letter names in any case.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Weekday::ALL
            .into_iter()
            .find(|day| day.as_str().eq_ignore_ascii_case(text))
            .ok_or_else(|| {
                format!("unknown day `{text}` (expected Mon, Tue, Wed, Thu, Fri, Sat or Sun)")
            })
    }
}

/// A moment's UTC weekday, hour and minute: the input of the time-of-day variables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimeOfDay {
    weekday: Weekday,
    hour: u8,
    minute: u8,
}

/// `taskrouter.currentHour` is documented as a string `HH`; zero-padded like a clock.
const HOURS: [&str; 24] = [
    "00", "01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11", "12", "13", "14", "15",
    "16", "17", "18", "19", "20", "21", "22", "23",
];

impl TimeOfDay {
    /// A time, or `None` if `hour > 23` or `minute > 59`.
    pub fn new(weekday: Weekday, hour: u8, minute: u8) -> Option<Self> {
        (hour < 24 && minute < 60).then_some(TimeOfDay {
            weekday,
            hour,
            minute,
        })
    }

    /// The UTC time of a Unix timestamp (seconds). Pure arithmetic: the caller reads the
    /// clock.
    pub fn from_unix_seconds(seconds: i64) -> Self {
        let days = seconds.div_euclid(86_400);
        let second_of_day = seconds.rem_euclid(86_400);
        // 1970-01-01 was a Thursday, index 3 from Monday.
        let weekday = Weekday::ALL[(days + 3).rem_euclid(7) as usize];
        TimeOfDay {
            weekday,
            hour: (second_of_day / 3_600) as u8,
            minute: (second_of_day % 3_600 / 60) as u8,
        }
    }

    /// The weekday.
    pub fn weekday(&self) -> Weekday {
        self.weekday
    }

    /// The hour, 0–23.
    pub fn hour(&self) -> u8 {
        self.hour
    }

    /// The minute, 0–59.
    pub fn minute(&self) -> u8 {
        self.minute
    }

    /// `taskrouter.<rest>`: `currentTime` (number `HHMM`), `currentHour` (string `HH`,
    /// which the numeric-string rule lets `> 8` compare), `currentMin` (number),
    /// `dayOfWeek` (string `Mon`…`Sun`). Names match exactly as documented.
    pub fn lookup(&self, rest: &[PathSegment]) -> Option<ValueRef<'static>> {
        let [PathSegment::Key(name)] = rest else {
            return None;
        };
        Some(match &**name {
            "currentTime" => ValueRef::Number(f64::from(
                u16::from(self.hour) * 100 + u16::from(self.minute),
            )),
            "currentHour" => ValueRef::String(HOURS[usize::from(self.hour)]),
            "currentMin" => ValueRef::Number(f64::from(self.minute)),
            "dayOfWeek" => ValueRef::String(self.weekday.as_str()),
            _ => return None,
        })
    }
}

impl fmt::Display for TimeOfDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {:02}:{:02}", self.weekday, self.hour, self.minute)
    }
}

impl FromStr for TimeOfDay {
    type Err = String;

    /// `DAY HH:MM`, e.g. `Mon 09:30` (UTC).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let problem =
            || format!("bad time `{text}` (expected `DAY HH:MM` in UTC, e.g. `Mon 09:30`)");
        let (day, clock) = text.trim().split_once(' ').ok_or_else(problem)?;
        let weekday: Weekday = day.parse()?;
        let (hour, minute) = clock.trim().split_once(':').ok_or_else(problem)?;
        let hour: u8 = hour.parse().map_err(|_| problem())?;
        let minute: u8 = minute.parse().map_err(|_| problem())?;
        TimeOfDay::new(weekday, hour, minute).ok_or_else(problem)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn key(source: &str) -> KeyPath {
        crate::expr::parse_key_path(source).expect("key")
    }

    #[test]
    fn json_walk() {
        let doc = json!({"a": {"b": [10, {"c": "x"}]}});
        assert_eq!(
            lookup_json(&doc, key("a.b[1].c").segments()),
            Some(&json!("x"))
        );
        assert_eq!(lookup_json(&doc, key("a.b[2]").segments()), None);
        assert_eq!(lookup_json(&doc, key("a[0]").segments()), None);
        assert_eq!(lookup_json(&doc, key("a.b.c").segments()), None);
        assert_eq!(lookup_json(&doc, key("A").segments()), None);
    }

    #[test]
    fn time_of_day_from_unix_seconds() {
        // 2024-03-15 was a Friday; 14:05 UTC.
        let time = TimeOfDay::from_unix_seconds(1_710_511_500);
        assert_eq!(time.to_string(), "Fri 14:05");
        assert_eq!(TimeOfDay::from_unix_seconds(0).to_string(), "Thu 00:00");
        assert_eq!(TimeOfDay::from_unix_seconds(-1).to_string(), "Wed 23:59");
        assert_eq!(
            "sat 7:05".parse::<TimeOfDay>(),
            Ok(TimeOfDay::new(Weekday::Sat, 7, 5).expect("valid"))
        );
        assert!("Mon 24:00".parse::<TimeOfDay>().is_err());
        assert!("Monday 10:00".parse::<TimeOfDay>().is_err());
    }

    #[test]
    fn time_variables() {
        let time = TimeOfDay::new(Weekday::Tue, 8, 7).expect("valid");
        assert_eq!(
            time.lookup(key("t.currentTime").rest()),
            Some(ValueRef::Number(807.0))
        );
        assert_eq!(
            time.lookup(key("t.currentHour").rest()),
            Some(ValueRef::String("08"))
        );
        assert_eq!(
            time.lookup(key("t.currentMin").rest()),
            Some(ValueRef::Number(7.0))
        );
        assert_eq!(
            time.lookup(key("t.dayOfWeek").rest()),
            Some(ValueRef::String("Tue"))
        );
        assert_eq!(time.lookup(key("t.dayofweek").rest()), None);
    }

    #[test]
    fn capacity_percentage() {
        let load = |configured_capacity, occupied| ChannelLoad {
            unique_name: "chat",
            configured_capacity,
            assigned_tasks: occupied,
            occupied,
            available: true,
        };
        assert_eq!(load(4, 2).available_capacity_percentage(), 50);
        assert_eq!(load(3, 1).available_capacity_percentage(), 66);
        assert_eq!(load(3, 2).available_capacity_percentage(), 33);
        assert_eq!(load(0, 0).available_capacity_percentage(), 0);
        assert_eq!(load(1, 5).available_capacity_percentage(), 0);
        assert_eq!(load(u32::MAX, 0).available_capacity_percentage(), 100);
    }

    #[test]
    fn member_scope_prefers_attributes_target_scope_prefers_builtins() {
        let attributes = json!({"sid": "custom", "level": 3});
        let worker = WorkerView {
            sid: "WK1",
            friendly_name: "ana",
            activity_sid: "WA1",
            activity_name: "Available",
            available: true,
            attributes: &attributes,
            channels: &[],
        };
        let member = MemberScope { worker: &worker };
        assert_eq!(member.lookup(&key("sid")), Some(ValueRef::String("custom")));
        assert_eq!(
            member.lookup(&key("friendly_name")),
            Some(ValueRef::String("ana"))
        );
        let task = json!({});
        let target = TargetScope {
            task: &task,
            worker: &worker,
            time: None,
        };
        assert_eq!(
            target.lookup(&key("worker.sid")),
            Some(ValueRef::String("WK1"))
        );
        assert_eq!(
            target.lookup(&key("worker.level")),
            Some(ValueRef::Number(3.0))
        );
        assert_eq!(target.lookup(&key("level")), None);
        assert_eq!(target.lookup(&key("taskrouter.dayOfWeek")), None);
    }

    #[test]
    fn skip_counters() {
        let counts = QueueCounts {
            available: 1,
            unavailable: 2,
            by_activity: vec![("WA0OFF".into(), 2)],
        };
        let scope = SkipScope { counts: &counts };
        assert_eq!(
            scope.lookup(&key("workers.available")),
            Some(ValueRef::Number(1.0))
        );
        assert_eq!(
            scope.lookup(&key("workers.WA0OFF")),
            Some(ValueRef::Number(2.0))
        );
        assert_eq!(
            scope.lookup(&key("workers.WAnobody")),
            Some(ValueRef::Number(0.0))
        );
        assert_eq!(scope.lookup(&key("workers.idle")), None);
        assert_eq!(scope.lookup(&key("available")), None);
    }
}
