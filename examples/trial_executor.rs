//! A design-space-exploration trial executor: tool runs as real `sh -c`
//! subprocesses, retried when they fail for an infrastructure reason and
//! never when the tool itself is at fault.
//!
//! ```text
//! cargo run --example trial_executor
//! ```
//!
//! Failures are classified from the tool's error output by the runtime's
//! ordered infrastructure rules; the schedule is each trial's own
//! `TrialConfig` (`#[retry(policy = self.config.policy())]` in
//! `examples/src/trials.rs`), here 7 retries from 2 s doubling to 60 s,
//! divided by 100 so that the demonstration takes a second or two. Each
//! trial's retry history, from the call report `retry_runtime::capture`
//! collects around the run, is printed as JSON lines.

use retry_examples::trials::{HistoryEntry, TrialConfig, TrialRunner, demo_trials};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    retry_examples::init_tracing();

    let config = TrialConfig {
        max_retries: 3,
        ..TrialConfig::default()
    }
    .scaled_down(100);
    let schedule: Vec<String> = config
        .policy()
        .schedule()
        .map(|delay| retry_runtime::format_duration(delay).to_string())
        .collect();
    println!(
        "retry schedule (scaled down 100x): {}\n",
        schedule.join(", ")
    );

    let runner = TrialRunner { config };
    let mut outcomes = Vec::new();
    for trial in demo_trials() {
        let (result, calls) = retry_runtime::capture(runner.run(&trial)).await;
        let call = &calls[0];
        for entry in HistoryEntry::from_report(&trial.name, call) {
            println!("{}", serde_json::to_string(&entry)?);
        }
        let outcome = match &result {
            Ok(output) => format!("ok after {} attempt(s): {}", output.attempts, output.stdout),
            Err(failure) => format!("failed after {} attempt(s): {failure}", call.attempts),
        };
        outcomes.push((trial.name, outcome));
    }

    println!("\nSummary");
    for (trial, outcome) in outcomes {
        println!("{trial:<15} {outcome}");
    }
    Ok(())
}
