//! TaskRouter's expression language (ROUTING.md §1): compile once, evaluate many times.
//!
//! Pipeline, one stage per module, each with its own type and error:
//! source → [`lex`] (tokens) → [`parse`] (precedence climbing) → [`ast`] ([`Expr`]) →
//! [`eval`] against a [`Scope`] → `bool`. [`value`] holds the comparison rules, [`scope`]
//! what keys mean in filters, queues, targets and `skip_if`.
//!
//! ```
//! use trctl::expr::Expression;
//! use serde_json::json;
//!
//! let expression = Expression::compile(r#"(skills HAS "support") AND (languages HAS "en")"#)?;
//! let worker = json!({"skills": ["support"], "languages": ["en", "es"]});
//! assert!(expression.matches_document(&worker));
//! assert_eq!(expression.to_string(), r#"skills HAS "support" AND languages HAS "en""#);
//! # Ok::<(), trctl::expr::ParseError>(())
//! ```
//!
//! This module does no I/O and reads no clock; it does not know workflows (see
//! [`crate::workflow`]) and does not render errors for terminals (the CLI does).

pub mod ast;
pub mod error;
pub mod eval;
pub mod lex;
pub mod limits;
pub mod parse;
pub mod scope;
pub mod value;

use std::fmt;
use std::str::FromStr;

pub use ast::{CompareOp, Comparison, Expr, KeyPath, Literal, Operand, PathSegment, Root};
pub use error::{
    line_column, Expect, Found, LexError, LexErrorKind, ParseError, ParseErrorKind, Span,
};
pub use eval::{Explanation, ResolvedKey};
pub use parse::parse_key_path;
pub use scope::{
    lookup_json, ChannelLoad, FilterScope, MemberScope, QueueCounts, Scope, SkipScope, TargetScope,
    TimeOfDay, Weekday, WorkerView,
};
pub use value::{ArrayRef, ValueRef};

pub use limits::{
    MAX_EXPRESSION_BYTES, MAX_LIST_ITEMS, MAX_NESTING, MAX_ORDER_BY_CLAUSES, MAX_TERMS,
    MAX_WORKFLOW_TARGETS,
};

/// A compiled expression: the source text as written plus its syntax tree.
#[derive(Debug, Clone)]
pub struct Expression {
    source: String,
    ast: Expr,
}

impl Expression {
    /// Lex and parse `source`. Errors carry the byte span of the fault. Sources over the
    /// bounds of [`limits`] are refused with a [`ParseErrorKind::TooLong`],
    /// [`ParseErrorKind::TooManyTerms`], [`ParseErrorKind::ListTooLong`] or
    /// [`ParseErrorKind::TooDeep`].
    pub fn compile(source: &str) -> Result<Expression, ParseError> {
        Ok(Expression {
            source: source.to_string(),
            ast: parse::parse(source)?,
        })
    }

    /// The text as it was written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The syntax tree.
    pub fn ast(&self) -> &Expr {
        &self.ast
    }

    /// Evaluate in `scope`. Never allocates, never fails (mismatches are false).
    pub fn evaluate<S: Scope + ?Sized>(&self, scope: &S) -> bool {
        eval::evaluate(&self.ast, scope)
    }

    /// Evaluate and record every sub-expression's value.
    pub fn explain<S: Scope + ?Sized>(&self, scope: &S) -> Explanation {
        eval::explain(&self.ast, scope)
    }

    /// Evaluate with every key looked up in one JSON document (ROUTING.md §1.1: the
    /// `EvaluateTaskAttributes` / `EvaluateWorkerAttributes` list filters, and TaskQueue
    /// membership when only attributes are known).
    pub fn matches_document(&self, document: &serde_json::Value) -> bool {
        self.evaluate(document)
    }

    /// Every key the expression reads.
    pub fn keys(&self) -> Vec<&KeyPath> {
        self.ast.keys()
    }
}

/// Two expressions are equal when their trees are, whatever their spacing or aliases.
impl PartialEq for Expression {
    fn eq(&self, other: &Self) -> bool {
        self.ast == other.ast
    }
}

/// The canonical form: it parses back to the same tree.
impl fmt::Display for Expression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.ast.fmt(f)
    }
}

impl FromStr for Expression {
    type Err = ParseError;

    fn from_str(source: &str) -> Result<Self, Self::Err> {
        Expression::compile(source)
    }
}

/// Serialized as the source text, so configurations echo back as written.
impl serde::Serialize for Expression {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.source)
    }
}
