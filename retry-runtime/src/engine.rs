//! The retry decision, shared by the [`Retry`](crate::Retry) future and the
//! code `#[retry]` generates: given a failure, retry after a delay or stop.
//!
//! It holds no error and does no I/O beyond reading the clock when a
//! deadline is set, so both the future and the generated loops stay free of
//! allocation and `Send` whatever the error type.

use std::fmt;
use std::ops::Deref;
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime};

use crate::backoff::Delays;
use crate::report::{self, History};
use crate::{AttemptRecord, Class, Notify, RetryBudget, RetryEvent, RetryPolicy, telemetry};

/// Why a retry loop returned an error instead of retrying it.
///
/// ```
/// use retry_runtime::{Class, StopReason};
/// assert_eq!(
///     StopReason::NotRetryable(Class::Ambiguous).to_string(),
///     "ambiguous failures are not retried here",
/// );
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(tag = "reason", rename_all = "snake_case"))]
#[non_exhaustive]
pub enum StopReason {
    /// The failure's class is not in the policy's `on` set (a `Permanent`
    /// failure never is).
    NotRetryable(Class),
    /// Every allowed attempt was made.
    Exhausted {
        /// The attempts made.
        attempts: u32,
    },
    /// The shared [`RetryBudget`] had no tokens to spare.
    BudgetEmpty,
    /// The next attempt would have started at or past the deadline.
    Deadline {
        /// The policy's deadline.
        #[cfg_attr(feature = "serde", serde(with = "crate::serde_duration"))]
        deadline: Duration,
    },
    /// The server asked for a wait longer than the policy's `max_delay`.
    RetryAfterTooLong {
        /// The server's hint.
        #[cfg_attr(feature = "serde", serde(with = "crate::serde_duration"))]
        retry_after: Duration,
    },
}

impl StopReason {
    /// A short `snake_case` name: the `reason` label of the
    /// `retry_give_ups_total` metric.
    ///
    /// ```
    /// use retry_runtime::StopReason;
    /// assert_eq!(StopReason::BudgetEmpty.as_str(), "budget_empty");
    /// ```
    pub const fn as_str(self) -> &'static str {
        match self {
            StopReason::NotRetryable(_) => "not_retryable",
            StopReason::Exhausted { .. } => "exhausted",
            StopReason::BudgetEmpty => "budget_empty",
            StopReason::Deadline { .. } => "deadline",
            StopReason::RetryAfterTooLong { .. } => "retry_after_too_long",
        }
    }
}

impl fmt::Display for StopReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use crate::format_duration as human;
        match self {
            StopReason::NotRetryable(class) => write!(f, "{class} failures are not retried here"),
            StopReason::Exhausted { attempts: 1 } => write!(f, "retries disabled (1 attempt)"),
            StopReason::Exhausted { attempts } => {
                write!(f, "retries exhausted after {attempts} attempts")
            }
            StopReason::BudgetEmpty => write!(f, "retry budget empty"),
            StopReason::Deadline { deadline } => {
                write!(f, "deadline of {} reached", human(*deadline))
            }
            StopReason::RetryAfterTooLong { retry_after } => {
                write!(
                    f,
                    "server asked to wait {}, more than max_delay",
                    human(*retry_after)
                )
            }
        }
    }
}

/// What is known about one failure before the engine decides.
#[doc(hidden)]
#[derive(Clone, Copy, Debug)]
pub struct Verdict<'e> {
    pub class: Class,
    pub retry_after: Option<Duration>,
    pub label: Option<&'e str>,
}

impl Verdict<'_> {
    /// A timed-out attempt, whatever its error would classify as.
    pub const TIMED_OUT: Verdict<'static> = Verdict {
        class: Class::Ambiguous,
        retry_after: None,
        label: Some("timeout"),
    };

    pub fn of(class: Class) -> Self {
        Verdict {
            class,
            retry_after: None,
            label: None,
        }
    }
}

