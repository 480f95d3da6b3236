//! The pieces generated code calls. Each is small and generic over the
//! error only where it must be, so a crate with many `#[retry]` functions
//! compiles little code per function.

use std::fmt::Display;
use std::future::Future;
use std::time::Duration;

pub use crate::engine::{
    BudgetSlot, Clock, Engine, EnvPolicy, FromEnv, NoBudget, Source, Step, Verdict,
};
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
///
/// `error` is the only parameter whose type names `E`, so that a missing
/// `Display` is reported at the argument, which the macro spans at the
/// function's error type (with `E` in two parameters, rustc would blame
/// the whole call, that is the attribute).
pub fn failed<S: Source, B: BudgetSlot, E: ErrorDisplay, N: Notify<E>>(
    engine: &mut Engine<S, B>,
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

/// `notify = expr` for a closure: the `FnMut` bound gives the closure its
/// argument type, which a `Notify` bound alone would not.
pub fn closure_hook<R: ResultType, F: FnMut(&RetryEvent<'_, R::Error>)>(
    hook: F,
) -> Hooked<R::Error, F> {
    Hooked {
        hook,
        call: call_hook::<R::Error, F>,
    }
}

/// `notify = expr` for any other value: a `fn`, or a type implementing
/// [`Notify`].
pub fn hook<R: ResultType, N: Notify<R::Error>>(hook: N) -> Hooked<R::Error, N> {
    Hooked {
        hook,
        call: call_hook::<R::Error, N>,
    }
}

fn call_hook<E, N: Notify<E>>(hook: &mut N, event: &RetryEvent<'_, E>) {
    hook.notify(event);
}

/// A hook whose `Notify` bound was checked where it was built ([`hook`],
/// [`closure_hook`], at the user's expression), so that a hook of the wrong
/// type is one error there and not a second one at the decision.
pub struct Hooked<E, N> {
    hook: N,
    call: fn(&mut N, &RetryEvent<'_, E>),
}

impl<E, N> std::fmt::Debug for Hooked<E, N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hooked").finish_non_exhaustive()
    }
}

impl<E, N> Notify<E> for Hooked<E, N> {
    fn notify(&mut self, event: &RetryEvent<'_, E>) {
        (self.call)(&mut self.hook, event);
    }
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

// Checks of keys given as constants, which the proc macro cannot read:
// each is called in a `const _` item spanned at the user's expression, so
// a bad value fails constant evaluation there, with the key's own message.

/// `max = CONST`.
pub const fn check_max(max: u32) {
    assert!(
        max != 0,
        "#[retry]: `max` is 0, which would make no attempt at all; `max = 1` disables retries"
    );
}

/// `factor = CONST`.
pub const fn check_factor(factor: f64) {
    assert!(
        factor >= 1.0 && factor.is_finite(),
        "#[retry]: `factor` is below 1 (or not a finite number), which would shrink the delays; use a number >= 1 (`1` keeps them constant)"
    );
}

/// `timeout = CONST`.
pub const fn check_timeout(timeout: Duration) {
    assert!(
        !timeout.is_zero(),
        "#[retry]: `timeout` is zero, which would time out every attempt at once"
    );
}

/// `deadline = CONST`.
pub const fn check_deadline(deadline: Duration) {
    assert!(
        !deadline.is_zero(),
        "#[retry]: `deadline` is zero, which leaves no time for a retry"
    );
}

/// `base` and `max_delay`, when either is a constant.
pub const fn check_delays(base: Duration, max_delay: Duration) {
    assert!(
        max_delay.as_nanos() >= base.as_nanos(),
        "#[retry]: `max_delay` is below `base`; every delay is capped at `max_delay`"
    );
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

/// A by-value `self` is cloned for each attempt, as [`ArgClone`] does for
/// arguments.
#[diagnostic::on_unimplemented(
    message = "`#[retry]` passes a by-value `self` to every attempt, so `{Self}` must be `Clone`",
    label = "this receiver is moved into each attempt",
    note = "take `&self` or `&mut self`, or implement or derive `Clone` for `{Self}`"
)]
pub trait SelfClone: Sized {
    fn clone_for_attempt(&self) -> Self;
}

impl<T: Clone> SelfClone for T {
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

/// The error of a `#[retry]` function is logged and recorded as text, so
/// it must implement `Display`.
#[diagnostic::on_unimplemented(
    message = "`#[retry]` reports each failed attempt's error as text, so `{Self}` must implement `Display`",
    label = "this error type does not implement `Display`",
    note = "implement `std::fmt::Display` for `{Self}`, e.g. with `#[derive(thiserror::Error)]` and `#[error(\"..\")]`"
)]
pub trait ErrorDisplay: Display {}

impl<E: Display + ?Sized> ErrorDisplay for E {}

