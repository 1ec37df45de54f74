//! Errors of the lexing and parsing stages, each with the byte span of the fault.
//!
//! Messages name what was expected and what was found, in lowercase, with a fix hint where
//! one helps. Rendering a caret under the source line is left to the caller (the CLI does
//! it); this module only offers [`line_column`] to turn a byte offset into a position.

use std::fmt;

/// A byte range `start..end` in the expression source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Span {
    /// First byte of the fault.
    pub start: usize,
    /// One past the last byte (equal to `start` for a point such as end of input).
    pub end: usize,
}

impl Span {
    /// A span from `start` to `end`.
    pub fn new(start: usize, end: usize) -> Self {
        Span { start, end }
    }
}

/// Why the lexer stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LexErrorKind {
    /// `name == "abc` — a string with no closing quote.
    UnterminatedString {
        /// The opening quote character.
        quote: char,
    },
    /// `skill-level > 3` — hyphens are not part of the language (ROUTING.md §1.2).
    Hyphen,
    /// `a == 1.` or `a == 1e5` — a number that is not `digits` or `digits.digits`.
    BadNumber {
        /// What is wrong with it.
        problem: &'static str,
    },
    /// `a ! b`, `a && b`, `a # b` — a character that starts no token.
    UnexpectedChar(char),
}

impl fmt::Display for LexErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LexErrorKind::UnterminatedString { quote } => {
                write!(f, "unterminated string (add the closing {quote})")
            }
            LexErrorKind::Hyphen => f.write_str(
                "`-` is not allowed in TaskRouter expressions \
                 (attribute names containing `-` cannot be referenced, and negative numbers are not supported)",
            ),
            LexErrorKind::BadNumber { problem } => write!(f, "bad number: {problem}"),
            LexErrorKind::UnexpectedChar(ch) => {
                write!(f, "unexpected character `{ch}`")?;
                let hint = match ch {
                    '!' => " (write `!=` for not-equal)",
                    '&' => " (write AND)",
                    '|' => " (write OR)",
                    _ => "",
                };
                f.write_str(hint)
            }
        }
    }
}

/// A lexing failure and where it happened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind}")]
pub struct LexError {
    /// What went wrong.
    pub kind: LexErrorKind,
    /// Where.
    pub span: Span,
}

/// What the parser was looking for when it failed. Each variant's doc shows an input that
/// triggers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Expect {
    /// `type == "a" AND` — a comparison or a parenthesised group.
    Condition,
    /// `languages HAS` — the right-hand value of a comparison.
    Operand,
    /// `languages "en"` — a comparison operator after the left value.
    Operator,
    /// `a == 1 b == 2` — a logical connective or the end of the expression.
    Connective,
    /// `(a == 1 b` — a logical connective or the closing parenthesis.
    ConnectiveOrClose,
    /// `x IN ["a", b]` — array literals hold only constants.
    ArrayItem,
    /// `x IN ["a" "b"]` — a comma or the closing bracket.
    ArrayNext,
    /// `customer.` — a key name after a dot.
    KeyName,
    /// `ids[x]` — a non-negative whole number as array index.
    Index,
    /// `ids[1` — the closing bracket of an index.
    CloseBracket,
    /// `a NOT HAS b` — only `NOT IN` exists (ROUTING.md §1.4).
    InAfterNot,
    /// `order_by` and `known_worker_*` values: a single key such as `task.agent_sid`.
    KeyPath,
}

impl fmt::Display for Expect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Expect::Condition => "a comparison (such as `type == \"support\"`) or `(`",
            Expect::Operand => "a value (string, number, true, false, null, array or key)",
            Expect::Operator => {
                "a comparison operator (==, !=, <, <=, >, >=, CONTAINS, HAS, IN, NOT IN)"
            }
            Expect::Connective => "AND, OR or the end of the expression",
            Expect::ConnectiveOrClose => "AND, OR or `)`",
            Expect::ArrayItem => "a constant (string, number, true, false or null)",
            Expect::ArrayNext => "`,` or `]`",
            Expect::KeyName => "a key name after `.`",
            Expect::Index => "an array index (a whole number such as 0)",
            Expect::CloseBracket => "`]`",
            Expect::InAfterNot => "IN after NOT",
            Expect::KeyPath => "a key such as `task.agent_sid`",
        })
    }
}

/// What the parser found instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// The input ended.
    End,
    /// A token, shown as it was written.
    Token(String),
}

impl fmt::Display for Found {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Found::End => f.write_str("end of input"),
            Found::Token(text) => write!(f, "`{text}`"),
        }
    }
}