/// The engine's answer to a failure.
#[doc(hidden)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Sleep this long, then make the next attempt.
    Retry(Duration),
    /// Return the error.
    Stop(StopReason),
}

/// Which clock measures the deadline: tokio's (pausable in tests) for async
/// code, the system's for blocking code.
#[doc(hidden)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Clock {
    Tokio,
    Std,
}

impl Clock {
    #[inline]
    fn now(self) -> Instant {
        match self {
            Clock::Tokio => tokio::time::Instant::now().into_std(),
            Clock::Std => Instant::now(),
        }
    }
}

/// Where an engine gets its policy. The indirection lets `#[retry(env = ..)]`
/// swap in the environment's overrides at the first failure without storing
/// a policy in the generated future, and lets the [`Retry`](crate::Retry)
/// future store its policy packed.
#[doc(hidden)]
pub trait Source {
    /// How the policy is seen: a reference where it is stored as is, an
    /// unpacked copy where it is packed. A reference avoids copying the
    /// 96-byte policy at each decision.
    type Policy<'a>: Deref<Target = RetryPolicy>
    where
        Self: 'a;
    fn policy(&self) -> Self::Policy<'_>;
    /// The policy's `deadline`, read before every call.
    fn deadline(&self) -> Option<Duration> {
        self.policy().deadline
    }
    /// The policy's `attempt_timeout`, read before every attempt.
    fn attempt_timeout(&self) -> Option<Duration> {
        self.policy().attempt_timeout
    }
    /// Called once, at the first failure.
    fn on_first_failure(&mut self) {}
}

impl Source for RetryPolicy {
    type Policy<'a> = &'a RetryPolicy;
    fn policy(&self) -> &RetryPolicy {
        self
    }
}

impl Source for &RetryPolicy {
    type Policy<'a>
        = &'a RetryPolicy
    where
        Self: 'a;
    fn policy(&self) -> &RetryPolicy {
        self
    }
}

/// A packed policy, unpacked for one decision.
#[derive(Debug)]
pub(crate) struct Unpacked(RetryPolicy);

impl Deref for Unpacked {
    type Target = RetryPolicy;
    fn deref(&self) -> &RetryPolicy {
        &self.0
    }
}

/// A [`RetryPolicy`] packed for storage in a future: durations as whole
/// nanoseconds (saturating at `u64::MAX - 1`, about 584 years, which only a
/// "never" could exceed), optional ones with `u64::MAX` for none. 56 bytes
/// instead of 96.
///
/// The order is chosen for the stores that build it, usually from
/// constants: the small fields fill one word; the two optional durations,
/// usually both none (all ones), sit together, and the seed, usually zero,
/// comes last, next to the engine's zeroed fields, so that the compiler
/// writes each such run of equal bytes with one wide store.
#[derive(Clone, Copy, Debug)]
#[repr(C)]
pub(crate) struct Packed {
    base: u64,
    max_delay: u64,
    factor: f64,
    max_attempts: u32,
    backoff: crate::Backoff,
    jitter: crate::Jitter,
    on: crate::ClassSet,
    seeded: bool,
    deadline: u64,
    attempt_timeout: u64,
    seed: u64,
}

const NONE: u64 = u64::MAX;

#[inline]
fn pack(duration: Duration) -> u64 {
    // u64 arithmetic: cheaper than going through `as_nanos`' u128.
    duration
        .as_secs()
        .checked_mul(1_000_000_000)
        .and_then(|nanos| nanos.checked_add(u64::from(duration.subsec_nanos())))
        .map_or(NONE - 1, |nanos| nanos.min(NONE - 1))
}

#[inline]
fn pack_option(duration: Option<Duration>) -> u64 {
    duration.map_or(NONE, pack)
}

#[inline]
fn unpack_option(nanos: u64) -> Option<Duration> {
    (nanos != NONE).then(|| Duration::from_nanos(nanos))
}

