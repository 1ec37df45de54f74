//! `trctl serve`: the assignment-callback listener (signatures so far; the listener
//! itself is being built).

pub mod signature;
