//! The runtime at its edges: no arithmetic panic for any valid policy and
//! hint, no starvation from zero-delay loops, the exact deadline boundary,
//! linear and fibonacci schedules, and futures polled after a panic.

use std::fmt;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use proptest::prelude::*;
use retry_runtime::{Backoff, Class, Classify, Jitter, RetryEvent, RetryPolicy, StopReason, retry};
use retry_tests::{Starts, paused_runtime};
use tokio::time::Instant;

const MS: fn(u64) -> Duration = Duration::from_millis;
const S: fn(u64) -> Duration = Duration::from_secs;

/// A transient failure carrying an optional server hint.
#[derive(Debug, Clone, Copy)]
struct Hinted(Option<Duration>);

impl fmt::Display for Hinted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "busy (hint {:?})", self.0)
    }
}

impl Classify for Hinted {
    fn classify(&self) -> Class {
        Class::Transient
    }
    fn retry_after(&self) -> Option<Duration> {
        self.0
    }
}

const HUGE: Duration = Duration::MAX;

#[retry(base = HUGE, max_delay = HUGE, deadline = "10s")]
async fn huge_base_async(calls: &AtomicU64) -> Result<(), Hinted> {
    calls.fetch_add(1, Ordering::Relaxed);
    Err(Hinted(None))
}

#[retry(base = HUGE, max_delay = HUGE, deadline = "10s")]
fn huge_base_blocking(calls: &AtomicU64) -> Result<(), Hinted> {
    calls.fetch_add(1, Ordering::Relaxed);
    Err(Hinted(None))
}

#[retry(base = "1ms", max_delay = HUGE, deadline = "10s")]
async fn huge_hint_async(calls: &AtomicU64) -> Result<(), Hinted> {
    calls.fetch_add(1, Ordering::Relaxed);
    Err(Hinted(Some(Duration::MAX)))
}

#[retry(base = "1ms", max_delay = HUGE, deadline = "10s")]
fn huge_hint_blocking(calls: &AtomicU64) -> Result<(), Hinted> {
    calls.fetch_add(1, Ordering::Relaxed);
    Err(Hinted(Some(Duration::MAX)))
}

#[tokio::test(start_paused = true)]
async fn durations_near_max_stop_at_the_deadline_instead_of_overflowing() {
    let calls = AtomicU64::new(0);
    huge_base_async(&calls).await.unwrap_err();
    huge_hint_async(&calls).await.unwrap_err();
    huge_base_blocking(&calls).unwrap_err();
    huge_hint_blocking(&calls).unwrap_err();
    assert_eq!(calls.load(Ordering::Relaxed), 4, "one attempt each");

    let policy = RetryPolicy::new()
        .base(HUGE)
        .max_delay(HUGE)
        .deadline(S(10));
    assert!(policy.validate().is_ok());
    let report = policy
        .retry(|_| async { Err::<(), _>(Hinted(None)) })
        .report()
        .await;
    assert_eq!(report.attempts, 1);
    assert_eq!(report.stop, Some(StopReason::Deadline { deadline: S(10) }));
}

#[retry(policy = *policy)]
async fn by_policy(policy: &RetryPolicy, hint: Option<Duration>) -> Result<(), Hinted> {
    Err(Hinted(hint))
}

#[retry(policy = *policy)]
fn by_policy_blocking(policy: &RetryPolicy, hint: Option<Duration>) -> Result<(), Hinted> {
    Err(Hinted(hint))
}

fn duration() -> impl Strategy<Value = Duration> {
    prop_oneof![
        Just(Duration::ZERO),
        Just(Duration::MAX),
        Just(Duration::from_nanos(u64::MAX)),
        (0u64..=u64::MAX, 0u32..1_000_000_000).prop_map(|(s, n)| Duration::new(s, n)),
        (0u64..100_000).prop_map(Duration::from_millis),
    ]
}

