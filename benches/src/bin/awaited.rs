//! The success path as services meet it: each call awaited in turn inside
//! one `block_on`, the approaches interleaved round by round so that drift
//! in the machine's speed lands on all of them alike.
//!
//! ```text
//! cargo run --release -p retry-benches --bin awaited               # print
//! cargo run --release -p retry-benches --bin awaited -- --write    # also update BENCHMARKS.md
//! ```
//!
//! Each round times `CALLS` awaited calls of every approach, at each of
//! the four places a future can land within a cache line (see [`PADS`]).
//! The program runs the measurement in `PROCESSES` fresh processes of
//! itself and the table gives, for each approach, the median over
//! processes of its median over rounds, and its ratio to the hand-written
//! loop and to backon (the median of the per-process ratios). Building
//! the future in place inside an `async` block and awaiting it is where
//! the layout of a future shows (its construction, stores and reloads),
//! which a single poll hides.
//! `RetryPolicy::retry` is called where it is used, as the crate documents
//! it, not through a helper function returning `impl Future`.

use std::fmt::Write as _;
use std::hint::black_box;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use retry_benches::overhead::{
    APPROACHES, BASE, Op, POLICY, attribute, backon, bare, hand_loop, tokio_retry2,
};

const ROUNDS: usize = 15;
const CALLS: u32 = 1_000_000;
const PROCESSES: usize = 9;
const BEGIN: &str = "<!-- awaited:begin -->";
const END: &str = "<!-- awaited:end -->";

/// Where a future lands in memory changes its speed on this path by up to
/// 30 %: a 16-byte store that straddles a cache line costs more, and
/// whether a load can take its data from a store still in flight depends
/// on both addresses. The stack of a process starts at a random address
/// (16-byte aligned), so one process measures one placement, and a median
/// over processes picks one placement's number by chance. So each round
/// runs every approach at each of the four 16-byte positions within a
/// cache line, by calling it below a frame that is `PAD` bytes larger,
/// and adds the four times up: every process then measures the same mix.
const PADS: usize = 4;

/// Calls `f` from a frame `PAD` bytes larger than at `PAD = 0`. `f` is
/// called through `dyn`, so that it cannot be inlined into this frame.
#[inline(never)]
fn below<const PAD: usize>(f: &mut dyn FnMut()) {
    let pad = [0u8; PAD];
    black_box(&pad);
    f();
    black_box(&pad);
}

/// Times `CALLS` awaited calls of approach `index` at each placement.
fn round(runtime: &tokio::runtime::Runtime, index: usize) -> Duration {
    let mut total = Duration::ZERO;
    let mut once = || total += placed(runtime, index);
    below::<0>(&mut once);
    below::<16>(&mut once);
    below::<32>(&mut once);
    below::<48>(&mut once);
    total / u32::try_from(PADS).unwrap_or(1)
}

