// A syntax error in one key of a method's attribute is one error: the
// keys that parsed still apply, so the body's `attempt` stays bound.
use retry_runtime::retry;

struct Gateway;

impl Gateway {
    #[retry(attempt = n, base = "1s" +, max = 3)]
    async fn create(&self) -> std::io::Result<u32> {
        Ok(n)
    }
}

fn main() {
    let _ = Gateway.create();
}
