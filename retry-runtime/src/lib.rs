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
//! Before retry `k` the loop sleeps `min(base * factor^(k-1), max_delay)`,
//! then applies [`Jitter`]; the arithmetic saturates for any input. A
//! server's hint ([`Classify::retry_after`]) is never undercut, and stops
//! the retries if it exceeds `max_delay` or the deadline. A zero delay does
//! not touch the timer. Sleeps use tokio's clock, so tests run instantly
//! under `#[tokio::test(start_paused = true)]`.
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
//! `retry`.
//!
//! # Features
//!
//! | feature | default | what |
//! |---|---|---|
//! | `macros` | yes | `#[retry]` and `#[derive(Classify)]` |
//! | `tracing` | yes | INFO/WARN events |
//! | `serde` | | policies and histories (de)serialize, durations as `"250ms"` |
//! | `http` | | [`Classify`] for `http::StatusCode` |
//! | `reqwest` | | [`Classify`] for `reqwest::Error` |
//! | `tonic` | | [`Classify`] for `tonic::Status`, with gRPC pushback as the hint |

#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod backoff;
mod budget;
mod class;
mod engine;
mod policy;
mod retry;
mod telemetry;
mod text;

#[cfg(any(feature = "http", feature = "tonic"))]
mod http;
#[cfg(feature = "serde")]
mod serde_duration;

pub use backoff::Schedule;
pub use budget::{BudgetError, RetryBudget};
pub use class::{Class, ClassSet, Classify, TimedOut};
pub use engine::StopReason;
pub use policy::{EnvError, Jitter, PolicyError, RetryPolicy};
pub use retry::{
    AttemptRecord, ByTrait, Classifier, NoNotify, NoTimeout, Notify, OnTimeout, Report, Reported,
    Retry, RetryEvent,
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
