//! HTTP: the server's `Retry-After`, which requests are idempotent, and
//! retries for HTTP clients that know a lost answer from a refused request.
//!
//! - [`retry_after`] reads a response's `Retry-After` (RFC 9110 §10.2.3);
//!   [`is_idempotent`] says whether a request may be sent twice (§9.2.2, or
//!   an `Idempotency-Key` header).
//! - [`http::StatusCode`] implements [`Classify`]: see
//!   the table on [its impl](crate::Classify#impl-Classify-for-StatusCode).
#![cfg_attr(
    feature = "reqwest",
    doc = "- With the `reqwest` feature, [`HttpError`] and [`check`] make one HTTP call's failure ready for `#[retry]`, server hint included."
)]
#![cfg_attr(
    not(feature = "reqwest"),
    doc = "- With the `reqwest` feature, `HttpError` and `check` make one HTTP call's failure ready for `#[retry]`, server hint included."
)]
#![cfg_attr(
    feature = "reqwest-middleware",
    doc = "- With the `reqwest-middleware` feature, [`RetryMiddleware`] retries every call of a `reqwest_middleware` client, by the rule set described on it."
)]
#![cfg_attr(
    not(feature = "reqwest-middleware"),
    doc = "- With the `reqwest-middleware` feature, `RetryMiddleware` retries every call of a `reqwest_middleware` client."
)]
#![cfg_attr(
    feature = "tower",
    doc = "- With the `tower` feature, [`RetryLayer`](crate::tower::RetryLayer) applies the same rules to any `tower` service."
)]
#![cfg_attr(
    not(feature = "tower"),
    doc = "- With the `tower` feature, `tower::RetryLayer` applies the same rules to any `tower` service."
)]
//!
//! ```
//! use http::{HeaderMap, Method, StatusCode};
//! use retry_runtime::http::{is_idempotent, retry_after};
//! use retry_runtime::{Class, Classify};
//! use std::time::Duration;
//!
//! let mut headers = HeaderMap::new();
//! headers.insert("retry-after", "3".parse().unwrap());
//! assert_eq!(retry_after(&headers), Some(Duration::from_secs(3)));
//! assert_eq!(StatusCode::SERVICE_UNAVAILABLE.classify(), Class::Transient);
//! assert!(is_idempotent(&Method::PUT, &HeaderMap::new()));
//! assert!(!is_idempotent(&Method::POST, &HeaderMap::new()));
//! ```
//!
//! # The retrying middleware's rules
//!
//! Both `http::RetryMiddleware` (feature `reqwest-middleware`) and
//! `tower::RetryLayer` (feature `tower`) retry by one rule set:
//!
//! - a response whose status classifies [`Transient`](crate::Class::Transient)
//!   (408, 425, 429, 503) is retried; an [`Ambiguous`](crate::Class::Ambiguous)
//!   one (500, 502, 504, other 5xx) and a transport failure after the
//!   connection was made (a reset, a body cut short) only when the request
//!   is idempotent ([`is_idempotent`]: its method, or
//!   an `Idempotency-Key` header); [`Permanent`](crate::Class::Permanent)
//!   ones (404, ...) never. A refused connection is `Transient`: the
//!   request never left. Statuses follow
//!   [`StatusCode`'s table](crate::Classify#impl-Classify-for-StatusCode), transport
//!   errors `reqwest::Error`'s (see `HttpError`), or, for another
//!   client, the chain of causes of its error.
//!   The policy's own `on` set is replaced by this rule.
//! - A response's `Retry-After` is the hint: the delay is never shorter,
//!   and a hint longer than the policy's `max_delay` (or than its deadline
//!   leaves) stops the retries.
//! - The policy's `attempt_timeout` applies to each attempt (a timed-out
//!   attempt is `Ambiguous`), its `deadline` to the whole call, a
//!   budget to all the calls that share it.
//! - A request whose body cannot be cloned (a stream) is sent once, and its
//!   outcome returned unchanged.
//! - When the retries stop on a response, the caller gets that response,
//!   as from a client without retries; a transport error comes back as
//!   the error it was, and a final timeout as an error whose source is a
//!   [`TimedOut`](crate::TimedOut).
//! - Retries are reported as `#[retry]`'s are: an INFO event per retry, a
//!   WARN event per give-up (target `retry`, function `retry`), inside a
//!   span `http` with the request's `method` and `uri`.

use std::time::{Duration, SystemTime};

use ::http::Method;
use ::http::header::{HeaderMap, HeaderName, RETRY_AFTER};

use crate::{Class, Classify};

#[cfg(feature = "reqwest")]
mod client;
#[cfg(feature = "reqwest-middleware")]
mod middleware;
#[cfg(any(feature = "reqwest-middleware", feature = "tower"))]
pub(crate) mod rules;

#[cfg(feature = "reqwest")]
pub use client::{HttpError, check};
#[cfg(feature = "reqwest-middleware")]
pub use middleware::RetryMiddleware;

