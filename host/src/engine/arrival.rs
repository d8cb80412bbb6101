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
//! merge request landed the commit: the one a merge or squash message
//! names (`See merge request …!N`, `Merge pull request #N`, `… (#N)`),
//! else the one GitLab (`GET /projects/:id/repository/commits/:sha/merge_requests`)
//! or GitHub (`GET /repos/:o/:r/commits/:sha/pulls`) relates to the commit.
//! Its description's trailers count when it is a merged Baton merge
//! request for this app, stage and version (its source branch is
//! `baton/<app>/<stage>/<version>`, or `…/rollback-<version>` for a
//! rollback) whose landed commit is this one. The
//! forge is asked only for commits without trailers (squashes and changes
//! made by hand), once per commit and [`Attribution`].
//!
//! A fast-forwarded or rebased Baton merge request lands Baton's own
//! commit, which git cannot tell from a direct commit: its trailers are
//! right, and its origin reads `baton-commit`.

use std::collections::HashMap;
use std::sync::Arc;

use thiserror::Error;
use tokio::runtime::Handle;

use super::repo::SharedRepo;
use super::state::Engine;
use crate::capabilities::forge::{Forge, ForgeError, MergeRequest, MrState};
use crate::capabilities::git::{
    DeploymentState, EnvRepo, HistoryEntry, LastGood, ROLLBACK_OF, RUN, ReadError, StageField,
    last_good_in, mr_branch_name, parse_trailers, rollback_branch_name,
};
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

/// What a merged merge request says about a change: its number and the
/// trailers its description ends with.
#[derive(Debug, Clone)]
struct Landed {
    number: u64,
    trailers: Vec<crate::capabilities::git::Trailer>,
}

/// Attributes history for one app: git first, then the forge for commits
/// without trailers (see the module docs). Forge answers are kept for the
/// attribution's lifetime.
pub struct Attribution {
    app: String,
    forge: Option<(Arc<dyn Forge>, Handle)>,
    landed: HashMap<String, Option<Landed>>,
}

impl Attribution {
    /// Attribution of `app`'s history from git alone.
    pub fn new(app: impl Into<String>) -> Self {
        Self {
            app: app.into(),
            forge: None,
            landed: HashMap::new(),
        }
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
        let from_git = repo
            .with(|repo| -> Result<Vec<Attributed>, ReadError> {
                let entries = repo.history(rev, field, limit)?;
                let mut out = Vec::with_capacity(entries.len());
                for entry in entries {
                    let arrival = from_git(repo, field, &entry)?;
                    out.push(Attributed { entry, arrival });
                }
                Ok(out)
            })
            .map_err(read)?;
        let mut out = Vec::with_capacity(from_git.len());
        for mut attributed in from_git {
            self.complete(stage, &mut attributed)?;
            out.push(attributed);
        }
        Ok(out)
    }

