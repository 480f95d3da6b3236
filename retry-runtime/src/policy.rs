//! [`RetryPolicy`]: how many attempts, how long between them, which failures.

use std::ffi::OsString;
use std::fmt;
use std::time::Duration;

use crate::backoff::{Backoff, Schedule, nominal_delay};
use crate::{Class, ClassSet, format_duration};

/// How each delay is randomised, so that clients that failed together do not
/// retry together.
///
/// With `d` the delay of the retry from its [`Backoff`] (capped at `max_delay`):
///
/// | jitter | delay |
/// |---|---|
/// | `None` | `d` |
/// | `Full` | uniform in `0..=d` |
/// | `Equal` | `d/2` + uniform in `0..=d/2` |
/// | `Decorrelated` | uniform in `base..=3 * previous delay`, capped at `max_delay` (the previous delay starts at `base`; `factor` is not used) |
///
/// These are the variants of AWS's "Exponential Backoff and Jitter"; full
/// jitter spends the fewest calls under contention.
///
/// ```
/// use std::time::Duration;
/// use retry_runtime::{Jitter, RetryPolicy};
///
/// let policy = RetryPolicy::new().retries(5).jitter(Jitter::Full).seed(42);
/// for (retry, delay) in (1..).zip(policy.schedule()) {
///     assert!(delay <= policy.delay(retry));
/// }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
pub enum Jitter {
    /// The exponential delay, exactly.
    #[default]
    None,
    /// Uniform between zero and the exponential delay.
    Full,
    /// Half the exponential delay, plus uniform up to the other half.
    Equal,
    /// Uniform between `base` and three times the previous delay.
    Decorrelated,
}

impl Jitter {
    /// The lowercase name, as in `#[retry(jitter = full)]`.
    ///
    /// ```
    /// assert_eq!(retry_runtime::Jitter::Decorrelated.as_str(), "decorrelated");
    /// ```
    pub const fn as_str(self) -> &'static str {
        match self {
            Jitter::None => "none",
            Jitter::Full => "full",
            Jitter::Equal => "equal",
            Jitter::Decorrelated => "decorrelated",
        }
    }
}

impl fmt::Display for Jitter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What to retry and how: attempts, backoff, jitter, time limits, classes.
///
/// Cheap to copy and buildable in `const` context, so a call site can keep
/// its policy as a `const` item. Every builder is a `const fn`; the fields
/// are public for reading (and for configuration code that sets them
/// directly; [`validate`](RetryPolicy::validate) checks the result).
///
/// | setting | default |
/// |---|---|
/// | `max_attempts` | 3 (`1` disables retries) |
/// | `base` | 250 ms: the delay before the first retry |
/// | `factor` | 2: the multiplier per retry |
/// | `backoff` | [`Backoff::Exponential`]: how the delay grows |
/// | `max_delay` | 60 s: the cap on any single delay |
/// | `jitter` | [`Jitter::None`] |
/// | `deadline` | none: total time budget from the first attempt |
/// | `attempt_timeout` | none: limit on each attempt |
/// | `on` | [`ClassSet::TRANSIENT`]: which classes are retried |
/// | `seed` | none: a fixed jitter seed, for tests |
///
/// ```
/// use std::time::Duration;
/// use retry_runtime::{Class, Jitter, RetryPolicy};
///
/// const CREATE: RetryPolicy = RetryPolicy::new()
///     .max_attempts(3)
///     .base(Duration::from_millis(250));
/// const IDEMPOTENT_READ: RetryPolicy = RetryPolicy::new()
///     .retries(5)
///     .jitter(Jitter::Full)
///     .deadline(Duration::from_secs(10))
///     .on(CREATE.on.with(Class::Ambiguous));
///
/// assert_eq!(CREATE.delay(2), Duration::from_millis(500));
/// assert_eq!(IDEMPOTENT_READ.max_attempts, 6);
/// assert!(IDEMPOTENT_READ.validate().is_ok());
/// ```
///
/// # Unvalidated policies
///
/// A policy assembled at run time should go through
/// [`validate`](RetryPolicy::validate). The retry loop never panics on an
/// invalid one; it reads it leniently: `max_attempts = 0` makes one attempt,
/// a `factor` below 1 (or NaN) keeps the delay constant, `max_delay` caps
/// every delay even when it is below `base`, `Permanent` in `on` is never
/// retried, and a zero `deadline` or `attempt_timeout` stops at the first
/// failure or times out every attempt at once.
///
/// # Serde
///
/// With the `serde` feature, a policy serializes with durations as strings
/// (`{"max_attempts":3,"base":"250ms",...}`) and deserializes from the same
/// form: missing fields take their defaults, unknown fields are an error,
/// and the result is [validated](RetryPolicy::validate).
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(try_from = "serde_policy::Fields"))]
#[non_exhaustive]
pub struct RetryPolicy {
    /// At most this many attempts in all (`1` disables retries).
    pub max_attempts: u32,
    /// The delay before the first retry.
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_duration"))]
    pub base: Duration,
    /// The multiplier applied to the delay for each further retry (`>= 1`),
    /// for [`Backoff::Exponential`].
    pub factor: f64,
    /// How the delay grows from one retry to the next.
    pub backoff: Backoff,
    /// The cap on any single delay.
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_duration"))]
    pub max_delay: Duration,
    /// How each delay is randomised.
    pub jitter: Jitter,
    /// The total time budget from the start of the first attempt: a sleep
    /// that would end past it is not started.
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_duration::option"))]
    pub deadline: Option<Duration>,
    /// A limit on each attempt; a timed-out attempt is [`Class::Ambiguous`].
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_duration::option"))]
    pub attempt_timeout: Option<Duration>,
    /// The classes of failure that are retried.
    pub on: ClassSet,
    /// A fixed seed for the jitter generator (deterministic tests).
    pub seed: Option<u64>,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy::new()
    }
}

