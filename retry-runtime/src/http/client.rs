//! reqwest: [`HttpError`], [`check`], and [`Classify`] for `reqwest::Error`.

use std::error::Error as _;
use std::fmt;
use std::time::Duration;

use ::http::StatusCode;

use crate::{Class, Classify, TimedOut};

/// One HTTP call's failure, ready for `#[retry]`: a transport error, a
/// non-success status with the server's `Retry-After` as the hint, or a
/// timed-out attempt.
///
/// It classifies as its parts do: a status by
/// [`StatusCode`'s table](crate::Classify#impl-Classify-for-StatusCode), a transport
/// error by the stage at which it failed (see
/// [`reqwest::Error`'s impl](crate::Classify#impl-Classify-for-Error)), a timed-out
/// attempt as [`Ambiguous`](Class::Ambiguous). Its
/// [`retry_after`](Classify::retry_after) is the server's `Retry-After`,
/// which the retry loop never undercuts and stops on when it is longer than
/// `max_delay` or the deadline allows.
///
/// ```no_run
/// use retry_runtime::{http::{self, HttpError}, retry};
///
/// #[retry(max = 4, base = "200ms", timeout = "2s")]
/// async fn fetch(client: &reqwest::Client, url: &str) -> Result<String, HttpError> {
///     let response = http::check(client.get(url).send().await?)?;
///     Ok(response.text().await?)
/// }
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum HttpError {
    /// The server answered with a client or server error status.
    Status {
        /// The status.
        status: StatusCode,
        /// The server's `Retry-After`, if it sent a valid one.
        retry_after: Option<Duration>,
    },
    /// The exchange failed: no connection, a reset, a body cut short, a
    /// request that could not be built...
    Transport(reqwest::Error),
    /// The attempt outlived the policy's per-attempt timeout.
    TimedOut(TimedOut),
}

impl HttpError {
    /// The status the server answered with, if it answered.
    ///
    /// ```
    /// use http::StatusCode;
    /// use retry_runtime::http::HttpError;
    ///
    /// let error = HttpError::Status { status: StatusCode::BAD_GATEWAY, retry_after: None };
    /// assert_eq!(error.status(), Some(StatusCode::BAD_GATEWAY));
    /// ```
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            HttpError::Status { status, .. } => Some(*status),
            HttpError::Transport(error) => error.status(),
            HttpError::TimedOut(_) => None,
        }
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HttpError::Status {
                status,
                retry_after,
            } => {
                write!(f, "HTTP {status}")?;
                if let Some(after) = retry_after {
                    write!(f, " (retry after {})", crate::format_duration(*after))?;
                }
                Ok(())
            }
            HttpError::Transport(error) => {
                // reqwest's own text says only "error sending request";
                // the cause is what the reader needs.
                write!(f, "{error}")?;
                let mut source = error.source();
                while let Some(cause) = source {
                    write!(f, ": {cause}")?;
                    source = cause.source();
                }
                Ok(())
            }
            HttpError::TimedOut(timed_out) => write!(f, "{timed_out}"),
        }
    }
}

impl std::error::Error for HttpError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            HttpError::Status { .. } => None,
            // Display already walks the transport error's chain.
            HttpError::Transport(error) => Some(error),
            HttpError::TimedOut(timed_out) => Some(timed_out),
        }
    }
}

impl From<reqwest::Error> for HttpError {
    fn from(error: reqwest::Error) -> Self {
        HttpError::Transport(error)
    }
}

impl From<TimedOut> for HttpError {
    fn from(timed_out: TimedOut) -> Self {
        HttpError::TimedOut(timed_out)
    }
}

/// See [`HttpError`].
///
/// ```
/// use http::StatusCode;
/// use retry_runtime::{Class, Classify, TimedOut, http::HttpError};
/// use std::time::Duration;
///
/// let busy = HttpError::Status {
///     status: StatusCode::TOO_MANY_REQUESTS,
///     retry_after: Some(Duration::from_secs(3)),
/// };
/// assert_eq!(busy.classify(), Class::Transient);
/// assert_eq!(busy.retry_after(), Some(Duration::from_secs(3)));
/// assert_eq!(busy.label(), Some("Too Many Requests"));
/// assert_eq!(HttpError::from(TimedOut::new(Duration::from_secs(2))).classify(), Class::Ambiguous);
/// ```
impl Classify for HttpError {
    fn classify(&self) -> Class {
        match self {
            HttpError::Status { status, .. } => status.classify(),
            HttpError::Transport(error) => error.classify(),
            HttpError::TimedOut(_) => Class::Ambiguous,
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            HttpError::Status { retry_after, .. } => *retry_after,
            HttpError::Transport(_) | HttpError::TimedOut(_) => None,
        }
    }