prop_compose! {
    fn valid_policy()(
        attempts in 1u32..6,
        base in duration(),
        extra in duration(),
        factor in prop_oneof![Just(1.0), Just(2.0), 1.0f64..1e9],
        backoff in prop_oneof![Just(Backoff::Exponential), Just(Backoff::Linear), Just(Backoff::Fibonacci)],
        jitter in prop_oneof![Just(Jitter::None), Just(Jitter::Full), Just(Jitter::Equal), Just(Jitter::Decorrelated)],
        deadline in prop::option::of(duration().prop_filter("validate rejects zero", |d| !d.is_zero())),
        seed in any::<u64>(),
    ) -> RetryPolicy {
        let mut policy = RetryPolicy::new()
            .max_attempts(attempts)
            .base(base)
            .max_delay(base.saturating_add(extra))
            .factor(factor)
            .backoff(backoff)
            .jitter(jitter)
            .seed(seed);
        policy.deadline = deadline;
        policy
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Any policy `validate()` accepts, any hint: no panic, at most
    /// `max_attempts` attempts, and never past the deadline.
    #[test]
    fn valid_policies_never_panic_and_stop_at_the_deadline(
        policy in valid_policy(),
        hint in prop::option::of(duration()),
    ) {
        prop_assert!(policy.validate().is_ok());
        paused_runtime().block_on(async {
            let start = Instant::now();
            let report = policy
                .retry(|_| async move { Err::<(), _>(Hinted(hint)) })
                .report()
                .await;
            let elapsed = start.elapsed();
            prop_assert!(report.attempts <= policy.max_attempts);
            if let Some(deadline) = policy.deadline {
                prop_assert!(elapsed < deadline, "{elapsed:?} past {deadline:?}");
            }

            let start = Instant::now();
            by_policy(&policy, hint).await.unwrap_err();
            if let Some(deadline) = policy.deadline {
                prop_assert!(start.elapsed() < deadline);
            }
            Ok(())
        })?;
    }

    /// The blocking loop sleeps for real, so it runs the policies whose
    /// every sleep a short deadline rules out: the arithmetic is the same.
    #[test]
    fn blocking_loops_never_panic(
        policy in valid_policy(),
        hint in prop::option::of(duration()),
    ) {
        let mut policy = policy;
        policy.deadline = Some(Duration::from_nanos(1));
        let policy = policy.base(policy.base.max(MS(1))).max_delay(policy.max_delay.max(MS(1)));
        let start = std::time::Instant::now();
        by_policy_blocking(&policy, hint).unwrap_err();
        prop_assert!(start.elapsed() < S(5));
    }
}

/// An operation that never suspends and always fails.
fn busy(attempts: &AtomicU64) -> std::future::Ready<Result<(), Hinted>> {
    attempts.fetch_add(1, Ordering::Relaxed);
    std::future::ready(Err(Hinted(None)))
}

#[retry(retries = 50_000_000, base = "0ms")]
async fn spin(attempts: &AtomicU64) -> Result<(), Hinted> {
    busy(attempts).await
}

/// Runs `looping` under a 10 ms timeout beside a task that counts its
/// turns, on a current-thread runtime (the flavour where one task that
/// never yields stops everything).
fn assert_yields<F: Future<Output = Result<(), Hinted>>>(looping: impl FnOnce() -> F) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    runtime.block_on(async {
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let turns = std::sync::Arc::new(AtomicU64::new(0));
        let ticker = tokio::spawn({
            let (stop, turns) = (stop.clone(), turns.clone());
            async move {
                while !stop.load(Ordering::Relaxed) {
                    turns.fetch_add(1, Ordering::Relaxed);
                    tokio::task::yield_now().await;
                }
            }
        });
        let outcome = tokio::time::timeout(MS(10), looping()).await;
        stop.store(true, Ordering::Relaxed);
        ticker.await.unwrap();
        assert!(outcome.is_err(), "the timeout must end the loop");
        assert!(
            turns.load(Ordering::Relaxed) > 0,
            "the other task must run while the loop does"
        );
    });
}

#[test]
fn zero_delay_loops_yield_to_the_scheduler() {
    let attempts = AtomicU64::new(0);
    assert_yields(|| {
        RetryPolicy::new()
            .retries(50_000_000)
            .base(Duration::ZERO)
            .retry(|_| busy(&attempts))
    });
    let made = attempts.swap(0, Ordering::Relaxed);
    assert!(made > 0 && made < 50_000_001, "{made} attempts");

    assert_yields(|| spin(&attempts));
    let made = attempts.load(Ordering::Relaxed);
    assert!(made > 0 && made < 50_000_001, "{made} attempts");
}

