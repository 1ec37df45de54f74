//! TaskRouter's documented limits and defaults, in one place for every room: the client
//! and CLI check input against them, the emulator enforces them, `workflow test` uses the
//! same defaults. (Expression cost bounds that are the emulator's own live in
//! `crate::expr::limits`.)

/// Longest attributes document (task or worker) TaskRouter stores, whitespace included.
pub const MAX_ATTRIBUTES_CHARS: usize = 4096;
/// Largest workflow configuration TaskRouter accepts, in bytes.
pub const MAX_CONFIGURATION_BYTES: usize = 1_038_576;
/// Highest task priority (a 32-bit signed maximum; the lowest is 0).
pub const MAX_PRIORITY: u32 = 2_147_483_647;
/// A task's TTL (`Timeout`) when none is given: one day, in seconds.
pub const DEFAULT_TASK_TTL_SECONDS: u32 = 86_400;
/// Longest task TTL: two weeks, in seconds.
pub const MAX_TASK_TTL_SECONDS: u32 = 1_209_600;
/// A workflow's `TaskReservationTimeout` when none is given, in seconds; also used for
/// tasks that reach a queue without a workflow.
pub const DEFAULT_RESERVATION_TIMEOUT_SECONDS: u32 = 120;
/// Longest `TaskReservationTimeout`: one day, in seconds.
pub const MAX_RESERVATION_TIMEOUT_SECONDS: u32 = 86_400;
/// Pending→reserved transitions after which TaskRouter cancels a task.
pub const MAX_ASSIGNMENTS: u32 = 1000;