impl RetryPolicy {
    /// The default policy: 3 attempts, 250 ms doubling to at most 60 s, no
    /// jitter, transient failures only.
    ///
    /// ```
    /// use std::time::Duration;
    /// use retry_runtime::RetryPolicy;
    ///
    /// let policy = RetryPolicy::new();
    /// assert_eq!(policy.max_attempts, 3);
    /// assert_eq!(policy.base, Duration::from_millis(250));
    /// ```
    pub const fn new() -> Self {
        RetryPolicy {
            max_attempts: 3,
            base: Duration::from_millis(250),
            factor: 2.0,
            backoff: Backoff::Exponential,
            max_delay: Duration::from_secs(60),
            jitter: Jitter::None,
            deadline: None,
            attempt_timeout: None,
            on: ClassSet::TRANSIENT,
            seed: None,
        }
    }

    /// At most `attempts` attempts in all; `1` disables retries.
    ///
    /// ```
    /// # use retry_runtime::RetryPolicy;
    /// assert_eq!(RetryPolicy::new().max_attempts(5).max_attempts, 5);
    /// ```
    pub const fn max_attempts(self, attempts: u32) -> Self {
        RetryPolicy {
            max_attempts: attempts,
            ..self
        }
    }

    /// At most `retries` retries after the first attempt (`retries + 1`
    /// attempts); `0` disables retries.
    ///
    /// ```
    /// # use retry_runtime::RetryPolicy;
    /// assert_eq!(RetryPolicy::new().retries(7).max_attempts, 8);
    /// assert_eq!(RetryPolicy::new().retries(0).max_attempts, 1);
    /// ```
    pub const fn retries(self, retries: u32) -> Self {
        self.max_attempts(retries.saturating_add(1))
    }

    /// The delay before the first retry.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use retry_runtime::RetryPolicy;
    /// let policy = RetryPolicy::new().base(Duration::from_secs(2));
    /// assert_eq!(policy.delay(1), Duration::from_secs(2));
    /// ```
    pub const fn base(self, base: Duration) -> Self {
        RetryPolicy { base, ..self }
    }

    /// The multiplier per retry (`>= 1`; `1` keeps the delay constant).
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use retry_runtime::RetryPolicy;
    /// let policy = RetryPolicy::new().base(Duration::from_millis(100)).factor(1.5);
    /// assert_eq!(policy.delay(3), Duration::from_millis(225));
    /// ```
    pub const fn factor(self, factor: f64) -> Self {
        RetryPolicy { factor, ..self }
    }

    /// How the delay grows: exponential (the default), linear or fibonacci;
    /// see [`Backoff`].
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use retry_runtime::{Backoff, RetryPolicy};
    /// let policy = RetryPolicy::new().base(Duration::from_millis(100)).backoff(Backoff::Linear);
    /// assert_eq!(policy.delay(3), Duration::from_millis(300));
    /// ```
    pub const fn backoff(self, backoff: Backoff) -> Self {
        RetryPolicy { backoff, ..self }
    }

