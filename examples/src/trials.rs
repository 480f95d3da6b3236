//! The trial executor: tool runs ("trials") as real subprocesses, retried
//! when they fail for an infrastructure reason, classified from their
//! output by the runtime's ordered text rules.

use std::fmt;
use std::process::ExitStatus;
use std::time::Duration;

use retry_runtime::{
    AttemptRecord, CallReport, Class, Classify, INFRASTRUCTURE, RetryPolicy, retry,
};
use serde::Serialize;

/// A trial's retry settings, as the exploration controller configures them.
#[derive(Debug, Clone, Copy)]
pub struct TrialConfig {
    /// Retries after the first run; `0` disables retry.
    pub max_retries: u32,
    /// The delay before the first retry; it doubles for each further one.
    pub base_delay: Duration,
    /// The cap on any delay.
    pub max_delay: Duration,
}

impl Default for TrialConfig {
    /// Production settings: 7 retries, 2 s doubling to at most 60 s.
    fn default() -> Self {
        TrialConfig {
            max_retries: 7,
            base_delay: Duration::from_secs(2),
            max_delay: Duration::from_secs(60),
        }
    }
}

impl TrialConfig {
    /// The same schedule with every delay divided by `divisor` (demos, tests).
    #[must_use]
    pub fn scaled_down(self, divisor: u32) -> Self {
        TrialConfig {
            base_delay: self.base_delay / divisor,
            max_delay: self.max_delay / divisor,
            ..self
        }
    }

    /// The retry policy these settings describe.
    pub fn policy(&self) -> RetryPolicy {
        RetryPolicy::new()
            .retries(self.max_retries)
            .base(self.base_delay)
            .max_delay(self.max_delay)
    }
}

/// A tool run: a shell script run with `sh -c`, which sees its attempt
/// number in `TRIAL_ATTEMPT`.
#[derive(Debug, Clone)]
pub struct Trial {
    pub name: String,
    pub script: String,
}

impl Trial {
    pub fn new(name: &str, script: &str) -> Self {
        Trial {
            name: name.to_owned(),
            script: script.to_owned(),
        }
    }
}

/// How a failed run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Exit {
    Code(i32),
    Signal(i32),
    /// The process could not be started.
    NotStarted,
}

/// A failed trial run: how it exited and what it said.
#[derive(Debug, Clone)]
pub struct TrialFailure {
    pub exit: Exit,
    /// The last line of the tool's error output (or of the reason it did
    /// not start): the text the rules classify.
    pub reason: String,
}

fn signal_name(signal: i32) -> &'static str {
    match signal {
        6 => "SIGABRT: aborted",
        9 => "SIGKILL: killed",
        11 => "SIGSEGV: segmentation fault",
        15 => "SIGTERM: terminated",
        _ => "signal",
    }
}

impl TrialFailure {
    fn from_exit(status: ExitStatus, stderr: &[u8]) -> Self {
        let stderr = String::from_utf8_lossy(stderr);
        let last_line = stderr
            .lines()
            .rev()
            .find(|line| !line.trim().is_empty())
            .unwrap_or("")
            .trim();
        #[cfg(unix)]
        let signal = std::os::unix::process::ExitStatusExt::signal(&status);
        #[cfg(not(unix))]
        let signal: Option<i32> = None;
        match (status.code(), signal) {
            (Some(code), _) => TrialFailure {
                exit: Exit::Code(code),
                reason: last_line.to_owned(),
            },
            (None, Some(signal)) => {
                let by_signal = format!("killed by signal {signal} ({})", signal_name(signal));
                TrialFailure {
                    exit: Exit::Signal(signal),
                    reason: if last_line.is_empty() {
                        by_signal
                    } else {
                        format!("{last_line}; {by_signal}")
                    },
                }
            }
            (None, None) => TrialFailure {
                exit: Exit::NotStarted,
                reason: last_line.to_owned(),
            },
        }
    }
}

/// `exit 1: <reason>`, `signal 11: <reason>` or `not started: <reason>`:
/// the form [`TrialFailure::parse`] reads back from a retry history.
impl fmt::Display for TrialFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.exit {
            Exit::Code(code) => write!(f, "exit {code}: {}", self.reason),
            Exit::Signal(signal) => write!(f, "signal {signal}: {}", self.reason),
            Exit::NotStarted => write!(f, "not started: {}", self.reason),
        }
    }
}

impl TrialFailure {
    /// Reads back a failure's `Display` text, as a retry history keeps it.
    pub fn parse(text: &str) -> Option<TrialFailure> {
        let (head, reason) = text.split_once(": ")?;
        let exit = match head.split_once(' ') {
            Some(("exit", code)) => Exit::Code(code.parse().ok()?),
            Some(("signal", signal)) => Exit::Signal(signal.parse().ok()?),
            _ if head == "not started" => Exit::NotStarted,
            _ => return None,
        };
        Some(TrialFailure {
            exit,
            reason: reason.to_owned(),
        })
    }
}

impl std::error::Error for TrialFailure {}

/// Classified by the infrastructure rules (first match wins): network,
/// resource busy, container and filesystem trouble is transient; crashes,
/// out-of-memory and placement/routing failures, and anything unrecognised,
/// are permanent.
impl Classify for TrialFailure {
    fn classify(&self) -> Class {
        INFRASTRUCTURE.classify(&self.reason)
    }

