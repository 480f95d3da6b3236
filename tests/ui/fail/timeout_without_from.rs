use retry_runtime::{retry, Classify};

#[derive(Debug, thiserror::Error, Classify)]
#[error("busy")]
#[classify(transient)]
struct Busy;

#[retry(timeout = "5s")]
async fn create() -> Result<(), Busy> {
    Ok(())
}

fn main() {}
