//! Running policies built for an older contract version (0.1.0) against
//! the current one (0.2.0), by the compatibility rule in `wit/world.wit`:
//!
//! - the context and events are projected down: fields 0.1 does not know
//!   are dropped ([`down`]); a stage with several targets cannot be shown
//!   to a 0.1 policy and is refused naming the stage and the version
//!   ([`check_context`], which the engine calls at setup); a `reconcile`
//!   event arrives as `stage-changed` from and to the current version, at
//!   its newest deployment's commit;
//! - capability answers are computed and recorded once in the current form
//!   and projected down for the policy ([`host`]), so a record of a call
//!   does not depend on the policy's version;
//! - decisions, errors and metadata are lifted with the new fields empty
//!   ([`up`]); the types both contracts share unchanged convert both ways
//!   from one list each ([`mirror`]);
//! - what was written for 0.1.0 (old audit records, scripts) still reads
//!   ([`legacy`]).

mod down;
mod host;
pub mod legacy;
mod mirror;
mod up;

use super::bindings::v0_1::baton::policy::types as old;
use super::imports::ContractVersion;
use super::{Context, Event, Stage};

/// Why a context or event cannot be given to a policy of an older contract.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContractError {
    /// A stage with several targets for a policy that knows one per stage.
    #[error(
        "stage {stage} has {targets} targets ({labels}), but the policy was built for \
         baton:policy@{version}, which has one target per stage; rebuild the policy \
         for baton:policy@{current} or configure {stage} with a single target",
        current = ContractVersion::CURRENT
    )]
    MultiTarget {
        /// The stage.
        stage: String,
        /// How many targets it has.
        targets: usize,
        /// Their labels, comma-separated.
        labels: String,
        /// The policy's contract version.
        version: ContractVersion,
    },
    /// A reconcile of a stage whose version cannot be expressed as the
    /// `stage-changed` event a 0.1 policy understands.
    #[error(
        "cannot ask a policy built for baton:policy@{version} to reconcile stage {stage}: \
         it {missing}, and stage-changed needs one"
    )]
    Reconcile {
        /// The stage.
        stage: String,
        /// What the stage lacks: "holds no version" or "has no known deployment".
        missing: &'static str,
        /// The policy's contract version.
        version: ContractVersion,
    },
}

/// Can a policy built for `version` be given `ctx`? The engine calls this
/// once at setup, so a configuration a policy cannot see is refused before
/// any decide call.
pub fn check_context(ctx: &Context, version: ContractVersion) -> Result<(), ContractError> {
    match version {
        ContractVersion::V0_2 => Ok(()),
        ContractVersion::V0_1 => ctx.stages.iter().try_for_each(|s| single(s).map(|_| ())),
    }
}

/// The stage as 0.1 sees it: refused when it has several targets.
fn single(stage: &Stage) -> Result<old::Stage, ContractError> {
    if stage.targets.len() > 1 {
        return Err(ContractError::MultiTarget {
            stage: stage.name.clone(),
            targets: stage.targets.len(),
            labels: stage
                .targets
                .iter()
                .map(|t| t.label.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            version: ContractVersion::V0_1,
        });
    }
    Ok(old::Stage {
        name: stage.name.clone(),
        file: stage.file.clone(),
        field: stage.field.clone(),
        argocd_app: stage.argocd_app.clone(),
        direct_commit_allowed: stage.direct_commit_allowed,
        auto_merge_allowed: stage.auto_merge_allowed,
    })
}

/// The context as a 0.1 policy sees it.
pub(crate) fn context_v0_1(ctx: &Context) -> Result<old::Context, ContractError> {
    Ok(old::Context {
        app: ctx.app.clone(),
        stages: ctx.stages.iter().map(single).collect::<Result<_, _>>()?,
        settings: ctx.settings.clone(),
        run_id: ctx.run_id.clone(),
        max_health_wait: ctx.max_health_wait,
        dry_run: ctx.dry_run,
    })
}

/// The event as a 0.1 policy sees it.
pub(crate) fn event_v0_1(event: &Event) -> Result<old::Event, ContractError> {
    Ok(match event.clone() {
        Event::NewVersion(e) => old::Event::NewVersion(e.into()),
        Event::StageChanged(e) => old::Event::StageChanged(e.into()),
        Event::HealthObserved(e) => old::Event::HealthObserved(e.into()),
        Event::GateTimeout(e) => old::Event::GateTimeout(e.into()),
        Event::RollbackRequested(e) => old::Event::RollbackRequested(e.into()),
        Event::Reconcile(r) => {
            let refuse = |missing| ContractError::Reconcile {
                stage: r.stage.clone(),
                missing,
                version: ContractVersion::V0_1,
            };
            let version = r
                .version
                .clone()
                .ok_or_else(|| refuse("holds no version"))?;
            let commit = r
                .commit
                .clone()
                .ok_or_else(|| refuse("has no known deployment"))?;
            old::Event::StageChanged(old::StageChanged {
                stage: r.stage,
                from_version: Some(version.clone()),
                to_version: version,
                commit,
                is_rollback: false,
            })
        }
    })
}

#[cfg(test)]
mod tests;
