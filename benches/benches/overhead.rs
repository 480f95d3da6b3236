//! What a retry costs when nothing fails, and when two attempts fail,
//! for this crate and its peers, side by side in one run.
//!
//! `cargo bench -p retry-benches --bench overhead`, then
//! `cargo run --release -p retry-benches --bin bench-report` for the table
//! of medians, ratios and future sizes.
//!
//! - `success`: the first attempt succeeds. Each future is polled once with
//!   a no-op waker where it was built (`pin!`, as `.await` does), inside a
//!   runtime context for the peers that need one: the measurement is the
//!   retry machinery, not an executor or moves of the future.
//! - `two-failures-250ms`: two transient failures then success, 250 ms
//!   doubling, on a current-thread runtime with tokio's paused clock (the
//!   sleeps are real timer registrations; no wall-clock time passes).
//! - `two-failures-zero-delay`: the same with no delay: a good
//!   implementation does not touch the timer at all.

use std::hint::black_box;
use std::pin::pin;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use retry_benches::overhead::{
    BASE, Op, attribute, attribute_zero, backon, bare, complete_now, hand_loop, policy_retry,
    policy_retry_zero, tokio_retry2,
};

fn paused() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("a current-thread runtime")
}

fn success(c: &mut Criterion) {
    let runtime = paused();
    let _context = runtime.enter();
    let mut group = c.benchmark_group("success");
    // Nanosecond-scale: more samples and time than the default, so that
    // run-to-run noise (a few ns on a shared VM) stays below the effects.
    group
        .sample_size(300)
        .measurement_time(std::time::Duration::from_secs(10));
    group.bench_function("bare call", |b| {
        b.iter(|| complete_now(pin!(bare(black_box(&Op::new(0)), 1))));
    });
    group.bench_function("#[retry]", |b| {
        b.iter(|| complete_now(pin!(attribute(black_box(&Op::new(0))))));
    });
    group.bench_function("RetryPolicy::retry", |b| {
        b.iter(|| complete_now(pin!(policy_retry(black_box(&Op::new(0))))));
    });
    group.bench_function("hand-written loop", |b| {
        b.iter(|| complete_now(pin!(hand_loop(black_box(&Op::new(0)), BASE))));
    });
    group.bench_function("backon 1.6", |b| {
        b.iter(|| complete_now(pin!(backon(black_box(&Op::new(0)), BASE))));
    });
    group.bench_function("tokio-retry2 0.9", |b| {
        b.iter(|| complete_now(pin!(tokio_retry2(black_box(&Op::new(0)), BASE))));
    });
    group.finish();
}

/// The success path as services meet it: each call awaited in turn inside
/// one `block_on`, the approaches interleaved in one run. Building the
/// future in place inside an `async` block and awaiting it is where the
/// layout of a future shows (stores and reloads of its fields), which the
/// single poll of `success` hides.
fn success_awaited(c: &mut Criterion) {
    let runtime = paused();
    let mut group = c.benchmark_group("success-awaited");
    group
        .sample_size(200)
        .measurement_time(std::time::Duration::from_secs(5));
    macro_rules! awaited {
        ($name:literal, |$op:ident| $call:expr) => {
            group.bench_function($name, |b| {
                b.iter_custom(|iters| {
                    runtime.block_on(async {
                        let $op = Op::new(0);
                        let start = std::time::Instant::now();
                        for _ in 0..iters {
                            black_box($call.await.ok());
                        }
                        start.elapsed()
                    })
                });
            });
        };
    }
    awaited!("bare call", |op| bare(black_box(&op), 1));
    awaited!("#[retry]", |op| attribute(black_box(&op)));
    awaited!("RetryPolicy::retry", |op| policy_retry(black_box(&op)));
    awaited!("hand-written loop", |op| hand_loop(black_box(&op), BASE));
    awaited!("backon 1.6", |op| backon(black_box(&op), BASE));
    awaited!("tokio-retry2 0.9", |op| tokio_retry2(black_box(&op), BASE));
    group.finish();
}

fn failures(c: &mut Criterion, name: &str, base: Duration) {
    let runtime = paused();
    let mut group = c.benchmark_group(name);
    group.bench_function("bare call", |b| {
        b.iter(|| runtime.block_on(bare(black_box(&Op::new(2)), 3)));
    });
    group.bench_function("#[retry]", |b| {
        b.iter(|| {
            let op = Op::new(2);
            if base.is_zero() {
                runtime.block_on(attribute_zero(black_box(&op)))
            } else {
                runtime.block_on(attribute(black_box(&op)))
            }
        });
    });
    group.bench_function("RetryPolicy::retry", |b| {
        b.iter(|| {
            let op = Op::new(2);
            if base.is_zero() {
                runtime.block_on(policy_retry_zero(black_box(&op)))
            } else {
                runtime.block_on(policy_retry(black_box(&op)))
            }
        });
    });
    group.bench_function("hand-written loop", |b| {
        b.iter(|| runtime.block_on(hand_loop(black_box(&Op::new(2)), base)));
    });
    group.bench_function("backon 1.6", |b| {
        b.iter(|| runtime.block_on(backon(black_box(&Op::new(2)), base)));
    });
    group.bench_function("tokio-retry2 0.9", |b| {
        b.iter(|| runtime.block_on(tokio_retry2(black_box(&Op::new(2)), base)));
    });
    group.finish();
}

fn two_failures(c: &mut Criterion) {
    failures(c, "two-failures-250ms", BASE);
}

fn two_failures_zero_delay(c: &mut Criterion) {
    failures(c, "two-failures-zero-delay", Duration::ZERO);
}

criterion_group!(
    benches,
    success,
    success_awaited,
    two_failures,
    two_failures_zero_delay
);
criterion_main!(benches);