/// Finds, for `#[retry(policy = ..)]`, whether the function's error type
/// can hold a timed-out attempt (`From<TimedOut>`): method resolution picks
/// [`TimeoutFrom`] when it applies (autoref specialization), else
/// [`TimeoutUnsupported`].
#[derive(Debug)]
pub struct TimeoutProbe<R>(core::marker::PhantomData<fn() -> R>);

impl<R> TimeoutProbe<R> {
    #[allow(clippy::new_without_default)]
    pub const fn new() -> Self {
        TimeoutProbe(core::marker::PhantomData)
    }
}

/// A timed-out attempt, turned into the function's error.
pub type Convert<E> = fn(TimedOut) -> E;

pub trait TimeoutFrom {
    type Error;
    fn conversion(&self) -> Option<Convert<Self::Error>>;
}

impl<T, E: From<TimedOut>> TimeoutFrom for TimeoutProbe<Result<T, E>> {
    type Error = E;
    fn conversion(&self) -> Option<Convert<E>> {
        Some(E::from)
    }
}

pub trait TimeoutUnsupported {
    type Error;
    fn conversion(&self) -> Option<Convert<Self::Error>>;
}

impl<T, E> TimeoutUnsupported for &TimeoutProbe<Result<T, E>> {
    type Error = E;
    fn conversion(&self) -> Option<Convert<E>> {
        None
    }
}

/// The limit of one attempt under a run-time policy: its `attempt_timeout`,
/// if it has one and the error type can hold a timed-out attempt.
pub fn limit<S: Source, B: BudgetSlot, E>(
    engine: &Engine<S, B>,
    convert: Option<Convert<E>>,
) -> Option<(Duration, Convert<E>)> {
    Some((engine.attempt_timeout()?, convert?))
}

/// Says once per call site that a run-time policy's `attempt_timeout` is
/// not enforced because the error type cannot hold a timed-out attempt.
pub fn timeout_unenforced<S: Source, B: BudgetSlot, E>(
    warned: &'static std::sync::atomic::AtomicBool,
    engine: &Engine<S, B>,
    function: &'static str,
    convert: Option<Convert<E>>,
) {
    if let (None, Some(timeout)) = (convert, engine.attempt_timeout()) {
        if !warned.swap(true, std::sync::atomic::Ordering::Relaxed) {
            policy_timeout_unenforced(function, timeout, core::any::type_name::<E>());
        }
    }
}

/// Says once per call site that a run-time policy's `attempt_timeout`
/// does not apply to a blocking function.
pub fn blocking_timeout_unenforced<S: Source, B: BudgetSlot>(
    warned: &'static std::sync::atomic::AtomicBool,
    engine: &Engine<S, B>,
    function: &'static str,
) {
    if let Some(timeout) = engine.attempt_timeout() {
        if !warned.swap(true, std::sync::atomic::Ordering::Relaxed) {
            #[cfg(feature = "tracing")]
            tracing::warn!(
                target: "retry",
                function,
                timeout = %crate::format_duration(timeout),
                "the policy's attempt_timeout is not enforced: `#[retry]` on a blocking `fn` \
                 cannot interrupt an attempt; bound the retries with the policy's deadline, or \
                 make the function `async` (reported once for this function)",
            );
            #[cfg(not(feature = "tracing"))]
            eprintln!(
                "retry: {function}: the policy's attempt_timeout {} is not enforced: a blocking \
                 `fn` cannot interrupt an attempt (reported once for this function)",
                crate::format_duration(timeout)
            );
        }
    }
}

fn policy_timeout_unenforced(function: &'static str, timeout: Duration, error: &'static str) {
    #[cfg(feature = "tracing")]
    tracing::warn!(
        target: "retry",
        function,
        timeout = %crate::format_duration(timeout),
        error,
        "the policy's attempt_timeout is not enforced: `#[retry]` returns a timed-out attempt \
         through `From<retry_runtime::TimedOut>`, which `{error}` does not implement; implement it \
         (e.g. a `TimedOut(#[from] retry_runtime::TimedOut)` variant, with `E: From<TimedOut>` \
         among the bounds of a generic error), or give the policy no attempt_timeout \
         (reported once for this function)",
    );
    #[cfg(not(feature = "tracing"))]
    eprintln!(
        "retry: {function}: the policy's attempt_timeout {} is not enforced: `{error}` does not \
         implement `From<retry_runtime::TimedOut>`; implement it, or give the policy no \
         attempt_timeout (reported once for this function)",
        crate::format_duration(timeout)
    );
}

