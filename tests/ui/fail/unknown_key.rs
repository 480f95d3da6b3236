use retry_runtime::retry;

#[retry(bse = "250ms")]
async fn create() -> std::io::Result<()> {
    Ok(())
}

#[retry(wibble = 3)]
async fn far_from_any_key() -> std::io::Result<()> {
    Ok(())
}

fn main() {}
