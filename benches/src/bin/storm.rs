//! The retry-storm simulator: `cargo run --release -p retry-benches --bin storm`.
//!
//! Runs the contention and outage models of [`retry_benches::storm`],
//! prints their parameters and results as Markdown, draws
//! `docs/storm-contention.{svg,png}` and `docs/storm-outage.{svg,png}`, and
//! exits non-zero when a target is missed, so it doubles as a check.

use std::path::Path;
use std::process::ExitCode;

use retry_benches::plot;
use retry_benches::storm::{
    self, Contention, ContentionOutcome, JITTERS, Outage, OutageOutcome, RetryConfig,
};
use retry_runtime::{Jitter, format_duration};

/// Full jitter may make at most this share of the calls of no jitter.
const FULL_OVER_NONE: f64 = 0.45;
/// The budgeted configuration may amplify the outage load at most this much.
const BUDGET_AMPLIFICATION: f64 = 1.15;
const CLIENT_COUNTS: [u32; 2] = [100, 190];

fn main() -> ExitCode {
    let mut missed = Vec::new();
    let contention = contention(&mut missed);
    let model = Outage::DEFAULT;
    let outage = outage(&model, &mut missed);

    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs");
    let charts = std::fs::create_dir_all(&docs)
        .map_err(Into::into)
        .and_then(|()| plot::register_font())
        .and_then(|()| plot::contention(&docs, &contention))
        .and_then(|written| Ok([written, plot::outage(&docs, &model, &outage)?]));
    match charts {
        Ok(written) => {
            println!("\nCharts:");
            for path in written.iter().flatten() {
                let name = path.file_name().unwrap_or_default().to_string_lossy();
                println!("- docs/{name}");
            }
        }
        Err(error) => missed.push(format!("drawing the charts failed: {error}")),
    }

    if missed.is_empty() {
        println!("\nAll targets met.");
        ExitCode::SUCCESS
    } else {
        eprintln!("\nTargets missed:");
        for miss in &missed {
            eprintln!("- {miss}");
        }
        ExitCode::FAILURE
    }
}

/// Runs and prints the contention model; returns its outcomes.
fn contention(missed: &mut Vec<String>) -> Vec<ContentionOutcome> {
    let contention_model = Contention::AWS;
    println!("## Contention\n");
    println!(
        "{} clients each make one write to one row under optimistic concurrency, all starting at 0 s. \
         Write latency {} (read at t, commit at t + w, conflict if another commit landed in (t, t + w]); \
         backoff base {}, factor 2, cap {}, up to {} attempts; jittered policies seeded with the client's number.\n",
        CLIENT_COUNTS.map(|n| n.to_string()).join(" or "),
        format_duration(contention_model.write_latency),
        format_duration(contention_model.base),
        format_duration(contention_model.cap),
        contention_model.max_attempts,
    );
    let mut contention = Vec::new();
    for clients in CLIENT_COUNTS {
        let model = contention_model.with_clients(clients);
        contention.extend(JITTERS.map(|jitter| storm::contention(&model, jitter)));
    }
    println!("| N | jitter | calls | calls / none | completion | most attempts | gave up |");
    println!("|---:|---|---:|---:|---:|---:|---:|");
    for outcome in &contention {
        let none = contention
            .iter()
            .find(|o| o.clients == outcome.clients && o.jitter == Jitter::None)
            .map_or(u64::MAX, |o| o.calls);
        println!(
            "| {} | {} | {} | {:.1} % | {:.2} s | {} | {} |",
            outcome.clients,
            outcome.jitter,
            outcome.calls,
            percent(outcome.calls, none),
            outcome.completion.as_secs_f64(),
            outcome.max_attempts,
            outcome.gave_up,
        );
        if outcome.gave_up > 0 {
            missed.push(format!(
                "{} of {} clients with {} jitter never committed",
                outcome.gave_up, outcome.clients, outcome.jitter
            ));
        }
    }
    println!();
    for clients in CLIENT_COUNTS {
        let calls = |jitter| {
            contention
                .iter()
                .find(|o| o.clients == clients && o.jitter == jitter)
                .map_or(0, |o| o.calls)
        };
        let ratio = percent(calls(Jitter::Full), calls(Jitter::None)) / 100.0;
        let met = ratio <= FULL_OVER_NONE;
        println!(
            "- N = {clients}: full jitter makes {:.1} % of the calls of no jitter (target <= {:.0} %): {}",
            100.0 * ratio,
            100.0 * FULL_OVER_NONE,
            verdict(met)
        );
        if !met {
            missed.push(format!(
                "N = {clients}: full / none = {:.1} %",
                100.0 * ratio
            ));
        }
    }

    contention
}

/// Runs and prints the outage model; returns its outcomes.
fn outage(model: &Outage, missed: &mut Vec<String>) -> Vec<OutageOutcome> {
    println!("\n## Outage\n");
    println!(
        "{} clients each offer 1 request/s, evenly spread ({} requests/s), for {} s; each call takes {}. \
         Every call arriving in [{} s, {} s) fails (transient). Retries: base {}, factor 2, full jitter seeded \
         with the request's number; the budget is RetryBudget::new({}, {}) shared by all clients of the run. \
         Amplification = calls received in the window / requests offered in it.\n",
        model.clients,
        model.clients,
        model.duration,
        format_duration(model.latency),
        model.outage_start,
        model.outage_end,
        format_duration(model.base),
        model.budget_tokens,
        model.budget_ratio,
    );
    let outage: Vec<_> = RetryConfig::ALL
        .iter()
        .map(|&config| storm::outage(model, config))
        .collect();
    println!(
        "| configuration | before ({}-{} s) | during ({}-{} s) | after ({}-{} s) | calls during | offered during | failed requests |",
        0,
        model.outage_start,
        model.outage_start,
        model.outage_end,
        model.outage_end,
        model.duration
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for outcome in &outage {
        println!(
            "| {} | {:.3}x | {:.3}x | {:.3}x | {} | {} | {} |",
            outcome.config,
            outcome.before().amplification(),
            outcome.during().amplification(),
            outcome.after().amplification(),
            outcome.during().calls,
            outcome.during().offered,
            outcome.failed,
        );
    }
    println!();
    if let Some(budgeted) = outage
        .iter()
        .find(|o| o.config == RetryConfig::ThreeAttemptsBudget)
    {
        let amplification = budgeted.during().amplification();
        let met = amplification <= BUDGET_AMPLIFICATION;
        println!(
            "- with the budget the outage load is {amplification:.3}x the offered load (target <= {BUDGET_AMPLIFICATION}x): {}",
            verdict(met)
        );
        if !met {
            missed.push(format!("budget amplification {amplification:.3}x"));
        }
    }
    outage
}

#[allow(clippy::cast_precision_loss)] // call counts far below 2^52
fn percent(part: u64, whole: u64) -> f64 {
    100.0 * part as f64 / whole.max(1) as f64
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "MISSED" }
}
