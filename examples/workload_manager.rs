//! A workload manager creating VM instances through a compute gateway that
//! fails the way real ones do, retrying only what cannot have been created.
//!
//! ```text
//! cargo run --example workload_manager
//! COMPUTE_INSTANCE_CREATE_MAX_ATTEMPTS=1 cargo run --example workload_manager   # retries off
//! ```
//!
//! Everything runs in this process on loopback: the gateway is a real HTTP
//! server (axum), the supervisor a real HTTP client (reqwest). The supervisor
//! creates in two ways, both in `examples/src/workload.rs`:
//!
//! ```text
//! #[retry(max = 3, base = "250ms", on = Transient, timeout = "1s",
//!         env = "COMPUTE_INSTANCE_CREATE", attempt = attempt)]
//! pub async fn create(&self, request: &str, name: &str, event: &mut WideEvent)
//!     -> Result<Instance, CreateError>
//!
//! ClientBuilder::new(client)
//!     .with(RetryMiddleware::new(policy).idempotency_key())
//! ```
//!
//! The scenarios are in `examples/src/demo.rs`. With `--features metrics`,
//! it ends with the retry metrics as a Prometheus scrape would read them.

use retry_examples::demo;
use retry_examples::gateway::Gateway;
use retry_examples::workload::{CREATE_POLICY, Supervisor};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    retry_examples::init_tracing();
    #[cfg(feature = "metrics")]
    let prometheus = metrics_exporter_prometheus::PrometheusBuilder::new().install_recorder()?;

    let gateway = Gateway::start()?;
    let supervisor = Supervisor::new(gateway.url());
    let effective = CREATE_POLICY
        .with_env("COMPUTE_INSTANCE_CREATE")
        .unwrap_or_else(|error| {
            println!("(ignoring {error})");
            CREATE_POLICY
        });
    println!(
        "compute gateway on {}; creates retry up to {} attempts, {} apart and doubling\n",
        gateway.url(),
        effective.max_attempts,
        retry_runtime::format_duration(effective.base),
    );

    let summary = demo::run(&gateway, &supervisor, |line| println!("{line}")).await;
    println!("\nSummary\n\n{summary}");
    #[cfg(feature = "metrics")]
    {
        // The retry series only, in a stable order (the exporter's own
        // order follows its hash maps), without the delay summary's
        // quantiles (estimates; its sum and count are exact).
        let mut series: Vec<String> = prometheus
            .render()
            .lines()
            .filter(|line| line.starts_with("retry_") && !line.contains("quantile="))
            .map(str::to_owned)
            .collect();
        series.sort();
        println!(
            "\nMetrics (Prometheus text format)\n\n{}",
            series.join("\n")
        );
    }
    Ok(())
}
