use retry_runtime::retry;

#[retry(factor = -2)]
async fn create() -> std::io::Result<()> {
    Ok(())
}

fn main() {
    let _ = create();
}
