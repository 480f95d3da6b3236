//! Events for each retry (INFO) and each give-up (WARN), under the target
//! `retry` (feature `tracing`), and the counters and histogram of the
//! `metrics` feature. Without the `tracing` feature these compile to nothing, except
//! invalid environment overrides, which go to stderr so that a misconfigured
//! deployment is never silent.

use std::fmt;
use std::time::Duration;

use crate::{Class, EnvError, StopReason};

/// One attempt's outcome: `None` for a success. A metric only.
#[inline]
pub(crate) fn attempt(function: &'static str, failure: Option<Class>) {
    #[cfg(feature = "metrics")]
    metrics::counter!(
        "retry_attempts_total",
        "function" => function,
        "outcome" => failure.map_or("ok", Class::as_str),
    )
    .increment(1);
    #[cfg(not(feature = "metrics"))]
    let _ = (function, failure);
}

/// A retry follows a failure after `delay`.
pub(crate) fn retrying(
    function: &'static str,
    attempt: u32,
    max_attempts: u32,
    delay: Duration,
    class: Class,
    error: &dyn fmt::Display,
) {
    #[cfg(feature = "metrics")]
    metrics::histogram!("retry_delay_seconds", "function" => function).record(delay.as_secs_f64());
    #[cfg(feature = "tracing")]
    tracing::info!(
        target: "retry",
        function,
        attempt,
        max_attempts,
        delay = %crate::format_duration(delay),
        class = class.as_str(),
        error = %error,
        "attempt {attempt}/{max_attempts} failed; retrying in {}",
        crate::format_duration(delay),
    );
    #[cfg(not(feature = "tracing"))]
    let _ = (function, attempt, max_attempts, delay, class, error);
}

/// The loop returns the error of its last attempt.
pub(crate) fn gave_up(
    function: &'static str,
    attempt: u32,
    class: Class,
    reason: StopReason,
    error: &dyn fmt::Display,
) {
    #[cfg(feature = "metrics")]
    metrics::counter!(
        "retry_give_ups_total",
        "function" => function,
        "reason" => reason.as_str(),
    )
    .increment(1);
    #[cfg(feature = "tracing")]
    tracing::warn!(
        target: "retry",
        function,
        attempts = attempt,
        class = class.as_str(),
        reason = %reason,
        error = %error,
        "giving up after attempt {attempt}: {reason}",
    );
    #[cfg(not(feature = "tracing"))]
    let _ = (function, attempt, class, reason, error);
}

#[cfg(feature = "tracing")]
pub(crate) fn not_enforced_timeout(function: &'static str, timeout: Duration) {
    tracing::warn!(
        target: "retry",
        function,
        timeout = %crate::format_duration(timeout),
        "attempt_timeout is set but not enforced: this retry has no way to build its error \
         from a TimedOut; call `.on_timeout(E::from)` on it",
    );
}

#[cfg(not(feature = "tracing"))]
pub(crate) fn not_enforced_timeout(function: &'static str, timeout: Duration) {
    eprintln!(
        "retry: {function}: attempt_timeout {} is set but not enforced; call `.on_timeout(E::from)`",
        crate::format_duration(timeout)
    );
}

pub(crate) fn invalid_env(error: &EnvError) {
    #[cfg(feature = "tracing")]
    tracing::warn!(
        target: "retry",
        variable = error.var(),
        value = error.value(),
        reason = error.reason(),
        "ignoring invalid retry setting {error}; keeping the compiled value",
    );
    #[cfg(not(feature = "tracing"))]
    eprintln!("retry: ignoring invalid retry setting {error}; keeping the compiled value");
}
