//! [`RetryLayer`]: retries for any `tower` service, by the
//! [HTTP rule set](crate::http#the-retrying-middlewares-rules) or by a
//! classifier of your own.
//!
//! ```
//! use std::time::Duration;
//! use retry_runtime::{RetryBudget, RetryPolicy, tower::RetryLayer};
//! use tower::{ServiceBuilder, ServiceExt};
//!
//! const POLICY: RetryPolicy = RetryPolicy::new().max_attempts(3).base(Duration::from_millis(250));
//! static BUDGET: RetryBudget = RetryBudget::new(10, 0.1);
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
//! let calls = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
//! let counted = calls.clone();
//! let inner = tower::service_fn(move |_: http::Request<String>| {
//!     let n = counted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
//!     // 503 "no placement" once, then room.
//!     let status = if n == 0 { 503 } else { 200 };
//!     async move {
//!         Ok::<_, std::convert::Infallible>(http::Response::builder().status(status).body(()).unwrap())
//!     }
//! });
//! let service = ServiceBuilder::new()
//!     .layer(RetryLayer::new(POLICY).budget(&BUDGET))
//!     .service(inner);
//! let response = service.oneshot(http::Request::post("/v1/instances").body(String::new()).unwrap()).await.unwrap();
//! assert_eq!(response.status(), 200);
//! assert_eq!(calls.load(std::sync::atomic::Ordering::Relaxed), 2);
//! # }
//! ```

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tower_layer::Layer;
use tower_service::Service;

use crate::http::rules::{self, ByChain};
use crate::{Classifier, RetryBudget, RetryPolicy, TimedOut};

/// The error type of HTTP services behind [`RetryLayer`]: tower's usual
/// boxed error, so that any inner error (and a final [`TimedOut`]) fits.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The future of a retried call: boxed, one allocation per call, like the
/// futures of `tower`'s own boxed layers.
pub type ResponseFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send>>;

/// Marks a [`RetryLayer`] that applies the HTTP rule set.
#[derive(Clone, Copy, Debug, Default)]
pub struct HttpRules {
    idempotency_key: bool,
}

/// Marks a [`RetryLayer`] that classifies a service's errors with a
/// [`Classifier`]; made by [`RetryLayer::classify`].
#[derive(Clone, Copy, Debug)]
pub struct Classified<C>(C);

/// Retries for any [`Service`], as a [`Layer`].
///
/// For a `Service<http::Request<B>>` with `B: Clone` and
/// `Response = http::Response<_>`, [`RetryLayer::new`] applies the
/// [HTTP rule set](crate::http#the-retrying-middlewares-rules): statuses
/// by their class, `Ambiguous` ones and transport failures only for
/// idempotent requests, `Retry-After` never undercut, the response the
/// retries stopped on returned as the response. The service's errors are
/// classified by their chain of causes (an `io::Error` or `reqwest::Error`
/// in it tells the stage; otherwise the error is `Ambiguous`, since the
/// request may have been sent) and reach the caller boxed as
/// [`BoxError`], like those of tower's timeout layer.
///
/// For any other service, whose requests are `Clone`,
/// [`classify`](Self::classify) supplies a [`Classifier`] of its errors;
/// the policy's own `on` set then decides, as for
/// [`RetryPolicy::retry_with`].
///
/// Both clone the inner service for each retry (it must be `Clone`, as for
/// tower's own retry layer) and wait for it to be ready.
///
/// ```
/// use std::time::Duration;
/// use retry_runtime::{Class, RetryPolicy, tower::RetryLayer};
/// use tower::{Layer, ServiceExt};
///
/// #[derive(Debug)]
/// enum StoreError { Busy, Missing, TimedOut }
/// impl From<retry_runtime::TimedOut> for StoreError {
///     fn from(_: retry_runtime::TimedOut) -> Self { StoreError::TimedOut }
/// }
/// impl std::fmt::Display for StoreError {
///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { write!(f, "{self:?}") }
/// }
/// fn by_kind(error: &StoreError) -> Class {
///     match error {
///         StoreError::Busy => Class::Transient,
///         StoreError::TimedOut => Class::Ambiguous,
///         StoreError::Missing => Class::Permanent,
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// let tries = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
/// let counted = tries.clone();
/// let store = tower::service_fn(move |key: &'static str| {
///     let n = counted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
///     async move { if n < 2 { Err(StoreError::Busy) } else { Ok(key.len()) } }
/// });
/// let layer = RetryLayer::new(RetryPolicy::new().base(Duration::from_millis(10))).classify(by_kind);
/// let start = tokio::time::Instant::now();
/// assert_eq!(layer.layer(store).oneshot("key").await.unwrap(), 3);
/// assert_eq!(start.elapsed(), Duration::from_millis(30)); // 10 + 20
/// # }
/// ```
#[derive(Clone, Copy, Debug)]
pub struct RetryLayer<K = HttpRules> {
    policy: RetryPolicy,
    budget: Option<&'static RetryBudget>,
    kind: K,
}

