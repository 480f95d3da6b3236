use retry_runtime::retry;

const HALF: f64 = 0.5;

#[retry(factor = HALF)]
async fn create() -> std::io::Result<()> {
    Ok(())
}

fn main() {
    let _ = create();
}
