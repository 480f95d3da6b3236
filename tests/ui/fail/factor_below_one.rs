use retry_runtime::retry;

#[retry(factor = 0.5)]
async fn create() -> std::io::Result<()> {
    Ok(())
}

fn main() {}
