//! A deterministic retry-storm simulator over the real retry runtime.
//!
//! Both models drive [`RetryPolicy::retry`] futures (with [`Jitter`] and
//! [`RetryBudget`] exactly as a service would) on a current-thread tokio
//! runtime whose clock is paused: tokio jumps the clock to the next timer
//! whenever every task is waiting, so simulated minutes take milliseconds
//! and nothing depends on the machine's speed. Every jittered policy is
//! seeded with its client's (or request's) number, so each run prints the
//! same numbers.
//!
//! Tokio's timer wheel has a resolution of one millisecond, and a paused
//! clock only ever stops on a timer's tick: every event of the simulation
//! lands on a whole millisecond. Calls made in the same tick are
//! concurrent; a jittered delay is in effect rounded up to the next
//! millisecond. That is finer than every latency and delay below.
//!
//! # Contention
//!
//! The model of AWS's "Exponential Backoff and Jitter": `N` clients each
//! need one successful write to a single row under optimistic concurrency,
//! and all start at time 0. A call made at `t` reads the row's version at
//! `t` and commits at `t + w`; the commit fails (a transient conflict) if
//! another commit landed in `(t, t + w]`, and succeeds otherwise. Of
//! commits in the same tick, the first one the runtime wakes wins. The work
//! is the number of calls; the completion time is the virtual time of the
//! last client's success.
//!
//! Parameters ([`Contention::AWS`]): `w` = 10 ms (one round trip); `base` =
//! 10 ms, doubling up to a cap of 2 s. These reproduce the AWS simulator's
//! sleeps, `min(2 s, 5 ms * 2^n)` for `n >= 1` (10, 20, 40 ms, ...). A base
//! below `w` could not separate two colliding calls; the cap is at least
//! `N * w` for both client counts (the time N writes need end to end), so
//! the backoff can spread the clients out instead of stopping while they
//! still collide. Up to 2000 attempts, far more than any client needs, so
//! that the completion time measures the backoff and not a give-up (a
//! client that gives up is reported, and fails the check). Decorrelated
//! jitter grows from `base` (10 ms) rather than the simulator's 5 ms: the
//! runtime's decorrelated jitter starts at the policy's base.
//!
//! The model has no network variance: a call's latency is exactly `w`.
//! Without jitter the clients therefore stay in lockstep for good, one
//! commits per round, and the work is exactly `N (N + 1) / 2` calls. That
//! is the worst case for plain backoff: the AWS simulator draws each network
//! delay at random, which breaks the lockstep up, so there plain backoff
//! needs fewer calls and full jitter's share of them is larger than here.
//!
//! # Outage
//!
//! `N` clients each offer one request per second, client `i` at
//! `i / N` s past each second: an even offered load of `N` requests per
//! second, open loop (a request does not wait for the previous one, as
//! with independent users). Each call takes 10 ms. During the outage
//! window every call fails as transient; outside it every call succeeds.
//! Each request is retried by one of three configurations: no retry
//! (`max_attempts(1)`), `max_attempts(3)`, and `max_attempts(3)` drawing on
//! a [`RetryBudget::new(10, 0.1)`](RetryBudget::new) shared by all clients
//! of the run (gRPC's example throttling configuration). The retries use the
//! runtime's default backoff (250 ms doubling) with full jitter.
//!
//! The load is counted where the service sees it: calls per second of
//! arrival. The amplification of a window is the calls that arrived in it
//! over the requests offered in it. Three attempts allow up to 3x; the
//! budget allows four retries (its ten tokens fall to half after five
//! failures) and, with no successes to refill it during the outage, keeps
//! the service at the offered load.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::rc::Rc;
use std::time::Duration;

use retry_runtime::{Class, Classify, Jitter, RetryBudget, RetryPolicy};
use tokio::task::LocalSet;
use tokio::time::Instant;

/// Every jitter mode, in the order the tables and charts show them.
pub const JITTERS: [Jitter; 4] = [
    Jitter::None,
    Jitter::Full,
    Jitter::Equal,
    Jitter::Decorrelated,
];

/// A current-thread runtime with tokio's clock paused at its start.
fn paused_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("a current-thread runtime with a timer")
}

