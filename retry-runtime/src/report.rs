//! Call reports: what every retry loop that finished inside [`capture`] or
//! [`capture_blocking`] did, and the bounded history they (and
//! [`Retry::report`](crate::Retry::report)) keep.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::fmt::{self, Write as _};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use crate::{Class, StopReason};

/// How many of the first failed attempts a history keeps.
///
/// A history keeps the first [`HISTORY_FIRST`] and the last
/// [`HISTORY_LAST`] failed attempts and counts the ones between in
/// `omitted`, so that a call failing a million times cannot exhaust memory.
pub const HISTORY_FIRST: usize = 32;

/// How many of the last failed attempts a history keeps; see
/// [`HISTORY_FIRST`].
pub const HISTORY_LAST: usize = 32;

/// The most bytes of an error's `Display` text a history keeps. A longer
/// text is cut on a `char` boundary at or below this length and ends with
/// [`TRUNCATED`]. Formatting stops there too, so a megabyte-long message
/// costs little more than a short one.
pub const ERROR_TEXT_LIMIT: usize = 1024;

/// The marker that ends an error text cut at [`ERROR_TEXT_LIMIT`].
pub const TRUNCATED: &str = "…";

/// One failed attempt, as kept in a history ([`Report::history`](crate::Report),
/// [`CallReport::history`]).
///
/// With the `serde` feature it serializes as
/// `{"attempt":1,"at":"2026-11-22T10:00:00.250Z","elapsed":"0s","class":"transient","label":"network","error":"...","delay":"250ms"}`.
///
/// ```
/// use std::io::{Error, ErrorKind};
/// use retry_runtime::{Class, RetryPolicy};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// let report = RetryPolicy::new()
///     .retry(|_| async { Err::<(), _>(Error::from(ErrorKind::ConnectionRefused)) })
///     .report()
///     .await;
/// let first = &report.history[0];
/// assert_eq!((first.attempt, first.class), (1, Class::Transient));
/// assert_eq!(first.error, "connection refused");
/// assert_eq!(first.delay, Some(std::time::Duration::from_millis(250)));
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct AttemptRecord {
    /// The 1-based attempt number.
    pub attempt: u32,
    /// Wall-clock time the failure was seen.
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_duration::timestamp"))]
    pub at: SystemTime,
    /// Time since the first attempt started (tokio's clock for async loops:
    /// virtual in tests).
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_duration"))]
    pub elapsed: Duration,
    /// The failure's class.
    pub class: Class,
    /// The classifier's label for it, if any.
    pub label: Option<String>,
    /// The error's `Display` text, at most [`ERROR_TEXT_LIMIT`] bytes
    /// (then ending with [`TRUNCATED`]).
    pub error: String,
    /// The sleep that followed, or `None` if the loop stopped here.
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_duration::option"))]
    pub delay: Option<Duration>,
}

/// What one retry loop did: one per `#[retry]` call or [`Retry`](crate::Retry)
/// future that finished inside [`capture`] or [`capture_blocking`].
///
/// ```
/// use retry_runtime::{capture, retry};
///
/// #[retry(max = 3, base = "1s")]
/// async fn fetch(fail: &std::sync::atomic::AtomicU32) -> std::io::Result<u32> {
///     if fail.fetch_sub(1, std::sync::atomic::Ordering::Relaxed) > 0 {
///         return Err(std::io::ErrorKind::ConnectionRefused.into());
///     }
///     Ok(7)
/// }
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// let fail = std::sync::atomic::AtomicU32::new(1);
/// let (value, calls) = capture(fetch(&fail)).await;
/// assert_eq!(value.unwrap(), 7);
/// assert_eq!((calls[0].function, calls[0].attempts), ("fetch", 2));
/// assert_eq!(calls[0].history[0].error, "connection refused");
/// assert_eq!(calls[0].elapsed, std::time::Duration::from_secs(1));
/// assert_eq!(calls[0].stop, None);
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct CallReport {
    /// The `#[retry]` function's name; `"retry"` for
    /// [`RetryPolicy::retry`](crate::RetryPolicy::retry) and
    /// [`retry_with`](crate::RetryPolicy::retry_with).
    pub function: &'static str,
    /// How many attempts were made.
    pub attempts: u32,
    /// The failed attempts, in order: the first [`HISTORY_FIRST`] and the
    /// last [`HISTORY_LAST`].
    pub history: Vec<AttemptRecord>,
    /// How many failed attempts between those were left out of `history`.
    pub omitted: u32,
    /// Why the loop returned an error; `None` on success.
    pub stop: Option<StopReason>,
    /// Time from the start of the first attempt to the end.
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_duration"))]
    pub elapsed: Duration,
}

