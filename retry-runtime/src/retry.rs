//! The [`Retry`] future returned by [`RetryPolicy::retry`] and
//! [`RetryPolicy::retry_with`], and its [`Report`].

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use pin_project_lite::pin_project;
use tokio::time::Sleep;

use crate::engine::{Clock, Engine, Packed, Step, Verdict};
use crate::report::History;
use crate::{AttemptRecord, Class, Classify, RetryBudget, RetryPolicy, StopReason, TimedOut};

/// Decides the [`Class`] of an error: the `classify` argument of
/// [`RetryPolicy::retry_with`].
///
/// Implemented by every `Fn(&E) -> Class` (so a plain function or closure
/// works) and by [`ByTrait`], which asks the error's own [`Classify`] impl.
///
/// ```
/// use retry_runtime::{Class, Classifier};
///
/// fn by_status(status: &u16) -> Class {
///     match status {
///         500 | 503 => Class::Transient,
///         502 | 504 => Class::Ambiguous,
///         _ => Class::Permanent,
///     }
/// }
/// assert_eq!(by_status.classify(&503), Class::Transient);
/// ```
pub trait Classifier<E: ?Sized> {
    /// The class of `error`.
    fn classify(&self, error: &E) -> Class;

    /// A server's hint of how long to wait; see [`Classify::retry_after`].
    fn retry_after(&self, error: &E) -> Option<Duration> {
        let _ = error;
        None
    }

    /// A short name for the kind of failure; see [`Classify::label`].
    fn label<'e>(&self, error: &'e E) -> Option<&'e str> {
        let _ = error;
        None
    }
}

/// The [`Classifier`] that asks the error itself, through [`Classify`]; used
/// by [`RetryPolicy::retry`].
///
/// ```
/// use retry_runtime::{ByTrait, Class, Classifier};
/// let err = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
/// assert_eq!(ByTrait.classify(&err), Class::Transient);
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct ByTrait;

impl<E: Classify + ?Sized> Classifier<E> for ByTrait {
    fn classify(&self, error: &E) -> Class {
        error.classify()
    }
    fn retry_after(&self, error: &E) -> Option<Duration> {
        error.retry_after()
    }
    fn label<'e>(&self, error: &'e E) -> Option<&'e str> {
        error.label()
    }
}

impl<E: ?Sized, F: Fn(&E) -> Class> Classifier<E> for F {
    fn classify(&self, error: &E) -> Class {
        self(error)
    }
}

/// What a notify hook sees before each sleep: the failed attempt, its
/// error, and the delay that follows.
///
/// ```
/// use retry_runtime::{Class, RetryEvent, RetryPolicy};
///
/// fn log(event: &RetryEvent<'_, std::io::Error>) {
///     eprintln!("attempt {} failed ({}): {}; next in {:?}",
///               event.attempt, event.class, event.error, event.delay);
/// }
/// let _ = RetryPolicy::new().retry(|_| async { Ok::<_, std::io::Error>(()) }).notify(log);
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub struct RetryEvent<'a, E> {
    /// The 1-based number of the attempt that failed.
    pub attempt: u32,
    /// The most attempts the policy allows.
    pub max_attempts: u32,
    /// The sleep before the next attempt.
    pub delay: Duration,
    /// Time since the first attempt began.
    pub elapsed: Duration,
    /// The failure's class.
    pub class: Class,
    /// The failure's label, where the classifier has one.
    pub label: Option<&'a str>,
    /// The error.
    pub error: &'a E,
}

impl<'a, E> RetryEvent<'a, E> {
    #[doc(hidden)]
    pub fn new(
        attempt: u32,
        max_attempts: u32,
        delay: Duration,
        elapsed: Duration,
        class: Class,
        label: Option<&'a str>,
        error: &'a E,
    ) -> Self {
        RetryEvent {
            attempt,
            max_attempts,
            delay,
            elapsed,
            class,
            label,
            error,
        }
    }
}