    fn label(&self) -> Option<&str> {
        match self {
            HttpError::Status { status, .. } => status.canonical_reason(),
            HttpError::Transport(error) => Some(stage(error)),
            HttpError::TimedOut(_) => Some("timeout"),
        }
    }
}

/// The response if its status is not a client or server error (so a
/// success, or a redirect reqwest did not follow), else an
/// [`HttpError::Status`] that keeps the status and the server's
/// `Retry-After`: reqwest's own `error_for_status` drops the headers, and
/// with them the hint.
///
/// ```no_run
/// use retry_runtime::http::{self, HttpError};
///
/// # async fn run(client: reqwest::Client) -> Result<(), HttpError> {
/// let response = http::check(client.get("http://127.0.0.1:8080/v1/instances").send().await?)?;
/// println!("{}", response.text().await?);
/// # Ok(()) }
/// ```
pub fn check(response: reqwest::Response) -> Result<reqwest::Response, HttpError> {
    let status = response.status();
    if status.is_client_error() || status.is_server_error() {
        Err(HttpError::Status {
            status,
            retry_after: super::retry_after(response.headers()),
        })
    } else {
        Ok(response)
    }
}

/// `reqwest` errors, by the stage at which they failed.
///
/// | class | errors | why |
/// |---|---|---|
/// | `Transient` | [`is_connect`](reqwest::Error::is_connect) (refused, unreachable, DNS) | no connection was made, so the request was never sent |
/// | `Ambiguous` | timeouts, request and body errors, upgrade errors, and a response body cut short (a network fault while reading it, which reqwest reports as a decode error) | the request may have reached the server and taken effect; only its answer was lost |
/// | by status | [`is_status`](reqwest::Error::is_status) (from `error_for_status`) | see [`StatusCode`'s table](crate::Classify#impl-Classify-for-StatusCode) |
/// | `Permanent` | [builder](reqwest::Error::is_builder) errors (an invalid URL, a bad header), [redirect](reqwest::Error::is_redirect) errors (a loop, too many), and a complete body that does not decode (invalid JSON) | the same request fails the same way |
///
/// ```
/// use retry_runtime::{Class, Classify};
///
/// let invalid_url = reqwest::Client::new().get("not a url").build().unwrap_err();
/// assert_eq!(invalid_url.classify(), Class::Permanent);
/// ```
impl Classify for reqwest::Error {
    fn classify(&self) -> Class {
        if self.is_connect() {
            Class::Transient
        } else if self.is_builder() || self.is_redirect() {
            Class::Permanent
        } else if let Some(status) = self.status() {
            status.classify()
        } else if self.is_decode() && !cut_short(self) {
            Class::Permanent
        } else {
            Class::Ambiguous
        }
    }

    fn label(&self) -> Option<&str> {
        Some(stage(self))
    }
}

/// Whether a decode error is a network fault while reading the body (hyper,
/// an I/O error, reqwest's own body or timeout errors) rather than a body
/// that arrived whole and does not parse.
fn cut_short(error: &reqwest::Error) -> bool {
    let mut source = error.source();
    while let Some(cause) = source {
        if cause.is::<hyper::Error>() || cause.is::<std::io::Error>() {
            return true;
        }
        if let Some(inner) = cause.downcast_ref::<reqwest::Error>() {
            if inner.is_body() || inner.is_timeout() {
                return true;
            }
        }
        source = cause.source();
    }
    error.is_timeout()
}

fn stage(error: &reqwest::Error) -> &'static str {
    if error.is_connect() {
        "connect"
    } else if error.is_timeout() {
        "timeout"
    } else if error.is_builder() {
        "builder"
    } else if error.is_redirect() {
        "redirect"
    } else if error.is_status() {
        "status"
    } else if error.is_decode() && cut_short(error) {
        "body cut short"
    } else if error.is_decode() {
        "decode"
    } else if error.is_body() {
        "body"
    } else {
        "request"
    }
}
