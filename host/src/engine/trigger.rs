//! What starts a run: the command ([`Trigger`]) and the events it sends to
//! the policy. `promote` sends *new version*, `rollback` *rollback
//! requested*, and `advance` one *stage changed* per stage whose version
//! differs between the pushed range's ends.

use super::audit::{CommandInfo, Status};
use super::state::{Engine, Stop};
use crate::capabilities::git::{EnvRepo, ROLLBACK_OF, ReadError, StageField};
use crate::report::error_chain;
use crate::runtime::{ChangeOrigin, Event, NewVersion, RollbackRequested, StageChanged};
use crate::version::{self, Shown};

/// What started the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    /// `baton promote --tag`.
    Promote {
        /// The version.
        tag: String,
    },
    /// `baton advance [--since]`.
    Advance {
        /// Compare against this revision (default: see [`Engine::events`]).
        since: Option<String>,
    },
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
            Self::Promote { tag } => {
                args.insert("tag".into(), tag.clone().into());
                "promote"
            }
            Self::Advance { since } => {
                args.insert("since".into(), since.clone().into());
                "advance"
            }
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
            Trigger::Promote { tag } => {
                check_version("--tag", tag)?;
                Ok(vec![Event::NewVersion(NewVersion {
                    version: tag.clone(),
                    digest: None,
                })])
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
        }
    }

    fn advance_events(&self, since: Option<&str>) -> Result<Vec<Event>, Stop> {
        let tip = self.tip()?;
        self.systems
            .repo
            .with(|repo| self.changes_since(repo, since, &tip))
    }

    /// The *stage changed* events between `since` (see [`Engine::events`])
    /// and `tip`.
    fn changes_since(
        &self,
        repo: &mut EnvRepo,
        since: Option<&str>,
        tip: &str,
    ) -> Result<Vec<Event>, Stop> {
        let Some(since) = since
            .map(str::to_owned)
            .or_else(|| default_since(repo, tip))
        else {
            tracing::info!("{tip} has no parent: nothing to compare against");
            return Ok(Vec::new());
        };
        let fields: Vec<StageField> = self.stages.iter().map(|s| s.location.clone()).collect();
        let changes = repo
            .changed_stages(&since, tip, &fields)
            .map_err(|e| match e {
                ReadError::Revision { .. } => Stop::usage(format!(
                    "--since: {}; give a commit of the env repo",
                    error_chain(&e)
                )),
                _ => Stop::caused(Status::ExternalError, &e),
            })?;
        let mut events = Vec::new();
        for change in changes {
            let stage = &self.stages[change.index];
            let Some(to) = change.to else {
                tracing::warn!("{}: the version field was removed; not gating", stage.name);
                continue;
            };
            let last = repo
                .history(tip, &stage.location, Some(1))
                .map_err(|e| Stop::caused(Status::ExternalError, &e))?;
            // The trailers that count are those of the commit carrying the
            // change (a merged MR's own commit, not the merge commit).
            let (commit, is_rollback, origin) = match last.first() {
                Some(entry) => {
                    let arrived = super::world::arrival(repo, &stage.location, entry)
                        .map_err(|e| Stop::caused(Status::ExternalError, &e))?;
                    (
                        entry.commit.clone(),
                        arrived.carrier.trailer(ROLLBACK_OF).is_some(),
                        arrived.origin,
                    )
                }
                None => (tip.to_owned(), false, ChangeOrigin::OutOfBand),
            };
            events.push(Event::StageChanged(StageChanged {
                stage: stage.name.clone(),
                from_version: change.from,
                to_version: to,
                commit,
                is_rollback,
                digest: None,
                origin,
            }));
        }
        Ok(events)
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
