//! Every integration test, in one binary: each file of `tests/` is a module here, so the
//! crate is linked once rather than once per area. A new area gets its own file and a
//! `mod` line below; shared helpers go in `common`.
//!
//! Tests share this process, so none may change process-wide state (environment
//! variables, current directory, signal dispositions): set them on the child
//! `Command` instead.

mod common;

mod cli;
mod cli_requests;
mod client;
mod conformance;
mod differential;
mod emulator;
mod examples;
mod expr;
mod gateway;
mod lifecycle;
mod limits;
mod listeners;
mod multipart;
// Written by scripts/gen_api.py; kept with the other generated files.
#[path = "generated/operations.rs"]
mod operations;
mod quickstart;
mod routing;
mod serve;
mod spec_coverage;
mod statistics;
mod tick;
mod token;
mod workflow;

/// With `autotests = false`, a file added to `tests/` without a `mod` line above would
/// silently never be compiled or run.
#[test]
fn every_file_of_tests_is_a_module_of_this_binary() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let root = std::fs::read_to_string(dir.join("tests.rs")).expect("tests/tests.rs");
    let declared: Vec<&str> = root
        .lines()
        .filter_map(|line| line.strip_prefix("mod ")?.strip_suffix(';'))
        .collect();
    let mut missing = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("tests/") {
        let path = entry.expect("directory entry").path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let Some(module) = name.strip_suffix(".rs") else {
            continue;
        };
        if module != "tests" && !declared.contains(&module) {
            missing.push(name.to_string());
        }
    }
    assert!(
        missing.is_empty(),
        "files of tests/ without a `mod …;` line in tests/tests.rs: {missing:?}"
    );
    // The generated file is declared through #[path]: the generator must keep writing there.
    assert!(dir.join("generated/operations.rs").is_file());
    assert!(declared.contains(&"operations"));
}
