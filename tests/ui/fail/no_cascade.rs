// One mistake in the attribute is one error: the body, which uses
// `attempt`, still compiles.
use retry_runtime::retry;

#[retry(max = 0, attempt = attempt)]
async fn create() -> std::io::Result<u32> {
    let name = format!("vm-r{attempt}");
    Ok(name.len() as u32)
}

fn main() {
    let _ = create();
}
