//! The three-valued answer to "is this failure worth retrying?".

use std::fmt;
use std::io;
use std::ops::BitOr;
use std::time::Duration;

/// What a failure says about the operation that produced it.
///
/// The distinction that matters is between [`Transient`](Class::Transient)
/// and [`Ambiguous`](Class::Ambiguous): both may succeed if tried again, but
/// only a transient failure is known *not to have taken effect*. Retrying an
/// ambiguous failure (a lost response, a 502/504, a timeout) can perform the
/// operation twice, so it is retried only where the caller declares the
/// operation idempotent with `on = Transient | Ambiguous`.
///
/// ```
/// use retry_runtime::{Class, Classify};
///
/// let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
/// assert_eq!(refused.classify(), Class::Transient);
/// let reset = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
/// assert_eq!(reset.classify(), Class::Ambiguous);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
pub enum Class {
    /// The operation did not take effect and may succeed later. Safe to retry.
    Transient,
    /// The operation may or may not have taken effect. Retried only when the
    /// caller opts in (`on = Transient | Ambiguous`).
    Ambiguous,
    /// Waiting will not help. Never retried.
    Permanent,
}

impl Class {
    /// Every class, in declaration order.
    ///
    /// ```
    /// use retry_runtime::Class;
    /// assert_eq!(Class::ALL.len(), 3);
    /// ```
    pub const ALL: [Class; 3] = [Class::Transient, Class::Ambiguous, Class::Permanent];

    /// The lowercase name used in telemetry and serialized histories.
    ///
    /// ```
    /// use retry_runtime::Class;
    /// assert_eq!(Class::Ambiguous.as_str(), "ambiguous");
    /// ```
    pub const fn as_str(self) -> &'static str {
        match self {
            Class::Transient => "transient",
            Class::Ambiguous => "ambiguous",
            Class::Permanent => "permanent",
        }
    }

    const fn bit(self) -> u8 {
        match self {
            Class::Transient => 1,
            Class::Ambiguous => 2,
            Class::Permanent => 4,
        }
    }
}

impl fmt::Display for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of [`Class`]es: which failures a policy retries (its `on` setting).
///
/// Build it in `const` context with [`ClassSet::of`] and [`ClassSet::with`],
/// or at run time with `|`:
///
/// ```
/// use retry_runtime::{Class, ClassSet};
///
/// const IDEMPOTENT: ClassSet = ClassSet::TRANSIENT.with(Class::Ambiguous);
/// assert_eq!(IDEMPOTENT, Class::Transient | Class::Ambiguous);
/// assert!(IDEMPOTENT.contains(Class::Ambiguous));
/// assert!(!ClassSet::TRANSIENT.contains(Class::Ambiguous));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ClassSet(u8);

impl ClassSet {
    /// No class: nothing is retried.
    pub const EMPTY: ClassSet = ClassSet(0);
    /// Transient failures only: the default, and the only safe choice for an
    /// operation that is not idempotent.
    pub const TRANSIENT: ClassSet = ClassSet::of(Class::Transient);

    /// The set holding `class` alone.
    ///
    /// ```
    /// use retry_runtime::{Class, ClassSet};
    /// assert!(ClassSet::of(Class::Ambiguous).contains(Class::Ambiguous));
    /// ```
    pub const fn of(class: Class) -> ClassSet {
        ClassSet(class.bit())
    }

    /// This set with `class` added.
    ///
    /// ```
    /// use retry_runtime::{Class, ClassSet};
    /// let set = ClassSet::EMPTY.with(Class::Transient);
    /// assert_eq!(set, ClassSet::TRANSIENT);
    /// ```
    #[must_use]
    pub const fn with(self, class: Class) -> ClassSet {
        ClassSet(self.0 | class.bit())
    }

    /// Whether `class` is in the set.
    ///
    /// ```
    /// use retry_runtime::{Class, ClassSet};
    /// assert!(ClassSet::TRANSIENT.contains(Class::Transient));
    /// ```
    pub const fn contains(self, class: Class) -> bool {
        self.0 & class.bit() != 0
    }

    /// Whether the set is empty.
    ///
    /// ```
    /// use retry_runtime::ClassSet;
    /// assert!(ClassSet::EMPTY.is_empty());
    /// ```
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The classes in the set, in declaration order.
    ///
    /// ```
    /// use retry_runtime::{Class, ClassSet};
    /// let set = Class::Ambiguous | Class::Transient;
    /// assert_eq!(set.iter().collect::<Vec<_>>(), [Class::Transient, Class::Ambiguous]);
    /// ```
    pub fn iter(self) -> impl Iterator<Item = Class> {
        Class::ALL
            .into_iter()
            .filter(move |class| self.contains(*class))
    }
}

