//! Parser: tokens → [`Expr`], with AND / OR handled by precedence climbing.
//!
//! Grammar (ROUTING.md §1.2–§1.4):
//!
//! ```text
//! condition  := term (("AND" | "OR") term)*        -- precedence climbing, AND over OR
//! term       := "(" condition ")" | comparison
//! comparison := operand operator operand           -- comparisons do not chain
//! operand    := string | number | true | false | null | array | key
//! array      := "[" (constant ("," constant)*)? "]"
//! key        := name ("." name | "[" digits "]")*  -- no spaces inside a key
//! ```
//!
//! Unary `NOT`, `NOT HAS` and `NOT CONTAINS` are rejected: ROUTING.md §1.4 lists only
//! `NOT IN` (UNCONFIRMED that Twilio rejects the others; accepting them would let a
//! configuration pass here and fail on Twilio). This module does not evaluate.

use super::ast::{CompareOp, Comparison, Expr, KeyPath, Literal, Operand, PathSegment};
use super::error::{Expect, Found, ParseError, ParseErrorKind, Span};
use super::lex::{lex, Keyword, Token, TokenKind};
use super::limits::{MAX_EXPRESSION_BYTES, MAX_LIST_ITEMS, MAX_NESTING, MAX_TERMS};

/// The logical connectives, the only operators that climb (comparisons bind tightest and
/// do not chain).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Connective {
    And,
    Or,
}

impl Connective {
    /// Higher binds tighter. ROUTING.md §1.6 leaves precedence UNCONFIRMED; we follow the
    /// SQL convention it suggests (AND over OR, both left-associative), which is also what
    /// makes example E-27 true.
    fn precedence(self) -> u8 {
        match self {
            Connective::Or => 1,
            Connective::And => 2,
        }
    }

    /// `lhs op rhs`. When `lhs` is a chain this same loop built with the same connective,
    /// `rhs` joins it, so `a AND b AND c` is one node of three items; a parenthesised group
    /// is never extended, so the tree remembers the grouping the author wrote.
    fn join(self, lhs: Expr, rhs: Expr, extend: bool) -> Expr {
        match (self, lhs) {
            (Connective::And, Expr::And(mut items)) if extend => {
                items.push(rhs);
                Expr::And(items)
            }
            (Connective::Or, Expr::Or(mut items)) if extend => {
                items.push(rhs);
                Expr::Or(items)
            }
            (Connective::And, lhs) => Expr::And(vec![lhs, rhs]),
            (Connective::Or, lhs) => Expr::Or(vec![lhs, rhs]),
        }
    }
}

struct Parser<'src> {
    tokens: Vec<Token<'src>>,
    position: usize,
    /// Byte length of the source: the span reported for "end of input".
    end: usize,
    /// Open parentheses around the current position.
    depth: usize,
    /// Comparisons parsed so far.
    terms: usize,
    /// Array-literal items parsed so far, all lists together.
    list_items: usize,
}

/// Parse a whole expression, refusing one over the bounds of [`super::limits`].
///
/// The length is checked before lexing and nesting while parsing (so recursion stays
/// bounded); terms and list items are counted over the whole expression and checked once
/// it has parsed, so the error says how many there are.
pub fn parse(source: &str) -> Result<Expr, ParseError> {
    let mut parser = Parser::new(source)?;
    let expr = parser.climb(0)?;
    parser.finish(Expect::Connective)?;
    let whole = Span::new(0, source.len());
    if parser.terms > MAX_TERMS {
        return Err(ParseError {
            kind: ParseErrorKind::TooManyTerms {
                terms: parser.terms,
            },
            span: whole,
        });
    }
    if parser.list_items > MAX_LIST_ITEMS {
        return Err(ParseError {
            kind: ParseErrorKind::ListTooLong {
                items: parser.list_items,
            },
            span: whole,
        });
    }
    Ok(expr)
}

