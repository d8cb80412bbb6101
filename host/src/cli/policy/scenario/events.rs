//! Events of scenario steps: the WIT event a step names, with its defaults
//! taken from the simulated world at the step's time (the commit of the
//! version's newest deployment, the time since it, `status: argocd`, how
//! the change arrived, each target's observation).

use super::file::{
    EventFile, GateTimeoutFile, HealthObservedFile, ReconcileFile, RollbackRequestedFile,
    StageChangedFile, StatusRef,
};
use super::resolve::{Problem, Resolver, problem};
use crate::runtime::{
    AppStatus, ChangeOrigin, Event, GateTimeout, HealthObserved, HealthStatus, NewVersion,
    Reconcile, RollbackRequested, StageChanged, TargetStatus,
};

impl Resolver {
    /// The event of a step and a default case name for it.
    pub(super) fn event(
        &self,
        field: &str,
        now: i64,
        e: EventFile,
    ) -> Result<(Event, String), Problem> {
        exactly_one(field, &e)?;
        if let Some(n) = e.new_version {
            let label = format!("new-version {}", n.version);
            let event = NewVersion {
                version: n.version,
                digest: n.digest,
            };
            return Ok((Event::NewVersion(event), label));
        }
        if let Some(c) = e.stage_changed {
            return self.stage_changed(field, now, c);
        }
        if let Some(h) = e.health_observed {
            return self.health_observed(field, now, h);
        }
        if let Some(t) = e.gate_timeout {
            return self.gate_timeout(field, now, t);
        }
        if let Some(r) = e.rollback_requested {
            let by = if self.lone {
                "policy eval"
            } else {
                "the scenario"
            };
            return Ok(rollback_requested(r, by));
        }
        if let Some(r) = e.reconcile {
            return self.reconcile(field, now, r);
        }
        Err(problem(field, "no event given"))
    }

    fn stage_changed(
        &self,
        field: &str,
        now: i64,
        c: StageChangedFile,
    ) -> Result<(Event, String), Problem> {
        let field = format!("{field}.stage-changed");
        let deployed = self.world.deployment_of(&c.stage, &c.to_version, now);
        let commit = self.commit(&field, &c.stage, &c.to_version, c.commit, now)?;
        let label = format!("stage-changed {} {}", c.stage, c.to_version);
        let event = StageChanged {
            from_version: c
                .from_version
                .or_else(|| deployed.and_then(|d| d.from_version.clone())),
            is_rollback: c.is_rollback.unwrap_or_else(|| {
                deployed.is_some_and(|d| {
                    d.trailers
                        .iter()
                        .any(|t| t.key.eq_ignore_ascii_case("Baton-Rollback-Of"))
                })
            }),
            digest: c.digest.or_else(|| deployed.and_then(|d| d.digest.clone())),
            origin: c.origin.map_or_else(
                || deployed.map_or(ChangeOrigin::BatonCommit, |d| d.origin),
                Into::into,
            ),
            stage: c.stage,
            to_version: c.to_version,
            commit,
        };
        Ok((Event::StageChanged(event), label))
    }

    fn health_observed(
        &self,
        field: &str,
        now: i64,
        h: HealthObservedFile,
    ) -> Result<(Event, String), Problem> {
        let field = format!("{field}.health-observed");
        let commit = self.commit(&field, &h.stage, &h.version, h.commit, now)?;
        let elapsed = h
            .elapsed
            .map_or_else(|| self.elapsed(&commit, now), |d| d.0);
        let app = self.target_app(&field, &h.stage, h.target.as_deref())?;
        let status = self.status(&format!("{field}.status"), &h.stage, &app, h.status, now)?;
        let label = match &h.target {
            Some(target) => format!(
                "health-observed {} {target} {}",
                h.stage,
                health_name(status.health)
            ),
            None => format!("health-observed {} {}", h.stage, health_name(status.health)),
        };
        let event = HealthObserved {
            targets: self.targets(&h.stage, Some((&app, &status)), now),
            stage: h.stage,
            version: h.version,
            commit,
            elapsed,
            status,
        };
        Ok((Event::HealthObserved(event), label))
    }

