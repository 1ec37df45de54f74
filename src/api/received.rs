//! A decoded resource next to the JSON object it was decoded from.
//!
//! The typed models give every spec field a slot, so serializing one back fills in
//! `null` for fields the API left out and puts the fields in the model's order. Callers
//! that must show a response exactly as it came (`trctl … -o json`) ask for a
//! [`Received`] instead, which keeps both. This module does no I/O.

use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer};

/// A resource decoded as `T`, with the JSON it came as (keys in the order sent, unknown
/// fields kept, absent fields absent).
#[derive(Debug, Clone, PartialEq)]
pub struct Received<T> {
    /// The typed view.
    pub item: T,
    /// The JSON value exactly as the API sent it.
    pub json: serde_json::Value,
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Received<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let json = serde_json::Value::deserialize(deserializer)?;
        let item = T::deserialize(&json).map_err(D::Error::custom)?;
        Ok(Received { item, json })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::resources::Task;

    #[test]
    fn keeps_the_json_as_sent_next_to_the_model() {
        let text = r#"{"sid":"WT1","zeta":1,"age":3}"#;
        let received: Received<Task> = serde_json::from_str(text).unwrap();
        assert_eq!(received.item.sid.as_deref(), Some("WT1"));
        assert_eq!(received.item.age, Some(3));
        assert_eq!(received.json.to_string(), text);
    }

    #[test]
    fn a_body_the_model_refuses_is_an_error() {
        let result: Result<Received<Task>, _> = serde_json::from_str(r#"{"age":"old"}"#);
        assert!(result.is_err());
    }
}
