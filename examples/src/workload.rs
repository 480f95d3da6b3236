//! The workload manager's client side: a [`Supervisor`] that asks the
//! compute gateway for instances, retrying only what cannot have been
//! created.

use std::time::Instant;

use retry_runtime::{Class, Classify, TimedOut, retry};
use serde::Serialize;

use crate::gateway::Instance;

/// Why a create failed, classified by whether the instance may exist.
#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    /// The gateway answered with an error status.
    #[error("gateway answered {status}: {message}")]
    Status { status: u16, message: String },
    /// No connection: the request never left.
    #[error("cannot reach the gateway: {0}")]
    Unreachable(#[source] reqwest::Error),
    /// The exchange broke after the request may have been sent.
    #[error("exchange with the gateway failed: {0}")]
    Exchange(#[source] reqwest::Error),
    /// The attempt outlived its timeout: the create may still be running.
    #[error(transparent)]
    TimedOut(#[from] TimedOut),
}

impl Classify for CreateError {
    fn classify(&self) -> Class {
        match self {
            // 503 no placement and 500 agent create failed: this gateway
            // guarantees nothing was created.
            CreateError::Status {
                status: 500 | 503, ..
            }
            | CreateError::Unreachable(_) => Class::Transient,
            // 502/504: the node may have created it and the answer was lost.
            CreateError::Status {
                status: 502 | 504, ..
            }
            | CreateError::Exchange(_)
            | CreateError::TimedOut(_) => Class::Ambiguous,
            CreateError::Status { .. } => Class::Permanent,
        }
    }

    fn label(&self) -> Option<&str> {
        Some(match self {
            CreateError::Status { status: 503, .. } => "no placement",
            CreateError::Status { status: 500, .. } => "agent create failed",
            CreateError::Status { status: 502, .. } => "lost answer",
            CreateError::Status { status: 504, .. } => "gateway timeout",
            CreateError::Status { status: 409, .. } => "name conflict",
            CreateError::Status { .. } => "rejected",
            CreateError::Unreachable(_) => "connection refused",
            CreateError::Exchange(_) => "exchange failed",
            CreateError::TimedOut(_) => "timeout",
        })
    }
}

/// The per-request "wide event": one structured record of everything the
/// request did, emitted once at its end.
#[derive(Debug, Clone, Serialize)]
pub struct WideEvent {
    pub request: String,
    /// The name each attempt asked for.
    pub names: Vec<String>,
    /// What each attempt got: a status code, `refused`, `timeout`...
    pub statuses: Vec<String>,
    pub attempts: u32,
    pub outcome: String,
    pub duration_ms: u128,
    #[serde(skip)]
    started: Instant,
}

impl WideEvent {
    /// An event for `request`, starting now.
    pub fn new(request: &str) -> Self {
        WideEvent {
            request: request.to_owned(),
            names: Vec::new(),
            statuses: Vec::new(),
            attempts: 0,
            outcome: String::new(),
            duration_ms: 0,
            started: Instant::now(),
        }
    }

    /// Records how the request ended and emits the event (INFO, target
    /// `workload`, as one JSON field).
    pub fn finish(&mut self, result: &Result<Instance, CreateError>) {
        self.duration_ms = self.started.elapsed().as_millis();
        self.outcome = match result {
            Ok(instance) => format!("created {} on {}", instance.name, instance.node),
            Err(error) => format!("{} error: {error}", error.classify()),
        };
        let json = serde_json::to_string(self).unwrap_or_default();
        tracing::info!(target: "workload", wide_event = %json, "request {} done", self.request);
    }
}

/// The name for an attempt: the requested one first, then `name-r1`,
/// `name-r2`, ... so that a retry never collides with what a failed
/// attempt left registered.
pub fn attempt_name(name: &str, attempt: u32) -> String {
    if attempt <= 1 {
        name.to_owned()
    } else {
        format!("{name}-r{}", attempt - 1)
    }
}

/// Creates instances through the gateway.
#[derive(Debug, Clone)]
pub struct Supervisor {
    client: reqwest::Client,
    gateway: String,
}

impl Supervisor {
    /// A supervisor for the gateway at `gateway` (`http://host:port`).
    ///
    /// # Panics
    ///
    /// If the HTTP client cannot be built (no TLS or proxy is configured,
    /// so this does not happen).
    pub fn new(gateway: String) -> Self {
        let client = reqwest::Client::builder()
            // A fresh connection per attempt, so that a gateway restart is
            // seen as a refused connection (never sent) rather than a
            // broken pooled one (maybe sent).
            .pool_max_idle_per_host(0)
            .build()
            .expect("a plain HTTP client builds");
        Supervisor { client, gateway }
    }

    /// Creates `name` for `request`, retrying only failures that created
    /// nothing: up to 3 attempts 250 ms apart and doubling, overridable
    /// per deployment by `COMPUTE_INSTANCE_CREATE_MAX_ATTEMPTS` and
    /// `COMPUTE_INSTANCE_CREATE_RETRY_BASE_DELAY_MS`. Each attempt is
    /// recorded in `event`.
    #[retry(
        max = 3,
        base = "250ms",
        on = Transient,
        timeout = "1s",
        env = "COMPUTE_INSTANCE_CREATE",
        attempt = attempt
    )]
    pub async fn create(
        &self,
        request: &str,
        name: &str,
        event: &mut WideEvent,
    ) -> Result<Instance, CreateError> {
        self.attempt(request, &attempt_name(name, attempt), attempt, event)
            .await
    }

    /// The careless version, for comparison: it also retries `Ambiguous`
    /// failures, so a create whose answer was lost is made again.
    #[retry(max = 3, base = "250ms", on = Transient | Ambiguous, timeout = "1s", attempt = attempt)]
    pub async fn create_retrying_ambiguous(
        &self,
        request: &str,
        name: &str,
        event: &mut WideEvent,
    ) -> Result<Instance, CreateError> {
        self.attempt(request, &attempt_name(name, attempt), attempt, event)
            .await
    }

    /// One create call.
    async fn attempt(
        &self,
        request: &str,
        name: &str,
        attempt: u32,
        event: &mut WideEvent,
    ) -> Result<Instance, CreateError> {
        event.attempts = attempt;
        event.names.push(name.to_owned());
        // Filled in below; left as is if the attempt times out.
        event.statuses.push("timeout".to_owned());
        let status = event.statuses.last_mut();
        let sent = self
            .client
            .post(format!("{}/v1/instances", self.gateway))
            .header("x-request-id", request)
            .json(&serde_json::json!({ "name": name }))
            .send()
            .await;
        let response = match sent {
            Ok(response) => response,
            Err(error) if error.is_connect() => {
                if let Some(status) = status {
                    "refused".clone_into(status);
                }
                return Err(CreateError::Unreachable(error));
            }
            Err(error) => {
                if let Some(status) = status {
                    "broken".clone_into(status);
                }
                return Err(CreateError::Exchange(error));
            }
        };
        let code = response.status().as_u16();
        if let Some(status) = status {
            *status = code.to_string();
        }
        if response.status().is_success() {
            return response
                .json::<Instance>()
                .await
                .map_err(CreateError::Exchange);
        }
        let message = response
            .json::<serde_json::Value>()
            .await
            .ok()
            .and_then(|body| body["error"].as_str().map(str::to_owned))
            .unwrap_or_default();
        Err(CreateError::Status {
            status: code,
            message,
        })
    }
}
