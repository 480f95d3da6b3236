//! [`RetryBudget`]: a token bucket that stops retries when most calls fail.

use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering};

/// Tokens are kept in thousandths, as gRPC does, so ratios like 0.1 are exact.
const SCALE: u32 = 1000;

/// A shared retry budget: gRPC's retry throttling (proposal A6), lock-free.
///
/// Retries multiply load exactly when a service is least able to take it.
/// A budget shared by many call sites lets them retry freely while most
/// calls succeed, and stops retries when most fail:
///
/// - the bucket starts full, at `max_tokens`;
/// - every retryable failure takes one token;
/// - every success puts back `token_ratio` tokens (up to `max_tokens`);
/// - a retry is allowed only while more than half the tokens remain once
///   the failure's own token is taken.
///
/// With `token_ratio = 0.1`, sustained retrying needs at least ten successes
/// per failure, so during an outage the extra load is bounded by roughly
/// `max_tokens / 2` retries, then about 10 % of traffic.
///
/// When the budget is empty, the failing call's error is returned without a
/// retry; the reason is [`StopReason::BudgetEmpty`](crate::StopReason) in
/// reports and telemetry.
///
/// ```
/// use retry_runtime::{RetryBudget, RetryPolicy};
///
/// static BACKEND: RetryBudget = RetryBudget::new(10, 0.1);
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let result: Result<(), std::io::Error> = RetryPolicy::new()
///     .retry(|_| async { Ok(()) })
///     .budget(&BACKEND)
///     .await;
/// assert!(result.is_ok());
/// assert_eq!(BACKEND.tokens(), 10.0);
/// # }
/// ```
pub struct RetryBudget {
    max: u32,
    ratio: u32,
    tokens: AtomicU32,
}

impl RetryBudget {
    /// A full bucket of `max_tokens` (1 to 1000) refilled by `token_ratio`
    /// (more than 0, at most 1, in thousandths) per success.
    ///
    /// # Panics
    ///
    /// If either value is out of range, as [`try_new`](Self::try_new)
    /// reports. In a `static` or `const` that is a compile error.
    ///
    /// ```
    /// use retry_runtime::RetryBudget;
    /// static BUDGET: RetryBudget = RetryBudget::new(100, 0.1);
    /// assert!(BUDGET.can_retry());
    /// ```
    #[track_caller]
    pub const fn new(max_tokens: u32, token_ratio: f64) -> Self {
        match RetryBudget::try_new(max_tokens, token_ratio) {
            Ok(budget) => budget,
            Err(BudgetError::MaxTokens(_)) => panic!("RetryBudget: max_tokens must be 1 to 1000"),
            Err(BudgetError::TokenRatio(_)) => {
                panic!(
                    "RetryBudget: token_ratio must be more than 0 and at most 1, in steps of 0.001"
                )
            }
        }
    }

    /// [`new`](Self::new), returning an error for out-of-range values.
    ///
    /// ```
    /// use retry_runtime::{BudgetError, RetryBudget};
    /// assert_eq!(RetryBudget::try_new(0, 0.1).unwrap_err(), BudgetError::MaxTokens(0));
    /// assert_eq!(RetryBudget::try_new(10, 0.0).unwrap_err(), BudgetError::TokenRatio(0.0));
    /// assert!(RetryBudget::try_new(10, 0.5).is_ok());
    /// ```
    pub const fn try_new(max_tokens: u32, token_ratio: f64) -> Result<Self, BudgetError> {
        if max_tokens == 0 || max_tokens > 1000 {
            return Err(BudgetError::MaxTokens(max_tokens));
        }
        // A ratio that rounds to 0 thousandths would never refill.
        if !(token_ratio >= 0.001 && token_ratio <= 1.0) {
            return Err(BudgetError::TokenRatio(token_ratio));
        }
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // in 1..=1000
        let ratio = (token_ratio * SCALE as f64 + 0.5) as u32;
        let max = max_tokens * SCALE;
        Ok(RetryBudget {
            max,
            ratio,
            tokens: AtomicU32::new(max),
        })
    }

    /// The tokens left (with three decimals).
    ///
    /// ```
    /// use retry_runtime::RetryBudget;
    /// let budget = RetryBudget::new(4, 0.5);
    /// budget.record_failure();
    /// assert_eq!(budget.tokens(), 3.0);
    /// budget.record_success();
    /// assert_eq!(budget.tokens(), 3.5);
    /// ```
    pub fn tokens(&self) -> f64 {
        f64::from(self.tokens.load(Ordering::Relaxed)) / f64::from(SCALE)
    }

    /// The bucket's size.
    ///
    /// ```
    /// assert_eq!(retry_runtime::RetryBudget::new(4, 0.5).max_tokens(), 4.0);
    /// ```
    pub fn max_tokens(&self) -> f64 {
        f64::from(self.max) / f64::from(SCALE)
    }

    /// Whether the next retryable failure will be retried: it takes its
    /// token first, and a retry follows only if more than half the tokens
    /// remain after that. The same answer
    /// [`record_failure`](Self::record_failure) would give now.
    ///
    /// ```
    /// use retry_runtime::RetryBudget;
    /// let budget = RetryBudget::new(4, 0.1);
    /// assert!(budget.can_retry()); // a failure would leave 3 of 4
    /// budget.record_failure();
    /// assert!(!budget.can_retry()); // a failure would leave 2 of 4: not more than half
    /// assert!(!budget.record_failure());
    /// ```
    pub fn can_retry(&self) -> bool {
        Self::allows(self.tokens.load(Ordering::Relaxed), self.max)
    }

