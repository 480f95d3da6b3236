// A zero timeout beside a run-time policy would time out every attempt.
use std::time::Duration;

use retry_runtime::{RetryPolicy, TimedOut, retry};

#[derive(Debug, thiserror::Error, retry_runtime::Classify)]
#[classify(transient)]
#[error("busy")]
struct Busy;

impl From<TimedOut> for Busy {
    fn from(_: TimedOut) -> Self {
        Busy
    }
}

#[retry(policy = RetryPolicy::new(), timeout = Duration::ZERO)]
async fn create() -> Result<(), Busy> {
    Ok(())
}

fn main() {
    let _ = create();
}