impl fmt::Debug for ClassSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

impl fmt::Display for ClassSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut separator = "";
        for class in self.iter() {
            write!(f, "{separator}{class}")?;
            separator = " | ";
        }
        if self.is_empty() {
            f.write_str("(none)")?;
        }
        Ok(())
    }
}

impl From<Class> for ClassSet {
    fn from(class: Class) -> Self {
        ClassSet::of(class)
    }
}

impl BitOr for Class {
    type Output = ClassSet;
    fn bitor(self, rhs: Class) -> ClassSet {
        ClassSet::of(self).with(rhs)
    }
}

impl BitOr<Class> for ClassSet {
    type Output = ClassSet;
    fn bitor(self, rhs: Class) -> ClassSet {
        self.with(rhs)
    }
}

impl BitOr for ClassSet {
    type Output = ClassSet;
    fn bitor(self, rhs: ClassSet) -> ClassSet {
        ClassSet(self.0 | rhs.0)
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for ClassSet {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for ClassSet {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let classes = Vec::<Class>::deserialize(deserializer)?;
        Ok(classes.into_iter().fold(ClassSet::EMPTY, ClassSet::with))
    }
}

/// An error that knows whether retrying it could help.
///
/// Implement it by hand, derive it with `#[derive(Classify)]`, or, for an
/// error type you do not own, pass a function to `retry_with` /
/// `#[retry(classify = path)]` instead.
///
/// ```
/// use std::time::Duration;
/// use retry_runtime::{Class, Classify};
///
/// #[derive(Debug)]
/// enum GatewayError {
///     NoPlacement { retry_after: Option<Duration> },
///     BadGateway,
///     Invalid,
/// }
///
/// impl Classify for GatewayError {
///     fn classify(&self) -> Class {
///         match self {
///             GatewayError::NoPlacement { .. } => Class::Transient,
///             // The node may have created the instance before the answer was lost.
///             GatewayError::BadGateway => Class::Ambiguous,
///             GatewayError::Invalid => Class::Permanent,
///         }
///     }
///
///     fn retry_after(&self) -> Option<Duration> {
///         match self {
///             GatewayError::NoPlacement { retry_after } => *retry_after,
///             _ => None,
///         }
///     }
/// }
///
/// assert_eq!(GatewayError::BadGateway.classify(), Class::Ambiguous);
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not implement `Classify`, so the retry loop cannot tell whether it is worth retrying",
    label = "this error type is not `Classify`",
    note = "derive it with `#[derive(Classify)]`, implement `Classify` by hand, or pass `classify = path::to::fn` (a `fn(&E) -> Class`) to `#[retry]`"
)]
pub trait Classify {
    /// Whether the failure is transient, ambiguous or permanent.
    fn classify(&self) -> Class;

    /// A server's hint of how long to wait (`Retry-After`, a gRPC pushback).
    ///
    /// The retry loop never waits less than this; if the hint is longer than
    /// the policy's `max_delay` or runs past its deadline, it stops retrying.
    fn retry_after(&self) -> Option<Duration> {
        None
    }

    /// A short name for the kind of failure (`"network"`, `"no placement"`),
    /// kept in retry histories and telemetry. Default: none.
    fn label(&self) -> Option<&str> {
        None
    }
}

impl<T: Classify + ?Sized> Classify for &T {
    fn classify(&self) -> Class {
        (**self).classify()
    }
    fn retry_after(&self) -> Option<Duration> {
        (**self).retry_after()
    }
    fn label(&self) -> Option<&str> {
        (**self).label()
    }
}

impl<T: Classify + ?Sized> Classify for Box<T> {
    fn classify(&self) -> Class {
        (**self).classify()
    }
    fn retry_after(&self) -> Option<Duration> {
        (**self).retry_after()
    }
    fn label(&self) -> Option<&str> {
        (**self).label()
    }
}