/// A hook called before each sleep; see [`Retry::notify`] and
/// `#[retry(notify = ..)]`.
///
/// Implemented by every `FnMut(&RetryEvent<'_, E>)` (so a closure that
/// captures its environment works) and by `&mut` of any hook.
///
/// ```
/// use retry_runtime::{Notify, RetryEvent};
///
/// struct Counter(u32);
/// impl<E> Notify<E> for Counter {
///     fn notify(&mut self, _: &RetryEvent<'_, E>) {
///         self.0 += 1;
///     }
/// }
/// # let _ = retry_runtime::RetryPolicy::new()
/// #     .retry(|_| async { Ok::<(), std::io::Error>(()) })
/// #     .notify(|event: &RetryEvent<'_, std::io::Error>| Counter(0).notify(event));
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a retry hook for errors of type `{E}`",
    label = "expected a `Notify<{E}>`, such as a `fn(&RetryEvent<'_, {E}>)` or a closure taking `&RetryEvent<'_, {E}>`",
    note = "a hook is called before each sleep with the failed attempt's `retry_runtime::RetryEvent`"
)]
pub trait Notify<E> {
    /// Whether the hook does anything: lets a loop without one skip the
    /// clock read that [`RetryEvent::elapsed`] needs.
    #[doc(hidden)]
    const ENABLED: bool = true;

