//! Call reports: `capture` and `capture_blocking` around `#[retry]`
//! functions and `Retry` futures, under tokio's paused clock.

use std::io::{Error, ErrorKind};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use retry_runtime::{CallReport, Class, RetryPolicy, StopReason, capture, capture_blocking, retry};

const MS: fn(u64) -> Duration = Duration::from_millis;

fn refused() -> Error {
    Error::from(ErrorKind::ConnectionRefused)
}

/// Fails `failures` times with a refused connection, then succeeds.
#[retry(max = 4, base = "100ms")]
async fn flaky(calls: &AtomicU32, failures: u32) -> Result<u32, Error> {
    let call = calls.fetch_add(1, Ordering::Relaxed) + 1;
    if call <= failures {
        return Err(refused());
    }
    Ok(call)
}

#[retry(max = 2, base = "10ms")]
async fn denied(wait: Duration) -> Result<(), Error> {
    tokio::time::sleep(wait).await;
    Err(Error::from(ErrorKind::PermissionDenied))
}

#[retry(max = 3, base = "1ms")]
fn flaky_blocking(calls: &AtomicU32, failures: u32) -> Result<u32, Error> {
    let call = calls.fetch_add(1, Ordering::Relaxed) + 1;
    if call <= failures {
        return Err(Error::from(ErrorKind::ResourceBusy));
    }
    Ok(call)
}

fn summary(report: &CallReport) -> (&'static str, u32, Option<StopReason>, Duration) {
    (
        report.function,
        report.attempts,
        report.stop,
        report.elapsed,
    )
}

#[tokio::test(start_paused = true)]
async fn a_capture_holds_the_exact_history_of_a_function_failing_twice() {
    let calls = AtomicU32::new(0);
    let (value, reports) = capture(flaky(&calls, 2)).await;
    assert_eq!(value.unwrap(), 3);
    assert_eq!(reports.len(), 1);
    let report = &reports[0];
    assert_eq!(summary(report), ("flaky", 3, None, MS(300)));
    assert_eq!(report.omitted, 0);
    let history: Vec<_> = report
        .history
        .iter()
        .map(|r| (r.attempt, r.class, r.error.as_str(), r.elapsed, r.delay))
        .collect();
    assert_eq!(
        history,
        [
            (
                1,
                Class::Transient,
                "connection refused",
                MS(0),
                Some(MS(100))
            ),
            (
                2,
                Class::Transient,
                "connection refused",
                MS(100),
                Some(MS(200))
            ),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn two_loops_in_one_capture_report_in_finishing_order() {
    let calls = AtomicU32::new(0);
    let (_, reports) = capture(async {
        // `denied` finishes first (at 5 ms); `flaky` at 100 ms.
        tokio::join!(flaky(&calls, 1), denied(MS(5)))
    })
    .await;
    let summaries: Vec<_> = reports.iter().map(summary).collect();
    assert_eq!(
        summaries,
        [
            (
                "denied",
                1,
                Some(StopReason::NotRetryable(Class::Permanent)),
                MS(5)
            ),
            ("flaky", 2, None, MS(100)),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_nested_capture_takes_the_reports_inside_it() {
    let calls = AtomicU32::new(0);
    let ((inner, ()), outer) = capture(async {
        let _ = flaky(&calls, 0).await;
        let inner = capture(async {
            let _ = denied(MS(1)).await;
        })
        .await;
        let _ = RetryPolicy::new()
            .retry(|_| async { Ok::<_, Error>(()) })
            .await;
        (inner.1, inner.0)
    })
    .await;
    let names = |reports: &[CallReport]| reports.iter().map(|r| r.function).collect::<Vec<_>>();
    assert_eq!(names(&inner), ["denied"]);
    assert_eq!(names(&outer), ["flaky", "retry"]);
}

#[tokio::test(start_paused = true)]
async fn a_capture_does_not_see_another_tasks_loops() {
    let calls = std::sync::Arc::new(AtomicU32::new(0));
    let other = tokio::spawn({
        let calls = calls.clone();
        async move { flaky(&calls, 2).await }
    });
    let (_, reports) = capture(async {
        // Sleeps while the other task's loop runs and finishes.
        tokio::time::sleep(MS(1000)).await;
        denied(MS(0)).await
    })
    .await;
    assert_eq!(other.await.unwrap().unwrap(), 3);
    let names: Vec<_> = reports.iter().map(|r| r.function).collect();
    assert_eq!(names, ["denied"]);
}

#[test]
fn blocking_captures_see_the_loops_on_their_thread() {
    let calls = AtomicU32::new(0);
    let (value, reports) = capture_blocking(|| {
        // A loop on another thread is not this capture's.
        std::thread::scope(|scope| {
            scope.spawn(|| flaky_blocking(&AtomicU32::new(0), 0));
        });
        flaky_blocking(&calls, 1)
    });
    assert_eq!(value.unwrap(), 2);
    assert_eq!(reports.len(), 1);
    assert_eq!(
        (reports[0].function, reports[0].attempts),
        ("flaky_blocking", 2)
    );
    assert_eq!(reports[0].history[0].delay, Some(MS(1)));
    assert!(reports[0].elapsed >= MS(1), "{:?}", reports[0].elapsed);
}

#[tokio::test(start_paused = true)]
async fn the_retry_future_reports_too_and_keeps_its_own_report() {
    let (report, calls) = capture(
        RetryPolicy::new()
            .retry(|attempt| async move {
                if attempt == 1 {
                    Err(refused())
                } else {
                    Ok(attempt)
                }
            })
            .report(),
    )
    .await;
    assert_eq!(report.attempts, 2);
    assert_eq!(report.history.len(), 1);
    assert_eq!(summary(&calls[0]), ("retry", 2, None, MS(250)));
    assert_eq!(calls[0].history, report.history);
}

#[tokio::test(start_paused = true)]
async fn nothing_is_recorded_outside_a_capture() {
    let calls = AtomicU32::new(0);
    let _ = flaky(&calls, 1).await;
    let ((), reports) = capture(async {}).await;
    assert!(reports.is_empty());
}