impl RetryLayer {
    /// Retries HTTP services by `policy` and the HTTP rule set (the
    /// policy's `on` set aside: idempotency decides).
    ///
    /// ```
    /// use retry_runtime::{RetryPolicy, tower::RetryLayer};
    /// let layer = RetryLayer::new(RetryPolicy::new());
    /// # drop(layer);
    /// ```
    pub const fn new(policy: RetryPolicy) -> Self {
        RetryLayer {
            policy,
            budget: None,
            kind: HttpRules {
                idempotency_key: false,
            },
        }
    }

    /// Gives each non-idempotent request without an `Idempotency-Key` a
    /// fresh random one (a UUID), the same on every attempt, so that its
    /// ambiguous failures are retried too. Only for services that honour
    /// the header, answering a repeated key with the first outcome.
    ///
    /// ```
    /// use retry_runtime::{RetryPolicy, tower::RetryLayer};
    /// let layer = RetryLayer::new(RetryPolicy::new()).idempotency_key();
    /// # drop(layer);
    /// ```
    pub const fn idempotency_key(mut self) -> Self {
        self.kind.idempotency_key = true;
        self
    }

    /// Retries any service whose requests are `Clone`, classifying its
    /// errors with `classifier` (any `Fn(&E) -> Class`, or [`ByTrait`](crate::ByTrait)
    /// for errors that implement [`Classify`](crate::Classify)). The
    /// service's error type must be `From<TimedOut>` for the policy's
    /// attempt timeout, as with `#[retry(timeout = ..)]`.
    ///
    /// ```
    /// use retry_runtime::{ByTrait, RetryPolicy, tower::RetryLayer};
    /// let layer = RetryLayer::new(RetryPolicy::new()).classify(ByTrait);
    /// # drop(layer);
    /// ```
    pub fn classify<C>(self, classifier: C) -> RetryLayer<Classified<C>> {
        RetryLayer {
            policy: self.policy,
            budget: self.budget,
            kind: Classified(classifier),
        }
    }
}

impl<K> RetryLayer<K> {
    /// Draws retries from a shared [`RetryBudget`].
    ///
    /// ```
    /// use retry_runtime::{RetryBudget, RetryPolicy, tower::RetryLayer};
    /// static BUDGET: RetryBudget = RetryBudget::new(10, 0.1);
    /// let layer = RetryLayer::new(RetryPolicy::new()).budget(&BUDGET);
    /// # drop(layer);
    /// ```
    #[must_use]
    pub fn budget(mut self, budget: &'static RetryBudget) -> Self {
        self.budget = Some(budget);
        self
    }
}

impl<S, K: Clone> Layer<S> for RetryLayer<K> {
    type Service = RetryService<S, K>;

