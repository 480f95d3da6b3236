//! Human-readable durations: `"250ms"`, `"1.5s"`, `"2m"`.
//!
//! One grammar serves `#[retry(base = "250ms")]` (checked at compile time by
//! `retry-macros`), the `serde` representation of `retry-runtime`'s
//! policies and histories, and users who read delays from configuration.
//! It lives in a crate of its own so that the proc-macro crate and the
//! runtime, each published on its own, share one parser.
//!
//! Depend on [`retry-runtime`](https://docs.rs/retry-runtime), which
//! re-exports everything here (`UNITS` as `DURATION_UNITS`).
//!
//! ```
//! use std::time::Duration;
//!
//! assert_eq!(retry_duration::parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::fmt;
use std::time::Duration;

/// The units a duration literal may use, as written in error messages.
///
/// ```
/// assert_eq!(retry_duration::UNITS, "ns, us, ms, s, m, h");
/// ```
pub const UNITS: &str = "ns, us, ms, s, m, h";

/// Why a duration string was rejected.
///
/// ```
/// use retry_duration::{parse_duration, DurationError};
///
/// assert_eq!(parse_duration("250x"), Err(DurationError::UnknownUnit("x".into())));
/// assert_eq!(
///     parse_duration("250x").unwrap_err().to_string(),
///     "unknown unit `x` in duration; expected one of: ns, us, ms, s, m, h",
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DurationError {
    /// The string is empty (or only whitespace).
    Empty,
    /// The string does not start with a number (`"ms"`, `"-1s"`).
    NoNumber,
    /// A number without a unit (`"250"`).
    MissingUnit,
    /// A unit that is not one of [`UNITS`].
    UnknownUnit(String),
    /// The value does not fit in a [`Duration`].
    Overflow,
    /// A fraction finer than one nanosecond (`"1.5ns"`).
    SubNanosecond,
}

impl fmt::Display for DurationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => write!(
                f,
                "empty duration; write a number and a unit, e.g. \"250ms\""
            ),
            Self::NoNumber => write!(
                f,
                "a duration starts with a non-negative number, e.g. \"250ms\" or \"1.5s\""
            ),
            Self::MissingUnit => write!(f, "duration has no unit; expected one of: {UNITS}"),
            Self::UnknownUnit(unit) => {
                write!(
                    f,
                    "unknown unit `{unit}` in duration; expected one of: {UNITS}"
                )
            }
            Self::Overflow => write!(f, "duration is too large"),
            Self::SubNanosecond => write!(f, "duration has a fraction of a nanosecond"),
        }
    }
}

impl std::error::Error for DurationError {}

fn unit_nanos(unit: &str) -> Option<u128> {
    Some(match unit {
        "ns" => 1,
        "us" | "µs" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        _ => return None,
    })
}

/// Parses `"<number><unit>"`, e.g. `"250ms"`, `"1.5s"`, `"2m"`.
///
/// The number is a non-negative decimal (exact: no floating point is
/// involved); the unit is one of [`UNITS`]. Whitespace around the number and
/// unit is allowed.
///
/// ```
/// use std::time::Duration;
/// use retry_duration::parse_duration;
///
/// assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
/// assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
/// assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
/// assert!(parse_duration("250").is_err());
/// ```
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(DurationError::Empty);
    }
    let number_len = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(number_len);
    let unit = unit.trim_start();
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return Err(DurationError::NoNumber);
    }
    if unit.is_empty() {
        return Err(DurationError::MissingUnit);
    }
    let scale = unit_nanos(unit).ok_or_else(|| DurationError::UnknownUnit(unit.to_owned()))?;

    let whole: u128 = whole.parse().map_err(|_| DurationError::Overflow)?;
    let mut nanos = whole.checked_mul(scale).ok_or(DurationError::Overflow)?;
    // The fraction is exact: digits * scale / 10^len, which must be whole.
    let fraction = fraction.trim_end_matches('0');
    if !fraction.is_empty() {
        let digits: u128 = fraction.parse().map_err(|_| DurationError::SubNanosecond)?;
        let denominator = u32::try_from(fraction.len())
            .ok()
            .and_then(|len| 10u128.checked_pow(len))
            .ok_or(DurationError::SubNanosecond)?;
        let scaled = digits
            .checked_mul(scale)
            .ok_or(DurationError::SubNanosecond)?;
        if scaled % denominator != 0 {
            return Err(DurationError::SubNanosecond);
        }
        nanos = nanos
            .checked_add(scaled / denominator)
            .ok_or(DurationError::Overflow)?;
    }
    let secs = u64::try_from(nanos / 1_000_000_000).map_err(|_| DurationError::Overflow)?;
    #[allow(clippy::cast_possible_truncation)] // remainder of a division by 10^9
    Ok(Duration::new(secs, (nanos % 1_000_000_000) as u32))
}

