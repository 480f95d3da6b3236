//! What the behaviour tests share: a paused runtime and a record of when
//! attempts start.

use std::cell::RefCell;
use std::time::Duration;

use tokio::time::Instant;

/// A current-thread runtime with tokio's clock paused, for tests that
/// drive futures themselves (inside `measure`, under a proptest, or by
/// polling them by hand).
///
/// # Panics
///
/// If the runtime cannot be built.
pub fn paused_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("a current-thread runtime")
}

/// Records, on tokio's clock, when each attempt starts.
#[derive(Debug, Default)]
pub struct Starts(RefCell<Vec<Duration>>);

impl Starts {
    /// An attempt starts now; `origin` is the test's zero.
    pub fn mark(&self, origin: Instant) {
        self.0.borrow_mut().push(origin.elapsed());
    }

    /// When each attempt started, since the test's zero.
    pub fn times(&self) -> Vec<Duration> {
        self.0.borrow().clone()
    }

    /// The time between consecutive attempt starts: the delays slept.
    pub fn gaps(&self) -> Vec<Duration> {
        self.0
            .borrow()
            .windows(2)
            .map(|pair| pair[1].saturating_sub(pair[0]))
            .collect()
    }
}
