//! Lexer: expression source text → tokens with byte spans.
//!
//! It applies the character-level rules of ROUTING.md §1.2 (quotes, numbers, names, the
//! operator spellings and aliases, no hyphens) and classifies keywords case-insensitively
//! once, here, so later stages never compare keyword text. It knows nothing of grammar:
//! `== ==` lexes fine and is the parser's problem.

use super::ast::CompareOp;
use super::error::{LexError, LexErrorKind, Span};

/// Reserved words. Matched in any letter case (ROUTING.md §1.7: `IN` and `in` both appear
/// in Twilio's docs; for the others case-insensitivity is our UNCONFIRMED choice, made
/// because community workflows write `and` / `not in`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keyword {
    /// `AND`.
    And,
    /// `OR`.
    Or,
    /// `NOT` (only valid as the first half of `NOT IN`).
    Not,
    /// `IN`.
    In,
    /// `HAS`.
    Has,
    /// `CONTAINS`.
    Contains,
    /// `true`.
    True,
    /// `false`.
    False,
    /// `null`.
    Null,
}

impl Keyword {
    const TABLE: [(&'static str, Keyword); 9] = [
        ("and", Keyword::And),
        ("or", Keyword::Or),
        ("not", Keyword::Not),
        ("in", Keyword::In),
        ("has", Keyword::Has),
        ("contains", Keyword::Contains),
        ("true", Keyword::True),
        ("false", Keyword::False),
        ("null", Keyword::Null),
    ];

    fn classify(word: &str) -> Option<Keyword> {
        Self::TABLE
            .iter()
            .find(|(text, _)| word.eq_ignore_ascii_case(text))
            .map(|(_, keyword)| *keyword)
    }
}

/// What a token is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TokenKind<'src> {
    /// A quoted string; `text` excludes the quotes.
    Str(&'src str),
    /// A number; `text` is as written (the parser needs it for array indices).
    Number {
        /// The value.
        value: f64,
        /// The digits as written.
        text: &'src str,
    },
    /// A name: a key segment, or a keyword when `keyword` is set.
    Word {
        /// The name as written.
        text: &'src str,
        /// Set when the name is a reserved word in any case.
        keyword: Option<Keyword>,
    },
    /// A symbolic comparison operator (`==`, `=`, `!=`, `<`, `<=`, `>`, `>=`, `>-`, `<-`).
    Op(CompareOp),
    /// `(`.
    OpenParen,
    /// `)`.
    CloseParen,
    /// `[`.
    OpenBracket,
    /// `]`.
    CloseBracket,
    /// `,`.
    Comma,
    /// `.`.
    Dot,
}

/// A token and where it sits in the source.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Token<'src> {
    /// What it is.
    pub kind: TokenKind<'src>,
    /// Its bytes in the source.
    pub span: Span,
}

/// Whether `ch` may start a name. `$` is allowed because channel names may contain it
/// (ROUTING.md §1.2, S-MT).
fn starts_name(ch: char) -> bool {
    ch.is_alphabetic() || ch == '_' || ch == '$'
}

fn continues_name(ch: char) -> bool {
    ch.is_alphanumeric() || ch == '_' || ch == '$'
}

