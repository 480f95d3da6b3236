use retry_runtime::{RetryEvent, retry};

fn log_status(_: &RetryEvent<'_, u16>) {}

// A hook for another error type.
#[retry(notify = log_status)]
async fn create() -> std::io::Result<()> {
    Ok(())
}

// A literal is no hook.
#[retry(notify = 42)]
async fn delete() -> std::io::Result<()> {
    Ok(())
}

// Nor is any other value that does not implement `Notify`.
#[retry(notify = String::new())]
async fn update() -> std::io::Result<()> {
    Ok(())
}

fn main() {}
