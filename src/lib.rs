//! trctl: a toolkit for Twilio TaskRouter.
//!
//! Rooms, and who may call whom:
//! - [`api`]: the typed REST client and resource models (no printing, no env).
//! - [`expr`]: TaskRouter's expression language (pure).
//! - [`workflow`]: workflow configuration documents and routing evaluation (pure, uses `expr`).
//! - [`serve`]: the callback listener behind `trctl serve` (signatures, instructions,
//!   rules); emits log records, never prints.
//! - [`emulator`]: the local TaskRouter emulator.
//! - [`http_server`]: the hardened HTTP server set-up both listeners run on (timeouts,
//!   connection limit, graceful shutdown with a deadline).
//! - [`multipart`]: `multipart/form-data` bodies decoded into form pairs (both listeners).
//! - [`cli`]: the clap command tree and output rendering; the only room that prints.
#![warn(missing_docs)]

pub mod api;
pub mod cli;
pub mod emulator;
pub mod expr;
pub mod http_server;
pub mod multipart;
pub mod serve;
pub mod workflow;
