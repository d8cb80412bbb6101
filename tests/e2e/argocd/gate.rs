//! The health gate end to end: simulator -> client watch -> gate -> verdicts.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use baton::capabilities::argocd::{AppRef, AppStatus, AppWatch, RequestError, StatusSource};
use baton::engine::gate::{
    GateError, GateOutcome, GateSpec, Observation, Verdict, wait_for_health,
};
use baton::sim::argocd::{HealthStep, SimApp, WorkloadKind};

use crate::argocd::common::*;

/// Records everything the source yields (filtered or not).
struct Recorder {
    inner: AppWatch,
    seen: Arc<Mutex<Vec<AppStatus>>>,
}

impl StatusSource for Recorder {
    async fn next_status(&mut self) -> Option<Result<AppStatus, RequestError>> {
        let item = self.inner.next_status().await;
        if let Some(Ok(s)) = &item {
            self.seen.lock().expect("lock").push(s.clone());
        }
        item
    }
}

fn spec(commit: &str, pushed_at: SystemTime, max_wait: Duration) -> GateSpec {
    GateSpec {
        label: "payments-dev".into(),
        expected_commit: commit.to_owned(),
        pushed_at,
        max_wait,
        progress_every: Duration::from_secs(2),
    }
}

/// The default policy's rules: Healthy + Synced passes, Degraded fails,
/// anything else (Progressing, Suspended canary) waits.
fn default_policy(
    forwarded: &Arc<Mutex<Vec<Observation>>>,
) -> impl FnMut(&Observation) -> Verdict<Result<(), String>> + use<> {
    let forwarded = forwarded.clone();
    move |obs: &Observation| {
        forwarded.lock().expect("lock").push(obs.clone());
        let s = &obs.status;
        match (s.health.status.as_str(), s.sync.status.as_str()) {
            ("Healthy", "Synced") => Verdict::Done(Ok(())),
            ("Degraded", _) => Verdict::Done(Err(format!("{} is Degraded", s.name))),
            _ => Verdict::KeepWaiting,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passes_only_at_the_pushed_revision() {
    let repo = TestRepo::new();
    let old = repo.head();
    let mut config = sim_config(&repo, vec![fast_app("payments-dev")]);
    // The simulator only looks at the branch when told to, so the gate
    // surely sees the stale Healthy state first.
    config.poll_interval_ms = 3_600_000;
    let sim = start(config).await;
    let pushed_at = SystemTime::now();
    let commit = repo.set_version("v1.1.0");

    let seen = Arc::new(Mutex::new(Vec::new()));
    let mut source = Recorder {
        inner: client(&sim).watch(AppRef::named("payments-dev")),
        seen: seen.clone(),
    };
    let forwarded = Arc::new(Mutex::new(Vec::new()));
    let gate_spec = spec(&commit, pushed_at, Duration::from_secs(60));
    let mut lines: Vec<String> = Vec::new();
    let repo_ref = &repo;
    let commit_ref = commit.clone();
    let gate = wait_for_health(
        &mut source,
        &gate_spec,
        |rev| repo_ref.contains(rev, &commit_ref),
        default_policy(&forwarded),
        &mut lines,
    );
    let trigger = async {
        eventually("stale observation", || {
            !seen.lock().expect("lock").is_empty()
        })
        .await;
        sim.refresh().await;
    };
    let (outcome, ()) = tokio::join!(gate, trigger);
    let outcome = outcome.expect("gate runs");

    let first = seen.lock().expect("lock")[0].clone();
    assert_eq!(
        (
            first.health.status.as_str(),
            first.sync.status.as_str(),
            first.sync.revision.as_deref()
        ),
        ("Healthy", "Synced", Some(old.as_str())),
        "the gate saw the stale Healthy state"
    );
    let forwarded = forwarded.lock().expect("lock");
    assert!(
        forwarded
            .iter()
            .all(|o| o.status.sync.revision.as_deref() == Some(commit.as_str()))
    );
    match outcome {
        GateOutcome::Decided {
            value: Ok(()),
            last,
        } => {
            assert_eq!(last.status.sync.revision.as_deref(), Some(commit.as_str()));
            assert_eq!(last.status.health.status.as_str(), "Healthy");
            assert_eq!(
                last.status
                    .history
                    .last()
                    .and_then(|h| h.revision.as_deref()),
                Some(commit.as_str())
            );
        }
        other => panic!("expected pass, got {other:?}"),
    }
    let short = &commit[..7];
    assert!(!lines.is_empty());
    assert!(
        lines
            .iter()
            .all(|l| l.starts_with("payments-dev: ") && l.ends_with("s)")),
        "{lines:?}"
    );
    assert!(
        lines.iter().any(|l| l.contains(&format!("@{}", &old[..7])))
            || lines.iter().any(|l| l.contains(short))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merge_commit_containing_the_push_counts() {
    let repo = TestRepo::new();
    let sim = start(sim_config(&repo, vec![fast_app("payments-dev")])).await;
    let pushed_at = SystemTime::now();
    repo.git(&["checkout", "-q", "-b", "bump"]);
    let commit = repo.set_version("v1.2.0");
    repo.git(&["checkout", "-q", "main"]);
    repo.git(&["merge", "-q", "--no-ff", "-m", "Merge bump", "bump"]);
    let merge = repo.head();
    assert_ne!(merge, commit);

    let mut source = client(&sim).watch(AppRef::named("payments-dev"));
    let forwarded = Arc::new(Mutex::new(Vec::new()));
    let outcome = wait_for_health(
        &mut source,
        &spec(&commit, pushed_at, Duration::from_secs(60)),
        |rev| repo.contains(rev, &commit),
        default_policy(&forwarded),
        &mut Vec::new(),
    )
    .await
    .expect("gate runs");
    match outcome {
        GateOutcome::Decided {
            value: Ok(()),
            last,
        } => {
            assert_eq!(last.status.sync.revision.as_deref(), Some(merge.as_str()))
        }
        other => panic!("expected pass, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn degraded_fails() {
    let repo = TestRepo::new();
    let mut app = fast_app("payments-dev");
    app.degrade_versions = Some(r"^v9\.".into());
    let sim = start(sim_config(&repo, vec![app])).await;
    let pushed_at = SystemTime::now();
    let commit = repo.set_version("v9.9.9");
    let mut source = client(&sim).watch(AppRef::named("payments-dev"));
    let forwarded = Arc::new(Mutex::new(Vec::new()));
    let outcome = wait_for_health(
        &mut source,
        &spec(&commit, pushed_at, Duration::from_secs(60)),
        |rev| rev == commit,
        default_policy(&forwarded),
        &mut Vec::new(),
    )
    .await
    .expect("gate runs");
    match outcome {
        GateOutcome::Decided {
            value: Err(reason),
            last,
        } => {
            assert_eq!(reason, "payments-dev is Degraded");
            assert_eq!(last.status.sync.revision.as_deref(), Some(commit.as_str()));
            let deployment = last
                .status
                .resources
                .iter()
                .find(|r| r.kind == "Deployment")
                .expect("workload");
            assert_eq!(
                deployment
                    .health
                    .as_ref()
                    .and_then(|h| h.message.as_deref()),
                Some("Deployment \"payments-dev\" exceeded its progress deadline")
            );
        }
        other => panic!("expected failure, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paused_canary_keeps_waiting_until_timeout() {
    let repo = TestRepo::new();
    let mut app: SimApp = fast_app("payments-dev");
    app.workload = WorkloadKind::Rollout;
    app.script = vec![HealthStep {
        workload_message: Some("CanaryPauseStep".into()),
        ..HealthStep::new("Suspended", 0)
    }];
    let sim = start(sim_config(&repo, vec![app])).await;
    let pushed_at = SystemTime::now();
    let commit = repo.set_version("v2.0.0");
    let mut source = client(&sim).watch(AppRef::named("payments-dev"));
    let forwarded = Arc::new(Mutex::new(Vec::new()));
    let outcome = {
        let forwarded = forwarded.clone();
        wait_for_health(
            &mut source,
            &spec(&commit, pushed_at, Duration::from_secs(3)),
            |rev| rev == commit,
            default_policy(&forwarded),
            &mut Vec::new(),
        )
        .await
        .expect("gate runs")
    };
    match outcome {
        GateOutcome::TimedOut { waited, last } => {
            assert!(waited >= Duration::from_secs(3));
            let last = last.expect("observations counted");
            assert_eq!(last.status.sync.revision.as_deref(), Some(commit.as_str()));
            if last.status.health.status.as_str() == "Suspended" {
                let rollout = last
                    .status
                    .resources
                    .iter()
                    .find(|r| r.kind == "Rollout")
                    .expect("rollout");
                assert_eq!(
                    rollout.health.as_ref().and_then(|h| h.message.as_deref()),
                    Some("CanaryPauseStep")
                );
            }
        }
        other => panic!("expected timeout, got {other:?}"),
    }
    assert!(!forwarded.lock().expect("lock").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_drop_mid_wait_reconnects_and_passes() {
    let repo = TestRepo::new();
    let mut app = fast_app("payments-dev");
    app.progress_ms = 400;
    let sim = start(sim_config(&repo, vec![app])).await;
    // Every stream breaks after two events, with an error frame.
    sim.faults().set_stream_drop_after(Some(2));
    sim.faults().set_stream_error_frame(true);
    let pushed_at = SystemTime::now();
    let commit = repo.set_version("v1.3.0");
    let mut source = client(&sim).watch(AppRef::named("payments-dev"));
    let forwarded = Arc::new(Mutex::new(Vec::new()));
    let outcome = wait_for_health(
        &mut source,
        &spec(&commit, pushed_at, Duration::from_secs(60)),
        |rev| rev == commit,
        default_policy(&forwarded),
        &mut Vec::new(),
    )
    .await
    .expect("gate runs");
    assert!(
        matches!(outcome, GateOutcome::Decided { value: Ok(()), .. }),
        "{outcome:?}"
    );
    assert!(sim.stream_connections() >= 2, "the watch reconnected");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn survives_5xx_burst_and_falls_back_to_polling() {
    let repo = TestRepo::new();
    let sim = start(sim_config(&repo, vec![fast_app("payments-dev")])).await;
    sim.faults().fail_next(3);
    sim.faults().set_stream_unavailable(true);
    let pushed_at = SystemTime::now();
    let commit = repo.set_version("v1.4.0");
    let mut source = client(&sim).watch(AppRef::named("payments-dev"));
    let forwarded = Arc::new(Mutex::new(Vec::new()));
    let outcome = wait_for_health(
        &mut source,
        &spec(&commit, pushed_at, Duration::from_secs(60)),
        |rev| rev == commit,
        default_policy(&forwarded),
        &mut Vec::new(),
    )
    .await
    .expect("gate runs");
    assert!(
        matches!(outcome, GateOutcome::Decided { value: Ok(()), .. }),
        "{outcome:?}"
    );
    assert_eq!(
        sim.stream_connections(),
        0,
        "no stream ever opened: the gate passed on polls"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unauthorized_ends_the_gate_with_a_clear_error() {
    let repo = TestRepo::new();
    let sim = start(sim_config(&repo, vec![fast_app("payments-dev")])).await;
    sim.faults().set_unauthorized(true);
    let mut source = client(&sim).watch(AppRef::named("payments-dev"));
    let err = wait_for_health(
        &mut source,
        &spec("abc", SystemTime::now(), Duration::from_secs(60)),
        |_| false,
        |_| Verdict::Done(()),
        &mut Vec::new(),
    )
    .await
    .expect_err("401");
    let GateError::Observe { label, source } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(label, "payments-dev");
    assert!(
        source
            .to_string()
            .ends_with("check the token in $ARGOCD_AUTH_TOKEN"),
        "{source}"
    );
    assert!(!format!("{err:?} {source}").contains(TOKEN));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_closing_streams_mid_wait_is_survived() {
    let repo = TestRepo::new();
    let mut app = fast_app("payments-dev");
    app.progress_ms = 1_000;
    let sim = start(sim_config(&repo, vec![app])).await;
    let pushed_at = SystemTime::now();
    let commit = repo.set_version("v1.5.0");
    let mut source = client(&sim).watch(AppRef::named("payments-dev"));
    let forwarded = Arc::new(Mutex::new(Vec::new()));
    let gate_spec = spec(&commit, pushed_at, Duration::from_secs(60));
    let mut lines: Vec<String> = Vec::new();
    let gate = wait_for_health(
        &mut source,
        &gate_spec,
        |rev| rev == commit,
        default_policy(&forwarded),
        &mut lines,
    );
    let breaker = async {
        // Once the gate is counting observations of the new commit, cut the stream.
        eventually("a counted observation", || {
            !forwarded.lock().expect("lock").is_empty()
        })
        .await;
        sim.drop_streams();
    };
    let (outcome, ()) = tokio::join!(gate, breaker);
    let outcome = outcome.expect("gate runs");
    assert!(
        matches!(outcome, GateOutcome::Decided { value: Ok(()), .. }),
        "{outcome:?}"
    );
    assert!(sim.stream_connections() >= 2, "the watch reconnected");
}

/// A burst of 503s while a gate waits is retried within the gate's own
/// time, not a fixed handful of attempts: eight in a row cost a second or
/// two of a 20 s gate, and the gate still passes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_503s_uses_the_gates_remaining_time() {
    let repo = TestRepo::new();
    let sim = start(sim_config(&repo, vec![fast_app("payments-dev")])).await;
    let pushed_at = SystemTime::now();
    let commit = repo.set_version("v1.1.0");
    sim.refresh().await;
    sim.faults().fail_next(8);

    let deadline = baton::retry::Deadline::after(Duration::from_secs(20));
    let gated = client(&sim).until(deadline);
    // One read first, as the engine does: it rides out the burst.
    gated
        .get_application(&AppRef::named("payments-dev"), false)
        .await
        .expect("the read succeeds within the gate's time");
    let mut source = gated.watch(AppRef::named("payments-dev"));
    let forwarded = Arc::new(Mutex::new(Vec::new()));
    let mut lines: Vec<String> = Vec::new();
    let repo_ref = &repo;
    let commit_ref = commit.clone();
    let outcome = wait_for_health(
        &mut source,
        &spec(&commit, pushed_at, Duration::from_secs(20)),
        |rev| repo_ref.contains(rev, &commit_ref),
        default_policy(&forwarded),
        &mut lines,
    )
    .await
    .expect("the gate observes");
    assert!(
        matches!(outcome, GateOutcome::Decided { value: Ok(()), .. }),
        "{outcome:?}"
    );
}

/// The same burst with the client's own handful of retries and no gate
/// deadline fails the read: what the gate's deadline changes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_deadline_a_burst_of_503s_fails_after_the_retries() {
    let repo = TestRepo::new();
    let sim = start(sim_config(&repo, vec![fast_app("payments-dev")])).await;
    sim.faults().fail_next(8);
    let err = client(&sim)
        .get_application(&AppRef::named("payments-dev"), false)
        .await
        .expect_err("five attempts meet five 503s");
    assert!(err.to_string().contains("503"), "{err}");
}
