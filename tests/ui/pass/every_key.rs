//! Every key of `#[retry]`, each where it belongs.

#![deny(warnings)]

use std::io;
use std::time::Duration;

use retry_runtime::{retry, Class, Classify, RetryBudget, RetryEvent, RetryPolicy, TimedOut};

#[derive(Debug, thiserror::Error, Classify)]
enum Error {
    #[error("busy")]
    #[classify(transient)]
    Busy,
    #[error(transparent)]
    #[classify(ambiguous)]
    TimedOut(#[from] TimedOut),
}

static BUDGET: RetryBudget = RetryBudget::new(100, 0.1);
const BASE: Duration = Duration::from_millis(100);

fn notify(_: &RetryEvent<'_, Error>) {}
fn by_kind(error: &io::Error) -> Class {
    error.kind().classify()
}

#[retry(max = 3)]
async fn max() -> Result<(), Error> { Ok(()) }

#[retry(retries = 2)]
async fn retries() -> Result<(), Error> { Ok(()) }

#[retry(base = "250ms", factor = 2, max_delay = "60s")]
async fn delays() -> Result<(), Error> { Ok(()) }

#[retry(base = BASE, factor = 1.5, max_delay = "1m")]
async fn const_base() -> Result<(), Error> { Ok(()) }

#[retry(backoff = exponential)]
async fn backoff_exponential() -> Result<(), Error> { Ok(()) }

#[retry(backoff = linear, base = "1s")]
async fn backoff_linear() -> Result<(), Error> { Ok(()) }

#[retry(backoff = fibonacci, factor = 1)]
async fn backoff_fibonacci() -> Result<(), Error> { Ok(()) }

#[retry(jitter = none)]
async fn jitter_none() -> Result<(), Error> { Ok(()) }

#[retry(jitter = full)]
async fn jitter_full() -> Result<(), Error> { Ok(()) }

#[retry(jitter = equal)]
async fn jitter_equal() -> Result<(), Error> { Ok(()) }

#[retry(jitter = decorrelated)]
async fn jitter_decorrelated() -> Result<(), Error> { Ok(()) }

#[retry(deadline = "30s")]
async fn deadline() -> Result<(), Error> { Ok(()) }

#[retry(timeout = "5s")]
async fn timeout() -> Result<(), Error> { Ok(()) }

#[retry(on = Transient)]
async fn on_transient() -> Result<(), Error> { Ok(()) }

#[retry(on = Transient | Ambiguous)]
async fn on_both() -> Result<(), Error> { Ok(()) }

#[retry(on = Ambiguous)]
async fn on_ambiguous() -> Result<(), Error> { Ok(()) }

#[retry(classify = by_kind)]
async fn classify() -> io::Result<()> { Ok(()) }

#[retry(attempt = n)]
async fn attempt() -> Result<u32, Error> { Ok(n) }

#[retry(env = "EVERY_KEY")]
async fn env() -> Result<(), Error> { Ok(()) }

#[retry(policy = RetryPolicy::new().max_attempts(5))]
async fn policy() -> Result<(), Error> { Ok(()) }

#[retry(budget = &BUDGET)]
async fn budget() -> Result<(), Error> { Ok(()) }

#[retry(notify = notify)]
async fn notified() -> Result<(), Error> { Ok(()) }

#[retry(crate = ::retry_runtime)]
async fn krate() -> Result<(), Error> { Ok(()) }

#[retry]
async fn no_keys() -> Result<(), Error> { Ok(()) }

#[retry(max = 4, base = "1.5s", factor = 3, max_delay = "2m", jitter = full, deadline = "10m",
        timeout = "30s", on = Transient | Ambiguous, attempt = attempt, env = "ALL",
        budget = &BUDGET, notify = notify, crate = retry_runtime,)]
async fn all_at_once() -> Result<u32, Error> {
    Ok(attempt)
}

fn main() {
    let _ = (max(), retries(), delays(), const_base(), jitter_none(), jitter_full());
    let _ = (jitter_equal(), jitter_decorrelated(), deadline(), timeout(), on_transient());
    let _ = (on_both(), on_ambiguous(), classify(), attempt(), env(), policy(), budget());
    let _ = (notified(), krate(), no_keys(), all_at_once(), Error::Busy);
}
