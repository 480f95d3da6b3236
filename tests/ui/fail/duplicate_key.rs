use retry_runtime::retry;

#[retry(base = "250ms", max = 3, base = "1s")]
async fn create() -> std::io::Result<()> {
    Ok(())
}

fn main() {}
