// Bare words are read whole: `a::full` is not `full`.
use retry_runtime::retry;

#[retry(jitter = a::full)]
async fn create() -> std::io::Result<()> {
    Ok(())
}

fn main() {
    let _ = create();
}