    fn label(&self) -> Option<&str> {
        INFRASTRUCTURE
            .find(&self.reason)
            .map(retry_runtime::Rule::label)
    }
}

/// One failed attempt in a trial's retry history: a JSON line of the
/// demonstration.
#[derive(Debug, Clone, Serialize)]
pub struct HistoryEntry {
    pub trial: String,
    pub attempt: u32,
    /// When the attempt failed (RFC 3339, UTC).
    pub timestamp: String,
    pub class: Class,
    pub label: Option<String>,
    pub reason: String,
    pub exit: Exit,
}

impl HistoryEntry {
    /// The entries of one trial from the [`CallReport`] of its run, as
    /// [`retry_runtime::capture`] returns it.
    pub fn from_report(trial: &str, report: &CallReport) -> Vec<HistoryEntry> {
        report
            .history
            .iter()
            .map(|record| HistoryEntry::from_record(trial, record))
            .collect()
    }

    fn from_record(trial: &str, record: &AttemptRecord) -> HistoryEntry {
        let failure = TrialFailure::parse(&record.error).unwrap_or(TrialFailure {
            exit: Exit::NotStarted,
            reason: record.error.clone(),
        });
        HistoryEntry {
            trial: trial.to_owned(),
            attempt: record.attempt,
            timestamp: humantime::format_rfc3339_millis(record.at).to_string(),
            class: record.class,
            label: record.label.clone(),
            reason: failure.reason,
            exit: failure.exit,
        }
    }
}

/// A successful run's output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrialOutput {
    pub attempts: u32,
    pub stdout: String,
}

/// Runs trials with their configuration's retry policy.
#[derive(Debug, Clone)]
pub struct TrialRunner {
    pub config: TrialConfig,
}

impl TrialRunner {
    /// Runs `trial` until it succeeds, fails permanently or runs out of
    /// retries. Run it inside [`retry_runtime::capture`] to get its retry
    /// history.
    #[retry(policy = self.config.policy(), attempt = attempt)]
    pub async fn run(&self, trial: &Trial) -> Result<TrialOutput, TrialFailure> {
        let output = tokio::process::Command::new("sh")
            .arg("-c")
            .arg(&trial.script)
            .env("TRIAL_ATTEMPT", attempt.to_string())
            .kill_on_drop(true)
            .output()
            .await;
        TrialRunner::outcome(attempt, output)
    }

    /// [`run`](Self::run) for a blocking caller (a worker thread); run it
    /// inside [`retry_runtime::capture_blocking`] to get its history.
    #[retry(policy = self.config.policy(), attempt = attempt)]
    pub fn run_blocking(&self, trial: &Trial) -> Result<TrialOutput, TrialFailure> {
        let output = std::process::Command::new("sh")
            .arg("-c")
            .arg(&trial.script)
            .env("TRIAL_ATTEMPT", attempt.to_string())
            .output();
        TrialRunner::outcome(attempt, output)
    }

    fn outcome(
        attempt: u32,
        output: std::io::Result<std::process::Output>,
    ) -> Result<TrialOutput, TrialFailure> {
        match output {
            Ok(output) if output.status.success() => Ok(TrialOutput {
                attempts: attempt,
                stdout: String::from_utf8_lossy(&output.stdout).trim().to_owned(),
            }),
            Ok(output) => Err(TrialFailure::from_exit(output.status, &output.stderr)),
            Err(error) => Err(TrialFailure {
                exit: Exit::NotStarted,
                reason: error.to_string(),
            }),
        }
    }
}

/// The demonstration's trials: four transient families that heal, and
/// failures that never will.
pub fn demo_trials() -> Vec<Trial> {
    // Fails with `message` on stderr for the first `n` attempts.
    let flaky = |name: &str, n: u32, message: &str| {
        Trial::new(
            name,
            &format!(
                "if [ \"$TRIAL_ATTEMPT\" -le {n} ]; then echo 'running {name}' >&2; echo '{message}' >&2; exit 1; fi; \
                 echo \"{name}: ok after $TRIAL_ATTEMPT attempts\""
            ),
        )
    };
    vec![
        flaky(
            "synth-net",
            2,
            "ERROR: license server: connect: Connection refused",
        ),
        flaky(
            "place-busy",
            1,
            "flock: /scratch/lock: Resource temporarily unavailable",
        ),
        flaky(
            "route-disk",
            2,
            "write /scratch/route.db: No space left on device",
        ),
        flaky(
            "sim-docker",
            1,
            "docker error: failed to create container: OCI runtime exec failed",
        ),
        Trial::new("timing-segv", "echo 'loading netlist' >&2; kill -SEGV $$"),
        Trial::new(
            "power-oom",
            "echo 'fatal: Out of memory allocating 64 GiB' >&2; kill -KILL $$",
        ),
        Trial::new(
            "floorplan-fail",
            "echo 'ERROR: Placement failed: utilization 142%' >&2; exit 3",
        ),
        flaky(
            "drc-refused",
            99,
            "dial tcp 10.0.0.7:9000: connection refused",
        ),
    ]
}
