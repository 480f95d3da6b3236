//! `retry_runtime::http` with `#[retry]` and reqwest, against a real server
//! on loopback that fails the way real ones do.
//!
//! Real sockets need the real clock, so these tests assert request counts,
//! classes, stop reasons and lower bounds on elapsed time, never tight
//! upper bounds. They run on the multi-thread runtime, as the examples do.

mod support;

use std::time::{Duration, Instant, SystemTime};

use retry_runtime::http::{self, HttpError};
use retry_runtime::{Class, Classify, RetryPolicy, StopReason, retry};
use support::{Reply, Server, ok, refusing_url, status, with_header};

/// DESIGN.md's example, as a user writes it.
#[retry(max = 4, base = "200ms", timeout = "2s")]
async fn fetch(client: &reqwest::Client, url: &str) -> Result<String, HttpError> {
    let response = http::check(client.get(url).send().await?)?;
    Ok(response.text().await?)
}

/// The same, retrying `Ambiguous` failures too: what an idempotent GET may do.
#[retry(max = 4, base = "200ms", timeout = "2s", on = Transient | Ambiguous)]
async fn fetch_idempotent(client: &reqwest::Client, url: &str) -> Result<String, HttpError> {
    let response = http::check(client.get(url).send().await?)?;
    Ok(response.text().await?)
}

async fn post_once(client: &reqwest::Client, url: &str) -> Result<String, HttpError> {
    let response = http::check(client.post(url).body("{}").send().await?)?;
    Ok(response.text().await?)
}

fn client() -> reqwest::Client {
    reqwest::Client::new()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_503_retry_after_in_seconds_is_waited() {
    let server = Server::start([with_header(503, "retry-after", "1"), ok("done")]).await;
    let start = Instant::now();
    let body = fetch(&client(), &server.url("/")).await.unwrap();
    assert_eq!(body, "done");
    assert!(
        start.elapsed() >= Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(server.count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_retry_after_date_is_waited() {
    // Whole seconds: a date two seconds ahead is at least one second away.
    let date = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(2));
    let server = Server::start([with_header(429, "retry-after", date), ok("done")]).await;
    let start = Instant::now();
    assert_eq!(fetch(&client(), &server.url("/")).await.unwrap(), "done");
    assert!(
        start.elapsed() >= Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(server.count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hint_reaches_the_error_and_the_history() {
    let server = Server::start([with_header(503, "retry-after", "1"), ok("done")]).await;
    let url = server.url("/");
    let http_client = client();
    let report = RetryPolicy::new()
        .base(Duration::from_millis(200))
        .retry(|_| post_once(&http_client, &url))
        .report()
        .await;
    assert_eq!(report.result.unwrap(), "done");
    assert_eq!(report.history[0].class, Class::Transient);
    assert_eq!(
        report.history[0].label.as_deref(),
        Some("Service Unavailable")
    );
    assert_eq!(report.history[0].delay, Some(Duration::from_secs(1)));
    assert_eq!(
        report.history[0].error,
        "HTTP 503 Service Unavailable (retry after 1s)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_404_is_one_attempt_and_permanent() {
    let server = Server::start([status(404)]).await;
    let error = fetch(&client(), &server.url("/")).await.unwrap_err();
    assert_eq!(error.status(), Some(reqwest::StatusCode::NOT_FOUND));
    assert_eq!(error.classify(), Class::Permanent);
    assert_eq!(server.count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_cut_short_is_ambiguous_and_retried_only_when_idempotent() {
    let server = Server::start([Reply::CutBody]).await;
    let error = fetch(&client(), &server.url("/")).await.unwrap_err();
    assert_eq!(error.classify(), Class::Ambiguous, "{error}");
    assert_eq!(error.label(), Some("body cut short"));
    assert_eq!(server.count(), 1, "Transient only: not retried");

    let server = Server::start([Reply::CutBody, ok("whole")]).await;
    let body = fetch_idempotent(&client(), &server.url("/")).await.unwrap();
    assert_eq!(body, "whole");
    assert_eq!(server.count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_does_not_parse_is_permanent() {
    let server = Server::start([ok("not json")]).await;
    let response = client().get(server.url("/")).send().await.unwrap();
    let error = response.json::<Vec<u32>>().await.unwrap_err();
    assert_eq!(HttpError::from(error).classify(), Class::Permanent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_reset_after_the_request_was_read_is_ambiguous() {
    let server = Server::start([Reply::ResetAfterRequest]).await;
    let url = server.url("/v1/instances");
    let http_client = client();
    let report = RetryPolicy::new()
        .retry(|_| post_once(&http_client, &url))
        .report()
        .await;
    let error = report.result.unwrap_err();
    assert_eq!(error.classify(), Class::Ambiguous, "{error}");
    assert_eq!(
        report.stop,
        Some(StopReason::NotRetryable(Class::Ambiguous))
    );
    assert_eq!(server.count(), 1);
    assert_eq!(server.seen()[0].body, b"{}", "the server read the request");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_connection_is_transient_and_retried() {
    let url = refusing_url().await;
    let http_client = client();
    let start = Instant::now();
    let report = RetryPolicy::new()
        .base(Duration::from_millis(50))
        .retry(|_| post_once(&http_client, &url))
        .report()
        .await;
    let error = report.result.unwrap_err();
    assert_eq!(error.classify(), Class::Transient, "{error}");
    assert_eq!(error.label(), Some("connect"));
    assert_eq!(report.attempts, 3);
    assert_eq!(report.stop, Some(StopReason::Exhausted { attempts: 3 }));
    assert!(start.elapsed() >= Duration::from_millis(150));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timed_out_attempt_is_ambiguous() {
    let server = Server::start([Reply::Stall(Duration::from_secs(5))]).await;
    let url = server.url("/");
    let http_client = client();
    let error = RetryPolicy::new()
        .attempt_timeout(Duration::from_millis(300))
        .retry(|_| post_once(&http_client, &url))
        .on_timeout(HttpError::from)
        .await
        .unwrap_err();
    assert!(matches!(error, HttpError::TimedOut(_)), "{error}");
    assert_eq!(error.classify(), Class::Ambiguous);
    assert_eq!(server.count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_after_beyond_max_delay_stops() {
    let server = Server::start([with_header(503, "retry-after", "120")]).await;
    let url = server.url("/");
    let http_client = client();
    let report = RetryPolicy::new()
        .max_delay(Duration::from_secs(10))
        .retry(|_| post_once(&http_client, &url))
        .report()
        .await;
    assert_eq!(
        report.stop,
        Some(StopReason::RetryAfterTooLong {
            retry_after: Duration::from_secs(120)
        })
    );
    assert_eq!(server.count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_retry_after_leaves_the_backoff() {
    for value in ["soon", "-1", "1.5", "Sun, 99 Nov 1994 08:49:37 GMT"] {
        let server = Server::start([with_header(503, "retry-after", value), ok("done")]).await;
        let url = server.url("/");
        let http_client = client();
        let report = RetryPolicy::new()
            .base(Duration::from_millis(20))
            .retry(|_| post_once(&http_client, &url))
            .report()
            .await;
        assert_eq!(report.result.unwrap(), "done", "{value}");
        assert_eq!(
            report.history[0].delay,
            Some(Duration::from_millis(20)),
            "{value}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn builder_errors_are_permanent() {
    let error = client()
        .get("http://127.0.0.1:notaport/")
        .send()
        .await
        .unwrap_err();
    assert_eq!(HttpError::from(error).classify(), Class::Permanent);
}
