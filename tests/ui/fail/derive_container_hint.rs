// On an enum, `label` and `retry_after` belong on the variants.
use retry_runtime::Classify;

#[derive(Classify)]
#[classify(default = permanent, retry_after = wait)]
enum Failure {
    Busy,
}

fn main() {}
