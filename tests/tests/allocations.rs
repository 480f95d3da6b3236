//! No heap allocation on any path that keeps no history: success, retries
//! with sleeps, zero delays, timeouts, deadlines, budgets; for the runtime
//! API and for `#[retry]`. Counted with a counting global allocator, per
//! thread, on a current-thread runtime with tokio's paused clock.

use std::cell::Cell;
use std::future::Future;
use std::time::Duration;

use allocation_counter::measure;
use retry_runtime::{Class, Classify, RetryBudget, RetryPolicy, TimedOut, retry};

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
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
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
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
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