/// A bounded history: the first and the last failed attempts, and a count
/// of those between.
#[doc(hidden)]
#[derive(Debug, Default)]
pub struct History {
    first: Vec<AttemptRecord>,
    last: VecDeque<AttemptRecord>,
    omitted: u32,
}

impl History {
    pub(crate) fn push(&mut self, record: AttemptRecord) {
        if self.first.len() < HISTORY_FIRST {
            self.first.push(record);
            return;
        }
        if self.last.len() == HISTORY_LAST {
            self.last.pop_front();
            self.omitted = self.omitted.saturating_add(1);
        }
        if HISTORY_LAST > 0 {
            self.last.push_back(record);
        } else {
            self.omitted = self.omitted.saturating_add(1);
        }
    }

    /// The kept records in order, and how many were left out.
    pub(crate) fn into_parts(self) -> (Vec<AttemptRecord>, u32) {
        let mut records = self.first;
        records.extend(self.last);
        (records, self.omitted)
    }
}

/// Writes at most [`ERROR_TEXT_LIMIT`] bytes, then refuses more, so that
/// formatting a huge error stops early.
struct Bounded {
    text: String,
    cut: bool,
}

impl fmt::Write for Bounded {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = ERROR_TEXT_LIMIT - self.text.len();
        if s.len() <= room {
            self.text.push_str(s);
            return Ok(());
        }
        let mut end = room;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        self.text.push_str(&s[..end]);
        self.cut = true;
        Err(fmt::Error)
    }
}

/// An error's `Display` text, cut at [`ERROR_TEXT_LIMIT`].
pub(crate) fn error_text(error: &dyn fmt::Display) -> String {
    let mut out = Bounded {
        text: String::new(),
        cut: false,
    };
    // An error here is either the cut or the Display impl's own failure:
    // either way the text so far is what there is to keep.
    let _ = write!(out, "{error}");
    if out.cut {
        out.text.push_str(TRUNCATED);
    }
    out.text
}

/// What a capture collects: the reports of finished loops, and the
/// histories of loops under way, keyed by where each loop's state lives
/// (a loop's engine does not move while it runs: it is pinned in its
/// future, or on the stack of a blocking call). So the loop itself holds
/// nothing for its capture, and its success path pays for no field.
#[derive(Debug, Default)]
pub(crate) struct Sink {
    reports: Vec<CallReport>,
    pending: Vec<(usize, History)>,
}

impl Sink {
    const fn new() -> Self {
        Sink {
            reports: Vec::new(),
            pending: Vec::new(),
        }
    }
}

thread_local! {
    /// Whether a capture is collecting on this thread right now: read at
    /// the start of every retry loop, so it is a plain flag.
    static CAPTURING: Cell<bool> = const { Cell::new(false) };
    /// The innermost active capture's collection.
    static SINK: RefCell<Sink> = const { RefCell::new(Sink::new()) };
}

#[inline]
pub(crate) fn capturing() -> bool {
    CAPTURING.with(Cell::get)
}

/// A loop whose state lives at `key` begins inside the active capture. An
/// entry left at the same place by a loop that was dropped before it
/// finished is replaced.
pub(crate) fn open(key: usize) {
    if !capturing() {
        return;
    }
    SINK.with(|sink| {
        let pending = &mut sink.borrow_mut().pending;
        pending.retain(|(at, _)| *at != key);
        pending.push((key, History::default()));
    });
}

