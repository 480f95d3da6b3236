use retry_runtime::retry;

#[retry(base = "250x")]
async fn unknown_unit() -> std::io::Result<()> {
    Ok(())
}

#[retry(base = 250)]
async fn no_unit() -> std::io::Result<()> {
    Ok(())
}

#[retry(deadline = "1.5ns")]
async fn sub_nanosecond() -> std::io::Result<()> {
    Ok(())
}

fn main() {}
