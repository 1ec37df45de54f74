//! TaskRouter expression language (placeholder until the expressions issue lands).
