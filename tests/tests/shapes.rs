//! `#[retry]` on the less common function shapes, and the attempt timeout
//! of a run-time policy, under tokio's paused clock.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use retry_runtime::{Class, ClassSet, Classify, RetryPolicy, TimedOut, retry};
use tokio::time::Instant;

const MS: fn(u64) -> Duration = Duration::from_millis;
const S: fn(u64) -> Duration = Duration::from_secs;

fn refused() -> io::Error {
    io::ErrorKind::ConnectionRefused.into()
}

// ---------------------------------------------------------------------------
// `cfg` on arguments: the per-attempt clone goes wherever the argument goes.

#[retry(base = "1s", attempt = attempt)]
async fn cfg_arguments(
    #[cfg(not(test))] removed: String,
    #[cfg(test)] name: String,
    #[cfg(test)] log: &mut Vec<String>,
) -> io::Result<String> {
    log.push(name.clone());
    if attempt < 3 {
        Err(refused())
    } else {
        Ok(name)
    }
}

#[tokio::test(start_paused = true)]
async fn cfg_arguments_are_cloned_only_when_present() {
    let origin = Instant::now();
    let mut log = Vec::new();
    assert_eq!(cfg_arguments("vm".into(), &mut log).await.unwrap(), "vm");
    assert_eq!(log, ["vm", "vm", "vm"]);
    assert_eq!(origin.elapsed(), S(3)); // 1s + 2s
}

// ---------------------------------------------------------------------------
// Receivers: `Pin<&mut Self>` is re-borrowed per attempt; `Box<Self>` is
// cloned per attempt.

struct Machine {
    steps: u32,
}

impl Machine {
    #[retry(base = "100ms")]
    async fn step(self: Pin<&mut Self>) -> io::Result<u32> {
        // Consumes this attempt's re-borrow.
        let this = self.get_mut();
        this.steps += 1;
        if this.steps < 3 {
            Err(refused())
        } else {
            Ok(this.steps)
        }
    }
}

#[tokio::test(start_paused = true)]
async fn pinned_receivers_are_reborrowed_per_attempt() {
    let origin = Instant::now();
    let mut machine = Box::pin(Machine { steps: 0 });
    assert_eq!(machine.as_mut().step().await.unwrap(), 3);
    assert_eq!(machine.steps, 3);
    assert_eq!(origin.elapsed(), MS(300));
}

#[derive(Clone)]
struct Job {
    runs: Arc<AtomicU32>,
    consumed: bool,
}

impl Job {
    #[retry(base = "1s", attempt = attempt)]
    async fn run(mut self: Box<Self>) -> io::Result<u32> {
        // Each attempt has its own copy to consume.
        assert!(!self.consumed);
        self.consumed = true;
        self.runs.fetch_add(1, Ordering::Relaxed);
        if attempt < 3 {
            Err(refused())
        } else {
            Ok(attempt)
        }
    }
}

#[tokio::test(start_paused = true)]
async fn boxed_receivers_are_cloned_per_attempt() {
    let runs = Arc::new(AtomicU32::new(0));
    let job = Box::new(Job {
        runs: Arc::clone(&runs),
        consumed: false,
    });
    let origin = Instant::now();
    assert_eq!(job.run().await.unwrap(), 3);
    assert_eq!(runs.load(Ordering::Relaxed), 3);
    assert_eq!(origin.elapsed(), S(3));
}

// ---------------------------------------------------------------------------
// A const generic in a key.

#[retry(max = N, base = "1s")]
async fn up_to<const N: u32>(calls: &AtomicU32) -> io::Result<()> {
    calls.fetch_add(1, Ordering::Relaxed);
    Err(refused())
}