/// Why the parser stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParseErrorKind {
    /// The lexer failed first.
    Lex(LexErrorKind),
    /// A token did not fit the grammar.
    Unexpected {
        /// What would have fitted.
        expected: Expect,
        /// What was there.
        found: Found,
    },
    /// More nested parentheses than [`MAX_NESTING`](crate::expr::MAX_NESTING).
    TooDeep,
    /// A source longer than [`MAX_EXPRESSION_BYTES`](crate::expr::MAX_EXPRESSION_BYTES).
    TooLong {
        /// Its length in bytes.
        bytes: usize,
    },
    /// More comparisons than [`MAX_TERMS`](crate::expr::MAX_TERMS).
    TooManyTerms {
        /// How many comparisons the expression has.
        terms: usize,
    },
    /// Array literals holding more items, all together, than
    /// [`MAX_LIST_ITEMS`](crate::expr::MAX_LIST_ITEMS).
    ListTooLong {
        /// How many items the expression's lists hold.
        items: usize,
    },
}

impl ParseErrorKind {
    /// Whether the expression was refused for its size or shape (one of the bounds of
    /// [`crate::expr::limits`]) rather than for its syntax. Callers use it to leave the
    /// (possibly huge) source out of their message.
    pub fn is_limit(&self) -> bool {
        matches!(
            self,
            ParseErrorKind::TooDeep
                | ParseErrorKind::TooLong { .. }
                | ParseErrorKind::TooManyTerms { .. }
                | ParseErrorKind::ListTooLong { .. }
        )
    }
}

impl fmt::Display for ParseErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseErrorKind::Lex(kind) => kind.fmt(f),
            ParseErrorKind::Unexpected { expected, found } => {
                write!(f, "expected {expected}, found {found}")?;
                // Unary NOT is the one construct users reach for that ROUTING.md §1.4 says
                // does not exist; say so instead of leaving them to guess.
                if found_is_not(found) {
                    f.write_str(
                        " (unary NOT is not supported: use !=, NOT IN, or reverse the comparison)",
                    )?;
                }
                Ok(())
            }
            ParseErrorKind::TooDeep => write!(
                f,
                "expression nests parentheses more than {limit} levels deep; the limit is {limit}",
                limit = crate::expr::MAX_NESTING
            ),
            ParseErrorKind::TooLong { bytes } => write!(
                f,
                "expression is {bytes} bytes long; the limit is {} bytes",
                crate::expr::MAX_EXPRESSION_BYTES
            ),
            ParseErrorKind::TooManyTerms { terms } => write!(
                f,
                "expression has {terms} terms; the limit is {}",
                crate::expr::MAX_TERMS
            ),
            ParseErrorKind::ListTooLong { items } => write!(
                f,
                "expression has {items} list items; the limit is {}",
                crate::expr::MAX_LIST_ITEMS
            ),
        }
    }
}

fn found_is_not(found: &Found) -> bool {
    matches!(found, Found::Token(text) if text.eq_ignore_ascii_case("not"))
}

/// A failure to compile an expression: lexing or parsing, with the byte span.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind}")]
pub struct ParseError {
    /// What went wrong.
    pub kind: ParseErrorKind,
    /// Where, as bytes of the source.
    pub span: Span,
}

impl From<LexError> for ParseError {
    fn from(error: LexError) -> Self {
        ParseError {
            kind: ParseErrorKind::Lex(error.kind),
            span: error.span,
        }
    }
}

impl ParseError {
    /// The 1-based line and column (in characters) where the error starts in `source`.
    pub fn line_column(&self, source: &str) -> (usize, usize) {
        line_column(source, self.span.start)
    }
}

/// The 1-based line and column (counted in characters) of byte `offset` in `source`.
/// Offsets past the end, or inside a character, are clamped to the nearest boundary before.
pub fn line_column(source: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(source.len());
    while !source.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &source[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |index| index + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_column_counts_characters_and_lines() {
        assert_eq!(line_column("abc", 0), (1, 1));
        assert_eq!(line_column("abc", 3), (1, 4));
        assert_eq!(line_column("a\nbc", 3), (2, 2));
        assert_eq!(line_column("é == 1", 2), (1, 2));
        // Past the end and inside a multi-byte character are clamped, never panic.
        assert_eq!(line_column("é", 1), (1, 1));
        assert_eq!(line_column("ab", 99), (1, 3));
    }

    #[test]
    fn unary_not_gets_a_hint() {
        let kind = ParseErrorKind::Unexpected {
            expected: Expect::Condition,
            found: Found::Token("not".into()),
        };
        assert!(kind.to_string().contains("unary NOT is not supported"));
    }
}