/// Split `source` into tokens.
pub fn lex(source: &str) -> Result<Vec<Token<'_>>, LexError> {
    let mut tokens = Vec::new();
    let mut chars = source.char_indices().peekable();
    while let Some((start, ch)) = chars.next() {
        let next = chars.peek().map(|(_, next)| *next);
        let symbol = |kind, len: usize| Token {
            kind,
            span: Span::new(start, start + len),
        };
        let token = match ch {
            _ if ch.is_whitespace() => continue,
            '(' => symbol(TokenKind::OpenParen, 1),
            ')' => symbol(TokenKind::CloseParen, 1),
            '[' => symbol(TokenKind::OpenBracket, 1),
            ']' => symbol(TokenKind::CloseBracket, 1),
            ',' => symbol(TokenKind::Comma, 1),
            '.' => symbol(TokenKind::Dot, 1),
            '=' | '!' | '<' | '>' => {
                // Two-character spellings first; `>-` and `<-` are TargetWorkers aliases of
                // HAS and IN (ROUTING.md §1.4) and the only place a `-` may appear.
                let double = match (ch, next) {
                    ('=', Some('=')) => Some(CompareOp::Eq),
                    ('!', Some('=')) => Some(CompareOp::Ne),
                    ('<', Some('=')) => Some(CompareOp::Le),
                    ('>', Some('=')) => Some(CompareOp::Ge),
                    ('>', Some('-')) => Some(CompareOp::Has),
                    ('<', Some('-')) => Some(CompareOp::In),
                    _ => None,
                };
                if let Some(op) = double {
                    chars.next();
                    symbol(TokenKind::Op(op), 2)
                } else {
                    let op = match ch {
                        '=' => CompareOp::Eq,
                        '<' => CompareOp::Lt,
                        '>' => CompareOp::Gt,
                        _ => {
                            return Err(LexError {
                                kind: LexErrorKind::UnexpectedChar(ch),
                                span: Span::new(start, start + 1),
                            })
                        }
                    };
                    symbol(TokenKind::Op(op), 1)
                }
            }
            '"' | '\'' => {
                // No escape sequences (ROUTING.md §1.2, UNCONFIRMED; suggested there): the
                // string ends at the next quote of the same kind.
                let body_start = start + 1;
                match source[body_start..].find(ch) {
                    Some(length) => {
                        let body_end = body_start + length;
                        while chars.peek().is_some_and(|(index, _)| *index <= body_end) {
                            chars.next();
                        }
                        Token {
                            kind: TokenKind::Str(&source[body_start..body_end]),
                            span: Span::new(start, body_end + 1),
                        }
                    }
                    None => {
                        return Err(LexError {
                            kind: LexErrorKind::UnterminatedString { quote: ch },
                            span: Span::new(start, source.len()),
                        })
                    }
                }
            }
            '0'..='9' => lex_number(source, start, &mut chars)?,
            '-' => {
                return Err(LexError {
                    kind: LexErrorKind::Hyphen,
                    span: Span::new(start, start + 1),
                })
            }
            _ if starts_name(ch) => {
                let mut end = start + ch.len_utf8();
                while let Some((index, next)) = chars.peek().copied() {
                    if !continues_name(next) {
                        break;
                    }
                    end = index + next.len_utf8();
                    chars.next();
                }
                let text = &source[start..end];
                Token {
                    kind: TokenKind::Word {
                        text,
                        keyword: Keyword::classify(text),
                    },
                    span: Span::new(start, end),
                }
            }
            _ => {
                return Err(LexError {
                    kind: LexErrorKind::UnexpectedChar(ch),
                    span: Span::new(start, start + ch.len_utf8()),
                })
            }
        };
        tokens.push(token);
    }
    Ok(tokens)
}