    /// The cap on any single delay (and on a server's `retry_after` hint:
    /// a longer hint stops the retries).
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use retry_runtime::RetryPolicy;
    /// let policy = RetryPolicy::new().max_delay(Duration::from_millis(300));
    /// assert_eq!(policy.delay(5), Duration::from_millis(300));
    /// ```
    pub const fn max_delay(self, max_delay: Duration) -> Self {
        RetryPolicy { max_delay, ..self }
    }

    /// How each delay is randomised.
    ///
    /// ```
    /// # use retry_runtime::{Jitter, RetryPolicy};
    /// assert_eq!(RetryPolicy::new().jitter(Jitter::Equal).jitter, Jitter::Equal);
    /// ```
    pub const fn jitter(self, jitter: Jitter) -> Self {
        RetryPolicy { jitter, ..self }
    }

    /// A total time budget from the start of the first attempt. A sleep that
    /// would end past it is not started (the last error is returned at
    /// once); the time attempts take counts. An attempt already running is
    /// not interrupted: combine with [`attempt_timeout`](Self::attempt_timeout)
    /// for that.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use retry_runtime::RetryPolicy;
    /// let policy = RetryPolicy::new().deadline(Duration::from_secs(30));
    /// assert_eq!(policy.deadline, Some(Duration::from_secs(30)));
    /// ```
    pub const fn deadline(self, deadline: Duration) -> Self {
        RetryPolicy {
            deadline: Some(deadline),
            ..self
        }
    }

    /// A limit on each attempt. An attempt that outlives it is dropped and
    /// counts as an [`Ambiguous`](Class::Ambiguous) failure (retried only if
    /// `on` includes `Ambiguous`); its error is `E::from(TimedOut)`.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use retry_runtime::RetryPolicy;
    /// let policy = RetryPolicy::new().attempt_timeout(Duration::from_secs(5));
    /// assert_eq!(policy.attempt_timeout, Some(Duration::from_secs(5)));
    /// ```
    pub const fn attempt_timeout(self, timeout: Duration) -> Self {
        RetryPolicy {
            attempt_timeout: Some(timeout),
            ..self
        }
    }

    /// Which classes of failure are retried. `Permanent` never is.
    ///
    /// ```
    /// # use retry_runtime::{Class, ClassSet, RetryPolicy};
    /// const IDEMPOTENT: RetryPolicy =
    ///     RetryPolicy::new().on(ClassSet::TRANSIENT.with(Class::Ambiguous));
    /// assert!(IDEMPOTENT.on.contains(Class::Ambiguous));
    /// ```
    pub const fn on(self, on: ClassSet) -> Self {
        RetryPolicy { on, ..self }
    }

    /// A fixed seed for the jitter generator, so tests see the same delays
    /// on every run. In production leave it unset: clients that share a
    /// seed jitter in lockstep, which defeats the purpose.
    ///
    /// ```
    /// # use retry_runtime::{Jitter, RetryPolicy};
    /// let policy = RetryPolicy::new().jitter(Jitter::Full).seed(1);
    /// assert_eq!(policy.schedule().collect::<Vec<_>>(), policy.schedule().collect::<Vec<_>>());
    /// ```
    pub const fn seed(self, seed: u64) -> Self {
        RetryPolicy {
            seed: Some(seed),
            ..self
        }
    }

    /// Checks the policy, naming the first setting that is wrong.
    ///
    /// ```
    /// use std::time::Duration;
    /// use retry_runtime::{PolicyError, RetryPolicy};
    ///
    /// assert_eq!(RetryPolicy::new().max_attempts(0).validate(), Err(PolicyError::ZeroAttempts));
    /// let policy = RetryPolicy::new().base(Duration::from_secs(90));
    /// assert_eq!(
    ///     policy.validate().unwrap_err().to_string(),
    ///     "max_delay (1m) is below base (90s): raise max_delay or lower base",
    /// );
    /// ```
    pub const fn validate(&self) -> Result<(), PolicyError> {
        if self.max_attempts == 0 {
            return Err(PolicyError::ZeroAttempts);
        }
        if !(self.factor >= 1.0 && self.factor.is_finite()) {
            return Err(PolicyError::InvalidFactor(self.factor));
        }
        if self.max_delay.as_nanos() < self.base.as_nanos() {
            return Err(PolicyError::MaxDelayBelowBase {
                base: self.base,
                max_delay: self.max_delay,
            });
        }
        if self.on.contains(Class::Permanent) {
            return Err(PolicyError::RetriesPermanent);
        }
        if let Some(timeout) = self.attempt_timeout {
            if timeout.is_zero() {
                return Err(PolicyError::ZeroAttemptTimeout);
            }
        }
        if let Some(deadline) = self.deadline {
            if deadline.is_zero() {
                return Err(PolicyError::ZeroDeadline);
            }
        }
        Ok(())
    }

