//! A workload manager creating VM instances through a compute gateway that
//! fails the way real ones do, retrying only what cannot have been created.
//!
//! ```text
//! cargo run --example workload_manager
//! COMPUTE_INSTANCE_CREATE_MAX_ATTEMPTS=1 cargo run --example workload_manager   # retries off
//! ```
//!
//! Everything runs in this process on loopback: the gateway is a real HTTP
//! server (axum), the supervisor a real HTTP client (reqwest). The retrying
//! method is `Supervisor::create` in `examples/src/workload.rs`:
//!
//! ```text
//! #[retry(max = 3, base = "250ms", on = Transient, timeout = "1s",
//!         env = "COMPUTE_INSTANCE_CREATE", attempt = attempt)]
//! pub async fn create(&self, request: &str, name: &str, event: &mut WideEvent)
//!     -> Result<Instance, CreateError>
//! ```

use std::time::Duration;

use retry_examples::gateway::{Fault, Gateway};
use retry_examples::workload::{Supervisor, WideEvent};
use retry_runtime::RetryPolicy;

struct Scenario {
    request: &'static str,
    what: &'static str,
    faults: Vec<Fault>,
    outage: Option<Duration>,
}

fn scenarios() -> Vec<Scenario> {
    let plan = |request, what, faults: &[Fault]| Scenario {
        request,
        what,
        faults: faults.to_vec(),
        outage: None,
    };
    vec![
        plan("web-1", "healthy gateway", &[]),
        plan(
            "web-2",
            "503 no placement, then room",
            &[Fault::NoPlacement],
        ),
        plan(
            "db-1",
            "500 agent create failed (name held until cleanup)",
            &[Fault::AgentCreateFailed],
        ),
        Scenario {
            outage: Some(Duration::from_millis(500)),
            ..plan("api-1", "gateway restarting: connection refused", &[])
        },
        plan("big-1", "503 every time", &[Fault::NoPlacement; 3]),
        plan("cache-1", "502: created, answer lost", &[Fault::LostAnswer]),
        plan(
            "batch-1",
            "504: created, too late",
            &[Fault::GatewayTimeout],
        ),
        plan(
            "ml-1",
            "create slower than the 1s timeout",
            &[Fault::Slow(Duration::from_millis(1500))],
        ),
    ]
}

fn row(columns: [&str; 4]) {
    println!(
        "{:<9} {:<24} {:>8}  {}",
        columns[0], columns[1], columns[2], columns[3]
    );
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    retry_examples::init_tracing();

    let gateway = Gateway::start()?;
    let supervisor = Supervisor::new(gateway.url());
    let effective = RetryPolicy::new()
        .max_attempts(3)
        .base(Duration::from_millis(250))
        .with_env("COMPUTE_INSTANCE_CREATE")
        .unwrap_or_else(|error| {
            println!("(ignoring {error})");
            RetryPolicy::new()
        });
    println!(
        "compute gateway on {}; creates retry up to {} attempts, {} apart and doubling\n",
        gateway.url(),
        effective.max_attempts,
        retry_runtime::format_duration(effective.base),
    );

    let mut events = Vec::new();
    for scenario in scenarios() {
        println!("--- {}: {}", scenario.request, scenario.what);
        gateway.plan(scenario.request, scenario.faults);
        if let Some(down) = scenario.outage {
            gateway.outage(down).await;
        }
        let mut event = WideEvent::new(scenario.request);
        let result = supervisor
            .create(scenario.request, scenario.request, &mut event)
            .await;
        event.finish(&result);
        events.push(event);
    }

    // What a careless client does with the same lost answer.
    println!("--- cache-2: 502 again, but retrying Ambiguous failures too");
    gateway.plan("cache-2", [Fault::LostAnswer]);
    let mut careless = WideEvent::new("cache-2");
    let result = supervisor
        .create_retrying_ambiguous("cache-2", "cache-2", &mut careless)
        .await;
    careless.finish(&result);

    // The slow create lands after the client gave up on it.
    tokio::time::sleep(Duration::from_millis(600)).await;

    println!("\nSummary");
    row(["request", "statuses", "attempts", "outcome"]);
    for event in events.iter().chain([&careless]) {
        let attempts = event.attempts.to_string();
        row([
            &event.request,
            &event.statuses.join(" → "),
            &attempts,
            &event.outcome,
        ]);
    }

    println!("\nInstances on the nodes, by request");
    for event in events.iter().chain([&careless]) {
        let instances = gateway.instances_for(&event.request);
        let names: Vec<&str> = instances
            .iter()
            .map(|instance| instance.name.as_str())
            .collect();
        let note = match (names.len(), event.outcome.starts_with("created")) {
            (0, _) => "none",
            (1, true) => "one, as asked",
            (1, false) => "one, though the client saw an error: a retry would have made a second",
            (_, _) => "DOUBLE-CREATED: one request, several VMs",
        };
        println!("{:<9} {:<28} {note}", event.request, names.join(", "));
    }
    Ok(())
}