    /// Called once per retry, before the sleep.
    fn notify(&mut self, event: &RetryEvent<'_, E>);
}

impl<E, F: FnMut(&RetryEvent<'_, E>)> Notify<E> for F {
    fn notify(&mut self, event: &RetryEvent<'_, E>) {
        self(event);
    }
}

/// The default hook: does nothing.
///
/// ```
/// use retry_runtime::{NoNotify, Retry, RetryPolicy};
/// // The type a plain `retry` future carries until `.notify(..)` replaces it.
/// let _: Retry<_, _, _, NoNotify> = RetryPolicy::new().retry(|_| async { Ok::<(), std::io::Error>(()) });
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct NoNotify;

impl<E> Notify<E> for NoNotify {
    const ENABLED: bool = false;
    fn notify(&mut self, _: &RetryEvent<'_, E>) {}
}

/// Turns a [`TimedOut`] into the operation's error; see [`Retry::on_timeout`].
///
/// Implemented by every `Fn(TimedOut) -> E`, such as `E::from`.
///
/// ```
/// use std::time::Duration;
/// use retry_runtime::{OnTimeout, TimedOut};
///
/// let into_io = std::io::Error::from;
/// let error = into_io.timed_out(TimedOut::new(Duration::from_secs(1))).unwrap();
/// assert_eq!(error.kind(), std::io::ErrorKind::TimedOut);
/// ```
pub trait OnTimeout<E> {
    /// Whether timeouts can be expressed at all.
    const ENABLED: bool = true;
    /// The error for an attempt that timed out.
    fn timed_out(&self, timed_out: TimedOut) -> Option<E>;
}

impl<E, F: Fn(TimedOut) -> E> OnTimeout<E> for F {
    fn timed_out(&self, timed_out: TimedOut) -> Option<E> {
        Some(self(timed_out))
    }
}

/// The default: the error type has no way to express a timeout, so a
/// policy's `attempt_timeout` is reported (WARN) and not enforced.
///
/// ```
/// use std::time::Duration;
/// use retry_runtime::{NoTimeout, OnTimeout, TimedOut};
///
/// let none: Option<std::io::Error> = NoTimeout.timed_out(TimedOut::new(Duration::ZERO));
/// assert!(none.is_none());
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct NoTimeout;

impl<E> OnTimeout<E> for NoTimeout {
    const ENABLED: bool = false;
    fn timed_out(&self, _: TimedOut) -> Option<E> {
        None
    }
}

/// The outcome of a retried call with its history: what [`Retry::report`]
/// resolves to.
///
/// ```
/// use std::io::{Error, ErrorKind};
/// use retry_runtime::{Class, RetryPolicy, StopReason};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// let report = RetryPolicy::new()
///     .retry(|attempt| async move {
///         match attempt {
///             1 => Err::<(), _>(Error::from(ErrorKind::ConnectionRefused)),
///             _ => Err(Error::from(ErrorKind::PermissionDenied)),
///         }
///     })
///     .report()
///     .await;
/// assert!(report.result.is_err());
/// assert_eq!(report.attempts, 2);
/// assert_eq!(report.stop, Some(StopReason::NotRetryable(Class::Permanent)));
/// assert_eq!(report.history[0].class, Class::Transient);
/// assert_eq!(report.history[0].delay, Some(std::time::Duration::from_millis(250)));
/// assert_eq!(report.history[1].delay, None);
/// # }
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub struct Report<T, E> {
    /// What the call returned.
    pub result: Result<T, E>,
    /// How many attempts were made.
    pub attempts: u32,
    /// The failed attempts, in order: the first
    /// [`HISTORY_FIRST`](crate::HISTORY_FIRST) and the last
    /// [`HISTORY_LAST`](crate::HISTORY_LAST).
    pub history: Vec<AttemptRecord>,
    /// How many failed attempts between those were left out of `history`.
    pub omitted: u32,
    /// Why the loop stopped on an error; `None` on success.
    pub stop: Option<StopReason>,
    /// Time from the start of the first attempt to the end.
    pub elapsed: Duration,
}

/// The `function` field of telemetry events from the runtime API; wrap the
/// future in a `tracing` span to say which operation it retries.
const FUNCTION: &str = "retry";

pin_project! {
    /// Where a [`Retry`] is. The attempt under way lives in its variant, so
    /// that starting or ending one writes the future and this one tag, not
    /// a separate phase as well.
    #[project = StageProj]
    enum Stage<Fut> {
        /// An attempt is under way; `timed` if the timer is its timeout.
        Running {
            #[pin]
            attempt: Fut,
            timed: bool,
        },
        /// The next attempt follows without a sleep, once the scheduler
        /// lets the task go on.
        Next,
        /// Sleeping before the next attempt.
        Sleeping,
        /// Finished.
        Done,
        /// Not polled yet. Last, so that its tag is not zero: a new
        /// future's tag is then written on its own, not as part of a store
        /// zeroing its neighbours, which the first poll would read back
        /// slowly.
        Start,
    }
}

impl<Fut> Stage<Fut> {
    fn name(&self) -> &'static str {
        match self {
            Stage::Start => "start",
            Stage::Running { .. } => "running",
            Stage::Next | Stage::Sleeping => "between attempts",
            Stage::Done => "done",
        }
    }
}

/// Marks a [`Retry`] poisoned if a panic unwinds through its poll (from
/// the operation, its future, the classifier or the hook): polling again
/// would repeat or skip work. On the normal path it is forgotten, so it
/// costs no store, as the unwinding path alone runs its `drop`. The mark
/// is a bit of the engine's state, which is written whole when the future
/// is built, so a new future spends nothing on it.
struct PoisonOnUnwind<'a>(&'a mut Engine<Packed>);

impl PoisonOnUnwind<'_> {
    fn disarm(self) {
        std::mem::forget(self);
    }
}

impl Drop for PoisonOnUnwind<'_> {
    fn drop(&mut self) {
        self.0.poison();
    }
}

