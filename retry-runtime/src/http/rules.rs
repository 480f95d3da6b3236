//! The one rule set of the retrying middleware, written once for every HTTP
//! client: [`RetryMiddleware`](super::RetryMiddleware) (reqwest) and
//! [`RetryLayer`](crate::tower::RetryLayer) (tower) only adapt their
//! requests and responses to it.
//!
//! The retry loop is the crate's own [`Retry`](crate::Retry) future, so
//! budgets, deadlines, attempt timeouts and telemetry behave exactly as
//! they do for `RetryPolicy::retry` and `#[retry]`.

use std::error::Error;
use std::fmt;
use std::future::Future;
use std::time::Duration;

use ::http::{HeaderMap, HeaderValue, Method, StatusCode};

use crate::{Class, ClassSet, Classifier, RetryBudget, RetryPolicy, TimedOut};

/// A response, as the rules see it.
pub(crate) trait Exchange {
    fn status(&self) -> StatusCode;
    fn headers(&self) -> &HeaderMap;
}

impl<B> Exchange for ::http::Response<B> {
    fn status(&self) -> StatusCode {
        self.status()
    }
    fn headers(&self) -> &HeaderMap {
        self.headers()
    }
}

#[cfg(feature = "reqwest")]
impl Exchange for reqwest::Response {
    fn status(&self) -> StatusCode {
        self.status()
    }
    fn headers(&self) -> &HeaderMap {
        self.headers()
    }
}

/// An attempt that did not succeed: an error status (kept whole, so that
/// the caller gets it if the retries stop on it), a transport error, or a
/// timed-out attempt.
pub(crate) enum Failure<R, E> {
    Response(R),
    Transport(E),
    TimedOut(TimedOut),
}

impl<R: Exchange, E: fmt::Display> fmt::Display for Failure<R, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Response(response) => write!(f, "HTTP {}", response.status()),
            Failure::Transport(error) => error.fmt(f),
            Failure::TimedOut(timed_out) => timed_out.fmt(f),
        }
    }
}

/// Statuses by [`StatusCode`'s table](crate::Classify#impl-Classify-for-StatusCode),
/// with the response's `Retry-After` as the hint; transport errors by `T`.
pub(crate) struct Rules<T> {
    pub(crate) transport: T,
}

impl<R: Exchange, E, T: Classifier<E>> Classifier<Failure<R, E>> for Rules<T> {
    fn classify(&self, failure: &Failure<R, E>) -> Class {
        match failure {
            Failure::Response(response) => crate::Classify::classify(&response.status()),
            Failure::Transport(error) => self.transport.classify(error),
            Failure::TimedOut(_) => Class::Ambiguous,
        }
    }

    fn retry_after(&self, failure: &Failure<R, E>) -> Option<Duration> {
        match failure {
            Failure::Response(response) => super::retry_after(response.headers()),
            Failure::Transport(error) => self.transport.retry_after(error),
            Failure::TimedOut(_) => None,
        }
    }

    fn label<'e>(&self, failure: &'e Failure<R, E>) -> Option<&'e str> {
        match failure {
            Failure::Response(response) => response.status().canonical_reason(),
            Failure::Transport(error) => self.transport.label(error),
            Failure::TimedOut(_) => Some("timeout"),
        }
    }
}

/// Transport errors known only as a chain of `std::error::Error`s (a tower
/// service's `BoxError`): the first link that tells the stage decides.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct ByChain;

impl ByChain {
    pub(crate) fn of(error: &(dyn Error + 'static)) -> Class {
        let mut link = Some(error);
        while let Some(error) = link {
            #[cfg(feature = "reqwest")]
            if let Some(error) = error.downcast_ref::<reqwest::Error>() {
                return crate::Classify::classify(error);
            }
            if let Some(error) = error.downcast_ref::<std::io::Error>() {
                return crate::Classify::classify(error);
            }
            if error.is::<TimedOut>() {
                return Class::Ambiguous;
            }
            link = error.source();
        }
        // The stage is unknown: the request may have been sent.
        Class::Ambiguous
    }
}

impl Classifier<Box<dyn Error + Send + Sync>> for ByChain {
    fn classify(&self, error: &Box<dyn Error + Send + Sync>) -> Class {
        ByChain::of(&**error)
    }
}

/// The policy for one request: `Ambiguous` failures are retried if and only
/// if the request is idempotent, whatever the policy's own `on` set says.
pub(crate) fn policy_for(policy: RetryPolicy, idempotent: bool) -> RetryPolicy {
    policy.on(if idempotent {
        ClassSet::TRANSIENT.with(Class::Ambiguous)
    } else {
        ClassSet::TRANSIENT
    })
}

/// Whether a response is a failure for the rules: a client or server error.
/// Anything else (success, an unfollowed redirect) is the call's result.
fn failed(status: StatusCode) -> bool {
    status.is_client_error() || status.is_server_error()
}

/// Gives a non-idempotent request without an `Idempotency-Key` a fresh one.
pub(crate) fn add_key(method: &Method, headers: &mut HeaderMap) {
    if super::is_idempotent(method, headers) {
        return;
    }
    // The text is hex and dashes, always a valid header value; were it not,
    // the request would go without a key, and so without ambiguous retries.
    if let Some(key) = fresh_key() {
        headers.insert(super::IDEMPOTENCY_KEY, key);
    }
}

/// A random UUID (version 4) in its usual text form. It is a request's
/// identity, not a secret, so fastrand's generator is enough.
fn fresh_key() -> Option<HeaderValue> {
    let bits = (fastrand::u128(..) & !(0xf << 76) & !(0x3 << 62)) | (0x4 << 76) | (0x2 << 62);
    let hex = format!("{bits:032x}");
    let text = format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    );
    HeaderValue::try_from(text).ok()
}