    /// The delay before retry `retry` (1-based) before jitter:
    /// `min(base * factor^(retry-1), max_delay)` for the default exponential
    /// [`Backoff`] (`base * retry` linear, `base * fib(retry)` fibonacci),
    /// saturating for any input.
    ///
    /// ```
    /// use std::time::Duration;
    /// use retry_runtime::RetryPolicy;
    ///
    /// let policy = RetryPolicy::new().base(Duration::from_secs(2));
    /// assert_eq!(policy.delay(5), Duration::from_secs(32));
    /// assert_eq!(policy.delay(6), Duration::from_secs(60));
    /// assert_eq!(policy.delay(u32::MAX), Duration::from_secs(60));
    /// ```
    pub fn delay(&self, retry: u32) -> Duration {
        nominal_delay(self.backoff, self.base, self.factor, self.max_delay, retry)
    }

    /// The delays a run would sleep if every attempt failed retryably (one
    /// per retry, jitter applied), for printing or checking a configuration.
    ///
    /// ```
    /// use std::time::Duration;
    /// use retry_runtime::RetryPolicy;
    ///
    /// let policy = RetryPolicy::new();
    /// let printed: Vec<String> = policy
    ///     .schedule()
    ///     .map(|d| retry_runtime::format_duration(d).to_string())
    ///     .collect();
    /// assert_eq!(printed, ["250ms", "500ms"]);
    /// ```
    pub fn schedule(&self) -> Schedule {
        Schedule::new(*self)
    }

    /// The default policy with `PREFIX_MAX_ATTEMPTS` and
    /// `PREFIX_RETRY_BASE_DELAY_MS` applied; see [`with_env`](Self::with_env).
    ///
    /// ```
    /// use retry_runtime::RetryPolicy;
    ///
    /// // Neither variable is set here, so this is the default policy.
    /// let policy = RetryPolicy::from_env("DOCTEST_UNSET_PREFIX")?;
    /// assert_eq!(policy, RetryPolicy::new());
    /// # Ok::<(), retry_runtime::EnvError>(())
    /// ```
    pub fn from_env(prefix: &str) -> Result<Self, EnvError> {
        RetryPolicy::new().with_env(prefix)
    }

    /// This policy with per-deployment overrides from the environment:
    /// `{prefix}_MAX_ATTEMPTS` (a whole number `>= 1`; `1` disables
    /// retries) replaces `max_attempts`, and `{prefix}_RETRY_BASE_DELAY_MS`
    /// (whole milliseconds, at most `max_delay`) replaces `base`. Unset
    /// variables leave the setting as it is; a set but invalid one is an
    /// error naming the variable and its value.
    ///
    /// ```
    /// use retry_runtime::RetryPolicy;
    ///
    /// let policy = RetryPolicy::new().with_env("DOCTEST_UNSET_PREFIX")?;
    /// assert_eq!(policy.max_attempts, 3);
    /// # Ok::<(), retry_runtime::EnvError>(())
    /// ```
    pub fn with_env(self, prefix: &str) -> Result<Self, EnvError> {
        self.with_env_lookup(prefix, |name| std::env::var_os(name))
    }