/// Times `CALLS` awaited calls of approach `index`.
#[inline(never)]
fn placed(runtime: &tokio::runtime::Runtime, index: usize) -> Duration {
    macro_rules! timed {
        (|$op:ident| $call:expr) => {
            runtime.block_on(async {
                let op = Op::new(0);
                let $op = black_box(&op);
                let start = Instant::now();
                for _ in 0..CALLS {
                    let _ = black_box($call.await);
                }
                start.elapsed()
            })
        };
    }
    match index {
        0 => timed!(|op| bare(op, 1)),
        1 => timed!(|op| attribute(op)),
        2 => timed!(|op| POLICY.retry(move |_| op.call())),
        3 => timed!(|op| hand_loop(op, BASE)),
        4 => timed!(|op| backon(op, BASE)),
        _ => timed!(|op| tokio_retry2(op, BASE)),
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// One process's measurement: each approach's median over the rounds, in
/// nanoseconds per call.
fn measure() -> Vec<f64> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("a current-thread runtime");
    // One warm-up round, then the measured ones.
    for index in 0..APPROACHES.len() {
        round(&runtime, index);
    }
    let mut samples = vec![Vec::with_capacity(ROUNDS); APPROACHES.len()];
    for _ in 0..ROUNDS {
        for (index, sample) in samples.iter_mut().enumerate() {
            let elapsed = round(&runtime, index);
            sample.push(elapsed.as_secs_f64() * 1e9 / f64::from(CALLS));
        }
    }
    samples.into_iter().map(median).collect()
}

fn main() -> ExitCode {
    if std::env::args().any(|arg| arg == "--child") {
        let line: Vec<String> = measure().iter().map(f64::to_string).collect();
        println!("{}", line.join(" "));
        return ExitCode::SUCCESS;
    }
    let write = std::env::args().any(|arg| arg == "--write");
    let Ok(me) = std::env::current_exe() else {
        eprintln!("cannot find this program's path");
        return ExitCode::FAILURE;
    };
    let mut processes: Vec<Vec<f64>> = Vec::with_capacity(PROCESSES);
    for _ in 0..PROCESSES {
        let output = std::process::Command::new(&me).arg("--child").output();
        let Some(values) = output.ok().and_then(|output| {
            let text = String::from_utf8(output.stdout).ok()?;
            text.split_whitespace()
                .map(|value| value.parse::<f64>().ok())
                .collect::<Option<Vec<f64>>>()
        }) else {
            eprintln!("a measuring process failed");
            return ExitCode::FAILURE;
        };
        processes.push(values);
    }
    let across = |f: &dyn Fn(&Vec<f64>) -> f64| median(processes.iter().map(f).collect());
    let medians: Vec<f64> = (0..APPROACHES.len())
        .map(|index| across(&|values| values[index]))
        .collect();
    let vs_hand: Vec<f64> = (0..APPROACHES.len())
        .map(|index| across(&|values| values[index] / values[3]))
        .collect();
    let vs_backon: Vec<f64> = (0..APPROACHES.len())
        .map(|index| across(&|values| values[index] / values[4]))
        .collect();

    let mut table = String::new();
    let _ = writeln!(
        table,
        "**(d) success on the first attempt, awaited in one `block_on`** \
         (median over {PROCESSES} processes of the median of {ROUNDS} interleaved rounds of {CALLS} calls at each of {PADS} placements)\n"
    );
    let _ = writeln!(
        table,
        "| approach | ns per call | vs hand-written loop | vs backon |"
    );
    let _ = writeln!(table, "|---|---:|---:|---:|");
    for (index, name) in APPROACHES.iter().enumerate() {
        let _ = writeln!(
            table,
            "| {name} | {:.2} | {:.2}x | {:.2}x |",
            medians[index], vs_hand[index], vs_backon[index]
        );
    }
    print!("{table}");

    let attribute_ok = vs_hand[1] <= 1.10;
    let policy_ok = vs_backon[2] <= 1.0 && vs_hand[2] <= 1.10;
    println!(
        "\n#[retry] within 10 % of the hand-written loop: {}",
        if attribute_ok { "met" } else { "missed" }
    );
    println!(
        "RetryPolicy::retry no slower than backon and within 10 % of the hand-written loop: {}",
        if policy_ok { "met" } else { "missed" }
    );

    if write {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../BENCHMARKS.md");
        let Ok(text) = std::fs::read_to_string(path) else {
            eprintln!("cannot read {path}");
            return ExitCode::FAILURE;
        };
        let (Some(begin), Some(end)) = (text.find(BEGIN), text.find(END)) else {
            eprintln!("{path} has no {BEGIN} ... {END} section");
            return ExitCode::FAILURE;
        };
        let updated = format!("{}{BEGIN}\n\n{table}\n{}", &text[..begin], &text[end..]);
        if let Err(error) = std::fs::write(path, updated) {
            eprintln!("cannot write {path}: {error}");
            return ExitCode::FAILURE;
        }
    }
    if attribute_ok && policy_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
