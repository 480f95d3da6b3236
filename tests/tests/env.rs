//! `#[retry(env = "PREFIX")]` and `RetryPolicy::from_env` against a real
//! process environment: each case re-runs this test binary as a child with
//! the variables set, so no test mutates the environment of another.

use std::io;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use retry_runtime::{RetryPolicy, retry};
use tokio::time::Instant;

#[retry(max = 3, base = "250ms", env = "RETRY_TEST_CREATE")]
async fn create(calls: &AtomicU32) -> io::Result<()> {
    calls.fetch_add(1, Ordering::Relaxed);
    Err(io::ErrorKind::ConnectionRefused.into())
}

/// Runs in the child: prints attempts and virtual time taken.
#[tokio::test(start_paused = true)]
#[ignore = "run by `env_overrides_*` in a child process with the variables set"]
async fn child_reports_attempts() {
    tracing_subscriber::fmt()
        .with_writer(std::io::stdout)
        .with_max_level(tracing::Level::WARN)
        .without_time()
        .init();
    let calls = AtomicU32::new(0);
    let origin = Instant::now();
    assert!(create(&calls).await.is_err());
    // A second call reuses the overrides read at the first failure.
    let again = AtomicU32::new(0);
    assert!(create(&again).await.is_err());
    println!(
        "RESULT attempts={} again={} elapsed_ms={}",
        calls.load(Ordering::Relaxed),
        again.load(Ordering::Relaxed),
        origin.elapsed().as_millis(),
    );
    match RetryPolicy::from_env("RETRY_TEST_CREATE") {
        Ok(policy) => println!(
            "RESULT from_env=ok max={} base_ms={}",
            policy.max_attempts,
            policy.base.as_millis()
        ),
        Err(error) => println!("RESULT from_env=err {error}"),
    }
}

/// Runs the child with `vars` and returns what it printed (stdout, stderr).
fn child(vars: &[(&str, &str)]) -> (String, String) {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command.args([
        "--ignored",
        "--exact",
        "child_reports_attempts",
        "--nocapture",
        "--test-threads=1",
    ]);
    command.env_remove("RETRY_TEST_CREATE_MAX_ATTEMPTS");
    command.env_remove("RETRY_TEST_CREATE_RETRY_BASE_DELAY_MS");
    command.envs(vars.iter().copied());
    let output = command.output().unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(output.status.success(), "child failed:\n{stdout}\n{stderr}");
    (stdout, stderr)
}

/// The rest of the line from `prefix` on (the harness may print before it).
fn line<'a>(stdout: &'a str, prefix: &str) -> &'a str {
    stdout
        .lines()
        .find_map(|line| line.find(prefix).map(|at| &line[at..]))
        .unwrap_or_else(|| panic!("no `{prefix}` in:\n{stdout}"))
}

#[test]
fn env_overrides_unset_keep_the_compiled_values() {
    let (stdout, _) = child(&[]);
    assert_eq!(
        line(&stdout, "RESULT attempts="),
        "RESULT attempts=3 again=3 elapsed_ms=1500"
    );
    assert_eq!(
        line(&stdout, "RESULT from_env="),
        "RESULT from_env=ok max=3 base_ms=250"
    );
}

#[test]
fn env_overrides_apply_to_attempts_and_base() {
    let (stdout, _) = child(&[
        ("RETRY_TEST_CREATE_MAX_ATTEMPTS", "4"),
        ("RETRY_TEST_CREATE_RETRY_BASE_DELAY_MS", "100"),
    ]);
    // 100 + 200 + 400 ms per call, twice.
    assert_eq!(
        line(&stdout, "RESULT attempts="),
        "RESULT attempts=4 again=4 elapsed_ms=1400"
    );
    assert_eq!(
        line(&stdout, "RESULT from_env="),
        "RESULT from_env=ok max=4 base_ms=100"
    );
}

#[test]
fn env_one_attempt_disables_retries() {
    let (stdout, _) = child(&[("RETRY_TEST_CREATE_MAX_ATTEMPTS", "1")]);
    assert_eq!(
        line(&stdout, "RESULT attempts="),
        "RESULT attempts=1 again=1 elapsed_ms=0"
    );
}

#[test]
fn env_invalid_values_are_reported_and_the_compiled_value_kept() {
    let (stdout, stderr) = child(&[
        ("RETRY_TEST_CREATE_MAX_ATTEMPTS", "0"),
        ("RETRY_TEST_CREATE_RETRY_BASE_DELAY_MS", "fast"),
    ]);
    assert_eq!(
        line(&stdout, "RESULT attempts="),
        "RESULT attempts=3 again=3 elapsed_ms=1500"
    );
    assert_eq!(
        line(&stdout, "RESULT from_env="),
        "RESULT from_env=err RETRY_TEST_CREATE_MAX_ATTEMPTS=\"0\": must be at least 1 (1 disables retries)"
    );
    let warnings: Vec<&str> = stdout
        .lines()
        .filter(|line| line.contains("ignoring invalid retry setting"))
        .collect();
    assert_eq!(
        warnings.len(),
        2,
        "each variable reported once per process:\n{stdout}"
    );
    assert!(
        warnings[0].contains("RETRY_TEST_CREATE_MAX_ATTEMPTS=\"0\": must be at least 1"),
        "{stdout}"
    );
    assert!(
        warnings[1].contains(
            "RETRY_TEST_CREATE_RETRY_BASE_DELAY_MS=\"fast\": not a whole number of milliseconds"
        ),
        "{stdout}"
    );
    assert!(
        stderr.is_empty() || !stderr.contains("panicked"),
        "{stderr}"
    );
}
