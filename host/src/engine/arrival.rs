//! How a stage change reached the branch, and a stage's history read that
//! way: the one place that says which commit's trailers count for a
//! deployment. `stage-history`, `advance`'s *stage changed* events, the
//! history guardrails and `baton status` all read history through it.
//!
//! A stage's history is the tracked branch's first-parent commits that
//! changed its value. Baton's trailers (`Baton-Run`, `Baton-Rollback-Of`)
//! are on the commit Baton wrote, which is not always the one on the
//! branch:
//!
//! | how the change landed | the first-parent commit | its trailers |
//! |---|---|---|
//! | direct commit, fast-forward, GitHub rebase | Baton's commit (a rebase replays its message) | on it |
//! | merge commit (GitLab, GitHub) | a two-parent merge | on the merged side's newest commit that set the same value |
//! | GitHub squash, repository defaults | `<subject> (#N)` with the commit's body | on it: GitHub keeps a single commit's message |
//! | GitLab squash (with or without a merge commit), GitHub squash with a title-only message | a commit titled like the MR | not in git: in the MR's description, which ends with the same trailers |
//!
//! So an arrival is read from git first. When the carrying commit has no
//! `Baton-Run` trailer and a forge is configured, the forge is asked which
//! merge request landed the commit: first among the recent merged requests
//! into the branch (one page of 100, read once: squash-merging teams need
//! no more), else the one a merge or squash message names (`See merge
//! request …!N`, `Merge pull request #N`, `… (#N)`), else the one GitLab
//! (`GET /projects/:id/repository/commits/:sha/merge_requests`) or GitHub
//! (`GET /repos/:o/:r/commits/:sha/pulls`) relates to the commit.
//! Its description's trailers count when it is a merged Baton merge
//! request for this app, stage and version (its source branch is
//! `baton/<app>/<stage>/<version>`, or `…/rollback-<version>` for a
//! rollback) whose landed commit is this one. The
//! forge is asked only for commits without trailers (squashes and changes
//! made by hand), once per commit and [`Attribution`]; beyond the recent
//! list it is asked at most [`FORGE_LOOKUPS`] times per attribution (one
//! decide call, one status), so a long stretch of hand edits costs a
//! bounded number of requests (a decide call has a wall-clock deadline)
//! and the older ones read from git alone, with a warning.
//!
//! A fast-forwarded or rebased Baton merge request lands Baton's own
//! commit, which git cannot tell from a direct commit: its trailers are
//! right, and the recent merged requests (already read) say whether a
//! Baton merge request landed it (`baton-merge-request`) or not
//! (`baton-commit`); without a forge it reads `baton-commit`.
//!
//! `git` holds the rules read from git alone, `lookup` the forge's part.

use std::collections::HashMap;
use std::sync::Arc;

use thiserror::Error;
use tokio::runtime::Handle;

mod git;
mod lookup;
#[cfg(test)]
mod tests;

pub use git::{deployment_state_in, from_git, merge_request_number};

use self::lookup::Landed;
use super::repo::SharedRepo;
use super::state::Engine;
use crate::capabilities::forge::{Forge, ForgeError, MergeRequest};
use crate::capabilities::git::{
    DeploymentState, HistoryEntry, LastGood, ROLLBACK_OF, RUN, ReadError, StageField, last_good_in,
};
use crate::retry::Deadline;
use crate::runtime::ChangeOrigin;

/// How a stage change reached the branch.
#[derive(Debug, Clone)]
pub struct Arrival {
    /// The commit that carries the change, with the trailers that count:
    /// the entry itself, or for a merge the merged side's commit that set
    /// the same value; for a change whose trailers only its merge request
    /// has, the entry with those trailers.
    pub carrier: HistoryEntry,
    /// `baton-commit`, `baton-merge-request` or `out-of-band`.
    pub origin: ChangeOrigin,
    /// The merge request that landed the change, when known.
    pub merge_request: Option<u64>,
}

/// One deployment of a stage: the first-parent commit that changed its
/// value, and how that change arrived.
#[derive(Debug, Clone)]
pub struct Attributed {
    /// The first-parent commit (its own message and trailers).
    pub entry: HistoryEntry,
    /// How the change arrived.
    pub arrival: Arrival,
}