#[tokio::test(start_paused = true)]
async fn const_generic_keys() {
    let calls = AtomicU32::new(0);
    let origin = Instant::now();
    assert!(up_to::<4>(&calls).await.is_err());
    assert_eq!(calls.load(Ordering::Relaxed), 4);
    assert_eq!(origin.elapsed(), S(7)); // 1 + 2 + 4

    let calls = AtomicU32::new(0);
    assert!(up_to::<1>(&calls).await.is_err());
    assert_eq!(calls.load(Ordering::Relaxed), 1);
}

// ---------------------------------------------------------------------------
// `#[async_trait]` impls: the boxed future is built afresh for each attempt.

#[async_trait::async_trait]
trait Store {
    async fn create(&self, name: String) -> io::Result<String>;
}

struct Gateway {
    seen: Mutex<Vec<(String, Duration)>>,
    origin: Instant,
}

#[async_trait::async_trait]
impl Store for Gateway {
    #[retry(max = 3, base = "250ms", attempt = attempt)]
    async fn create(&self, name: String) -> io::Result<String> {
        let name = if attempt == 1 {
            name
        } else {
            format!("{name}-r{}", attempt - 1)
        };
        self.seen
            .lock()
            .unwrap()
            .push((name.clone(), self.origin.elapsed()));
        if attempt < 3 {
            Err(refused())
        } else {
            Ok(name)
        }
    }
}

#[tokio::test(start_paused = true)]
async fn async_trait_methods_are_retried() {
    let gateway = Gateway {
        seen: Mutex::new(Vec::new()),
        origin: Instant::now(),
    };
    let store: &dyn Store = &gateway;
    assert_eq!(store.create("vm".into()).await.unwrap(), "vm-r2");
    assert_eq!(
        *gateway.seen.lock().unwrap(),
        [
            ("vm".to_owned(), MS(0)),
            ("vm-r1".to_owned(), MS(250)),
            ("vm-r2".to_owned(), MS(750)),
        ]
    );
}

// ---------------------------------------------------------------------------
// A run-time policy's attempt timeout: enforced when the error type can
// hold a timed-out attempt, reported once per call site when it cannot.

#[derive(Debug, thiserror::Error)]
enum ReadError {
    #[error(transparent)]
    TimedOut(#[from] TimedOut),
}

impl Classify for ReadError {
    fn classify(&self) -> Class {
        match self {
            ReadError::TimedOut(_) => Class::Ambiguous,
        }
    }
}

/// An error with no room for a timed-out attempt.
#[derive(Debug, thiserror::Error, Classify)]
#[classify(transient)]
#[error("refused")]
struct Refused;

struct Reader {
    policy: RetryPolicy,
    calls: AtomicU32,
}

impl Reader {
    #[retry(policy = self.policy, attempt = attempt)]
    async fn read(&self, delays: &[u64]) -> Result<u32, ReadError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(S(delays[attempt as usize - 1])).await;
        Ok(attempt)
    }

    #[retry(policy = self.policy, attempt = attempt)]
    async fn read_plain(&self, delays: &[u64]) -> Result<u32, Refused> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(S(delays[attempt as usize - 1])).await;
        Ok(attempt)
    }
}

#[retry(policy = RetryPolicy::new().attempt_timeout(S(2)))]
async fn generic_read<E>(delay: u64) -> Result<(), E>
where
    E: From<TimedOut> + Classify + std::fmt::Display,
{
    tokio::time::sleep(S(delay)).await;
    Ok(())
}

fn reader(on: ClassSet) -> Reader {
    Reader {
        policy: RetryPolicy::new()
            .max_attempts(3)
            .base(S(1))
            .attempt_timeout(S(2))
            .on(on),
        calls: AtomicU32::new(0),
    }
}

