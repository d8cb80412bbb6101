//! The decision function of the default policy.

use baton_policy::health::{degraded_resource, describe, is_healthy, paused_canary};
use baton_policy::history::{last_good, rolled_back_version};
use baton_policy::{
    Channel, Context, Decision, Event, GateTimeout, HealthObserved, HealthStatus, Policy,
    PolicyError, RollbackRequested, Stage, StageChanged, World, actions,
};

use crate::config::PolicySettings;

/// How many deployments to read when looking for the last good version.
const HISTORY_DEPTH: u32 = 200;

/// The reference policy.
pub struct DefaultPolicy;

impl Policy for DefaultPolicy {
    fn decide(ctx: &Context, event: &Event, world: &dyn World) -> Result<Decision, PolicyError> {
        let settings = PolicySettings::parse(&ctx.settings)?;
        let d = Decider {
            ctx,
            world,
            settings,
        };
        match event {
            Event::NewVersion(new) => d.new_version(&new.version),
            Event::StageChanged(changed) => d.stage_changed(changed),
            Event::HealthObserved(observed) => d.health_observed(observed),
            Event::GateTimeout(timeout) => d.gate_timeout(timeout),
            Event::RollbackRequested(request) => d.rollback_requested(request),
        }
    }
}

struct Decider<'a> {
    ctx: &'a Context,
    world: &'a dyn World,
    settings: PolicySettings,
}