/// `std::io` errors by [`ErrorKind`](io::ErrorKind).
///
/// | class | kinds | why |
/// |---|---|---|
/// | `Transient` | `ConnectionRefused`, `AddrInUse`, `AddrNotAvailable`, `NotConnected`, `HostUnreachable`, `NetworkUnreachable`, `NetworkDown`, `ResourceBusy`, `ExecutableFileBusy`, `WouldBlock`, `Interrupted`, `StorageFull`, `QuotaExceeded`, `StaleNetworkFileHandle` | nothing reached the peer, or the local resource was momentarily unavailable: the operation did not happen |
/// | `Ambiguous` | `ConnectionReset`, `ConnectionAborted`, `BrokenPipe`, `UnexpectedEof`, `TimedOut` | the exchange was cut or timed out after the request may have been received: it may have taken effect |
/// | `Permanent` | every other kind (`NotFound`, `PermissionDenied`, `InvalidInput`, `InvalidData`, `AlreadyExists`, `Unsupported`, `OutOfMemory`, ...) | waiting does not change the answer |
///
/// ```
/// use std::io::ErrorKind;
/// use retry_runtime::{Class, Classify};
///
/// assert_eq!(ErrorKind::ConnectionRefused.classify(), Class::Transient);
/// assert_eq!(ErrorKind::TimedOut.classify(), Class::Ambiguous);
/// assert_eq!(ErrorKind::PermissionDenied.classify(), Class::Permanent);
/// ```
impl Classify for io::ErrorKind {
    fn classify(&self) -> Class {
        use io::ErrorKind as K;
        match self {
            K::ConnectionRefused
            | K::AddrInUse
            | K::AddrNotAvailable
            | K::NotConnected
            | K::HostUnreachable
            | K::NetworkUnreachable
            | K::NetworkDown
            | K::ResourceBusy
            | K::ExecutableFileBusy
            | K::WouldBlock
            | K::Interrupted
            | K::StorageFull
            | K::QuotaExceeded
            | K::StaleNetworkFileHandle => Class::Transient,
            K::ConnectionReset
            | K::ConnectionAborted
            | K::BrokenPipe
            | K::UnexpectedEof
            | K::TimedOut => Class::Ambiguous,
            _ => Class::Permanent,
        }
    }
}

/// Classified by [`kind()`](io::Error::kind); see the table on
/// [`io::ErrorKind`'s impl](#impl-Classify-for-ErrorKind).
///
/// ```
/// use retry_runtime::{Class, Classify};
/// let busy = std::io::Error::from(std::io::ErrorKind::ResourceBusy);
/// assert_eq!(busy.classify(), Class::Transient);
/// ```
impl Classify for io::Error {
    fn classify(&self) -> Class {
        self.kind().classify()
    }
}

/// The error of an attempt that outlived its per-attempt timeout.
///
/// A timed-out attempt is [`Ambiguous`](Class::Ambiguous): the operation may
/// still complete on the other side. It reaches the caller as `E::from(TimedOut)`,
/// so an error type used with a timeout implements `From<TimedOut>`
/// (`std::io::Error` does, mapping it to [`io::ErrorKind::TimedOut`]).
///
/// ```
/// use std::time::Duration;
/// use retry_runtime::{Class, Classify, TimedOut};
///
/// let timed_out = TimedOut::new(Duration::from_secs(5));
/// assert_eq!(timed_out.classify(), Class::Ambiguous);
/// assert_eq!(timed_out.to_string(), "attempt timed out after 5s");
/// assert_eq!(std::io::Error::from(timed_out).kind(), std::io::ErrorKind::TimedOut);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
#[error("attempt timed out after {}", crate::format_duration(*.after))]
pub struct TimedOut {
    after: Duration,
}

impl TimedOut {
    /// A timeout that fired after `after`.
    ///
    /// ```
    /// # use std::time::Duration;
    /// let t = retry_runtime::TimedOut::new(Duration::from_millis(10));
    /// assert_eq!(t.after(), Duration::from_millis(10));
    /// ```
    pub const fn new(after: Duration) -> Self {
        TimedOut { after }
    }

    /// The per-attempt timeout that fired.
    ///
    /// ```
    /// # use std::time::Duration;
    /// assert_eq!(retry_runtime::TimedOut::new(Duration::ZERO).after(), Duration::ZERO);
    /// ```
    pub const fn after(&self) -> Duration {
        self.after
    }
}

impl Classify for TimedOut {
    fn classify(&self) -> Class {
        Class::Ambiguous
    }
}

impl From<TimedOut> for io::Error {
    fn from(timed_out: TimedOut) -> Self {
        io::Error::new(io::ErrorKind::TimedOut, timed_out)
    }
}
