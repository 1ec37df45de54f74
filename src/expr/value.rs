//! Borrowed values and the comparison rules of ROUTING.md §1.5 and §1.8.
//!
//! A [`ValueRef`] points into a JSON document, into the expression's own constants, or at a
//! scope's built-in field, so evaluating never copies a value. The functions here decide
//! what each operator means for each pair of types, NULL included. They never look keys up
//! (that is `scope`) and never walk the tree (that is `eval`).

use std::cmp::Ordering;
use std::fmt;

use serde_json::Value;

use super::ast::{CompareOp, Literal};

/// A value as seen by a comparison, borrowed from wherever it lives.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ValueRef<'a> {
    /// A missing key, a JSON `null`, or the literal `null`.
    Null,
    /// A boolean.
    Bool(bool),
    /// A number (JSON numbers are read as `f64`).
    Number(f64),
    /// A string.
    String(&'a str),
    /// An array.
    Array(ArrayRef<'a>),
    /// A JSON object: only `== null` / `!= null` say anything about it.
    Object(&'a serde_json::Map<String, Value>),
}

/// An array from a JSON document or from an array literal.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ArrayRef<'a> {
    /// Elements of a JSON array.
    Json(&'a [Value]),
    /// Elements of an array literal.
    Literal(&'a [Literal]),
}

impl<'a> ArrayRef<'a> {
    /// Whether any element satisfies `test`, without collecting anything.
    pub fn any(self, mut test: impl FnMut(ValueRef<'a>) -> bool) -> bool {
        match self {
            ArrayRef::Json(items) => items.iter().any(|item| test(ValueRef::from_json(item))),
            ArrayRef::Literal(items) => items.iter().any(|item| test(ValueRef::from_literal(item))),
        }
    }

    /// Number of elements.
    pub fn len(self) -> usize {
        match self {
            ArrayRef::Json(items) => items.len(),
            ArrayRef::Literal(items) => items.len(),
        }
    }

    /// Whether there are no elements.
    pub fn is_empty(self) -> bool {
        self.len() == 0
    }
}

impl<'a> ValueRef<'a> {
    /// View a JSON value.
    pub fn from_json(value: &'a Value) -> Self {
        match value {
            Value::Null => ValueRef::Null,
            Value::Bool(flag) => ValueRef::Bool(*flag),
            // Always `Some` without serde_json's arbitrary_precision; NULL otherwise.
            Value::Number(number) => number.as_f64().map_or(ValueRef::Null, ValueRef::Number),
            Value::String(text) => ValueRef::String(text),
            Value::Array(items) => ValueRef::Array(ArrayRef::Json(items)),
            Value::Object(map) => ValueRef::Object(map),
        }
    }

    /// View a literal.
    pub fn from_literal(literal: &'a Literal) -> Self {
        match literal {
            Literal::String(text) => ValueRef::String(text),
            Literal::Number(number) => ValueRef::Number(*number),
            Literal::Bool(flag) => ValueRef::Bool(*flag),
            Literal::Null => ValueRef::Null,
            Literal::Array(items) => ValueRef::Array(ArrayRef::Literal(items)),
        }
    }

    fn is_null(self) -> bool {
        matches!(self, ValueRef::Null)
    }

    /// Arrays and objects: not scalars, so scalar operators are false on them (§1.5).
    fn is_container(self) -> bool {
        matches!(self, ValueRef::Array(_) | ValueRef::Object(_))
    }
}

/// Apply `op` to two values (ROUTING.md §1.4, §1.5, §1.8).
pub fn compare(op: CompareOp, left: ValueRef<'_>, right: ValueRef<'_>) -> bool {
    match op {
        CompareOp::Eq => equals(left, right),
        CompareOp::Ne => not_equals(left, right),
        CompareOp::Lt => order(left, right).is_some_and(Ordering::is_lt),
        CompareOp::Le => order(left, right).is_some_and(Ordering::is_le),
        CompareOp::Gt => order(left, right).is_some_and(Ordering::is_gt),
        CompareOp::Ge => order(left, right).is_some_and(Ordering::is_ge),
        CompareOp::Contains => match (left, right) {
            (ValueRef::String(haystack), ValueRef::String(needle)) => haystack.contains(needle),
            // Scalar operator on anything else (numbers included): false (§1.5).
            _ => false,
        },
        CompareOp::Has => match left {
            ValueRef::Array(items) if !right.is_container() => {
                items.any(|item| equals(item, right))
            }
            // Array operator without an array on the left: false (§1.5, E-22, E-24).
            _ => false,
        },
        CompareOp::In => match right {
            ValueRef::Array(items) if !left.is_container() => items.any(|item| equals(left, item)),
            _ => false,
        },
        // `x NOT IN y` is false, not true, whenever `IN` is not applicable: §1.5 says an
        // array operator on scalars is false, and ROUTING.md §1.8 suggests the same for a
        // missing right side. A missing *left* side is treated as the scalar NULL, so
        // `missing NOT IN ["a"]` is true (UNCONFIRMED; chosen because a task that lacks
        // the attribute is indeed not in the list, which is what users filtering with
        // `NOT IN` mean).
        CompareOp::NotIn => match right {
            ValueRef::Array(items) if !left.is_container() => !items.any(|item| equals(left, item)),
            _ => false,
        },
    }
}

/// `==`. NULL equals only NULL, so `missing == null` is true and `x == null` is a
/// presence test that works for arrays too (T-09). Otherwise arrays and objects never
/// equal anything (§1.5, E-21).
fn equals(left: ValueRef<'_>, right: ValueRef<'_>) -> bool {
    if left.is_null() || right.is_null() {
        return left.is_null() && right.is_null();
    }
    if left.is_container() || right.is_container() {
        return false;
    }
    scalars_equal(left, right)
}

/// `!=`. With NULL on either side it is the negation of `==` (`x != null` tests presence,
/// E-29/E-30; `missing != "x"` is true, E-31 — UNCONFIRMED, ROUTING.md's suggestion).
/// With an array or object on either side it is false like every scalar operator (§1.5).
fn not_equals(left: ValueRef<'_>, right: ValueRef<'_>) -> bool {
    if left.is_null() || right.is_null() {
        return !(left.is_null() && right.is_null());
    }
    if left.is_container() || right.is_container() {
        return false;
    }
    !scalars_equal(left, right)
}

/// Equality of two non-NULL scalars under the mixed-type rule of ROUTING.md §1.8
/// (UNCONFIRMED, its suggestion): a number and a numeric string compare as numbers
/// (`tier == "2"`, the S-TQ `"6" > 5` example); strings compare byte for byte, so case
/// matters (E-35); booleans equal only booleans; any other pair is unequal.
fn scalars_equal(left: ValueRef<'_>, right: ValueRef<'_>) -> bool {
    match (left, right) {
        (ValueRef::Number(a), ValueRef::Number(b)) => a == b,
        (ValueRef::Number(number), ValueRef::String(text))
        | (ValueRef::String(text), ValueRef::Number(number)) => {
            numeric_string(text).is_some_and(|parsed| parsed == number)
        }
        (ValueRef::String(a), ValueRef::String(b)) => a == b,
        (ValueRef::Bool(a), ValueRef::Bool(b)) => a == b,
        _ => false,
    }
}

/// Ordering for `<`, `<=`, `>`, `>=`: numbers (numeric strings coerced when the other side
/// is a number), or two strings compared byte-wise. Anything else, NULL included, is
/// unordered, so every ordering operator is false on it.
fn order(left: ValueRef<'_>, right: ValueRef<'_>) -> Option<Ordering> {
    match (left, right) {
        (ValueRef::Number(a), ValueRef::Number(b)) => a.partial_cmp(&b),
        (ValueRef::Number(a), ValueRef::String(text)) => a.partial_cmp(&numeric_string(text)?),
        (ValueRef::String(text), ValueRef::Number(b)) => numeric_string(text)?.partial_cmp(&b),
        (ValueRef::String(a), ValueRef::String(b)) => Some(a.cmp(b)),
        _ => None,
    }
}

/// A string that reads as a plain decimal number: optional `-`, digits, optional
/// `.digits`. Exponents, `inf`, spaces and `+` are not numbers here.
pub fn numeric_string(text: &str) -> Option<f64> {
    let unsigned = text.strip_prefix('-').unwrap_or(text);
    let (whole, fraction) = match unsigned.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (unsigned, None),
    };
    let digits = |part: &str| !part.is_empty() && part.bytes().all(|byte| byte.is_ascii_digit());
    if !digits(whole) || fraction.is_some_and(|fraction| !digits(fraction)) {
        return None;
    }
    text.parse::<f64>().ok().filter(|value| value.is_finite())
}

impl fmt::Display for ValueRef<'_> {
    /// JSON-like text, for explanations.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ValueRef::Null => f.write_str("null"),
            ValueRef::Bool(flag) => write!(f, "{flag}"),
            ValueRef::Number(number) => write!(f, "{number}"),
            ValueRef::String(text) => write!(f, "{}", Value::String((*text).to_string())),
            ValueRef::Array(ArrayRef::Json(items)) => {
                write!(f, "{}", Value::Array(items.to_vec()))
            }
            ValueRef::Array(ArrayRef::Literal(items)) => {
                write!(f, "{}", Literal::Array(items.to_vec()))
            }
            ValueRef::Object(map) => write!(f, "{}", Value::Object((*map).clone())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numeric_strings() {
        assert_eq!(numeric_string("6"), Some(6.0));
        assert_eq!(numeric_string("0800"), Some(800.0));
        assert_eq!(numeric_string("-2.5"), Some(-2.5));
        for text in ["", "-", "1.", ".5", "1e3", "inf", " 1", "+1", "1,5", "0x1"] {
            assert_eq!(numeric_string(text), None, "{text:?}");
        }
    }

    #[test]
    fn null_rules() {
        use CompareOp::*;
        let null = ValueRef::Null;
        let one = ValueRef::Number(1.0);
        assert!(compare(Eq, null, null));
        assert!(!compare(Ne, null, null));
        assert!(!compare(Eq, null, one));
        assert!(compare(Ne, null, one));
        for op in [Lt, Le, Gt, Ge, Contains, Has, In] {
            assert!(!compare(op, null, one), "{op}");
            assert!(!compare(op, one, null), "{op}");
        }
    }

    #[test]
    fn containers_and_nulls() {
        let doc = json!({"list": ["a", null], "obj": {"k": 1}});
        let list = ValueRef::from_json(&doc["list"]);
        let obj = ValueRef::from_json(&doc["obj"]);
        assert!(compare(CompareOp::Ne, list, ValueRef::Null));
        assert!(compare(CompareOp::Ne, obj, ValueRef::Null));
        assert!(!compare(CompareOp::Eq, obj, obj));
        assert!(!compare(CompareOp::Ne, obj, ValueRef::String("x")));
        // An array may hold JSON null: NULL is then found in it.
        assert!(compare(CompareOp::Has, list, ValueRef::Null));
    }

    #[test]
    fn display_is_json_like() {
        let doc = json!(["a", 1]);
        assert_eq!(ValueRef::from_json(&doc).to_string(), "[\"a\",1]");
        assert_eq!(ValueRef::String("q\"").to_string(), "\"q\\\"\"");
        assert_eq!(ValueRef::Number(4.5).to_string(), "4.5");
    }
}