/// The `Idempotency-Key` request header: a request that carries it may be
/// repeated, because the server answers a repeated key with the outcome of
/// the first request instead of acting twice.
///
/// ```
/// assert_eq!(retry_runtime::http::IDEMPOTENCY_KEY.as_str(), "idempotency-key");
/// ```
pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");

/// The server's `Retry-After` (RFC 9110 §10.2.3), as a wait from now.
///
/// Both forms are read: delay-seconds (`120`) and an HTTP-date in any of
/// its three forms (IMF-fixdate `Sun, 06 Nov 1994 08:49:37 GMT`, the
/// obsolete RFC 850 `Sunday, 06-Nov-94 08:49:37 GMT` and asctime
/// `Sun Nov  6 08:49:37 1994`). A date in the past is
/// `Some(Duration::ZERO)`. An absent or malformed header (a negative or
/// fractional number, anything else that is neither form) is `None`, so a
/// retry loop falls back on its own backoff. Delay-seconds too large for a
/// `u64` saturate at `u64::MAX` seconds: the server asked for a very long
/// wait, which a retry loop treats as "too long" and stops on. Only the
/// first `Retry-After` header counts. Never panics.
///
/// ```
/// use std::time::Duration;
/// use http::HeaderMap;
/// use retry_runtime::http::retry_after;
///
/// let hint = |value: &str| {
///     let mut headers = HeaderMap::new();
///     headers.insert("retry-after", value.parse().unwrap());
///     retry_after(&headers)
/// };
/// assert_eq!(hint("120"), Some(Duration::from_secs(120)));
/// assert_eq!(hint("Sun, 06 Nov 1994 08:49:37 GMT"), Some(Duration::ZERO)); // in the past
/// assert_eq!(hint("-1"), None);
/// assert_eq!(hint("soon"), None);
/// assert_eq!(retry_after(&HeaderMap::new()), None);
/// ```
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    parse_retry_after(headers.get(RETRY_AFTER)?.as_bytes(), SystemTime::now())
}

/// `Retry-After`'s value, relative to `now`.
pub(crate) fn parse_retry_after(value: &[u8], now: SystemTime) -> Option<Duration> {
    let value = value.trim_ascii();
    if value.is_empty() {
        return None;
    }
    if value.iter().all(u8::is_ascii_digit) {
        let seconds = value.iter().fold(0_u64, |seconds, digit| {
            seconds
                .saturating_mul(10)
                .saturating_add(u64::from(digit - b'0'))
        });
        return Some(Duration::from_secs(seconds));
    }
    let date = httpdate::parse_http_date(std::str::from_utf8(value).ok()?).ok()?;
    Some(date.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Whether `method` with `headers` may be sent more than once with the
/// effect of sending it once.
///
/// RFC 9110 §9.2.2: GET, HEAD, OPTIONS, TRACE, PUT and DELETE are
/// idempotent. Any request carrying an [`Idempotency-Key`](IDEMPOTENCY_KEY)
/// header is treated as idempotent too: the server promises to answer a
/// repeated key with the first outcome. POST, PATCH and unknown methods
/// without the header are not.
///
/// ```
/// use http::{HeaderMap, Method};
/// use retry_runtime::http::is_idempotent;
///
/// assert!(is_idempotent(&Method::DELETE, &HeaderMap::new()));
/// assert!(!is_idempotent(&Method::POST, &HeaderMap::new()));
/// let mut keyed = HeaderMap::new();
/// keyed.insert("idempotency-key", "8e03978e-40d5-43e8-bc93-6894a57f9324".parse().unwrap());
/// assert!(is_idempotent(&Method::POST, &keyed));
/// ```
pub fn is_idempotent(method: &Method, headers: &HeaderMap) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE | Method::PUT | Method::DELETE
    ) || headers.contains_key(IDEMPOTENCY_KEY)
}

/// HTTP statuses, by what they say about whether the request took effect.
///
/// | class | statuses | why |
/// |---|---|---|
/// | `Transient` | 408 Request Timeout, 425 Too Early, 429 Too Many Requests, 503 Service Unavailable | the server refused or did not process the request |
/// | `Ambiguous` | 500 Internal Server Error, 502 Bad Gateway, 504 Gateway Timeout, and other 5xx not listed | the request may have been processed before the failure |
/// | `Permanent` | other 4xx, 501, 505, 506, 508, 510, 511, and every non-error status | repeating the same request gets the same answer |
///
/// A 500 is `Ambiguous` because in general a server may fail after it
/// acted. A service whose 500 means "did not commit" (the workload
/// manager's compute gateway: its agent create failed before anything
/// existed) says so in its own error type's [`Classify`] impl, keeping
/// this table for every other service. The `Retry-After` hint is not
/// part of a status: [`HttpError`](crate::http) (feature `reqwest`)
/// and the middleware read it from the response.
///
/// ```
/// use http::StatusCode;
/// use retry_runtime::{Class, Classify};
///
/// assert_eq!(StatusCode::SERVICE_UNAVAILABLE.classify(), Class::Transient);
/// assert_eq!(StatusCode::BAD_GATEWAY.classify(), Class::Ambiguous);
/// assert_eq!(StatusCode::NOT_FOUND.classify(), Class::Permanent);
/// ```
impl Classify for ::http::StatusCode {
    fn classify(&self) -> Class {
        match self.as_u16() {
            408 | 425 | 429 | 503 => Class::Transient,
            501 | 505 | 506 | 508 | 510 | 511 => Class::Permanent,
            500..=599 => Class::Ambiguous,
            _ => Class::Permanent,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// 1994-11-06T08:49:37Z, the date of RFC 9110's examples.
    fn example_date() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777)
    }

