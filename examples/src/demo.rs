//! The workload manager's demonstration: its scenarios, run against a real
//! gateway by both of the supervisor's clients, and the summary it prints.
//!
//! Every scenario's outcome depends on the gateway's plan and on delays
//! with wide margins (a restart 500 ms away from attempts at 0, 250 and
//! 750 ms; a 2 s create against a 1 s timeout), never on which task the
//! scheduler runs first, so the summary is the same on every run.

use std::fmt;
use std::time::Duration;

use retry_runtime::capture;

use crate::gateway::{Fault, Gateway};
use crate::workload::{CreateError, Supervisor, WideEvent};

/// One situation the gateway is put in.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub request: &'static str,
    pub what: &'static str,
    pub faults: Vec<Fault>,
    /// Stop listening for this long just before the create.
    pub outage: Option<Duration>,
}

/// How long a slow create takes: twice the supervisor's 1 s timeout.
pub const SLOW: Duration = Duration::from_secs(2);

/// The gateway's faults, one scenario per request.
pub fn scenarios() -> Vec<Scenario> {
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
            "503 no placement, Retry-After: 1, then room",
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
            &[Fault::Slow(SLOW)],
        ),
    ]
}

/// Which of the supervisor's ways of creating made a row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Client {
    /// `Supervisor::create`: `#[retry]`, `Transient` only, fresh names.
    Retry,
    /// `Supervisor::create_retrying_ambiguous`: retries what may have committed.
    Careless,
    /// `Supervisor::create_with_key`: retries `Ambiguous` too, with one
    /// `Idempotency-Key` per call.
    Keyed,
    /// `Supervisor::create_via_middleware`: `RetryMiddleware` with keys.
    Middleware,
}

/// One request's line in the summary.
#[derive(Clone, Debug)]
pub struct Row {
    pub client: Client,
    pub event: WideEvent,
    /// The instances that exist for the request, by name.
    pub instances: Vec<String>,
}

/// Every request the demonstration made, in order.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    pub rows: Vec<Row>,
}

/// Runs every scenario through `supervisor` against `gateway`: first with
/// the `#[retry]` method (and, for a lost answer, the careless and the
/// keyed variants), then the same faults through the middleware client.
/// `announce` gets a line as each scenario starts.
pub async fn run(
    gateway: &Gateway,
    supervisor: &Supervisor,
    mut announce: impl FnMut(&str),
) -> Summary {
    let mut summary = Summary::default();
    for scenario in scenarios() {
        announce(&format!("--- {}: {}", scenario.request, scenario.what));
        let mut event = WideEvent::new(scenario.request);
        let request = scenario.request;
        let (result, calls) = capture(under(gateway, &scenario, request, async {
            supervisor.create(request, request, &mut event).await
        }))
        .await;
        event.record_call(&calls);
        summary.push(gateway, Client::Retry, event, &result);
    }

    announce("--- cache-2: 502 again, but retrying Ambiguous failures too");
    gateway.plan("cache-2", [Fault::LostAnswer]);
    let mut careless = WideEvent::new("cache-2");
    let (result, calls) =
        capture(supervisor.create_retrying_ambiguous("cache-2", "cache-2", &mut careless)).await;
    careless.record_call(&calls);
    summary.push(gateway, Client::Careless, careless, &result);

    announce("--- cache-3: 502 again, retried with the same Idempotency-Key");
    gateway.plan("cache-3", [Fault::LostAnswer]);
    let mut keyed = WideEvent::new("cache-3");
    let (result, calls) =
        capture(supervisor.create_with_key("cache-3", "cache-3", "create-cache-3", &mut keyed))
            .await;
    keyed.record_call(&calls);
    summary.push(gateway, Client::Keyed, keyed, &result);

    for scenario in scenarios() {
        let request = format!("mw-{}", scenario.request);
        announce(&format!(
            "--- {request}: {} (middleware client)",
            scenario.what
        ));
        let mut event = WideEvent::new(&request);
        let (result, calls) = capture(under(gateway, &scenario, &request, async {
            supervisor
                .create_via_middleware(&request, &request, &mut event)
                .await
        }))
        .await;
        event.record_call(&calls);
        summary.push(gateway, Client::Middleware, event, &result);
    }
    summary
}