    fn layer(&self, inner: S) -> Self::Service {
        RetryService {
            inner,
            policy: self.policy,
            budget: self.budget,
            kind: self.kind.clone(),
        }
    }
}

/// A service wrapped by [`RetryLayer`].
///
/// ```
/// use retry_runtime::{RetryPolicy, tower::{RetryLayer, RetryService, HttpRules}};
/// use tower::Layer;
/// let inner = tower::service_fn(|_: http::Request<()>| async {
///     Ok::<_, std::convert::Infallible>(http::Response::new(()))
/// });
/// let _service: RetryService<_, HttpRules> = RetryLayer::new(RetryPolicy::new()).layer(inner);
/// ```
#[derive(Clone)]
pub struct RetryService<S, K = HttpRules> {
    inner: S,
    policy: RetryPolicy,
    budget: Option<&'static RetryBudget>,
    kind: K,
}

impl<S, K: fmt::Debug> fmt::Debug for RetryService<S, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryService")
            .field("policy", &self.policy)
            .field("budget", &self.budget)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

impl<S: Clone, K> RetryService<S, K> {
    /// The service for the first attempt (the one `poll_ready` readied) and
    /// a fresh clone left in its place for the next call.
    fn take_ready(&mut self) -> S {
        let fresh = self.inner.clone();
        std::mem::replace(&mut self.inner, fresh)
    }
}

/// Sends `request` through `service` once it is ready.
async fn ready_call<S: Service<R>, R>(mut service: S, request: R) -> Result<S::Response, S::Error> {
    std::future::poll_fn(|cx| service.poll_ready(cx)).await?;
    service.call(request).await
}

impl<S, B, RB> Service<http::Request<B>> for RetryService<S, HttpRules>
where
    S: Service<http::Request<B>, Response = http::Response<RB>> + Clone + Send + 'static,
    S::Future: Send,
    S::Error: Into<BoxError>,
    B: Clone + Send + 'static,
    RB: Send + 'static,
{
    type Response = http::Response<RB>;
    type Error = BoxError;
    type Future = ResponseFuture<Self::Response, BoxError>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        let ready = self.take_ready();
        let template = self.inner.clone();
        if self.kind.idempotency_key {
            let method = request.method().clone();
            rules::add_key(&method, request.headers_mut());
        }
        let idempotent = crate::http::is_idempotent(request.method(), request.headers());
        let (policy, budget) = (self.policy, self.budget);
        let scope = rules::scope(request.method(), request.uri());
        Box::pin(async move {
            let mut first = Some((ready, request.clone()));
            rules::send(
                scope,
                policy,
                budget,
                idempotent,
                ByChain,
                |timed_out| Box::new(timed_out) as BoxError,
                move |_| {
                    let (service, request) = first
                        .take()
                        .unwrap_or_else(|| (template.clone(), request.clone()));
                    async move { ready_call(service, request).await.map_err(Into::into) }
                },
            )
            .await
        })
    }
}

impl<S, C, Req> Service<Req> for RetryService<S, Classified<C>>
where
    S: Service<Req> + Clone + Send + 'static,
    S::Future: Send,
    S::Response: Send,
    S::Error: From<TimedOut> + fmt::Display + Send,
    C: Classifier<S::Error> + Clone + Send + 'static,
    Req: Clone + Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Response, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Req) -> Self::Future {
        let ready = self.take_ready();
        let template = self.inner.clone();
        let (policy, budget) = (self.policy, self.budget);
        let classifier = self.kind.0.clone();
        Box::pin(async move {
            let mut first = Some((ready, request.clone()));
            let retry = policy
                .retry_with(classifier, move |_| {
                    let (service, request) = first
                        .take()
                        .unwrap_or_else(|| (template.clone(), request.clone()));
                    ready_call(service, request)
                })
                .on_timeout(S::Error::from);
            match budget {
                Some(budget) => retry.budget(budget).await,
                None => retry.await,
            }
        })
    }
}
