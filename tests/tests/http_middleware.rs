//! The retrying middleware: `RetryMiddleware` for reqwest against a real
//! server on loopback (request counts and lower bounds on time only), and
//! `tower::RetryLayer` over an in-process service under tokio's paused
//! clock (exact schedules).

mod support;

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use retry_runtime::http::RetryMiddleware;
use retry_runtime::tower::{BoxError, RetryLayer};
use retry_runtime::{ByTrait, Class, RetryBudget, RetryPolicy, TimedOut};
use support::{Reply, Server, ok, refusing_url, status, with_header};
use tower::{Layer, ServiceExt};

const FAST: RetryPolicy = RetryPolicy::new()
    .max_attempts(3)
    .base(Duration::from_millis(10));

fn client(middleware: RetryMiddleware) -> ClientWithMiddleware {
    ClientBuilder::new(reqwest::Client::new())
        .with(middleware)
        .build()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_503_retry_after_is_waited_then_the_200_returned() {
    let server = Server::start([with_header(503, "retry-after", "1"), ok("done")]).await;
    let start = Instant::now();
    let response = client(RetryMiddleware::new(FAST))
        .get(server.url("/"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "done");
    assert!(
        start.elapsed() >= Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(server.count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_502_is_not_retried_and_the_502_is_returned() {
    let server = Server::start([status(502)]).await;
    let response = client(RetryMiddleware::new(FAST))
        .post(server.url("/v1/instances"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 502);
    assert_eq!(response.text().await.unwrap(), "status 502");
    assert_eq!(server.count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_put_502_is_retried() {
    let server = Server::start([status(502), ok("stored")]).await;
    let response = client(RetryMiddleware::new(FAST))
        .put(server.url("/v1/instances/vm"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let seen = server.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[1].body, b"{}", "the retry sent the body again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_504_with_an_idempotency_key_is_retried() {
    let server = Server::start([status(504), ok("created")]).await;
    let response = client(RetryMiddleware::new(FAST))
        .post(server.url("/v1/instances"))
        .header("idempotency-key", "create-vm-1")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(server.count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotency_keys_are_one_per_call_the_same_on_every_attempt() {
    let server = Server::start([status(502), ok("a"), ok("b"), status(503), ok("c")]).await;
    let client = client(RetryMiddleware::new(FAST).idempotency_key());
    for _ in 0..2 {
        let response = client.post(server.url("/post")).body("{}").send().await;
        assert_eq!(response.unwrap().status(), 200);
    }
    let response = client.get(server.url("/get")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let keys: Vec<(String, Option<String>)> = server
        .seen()
        .iter()
        .map(|seen| {
            (
                seen.path.clone(),
                seen.header("idempotency-key").map(str::to_owned),
            )
        })
        .collect();
    assert_eq!(keys.len(), 5, "{keys:?}");
    let (first, second) = (keys[0].1.clone().unwrap(), keys[2].1.clone().unwrap());
    assert_eq!(
        keys[1].1.as_deref(),
        Some(first.as_str()),
        "same key on the retry"
    );
    assert_ne!(first, second, "a fresh key per call");
    assert_eq!(keys[3], ("/get".to_owned(), None), "a GET needs none");
    assert_eq!(keys[4], ("/get".to_owned(), None));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exhausted_retries_return_the_last_response() {
    let server = Server::start([
        with_header(503, "x-attempt", "1"),
        with_header(503, "x-attempt", "2"),
        with_header(503, "x-attempt", "3"),
    ])
    .await;
    let response = client(RetryMiddleware::new(FAST))
        .get(server.url("/"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["x-attempt"], "3");
    assert_eq!(server.count(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_404_is_not_retried() {
    let server = Server::start([status(404)]).await;
    let response = client(RetryMiddleware::new(FAST))
        .get(server.url("/"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    assert_eq!(server.count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transport_failures_follow_idempotency() {
    // A reset after the request was read: retried for a GET, not a POST.
    let server = Server::start([Reply::ResetAfterRequest, ok("again")]).await;
    let client = client(RetryMiddleware::new(FAST));
    let response = client.get(server.url("/")).send().await.unwrap();
    assert_eq!(response.text().await.unwrap(), "again");
    assert_eq!(server.count(), 2);

    let server = Server::start([Reply::ResetAfterRequest]).await;
    let error = client
        .post(server.url("/"))
        .body("{}")
        .send()
        .await
        .unwrap_err();
    assert!(
        matches!(error, reqwest_middleware::Error::Reqwest(_)),
        "{error}"
    );
    assert_eq!(server.count(), 1);

    // A refused connection never sent anything: retried even for a POST.
    let url = refusing_url().await;
    let start = Instant::now();
    let error = client.post(&url).body("{}").send().await.unwrap_err();
    let reqwest_middleware::Error::Reqwest(error) = error else {
        panic!("{error}")
    };
    assert!(error.is_connect());
    assert!(
        start.elapsed() >= Duration::from_millis(30),
        "10 + 20 ms of backoff"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timed_out_attempt_is_retried_when_idempotent() {
    let server = Server::start([Reply::Stall(Duration::from_secs(5)), ok("late")]).await;
    let policy = FAST.attempt_timeout(Duration::from_millis(200));
    let client = client(RetryMiddleware::new(policy));
    let start = Instant::now();
    let response = client.get(server.url("/")).send().await.unwrap();
    assert_eq!(response.text().await.unwrap(), "late");
    assert!(start.elapsed() >= Duration::from_millis(200));
    assert_eq!(server.count(), 2);

    let server = Server::start([Reply::Stall(Duration::from_secs(5))]).await;
    let error = client
        .post(server.url("/"))
        .body("{}")
        .send()
        .await
        .unwrap_err();
    let reqwest_middleware::Error::Middleware(error) = error else {
        panic!("{error}")
    };
    assert!(error.downcast_ref::<TimedOut>().is_some(), "{error}");
    assert_eq!(server.count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shared_budget_holds_an_outage_near_one_request_per_call() {
    static BUDGET: RetryBudget = RetryBudget::new(10, 0.1);
    const CALLS: usize = 40;
    let outage = || (0..CALLS * 3).map(|_| status(503));

    let server = Server::start(outage()).await;
    let unbudgeted = client(RetryMiddleware::new(FAST.base(Duration::from_millis(1))));
    for _ in 0..CALLS {
        unbudgeted.get(server.url("/")).send().await.unwrap();
    }
    assert_eq!(server.count(), CALLS * 3, "three attempts each");

    let server = Server::start(outage()).await;
    let budgeted =
        client(RetryMiddleware::new(FAST.base(Duration::from_millis(1))).budget(&BUDGET));
    for _ in 0..CALLS {
        let response = budgeted.get(server.url("/")).send().await.unwrap();
        assert_eq!(response.status(), 503);
    }
    let requests = server.count();
    assert!(
        requests <= CALLS + CALLS / 5,
        "{requests} requests for {CALLS} calls"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streamed_body_is_sent_once_and_its_outcome_returned() {
    let stream = || {
        let chunks: Vec<Result<&'static str, std::io::Error>> =
            vec![Ok("{\"name\":"), Ok("\"vm\"}")];
        reqwest::Body::wrap_stream(futures::stream::iter(chunks))
    };
    let server = Server::start([status(503)]).await;
    let client = client(RetryMiddleware::new(FAST));
    let response = client
        .put(server.url("/"))
        .body(stream())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(server.count(), 1, "a stream cannot be sent twice");
    assert_eq!(
        server.seen()[0].header("transfer-encoding"),
        Some("chunked")
    );

    let url = refusing_url().await;
    let error = client.put(&url).body(stream()).send().await.unwrap_err();
    assert!(
        matches!(&error, reqwest_middleware::Error::Reqwest(e) if e.is_connect()),
        "{error}"
    );
}

// ---- tower, in process, under the paused clock ----

/// One scripted outcome of the in-process service.
type Outcome = Result<http::Response<&'static str>, BoxError>;
/// When each call came, and its idempotency key.
type Calls = Arc<Mutex<Vec<(Duration, Option<String>)>>>;

/// A service answering each call with the next scripted status (then 200),
/// logging when each call came and the request's idempotency key.
#[derive(Clone)]
struct Scripted {
    script: Arc<Mutex<VecDeque<Outcome>>>,
    calls: Calls,
    origin: tokio::time::Instant,
}

#[allow(clippy::unnecessary_wraps)] // a scripted outcome may also be an error
fn response(status: u16, retry_after: Option<&'static str>) -> Outcome {
    let mut builder = http::Response::builder().status(status);
    if let Some(value) = retry_after {
        builder = builder.header("retry-after", value);
    }
    Ok(builder.body("answer").unwrap())
}

impl Scripted {
    fn new(script: impl IntoIterator<Item = Outcome>) -> Self {
        Scripted {
            script: Arc::new(Mutex::new(script.into_iter().collect())),
            calls: Arc::default(),
            origin: tokio::time::Instant::now(),
        }
    }

    fn calls(&self) -> Vec<(Duration, Option<String>)> {
        self.calls.lock().unwrap().clone()
    }

    fn times(&self) -> Vec<Duration> {
        self.calls().into_iter().map(|(at, _)| at).collect()
    }
}

impl tower::Service<http::Request<String>> for Scripted {
    type Response = http::Response<&'static str>;
    type Error = BoxError;
    type Future = std::future::Ready<Result<Self::Response, BoxError>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), BoxError>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<String>) -> Self::Future {
        let key = request
            .headers()
            .get("idempotency-key")
            .map(|value| value.to_str().unwrap().to_owned());
        self.calls
            .lock()
            .unwrap()
            .push((self.origin.elapsed(), key));
        let next = self.script.lock().unwrap().pop_front();
        std::future::ready(next.unwrap_or_else(|| response(200, None)))
    }
}

fn get() -> http::Request<String> {
    http::Request::get("/v1/instances")
        .body(String::new())
        .unwrap()
}

fn post() -> http::Request<String> {
    http::Request::post("/v1/instances")
        .body("{}".into())
        .unwrap()
}

const MS: fn(u64) -> Duration = Duration::from_millis;
const TOWER: RetryPolicy = RetryPolicy::new()
    .max_attempts(3)
    .base(Duration::from_millis(100));

#[tokio::test(start_paused = true)]
async fn tower_waits_the_backoff_and_the_retry_after_exactly() {
    let inner = Scripted::new([response(502, None), response(503, Some("2"))]);
    let service = RetryLayer::new(TOWER).layer(inner.clone());
    let answer = service.oneshot(get()).await.unwrap();
    assert_eq!(answer.status(), 200);
    // 100 ms of backoff, then the server's 2 s (never undercut by 200 ms).
    assert_eq!(inner.times(), [MS(0), MS(100), MS(2100)]);
}

#[tokio::test(start_paused = true)]
async fn tower_returns_a_post_502_and_retries_a_keyed_one() {
    let inner = Scripted::new([response(502, None)]);
    let answer = RetryLayer::new(TOWER)
        .layer(inner.clone())
        .oneshot(post())
        .await
        .unwrap();
    assert_eq!(answer.status(), 502);
    assert_eq!(inner.times(), [MS(0)]);

    let inner = Scripted::new([response(502, None), response(504, None)]);
    let layer = RetryLayer::new(TOWER).idempotency_key();
    let answer = layer.layer(inner.clone()).oneshot(post()).await.unwrap();
    assert_eq!(answer.status(), 200);
    let calls = inner.calls();
    assert_eq!(calls.len(), 3);
    assert!(calls[0].1.is_some());
    assert!(calls.iter().all(|(_, key)| *key == calls[0].1), "{calls:?}");
}

#[tokio::test(start_paused = true)]
async fn tower_stops_on_a_long_hint_and_returns_the_response() {
    let inner = Scripted::new([response(429, Some("120"))]);
    let answer = RetryLayer::new(TOWER.max_delay(Duration::from_secs(60)))
        .layer(inner.clone())
        .oneshot(get())
        .await
        .unwrap();
    assert_eq!(answer.status(), 429);
    assert_eq!(answer.headers()["retry-after"], "120");
    assert_eq!(inner.times(), [MS(0)]);
}

#[tokio::test(start_paused = true)]
async fn tower_classifies_service_errors_by_their_chain() {
    let refused = || {
        Err(BoxError::from(std::io::Error::from(
            std::io::ErrorKind::ConnectionRefused,
        )))
    };
    let inner = Scripted::new([refused(), refused()]);
    let answer = RetryLayer::new(TOWER)
        .layer(inner.clone())
        .oneshot(post())
        .await
        .unwrap();
    assert_eq!(answer.status(), 200, "never sent: retried even for a POST");
    assert_eq!(inner.times(), [MS(0), MS(100), MS(300)]);

    let opaque = || Err(BoxError::from("the connection broke"));
    let inner = Scripted::new([opaque()]);
    let error = RetryLayer::new(TOWER)
        .layer(inner.clone())
        .oneshot(post())
        .await
        .unwrap_err();
    assert_eq!(error.to_string(), "the connection broke");
    assert_eq!(
        inner.times(),
        [MS(0)],
        "unknown stage: not retried for a POST"
    );
}

#[tokio::test(start_paused = true)]
async fn tower_applies_the_attempt_timeout_and_the_deadline() {
    let slow = tower::service_fn(|_: http::Request<String>| async {
        tokio::time::sleep(Duration::from_secs(10)).await;
        Ok::<_, Infallible>(http::Response::new(()))
    });
    let start = tokio::time::Instant::now();
    let policy = TOWER.attempt_timeout(Duration::from_secs(1));
    let error = RetryLayer::new(policy)
        .layer(slow)
        .oneshot(get())
        .await
        .unwrap_err();
    assert!(error.downcast_ref::<TimedOut>().is_some(), "{error}");
    // Three attempts of 1 s, 100 and 200 ms apart.
    assert_eq!(start.elapsed(), MS(3300));

    let inner = Scripted::new((0..10).map(|_| response(503, None)));
    let policy = TOWER.max_attempts(10).deadline(MS(500));
    let answer = RetryLayer::new(policy)
        .layer(inner.clone())
        .oneshot(get())
        .await
        .unwrap();
    assert_eq!(answer.status(), 503);
    // 0, 100, 300: the next (700) would start past the deadline.
    assert_eq!(inner.times(), [MS(0), MS(100), MS(300)]);
}

#[tokio::test(start_paused = true)]
async fn tower_draws_on_a_shared_budget() {
    static BUDGET: RetryBudget = RetryBudget::new(2, 0.1);
    let inner = Scripted::new((0..10).map(|_| response(503, None)));
    let service = RetryLayer::new(TOWER).budget(&BUDGET).layer(inner.clone());
    let answer = service.oneshot(get()).await.unwrap();
    assert_eq!(answer.status(), 503);
    assert_eq!(inner.times(), [MS(0)], "1 of 2 tokens left: no retry");
}

#[derive(Debug, Clone, PartialEq)]
enum StoreError {
    Busy,
    Missing,
    TimedOut,
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}

impl From<TimedOut> for StoreError {
    fn from(_: TimedOut) -> Self {
        StoreError::TimedOut
    }
}

impl retry_runtime::Classify for StoreError {
    fn classify(&self) -> Class {
        match self {
            StoreError::Busy => Class::Transient,
            StoreError::TimedOut => Class::Ambiguous,
            StoreError::Missing => Class::Permanent,
        }
    }
}

#[tokio::test(start_paused = true)]
async fn tower_with_a_classifier_retries_any_service() {
    let script = Arc::new(Mutex::new(VecDeque::from([
        Err(StoreError::Busy),
        Err(StoreError::Busy),
        Ok(7_usize),
    ])));
    let calls = Arc::new(Mutex::new(Vec::new()));
    let origin = tokio::time::Instant::now();
    let store = {
        let (script, calls) = (script.clone(), calls.clone());
        tower::service_fn(move |key: String| {
            calls.lock().unwrap().push((origin.elapsed(), key));
            let next = script
                .lock()
                .unwrap()
                .pop_front()
                .unwrap_or(Err(StoreError::Missing));
            async move { next }
        })
    };
    let service = RetryLayer::new(TOWER).classify(ByTrait).layer(store);
    assert_eq!(service.clone().oneshot("vm".to_owned()).await, Ok(7));
    let seen = calls.lock().unwrap().clone();
    assert_eq!(
        seen,
        [
            (MS(0), "vm".to_owned()),
            (MS(100), "vm".to_owned()),
            (MS(300), "vm".to_owned())
        ]
    );
    assert_eq!(
        service.oneshot("gone".to_owned()).await,
        Err(StoreError::Missing)
    );
    assert_eq!(calls.lock().unwrap().len(), 4, "Permanent: one attempt");
}

/// Collects what a `fmt` subscriber writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn retries_are_reported_as_retry_reports_them_in_a_span_naming_the_request() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_max_level(tracing::Level::INFO)
        .without_time()
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let inner = Scripted::new([response(503, None), response(502, None)]);
    let answer = RetryLayer::new(TOWER)
        .layer(inner)
        .oneshot(post())
        .await
        .unwrap();
    assert_eq!(answer.status(), 502);

    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), 2, "{log}");
    assert!(
        lines[0].contains("INFO http{method=POST uri=/v1/instances}"),
        "{log}"
    );
    assert!(
        lines[0].contains("attempt 1/3 failed; retrying in 100ms"),
        "{log}"
    );
    assert!(lines[0].contains("class=\"transient\""), "{log}");
    assert!(
        lines[1].contains("WARN http{method=POST uri=/v1/instances}"),
        "{log}"
    );
    assert!(
        lines[1].contains("ambiguous failures are not retried here"),
        "{log}"
    );
    assert!(lines[1].contains("HTTP 502 Bad Gateway"), "{log}");
}
