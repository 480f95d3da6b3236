use retry_runtime::retry;

#[retry(timeout = "5s")]
fn create() -> std::io::Result<()> {
    Ok(())
}

fn main() {}
