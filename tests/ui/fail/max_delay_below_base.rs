use retry_runtime::retry;

#[retry(base = "2s", max_delay = "1s")]
async fn explicit() -> std::io::Result<()> {
    Ok(())
}

#[retry(max_delay = "100ms")]
async fn below_the_default_base() -> std::io::Result<()> {
    Ok(())
}

#[retry(base = "2m")]
async fn above_the_default_cap() -> std::io::Result<()> {
    Ok(())
}

fn main() {}
