//! The standard promotion flow, as reusable steps: the reference policy's
//! decisions, for policies that follow it and change a few rules.
//!
//! - A new version goes to the first stage by direct commit when the
//!   guardrails allow it (a merge request otherwise), then its health is
//!   gated; later stages always get a merge request.
//! - A healthy stage promotes the version to the next stage; the last stage
//!   completes the promotion; a healthy rollback ends the run.
//! - A stage changed in the env repo outside Baton (neither a Baton commit
//!   nor a merge request Baton opened: `origin` is `out-of-band`) is not
//!   gated or promoted: the run fails loudly, naming the commit, so the
//!   change is reviewed instead of passing as a promotion.
//! - A stage changed in the env repo is gated the same way.
//! - A stage a scheduled run reconciles (`baton reconcile`) resumes a
//!   promotion that stopped after it: when it holds a version (not after a
//!   rollback) that the next stage lacks, and the next stage has not
//!   changed since, it is gated again and a pass promotes as above (a hold,
//!   such as a closed window, holds again until a later run).
//! - A failed gate (Degraded, still Progressing when that is not allowed,
//!   or a timeout) rolls the stage back to its last good version and fails.
//! - A requested rollback goes to the given version or the last good one.
//! - An image digest goes along with its version ([`with_digest`]): from
//!   `new-version` to the first stage, from a healthy stage to the next,
//!   and back to the digest a rolled-back-to version was deployed with.
//!
//! [`Flow::decide`] is the whole reference policy. A policy that changes a
//! rule handles the events it cares about itself and composes the steps
//! ([`Flow::verdict`], [`Flow::after_healthy`], [`Flow::promote`],
//! [`Flow::roll_back_and_fail`], ...) for the rest:
//!
//! ```
//! use baton_policy::flow::{AfterHealthy, Flow, FlowSettings, Verdict};
//! use baton_policy::{Context, Decision, Event, Policy, PolicyError, World};
//!
//! /// The reference flow, except that prod is never promoted automatically.
//! struct NoProd;
//!
//! impl Policy for NoProd {
//!     fn decide(ctx: &Context, event: &Event, world: &impl World) -> Result<Decision, PolicyError> {
//!         let settings = FlowSettings::parse(&ctx.settings)?;
//!         let flow = Flow::new(ctx, world, &settings);
//!         let Event::HealthObserved(observed) = event else {
//!             return flow.decide(event);
//!         };
//!         let stage = flow.stage(&observed.stage)?;
//!         match flow.verdict(stage, observed) {
//!             Verdict::Healthy { seen } => match flow.after_healthy(stage, &observed.version, seen)? {
//!                 AfterHealthy::Promote { next, .. } if next.name == "prod" => Ok(Decision::from(vec![
//!                     baton_policy::actions::hold("prod is promoted by hand"),
//!                 ])),
//!                 AfterHealthy::Promote { next, reason } => {
//!                     let channel = flow.channel(next, settings.mr_labels_for(&next.name), reason.clone());
//!                     Ok(flow.promote(next, &observed.version, channel, reason))
//!                 }
//!                 AfterHealthy::Done(decision) => Ok(decision),
//!             },
//!             other => flow.act_on(stage, &observed.version, other),
//!         }
//!     }
//! }
//! ```

mod digest;
mod gate;
mod rollback;
mod settings;

pub use digest::{digest_deployed, with_digest};
pub use gate::{AfterHealthy, Verdict};
pub use settings::FlowSettings;

use crate::history::rolled_back_version;
use crate::{
    CapabilityError, ChangeOrigin, Channel, Context, Decision, Event, PolicyError, Reconcile,
    Stage, StageChanged, World, actions,
};

/// How many deployments to read, at most, when looking for the last good
/// version.
pub const HISTORY_DEPTH: u32 = 200;

/// The growing limits [`Flow::last_good`] reads a stage's history with, up
/// to [`HISTORY_DEPTH`]. The answer is almost always one or two
/// deployments back, and a stage's deployments can be thousands of commits
/// apart in a large env repo, where the host walks and fetches history on
/// demand: a short read first spares it the whole depth.
pub const HISTORY_STEPS: [u32; 4] = [4, 16, 64, HISTORY_DEPTH];

