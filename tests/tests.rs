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
mod emulator;
mod examples;
mod expr;
mod lifecycle;
mod limits;
mod listeners;
// Written by scripts/gen_api.py; kept with the other generated files.
#[path = "generated/operations.rs"]
mod operations;
mod quickstart;
mod routing;
mod serve;
mod spec_coverage;
mod tick;
mod workflow;
