//! The workload manager's client side: a [`Supervisor`] that asks the
//! compute gateway for instances, retrying only what cannot have been
//! created, in two ways: `#[retry]` methods, and a client whose retries are
//! a middleware ([`retry_runtime::http::RetryMiddleware`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use reqwest_middleware::{ClientBuilder, ClientWithMiddleware, Middleware, Next};
use retry_runtime::http::{IDEMPOTENCY_KEY, RetryMiddleware};
use retry_runtime::{CallReport, Class, Classify, RetryPolicy, TimedOut, retry};
use serde::Serialize;

use crate::gateway::Instance;

/// Why a create failed, classified by whether the instance may exist.
#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    /// The gateway answered with an error status.
    #[error("gateway answered {status}: {message}")]
    Status {
        status: u16,
        message: String,
        /// The gateway's `Retry-After`, if it sent one.
        retry_after: Option<Duration>,
    },
    /// No connection: the request never left.
    #[error("cannot reach the gateway: {0}")]
    Unreachable(#[source] reqwest::Error),
    /// The exchange broke after the request may have been sent.
    #[error("exchange with the gateway failed: {0}")]
    Exchange(#[source] reqwest::Error),
    /// The attempt outlived its timeout: the create may still be running.
    #[error(transparent)]
    TimedOut(#[from] TimedOut),
    /// A middleware of the client failed.
    #[error("client middleware failed: {0}")]
    Client(String),
}

/// This gateway's statuses do not all mean what the general table
/// (`http::StatusCode`'s `Classify` impl) says: its 500 is "agent create
/// failed", which created nothing, so it is `Transient` here, where the
/// table (for servers in general) has `Ambiguous`.
impl Classify for CreateError {
    fn retry_after(&self) -> Option<Duration> {
        match self {
            CreateError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

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
            | CreateError::TimedOut(_)
            | CreateError::Client(_) => Class::Ambiguous,
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
            CreateError::Client(_) => "client",
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

    /// Takes the attempts from the call report of the request's retry loop
    /// (the `#[retry]` method's, or the middleware's), as
    /// [`retry_runtime::capture`] returned it.
    pub fn record_call(&mut self, calls: &[CallReport]) {
        if let Some(call) = calls.last() {
            self.attempts = call.attempts;
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

/// The retry policy of creates, as `#[retry]` on [`Supervisor::create`]
/// spells it: 3 attempts, 250 ms doubling, 1 s per attempt.
pub const CREATE_POLICY: RetryPolicy = RetryPolicy::new()
    .max_attempts(3)
    .base(Duration::from_millis(250))
    .attempt_timeout(Duration::from_secs(1));

/// What each attempt through the middleware client got, by request id:
/// recorded by [`AttemptLog`], a middleware below the retries, so it sees
/// every attempt.
type Attempts = Arc<Mutex<HashMap<String, Vec<String>>>>;

/// Records each attempt's status (`201`, `503 (1s)`, `refused`,
/// `timeout`...) under its `x-request-id`.
struct AttemptLog(Attempts);

#[async_trait::async_trait]
impl Middleware for AttemptLog {
    async fn handle(
        &self,
        request: reqwest::Request,
        extensions: &mut http::Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<reqwest::Response> {
        let id = request
            .headers()
            .get("x-request-id")
            .and_then(|value| value.to_str().ok())
            .unwrap_or("-")
            .to_owned();
        let index = {
            let mut log = self.0.lock().unwrap_or_else(PoisonError::into_inner);
            let attempts = log.entry(id.clone()).or_default();
            // Left as is if the retry layer above drops the attempt on timeout.
            attempts.push("timeout".to_owned());
            attempts.len() - 1
        };
        let result = next.run(request, extensions).await;
        let seen = match &result {
            Ok(response) => status_text(response),
            Err(reqwest_middleware::Error::Reqwest(error)) if error.is_connect() => {
                "refused".to_owned()
            }
            Err(_) => "broken".to_owned(),
        };
        if let Some(slot) = self
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_mut(&id)
            .and_then(|attempts| attempts.get_mut(index))
        {
            *slot = seen;
        }
        result
    }
}

/// How an attempt's answer is shown: the status, with the wait the gateway
/// asked for, or a mark that the answer was a replay of an earlier create's.
fn status_text(response: &reqwest::Response) -> String {
    let code = response.status().as_u16();
    if response.headers().contains_key("idempotent-replayed") {
        format!("{code} replayed")
    } else if let Some(wait) = retry_runtime::http::retry_after(response.headers()) {
        format!("{code} ({})", retry_runtime::format_duration(wait))
    } else {
        code.to_string()
    }
}

/// Creates instances through the gateway.
#[derive(Debug, Clone)]
pub struct Supervisor {
    client: reqwest::Client,
    /// The same client with retries as a middleware, idempotency keys on.
    retrying: ClientWithMiddleware,
    attempts: Attempts,
    gateway: String,
}

impl Supervisor {
    /// A supervisor for the gateway at `gateway` (`http://host:port`). The
    /// middleware client's policy is [`CREATE_POLICY`] with the same
    /// environment overrides as [`create`](Self::create).
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
        let policy = CREATE_POLICY
            .with_env("COMPUTE_INSTANCE_CREATE")
            .unwrap_or(CREATE_POLICY);
        let attempts = Attempts::default();
        let retrying = ClientBuilder::new(client.clone())
            .with(RetryMiddleware::new(policy).idempotency_key())
            .with(AttemptLog(Arc::clone(&attempts)))
            .build();
        Supervisor {
            client,
            retrying,
            attempts,
            gateway,
        }
    }

    /// Creates `name` for `request`, retrying only failures that created
    /// nothing: up to 3 attempts 250 ms apart and doubling (longer if the
    /// gateway asks, with `Retry-After`), overridable per deployment by
    /// `COMPUTE_INSTANCE_CREATE_MAX_ATTEMPTS` and
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
        self.attempt(request, &attempt_name(name, attempt), None, event)
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
        self.attempt(request, &attempt_name(name, attempt), None, event)
            .await
    }

    /// The safe way to retry a create whose answer was lost: every attempt
    /// carries the same `Idempotency-Key` (and the same name), and the
    /// gateway answers a repeated key with the instance it already made.
    /// So `Ambiguous` failures are retried too.
    #[retry(max = 3, base = "250ms", on = Transient | Ambiguous, timeout = "1s", attempt = attempt)]
    pub async fn create_with_key(
        &self,
        request: &str,
        name: &str,
        key: &str,
        event: &mut WideEvent,
    ) -> Result<Instance, CreateError> {
        self.attempt(request, name, Some(key), event).await
    }

    /// Creates `name` through the middleware client: one plain call, whose
    /// retries (and idempotency key) the middleware adds. `event` gets each
    /// attempt, as the middleware saw it.
    pub async fn create_via_middleware(
        &self,
        request: &str,
        name: &str,
        event: &mut WideEvent,
    ) -> Result<Instance, CreateError> {
        let sent = self
            .retrying
            .post(format!("{}/v1/instances", self.gateway))
            .header("x-request-id", request)
            .json(&serde_json::json!({ "name": name }))
            .send()
            .await;
        let statuses = self
            .attempts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(request)
            .unwrap_or_default();
        event.names = vec![name.to_owned(); statuses.len()];
        event.statuses = statuses;
        match sent {
            Ok(response) => answer(response).await,
            Err(reqwest_middleware::Error::Reqwest(error)) if error.is_connect() => {
                Err(CreateError::Unreachable(error))
            }
            Err(reqwest_middleware::Error::Reqwest(error)) => Err(CreateError::Exchange(error)),
            Err(reqwest_middleware::Error::Middleware(error)) => {
                match error.downcast_ref::<TimedOut>() {
                    Some(timed_out) => Err(CreateError::TimedOut(*timed_out)),
                    None => Err(CreateError::Client(error.to_string())),
                }
            }
        }
    }

    /// One create call.
    async fn attempt(
        &self,
        request: &str,
        name: &str,
        key: Option<&str>,
        event: &mut WideEvent,
    ) -> Result<Instance, CreateError> {
        event.names.push(name.to_owned());
        // Filled in below; left as is if the attempt times out.
        event.statuses.push("timeout".to_owned());
        let status = event.statuses.last_mut();
        let mut call = self
            .client
            .post(format!("{}/v1/instances", self.gateway))
            .header("x-request-id", request)
            .json(&serde_json::json!({ "name": name }));
        if let Some(key) = key {
            call = call.header(IDEMPOTENCY_KEY, key);
        }
        let response = match call.send().await {
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
        if let Some(status) = status {
            *status = status_text(&response);
        }
        answer(response).await
    }
}

/// The instance a create response carries, or the error it reports.
async fn answer(response: reqwest::Response) -> Result<Instance, CreateError> {
    if response.status().is_success() {
        return response
            .json::<Instance>()
            .await
            .map_err(CreateError::Exchange);
    }
    let status = response.status().as_u16();
    let retry_after = retry_runtime::http::retry_after(response.headers());
    let message = response
        .json::<serde_json::Value>()
        .await
        .ok()
        .and_then(|body| body["error"].as_str().map(str::to_owned))
        .unwrap_or_default();
    Err(CreateError::Status {
        status,
        message,
        retry_after,
    })
}