impl Decider<'_> {
    fn stage(&self, name: &str) -> Result<&Stage, PolicyError> {
        self.ctx.stage(name).ok_or_else(|| {
            PolicyError::InvalidEvent(format!("app {} has no stage {name}", self.ctx.app))
        })
    }

    /// Direct commits only where the guardrails allow them and only for the
    /// first stage: later stages always get a reviewable merge request.
    fn channel(&self, stage: &Stage, labels: &[String], description: String) -> Channel {
        let first = self.ctx.first_stage().is_some_and(|s| s.name == stage.name);
        if first && stage.direct_commit_allowed {
            Channel::DirectCommit
        } else {
            Channel::MergeRequest(actions::mr_options(description, labels))
        }
    }

    fn new_version(&self, version: &str) -> Result<Decision, PolicyError> {
        let first = self.ctx.first_stage().ok_or_else(|| {
            PolicyError::InvalidEvent(format!("app {} has no stages", self.ctx.app))
        })?;
        let reason = format!("{version} is a new version of {}", self.ctx.app);
        let channel = self.channel(first, &self.settings.mr_labels, reason.clone());
        let direct = matches!(channel, Channel::DirectCommit);
        let mut decision = vec![actions::merge_or_commit(
            first,
            version,
            channel,
            reason.clone(),
        )];
        if direct {
            let timeout = self.settings.health_timeout_ms(&first.name);
            decision.push(actions::await_health(&first.name, version, timeout));
        } else {
            decision.push(actions::hold(format!(
                "waiting for the {} merge request to be merged",
                first.name
            )));
        }
        Ok(Decision::from(decision).because(reason))
    }

    fn stage_changed(&self, changed: &StageChanged) -> Result<Decision, PolicyError> {
        let stage = self.stage(&changed.stage)?;
        let timeout = self.settings.health_timeout_ms(&stage.name);
        let why = if changed.is_rollback {
            format!(
                "{} was rolled back to {}; gating it",
                stage.name, changed.to_version
            )
        } else {
            format!(
                "{} changed {} -> {}; gating it",
                stage.name,
                changed.from_version.as_deref().unwrap_or("(none)"),
                changed.to_version
            )
        };
        Ok(Decision::from(vec![actions::await_health(
            &stage.name,
            &changed.to_version,
            timeout,
        )])
        .because(why))
    }

    fn health_observed(&self, observed: &HealthObserved) -> Result<Decision, PolicyError> {
        let stage = self.stage(&observed.stage)?;
        let status = &observed.status;
        let seen = describe(status);

        if status.health == HealthStatus::Degraded || degraded_resource(status).is_some() {
            let detail = degraded_resource(status)
                .map(|r| {
                    format!(
                        " ({} {}: {})",
                        r.kind,
                        r.name,
                        r.message.as_deref().unwrap_or("degraded")
                    )
                })
                .or_else(|| status.health_message.as_ref().map(|m| format!(" ({m})")))
                .unwrap_or_default();
            let why = format!("{} is Degraded at {}{detail}", stage.name, observed.version);
            return self.roll_back_and_fail(stage, &observed.version, why);
        }

        if is_healthy(status) {
            return self.healthy(stage, &observed.version, seen);
        }

        let waiting = match status.health {
            HealthStatus::Progressing => self.settings.progressing_is_waiting,
            HealthStatus::Suspended => {
                // A canary paused at a step is working as intended.
                true
            }
            _ => true,
        };
        if waiting {
            let why = match paused_canary(status) {
                Some(r) => format!("{}: canary {} paused ({seen}); waiting", stage.name, r.name),
                None => format!("{}: {seen}; waiting", stage.name),
            };
            Ok(actions::nothing(why))
        } else {
            let why = format!(
                "{} is still Progressing and progressing_is_waiting is false",
                stage.name
            );
            self.roll_back_and_fail(stage, &observed.version, why)
        }
    }

    fn healthy(&self, stage: &Stage, version: &str, seen: String) -> Result<Decision, PolicyError> {
        // A healthy rollback ends the run: a rolled-back version is not promoted.
        let latest = self
            .world
            .stage_history(&stage.name, 1)
            .map_err(capability)?;
        if let Some(bad) = latest.first().and_then(rolled_back_version) {
            return Ok(Decision::from(vec![actions::hold(format!(
                "{} is healthy at {version} after rolling back {bad}",
                stage.name
            ))]));
        }
        let Some(next) = self.ctx.next_stage(&stage.name) else {
            return Ok(Decision::from(vec![actions::hold(format!(
                "{version} is healthy in {}; promotion of {} complete",
                stage.name, self.ctx.app
            ))])
            .because(seen));
        };
        let reason = format!("{version} is healthy in {} ({seen})", stage.name);
        let channel = self.channel(next, &self.settings.mr_labels, reason.clone());
        let mut acts = vec![actions::merge_or_commit(
            next,
            version,
            channel.clone(),
            reason.clone(),
        )];
        if matches!(channel, Channel::DirectCommit) {
            acts.push(actions::await_health(
                &next.name,
                version,
                self.settings.health_timeout_ms(&next.name),
            ));
        } else {
            acts.push(actions::hold(format!(
                "waiting for the {} merge request to be merged",
                next.name
            )));
        }
        Ok(Decision::from(acts).because(reason))
    }

    fn gate_timeout(&self, timeout: &GateTimeout) -> Result<Decision, PolicyError> {
        let stage = self.stage(&timeout.stage)?;
        let last = timeout.last_status.as_ref().map_or(
            "no observation at the expected revision".to_string(),
            describe,
        );
        let why = format!(
            "{} not healthy at {} within {}s (last: {last})",
            stage.name,
            timeout.version,
            timeout.elapsed / 1000
        );
        self.roll_back_and_fail(stage, &timeout.version, why)
    }

    fn rollback_requested(&self, request: &RollbackRequested) -> Result<Decision, PolicyError> {
        let stage = self.stage(&request.stage)?;
        let current = self
            .world
            .stage_version(&stage.name, None)
            .map_err(capability)?;
        let target = match &request.to_version {
            Some(v) => v.clone(),
            None => {
                let history = self
                    .world
                    .stage_history(&stage.name, HISTORY_DEPTH)
                    .map_err(capability)?;
                match last_good(&history, &current) {
                    Some(v) => v.to_owned(),
                    None => {
                        return Ok(Decision::from(vec![actions::fail(format!(
                            "cannot roll back {}: no earlier good version than {current}",
                            stage.name
                        ))]));
                    }
                }
            }
        };
        if target == current {
            return Ok(Decision::from(vec![actions::hold(format!(
                "{} is already at {target}",
                stage.name
            ))]));
        }
        let why = format!(
            "rollback of {} from {current} to {target} requested: {}",
            stage.name, request.reason
        );
        let channel = self.channel(stage, &self.settings.rollback_labels, why.clone());
        let direct = matches!(channel, Channel::DirectCommit);
        let mut acts = vec![actions::rollback(
            &stage.name,
            &target,
            &current,
            channel,
            why.clone(),
        )];
        if direct {
            acts.push(actions::await_health(
                &stage.name,
                &target,
                self.settings.health_timeout_ms(&stage.name),
            ));
        } else {
            acts.push(actions::hold(format!(
                "waiting for the {} rollback merge request to be merged",
                stage.name
            )));
        }
        Ok(Decision::from(acts).because(why))
    }

    fn roll_back_and_fail(
        &self,
        stage: &Stage,
        bad: &str,
        why: String,
    ) -> Result<Decision, PolicyError> {
        let history = self
            .world
            .stage_history(&stage.name, HISTORY_DEPTH)
            .map_err(capability)?;
        let Some(good) = last_good(&history, bad) else {
            return Ok(Decision::from(vec![actions::fail(format!(
                "{why}; no earlier good version of {} to roll back to",
                stage.name
            ))]));
        };
        let channel = self.channel(stage, &self.settings.rollback_labels, why.clone());
        Ok(Decision::from(vec![
            actions::rollback(&stage.name, good, bad, channel, why.clone()),
            actions::fail(format!("{why}; rolled back to {good}")),
        ])
        .because(why))
    }
}

