//! Events for each retry (INFO) and each give-up (WARN), under the target
//! `retry`. Without the `tracing` feature these compile to nothing, except
//! invalid environment overrides, which go to stderr so that a misconfigured
//! deployment is never silent.

use std::fmt;
use std::time::Duration;

use crate::{Class, EnvError, StopReason};

#[cfg(feature = "tracing")]
pub(crate) fn retrying(
    function: &'static str,
    attempt: u32,
    max_attempts: u32,
    delay: Duration,
    class: Class,
    error: &dyn fmt::Display,
) {
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
}

#[cfg(feature = "tracing")]
pub(crate) fn gave_up(
    function: &'static str,
    attempt: u32,
    class: Class,
    reason: StopReason,
    error: &dyn fmt::Display,
) {
    tracing::warn!(
        target: "retry",
        function,
        attempts = attempt,
        class = class.as_str(),
        reason = %reason,
        error = %error,
        "giving up after attempt {attempt}: {reason}",
    );
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
pub(crate) fn retrying(
    _: &'static str,
    _: u32,
    _: u32,
    _: Duration,
    _: Class,
    _: &dyn fmt::Display,
) {
}

#[cfg(not(feature = "tracing"))]
pub(crate) fn gave_up(_: &'static str, _: u32, _: Class, _: StopReason, _: &dyn fmt::Display) {}

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
