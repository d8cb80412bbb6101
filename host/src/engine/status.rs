//! `baton status`: for each stage of an app, the version (and image
//! digest) in the env repo, what Argo CD reports (health, sync, synced
//! revision), the open merge requests Baton opened for it, and its rollback
//! target: the version a rollback goes to by default, read from history
//! the way the engine reads it ([`super::arrival`]). A stage with several
//! targets reports each target's version and Argo CD state, and its own
//! version only when the targets agree. Read-only; a system that cannot be
//! reached is reported per stage.

use std::sync::Arc;

use serde::Serialize;

use super::arrival::{ArrivalError, Attribution};
use super::digest;
use super::repo::SharedRepo;
use crate::capabilities::argocd::{AppRef, ArgoCdClient};
use crate::capabilities::forge::Forge;
use crate::capabilities::git::EnvRepo;
use crate::config::{StageConfig, TargetConfig};
use crate::report::error_chain;
use crate::version;

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct StatusReport {
    /// The app.
    pub app: String,
    /// The env repo branch.
    pub branch: String,
    /// Its tip.
    pub tip: String,
    /// One row per stage, in promotion order.
    pub stages: Vec<StageStatus>,
    /// Problems reaching Argo CD or the forge.
    pub errors: Vec<String>,
}

/// One stage.
#[derive(Debug, Clone, Serialize)]
pub struct StageStatus {
    /// Stage name.
    pub name: String,
    /// Version in the env repo (`None` when the file or field is missing).
    pub version: Option<String>,
    /// The image digest that goes with it: the field's, or the one its
    /// deployment recorded (`Baton-Digest`).
    pub digest: Option<String>,
    /// Why the version could not be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version_error: Option<String>,
    /// The commit that set it.
    pub commit: Option<String>,
    /// The Argo CD application (the first target's).
    pub argocd_app: String,
    /// What Argo CD reports, when configured and reachable; for a stage
    /// with several targets, see each target.
    pub argocd: Option<ArgoState>,
    /// Every target in config order (one, labelled "", for a stage written
    /// without `targets:`), each with its version and Argo CD state.
    pub targets: Vec<TargetRow>,
    /// Open merge requests on `baton/<app>/<stage>/*` branches.
    pub open_merge_requests: Vec<OpenMr>,
    /// Where `baton rollback` goes by default: the newest version before the
    /// current one that no later deployment rolled back (rollbacks merged
    /// through a merge request included). It says nothing about the
    /// current version's health.
    pub rollback_target: Option<String>,
    /// Why the change that set the current version is out of band (it
    /// reached the branch neither as a Baton commit nor through a merge
    /// request Baton opened); empty when it is Baton's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub out_of_band: Vec<String>,
}

/// One target of a stage.
#[derive(Debug, Clone, Serialize)]
pub struct TargetRow {
    /// Its label ("" for the one target of a stage without `targets:`).
    pub label: String,
    /// Its file in the env repo.
    pub file: String,
    /// Its field.
    pub field: String,
    /// The version it holds (`None` when its file or field is missing).
    pub version: Option<String>,
    /// The image digest that goes with it.
    pub digest: Option<String>,
    /// Why the version could not be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version_error: Option<String>,
    /// Its Argo CD application.
    pub argocd_app: String,
    /// What Argo CD reports for it, when configured and reachable.
    pub argocd: Option<ArgoState>,
}

