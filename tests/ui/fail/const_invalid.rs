// Keys given as constants are checked during constant evaluation.
use std::time::Duration;

use retry_runtime::retry;

const BASE: Duration = Duration::from_secs(120);

#[retry(base = BASE)]
async fn create() -> std::io::Result<()> {
    Ok(())
}

fn main() {
    let _ = create();
}
