// A literal suffix would be silently dropped: `3u8` is not `3`.
use retry_runtime::retry;

#[retry(max = 3u8)]
async fn create() -> std::io::Result<()> {
    Ok(())
}

fn main() {
    let _ = create();
}
