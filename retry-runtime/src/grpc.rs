//! [`Classify`] for gRPC statuses.

use crate::{Class, Classify};

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
