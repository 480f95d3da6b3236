use retry_runtime::retry;

#[retry(backoff = fibonaci)]
async fn create() -> std::io::Result<()> {
    Ok(())
}

fn main() {}