impl Attributed {
    /// The entry with the trailers that count (its carrier's): what
    /// history rules such as [`last_good_in`] read.
    pub fn effective(&self) -> HistoryEntry {
        HistoryEntry {
            trailers: self.arrival.carrier.trailers.clone(),
            ..self.entry.clone()
        }
    }

    /// The version this deployment rolled back, if it was a rollback.
    pub fn rolled_back(&self) -> Option<&str> {
        self.arrival.carrier.trailer(ROLLBACK_OF)
    }
}

/// Reading an attributed history failed.
#[derive(Debug, Error)]
pub enum ArrivalError {
    /// The env repo could not be read.
    #[error("cannot read the history of stage {stage}")]
    Read {
        /// The stage.
        stage: String,
        /// Cause (boxed: history errors are large and rare).
        #[source]
        source: Box<ReadError>,
    },
    /// The forge could not say which merge request landed a commit.
    #[error("cannot ask the forge which merge request landed commit {commit} (stage {stage})")]
    Forge {
        /// The stage.
        stage: String,
        /// The first-parent commit.
        commit: String,
        /// Cause (boxed, like the read error).
        #[source]
        source: Box<ForgeError>,
    },
}

/// How many commits one [`Attribution`] asks the forge about one by one,
/// at most (beyond the recent merged requests it reads once).
pub const FORGE_LOOKUPS: usize = 16;

/// Attributes history for one app: git first, then the forge for commits
/// without trailers (see the module docs). Forge answers are kept for the
/// attribution's lifetime.
pub struct Attribution {
    app: String,
    forge: Option<(Arc<dyn Forge>, Handle)>,
    landed: HashMap<String, Option<Landed>>,
    lookups_left: usize,
    /// The recent merged requests into the tracked branch by the commit
    /// they landed, read once.
    recent: Option<HashMap<String, MergeRequest>>,
    /// Bounds the git reads (and the fetches that deepen a shallow cache).
    deadline: Deadline,
}

impl Attribution {
    /// Attribution of `app`'s history from git alone.
    pub fn new(app: impl Into<String>) -> Self {
        Self {
            app: app.into(),
            forge: None,
            landed: HashMap::new(),
            lookups_left: FORGE_LOOKUPS,
            recent: None,
            deadline: Deadline::NONE,
        }
    }

    /// Bounds the git reads of later calls (and the fetches that deepen a
    /// shallow cache) by `deadline`.
    pub fn within(&mut self, deadline: Deadline) -> &mut Self {
        self.deadline = deadline;
        self
    }

    /// Asks `forge` (driven on `handle`) about commits without trailers.
    pub fn with_forge(mut self, forge: Arc<dyn Forge>, handle: Handle) -> Self {
        self.forge = Some((forge, handle));
        self
    }

    /// The newest `limit` (all when `None`) deployments of `stage` at
    /// `rev`, newest first, each with how it arrived.
    pub fn history(
        &mut self,
        repo: &SharedRepo,
        rev: &str,
        stage: &str,
        field: &StageField,
        limit: Option<usize>,
    ) -> Result<Vec<Attributed>, ArrivalError> {
        let read = |source| ArrivalError::Read {
            stage: stage.to_owned(),
            source: Box::new(source),
        };
        // Git first, under the repo lock; the forge afterwards, without it.
        let deadline = self.deadline;
        let from_git = repo
            .with(|repo| {
                repo.within(deadline, |repo| -> Result<Vec<Attributed>, ReadError> {
                    let entries = repo.history(rev, field, limit)?;
                    let mut out = Vec::with_capacity(entries.len());
                    for entry in entries {
                        let arrival = from_git(repo, field, &entry)?;
                        out.push(Attributed { entry, arrival });
                    }
                    Ok(out)
                })
            })
            .map_err(read)?;
        let target = repo.branch();
        let mut out = Vec::with_capacity(from_git.len());
        for mut attributed in from_git {
            self.complete(stage, &target, &mut attributed)?;
            out.push(attributed);
        }
        Ok(out)
    }

