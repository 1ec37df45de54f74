//! Workflow configuration documents (placeholder until the expressions issue lands).
