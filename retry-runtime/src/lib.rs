//! Retries that know what they must not retry.
//!
//! A failed call is retried only if retrying is safe. Every error answers,
//! through [`Classify`], one of three things:
//!
//! - [`Transient`](Class::Transient): it did not take effect and may succeed
//!   later (HTTP 503 "no placement", a refused connection). Retried.
//! - [`Ambiguous`](Class::Ambiguous): it *may* have taken effect (a lost
//!   response, a 502/504, a timeout). Retried only where the caller says the
//!   operation is idempotent, because a retry could do it twice.
//! - [`Permanent`](Class::Permanent): waiting will not help. Never retried.
//!
//! # With the attribute
//!
//! `#[retry]` rewrites a function into a retry loop; its configuration is
//! checked at compile time (see [`retry`] for every key):
//!
//! ```
//! use retry_runtime::{retry, Classify};
//!
//! #[derive(Debug, thiserror::Error, Classify)]
//! enum CreateError {
//!     #[error("no placement")]
//!     #[classify(transient)]
//!     NoPlacement,
//!     #[error("bad gateway")]
//!     #[classify(ambiguous)]
//!     BadGateway,
//! }
//!
//! struct Gateway { failures_left: std::sync::atomic::AtomicU32 }
//!
//! impl Gateway {
//!     #[retry(max = 3, base = "250ms", on = Transient, attempt = attempt)]
//!     async fn create(&self, name: &str) -> Result<String, CreateError> {
//!         // Attempts after the first use a fresh name: vm, vm-r1, vm-r2.
//!         let name = if attempt == 1 { name.to_string() } else { format!("{name}-r{}", attempt - 1) };
//!         let left = self.failures_left.load(std::sync::atomic::Ordering::Relaxed);
//!         if left > 0 {
//!             self.failures_left.store(left - 1, std::sync::atomic::Ordering::Relaxed);
//!             return Err(CreateError::NoPlacement);
//!         }
//!         Ok(name)
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
//! let gateway = Gateway { failures_left: 2.into() };
//! assert_eq!(gateway.create("vm").await.unwrap(), "vm-r2");
//! # }
//! ```
//!
//! # Without it
//!
//! A [`RetryPolicy`] is a `Copy`, `const`-buildable value;
//! [`retry`](RetryPolicy::retry) and [`retry_with`](RetryPolicy::retry_with)
//! return a named, allocation-free future ([`Retry`]):
//!
//! ```
//! use std::{io, time::Duration};
//! use retry_runtime::RetryPolicy;
//!
//! const CREATE: RetryPolicy = RetryPolicy::new().max_attempts(3).base(Duration::from_millis(250));
//!
//! async fn create(name: String) -> io::Result<String> { Ok(name) }
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> io::Result<()> {
//! let name_for = |attempt: u32| if attempt == 1 { "vm".to_string() } else { format!("vm-r{}", attempt - 1) };
//! let instance = CREATE.retry(|attempt| create(name_for(attempt))).await?;
//! let report = CREATE.retry(|attempt| create(name_for(attempt))).report().await;
//! assert_eq!((instance.as_str(), report.attempts), ("vm", 1));
//! # Ok(()) }
//! ```
//!
//! # Delays
//!
//! Before retry `k` the loop sleeps `min(base * factor^(k-1), max_delay)`
//! (or `base * k`, or `base * fib(k)`: see [`Backoff`]), then applies
//! [`Jitter`]; the arithmetic saturates for any input. A server's hint
//! ([`Classify::retry_after`]) is never undercut, and stops the retries if
//! it exceeds `max_delay` or the deadline; a retry that would start at or
//! after the deadline is not started. A zero delay does not touch the
//! timer, but yields to the scheduler once the task's cooperative budget is
//! spent, so a loop over an operation that never suspends cannot starve
//! other tasks. Sleeps use tokio's clock, so tests run instantly under
//! `#[tokio::test(start_paused = true)]`.
//!
//! # What happened: call reports
//!
//! [`capture`] (and [`capture_blocking`]) runs a future and returns, next
//! to its output, a [`CallReport`] for every retry loop that finished
//! inside it: the function, attempts, a bounded history of failed
//! attempts, why it stopped and how long it took. The caller of a
//! `#[retry]` function, or of a library that uses one, gets the history
//! without any change of signature:
//!
//! ```
//! use retry_runtime::{capture, retry};
//!
//! #[retry(max = 3, base = "100ms")]
//! async fn connect(refusals: &std::sync::atomic::AtomicU32) -> std::io::Result<()> {
//!     if refusals.fetch_sub(1, std::sync::atomic::Ordering::Relaxed) > 0 {
//!         return Err(std::io::ErrorKind::ConnectionRefused.into());
//!     }
//!     Ok(())
//! }
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
//! let refusals = std::sync::atomic::AtomicU32::new(2);
//! let (result, calls) = capture(connect(&refusals)).await;
//! assert!(result.is_ok());
//! assert_eq!((calls[0].function, calls[0].attempts, calls[0].history.len()), ("connect", 3, 2));
//! # }
//! ```
//!
//! Outside a capture nothing is recorded and nothing allocates.
//!
//! # Load
//!
//! Retries multiply load during an outage. A [`RetryBudget`] shared by many
//! call sites (gRPC's retry throttling) stops retries when most calls fail.
//!
//! # Telemetry
//!
//! With the `tracing` feature (default), each retry is an INFO event and
//! each give-up a WARN event with its [`StopReason`], under the target
//! `retry`. With the `metrics` feature, through the `metrics` facade:
//!
//! | metric | kind | labels |
//! |---|---|---|
//! | `retry_attempts_total` | counter | `function`; `outcome` = `ok`, `transient`, `ambiguous`, `permanent` |
//! | `retry_give_ups_total` | counter | `function`; `reason` = `not_retryable`, `exhausted`, `budget_empty`, `deadline`, `retry_after_too_long` ([`StopReason::as_str`]) |
//! | `retry_delay_seconds` | histogram | `function` |
//!
//! `function` is the `#[retry]` function's name, or `retry` for
//! [`RetryPolicy::retry`]. A success records one `ok` increment and nothing
//! else; each recording builds its key, which allocates the labels.
//!
//! # Features
//!
//! | feature | default | what |
//! |---|---|---|
//! | `macros` | yes | `#[retry]` and `#[derive(Classify)]` |
//! | `tracing` | yes | INFO/WARN events |
//! | `serde` | | policies and histories (de)serialize, durations as `"250ms"` |
//! | `http` | | the `http` module: `Retry-After`, idempotency, [`Classify`] for `http::StatusCode` |
//! | `reqwest` | | `http::HttpError` and `http::check` for `#[retry]` over reqwest; [`Classify`] for `reqwest::Error` |
//! | `reqwest-middleware` | | `http::RetryMiddleware`: retries for every call of a `reqwest_middleware` client |
//! | `tower` | | `tower::RetryLayer`: the same rules for any `tower` service |
//! | `tonic` | | [`Classify`] for `tonic::Status`, with gRPC pushback as the hint |
//! | `metrics` | | counters and a histogram through the `metrics` facade |

#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod backoff;
mod budget;
mod class;
mod coop;
mod engine;
mod policy;
mod report;
mod retry;
mod telemetry;
mod text;

#[cfg(feature = "tonic")]
mod grpc;
#[cfg(feature = "http")]
#[cfg_attr(docsrs, doc(cfg(feature = "http")))]
pub mod http;
#[cfg(feature = "serde")]
mod serde_duration;
#[cfg(feature = "tower")]
#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
pub mod tower;

pub use backoff::{Backoff, Schedule};
pub use budget::{BudgetError, RetryBudget};
pub use class::{Class, ClassSet, Classify, TimedOut};
pub use engine::StopReason;
pub use policy::{EnvError, Jitter, PolicyError, RetryPolicy};
pub use report::{
    AttemptRecord, CallReport, Capture, ERROR_TEXT_LIMIT, HISTORY_FIRST, HISTORY_LAST, TRUNCATED,
    capture, capture_blocking,
};
pub use retry::{
    ByTrait, Classifier, NoNotify, NoTimeout, Notify, OnTimeout, Report, Reported, Retry,
    RetryEvent,
};
pub use retry_duration::{DurationError, UNITS as DURATION_UNITS, format_duration, parse_duration};
pub use text::{INFRASTRUCTURE, INFRASTRUCTURE_RULES, Rule, TextClassifier};

#[cfg(feature = "macros")]
#[doc = include_str!("../docs/retry.md")]
pub use retry_macros::retry;

#[cfg(feature = "macros")]
#[doc = include_str!("../docs/classify.md")]
pub use retry_macros::Classify;

/// What `#[retry]` and `#[derive(Classify)]` expand to. Not a public API:
/// it changes without notice.
#[doc(hidden)]
pub mod __private;
