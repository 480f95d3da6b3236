//! The pieces generated code calls. Each is small and generic over the
//! error only where it must be, so a crate with many `#[retry]` functions
//! compiles little code per function.

use std::fmt::Display;
use std::future::Future;
use std::time::Duration;

pub use crate::engine::{Clock, Engine, EnvPolicy, FromEnv, Source, Step, Verdict};
pub use crate::report::History;
pub use crate::{
    Class, ClassSet, Classify, NoNotify, Notify, RetryBudget, RetryEvent, RetryPolicy, TimedOut,
};
pub use core::result::Result::{Err, Ok};

/// The error's own opinion, through [`Classify`].
pub fn by_trait<E: Classify + ?Sized>(error: &E) -> Verdict<'_> {
    Verdict {
        class: error.classify(),
        retry_after: error.retry_after(),
        label: error.label(),
    }
}

/// Decides what follows a failed attempt and calls the notify hook if a
/// retry follows. `None`: return the error.
pub fn failed<S: Source, E: Display, N: Notify<E>>(
    engine: &mut Engine<S>,
    function: &'static str,
    error: &E,
    verdict: Verdict<'_>,
    notify: &mut N,
) -> Option<Duration> {
    match engine.judge(function, verdict, error, notify, None) {
        Step::Retry(delay) => Some(delay),
        Step::Stop(_) => None,
    }
}

/// The error type of a function's return type (`Result<T, E>` or an alias
/// of it), so that a hook can be checked against it.
pub trait ResultType {
    type Error;
}

impl<T, E> ResultType for Result<T, E> {
    type Error = E;
}

/// `notify = expr` for a closure: the bound gives the closure its argument
/// type, which a `Notify` bound alone would not.
pub fn closure_hook<R: ResultType, F: FnMut(&RetryEvent<'_, R::Error>)>(hook: F) -> F {
    hook
}

/// `notify = expr` for any other value: a `fn`, or a type implementing
/// `Notify`.
pub fn hook<R: ResultType, N: Notify<R::Error>>(hook: N) -> N {
    hook
}

pin_project_lite::pin_project! {
    /// The sleep between attempts: no timer for a zero delay (tokio would
    /// round a zero sleep up to its 1 ms tick), only a cooperative yield
    /// once the task's scheduling budget is spent; else tokio's `Sleep`.
    /// A plain enum rather than an `async fn`, so that it adds nothing to
    /// the generated future beyond the `Sleep` itself.
    #[project = PauseProjection]
    pub enum Pause {
        Now,
        Later { #[pin] sleep: tokio::time::Sleep },
    }
}

impl Future for Pause {
    type Output = ();

    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        match self.project() {
            PauseProjection::Now => crate::coop::poll_proceed(cx),
            PauseProjection::Later { sleep } => sleep.poll(cx),
        }
    }
}

/// Sleeps between attempts; a zero delay does not touch the timer.
pub fn sleep(delay: Duration) -> Pause {
    if delay.is_zero() {
        Pause::Now
    } else {
        Pause::Later {
            sleep: tokio::time::sleep(delay),
        }
    }
}

/// [`sleep`] for blocking functions.
pub fn sleep_blocking(delay: Duration) {
    if !delay.is_zero() {
        std::thread::sleep(delay);
    }
}

/// Runs one attempt under a timeout: `Err(TimedOut)` if it outlived it.
pub async fn timeout<F: Future>(after: Duration, attempt: F) -> Result<F::Output, TimedOut> {
    tokio::time::timeout(after, attempt)
        .await
        .map_err(|_| TimedOut::new(after))
}

/// A compile-time duration, from the nanoseconds the macro parsed.
pub const fn nanos(secs: u64, nanos: u32) -> Duration {
    Duration::new(secs, nanos)
}

