use retry_runtime::retry;

#[derive(Debug)]
struct MyError;

impl std::fmt::Display for MyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("my error")
    }
}

#[retry]
async fn create() -> Result<(), MyError> {
    Ok(())
}

fn main() {}