    /// [`with_env`](Self::with_env) reading variables through `lookup`
    /// (a configuration map, or a fixed set in tests).
    ///
    /// ```
    /// use std::time::Duration;
    /// use retry_runtime::RetryPolicy;
    ///
    /// let vars = [("COMPUTE_INSTANCE_CREATE_MAX_ATTEMPTS", "5"),
    ///             ("COMPUTE_INSTANCE_CREATE_RETRY_BASE_DELAY_MS", "100")];
    /// let lookup = |name: &str| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.into());
    /// let policy = RetryPolicy::new().with_env_lookup("COMPUTE_INSTANCE_CREATE", lookup)?;
    /// assert_eq!((policy.max_attempts, policy.base), (5, Duration::from_millis(100)));
    ///
    /// let bad = |name: &str| name.ends_with("MAX_ATTEMPTS").then(|| "0".into());
    /// let err = RetryPolicy::new().with_env_lookup("APP", bad).unwrap_err();
    /// assert_eq!(err.var(), "APP_MAX_ATTEMPTS");
    /// assert_eq!(err.to_string(), "APP_MAX_ATTEMPTS=\"0\": must be at least 1 (1 disables retries)");
    /// # Ok::<(), retry_runtime::EnvError>(())
    /// ```
    pub fn with_env_lookup(
        self,
        prefix: &str,
        lookup: impl FnMut(&str) -> Option<OsString>,
    ) -> Result<Self, EnvError> {
        let (policy, mut errors) = self.apply_env(prefix, lookup);
        if errors.is_empty() {
            Ok(policy)
        } else {
            Err(errors.swap_remove(0))
        }
    }

    /// Applies every valid override and collects an error for each invalid
    /// one, whose setting keeps this policy's value.
    pub(crate) fn apply_env(
        mut self,
        prefix: &str,
        mut lookup: impl FnMut(&str) -> Option<OsString>,
    ) -> (Self, Vec<EnvError>) {
        let separator = if prefix.is_empty() { "" } else { "_" };
        let mut errors = Vec::new();
        let mut read = |suffix: &str, parse: &dyn Fn(&str) -> Result<(), String>| {
            let var = format!("{prefix}{separator}{suffix}");
            let raw = lookup(&var)?;
            let outcome = match raw.to_str() {
                Some(value) => parse(value).map(|()| value.to_owned()),
                None => Err("not valid UTF-8".to_owned()),
            };
            match outcome {
                Ok(value) => Some(value),
                Err(reason) => {
                    let value = raw.to_string_lossy().into_owned();
                    errors.push(EnvError { var, value, reason });
                    None
                }
            }
        };

        let max_delay = self.max_delay;
        if let Some(value) = read(ENV_MAX_ATTEMPTS, &|value| match value.parse::<u32>() {
            Ok(0) => Err("must be at least 1 (1 disables retries)".to_owned()),
            Ok(_) => Ok(()),
            Err(_) => Err("not a whole number of attempts".to_owned()),
        }) {
            self.max_attempts = value.parse().unwrap_or(self.max_attempts);
        }
        if let Some(value) = read(ENV_BASE_DELAY_MS, &|value| match value.parse::<u64>() {
            Ok(ms) if Duration::from_millis(ms) > max_delay => Err(format!(
                "base delay {} exceeds max_delay {}",
                format_duration(Duration::from_millis(ms)),
                format_duration(max_delay)
            )),
            Ok(_) => Ok(()),
            Err(_) => Err("not a whole number of milliseconds".to_owned()),
        }) {
            self.base = value.parse().map_or(self.base, Duration::from_millis);
        }
        (self, errors)
    }
}

#[cfg(feature = "serde")]
mod serde_policy {
    use std::time::Duration;

    use super::{Backoff, ClassSet, Jitter, PolicyError, RetryPolicy};

    /// The deserialized form, checked before it becomes a policy.
    #[derive(serde::Deserialize)]
    #[serde(default, deny_unknown_fields)]
    pub(super) struct Fields {
        max_attempts: u32,
        #[serde(with = "crate::serde_duration")]
        base: Duration,
        factor: f64,
        backoff: Backoff,
        #[serde(with = "crate::serde_duration")]
        max_delay: Duration,
        jitter: Jitter,
        #[serde(with = "crate::serde_duration::option")]
        deadline: Option<Duration>,
        #[serde(with = "crate::serde_duration::option")]
        attempt_timeout: Option<Duration>,
        on: ClassSet,
        seed: Option<u64>,
    }

    impl Default for Fields {
        fn default() -> Self {
            let policy = RetryPolicy::new();
            Fields {
                max_attempts: policy.max_attempts,
                base: policy.base,
                factor: policy.factor,
                backoff: policy.backoff,
                max_delay: policy.max_delay,
                jitter: policy.jitter,
                deadline: policy.deadline,
                attempt_timeout: policy.attempt_timeout,
                on: policy.on,
                seed: policy.seed,
            }
        }
    }

