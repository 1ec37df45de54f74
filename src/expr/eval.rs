//! Evaluation: walk a parsed [`Expr`] against a [`Scope`] and get a boolean.
//!
//! The fast path ([`evaluate`]) allocates nothing: operands are borrowed from the tree or
//! the scope, AND / OR short-circuit. [`explain`] is the slow, allocating twin that records
//! every sub-expression's value for people (`trctl expr eval --explain`). There are no
//! runtime errors: type mismatches are simply false (ROUTING.md §1.11).

use serde::Serialize;

use super::ast::{Expr, Operand};
use super::scope::Scope;
use super::value::{compare, ValueRef};

/// The value of `expr` in `scope`.
pub fn evaluate<S: Scope + ?Sized>(expr: &Expr, scope: &S) -> bool {
    match expr {
        Expr::Comparison(comparison) => compare(
            comparison.op,
            operand(&comparison.left, scope),
            operand(&comparison.right, scope),
        ),
        Expr::And(items) => items.iter().all(|item| evaluate(item, scope)),
        Expr::Or(items) => items.iter().any(|item| evaluate(item, scope)),
    }
}

fn operand<'a, S: Scope + ?Sized>(operand: &'a Operand, scope: &'a S) -> ValueRef<'a> {
    match operand {
        Operand::Literal(literal) => ValueRef::from_literal(literal),
        Operand::Key(key) => scope.lookup(key).unwrap_or(ValueRef::Null),
    }
}

/// One node of an explanation tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Explanation {
    /// The sub-expression in canonical form.
    pub expression: String,
    /// Its value.
    pub value: bool,
    /// For a comparison: each key operand and what it resolved to (`null` when missing).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub keys: Vec<ResolvedKey>,
    /// For AND / OR: the items, every one evaluated (no short-circuit here, so the tree
    /// shows the whole picture).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<Explanation>,
}

/// A key and the value it had.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResolvedKey {
    /// The key as written in canonical form.
    pub key: String,
    /// Its value as JSON-like text.
    pub value: String,
}

/// Evaluate `expr` in `scope`, recording every sub-expression's value.
pub fn explain<S: Scope + ?Sized>(expr: &Expr, scope: &S) -> Explanation {
    match expr {
        Expr::Comparison(comparison) => {
            let keys = [&comparison.left, &comparison.right]
                .into_iter()
                .filter_map(|side| match side {
                    Operand::Key(key) => Some(ResolvedKey {
                        key: key.to_string(),
                        value: operand(side, scope).to_string(),
                    }),
                    Operand::Literal(_) => None,
                })
                .collect();
            Explanation {
                expression: expr.to_string(),
                value: evaluate(expr, scope),
                keys,
                children: Vec::new(),
            }
        }
        Expr::And(items) | Expr::Or(items) => {
            let children: Vec<Explanation> =
                items.iter().map(|item| explain(item, scope)).collect();
            let value = if matches!(expr, Expr::And(_)) {
                children.iter().all(|child| child.value)
            } else {
                children.iter().any(|child| child.value)
            };
            Explanation {
                expression: expr.to_string(),
                value,
                keys: Vec::new(),
                children,
            }
        }
    }
}