pin_project_lite::pin_project! {
    /// One attempt under an optional limit: the attempt's own result, or
    /// the converted timeout and `true`.
    #[project = WithinProjection]
    pub enum Within<F, E> {
        Free { #[pin] attempt: F },
        Limited { #[pin] attempt: tokio::time::Timeout<F>, after: Duration, convert: Convert<E> },
    }
}

impl<F, T, E> Future for Within<F, E>
where
    F: Future<Output = Result<T, E>>,
{
    type Output = (Result<T, E>, bool);

    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        match self.project() {
            WithinProjection::Free { attempt } => attempt.poll(cx).map(|result| (result, false)),
            WithinProjection::Limited {
                attempt,
                after,
                convert,
            } => attempt.poll(cx).map(|outcome| match outcome {
                Ok(result) => (result, false),
                Err(_) => (Err(convert(TimedOut::new(*after))), true),
            }),
        }
    }
}

/// Runs one attempt under `limit`, if any.
pub fn within<F, T, E>(limit: Option<(Duration, Convert<E>)>, attempt: F) -> Within<F, E>
where
    F: Future<Output = Result<T, E>>,
{
    match limit {
        Some((after, convert)) => Within::Limited {
            attempt: tokio::time::timeout(after, attempt),
            after,
            convert,
        },
        None => Within::Free { attempt },
    }
}

/// The field of a `#[classify(transparent)]` variant, which the derived
/// `Classify` delegates to.
#[diagnostic::on_unimplemented(
    message = "`#[classify(transparent)]` delegates to this field, so `{Self}` must implement `Classify`",
    label = "this field's type does not implement `Classify`",
    note = "derive or implement `Classify` for `{Self}`, or give the variant a class of its own: `#[classify(transient)]`, `#[classify(ambiguous)]` or `#[classify(permanent)]`"
)]
pub trait TransparentField {
    fn field_class(&self) -> Class;
    fn field_retry_after(&self) -> Option<Duration>;
    fn field_label(&self) -> Option<&str>;
}

impl<T: Classify + ?Sized> TransparentField for T {
    fn field_class(&self) -> Class {
        self.classify()
    }
    fn field_retry_after(&self) -> Option<Duration> {
        self.retry_after()
    }
    fn field_label(&self) -> Option<&str> {
        self.label()
    }
}

/// The field named by `#[classify(retry_after = field)]`: a `Duration` or
/// an `Option<Duration>`.
#[diagnostic::on_unimplemented(
    message = "`#[classify(retry_after = ..)]` reads a `Duration` or an `Option<Duration>`, not `{Self}`",
    label = "expected `Duration` or `Option<Duration>`",
    note = "name a field of type `std::time::Duration` or `Option<std::time::Duration>`"
)]
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
///
/// Every local is named `__retry_*`: `macro_rules!` hygiene hides locals
/// from the body, but a pattern such as `let engine` would still resolve
/// to a user's `static engine` or unit struct `engine` in scope (E0530), as
/// items are not hygienic. The `__retry` prefix is reserved.
///
/// `timeout` is `[]` (none), `[after, timed_out => convert,]` (the
/// `timeout` key: a conversion the compiler checks), or `[@policy probe]`
/// (a run-time policy: its `attempt_timeout` is enforced where `probe`
/// finds `From<TimedOut>`, and reported once per call site where not).
#[doc(hidden)]
#[macro_export]
macro_rules! __retry_async {
    (
        source: $source:expr,
        budget: $budget:expr,
        name: $name:expr,
        enforces_timeout: $enforces:expr,
        notify: [$notify:ident = $hook:expr, timed: $timed_events:literal],
        attempt: [$($attempt:ident)?],
        output: $output:ty,
        engine: $engine:ident,
        timed_out: $timed:ident,
        error: $error:ident,
        decide: $decide:expr,
        timeout: [$($timeout:tt)*],
        bindings: { $($bindings:tt)* },
        body: { $($body:tt)* }
    ) => {{
        let mut $engine = $crate::__private::Engine::budgeted($source, $crate::__private::Clock::Tokio, $budget);
        // The hook is built once per call; it may borrow `self` and the
        // arguments.
        let mut $notify = $hook;
        $engine.begin($name, $timed_events, $enforces);
        let __retry_convert = $crate::__retry_convert!($engine, $name, [$($timeout)*]);
        loop {
            // Everything an attempt owns lives in this block and is dropped
            // before the sleep: no error is held across an `.await`.
            let __retry_delay = {
                $(let $attempt: u32 = $engine.attempt();)?
                $($bindings)*
                let __retry_pending = async {
                    // Pins the block's output type, so that `?` in the body
                    // knows which error to convert into.
                    #[allow(unreachable_code, clippy::diverging_sub_expression, clippy::empty_loop)]
                    if false {
                        let __retry_fake: $output = loop {};
                        return __retry_fake;
                    }
                    $($body)*
                };
                let (__retry_result, $timed): ($output, bool) = $crate::__retry_attempt!(
                    $engine, __retry_pending, __retry_convert, [$($timeout)*]
                );
                $crate::__retry_outcome!($engine, __retry_result, $name, $error => $decide)
            };
            $crate::__private::sleep(__retry_delay).await;
        }
    }};
}

