//! No heap allocation on any path that keeps no history: success, retries
//! with sleeps, zero delays, timeouts, deadlines, budgets; for the runtime
//! API and for `#[retry]`. Counted with a counting global allocator, per
//! thread, on a current-thread runtime with tokio's paused clock.

use std::cell::Cell;
use std::future::Future;
use std::time::Duration;

use allocation_counter::measure;
use retry_runtime::{Class, Classify, RetryBudget, RetryPolicy, TimedOut, retry};
use retry_tests::paused_runtime;

/// An error whose construction never allocates (unlike a custom
/// `io::Error`), so any allocation counted is the retry loop's own.
#[derive(Debug, thiserror::Error)]
enum Flake {
    #[error("refused")]
    Refused,
    #[error("timed out")]
    TimedOut(#[from] TimedOut),
}

impl Classify for Flake {
    fn classify(&self) -> Class {
        match self {
            Flake::Refused => Class::Transient,
            Flake::TimedOut(_) => Class::Ambiguous,
        }
    }
}

/// Fails `failures` times, then succeeds; optionally slowly.
async fn op(calls: &Cell<u32>, failures: u32, slow: Duration) -> Result<u32, Flake> {
    calls.set(calls.get() + 1);
    if !slow.is_zero() {
        tokio::time::sleep(slow).await;
    }
    if calls.get() <= failures {
        Err(Flake::Refused)
    } else {
        Ok(calls.get())
    }
}

static BUDGET: RetryBudget = RetryBudget::new(1000, 1.0);

#[retry(max = 3, base = "250ms")]
async fn macro_sleeping(calls: &Cell<u32>, failures: u32) -> Result<u32, Flake> {
    op(calls, failures, Duration::ZERO).await
}

#[retry(max = 3, base = "0ms")]
async fn macro_zero_delay(calls: &Cell<u32>, failures: u32) -> Result<u32, Flake> {
    op(calls, failures, Duration::ZERO).await
}

#[retry(max = 3, base = "250ms", timeout = "1s", deadline = "10s", budget = &BUDGET, on = Transient | Ambiguous)]
async fn macro_everything(calls: &Cell<u32>, failures: u32) -> Result<u32, Flake> {
    let slow = if calls.get() == 0 {
        Duration::from_secs(5)
    } else {
        Duration::ZERO
    };
    op(calls, failures, slow).await
}

const SLEEPING: RetryPolicy = RetryPolicy::new()
    .max_attempts(3)
    .base(Duration::from_millis(250));

type Case = Box<dyn Fn(&Cell<u32>) -> std::pin::Pin<Box<dyn Future<Output = u32> + '_>>>;

fn cases() -> Vec<(&'static str, Case)> {
    fn case<'a, F: Future<Output = Result<u32, Flake>> + 'a>(
        future: F,
    ) -> std::pin::Pin<Box<dyn Future<Output = u32> + 'a>> {
        Box::pin(async move { future.await.unwrap() })
    }
    vec![
        (
            "runtime: success",
            Box::new(|c| case(SLEEPING.retry(move |_| op(c, 0, Duration::ZERO)))),
        ),
        (
            "runtime: two failures, 250ms sleeps",
            Box::new(|c| case(SLEEPING.retry(move |_| op(c, 2, Duration::ZERO)))),
        ),
        (
            "runtime: two failures, zero delay",
            Box::new(|c| {
                case(
                    SLEEPING
                        .base(Duration::ZERO)
                        .retry(move |_| op(c, 2, Duration::ZERO)),
                )
            }),
        ),
        (
            "runtime: timeout, deadline, budget",
            Box::new(|c| {
                let policy = SLEEPING
                    .attempt_timeout(Duration::from_secs(1))
                    .deadline(Duration::from_secs(10))
                    .on(Class::Transient | Class::Ambiguous);
                case(
                    policy
                        .retry(move |attempt| {
                            op(
                                c,
                                2,
                                if attempt == 1 {
                                    Duration::from_secs(5)
                                } else {
                                    Duration::ZERO
                                },
                            )
                        })
                        .on_timeout(Flake::from)
                        .budget(&BUDGET),
                )
            }),
        ),
        ("macro: success", Box::new(|c| case(macro_sleeping(c, 0)))),
        (
            "macro: two failures, 250ms sleeps",
            Box::new(|c| case(macro_sleeping(c, 2))),
        ),
        (
            "macro: two failures, zero delay",
            Box::new(|c| case(macro_zero_delay(c, 2))),
        ),
        (
            "macro: timeout, deadline, budget",
            Box::new(|c| case(macro_everything(c, 2))),
        ),
    ]
}

#[test]
fn the_counter_counts() {
    let info = measure(|| drop(std::hint::black_box(Box::new(1u8))));
    assert_eq!(info.count_total, 1, "the counting allocator is installed");
}

