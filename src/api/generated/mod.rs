//! Code written by `scripts/gen_api.py` from Twilio's TaskRouter v1 OpenAPI description:
//! the resource models and request parameters ([`resources`]) and one typed client
//! method per operation ([`operations`]). Nothing here is edited by hand; change the
//! generator and run it again (`tests/spec_coverage.rs` fails when these files and the
//! generator's output differ).

pub mod operations;
pub mod resources;
