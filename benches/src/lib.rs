//! Shared pieces of the benchmarks.

pub mod overhead;
pub mod plot;
pub mod storm;
