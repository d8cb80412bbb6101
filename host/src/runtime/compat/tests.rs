//! The projection rules of the compatibility rule, one by one.

use super::*;
use crate::runtime::{
    Action, AwaitHealth, ChangeOrigin, Channel, Decision, Deployment, Reconcile, SetVersion,
    Target, Trailer,
};

fn target(label: &str, app: &str) -> Target {
    Target {
        label: label.into(),
        file: format!("{app}.yaml"),
        field: "helm:image.tag".into(),
        argocd_app: app.into(),
    }
}

fn stage(name: &str, targets: Vec<Target>) -> Stage {
    let first = targets.first().cloned().unwrap_or_else(|| target("", name));
    Stage {
        name: name.into(),
        file: first.file,
        field: first.field,
        argocd_app: first.argocd_app,
        direct_commit_allowed: name == "dev",
        auto_merge_allowed: false,
        targets,
    }
}

fn context(stages: Vec<Stage>) -> Context {
    Context {
        app: "payments".into(),
        stages,
        settings: "{}".into(),
        run_id: "r".into(),
        max_health_wait: 60_000,
        dry_run: false,
    }
}

#[test]
fn single_target_stages_reach_a_0_1_policy_as_before() {
    let ctx = context(vec![
        stage("dev", vec![target("", "payments-dev")]),
        stage("prod", vec![target("eu", "payments-prod-eu")]),
    ]);
    assert_eq!(check_context(&ctx, ContractVersion::V0_1), Ok(()));
    let old = context_v0_1(&ctx).expect("projects");
    assert_eq!(
        old.stages[1],
        old::Stage {
            name: "prod".into(),
            file: "payments-prod-eu.yaml".into(),
            field: "helm:image.tag".into(),
            argocd_app: "payments-prod-eu".into(),
            direct_commit_allowed: false,
            auto_merge_allowed: false,
        }
    );
    assert_eq!(old.settings, "{}");
}

#[test]
fn a_multi_target_stage_is_refused_for_0_1_naming_the_stage_and_version() {
    let ctx = context(vec![
        stage("dev", vec![target("", "payments-dev")]),
        stage(
            "prod",
            vec![
                target("eu", "payments-prod-eu"),
                target("us", "payments-prod-us"),
            ],
        ),
    ]);
    assert_eq!(check_context(&ctx, ContractVersion::V0_2), Ok(()));
    let err = check_context(&ctx, ContractVersion::V0_1).expect_err("refused");
    assert_eq!(
        err.to_string(),
        "stage prod has 2 targets (eu, us), but the policy was built for baton:policy@0.1.0, \
         which has one target per stage; rebuild the policy for baton:policy@0.2.0 or \
         configure prod with a single target"
    );
    assert_eq!(context_v0_1(&ctx), Err(err));
}

fn reconcile(version: Option<&str>, commit: Option<&str>) -> Event {
    Event::Reconcile(Reconcile {
        stage: "staging".into(),
        version: version.map(Into::into),
        digest: Some("sha256:00".into()),
        commit: commit.map(Into::into),
        origin: ChangeOrigin::BatonMergeRequest,
    })
}

#[test]
fn a_reconcile_reaches_0_1_as_stage_changed_from_and_to_the_current_version() {
    assert_eq!(
        event_v0_1(&reconcile(Some("v2"), Some("abc"))),
        Ok(old::Event::StageChanged(old::StageChanged {
            stage: "staging".into(),
            from_version: Some("v2".into()),
            to_version: "v2".into(),
            commit: "abc".into(),
            is_rollback: false,
        }))
    );
    let err = event_v0_1(&reconcile(None, Some("abc"))).expect_err("no version");
    assert_eq!(
        err.to_string(),
        "cannot ask a policy built for baton:policy@0.1.0 to reconcile stage staging: \
         it holds no version, and stage-changed needs one"
    );
    assert!(
        event_v0_1(&reconcile(Some("v2"), None))
            .expect_err("no commit")
            .to_string()
            .contains("has no known deployment")
    );
}

#[test]
fn answers_lose_the_fields_0_1_does_not_know() {
    let deployment = Deployment {
        commit: "m1".into(),
        time: 5,
        author: "Baton <baton@example.com>".into(),
        from_version: Some("v1".into()),
        to_version: "v2".into(),
        subject: "staging(payments): v2".into(),
        trailers: vec![Trailer {
            key: "Baton-Run".into(),
            value: "r".into(),
        }],
        digest: Some("sha256:00".into()),
        origin: ChangeOrigin::BatonMergeRequest,
        merge_request: Some(3),
    };
    assert_eq!(
        old::Deployment::from(deployment),
        old::Deployment {
            commit: "m1".into(),
            time: 5,
            author: "Baton <baton@example.com>".into(),
            from_version: Some("v1".into()),
            to_version: "v2".into(),
            subject: "staging(payments): v2".into(),
            trailers: vec![old::Trailer {
                key: "Baton-Run".into(),
                value: "r".into(),
            }],
        }
    );
}

#[test]
fn decisions_are_lifted_with_the_new_fields_empty() {
    let old = old::Decision {
        actions: vec![
            old::Action::SetVersion(old::SetVersion {
                stage: "dev".into(),
                version: "v2".into(),
                channel: old::Channel::DirectCommit,
                reason: "new".into(),
            }),
            old::Action::AwaitHealth(old::AwaitHealth {
                stage: "dev".into(),
                version: "v2".into(),
                timeout: 1000,
            }),
        ],
        reasons: vec!["new".into()],
    };
    assert_eq!(
        Decision::from(old),
        Decision {
            actions: vec![
                Action::SetVersion(SetVersion {
                    stage: "dev".into(),
                    version: "v2".into(),
                    channel: Channel::DirectCommit,
                    reason: "new".into(),
                    digest: None,
                }),
                Action::AwaitHealth(AwaitHealth {
                    stage: "dev".into(),
                    version: "v2".into(),
                    timeout: 1000,
                }),
            ],
            reasons: vec!["new".into()],
            recheck_after: None,
        }
    );
}
