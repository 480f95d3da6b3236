use retry_runtime::retry;

struct Payload;

#[retry]
async fn create(payload: Payload) -> std::io::Result<()> {
    let _ = payload;
    Ok(())
}

fn main() {}