fn capability(err: baton_policy::CapabilityError) -> PolicyError {
    PolicyError::Capability(format!("{err:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use baton_policy::testing::FakeWorld;
    use baton_policy::{
        Action, AppStatus, Deployment, GateTimeout, HealthObserved, NewVersion, ResourceHealth,
        RollbackRequested, StageChanged, SyncStatus, Trailer,
    };

    fn stage(name: &str, direct: bool) -> Stage {
        Stage {
            name: name.into(),
            file: format!("overlays/{name}/values.yaml"),
            field: "helm:image.tag".into(),
            argocd_app: format!("payments-{name}"),
            direct_commit_allowed: direct,
            auto_merge_allowed: false,
        }
    }

    fn ctx() -> Context {
        Context {
            app: "payments".into(),
            stages: vec![
                stage("dev", true),
                stage("staging", false),
                stage("prod", false),
            ],
            settings: r#"{"health_timeout":"5m","mr_labels":["promo"]}"#.into(),
            run_id: "r".into(),
            max_health_wait: 1_800_000,
            dry_run: false,
        }
    }

    fn deploy(to: &str, rollback_of: Option<&str>) -> Deployment {
        Deployment {
            commit: format!("c-{to}"),
            time: 0,
            author: "ci".into(),
            from_version: None,
            to_version: to.into(),
            subject: String::new(),
            trailers: rollback_of
                .map(|v| {
                    vec![Trailer {
                        key: "Baton-Rollback-Of".into(),
                        value: v.into(),
                    }]
                })
                .unwrap_or_default(),
        }
    }

    fn status(health: HealthStatus, sync: SyncStatus) -> AppStatus {
        AppStatus {
            app: "payments-dev".into(),
            health,
            health_message: None,
            sync,
            revision: Some("abc".into()),
            operation_phase: None,
            operation_message: None,
            reconciled_at: None,
            resources: Vec::new(),
        }
    }

    fn observed(stage: &str, status: AppStatus) -> Event {
        Event::HealthObserved(HealthObserved {
            stage: stage.into(),
            version: "v2".into(),
            commit: "abc".into(),
            elapsed: 1000,
            status,
        })
    }

    fn world(history: &[(&str, Option<&str>)]) -> FakeWorld {
        let mut w = FakeWorld::default();
        for stage in ["dev", "staging", "prod"] {
            w.histories.insert(
                stage.into(),
                history.iter().map(|(v, r)| deploy(v, *r)).collect(),
            );
        }
        w
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
            }),
            &world(&[]),
        );
        assert_eq!(acts, vec![actions::await_health("staging", "v2", 300_000)]);
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