    fn gate_timeout(
        &self,
        field: &str,
        now: i64,
        t: GateTimeoutFile,
    ) -> Result<(Event, String), Problem> {
        let field = format!("{field}.gate-timeout");
        let commit = self.commit(&field, &t.stage, &t.version, t.commit, now)?;
        let elapsed = t
            .elapsed
            .map_or_else(|| self.elapsed(&commit, now), |d| d.0);
        let last_status = match t.last_status {
            None => None,
            Some(StatusRef::Argocd) if !self.lone => self
                .argocd_app(&t.stage)
                .and_then(|app| self.world.observation(app, now))
                .cloned(),
            Some(inline) => {
                let app = self.argocd_app(&t.stage).unwrap_or_default().to_owned();
                let field = format!("{field}.last_status");
                Some(self.status(&field, &t.stage, &app, inline, now)?)
            }
        };
        let label = format!("gate-timeout {} {}", t.stage, t.version);
        let first = self.argocd_app(&t.stage).unwrap_or_default().to_owned();
        let event = GateTimeout {
            targets: self.targets(
                &t.stage,
                last_status.as_ref().map(|s| (first.as_str(), s)),
                now,
            ),
            stage: t.stage,
            version: t.version,
            commit,
            elapsed,
            last_status,
        };
        Ok((Event::GateTimeout(event), label))
    }

    fn reconcile(
        &self,
        field: &str,
        now: i64,
        r: ReconcileFile,
    ) -> Result<(Event, String), Problem> {
        let field = format!("{field}.reconcile");
        let Some(stage) = self.world.stage(&r.stage) else {
            return Err(problem(
                format!("{field}.stage"),
                format!("no stage {} in context.stages", r.stage),
            ));
        };
        let newest = self.world.visible(stage, now).next();
        let version = r.version.or_else(|| {
            stage
                .version
                .clone()
                .or_else(|| newest.map(|d| d.to_version.clone()))
        });
        let label = format!(
            "reconcile {} at {}",
            r.stage,
            version.as_deref().unwrap_or("(none)")
        );
        let event = Reconcile {
            stage: r.stage,
            version,
            digest: r.digest.or_else(|| newest.and_then(|d| d.digest.clone())),
            commit: r.commit.or_else(|| newest.map(|d| d.commit.clone())),
            origin: r.origin.map_or_else(
                || newest.map_or(ChangeOrigin::BatonCommit, |d| d.origin),
                Into::into,
            ),
        };
        Ok((Event::Reconcile(event), label))
    }

    /// Every target of `stage` with its observation at `now`: the target
    /// of application `given.0` has `given.1` (the event's own
    /// observation), the others the latest observation of their
    /// application in the `argocd` section.
    fn targets(
        &self,
        stage: &str,
        given: Option<(&str, &AppStatus)>,
        now: i64,
    ) -> Vec<TargetStatus> {
        let Some(stage) = self.context.stages.iter().find(|s| s.name == stage) else {
            return Vec::new();
        };
        stage
            .targets
            .iter()
            .map(|t| TargetStatus {
                label: t.label.clone(),
                argocd_app: t.argocd_app.clone(),
                status: match given {
                    Some((app, status)) if app == t.argocd_app || stage.targets.len() == 1 => {
                        Some(status.clone())
                    }
                    _ => self.world.observation(&t.argocd_app, now).cloned(),
                },
            })
            .collect()
    }

