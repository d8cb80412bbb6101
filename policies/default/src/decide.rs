//! The decision function of the default policy: the SDK's standard
//! promotion flow ([`baton_policy::flow`]), with no rule changed.

use baton_policy::flow::Flow;
use baton_policy::{Context, Decision, Event, Policy, PolicyError, World};
// The unit tests below name these through `use super::*`.
#[cfg(test)]
use baton_policy::{Channel, HealthStatus, actions};

use crate::config::PolicySettings;

/// The reference policy.
pub struct DefaultPolicy;

impl Policy for DefaultPolicy {
    fn decide(ctx: &Context, event: &Event, world: &impl World) -> Result<Decision, PolicyError> {
        let settings = PolicySettings::parse(&ctx.settings)?;
        Flow::new(ctx, world, &settings).decide(event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use baton_policy::testing::{FakeWorld, app_status, context, health_observed};
    use baton_policy::{
        Action, AppStatus, ChangeOrigin, GateTimeout, NewVersion, ResourceHealth,
        RollbackRequested, StageChanged, SyncStatus,
    };

    fn ctx() -> Context {
        context(r#"{"health_timeout":"5m","mr_labels":["promo"]}"#)
    }

    fn status(health: HealthStatus, sync: SyncStatus) -> AppStatus {
        AppStatus {
            sync,
            ..app_status("payments-dev", health)
        }
    }

    fn observed(stage: &str, status: AppStatus) -> Event {
        Event::HealthObserved(health_observed(stage, "v2", 1000, status))
    }

    fn world(history: &[(&str, Option<&str>)]) -> FakeWorld {
        FakeWorld::with_history(history)
    }

    fn decide(event: Event, world: &FakeWorld) -> Vec<Action> {
        DefaultPolicy::decide(&ctx(), &event, world)
            .unwrap()
            .actions
    }

    #[test]
    fn new_version_goes_to_dev_by_commit_then_health() {
        let acts = decide(
            Event::NewVersion(NewVersion {
                version: "v2".into(),
                digest: None,
            }),
            &world(&[]),
        );
        assert_eq!(
            acts,
            vec![
                actions::commit("dev", "v2", "v2 is a new version of payments"),
                actions::await_health("dev", "v2", 300_000),
            ]
        );
    }

    #[test]
    fn healthy_dev_opens_the_staging_merge_request() {
        let acts = decide(
            observed("dev", status(HealthStatus::Healthy, SyncStatus::Synced)),
            &world(&[("v2", None), ("v1", None)]),
        );
        match acts.as_slice() {
            [Action::SetVersion(set), Action::Hold(_)] => {
                assert_eq!(
                    (set.stage.as_str(), set.version.as_str()),
                    ("staging", "v2")
                );
                match &set.channel {
                    Channel::MergeRequest(mr) => assert_eq!(mr.labels, vec!["promo".to_string()]),
                    other => panic!("expected an MR, got {other:?}"),
                }
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn healthy_prod_completes() {
        let acts = decide(
            observed("prod", status(HealthStatus::Healthy, SyncStatus::Synced)),
            &world(&[("v2", None)]),
        );
        assert!(matches!(acts.as_slice(), [Action::Hold(h)] if h.contains("complete")));
    }

    #[test]
    fn progressing_keeps_waiting_unless_configured_otherwise() {
        let w = world(&[("v2", None), ("v1", None)]);
        assert!(
            decide(
                observed("dev", status(HealthStatus::Progressing, SyncStatus::Synced)),
                &w
            )
            .is_empty()
        );
        let mut strict = ctx();
        strict.settings = r#"{"progressing_is_waiting": false}"#.into();
        let event = observed("dev", status(HealthStatus::Progressing, SyncStatus::Synced));
        let acts = DefaultPolicy::decide(&strict, &event, &w).unwrap().actions;
        assert!(matches!(
            acts.as_slice(),
            [Action::Rollback(_), Action::Fail(_)]
        ));
    }

    #[test]
    fn paused_canary_keeps_waiting_and_aborted_rollout_fails() {
        let w = world(&[("v2", None), ("v1", None)]);
        let mut paused = status(HealthStatus::Suspended, SyncStatus::Synced);
        paused.resources.push(ResourceHealth {
            group: "argoproj.io".into(),
            kind: "Rollout".into(),
            namespace: "payments".into(),
            name: "payments".into(),
            health: Some(HealthStatus::Suspended),
            message: Some("CanaryPauseStep".into()),
            sync: SyncStatus::Synced,
        });
        assert!(decide(observed("dev", paused.clone()), &w).is_empty());

        let mut aborted = paused;
        aborted.health = HealthStatus::Degraded;
        aborted.resources[0].health = Some(HealthStatus::Degraded);
        aborted.resources[0].message = Some("RolloutAborted: metric failed".into());
        match decide(observed("dev", aborted), &w).as_slice() {
            [Action::Rollback(r), Action::Fail(reason)] => {
                assert_eq!(
                    (r.to_version.as_str(), r.rollback_of.as_str()),
                    ("v1", "v2")
                );
                assert_eq!(r.channel, Channel::DirectCommit);
                assert!(
                    reason.contains("Rollout payments: RolloutAborted"),
                    "{reason}"
                );
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn degraded_staging_rolls_back_by_merge_request_skipping_rolled_back_versions() {
        // v1.5 was rolled back earlier; the last good version is v1.
        let w = world(&[
            ("v2", None),
            ("v1", Some("v1.5")),
            ("v1.5", None),
            ("v1", None),
        ]);
        let acts = decide(
            observed(
                "staging",
                status(HealthStatus::Degraded, SyncStatus::Synced),
            ),
            &w,
        );
        match acts.as_slice() {
            [Action::Rollback(r), Action::Fail(_)] => {
                assert_eq!(r.to_version, "v1");
                assert!(
                    matches!(&r.channel, Channel::MergeRequest(mr) if mr.labels == ["baton", "rollback"])
                );
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn timeout_without_an_earlier_version_fails_with_reason() {
        let acts = decide(
            Event::GateTimeout(GateTimeout {
                stage: "dev".into(),
                version: "v2".into(),
                commit: "abc".into(),
                targets: Vec::new(),
                elapsed: 300_000,
                last_status: None,
            }),
            &world(&[("v2", None)]),
        );
        match acts.as_slice() {
            [Action::Fail(reason)] => assert_eq!(
                reason,
                "dev not healthy at v2 within 300s (last: no observation at the expected revision); \
                 no earlier good version of dev to roll back to"
            ),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn an_observation_at_another_revision_keeps_waiting_unless_it_holds_the_version() {
        let mut w = world(&[("v2", None), ("v1", None)]);
        let at = |revision: Option<&str>, health| {
            let mut s = status(health, SyncStatus::Synced);
            s.revision = revision.map(Into::into);
            observed("dev", s)
        };
        // Still at the previous version's commit: neither a stale Healthy
        // nor a stale Degraded says anything about v2.
        w.versions.insert("dev".into(), "v1".into());
        for health in [HealthStatus::Healthy, HealthStatus::Degraded] {
            let decision =
                DefaultPolicy::decide(&ctx(), &at(Some("old1234567"), health), &w).unwrap();
            assert!(decision.actions.is_empty(), "{decision:?}");
            assert_eq!(
                decision.reasons,
                vec![
                    "dev: Argo CD is at old1234 which holds v1, not v2 at abc; waiting".to_string()
                ]
            );
        }
        assert!(decide(at(None, HealthStatus::Healthy), &w).is_empty());
        // A later commit (e.g. another stage's change) that still holds v2.
        w.versions.insert("dev".into(), "v2".into());
        assert!(matches!(
            decide(at(Some("later"), HealthStatus::Healthy), &w).as_slice(),
            [Action::SetVersion(set), Action::Hold(_)] if set.stage == "staging"
        ));
    }

    #[test]
    fn healthy_after_a_rollback_holds_instead_of_promoting() {
        let acts = decide(
            observed("dev", status(HealthStatus::Healthy, SyncStatus::Synced)),
            &world(&[("v1", Some("v2")), ("v2", None), ("v1", None)]),
        );
        assert!(
            matches!(acts.as_slice(), [Action::Hold(h)] if h.contains("after rolling back v2"))
        );
    }

    #[test]
    fn stage_changed_is_gated() {
        let acts = decide(
            Event::StageChanged(StageChanged {
                stage: "staging".into(),
                from_version: Some("v1".into()),
                to_version: "v2".into(),
                commit: "m1".into(),
                is_rollback: false,
                digest: None,
                origin: ChangeOrigin::BatonCommit,
            }),
            &world(&[]),
        );
        assert_eq!(acts, vec![actions::await_health("staging", "v2", 300_000)]);
    }

    #[test]
    fn an_out_of_band_change_fails_loudly_instead_of_being_gated() {
        let acts = decide(
            Event::StageChanged(StageChanged {
                stage: "prod".into(),
                from_version: Some("v1".into()),
                to_version: "v2".into(),
                commit: "0123456789abcdef".into(),
                is_rollback: false,
                digest: None,
                origin: ChangeOrigin::OutOfBand,
            }),
            &world(&[]),
        );
        match acts.as_slice() {
            [Action::Fail(reason)] => assert_eq!(
                reason,
                "prod changed v1 -> v2 out of band (commit 0123456789ab: neither a Baton commit \
                 nor a merge request Baton opened); not gating or promoting it: review the \
                 change, then promote through Baton"
            ),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn a_scheduled_reconcile_resumes_only_a_promotion_that_stopped() {
        let mut w = world(&[("v2", None), ("v1", None)]);
        for (stage, version) in [("dev", "v2"), ("staging", "v1"), ("prod", "v1")] {
            w.versions.insert(stage.into(), version.into());
        }
        let reconcile = |stage: &str, version: &str| {
            Event::Reconcile(baton_policy::Reconcile {
                stage: stage.into(),
                version: Some(version.into()),
                digest: None,
                commit: Some("c-v2".into()),
                origin: ChangeOrigin::BatonCommit,
            })
        };
        // Dev holds v2 and staging lacks it: dev is gated again.
        assert_eq!(
            decide(reconcile("dev", "v2"), &w),
            vec![actions::await_health("dev", "v2", 300_000)]
        );
        // Staging holds what prod holds: nothing to resume.
        assert_eq!(decide(reconcile("staging", "v1"), &w), vec![]);
    }

    #[test]
    fn requested_rollback_uses_last_good_or_explicit_target() {
        let mut w = world(&[("v3", None), ("v2", None), ("v1", None)]);
        w.versions.insert("dev".into(), "v3".into());
        let request = |to: Option<&str>| {
            Event::RollbackRequested(RollbackRequested {
                stage: "dev".into(),
                to_version: to.map(Into::into),
                reason: "pager".into(),
            })
        };
        match decide(request(None), &w).as_slice() {
            [Action::Rollback(r), Action::AwaitHealth(a)] => {
                assert_eq!(
                    (r.to_version.as_str(), r.rollback_of.as_str()),
                    ("v2", "v3")
                );
                assert_eq!(a.version, "v2");
            }
            other => panic!("unexpected {other:?}"),
        }
        match decide(request(Some("v1")), &w).as_slice() {
            [Action::Rollback(r), _] => assert_eq!(r.to_version, "v1"),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn unknown_stage_in_an_event_is_a_policy_error() {
        let err = DefaultPolicy::decide(
            &ctx(),
            &observed("qa", status(HealthStatus::Healthy, SyncStatus::Synced)),
            &world(&[]),
        )
        .unwrap_err();
        assert_eq!(
            err,
            PolicyError::InvalidEvent("app payments has no stage qa".into())
        );
    }
}