#[test]
fn no_heap_allocation_without_a_report() {
    let runtime = paused_runtime();
    for (name, make) in cases() {
        // The boxing of the test harness itself is outside the measurement;
        // a first run warms up the timer wheel and thread-locals.
        let calls = Cell::new(0);
        let expected = runtime.block_on(make(&calls));
        let calls = Cell::new(0);
        let future = make(&calls);
        let mut attempts = 0;
        let info = measure(|| attempts = runtime.block_on(future));
        assert_eq!(attempts, expected, "{name}");
        assert_eq!(info.count_total, 0, "{name}: {info:?}");
    }
}

#[test]
fn a_report_allocates_for_its_history_only() {
    let runtime = paused_runtime();
    let calls = Cell::new(0);
    let future = SLEEPING.retry(|_| op(&calls, 0, Duration::ZERO)).report();
    let info = measure(|| {
        let report = runtime.block_on(future);
        assert!(report.history.is_empty());
    });
    assert_eq!(
        info.count_total, 0,
        "a successful first attempt keeps an empty history"
    );

    // With failures the history allocates; this also shows that what runs
    // inside `block_on` is counted.
    let calls = Cell::new(0);
    let future = SLEEPING.retry(|_| op(&calls, 2, Duration::ZERO)).report();
    let info = measure(|| assert_eq!(runtime.block_on(future).history.len(), 2));
    assert!(info.count_total > 0);
}

#[test]
fn blocking_functions_do_not_allocate_either() {
    #[retry(max = 3, base = "0ms")]
    fn blocking(calls: &Cell<u32>) -> Result<u32, Flake> {
        calls.set(calls.get() + 1);
        if calls.get() < 3 {
            Err(Flake::Refused)
        } else {
            Ok(calls.get())
        }
    }
    let calls = Cell::new(0);
    assert_eq!(blocking(&calls).unwrap(), 3);
    let calls = Cell::new(0);
    let info = measure(|| assert_eq!(blocking(&calls).unwrap(), 3));
    assert_eq!(info.count_total, 0);
}

#[test]
fn a_capture_allocates_only_for_its_reports() {
    let runtime = paused_runtime();
    let calls = Cell::new(0);
    let future = retry_runtime::capture(macro_sleeping(&calls, 2));
    let info = measure(|| {
        let (result, reports) = runtime.block_on(future);
        assert_eq!(result.unwrap(), 3);
        assert_eq!(reports[0].history.len(), 2);
    });
    assert!(info.count_total > 0, "the capture's report is counted");

    // The same call outside any capture allocates nothing (and the first
    // capture left nothing behind).
    let calls = Cell::new(0);
    let future = macro_sleeping(&calls, 2);
    let info = measure(|| assert_eq!(runtime.block_on(future).unwrap(), 3));
    assert_eq!(info.count_total, 0, "{info:?}");
}

/// A 1 MiB error message, shared so that making one allocates nothing.
#[derive(Debug)]
struct Huge(std::sync::Arc<str>);

impl std::fmt::Display for Huge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Classify for Huge {
    fn classify(&self) -> Class {
        Class::Transient
    }
}

#[test]
fn a_hundred_thousand_huge_failures_keep_a_bounded_history() {
    const ATTEMPTS: u32 = 100_000;
    let runtime = paused_runtime();
    let text: std::sync::Arc<str> = "x".repeat(1 << 20).into();
    let policy = RetryPolicy::new()
        .max_attempts(ATTEMPTS)
        .base(Duration::ZERO);
    let future = retry_runtime::capture(
        policy
            .retry(|_| {
                let text = text.clone();
                async move { Err::<(), _>(Huge(text)) }
            })
            .report(),
    );
    let mut outcome = None;
    let info = measure(|| outcome = Some(runtime.block_on(future)));
    let (report, calls) = outcome.unwrap();

    let kept = retry_runtime::HISTORY_FIRST + retry_runtime::HISTORY_LAST;
    for (history, omitted) in [
        (&report.history, report.omitted),
        (&calls[0].history, calls[0].omitted),
    ] {
        assert_eq!(history.len(), kept);
        assert_eq!(omitted as usize, ATTEMPTS as usize - kept);
        assert_eq!(history[31].attempt, 32);
        assert_eq!(history[32].attempt, ATTEMPTS - 31);
        assert_eq!(history.last().unwrap().attempt, ATTEMPTS);
        assert!(history.iter().all(|record| {
            record.error.len() == retry_runtime::ERROR_TEXT_LIMIT + retry_runtime::TRUNCATED.len()
        }));
    }
    // Two histories of 64 records of about 1 KiB each, and their
    // containers: far from 100,000 MiB.
    assert!(info.bytes_max < 1 << 20, "peak {} bytes", info.bytes_max);
}
