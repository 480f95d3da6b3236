use retry_runtime::retry;

#[retry(on = Transient::<()>)]
async fn create() -> std::io::Result<()> {
    Ok(())
}

fn main() {
    let _ = create();
}