    /// Whether `tokens`, less one failure's token, is more than half of `max`.
    const fn allows(tokens: u32, max: u32) -> bool {
        tokens.saturating_sub(SCALE) > max / 2
    }

    /// Takes one token for a retryable failure; returns whether a retry is
    /// still allowed afterwards.
    ///
    /// ```
    /// use retry_runtime::RetryBudget;
    /// let budget = RetryBudget::new(3, 0.1);
    /// assert!(budget.record_failure()); // 2 of 3 left
    /// assert!(!budget.record_failure()); // 1 of 3 left
    /// ```
    pub fn record_failure(&self) -> bool {
        let previous = self
            .tokens
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |tokens| {
                Some(tokens.saturating_sub(SCALE))
            })
            .unwrap_or_else(|tokens| tokens);
        Self::allows(previous, self.max)
    }

    /// Puts back `token_ratio` tokens for a success, up to `max_tokens`.
    ///
    /// ```
    /// use retry_runtime::RetryBudget;
    /// let budget = RetryBudget::new(3, 1.0);
    /// budget.record_success();
    /// assert_eq!(budget.tokens(), 3.0);
    /// ```
    pub fn record_success(&self) {
        // Skip the write when full: the common case under healthy traffic,
        // and it keeps a hot budget's cache line shared between cores.
        if self.tokens.load(Ordering::Relaxed) >= self.max {
            return;
        }
        let _ = self
            .tokens
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |tokens| {
                Some(tokens.saturating_add(self.ratio).min(self.max))
            });
    }
}

impl fmt::Debug for RetryBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryBudget")
            .field("tokens", &self.tokens())
            .field("max_tokens", &self.max_tokens())
            .field("token_ratio", &(f64::from(self.ratio) / f64::from(SCALE)))
            .finish_non_exhaustive()
    }
}

/// Why [`RetryBudget::try_new`] rejected its arguments.
///
/// ```
/// use retry_runtime::RetryBudget;
/// let err = RetryBudget::try_new(5000, 0.1).unwrap_err();
/// assert_eq!(err.to_string(), "max_tokens 5000 is out of range: use 1 to 1000");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum BudgetError {
    /// `max_tokens` is 0 or above 1000.
    #[error("max_tokens {0} is out of range: use 1 to 1000")]
    MaxTokens(u32),
    /// `token_ratio` is not in `0.001..=1`.
    #[error("token_ratio {0} is out of range: use more than 0 and at most 1 (in steps of 0.001)")]
    TokenRatio(f64),
}

#[cfg(test)]
#[allow(clippy::float_cmp)] // token counts are exact multiples of 1/1000
mod tests {
    use super::*;

    #[test]
    fn drains_to_half_then_refills_by_ratio() {
        let budget = RetryBudget::new(10, 0.1);
        let allowed: Vec<bool> = (0..6).map(|_| budget.record_failure()).collect();
        // 9, 8, 7, 6 left allow retries; 5 (= half) and below do not.
        assert_eq!(allowed, [true, true, true, true, false, false]);
        assert_eq!(budget.tokens(), 4.0);
        for _ in 0..10 {
            budget.record_success();
        }
        assert_eq!(budget.tokens(), 5.0);
        assert!(!budget.can_retry(), "a failure would leave 4: not enough");
        for _ in 0..10 {
            budget.record_success();
        }
        assert_eq!(budget.tokens(), 6.0);
        assert!(!budget.can_retry(), "a failure would leave exactly half");
        budget.record_success();
        assert!(budget.can_retry());
    }

    #[test]
    fn can_retry_tells_what_the_next_failure_gets() {
        // From empty, after each number of successes: the prediction and
        // what the next failure actually gets agree.
        for successes in 0..=120 {
            let budget = RetryBudget::new(10, 0.1);
            while budget.tokens() > 0.0 {
                budget.record_failure();
            }
            for _ in 0..successes {
                budget.record_success();
            }
            let predicted = budget.can_retry();
            assert_eq!(
                predicted,
                budget.record_failure(),
                "after {successes} successes"
            );
            assert_eq!(predicted, successes > 60, "after {successes} successes");
        }
    }

    #[test]
    fn never_below_zero_or_above_max() {
        let budget = RetryBudget::new(1, 1.0);
        for _ in 0..5 {
            budget.record_failure();
        }
        assert_eq!(budget.tokens(), 0.0);
        for _ in 0..5 {
            budget.record_success();
        }
        assert_eq!(budget.tokens(), 1.0);
    }

    #[test]
    fn ratios_are_kept_in_thousandths() {
        let budget = RetryBudget::new(1000, 0.001);
        budget.record_failure();
        budget.record_success();
        assert_eq!(budget.tokens(), 999.001);
        assert!(RetryBudget::try_new(1000, 0.0005).is_err());
        assert!(RetryBudget::try_new(1001, 0.5).is_err());
        assert!(RetryBudget::try_new(1, f64::NAN).is_err());
    }

    #[test]
    fn shared_across_threads() {
        static SHARED: RetryBudget = RetryBudget::new(1000, 0.5);
        std::thread::scope(|scope| {
            for _ in 0..4 {
                scope.spawn(|| {
                    for _ in 0..100 {
                        SHARED.record_failure();
                    }
                });
            }
        });
        assert_eq!(SHARED.tokens(), 600.0);
    }
}
