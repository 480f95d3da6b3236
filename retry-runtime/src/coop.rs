//! Cooperative scheduling between attempts that do not sleep.

use std::task::{Context, Poll, ready};

/// Ready while the task has scheduling budget left (and always outside a
/// tokio runtime); once it is spent, `Pending` with the task woken again,
/// so the scheduler runs other tasks first. Spends one unit of budget.
///
/// The timer is never touched: a zero delay stays free of tokio's 1 ms
/// timer granularity.
#[inline]
pub(crate) fn poll_proceed(cx: &mut Context<'_>) -> Poll<()> {
    let restore = ready!(tokio::task::coop::poll_proceed(cx));
    restore.made_progress();
    Poll::Ready(())
}
