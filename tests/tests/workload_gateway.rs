//! The workload-manager demonstration's parts, driven for real: the
//! gateway over HTTP on loopback, the supervisor's `#[retry]` methods.
//!
//! Real sockets need the real clock (tokio's paused clock would advance
//! past in-flight I/O), so these tests assert names, statuses, attempts and
//! instances, and only lower bounds on elapsed time; the schedule itself is
//! tested under virtual time elsewhere. They run on the multi-thread
//! runtime, as the example does.

use std::time::{Duration, Instant};

use retry_examples::demo;
use retry_examples::gateway::{Fault, Gateway, Received};
use retry_examples::workload::{CreateError, Supervisor, WideEvent};
use retry_runtime::{Class, Classify, capture};

/// Runs one create inside a capture and records its call report in the
/// wide event, as the demonstration does.
macro_rules! reported {
    ($event:ident, $create:expr) => {{
        let (result, calls) = capture($create).await;
        $event.record_call(&calls);
        result
    }};
}

fn setup() -> (Gateway, Supervisor) {
    let gateway = Gateway::start().expect("loopback port");
    let supervisor = Supervisor::new(gateway.url());
    (gateway, supervisor)
}

fn received(request: &str, name: &str, status: u16) -> Received {
    Received {
        request: request.into(),
        name: name.into(),
        status,
        key: None,
        replayed: false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_statuses_are_retried_under_fresh_names() {
    let (gateway, supervisor) = setup();
    gateway.plan("vm", [Fault::NoPlacement, Fault::AgentCreateFailed]);
    let mut event = WideEvent::new("vm");
    let instance = reported!(event, supervisor.create("vm", "vm", &mut event)).unwrap();
    assert_eq!(instance.name, "vm-r2");
    assert_eq!(
        gateway.received_for("vm"),
        [
            received("vm", "vm", 503),
            received("vm", "vm-r1", 500),
            received("vm", "vm-r2", 201)
        ]
    );
    assert_eq!(event.attempts, 3);
    assert_eq!(event.statuses, ["503 (1s)", "500", "201"]);
    assert_eq!(gateway.instances_for("vm").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_same_name_retry_after_agent_failure_would_conflict() {
    let (gateway, supervisor) = setup();
    gateway.plan("db", [Fault::AgentCreateFailed]);
    let mut first = WideEvent::new("db");
    let instance = reported!(first, supervisor.create("db", "db", &mut first)).unwrap();
    assert_eq!(instance.name, "db-r1", "the retry used a fresh name");
    // The failed name is still registered until the gateway's cleanup.
    let mut second = WideEvent::new("db-again");
    let conflict = reported!(second, supervisor.create("db-again", "db", &mut second)).unwrap_err();
    assert!(matches!(conflict, CreateError::Status { status: 409, .. }));
    assert_eq!(conflict.classify(), Class::Permanent);
    assert_eq!(second.attempts, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn may_have_committed_is_not_retried_and_not_double_created() {
    let (gateway, supervisor) = setup();
    for (request, fault, status) in [
        ("cache", Fault::LostAnswer, 502),
        ("batch", Fault::GatewayTimeout, 504),
    ] {
        gateway.plan(request, [fault]);
        let mut event = WideEvent::new(request);
        let error = reported!(event, supervisor.create(request, request, &mut event)).unwrap_err();
        assert!(matches!(error, CreateError::Status { status: s, .. } if s == status));
        assert_eq!(error.classify(), Class::Ambiguous);
        assert_eq!(
            gateway.received_for(request),
            [received(request, request, status)]
        );
        let instances = gateway.instances_for(request);
        assert_eq!(
            instances.len(),
            1,
            "created once, though the client saw {status}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retrying_ambiguous_failures_double_creates() {
    let (gateway, supervisor) = setup();
    gateway.plan("careless", [Fault::LostAnswer]);
    let mut event = WideEvent::new("careless");
    reported!(
        event,
        supervisor.create_retrying_ambiguous("careless", "careless", &mut event)
    )
    .unwrap();
    let names: Vec<String> = gateway
        .instances_for("careless")
        .into_iter()
        .map(|i| i.name)
        .collect();
    assert_eq!(names, ["careless", "careless-r1"], "one request, two VMs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timed_out_create_is_not_retried_and_still_lands() {
    let (gateway, supervisor) = setup();
    gateway.plan("slow", [Fault::Slow(Duration::from_millis(1300))]);
    let mut event = WideEvent::new("slow");
    let error = reported!(event, supervisor.create("slow", "slow", &mut event)).unwrap_err();
    assert!(matches!(error, CreateError::TimedOut(_)), "{error}");
    assert_eq!(event.statuses, ["timeout"]);
    assert_eq!(event.attempts, 1);
    assert!(
        gateway.instances_for("slow").is_empty(),
        "still provisioning"
    );
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(
        gateway.instances_for("slow").len(),
        1,
        "the create committed after all"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_connections_are_retried() {
    let (gateway, supervisor) = setup();
    // Attempts start at about 0, 250 and 750 ms: the first two are refused.
    let restarted = gateway.outage(Duration::from_millis(500)).await;
    let mut event = WideEvent::new("api");
    let instance = reported!(event, supervisor.create("api", "api", &mut event)).unwrap();
    restarted.await.unwrap();
    assert_eq!(event.statuses, ["refused", "refused", "201"]);
    assert_eq!(instance.name, "api-r2");
    assert_eq!(
        gateway.received_for("api"),
        [received("api", "api-r2", 201)],
        "the refused ones never arrived"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wide_event_serializes_the_whole_request() {
    let (gateway, supervisor) = setup();
    gateway.plan("web", [Fault::NoPlacement]);
    let mut event = WideEvent::new("web");
    let result = reported!(event, supervisor.create("web", "web", &mut event));
    event.finish(&result);
    let json = serde_json::to_value(&event).unwrap();
    assert_eq!(json["attempts"], 2);
    assert_eq!(json["names"], serde_json::json!(["web", "web-r1"]));
    assert_eq!(json["statuses"], serde_json::json!(["503 (1s)", "201"]));
    assert!(
        json["outcome"]
            .as_str()
            .unwrap()
            .starts_with("created web-r1 on node-")
    );
    assert!(
        json["duration_ms"].as_u64().unwrap() >= 1000,
        "the gateway's Retry-After: 1, not the 250ms backoff"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_503_retry_after_is_waited_not_the_backoff() {
    let (gateway, supervisor) = setup();
    gateway.plan("wait", [Fault::NoPlacement]);
    let mut event = WideEvent::new("wait");
    let start = Instant::now();
    reported!(event, supervisor.create("wait", "wait", &mut event)).unwrap();
    assert!(
        start.elapsed() >= Gateway::RETRY_AFTER,
        "{:?}",
        start.elapsed()
    );
    assert_eq!(event.statuses, ["503 (1s)", "201"]);
    let error = CreateError::Status {
        status: 503,
        message: String::new(),
        retry_after: Some(Gateway::RETRY_AFTER),
    };
    assert_eq!(error.retry_after(), Some(Duration::from_secs(1)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_answer_retried_with_its_key_makes_one_vm() {
    let (gateway, supervisor) = setup();
    gateway.plan("keyed", [Fault::LostAnswer]);
    let mut event = WideEvent::new("keyed");
    let instance = reported!(
        event,
        supervisor.create_with_key("keyed", "keyed", "key-1", &mut event)
    )
    .unwrap();
    assert_eq!(instance.name, "keyed");
    assert_eq!(event.statuses, ["502", "201 replayed"]);
    let seen: Vec<(Option<String>, u16, bool)> = gateway
        .received_for("keyed")
        .into_iter()
        .map(|r| (r.key, r.status, r.replayed))
        .collect();
    assert_eq!(
        seen,
        [
            (Some("key-1".into()), 502, false),
            (Some("key-1".into()), 201, true)
        ]
    );
    assert_eq!(gateway.instances_for("keyed").len(), 1, "one VM");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_middleware_client_retries_every_fault_without_double_creates() {
    let (gateway, supervisor) = setup();
    for (request, fault, statuses) in [
        ("lost", Fault::LostAnswer, ["502", "201 replayed"]),
        ("late", Fault::GatewayTimeout, ["504", "201 replayed"]),
        ("agent", Fault::AgentCreateFailed, ["500", "201"]),
    ] {
        gateway.plan(request, [fault]);
        let mut event = WideEvent::new(request);
        let instance = reported!(
            event,
            supervisor.create_via_middleware(request, request, &mut event)
        )
        .unwrap();
        assert_eq!(instance.name, request, "same name on every attempt");
        assert_eq!(event.statuses, statuses, "{request}");
        let keys: Vec<Option<String>> = gateway
            .received_for(request)
            .into_iter()
            .map(|r| r.key)
            .collect();
        assert_eq!(keys.len(), 2);
        assert!(keys[0].is_some(), "the middleware added a key");
        assert_eq!(keys[0], keys[1], "the same key on both attempts");
        assert_eq!(gateway.instances_for(request).len(), 1, "{request}: one VM");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outage_refuses_from_the_moment_it_returns() {
    let (gateway, supervisor) = setup();
    for round in 0..5 {
        let restarted = gateway.outage(Duration::from_millis(300)).await;
        let request = format!("round-{round}");
        let mut event = WideEvent::new(&request);
        reported!(event, supervisor.create(&request, &request, &mut event)).unwrap();
        restarted.await.unwrap();
        assert_eq!(
            event.statuses,
            ["refused", "refused", "201"],
            "round {round}"
        );
    }
}

/// The demonstration's summary, as the README shows it.
const SUMMARY: &str = include_str!("workload_summary.txt");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demonstration_tells_the_same_story_on_every_run() {
    // Three runs at once, each against its own gateway: more contention
    // than the example ever meets.
    let runs: Vec<_> = (0..3)
        .map(|_| {
            tokio::spawn(async {
                let (gateway, supervisor) = setup();
                demo::run(&gateway, &supervisor, |_| {}).await.to_string()
            })
        })
        .collect();
    for run in runs {
        let summary = run.await.unwrap();
        assert_eq!(summary.trim_end(), SUMMARY.trim_end(), "\n{summary}");
    }
}

#[test]
fn the_readme_shows_the_summary_the_demonstration_prints() {
    let readme = include_str!("../../README.md");
    assert!(
        readme.contains(SUMMARY.trim_end()),
        "README.md's summary differs from tests/tests/workload_summary.txt"
    );
}