#[tokio::test(start_paused = true)]
async fn a_policy_timeout_is_enforced_through_from_timed_out() {
    // A timed-out attempt is Ambiguous: not retried by default.
    let origin = Instant::now();
    let only_transient = reader(ClassSet::EMPTY.with(Class::Transient));
    assert!(matches!(
        only_transient.read(&[10, 0, 0]).await,
        Err(ReadError::TimedOut(_))
    ));
    assert_eq!(only_transient.calls.load(Ordering::Relaxed), 1);
    assert_eq!(origin.elapsed(), S(2));

    // Retried where the caller opts in: 2s timeout, 1s sleep, 2s timeout,
    // 2s sleep, 1s attempt.
    let origin = Instant::now();
    let idempotent = reader(
        ClassSet::EMPTY
            .with(Class::Transient)
            .with(Class::Ambiguous),
    );
    assert_eq!(idempotent.read(&[10, 10, 1]).await.unwrap(), 3);
    assert_eq!(origin.elapsed(), S(8));

    // A generic error type bounded by `From<TimedOut>` qualifies too.
    let origin = Instant::now();
    assert!(matches!(
        generic_read::<ReadError>(10).await,
        Err(ReadError::TimedOut(_))
    ));
    assert_eq!(origin.elapsed(), S(2));
}

/// Collects what the `tracing` subscriber writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn an_unenforceable_policy_timeout_is_reported_once_per_call_site() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    // `Refused` has no `From<TimedOut>`: the attempt runs its course.
    let reader = reader(ClassSet::EMPTY.with(Class::Transient));
    let origin = Instant::now();
    assert_eq!(reader.read_plain(&[10]).await.unwrap(), 1);
    assert_eq!(origin.elapsed(), S(10));
    assert_eq!(reader.read_plain(&[10]).await.unwrap(), 1);

    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert_eq!(text.matches("not enforced").count(), 1, "{text}");
    assert!(text.contains("From<retry_runtime::TimedOut>"), "{text}");
    assert!(!text.contains("on_timeout"), "{text}");
}

impl Reader {
    #[retry(policy = self.policy)]
    fn read_blocking(&self) -> Result<u32, ReadError> {
        Ok(self.calls.fetch_add(1, Ordering::Relaxed))
    }
}

#[test]
fn a_blocking_function_reports_a_policy_timeout_once() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let reader = reader(ClassSet::EMPTY.with(Class::Transient));
    assert_eq!(reader.read_blocking().unwrap(), 0);
    assert_eq!(reader.read_blocking().unwrap(), 1);

    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert_eq!(text.matches("not enforced").count(), 1, "{text}");
    assert!(text.contains("blocking"), "{text}");
    assert!(!text.contains("on_timeout"), "{text}");
}

// ---------------------------------------------------------------------------
// A by-value argument only the attribute uses is not cloned per attempt
// (nor warned about as unused); one the body uses is.

/// Counts its clones.
struct Options {
    policy: RetryPolicy,
    clones: Arc<AtomicU32>,
}

impl Clone for Options {
    fn clone(&self) -> Self {
        self.clones.fetch_add(1, Ordering::Relaxed);
        Options {
            policy: self.policy,
            clones: Arc::clone(&self.clones),
        }
    }
}

#[retry(policy = options.policy)]
async fn configured(options: Options, calls: &AtomicU32) -> io::Result<()> {
    calls.fetch_add(1, Ordering::Relaxed);
    Err(refused())
}

#[retry(policy = options.policy)]
async fn configured_and_used(options: Options) -> io::Result<u32> {
    drop(options);
    Err(refused())
}

#[tokio::test(start_paused = true)]
async fn arguments_only_the_attribute_uses_are_not_cloned() {
    let clones = Arc::new(AtomicU32::new(0));
    let options = Options {
        policy: RetryPolicy::new().max_attempts(3).base(S(1)),
        clones: Arc::clone(&clones),
    };
    let calls = AtomicU32::new(0);
    assert!(configured(options.clone(), &calls).await.is_err());
    assert_eq!(calls.load(Ordering::Relaxed), 3);
    assert_eq!(
        clones.load(Ordering::Relaxed),
        1,
        "only the test's own clone"
    );

    assert!(configured_and_used(options).await.is_err());
    assert_eq!(clones.load(Ordering::Relaxed), 4, "one clone per attempt");
}
