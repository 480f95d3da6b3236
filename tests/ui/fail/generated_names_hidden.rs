// The parameter that receives a pattern argument is hygienic: the body
// cannot name it.
use retry_runtime::retry;

#[retry]
async fn create((a, b): (u32, u32)) -> std::io::Result<u32> {
    Ok(a + b + __retry_arg0.0)
}

fn main() {
    let _ = create((1, 2));
}
