//! The syntax tree of a TaskRouter expression, and its canonical text form.
//!
//! The tree is what the parser produces and the evaluator walks. `Display` prints a
//! canonical form (upper-case operators, aliases replaced, minimal parentheses) that parses
//! back to an equal tree. This module neither parses nor evaluates.

use std::fmt;

/// A boolean expression: a comparison, or comparisons joined by AND / OR.
///
/// `And` and `Or` hold at least two items when built by the parser. A chain such as
/// `a AND b AND c` is one `And` of three items; a parenthesised group keeps its own node,
/// so `(a AND b) AND c` is an `And` whose first item is an `And`.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// `left op right`.
    Comparison(Comparison),
    /// True when every item is true.
    And(Vec<Expr>),
    /// True when at least one item is true.
    Or(Vec<Expr>),
}

/// One comparison: `left op right` (ROUTING.md §1.4).
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// Left value.
    pub left: Operand,
    /// The operator, aliases already resolved.
    pub op: CompareOp,
    /// Right value.
    pub right: Operand,
}

/// The comparison operators of ROUTING.md §1.4, aliases folded in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompareOp {
    /// `==` (alias `=`).
    Eq,
    /// `!=`.
    Ne,
    /// `<`.
    Lt,
    /// `<=`.
    Le,
    /// `>`.
    Gt,
    /// `>=`.
    Ge,
    /// `CONTAINS`: substring test on two strings.
    Contains,
    /// `HAS` (alias `>-`): the left array includes the right value.
    Has,
    /// `IN` (alias `<-`): the left value is an element of the right array.
    In,
    /// `NOT IN`: the left value is not an element of the right array.
    NotIn,
}

impl CompareOp {
    /// Every operator, for tests and generators.
    pub const ALL: [CompareOp; 10] = [
        CompareOp::Eq,
        CompareOp::Ne,
        CompareOp::Lt,
        CompareOp::Le,
        CompareOp::Gt,
        CompareOp::Ge,
        CompareOp::Contains,
        CompareOp::Has,
        CompareOp::In,
        CompareOp::NotIn,
    ];

    /// The canonical spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            CompareOp::Eq => "==",
            CompareOp::Ne => "!=",
            CompareOp::Lt => "<",
            CompareOp::Le => "<=",
            CompareOp::Gt => ">",
            CompareOp::Ge => ">=",
            CompareOp::Contains => "CONTAINS",
            CompareOp::Has => "HAS",
            CompareOp::In => "IN",
            CompareOp::NotIn => "NOT IN",
        }
    }
}

impl fmt::Display for CompareOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One side of a comparison.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    /// A constant written in the expression.
    Literal(Literal),
    /// A reference into the evaluation scope.
    Key(KeyPath),
}

/// A constant (ROUTING.md §1.2).
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// `"text"` or `'text'` (no escape sequences).
    String(Box<str>),
    /// `7`, `7.50`, `0800`: always finite and non-negative when parsed.
    Number(f64),
    /// `true` / `false`.
    Bool(bool),
    /// `null`.
    Null,
    /// `["en", "es"]`: the parser only puts scalar constants inside.
    Array(Vec<Literal>),
}

/// One step of a key reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PathSegment {
    /// `.name` (or the first name).
    Key(Box<str>),
    /// `[n]`, zero-based (ROUTING.md §1.3).
    Index(usize),
}

/// The well-known first names of a key, classified once at compile time so scopes can
/// dispatch without comparing strings on every evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Root {
    /// `task.…` — task attributes in a target expression.
    Task,
    /// `worker.…` — worker attributes and built-in fields in a target expression.
    Worker,
    /// `workers.…` — queue counters in a `skip_if`.
    Workers,
    /// `taskrouter.…` — time-of-day variables.
    TaskRouter,
    /// Any other first name: a plain attribute key.
    Other,
}

/// A key reference such as `customer.ids[1]` or `worker.channel.voice.assigned_tasks`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KeyPath {
    segments: Box<[PathSegment]>,
    root: Root,
}

impl KeyPath {
    /// A key path from its segments. The parser always starts with a [`PathSegment::Key`].
    pub fn new(segments: Vec<PathSegment>) -> Self {
        let root = match segments.first() {
            Some(PathSegment::Key(name)) => match &**name {
                "task" => Root::Task,
                "worker" => Root::Worker,
                "workers" => Root::Workers,
                "taskrouter" => Root::TaskRouter,
                _ => Root::Other,
            },
            _ => Root::Other,
        };
        KeyPath {
            segments: segments.into_boxed_slice(),
            root,
        }
    }

    /// Every segment, the first name included.
    pub fn segments(&self) -> &[PathSegment] {
        &self.segments
    }

    /// The classified first name.
    pub fn root(&self) -> Root {
        self.root
    }

