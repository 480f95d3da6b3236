//! The parts the examples and their integration tests share: a compute
//! gateway served over HTTP, the supervisor that calls it, and a runner of
//! tool trials as subprocesses.

pub mod gateway;
pub mod trials;
pub mod workload;
