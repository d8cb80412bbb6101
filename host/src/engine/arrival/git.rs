//! An arrival from git alone: the carrier of a merge is its merged side,
//! Baton's trailers make a change Baton's, and a merge or squash message
//! names its merge request.

use crate::capabilities::git::{
    DeploymentState, EnvRepo, HistoryEntry, ROLLBACK_OF, RUN, ReadError, StageField,
};
use crate::runtime::ChangeOrigin;

use super::Arrival;

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