impl From<RetryPolicy> for Packed {
    // Inlined so that packing a constant policy folds away at the call site.
    #[inline]
    fn from(policy: RetryPolicy) -> Self {
        Packed {
            base: pack(policy.base),
            max_delay: pack(policy.max_delay),
            deadline: pack_option(policy.deadline),
            attempt_timeout: pack_option(policy.attempt_timeout),
            factor: policy.factor,
            seed: policy.seed.unwrap_or_default(),
            max_attempts: policy.max_attempts,
            backoff: policy.backoff,
            jitter: policy.jitter,
            on: policy.on,
            seeded: policy.seed.is_some(),
        }
    }
}

impl Source for Packed {
    type Policy<'a> = Unpacked;

    #[inline]
    fn deadline(&self) -> Option<Duration> {
        unpack_option(self.deadline)
    }

    #[inline]
    fn attempt_timeout(&self) -> Option<Duration> {
        unpack_option(self.attempt_timeout)
    }

    fn policy(&self) -> Unpacked {
        Unpacked(RetryPolicy {
            max_attempts: self.max_attempts,
            base: Duration::from_nanos(self.base),
            factor: self.factor,
            backoff: self.backoff,
            max_delay: Duration::from_nanos(self.max_delay),
            jitter: self.jitter,
            deadline: unpack_option(self.deadline),
            attempt_timeout: unpack_option(self.attempt_timeout),
            on: self.on,
            seed: self.seeded.then_some(self.seed),
        })
    }
}

/// A compiled policy with environment overrides read once per process, at
/// the first failure of any call (so the success path never reads the
/// environment). `#[retry(env = "PREFIX")]` keeps one in a `static`.
#[doc(hidden)]
#[derive(Debug)]
pub struct EnvPolicy {
    prefix: &'static str,
    compiled: RetryPolicy,
    resolved: OnceLock<RetryPolicy>,
}

impl EnvPolicy {
    pub const fn new(prefix: &'static str, compiled: RetryPolicy) -> Self {
        EnvPolicy {
            prefix,
            compiled,
            resolved: OnceLock::new(),
        }
    }

    /// The compiled policy with the valid overrides applied; each invalid
    /// variable is reported (WARN) and its setting keeps the compiled value.
    pub fn resolve(&'static self) -> &'static RetryPolicy {
        self.resolved.get_or_init(|| {
            let (policy, errors) = self
                .compiled
                .apply_env(self.prefix, |name| std::env::var_os(name));
            for error in &errors {
                telemetry::invalid_env(error);
            }
            policy
        })
    }

    /// The source for one call: the compiled policy until the first failure.
    pub fn source(&'static self) -> FromEnv {
        FromEnv {
            current: &self.compiled,
            env: self,
        }
    }
}

#[doc(hidden)]
#[derive(Debug, Clone, Copy)]
pub struct FromEnv {
    current: &'static RetryPolicy,
    env: &'static EnvPolicy,
}

impl Source for FromEnv {
    type Policy<'a> = &'static RetryPolicy;
    fn policy(&self) -> &'static RetryPolicy {
        self.current
    }
    fn on_first_failure(&mut self) {
        self.current = self.env.resolve();
    }
}

/// The state of one call's retry loop. It owns nothing that needs
/// dropping: a history kept for a capture lives in the capture, reached
/// by where the engine lives, and one kept for `.report()` in the
/// [`Reported`](crate::Reported) future.
#[doc(hidden)]
#[derive(Debug)]
#[repr(C)] // `watch` first; see there
pub struct Engine<S, B = Option<&'static RetryBudget>> {
    /// What the success path must look at beyond the capture flag (a
    /// deadline, an attempt timeout, a budget, a start time), which clock
    /// the loop reads, and whether a panic left it mid-step: bits worked
    /// out when the engine is built, which fold to a constant for a
    /// constant policy. The success path reads this one word instead of
    /// policy fields. It comes first so that a wider store the compiler
    /// merges it into starts at it: a load takes its data from a store
    /// still in flight only if both start at the same address, and
    /// otherwise waits for the store to reach the cache. With `attempt` it
    /// makes 8 bytes, written at once.
    watch: u32,
    attempt: u32,
    source: S,
    // Zero when built, like a packed policy's usual seed just before them.
    budget: B,
    delays: Delays,
    started: Option<Instant>,
}

