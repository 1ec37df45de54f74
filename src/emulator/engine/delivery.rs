//! What an event callback carries: the workspace's `EventsFilter` decides whether an
//! event goes out at all, and the form parameters are built from the event record
//! (WIRE.md §7). Pure: the runner only sends what this returns.

use super::state::{EventType, State};

/// `worker_activity_sid` → `WorkerActivitySid`, the callback parameter spelling.
fn pascal_case(key: &str) -> String {
    key.split('_')
        .map(|part| {
            let mut chars = part.chars();
            match chars.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
                None => String::new(),
            }
        })
        .collect()
}

/// Whether a workspace's `EventsFilter` lets an event type through. An empty or
/// absent filter lets every event through (UNCONFIRMED, WIRE.md §7.5); a name in it
/// that is no event type the emulator emits matches nothing.
pub fn passes_filter(filter: Option<&str>, event_type: EventType) -> bool {
    match filter.filter(|f| !f.trim().is_empty()) {
        Some(filter) => filter
            .split(',')
            .any(|kind| kind.trim().parse() == Ok(event_type)),
        None => true,
    }
}

/// The URL and form parameters to deliver `event` of `workspace`, if the workspace has
/// an event callback URL and its `EventsFilter` lets the event through.
pub fn event_callback(
    state: &State,
    workspace: &str,
    event: &str,
) -> Option<(String, Vec<(String, String)>)> {
    let ws = state.workspaces.get(workspace)?;
    let url = ws.event_callback_url.clone()?;
    let event = ws.events.get(event)?;
    if !passes_filter(ws.events_filter.as_deref(), event.event_type) {
        return None;
    }
    let mut params = vec![
        (
            "EventType".to_string(),
            event.event_type.as_str().to_string(),
        ),
        ("AccountSid".to_string(), state.account_sid.clone()),
        ("WorkspaceSid".to_string(), ws.sid.clone()),
        ("WorkspaceName".to_string(), ws.friendly_name.clone()),
        ("EventDescription".to_string(), event.description(ws)),
        (
            "ResourceType".to_string(),
            event.resource_type().as_str().to_string(),
        ),
        (
            "ResourceSid".to_string(),
            event.resource_sid(ws).to_string(),
        ),
        (
            "Timestamp".to_string(),
            event.date.div_euclid(1000).to_string(),
        ),
        ("TimestampMs".to_string(), event.date.to_string()),
        ("Sid".to_string(), event.sid().to_string()),
    ];
    for (key, value, _) in event.fields(ws) {
        let name = pascal_case(key);
        if params.iter().any(|(existing, _)| existing == &name) {
            continue;
        }
        params.push((name, value.to_string()));
    }
    Some((url, params))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_lists_event_types() {
        use EventType::{TaskCanceled, TaskCreated};
        assert!(passes_filter(None, TaskCreated));
        assert!(passes_filter(Some("  "), TaskCreated));
        assert!(passes_filter(
            Some("task.created, task.canceled"),
            TaskCanceled
        ));
        assert!(!passes_filter(Some("task.created"), TaskCanceled));
        assert!(!passes_filter(Some("task"), TaskCreated));
        assert!(!passes_filter(Some("task.nonsense"), TaskCreated));
    }

    #[test]
    fn snake_case_becomes_pascal_case() {
        assert_eq!(pascal_case("worker_activity_sid"), "WorkerActivitySid");
        assert_eq!(pascal_case("sid"), "Sid");
    }
}