/// A failure the service returns; transient in both models.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceError {
    /// Another commit landed between this call's read and its commit.
    Conflict,
    /// The service is down.
    Unavailable,
}

impl fmt::Display for ServiceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ServiceError::Conflict => "version conflict",
            ServiceError::Unavailable => "service unavailable",
        })
    }
}

impl Classify for ServiceError {
    fn classify(&self) -> Class {
        Class::Transient
    }
}

/// The parameters of the contention model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Contention {
    /// The clients contending for the row.
    pub clients: u32,
    /// From a call's read to its commit.
    pub write_latency: Duration,
    /// The delay before the first retry.
    pub base: Duration,
    /// The cap on any delay.
    pub cap: Duration,
    /// The most attempts a client makes.
    pub max_attempts: u32,
}

impl Contention {
    /// The parameters of AWS's simulation, with `clients` to be set.
    pub const AWS: Contention = Contention {
        clients: 100,
        write_latency: Duration::from_millis(10),
        base: Duration::from_millis(10),
        cap: Duration::from_secs(2),
        max_attempts: 2000,
    };

    /// The same model with `clients` clients.
    pub const fn with_clients(self, clients: u32) -> Self {
        Contention { clients, ..self }
    }

    /// The policy client `client` retries with.
    pub const fn policy(&self, jitter: Jitter, client: u32) -> RetryPolicy {
        RetryPolicy::new()
            .max_attempts(self.max_attempts)
            .base(self.base)
            .max_delay(self.cap)
            .jitter(jitter)
            .seed(client as u64)
    }
}

/// What one run of the contention model measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContentionOutcome {
    /// The clients that contended.
    pub clients: u32,
    /// The jitter they used.
    pub jitter: Jitter,
    /// Every call the row received: the work.
    pub calls: u64,
    /// When the last successful client committed (virtual time).
    pub completion: Duration,
    /// The clients that gave up without committing.
    pub gave_up: u32,
    /// The most attempts any client made.
    pub max_attempts: u32,
}

/// The row all clients write, under optimistic concurrency.
#[derive(Debug, Default)]
struct Row {
    last_commit: Cell<Option<Instant>>,
    calls: Cell<u64>,
}

impl Row {
    async fn write(&self, latency: Duration) -> Result<(), ServiceError> {
        self.calls.set(self.calls.get() + 1);
        // The version read now is stale at commit time exactly when some
        // commit landed after this instant.
        let read_at = Instant::now();
        tokio::time::sleep(latency).await;
        if self.last_commit.get().is_some_and(|at| at > read_at) {
            return Err(ServiceError::Conflict);
        }
        self.last_commit.set(Some(Instant::now()));
        Ok(())
    }
}

/// Runs the contention model once.
///
/// # Panics
///
/// If the runtime cannot start, or a client's task panics.
pub fn contention(model: &Contention, jitter: Jitter) -> ContentionOutcome {
    let runtime = paused_runtime();
    let local = LocalSet::new();
    let model = *model;
    local.block_on(&runtime, async move {
        let row = Rc::new(Row::default());
        let start = Instant::now();
        let clients: Vec<_> = (0..model.clients)
            .map(|client| {
                let row = Rc::clone(&row);
                let policy = model.policy(jitter, client);
                tokio::task::spawn_local(async move {
                    let row: &Row = &row;
                    let attempts = Cell::new(0);
                    let result = policy
                        .retry(|attempt| {
                            attempts.set(attempt);
                            row.write(model.write_latency)
                        })
                        .await;
                    (result.is_ok(), attempts.get(), start.elapsed())
                })
            })
            .collect();
        let mut outcome = ContentionOutcome {
            clients: model.clients,
            jitter,
            calls: 0,
            completion: Duration::ZERO,
            gave_up: 0,
            max_attempts: 0,
        };
        for client in clients {
            let (committed, attempts, at) = client.await.expect("a client task panicked");
            outcome.max_attempts = outcome.max_attempts.max(attempts);
            if committed {
                outcome.completion = outcome.completion.max(at);
            } else {
                outcome.gave_up += 1;
            }
        }
        outcome.calls = row.calls.get();
        outcome
    })
}

