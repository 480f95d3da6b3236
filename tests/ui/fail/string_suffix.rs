use retry_runtime::retry;

#[retry(base = "250ms"x)]
async fn create() -> std::io::Result<()> {
    Ok(())
}

fn main() {
    let _ = create();
}
