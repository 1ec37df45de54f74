//! The expression language against ROUTING.md §1.12's worked examples, our own edge cases,
//! property tests (the parser never panics; printing and re-parsing keeps the tree), and
//! the `trctl expr` commands run in-process.

use clap::Parser;
use proptest::prelude::*;
use serde_json::{json, Value};

use trctl::cli::cmd::expr::{run, ExprCommand};
use trctl::expr::{
    ChannelLoad, CompareOp, Comparison, Expr, Expression, FilterScope, KeyPath, Literal, Operand,
    PathSegment, QueueCounts, Scope, SkipScope, Span, TargetScope, TimeOfDay, Weekday, WorkerView,
};

/// Document D of ROUTING.md §1.12.
fn document_d() -> Value {
    json!({
        "type": "support",
        "tier": 2,
        "score": 4.5,
        "vip": true,
        "languages": ["en", "fr"],
        "skills": ["billing", "returns"],
        "customer": {"region": "emea", "ids": [10, 20, 30]},
        "note": "Refund requested",
        "code": "7",
        "empty": []
    })
}

/// A document for our own edge cases.
fn document_edge() -> Value {
    json!({
        "nothing_here": null,
        "zero": 0,
        "big": 12345678901234u64,
        "neg": -3,
        "frac": 0.1,
        "numeric_text": "42",
        "decimal_text": "4.50",
        "padded_text": " 42",
        "flag_text": "true",
        "matrix": [[1, 2], [3, 4]],
        "mixed": [1, "1", true, null, {"k": "v"}, ["x"]],
        "deep": {"a": {"b": {"c": {"d": {"e": [{"f": "found"}]}}}}},
        "quote": "say \"hi\"",
        "apostrophe": "it's",
        "backslash": "a\\b",
        "unicode": "café",
        "in": "keyword-named",
        "Case": "upper"
    })
}

fn compile(source: &str) -> Expression {
    Expression::compile(source).unwrap_or_else(|error| panic!("{source:?} should parse: {error}"))
}

fn check<S: Scope>(scope: &S, source: &str, expected: bool) {
    let expression = compile(source);
    assert_eq!(expression.evaluate(scope), expected, "{source}");
    // The explanation must agree with the fast path, and the canonical form must mean
    // the same thing.
    assert_eq!(
        expression.explain(scope).value,
        expected,
        "explain: {source}"
    );
    let canonical = compile(&expression.to_string());
    assert_eq!(canonical, expression, "canonical form of {source}");
    assert_eq!(canonical.evaluate(scope), expected, "canonical: {source}");
}

/// One test per line: `name: expression => expected;` evaluated against `$document`.
macro_rules! evaluates {
    ($document:expr; $($name:ident: $source:expr => $expected:expr;)*) => {$(
        #[test]
        fn $name() {
            check(&$document, $source, $expected);
        }
    )*};
}

/// One test per line: `name: expression => byte span of the error;`.
macro_rules! rejects {
    ($($name:ident: $source:expr => $start:expr, $end:expr;)*) => {$(
        #[test]
        fn $name() {
            let error = Expression::compile($source).expect_err($source);
            assert_eq!(error.span, Span::new($start, $end), "{}: {error}", $source);
        }
    )*};
}

mod worked_examples {
    use super::*;

