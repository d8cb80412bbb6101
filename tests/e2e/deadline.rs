//! The policy's wall-clock deadline bounds the policy, not the host (issue
//! #20): a capability call slower than the deadline still gets its answer,
//! a call that runs out of its own time answers `unavailable` (a WIT error
//! the policy handles), never a deadline trap; and whole runs complete when
//! reading the env repo's history takes longer than the deadline.

use std::path::Path;
use std::time::{Duration, Instant};

use baton::capabilities::git::{EnvRepo, StageField};
use baton::engine::SharedRepo;
use baton::engine::world::{LiveStage, LiveWorld};
use baton::retry::Deadline;
use baton::runtime::{
    Action, AppStatus, CapabilityError, Context, Deployment, Event, Limits, MergeRequest,
    MetricsError, RollbackRequested, Sample, Series, TargetVersion, World, WorldError,
};
use serde_json::Value;

use crate::cache::{assert_exit, git_shim, text};
use crate::engine::env::{Env, Setup};
use crate::git::common::open_shallow;
use crate::policies;
use crate::support::{git, load, test_limits};

const FILE: &str = "overlays/dev/payments/values.yaml";

fn context() -> Context {
    Context {
        run_id: "r1".into(),
        dry_run: true,
        ..crate::support::context(vec![crate::support::stage("dev", true)], "{}")
    }
}

fn rollback_requested() -> Event {
    Event::RollbackRequested(RollbackRequested {
        stage: "dev".into(),
        to_version: None,
        reason: "error rate".into(),
    })
}

/// A world whose history takes `delay` to answer: dev went v1 -> v2.
struct SlowHistory {
    delay: Duration,
}

fn deployment(version: &str, from: Option<&str>, commit: &str) -> Deployment {
    Deployment {
        commit: commit.into(),
        time: 1_700_000_000_000,
        author: "Seed <seed@example.com>".into(),
        subject: format!("dev(payments): {version}"),
        from_version: from.map(str::to_owned),
        to_version: version.into(),
        trailers: Vec::new(),
        digest: None,
        origin: baton::runtime::ChangeOrigin::OutOfBand,
        merge_request: None,
    }
}

fn none<T>() -> Result<T, WorldError> {
    Err(CapabilityError::Unavailable("not in this test".into()).into())
}

impl World for SlowHistory {
    fn read_file(&mut self, _: &str, _: Option<&str>) -> Result<Vec<u8>, WorldError> {
        none()
    }
    fn stage_version(&mut self, _: &str, _: Option<&str>) -> Result<String, WorldError> {
        Ok("v2".into())
    }
    fn target_versions(
        &mut self,
        _: &str,
        _: Option<&str>,
    ) -> Result<Vec<TargetVersion>, WorldError> {
        none()
    }
    fn stage_history(&mut self, _: &str, _: u32) -> Result<Vec<Deployment>, WorldError> {
        std::thread::sleep(self.delay);
        Ok(vec![
            deployment("v2", Some("v1"), &"2".repeat(40)),
            deployment("v1", None, &"1".repeat(40)),
        ])
    }
    fn application_status(&mut self, _: &str) -> Result<AppStatus, WorldError> {
        none()
    }
    fn find_open_merge_request(&mut self, _: &str) -> Result<Option<MergeRequest>, WorldError> {
        none()
    }
    fn merge_request(&mut self, _: u64) -> Result<MergeRequest, WorldError> {
        none()
    }
    fn now(&mut self) -> Result<i64, WorldError> {
        Ok(1_700_000_000_000)
    }
    fn metrics_query(
        &mut self,
        _: &str,
        _: Option<i64>,
    ) -> Result<Vec<Sample>, WorldError<MetricsError>> {
        Err(MetricsError::Denied("not in this test".into()).into())
    }
    fn metrics_query_range(
        &mut self,
        _: &str,
        _: i64,
        _: i64,
        _: u64,
    ) -> Result<Vec<Series>, WorldError<MetricsError>> {
        Err(MetricsError::Denied("not in this test".into()).into())
    }
}

