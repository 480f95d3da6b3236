// The error is logged and recorded as text: without `Display`, one error
// at the error type.
use retry_runtime::{Classify, retry};

#[derive(Debug, Classify)]
#[classify(transient)]
struct Opaque;

#[retry]
async fn create() -> Result<(), Opaque> {
    Ok(())
}

fn main() {
    let _ = create();
}
