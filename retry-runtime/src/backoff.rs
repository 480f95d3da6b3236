//! Delay arithmetic: the growth of each [`Backoff`], the cap, and jitter.

use std::fmt;
use std::time::Duration;

use crate::{Jitter, RetryPolicy};

const NANOS_PER_SEC: u128 = 1_000_000_000;

/// How the delay grows from one retry to the next, before the cap
/// (`max_delay`) and jitter apply.
///
/// With `k` the 1-based number of the retry:
///
/// | backoff | delay before retry `k` | with base 1 s |
/// |---|---|---|
/// | `Exponential` | `base * factor^(k-1)` | 1, 2, 4, 8, 16 s (factor 2) |
/// | `Linear` | `base * k` | 1, 2, 3, 4, 5 s |
/// | `Fibonacci` | `base * fib(k)`, fib = 1, 1, 2, 3, 5, 8, ... | 1, 1, 2, 3, 5 s |
///
/// `factor` only shapes `Exponential`. All of them saturate at `max_delay`
/// for any retry count, without overflow. Decorrelated jitter replaces the
/// growth with its own (see [`Jitter`]).
///
/// ```
/// use std::time::Duration;
/// use retry_runtime::{Backoff, RetryPolicy};
///
/// let fib = RetryPolicy::new().retries(6).base(Duration::from_secs(1)).backoff(Backoff::Fibonacci);
/// let secs: Vec<u64> = fib.schedule().map(|d| d.as_secs()).collect();
/// assert_eq!(secs, [1, 1, 2, 3, 5, 8]);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
pub enum Backoff {
    /// `base * factor^(k-1)`: the default.
    #[default]
    Exponential,
    /// `base * k`.
    Linear,
    /// `base * fib(k)`.
    Fibonacci,
}

impl Backoff {
    /// The lowercase name, as in `#[retry(backoff = linear)]`.
    ///
    /// ```
    /// assert_eq!(retry_runtime::Backoff::Fibonacci.as_str(), "fibonacci");
    /// ```
    pub const fn as_str(self) -> &'static str {
        match self {
            Backoff::Exponential => "exponential",
            Backoff::Linear => "linear",
            Backoff::Fibonacci => "fibonacci",
        }
    }
}

impl fmt::Display for Backoff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

fn from_nanos(nanos: u128) -> Duration {
    // Saturates at Duration::MAX's whole seconds; callers cap far below it.
    let secs = u64::try_from(nanos / NANOS_PER_SEC).unwrap_or(u64::MAX);
    #[allow(clippy::cast_possible_truncation)] // remainder of a division by 10^9
    Duration::new(secs, (nanos % NANOS_PER_SEC) as u32)
}

/// The delay before retry `retry` (1-based) under `backoff`, capped at
/// `max_delay`: saturating for every input, no overflow, no panic, never
/// above the cap.
///
/// An unvalidated policy is read leniently: a factor below 1 (or NaN) is 1,
/// and `max_delay` caps even `base`.
pub(crate) fn nominal_delay(
    backoff: Backoff,
    base: Duration,
    factor: f64,
    max_delay: Duration,
    retry: u32,
) -> Duration {
    if base >= max_delay {
        return max_delay;
    }
    match backoff {
        Backoff::Exponential => exponential(base, factor, max_delay, retry),
        Backoff::Linear => {
            let nanos = base.as_nanos().saturating_mul(u128::from(retry.max(1)));
            if nanos >= max_delay.as_nanos() {
                max_delay
            } else {
                from_nanos(nanos)
            }
        }
        Backoff::Fibonacci => {
            let cap = max_delay.as_nanos();
            let base = base.as_nanos();
            // (fib(k-1), fib(k)) scaled by base; base >= 1ns once past the
            // first cap check unless it is zero, so this ends within ~140
            // rounds (fib(140) exceeds any u128 nanosecond count).
            let (mut previous, mut current) = (0u128, base);
            for _ in 1..retry.max(1) {
                if current >= cap || current == 0 {
                    break;
                }
                (previous, current) = (current, current.saturating_add(previous));
            }
            if current >= cap {
                max_delay
            } else {
                from_nanos(current)
            }
        }
    }
}

/// `min(base * factor^(retry-1), max_delay)`, exact for integer factors.
fn exponential(base: Duration, factor: f64, max_delay: Duration, retry: u32) -> Duration {
    let exponent = retry.saturating_sub(1);
    if exponent == 0 || base.is_zero() || factor.is_nan() || factor <= 1.0 {
        return base;
    }
    let cap = max_delay.as_nanos();
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // checked by the round trip
    let whole = factor as u32;
    // An integer factor (the common case) takes the exact integer path; the
    // round trip is cheaper than `fract`, which is a libm call on baseline x86-64.
    #[allow(clippy::float_cmp)] // an exact round trip is the test for an integer
    if f64::from(whole) == factor {
        let factor = u128::from(whole);
        let mut nanos = base.as_nanos();
        // base >= 1ns and factor >= 2, so this ends within ~100 rounds.
        for _ in 0..exponent {
            nanos = nanos.saturating_mul(factor);
            if nanos >= cap {
                return max_delay;
            }
        }
        return from_nanos(nanos);
    }
    let exponent = i32::try_from(exponent).unwrap_or(i32::MAX);
    let seconds = base.as_secs_f64() * factor.powi(exponent);
    if seconds < max_delay.as_secs_f64() {
        Duration::try_from_secs_f64(seconds).map_or(max_delay, |delay| delay.min(max_delay))
    } else {
        max_delay
    }
}