/// Argo CD's view of one application.
#[derive(Debug, Clone, Serialize)]
pub struct ArgoState {
    /// Health status.
    pub health: String,
    /// Sync status.
    pub sync: String,
    /// The revision it is synced to.
    pub revision: Option<String>,
    /// Health message, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// An open Baton merge request.
#[derive(Debug, Clone, Serialize)]
pub struct OpenMr {
    /// iid / number.
    pub number: u64,
    /// The version it sets.
    pub version: String,
    /// Web URL.
    pub url: String,
}

/// Gathers the report. Only reading the env repo can fail the whole call.
pub async fn status(
    app: &str,
    stages: &[StageConfig],
    repo: &SharedRepo,
    argocd: Option<&ArgoCdClient>,
    forge: Option<&Arc<dyn Forge>>,
) -> Result<StatusReport, String> {
    let (branch, tip, rows, branches) = repo.with(|repo| {
        let branch = repo.branch().to_owned();
        let tip = repo
            .resolve(&branch)
            .map_err(|e| error_chain(&e))?
            .to_string();
        let rows = stages
            .iter()
            .map(|stage| stage_row(repo, &tip, stage))
            .collect::<Result<Vec<_>, _>>()?;
        let branches = match forge {
            Some(_) => repo.mr_branches(app).map_err(|e| error_chain(&e))?,
            None => Vec::new(),
        };
        Ok::<_, String>((branch, tip, rows, branches))
    })?;
    let mut report = StatusReport {
        app: app.to_owned(),
        branch,
        tip,
        stages: rows,
        errors: Vec::new(),
    };
    let mut attribution = Attribution::new(app);
    if let Some(forge) = forge {
        attribution = attribution.with_forge(forge.clone(), tokio::runtime::Handle::current());
    }
    for (row, stage) in report.stages.iter_mut().zip(stages) {
        // Blocking reads (git, and the forge for squashed merges).
        let target = tokio::task::block_in_place(|| {
            attribution.last_good(repo, &report.tip, &stage.name, &stage.location)
        });
        match target {
            Ok(target) => row.rollback_target = target.map(|g| g.version),
            Err(e @ ArrivalError::Forge { .. }) => report.errors.push(error_chain(&e)),
            Err(e @ ArrivalError::Read { .. }) => return Err(error_chain(&e)),
        }
    }
    for row in &mut report.stages {
        if let Some(client) = argocd {
            for target in &mut row.targets {
                match client
                    .get_application(&AppRef::named(&target.argocd_app), false)
                    .await
                {
                    Ok(s) => target.argocd = Some(ArgoState::of(&s)),
                    Err(e) => report.errors.push(format!(
                        "argocd {}: {}",
                        target.argocd_app,
                        error_chain(&e)
                    )),
                }
            }
            if let [only] = row.targets.as_slice() {
                row.argocd = only.argocd.clone();
            }
        }
        if let Some(forge) = forge {
            let errors = open_merge_requests(forge.as_ref(), app, row, &branches).await;
            report.errors.extend(errors);
        }
    }
    Ok(report)
}

/// One stage's row from the env repo: each target's version, the stage's
/// (when its targets agree) and the commit that set it (the rollback target
/// is read afterwards, outside the repo lock).
fn stage_row(repo: &mut EnvRepo, tip: &str, stage: &StageConfig) -> Result<StageStatus, String> {
    let targets: Vec<TargetRow> = stage
        .targets
        .iter()
        .map(|t| target_row(repo, tip, t))
        .collect();
    let (version, digest, version_error) = match targets.split_first() {
        Some((first, rest)) if rest.iter().all(|t| t.version == first.version) => (
            first.version.clone(),
            first.digest.clone(),
            first.version_error.clone(),
        ),
        _ => (
            None,
            None,
            Some(format!(
                "targets of {} disagree: {}",
                stage.name,
                targets
                    .iter()
                    .map(|t| format!("{} {}", t.label, t.version.as_deref().unwrap_or("(none)")))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        ),
    };
    let history = repo
        .history(tip, &stage.location, Some(1))
        .map_err(|e| error_chain(&e))?;
    Ok(StageStatus {
        name: stage.name.clone(),
        version,
        digest,
        version_error,
        commit: history.first().map(|h| h.commit.clone()),
        argocd_app: stage.argocd_app.clone(),
        argocd: None,
        targets,
        open_merge_requests: Vec::new(),
        rollback_target: None,
        out_of_band: Vec::new(),
    })
}

/// One target's version and digest at `tip`, or why it cannot be read.
fn target_row(repo: &mut EnvRepo, tip: &str, target: &TargetConfig) -> TargetRow {
    let location = &target.location;
    let held = digest::value_at(repo, tip, location).and_then(|value| match value {
        Some(value) => {
            let digest = digest::held(repo, tip, location, &value)?;
            Ok((value.version, digest))
        }
        // The version read says why there is none (missing, a symlink, ...).
        None => repo.read_version(tip, location).map(|v| (v, None)),
    });
    let (version, digest, version_error) = match held {
        Ok((v, d)) => (Some(v), d, None),
        Err(e) => (None, None, Some(error_chain(&e))),
    };
    TargetRow {
        label: target.label.clone(),
        file: location.file.clone(),
        field: location.field.to_string(),
        version,
        digest,
        version_error,
        argocd_app: target.argocd_app.clone(),
        argocd: None,
    }
}

/// Marks each stage whose current version arrived out of band, judged as
/// `advance` judges it ([`crate::engine::provenance`]), reading arrivals
/// through `attribution` (with the forge, when configured).
pub fn mark_out_of_band(
    report: &mut StatusReport,
    stages: &[StageConfig],
    repo: &SharedRepo,
    attribution: &mut Attribution,
    rules: &crate::engine::provenance::OriginRules<'_>,
) -> Result<(), String> {
    let tip = report.tip.clone();
    for (row, stage) in report.stages.iter_mut().zip(stages) {
        let newest = attribution
            .history(repo, &tip, &stage.name, &stage.location, Some(1))
            .map_err(|e| error_chain(&e))?;
        // A stage's first value (its file or field created) is how the env
        // repo was set up, not a change to promote or flag.
        let Some(attributed) = newest.into_iter().find(|a| a.entry.old.is_some()) else {
            continue;
        };
        let arrival = attributed.arrival;
        row.out_of_band = crate::engine::provenance::doubts(rules, &stage.name, &arrival);
        if row.out_of_band.is_empty() && arrival.origin == crate::runtime::ChangeOrigin::OutOfBand {
            row.out_of_band
                .push("its commit carries no Baton-Run trailer".to_owned());
        }
    }
    Ok(())
}

/// Adds the open merge requests of Baton's branches for `row`'s stage;
/// returns what could not be read.
async fn open_merge_requests(
    forge: &dyn Forge,
    app: &str,
    row: &mut StageStatus,
    branches: &[String],
) -> Vec<String> {
    let mut errors = Vec::new();
    let prefix = format!("baton/{app}/{}/", row.name);
    for branch in branches.iter().filter(|b| b.starts_with(&prefix)) {
        match forge.find_open(branch).await {
            Ok(Some(mr)) => {
                let encoded = &branch[prefix.len()..];
                row.open_merge_requests.push(OpenMr {
                    number: mr.iid,
                    version: version::decode_ref_component(encoded)
                        .unwrap_or_else(|| encoded.to_owned()),
                    url: mr.web_url,
                });
            }
            Ok(None) => {}
            Err(e) => errors.push(format!("forge {branch}: {}", error_chain(&e))),
        }
    }
    errors
}

impl ArgoState {
    fn of(s: &crate::capabilities::argocd::AppStatus) -> Self {
        Self {
            health: s.health.status.to_string(),
            sync: s.sync.status.to_string(),
            revision: s.sync_revisions().next().map(str::to_owned),
            message: s.health.message.clone(),
        }
    }
}
