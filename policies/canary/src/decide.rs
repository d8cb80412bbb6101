//! The decision function of the canary policy: the standard flow, with
//! Argo Rollouts read first on every health observation.

use baton_policy::flow::Flow;
use baton_policy::health::{aborted_rollout, mentions_abort, paused_rollout};
use baton_policy::settings::format_duration_ms;
use baton_policy::{
    Context, Decision, Event, HealthObserved, HealthStatus, Policy, PolicyError, World, actions,
};

use crate::config::CanarySettings;

/// The canary policy.
pub struct CanaryPolicy;

impl Policy for CanaryPolicy {
    fn decide(ctx: &Context, event: &Event, world: &impl World) -> Result<Decision, PolicyError> {
        let settings = CanarySettings::parse(&ctx.settings)?;
        let flow = Flow::new(ctx, world, &settings.flow);
        match event {
            Event::HealthObserved(observed) => health_observed(&flow, &settings, observed),
            Event::NewVersion(_)
            | Event::StageChanged(_)
            | Event::GateTimeout(_)
            | Event::RollbackRequested(_)
            | Event::Reconcile(_) => flow.decide(event),
        }
    }
}

/// Once the observation is about the gated version and synced (the flow's
/// rules: until then, health describes the previous deployment), an aborted
/// Rollout fails the gate at once and a paused one keeps it waiting until
/// `max_pause` of gate time; anything else is judged by the flow (Healthy
/// and Synced promotes).
fn health_observed(
    flow: &Flow<'_, impl World + ?Sized>,
    settings: &CanarySettings,
    observed: &HealthObserved,
) -> Result<Decision, PolicyError> {
    let stage = flow.stage(&observed.stage)?;
    if let Some(why) = flow.off_version(stage, observed) {
        return Ok(actions::nothing(why));
    }
    if let Some(verdict) = flow.sync_verdict(stage, observed) {
        return flow.act_on(stage, &observed.version, verdict);
    }
    let status = &observed.status;

    let aborted = aborted_rollout(status)
        .map(|r| {
            format!(
                "Rollout {} was aborted ({})",
                r.name,
                r.message.as_deref().unwrap_or_default()
            )
        })
        .or_else(|| {
            status
                .health_message
                .as_deref()
                .filter(|m| status.health == HealthStatus::Degraded && mentions_abort(m))
                .map(|m| format!("its rollout was aborted ({m})"))
        });
    if let Some(aborted) = aborted {
        let why = format!("{} at {}: {aborted}", stage.name, observed.version);
        return flow.roll_back_and_fail(stage, &observed.version, why);
    }

    // The policy is stateless: the pause can have begun no earlier than the
    // gate, so the gate's elapsed time bounds it.
    if let Some(paused) = paused_rollout(status) {
        let step = paused.message.as_deref().unwrap_or("paused");
        let limit = format_duration_ms(settings.max_pause_ms);
        if observed.elapsed > settings.max_pause_ms {
            let why = format!(
                "{}: Rollout {} still paused ({step}) at {} after {}, over max_pause {limit}",
                stage.name,
                paused.name,
                observed.version,
                format_duration_ms(observed.elapsed)
            );
            return flow.roll_back_and_fail(stage, &observed.version, why);
        }
        return Ok(actions::nothing(format!(
            "{}: Rollout {} paused ({step}) at {}, {} into the gate of max_pause {limit}; waiting",
            stage.name,
            paused.name,
            observed.version,
            format_duration_ms(observed.elapsed)
        )));
    }

    flow.act_on(stage, &observed.version, flow.verdict(stage, observed))
}

#[cfg(test)]
mod tests;