/// How the requests of an outage run are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RetryConfig {
    /// One attempt.
    NoRetry,
    /// Up to three attempts.
    ThreeAttempts,
    /// Up to three attempts while a shared budget allows.
    ThreeAttemptsBudget,
}

impl RetryConfig {
    /// Every configuration, in the order the tables and charts show them.
    pub const ALL: [RetryConfig; 3] = [
        RetryConfig::NoRetry,
        RetryConfig::ThreeAttempts,
        RetryConfig::ThreeAttemptsBudget,
    ];

    /// A short human name.
    pub const fn label(self) -> &'static str {
        match self {
            RetryConfig::NoRetry => "no retry",
            RetryConfig::ThreeAttempts => "3 attempts",
            RetryConfig::ThreeAttemptsBudget => "3 attempts + 10% budget",
        }
    }

    const fn max_attempts(self) -> u32 {
        match self {
            RetryConfig::NoRetry => 1,
            RetryConfig::ThreeAttempts | RetryConfig::ThreeAttemptsBudget => 3,
        }
    }
}

impl fmt::Display for RetryConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// The parameters of the outage model. Times are whole seconds from the
/// start, so that per-second counts line up with the windows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Outage {
    /// The clients, each offering one request per second.
    pub clients: u32,
    /// How long a call takes.
    pub latency: Duration,
    /// The first second of the outage.
    pub outage_start: u32,
    /// The first second after it.
    pub outage_end: u32,
    /// When clients stop offering requests.
    pub duration: u32,
    /// The delay before the first retry (doubling).
    pub base: Duration,
    /// The shared budget's `max_tokens`.
    pub budget_tokens: u32,
    /// The shared budget's `token_ratio`.
    pub budget_ratio: f64,
}

impl Outage {
    /// 100 requests per second for 80 s, down from 20 s to 50 s.
    pub const DEFAULT: Outage = Outage {
        clients: 100,
        latency: Duration::from_millis(10),
        outage_start: 20,
        outage_end: 50,
        duration: 80,
        base: Duration::from_millis(250),
        budget_tokens: 10,
        budget_ratio: 0.1,
    };

    /// The policy request number `request` is retried with.
    pub const fn policy(&self, config: RetryConfig, request: u64) -> RetryPolicy {
        RetryPolicy::new()
            .max_attempts(config.max_attempts())
            .base(self.base)
            .jitter(Jitter::Full)
            .seed(request)
    }

    fn is_down(&self, second: u64) -> bool {
        (u64::from(self.outage_start)..u64::from(self.outage_end)).contains(&second)
    }
}

/// Calls that arrived in, and requests offered in, a window of seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Window {
    /// Calls the service received.
    pub calls: u64,
    /// Requests the clients offered.
    pub offered: u64,
}

impl Window {
    /// Calls per offered request.
    #[allow(clippy::cast_precision_loss)] // counts far below 2^52
    pub fn amplification(&self) -> f64 {
        self.calls as f64 / self.offered.max(1) as f64
    }
}

/// What one run of the outage model measured.
#[derive(Debug, Clone, PartialEq)]
pub struct OutageOutcome {
    /// How requests were retried.
    pub config: RetryConfig,
    /// Calls the service received in each second (index = second).
    pub calls_per_second: Vec<u64>,
    /// Requests offered in each second.
    pub offered_per_second: Vec<u64>,
    /// Requests that failed after all their attempts.
    pub failed: u64,
    /// Before, during and after the outage.
    pub windows: [Window; 3],
}

impl OutageOutcome {
    /// The window before the outage.
    pub fn before(&self) -> Window {
        self.windows[0]
    }
    /// The outage window.
    pub fn during(&self) -> Window {
        self.windows[1]
    }
    /// The window after the outage.
    pub fn after(&self) -> Window {
        self.windows[2]
    }
}

/// Per-second counts of the outage run, shared by its request tasks.
#[derive(Debug)]
struct Service {
    model: Outage,
    start: Instant,
    calls: RefCell<Vec<u64>>,
}

