//! The decision function of the SLO policy: the standard flow, with a
//! metrics bake between a stage turning Healthy and Synced and the run
//! moving on.

use baton_policy::flow::{Flow, Verdict};
use baton_policy::history::rolled_back_version;
use baton_policy::settings::format_duration_ms;
use baton_policy::{
    Context, Decision, Event, GateTimeout, HealthObserved, HealthStatus, Policy, PolicyError,
    Stage, SyncStatus, World, actions,
};

use crate::check::{self, Query, Reading, show};
use crate::config::{NoData, SloSettings};

/// Range queries stay below Prometheus' limit of 11,000 points a series.
const MAX_POINTS: u64 = 10_000;

/// The SLO policy.
pub struct SloPolicy;

impl Policy for SloPolicy {
    fn decide(ctx: &Context, event: &Event, world: &impl World) -> Result<Decision, PolicyError> {
        let settings = SloSettings::parse(&ctx.settings)?;
        settings.check_against_host(ctx)?;
        let flow = Flow::new(ctx, world, &settings.flow);
        match event {
            Event::HealthObserved(observed) => health_observed(&flow, &settings, observed),
            Event::GateTimeout(timeout) => gate_timeout(&flow, &settings, timeout),
            Event::NewVersion(_)
            | Event::StageChanged(_)
            | Event::RollbackRequested(_)
            | Event::Reconcile(_) => flow.decide(event),
        }
    }
}

/// One observation of a gated stage. Until it is about the gated version,
/// synced and Healthy, the flow decides (wait, or roll back a Degraded
/// stage). A Healthy stage then bakes: before `bake` has passed since the
/// gate began, each observation reads the indicators now (a breach rolls
/// back at once) and keeps the gate open with `recheck-after`, so the
/// policy is asked again without new Argo CD news; after it, the whole
/// window since the gate began is read, and only a clean one lets the
/// flow move the version on. A healthy rollback is not baked: the version
/// it went back to is the last known good one.
fn health_observed(
    flow: &Flow<'_, impl World + ?Sized>,
    settings: &SloSettings,
    observed: &HealthObserved,
) -> Result<Decision, PolicyError> {
    let stage = flow.stage(&observed.stage)?;
    if let Some(why) = flow.off_version(stage, observed) {
        return Ok(actions::nothing(why));
    }
    let seen = match flow.verdict(stage, observed) {
        Verdict::Healthy { seen } => seen,
        other => return flow.act_on(stage, &observed.version, other),
    };
    if is_rollback(flow, stage)? {
        return flow.act_on(stage, &observed.version, Verdict::Healthy { seen });
    }
    let bake = Bake {
        flow,
        settings,
        stage,
        observed,
        queries: check::queries(&settings.indicators, &flow.ctx().app, stage),
        bake_ms: settings.bake_ms(&stage.name),
    };
    if observed.elapsed < bake.bake_ms {
        bake.during(&seen)
    } else {
        bake.over(seen)
    }
}

/// Is the stage's newest deployment a rollback?
fn is_rollback(flow: &Flow<'_, impl World + ?Sized>, stage: &Stage) -> Result<bool, PolicyError> {
    let latest = flow
        .world()
        .stage_history(&stage.name, 1)
        .map_err(baton_policy::flow::capability)?;
    Ok(latest.first().and_then(rolled_back_version).is_some())
}

/// One stage's bake, as one observation sees it.
struct Bake<'a, W: World + ?Sized> {
    flow: &'a Flow<'a, W>,
    settings: &'a SloSettings,
    stage: &'a Stage,
    observed: &'a HealthObserved,
    queries: Vec<Query<'a>>,
    bake_ms: u64,
}

