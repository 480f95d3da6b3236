//! Code using the macros trips no user lint: this file denies the lints
//! users commonly deny, and `cargo clippy --all-targets -- -D warnings`
//! (in CI) checks it with clippy's as well.

#![deny(
    clippy::all,
    clippy::pedantic,
    unused_qualifications,
    unused,
    rust_2018_idioms
)]

use std::io;
use std::time::Duration;

use retry_runtime::{Class, Classify, RetryBudget, RetryEvent, RetryPolicy, TimedOut, retry};

#[derive(Debug, thiserror::Error, Classify)]
#[classify(default = permanent)]
pub enum Error {
    #[error("busy")]
    #[classify(transient, label = "busy", retry_after = wait)]
    Busy { wait: Option<Duration> },
    #[error(transparent)]
    #[classify(transparent)]
    Io(#[from] io::Error),
    #[error(transparent)]
    #[classify(ambiguous)]
    TimedOut(#[from] TimedOut),
    #[error("invalid")]
    Invalid,
}

static BUDGET: RetryBudget = RetryBudget::new(10, 0.1);

fn notify(event: &RetryEvent<'_, Error>) {
    assert!(event.attempt >= 1);
}

fn classify(error: &io::Error) -> Class {
    error.classify()
}

#[derive(Clone, Debug)]
pub struct Service {
    name: String,
    policy: RetryPolicy,
}

impl Service {
    #[retry(max = 3, base = "250ms", on = Transient | Ambiguous, attempt = attempt)]
    pub async fn every_key_but_policy(&self, id: u32) -> Result<String, Error> {
        if attempt == 1 && id == 0 {
            return Err(Error::Invalid);
        }
        let value = self.lookup(id)?;
        Ok(format!("{}:{value}", self.name))
    }

    #[retry(retries = 2, base = "1ms", factor = 1.5, max_delay = "1s", jitter = full, deadline = "5s",
            timeout = "1s", budget = &BUDGET, notify = notify)]
    pub async fn more_keys(&mut self, label: String) -> Result<usize, Error> {
        self.name.push_str(&label);
        Ok(self.name.len())
    }

    #[retry(policy = self.policy, classify = classify)]
    pub async fn with_policy(&self) -> io::Result<usize> {
        Ok(self.name.len())
    }

    #[retry(max = 2, base = "0ms", env = "LINTS_TEST")]
    pub fn blocking(self, extra: Vec<u8>) -> Result<usize, Error> {
        Ok(self.name.len() + extra.len())
    }

    fn lookup(&self, id: u32) -> Result<u32, Error> {
        if self.name.is_empty() {
            Err(Error::Busy { wait: None })
        } else {
            Ok(id)
        }
    }
}

#[retry]
async fn defaults() -> io::Result<()> {
    let text = format!("{}", 1);
    assert!(!text.is_empty());
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn lint_clean_code_runs() {
    let mut service = Service {
        name: "s".into(),
        policy: RetryPolicy::new(),
    };
    assert_eq!(service.every_key_but_policy(1).await.unwrap(), "s:1");
    assert_eq!(service.more_keys("x".into()).await.unwrap(), 2);
    assert_eq!(service.with_policy().await.unwrap(), 2);
    assert_eq!(service.blocking(vec![1]).unwrap(), 3);
    defaults().await.unwrap();
}
