use retry_runtime::Classify;

#[derive(Debug, Classify)]
enum CreateError {
    #[classify(transiant)]
    NoPlacement,
    #[classify(transparent)]
    TwoFields(std::io::Error, u32),
    #[classify(transient, permanent)]
    TwoClasses,
    #[classify(transient, retry_after = wait)]
    NoSuchField { after: Option<std::time::Duration> },
}

#[derive(Debug, Classify)]
#[classify(default = sometimes)]
enum BadDefault {
    A,
}

fn main() {}
