//! [`Classify`] for the status and error types of the common HTTP and gRPC crates.

use crate::{Class, Classify};

/// HTTP statuses, by what they say about whether the request took effect.
///
/// | class | statuses | why |
/// |---|---|---|
/// | `Transient` | 408 Request Timeout, 425 Too Early, 429 Too Many Requests, 503 Service Unavailable | the server refused or did not process the request |
/// | `Ambiguous` | 500 Internal Server Error, 502 Bad Gateway, 504 Gateway Timeout, and other 5xx not listed | the request may have been processed before the failure |
/// | `Permanent` | other 4xx, 501, 505, 506, 508, 510, 511, and every non-error status | repeating the same request gets the same answer |
///
/// A service whose 500 means "did not commit" says so in its own error
/// type's [`Classify`] impl (as the workload-manager example does).
///
/// ```
/// use http::StatusCode;
/// use retry_runtime::{Class, Classify};
///
/// assert_eq!(StatusCode::SERVICE_UNAVAILABLE.classify(), Class::Transient);
/// assert_eq!(StatusCode::BAD_GATEWAY.classify(), Class::Ambiguous);
/// assert_eq!(StatusCode::NOT_FOUND.classify(), Class::Permanent);
/// ```
#[cfg(feature = "http")]
impl Classify for http::StatusCode {
    fn classify(&self) -> Class {
        match self.as_u16() {
            408 | 425 | 429 | 503 => Class::Transient,
            501 | 505 | 506 | 508 | 510 | 511 => Class::Permanent,
            500..=599 => Class::Ambiguous,
            _ => Class::Permanent,
        }
    }
}

/// `reqwest` errors, by the stage at which they failed.
///
/// | class | errors | why |
/// |---|---|---|
/// | `Transient` | [`is_connect`](reqwest::Error::is_connect) | no connection was made, so the request was never sent |
/// | `Ambiguous` | [`is_timeout`](reqwest::Error::is_timeout), [`is_request`](reqwest::Error::is_request), [`is_body`](reqwest::Error::is_body) | the request may have reached the server |
/// | by status | [`is_status`](reqwest::Error::is_status) | see [`http::StatusCode`'s impl](#impl-Classify-for-StatusCode) |
/// | `Permanent` | builder, redirect and decode errors | the same request fails the same way |
#[cfg(feature = "reqwest")]
impl Classify for reqwest::Error {
    fn classify(&self) -> Class {
        if self.is_connect() {
            Class::Transient
        } else if self.is_timeout() || self.is_request() || self.is_body() {
            Class::Ambiguous
        } else if let Some(status) = self.status() {
            status.classify()
        } else {
            Class::Permanent
        }
    }
}

/// gRPC statuses, by their code, following the gRPC status code guide.
///
/// | class | codes | why |
/// |---|---|---|
/// | `Transient` | `RESOURCE_EXHAUSTED`, `ABORTED` | the server refused the call (quota, rate limit) or it lost a concurrency conflict: nothing was applied |
/// | `Ambiguous` | `UNAVAILABLE`, `DEADLINE_EXCEEDED`, `UNKNOWN`, `INTERNAL` | the call may have been processed; gRPC notes that retrying `UNAVAILABLE` "is not always safe" for non-idempotent calls |
/// | `Permanent` | every other code | the same call gets the same answer |
///
/// The server's pushback (`grpc-retry-pushback-ms`, gRPC proposal A6) is
/// the `retry_after` hint; a malformed or negative pushback, which A6 says
/// means "do not retry", is reported as an infinite wait, so the retry loop
/// stops.
///
/// ```
/// use retry_runtime::{Class, Classify};
///
/// let mut exhausted = tonic::Status::resource_exhausted("quota");
/// exhausted.metadata_mut().insert("grpc-retry-pushback-ms", "1500".parse().unwrap());
/// assert_eq!(exhausted.classify(), Class::Transient);
/// assert_eq!(exhausted.retry_after(), Some(std::time::Duration::from_millis(1500)));
/// assert_eq!(tonic::Status::unavailable("down").classify(), Class::Ambiguous);
/// assert_eq!(tonic::Status::not_found("no such VM").classify(), Class::Permanent);
/// ```
#[cfg(feature = "tonic")]
impl Classify for tonic::Status {
    fn classify(&self) -> Class {
        use tonic::Code;
        match self.code() {
            Code::ResourceExhausted | Code::Aborted => Class::Transient,
            Code::Unavailable | Code::DeadlineExceeded | Code::Unknown | Code::Internal => {
                Class::Ambiguous
            }
            _ => Class::Permanent,
        }
    }

    fn retry_after(&self) -> Option<std::time::Duration> {
        let pushback = self.metadata().get("grpc-retry-pushback-ms")?;
        let millis = pushback
            .to_str()
            .ok()
            .and_then(|text| text.trim().parse::<u64>().ok());
        Some(millis.map_or(std::time::Duration::MAX, std::time::Duration::from_millis))
    }
}
