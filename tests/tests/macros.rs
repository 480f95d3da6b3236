//! `#[retry]` and `#[derive(Classify)]` as users write them, under tokio's
//! paused clock.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io;
use std::rc::Rc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use retry_runtime::{Class, Classify, RetryBudget, RetryEvent, RetryPolicy, TimedOut, retry};
use tokio::time::Instant;

const MS: fn(u64) -> Duration = Duration::from_millis;
const S: fn(u64) -> Duration = Duration::from_secs;

// ---------------------------------------------------------------------------
// The workload manager: a create that must not be retried once it may have
// committed.

#[derive(Debug, Clone, PartialEq)]
struct Instance {
    name: String,
}

#[derive(Debug, thiserror::Error)]
enum CreateError {
    #[error("gateway answered {0}")]
    Status(u16),
    #[error("timed out")]
    TimedOut(#[from] TimedOut),
}

impl Classify for CreateError {
    fn classify(&self) -> Class {
        match self {
            // 500: agent create failed; 503: no placement. Nothing was created.
            CreateError::Status(500 | 503) => Class::Transient,
            // The gateway lost the node's answer: the VM may exist.
            CreateError::Status(502 | 504) | CreateError::TimedOut(_) => Class::Ambiguous,
            CreateError::Status(_) => Class::Permanent,
        }
    }
}

/// A scripted gateway: answers each create with the next status, records
/// the names it was asked for and when.
struct Gateway {
    script: Mutex<VecDeque<u16>>,
    seen: Mutex<Vec<(String, Duration)>>,
    origin: Instant,
}

impl Gateway {
    fn new(script: &[u16]) -> Self {
        Gateway {
            script: Mutex::new(script.iter().copied().collect()),
            seen: Mutex::new(Vec::new()),
            origin: Instant::now(),
        }
    }

    async fn create(&self, name: &str) -> Result<Instance, CreateError> {
        tokio::task::yield_now().await; // an exchange with the gateway
        self.seen
            .lock()
            .unwrap()
            .push((name.to_owned(), self.origin.elapsed()));
        match self.script.lock().unwrap().pop_front() {
            Some(201) => Ok(Instance {
                name: name.to_owned(),
            }),
            Some(status) => Err(CreateError::Status(status)),
            None => panic!("gateway called more often than scripted"),
        }
    }

    fn seen(&self) -> Vec<(String, Duration)> {
        self.seen.lock().unwrap().clone()
    }
}

fn retry_name(name: &str, attempt: u32) -> String {
    if attempt == 1 {
        name.to_owned()
    } else {
        format!("{name}-r{}", attempt - 1)
    }
}

struct Supervisor {
    gateway: Gateway,
}

impl Supervisor {
    #[retry(max = 3, base = "250ms", on = Transient, attempt = attempt)]
    async fn create(&self, name: &str) -> Result<Instance, CreateError> {
        let name = retry_name(name, attempt);
        self.gateway.create(&name).await
    }