    /// The history until `done` holds for it (or history ends), read in
    /// growing steps so a short answer stays cheap: the first step is the
    /// newest deployment alone, which answers most questions (a promotion
    /// checks the version the run just committed), and a sparse stage's
    /// next deployments may be thousands of commits further back.
    fn history_until(
        &mut self,
        repo: &SharedRepo,
        rev: &str,
        stage: &str,
        field: &StageField,
        done: impl Fn(&[HistoryEntry]) -> bool,
    ) -> Result<Vec<HistoryEntry>, ArrivalError> {
        let mut step = 1;
        loop {
            let found: Vec<HistoryEntry> = self
                .history(repo, rev, stage, field, Some(step))?
                .iter()
                .map(Attributed::effective)
                .collect();
            if found.len() < step || done(&found) {
                return Ok(found);
            }
            step = step.saturating_mul(4);
        }
    }

    /// The newest version of `stage` before its current one that no later
    /// deployment rolled back, with the commit that set it
    /// ([`last_good_in`] over the attributed history): where a rollback
    /// goes by default.
    pub fn last_good(
        &mut self,
        repo: &SharedRepo,
        rev: &str,
        stage: &str,
        field: &StageField,
    ) -> Result<Option<LastGood>, ArrivalError> {
        let history = self.history_until(repo, rev, stage, field, |h| last_good_in(h).is_some())?;
        Ok(last_good_in(&history))
    }

    /// Where `version` stands in `stage`'s attributed history at `rev`.
    pub fn deployment_state(
        &mut self,
        repo: &SharedRepo,
        rev: &str,
        stage: &str,
        field: &StageField,
        version: &str,
    ) -> Result<DeploymentState, ArrivalError> {
        let history = self.history_until(repo, rev, stage, field, |h| {
            h.iter().any(|e| e.new.as_deref() == Some(version))
        })?;
        Ok(deployment_state_in(&history, version))
    }

    /// Completes an arrival git could not attribute from the merge request
    /// that landed it on `target` (the tracked branch), when the forge
    /// knows one.
    fn complete(
        &mut self,
        stage: &str,
        target: &str,
        a: &mut Attributed,
    ) -> Result<(), ArrivalError> {
        if self.forge.is_none() {
            return Ok(());
        }
        let Some(version) = a.entry.new.clone() else {
            return Ok(());
        };
        if a.arrival.carrier.trailer(RUN).is_some() {
            // Baton's own commit on the branch: a direct commit, or a merge
            // request landed as is (fast-forward, rebase).
            if a.arrival.origin == ChangeOrigin::BatonCommit {
                let commit = a.entry.commit.clone();
                let landed = self
                    .landed_as_is(stage, target, &version, &commit)
                    .map_err(|source| ArrivalError::Forge {
                        stage: stage.to_owned(),
                        commit,
                        source: Box::new(source),
                    })?;
                if let Some(number) = landed {
                    a.arrival.origin = ChangeOrigin::BatonMergeRequest;
                    a.arrival.merge_request = Some(number);
                }
            }
            return Ok(());
        }
        let commit = a.entry.commit.clone();
        let landed = match self.landed.get(&commit) {
            Some(known) => known.clone(),
            None => {
                let found = self
                    .ask_forge(stage, target, &version, &commit, a.arrival.merge_request)
                    .map_err(|source| ArrivalError::Forge {
                        stage: stage.to_owned(),
                        commit: commit.clone(),
                        source: Box::new(source),
                    })?;
                self.landed.insert(commit, found.clone());
                found
            }
        };
        if let Some(landed) = landed {
            a.arrival.carrier.trailers = landed.trailers;
            a.arrival.origin = ChangeOrigin::BatonMergeRequest;
            a.arrival.merge_request = Some(landed.number);
        }
        Ok(())
    }
}

impl Engine {
    /// The attribution a run reads history with: this app, and the forge
    /// when one is configured.
    pub(super) fn attribution(&self) -> Attribution {
        let attribution = Attribution::new(self.app.clone());
        match (&self.systems.forge, Handle::try_current()) {
            (Some(forge), Ok(handle)) => attribution.with_forge(forge.clone(), handle),
            _ => attribution,
        }
    }
}
