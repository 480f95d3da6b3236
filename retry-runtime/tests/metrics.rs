//! The `metrics` feature's counters and histogram, read back through
//! `metrics-util`'s debugging recorder.
#![cfg(feature = "metrics")]

use std::io::{Error, ErrorKind};

use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use metrics_util::{CompositeKey, MetricKind};
use retry_runtime::{RetryPolicy, retry};

#[retry(max = 3, base = "100ms")]
async fn create(attempt_errors: &[ErrorKind]) -> Result<(), Error> {
    match attempt_errors.first() {
        None => Ok(()),
        Some(kind) => Err(Error::from(*kind)),
    }
}

/// A metric as read back: kind, name, labels and value.
type Seen = (MetricKind, String, Vec<(String, String)>, String);

fn labels(key: &CompositeKey) -> Vec<(String, String)> {
    key.key()
        .labels()
        .map(|label| (label.key().to_owned(), label.value().to_owned()))
        .collect()
}

#[test]
fn attempts_give_ups_and_delays_are_recorded() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    metrics::with_local_recorder(&recorder, || {
        runtime.block_on(async {
            // Success at once.
            create(&[]).await.unwrap();
            // Three transient failures: exhausted, two delays.
            create(&[ErrorKind::ConnectionRefused]).await.unwrap_err();
            // A permanent failure: not retryable.
            create(&[ErrorKind::PermissionDenied]).await.unwrap_err();
            // The runtime API is named "retry".
            let _ = RetryPolicy::new()
                .retry(|_| async { Ok::<_, Error>(()) })
                .await;
        });
    });

    let mut seen: Vec<Seen> = snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .map(|(key, _, _, value)| {
            let value = match value {
                DebugValue::Counter(n) => n.to_string(),
                DebugValue::Histogram(values) => {
                    let seconds: Vec<f64> = values.iter().map(|v| v.into_inner()).collect();
                    format!("{seconds:?}")
                }
                DebugValue::Gauge(g) => g.to_string(),
            };
            (key.kind(), key.key().name().to_owned(), labels(&key), value)
        })
        .collect();
    seen.sort_by(|a, b| (&a.1, &a.2).cmp(&(&b.1, &b.2)));
    let pairs = |items: &[(&str, &str)]| {
        items
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect::<Vec<_>>()
    };
    let expected = vec![
        (
            MetricKind::Counter,
            "retry_attempts_total".to_owned(),
            pairs(&[("function", "create"), ("outcome", "ok")]),
            "1".to_owned(),
        ),
        (
            MetricKind::Counter,
            "retry_attempts_total".to_owned(),
            pairs(&[("function", "create"), ("outcome", "permanent")]),
            "1".to_owned(),
        ),
        (
            MetricKind::Counter,
            "retry_attempts_total".to_owned(),
            pairs(&[("function", "create"), ("outcome", "transient")]),
            "3".to_owned(),
        ),
        (
            MetricKind::Counter,
            "retry_attempts_total".to_owned(),
            pairs(&[("function", "retry"), ("outcome", "ok")]),
            "1".to_owned(),
        ),
        (
            MetricKind::Histogram,
            "retry_delay_seconds".to_owned(),
            pairs(&[("function", "create")]),
            format!("{:?}", [0.1, 0.2]),
        ),
        (
            MetricKind::Counter,
            "retry_give_ups_total".to_owned(),
            pairs(&[("function", "create"), ("reason", "exhausted")]),
            "1".to_owned(),
        ),
        (
            MetricKind::Counter,
            "retry_give_ups_total".to_owned(),
            pairs(&[("function", "create"), ("reason", "not_retryable")]),
            "1".to_owned(),
        ),
    ];
    assert_eq!(seen, expected);
}
