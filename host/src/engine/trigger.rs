//! What starts a run: the command ([`Trigger`]) and the events it sends to
//! the policy. `promote` sends *new version*, `rollback` *rollback
//! requested*, `advance` one *stage changed* per stage whose version
//! differs between the pushed range's ends, and `reconcile` one
//! *reconcile* per stage, in promotion order, whatever changed.
//!
//! How a change arrived (its origin, whether it was a rollback) is read
//! through [`super::arrival`], so a rollback merged through a merge request
//! is a rollback whatever the merge method. *New version* carries the
//! promoted digest, *stage changed* and *reconcile* the digest the stage
//! holds.

use super::arrival::Attribution;
use super::audit::{CommandInfo, Status};
use super::state::{Engine, Stop};
use crate::capabilities::git::{EnvRepo, FieldError, ReadError, StageChange, StageField};
use crate::config::StageConfig;
use crate::report::error_chain;
use crate::runtime::{ChangeOrigin, Event, NewVersion, Reconcile, RollbackRequested, StageChanged};
use crate::version::{self, Shown};

/// What started the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    /// `baton promote --tag [--digest]`.
    Promote {
        /// The version (`None`: the digest is the version).
        tag: Option<String>,
        /// The image digest that goes with it.
        digest: Option<String>,
    },
    /// `baton advance [--since]`.
    Advance {
        /// Compare against this revision (default: see [`Engine::events`]).
        since: Option<String>,
    },
    /// `baton reconcile` (or `baton advance --all`): every stage asked
    /// again with its current state, so held promotions resume.
    Reconcile,
    /// `baton rollback --stage [--to]`.
    Rollback {
        /// The stage.
        stage: String,
        /// The target; the policy chooses when absent.
        to: Option<String>,
        /// Why.
        reason: String,
    },
}

impl Trigger {
    /// The command name and its arguments, for the audit record.
    pub fn command(&self, app: &str) -> CommandInfo {
        let mut args = serde_json::Map::new();
        let name = match self {
            Self::Promote { tag, digest } => {
                args.insert("tag".into(), tag.clone().into());
                args.insert("digest".into(), digest.clone().into());
                "promote"
            }
            Self::Advance { since } => {
                args.insert("since".into(), since.clone().into());
                "advance"
            }
            Self::Reconcile => "reconcile",
            Self::Rollback { stage, to, reason } => {
                args.insert("stage".into(), stage.clone().into());
                args.insert("to".into(), to.clone().into());
                args.insert("reason".into(), reason.clone().into());
                "rollback"
            }
        };
        CommandInfo {
            name: name.into(),
            app: app.into(),
            args,
        }
    }
}

impl Engine {
    /// The events a trigger sends to the policy.
    ///
    /// For `advance`, the stages that changed between `since` and the branch
    /// tip. `since` defaults to `CI_COMMIT_BEFORE_SHA` when it names a
    /// commit of the repository (GitLab sets it to zeros for a new branch),
    /// else to the tip's first parent.
    pub(super) fn events(&self, trigger: &Trigger) -> Result<Vec<Event>, Stop> {
        match trigger {
            Trigger::Promote { tag, digest } => {
                let (version, digest) =
                    super::digest::promoted(&self.stages, tag.as_deref(), digest.as_deref())
                        .map_err(Stop::usage)?;
                Ok(vec![Event::NewVersion(NewVersion { version, digest })])
            }
            Trigger::Rollback { stage, to, reason } => {
                self.stage(stage)?;
                if let Some(v) = to {
                    check_version("--to", v)?;
                }
                Ok(vec![Event::RollbackRequested(RollbackRequested {
                    stage: stage.clone(),
                    to_version: to.clone(),
                    reason: reason.clone(),
                })])
            }
            Trigger::Advance { since } => self.advance_events(since.as_deref()),
            Trigger::Reconcile => self.reconcile_events(),
        }
    }

    /// One *stage changed* per stage changed between `since` (see
    /// [`Engine::events`]) and the tip.
    fn advance_events(&self, since: Option<&str>) -> Result<Vec<Event>, Stop> {
        let tip = self.tip()?;
        let changes = self
            .systems
            .repo
            .with(|repo| self.changes_since(repo, since, &tip))?;
        let mut attribution = self.attribution();
        let mut events = Vec::new();
        for (stage, location, change) in changes {
            let Some(to) = change.to else {
                tracing::warn!("{}: the version field was removed; not gating", stage.name);
                continue;
            };
            let newest = Newest::of(&mut attribution, self, &tip, stage, location)?;
            events.push(Event::StageChanged(StageChanged {
                stage: stage.name.clone(),
                from_version: change.from,
                to_version: to,
                commit: newest.commit.unwrap_or_else(|| tip.clone()),
                is_rollback: newest.is_rollback,
                digest: newest.digest,
                origin: newest.origin,
            }));
        }
        Ok(events)
    }

