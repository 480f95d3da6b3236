use retry_runtime::retry;

trait Store {
    #[retry]
    async fn get(&self) -> std::io::Result<()>;
}

fn main() {}