    /// The Argo CD application of `stage`'s target labelled `target`, or
    /// of the stage (its first target) when none is named.
    fn target_app(
        &self,
        field: &str,
        stage: &str,
        target: Option<&str>,
    ) -> Result<String, Problem> {
        let Some(label) = target else {
            return Ok(self.argocd_app(stage).unwrap_or_default().to_owned());
        };
        let targets = self
            .context
            .stages
            .iter()
            .find(|s| s.name == stage)
            .map(|s| s.targets.as_slice())
            .unwrap_or_default();
        targets
            .iter()
            .find(|t| t.label == label)
            .map(|t| t.argocd_app.clone())
            .ok_or_else(|| {
                problem(
                    format!("{field}.target"),
                    format!(
                        "stage {stage} has no target {label:?} (targets: {})",
                        targets
                            .iter()
                            .map(|t| t.label.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
            })
    }

    /// The commit of an event: as given, or the newest visible deployment
    /// of `version` to `stage`.
    fn commit(
        &self,
        field: &str,
        stage: &str,
        version: &str,
        given: Option<String>,
        now: i64,
    ) -> Result<String, Problem> {
        if let Some(commit) = given {
            return Ok(commit);
        }
        if self.lone {
            return Err(problem(
                format!("{field}.commit"),
                "give the commit: policy eval has no deployment history to take it from",
            ));
        }
        self.world
            .deployment_of(stage, version, now)
            .map(|d| d.commit.clone())
            .ok_or_else(|| {
                problem(
                    format!("{field}.commit"),
                    format!(
                        "no deployment of {version} in env_repo.stages.{stage}.history at {}; \
                         add one or give the commit",
                        self.offset(now)
                    ),
                )
            })
    }

    /// Time since `commit` was pushed, when the history knows it.
    fn elapsed(&self, commit: &str, now: i64) -> u64 {
        self.world
            .commit(commit, now)
            .map_or(0, |d| u64::try_from(now - d.time).unwrap_or(0))
    }

    /// A status reference of application `app` of `stage` resolved at
    /// `now`; `argocd` must have an observation by then.
    fn status(
        &self,
        field: &str,
        stage: &str,
        app: &str,
        status: StatusRef,
        now: i64,
    ) -> Result<AppStatus, Problem> {
        match status {
            StatusRef::Inline(o) => Ok(self.observation(app, *o, now).1),
            StatusRef::Argocd if self.lone => Err(problem(
                field,
                "`argocd` reads a scenario's argocd section, which policy eval has none of; \
                 write the observation, e.g. { health: Healthy, revision: 9c41d07e2b66 }",
            )),
            StatusRef::Argocd => {
                if self.argocd_app(stage).is_none() {
                    return Err(problem(
                        field,
                        format!("`argocd` needs a stage of context.stages; {stage} is none"),
                    ));
                }
                match self.world.observation(app, now) {
                    Some(status) => Ok(status.clone()),
                    None => Err(problem(
                        field,
                        format!(
                            "no Argo CD observation of {app} at or before {} in argocd.{app}",
                            self.offset(now)
                        ),
                    )),
                }
            }
        }
    }
}

/// Health as Argo CD spells it, for case names.
fn health_name(health: HealthStatus) -> &'static str {
    match health {
        HealthStatus::Healthy => "Healthy",
        HealthStatus::Progressing => "Progressing",
        HealthStatus::Degraded => "Degraded",
        HealthStatus::Suspended => "Suspended",
        HealthStatus::Missing => "Missing",
        HealthStatus::Unknown => "Unknown",
    }
}

/// The step names exactly one event.
fn exactly_one(field: &str, e: &EventFile) -> Result<(), Problem> {
    let given = [
        e.new_version.is_some().then_some("new-version"),
        e.stage_changed.is_some().then_some("stage-changed"),
        e.health_observed.is_some().then_some("health-observed"),
        e.gate_timeout.is_some().then_some("gate-timeout"),
        e.rollback_requested
            .is_some()
            .then_some("rollback-requested"),
        e.reconcile.is_some().then_some("reconcile"),
    ];
    let given: Vec<&str> = given.into_iter().flatten().collect();
    if given.len() == 1 {
        return Ok(());
    }
    Err(problem(
        field,
        format!(
            "give exactly one of new-version, stage-changed, health-observed, \
             gate-timeout, rollback-requested, reconcile (found {})",
            if given.is_empty() {
                "none".to_owned()
            } else {
                given.join(", ")
            }
        ),
    ))
}

/// A `rollback-requested` event; the reason defaults to `requested by
/// <by>`.
fn rollback_requested(r: RollbackRequestedFile, by: &str) -> (Event, String) {
    let label = format!(
        "rollback-requested {}{}",
        r.stage,
        r.to_version
            .as_deref()
            .map(|v| format!(" to {v}"))
            .unwrap_or_default()
    );
    let event = RollbackRequested {
        stage: r.stage,
        to_version: r.to_version,
        reason: r.reason.unwrap_or_else(|| format!("requested by {by}")),
    };
    (Event::RollbackRequested(event), label)
}
