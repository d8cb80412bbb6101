//! The flow's steps, one rule at a time, against a [`FakeWorld`].

use super::*;
use crate::testing::{FakeWorld, app_status, context, health_observed, stage};
use crate::{
    Action, ChangeOrigin, GateTimeout, HealthObserved, HealthStatus, NewVersion, OperationPhase,
    ResourceHealth, Rollback, SetVersion, SyncStatus,
};

fn ctx() -> Context {
    Context {
        // Staging allows direct commits too: only the first stage may use them.
        stages: vec![
            stage("dev", true),
            stage("staging", true),
            stage("prod", false),
        ],
        ..context("{}")
    }
}

fn world(history: &[(&str, Option<&str>)]) -> FakeWorld {
    FakeWorld::with_history(history)
}

fn observed(stage: &str, health: HealthStatus) -> HealthObserved {
    health_observed(
        stage,
        "v2",
        1000,
        app_status(&format!("payments-{stage}"), health),
    )
}

fn settings() -> FlowSettings {
    FlowSettings::parse(r#"{"health_timeout": "5m", "mr_labels": [], "rollback_labels": []}"#)
        .unwrap()
}

#[test]
fn only_the_first_stage_is_committed_directly() {
    let (ctx, w) = (ctx(), world(&[]));
    let s = settings();
    let flow = Flow::new(&ctx, &w, &s);
    let labels = ["l".to_string()];
    assert_eq!(
        flow.channel(&ctx.stages[0], &labels, "d".into()),
        Channel::DirectCommit
    );
    assert_eq!(
        flow.channel(&ctx.stages[1], &labels, "d".into()),
        Channel::MergeRequest(actions::mr_options("d", &labels))
    );
}

#[test]
fn promote_gates_a_commit_and_holds_for_a_merge_request() {
    let (ctx, w) = (ctx(), world(&[]));
    let s = settings();
    let flow = Flow::new(&ctx, &w, &s);
    let direct = flow.promote(&ctx.stages[0], "v2", Channel::DirectCommit, "r".into());
    assert_eq!(
        direct.actions,
        vec![
            actions::commit("dev", "v2", "r"),
            actions::await_health("dev", "v2", 300_000),
        ]
    );
    assert_eq!(direct.reasons, ["r"]);
    let mr = Channel::MergeRequest(actions::mr_options("r", &[]));
    let held = flow.promote(&ctx.stages[2], "v2", mr, "r".into());
    assert_eq!(
        held.actions[1],
        actions::hold("waiting for the prod merge request to be merged")
    );
}

#[test]
fn verdicts_follow_health() {
    let (ctx, w) = (ctx(), world(&[]));
    let s = settings();
    let flow = Flow::new(&ctx, &w, &s);
    let dev = &ctx.stages[0];
    assert_eq!(
        flow.verdict(dev, &observed("dev", HealthStatus::Healthy)),
        Verdict::Healthy {
            seen: "Healthy / Synced @abc".into()
        }
    );
    assert_eq!(
        flow.verdict(dev, &observed("dev", HealthStatus::Progressing)),
        Verdict::Waiting("dev: Progressing / Synced @abc; waiting".into())
    );
    let mut degraded = observed("dev", HealthStatus::Healthy);
    degraded.status.resources.push(ResourceHealth {
        group: "apps".into(),
        kind: "Deployment".into(),
        namespace: "payments".into(),
        name: "api".into(),
        health: Some(HealthStatus::Degraded),
        message: None,
        sync: SyncStatus::Synced,
    });
    assert_eq!(
        flow.verdict(dev, &degraded),
        Verdict::Failed("dev is Degraded at v2 (Deployment api: degraded)".into())
    );

    // Health while out of sync or mid-sync is the previous deployment's.
    let mut stale = observed("dev", HealthStatus::Degraded);
    stale.status.sync = SyncStatus::OutOfSync;
    assert!(matches!(flow.verdict(dev, &stale), Verdict::Waiting(_)));
    let mut running = observed("dev", HealthStatus::Degraded);
    running.status.operation_phase = Some(OperationPhase::Running);
    assert!(matches!(flow.verdict(dev, &running), Verdict::Waiting(_)));
    let mut failed_sync = observed("dev", HealthStatus::Healthy);
    failed_sync.status.sync = SyncStatus::OutOfSync;
    failed_sync.status.operation_phase = Some(OperationPhase::Failed);
    failed_sync.status.operation_message = Some("one or more objects failed to apply".into());
    assert_eq!(
        flow.verdict(dev, &failed_sync),
        Verdict::Failed("the sync of dev to v2 failed: one or more objects failed to apply".into())
    );

    let mut strict = settings();
    strict.progressing_is_waiting = false;
    let flow = Flow::new(&ctx, &w, &strict);
    assert!(matches!(
        flow.verdict(dev, &observed("dev", HealthStatus::Progressing)),
        Verdict::Failed(_)
    ));
}

#[test]
fn after_healthy_promotes_or_ends_the_run() {
    let ctx = ctx();
    let w = world(&[("v2", None), ("v1", None)]);
    let s = settings();
    let flow = Flow::new(&ctx, &w, &s);
    match flow.after_healthy(&ctx.stages[0], "v2", "seen".into()) {
        Ok(AfterHealthy::Promote { next, reason }) => {
            assert_eq!(next.name, "staging");
            assert_eq!(reason, "v2 is healthy in dev (seen)");
        }
        other => panic!("unexpected {other:?}"),
    }
    match flow.after_healthy(&ctx.stages[2], "v2", "seen".into()) {
        Ok(AfterHealthy::Done(d)) => assert_eq!(
            d.actions,
            [actions::hold(
                "v2 is healthy in prod; promotion of payments complete"
            )]
        ),
        other => panic!("unexpected {other:?}"),
    }
    let rolled_back = world(&[("v1", Some("v2")), ("v2", None), ("v1", None)]);
    let s = settings();
    let flow = Flow::new(&ctx, &rolled_back, &s);
    assert!(matches!(
        flow.after_healthy(&ctx.stages[0], "v1", "seen".into()),
        Ok(AfterHealthy::Done(_))
    ));
}

#[test]
fn healthy_staging_gets_a_prod_merge_request_even_where_commits_are_allowed() {
    let ctx = ctx();
    let w = world(&[("v2", None), ("v1", None)]);
    let s = settings();
    let flow = Flow::new(&ctx, &w, &s);
    let acts = flow
        .health_observed(&observed("dev", HealthStatus::Healthy))
        .unwrap()
        .actions;
    match acts.as_slice() {
        [Action::SetVersion(set), Action::Hold(_)] => {
            assert_eq!(set.stage, "staging");
            assert!(matches!(set.channel, Channel::MergeRequest(_)));
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn a_stage_s_own_labels_go_on_its_merge_requests() {
    let ctx = ctx();
    let w = world(&[("v2", None), ("v1", None)]);
    let s = FlowSettings::parse(
        r#"{"mr_labels": ["promo"], "stages": {"prod": {"mr_labels": ["promo", "prod"],
            "rollback_labels": ["prod-rollback"]}}}"#,
    )
    .unwrap();
    let flow = Flow::new(&ctx, &w, &s);
    let labels = |acts: &[Action]| match acts.first() {
        Some(Action::SetVersion(SetVersion {
            channel: Channel::MergeRequest(mr),
            ..
        })) => mr.labels.clone(),
        Some(Action::Rollback(Rollback {
            channel: Channel::MergeRequest(mr),
            ..
        })) => mr.labels.clone(),
        other => panic!("no merge request: {other:?}"),
    };
    let to_staging = flow
        .health_observed(&observed("dev", HealthStatus::Healthy))
        .unwrap();
    assert_eq!(labels(&to_staging.actions), ["promo"]);
    let to_prod = flow
        .health_observed(&observed("staging", HealthStatus::Healthy))
        .unwrap();
    assert_eq!(labels(&to_prod.actions), ["promo", "prod"]);
    let rollback = flow
        .health_observed(&observed("prod", HealthStatus::Degraded))
        .unwrap();
    assert_eq!(labels(&rollback.actions), ["prod-rollback"]);
}

#[test]
fn failed_gates_roll_back_to_the_last_good_version() {
    let ctx = ctx();
    let w = world(&[("v2", None), ("v1", None)]);
    let s = settings();
    let flow = Flow::new(&ctx, &w, &s);
    let timeout = GateTimeout {
        stage: "dev".into(),
        version: "v2".into(),
        commit: "abc".into(),
        targets: Vec::new(),
        elapsed: 300_000,
        last_status: None,
    };
    let why = "dev not healthy at v2 within 300s (last: no observation at the expected revision)";
    assert_eq!(
        flow.gate_timeout(&timeout).unwrap().actions,
        vec![
            actions::rollback("dev", "v1", "v2", Channel::DirectCommit, why),
            actions::fail(format!("{why}; rolled back to v1")),
        ]
    );
    let first = world(&[("v2", None)]);
    let s = settings();
    let flow = Flow::new(&ctx, &first, &s);
    assert_eq!(
        flow.roll_back_and_fail(&ctx.stages[0], "v2", "bad".into())
            .unwrap()
            .actions,
        [actions::fail(
            "bad; no earlier good version of dev to roll back to"
        )]
    );
}

#[test]
fn decide_is_the_reference_policy() {
    let ctx = ctx();
    let w = world(&[]);
    let s = settings();
    let flow = Flow::new(&ctx, &w, &s);
    let event = Event::NewVersion(NewVersion {
        version: "v2".into(),
        digest: None,
    });
    assert_eq!(
        flow.decide(&event).unwrap().actions,
        vec![
            actions::commit("dev", "v2", "v2 is a new version of payments"),
            actions::await_health("dev", "v2", 300_000),
        ]
    );
    let unknown = Event::HealthObserved(observed("qa", HealthStatus::Healthy));
    assert_eq!(
        flow.decide(&unknown),
        Err(PolicyError::InvalidEvent(
            "app payments has no stage qa".into()
        ))
    );
}

#[test]
fn observations_of_another_version_keep_the_gate_waiting() {
    let ctx = ctx();
    let mut w = world(&[("v2", None), ("v1", None)]);
    let s = settings();
    let dev = &ctx.stages[0];
    let at = |revision: Option<&str>| {
        let mut o = observed("dev", HealthStatus::Degraded);
        o.status.revision = revision.map(Into::into);
        o
    };
    // At the gated commit: no lookup, the verdict decides.
    let flow = Flow::new(&ctx, &w, &s);
    assert_eq!(flow.off_version(dev, &at(Some("abc"))), None);
    assert_eq!(
        flow.off_version(dev, &at(None)),
        Some("dev: Argo CD reports no synced revision yet; waiting for abc".into())
    );
    // A later commit still holding v2 is fine; one holding v1 is not.
    w.versions.insert("dev".into(), "v2".into());
    let flow = Flow::new(&ctx, &w, &s);
    assert_eq!(flow.off_version(dev, &at(Some("later1234"))), None);
    w.versions.insert("dev".into(), "v1".into());
    let flow = Flow::new(&ctx, &w, &s);
    let decision = flow.health_observed(&at(Some("older1234"))).unwrap();
    assert_eq!(decision.actions, []);
    assert_eq!(
        decision.reasons,
        ["dev: Argo CD is at older12 which holds v1, not v2 at abc; waiting"]
    );
}

fn reconcile(stage: &str, version: Option<&str>) -> Event {
    Event::Reconcile(Reconcile {
        stage: stage.into(),
        version: version.map(Into::into),
        digest: None,
        commit: Some("m1".into()),
        origin: ChangeOrigin::BatonMergeRequest,
    })
}

/// Dev and staging at v2 since commit `m1`, prod at v1 then and now.
fn held_at_staging() -> FakeWorld {
    let mut w = world(&[("v2", None), ("v1", None)]);
    for (stage, version) in [("dev", "v2"), ("staging", "v2"), ("prod", "v1")] {
        w.versions.insert(stage.into(), version.into());
        w.versions_at
            .insert((stage.into(), "m1".into()), version.into());
    }
    w
}

#[test]
fn a_reconciled_stage_whose_next_stage_lacks_its_version_is_gated_to_resume() {
    let (ctx, w) = (ctx(), held_at_staging());
    let s = settings();
    let flow = Flow::new(&ctx, &w, &s);
    let decision = flow.decide(&reconcile("staging", Some("v2"))).unwrap();
    assert_eq!(
        decision.actions,
        vec![actions::await_health("staging", "v2", 300_000)]
    );
    assert_eq!(
        decision.reasons,
        ["reconciling staging: prod lacks v2; gating staging at v2 to resume the promotion"]
    );
    // The gate's pass is an ordinary healthy verdict: prod's merge request.
    let healthy = flow.health_observed(&observed("staging", HealthStatus::Healthy));
    assert!(matches!(
        healthy.unwrap().actions.as_slice(),
        [Action::SetVersion(set), Action::Hold(_)] if set.stage == "prod" && set.version == "v2"
    ));
}

#[test]
fn a_reconciled_stage_with_nothing_to_resume_asks_for_nothing() {
    let ctx = ctx();
    let s = settings();
    let nothing = |w: &FakeWorld, event: Event| {
        let decision = Flow::new(&ctx, w, &s).decide(&event).unwrap();
        assert!(decision.actions.is_empty(), "{decision:?}");
        decision.reasons
    };
    let w = held_at_staging();
    assert_eq!(
        nothing(&w, reconcile("dev", Some("v2"))),
        ["staging already holds v2; nothing to resume"]
    );
    assert_eq!(
        nothing(&w, reconcile("prod", Some("v1"))),
        ["v1 is in prod, the last stage; nothing to resume"]
    );
    assert_eq!(
        nothing(&w, reconcile("staging", None)),
        ["staging holds no version; nothing to reconcile"]
    );
    // Prod moved on after staging got v2 (to v3, by hand): no downgrade.
    let mut moved = held_at_staging();
    moved.versions.insert("prod".into(), "v3".into());
    assert_eq!(
        nothing(&moved, reconcile("staging", Some("v2"))),
        ["prod changed since staging got v2 (v1 -> v3); nothing to resume"]
    );
    // Staging's newest deployment rolled v3 back: a rolled-back stage
    // does not promote.
    let mut rolled = held_at_staging();
    rolled.histories.insert(
        "staging".into(),
        vec![
            crate::testing::deployment("v2", Some("v3")),
            crate::testing::deployment("v3", None),
        ],
    );
    assert_eq!(
        nothing(&rolled, reconcile("staging", Some("v2"))),
        ["staging is at v2 after rolling back v3; nothing to resume"]
    );
}

#[test]
fn the_fake_world_answers_one_target_per_stage_and_no_samples_by_default() {
    let mut w = world(&[]);
    w.versions.insert("dev".into(), "v2".into());
    assert_eq!(
        w.target_versions("dev", None).unwrap(),
        [crate::TargetVersion {
            label: String::new(),
            version: Some("v2".into()),
            digest: None,
        }]
    );
    assert_eq!(w.metrics_query("up", None), Ok(Vec::new()));
}

const D1: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
const D2: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";

#[test]
fn a_new_version_takes_its_digest_to_the_first_stage() {
    let (ctx, w) = (ctx(), world(&[]));
    let s = settings();
    let flow = Flow::new(&ctx, &w, &s);
    let event = Event::NewVersion(NewVersion {
        version: "v2".into(),
        digest: Some(D2.into()),
    });
    let decision = flow.decide(&event).unwrap();
    let Action::SetVersion(set) = &decision.actions[0] else {
        panic!("expected a set-version, got {:?}", decision.actions);
    };
    assert_eq!(
        (
            set.stage.as_str(),
            set.version.as_str(),
            set.digest.as_deref()
        ),
        ("dev", "v2", Some(D2))
    );
}

#[test]
fn a_healthy_stage_hands_its_digest_to_the_next() {
    let ctx = ctx();
    let mut w = world(&[("v2", None), ("v1", None)]);
    w.targets.insert(
        "dev".into(),
        vec![crate::TargetVersion {
            label: String::new(),
            version: Some("v2".into()),
            digest: Some(D2.into()),
        }],
    );
    let s = settings();
    let flow = Flow::new(&ctx, &w, &s);
    let decision = flow
        .health_observed(&observed("dev", HealthStatus::Healthy))
        .unwrap();
    let Action::SetVersion(set) = &decision.actions[0] else {
        panic!("expected a set-version, got {:?}", decision.actions);
    };
    assert_eq!(
        (set.stage.as_str(), set.digest.as_deref()),
        ("staging", Some(D2))
    );
    // A stage holding another version hands on nothing of its own.
    w.targets.get_mut("dev").unwrap()[0].version = Some("v3".into());
    let flow = Flow::new(&ctx, &w, &s);
    let decision = flow
        .health_observed(&observed("dev", HealthStatus::Healthy))
        .unwrap();
    assert!(
        matches!(&decision.actions[0], Action::SetVersion(set) if set.digest.is_none()),
        "{:?}",
        decision.actions
    );
}

#[test]
fn a_rollback_goes_back_to_the_digest_deployed_with_the_good_version() {
    let ctx = ctx();
    let mut w = world(&[("v2", None), ("v1", None)]);
    for history in w.histories.values_mut() {
        history[0].digest = Some(D2.into());
        history[1].digest = Some(D1.into());
    }
    let s = settings();
    let flow = Flow::new(&ctx, &w, &s);
    let failed = flow
        .health_observed(&observed("dev", HealthStatus::Degraded))
        .unwrap();
    let Action::Rollback(rollback) = &failed.actions[0] else {
        panic!("expected a rollback, got {:?}", failed.actions);
    };
    assert_eq!(
        (rollback.to_version.as_str(), rollback.to_digest.as_deref()),
        ("v1", Some(D1))
    );
    w.versions.insert("dev".into(), "v2".into());
    let flow = Flow::new(&ctx, &w, &s);
    let requested = flow
        .rollback_requested(&crate::RollbackRequested {
            stage: "dev".into(),
            to_version: None,
            reason: "pager".into(),
        })
        .unwrap();
    assert!(
        matches!(&requested.actions[0], Action::Rollback(r) if r.to_digest.as_deref() == Some(D1)),
        "{:?}",
        requested.actions
    );
}

/// The context with prod deployed in two regions, `eu` and `us`.
fn two_regions() -> Context {
    let mut ctx = ctx();
    let prod = &mut ctx.stages[2];
    prod.targets = ["eu", "us"]
        .into_iter()
        .map(|label| crate::Target {
            label: label.into(),
            file: format!("overlays/prod-{label}/values.yaml"),
            field: "helm:image.tag".into(),
            argocd_app: format!("payments-prod-{label}"),
        })
        .collect();
    prod.argocd_app = "payments-prod-eu".into();
    ctx
}

/// Prod at v2 observed: `eu` and `us` with their latest observation, if
/// any; the event's own status is the last one given.
fn prod_observed(eu: Option<HealthStatus>, us: Option<HealthStatus>) -> HealthObserved {
    let target = |label: &str, health: Option<HealthStatus>| crate::TargetStatus {
        label: label.into(),
        argocd_app: format!("payments-prod-{label}"),
        status: health.map(|h| app_status(&format!("payments-prod-{label}"), h)),
    };
    let targets = vec![target("eu", eu), target("us", us)];
    let status = targets
        .iter()
        .rev()
        .find_map(|t| t.status.clone())
        .expect("one observation");
    HealthObserved {
        targets,
        ..health_observed("prod", "v2", 1000, status)
    }
}

#[test]
fn a_stage_with_several_targets_passes_only_when_every_target_is_healthy() {
    use HealthStatus::{Degraded, Healthy, Progressing};
    let ctx = two_regions();
    let w = world(&[("v2", None), ("v1", None)]);
    let s = settings();
    let flow = Flow::new(&ctx, &w, &s);
    let prod = &ctx.stages[2];
    let decide = |o: HealthObserved| flow.health_observed(&o).unwrap();

    let only_eu = decide(prod_observed(Some(Healthy), None));
    assert_eq!(only_eu.actions, []);
    assert_eq!(
        only_eu.reasons,
        ["prod/us (payments-prod-us): no observation at abc yet; waiting"]
    );
    assert_eq!(
        flow.verdict(prod, &prod_observed(Some(Healthy), Some(Progressing))),
        Verdict::Waiting("prod/us (payments-prod-us): Progressing / Synced @abc; waiting".into())
    );
    assert_eq!(
        flow.verdict(prod, &prod_observed(Some(Healthy), Some(Healthy))),
        Verdict::Healthy {
            seen: "eu: Healthy / Synced @abc; us: Healthy / Synced @abc".into()
        }
    );
    assert_eq!(
        decide(prod_observed(Some(Healthy), Some(Healthy))).actions,
        [actions::hold(
            "v2 is healthy in prod; promotion of payments complete"
        )]
    );

    // One region degrading rolls the whole stage back, naming the region,
    // even while the other has not reported yet.
    let why = "prod/us (payments-prod-us) is Degraded at v2";
    for observed in [
        prod_observed(Some(Healthy), Some(Degraded)),
        prod_observed(None, Some(Degraded)),
    ] {
        assert_eq!(
            decide(observed).actions,
            vec![
                actions::rollback(
                    "prod",
                    "v1",
                    "v2",
                    Channel::MergeRequest(actions::mr_options(why, &[])),
                    why
                ),
                actions::fail(format!("{why}; rolled back to v1")),
            ]
        );
    }

    // A target at another version's commit is not there yet.
    let mut stale = prod_observed(Some(Healthy), Some(Degraded));
    stale.targets[1].status.as_mut().expect("observed").revision = Some("older1234".into());
    let mut w = world(&[("v2", None), ("v1", None)]);
    w.versions.insert("prod".into(), "v1".into());
    let flow = Flow::new(&ctx, &w, &s);
    assert_eq!(
        flow.verdict(prod, &stale),
        Verdict::Waiting(
            "prod/us (payments-prod-us): Argo CD is at older12 which holds v1, not v2 at abc; \
             waiting"
                .into()
        )
    );
}

#[test]
fn a_timeout_of_a_stage_with_several_targets_says_what_each_showed() {
    let ctx = two_regions();
    let w = world(&[("v2", None), ("v1", None)]);
    let s = settings();
    let flow = Flow::new(&ctx, &w, &s);
    let observed = prod_observed(Some(HealthStatus::Healthy), None);
    let timeout = GateTimeout {
        stage: "prod".into(),
        version: "v2".into(),
        commit: "abc".into(),
        targets: observed.targets,
        elapsed: 300_000,
        last_status: Some(observed.status),
    };
    let why = "prod not healthy at v2 within 300s (last: eu: Healthy / Synced @abc; us: no \
               observation at the expected revision)";
    assert_eq!(
        flow.gate_timeout(&timeout).unwrap().actions[1],
        actions::fail(format!("{why}; rolled back to v1"))
    );
}
