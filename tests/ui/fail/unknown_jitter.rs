use retry_runtime::retry;

#[retry(jitter = fll)]
async fn create() -> std::io::Result<()> {
    Ok(())
}

fn main() {}