    fn parse_at(value: &str, now: SystemTime) -> Option<Duration> {
        parse_retry_after(value.as_bytes(), now)
    }

    #[test]
    fn delay_seconds() {
        let now = SystemTime::now();
        assert_eq!(parse_at("0", now), Some(Duration::ZERO));
        assert_eq!(parse_at("120", now), Some(Duration::from_secs(120)));
        assert_eq!(parse_at(" 3 ", now), Some(Duration::from_secs(3)));
        assert_eq!(
            parse_at("99999999999999999999999", now),
            Some(Duration::from_secs(u64::MAX)),
            "valid but huge: a very long wait"
        );
    }

    #[test]
    fn each_http_date_form_relative_to_now() {
        let before = example_date() - Duration::from_secs(90);
        for form in [
            "Sun, 06 Nov 1994 08:49:37 GMT",  // IMF-fixdate
            "Sunday, 06-Nov-94 08:49:37 GMT", // obsolete RFC 850
            "Sun Nov  6 08:49:37 1994",       // ANSI C asctime()
        ] {
            assert_eq!(
                parse_at(form, before),
                Some(Duration::from_secs(90)),
                "{form}"
            );
        }
    }

    #[test]
    fn a_date_in_the_past_is_zero() {
        let later = example_date() + Duration::from_secs(3600);
        assert_eq!(
            parse_at("Sun, 06 Nov 1994 08:49:37 GMT", later),
            Some(Duration::ZERO)
        );
    }

    #[test]
    fn malformed_values_are_none() {
        let now = SystemTime::now();
        for value in [
            "",
            "   ",
            "-1",
            "+3",
            "1.5",
            "3s",
            "soon",
            "0x10",
            "Sun, 06 Nov 1994 08:49:37",
            "Sun, 32 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 25:49:37 GMT",
        ] {
            assert_eq!(parse_at(value, now), None, "{value:?}");
        }
    }

    #[test]
    fn only_the_header_is_read() {
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert(RETRY_AFTER, ::http::HeaderValue::from_static("7"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(7)));
        let opaque = ::http::HeaderValue::from_bytes(b"\xff\xfe").unwrap();
        headers.insert(RETRY_AFTER, opaque);
        assert_eq!(retry_after(&headers), None, "not text");
    }

    #[test]
    fn idempotent_methods_and_keys() {
        let none = HeaderMap::new();
        for method in [
            Method::GET,
            Method::HEAD,
            Method::OPTIONS,
            Method::TRACE,
            Method::PUT,
            Method::DELETE,
        ] {
            assert!(is_idempotent(&method, &none), "{method}");
        }
        for method in [Method::POST, Method::PATCH, Method::CONNECT] {
            assert!(!is_idempotent(&method, &none), "{method}");
        }
        let mut keyed = HeaderMap::new();
        keyed.insert("Idempotency-Key", ::http::HeaderValue::from_static("k-1"));
        assert!(is_idempotent(&Method::PATCH, &keyed));
    }

    proptest! {
        #[test]
        fn no_header_value_panics(value in proptest::collection::vec(any::<u8>(), 0..64), offset in any::<u64>()) {
            let now = SystemTime::UNIX_EPOCH + Duration::from_secs(offset % (400 * 365 * 86_400));
            let _ = parse_retry_after(&value, now);
            if let Ok(value) = ::http::HeaderValue::from_bytes(&value) {
                let mut headers = HeaderMap::new();
                headers.insert(RETRY_AFTER, value);
                let _ = retry_after(&headers);
            }
        }

        #[test]
        fn text_like_values_never_panic(value in "[ -~]{0,40}") {
            let _ = parse_retry_after(value.as_bytes(), SystemTime::now());
        }

        #[test]
        fn every_formatted_date_reads_back(secs in 0_u64..253_402_300_799, ahead in 0_u64..1_000_000) {
            let date = SystemTime::UNIX_EPOCH + Duration::from_secs(secs);
            let text = httpdate::fmt_http_date(date);
            let now = date.checked_sub(Duration::from_secs(ahead)).unwrap_or(SystemTime::UNIX_EPOCH);
            let expected = date.duration_since(now).unwrap();
            prop_assert_eq!(parse_at(&text, now), Some(expected));
        }
    }
}