/// Rejects an invalid compiled policy during constant evaluation, for keys
/// given as `const` expressions the macro could not check itself.
pub const fn checked(policy: RetryPolicy) -> RetryPolicy {
    match policy.validate() {
        Ok(()) => policy,
        Err(crate::PolicyError::ZeroAttempts) => panic!("#[retry]: max_attempts is 0"),
        Err(crate::PolicyError::InvalidFactor(_)) => {
            panic!("#[retry]: factor must be a finite number >= 1")
        }
        Err(crate::PolicyError::MaxDelayBelowBase { .. }) => {
            panic!("#[retry]: max_delay is below base")
        }
        Err(crate::PolicyError::RetriesPermanent) => {
            panic!("#[retry]: Permanent failures are never retried")
        }
        Err(crate::PolicyError::ZeroAttemptTimeout) => panic!("#[retry]: timeout is zero"),
        Err(crate::PolicyError::ZeroDeadline) => panic!("#[retry]: deadline is zero"),
    }
}

/// Type-checks `value` as a `Duration` (for keys given as expressions).
pub const fn duration(value: Duration) -> Duration {
    value
}

/// A by-value argument is cloned for each attempt. The bound is spelled
/// through this trait so that a missing `Clone` reads as what it means.
#[diagnostic::on_unimplemented(
    message = "`#[retry]` passes by-value arguments to every attempt, so `{Self}` must be `Clone`",
    label = "this argument is moved into each attempt",
    note = "take the argument by reference, or implement or derive `Clone` for `{Self}`"
)]
pub trait ArgClone: Sized {
    fn clone_for_attempt(&self) -> Self;
}

impl<T: Clone> ArgClone for T {
    fn clone_for_attempt(&self) -> Self {
        self.clone()
    }
}

/// A timed-out attempt's error, through the error type's `From<TimedOut>`.
#[diagnostic::on_unimplemented(
    message = "`#[retry(timeout = ..)]` returns a timed-out attempt as `{Self}`, which has no `From<TimedOut>`",
    label = "needs `From<retry_runtime::TimedOut>`",
    note = "add a variant such as `#[error(transparent)] TimedOut(#[from] retry_runtime::TimedOut)`, or drop `timeout`"
)]
pub trait FromTimedOut: Sized {
    fn from_timed_out(timed_out: TimedOut) -> Self;
}

impl<E: From<TimedOut>> FromTimedOut for E {
    fn from_timed_out(timed_out: TimedOut) -> Self {
        E::from(timed_out)
    }
}

/// The field named by `#[classify(retry_after = field)]`: a `Duration` or
/// an `Option<Duration>`.
pub trait RetryAfterField {
    fn retry_after_field(&self) -> Option<Duration>;
}

impl RetryAfterField for Duration {
    fn retry_after_field(&self) -> Option<Duration> {
        Some(*self)
    }
}

impl RetryAfterField for Option<Duration> {
    fn retry_after_field(&self) -> Option<Duration> {
        *self
    }
}

