//! `notify = expr` (closures that capture, values implementing `Notify`,
//! evaluated once per call) and `backoff = ..`, through `#[retry]`, under
//! tokio's paused clock.

use std::cell::{Cell, RefCell};
use std::io::{Error, ErrorKind};
use std::time::Duration;

use retry_runtime::{Notify, RetryEvent, retry};
use retry_tests::Starts;

const MS: fn(u64) -> Duration = Duration::from_millis;
const S: fn(u64) -> Duration = Duration::from_secs;

fn refused() -> Error {
    Error::from(ErrorKind::ConnectionRefused)
}

/// What a hook saw of one retry: attempt, delay, elapsed, and the name the
/// hook captured from the function's argument.
type Seen = (u32, Duration, Duration, String);

/// Fails until `succeed_at`, with a hook that captures `log` and `name`
/// (arguments of the function) and sees each retry.
#[retry(max = 4, base = "100ms", notify = |event: &RetryEvent<'_, Error>| {
    log.borrow_mut().push((event.attempt, event.delay, event.elapsed, name.to_owned()));
})]
async fn fetch(
    name: &str,
    succeed_at: u32,
    calls: &Cell<u32>,
    log: &RefCell<Vec<Seen>>,
) -> Result<u32, Error> {
    calls.set(calls.get() + 1);
    if calls.get() < succeed_at {
        return Err(refused());
    }
    Ok(calls.get())
}

#[tokio::test(start_paused = true)]
async fn a_capturing_closure_sees_each_retry_with_its_elapsed_time() {
    let (calls, log) = (Cell::new(0), RefCell::new(Vec::new()));
    assert_eq!(fetch("vm", 3, &calls, &log).await.unwrap(), 3);
    assert_eq!(
        log.into_inner(),
        [
            (1, MS(100), MS(0), "vm".to_owned()),
            (2, MS(200), MS(100), "vm".to_owned()),
        ]
    );
}

/// A closure without argument types: the macro gives it the function's
/// error type.
#[retry(max = 3, base = "1s", notify = |event| seen.set(seen.get() + event.attempt))]
async fn untyped_closure(seen: &Cell<u32>) -> Result<(), Error> {
    Err(refused())
}

#[tokio::test(start_paused = true)]
async fn a_closure_needs_no_argument_types() {
    let seen = Cell::new(0);
    untyped_closure(&seen).await.unwrap_err();
    assert_eq!(seen.get(), 1 + 2);
}

/// A value implementing `Notify`, built by an expression that counts its
/// evaluations: once per call, whatever the number of retries.
struct Counter<'a> {
    retries: &'a Cell<u32>,
}

impl Notify<Error> for Counter<'_> {
    fn notify(&mut self, _: &RetryEvent<'_, Error>) {
        self.retries.set(self.retries.get() + 1);
    }
}

fn counter<'a>(built: &Cell<u32>, retries: &'a Cell<u32>) -> Counter<'a> {
    built.set(built.get() + 1);
    Counter { retries }
}

#[retry(max = 5, base = "10ms", notify = counter(built, retries))]
async fn counted(built: &Cell<u32>, retries: &Cell<u32>) -> Result<(), Error> {
    Err(refused())
}

#[tokio::test(start_paused = true)]
async fn a_notify_expression_is_evaluated_once_per_call() {
    let (built, retries) = (Cell::new(0), Cell::new(0));
    counted(&built, &retries).await.unwrap_err();
    counted(&built, &retries).await.unwrap_err();
    assert_eq!((built.get(), retries.get()), (2, 8));
}

struct Service {
    name: &'static str,
    retried: RefCell<Vec<String>>,
}

impl Service {
    /// The hook uses `self`.
    #[retry(max = 2, base = "1ms", notify = |event: &RetryEvent<'_, Error>| {
        self.retried.borrow_mut().push(format!("{}: {}", self.name, event.error));
    })]
    async fn call(&self) -> Result<(), Error> {
        Err(refused())
    }

    /// And on a blocking function.
    #[retry(max = 3, base = "1ms", notify = |event| {
        self.retried.borrow_mut().push(format!("{} #{}", self.name, event.attempt));
    })]
    fn call_blocking(&self) -> Result<(), Error> {
        Err(refused())
    }
}

#[tokio::test(start_paused = true)]
async fn hooks_may_use_self_in_async_and_blocking_methods() {
    let service = Service {
        name: "gateway",
        retried: RefCell::new(Vec::new()),
    };
    service.call().await.unwrap_err();
    service.call_blocking().unwrap_err();
    assert_eq!(
        service.retried.into_inner(),
        ["gateway: connection refused", "gateway #1", "gateway #2"]
    );
}

#[retry(retries = 6, base = "1s", max_delay = "6s", backoff = fibonacci)]
async fn fibonacci(starts: &Starts, origin: tokio::time::Instant) -> Result<(), Error> {
    starts.mark(origin);
    Err(refused())
}

#[retry(retries = 4, base = "250ms", backoff = linear)]
async fn linear(starts: &Starts, origin: tokio::time::Instant) -> Result<(), Error> {
    starts.mark(origin);
    Err(refused())
}

#[tokio::test(start_paused = true)]
async fn the_backoff_key_sets_the_growth() {
    let origin = tokio::time::Instant::now();
    let starts = Starts::default();
    fibonacci(&starts, origin).await.unwrap_err();
    assert_eq!(starts.gaps(), [S(1), S(1), S(2), S(3), S(5), S(6)]);

    let starts = Starts::default();
    linear(&starts, origin).await.unwrap_err();
    assert_eq!(starts.gaps(), [MS(250), MS(500), MS(750), MS(1000)]);
}