    // ROUTING.md §1.12, document D, bare keys.
    evaluates! { document_d();
        e01: r#"type == "support""# => true;
        e02: "type == 'support'" => true;
        e03: "type=='support'" => true;
        e04: r#"type != "sales""# => true;
        e05: "tier >= 2" => true;
        e06: "tier > 2" => false;
        e07: "score < 5" => true;
        e08: "score == 4.50" => true;
        e09: "vip == true" => true;
        e10: "vip == false" => false;
        e11: r#"languages HAS "fr""# => true;
        e12: r#"languages HAS "de""# => false;
        e13: r#""en" IN languages"# => true;
        e14: r#"customer.region IN ["emea", "apac"]"# => true;
        e15: r#"customer.region NOT IN ["emea"]"# => false;
        e16: r#"customer.region NOT IN ["apac"]"# => true;
        e17: "customer.ids[1] == 20" => true;
        e18: "customer.ids HAS 30" => true;
        e19: r#"note CONTAINS "Refund""# => true;
        e20: r#"languages CONTAINS "en""# => false;
        e21: r#"languages == ["en", "fr"]"# => false;
        e22: r#"type HAS "support""# => false;
        e23: "tier IN 2" => false;
        e24: r#"empty HAS "x""# => false;
        e25: "1 == 1" => true;
        e26: r#"(type == "sales" OR tier == 2) AND vip == true"# => true;
        // UNCONFIRMED (§1.6): true because AND binds tighter than OR (our SQL-style
        // choice); strictly left-to-right it would be false — see the next test.
        e27_and_binds_tighter: r#"type == "support" OR tier == 3 AND vip == false"# => true;
        e27_left_to_right_reading_differs: r#"(type == "support" OR tier == 3) AND vip == false"# => false;
        e28: r#"nothing == "x""# => false;
        e29: "nothing != null" => false;
        e30: "type != null" => true;
        // UNCONFIRMED (§1.8): a missing key is unequal to any value.
        e31: r#"nothing != "x""# => true;
        e32: "code > 5" => true;
        // UNCONFIRMED (§1.8): numeric strings compare numerically with numbers.
        e33: r#"tier == "2""# => true;
        // UNCONFIRMED (§1.7): string comparisons are case-sensitive.
        e34: r#"note CONTAINS "refund""# => false;
        e35: r#"type == "Support""# => false;
        e36: r#"type in ["support"]"# => true;
        e37: r#"type = "support""# => true;
        e38: r#"skills >- "billing""# => true;
        e39: r#"customer.region <- ["emea"]"# => true;
    }

    rejects! {
        e40_hyphen: "skill-level > 3" => 5, 6;
        e41_dangling_and: r#"type == "support" AND"# => 21, 21;
    }

    // ROUTING.md §1.12, target-expression context.
    fn task() -> Value {
        json!({"lang": "fr", "needs": "billing", "preferred": ["WK0002", "WK0009"], "blocked": ["WK0003"]})
    }

    fn worker_attributes() -> Value {
        json!({"languages": ["en", "fr"], "skills": ["billing"], "level": 3})
    }

    fn target(source: &str, expected: bool) {
        let task = task();
        let attributes = worker_attributes();
        let worker = WorkerView {
            sid: "WK0002",
            friendly_name: "ana",
            activity_sid: "WA0001",
            activity_name: "Available",
            available: true,
            attributes: &attributes,
            channels: &[],
        };
        check(
            &TargetScope {
                task: &task,
                worker: &worker,
                time: None,
            },
            source,
            expected,
        );
    }

    macro_rules! targets {
        ($($name:ident: $source:expr => $expected:expr;)*) => {$(
            #[test]
            fn $name() {
                target($source, $expected);
            }
        )*};
    }

    targets! {
        t01: "task.lang IN worker.languages" => true;
        t02: "worker.skills HAS task.needs" => true;
        t03: "worker.sid IN task.preferred" => true;
        t04: "worker.sid NOT IN task.blocked" => true;
        t05: "worker.activity_name == 'Available'" => true;
        t06: "worker.activity_sid in ['WA0001','WA0002']" => true;
        t07: "worker.friendly_name == 'ana'" => true;
        t08: r#"worker.level >= 3 AND task.lang == "fr""# => true;
        t09: "task.preferred != null" => true;
        // UNCONFIRMED (§1.1): unprefixed keys are NULL in a target expression.
        t10: r#"lang == "fr""# => false;
        t11: "worker.id IN task.preferred" => false;
        // Our additions in the same context.
        task_resource_fields_are_not_attributes: "task.priority == null" => true;
        missing_blocked_list_means_not_in_is_false: "worker.sid NOT IN task.nowhere" => false;
    }

    // ROUTING.md §1.12, skip-condition context: 1 member Available, 2 in Offline (WA0OFF).
    fn skip(source: &str, expected: bool) {
        let counts = QueueCounts {
            available: 1,
            unavailable: 2,
            by_activity: vec![("WA0AVL".into(), 1), ("WA0OFF".into(), 2)],
        };
        check(&SkipScope { counts: &counts }, source, expected);
    }

    macro_rules! skips {
        ($($name:ident: $source:expr => $expected:expr;)*) => {$(
            #[test]
            fn $name() {
                skip($source, $expected);
            }
        )*};
    }

