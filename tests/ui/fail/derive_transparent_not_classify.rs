// A transparent field that is not `Classify`: one error, at the field.
use retry_runtime::Classify;

struct Inner;

#[derive(Classify)]
enum Failure {
    #[classify(transparent)]
    Wrapped(Inner),
}

fn main() {}