impl Service {
    async fn call(&self) -> Result<(), ServiceError> {
        let second = self.start.elapsed().as_secs();
        let index = usize::try_from(second).expect("a second fits in usize");
        {
            let mut calls = self.calls.borrow_mut();
            if calls.len() <= index {
                calls.resize(index + 1, 0);
            }
            calls[index] += 1;
        }
        tokio::time::sleep(self.model.latency).await;
        if self.model.is_down(second) {
            Err(ServiceError::Unavailable)
        } else {
            Ok(())
        }
    }
}

/// Runs the outage model once.
///
/// # Panics
///
/// If the runtime cannot start, or a request's task panics.
pub fn outage(model: &Outage, config: RetryConfig) -> OutageOutcome {
    let runtime = paused_runtime();
    let local = LocalSet::new();
    let model = *model;
    // A fresh bucket per run: a budget carries state from call to call.
    let budget: &'static RetryBudget = Box::leak(Box::new(RetryBudget::new(
        model.budget_tokens,
        model.budget_ratio,
    )));
    local.block_on(&runtime, async move {
        let start = Instant::now();
        let service = Rc::new(Service {
            model,
            start,
            calls: RefCell::new(Vec::new()),
        });
        let spacing = Duration::from_secs(1) / model.clients;
        let mut requests = Vec::new();
        let mut offered = vec![0; model.duration as usize];
        for (second, offered) in (0..model.duration).zip(&mut offered) {
            for client in 0..model.clients {
                let at = start + Duration::from_secs(second.into()) + spacing * client;
                let request = u64::from(second) * u64::from(model.clients) + u64::from(client);
                let policy = model.policy(config, request);
                let service = Rc::clone(&service);
                *offered += 1;
                requests.push(tokio::task::spawn_local(async move {
                    tokio::time::sleep_until(at).await;
                    let service: &Service = &service;
                    let retry = policy.retry(|_| service.call());
                    let result = if config == RetryConfig::ThreeAttemptsBudget {
                        retry.budget(budget).await
                    } else {
                        retry.await
                    };
                    result.is_ok()
                }));
            }
        }
        let mut failed = 0;
        for request in requests {
            if !request.await.expect("a request task panicked") {
                failed += 1;
            }
        }
        let mut calls = service.calls.take();
        calls.resize(calls.len().max(offered.len()), 0);
        offered.resize(calls.len(), 0);
        let window = |seconds: std::ops::Range<u32>| {
            let range = seconds.start as usize..seconds.end as usize;
            Window {
                calls: calls[range.clone()].iter().sum(),
                offered: offered[range].iter().sum(),
            }
        };
        let windows = [
            window(0..model.outage_start),
            window(model.outage_start..model.outage_end),
            window(model.outage_end..u32::try_from(calls.len()).expect("seconds fit in u32")),
        ];
        OutageOutcome {
            config,
            calls_per_second: calls,
            offered_per_second: offered,
            failed,
            windows,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_jitter_needs_fewer_calls_than_none() {
        let model = Contention::AWS.with_clients(20);
        let none = contention(&model, Jitter::None);
        let full = contention(&model, Jitter::Full);
        // In lockstep one client commits per round.
        assert_eq!(none.calls, 20 * 21 / 2);
        assert_eq!((none.gave_up, full.gave_up), (0, 0));
        assert!(full.calls < none.calls, "{full:?} vs {none:?}");
        assert!(full.completion < none.completion, "{full:?} vs {none:?}");
        assert_eq!(full, contention(&model, Jitter::Full), "deterministic");
    }

    #[test]
    fn the_budget_bounds_amplification() {
        let model = Outage {
            clients: 20,
            outage_start: 5,
            outage_end: 15,
            duration: 20,
            ..Outage::DEFAULT
        };
        let plain = outage(&model, RetryConfig::ThreeAttempts);
        let budget = outage(&model, RetryConfig::ThreeAttemptsBudget);
        let single = outage(&model, RetryConfig::NoRetry);
        assert_eq!(plain.during().offered, 200);
        assert!(single.during().amplification() <= 1.0);
        assert!(plain.during().amplification() > 2.5, "{plain:?}");
        assert!(budget.during().amplification() <= 1.15, "{budget:?}");
        assert!((budget.before().amplification() - 1.0).abs() < f64::EPSILON);
    }
}
