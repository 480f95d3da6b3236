//! The runtime API under tokio's paused clock: exact schedules, stop
//! reasons and histories.

use std::cell::RefCell;
use std::io::{Error, ErrorKind};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use retry_runtime::{
    Class, ClassSet, Classify, Jitter, RetryBudget, RetryEvent, RetryPolicy, StopReason, TimedOut,
};
use retry_tests::Starts;
use tokio::time::Instant;

const MS: fn(u64) -> Duration = Duration::from_millis;
const S: fn(u64) -> Duration = Duration::from_secs;

fn refused() -> Error {
    Error::from(ErrorKind::ConnectionRefused)
}

#[tokio::test(start_paused = true)]
async fn base_two_seconds_doubles_to_the_sixty_second_cap() {
    let starts = Starts::default();
    let origin = Instant::now();
    let result: Result<(), Error> = RetryPolicy::new()
        .retries(7)
        .base(S(2))
        .retry(|_| {
            starts.mark(origin);
            async { Err(refused()) }
        })
        .await;
    assert_eq!(result.unwrap_err().kind(), ErrorKind::ConnectionRefused);
    assert_eq!(
        starts.gaps(),
        [S(2), S(4), S(8), S(16), S(32), S(60), S(60)]
    );
    assert_eq!(origin.elapsed(), S(182));
}

