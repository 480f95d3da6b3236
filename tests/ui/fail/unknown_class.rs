use retry_runtime::retry;

#[retry(on = Transient | Ambigous)]
async fn typo() -> std::io::Result<()> {
    Ok(())
}

#[retry(on = Permanent)]
async fn permanent() -> std::io::Result<()> {
    Ok(())
}

fn main() {}
