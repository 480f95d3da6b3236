// A name other libraries use gets a suggestion.
use retry_runtime::retry;

#[retry(max_attempts = 5)]
async fn create() -> std::io::Result<()> {
    Ok(())
}

fn main() {
    let _ = create();
}
