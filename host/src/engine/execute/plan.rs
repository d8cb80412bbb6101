//! What a write starts from: the stage, the branch tip fetched for this
//! run, the version the stage holds there, and the branch names involved;
//! and the sentences that describe a write for people.

use super::Write;
use crate::capabilities::git::{ReadError, mr_branch_name, rollback_branch_name};
use crate::config::StageConfig;
use crate::engine::audit::Status;
use crate::engine::state::{Engine, Stop};
use crate::runtime::Channel;

/// One write, resolved against the env repo.
pub(super) struct Plan {
    /// The stage written.
    pub stage: StageConfig,
    /// The tracked branch's tip.
    pub tip: String,
    /// The version the stage holds there; `None` when its file is missing.
    pub previous: Option<String>,
    /// The tracked branch.
    pub branch: String,
    /// The merge-request branch for this change.
    pub mr_branch: String,
}

impl Engine {
    /// Resolves `w` against the env repo.
    pub(super) fn plan(&self, w: &Write<'_>) -> Result<Plan, Stop> {
        let stage = self.stage(w.stage)?.clone();
        let tip = self.tip()?;
        let previous =
            self.systems
                .repo
                .with(|repo| match repo.read_version(&tip, &stage.location) {
                    Ok(v) => Ok(Some(v)),
                    Err(ReadError::FileMissing { .. }) => Ok(None),
                    Err(e) => Err(Stop::caused(Status::UsageError, &e)),
                })?;
        Ok(Plan {
            mr_branch: match w.rollback_of {
                Some(_) => rollback_branch_name(&self.app, w.stage, w.version),
                None => mr_branch_name(&self.app, w.stage, w.version),
            },
            branch: self.systems.repo.branch(),
            stage,
            tip,
            previous,
        })
    }
}

impl Plan {
    fn from(&self) -> &str {
        self.previous.as_deref().unwrap_or("(none)")
    }

    /// The stage already holds the version.
    pub(super) fn already_there(&self, w: &Write<'_>) -> String {
        format!("{} is already at {} on {}", w.stage, w.version, self.branch)
    }

    /// What `--dry-run` would have done.
    pub(super) fn would(&self, w: &Write<'_>) -> String {
        match w.channel {
            Channel::DirectCommit => format!(
                "would commit {} {} -> {} ({} {}) to {}",
                w.stage,
                self.from(),
                w.version,
                self.stage.location.file,
                self.stage.location.field,
                self.branch
            ),
            Channel::MergeRequest(o) => format!(
                "would push {} ({} {} -> {}) and open a merge request into {}{}",
                self.mr_branch,
                w.stage,
                self.from(),
                w.version,
                self.branch,
                if o.auto_merge { ", merged at once" } else { "" }
            ),
        }
    }

    /// A direct commit landed.
    pub(super) fn committed(&self, w: &Write<'_>, sha: &str) -> String {
        format!(
            "committed {} to {}: {} {} -> {}",
            short(sha),
            self.branch,
            w.stage,
            self.from(),
            w.version
        )
    }

    /// A merge request was opened or reused.
    pub(super) fn opened(&self, w: &Write<'_>, verb: &str, number: u64, url: &str) -> String {
        format!(
            "{verb} merge request #{number} {url} ({} {} -> {})",
            w.stage,
            self.from(),
            w.version
        )
    }
}

fn short(sha: &str) -> &str {
    &sha[..sha.len().min(12)]
}