/// A uniformly random duration in `low..=high`.
fn uniform(rng: &mut fastrand::Rng, low: Duration, high: Duration) -> Duration {
    let (low, high) = (low.as_nanos(), high.as_nanos().max(low.as_nanos()));
    from_nanos(rng.u128(low..=high))
}

/// The state a sequence of delays carries: the jitter generator's state
/// (0 until the first jittered delay, so an un-jittered policy never seeds
/// one) and the previous delay, which decorrelated jitter grows from. Kept
/// as two words because it lives in every retry future.
#[derive(Debug, Clone, Default)]
pub(crate) struct Delays {
    rng: u64,
    /// The previous decorrelated delay in nanoseconds (saturating), 0
    /// before the first: a delay of zero and no delay at all grow the same
    /// way from `base`.
    previous: u64,
}

impl Delays {
    /// The delay before retry `retry` (1-based) under `policy`.
    pub(crate) fn delay(&mut self, policy: &RetryPolicy, retry: u32) -> Duration {
        if policy.base.is_zero() && policy.jitter != Jitter::Decorrelated {
            // Every jitter of a zero delay is zero.
            return Duration::ZERO;
        }
        let nominal = policy.delay(retry);
        match policy.jitter {
            Jitter::None => nominal,
            Jitter::Full => self.with_rng(policy, |rng| uniform(rng, Duration::ZERO, nominal)),
            Jitter::Equal => {
                let half = nominal / 2;
                half + self.with_rng(policy, |rng| {
                    uniform(rng, Duration::ZERO, nominal.saturating_sub(half))
                })
            }
            Jitter::Decorrelated => {
                // AWS "decorrelated jitter": min(cap, uniform(base, 3 * previous)).
                let base = policy.base.min(policy.max_delay);
                let previous = Duration::from_nanos(self.previous).max(base);
                let high = previous.saturating_mul(3).min(policy.max_delay);
                let delay = self.with_rng(policy, |rng| uniform(rng, base, high));
                self.previous = u64::try_from(delay.as_nanos()).unwrap_or(u64::MAX);
                delay
            }
        }
    }

    /// Runs `draw` with the generator, seeding it on first use from the
    /// policy's seed, or randomly.
    fn with_rng(
        &mut self,
        policy: &RetryPolicy,
        draw: impl FnOnce(&mut fastrand::Rng) -> Duration,
    ) -> Duration {
        if self.rng == 0 {
            self.rng = policy.seed.unwrap_or_else(|| fastrand::u64(..));
        }
        let mut rng = fastrand::Rng::with_seed(self.rng);
        let delay = draw(&mut rng);
        self.rng = rng.get_seed();
        delay
    }
}

/// The delays a run of a policy would sleep if every attempt failed with a
/// retryable error and no server hint: one item per retry.
///
/// Returned by [`RetryPolicy::schedule`]. With jitter, each call to
/// `schedule()` draws new delays unless the policy is [seeded](RetryPolicy::seed).
///
/// ```
/// use std::time::Duration;
/// use retry_runtime::RetryPolicy;
///
/// let policy = RetryPolicy::new().retries(7).base(Duration::from_secs(2));
/// let secs: Vec<u64> = policy.schedule().map(|d| d.as_secs()).collect();
/// assert_eq!(secs, [2, 4, 8, 16, 32, 60, 60]);
/// ```
#[derive(Debug, Clone)]
pub struct Schedule {
    policy: RetryPolicy,
    retry: u32,
    delays: Delays,
}

impl Schedule {
    pub(crate) fn new(policy: RetryPolicy) -> Self {
        Schedule {
            policy,
            retry: 0,
            delays: Delays::default(),
        }
    }
}

impl Iterator for Schedule {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        if self.retry.saturating_add(1) >= self.policy.max_attempts {
            return None;
        }
        self.retry += 1;
        Some(self.delays.delay(&self.policy, self.retry))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self
            .policy
            .max_attempts
            .saturating_sub(self.retry.saturating_add(1));
        let left = usize::try_from(left).unwrap_or(usize::MAX);
        (left, Some(left))
    }
}

impl ExactSizeIterator for Schedule {}

