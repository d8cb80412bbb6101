//! The decision function of the conservative policy: the standard flow,
//! with three brakes on promotions (rollbacks are never braked: a broken
//! stage is mended at once).

use baton_policy::flow::{AfterHealthy, Flow, Verdict, capability};
use baton_policy::settings::format_duration_ms;
use baton_policy::{
    CapabilityError, Channel, Context, Decision, Event, HealthObserved, Policy, PolicyError, Stage,
    World, actions,
};

use crate::config::ConservativeSettings;
use crate::version::{Major, compare};

/// The conservative policy.
pub struct ConservativePolicy;

impl Policy for ConservativePolicy {
    fn decide(ctx: &Context, event: &Event, world: &impl World) -> Result<Decision, PolicyError> {
        let settings = ConservativeSettings::parse(&ctx.settings)?;
        let prod = settings.prod_stage(ctx)?;
        let flow = Flow::new(ctx, world, &settings.flow);
        let policy = Conservative {
            flow,
            settings: &settings,
            prod,
        };
        match event {
            Event::NewVersion(new) => policy.new_version(&new.version),
            Event::HealthObserved(observed) => policy.health_observed(observed),
            Event::StageChanged(_)
            | Event::GateTimeout(_)
            | Event::RollbackRequested(_)
            | Event::Reconcile(_) => policy.flow.decide(event),
        }
    }
}

struct Conservative<'a, W: World + ?Sized> {
    flow: Flow<'a, W>,
    settings: &'a ConservativeSettings,
    prod: Option<&'a Stage>,
}

impl<W: World + ?Sized> Conservative<'_, W> {
    fn new_version(&self, version: &str) -> Result<Decision, PolicyError> {
        let first = self.flow.first_stage()?;
        let reason = format!("{version} is a new version of {}", self.flow.ctx().app);
        self.promote(first, version, reason)
    }

    fn health_observed(&self, observed: &HealthObserved) -> Result<Decision, PolicyError> {
        let stage = self.flow.stage(&observed.stage)?;
        if let Some(why) = self.flow.off_version(stage, observed) {
            return Ok(actions::nothing(why));
        }
        match self.flow.verdict(stage, observed) {
            Verdict::Healthy { seen } => {
                match self.flow.after_healthy(stage, &observed.version, seen)? {
                    AfterHealthy::Done(decision) => Ok(decision),
                    AfterHealthy::Promote { next, reason } => {
                        self.promote(next, &observed.version, reason)
                    }
                }
            }
            other => self.flow.act_on(stage, &observed.version, other),
        }
    }

    /// The flow's promotion of `version` to `stage`, braked: prod only after
    /// the soak time and inside the window; a major bump by merge request
    /// with the review label.
    fn promote(
        &self,
        stage: &Stage,
        version: &str,
        reason: String,
    ) -> Result<Decision, PolicyError> {
        if self.prod.is_some_and(|p| p.name == stage.name) {
            let now = self.flow.world().now();
            let waits: Vec<String> = [
                self.soak_wait(stage, version, now)?,
                self.window_wait(stage, now),
            ]
            .into_iter()
            .flatten()
            .collect();
            if !waits.is_empty() {
                return Ok(Decision::from(vec![actions::hold(waits.join("; "))]).because(reason));
            }
        }
        let labels = self.settings.flow.mr_labels_for(&stage.name);
        match self.major_change(stage, version)? {
            None => {
                let channel = self.flow.channel(stage, labels, reason.clone());
                Ok(self.flow.promote(stage, version, channel, reason))
            }
            Some(why) => {
                let reason = format!("{reason}; {why}");
                let mut labels = labels.to_vec();
                if !labels.contains(&self.settings.review_label) {
                    labels.push(self.settings.review_label.clone());
                }
                let channel = Channel::MergeRequest(actions::mr_options(reason.clone(), &labels));
                Ok(self.flow.promote(stage, version, channel, reason))
            }
        }
    }

    /// Why `version` has not soaked long enough in the stage before `prod`.
    fn soak_wait(
        &self,
        prod: &Stage,
        version: &str,
        now: i64,
    ) -> Result<Option<String>, PolicyError> {
        let soak = self.settings.staging_soak_ms;
        let ctx = self.flow.ctx();
        let before = ctx
            .stages
            .iter()
            .position(|s| s.name == prod.name)
            .and_then(|at| at.checked_sub(1))
            .and_then(|at| ctx.stages.get(at));
        let Some(before) = before.filter(|_| soak > 0) else {
            return Ok(None);
        };
        let latest = self
            .flow
            .world()
            .stage_history(&before.name, 1)
            .map_err(capability)?;
        let needed = format_duration_ms(soak);
        let Some(deployed) = latest.first().filter(|d| d.to_version == version) else {
            let now_at = latest.first().map_or("nothing", |d| d.to_version.as_str());
            return Ok(Some(format!(
                "{} holds {now_at}, not {version}; {version} must soak there for {needed} before {}",
                before.name, prod.name
            )));
        };
        // A commit time ahead of the host clock counts as no soak yet.
        let soaked = u64::try_from(now - deployed.time).unwrap_or(0);
        if soaked >= soak {
            return Ok(None);
        }
        let window = &self.settings.window;
        let ready = deployed.time.saturating_add_unsigned(soak);
        let when = if window.contains(ready) {
            format!("ready {}", window.local_time(ready))
        } else {
            format!(
                "ready {}, outside the {} window: earliest {}",
                window.local_time(ready),
                prod.name,
                window.local_time(window.next_opening(ready))
            )
        };
        Ok(Some(format!(
            "{version} has soaked in {} for {} of {needed}; {} to go ({when})",
            before.name,
            format_duration_ms(soaked),
            format_duration_ms(soak - soaked),
        )))
    }

    /// Why `prod` may not change at `now`.
    fn window_wait(&self, prod: &Stage, now: i64) -> Option<String> {
        let window = &self.settings.window;
        if window.contains(now) {
            return None;
        }
        let opening = window.next_opening(now);
        Some(format!(
            "{} changes only {}; next opening {} (in {})",
            prod.name,
            window.describe(),
            window.local_time(opening),
            format_duration_ms(u64::try_from(opening - now).unwrap_or(0))
        ))
    }

    /// Why moving `stage` to `version` needs review, if it crosses a major
    /// version (or the versions are not semver, so nobody can tell).
    fn major_change(&self, stage: &Stage, version: &str) -> Result<Option<String>, PolicyError> {
        let current = match self.flow.world().stage_version(&stage.name, None) {
            Ok(current) => current,
            // The stage's first deployment: there is nothing to bump.
            Err(CapabilityError::NotFound(_)) => return Ok(None),
            Err(other) => return Err(capability(other)),
        };
        Ok(match compare(&current, version) {
            Major::Same => None,
            Major::Differs => Some(format!(
                "major version bump {current} -> {version} needs review"
            )),
            Major::Unknown => Some(format!(
                "{current} -> {version} cannot be compared as semver and needs review"
            )),
        })
    }
}

#[cfg(test)]
mod tests;