    /// The segments after the first name (`ids[1]` of `customer.ids[1]`).
    pub fn rest(&self) -> &[PathSegment] {
        self.segments.get(1..).unwrap_or(&[])
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (position, segment) in self.segments.iter().enumerate() {
            match segment {
                PathSegment::Key(name) if position == 0 => f.write_str(name)?,
                PathSegment::Key(name) => write!(f, ".{name}")?,
                PathSegment::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // There are no escapes (ROUTING.md §1.2), so a parsed string never holds both
            // quote characters: pick the one it does not contain.
            Literal::String(text) if text.contains('"') => write!(f, "'{text}'"),
            Literal::String(text) => write!(f, "\"{text}\""),
            // `{}` on f64 never uses an exponent and round-trips exactly.
            Literal::Number(number) => write!(f, "{number}"),
            Literal::Bool(value) => write!(f, "{value}"),
            Literal::Null => f.write_str("null"),
            Literal::Array(items) => {
                f.write_str("[")?;
                for (position, item) in items.iter().enumerate() {
                    if position > 0 {
                        f.write_str(", ")?;
                    }
                    item.fmt(f)?;
                }
                f.write_str("]")
            }
        }
    }
}

impl fmt::Display for Operand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Operand::Literal(literal) => literal.fmt(f),
            Operand::Key(key) => key.fmt(f),
        }
    }
}

impl fmt::Display for Comparison {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.left, self.op, self.right)
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Comparison(comparison) => comparison.fmt(f),
            // AND binds tighter than OR (ROUTING.md §1.6, our choice), so an OR item needs
            // parentheses inside AND; a nested group of the same kind keeps its parentheses
            // so that the printed text parses back to the same tree.
            Expr::And(items) => join(f, items, " AND ", |item| {
                !matches!(item, Expr::Comparison(_))
            }),
            Expr::Or(items) => join(f, items, " OR ", |item| matches!(item, Expr::Or(_))),
        }
    }
}

fn join(
    f: &mut fmt::Formatter<'_>,
    items: &[Expr],
    separator: &str,
    needs_parentheses: impl Fn(&Expr) -> bool,
) -> fmt::Result {
    for (position, item) in items.iter().enumerate() {
        if position > 0 {
            f.write_str(separator)?;
        }
        if needs_parentheses(item) {
            write!(f, "({item})")?;
        } else {
            write!(f, "{item}")?;
        }
    }
    Ok(())
}

impl Expr {
    /// Every key the expression reads, in source order.
    pub fn keys(&self) -> Vec<&KeyPath> {
        let mut keys = Vec::new();
        self.collect_keys(&mut keys);
        keys
    }

    fn collect_keys<'a>(&'a self, keys: &mut Vec<&'a KeyPath>) {
        match self {
            Expr::Comparison(comparison) => {
                for operand in [&comparison.left, &comparison.right] {
                    if let Operand::Key(key) = operand {
                        keys.push(key);
                    }
                }
            }
            Expr::And(items) | Expr::Or(items) => {
                for item in items {
                    item.collect_keys(keys);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(names: &[&str]) -> KeyPath {
        KeyPath::new(
            names
                .iter()
                .map(|name| PathSegment::Key((*name).into()))
                .collect(),
        )
    }

    fn compare(name: &str, value: f64) -> Expr {
        Expr::Comparison(Comparison {
            left: Operand::Key(key(&[name])),
            op: CompareOp::Eq,
            right: Operand::Literal(Literal::Number(value)),
        })
    }

    #[test]
    fn roots_are_classified_once() {
        assert_eq!(key(&["task", "a"]).root(), Root::Task);
        assert_eq!(key(&["worker", "sid"]).root(), Root::Worker);
        assert_eq!(key(&["workers", "available"]).root(), Root::Workers);
        assert_eq!(key(&["taskrouter", "dayOfWeek"]).root(), Root::TaskRouter);
        assert_eq!(key(&["Task", "a"]).root(), Root::Other);
        assert_eq!(key(&["tasks"]).rest(), &[]);
    }

    #[test]
    fn display_keeps_nesting_that_matters() {
        let or = Expr::Or(vec![compare("a", 1.0), compare("b", 2.0)]);
        let and = Expr::And(vec![or.clone(), compare("c", 3.0)]);
        assert_eq!(and.to_string(), "(a == 1 OR b == 2) AND c == 3");
        let or_of_and = Expr::Or(vec![and.clone(), compare("d", 0.5)]);
        assert_eq!(
            or_of_and.to_string(),
            "(a == 1 OR b == 2) AND c == 3 OR d == 0.5"
        );
        let nested_and = Expr::And(vec![
            Expr::And(vec![compare("a", 1.0), compare("b", 2.0)]),
            compare("c", 3.0),
        ]);
        assert_eq!(nested_and.to_string(), "(a == 1 AND b == 2) AND c == 3");
    }

    #[test]
    fn strings_pick_the_quote_they_do_not_contain() {
        assert_eq!(Literal::String("it's".into()).to_string(), "\"it's\"");
        assert_eq!(
            Literal::String("say \"hi\"".into()).to_string(),
            "'say \"hi\"'"
        );
    }
}