/// The standard flow for one decision: the context, the world and the
/// flow's settings.
///
/// Generic over the world so that a component links only the capabilities
/// its decisions call (see [least privilege](crate#least-privilege));
/// `Flow<'a>` is the flow over `dyn World`, for code that names the type.
pub struct Flow<'a, W: World + ?Sized = dyn World> {
    ctx: &'a Context,
    world: &'a W,
    settings: &'a FlowSettings,
}

impl<'a, W: World + ?Sized> Flow<'a, W> {
    /// The flow for one `decide` call.
    pub fn new(ctx: &'a Context, world: &'a W, settings: &'a FlowSettings) -> Self {
        Self {
            ctx,
            world,
            settings,
        }
    }

    /// The reference policy's answer to `event`.
    pub fn decide(&self, event: &Event) -> Result<Decision, PolicyError> {
        match event {
            Event::NewVersion(new) => self
                .new_version(&new.version)
                .map(|d| with_digest(d, &new.version, new.digest.as_deref())),
            Event::StageChanged(changed) => self.stage_changed(changed),
            Event::HealthObserved(observed) => self.health_observed(observed),
            Event::GateTimeout(timeout) => self.gate_timeout(timeout),
            Event::RollbackRequested(request) => self.rollback_requested(request),
            Event::Reconcile(reconcile) => self.reconcile(reconcile),
        }
    }