/// Adds a failed attempt to the history of the loop at `key`, if the
/// active capture saw it begin.
pub(crate) fn record(key: usize, record: AttemptRecord) {
    if !capturing() {
        return;
    }
    SINK.with(|sink| {
        let pending = &mut sink.borrow_mut().pending;
        if let Some((_, history)) = pending.iter_mut().find(|(at, _)| *at == key) {
            history.push(record);
        }
    });
}

/// Whether the active capture keeps a history for the loop at `key`.
pub(crate) fn is_open(key: usize) -> bool {
    capturing() && SINK.with(|sink| sink.borrow().pending.iter().any(|(at, _)| *at == key))
}

/// The end of the loop at `key`: its report joins the capture's, if the
/// capture saw it begin.
pub(crate) fn close(
    key: usize,
    function: &'static str,
    attempts: u32,
    stop: Option<StopReason>,
    elapsed: Duration,
) {
    if !capturing() {
        return;
    }
    SINK.with(|sink| {
        let sink = &mut *sink.borrow_mut();
        let Some(index) = sink.pending.iter().position(|(at, _)| *at == key) else {
            return;
        };
        let (history, omitted) = sink.pending.swap_remove(index).1.into_parts();
        sink.reports.push(CallReport {
            function,
            attempts,
            history,
            omitted,
            stop,
            elapsed,
        });
    });
}

/// Installs `sink` as this thread's until dropped, then takes back what
/// was added and restores the enclosing capture's: nested captures each
/// keep their own, and a panic cannot leave a sink behind.
struct Installed<'a> {
    sink: &'a mut Sink,
    outer: Sink,
    was_capturing: bool,
}

impl<'a> Installed<'a> {
    fn new(sink: &'a mut Sink) -> Self {
        let outer = SINK
            .with(|current| std::mem::replace(&mut *current.borrow_mut(), std::mem::take(sink)));
        let was_capturing = CAPTURING.with(|flag| flag.replace(true));
        Installed {
            sink,
            outer,
            was_capturing,
        }
    }
}

impl Drop for Installed<'_> {
    fn drop(&mut self) {
        let outer = std::mem::take(&mut self.outer);
        *self.sink = SINK.with(|current| std::mem::replace(&mut *current.borrow_mut(), outer));
        CAPTURING.with(|flag| flag.set(self.was_capturing));
    }
}

pin_project_lite::pin_project! {
    /// The future returned by [`capture`].
    #[must_use = "futures do nothing unless polled"]
    #[derive(Debug)]
    pub struct Capture<F> {
        #[pin]
        inner: F,
        sink: Sink,
    }
}

