//! [`RetryMiddleware`]: the rule set for `reqwest_middleware` clients.

use std::sync::Mutex;

use ::http::Extensions;
use reqwest::{Request, Response};
use reqwest_middleware::{Middleware, Next};

use super::rules;
use crate::{ByTrait, RetryBudget, RetryPolicy};

/// Retries for every call of a [`reqwest_middleware`] client, by the
/// [rule set](super#the-retrying-middlewares-rules) it shares with
/// `tower::RetryLayer`: statuses by their class, a lost answer retried only
/// for an idempotent request, `Retry-After` never undercut, the response
/// the retries stopped on returned as the response.
///
/// A POST that fails once its connection is made (a reset, a body cut
/// short, a 502) may have taken effect, so it is not retried; against a
/// server that honours `Idempotency-Key`,
/// [`idempotency_key`](Self::idempotency_key) makes those retried too.
///
/// ```no_run
/// use std::time::Duration;
/// use retry_runtime::{RetryBudget, RetryPolicy, http::RetryMiddleware};
///
/// const POLICY: RetryPolicy = RetryPolicy::new()
///     .max_attempts(3)
///     .base(Duration::from_millis(250))
///     .attempt_timeout(Duration::from_secs(2));
/// static BUDGET: RetryBudget = RetryBudget::new(10, 0.1);
///
/// # async fn run() -> reqwest_middleware::Result<()> {
/// let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
///     .with(RetryMiddleware::new(POLICY).budget(&BUDGET).idempotency_key())
///     .build();
/// // A POST: retried on 503 or a refused connection; on a 502 too, since
/// // the middleware gave it an Idempotency-Key.
/// let response = client.post("http://127.0.0.1:8080/v1/instances").body("{}").send().await?;
/// println!("{}", response.status());
/// # Ok(()) }
/// ```
#[derive(Clone, Copy, Debug)]
pub struct RetryMiddleware {
    policy: RetryPolicy,
    budget: Option<&'static RetryBudget>,
    idempotency_key: bool,
}

impl RetryMiddleware {
    /// Retries by `policy` (its `on` set aside: see the rules above).
    ///
    /// ```
    /// use retry_runtime::{RetryPolicy, http::RetryMiddleware};
    /// let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
    ///     .with(RetryMiddleware::new(RetryPolicy::new()))
    ///     .build();
    /// # drop(client);
    /// ```
    pub const fn new(policy: RetryPolicy) -> Self {
        RetryMiddleware {
            policy,
            budget: None,
            idempotency_key: false,
        }
    }

    /// Draws retries from a shared [`RetryBudget`]: when most calls fail,
    /// they are answered without retry.
    ///
    /// ```
    /// use retry_runtime::{RetryBudget, RetryPolicy, http::RetryMiddleware};
    /// static BUDGET: RetryBudget = RetryBudget::new(10, 0.1);
    /// let middleware = RetryMiddleware::new(RetryPolicy::new()).budget(&BUDGET);
    /// # drop(middleware);
    /// ```
    pub const fn budget(mut self, budget: &'static RetryBudget) -> Self {
        self.budget = Some(budget);
        self
    }

    /// Gives each non-idempotent request that has no `Idempotency-Key`
    /// header a fresh random one (a UUID), the same on every attempt of the
    /// call, so that its ambiguous failures are retried too. Only for
    /// servers that honour the header, answering a repeated key with the
    /// first request's outcome; to a server that ignores it, the retry of a
    /// POST whose answer was lost is a second POST.
    ///
    /// ```
    /// use retry_runtime::{RetryPolicy, http::RetryMiddleware};
    /// let middleware = RetryMiddleware::new(RetryPolicy::new()).idempotency_key();
    /// # drop(middleware);
    /// ```
    pub const fn idempotency_key(mut self) -> Self {
        self.idempotency_key = true;
        self
    }
}

#[async_trait::async_trait]
impl Middleware for RetryMiddleware {
    async fn handle(
        &self,
        mut request: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        if self.idempotency_key {
            let method = request.method().clone();
            rules::add_key(&method, request.headers_mut());
        }
        let Some(copy) = request.try_clone() else {
            return next.run(request, extensions).await;
        };
        let idempotent = super::is_idempotent(request.method(), request.headers());
        // Each attempt needs the extensions mutably, one attempt at a time;
        // the lock is never contended.
        let shared = Mutex::new(std::mem::take(extensions));
        let scope = rules::scope(request.method(), request.url());
        let mut first = Some(request);
        let result = rules::send(
            scope,
            self.policy,
            self.budget,
            idempotent,
            Transport,
            |timed_out| reqwest_middleware::Error::Middleware(timed_out.into()),
            |_| {
                let request = first.take().or_else(|| copy.try_clone());
                let next = next.clone();
                let shared = &shared;
                async move {
                    let Some(request) = request else {
                        // `copy` cloned once, so it clones again: not reached.
                        let error =
                            std::io::Error::other("the request could not be copied for a retry");
                        return Err(reqwest_middleware::Error::Middleware(error.into()));
                    };
                    let mut own = take(shared);
                    let response = next.run(request, &mut own).await;
                    put(shared, own);
                    response
                }
            },
        )
        .await;
        *extensions = take(&shared);
        result
    }
}

fn take(shared: &Mutex<Extensions>) -> Extensions {
    std::mem::take(
        &mut *shared
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
    )
}

fn put(shared: &Mutex<Extensions>, extensions: Extensions) {
    *shared
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = extensions;
}

/// `reqwest_middleware` errors: reqwest's by their stage, those of other
/// middlewares by their chain of causes.
struct Transport;

impl crate::Classifier<reqwest_middleware::Error> for Transport {
    fn classify(&self, error: &reqwest_middleware::Error) -> crate::Class {
        match error {
            reqwest_middleware::Error::Reqwest(error) => {
                crate::Classifier::classify(&ByTrait, error)
            }
            reqwest_middleware::Error::Middleware(error) => {
                let error: &(dyn std::error::Error + 'static) = error.as_ref();
                rules::ByChain::of(error)
            }
        }
    }
}
