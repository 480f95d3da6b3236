//! Runs one approach of the overhead benchmark `N` times, for counting
//! instructions with callgrind: counts are exact and repeatable where
//! nanosecond timings on a shared machine drift between runs.
//!
//! ```text
//! cargo build --release -p retry-benches --example instructions
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null \
//!     target/release/examples/instructions a-attr 4000
//! ```
//!
//! The instructions per call are the difference between two such runs
//! (e.g. 2000 and 4000 calls) divided by the difference in calls, which
//! cancels the program's start-up. Scenarios `a`, `b` and `c` are those of
//! the benchmark, `d` its `success-awaited` group; approaches `bare`, `attr` (`#[retry]`), `policy`
//! (`RetryPolicy::retry`), `hand`, `backon` and `tr2` (tokio-retry2).

use std::hint::black_box;
use std::pin::pin;
use std::process::ExitCode;

use retry_benches::overhead::{
    BASE, Op, POLICY, attribute, attribute_zero, backon, bare, complete_now, hand_loop,
    policy_retry, policy_retry_zero, tokio_retry2,
};

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (Some(which), Some(calls)) = (
        args.next(),
        args.next().and_then(|calls| calls.parse::<u32>().ok()),
    ) else {
        eprintln!("usage: instructions <scenario>-<approach> <calls>, e.g. a-attr 4000");
        return ExitCode::FAILURE;
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("a current-thread runtime");
    let _context = runtime.enter();
    let rt = &runtime;
    let z = std::time::Duration::ZERO;
    // Scenario `d`: the success path awaited call after call inside one
    // `block_on`, as services call it.
    macro_rules! awaited {
        (|$op:ident| $call:expr) => {
            rt.block_on(async {
                let op = Op::new(0);
                let $op = black_box(&op);
                for _ in 0..calls {
                    let _ = black_box($call.await);
                }
            })
        };
    }
    match which.as_str() {
        "d-bare" => {
            awaited!(|op| bare(op, 1));
            return ExitCode::SUCCESS;
        }
        "d-attr" => {
            awaited!(|op| attribute(op));
            return ExitCode::SUCCESS;
        }
        "d-policy" => {
            awaited!(|op| POLICY.retry(move |_| op.call()));
            return ExitCode::SUCCESS;
        }
        "d-hand" => {
            awaited!(|op| hand_loop(op, BASE));
            return ExitCode::SUCCESS;
        }
        "d-backon" => {
            awaited!(|op| backon(op, BASE));
            return ExitCode::SUCCESS;
        }
        "d-tr2" => {
            awaited!(|op| tokio_retry2(op, BASE));
            return ExitCode::SUCCESS;
        }
        _ => {}
    }
    for _ in 0..calls {
        let _ = match which.as_str() {
            "a-bare" => complete_now(pin!(bare(black_box(&Op::new(0)), 1))),
            "a-attr" => complete_now(pin!(attribute(black_box(&Op::new(0))))),
            "a-policy" => complete_now(pin!(policy_retry(black_box(&Op::new(0))))),
            "a-hand" => complete_now(pin!(hand_loop(black_box(&Op::new(0)), BASE))),
            "a-backon" => complete_now(pin!(backon(black_box(&Op::new(0)), BASE))),
            "a-tr2" => complete_now(pin!(tokio_retry2(black_box(&Op::new(0)), BASE))),
            "b-bare" | "c-bare" => rt.block_on(bare(black_box(&Op::new(2)), 3)),
            "b-attr" => rt.block_on(attribute(black_box(&Op::new(2)))),
            "b-policy" => rt.block_on(policy_retry(black_box(&Op::new(2)))),
            "b-hand" => rt.block_on(hand_loop(black_box(&Op::new(2)), BASE)),
            "b-backon" => rt.block_on(backon(black_box(&Op::new(2)), BASE)),
            "b-tr2" => rt.block_on(tokio_retry2(black_box(&Op::new(2)), BASE)),
            "c-attr" => rt.block_on(attribute_zero(black_box(&Op::new(2)))),
            "c-policy" => rt.block_on(policy_retry_zero(black_box(&Op::new(2)))),
            "c-hand" => rt.block_on(hand_loop(black_box(&Op::new(2)), z)),
            "c-backon" => rt.block_on(backon(black_box(&Op::new(2)), z)),
            "c-tr2" => rt.block_on(tokio_retry2(black_box(&Op::new(2)), z)),
            _ => {
                eprintln!("unknown scenario-approach `{which}`");
                return ExitCode::FAILURE;
            }
        };
    }
    ExitCode::SUCCESS
}
