use retry_runtime::Classify;

#[derive(Debug, Classify)]
enum CreateError {
    #[classify(transient)]
    NoPlacement,
    BadGateway,
}

fn main() {}
