use retry_runtime::{retry, RetryPolicy};

#[retry(policy = RetryPolicy::new(), max = 3, env = "X")]
async fn create() -> std::io::Result<()> {
    Ok(())
}

fn main() {}