// The bits of `Engine::watch`.
const WATCH_DEADLINE: u32 = 1;
const WATCH_TIMEOUT: u32 = 2;
const WATCH_BUDGET: u32 = 4;
/// `started` holds the start time: set at `begin` (or at the first failure
/// under a deadline from the environment), never while building.
const WATCH_STARTED: u32 = 8;
/// The loop reads the system's clock, not tokio's.
const CLOCK_STD: u32 = 16;
/// A panic escaped a poll of the `Retry` future this engine drives.
const POISONED: u32 = 32;

/// Where an engine finds its shared budget: an optional reference, or
/// [`NoBudget`] where a loop is known to have none.
#[doc(hidden)]
pub trait BudgetSlot: Copy {
    fn get(self) -> Option<&'static RetryBudget>;
}

impl BudgetSlot for Option<&'static RetryBudget> {
    #[inline]
    fn get(self) -> Option<&'static RetryBudget> {
        self
    }
}

/// The budget of a `#[retry]` loop without the `budget` key: zero-sized,
/// so its future spends neither bytes nor a store on it.
#[doc(hidden)]
#[derive(Clone, Copy, Debug)]
pub struct NoBudget;

impl BudgetSlot for NoBudget {
    #[inline]
    fn get(self) -> Option<&'static RetryBudget> {
        None
    }
}

impl<S: Source> Engine<S> {
    pub fn new(source: S, clock: Clock) -> Self {
        Engine::budgeted(source, clock, None)
    }

    pub fn set_budget(&mut self, budget: &'static RetryBudget) {
        self.budget = Some(budget);
        self.watch |= WATCH_BUDGET;
    }
}

impl<S: Source, B: BudgetSlot> Engine<S, B> {
    /// [`new`](Self::new) with a shared budget: built in one expression,
    /// so that the generated loop does not move the engine after building
    /// it (a copy the optimiser keeps).
    pub fn budgeted(source: S, clock: Clock, budget: B) -> Self {
        let bit = |set: bool, bit: u32| if set { bit } else { 0 };
        let watch = bit(source.deadline().is_some(), WATCH_DEADLINE)
            | bit(source.attempt_timeout().is_some(), WATCH_TIMEOUT)
            | bit(budget.get().is_some(), WATCH_BUDGET)
            | bit(clock == Clock::Std, CLOCK_STD);
        Engine {
            source,
            attempt: 1,
            started: None,
            budget,
            delays: Delays::default(),
            watch,
        }
    }