/// Runs `create` for `request` with `scenario`'s faults, restart included.
async fn under<T>(
    gateway: &Gateway,
    scenario: &Scenario,
    request: &str,
    create: impl Future<Output = T>,
) -> T {
    gateway.plan(request, scenario.faults.iter().copied());
    let restarted = match scenario.outage {
        Some(down) => Some(gateway.outage(down).await),
        None => None,
    };
    let result = create.await;
    if let Some(restarted) = restarted {
        // The gateway listens again before the next scenario starts.
        let _ = restarted.await;
    }
    if scenario
        .faults
        .iter()
        .any(|fault| matches!(fault, Fault::Slow(_)))
    {
        landed(gateway, request).await;
    }
    result
}

/// Waits until a slow create the client gave up on has committed, so that
/// later creates land on the nodes in the same order on every run.
async fn landed(gateway: &Gateway, request: &str) {
    let give_up = tokio::time::Instant::now() + SLOW * 3;
    while gateway.instances_for(request).is_empty() && tokio::time::Instant::now() < give_up {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

impl Summary {
    fn push(
        &mut self,
        gateway: &Gateway,
        client: Client,
        mut event: WideEvent,
        result: &Result<crate::gateway::Instance, CreateError>,
    ) {
        event.finish(result);
        let instances = gateway
            .instances_for(&event.request)
            .into_iter()
            .map(|instance| instance.name)
            .collect();
        self.rows.push(Row {
            client,
            event,
            instances,
        });
    }
}

fn row(f: &mut fmt::Formatter<'_>, columns: [&str; 5]) -> fmt::Result {
    let [request, statuses, attempts, vms, outcome] = columns;
    writeln!(
        f,
        "{request:<13} {statuses:<32} {attempts:>8} {vms:>4}  {outcome}"
    )
}

fn rows(f: &mut fmt::Formatter<'_>, rows: &[&Row]) -> fmt::Result {
    row(f, ["request", "statuses", "attempts", "VMs", "outcome"])?;
    for line in rows {
        let event = &line.event;
        let outcome = match line.client {
            Client::Careless => format!("{}   (retried Ambiguous, no key)", event.outcome),
            Client::Keyed => format!("{}   (retried Ambiguous, one key)", event.outcome),
            Client::Retry | Client::Middleware => event.outcome.clone(),
        };
        row(
            f,
            [
                &event.request,
                &event.statuses.join(" → "),
                &event.attempts.to_string(),
                &line.instances.len().to_string(),
                &outcome,
            ],
        )?;
    }
    Ok(())
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (middleware, methods): (Vec<&Row>, Vec<&Row>) = self
            .rows
            .iter()
            .partition(|row| row.client == Client::Middleware);
        writeln!(
            f,
            "#[retry] methods (fresh name per attempt; \"(1s)\": the gateway's Retry-After, waited)"
        )?;
        rows(f, &methods)?;
        writeln!(f)?;
        writeln!(
            f,
            "RetryMiddleware client (one Idempotency-Key per call, same name on every attempt)"
        )?;
        rows(f, &middleware)?;
        let doubled: Vec<&str> = self
            .rows
            .iter()
            .filter(|row| row.instances.len() > 1)
            .map(|row| row.event.request.as_str())
            .collect();
        writeln!(f)?;
        match doubled.as_slice() {
            [] => writeln!(f, "No request made more than one VM."),
            requests => writeln!(
                f,
                "Double-created: {} (one request, several VMs)",
                requests.join(", ")
            ),
        }
    }
}
