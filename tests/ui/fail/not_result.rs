use retry_runtime::retry;

#[retry]
async fn returns_option() -> Option<u32> {
    None
}

#[retry]
async fn returns_nothing() {}

fn main() {}
