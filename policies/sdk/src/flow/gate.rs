//! Health gates: what an observation means, what follows a healthy stage,
//! and what a timeout does.
//!
//! A stage with several targets (one Argo CD application each) passes only
//! when every target is Healthy and Synced at the gated commit; it waits
//! while any target has no observation yet or is not there yet, and fails
//! (rolling the whole stage back) as soon as any target fails, naming it.

use super::{Flow, capability, with_digest};
use crate::health::{degraded_resource, describe, is_healthy, paused_canary};
use crate::history::rolled_back_version;
use crate::{
    AppStatus, Decision, GateTimeout, HealthObserved, HealthStatus, OperationPhase, PolicyError,
    Stage, SyncStatus, Target, TargetStatus, World, actions,
};

/// What one health observation means for its gate.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Healthy and Synced: the gate passed. `seen` describes the observation.
    Healthy {
        /// The observation, e.g. `Healthy / Synced @ab12cd3`.
        seen: String,
    },
    /// Not there yet: keep waiting (an empty decision), for this reason.
    Waiting(String),
    /// The gate failed: roll back and fail, for this reason.
    Failed(String),
}

/// What follows a stage that passed its gate.
#[derive(Debug, Clone, PartialEq)]
pub enum AfterHealthy<'a> {
    /// The run ends here (a healthy rollback, or the last stage), with
    /// this decision.
    Done(Decision),
    /// The version moves on to `next`, for `reason`.
    Promote {
        /// The next stage in promotion order.
        next: &'a Stage,
        /// Why, for the set-version action and the audit record.
        reason: String,
    },
}

impl<'a, W: World + ?Sized> Flow<'a, W> {
    /// Why an observation says nothing about the version being gated, if it
    /// does not: Argo CD is synced neither to the gated commit nor to a later
    /// one that still holds the version, so its health (a stale Healthy, or a
    /// Degraded) belongs to another version. The host forwards only
    /// observations at the gated commit or a descendant of it; this guard
    /// holds even when an observation slips through.
    pub fn off_version(&self, stage: &Stage, observed: &HealthObserved) -> Option<String> {
        self.off_version_of(stage, &stage.name, observed)
    }

    /// [`Flow::off_version`], naming `who` (the stage, or one of its
    /// targets) in the reason.
    fn off_version_of(
        &self,
        stage: &Stage,
        who: &str,
        observed: &HealthObserved,
    ) -> Option<String> {
        let Some(revision) = observed.status.revision.as_deref() else {
            return Some(format!(
                "{who}: Argo CD reports no synced revision yet; waiting for {}",
                short(&observed.commit)
            ));
        };
        if revision == observed.commit {
            return None;
        }
        match self.world.stage_version(&stage.name, Some(revision)) {
            Ok(version) if version == observed.version => None,
            Ok(version) => Some(format!(
                "{who}: Argo CD is at {} which holds {version}, not {} at {}; waiting",
                short(revision),
                observed.version,
                short(&observed.commit)
            )),
            Err(e) => Some(format!(
                "{who}: cannot tell which version revision {} holds ({e:?}); waiting",
                short(revision)
            )),
        }
    }

    /// The sync rule, ahead of any reading of health: a failed sync fails;
    /// while the app is not Synced, or a sync is still running, its health
    /// describes the previous deployment, so it waits. `None` once synced.
    pub fn sync_verdict(&self, stage: &Stage, observed: &HealthObserved) -> Option<Verdict> {
        sync_verdict_of(&stage.name, observed)
    }

    /// The reference verdict: first the sync rule ([`Flow::sync_verdict`]);
    /// then Degraded (the app or any resource) fails; Healthy passes;
    /// Progressing waits unless `progressing_is_waiting` is false; anything
    /// else (Suspended canary steps, Missing, Unknown) waits until the
    /// gate's timeout. A stage with several targets is judged target by
    /// target ([`Flow::targets_verdict`]).
    pub fn verdict(&self, stage: &Stage, observed: &HealthObserved) -> Verdict {
        if stage.targets.len() > 1 {
            return self.targets_verdict(stage, observed);
        }
        self.verdict_of(&stage.name, observed)
    }

