//! What starts a run: the command ([`Trigger`]) and the events it sends to
//! the policy. `promote` sends *new version*, `rollback` *rollback
//! requested*, and `advance` one *stage changed* per stage whose version
//! differs between the pushed range's ends.

use super::audit::CommandInfo;
use super::run::{Engine, Stop, error_chain};
use crate::capabilities::git::{ROLLBACK_OF, ReadError, StageField};
use crate::runtime::{ChangeOrigin, Event, NewVersion, RollbackRequested, StageChanged};

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
                check_version(tag)?;
                Ok(vec![Event::NewVersion(NewVersion {
                    version: tag.clone(),
                    digest: None,
                })])
            }
            Trigger::Rollback { stage, to, reason } => {
                self.stage(stage)?;
                if let Some(v) = to {
                    check_version(v)?;
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
        let mut repo = self.lock_repo()?;
        let since = match since {
            Some(s) => s.to_owned(),
            None => {
                let before = std::env::var("CI_COMMIT_BEFORE_SHA")
                    .ok()
                    .filter(|s| !s.is_empty() && s.chars().any(|c| c != '0'))
                    .filter(|s| repo.resolve(s).is_ok());
                match before {
                    Some(b) => b,
                    None => match repo.resolve(&format!("{tip}~1")) {
                        Ok(parent) => parent.to_string(),
                        Err(_) => {
                            tracing::info!("{tip} has no parent: nothing to compare against");
                            return Ok(Vec::new());
                        }
                    },
                }
            }
        };
        let fields: Vec<StageField> = self.stages.iter().map(|s| s.location.clone()).collect();
        let changes = repo
            .changed_stages(&since, &tip, &fields)
            .map_err(|e| match e {
                ReadError::Revision { .. } => Stop::usage(format!(
                    "--since: {}; give a commit of the env repo",
                    error_chain(&e)
                )),
                _ => Stop::external(error_chain(&e)),
            })?;
        let mut events = Vec::new();
        for change in changes {
            let stage = &self.stages[change.index];
            let Some(to) = change.to else {
                tracing::warn!("{}: the version field was removed; not gating", stage.name);
                continue;
            };
            let last = repo
                .history(&tip, &stage.location, Some(1))
                .map_err(|e| Stop::external(error_chain(&e)))?;
            // The trailers that count are those of the commit carrying the
            // change (a merged MR's own commit, not the merge commit).
            let (commit, is_rollback, origin) = match last.first() {
                Some(entry) => {
                    let arrived = super::world::arrival(&mut repo, &stage.location, entry)
                        .map_err(|e| Stop::external(error_chain(&e)))?;
                    (
                        entry.commit.clone(),
                        arrived.carrier.trailer(ROLLBACK_OF).is_some(),
                        arrived.origin,
                    )
                }
                None => (tip.clone(), false, ChangeOrigin::OutOfBand),
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

/// A version must be usable in a branch name and a commit subject.
fn check_version(version: &str) -> Result<(), Stop> {
    let bad = version.is_empty()
        || version.len() > 128
        || version.starts_with(['-', '.', '/'])
        || version.ends_with(['.', '/'])
        || version.ends_with(".lock")
        || version.contains("..")
        || version.contains("//")
        || version.contains("@{")
        || version
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || "~^:?*[\\\"'".contains(c));
    if bad {
        return Err(Stop::usage(format!(
            "{version:?} is not a usable version: it must be a git ref component \
             (no spaces, quotes, `..`, `~^:?*[\\`), e.g. v1.2.3"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_must_be_ref_safe() {
        for good in ["v1.2.3", "1.0.0-rc.1", "release/2024.1", "v1+build.5"] {
            assert!(check_version(good).is_ok(), "{good}");
        }
        for bad in [
            "", "v1 2", "v1..2", "-v1", "v1.lock", "v1~1", "a:b", "v1\n", "x/", "\"v1\"",
        ] {
            assert!(check_version(bad).is_err(), "{bad:?}");
        }
    }
}