#[test]
fn a_host_call_slower_than_the_deadline_still_gets_its_answer() {
    let limits = Limits {
        deadline: Duration::from_millis(200),
        ..test_limits()
    };
    let policy = load(policies::DEFAULT_PATH, limits);
    let world = SlowHistory {
        delay: Duration::from_millis(1500),
    };
    let (decided, _) = policy.decide(Box::new(world), &context(), &rollback_requested());
    let decision = match &decided.result {
        Ok(Ok(decision)) => decision,
        other => panic!("expected a decision, got {other:?}"),
    };
    match decision.actions.as_slice() {
        [Action::Rollback(r), Action::AwaitHealth(_)] => {
            assert_eq!(
                (r.rollback_of.as_str(), r.to_version.as_str()),
                ("v2", "v1")
            );
        }
        other => panic!("unexpected {other:?}"),
    }
    // The record separates the world's time from the guest's.
    assert!(
        decided.host_time >= Duration::from_millis(1500),
        "host {:?} of {:?}",
        decided.host_time,
        decided.elapsed
    );
    assert_eq!(decided.guest_time() + decided.host_time, decided.elapsed);
}

#[test]
fn the_deadline_still_stops_a_guest_that_runs_past_it() {
    let limits = Limits {
        deadline: Duration::from_millis(200),
        // Fuel for far longer than the deadline: the deadline must stop it.
        fuel: 1_000_000_000_000,
        ..test_limits()
    };
    let policy = load(policies::HOSTILE_MISBEHAVE_PATH, limits);
    let mut ctx = context();
    ctx.settings = r#"{"mode":"loop"}"#.into();
    let world = SlowHistory {
        delay: Duration::ZERO,
    };
    let (decided, _) = policy.decide(Box::new(world), &ctx, &rollback_requested());
    let err = decided.result.expect_err("the loop is interrupted");
    assert_eq!(
        err.to_string(),
        "policy exceeded its wall-clock deadline of 200ms (limits.deadline)"
    );
}

/// An env repo of three dev deployments, and a shallow cache of it
/// holding only the tip.
fn shallow_repo(root: &Path) -> EnvRepo {
    let work = root.join("work");
    std::fs::create_dir_all(work.join("overlays/dev/payments")).unwrap();
    git(&work, &["init", "-q", "-b", "main"]);
    for version in ["v1", "v2", "v3"] {
        std::fs::write(work.join(FILE), format!("image:\n  tag: \"{version}\"\n")).unwrap();
        git(&work, &["add", "."]);
        git(
            &work,
            &["commit", "-q", "-m", &format!("dev(payments): {version}")],
        );
    }
    open_shallow(&format!("file://{}", work.display()), &root.join("cache"))
}

