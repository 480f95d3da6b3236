use retry_runtime::retry;

#[retry(base = -1)]
async fn create() -> std::io::Result<()> {
    Ok(())
}

fn main() {
    let _ = create();
}
