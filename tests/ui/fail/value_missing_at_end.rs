// `max =` at the end of the attribute: the error is at the `=`, not at the
// whole attribute.
use retry_runtime::retry;

#[retry(base = "1s", max =)]
async fn create() -> std::io::Result<()> {
    Ok(())
}

fn main() {
    let _ = create();
}