/// The span a call's retry events are reported in, naming the request they
/// retry (their `function` field is `retry`, as for every `Retry` future).
#[cfg(feature = "tracing")]
pub(crate) type Scope = tracing::Span;

/// Without the `tracing` feature, nothing to report in.
#[cfg(not(feature = "tracing"))]
pub(crate) struct Scope;

/// The [`Scope`] of a request to `uri` with `method`.
pub(crate) fn scope(method: &Method, uri: &dyn fmt::Display) -> Scope {
    #[cfg(feature = "tracing")]
    return tracing::info_span!(target: "retry", "http", method = %method, uri = %uri);
    #[cfg(not(feature = "tracing"))]
    {
        let _ = (method, uri);
        Scope
    }
}

/// One call under the rules: `attempt(n)` sends the request's `n`th copy.
///
/// Returns the successful response, or the response the retries stopped
/// on, or the transport error they stopped on; a timed-out attempt that
/// ends the call becomes `timed_out(..)`.
pub(crate) async fn send<R, E, T, F, Fut>(
    scope: Scope,
    policy: RetryPolicy,
    budget: Option<&'static RetryBudget>,
    idempotent: bool,
    transport: T,
    timed_out: impl FnOnce(TimedOut) -> E,
    mut attempt: F,
) -> Result<R, E>
where
    R: Exchange,
    E: fmt::Display,
    T: Classifier<E>,
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<R, E>>,
{
    let retry = policy_for(policy, idempotent)
        .retry_with(Rules { transport }, move |n| {
            let sent = attempt(n);
            async move {
                match sent.await {
                    Ok(response) if failed(response.status()) => Err(Failure::Response(response)),
                    Ok(response) => Ok(response),
                    Err(error) => Err(Failure::Transport(error)),
                }
            }
        })
        .on_timeout(Failure::TimedOut);
    let retried = async move {
        match budget {
            Some(budget) => retry.budget(budget).await,
            None => retry.await,
        }
    };
    #[cfg(feature = "tracing")]
    let outcome = tracing::Instrument::instrument(retried, scope).await;
    #[cfg(not(feature = "tracing"))]
    let outcome = {
        let Scope = scope;
        retried.await
    };
    match outcome {
        Ok(response) | Err(Failure::Response(response)) => Ok(response),
        Err(Failure::Transport(error)) => Err(error),
        Err(Failure::TimedOut(expired)) => Err(timed_out(expired)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_fresh_version_4_uuids() {
        let (a, b) = (fresh_key().unwrap(), fresh_key().unwrap());
        assert_ne!(a, b);
        let text = a.to_str().unwrap();
        assert_eq!(text.len(), 36);
        assert_eq!(&text[14..15], "4", "{text}");
        assert!(matches!(&text[19..20], "8" | "9" | "a" | "b"), "{text}");
    }

    #[test]
    fn a_key_only_for_requests_that_need_one() {
        let mut headers = HeaderMap::new();
        add_key(&Method::GET, &mut headers);
        assert!(headers.is_empty());
        add_key(&Method::POST, &mut headers);
        let key = headers[super::super::IDEMPOTENCY_KEY].clone();
        add_key(&Method::POST, &mut headers);
        assert_eq!(headers[super::super::IDEMPOTENCY_KEY], key, "kept");
    }

    #[test]
    fn a_chain_is_classified_by_its_first_telling_link() {
        let refused: Box<dyn Error + Send + Sync> =
            Box::new(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert_eq!(ByChain.classify(&refused), Class::Transient);
        let opaque: Box<dyn Error + Send + Sync> = "something broke".into();
        assert_eq!(ByChain.classify(&opaque), Class::Ambiguous);
    }
}