    impl TryFrom<Fields> for RetryPolicy {
        type Error = PolicyError;

        fn try_from(fields: Fields) -> Result<Self, PolicyError> {
            let policy = RetryPolicy {
                max_attempts: fields.max_attempts,
                base: fields.base,
                factor: fields.factor,
                backoff: fields.backoff,
                max_delay: fields.max_delay,
                jitter: fields.jitter,
                deadline: fields.deadline,
                attempt_timeout: fields.attempt_timeout,
                on: fields.on,
                seed: fields.seed,
            };
            policy.validate()?;
            Ok(policy)
        }
    }
}

pub(crate) const ENV_MAX_ATTEMPTS: &str = "MAX_ATTEMPTS";
pub(crate) const ENV_BASE_DELAY_MS: &str = "RETRY_BASE_DELAY_MS";

/// Why [`RetryPolicy::validate`] rejected a policy.
///
/// ```
/// use retry_runtime::{PolicyError, RetryPolicy};
/// let err = RetryPolicy::new().factor(0.5).validate().unwrap_err();
/// assert_eq!(err, PolicyError::InvalidFactor(0.5));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// `max_attempts` is 0.
    #[error("max_attempts is 0: a call makes at least one attempt (1 disables retries)")]
    ZeroAttempts,
    /// `factor` is below 1, infinite or NaN.
    #[error("factor {0} is not a finite number >= 1 (1 keeps the delay constant)")]
    InvalidFactor(f64),
    /// `max_delay` is below `base`.
    #[error(
        "max_delay ({}) is below base ({}): raise max_delay or lower base",
        format_duration(*max_delay),
        format_duration(*base)
    )]
    MaxDelayBelowBase {
        /// The configured base delay.
        base: Duration,
        /// The configured cap.
        max_delay: Duration,
    },
    /// `on` includes [`Class::Permanent`].
    #[error("on includes Permanent, which is never retried: use Transient and/or Ambiguous")]
    RetriesPermanent,
    /// `attempt_timeout` is zero.
    #[error("attempt_timeout is zero: every attempt would time out at once")]
    ZeroAttemptTimeout,
    /// `deadline` is zero.
    #[error("deadline is zero: no retry could ever start")]
    ZeroDeadline,
}

/// An environment variable that [`RetryPolicy::with_env`] could not use.
///
/// ```
/// use retry_runtime::RetryPolicy;
///
/// let lookup = |name: &str| name.ends_with("BASE_DELAY_MS").then(|| "fast".into());
/// let err = RetryPolicy::new().with_env_lookup("TRIAL", lookup).unwrap_err();
/// assert_eq!((err.var(), err.value()), ("TRIAL_RETRY_BASE_DELAY_MS", "fast"));
/// assert_eq!(err.reason(), "not a whole number of milliseconds");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{var}={value:?}: {reason}")]
pub struct EnvError {
    var: String,
    value: String,
    reason: String,
}

impl EnvError {
    /// The variable's name.
    ///
    /// See the [type-level example](EnvError).
    pub fn var(&self) -> &str {
        &self.var
    }

    /// The rejected value (lossily decoded if it was not UTF-8).
    ///
    /// See the [type-level example](EnvError).
    pub fn value(&self) -> &str {
        &self.value
    }