impl<W: World + ?Sized> Bake<'_, W> {
    /// `dev at v1.2.3`.
    fn subject(&self) -> String {
        format!("{} at {}", self.stage.name, self.observed.version)
    }

    fn fail(&self, why: String) -> Result<Decision, PolicyError> {
        self.flow
            .roll_back_and_fail(self.stage, &self.observed.version, why)
    }

    /// Keeps the gate open and asks to be called again within `after_ms`.
    fn keep_waiting(&self, why: String, after_ms: u64) -> Decision {
        let mut decision = actions::nothing(why);
        decision.recheck_after = Some(after_ms.max(1));
        decision
    }

    /// Still baking: the indicators now.
    fn during(&self, seen: &str) -> Result<Decision, PolicyError> {
        let elapsed = self.observed.elapsed;
        let mut notes = Vec::new();
        for query in &self.queries {
            let indicator = query.indicator;
            match check::instant(self.flow.world(), query)? {
                Reading::Breach { value, labels, .. } => {
                    return self.fail(format!(
                        "{}: {}{labels} is {}, above its maximum {}, {} into the {} bake ({})",
                        self.subject(),
                        indicator.name,
                        show(value),
                        show(indicator.max),
                        format_duration_ms(elapsed),
                        format_duration_ms(self.bake_ms),
                        query.promql
                    ));
                }
                Reading::Within { worst } => notes.push(format!(
                    "{} {} (max {})",
                    indicator.name,
                    show(worst),
                    show(indicator.max)
                )),
                Reading::NoData => notes.push(format!("{}: no data yet", indicator.name)),
                Reading::Unavailable(why) => {
                    notes.push(format!("{}: cannot be read now ({why})", indicator.name));
                }
            }
        }
        let next = self
            .settings
            .interval_ms
            .min(self.bake_ms.saturating_sub(elapsed));
        Ok(self.keep_waiting(
            format!(
                "{}: {seen}; baking, {} of {}: {}; checking again in {}",
                self.subject(),
                format_duration_ms(elapsed),
                format_duration_ms(self.bake_ms),
                notes.join(", "),
                format_duration_ms(next)
            ),
            next,
        ))
    }

    /// The bake is over: the whole window since the gate began must be
    /// clean before the flow moves the version on.
    fn over(&self, seen: String) -> Result<Decision, PolicyError> {
        let now = self.flow.world().now();
        let elapsed = i64::try_from(self.observed.elapsed).unwrap_or(i64::MAX);
        let start = now.saturating_sub(elapsed);
        let step = self
            .settings
            .interval_ms
            .max(self.observed.elapsed.div_ceil(MAX_POINTS));
        let bake = format_duration_ms(self.bake_ms);
        let mut summary = Vec::new();
        for query in &self.queries {
            let indicator = query.indicator;
            match check::window(self.flow.world(), query, start, now, step)? {
                Reading::Breach {
                    value,
                    labels,
                    time,
                } => {
                    return self.fail(format!(
                        "{}: {}{labels} reached {}, above its maximum {}, {} ({})",
                        self.subject(),
                        indicator.name,
                        show(value),
                        show(indicator.max),
                        check::into_bake(time, start),
                        query.promql
                    ));
                }
                Reading::Within { worst } => summary.push(format!(
                    "{} at most {} (max {})",
                    indicator.name,
                    show(worst),
                    show(indicator.max)
                )),
                Reading::NoData if self.settings.no_data == NoData::Pass => {
                    summary.push(format!("{}: no data (no_data: pass)", indicator.name));
                }
                Reading::NoData => {
                    return self.fail(format!(
                        "{}: no {} data during the {bake} bake, so it cannot be called clean \
                         (no_data: fail) ({})",
                        self.subject(),
                        indicator.name,
                        query.promql
                    ));
                }
                Reading::Unavailable(why) => {
                    let next = self.settings.interval_ms;
                    return Ok(self.keep_waiting(
                        format!(
                            "{}: {seen}; the {bake} bake is over but {} cannot be read ({why}); \
                             checking again in {}",
                            self.subject(),
                            indicator.name,
                            format_duration_ms(next)
                        ),
                        next,
                    ));
                }
            }
        }
        let seen = format!("{seen}; clean {bake} bake: {}", summary.join(", "));
        self.flow.act_on(
            self.stage,
            &self.observed.version,
            Verdict::Healthy { seen },
        )
    }
}

/// A gate that ran out of time: a stage last seen Healthy and Synced timed
/// out in its bake (the indicators could not be read to the end), which
/// the message says; anything else is the flow's timeout. Either way the
/// stage rolls back and the run fails.
fn gate_timeout(
    flow: &Flow<'_, impl World + ?Sized>,
    settings: &SloSettings,
    timeout: &GateTimeout,
) -> Result<Decision, PolicyError> {
    let stage = flow.stage(&timeout.stage)?;
    let healthy = timeout
        .last_status
        .as_ref()
        .is_some_and(|s| s.health == HealthStatus::Healthy && s.sync == SyncStatus::Synced);
    if !healthy {
        return flow.gate_timeout(timeout);
    }
    let why = format!(
        "{} at {} was Healthy but its {} bake did not complete within the gate's {}s \
         (the indicators could not be read)",
        stage.name,
        timeout.version,
        format_duration_ms(settings.bake_ms(&stage.name)),
        timeout.elapsed / 1000
    );
    flow.roll_back_and_fail(stage, &timeout.version, why)
}

#[cfg(test)]
mod tests;