    skips! {
        k01: "workers.available == 0" => false;
        k02: "workers.unavailable >= 2" => true;
        k03: "workers.WA0OFF == 2" => true;
        k04: "workers.available == 0 OR workers.WA0OFF > 1" => true;
        k05: "1==1" => true;
        activity_without_members_counts_zero: "workers.WA0BREAK < 2" => true;
        undocumented_counter_is_null: "workers.idle == null" => true;
    }
}

mod edge_cases {
    use super::*;

    evaluates! { document_edge();
        // NULL: JSON null and missing keys behave alike.
        json_null_equals_null: "nothing_here == null" => true;
        json_null_not_present: "nothing_here != null" => false;
        missing_equals_missing: "nope == also_nope" => true;
        null_is_unordered: "nope < 1" => false;
        null_is_unordered_both_ways: "nope >= 1" => false;
        null_contains_nothing: r#"nope CONTAINS "" "# => false;
        null_in_list: r#"nope IN ["a"]"# => false;
        // UNCONFIRMED (§1.8): a missing left side is not in the list.
        null_not_in_list: r#"nope NOT IN ["a"]"# => true;
        not_in_missing_list: r#""a" NOT IN nope"# => false;
        null_in_list_with_null: "nope IN [null]" => true;
        array_has_json_null: "mixed HAS null" => true;
        object_present: "deep != null" => true;
        object_never_equal: "deep == deep" => false;
        object_not_unequal_to_scalar: r#"deep != "x""# => false;
        // Type mismatches are false, never errors.
        bool_vs_text: r#"flag_text == true"# => false;
        bool_vs_text_ne: r#"flag_text != true"# => true;
        bool_unordered: "true > false" => false;
        number_vs_non_numeric_text: r#"zero == "zero""# => false;
        number_vs_padded_text: "padded_text == 42" => false;
        numeric_text_equal: "numeric_text == 42" => true;
        numeric_text_ordered: "numeric_text > 41.5" => true;
        decimal_text: "decimal_text == 4.5" => true;
        two_numeric_texts_compare_as_text: r#"decimal_text == "4.5""# => false;
        text_ordering_is_bytewise: r#""10" < "9""# => true;
        number_contains_is_false: r#"zero CONTAINS "0""# => false;
        has_on_object_is_false: r#"deep HAS "a""# => false;
        in_with_array_left_is_false: r#"matrix IN [1, 2]"# => false;
        not_in_with_array_left_is_false: r#"matrix NOT IN [1, 2]"# => false;
        has_array_value_is_false: "matrix HAS [1, 2]" => false;
        // Nested arrays: indexing reaches in, HAS compares elements only.
        nested_index: "matrix[1][0] == 3" => true;
        nested_has: "matrix[0] HAS 2" => true;
        nested_not_flattened: "matrix HAS 1" => false;
        index_out_of_range: "matrix[9] == null" => true;
        index_into_scalar: "zero[0] == null" => true;
        mixed_has_coerces: "mixed HAS \"1\"" => true;
        mixed_has_number: "mixed HAS 1" => true;
        mixed_has_true: "mixed HAS true" => true;
        // Quoting: no escapes; each quote kind may hold the other.
        single_quotes_hold_double: r#"quote == 'say "hi"'"# => true;
        double_quotes_hold_single: r#"apostrophe == "it's""# => true;
        backslash_is_literal: r#"backslash == "a\b""# => true;
        unicode_text: r#"unicode CONTAINS "fé""# => true;
        empty_string_contained: r#"unicode CONTAINS """# => true;
        // Keywords in any case, keys exact.
        lower_keywords: r#"zero == 0 and numeric_text in ["42"] or 1 == 2"# => true;
        mixed_case_keywords: r#"zero Not In [1] AND unicode cOnTaInS "caf""# => true;
        keyword_as_key_after_dot: r#"deep.a.b.c.d.e[0].f == "found""# => true;
        keys_are_case_sensitive: r#"case == "upper""# => false;
        keys_exact_case: r#"Case == "upper""# => true;
        upper_case_literals: "TRUE == true" => true;
        // Deep paths.
        deep_path: r#"deep.a.b.c.d.e[0].f == 'found'"# => true;
        deep_path_miss: "deep.a.b.x.d == null" => true;
        // Numbers.
        leading_zeros: "big > 0012345678901233" => true;
        trailing_zeros: "frac == 0.10" => true;
        big_integer: "big == 12345678901234" => true;
        negative_attribute: "neg < 0" => true;
        integer_equals_decimal: "zero == 0.000" => true;
        // Chains and precedence.
        or_chain: "zero == 1 OR zero == 2 OR zero == 0" => true;
        and_chain_short_circuit_value: "zero == 0 AND nope == 1 AND zero == 0" => false;
        parentheses_override: "(zero == 1 OR zero == 0) AND (neg == 3 OR neg < 0)" => true;
        constant_only: "1 == 1.0" => true;
        constants_of_different_type: r#"1 == "1""# => true;
        arrays_compare_false: "[1] == [1]" => false;
    }