/// Formats a duration in the grammar [`parse_duration`] reads, in the largest
/// unit that represents it exactly: `250ms`, `2s`, `1m`, `1500ms`.
///
/// ```
/// use std::time::Duration;
/// use retry_duration::{format_duration, parse_duration};
///
/// assert_eq!(format_duration(Duration::from_millis(250)).to_string(), "250ms");
/// assert_eq!(format_duration(Duration::from_secs(120)).to_string(), "2m");
/// assert_eq!(format_duration(Duration::from_millis(1500)).to_string(), "1500ms");
/// let d = Duration::new(3, 7);
/// assert_eq!(parse_duration(&format_duration(d).to_string()), Ok(d));
/// ```
pub fn format_duration(duration: Duration) -> impl fmt::Display {
    HumanDuration(duration)
}

struct HumanDuration(Duration);

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let nanos = self.0.as_nanos();
        if nanos == 0 {
            return f.write_str("0s");
        }
        for unit in ["h", "m", "s", "ms", "us", "ns"] {
            let scale = unit_nanos(unit).unwrap_or(1);
            if nanos % scale == 0 {
                return write!(f, "{}{unit}", nanos / scale);
            }
        }
        unreachable!("every duration is a whole number of nanoseconds")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_unit() {
        assert_eq!(parse_duration("7ns"), Ok(Duration::from_nanos(7)));
        assert_eq!(parse_duration("7us"), Ok(Duration::from_micros(7)));
        assert_eq!(parse_duration("7µs"), Ok(Duration::from_micros(7)));
        assert_eq!(parse_duration("7ms"), Ok(Duration::from_millis(7)));
        assert_eq!(parse_duration("7s"), Ok(Duration::from_secs(7)));
        assert_eq!(parse_duration("7m"), Ok(Duration::from_secs(420)));
        assert_eq!(parse_duration("7h"), Ok(Duration::from_secs(25_200)));
        assert_eq!(parse_duration(" 1.25 s "), Ok(Duration::from_millis(1250)));
        assert_eq!(parse_duration("0.5ms"), Ok(Duration::from_micros(500)));
        assert_eq!(parse_duration("1.000s"), Ok(Duration::from_secs(1)));
    }

    #[test]
    fn rejects_what_it_cannot_read() {
        assert_eq!(parse_duration(""), Err(DurationError::Empty));
        assert_eq!(parse_duration("ms"), Err(DurationError::NoNumber));
        assert_eq!(parse_duration("-1s"), Err(DurationError::NoNumber));
        assert_eq!(parse_duration(".5s"), Err(DurationError::NoNumber));
        assert_eq!(parse_duration("1.2.3s"), Err(DurationError::NoNumber));
        assert_eq!(parse_duration("250"), Err(DurationError::MissingUnit));
        assert_eq!(
            parse_duration("250 sec"),
            Err(DurationError::UnknownUnit("sec".into()))
        );
        assert_eq!(parse_duration("1.5ns"), Err(DurationError::SubNanosecond));
        assert_eq!(
            parse_duration("99999999999999999999999h"),
            Err(DurationError::Overflow)
        );
    }

    #[test]
    fn formats_in_the_largest_exact_unit() {
        for (nanos, text) in [
            (0, "0s"),
            (1, "1ns"),
            (1_500, "1500ns"),
            (2_000, "2us"),
            (250_000_000, "250ms"),
            (90_000_000_000, "90s"),
            (7_200_000_000_000, "2h"),
        ] {
            assert_eq!(
                format_duration(Duration::from_nanos(nanos)).to_string(),
                text
            );
        }
    }
}
