//! What the retrying middleware costs per successful request, beside
//! reqwest-retry's, side by side in one run against a server on loopback.
//!
//! `cargo bench -p retry-benches --bench middleware`
//!
//! Every case sends `GET /` through a pooled keep-alive connection to a
//! local axum server and reads the 2-byte body; no request fails, so the
//! difference between cases is what each layer adds to a success:
//!
//! - `reqwest`: the plain client;
//! - `reqwest-middleware, empty`: the middleware chain with no middleware;
//! - `RetryMiddleware`: this crate's, 3 attempts, 250 ms doubling;
//! - `reqwest-retry 0.9`: `RetryTransientMiddleware`, exponential backoff,
//!   2 retries (3 attempts).
//!
//! Server and client share one multi-thread runtime (2 workers), as a
//! service calling another on the same host would.

use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use retry_runtime::RetryPolicy;
use retry_runtime::http::RetryMiddleware;

const POLICY: RetryPolicy = RetryPolicy::new()
    .max_attempts(3)
    .base(Duration::from_millis(250));

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a multi-thread runtime")
}

/// Starts the server; returns its URL.
fn serve(runtime: &tokio::runtime::Runtime) -> String {
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let url = format!("http://{}/", listener.local_addr().expect("bound"));
        let app = axum::Router::new().route("/", axum::routing::get(|| async { "ok" }));
        tokio::spawn(async move { axum::serve(listener, app).await });
        url
    })
}

async fn send(client: &ClientWithMiddleware, url: &str) {
    let response = client.get(url).send().await.expect("the server answers");
    assert!(response.status().is_success());
    let body = response.bytes().await.expect("a whole body");
    assert_eq!(&body[..], b"ok");
}

fn success(c: &mut Criterion) {
    let runtime = runtime();
    let url = serve(&runtime);
    let plain = reqwest::Client::new();
    let reqwest_retry = reqwest_retry::RetryTransientMiddleware::new_with_policy(
        reqwest_retry::policies::ExponentialBackoff::builder().build_with_max_retries(2),
    );
    let clients: [(&str, ClientWithMiddleware); 3] = [
        (
            "reqwest-middleware, empty",
            ClientBuilder::new(plain.clone()).build(),
        ),
        (
            "RetryMiddleware",
            ClientBuilder::new(plain.clone())
                .with(RetryMiddleware::new(POLICY))
                .build(),
        ),
        (
            "reqwest-retry 0.9",
            ClientBuilder::new(plain.clone())
                .with(reqwest_retry)
                .build(),
        ),
    ];

    let mut group = c.benchmark_group("middleware-success");
    // Tens of microseconds per request over loopback: a few seconds per
    // case hold the medians steady.
    group
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    group.bench_function("reqwest", |b| {
        b.iter_custom(|iters| {
            runtime.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    let response = plain.get(&url).send().await.expect("the server answers");
                    let body = response.bytes().await.expect("a whole body");
                    assert_eq!(&body[..], b"ok");
                }
                start.elapsed()
            })
        });
    });
    for (name, client) in &clients {
        group.bench_function(*name, |b| {
            b.iter_custom(|iters| {
                runtime.block_on(async {
                    let start = Instant::now();
                    for _ in 0..iters {
                        send(client, &url).await;
                    }
                    start.elapsed()
                })
            });
        });
    }
    group.finish();
}

criterion_group!(benches, success);
criterion_main!(benches);