    rejects! {
        negative_literal: "neg == -3" => 7, 8;
        unary_not: "NOT zero == 0" => 0, 3;
        not_has: "matrix NOT HAS 1" => 11, 14;
        not_contains: r#"unicode NOT CONTAINS "c""# => 12, 20;
        double_ampersand: "a == 1 && b == 2" => 7, 8;
        exclamation: "!vip" => 0, 1;
        unterminated: r#"a == "abc"# => 5, 9;
        exponent: "a == 1e3" => 5, 8;
        trailing_dot: "a == 1." => 5, 7;
        leading_dot: "a == .5" => 5, 6;
        nested_array_literal: "a IN [[1]]" => 6, 7;
        key_in_array_literal: "a IN [b]" => 6, 7;
        empty_group: "()" => 1, 2;
        two_values: "a b" => 2, 3;
        keyword_key_at_start: "in == 1" => 0, 2;
        bare_boolean_is_not_a_condition: "zero == 0 OR false" => 18, 18;
        operator_first: "== 1" => 0, 2;
        space_inside_key: "deep .a == 1" => 5, 6;
        unbalanced_close: "(a == 1))" => 8, 9;
    }

    #[test]
    fn numbers_print_canonically() {
        assert_eq!(compile("a == 0800").to_string(), "a == 800");
        assert_eq!(compile("a == 7.00").to_string(), "a == 7");
        assert_eq!(compile("a == 2.718").to_string(), "a == 2.718");
        assert_eq!(compile("a == 0.0000001").to_string(), "a == 0.0000001");
    }

    #[test]
    fn source_text_is_kept() {
        let expression = compile("a   =  1");
        assert_eq!(expression.source(), "a   =  1");
        assert_eq!(expression.to_string(), "a == 1");
    }

    #[test]
    fn error_positions_are_line_and_column() {
        let source = "a == 1 AND\n  b ! 2";
        let error = Expression::compile(source).expect_err("invalid");
        assert_eq!(error.line_column(source), (2, 5));
    }

    #[test]
    fn time_of_day_variables() {
        let task = json!({});
        let at = |day, hour, minute| FilterScope {
            task: &task,
            time: TimeOfDay::new(day, hour, minute),
        };
        let hours = "taskrouter.currentTime > 0800 AND taskrouter.currentTime < 1830";
        check(&at(Weekday::Mon, 9, 0), hours, true);
        check(&at(Weekday::Mon, 8, 0), hours, false);
        check(&at(Weekday::Mon, 18, 29), hours, true);
        let weekend = "taskrouter.dayOfWeek IN ['Sat','Sun']";
        check(&at(Weekday::Sun, 12, 0), weekend, true);
        check(&at(Weekday::Fri, 12, 0), weekend, false);
        check(&at(Weekday::Tue, 9, 5), "taskrouter.currentHour > 8", true);
        check(
            &at(Weekday::Tue, 9, 5),
            "taskrouter.currentHour == '09'",
            true,
        );
        check(&at(Weekday::Tue, 9, 5), "taskrouter.currentMin > 10", false);
        // Without a time the variables are plain (missing) attributes.
        check(
            &FilterScope {
                task: &task,
                time: None,
            },
            "taskrouter.currentHour == null",
            true,
        );
    }