#[test]
fn a_host_call_out_of_its_time_answers_unavailable_and_the_policy_decides() {
    let root = tempfile::tempdir().unwrap();
    let repo = shallow_repo(root.path());
    let tip = repo.resolve("main").unwrap().to_string();
    let stages = vec![LiveStage {
        name: "dev".into(),
        field: StageField {
            file: FILE.into(),
            field: "helm:image.tag".parse().unwrap(),
        },
        targets: Vec::new(),
    }];
    let shared = SharedRepo::new(repo);
    let expired = || Deadline::at(Instant::now());
    let mut world = LiveWorld::new(shared.clone(), tip.clone(), stages.clone(), Box::new(|| 0))
        .with_deadline(expired());
    // What is cached is read at once; reading further would fetch, and
    // there is no time left for that.
    assert_eq!(world.stage_version("dev", None).unwrap(), "v3");
    match world.stage_history("dev", 10) {
        Err(WorldError::Capability(CapabilityError::Unavailable(text))) => {
            assert!(
                text.starts_with("git.stage-history timed out after "),
                "{text}"
            );
        }
        other => panic!("expected unavailable, got {other:?}"),
    }

    let world = LiveWorld::new(shared.clone(), tip.clone(), stages.clone(), Box::new(|| 0))
        .with_deadline(expired());
    let policy = load(policies::DEFAULT_PATH, test_limits());
    let (decided, _) = policy.decide(Box::new(world), &context(), &rollback_requested());
    let answer = match decided.result {
        Ok(answer) => answer,
        Err(e) => panic!("the host's timeout became a trap: {e}"),
    };
    let history = &decided.calls[1];
    assert_eq!(history.name(), "git.stage-history");
    let err = history.result["Err"].to_string();
    assert!(err.contains("timed out after"), "{}", history.result);
    assert!(answer.is_err(), "the policy saw the error: {answer:?}");

    // With time, the same call deepens the cache and answers.
    let mut world = LiveWorld::new(shared, tip, stages, Box::new(|| 0));
    let history = world.stage_history("dev", 10).unwrap();
    let versions: Vec<&str> = history.iter().map(|d| d.to_version.as_str()).collect();
    assert_eq!(versions, ["v3", "v2", "v1"]);
}

/// The slow-history git: every fetch that deepens a cache waits `secs`
/// first, longer than the policy's 5 s deadline.
fn slow_deepen(dir: &Path, secs: u32) -> String {
    git_shim(
        dir,
        &format!("case \" $* \" in *\" --deepen=\"*|*\" --unshallow \"*) sleep {secs};; esac"),
    )
}

fn decisions_calling<'a>(record: &'a Value, function: &str) -> Vec<&'a Value> {
    record["decisions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| {
            d["calls"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["function"] == function)
        })
        .collect()
}

#[test]
fn a_rollback_and_a_promote_complete_when_reading_history_takes_longer_than_the_deadline() {
    let env = Env::new(Setup::default());
    let out = env.baton(&["promote", "--app", "payments", "--tag", "v1.1.0"]);
    assert_exit(&out, 0);
    let path = slow_deepen(env.dir(), 6);

    // Rollback on a cold cache: the policy's history read deepens it.
    std::fs::remove_dir_all(env.dir().join("cache")).unwrap();
    let audit = env.dir().join("rollback.json");
    let out = env.baton_with(
        &[
            "rollback",
            "--app",
            "payments",
            "--stage",
            "dev",
            "--audit-log",
            audit.to_str().unwrap(),
        ],
        &[("PATH", &path)],
    );
    assert_exit(&out, 0);
    assert!(
        env.file("dev").contains("tag: \"v1.0.0\""),
        "{}",
        env.file("dev")
    );
    let record: Value = serde_json::from_str(&std::fs::read_to_string(&audit).unwrap()).unwrap();
    let slow = decisions_calling(&record, "stage-history");
    let first = slow.first().expect("a decision read history");
    assert!(first["host_us"].as_u64().unwrap() >= 6_000_000, "{first:#}");
    assert!(
        first["guest_us"].as_u64().unwrap() + first["host_us"].as_u64().unwrap()
            <= first["elapsed_us"].as_u64().unwrap(),
        "{first:#}"
    );

    // The promote run again on a cold cache (a job re-run after a crash):
    // dev already holds the version, so the gate finds its commit in the
    // history, deepening the cache.
    std::fs::remove_dir_all(env.dir().join("cache")).unwrap();
    let out = env.baton_with(
        &["promote", "--app", "payments", "--tag", "v1.0.0"],
        &[("PATH", &path)],
    );
    assert_exit(&out, 0);
    let stderr = text(&out.stderr);
    assert!(!stderr.contains("deadline"), "{stderr}");
    assert!(
        env.file("dev").contains("tag: \"v1.0.0\""),
        "{}",
        env.file("dev")
    );
}