    /// The history until `done` holds for it (or history ends), read in
    /// growing steps so a short answer stays cheap.
    fn history_until(
        &mut self,
        repo: &SharedRepo,
        rev: &str,
        stage: &str,
        field: &StageField,
        done: impl Fn(&[HistoryEntry]) -> bool,
    ) -> Result<Vec<HistoryEntry>, ArrivalError> {
        let mut step = 8;
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
    /// that landed it, when the forge knows one.
    fn complete(&mut self, stage: &str, a: &mut Attributed) -> Result<(), ArrivalError> {
        if a.arrival.carrier.trailer(RUN).is_some() {
            return Ok(());
        }
        let Some(version) = a.entry.new.clone() else {
            return Ok(());
        };
        let commit = a.entry.commit.clone();
        let landed = match self.landed.get(&commit) {
            Some(known) => known.clone(),
            None => {
                let found = self
                    .ask_forge(stage, &version, &commit, a.arrival.merge_request)
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

    /// The Baton merge request that landed `commit` (setting `stage` to
    /// `version`), from the number its message names or from the forge's
    /// commit lookup; `None` without a forge or without such a request.
    fn ask_forge(
        &self,
        stage: &str,
        version: &str,
        commit: &str,
        named: Option<u64>,
    ) -> Result<Option<Landed>, ForgeError> {
        let Some((forge, handle)) = &self.forge else {
            return Ok(None);
        };
        let candidates = match named {
            Some(number) => match block(handle, forge.get(number)) {
                Ok(mr) => vec![mr],
                // A number in a hand-written message may name nothing.
                Err(ForgeError::NotFound { .. }) => Vec::new(),
                Err(e) => return Err(e),
            },
            None => block(handle, forge.merge_requests_of_commit(commit))?,
        };
        let branches = [
            mr_branch_name(&self.app, stage, version),
            rollback_branch_name(&self.app, stage, version),
        ];
        Ok(candidates
            .into_iter()
            .find(|mr| branches.iter().any(|b| landed_by(mr, b, commit)))
            .and_then(|mr| {
                let trailers = parse_trailers(&mr.description);
                trailers
                    .iter()
                    .any(|t| t.key.eq_ignore_ascii_case(RUN))
                    .then_some(Landed {
                        number: mr.iid,
                        trailers,
                    })
            }))
    }
}

/// Drives a forge call to its end from synchronous code (a decide call, a
/// history walk), on a worker thread or off one.
fn block<F: Future>(handle: &Handle, future: F) -> F::Output {
    tokio::task::block_in_place(|| handle.block_on(future))
}

/// Whether `mr` is the merged Baton merge request from `branch` that
/// landed `commit` on the branch.
fn landed_by(mr: &MergeRequest, branch: &str, commit: &str) -> bool {
    mr.state == MrState::Merged
        && mr.source_branch == branch
        && mr.merge_commit_sha.as_deref() == Some(commit)
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

/// How `entry` (a first-parent commit that changed `field`) arrived, from
/// git alone: a merge's change is carried by the merged side's newest
/// commit that set the same value; a carrier with a `Baton-Run` trailer is
/// Baton's (`baton-merge-request` when a merge or a squash message says
/// so, else `baton-commit`); anything else is `out-of-band` until the
/// forge says otherwise. The trailers are taken at their word.
pub fn from_git(
    repo: &mut EnvRepo,
    field: &StageField,
    entry: &HistoryEntry,
) -> Result<Arrival, ReadError> {
    let second_parent = format!("{}^2", entry.commit);
    let merged = if repo.resolve(&second_parent).is_ok() {
        repo.history(&second_parent, field, Some(1))?
            .into_iter()
            .next()
            .filter(|c| c.new == entry.new)
    } else {
        None
    };
    let through_merge = merged.is_some();
    let carrier = merged.unwrap_or_else(|| entry.clone());
    let merge_request = merge_request_number(&entry.message);
    let origin = match carrier.trailer(RUN) {
        Some(_) if through_merge || merge_request.is_some() => ChangeOrigin::BatonMergeRequest,
        Some(_) => ChangeOrigin::BatonCommit,
        None => ChangeOrigin::OutOfBand,
    };
    Ok(Arrival {
        carrier,
        origin,
        merge_request,
    })
}

/// The merge request number a forge's merge or squash message names:
/// GitLab's merge commit (`See merge request group/project!N`), GitHub's
/// merge commit (`Merge pull request #N from …`) and GitHub's squash
/// commit (a subject ending in `(#N)`).
pub fn merge_request_number(message: &str) -> Option<u64> {
    let digits = |s: &str| {
        let n: String = s.chars().take_while(char::is_ascii_digit).collect();
        n.parse().ok()
    };
    if let Some(rest) = message.strip_prefix("Merge pull request #") {
        return digits(rest);
    }
    if let Some(line) = message
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with("See merge request "))
    {
        return digits(line.rsplit_once('!')?.1);
    }
    let subject = message.lines().next()?.trim_end();
    let inner = subject.strip_suffix(')')?.rsplit_once("(#")?.1;
    if inner.is_empty() || !inner.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    inner.parse().ok()
}

/// Where `version` stands in an attributed history (newest first): held
/// now, held before and not rolled back by a later deployment, rolled
/// back, or never held (within what `history` covers).
pub fn deployment_state_in(history: &[HistoryEntry], version: &str) -> DeploymentState {
    let Some(at) = history
        .iter()
        .position(|e| e.new.as_deref() == Some(version))
    else {
        return DeploymentState::Never;
    };
    if at == 0 {
        return DeploymentState::Now;
    }
    let rolled_back = history[..at].iter().any(|e| {
        e.trailers
            .iter()
            .any(|t| t.key.eq_ignore_ascii_case(ROLLBACK_OF) && t.value == version)
    });
    if rolled_back {
        DeploymentState::RolledBack
    } else {
        DeploymentState::Before
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capabilities::git::Trailer;

    #[test]
    fn merge_request_numbers_come_from_either_forges_merge_or_squash_message() {
        let gitlab = "Merge branch 'baton/payments/staging/v2' into 'main'\n\nstaging(payments): v2\n\nSee merge request acme/env!17";
        assert_eq!(merge_request_number(gitlab), Some(17));
        let github =
            "Merge pull request #4 from acme/baton/payments/staging/v2\n\nstaging(payments): v2";
        assert_eq!(merge_request_number(github), Some(4));
        let squash = "staging(payments): v2 (#12)\n\nBaton-Run: r1";
        assert_eq!(merge_request_number(squash), Some(12));
        assert_eq!(merge_request_number("staging(payments): v2"), None);
        assert_eq!(merge_request_number("fix (#)"), None);
        assert_eq!(merge_request_number("fix (#1a)"), None);
    }

    fn entry(new: &str, rollback_of: Option<&str>) -> HistoryEntry {
        HistoryEntry {
            commit: format!("c-{new}"),
            time: 0,
            author_name: "a".into(),
            author_email: "a@x".into(),
            old: None,
            new: Some(new.into()),
            message: String::new(),
            trailers: rollback_of
                .map(|v| Trailer {
                    key: ROLLBACK_OF.into(),
                    value: v.into(),
                })
                .into_iter()
                .collect(),
        }
    }

    #[test]
    fn a_version_is_rolled_back_only_by_a_later_deployment() {
        let h = [
            entry("v2", Some("v3")),
            entry("v3", None),
            entry("v2", None),
        ];
        assert_eq!(deployment_state_in(&h, "v2"), DeploymentState::Now);
        assert_eq!(deployment_state_in(&h, "v3"), DeploymentState::RolledBack);
        assert_eq!(deployment_state_in(&h, "v1"), DeploymentState::Never);
        let h = [entry("v3", None), entry("v2", None)];
        assert_eq!(deployment_state_in(&h, "v2"), DeploymentState::Before);
    }

    #[test]
    fn only_the_merged_baton_request_that_landed_the_commit_counts() {
        let mr = |state, branch: &str, sha: Option<&str>| MergeRequest {
            iid: 3,
            web_url: String::new(),
            title: String::new(),
            description: String::new(),
            state,
            source_branch: branch.into(),
            target_branch: "main".into(),
            labels: Vec::new(),
            detailed_merge_status: None,
            sha: None,
            merge_commit_sha: sha.map(Into::into),
        };
        let branch = "baton/payments/staging/v2";
        assert!(landed_by(
            &mr(MrState::Merged, branch, Some("abc")),
            branch,
            "abc"
        ));
        assert!(!landed_by(
            &mr(MrState::Opened, branch, Some("abc")),
            branch,
            "abc"
        ));
        assert!(!landed_by(
            &mr(MrState::Merged, branch, Some("def")),
            branch,
            "abc"
        ));
        let other = "baton/payments/prod/v2";
        assert!(!landed_by(
            &mr(MrState::Merged, other, Some("abc")),
            branch,
            "abc"
        ));
    }
}
