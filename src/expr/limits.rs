//! Cost bounds on expressions and on the workflow configurations that carry them.
//!
//! TaskRouter documents no limit on an expression itself, only on the whole workflow
//! configuration (about 1 MB). Without one, a single queue whose `TargetWorkers` is a
//! megabyte of `OR` terms makes every routing decision scan it for every worker, and the
//! emulator, which serialises requests through one engine, stalls for seconds. These
//! bounds keep the work of any one evaluation small and predictable; they are far above
//! what hand-written routing rules use (a few to a few dozen comparisons).
//!
//! Every place that compiles an expression goes through [`crate::expr::Expression::compile`]
//! (or [`crate::expr::parse_key_path`]), which enforces the per-expression bounds, so the
//! emulator's REST API and the offline `trctl expr` / `trctl workflow test` commands refuse
//! exactly the same inputs. The workflow bounds are enforced by
//! [`crate::workflow::CompiledWorkflow`]. This module is constants only.
//!
//! What the bounds buy, measured on a release build (BENCHMARKS.md, "Engine cost bounds";
//! `cargo bench --bench engine -- at_limits`, `cargo bench --bench stall`): with every
//! expression at these limits, 50 workers, 100 queues and 100 waiting tasks, no request
//! holds the engine for more than 50 ms. The cost of the worst requests is linear in
//! workers × steps (a task create) and workers × waiting tasks (a queue or workflow
//! update), so that scale is part of the promise; so are attributes of ordinary shape,
//! since a `HAS` over an attribute array scans it.

/// Longest expression, in bytes of UTF-8 source. Checked before lexing, so an oversized
/// input costs one length comparison. 8 KiB holds an `IN` list of some 200 worker SIDs, or
/// the term limit's worth of comparisons with long attribute paths.
pub const MAX_EXPRESSION_BYTES: usize = 8 * 1024;

/// Most comparisons (terms such as `a == 1`) in one expression. Evaluation cost grows with
/// the number of comparisons, and routing evaluates a queue's and a target's expression
/// for every worker it considers, so this is the main bound on a request's cost. Fifty
/// comparisons of scalar attributes evaluate in about 3 µs (release build, two busy
/// cores); hand-written routing rules use a few to a few dozen.
pub const MAX_TERMS: usize = 50;

/// Most items in the array literals of one expression, all lists together
/// (`x IN [...]`). `IN` scans its list, so list items cost like small terms; 512 leaves
/// room for a list of worker SIDs, which is the usual reason for a long list.
pub const MAX_LIST_ITEMS: usize = 512;

/// Deepest parenthesis nesting. The parser and the evaluator recurse once per level, so
/// this bound is what keeps any input, however deeply nested, from exhausting the stack.
pub const MAX_NESTING: usize = 64;

/// Most targets (routing steps) in one workflow configuration, all filters together; the
/// default filter is one more. Every filter has at least one target, so this also caps
/// the filters at 50. It bounds the costliest request there is: a task whose every step is
/// skipped on entry walks them all within its create, and at each step checks every worker
/// against the step's queue and target expressions (five evaluations per worker per step).
/// TaskRouter itself only caps the configuration's size, so this is a deliberate
/// difference: 50 is well above what hand-built workflows use and keeps the worst create
/// at the documented scale under 50 ms (measured 28.7 ms; 100 targets measured 70 ms).
pub const MAX_WORKFLOW_TARGETS: usize = 50;

/// Most clauses in one target's `order_by` (`worker.a DESC, worker.b ASC, …`). Sorting
/// compares clause by clause; TaskRouter's examples use one or two.
pub const MAX_ORDER_BY_CLAUSES: usize = 10;