    /// The context of this call.
    pub fn ctx(&self) -> &'a Context {
        self.ctx
    }

    /// The world of this call.
    pub fn world(&self) -> &'a W {
        self.world
    }

    /// The flow's settings.
    pub fn settings(&self) -> &'a FlowSettings {
        self.settings
    }

    /// The stage called `name`; an event naming another stage is invalid.
    pub fn stage(&self, name: &str) -> Result<&'a Stage, PolicyError> {
        self.ctx.stage(name).ok_or_else(|| {
            PolicyError::InvalidEvent(format!("app {} has no stage {name}", self.ctx.app))
        })
    }

    /// The first stage, where new versions enter.
    pub fn first_stage(&self) -> Result<&'a Stage, PolicyError> {
        self.ctx
            .first_stage()
            .ok_or_else(|| PolicyError::InvalidEvent(format!("app {} has no stages", self.ctx.app)))
    }

    /// Direct commits only where the guardrails allow them and only for the
    /// first stage: later stages always get a reviewable merge request.
    pub fn channel(&self, stage: &Stage, labels: &[String], description: String) -> Channel {
        let first = self.ctx.first_stage().is_some_and(|s| s.name == stage.name);
        if first && stage.direct_commit_allowed {
            Channel::DirectCommit
        } else {
            Channel::MergeRequest(actions::mr_options(description, labels))
        }
    }

    /// Sets `stage` to `version` through `channel`, then gates its health
    /// (direct commit) or holds until a person merges (merge request).
    pub fn promote(
        &self,
        stage: &Stage,
        version: &str,
        channel: Channel,
        reason: String,
    ) -> Decision {
        let direct = matches!(channel, Channel::DirectCommit);
        let mut acts = vec![actions::merge_or_commit(
            stage,
            version,
            channel,
            reason.clone(),
        )];
        if direct {
            acts.push(actions::await_health(
                &stage.name,
                version,
                self.settings.health_timeout_ms(&stage.name),
            ));
        } else {
            acts.push(actions::hold(format!(
                "waiting for the {} merge request to be merged",
                stage.name
            )));
        }
        Decision::from(acts).because(reason)
    }

    /// A new version goes to the first stage.
    pub fn new_version(&self, version: &str) -> Result<Decision, PolicyError> {
        let first = self.first_stage()?;
        let reason = format!("{version} is a new version of {}", self.ctx.app);
        let channel = self.channel(
            first,
            self.settings.mr_labels_for(&first.name),
            reason.clone(),
        );
        Ok(self.promote(first, version, channel, reason))
    }

    /// A changed stage is gated; a change that arrived outside Baton fails
    /// the run instead ([`Flow::out_of_band`]).
    pub fn stage_changed(&self, changed: &StageChanged) -> Result<Decision, PolicyError> {
        let stage = self.stage(&changed.stage)?;
        if changed.origin == ChangeOrigin::OutOfBand {
            return Ok(self.out_of_band(changed));
        }
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

    /// A stage changed outside Baton: nothing is gated or promoted on it,
    /// and the run fails with a reason that names the change.
    pub fn out_of_band(&self, changed: &StageChanged) -> Decision {
        let commit = &changed.commit[..changed.commit.len().min(12)];
        let why = format!(
            "{} changed {} -> {} out of band (commit {commit}: neither a Baton commit nor a \
             merge request Baton opened); not gating or promoting it: review the change, then \
             promote through Baton",
            changed.stage,
            changed.from_version.as_deref().unwrap_or("(none)"),
            changed.to_version
        );
        Decision::from(vec![actions::fail(why.clone())]).because(why)
    }

    /// A reconciled stage resumes the promotion of the version it holds
    /// when there is one to resume ([`Flow::nothing_to_resume`]): it is
    /// gated again, and a healthy verdict promotes to the next stage as
    /// after any gate. Idempotent: the host reuses the open merge request
    /// and writes nothing twice.
    pub fn reconcile(&self, reconcile: &Reconcile) -> Result<Decision, PolicyError> {
        let stage = self.stage(&reconcile.stage)?;
        let Some(version) = &reconcile.version else {
            return Ok(actions::nothing(format!(
                "{} holds no version; nothing to reconcile",
                stage.name
            )));
        };
        if let Some(why) = self.nothing_to_resume(stage, version, reconcile.commit.as_deref())? {
            return Ok(actions::nothing(why));
        }
        let next = self
            .ctx
            .next_stage(&stage.name)
            .map_or("the next stage", |n| n.name.as_str());
        Ok(Decision::from(vec![actions::await_health(
            &stage.name,
            version,
            self.settings.health_timeout_ms(&stage.name),
        )])
        .because(format!(
            "reconciling {}: {next} lacks {version}; gating {} at {version} to resume the promotion",
            stage.name, stage.name
        )))
    }

    /// Why `stage`, holding `version` since `commit` (its newest
    /// deployment), has no promotion to resume, if it has none: it is the
    /// last stage; its newest deployment was a rollback; the next stage
    /// already holds `version`; or the next stage changed since `commit`
    /// (it moved on, or back, after this stage got `version`).
    pub fn nothing_to_resume(
        &self,
        stage: &Stage,
        version: &str,
        commit: Option<&str>,
    ) -> Result<Option<String>, PolicyError> {
        let Some(next) = self.ctx.next_stage(&stage.name) else {
            return Ok(Some(format!(
                "{version} is in {}, the last stage; nothing to resume",
                stage.name
            )));
        };
        let latest = self
            .world
            .stage_history(&stage.name, 1)
            .map_err(capability)?;
        if let Some(bad) = latest.first().and_then(rolled_back_version) {
            return Ok(Some(format!(
                "{} is at {version} after rolling back {bad}; nothing to resume",
                stage.name
            )));
        }
        let now = self.version_of(next, None)?;
        if now.as_deref() == Some(version) {
            return Ok(Some(format!(
                "{} already holds {version}; nothing to resume",
                next.name
            )));
        }
        if let Some(commit) = commit {
            let then = self.version_of(next, Some(commit))?;
            if then != now {
                let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "(none)".into());
                return Ok(Some(format!(
                    "{} changed since {} got {version} ({} -> {}); nothing to resume",
                    next.name,
                    stage.name,
                    show(&then),
                    show(&now)
                )));
            }
        }
        Ok(None)
    }

    /// The version `stage` holds at `revision` (the tip when `None`);
    /// `None` when it holds none there.
    fn version_of(
        &self,
        stage: &Stage,
        revision: Option<&str>,
    ) -> Result<Option<String>, PolicyError> {
        match self.world.stage_version(&stage.name, revision) {
            Ok(version) => Ok(Some(version)),
            Err(CapabilityError::NotFound(_)) => Ok(None),
            Err(other) => Err(capability(other)),
        }
    }
}

/// A capability call failed and the flow cannot go on.
pub fn capability(err: CapabilityError) -> PolicyError {
    PolicyError::Capability(format!("{err:?}"))
}

#[cfg(test)]
mod tests;