impl<F: Future> Future for Capture<F> {
    type Output = (F::Output, Vec<CallReport>);

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let installed = Installed::new(this.sink);
        let poll = this.inner.poll(cx);
        drop(installed);
        match poll {
            Poll::Ready(output) => Poll::Ready((output, std::mem::take(&mut this.sink.reports))),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// Runs `future` and collects a [`CallReport`] for every retry loop
/// (`#[retry]` function, [`Retry`](crate::Retry) future) that finishes while
/// `future` is being polled, in the order they finish.
///
/// The loops must run inside `future` itself, on its task: a loop in a
/// task spawned from it is not seen. A nested `capture` takes the reports
/// of the loops inside it; the enclosing one does not see them. Outside any
/// capture, retry loops record nothing and allocate nothing.
///
/// ```
/// use std::io::{Error, ErrorKind};
/// use retry_runtime::{capture, RetryPolicy, StopReason};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// let (result, calls) = capture(async {
///     let ok = RetryPolicy::new().retry(|_| async { Ok::<_, Error>(1) }).await;
///     let err = RetryPolicy::new()
///         .retry(|_| async { Err::<u32, _>(Error::from(ErrorKind::PermissionDenied)) })
///         .await;
///     (ok, err)
/// })
/// .await;
/// assert!(result.0.is_ok() && result.1.is_err());
/// assert_eq!(calls.len(), 2);
/// assert_eq!((calls[0].attempts, calls[0].stop), (1, None));
/// assert!(matches!(calls[1].stop, Some(StopReason::NotRetryable(_))));
/// # }
/// ```
pub fn capture<F: Future>(future: F) -> Capture<F> {
    Capture {
        inner: future,
        sink: Sink::new(),
    }
}

/// [`capture`] for blocking code: runs `f` and collects a [`CallReport`]
/// for every retry loop that finishes on this thread while it runs.
///
/// ```
/// use retry_runtime::{capture_blocking, retry};
///
/// #[retry(max = 2, base = "1ms")]
/// fn read_config() -> std::io::Result<String> {
///     Err(std::io::ErrorKind::ResourceBusy.into())
/// }
///
/// let (result, calls) = capture_blocking(read_config);
/// assert!(result.is_err());
/// assert_eq!((calls[0].function, calls[0].attempts, calls[0].history.len()), ("read_config", 2, 2));
/// ```
pub fn capture_blocking<T>(f: impl FnOnce() -> T) -> (T, Vec<CallReport>) {
    let mut sink = Sink::new();
    let installed = Installed::new(&mut sink);
    let output = f();
    drop(installed);
    (output, sink.reports)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record_of(attempt: u32) -> AttemptRecord {
        AttemptRecord {
            attempt,
            at: SystemTime::UNIX_EPOCH,
            elapsed: Duration::ZERO,
            class: Class::Transient,
            label: None,
            error: String::new(),
            delay: None,
        }
    }

    #[test]
    fn history_keeps_the_first_and_last_and_counts_the_rest() {
        let mut history = History::default();
        for attempt in 1..=1000 {
            history.push(record_of(attempt));
        }
        let (records, omitted) = history.into_parts();
        let attempts: Vec<u32> = records.iter().map(|r| r.attempt).collect();
        let mut expected: Vec<u32> = (1..=32).collect();
        expected.extend(969..=1000);
        assert_eq!(attempts, expected);
        assert_eq!(omitted, 1000 - 64);
    }

    #[test]
    fn error_text_is_cut_on_a_char_boundary() {
        let short = error_text(&"refused");
        assert_eq!(short, "refused");
        let long = "é".repeat(ERROR_TEXT_LIMIT); // 2 bytes each
        let cut = error_text(&long);
        assert!(cut.ends_with(TRUNCATED));
        let kept = &cut[..cut.len() - TRUNCATED.len()];
        assert_eq!(kept.len(), ERROR_TEXT_LIMIT);
        assert!(kept.chars().all(|c| c == 'é'));
        let odd = format!("a{long}");
        let kept = error_text(&odd);
        assert_eq!(kept.len() - TRUNCATED.len(), ERROR_TEXT_LIMIT - 1);
    }

    #[test]
    fn nested_blocking_captures_keep_their_own() {
        let report = |function: &'static str| {
            let key = function.as_ptr().addr();
            open(key);
            record(
                key,
                AttemptRecord {
                    error: function.to_owned(),
                    ..record_of(1)
                },
            );
            close(key, function, 1, None, Duration::ZERO);
        };
        let (((), inner), outer) = capture_blocking(|| {
            report("a");
            let inner = capture_blocking(|| report("b"));
            report("c");
            inner
        });
        let names = |reports: &[CallReport]| reports.iter().map(|r| r.function).collect::<Vec<_>>();
        assert_eq!(names(&inner), ["b"]);
        assert_eq!(names(&outer), ["a", "c"]);
        assert_eq!(outer[1].history[0].error, "c");
        assert!(!capturing());
        report("d"); // nowhere to go, and no panic
    }

    #[test]
    fn a_loop_dropped_before_it_finished_leaves_nothing_behind() {
        let ((), reports) = capture_blocking(|| {
            // A loop at place 1 begins, fails once, and is dropped.
            open(1);
            record(1, record_of(1));
            // A later loop at the same place begins afresh.
            open(1);
            record(1, record_of(7));
            close(1, "later", 1, None, Duration::ZERO);
            // A loop the capture did not see begin reports nothing.
            record(2, record_of(1));
            close(2, "unseen", 1, None, Duration::ZERO);
        });
        let seen: Vec<_> = reports
            .iter()
            .map(|r| {
                (
                    r.function,
                    r.history.iter().map(|h| h.attempt).collect::<Vec<_>>(),
                )
            })
            .collect();
        assert_eq!(seen, [("later", vec![7])]);
    }
}