    pub fn policy(&self) -> S::Policy<'_> {
        self.source.policy()
    }

    /// The 1-based number of the attempt under way.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// Marks the start of the first attempt. Reads the clock only when a
    /// deadline needs it, when `keep_time` (a notify hook wants `elapsed`,
    /// or `.report()` a history), or inside a [`capture`](crate::capture).
    /// `enforces_timeout` says whether the caller can turn a timeout into
    /// its error; a policy timeout it cannot enforce is reported, not hidden.
    #[inline]
    pub fn begin(&mut self, function: &'static str, keep_time: bool, enforces_timeout: bool) {
        if !enforces_timeout && self.watch & WATCH_TIMEOUT != 0 {
            if let Some(timeout) = self.source.attempt_timeout() {
                telemetry::not_enforced_timeout(function, timeout);
            }
        }
        if report::capturing() {
            self.begin_captured();
        } else if keep_time || self.watch & WATCH_DEADLINE != 0 {
            self.start_clock();
        }
    }

    fn clock(&self) -> Clock {
        if self.watch & CLOCK_STD == 0 {
            Clock::Tokio
        } else {
            Clock::Std
        }
    }

    /// Marks the loop as left mid-step by a panic.
    pub(crate) fn poison(&mut self) {
        self.watch |= POISONED;
    }

    /// Whether a panic left the loop mid-step.
    pub(crate) fn poisoned(&self) -> bool {
        self.watch & POISONED != 0
    }

    /// Reads the clock for the start of the loop.
    fn start_clock(&mut self) {
        self.started = Some(self.clock().now());
        self.watch |= WATCH_STARTED;
    }

    /// [`begin`](Self::begin) inside a capture: a place in it, and the time.
    #[cold]
    fn begin_captured(&mut self) {
        report::open(self.key());
        self.start_clock();
    }

    /// Where this engine lives, which names its history in a capture: it
    /// does not move between `begin` and the end of the loop (it is
    /// pinned in a future, or a local of a blocking call).
    fn key(&self) -> usize {
        std::ptr::from_ref(self).addr()
    }

    /// The per-attempt timeout, if the policy has one.
    pub fn attempt_timeout(&self) -> Option<Duration> {
        self.source.attempt_timeout()
    }

    /// Time since [`begin`](Self::begin) (zero if the clock was not read).
    pub fn elapsed(&self) -> Duration {
        self.started.map_or(Duration::ZERO, |started| {
            self.clock().now().saturating_duration_since(started)
        })
    }

    /// A success: counts it, refunds the shared budget if there is one
    /// and, inside a capture, reports the call.
    #[inline]
    pub fn succeeded(&mut self, function: &'static str) {
        telemetry::attempt(function, None);
        // One test for both, as the common loop has neither.
        if self.watch & (WATCH_BUDGET | WATCH_STARTED) != 0 {
            self.succeeded_watched(function);
        }
    }

    /// [`succeeded`](Self::succeeded) with a budget to refund or a start
    /// time (inside a capture, a loop always has one).
    #[cold]
    fn succeeded_watched(&mut self, function: &'static str) {
        if let Some(budget) = self.budget.get() {
            budget.record_success();
        }
        if self.watch & WATCH_STARTED != 0 {
            self.close(function, None);
        }
    }

    /// A failure of the current attempt: decides whether to retry and after
    /// how long, reports the decision (telemetry, histories, call report),
    /// and moves to the next attempt.
    pub fn failed(
        &mut self,
        function: &'static str,
        verdict: Verdict<'_>,
        error: &dyn fmt::Display,
        report: Option<&mut History>,
    ) -> Step {
        if self.attempt == 1 {
            self.source.on_first_failure();
        }
        let class = verdict.class;
        telemetry::attempt(function, Some(class));
        let step = self.decide(class, verdict.retry_after);
        // A loop inside a capture always has a start time, so the common
        // loop asks nothing more of the capture.
        let captured = self.watch & WATCH_STARTED != 0 && report::is_open(self.key());
        if captured || report.is_some() {
            self.record(verdict, error, step, captured, report);
        }
        match step {
            Step::Retry(delay) => {
                let max_attempts = self.policy().max_attempts.max(1);
                telemetry::retrying(function, self.attempt, max_attempts, delay, class, error);
                self.attempt = self.attempt.saturating_add(1);
            }
            Step::Stop(reason) => {
                telemetry::gave_up(function, self.attempt, class, reason, error);
                if self.watch & WATCH_STARTED != 0 {
                    self.close(function, Some(reason));
                }
            }
        }
        step
    }

    /// [`failed`](Self::failed), then, if a retry follows, `notify` with
    /// the event describing it: the one place both the `Retry` future and
    /// generated loops build their hook's event.
    pub fn judge<E>(
        &mut self,
        function: &'static str,
        verdict: Verdict<'_>,
        error: &E,
        notify: &mut impl Notify<E>,
        report: Option<&mut History>,
    ) -> Step
    where
        E: fmt::Display,
    {
        let attempt = self.attempt;
        let step = self.failed(function, verdict, error, report);
        if let Step::Retry(delay) = step {
            let max_attempts = self.policy().max_attempts;
            notify.notify(&RetryEvent::new(
                attempt,
                max_attempts,
                delay,
                self.elapsed(),
                verdict.class,
                verdict.label,
                error,
            ));
        }
        step
    }

    /// Adds the failed attempt to the histories that are kept: the
    /// capture's if `captured`, and `.report()`'s.
    #[cold]
    fn record(
        &self,
        verdict: Verdict<'_>,
        error: &dyn fmt::Display,
        step: Step,
        captured: bool,
        report: Option<&mut History>,
    ) {
        let record = AttemptRecord {
            attempt: self.attempt,
            at: SystemTime::now(),
            elapsed: self.elapsed(),
            class: verdict.class,
            label: verdict.label.map(str::to_owned),
            error: report::error_text(error),
            delay: match step {
                Step::Retry(delay) => Some(delay),
                Step::Stop(_) => None,
            },
        };
        match report {
            Some(history) => {
                if captured {
                    report::record(self.key(), record.clone());
                }
                history.push(record);
            }
            None => report::record(self.key(), record),
        }
    }

    /// The end of a loop inside a capture: hands over its report.
    #[cold]
    fn close(&self, function: &'static str, stop: Option<StopReason>) {
        // A start time is kept for hooks and `.report()` too: outside a
        // capture there is nothing to hand over, nor a clock to read.
        if !report::capturing() {
            return;
        }
        report::close(self.key(), function, self.attempt, stop, self.elapsed());
    }

    fn decide(&mut self, class: Class, retry_after: Option<Duration>) -> Step {
        let policy = self.source.policy();
        let policy: &RetryPolicy = &policy;
        if class == Class::Permanent || !policy.on.contains(class) {
            return Step::Stop(StopReason::NotRetryable(class));
        }
        // Every retryable failure costs a token, the last one included: the
        // budget measures how often calls fail, not how often they retry.
        let budget_allows = self.budget.get().is_none_or(RetryBudget::record_failure);
        if self.attempt >= policy.max_attempts {
            return Step::Stop(StopReason::Exhausted {
                attempts: self.attempt,
            });
        }
        if !budget_allows {
            return Step::Stop(StopReason::BudgetEmpty);
        }
        let mut delay = self.delays.delay(policy, self.attempt);
        if let Some(hint) = retry_after {
            if hint > policy.max_delay {
                return Step::Stop(StopReason::RetryAfterTooLong { retry_after: hint });
            }
            delay = delay.max(hint);
        }
        if let Some(deadline) = policy.deadline {
            // Unset only for a deadline from the environment, read at the
            // first failure (fields, not `start_clock`: `policy` borrows).
            let clock = self.clock();
            let started = *self.started.get_or_insert_with(|| clock.now());
            self.watch |= WATCH_STARTED;
            // Saturating: a delay near Duration::MAX must stop here, not
            // overflow. A retry due at the deadline itself would have no
            // time left to run, so it is not started either.
            let due = clock
                .now()
                .saturating_duration_since(started)
                .saturating_add(delay);
            if due >= deadline {
                return Step::Stop(StopReason::Deadline { deadline });
            }
        }
        Step::Retry(delay)
    }
}