/// Parse a lone key such as `task.agent_sid` or `worker.skills.level` (used for the
/// `known_worker_*` and `order_by` values of a workflow target).
pub fn parse_key_path(source: &str) -> Result<KeyPath, ParseError> {
    let mut parser = Parser::new(source)?;
    let key = match parser.peek() {
        Some(Token {
            kind:
                TokenKind::Word {
                    text,
                    keyword: None,
                },
            span,
        }) => {
            parser.position += 1;
            parser.key_path(text, span)?
        }
        _ => return Err(parser.unexpected(Expect::KeyPath)),
    };
    parser.finish(Expect::KeyPath)?;
    Ok(key)
}

impl<'src> Parser<'src> {
    fn new(source: &'src str) -> Result<Self, ParseError> {
        if source.len() > MAX_EXPRESSION_BYTES {
            return Err(ParseError {
                kind: ParseErrorKind::TooLong {
                    bytes: source.len(),
                },
                span: Span::new(0, source.len()),
            });
        }
        Ok(Parser {
            tokens: lex(source)?,
            position: 0,
            end: source.len(),
            depth: 0,
            terms: 0,
            list_items: 0,
        })
    }

    fn peek(&self) -> Option<Token<'src>> {
        self.tokens.get(self.position).copied()
    }

    fn next(&mut self) -> Option<Token<'src>> {
        let token = self.peek();
        if token.is_some() {
            self.position += 1;
        }
        token
    }

    /// An "expected X, found Y" error at the current token (or at end of input).
    fn unexpected(&self, expected: Expect) -> ParseError {
        match self.peek() {
            Some(token) => ParseError {
                kind: ParseErrorKind::Unexpected {
                    expected,
                    found: Found::Token(describe(&token)),
                },
                span: token.span,
            },
            None => ParseError {
                kind: ParseErrorKind::Unexpected {
                    expected,
                    found: Found::End,
                },
                span: Span::new(self.end, self.end),
            },
        }
    }

    fn finish(&self, expected: Expect) -> Result<(), ParseError> {
        match self.peek() {
            None => Ok(()),
            Some(_) => Err(self.unexpected(expected)),
        }
    }

    fn peek_connective(&self) -> Option<Connective> {
        match self.peek()?.kind {
            TokenKind::Word {
                keyword: Some(Keyword::And),
                ..
            } => Some(Connective::And),
            TokenKind::Word {
                keyword: Some(Keyword::Or),
                ..
            } => Some(Connective::Or),
            _ => None,
        }
    }

    /// Precedence climbing over AND / OR. Recursion depth is bounded by the number of
    /// precedence levels per parenthesis level, not by the length of a chain.
    fn climb(&mut self, min_precedence: u8) -> Result<Expr, ParseError> {
        let mut lhs = self.term()?;
        let mut chain: Option<Connective> = None;
        while let Some(connective) = self.peek_connective() {
            let precedence = connective.precedence();
            if precedence < min_precedence {
                break;
            }
            self.position += 1;
            let rhs = self.climb(precedence + 1)?;
            lhs = connective.join(lhs, rhs, chain == Some(connective));
            chain = Some(connective);
        }
        Ok(lhs)
    }

    fn term(&mut self) -> Result<Expr, ParseError> {
        match self.peek() {
            Some(Token {
                kind: TokenKind::OpenParen,
                span,
            }) => {
                if self.depth >= MAX_NESTING {
                    return Err(ParseError {
                        kind: ParseErrorKind::TooDeep,
                        span,
                    });
                }
                self.position += 1;
                self.depth += 1;
                let inner = self.climb(0)?;
                match self.peek() {
                    Some(Token {
                        kind: TokenKind::CloseParen,
                        ..
                    }) => self.position += 1,
                    _ => return Err(self.unexpected(Expect::ConnectiveOrClose)),
                }
                self.depth -= 1;
                Ok(inner)
            }
            _ => self.comparison().map(Expr::Comparison),
        }
    }

    fn comparison(&mut self) -> Result<Comparison, ParseError> {
        self.terms += 1;
        let left = self.operand(Expect::Condition)?;
        let op = self.operator()?;
        let right = self.operand(Expect::Operand)?;
        Ok(Comparison { left, op, right })
    }

    fn operator(&mut self) -> Result<CompareOp, ParseError> {
        let op = match self.peek().map(|token| token.kind) {
            Some(TokenKind::Op(op)) => op,
            Some(TokenKind::Word {
                keyword: Some(keyword),
                ..
            }) => match keyword {
                Keyword::Has => CompareOp::Has,
                Keyword::Contains => CompareOp::Contains,
                Keyword::In => CompareOp::In,
                Keyword::Not => {
                    self.position += 1;
                    return match self.peek().map(|token| token.kind) {
                        Some(TokenKind::Word {
                            keyword: Some(Keyword::In),
                            ..
                        }) => {
                            self.position += 1;
                            Ok(CompareOp::NotIn)
                        }
                        _ => Err(self.unexpected(Expect::InAfterNot)),
                    };
                }
                _ => return Err(self.unexpected(Expect::Operator)),
            },
            _ => return Err(self.unexpected(Expect::Operator)),
        };
        self.position += 1;
        Ok(op)
    }

    /// A value. `expected` names what the caller needs, for the error message.
    fn operand(&mut self, expected: Expect) -> Result<Operand, ParseError> {
        let Some(token) = self.peek() else {
            return Err(self.unexpected(expected));
        };
        let operand = match token.kind {
            TokenKind::Word {
                text,
                keyword: None,
            } => {
                self.position += 1;
                return Ok(Operand::Key(self.key_path(text, token.span)?));
            }
            TokenKind::OpenBracket => {
                self.position += 1;
                return Ok(Operand::Literal(self.array()?));
            }
            _ => match constant(&token) {
                Some(literal) => Operand::Literal(literal),
                None => return Err(self.unexpected(expected)),
            },
        };
        self.position += 1;
        Ok(operand)
    }

    /// The rest of an array literal after `[`.
    fn array(&mut self) -> Result<Literal, ParseError> {
        let mut items = Vec::new();
        if let Some(Token {
            kind: TokenKind::CloseBracket,
            ..
        }) = self.peek()
        {
            self.position += 1;
            return Ok(Literal::Array(items));
        }
        loop {
            match self.peek().as_ref().and_then(constant) {
                Some(item) => {
                    self.position += 1;
                    items.push(item);
                }
                None => return Err(self.unexpected(Expect::ArrayItem)),
            }
            match self.peek().map(|token| token.kind) {
                Some(TokenKind::Comma) => self.position += 1,
                Some(TokenKind::CloseBracket) => {
                    self.position += 1;
                    self.list_items += items.len();
                    return Ok(Literal::Array(items));
                }
                _ => return Err(self.unexpected(Expect::ArrayNext)),
            }
        }
    }

    /// The rest of a key after its first name. A `.` or `[` continues the key only when it
    /// touches the previous token, so a key is one unbroken run of text.
    fn key_path(&mut self, first: &str, first_span: Span) -> Result<KeyPath, ParseError> {
        let mut segments = vec![PathSegment::Key(first.into())];
        let mut last_end = first_span.end;
        while let Some(token) = self.peek() {
            if token.span.start != last_end {
                break;
            }
            match token.kind {
                TokenKind::Dot => {
                    self.position += 1;
                    match self.peek() {
                        // Any name, keywords included, may follow a dot: `task.in` is a key.
                        Some(Token {
                            kind: TokenKind::Word { text, .. },
                            span,
                        }) if span.start == token.span.end => {
                            self.position += 1;
                            segments.push(PathSegment::Key(text.into()));
                            last_end = span.end;
                        }
                        _ => return Err(self.unexpected(Expect::KeyName)),
                    }
                }
                TokenKind::OpenBracket => {
                    self.position += 1;
                    // Only plain digits index an array: `[1.5]` and `[b]` are errors.
                    let index = match self.peek().map(|token| token.kind) {
                        Some(TokenKind::Number { text, .. }) => text.parse::<usize>().ok(),
                        _ => None,
                    };
                    let Some(index) = index else {
                        return Err(self.unexpected(Expect::Index));
                    };
                    self.position += 1;
                    match self.next() {
                        Some(Token {
                            kind: TokenKind::CloseBracket,
                            span,
                        }) => last_end = span.end,
                        Some(_) => {
                            self.position -= 1;
                            return Err(self.unexpected(Expect::CloseBracket));
                        }
                        None => return Err(self.unexpected(Expect::CloseBracket)),
                    }
                    segments.push(PathSegment::Index(index));
                }
                _ => break,
            }
        }
        Ok(KeyPath::new(segments))
    }
}

