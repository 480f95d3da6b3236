use retry_runtime::retry;

#[retry(max)]
async fn create() -> std::io::Result<()> {
    Ok(())
}

fn main() {}
