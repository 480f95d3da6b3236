//! The retry approaches compared by the overhead benchmark, each in its
//! idiomatic form over the same trivial operation, with the same attempts
//! (3), the same delays (250 ms doubling, or zero) and the same
//! classification (transient errors retried, others returned).

use std::cell::Cell;
use std::future::Future;
use std::hint::black_box;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use backon::Retryable as _;
use retry_runtime::{Class, Classify, RetryPolicy, retry};

/// The operation's error: transient (retried) or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flake {
    pub class: Class,
}

impl std::fmt::Display for Flake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} flake", self.class)
    }
}

impl std::error::Error for Flake {}

impl Classify for Flake {
    fn classify(&self) -> Class {
        self.class
    }
}

/// A trivial operation that fails transiently a given number of times,
/// then returns a value.
#[derive(Debug)]
pub struct Op {
    failures: u32,
    calls: Cell<u32>,
}

impl Op {
    pub fn new(failures: u32) -> Self {
        Op {
            failures,
            calls: Cell::new(0),
        }
    }

    pub fn calls(&self) -> u32 {
        self.calls.get()
    }

    /// One call of the operation.
    #[allow(clippy::unused_async)] // the operation under test is async, like real ones
    pub async fn call(&self) -> Result<u64, Flake> {
        let calls = self.calls.get() + 1;
        self.calls.set(calls);
        if calls <= black_box(self.failures) {
            Err(Flake {
                class: Class::Transient,
            })
        } else {
            Ok(black_box(u64::from(calls)))
        }
    }
}

pub const BASE: Duration = Duration::from_millis(250);
pub const POLICY: RetryPolicy = RetryPolicy::new().max_attempts(3).base(BASE);
pub const POLICY_ZERO: RetryPolicy = RetryPolicy::new().max_attempts(3).base(Duration::ZERO);

/// No retry: the operation, called `calls` times in a row (the work the
/// retrying approaches do, without their machinery).
pub async fn bare(op: &Op, calls: u32) -> Result<u64, Flake> {
    let mut result = op.call().await;
    for _ in 1..calls {
        result = op.call().await;
    }
    result
}

#[retry(max = 3, base = "250ms")]
pub async fn attribute(op: &Op) -> Result<u64, Flake> {
    op.call().await
}

#[retry(max = 3, base = "0ms")]
pub async fn attribute_zero(op: &Op) -> Result<u64, Flake> {
    op.call().await
}

/// `RetryPolicy::retry` on a `const` policy, as the crate documents it.
pub fn policy_retry(op: &Op) -> impl Future<Output = Result<u64, Flake>> + '_ {
    POLICY.retry(move |_| op.call())
}

pub fn policy_retry_zero(op: &Op) -> impl Future<Output = Result<u64, Flake>> + '_ {
    POLICY_ZERO.retry(move |_| op.call())
}

/// The loop one would write by hand.
pub async fn hand_loop(op: &Op, base: Duration) -> Result<u64, Flake> {
    let mut attempt = 1;
    let mut delay = base;
    loop {
        match op.call().await {
            Ok(value) => return Ok(value),
            Err(error) if attempt < 3 && error.classify() == Class::Transient => {
                if !delay.is_zero() {
                    tokio::time::sleep(delay).await;
                }
                delay *= 2;
                attempt += 1;
            }
            Err(error) => return Err(error),
        }
    }
}

pub fn backon(op: &Op, base: Duration) -> impl Future<Output = Result<u64, Flake>> + '_ {
    let backoff = backon::ExponentialBuilder::new()
        .with_min_delay(base)
        .with_factor(2.0)
        .with_max_delay(Duration::from_secs(60))
        .with_max_times(2);
    (move || op.call())
        .retry(backoff)
        .when(|error: &Flake| error.classify() == Class::Transient)
}

pub fn tokio_retry2(op: &Op, base: Duration) -> impl Future<Output = Result<u64, Flake>> + '_ {
    let millis = u64::try_from(base.as_millis()).unwrap_or(u64::MAX);
    let strategy = tokio_retry2::strategy::ExponentialFactorBackoff::from_millis(millis, 2.0)
        .max_delay(Duration::from_secs(60))
        .take(2);
    let action = move || async move {
        op.call().await.map_err(|error| match error.classify() {
            Class::Transient => tokio_retry2::RetryError::transient(error),
            _ => tokio_retry2::RetryError::permanent(error),
        })
    };
    tokio_retry2::Retry::spawn(strategy, action)
}

