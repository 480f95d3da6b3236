// A constant the macro cannot read is checked during constant evaluation,
// and the error points at the constant.
use retry_runtime::retry;

const ZERO: u32 = 0;

#[retry(max = ZERO)]
async fn create() -> std::io::Result<()> {
    Ok(())
}

fn main() {
    let _ = create();
}