pin_project! {
    /// A retried call: a future resolving to the operation's
    /// `Result<T, E>`, made by [`RetryPolicy::retry`] or
    /// [`RetryPolicy::retry_with`].
    ///
    /// It is a plain named future: store it, return it as `impl Future`,
    /// poll it, or drop it to cancel the loop (mid-attempt or mid-sleep).
    /// It allocates nothing, and reads no clock on the success path unless
    /// the policy has a deadline or attempt timeout. Before awaiting, attach
    /// a [shared budget](Retry::budget) or a [hook](Retry::notify), or ask
    /// for a [report](Retry::report) with the history of failed attempts.
    /// Its telemetry events name the function `retry`; run it inside a
    /// `tracing` span to say which operation it retries.
    ///
    /// ```
    /// use std::io::{Error, ErrorKind};
    /// use std::time::Duration;
    /// use retry_runtime::RetryPolicy;
    ///
    /// const FETCH: RetryPolicy = RetryPolicy::new().max_attempts(4).base(Duration::from_millis(100));
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// let start = tokio::time::Instant::now();
    /// let value = FETCH
    ///     .retry(|attempt| async move {
    ///         if attempt < 3 { Err(Error::from(ErrorKind::ConnectionRefused)) } else { Ok(attempt) }
    ///     })
    ///     .await;
    /// assert_eq!(value.unwrap(), 3);
    /// assert_eq!(start.elapsed(), Duration::from_millis(300)); // 100 + 200
    /// # }
    /// ```
    #[must_use = "futures do nothing unless polled"]
    pub struct Retry<F, Fut, C = ByTrait, N = NoNotify, Tm = NoTimeout> {
        op: F,
        classifier: C,
        notify: N,
        on_timeout: Tm,
        engine: Engine<Packed>,
        #[pin]
        stage: Stage<Fut>,
        #[pin]
        timer: Option<Sleep>,
    }
}

impl<F, Fut, C, N, Tm> fmt::Debug for Retry<F, Fut, C, N, Tm> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Retry")
            .field("policy", &*self.engine.policy())
            .field("attempt", &self.engine.attempt())
            .field("stage", &self.stage.name())
            .field("poisoned", &self.engine.poisoned())
            .finish_non_exhaustive()
    }
}

impl RetryPolicy {
    /// Calls `op(attempt)` (1-based) until it succeeds or the policy stops
    /// it, classifying each error through its [`Classify`] impl.
    ///
    /// ```
    /// use std::io;
    /// use std::time::Duration;
    /// use retry_runtime::RetryPolicy;
    ///
    /// const CREATE: RetryPolicy = RetryPolicy::new().max_attempts(3).base(Duration::from_millis(250));
    ///
    /// async fn create(name: String) -> io::Result<String> {
    ///     if name == "vm" { Err(io::ErrorKind::ResourceBusy.into()) } else { Ok(name) }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() -> io::Result<()> {
    /// // Attempts after the first use a fresh name, so a retry cannot
    /// // collide with what a failed attempt left behind.
    /// let name_for = |attempt: u32| match attempt {
    ///     1 => "vm".to_string(),
    ///     n => format!("vm-r{}", n - 1),
    /// };
    /// let instance = CREATE.retry(|attempt| create(name_for(attempt))).await?;
    /// assert_eq!(instance, "vm-r1");
    /// # Ok(()) }
    /// ```
    #[inline]
    pub fn retry<F, Fut, T, E>(self, op: F) -> Retry<F, Fut>
    where
        F: FnMut(u32) -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: Classify,
    {
        self.retry_with(ByTrait, op)
    }

    /// [`retry`](Self::retry) with an explicit classifier: any
    /// `Fn(&E) -> Class`, for error types that do not implement
    /// [`Classify`] (or to classify differently at one call site).
    ///
    /// ```
    /// use retry_runtime::{Class, RetryPolicy};
    ///
    /// #[derive(Debug)]
    /// struct Status(u16);
    /// impl std::fmt::Display for Status {
    ///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { write!(f, "HTTP {}", self.0) }
    /// }
    /// fn classify_status(status: &Status) -> Class {
    ///     match status.0 {
    ///         500 | 503 => Class::Transient,
    ///         502 | 504 => Class::Ambiguous,
    ///         _ => Class::Permanent,
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// let statuses = [503, 504, 201];
    /// let report = RetryPolicy::new()
    ///     .retry_with(classify_status, |attempt| async move {
    ///         match statuses[attempt as usize - 1] {
    ///             201 => Ok(()),
    ///             code => Err(Status(code)),
    ///         }
    ///     })
    ///     .report()
    ///     .await;
    /// // 504: the create may have committed, so it is not retried.
    /// assert_eq!(report.result.unwrap_err().0, 504);
    /// assert_eq!(report.attempts, 2);
    /// # }
    /// ```
    #[inline]
    pub fn retry_with<C, F, Fut, T, E>(self, classifier: C, op: F) -> Retry<F, Fut, C>
    where
        C: Classifier<E>,
        F: FnMut(u32) -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        Retry {
            op,
            classifier,
            notify: NoNotify,
            on_timeout: NoTimeout,
            engine: Engine::new(Packed::from(self), Clock::Tokio),
            stage: Stage::Start,
            timer: None,
        }
    }
}