/// `digits` or `digits.digits` (ROUTING.md §1.2; leading zeros as in `0800` are fine).
fn lex_number<'src>(
    source: &'src str,
    start: usize,
    chars: &mut std::iter::Peekable<std::str::CharIndices<'src>>,
) -> Result<Token<'src>, LexError> {
    let bytes = source.as_bytes();
    let digits_end = |from: usize| {
        from + bytes[from..]
            .iter()
            .take_while(|byte| byte.is_ascii_digit())
            .count()
    };
    let mut end = digits_end(start);
    if bytes.get(end) == Some(&b'.') {
        let fraction_end = digits_end(end + 1);
        if fraction_end == end + 1 {
            return Err(LexError {
                kind: LexErrorKind::BadNumber {
                    problem: "a digit must follow the decimal point",
                },
                span: Span::new(start, end + 1),
            });
        }
        end = fraction_end;
    }
    // `1e5`, `0x10`, `7abc`: exponents, hex and names starting with digits do not exist.
    if let Some(next) = source[end..].chars().next() {
        if continues_name(next) {
            let tail = source[end..]
                .char_indices()
                .find(|(_, ch)| !continues_name(*ch))
                .map_or(source.len(), |(index, _)| end + index);
            return Err(LexError {
                kind: LexErrorKind::BadNumber {
                    problem: "only digits, with an optional decimal part, are allowed",
                },
                span: Span::new(start, tail),
            });
        }
    }
    let text = &source[start..end];
    let value: f64 = match text.parse() {
        Ok(value) if f64::is_finite(value) => value,
        _ => {
            return Err(LexError {
                kind: LexErrorKind::BadNumber {
                    problem: "too large",
                },
                span: Span::new(start, end),
            })
        }
    };
    while chars.peek().is_some_and(|(index, _)| *index < end) {
        chars.next();
    }
    Ok(Token {
        kind: TokenKind::Number { value, text },
        span: Span::new(start, end),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(source: &str) -> Vec<TokenKind<'_>> {
        lex(source)
            .expect("lexes")
            .into_iter()
            .map(|token| token.kind)
            .collect()
    }

    fn error(source: &str) -> LexError {
        lex(source).expect_err("should fail")
    }

    #[test]
    fn operators_and_aliases() {
        assert_eq!(
            kinds("= == != < <= > >= >- <-"),
            [
                CompareOp::Eq,
                CompareOp::Eq,
                CompareOp::Ne,
                CompareOp::Lt,
                CompareOp::Le,
                CompareOp::Gt,
                CompareOp::Ge,
                CompareOp::Has,
                CompareOp::In
            ]
            .map(TokenKind::Op)
        );
    }

    #[test]
    fn keywords_any_case_and_names() {
        assert_eq!(
            kinds("aNd x_1$"),
            [
                TokenKind::Word {
                    text: "aNd",
                    keyword: Some(Keyword::And)
                },
                TokenKind::Word {
                    text: "x_1$",
                    keyword: None
                }
            ]
        );
    }

    #[test]
    fn strings_have_no_escapes() {
        // A backslash is an ordinary character: `"a\"` is the string `a\`.
        assert_eq!(
            kinds(r#""a\" 'b'"#),
            [TokenKind::Str("a\\"), TokenKind::Str("b")]
        );
        assert_eq!(kinds("'it\"s'"), [TokenKind::Str("it\"s")]);
        assert_eq!(kinds("''"), [TokenKind::Str("")]);
    }

    #[test]
    fn numbers() {
        assert_eq!(
            kinds("0800 2.75"),
            [
                TokenKind::Number {
                    value: 800.0,
                    text: "0800"
                },
                TokenKind::Number {
                    value: 2.75,
                    text: "2.75"
                }
            ]
        );
    }

    #[test]
    fn spans_are_bytes() {
        let tokens = lex("é == 'ü'").expect("lexes");
        assert_eq!(tokens[0].span, Span::new(0, 2));
        assert_eq!(tokens[1].span, Span::new(3, 5));
        assert_eq!(tokens[2].span, Span::new(6, 10));
    }

    #[test]
    fn errors() {
        assert_eq!(error("skill-level").kind, LexErrorKind::Hyphen);
        assert_eq!(error("skill-level").span, Span::new(5, 6));
        assert_eq!(
            error("a == 'x").kind,
            LexErrorKind::UnterminatedString { quote: '\'' }
        );
        assert_eq!(error("a == 'x").span, Span::new(5, 7));
        assert!(matches!(error("1.").kind, LexErrorKind::BadNumber { .. }));
        assert_eq!(error("a == 1e5").span, Span::new(5, 8));
        assert_eq!(error("a ! b").kind, LexErrorKind::UnexpectedChar('!'));
        assert_eq!(error("a && b").kind, LexErrorKind::UnexpectedChar('&'));
        let huge = format!("a == 1{}", "0".repeat(400));
        assert!(matches!(error(&huge).kind, LexErrorKind::BadNumber { .. }));
    }
}
