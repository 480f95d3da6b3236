use retry_runtime::retry;

#[retry(max = 3, retries = 2)]
async fn create() -> std::io::Result<()> {
    Ok(())
}

fn main() {}