    #[test]
    fn multitasking_channel_variables() {
        let attributes = json!({});
        let channels = [ChannelLoad {
            unique_name: "chat",
            configured_capacity: 4,
            assigned_tasks: 1,
            occupied: 2,
            available: true,
        }];
        let worker = WorkerView {
            sid: "WK1",
            friendly_name: "w",
            activity_sid: "WA1",
            activity_name: "Available",
            available: true,
            attributes: &attributes,
            channels: &channels,
        };
        let task = json!({});
        let scope = TargetScope {
            task: &task,
            worker: &worker,
            time: None,
        };
        check(&scope, "worker.channel.chat.configured_capacity == 4", true);
        check(&scope, "worker.channel.chat.assigned_tasks == 1", true);
        check(
            &scope,
            "worker.channel.chat.available_capacity_percentage == 50",
            true,
        );
        check(&scope, "worker.channel.voice.assigned_tasks == 0", false);
    }

    #[test]
    fn document_convenience_matches_bare_keys() {
        let expression = compile(r#"customer.region == "emea" AND tier < 3"#);
        assert!(expression.matches_document(&document_d()));
        assert!(!expression.matches_document(&json!({"customer": {"region": "apac"}, "tier": 1})));
    }
}

/// The acceptance examples of the issue.
mod acceptance {
    use super::*;

    const SKILLS: &str = r#"(skills HAS "support") AND (languages HAS "en")"#;

    #[test]
    fn support_and_english() {
        let expression = compile(SKILLS);
        assert!(
            expression.matches_document(&json!({"skills": ["support"], "languages": ["en", "es"]}))
        );
        assert!(!expression.matches_document(&json!({"skills": ["support"], "languages": ["es"]})));
    }
}

mod properties {
    use super::*;

    const KEYWORDS: [&str; 9] = [
        "and", "or", "not", "in", "has", "contains", "true", "false", "null",
    ];

    fn first_name() -> impl Strategy<Value = String> {
        "[a-zA-Z_$][a-zA-Z0-9_$]{0,6}".prop_filter("keywords cannot start a key", |name| {
            !KEYWORDS
                .iter()
                .any(|keyword| name.eq_ignore_ascii_case(keyword))
        })
    }

    fn key_path() -> impl Strategy<Value = KeyPath> {
        let segment = prop_oneof![
            "[a-zA-Z_$][a-zA-Z0-9_$]{0,6}".prop_map(|name| PathSegment::Key(name.into())),
            (0usize..1000).prop_map(PathSegment::Index),
        ];
        (first_name(), prop::collection::vec(segment, 0..4)).prop_map(|(first, rest)| {
            let mut segments = vec![PathSegment::Key(first.into())];
            segments.extend(rest);
            KeyPath::new(segments)
        })
    }

    fn scalar() -> impl Strategy<Value = Literal> {
        prop_oneof![
            // Without escapes a string can hold one kind of quote, not both.
            "[^\"]{0,8}".prop_map(|text| Literal::String(text.into())),
            "[^']{0,8}".prop_map(|text| Literal::String(text.into())),
            (0u32..100_000).prop_map(|number| Literal::Number(f64::from(number))),
            (0.0f64..1e12).prop_map(Literal::Number),
            any::<bool>().prop_map(Literal::Bool),
            Just(Literal::Null),
        ]
    }

    fn operand() -> impl Strategy<Value = Operand> {
        prop_oneof![
            2 => key_path().prop_map(Operand::Key),
            2 => scalar().prop_map(Operand::Literal),
            1 => prop::collection::vec(scalar(), 0..4).prop_map(|items| Operand::Literal(Literal::Array(items))),
        ]
    }

