//! Asking the forge which merge request landed a commit: the recent merged
//! requests into the branch first (one request per [`Attribution`]), then
//! one by one within [`FORGE_LOOKUPS`]; only a merged Baton request for the
//! stage and version that landed the very commit counts.

use tokio::runtime::Handle;

use super::{Attribution, FORGE_LOOKUPS};
use crate::capabilities::forge::{ForgeError, MergeRequest, MrState};
use crate::capabilities::git::{
    RUN, Trailer, mr_branch_name, parse_trailers, rollback_branch_name,
};

/// What a merged merge request says about a change: its number and the
/// trailers its description ends with.
#[derive(Debug, Clone)]
pub(super) struct Landed {
    /// GitLab iid / GitHub number.
    pub(super) number: u64,
    /// The trailers its description ends with.
    pub(super) trailers: Vec<Trailer>,
}

impl Attribution {
    /// The Baton merge request that landed `commit` (setting `stage` to
    /// `version`): among the recent merged requests into `target` (read
    /// once per attribution), else the one its message names, else the
    /// forge's requests of the commit (at most [`FORGE_LOOKUPS`] of these
    /// two); `None` without a forge or without such a request.
    pub(super) fn ask_forge(
        &mut self,
        stage: &str,
        target: &str,
        version: &str,
        commit: &str,
        named: Option<u64>,
    ) -> Result<Option<Landed>, ForgeError> {
        let Some((forge, handle)) = self.forge.clone() else {
            return Ok(None);
        };
        let branches = [
            mr_branch_name(&self.app, stage, version),
            rollback_branch_name(&self.app, stage, version),
        ];
        // A recent request that landed this commit is the answer, Baton's
        // or not.
        if let Some(mr) = self.recent(&forge, &handle, target)?.get(commit) {
            return Ok(baton_landed(mr, &branches, commit));
        }
        if self.lookups_left == 0 {
            tracing::warn!(
                %commit,
                "{stage}: asked the forge about {FORGE_LOOKUPS} commits without trailers \
                 already; reading this one from git alone"
            );
            return Ok(None);
        }
        self.lookups_left -= 1;
        let candidates = match named {
            Some(number) => match block(&handle, forge.get(number)) {
                Ok(mr) => vec![mr],
                // A number in a hand-written message may name nothing.
                Err(ForgeError::NotFound { .. }) => Vec::new(),
                Err(e) => return Err(e),
            },
            None => block(&handle, forge.merge_requests_of_commit(commit))?,
        };
        Ok(candidates
            .iter()
            .find_map(|mr| baton_landed(mr, &branches, commit)))
    }
}

impl Attribution {
    /// The recent merged requests into `target` by the commit they landed,
    /// read once per attribution.
    fn recent(
        &mut self,
        forge: &std::sync::Arc<dyn crate::capabilities::forge::Forge>,
        handle: &Handle,
        target: &str,
    ) -> Result<&std::collections::HashMap<String, MergeRequest>, ForgeError> {
        if self.recent.is_none() {
            let merged = block(handle, forge.recent_merged_into(target))?;
            self.recent = Some(
                merged
                    .into_iter()
                    .filter_map(|mr| Some((mr.merge_commit_sha.clone()?, mr)))
                    .collect(),
            );
        }
        Ok(self.recent.get_or_insert_default())
    }

    /// The Baton merge request among the recent merged ones that landed
    /// `commit` as it is (a fast-forward, a rebase), when there is one:
    /// such a commit carries Baton's trailers itself, and only the forge
    /// can tell it from a direct commit.
    pub(super) fn landed_as_is(
        &mut self,
        stage: &str,
        target: &str,
        version: &str,
        commit: &str,
    ) -> Result<Option<u64>, ForgeError> {
        let Some((forge, handle)) = self.forge.clone() else {
            return Ok(None);
        };
        let branches = [
            mr_branch_name(&self.app, stage, version),
            rollback_branch_name(&self.app, stage, version),
        ];
        Ok(self
            .recent(&forge, &handle, target)?
            .get(commit)
            .filter(|mr| branches.iter().any(|b| landed_by(mr, b, commit)))
            .map(|mr| mr.iid))
    }
}

/// What `mr` says about `commit`, when it is a merged Baton merge request
/// from one of `branches` that landed it and its description carries
/// Baton's trailers.
fn baton_landed(mr: &MergeRequest, branches: &[String], commit: &str) -> Option<Landed> {
    if !branches.iter().any(|b| landed_by(mr, b, commit)) {
        return None;
    }
    let trailers = parse_trailers(&mr.description);
    trailers
        .iter()
        .any(|t| t.key.eq_ignore_ascii_case(RUN))
        .then_some(Landed {
            number: mr.iid,
            trailers,
        })
}

/// Drives a forge call to its end from synchronous code (a decide call, a
/// history walk), on a worker thread or off one.
fn block<F: Future>(handle: &Handle, future: F) -> F::Output {
    tokio::task::block_in_place(|| handle.block_on(future))
}

/// Whether `mr` is the merged Baton merge request from `branch` that
/// landed `commit` on the branch.
pub(super) fn landed_by(mr: &MergeRequest, branch: &str, commit: &str) -> bool {
    mr.state == MrState::Merged
        && mr.source_branch == branch
        && mr.merge_commit_sha.as_deref() == Some(commit)
}