    #[retry(max = 3, base = "250ms", on = Transient | Ambiguous, attempt = attempt)]
    async fn create_idempotent(&self, name: &str) -> Result<Instance, CreateError> {
        self.gateway.create(&retry_name(name, attempt)).await
    }
}

#[tokio::test(start_paused = true)]
async fn transient_failures_are_retried_under_fresh_names() {
    let supervisor = Supervisor {
        gateway: Gateway::new(&[503, 500, 201]),
    };
    let instance = supervisor.create("vm").await.unwrap();
    assert_eq!(instance.name, "vm-r2");
    assert_eq!(
        supervisor.gateway.seen(),
        [
            ("vm".into(), MS(0)),
            ("vm-r1".into(), MS(250)),
            ("vm-r2".into(), MS(750))
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn may_have_committed_is_returned_at_once() {
    for status in [502, 504] {
        let supervisor = Supervisor {
            gateway: Gateway::new(&[status]),
        };
        let error = supervisor.create("vm").await.unwrap_err();
        assert!(matches!(error, CreateError::Status(s) if s == status));
        assert_eq!(supervisor.gateway.seen(), [("vm".into(), MS(0))]);
    }
}

#[tokio::test(start_paused = true)]
async fn idempotent_operations_opt_into_ambiguous_retries() {
    let supervisor = Supervisor {
        gateway: Gateway::new(&[502, 504, 201]),
    };
    assert_eq!(
        supervisor.create_idempotent("vm").await.unwrap().name,
        "vm-r2"
    );
    assert_eq!(supervisor.gateway.seen().len(), 3);
}

#[tokio::test(start_paused = true)]
async fn attempts_run_out() {
    let supervisor = Supervisor {
        gateway: Gateway::new(&[503, 503, 503]),
    };
    assert!(matches!(
        supervisor.create("vm").await,
        Err(CreateError::Status(503))
    ));
    assert_eq!(supervisor.gateway.origin.elapsed(), MS(750));
}

// ---------------------------------------------------------------------------
// The trial executor: exponential backoff capped at 60 s.

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct TrialFailure(&'static str);

impl Classify for TrialFailure {
    fn classify(&self) -> Class {
        retry_runtime::INFRASTRUCTURE.classify(self.0)
    }
}

#[retry(retries = 7, base = "2s", attempt = attempt)]
async fn run_trial(
    starts: &RefCell<Vec<Duration>>,
    origin: Instant,
    output: &'static str,
) -> Result<u32, TrialFailure> {
    starts.borrow_mut().push(origin.elapsed());
    Err(TrialFailure(output)).map(|()| attempt)
}

#[tokio::test(start_paused = true)]
async fn trial_backoff_doubles_to_the_cap() {
    let starts = RefCell::new(Vec::new());
    let origin = Instant::now();
    let error = run_trial(&starts, origin, "connect: Connection refused")
        .await
        .unwrap_err();
    assert_eq!(error.0, "connect: Connection refused");
    let starts = starts.into_inner();
    let gaps: Vec<u64> = starts
        .windows(2)
        .map(|pair| pair[1].saturating_sub(pair[0]).as_secs())
        .collect();
    assert_eq!(gaps, [2, 4, 8, 16, 32, 60, 60]);

    let crashes = RefCell::new(Vec::new());
    assert!(
        run_trial(&crashes, origin, "Segmentation fault")
            .await
            .is_err()
    );
    assert_eq!(crashes.into_inner().len(), 1, "a crash is never retried");
}

// ---------------------------------------------------------------------------
// Function shapes.

struct Counter {
    failures_left: u32,
    calls: u32,
}

fn step(counter: &mut Counter) -> io::Result<u32> {
    counter.calls += 1;
    if counter.failures_left > 0 {
        counter.failures_left -= 1;
        return Err(io::ErrorKind::ResourceBusy.into());
    }
    Ok(counter.calls)
}

impl Counter {
    /// `&mut self`, `?` ending the attempt, an `io::Result` alias.
    #[retry(base = "10ms")]
    async fn bump(&mut self) -> io::Result<u32> {
        let calls = step(self)?;
        Ok(calls * 10)
    }

    /// `return` ends the attempt too.
    #[allow(clippy::question_mark)] // the point is the explicit `return`
    #[retry(max = 4, base = "10ms")]
    async fn bump_with_return(&mut self) -> io::Result<u32> {
        if let Err(error) = step(self) {
            return Err(error);
        }
        Ok(self.calls)
    }

    /// A blocking function.
    #[retry(max = 5, base = "0ms", attempt = n)]
    fn bump_blocking(&mut self, seen: &mut Vec<u32>) -> io::Result<u32> {
        seen.push(n);
        step(self)
    }
}

#[tokio::test(start_paused = true)]
async fn mut_self_with_question_mark_and_return() {
    let mut counter = Counter {
        failures_left: 2,
        calls: 0,
    };
    assert_eq!(counter.bump().await.unwrap(), 30);
    let mut counter = Counter {
        failures_left: 3,
        calls: 0,
    };
    assert_eq!(counter.bump_with_return().await.unwrap(), 4);
}

#[test]
fn blocking_functions_retry_too() {
    let mut counter = Counter {
        failures_left: 3,
        calls: 0,
    };
    let mut seen = Vec::new();
    assert_eq!(counter.bump_blocking(&mut seen).unwrap(), 4);
    assert_eq!(seen, [1, 2, 3, 4]);
}

#[derive(Debug, Clone)]
struct Job {
    payload: String,
}

thread_local! {
    static EVENTS: RefCell<Vec<(u32, Duration, Class)>> = const { RefCell::new(Vec::new()) };
}

fn record(event: &RetryEvent<'_, io::Error>) {
    EVENTS.with(|events| {
        events
            .borrow_mut()
            .push((event.attempt, event.delay, event.class));
    });
}

impl Job {
    /// A by-value `self`, cloned for each attempt.
    #[retry(max = 3, base = "1ms", factor = 3, notify = record, attempt = attempt)]
    fn consume(self, fail_until: u32) -> io::Result<String> {
        let payload = self.payload; // moves out of this attempt's clone
        if attempt < fail_until {
            return Err(io::ErrorKind::Interrupted.into());
        }
        Ok(format!("{payload}#{attempt}"))
    }
}

#[test]
fn by_value_self_is_cloned_per_attempt() {
    EVENTS.with(|events| events.borrow_mut().clear());
    let job = Job {
        payload: "trial".into(),
    };
    assert_eq!(job.consume(3).unwrap(), "trial#3");
    let events = EVENTS.with(|events| events.borrow().clone());
    assert_eq!(
        events,
        [(1, MS(1), Class::Transient), (2, MS(3), Class::Transient)]
    );
}

/// Generic, with a `where` clause, an `impl Trait` argument and a by-value
/// argument the body consumes.
#[retry(base = "1s", attempt = attempt)]
async fn generic<T, F>(
    mut values: Vec<T>,
    describe: impl Fn(&T) -> String + Clone,
    fail: F,
) -> Result<String, io::Error>
where
    T: Clone + std::fmt::Debug,
    F: Fn(u32) -> bool + Clone,
{
    values.truncate(1); // mutates this attempt's clone only
    if fail(attempt) {
        return Err(io::ErrorKind::WouldBlock.into());
    }
    Ok(values.into_iter().map(|value| describe(&value)).collect())
}

#[tokio::test(start_paused = true)]
async fn generics_impl_trait_and_by_value_arguments() {
    let origin = Instant::now();
    let out = generic(vec![1, 2, 3], |n| format!("<{n}>"), |attempt| attempt < 3).await;
    assert_eq!(out.unwrap(), "<1>");
    assert_eq!(origin.elapsed(), S(3));
}

trait Store {
    async fn put(&self, key: &str) -> io::Result<String>;
}

struct Flaky(AtomicU32);

impl Store for Flaky {
    #[retry(base = "5ms")]
    async fn put(&self, key: &str) -> io::Result<String> {
        if self.0.fetch_sub(1, Ordering::Relaxed) > 0 {
            Err(io::ErrorKind::ConnectionRefused.into())
        } else {
            Ok(key.to_uppercase())
        }
    }
}

#[tokio::test(start_paused = true)]
async fn trait_impl_methods() {
    assert_eq!(Flaky(AtomicU32::new(2)).put("k").await.unwrap(), "K");
    assert!(Flaky(AtomicU32::new(3)).put("k").await.is_err());
}

// ---------------------------------------------------------------------------
// Macros in the body: a macro that hides a `return` must end the attempt,
// not the function.

macro_rules! bail {
    ($error:expr) => {
        return Err($error)
    };
}

#[retry(max = 3, base = "1ms", attempt = attempt)]
async fn hides_a_return() -> io::Result<u32> {
    if attempt < 3 {
        bail!(io::Error::from(io::ErrorKind::ConnectionRefused));
    }
    println!("attempt {attempt}"); // a transparent macro beside it
    Ok(attempt)
}

#[retry(max = 3, base = "1ms", attempt = attempt)]
fn hides_a_return_blocking() -> io::Result<u32> {
    if attempt < 2 {
        bail!(io::Error::from(io::ErrorKind::ConnectionRefused));
    }
    Ok(attempt)
}

#[tokio::test(start_paused = true)]
async fn returns_hidden_in_macros_end_the_attempt() {
    assert_eq!(hides_a_return().await.unwrap(), 3);
    assert_eq!(hides_a_return_blocking().unwrap(), 2);
}

// ---------------------------------------------------------------------------
// Keys.

fn classify_status(status: u16) -> Class {
    match status {
        503 => Class::Transient,
        _ => Class::Permanent,
    }
}

#[derive(Debug)]
struct Status(u16);

#[retry(max = 4, base = "100ms", classify = classify_by_code, attempt = attempt)]
async fn foreign_error(codes: &[u16]) -> Result<(), Status> {
    Err(Status(codes[attempt as usize - 1]))
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HTTP {}", self.0)
    }
}

fn classify_by_code(status: &Status) -> Class {
    classify_status(status.0)
}

#[tokio::test(start_paused = true)]
async fn classify_key_for_foreign_errors() {
    let origin = Instant::now();
    assert_eq!(
        foreign_error(&[503, 503, 404, 503]).await.unwrap_err().0,
        404
    );
    assert_eq!(origin.elapsed(), MS(300));
}

struct Options {
    retry: RetryPolicy,
}

struct Runner {
    options: Options,
    calls: AtomicU32,
}

impl Runner {
    #[retry(policy = self.options.retry)]
    async fn run(&self) -> io::Result<()> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        Err(io::ErrorKind::ResourceBusy.into())
    }
}

#[tokio::test(start_paused = true)]
async fn policy_from_the_struct_options() {
    let runner = Runner {
        options: Options {
            retry: RetryPolicy::new().max_attempts(5).base(S(1)).factor(1.0),
        },
        calls: AtomicU32::new(0),
    };
    let origin = Instant::now();
    assert!(runner.run().await.is_err());
    assert_eq!(runner.calls.load(Ordering::Relaxed), 5);
    assert_eq!(origin.elapsed(), S(4));
}

#[retry(max = 3, base = "1s", timeout = "2s", attempt = attempt)]
async fn slow_create(delays: &[u64]) -> Result<u32, CreateError> {
    tokio::time::sleep(S(delays[attempt as usize - 1])).await;
    Ok(attempt)
}

#[retry(max = 3, base = "1s", timeout = "2s", on = Transient | Ambiguous, attempt = attempt)]
async fn slow_read(delays: &[u64]) -> Result<u32, CreateError> {
    tokio::time::sleep(S(delays[attempt as usize - 1])).await;
    Ok(attempt)
}

#[tokio::test(start_paused = true)]
async fn timeout_is_ambiguous() {
    let origin = Instant::now();
    assert!(matches!(
        slow_create(&[10, 0, 0]).await,
        Err(CreateError::TimedOut(_))
    ));
    assert_eq!(
        origin.elapsed(),
        S(2),
        "not retried: the create may still land"
    );

    let origin = Instant::now();
    assert_eq!(slow_read(&[10, 10, 1]).await.unwrap(), 3);
    // 2s timeout, 1s sleep, 2s timeout, 2s sleep, 1s attempt.
    assert_eq!(origin.elapsed(), S(8));
}

#[retry(retries = 10, base = "1s", deadline = "5s")]
async fn until_deadline(calls: &AtomicU32) -> io::Result<()> {
    calls.fetch_add(1, Ordering::Relaxed);
    Err(io::ErrorKind::ConnectionRefused.into())
}

#[tokio::test(start_paused = true)]
async fn deadline_bounds_the_retries() {
    let calls = AtomicU32::new(0);
    let origin = Instant::now();
    assert!(until_deadline(&calls).await.is_err());
    // Attempts at 0, 1, 3; the next sleep (4s) would end at 7s > 5s.
    assert_eq!(calls.into_inner(), 3);
    assert_eq!(origin.elapsed(), S(3));
}

static SHARED: RetryBudget = RetryBudget::new(4, 0.1);

#[retry(max = 10, base = "0ms", budget = &SHARED)]
async fn budgeted(calls: &AtomicU32) -> io::Result<()> {
    calls.fetch_add(1, Ordering::Relaxed);
    Err(io::ErrorKind::ConnectionRefused.into())
}

#[tokio::test(start_paused = true)]
async fn budget_key_shares_one_bucket() {
    let calls = AtomicU32::new(0);
    assert!(budgeted(&calls).await.is_err());
    assert_eq!(
        calls.load(Ordering::Relaxed),
        2,
        "3 tokens left allow a retry; 2 do not"
    );
    assert!(budgeted(&calls).await.is_err());
    assert_eq!(calls.load(Ordering::Relaxed), 3, "empty: no retry at all");
}

const BASE: Duration = Duration::from_millis(40);

#[retry(base = BASE, max_delay = "1s", jitter = none, factor = 1.5)]
async fn const_base(origin: Instant, starts: &RefCell<Vec<Duration>>) -> io::Result<()> {
    starts.borrow_mut().push(origin.elapsed());
    Err(io::ErrorKind::ConnectionRefused.into())
}

#[tokio::test(start_paused = true)]
async fn durations_may_be_constants() {
    let starts = RefCell::new(Vec::new());
    let _ = const_base(Instant::now(), &starts).await;
    assert_eq!(starts.into_inner(), [MS(0), MS(40), MS(100)]);
}

// ---------------------------------------------------------------------------
// Send.

#[derive(Debug, thiserror::Error)]
#[error("not send")]
struct NotSend(Rc<()>);

impl Classify for NotSend {
    fn classify(&self) -> Class {
        Class::Transient
    }
}

fn fail_locally(attempt: u32) -> Result<u32, NotSend> {
    if attempt < 2 {
        Err(NotSend(Rc::new(())))
    } else {
        Ok(attempt)
    }
}

#[retry(base = "1ms", attempt = attempt)]
async fn send_despite_error(pause: Duration) -> Result<u32, NotSend> {
    tokio::time::sleep(pause).await;
    fail_locally(attempt)
}

#[tokio::test(start_paused = true)]
async fn the_future_is_send_even_when_the_error_is_not() {
    // `tokio::spawn` requires `Send`: this does not compile otherwise.
    let handle = tokio::spawn(async {
        send_despite_error(MS(1))
            .await
            .map_err(|error| error.to_string())
    });
    assert_eq!(handle.await.unwrap().unwrap(), 2);
}

// ---------------------------------------------------------------------------
// The derive.

#[derive(Debug, thiserror::Error, Classify)]
#[classify(default = permanent)]
enum DerivedError {
    #[error("no placement")]
    #[classify(transient, label = "no placement", retry_after = wait)]
    NoPlacement { wait: Option<Duration> },
    #[error("bad gateway")]
    #[classify(ambiguous)]
    BadGateway,
    #[error(transparent)]
    #[classify(transparent)]
    Io(#[from] io::Error),
    #[error("invalid: {0}")]
    Invalid(String),
}

#[derive(Debug, Classify)]
#[classify(transparent)]
struct Wrapped(DerivedError);

#[derive(Debug, Classify)]
#[classify(transient)]
struct Busy;

#[derive(Debug, Classify)]
enum Generic<E> {
    #[classify(transparent)]
    Inner(E),
    #[classify(permanent)]
    Other,
}

#[test]
fn derived_classification() {
    let no_placement = DerivedError::NoPlacement { wait: Some(S(3)) };
    assert_eq!(no_placement.classify(), Class::Transient);
    assert_eq!(no_placement.retry_after(), Some(S(3)));
    assert_eq!(no_placement.label(), Some("no placement"));
    assert_eq!(DerivedError::BadGateway.classify(), Class::Ambiguous);
    assert_eq!(DerivedError::BadGateway.label(), None);
    let refused = DerivedError::from(io::Error::from(io::ErrorKind::ConnectionRefused));
    assert_eq!(refused.classify(), Class::Transient);
    assert_eq!(
        DerivedError::Invalid("x".into()).classify(),
        Class::Permanent
    );
    assert_eq!(
        Wrapped(DerivedError::BadGateway).classify(),
        Class::Ambiguous
    );
    assert_eq!(Wrapped(no_placement).retry_after(), Some(S(3)));
    assert_eq!(Busy.classify(), Class::Transient);
    assert_eq!(Generic::Inner(Busy).classify(), Class::Transient);
    assert_eq!(Generic::<Busy>::Other.classify(), Class::Permanent);
}

#[retry(max = 2, base = "1ms")]
async fn honours_derived_hint(calls: &AtomicU32) -> Result<(), DerivedError> {
    calls.fetch_add(1, Ordering::Relaxed);
    Err(DerivedError::NoPlacement { wait: Some(S(2)) })
}

#[tokio::test(start_paused = true)]
async fn derived_retry_after_is_honoured() {
    let calls = AtomicU32::new(0);
    let origin = Instant::now();
    assert!(honours_derived_hint(&calls).await.is_err());
    assert_eq!(calls.into_inner(), 2);
    assert_eq!(origin.elapsed(), S(2));
}

/// Pattern arguments are cloned per attempt and destructured again.
#[retry(max = 3, base = "1ms", attempt = attempt)]
async fn patterns(
    (mut count, label): (u32, String),
    Job { payload }: Job,
    _: u8,
) -> io::Result<String> {
    count += attempt; // this attempt's copy
    if attempt < 3 {
        return Err(io::ErrorKind::Interrupted.into());
    }
    Ok(format!("{label}:{count}:{payload}"))
}

#[tokio::test(start_paused = true)]
async fn pattern_arguments() {
    let job = Job {
        payload: "p".into(),
    };
    assert_eq!(patterns((10, "n".into()), job, 0).await.unwrap(), "n:13:p");
}

/// `mut` bindings of references are fresh per attempt.
#[retry(max = 2, base = "1ms", attempt = attempt)]
async fn rebinds(mut text: &str, mut out: &mut Vec<String>) -> io::Result<()> {
    text = &text[1..];
    out.push(text.to_owned());
    out = &mut *out;
    if attempt < 2 {
        return Err(io::ErrorKind::Interrupted.into());
    }
    out.push("done".into());
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn reference_arguments_rebind_per_attempt() {
    let mut out = Vec::new();
    rebinds("abc", &mut out).await.unwrap();
    assert_eq!(out, ["bc", "bc", "done"]);
}