impl std::iter::FusedIterator for Schedule {}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    fn exp_delay(base: Duration, factor: f64, cap: Duration, retry: u32) -> Duration {
        nominal_delay(Backoff::Exponential, base, factor, cap, retry)
    }
    const MS: fn(u64) -> Duration = Duration::from_millis;

    #[test]
    fn doubling_from_two_seconds_caps_at_sixty() {
        let delays: Vec<_> = (1..=8).map(|k| exp_delay(S(2), 2.0, S(60), k)).collect();
        assert_eq!(
            delays,
            [S(2), S(4), S(8), S(16), S(32), S(60), S(60), S(60)]
        );
    }

    #[test]
    fn fractional_and_constant_factors() {
        assert_eq!(exp_delay(MS(100), 1.5, S(60), 3), MS(225));
        assert_eq!(exp_delay(MS(100), 1.0, S(60), 1000), MS(100));
        assert_eq!(
            exp_delay(MS(100), 0.5, S(60), 5),
            MS(100),
            "factor < 1 reads as 1"
        );
        assert_eq!(exp_delay(MS(100), f64::NAN, S(60), 5), MS(100));
        assert_eq!(exp_delay(MS(100), f64::INFINITY, S(60), 2), S(60));
    }

    #[test]
    fn extremes_saturate_at_the_cap() {
        assert_eq!(exp_delay(S(1), 2.0, S(60), u32::MAX), S(60));
        assert_eq!(
            exp_delay(Duration::MAX, 2.0, Duration::MAX, 3),
            Duration::MAX
        );
        assert_eq!(
            exp_delay(
                Duration::from_nanos(1),
                f64::from(u32::MAX),
                Duration::MAX,
                u32::MAX
            ),
            Duration::MAX
        );
        assert_eq!(
            exp_delay(S(90), 2.0, S(60), 1),
            S(60),
            "the cap wins over base"
        );
        assert_eq!(exp_delay(Duration::ZERO, 2.0, S(60), 50), Duration::ZERO);
    }

    #[test]
    fn schedule_has_one_delay_per_retry() {
        let policy = RetryPolicy::new();
        assert_eq!(policy.schedule().collect::<Vec<_>>(), [MS(250), MS(500)]);
        assert_eq!(RetryPolicy::new().max_attempts(1).schedule().count(), 0);
        assert_eq!(RetryPolicy::new().retries(0).schedule().len(), 0);
        assert_eq!(RetryPolicy::new().max_attempts(0).schedule().len(), 0);
    }

    #[test]
    fn seeded_jitter_is_reproducible() {
        let policy = RetryPolicy::new().retries(10).jitter(Jitter::Full).seed(7);
        let first: Vec<_> = policy.schedule().collect();
        assert_eq!(first, policy.schedule().collect::<Vec<_>>());
        assert_ne!(
            first,
            RetryPolicy::new()
                .retries(10)
                .schedule()
                .collect::<Vec<_>>()
        );
    }

    fn jitter() -> impl Strategy<Value = Jitter> {
        prop_oneof![
            Just(Jitter::None),
            Just(Jitter::Full),
            Just(Jitter::Equal),
            Just(Jitter::Decorrelated)
        ]
    }

    proptest! {
        #[test]
        fn never_above_the_cap_never_panics(
            base_ns in 0u64..=u64::MAX,
            cap_ns in 0u64..=u64::MAX,
            factor in prop_oneof![1.0f64..1e6, Just(1.0), Just(2.0), Just(10.0), any::<f64>()],
            retry in 0u32..=u32::MAX,
        ) {
            let (base, cap) = (Duration::from_nanos(base_ns), Duration::from_nanos(cap_ns));
            let delay = exp_delay(base, factor, cap, retry);
            prop_assert!(delay <= cap);
            if base <= cap && factor >= 1.0 {
                prop_assert!(delay >= base, "{delay:?} < base {base:?}");
            }
        }

        #[test]
        fn integer_factors_are_exact(base_ms in 0u64..10_000, factor in 1u32..=10, retry in 1u32..12) {
            let cap = Duration::from_secs(1 << 40);
            let expected = u128::from(base_ms) * u128::from(factor).pow(retry - 1);
            let delay = exp_delay(MS(base_ms), f64::from(factor), cap, retry);
            prop_assert_eq!(delay.as_millis(), expected);
        }

        #[test]
        fn growth_is_monotonic(base_ms in 1u64..10_000, factor in 1.0f64..8.0, cap_s in 1u64..10_000, retry in 1u32..200) {
            let (base, cap) = (MS(base_ms), S(cap_s));
            prop_assert!(exp_delay(base, factor, cap, retry) <= exp_delay(base, factor, cap, retry + 1));
        }

        #[test]
        fn jitter_stays_in_bounds(
            base_ms in 0u64..100_000,
            cap_ms in 0u64..1_000_000,
            seed in any::<u64>(),
            jitter in jitter(),
        ) {
            let policy = RetryPolicy::new()
                .retries(40)
                .base(MS(base_ms))
                .max_delay(MS(cap_ms))
                .jitter(jitter)
                .seed(seed);
            for (index, delay) in policy.schedule().enumerate() {
                let retry = u32::try_from(index).unwrap() + 1;
                let nominal = policy.delay(retry);
                prop_assert!(delay <= policy.max_delay);
                match jitter {
                    Jitter::None => prop_assert_eq!(delay, nominal),
                    Jitter::Full => prop_assert!(delay <= nominal),
                    Jitter::Equal => prop_assert!(delay >= nominal / 2 && delay <= nominal),
                    Jitter::Decorrelated => prop_assert!(delay >= policy.base.min(policy.max_delay)),
                }
            }
        }
    }
}