#[cfg(test)]
#[allow(clippy::float_cmp)] // token counts are exact multiples of 1/1000
mod tests {
    use super::*;
    use crate::ClassSet;

    const MS: fn(u64) -> Duration = Duration::from_millis;

    fn hinted(hint: Duration) -> Verdict<'static> {
        Verdict {
            retry_after: Some(hint),
            ..Verdict::of(Class::Transient)
        }
    }

    fn fail(engine: &mut Engine<RetryPolicy>, class: Class) -> Step {
        engine.failed("test", Verdict::of(class), &"boom", None)
    }

    #[test]
    fn the_clock_is_read_only_when_something_needs_it() {
        let mut plain = Engine::new(RetryPolicy::new(), Clock::Std);
        plain.begin("t", false, true);
        assert!(plain.started.is_none());

        let mut timed = Engine::new(RetryPolicy::new(), Clock::Std);
        timed.begin("t", true, true);
        assert!(timed.started.is_some());

        let mut deadline = Engine::new(RetryPolicy::new().deadline(MS(10)), Clock::Std);
        deadline.begin("t", false, true);
        assert!(deadline.started.is_some());

        let ((), reports) = crate::capture_blocking(|| {
            let mut captured = Engine::new(RetryPolicy::new(), Clock::Std);
            captured.begin("t", false, true);
            assert!(captured.started.is_some());
            captured.succeeded("t");
        });
        assert_eq!(reports.len(), 1);
    }

    #[test]
    fn retries_transient_until_exhausted() {
        let mut engine = Engine::new(RetryPolicy::new(), Clock::Std);
        assert_eq!(fail(&mut engine, Class::Transient), Step::Retry(MS(250)));
        assert_eq!(fail(&mut engine, Class::Transient), Step::Retry(MS(500)));
        assert_eq!(
            fail(&mut engine, Class::Transient),
            Step::Stop(StopReason::Exhausted { attempts: 3 })
        );
    }

    #[test]
    fn ambiguous_only_when_opted_in_and_permanent_never() {
        let mut engine = Engine::new(RetryPolicy::new(), Clock::Std);
        assert_eq!(
            fail(&mut engine, Class::Ambiguous),
            Step::Stop(StopReason::NotRetryable(Class::Ambiguous))
        );
        let everything = RetryPolicy::new().on(ClassSet::TRANSIENT
            .with(Class::Ambiguous)
            .with(Class::Permanent));
        let mut engine = Engine::new(everything, Clock::Std);
        assert_eq!(fail(&mut engine, Class::Ambiguous), Step::Retry(MS(250)));
        assert_eq!(
            fail(&mut engine, Class::Permanent),
            Step::Stop(StopReason::NotRetryable(Class::Permanent))
        );
    }

    #[test]
    fn zero_attempts_reads_as_one() {
        let mut engine = Engine::new(RetryPolicy::new().max_attempts(0), Clock::Std);
        assert_eq!(
            fail(&mut engine, Class::Transient),
            Step::Stop(StopReason::Exhausted { attempts: 1 })
        );
    }

    #[test]
    fn retry_after_is_never_undercut_and_never_above_the_cap() {
        let mut engine = Engine::new(RetryPolicy::new(), Clock::Std);
        assert_eq!(
            engine.failed("t", hinted(MS(900)), &"x", None),
            Step::Retry(MS(900))
        );
        assert_eq!(
            engine.failed("t", hinted(MS(1)), &"x", None),
            Step::Retry(MS(500))
        );
        let mut engine = Engine::new(RetryPolicy::new().max_delay(MS(500)), Clock::Std);
        assert_eq!(
            engine.failed("t", hinted(MS(501)), &"x", None),
            Step::Stop(StopReason::RetryAfterTooLong {
                retry_after: MS(501)
            })
        );
    }

    #[test]
    fn budget_stops_retries_when_drained() {
        static BUDGET: RetryBudget = RetryBudget::new(4, 0.5);
        let policy = RetryPolicy::new().retries(10).base(Duration::ZERO);
        let mut engine = Engine::budgeted(policy, Clock::Std, Some(&BUDGET));
        assert_eq!(
            fail(&mut engine, Class::Transient),
            Step::Retry(Duration::ZERO)
        ); // 3 left
        assert_eq!(
            fail(&mut engine, Class::Transient),
            Step::Stop(StopReason::BudgetEmpty)
        ); // 2 left
        assert_eq!(BUDGET.tokens(), 2.0);
        // Permanent failures cost nothing.
        let mut engine = Engine::budgeted(policy, Clock::Std, Some(&BUDGET));
        fail(&mut engine, Class::Permanent);
        assert_eq!(BUDGET.tokens(), 2.0);
        engine.succeeded("test");
        assert_eq!(BUDGET.tokens(), 2.5);
    }
}
