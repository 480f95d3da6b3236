// Two attributes would multiply the attempts (3 x 3); one error, at the second.
use retry_runtime::retry;

#[retry]
#[retry(max = 2)]
async fn create() -> std::io::Result<()> {
    Ok(())
}

fn main() {
    let _ = create();
}