impl<F, Fut, C, N, Tm> Retry<F, Fut, C, N, Tm> {
    /// Draws retries from a shared [`RetryBudget`]: when it is empty, the
    /// error is returned without retry ([`StopReason::BudgetEmpty`]).
    ///
    /// ```
    /// use retry_runtime::{RetryBudget, RetryPolicy};
    ///
    /// static BUDGET: RetryBudget = RetryBudget::new(2, 0.1);
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// let refused = || std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
    /// let report = RetryPolicy::new()
    ///     .retry(|_| async { Err::<(), _>(refused()) })
    ///     .budget(&BUDGET)
    ///     .report()
    ///     .await;
    /// assert_eq!(report.attempts, 1); // 1 of 2 tokens left: not more than half
    /// assert_eq!(report.stop, Some(retry_runtime::StopReason::BudgetEmpty));
    /// # }
    /// ```
    pub fn budget(mut self, budget: &'static RetryBudget) -> Self {
        self.engine.set_budget(budget);
        self
    }

    /// Calls `hook`, any [`Notify`] (such as a closure taking
    /// `&RetryEvent`), with a [`RetryEvent`] before each sleep.
    ///
    /// A closure names its argument's type (`|event: &RetryEvent<'_, _>|`):
    /// a `Notify` bound, unlike an `FnMut` one, does not give it one.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicU32, Ordering};
    /// use retry_runtime::{RetryEvent, RetryPolicy};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// let retries = AtomicU32::new(0);
    /// let _ = RetryPolicy::new()
    ///     .retry(|_| async { Err::<(), _>(std::io::Error::from(std::io::ErrorKind::Interrupted)) })
    ///     .notify(|event: &RetryEvent<'_, std::io::Error>| {
    ///         retries.fetch_add(1, Ordering::Relaxed);
    ///         assert!(event.attempt < 3);
    ///     })
    ///     .await;
    /// assert_eq!(retries.into_inner(), 2);
    /// # }
    /// ```
    pub fn notify<N2, T, E>(self, hook: N2) -> Retry<F, Fut, C, N2, Tm>
    where
        Fut: Future<Output = Result<T, E>>,
        N2: Notify<E>,
    {
        Retry {
            op: self.op,
            classifier: self.classifier,
            notify: hook,
            on_timeout: self.on_timeout,
            engine: self.engine,
            stage: self.stage,
            timer: self.timer,
        }
    }

    /// Enforces the policy's `attempt_timeout`, building the error of a
    /// timed-out attempt with `into_error` (usually `E::from`).
    ///
    /// The retry future cannot make an `E` on its own, so without this a
    /// policy's `attempt_timeout` is not enforced and a WARN event says so.
    /// A timed-out attempt is [`Ambiguous`](Class::Ambiguous) whatever its
    /// error classifies as.
    ///
    /// ```
    /// use std::io;
    /// use std::time::Duration;
    /// use retry_runtime::RetryPolicy;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// let policy = RetryPolicy::new().attempt_timeout(Duration::from_secs(1));
    /// let result: io::Result<()> = policy
    ///     .retry(|_| std::future::pending())
    ///     .on_timeout(io::Error::from)
    ///     .await;
    /// assert_eq!(result.unwrap_err().kind(), io::ErrorKind::TimedOut);
    /// # }
    /// ```
    pub fn on_timeout<Tm2, T, E>(self, into_error: Tm2) -> Retry<F, Fut, C, N, Tm2>
    where
        Fut: Future<Output = Result<T, E>>,
        Tm2: Fn(TimedOut) -> E,
    {
        Retry {
            op: self.op,
            classifier: self.classifier,
            notify: self.notify,
            on_timeout: into_error,
            engine: self.engine,
            stage: self.stage,
            timer: self.timer,
        }
    }

