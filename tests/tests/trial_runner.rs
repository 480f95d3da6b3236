//! The trial-executor demonstration's runner, on real subprocesses.

use std::time::Duration;

use retry_examples::trials::{
    Exit, HistoryEntry, Trial, TrialConfig, TrialFailure, TrialOutput, TrialRunner, demo_trials,
};
use retry_runtime::{Class, capture, capture_blocking};

/// Runs a trial inside a capture: its result and its retry history.
async fn run(
    runner: &TrialRunner,
    trial: &Trial,
) -> (Result<TrialOutput, TrialFailure>, Vec<HistoryEntry>) {
    let (result, calls) = capture(runner.run(trial)).await;
    assert_eq!(calls.len(), 1);
    (result, HistoryEntry::from_report(&trial.name, &calls[0]))
}

fn runner() -> TrialRunner {
    TrialRunner {
        config: TrialConfig {
            max_retries: 3,
            base_delay: Duration::from_millis(2),
            max_delay: Duration::from_millis(10),
        },
    }
}

fn trial(name: &str) -> Trial {
    demo_trials()
        .into_iter()
        .find(|trial| trial.name == name)
        .unwrap()
}

#[tokio::test]
async fn transient_families_are_retried_until_they_heal() {
    for (name, attempts, label) in [
        ("synth-net", 3, "network"),
        ("place-busy", 2, "resource busy"),
        ("route-disk", 3, "filesystem"),
        ("sim-docker", 2, "container"),
    ] {
        let (output, history) = run(&runner(), &trial(name)).await;
        let output = output.unwrap();
        assert_eq!(output.attempts, attempts, "{name}");
        assert_eq!(
            output.stdout,
            format!("{name}: ok after {attempts} attempts")
        );
        assert_eq!(history.len(), attempts as usize - 1, "{name}");
        for (index, entry) in history.iter().enumerate() {
            assert_eq!(entry.attempt as usize, index + 1);
            assert_eq!(entry.class, Class::Transient);
            assert_eq!(entry.label.as_deref(), Some(label));
            assert_eq!(entry.exit, Exit::Code(1));
            assert!(entry.timestamp.ends_with('Z'), "{}", entry.timestamp);
        }
    }
}

#[tokio::test]
async fn crashes_and_deterministic_failures_are_never_retried() {
    for (name, exit, label) in [
        ("timing-segv", Exit::Signal(11), "crash"),
        ("power-oom", Exit::Signal(9), "out of memory"),
        ("floorplan-fail", Exit::Code(3), "placement/routing"),
    ] {
        let (failure, history) = run(&runner(), &trial(name)).await;
        let failure = failure.unwrap_err();
        assert_eq!(failure.exit, exit, "{name}");
        assert_eq!(history.len(), 1, "{name}");
        assert_eq!(history[0].class, Class::Permanent);
        assert_eq!(history[0].label.as_deref(), Some(label), "{name}");
    }
    let unknown = Trial::new("lint", "echo 'syntax error near line 3' >&2; exit 2");
    let (result, history) = run(&runner(), &unknown).await;
    assert!(result.is_err());
    assert_eq!(
        (history.len(), history[0].label.as_deref()),
        (1, None),
        "unmatched text is permanent"
    );
}

#[tokio::test]
async fn retries_run_out() {
    let (failure, history) = run(&runner(), &trial("drc-refused")).await;
    let failure = failure.unwrap_err();
    assert_eq!(history.len(), 4, "1 + max_retries attempts");
    assert!(failure.reason.contains("connection refused"));
    let json = serde_json::to_value(&history[3]).unwrap();
    assert_eq!(json["attempt"], 4);
    assert_eq!(json["class"], "transient");
    assert_eq!(json["exit"], serde_json::json!({ "code": 1 }));
}

#[tokio::test]
async fn zero_retries_disables_retry() {
    let runner = TrialRunner {
        config: TrialConfig {
            max_retries: 0,
            ..TrialConfig::default()
        },
    };
    let (result, history) = run(&runner, &trial("synth-net")).await;
    assert!(result.is_err());
    assert_eq!(history.len(), 1);
}

#[test]
fn blocking_runs_report_through_capture_blocking() {
    let runner = runner();
    let (output, calls) = capture_blocking(|| runner.run_blocking(&trial("place-busy")));
    assert_eq!(output.unwrap().attempts, 2);
    let history = HistoryEntry::from_report("place-busy", &calls[0]);
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].label.as_deref(), Some("resource busy"));
    assert_eq!(history[0].exit, Exit::Code(1));
    assert_eq!(
        history[0].reason,
        "flock: /scratch/lock: Resource temporarily unavailable"
    );

    let (failure, calls) = capture_blocking(|| runner.run_blocking(&trial("timing-segv")));
    assert_eq!(failure.unwrap_err().exit, Exit::Signal(11));
    let history = HistoryEntry::from_report("timing-segv", &calls[0]);
    assert_eq!(history[0].exit, Exit::Signal(11));
    assert_eq!(history[0].label.as_deref(), Some("crash"));
}

#[test]
fn the_production_schedule_is_two_seconds_doubling_to_a_minute() {
    let secs: Vec<u64> = TrialConfig::default()
        .policy()
        .schedule()
        .map(|d| d.as_secs())
        .collect();
    assert_eq!(secs, [2, 4, 8, 16, 32, 60, 60]);
}
