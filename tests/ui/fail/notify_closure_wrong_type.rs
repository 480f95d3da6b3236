use retry_runtime::{RetryEvent, retry};

// A closure whose argument names another error type.
#[retry(notify = |event: &RetryEvent<'_, u16>| drop(event))]
async fn create() -> std::io::Result<()> {
    Ok(())
}

fn main() {}