    /// Resolves to a [`Report`]: the result, the number of attempts, why
    /// the loop stopped, and each failed attempt (time, class, label, error
    /// text, the delay that followed), bounded as
    /// [`HISTORY_FIRST`](crate::HISTORY_FIRST) says. Keeping the history
    /// allocates; the plain future does not.
    ///
    /// See [`Report`] for an example.
    pub fn report(self) -> Reported<F, Fut, C, N, Tm> {
        Reported {
            retry: self,
            history: History::default(),
        }
    }
}

fn arm(mut timer: Pin<&mut Option<Sleep>>, after: Duration) {
    let now = tokio::time::Instant::now();
    // A delay too long to represent is a wait without end (as tokio's own
    // `sleep` treats it), not an overflow panic.
    let deadline = now
        .checked_add(after)
        .unwrap_or_else(|| now + Duration::from_secs(86_400 * 365 * 30));
    match timer.as_mut().as_pin_mut() {
        Some(sleep) => sleep.reset(deadline),
        None => timer.set(Some(tokio::time::sleep_until(deadline))),
    }
}

impl<F, Fut, C, N, Tm, T, E> Retry<F, Fut, C, N, Tm>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T, E>>,
    C: Classifier<E>,
    N: Notify<E>,
    Tm: OnTimeout<E>,
    E: fmt::Display,
{
    /// The loop, under the guard that marks a panic; `history` is
    /// `.report()`'s, if it asked for one, and `stop` says why it returned
    /// an error. (Out-parameters rather than a tuple in the output: the
    /// plain future's `Poll<Result<T, E>>` then goes back to its caller as
    /// it is, not repacked.)
    #[inline]
    fn poll_run(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        history: Option<&mut History>,
        stopped: &mut Option<StopReason>,
    ) -> Poll<Result<T, E>> {
        let this = self.project();
        assert!(
            !this.engine.poisoned(),
            "`Retry` polled after a panic in its operation, classifier or hook: \
             the attempt under way cannot be resumed"
        );
        let guard = PoisonOnUnwind(this.engine);
        let poll = run(
            this.op,
            this.classifier,
            this.notify,
            this.on_timeout,
            &mut *guard.0,
            this.stage,
            this.timer,
            cx,
            history,
            stopped,
        );
        guard.disarm();
        poll
    }
}

