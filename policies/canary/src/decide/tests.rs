//! Rollout pauses within and over the limit, aborts, and the default flow
//! for everything else.

use super::*;
use baton_policy::testing::{
    FakeWorld, app_status, context, deployment, health_observed, resource,
};
use baton_policy::{
    Action, AppStatus, Channel, NewVersion, OperationPhase, ResourceHealth, SyncStatus,
};

const MIN: u64 = 60_000;

fn ctx() -> Context {
    Context {
        max_health_wait: 3_600_000,
        ..context(r#"{"max_pause": "30m", "mr_labels": ["promo"]}"#)
    }
}

/// Every stage went v1 -> v2.
fn world() -> FakeWorld {
    FakeWorld::with_history(&[("v2", None), ("v1", None)])
}

fn rollout(health: HealthStatus, message: &str) -> ResourceHealth {
    resource("argoproj.io", "Rollout", health, message)
}

fn status(health: HealthStatus, resources: Vec<ResourceHealth>) -> AppStatus {
    AppStatus {
        resources,
        ..app_status("payments-prod", health)
    }
}

fn observed(stage: &str, elapsed: u64, status: AppStatus) -> Event {
    Event::HealthObserved(health_observed(stage, "v2", elapsed, status))
}

fn paused(stage: &str, elapsed: u64, message: &str) -> Event {
    observed(
        stage,
        elapsed,
        status(
            HealthStatus::Suspended,
            vec![rollout(HealthStatus::Suspended, message)],
        ),
    )
}

fn decide(event: &Event) -> Decision {
    CanaryPolicy::decide(&ctx(), event, &world()).unwrap()
}

#[test]
fn a_pause_within_the_limit_keeps_waiting() {
    for elapsed in [MIN, 30 * MIN] {
        let d = decide(&paused("prod", elapsed, "CanaryPauseStep"));
        assert!(d.actions.is_empty(), "{d:?}");
        assert_eq!(
            d.reasons,
            [format!(
                "prod: Rollout payments-api paused (CanaryPauseStep) at v2, {} into the gate \
                 of max_pause 30m; waiting",
                if elapsed == MIN { "1m" } else { "30m" }
            )]
        );
    }
}

#[test]
fn a_pause_over_the_limit_rolls_back_and_fails() {
    let d = decide(&paused("prod", 30 * MIN + 1000, "CanaryPauseStep"));
    let why = "prod: Rollout payments-api still paused (CanaryPauseStep) at v2 after 30m1s, \
               over max_pause 30m";
    match d.actions.as_slice() {
        [Action::Rollback(r), Action::Fail(reason)] => {
            assert_eq!(
                (
                    r.stage.as_str(),
                    r.to_version.as_str(),
                    r.rollback_of.as_str()
                ),
                ("prod", "v1", "v2")
            );
            assert!(
                matches!(&r.channel, Channel::MergeRequest(mr) if mr.labels == ["baton", "rollback"])
            );
            assert_eq!(r.reason, why);
            assert_eq!(reason, &format!("{why}; rolled back to v1"));
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn a_rollout_paused_by_hand_counts_as_a_pause() {
    assert!(
        decide(&paused("dev", 5 * MIN, "Rollout is paused"))
            .actions
            .is_empty()
    );
    assert!(matches!(
        decide(&paused("dev", 31 * MIN, "Rollout is paused")).actions.as_slice(),
        [Action::Rollback(r), Action::Fail(_)] if r.channel == Channel::DirectCommit
    ));
}

#[test]
fn an_aborted_rollout_rolls_back_at_once() {
    let aborted = status(
        HealthStatus::Degraded,
        vec![rollout(HealthStatus::Degraded, "Rollout is aborted")],
    );
    let d = decide(&observed("staging", 1000, aborted));
    match d.actions.as_slice() {
        [Action::Rollback(r), Action::Fail(reason)] => {
            assert_eq!((r.stage.as_str(), r.to_version.as_str()), ("staging", "v1"));
            assert_eq!(
                reason,
                "staging at v2: Rollout payments-api was aborted (Rollout is aborted); \
                 rolled back to v1"
            );
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn an_abort_reported_only_by_the_application_rolls_back() {
    let mut aborted = status(HealthStatus::Degraded, Vec::new());
    aborted.health_message = Some("RolloutAborted: metric error-rate failed".into());
    match decide(&observed("dev", 1000, aborted)).actions.as_slice() {
        [Action::Rollback(_), Action::Fail(reason)] => assert_eq!(
            reason,
            "dev at v2: its rollout was aborted (RolloutAborted: metric error-rate failed); \
             rolled back to v1"
        ),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn an_abort_without_an_earlier_version_fails_with_the_reason() {
    let mut w = world();
    w.histories
        .insert("dev".into(), vec![deployment("v2", None)]);
    let aborted = status(
        HealthStatus::Degraded,
        vec![rollout(HealthStatus::Degraded, "Rollout is aborted")],
    );
    let d = CanaryPolicy::decide(&ctx(), &observed("dev", 1000, aborted), &w).unwrap();
    assert_eq!(
        d.actions,
        [actions::fail(
            "dev at v2: Rollout payments-api was aborted (Rollout is aborted); \
             no earlier good version of dev to roll back to"
        )]
    );
}

#[test]
fn healthy_and_synced_advances_like_the_default_policy() {
    let healthy = status(
        HealthStatus::Healthy,
        vec![rollout(HealthStatus::Healthy, "")],
    );
    match decide(&observed("staging", 40 * MIN, healthy))
        .actions
        .as_slice()
    {
        [Action::SetVersion(set), Action::Hold(_)] => {
            assert_eq!((set.stage.as_str(), set.version.as_str()), ("prod", "v2"));
            assert!(matches!(&set.channel, Channel::MergeRequest(mr) if mr.labels == ["promo"]));
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn a_progressing_canary_step_keeps_waiting() {
    let stepping = status(
        HealthStatus::Progressing,
        vec![rollout(
            HealthStatus::Progressing,
            "Waiting for roll out to finish: More replicas need to be updated",
        )],
    );
    assert!(
        decide(&observed("prod", 45 * MIN, stepping))
            .actions
            .is_empty()
    );
}

#[test]
fn only_rollouts_are_held_to_the_pause_limit() {
    // A suspended CronJob is the default flow's business: wait for the gate.
    let cron = status(
        HealthStatus::Suspended,
        vec![ResourceHealth {
            kind: "CronJob".into(),
            group: "batch".into(),
            ..rollout(HealthStatus::Suspended, "Suspended")
        }],
    );
    assert!(decide(&observed("prod", 50 * MIN, cron)).actions.is_empty());
}

#[test]
fn new_versions_get_the_longer_gate() {
    let d = decide(&Event::NewVersion(NewVersion {
        version: "v3".into(),
        digest: None,
    }));
    assert_eq!(
        d.actions,
        vec![
            actions::commit("dev", "v3", "v3 is a new version of payments"),
            actions::await_health("dev", "v3", 3_600_000),
        ]
    );
}

#[test]
fn rollouts_are_read_only_once_synced_to_the_gated_version() {
    // Mid-sync, an aborted Rollout is the previous deployment's: wait.
    let mut stale = status(
        HealthStatus::Degraded,
        vec![rollout(HealthStatus::Degraded, "Rollout is aborted")],
    );
    stale.sync = SyncStatus::OutOfSync;
    stale.operation_phase = Some(OperationPhase::Running);
    let d = decide(&observed("dev", 1000, stale));
    assert!(d.actions.is_empty(), "{d:?}");
    assert!(d.reasons[0].ends_with("; waiting for the sync"), "{d:?}");

    // Synced to another commit that holds another version: wait as well.
    let mut w = world();
    w.versions.insert("dev".into(), "v1".into());
    let mut elsewhere = status(
        HealthStatus::Suspended,
        vec![rollout(HealthStatus::Suspended, "CanaryPauseStep")],
    );
    elsewhere.revision = Some("0ld0ld0ld".into());
    let d = CanaryPolicy::decide(&ctx(), &observed("dev", 40 * MIN, elsewhere), &w).unwrap();
    assert!(d.actions.is_empty(), "{d:?}");
    assert_eq!(
        d.reasons,
        ["dev: Argo CD is at 0ld0ld0 which holds v1, not v2 at abc; waiting"]
    );
}
