//! Decoding TaskRouter's form and query parameters: used by the generated
//! `…Params::from_pairs` (the emulator's HTTP layer). Encoding lives with the
//! parameter structs (`to_pairs`).

/// A parameter that could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamError {
    /// A required parameter is absent or empty.
    #[error("Missing required parameter {0} in the post body")]
    Missing(&'static str),
    /// A value is not of the parameter's type.
    #[error("Invalid value for {name}: {value:?} is not {expected}")]
    Invalid {
        /// The parameter.
        name: &'static str,
        /// The value sent.
        value: String,
        /// What it should have been.
        expected: &'static str,
    },
}

impl ParamError {
    /// The offending parameter's name.
    pub fn name(&self) -> &'static str {
        match self {
            ParamError::Missing(name) | ParamError::Invalid { name, .. } => name,
        }
    }
}

/// A string that is not one of a closed set's values (the `FromStr` error of the
/// generated enums: `TaskStatus`, `ReservationStatus`, …).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{value:?} is not a {kind} (expected one of: {})", allowed.join(", "))]
pub struct UnknownValue {
    /// What the set is (`task status`, …).
    pub kind: &'static str,
    /// The string given.
    pub value: String,
    /// The values the set has, in the spec's order.
    pub allowed: &'static [&'static str],
}

impl UnknownValue {
    /// `value` is not in `allowed`.
    pub fn new(kind: &'static str, value: &str, allowed: &'static [&'static str]) -> Self {
        UnknownValue {
            kind,
            value: value.to_string(),
            allowed,
        }
    }
}

/// The last value of `name` (a repeated scalar keeps the last, as form decoders do).
pub fn text(pairs: &[(String, String)], name: &'static str) -> Result<Option<String>, ParamError> {
    Ok(pairs
        .iter()
        .rev()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.clone()))
}

/// An integer parameter.
pub fn int(pairs: &[(String, String)], name: &'static str) -> Result<Option<i64>, ParamError> {
    match text(pairs, name)? {
        None => Ok(None),
        Some(value) => value
            .trim()
            .parse::<i64>()
            .map(Some)
            .map_err(|_| ParamError::Invalid {
                name,
                value,
                expected: "an integer",
            }),
    }
}

/// A boolean parameter: `true`/`false` in any case (what the helper libraries send);
/// `1`/`yes` and `0`/`no` too, which TaskRouter documents for `Available`.
pub fn boolean(pairs: &[(String, String)], name: &'static str) -> Result<Option<bool>, ParamError> {
    match text(pairs, name)? {
        None => Ok(None),
        Some(value) => match value.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => Ok(Some(true)),
            "false" | "0" | "no" => Ok(Some(false)),
            _ => Err(ParamError::Invalid {
                name,
                value,
                expected: "true or false",
            }),
        },
    }
}

/// A list parameter: every occurrence of the key, each also split on commas (the spec
/// shows both `AssignmentStatus=pending&AssignmentStatus=reserved` and `pending,reserved`).
pub fn list(pairs: &[(String, String)], name: &'static str) -> Vec<String> {
    pairs
        .iter()
        .filter(|(key, _)| key == name)
        .flat_map(|(_, value)| value.split(','))
        .map(|value| value.trim().to_string())
        .filter(|value| !value.is_empty())
        .collect()
}

/// A required value: present and non-empty.
pub fn required<T>(value: Option<T>, name: &'static str) -> Result<T, ParamError> {
    value.ok_or(ParamError::Missing(name))
}

/// An empty value counts as absent (for required text parameters).
pub fn nonempty(value: Option<String>) -> Option<String> {
    value.filter(|value| !value.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn decodes_each_type() {
        let p = pairs(&[
            ("Priority", "5"),
            ("Available", "TRUE"),
            ("S", "a,b"),
            ("S", "c"),
        ]);
        assert_eq!(int(&p, "Priority"), Ok(Some(5)));
        assert_eq!(boolean(&p, "Available"), Ok(Some(true)));
        assert_eq!(list(&p, "S"), ["a", "b", "c"]);
        assert_eq!(text(&p, "Missing"), Ok(None));
        assert!(matches!(
            int(&pairs(&[("Priority", "x")]), "Priority"),
            Err(ParamError::Invalid {
                name: "Priority",
                ..
            })
        ));
        assert_eq!(boolean(&pairs(&[("B", "yes")]), "B"), Ok(Some(true)));
        assert!(boolean(&pairs(&[("B", "maybe")]), "B").is_err());
        assert_eq!(
            required::<i64>(None, "FriendlyName"),
            Err(ParamError::Missing("FriendlyName"))
        );
    }
}