/// The loop of [`Retry::poll_run`], over the future's fields.
#[inline]
#[allow(clippy::too_many_arguments, clippy::too_many_lines)] // one state machine, read top to bottom
fn run<F, Fut, C, N, Tm, T, E>(
    op: &mut F,
    classifier: &C,
    notify: &mut N,
    on_timeout: &Tm,
    engine: &mut Engine<Packed>,
    mut stage: Pin<&mut Stage<Fut>>,
    mut timer: Pin<&mut Option<Sleep>>,
    cx: &mut Context<'_>,
    mut history: Option<&mut History>,
    stopped: &mut Option<StopReason>,
) -> Poll<Result<T, E>>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T, E>>,
    C: Classifier<E>,
    N: Notify<E>,
    Tm: OnTimeout<E>,
    E: fmt::Display,
{
    loop {
        let start = match stage.as_mut().project() {
            StageProj::Start => {
                let keep_time = N::ENABLED || history.is_some();
                engine.begin(FUNCTION, keep_time, Tm::ENABLED);
                true
            }
            StageProj::Running { .. } => false,
            StageProj::Next => {
                // Between attempts with no sleep: give the scheduler its
                // turn once the task's budget is spent, so an operation that
                // never suspends cannot starve other tasks, and an enclosing
                // timeout can end the loop.
                ready!(crate::coop::poll_proceed(cx));
                true
            }
            StageProj::Sleeping => {
                if let Some(sleep) = timer.as_mut().as_pin_mut() {
                    ready!(sleep.poll(cx));
                }
                true
            }
            StageProj::Done => panic!("`Retry` polled after completion"),
        };
        if start {
            let attempt = op(engine.attempt());
            let mut armed = false;
            if let (true, Some(timeout)) = (Tm::ENABLED, engine.attempt_timeout()) {
                arm(timer.as_mut(), timeout);
                armed = true;
            }
            stage.set(Stage::Running {
                attempt,
                timed: armed,
            });
        }
        let StageProj::Running { attempt, timed } = stage.as_mut().project() else {
            unreachable!("an attempt was just started");
        };
        let (error, timed_out) = match attempt.poll(cx) {
            Poll::Ready(Ok(value)) => {
                stage.set(Stage::Done);
                engine.succeeded(FUNCTION);
                return Poll::Ready(Ok(value));
            }
            Poll::Ready(Err(error)) => (error, false),
            Poll::Pending => {
                let expired = *timed
                    && timer
                        .as_mut()
                        .as_pin_mut()
                        .is_some_and(|t| t.poll(cx).is_ready());
                if !expired {
                    return Poll::Pending;
                }
                let timeout = engine.attempt_timeout().unwrap_or_default();
                let Some(error) = on_timeout.timed_out(TimedOut::new(timeout)) else {
                    // Only armed when timeouts are enabled; if not, keep waiting.
                    *timed = false;
                    return Poll::Pending;
                };
                (error, true)
            }
        };
        // Ending the attempt drops it, which cancels one that timed out.
        stage.set(Stage::Next);
        let verdict = if timed_out {
            Verdict::TIMED_OUT
        } else {
            Verdict {
                class: classifier.classify(&error),
                retry_after: classifier.retry_after(&error),
                label: classifier.label(&error),
            }
        };
        let step = engine.judge(FUNCTION, verdict, &error, notify, history.as_deref_mut());
        match step {
            Step::Stop(reason) => {
                stage.set(Stage::Done);
                *stopped = Some(reason);
                return Poll::Ready(Err(error));
            }
            Step::Retry(delay) => {
                drop(error);
                if !delay.is_zero() {
                    arm(timer.as_mut(), delay);
                    stage.set(Stage::Sleeping);
                }
            }
        }
    }
}

impl<F, Fut, C, N, Tm, T, E> Future for Retry<F, Fut, C, N, Tm>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T, E>>,
    C: Classifier<E>,
    N: Notify<E>,
    Tm: OnTimeout<E>,
    E: fmt::Display,
{
    type Output = Result<T, E>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.poll_run(cx, None, &mut None)
    }
}

pin_project! {
    /// A [`Retry`] that resolves to a [`Report`]; made by [`Retry::report`].
    ///
    /// ```
    /// use retry_runtime::RetryPolicy;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let reported = RetryPolicy::new().retry(|attempt| async move { Ok::<_, std::io::Error>(attempt) }).report();
    /// let report = reported.await;
    /// assert_eq!((report.result.unwrap(), report.attempts, report.history.len()), (1, 1, 0));
    /// # }
    /// ```
    #[must_use = "futures do nothing unless polled"]
    pub struct Reported<F, Fut, C, N, Tm> {
        #[pin]
        retry: Retry<F, Fut, C, N, Tm>,
        history: History,
    }
}

impl<F, Fut, C, N, Tm> fmt::Debug for Reported<F, Fut, C, N, Tm> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reported")
            .field("retry", &self.retry)
            .field("history", &self.history)
            .finish()
    }
}

impl<F, Fut, C, N, Tm, T, E> Future for Reported<F, Fut, C, N, Tm>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T, E>>,
    C: Classifier<E>,
    N: Notify<E>,
    Tm: OnTimeout<E>,
    E: fmt::Display,
{
    type Output = Report<T, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut retry = this.retry;
        let mut stop = None;
        let result = ready!(retry.as_mut().poll_run(cx, Some(this.history), &mut stop));
        let engine = retry.project().engine;
        let (history, omitted) = std::mem::take(this.history).into_parts();
        Poll::Ready(Report {
            result,
            attempts: engine.attempt(),
            history,
            omitted,
            stop,
            elapsed: engine.elapsed(),
        })
    }
}