    /// [`Flow::verdict`] of one application's observation, naming `who`.
    fn verdict_of(&self, who: &str, observed: &HealthObserved) -> Verdict {
        if let Some(verdict) = sync_verdict_of(who, observed) {
            return verdict;
        }
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
            return Verdict::Failed(format!("{who} is Degraded at {}{detail}", observed.version));
        }

        if is_healthy(status) {
            return Verdict::Healthy { seen };
        }

        // Everything short of Degraded waits for the gate's timeout (a canary
        // paused at a step is working as intended), except Progressing when
        // the settings say it must not.
        let waiting =
            status.health != HealthStatus::Progressing || self.settings.progressing_is_waiting;
        if waiting {
            Verdict::Waiting(match paused_canary(status) {
                Some(r) => format!("{who}: canary {} paused ({seen}); waiting", r.name),
                None => format!("{who}: {seen}; waiting"),
            })
        } else {
            Verdict::Failed(format!(
                "{who} is still Progressing and progressing_is_waiting is false"
            ))
        }
    }

    /// The verdict on a stage with several targets, from each target's
    /// latest observation in `observed.targets`: the first target that
    /// fails fails the stage (its reason names the target: `prod/us
    /// (payments-prod-us) is Degraded at v2`); else the first that is not
    /// there yet (no observation, another version, not synced, not healthy)
    /// keeps it waiting; else every target is Healthy and Synced and the
    /// stage passes, `seen` listing each.
    pub fn targets_verdict(&self, stage: &Stage, observed: &HealthObserved) -> Verdict {
        let mut waiting: Option<String> = None;
        let mut seen: Vec<String> = Vec::new();
        for target in &stage.targets {
            let who = target_name(stage, target);
            let verdict = match latest(&observed.targets, target) {
                None => Verdict::Waiting(format!(
                    "{who}: no observation at {} yet; waiting",
                    short(&observed.commit)
                )),
                Some(status) => {
                    let one = HealthObserved {
                        status: status.clone(),
                        ..observed.clone()
                    };
                    match self.off_version_of(stage, &who, &one) {
                        Some(why) => Verdict::Waiting(why),
                        None => self.verdict_of(&who, &one),
                    }
                }
            };
            match verdict {
                Verdict::Failed(why) => return Verdict::Failed(why),
                Verdict::Waiting(why) => {
                    waiting.get_or_insert(why);
                }
                Verdict::Healthy { seen: s } => seen.push(format!("{}: {s}", short_name(target))),
            }
        }
        match waiting {
            Some(why) => Verdict::Waiting(why),
            None => Verdict::Healthy {
                seen: seen.join("; "),
            },
        }
    }

    /// The reference answer to a health observation: keep waiting when it
    /// is not about the gated version ([`Flow::off_version`]), else act on
    /// the verdict.
    pub fn health_observed(&self, observed: &HealthObserved) -> Result<Decision, PolicyError> {
        let stage = self.stage(&observed.stage)?;
        // A stage with several targets checks each target's observation in
        // its verdict.
        if stage.targets.len() <= 1
            && let Some(why) = self.off_version(stage, observed)
        {
            return Ok(actions::nothing(why));
        }
        let verdict = self.verdict(stage, observed);
        self.act_on(stage, &observed.version, verdict)
    }

    /// Acts on a verdict about `stage` at `version`: promote on Healthy,
    /// keep waiting, or roll back and fail.
    pub fn act_on(
        &self,
        stage: &Stage,
        version: &str,
        verdict: Verdict,
    ) -> Result<Decision, PolicyError> {
        match verdict {
            Verdict::Healthy { seen } => match self.after_healthy(stage, version, seen)? {
                AfterHealthy::Done(decision) => Ok(decision),
                AfterHealthy::Promote { next, reason } => {
                    let channel = self.channel(
                        next,
                        self.settings.mr_labels_for(&next.name),
                        reason.clone(),
                    );
                    let decision = self.promote(next, version, channel, reason);
                    let digest = self.digest_held(stage, version);
                    Ok(with_digest(decision, version, digest.as_deref()))
                }
            },
            Verdict::Waiting(why) => Ok(actions::nothing(why)),
            Verdict::Failed(why) => self.roll_back_and_fail(stage, version, why),
        }
    }

    /// What follows `stage` being healthy at `version`: the end of the run
    /// after a rollback or at the last stage, else the next stage.
    pub fn after_healthy(
        &self,
        stage: &Stage,
        version: &str,
        seen: String,
    ) -> Result<AfterHealthy<'a>, PolicyError> {
        // A healthy rollback ends the run: a rolled-back version is not promoted.
        let latest = self
            .world
            .stage_history(&stage.name, 1)
            .map_err(capability)?;
        if let Some(bad) = latest.first().and_then(rolled_back_version) {
            return Ok(AfterHealthy::Done(Decision::from(vec![actions::hold(
                format!(
                    "{} is healthy at {version} after rolling back {bad}",
                    stage.name
                ),
            )])));
        }
        let Some(next) = self.ctx.next_stage(&stage.name) else {
            return Ok(AfterHealthy::Done(
                Decision::from(vec![actions::hold(format!(
                    "{version} is healthy in {}; promotion of {} complete",
                    stage.name, self.ctx.app
                ))])
                .because(seen),
            ));
        };
        Ok(AfterHealthy::Promote {
            next,
            reason: format!("{version} is healthy in {} ({seen})", stage.name),
        })
    }

    /// A gate that ran out of time rolls its stage back and fails.
    pub fn gate_timeout(&self, timeout: &GateTimeout) -> Result<Decision, PolicyError> {
        let stage = self.stage(&timeout.stage)?;
        let last = if stage.targets.len() > 1 {
            stage
                .targets
                .iter()
                .map(|t| {
                    format!(
                        "{}: {}",
                        short_name(t),
                        latest(&timeout.targets, t).map_or(NO_OBSERVATION.to_string(), describe)
                    )
                })
                .collect::<Vec<_>>()
                .join("; ")
        } else {
            timeout
                .last_status
                .as_ref()
                .map_or(NO_OBSERVATION.to_string(), describe)
        };
        let why = format!(
            "{} not healthy at {} within {}s (last: {last})",
            stage.name,
            timeout.version,
            timeout.elapsed / 1000
        );
        self.roll_back_and_fail(stage, &timeout.version, why)
    }
}

