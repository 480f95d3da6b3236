use retry_runtime::retry;

#[retry]
extern "C" fn create() -> std::io::Result<()> {
    Ok(())
}

fn main() {
    let _ = create();
}