/// A scalar constant token, if it is one.
fn constant(token: &Token<'_>) -> Option<Literal> {
    match token.kind {
        TokenKind::Str(text) => Some(Literal::String(text.into())),
        TokenKind::Number { value, .. } => Some(Literal::Number(value)),
        TokenKind::Word {
            keyword: Some(Keyword::True),
            ..
        } => Some(Literal::Bool(true)),
        TokenKind::Word {
            keyword: Some(Keyword::False),
            ..
        } => Some(Literal::Bool(false)),
        TokenKind::Word {
            keyword: Some(Keyword::Null),
            ..
        } => Some(Literal::Null),
        _ => None,
    }
}

/// A token as the user wrote it, for "found …" messages. Keywords are shown upper-case so
/// the unary-NOT hint can recognise them.
fn describe(token: &Token<'_>) -> String {
    match token.kind {
        TokenKind::Str(text) => {
            let shown: String = text.chars().take(40).collect();
            let ellipsis = if shown.len() < text.len() { "…" } else { "" };
            format!("\"{shown}{ellipsis}\"")
        }
        TokenKind::Number { text, .. } => text.to_string(),
        TokenKind::Word {
            keyword: Some(_),
            text,
        } => text.to_ascii_uppercase(),
        TokenKind::Word { text, .. } => text.to_string(),
        TokenKind::Op(op) => op.as_str().to_string(),
        TokenKind::OpenParen => "(".into(),
        TokenKind::CloseParen => ")".into(),
        TokenKind::OpenBracket => "[".into(),
        TokenKind::CloseBracket => "]".into(),
        TokenKind::Comma => ",".into(),
        TokenKind::Dot => ".".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `parse(source)` prints back as `canonical`.
    macro_rules! canonical {
        ($($name:ident: $source:expr => $canonical:expr;)*) => {$(
            #[test]
            fn $name() {
                let expr = parse($source).expect("parses");
                assert_eq!(expr.to_string(), $canonical);
                assert_eq!(parse(&expr.to_string()).expect("re-parses"), expr);
            }
        )*};
    }

    /// `parse(source)` fails expecting `expected` at byte span `start..end`.
    macro_rules! fails {
        ($($name:ident: $source:expr => $expected:expr, $start:expr, $end:expr;)*) => {$(
            #[test]
            fn $name() {
                let error = parse($source).expect_err("should not parse");
                assert_eq!(error.span, Span::new($start, $end), "{error}");
                match error.kind {
                    ParseErrorKind::Unexpected { expected, .. } => assert_eq!(expected, $expected),
                    other => panic!("unexpected error kind {other:?}"),
                }
            }
        )*};
    }

    canonical! {
        aliases_fold: "a = 1 AND b >- 'x' and c <- ['y']" => "a == 1 AND b HAS \"x\" AND c IN [\"y\"]";
        and_binds_tighter: "a == 1 OR b == 2 AND c == 3" => "a == 1 OR b == 2 AND c == 3";
        groups_kept: "(a == 1 OR b == 2) AND c == 3" => "(a == 1 OR b == 2) AND c == 3";
        same_kind_group_kept: "(a == 1 AND b == 2) AND c == 3" => "(a == 1 AND b == 2) AND c == 3";
        redundant_group_dropped: "((a == 1))" => "a == 1";
        chain_is_flat: "a==1 or b==2 or c==3" => "a == 1 OR b == 2 OR c == 3";
        not_in_any_case: "a not In [1, 2.5, true, null]" => "a NOT IN [1, 2.5, true, null]";
        paths: "customer.ids[1] == worker.channel.voice.assigned_tasks" => "customer.ids[1] == worker.channel.voice.assigned_tasks";
        keyword_after_dot_is_a_key: "task.in == task.AND" => "task.in == task.AND";
        leading_zeros: "taskrouter.currentTime > 0800" => "taskrouter.currentTime > 800";
        empty_array: "x IN []" => "x IN []";
        newlines: "a == 1\n  AND\n b == 2" => "a == 1 AND b == 2";
        constant_left: "\"en\" IN languages" => "\"en\" IN languages";
    }

    fails! {
        has_without_value: "languages HAS" => Expect::Operand, 13, 13;
        trailing_and: "type == \"support\" AND" => Expect::Condition, 21, 21;
        missing_operator: "languages \"en\"" => Expect::Operator, 10, 14;
        chained_comparison: "a == b == c" => Expect::Connective, 7, 9;
        unclosed_group: "(a == 1" => Expect::ConnectiveOrClose, 7, 7;
        stray_close: "a == 1)" => Expect::Connective, 6, 7;
        unary_not: "NOT a == 1" => Expect::Condition, 0, 3;
        not_has: "a NOT HAS b" => Expect::InAfterNot, 6, 9;
        key_in_array: "x IN ['a', b]" => Expect::ArrayItem, 11, 12;
        nested_array: "x IN [['a']]" => Expect::ArrayItem, 6, 7;
        array_without_comma: "x IN ['a' 'b']" => Expect::ArrayNext, 10, 13;
        trailing_comma: "x IN ['a',]" => Expect::ArrayItem, 10, 11;
        dot_without_name: "a. == 1" => Expect::KeyName, 3, 5;
        spaced_dot: "a . b == 1" => Expect::Operator, 2, 3;
        fractional_index: "a[1.5] == 1" => Expect::Index, 2, 5;
        name_index: "a[b] == 1" => Expect::Index, 2, 3;
        unclosed_index: "a[1 == 1" => Expect::CloseBracket, 4, 6;
        empty: "" => Expect::Condition, 0, 0;
        bare_key: "vip" => Expect::Operator, 3, 3;
        keyword_as_value: "a == AND" => Expect::Operand, 5, 8;
    }

    #[test]
    fn unary_not_message_has_hint() {
        let error = parse("NOT (a == 1)").expect_err("unary NOT");
        assert!(
            error.to_string().contains("unary NOT is not supported"),
            "{error}"
        );
    }

    #[test]
    fn lex_errors_pass_through_with_span() {
        let error = parse("skill-level > 3").expect_err("hyphen");
        assert_eq!(error.span, Span::new(5, 6));
        assert!(matches!(error.kind, ParseErrorKind::Lex(_)));
    }

    #[test]
    fn nesting_is_bounded() {
        let deep = format!(
            "{}a == 1{}",
            "(".repeat(MAX_NESTING),
            ")".repeat(MAX_NESTING)
        );
        assert!(parse(&deep).is_ok());
        let too_deep = format!("({deep})");
        assert_eq!(
            parse(&too_deep).expect_err("too deep").kind,
            ParseErrorKind::TooDeep
        );
    }

    #[test]
    fn long_chains_do_not_recurse() {
        let chain = vec!["a == 1"; MAX_TERMS].join(" OR ");
        match parse(&chain).expect("parses") {
            Expr::Or(items) => assert_eq!(items.len(), MAX_TERMS),
            other => panic!("expected one OR node, got {other:?}"),
        }
    }

    #[test]
    fn deep_nesting_is_refused_without_recursing() {
        // Far past the byte limit: refused before lexing.
        let huge = format!("{}a == 1{}", "(".repeat(100_000), ")".repeat(100_000));
        assert!(matches!(
            parse(&huge).expect_err("too long").kind,
            ParseErrorKind::TooLong { bytes } if bytes == huge.len()
        ));
        // Within the byte limit but far past the nesting limit: the parser stops at the
        // first parenthesis too many instead of recursing on.
        let open = MAX_EXPRESSION_BYTES / 2 - 8;
        let deep = format!("{}a == 1{}", "(".repeat(open), ")".repeat(open));
        assert!(deep.len() <= MAX_EXPRESSION_BYTES);
        let error = parse(&deep).expect_err("too deep");
        assert_eq!(error.kind, ParseErrorKind::TooDeep);
        assert_eq!(error.span, Span::new(MAX_NESTING, MAX_NESTING + 1));
        // Unclosed, as a fuzzer would send it.
        assert!(parse(&"(".repeat(MAX_EXPRESSION_BYTES)).is_err());
    }

    #[test]
    fn length_is_bounded() {
        let at_limit = format!("a == '{}'", "x".repeat(MAX_EXPRESSION_BYTES - 7));
        assert_eq!(at_limit.len(), MAX_EXPRESSION_BYTES);
        assert!(parse(&at_limit).is_ok());
        let over = format!("a == '{}'", "x".repeat(MAX_EXPRESSION_BYTES - 6));
        let error = parse(&over).expect_err("too long");
        assert_eq!(
            error.kind,
            ParseErrorKind::TooLong {
                bytes: MAX_EXPRESSION_BYTES + 1
            }
        );
        assert!(
            error.to_string().contains("the limit is 8192 bytes"),
            "{error}"
        );
        assert!(parse_key_path(&format!("task.{}", "a".repeat(MAX_EXPRESSION_BYTES))).is_err());
    }

    #[test]
    fn terms_are_bounded() {
        let over = vec!["a == 1"; MAX_TERMS + 1].join(" OR ");
        assert!(over.len() <= MAX_EXPRESSION_BYTES);
        let error = parse(&over).expect_err("too many terms");
        assert_eq!(
            error.kind,
            ParseErrorKind::TooManyTerms {
                terms: MAX_TERMS + 1
            }
        );
        assert_eq!(
            error.to_string(),
            format!(
                "expression has {} terms; the limit is {MAX_TERMS}",
                MAX_TERMS + 1
            )
        );
        assert!(error.kind.is_limit());
        // Grouping does not hide terms.
        let grouped = format!("({over}) AND b == 2");
        assert!(matches!(
            parse(&grouped).expect_err("too many").kind,
            ParseErrorKind::TooManyTerms { terms } if terms == MAX_TERMS + 2
        ));
    }

    #[test]
    fn lists_are_bounded() {
        let list = |n: usize| format!("x IN [{}]", vec!["1"; n].join(","));
        assert!(parse(&list(MAX_LIST_ITEMS)).is_ok());
        let source = list(MAX_LIST_ITEMS + 1);
        let error = parse(&source).expect_err("list too long");
        assert_eq!(
            error.kind,
            ParseErrorKind::ListTooLong {
                items: MAX_LIST_ITEMS + 1
            }
        );
        assert_eq!(error.span, Span::new(0, source.len()));
        // The bound is on all lists together.
        let half = format!("x IN [{}]", vec!["1"; MAX_LIST_ITEMS / 2 + 1].join(","));
        assert!(matches!(
            parse(&format!("{half} OR {half}")).expect_err("too many").kind,
            ParseErrorKind::ListTooLong { items } if items == MAX_LIST_ITEMS + 2
        ));
    }

    #[test]
    fn key_paths_alone() {
        let key = parse_key_path("task.agent_sid").expect("key");
        assert_eq!(key.to_string(), "task.agent_sid");
        assert!(parse_key_path("task.a ASC").is_err());
        assert!(parse_key_path("\"x\"").is_err());
    }
}