/// Before the first attempt: for a run-time policy, the conversion of a
/// timed-out attempt into the error, if the error type has one (and a
/// report, once per call site, if the policy has a timeout it cannot
/// enforce); nothing otherwise.
#[doc(hidden)]
#[macro_export]
macro_rules! __retry_convert {
    ($engine:ident, $name:expr, [@policy $probe:expr]) => {{
        let __retry_convert = $probe;
        {
            static __RETRY_WARNED: ::core::sync::atomic::AtomicBool =
                ::core::sync::atomic::AtomicBool::new(false);
            $crate::__private::timeout_unenforced(
                &__RETRY_WARNED,
                &$engine,
                $name,
                __retry_convert,
            );
        }
        __retry_convert
    }};
    ($engine:ident, $name:expr, [$($timeout:tt)*]) => {
        ()
    };
}

/// Awaits one attempt, under a timeout if one is given.
#[doc(hidden)]
#[macro_export]
macro_rules! __retry_attempt {
    ($engine:ident, $pending:ident, $convert:ident, []) => {
        ($pending.await, false)
    };
    ($engine:ident, $pending:ident, $convert:ident, [@policy $probe:expr]) => {
        $crate::__private::within($crate::__private::limit(&$engine, $convert), $pending).await
    };
    ($engine:ident, $pending:ident, $convert:ident, [$after:expr, $timed_out:ident => $convert_expr:expr,]) => {
        match $crate::__private::timeout($after, $pending).await {
            $crate::__private::Ok(__retry_result) => (__retry_result, false),
            $crate::__private::Err($timed_out) => ($crate::__private::Err($convert_expr), true),
        }
    };
}

/// What follows an attempt's result: return an `Ok`; for an `Err`, the
/// delay before the next attempt, or return the error.
#[doc(hidden)]
#[macro_export]
macro_rules! __retry_outcome {
    ($engine:ident, $result:ident, $name:expr, $error:ident => $decide:expr) => {
        match $result {
            $crate::__private::Ok(__retry_value) => {
                $engine.succeeded($name);
                return $crate::__private::Ok(__retry_value);
            }
            // `$decide` calls `failed` on `$error`, a reference to the
            // error. The proc macro writes that call spanned at the
            // function's error type, so that what `failed` asks of the
            // error (`Display`) is asked there.
            $crate::__private::Err(ref $error) => match $decide {
                $crate::__private::Some(__retry_delay) => __retry_delay,
                $crate::__private::None => return $result,
            },
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
        name: $name:expr,
        notify: [$notify:ident = $hook:expr, timed: $timed_events:literal],
        attempt: [$($attempt:ident)?],
        output: $output:ty,
        engine: $engine:ident,
        error: $error:ident,
        decide: $decide:expr,
        timeout: [$($timeout:tt)*],
        bindings: { $($bindings:tt)* },
        body: { $($body:tt)* }
    ) => {{
        let mut $engine = $crate::__private::Engine::budgeted($source, $crate::__private::Clock::Std, $budget);
        // A compiled policy has no timeout (the key needs an `async fn`); a
        // run-time policy's cannot be enforced on a blocking call, which is
        // reported once per call site (`[@policy]`).
        let mut $notify = $hook;
        $engine.begin($name, $timed_events, true);
        $crate::__retry_blocking_timeout!($engine, $name, [$($timeout)*]);
        loop {
            let __retry_delay = {
                $(let $attempt: u32 = $engine.attempt();)?
                $($bindings)*
                #[allow(clippy::redundant_closure_call)]
                let __retry_result: $output = (|| -> $output { $($body)* })();
                $crate::__retry_outcome!($engine, __retry_result, $name, $error => $decide)
            };
            $crate::__private::sleep_blocking(__retry_delay);
        }
    }};
}

/// For a blocking function with a run-time policy: reports, once per call
/// site, a policy timeout that a blocking call cannot enforce.
#[doc(hidden)]
#[macro_export]
macro_rules! __retry_blocking_timeout {
    ($engine:ident, $name:expr, [@policy]) => {{
        static __RETRY_WARNED: ::core::sync::atomic::AtomicBool =
            ::core::sync::atomic::AtomicBool::new(false);
        $crate::__private::blocking_timeout_unenforced(&__RETRY_WARNED, &$engine, $name);
    }};
    ($engine:ident, $name:expr, []) => {};
}

pub use crate::{__retry_async as retry_async, __retry_blocking as retry_blocking};
pub use core::option::Option::{None, Some};