    /// One *reconcile* per stage, in promotion order, with the version it
    /// holds at the tip and its newest deployment.
    fn reconcile_events(&self) -> Result<Vec<Event>, Stop> {
        let tip = self.tip()?;
        let mut attribution = self.attribution();
        let mut events = Vec::with_capacity(self.stages.len());
        for stage in &self.stages {
            let version =
                self.systems
                    .repo
                    .with(|repo| match repo.read_version(&tip, &stage.location) {
                        Ok(v) => Ok(Some(v)),
                        Err(
                            ReadError::FileMissing { .. }
                            | ReadError::Field(
                                FieldError::KeyMissing { .. } | FieldError::DocumentMissing { .. },
                            ),
                        ) => Ok(None),
                        Err(e) => Err(Stop::caused(Status::ExternalError, &e)),
                    })?;
            let newest = Newest::of(&mut attribution, self, &tip, stage, &stage.location)?;
            events.push(Event::Reconcile(Reconcile {
                stage: stage.name.clone(),
                version,
                digest: newest.digest,
                commit: newest.commit,
                origin: newest.origin,
            }));
        }
        Ok(events)
    }

    /// The stages whose version differs between `since` (see
    /// [`Engine::events`]) and `tip`, each once with the target whose
    /// change tells it (its first changed target in config order: a change
    /// to any target of a stage is the stage's change).
    fn changes_since(
        &self,
        repo: &mut EnvRepo,
        since: Option<&str>,
        tip: &str,
    ) -> Result<Vec<(&StageConfig, &StageField, StageChange)>, Stop> {
        // A shallow cache (a fresh runner: writes fetch only the tip) is
        // deepened as far as the comparison reaches, no further.
        let Some(since) = since
            .map(str::to_owned)
            .or_else(|| default_since(repo, tip))
        else {
            tracing::info!("{tip} has no parent: nothing to compare against");
            return Ok(Vec::new());
        };
        let targets: Vec<(&StageConfig, &StageField)> = self
            .stages
            .iter()
            .flat_map(|s| s.targets.iter().map(move |t| (s, &t.location)))
            .collect();
        let fields: Vec<StageField> = targets.iter().map(|(_, f)| (*f).clone()).collect();
        let changes = repo
            .changed_stages(&since, tip, &fields)
            .map_err(|e| match e {
                ReadError::Revision { .. } => Stop::usage(format!(
                    "--since: {}; give a commit of the env repo",
                    error_chain(&e)
                )),
                _ => Stop::caused(Status::ExternalError, &e),
            })?;
        let mut seen = Vec::new();
        Ok(changes
            .into_iter()
            .filter_map(|change| {
                let (stage, location) = targets[change.index];
                if seen.contains(&stage.name) {
                    return None;
                }
                seen.push(stage.name.clone());
                Some((stage, location, change))
            })
            .collect())
    }
}

/// A stage's newest deployment as the events describe it.
struct Newest {
    /// Its first-parent commit; `None` when history has none.
    commit: Option<String>,
    /// Whether it rolled a version back (by the trailers of the commit that
    /// carried it: a merged MR's own commit, not the merge commit).
    is_rollback: bool,
    /// How it arrived.
    origin: ChangeOrigin,
    /// The image digest it deployed, when the stage holds one.
    digest: Option<String>,
}

impl Newest {
    fn of(
        attribution: &mut Attribution,
        engine: &Engine,
        tip: &str,
        stage: &StageConfig,
        location: &StageField,
    ) -> Result<Self, Stop> {
        let newest = attribution
            .history(&engine.systems.repo, tip, &stage.name, location, Some(1))
            .map_err(|e| Stop::caused(Status::ExternalError, &e))?;
        Ok(match newest.first() {
            Some(d) => Self {
                commit: Some(d.entry.commit.clone()),
                is_rollback: d.rolled_back().is_some(),
                origin: d.arrival.origin,
                digest: engine.systems.repo.with(|repo| {
                    super::digest::deployed(repo, location, &d.entry, &d.arrival.carrier)
                }),
            },
            None => Self {
                commit: None,
                is_rollback: false,
                origin: ChangeOrigin::OutOfBand,
                digest: None,
            },
        })
    }
}

/// What `advance` compares the tip against by default:
/// `CI_COMMIT_BEFORE_SHA` when it names a commit of the repository (GitLab
/// sets it to zeros for a new branch), else the tip's first parent; `None`
/// for a root commit. A shallow cache is deepened as far as that takes.
fn default_since(repo: &mut EnvRepo, tip: &str) -> Option<String> {
    let before = std::env::var("CI_COMMIT_BEFORE_SHA")
        .ok()
        .filter(|s| !s.is_empty() && s.chars().any(|c| c != '0'))
        .filter(|s| repo.resolve_deepening(s).is_ok());
    before.or_else(|| {
        repo.resolve_deepening(&format!("{tip}~1"))
            .ok()
            .map(|parent| parent.to_string())
    })
}

/// A version from the command line, checked like every version
/// ([`version::check`]); the error names the option.
fn check_version(option: &str, value: &str) -> Result<(), Stop> {
    version::check(value).map_err(|e| {
        Stop::usage(format!(
            "{option} {} is not a usable version: {e}",
            Shown(value)
        ))
    })
}
