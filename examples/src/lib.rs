//! The parts the examples and their integration tests share: a compute
//! gateway served over HTTP, the supervisor that calls it, and a runner of
//! tool trials as subprocesses.

pub mod demo;
pub mod gateway;
pub mod trials;
pub mod workload;

/// Logs to stderr at INFO: the retry runtime's events (target `retry`) and
/// the examples' own.
pub fn init_tracing() {
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_target(true)
        .compact()
        .init();
}