/// The retry loop of an `async fn`, as `#[retry]` writes it.
///
/// The proc macro parses, checks and reports; this expands. Keeping the
/// loop here means the proc macro emits a short invocation instead of the
/// whole loop (most of a proc macro's cost is the tokens it produces), and
/// the loop's locals are hygienic. Tokens that carry the user's spans for
/// diagnostics (the classifier, the argument clones, the timeout
/// conversion) are built by the proc macro and passed in, with the names
/// of the bindings they use.
#[doc(hidden)]
#[macro_export]
macro_rules! __retry_async {
    (
        source: $source:expr,
        budget: $budget:expr,
        budgeted: $budgeted:literal,
        timed: $timed:literal,
        name: $name:expr,
        enforces_timeout: $enforces:expr,
        attempt: [$($attempt:ident)?],
        output: $output:ty,
        error: $error:ident,
        verdict: $verdict:expr,
        notify: $notify:expr,
        timeout: [$($after:expr, $timed_out:ident => $convert:expr,)?],
        bindings: { $($bindings:tt)* },
        body: { $($body:tt)* }
    ) => {{
        let mut engine = $crate::__private::Engine::new($source, $crate::__private::Clock::Tokio).with_budget($budget);
        let mut notify = $notify;
        engine.begin($name, $timed, $enforces);
        loop {
            // Everything an attempt owns lives in this block and is dropped
            // before the sleep: no error is held across an `.await`.
            let delay = {
                $(let $attempt: u32 = engine.attempt();)?
                $($bindings)*
                let pending = async {
                    // Pins the block's output type, so that `?` in the body
                    // knows which error to convert into.
                    #[allow(unreachable_code, clippy::diverging_sub_expression, clippy::empty_loop)]
                    if false {
                        let fake: $output = loop {};
                        return fake;
                    }
                    $($body)*
                };
                let (result, timed_out): ($output, bool) = $crate::__retry_attempt!(pending, [$($after, $timed_out => $convert,)?]);
                $crate::__retry_outcome!(
                    engine, result, $budgeted, $name, notify,
                    $error => if timed_out { $crate::__private::Verdict::TIMED_OUT } else { $verdict }
                )
            };
            $crate::__private::sleep(delay).await;
        }
    }};
}

/// Awaits one attempt, under a timeout if one is given.
#[doc(hidden)]
#[macro_export]
macro_rules! __retry_attempt {
    ($pending:ident, []) => {
        ($pending.await, false)
    };
    ($pending:ident, [$after:expr, $timed_out:ident => $convert:expr,]) => {
        match $crate::__private::timeout($after, $pending).await {
            $crate::__private::Ok(result) => (result, false),
            $crate::__private::Err($timed_out) => ($crate::__private::Err($convert), true),
        }
    };
}

/// What follows an attempt's result: return an `Ok`; for an `Err`, the
/// delay before the next attempt, or return the error.
#[doc(hidden)]
#[macro_export]
macro_rules! __retry_outcome {
    ($engine:ident, $result:ident, $budgeted:literal, $name:expr, $notify:ident, $error:ident => $verdict:expr) => {
        match $result {
            $crate::__private::Ok(value) => {
                // A literal: without a budget the refund compiles away.
                if $budgeted {
                    $engine.succeeded($name);
                } else {
                    $engine.finished_ok($name);
                }
                return $crate::__private::Ok(value);
            }
            $crate::__private::Err($error) => {
                match $crate::__private::failed(
                    &mut $engine,
                    $name,
                    &$error,
                    $verdict,
                    &mut $notify,
                ) {
                    $crate::__private::Some(delay) => delay,
                    $crate::__private::None => return $crate::__private::Err($error),
                }
            }
        }
    };
}

/// The retry loop of a blocking `fn`, as `#[retry]` writes it; see
/// [`__retry_async`].
#[doc(hidden)]
#[macro_export]
macro_rules! __retry_blocking {
    (
        source: $source:expr,
        budget: $budget:expr,
        budgeted: $budgeted:literal,
        timed: $timed:literal,
        name: $name:expr,
        attempt: [$($attempt:ident)?],
        output: $output:ty,
        error: $error:ident,
        verdict: $verdict:expr,
        notify: $notify:expr,
        bindings: { $($bindings:tt)* },
        body: { $($body:tt)* }
    ) => {{
        let mut engine = $crate::__private::Engine::new($source, $crate::__private::Clock::Std).with_budget($budget);
        let mut notify = $notify;
        engine.begin($name, $timed, false);
        loop {
            let delay = {
                $(let $attempt: u32 = engine.attempt();)?
                $($bindings)*
                #[allow(clippy::redundant_closure_call)]
                let result: $output = (|| -> $output { $($body)* })();
                $crate::__retry_outcome!(engine, result, $budgeted, $name, notify, $error => $verdict)
            };
            $crate::__private::sleep_blocking(delay);
        }
    }};
}

pub use crate::{__retry_async as retry_async, __retry_blocking as retry_blocking};
pub use core::option::Option::{None, Some};
