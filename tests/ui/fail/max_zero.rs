use retry_runtime::retry;

#[retry(max = 0)]
async fn create() -> std::io::Result<()> {
    Ok(())
}

fn main() {}