#[tokio::test(start_paused = true)]
async fn one_attempt_means_no_retry() {
    for policy in [
        RetryPolicy::new().max_attempts(1),
        RetryPolicy::new().retries(0),
    ] {
        let calls = AtomicU32::new(0);
        let report = policy
            .retry(|_| {
                calls.fetch_add(1, Ordering::Relaxed);
                async { Err::<(), _>(refused()) }
            })
            .report()
            .await;
        assert_eq!(calls.load(Ordering::Relaxed), 1);
        assert_eq!(report.stop, Some(StopReason::Exhausted { attempts: 1 }));
        assert_eq!(report.elapsed, Duration::ZERO);
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{0:?}")]
struct Fails(Class);

impl Classify for Fails {
    fn classify(&self) -> Class {
        self.0
    }
}

#[tokio::test(start_paused = true)]
async fn ambiguous_is_retried_only_when_the_policy_says_so() {
    let run = |policy: RetryPolicy| async move {
        policy
            .retry(|attempt| async move {
                if attempt == 1 {
                    Err(Fails(Class::Ambiguous))
                } else {
                    Ok(attempt)
                }
            })
            .report()
            .await
    };
    let default = run(RetryPolicy::new()).await;
    assert_eq!(default.attempts, 1);
    assert_eq!(
        default.stop,
        Some(StopReason::NotRetryable(Class::Ambiguous))
    );

    let idempotent = run(RetryPolicy::new().on(Class::Transient | Class::Ambiguous)).await;
    assert_eq!(idempotent.result.unwrap(), 2);

    let permanent = RetryPolicy::new()
        .on(ClassSet::TRANSIENT.with(Class::Ambiguous))
        .retry(|_| async { Err::<(), _>(Fails(Class::Permanent)) })
        .report()
        .await;
    assert_eq!(permanent.attempts, 1);
}

#[tokio::test(start_paused = true)]
async fn a_timed_out_attempt_is_ambiguous_and_cancelled() {
    let finished = AtomicU32::new(0);
    let slow = |_| async {
        tokio::time::sleep(S(10)).await;
        finished.fetch_add(1, Ordering::Relaxed);
        Ok::<_, Error>(())
    };
    let origin = Instant::now();
    let report = RetryPolicy::new()
        .attempt_timeout(S(1))
        .retry(slow)
        .on_timeout(Error::from)
        .report()
        .await;
    let error = report.result.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::TimedOut);
    assert_eq!(error.to_string(), "attempt timed out after 1s");
    assert_eq!(
        report.stop,
        Some(StopReason::NotRetryable(Class::Ambiguous))
    );
    assert_eq!(report.history[0].label.as_deref(), Some("timeout"));
    assert_eq!(origin.elapsed(), S(1));
    tokio::time::sleep(S(60)).await;
    assert_eq!(
        finished.load(Ordering::Relaxed),
        0,
        "the attempt was dropped"
    );

    // Idempotent: retried, and the schedule counts from each timeout.
    let starts = Starts::default();
    let origin = Instant::now();
    let result = RetryPolicy::new()
        .attempt_timeout(S(1))
        .on(Class::Transient | Class::Ambiguous)
        .retry(|attempt| {
            starts.mark(origin);
            async move {
                if attempt < 3 {
                    std::future::pending::<()>().await;
                }
                Ok::<_, Error>(attempt)
            }
        })
        .on_timeout(Error::from)
        .await;
    assert_eq!(result.unwrap(), 3);
    assert_eq!(starts.gaps(), [S(1) + MS(250), S(1) + MS(500)]);
}

#[tokio::test(start_paused = true)]
async fn a_timeout_that_cannot_be_expressed_is_not_enforced() {
    let result: Result<u32, Fails> = RetryPolicy::new()
        .attempt_timeout(MS(10))
        .retry(|_| async {
            tokio::time::sleep(S(1)).await;
            Ok(7)
        })
        .await;
    assert_eq!(result.unwrap(), 7);
}

#[tokio::test(start_paused = true)]
async fn no_sleep_starts_that_would_end_past_the_deadline() {
    let starts = Starts::default();
    let origin = Instant::now();
    let report = RetryPolicy::new()
        .retries(10)
        .base(S(1))
        .deadline(S(10))
        .retry(|_| {
            starts.mark(origin);
            async {
                // Each attempt takes half a second: operation time counts.
                tokio::time::sleep(MS(500)).await;
                Err::<(), _>(refused())
            }
        })
        .report()
        .await;
    // Attempts start at 0, 1.5, 4, 8.5; after the fourth (ends at 9s) the
    // next sleep (8s) would end at 17s > 10s.
    assert_eq!(
        starts.times(),
        [Duration::ZERO, MS(1500), MS(4000), MS(8500)]
    );
    assert_eq!(report.stop, Some(StopReason::Deadline { deadline: S(10) }));
    assert_eq!(origin.elapsed(), S(9));
}

#[derive(Debug, thiserror::Error)]
#[error("busy, retry after {0:?}")]
struct Busy(Duration);

impl Classify for Busy {
    fn classify(&self) -> Class {
        Class::Transient
    }
    fn retry_after(&self) -> Option<Duration> {
        Some(self.0)
    }
}

#[tokio::test(start_paused = true)]
async fn retry_after_is_never_undercut() {
    let hints = [S(3), MS(1), S(1)];
    let starts = Starts::default();
    let origin = Instant::now();
    let result = RetryPolicy::new()
        .retries(3)
        .base(MS(100))
        .retry(|attempt| {
            starts.mark(origin);
            async move {
                match attempt {
                    1..=3 => Err(Busy(hints[attempt as usize - 1])),
                    _ => Ok(()),
                }
            }
        })
        .await;
    assert!(result.is_ok());
    // max(hint, backoff): max(3s, 100ms), max(1ms, 200ms), max(1s, 400ms).
    assert_eq!(starts.gaps(), [S(3), MS(200), S(1)]);

    let too_long = RetryPolicy::new()
        .max_delay(S(30))
        .retry(|_| async { Err::<(), _>(Busy(S(31))) })
        .report()
        .await;
    assert_eq!(too_long.attempts, 1);
    assert_eq!(
        too_long.stop,
        Some(StopReason::RetryAfterTooLong { retry_after: S(31) })
    );

    let past_deadline = RetryPolicy::new()
        .deadline(S(5))
        .retry(|_| async { Err::<(), _>(Busy(S(6))) })
        .report()
        .await;
    assert_eq!(
        past_deadline.stop,
        Some(StopReason::Deadline { deadline: S(5) })
    );
}

#[tokio::test(start_paused = true)]
async fn budget_stops_retries_then_refills_with_successes() {
    static BUDGET: RetryBudget = RetryBudget::new(10, 0.5);
    let policy = RetryPolicy::new().max_attempts(5).base(Duration::ZERO);
    let failing = || {
        policy
            .retry(|_| async { Err::<(), _>(refused()) })
            .budget(&BUDGET)
            .report()
    };

    // 10 tokens: failures take 1 each; retries need more than 5 left.
    let first = failing().await;
    assert_eq!(first.attempts, 5, "9, 8, 7, 6 left: four retries");
    assert_eq!(first.stop, Some(StopReason::Exhausted { attempts: 5 }));
    let second = failing().await;
    assert_eq!(second.attempts, 1, "4 left after the first failure");
    assert_eq!(second.stop, Some(StopReason::BudgetEmpty));
    assert!((BUDGET.tokens() - 4.0).abs() < 1e-9);

    for _ in 0..4 {
        let ok: Result<(), Error> = policy.retry(|_| async { Ok(()) }).budget(&BUDGET).await;
        ok.unwrap();
    }
    assert!((BUDGET.tokens() - 6.0).abs() < 1e-9);
    let refilled = failing().await;
    assert_eq!(
        refilled.attempts, 1,
        "5 left after the first failure: not more than half"
    );
    for _ in 0..3 {
        BUDGET.record_success(); // 6.5 tokens
    }
    assert_eq!(
        failing().await.attempts,
        2,
        "5.5 left after the first failure, 4.5 after the second"
    );
}

#[tokio::test(start_paused = true)]
async fn history_records_each_failed_attempt() {
    #[derive(Debug, thiserror::Error)]
    #[error("{text}")]
    struct Tool {
        text: &'static str,
    }
    impl Classify for Tool {
        fn classify(&self) -> Class {
            retry_runtime::INFRASTRUCTURE.classify(self.text)
        }
        fn label(&self) -> Option<&str> {
            retry_runtime::INFRASTRUCTURE
                .find(self.text)
                .map(retry_runtime::Rule::label)
        }
    }
    let outputs = [
        "connection refused",
        "No space left on device",
        "Segmentation fault",
    ];
    let report = RetryPolicy::new()
        .retries(5)
        .base(S(2))
        .retry(|attempt| async move {
            Err::<(), _>(Tool {
                text: outputs[attempt as usize - 1],
            })
        })
        .report()
        .await;
    let summary: Vec<_> = report
        .history
        .iter()
        .map(|record| {
            (
                record.attempt,
                record.elapsed,
                record.class,
                record.label.as_deref(),
                record.error.as_str(),
                record.delay,
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (
                1,
                Duration::ZERO,
                Class::Transient,
                Some("network"),
                "connection refused",
                Some(S(2))
            ),
            (
                2,
                S(2),
                Class::Transient,
                Some("filesystem"),
                "No space left on device",
                Some(S(4))
            ),
            (
                3,
                S(6),
                Class::Permanent,
                Some("crash"),
                "Segmentation fault",
                None
            ),
        ]
    );
    assert_eq!(report.attempts, 3);
    assert_eq!(
        report.stop,
        Some(StopReason::NotRetryable(Class::Permanent))
    );
    assert_eq!(report.elapsed, S(6));
    assert!(report.history[0].at <= report.history[2].at);

    let json = serde_json::to_value(&report.history[1]).unwrap();
    assert_eq!(json["elapsed"], "2s");
    assert_eq!(json["delay"], "4s");
    assert_eq!(json["class"], "transient");
    assert_eq!(json["label"], "filesystem");
    assert!(json["at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(
        serde_json::to_value(report.stop).unwrap()["reason"],
        "not_retryable"
    );
}

#[tokio::test(start_paused = true)]
async fn dropping_the_future_mid_sleep_stops_everything() {
    let calls = Arc::new(AtomicU32::new(0));
    let counted = Arc::clone(&calls);
    let task = tokio::spawn(RetryPolicy::new().retries(5).base(S(1)).retry(move |_| {
        counted.fetch_add(1, Ordering::Relaxed);
        async { Err::<(), _>(refused()) }
    }));
    tokio::time::sleep(MS(1500)).await; // attempts at 0s and 1s; asleep until 3s
    assert_eq!(calls.load(Ordering::Relaxed), 2);
    task.abort();
    assert!(task.await.unwrap_err().is_cancelled());
    tokio::time::sleep(S(120)).await;
    assert_eq!(calls.load(Ordering::Relaxed), 2);
}

#[tokio::test(start_paused = true)]
async fn zero_delay_does_not_touch_the_timer() {
    let origin = Instant::now();
    let calls = AtomicU32::new(0);
    let result: Result<(), Error> = RetryPolicy::new()
        .retries(3)
        .base(Duration::ZERO)
        .retry(|_| {
            calls.fetch_add(1, Ordering::Relaxed);
            async { Err(refused()) }
        })
        .await;
    assert!(result.is_err());
    assert_eq!(calls.into_inner(), 4);
    // A tokio sleep of zero would still round up to the 1ms tick.
    assert_eq!(origin.elapsed(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn seeded_jitter_is_deterministic_and_within_bounds() {
    let run = || async {
        let starts = Starts::default();
        let origin = Instant::now();
        let _: Result<(), Error> = RetryPolicy::new()
            .retries(6)
            .base(S(1))
            .jitter(Jitter::Full)
            .seed(42)
            .retry(|_| {
                starts.mark(origin);
                async { Err(refused()) }
            })
            .await;
        starts.gaps()
    };
    let first = run().await;
    assert_eq!(first, run().await);
    let policy = RetryPolicy::new().retries(6).base(S(1));
    for (retry, gap) in (1..).zip(&first) {
        assert!(
            *gap <= policy.delay(retry),
            "{gap:?} > {:?}",
            policy.delay(retry)
        );
    }
    // The run sleeps the policy's schedule, rounded up to tokio's 1ms tick.
    let schedule = RetryPolicy::new()
        .retries(6)
        .base(S(1))
        .jitter(Jitter::Full)
        .seed(42)
        .schedule();
    let ticks: Vec<Duration> = schedule
        .map(|delay| MS(u64::try_from(delay.as_nanos().div_ceil(1_000_000)).unwrap()))
        .collect();
    assert_eq!(first, ticks);
}

#[tokio::test(start_paused = true)]
async fn notify_sees_each_retry_before_its_sleep() {
    let seen = RefCell::new(Vec::new());
    let origin = Instant::now();
    let _: Result<(), Error> = RetryPolicy::new()
        .retry(|_| async { Err(refused()) })
        .notify(|event: &RetryEvent<'_, _>| {
            seen.borrow_mut().push((
                event.attempt,
                event.max_attempts,
                event.delay,
                event.class,
                origin.elapsed(),
            ));
            assert_eq!(event.elapsed, origin.elapsed());
        })
        .await;
    assert_eq!(
        seen.into_inner(),
        [
            (1, 3, MS(250), Class::Transient, Duration::ZERO),
            (2, 3, MS(500), Class::Transient, MS(250)),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn the_future_is_a_named_type_that_can_be_stored() {
    type Attempt = std::future::Ready<Result<u32, Error>>;
    struct Client {
        pending: retry_runtime::Retry<fn(u32) -> Attempt, Attempt>,
    }
    fn op(attempt: u32) -> std::future::Ready<Result<u32, Error>> {
        std::future::ready(if attempt < 2 {
            Err(refused())
        } else {
            Ok(attempt)
        })
    }
    let client = Client {
        pending: RetryPolicy::new().retry(op as fn(u32) -> _),
    };
    assert_eq!(client.pending.await.unwrap(), 2);
}

#[test]
fn timed_out_is_its_own_error() {
    let error = TimedOut::new(S(5));
    assert_eq!(error.classify(), Class::Ambiguous);
}

#[test]
fn the_retry_future_is_send_when_the_operation_is() {
    fn assert_send<T: Send>(_: &T) {}
    let future = RetryPolicy::new().retry(|_| async { Err::<(), _>(refused()) });
    assert_send(&future);
}

#[test]
fn policies_round_trip_through_serde_with_human_durations() {
    let policy = RetryPolicy::new()
        .retries(7)
        .base(S(2))
        .jitter(Jitter::Equal)
        .deadline(Duration::from_millis(1500))
        .on(Class::Transient | Class::Ambiguous);
    let json = serde_json::to_value(policy).unwrap();
    assert_eq!(json["base"], "2s");
    assert_eq!(json["deadline"], "1500ms");
    assert_eq!(json["attempt_timeout"], serde_json::Value::Null);
    assert_eq!(json["jitter"], "equal");
    assert_eq!(json["on"], serde_json::json!(["transient", "ambiguous"]));
    assert_eq!(serde_json::from_value::<RetryPolicy>(json).unwrap(), policy);

    let partial: RetryPolicy =
        serde_json::from_str(r#"{"max_attempts": 5, "base": "1.5s"}"#).unwrap();
    assert_eq!(partial, RetryPolicy::new().max_attempts(5).base(MS(1500)));

    let invalid = serde_json::from_str::<RetryPolicy>(r#"{"base": "2m"}"#).unwrap_err();
    assert!(
        invalid
            .to_string()
            .contains("max_delay (1m) is below base (2m)"),
        "{invalid}"
    );
    let unknown = serde_json::from_str::<RetryPolicy>(r#"{"max_attempt": 5}"#).unwrap_err();
    assert!(
        unknown.to_string().contains("unknown field `max_attempt`"),
        "{unknown}"
    );
    let unit = serde_json::from_str::<RetryPolicy>(r#"{"base": "5 sec"}"#).unwrap_err();
    assert!(unit.to_string().contains("unknown unit `sec`"), "{unit}");
}
