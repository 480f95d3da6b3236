// `retry_after` names a field that is not a `Duration`: one error, at its type.
use retry_runtime::Classify;

#[derive(Classify)]
enum Failure {
    #[classify(transient, retry_after = wait_ms)]
    Busy { wait_ms: u64 },
}

fn main() {}