/// What a timeout says of a target that never reported at the gated commit.
const NO_OBSERVATION: &str = "no observation at the expected revision";

/// The sync rule ([`Flow::sync_verdict`]) for one application's
/// observation, naming `who`.
fn sync_verdict_of(who: &str, observed: &HealthObserved) -> Option<Verdict> {
    let status = &observed.status;
    let syncing = matches!(
        status.operation_phase,
        Some(OperationPhase::Running | OperationPhase::Terminating)
    );
    if status.sync == SyncStatus::Synced && !syncing {
        return None;
    }
    if status.sync != SyncStatus::Synced
        && matches!(
            status.operation_phase,
            Some(OperationPhase::Failed | OperationPhase::Error)
        )
    {
        return Some(Verdict::Failed(format!(
            "the sync of {who} to {} failed: {}",
            observed.version,
            status
                .operation_message
                .as_deref()
                .unwrap_or("no message from Argo CD")
        )));
    }
    Some(Verdict::Waiting(format!(
        "{who}: {}; waiting for the sync",
        describe(status)
    )))
}

/// The latest observation of `target` among `targets` (matched by label,
/// else by application), if one arrived.
fn latest<'t>(targets: &'t [TargetStatus], target: &Target) -> Option<&'t AppStatus> {
    targets
        .iter()
        .find(|t| !target.label.is_empty() && t.label == target.label)
        .or_else(|| targets.iter().find(|t| t.argocd_app == target.argocd_app))
        .and_then(|t| t.status.as_ref())
}

/// How reasons name a target of `stage`: `prod/us (payments-prod-us)`.
fn target_name(stage: &Stage, target: &Target) -> String {
    if target.label.is_empty() {
        format!("{} ({})", stage.name, target.argocd_app)
    } else {
        format!("{}/{} ({})", stage.name, target.label, target.argocd_app)
    }
}

/// A target's label, or its application when it has none.
fn short_name(target: &Target) -> &str {
    if target.label.is_empty() {
        &target.argocd_app
    } else {
        &target.label
    }
}

/// The first 7 characters of a commit id, as git shows it.
fn short(commit: &str) -> &str {
    commit.get(..7).unwrap_or(commit)
}