#[tokio::test(start_paused = true)]
async fn a_retry_due_at_the_deadline_is_not_started() {
    let policy = RetryPolicy::new()
        .retries(10)
        .base(Duration::ZERO)
        .deadline(S(1));
    // Fails at exactly 1 s: the next attempt would start at the deadline.
    let report = policy
        .retry(|_| async {
            tokio::time::sleep(S(1)).await;
            Err::<(), _>(Hinted(None))
        })
        .report()
        .await;
    assert_eq!(report.attempts, 1);
    assert_eq!(report.stop, Some(StopReason::Deadline { deadline: S(1) }));

    // Fails just before: one more attempt starts (and ends past it).
    let report = policy
        .retry(|_| async {
            tokio::time::sleep(MS(999)).await;
            Err::<(), _>(Hinted(None))
        })
        .report()
        .await;
    assert_eq!(report.attempts, 2);

    // A 400 ms delay after a failure at 600 ms would be due at 1 s.
    let report = policy
        .base(MS(400))
        .factor(1.0)
        .retry(|_| async {
            tokio::time::sleep(MS(600)).await;
            Err::<(), _>(Hinted(None))
        })
        .report()
        .await;
    assert_eq!(report.attempts, 1);
}

#[tokio::test(start_paused = true)]
async fn a_zero_deadline_allows_one_attempt() {
    let policy = RetryPolicy::new()
        .retries(1000)
        .base(Duration::ZERO)
        .deadline(Duration::ZERO);
    let report = policy
        .retry(|_| async { Err::<(), _>(Hinted(None)) })
        .report()
        .await;
    assert_eq!(report.attempts, 1);
    assert_eq!(
        report.stop,
        Some(StopReason::Deadline {
            deadline: Duration::ZERO
        })
    );
}

/// The gaps between attempt starts, on tokio's paused clock.
async fn gaps(policy: RetryPolicy) -> Vec<Duration> {
    let origin = Instant::now();
    let starts = Starts::default();
    let _ = policy
        .retry(|_| {
            starts.mark(origin);
            async { Err::<(), _>(Hinted(None)) }
        })
        .await;
    starts.gaps()
}

#[tokio::test(start_paused = true)]
async fn linear_and_fibonacci_schedules_are_exact() {
    let policy = RetryPolicy::new().retries(7).base(S(2)).max_delay(S(11));
    assert_eq!(
        gaps(policy.backoff(Backoff::Linear)).await,
        [S(2), S(4), S(6), S(8), S(10), S(11), S(11)]
    );
    assert_eq!(
        gaps(policy.backoff(Backoff::Fibonacci)).await,
        [S(2), S(2), S(4), S(6), S(10), S(11), S(11)]
    );
    assert_eq!(
        gaps(policy.backoff(Backoff::Exponential)).await,
        [S(2), S(4), S(8), S(11), S(11), S(11), S(11)]
    );
}

fn poll_once<F: Future>(future: std::pin::Pin<&mut F>) -> Poll<F::Output> {
    future.poll(&mut Context::from_waker(Waker::noop()))
}

fn panic_text(payload: &Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_default()
}

#[test]
fn polling_again_after_a_panic_panics_clearly() {
    let runtime = paused_runtime();
    let _guard = runtime.enter();
    let attempts = AtomicU64::new(0);

    // A classifier that panics.
    let classify = |_: &Hinted| -> Class { panic!("classifier bug") };
    let mut future = pin!(RetryPolicy::new().retry_with(classify, |_| busy(&attempts)));
    let first = catch_unwind(AssertUnwindSafe(|| poll_once(future.as_mut()))).unwrap_err();
    assert_eq!(panic_text(&first), "classifier bug");
    let again = catch_unwind(AssertUnwindSafe(|| poll_once(future.as_mut()))).unwrap_err();
    assert!(
        panic_text(&again).contains("polled after a panic"),
        "{}",
        panic_text(&again)
    );
    assert_eq!(
        attempts.load(Ordering::Relaxed),
        1,
        "attempt 1 is not repeated"
    );

    // A hook that panics: the sleep it came before is not skipped.
    let mut future = pin!(
        RetryPolicy::new()
            .retry(|_| busy(&attempts))
            .notify(|_: &RetryEvent<'_, Hinted>| panic!("hook bug"))
    );
    catch_unwind(AssertUnwindSafe(|| poll_once(future.as_mut()))).unwrap_err();
    let again = catch_unwind(AssertUnwindSafe(|| poll_once(future.as_mut()))).unwrap_err();
    assert!(panic_text(&again).contains("polled after a panic"));
    assert_eq!(attempts.load(Ordering::Relaxed), 2);
}