/// Polls a future that must complete at once (the success path), without
/// an executor. It takes the future pinned where it was built (`pin!`), as
/// `.await` does, so that no approach pays for moving its future around.
///
/// # Panics
///
/// If the future is not ready on its first poll.
pub fn complete_now<F: Future>(future: Pin<&mut F>) -> F::Output {
    match future.poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("the success path completes in one poll"),
    }
}

/// The approaches, in the order every table lists them.
pub const APPROACHES: &[&str] = &[
    "bare call",
    "#[retry]",
    "RetryPolicy::retry",
    "hand-written loop",
    "backon 1.6",
    "tokio-retry2 0.9",
];

/// The size of each approach's future, in bytes.
pub fn future_sizes() -> Vec<(&'static str, usize)> {
    let op = Op::new(0);
    vec![
        ("bare call", size_of_val(&op.call())),
        ("#[retry]", size_of_val(&attribute(&op))),
        ("RetryPolicy::retry", size_of_val(&policy_retry(&op))),
        ("hand-written loop", size_of_val(&hand_loop(&op, BASE))),
        ("backon 1.6", size_of_val(&backon(&op, BASE))),
        ("tokio-retry2 0.9", size_of_val(&tokio_retry2(&op, BASE))),
    ]
}

#[cfg(test)]
mod tests {
    use std::pin::pin;

    use super::*;

    fn paused() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap()
    }

    /// Every approach does the same thing: the comparison is fair.
    #[test]
    fn every_approach_retries_twice_then_succeeds() {
        let runtime = paused();
        for base in [BASE, Duration::ZERO] {
            let check = |name: &str, result: Result<u64, Flake>, op: &Op| {
                assert_eq!(
                    (result, op.calls()),
                    (Ok(3), 3),
                    "{name} with base {base:?}"
                );
            };
            let op = Op::new(2);
            let result = if base.is_zero() {
                runtime.block_on(attribute_zero(&op))
            } else {
                runtime.block_on(attribute(&op))
            };
            check("#[retry]", result, &op);
            let op = Op::new(2);
            let result = if base.is_zero() {
                runtime.block_on(policy_retry_zero(&op))
            } else {
                runtime.block_on(policy_retry(&op))
            };
            check("RetryPolicy::retry", result, &op);
            let op = Op::new(2);
            check("hand loop", runtime.block_on(hand_loop(&op, base)), &op);
            let op = Op::new(2);
            check("backon", runtime.block_on(backon(&op, base)), &op);
            let op = Op::new(2);
            check(
                "tokio-retry2",
                runtime.block_on(tokio_retry2(&op, base)),
                &op,
            );
        }
    }

    /// The size target holds in every build, not only in the report:
    /// `RetryPolicy::retry`'s future is no larger than backon's, and
    /// `#[retry]`'s no larger than the loop one would write by hand.
    #[test]
    fn futures_are_no_larger_than_the_peers() {
        let sizes: std::collections::HashMap<_, _> = future_sizes().into_iter().collect();
        assert!(sizes["#[retry]"] <= sizes["hand-written loop"], "{sizes:?}");
        assert!(
            sizes["RetryPolicy::retry"] <= sizes["backon 1.6"],
            "{sizes:?}"
        );
    }

    #[test]
    fn the_success_path_completes_in_one_poll() {
        let context = paused();
        let _guard = context.enter();
        let op = Op::new(0);
        assert_eq!(complete_now(pin!(attribute(&op))), Ok(1));
        assert_eq!(complete_now(pin!(policy_retry(&op))), Ok(2));
        assert_eq!(complete_now(pin!(hand_loop(&op, BASE))), Ok(3));
        assert_eq!(complete_now(pin!(backon(&op, BASE))), Ok(4));
        assert_eq!(complete_now(pin!(tokio_retry2(&op, BASE))), Ok(5));
    }
}