    fn expr() -> impl Strategy<Value = Expr> {
        let comparison = (
            operand(),
            prop::sample::select(CompareOp::ALL.to_vec()),
            operand(),
        )
            .prop_map(|(left, op, right)| Expr::Comparison(Comparison { left, op, right }));
        comparison.prop_recursive(4, 32, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 2..4).prop_map(Expr::And),
                prop::collection::vec(inner, 2..4).prop_map(Expr::Or),
            ]
        })
    }

    /// Text made of the language's own pieces, to get past the lexer more often than
    /// arbitrary strings do.
    fn token_soup() -> impl Strategy<Value = String> {
        let piece = prop::sample::select(vec![
            "a", "b.c", "d[0]", "[", "]", "(", ")", ",", ".", "==", "=", "!=", "<", "<=", ">",
            ">=", ">-", "<-", "-", "!", "AND", "or", "NOT", "IN", "HAS", "CONTAINS", "true",
            "null", "'x'", "\"y\"", "\"", "'", "1", "2.5", "0800", "1.", " ", "\n", "é", "$", "_",
        ]);
        prop::collection::vec(piece, 0..24).prop_map(|pieces| pieces.concat())
    }

    proptest! {
        #[test]
        fn parser_never_panics_on_arbitrary_text(source in any::<String>()) {
            let _ = Expression::compile(&source);
        }

        #[test]
        fn parser_never_panics_on_token_soup(source in token_soup()) {
            if let Ok(expression) = Expression::compile(&source) {
                // Whatever parses also prints canonically and evaluates without panicking.
                let reparsed = Expression::compile(&expression.to_string());
                prop_assert_eq!(reparsed.as_ref().ok(), Some(&expression), "{}", expression);
                let _ = expression.evaluate(&document_d());
            } else if let Err(error) = Expression::compile(&source) {
                prop_assert!(error.span.start <= error.span.end && error.span.end <= source.len());
                prop_assert!(source.is_char_boundary(error.span.start));
            }
        }

        #[test]
        fn printing_then_parsing_gives_the_same_tree(tree in expr()) {
            let printed = tree.to_string();
            let parsed = Expression::compile(&printed);
            prop_assert!(parsed.is_ok(), "{} did not parse: {:?}", printed, parsed.err());
            if let Ok(parsed) = parsed {
                prop_assert_eq!(parsed.ast(), &tree, "{}", printed);
                // Evaluation agrees between explain and the fast path on any tree.
                let doc = document_edge();
                prop_assert_eq!(parsed.evaluate(&doc), parsed.explain(&doc).value);
            }
        }
    }
}

/// `trctl expr …`, parsed by clap and run in-process.
mod cli {
    use super::*;

    #[derive(Parser)]
    struct Harness {
        #[command(subcommand)]
        command: ExprCommand,
    }

    struct Run {
        code: u8,
        out: String,
        err: String,
    }

    fn trctl(args: &[&str], json_output: bool) -> Run {
        let harness = Harness::try_parse_from(std::iter::once("expr").chain(args.iter().copied()))
            .unwrap_or_else(|error| panic!("clap rejected {args:?}: {error}"));
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = run(&harness.command, json_output, &mut out, &mut err);
        Run {
            code,
            out: String::from_utf8(out).expect("utf-8"),
            err: String::from_utf8(err).expect("utf-8"),
        }
    }

    const SKILLS: &str = r#"(skills HAS "support") AND (languages HAS "en")"#;

    #[test]
    fn eval_true_and_false() {
        let yes = trctl(
            &[
                "eval",
                SKILLS,
                "--attributes",
                r#"{"skills":["support"],"languages":["en","es"]}"#,
            ],
            false,
        );
        assert_eq!(
            (yes.code, yes.out.as_str(), yes.err.as_str()),
            (0, "true\n", "")
        );
        let no = trctl(
            &[
                "eval",
                SKILLS,
                "--attributes",
                r#"{"skills":["support"],"languages":["es"]}"#,
            ],
            false,
        );
        assert_eq!((no.code, no.out.as_str()), (0, "false\n"));
    }

    #[test]
    fn eval_json() {
        let run = trctl(
            &[
                "eval",
                SKILLS,
                "--attributes",
                r#"{"skills":["support"],"languages":["en"]}"#,
            ],
            true,
        );
        assert_eq!((run.code, run.out.as_str()), (0, "{\"result\":true}\n"));
    }

    #[test]
    fn eval_explain_tree() {
        let run = trctl(
            &[
                "eval",
                SKILLS,
                "--attributes",
                r#"{"skills":["support"],"languages":["es"]}"#,
                "--explain",
            ],
            false,
        );
        assert_eq!(run.code, 0);
        assert_eq!(
            run.out,
            concat!(
                "false skills HAS \"support\" AND languages HAS \"en\"\n",
                "  true  skills HAS \"support\"    [skills = [\"support\"]]\n",
                "  false languages HAS \"en\"    [languages = [\"es\"]]\n",
                "false\n",
            )
        );
    }