    /// What is wrong with it.
    ///
    /// See the [type-level example](EnvError).
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl FnMut(&str) -> Option<OsString> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| OsString::from(value))
        }
    }

    #[test]
    fn builders_are_const_and_policies_compare() {
        const P: RetryPolicy = RetryPolicy::new()
            .retries(7)
            .base(Duration::from_secs(2))
            .factor(2.0)
            .max_delay(Duration::from_secs(60))
            .jitter(Jitter::None)
            .deadline(Duration::from_secs(600))
            .attempt_timeout(Duration::from_secs(30))
            .on(ClassSet::TRANSIENT)
            .seed(3);
        const CHECK: Result<(), PolicyError> = P.validate();
        assert_eq!(CHECK, Ok(()));
        assert_eq!(P, P.max_attempts(8));
        assert_ne!(P, P.max_attempts(9));
    }

    #[test]
    fn validate_names_each_mistake() {
        let p = RetryPolicy::new();
        assert_eq!(p.max_attempts(0).validate(), Err(PolicyError::ZeroAttempts));
        assert_eq!(
            p.factor(0.99).validate(),
            Err(PolicyError::InvalidFactor(0.99))
        );
        assert!(matches!(
            p.factor(f64::NAN).validate(),
            Err(PolicyError::InvalidFactor(_))
        ));
        assert_eq!(
            p.factor(f64::INFINITY).validate(),
            Err(PolicyError::InvalidFactor(f64::INFINITY))
        );
        assert_eq!(
            p.max_delay(Duration::from_millis(100)).validate(),
            Err(PolicyError::MaxDelayBelowBase {
                base: Duration::from_millis(250),
                max_delay: Duration::from_millis(100)
            })
        );
        assert_eq!(
            p.on(ClassSet::TRANSIENT.with(Class::Permanent)).validate(),
            Err(PolicyError::RetriesPermanent)
        );
        assert_eq!(
            p.attempt_timeout(Duration::ZERO).validate(),
            Err(PolicyError::ZeroAttemptTimeout)
        );
        assert_eq!(
            p.deadline(Duration::ZERO).validate(),
            Err(PolicyError::ZeroDeadline)
        );
        assert_eq!(p.factor(1.0).on(ClassSet::EMPTY).validate(), Ok(()));
    }

    #[test]
    fn env_overrides_apply() {
        let env = [
            ("COMPUTE_INSTANCE_CREATE_MAX_ATTEMPTS", "1"),
            ("COMPUTE_INSTANCE_CREATE_RETRY_BASE_DELAY_MS", "40"),
        ];
        let policy = RetryPolicy::new()
            .with_env_lookup("COMPUTE_INSTANCE_CREATE", vars(&env))
            .unwrap();
        assert_eq!(policy.max_attempts, 1);
        assert_eq!(policy.base, Duration::from_millis(40));
        let untouched = RetryPolicy::new()
            .with_env_lookup("OTHER", vars(&env))
            .unwrap();
        assert_eq!(untouched, RetryPolicy::new());
        let bare = RetryPolicy::new()
            .with_env_lookup("", vars(&[("MAX_ATTEMPTS", "9")]))
            .unwrap();
        assert_eq!(bare.max_attempts, 9);
    }

    #[test]
    fn env_errors_name_the_variable_and_value() {
        let cases: &[(&str, &str, &str)] = &[
            (
                "P_MAX_ATTEMPTS",
                "0",
                "must be at least 1 (1 disables retries)",
            ),
            ("P_MAX_ATTEMPTS", "three", "not a whole number of attempts"),
            ("P_MAX_ATTEMPTS", "-1", "not a whole number of attempts"),
            ("P_MAX_ATTEMPTS", "", "not a whole number of attempts"),
            (
                "P_MAX_ATTEMPTS",
                "99999999999",
                "not a whole number of attempts",
            ),
            (
                "P_RETRY_BASE_DELAY_MS",
                "1.5",
                "not a whole number of milliseconds",
            ),
            (
                "P_RETRY_BASE_DELAY_MS",
                "250ms",
                "not a whole number of milliseconds",
            ),
            (
                "P_RETRY_BASE_DELAY_MS",
                "120000",
                "base delay 2m exceeds max_delay 1m",
            ),
        ];
        for &(var, value, reason) in cases {
            let err = RetryPolicy::new()
                .with_env_lookup("P", vars(&[(var, value)]))
                .unwrap_err();
            assert_eq!((err.var(), err.value(), err.reason()), (var, value, reason));
        }
    }

    #[test]
    fn lenient_application_keeps_the_valid_half() {
        let env = [("P_MAX_ATTEMPTS", "x"), ("P_RETRY_BASE_DELAY_MS", "10")];
        let (policy, errors) = RetryPolicy::new().apply_env("P", vars(&env));
        assert_eq!(policy.max_attempts, 3);
        assert_eq!(policy.base, Duration::from_millis(10));
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].var(), "P_MAX_ATTEMPTS");
    }

    #[cfg(unix)]
    #[test]
    fn non_utf8_values_are_reported() {
        use std::os::unix::ffi::OsStringExt;
        let lookup = |_: &str| Some(OsString::from_vec(vec![0xff, b'1']));
        let err = RetryPolicy::new().with_env_lookup("P", lookup).unwrap_err();
        assert_eq!(err.reason(), "not valid UTF-8");
        assert_eq!(err.var(), "P_MAX_ATTEMPTS");
    }
}