    #[test]
    fn eval_explain_json() {
        let run = trctl(
            &[
                "eval",
                "a == 1 OR b == 2",
                "--attributes",
                r#"{"b":2}"#,
                "--explain",
            ],
            true,
        );
        let body: Value = serde_json::from_str(&run.out).expect("json");
        assert_eq!(body["result"], json!(true));
        assert_eq!(
            body["explanation"]["children"][0]["keys"][0],
            json!({"key": "a", "value": "null"})
        );
        assert_eq!(body["explanation"]["children"][1]["value"], json!(true));
    }

    #[test]
    fn eval_target_expression_with_worker_resource_and_task() {
        let worker = r#"{"sid":"WK1","friendly_name":"ana","attributes":"{\"languages\":[\"fr\"]}","activity_name":"Available","activity_sid":"WA1","available":true}"#;
        let run = trctl(
            &[
                "eval",
                "task.lang IN worker.languages AND worker.activity_name == 'Available' AND taskrouter.dayOfWeek == 'Sat'",
                "--task",
                r#"{"lang":"fr"}"#,
                "--worker",
                worker,
                "--time",
                "Sat 10:30",
            ],
            false,
        );
        assert_eq!(
            (run.code, run.out.as_str(), run.err.as_str()),
            (0, "true\n", "")
        );
        // A bare attributes object works as --worker too.
        let bare = trctl(
            &[
                "eval",
                "worker.languages HAS 'fr'",
                "--worker",
                r#"{"languages":["fr"]}"#,
            ],
            false,
        );
        assert_eq!(bare.out, "true\n");
    }

    #[test]
    fn eval_reads_attributes_from_a_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("attributes.json");
        std::fs::write(&path, r#"{"type":"support"}"#).expect("write");
        let run = trctl(
            &[
                "eval",
                "type == 'support'",
                "--attributes",
                &format!("@{}", path.display()),
            ],
            false,
        );
        assert_eq!((run.code, run.out.as_str()), (0, "true\n"));
    }

    #[test]
    fn check_ok() {
        let run = trctl(&["check", "a = 1 and b >- 'x'"], false);
        assert_eq!(
            (run.code, run.out.as_str(), run.err.as_str()),
            (0, "ok: a == 1 AND b HAS \"x\"\n", "")
        );
        let json_run = trctl(&["check", "a == 1"], true);
        assert_eq!(json_run.out, "{\"valid\":true,\"canonical\":\"a == 1\"}\n");
    }

    #[test]
    fn check_fails_with_caret_at_end_of_input() {
        let run = trctl(&["check", "languages HAS"], false);
        assert_eq!(run.code, 2);
        assert_eq!(run.out, "");
        assert_eq!(
            run.err,
            concat!(
                "error: expected a value (string, number, true, false, null, array or key), found end of input\n",
                "  |\n",
                "1 | languages HAS\n",
                "  |              ^\n",
            )
        );
    }

    #[test]
    fn check_failure_as_json() {
        let run = trctl(&["check", "skill-level > 3"], true);
        assert_eq!(run.code, 2);
        let body: Value = serde_json::from_str(&run.out).expect("json");
        assert_eq!(body["valid"], json!(false));
        assert_eq!(body["error"]["column"], json!(6));
        assert_eq!(body["error"]["start"], json!(5));
    }

    #[test]
    fn eval_of_invalid_expression_exits_2() {
        let run = trctl(&["eval", "a ==", "--attributes", "{}"], false);
        assert_eq!(run.code, 2);
        assert!(run.err.contains("1 | a =="), "{}", run.err);
    }

    #[test]
    fn bad_json_exits_2_with_message() {
        let run = trctl(&["eval", "a == 1", "--attributes", "{\"a\": }"], false);
        assert_eq!(run.code, 2);
        assert_eq!(run.out, "");
        assert!(
            run.err.starts_with("error: --attributes is not valid JSON"),
            "{}",
            run.err
        );
        assert!(run.err.contains("line 1, column 7"), "{}", run.err);
        let worker = trctl(
            &["eval", "a == 1", "--worker", r#"{"attributes":"{oops"}"#],
            true,
        );
        assert_eq!(worker.code, 2);
        let body: Value = serde_json::from_str(&worker.out).expect("json error body");
        assert!(body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("--worker"));
    }
}
