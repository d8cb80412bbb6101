//! What the forge simulators store: merge requests (GitLab's word; GitHub's
//! pull requests map onto them), their notes, reviews and armed
//! auto-merges, and commit statuses. Plain data with the few rules both
//! forges share (what a commit relates to, closing and reopening).

use super::MergeStrategy;

/// A merge request's state as GitLab's API spells it (`opened`, `closed`,
/// `merged`); the GitHub simulator maps it onto `open`/`closed` and
/// `merged`. The simulators' own wire enum: they share no type with the
/// clients they test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SimMrState {
    /// Open for review.
    Opened,
    /// Closed without merging.
    Closed,
    /// Merged into the target branch.
    Merged,
}

/// A note (GitLab) or issue comment (GitHub) stored by a simulator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimNote {
    /// Note / comment id.
    pub id: u64,
    /// Markdown body.
    pub body: String,
    /// Creation time (RFC 3339).
    pub created_at: String,
}

/// A review (GitHub) or approval (GitLab, state `APPROVED`) stored by a
/// simulator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimReview {
    /// Review id.
    pub id: u64,
    /// The reviewer's login.
    pub user: String,
    /// `APPROVED`, `CHANGES_REQUESTED` or `COMMENTED`.
    pub state: String,
    /// The source head it reviewed.
    pub commit: Option<String>,
    /// When (RFC 3339).
    pub at: String,
}

/// A merge request as a simulator stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimMergeRequest {
    /// iid / number, from 1.
    pub iid: u64,
    /// Title.
    pub title: String,
    /// Description / body.
    pub description: String,
    /// Labels.
    pub labels: Vec<String>,
    /// Source (head) branch.
    pub source_branch: String,
    /// Target (base) branch.
    pub target_branch: String,
    /// State.
    pub state: SimMrState,
    /// Creation time.
    pub created_at: String,
    /// Last change.
    pub updated_at: String,
    /// When merged.
    pub merged_at: Option<String>,
    /// When closed (or merged, on GitHub).
    pub closed_at: Option<String>,
    /// Source head at merge time (live head while open).
    pub merged_sha: Option<String>,
    /// The commit that landed: the target's new head (merge commit,
    /// squash commit, fast-forwarded or rebased head).
    pub merge_commit_sha: Option<String>,
    /// GitLab: the squash commit made before landing, when squashed.
    pub squash_commit_sha: Option<String>,
    /// Delete the source branch after merge.
    pub remove_source_branch: bool,
    /// Auto-merge was requested.
    pub auto_merge: bool,
    /// Notes / comments.
    pub notes: Vec<SimNote>,
    /// Who merged it (login).
    pub merged_by: Option<String>,
    /// Reviews and approvals, oldest first.
    pub reviews: Vec<SimReview>,
    /// A draft (GitHub `draft`; GitLab: a title starting `Draft:`,
    /// `[Draft]` or `(Draft)`): cannot be merged.
    pub draft: bool,
    /// GitLab's `squash` attribute: squash when merged, unless the merge
    /// call says otherwise.
    pub squash: bool,
    /// Auto-merge armed and waiting for the checks (GitHub's
    /// `auto_merge`, GitLab's `merge_when_pipeline_succeeds`).
    pub armed: Option<SimAutoMerge>,
}

/// An auto-merge waiting for its checks: what the merge will do once
/// they pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimAutoMerge {
    /// Who armed it (login).
    pub enabled_by: String,
    /// When (RFC 3339).
    pub enabled_at: String,
    /// How it lands.
    pub strategy: MergeStrategy,
    /// GitLab: squash first.
    pub squash: bool,
    /// Title (GitHub `commitHeadline`) or whole message (GitLab
    /// `merge_commit_message`) of the commit it makes.
    pub commit_title: Option<String>,
    /// Body of the commit it makes (GitHub `commitBody`, GitLab
    /// `squash_commit_message`).
    pub commit_body: Option<String>,
    /// GitLab `should_remove_source_branch`.
    pub remove_source_branch: Option<bool>,
}

/// A commit status (GitHub's statuses API; on GitLab an external job of
/// the commit's pipeline).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimStatus {
    /// Status id.
    pub id: u64,
    /// The commit.
    pub sha: String,
    /// GitHub `context`, GitLab `name`.
    pub context: String,
    /// The forge's own word: GitHub `pending|success|failure|error`,
    /// GitLab `pending|running|success|failed|canceled|skipped`.
    pub state: String,
    /// Short description.
    pub description: Option<String>,
    /// Link to the details.
    pub target_url: Option<String>,
    /// GitLab: the ref the pipeline ran for.
    pub git_ref: Option<String>,
    /// When (RFC 3339).
    pub created_at: String,
    /// Who reported it (login).
    pub creator: String,
}

impl SimMergeRequest {
    /// A new open merge request `!iid` from `source_branch` into
    /// `target_branch`, created at `now`, without labels or notes.
    pub(crate) fn opened(
        iid: u64,
        source_branch: String,
        target_branch: String,
        title: String,
        description: String,
        now: String,
    ) -> Self {
        Self {
            iid,
            title,
            description,
            labels: Vec::new(),
            source_branch,
            target_branch,
            state: SimMrState::Opened,
            created_at: now.clone(),
            updated_at: now,
            merged_at: None,
            closed_at: None,
            merged_sha: None,
            merge_commit_sha: None,
            squash_commit_sha: None,
            remove_source_branch: false,
            auto_merge: false,
            notes: Vec::new(),
            merged_by: None,
            reviews: Vec::new(),
            draft: false,
            squash: false,
            armed: None,
        }
    }

    /// Whether commit `sha` belongs to this merge request as the forges
    /// relate them: its source head (`live_head` while open, the merged
    /// head afterwards), its merge commit, or its squash commit. (GitLab
    /// also relates every other commit of the MR; Baton's MR branches carry
    /// one.)
    pub(crate) fn relates_to_commit(&self, sha: &str, live_head: Option<&str>) -> bool {
        let head = match self.state {
            SimMrState::Opened => live_head,
            _ => self.merged_sha.as_deref(),
        };
        [
            head,
            self.merge_commit_sha.as_deref(),
            self.squash_commit_sha.as_deref(),
        ]
        .contains(&Some(sha))
    }

    /// Whether reopening this (closed) merge request would put it next to
    /// another open one for the same branches: its number if so. Both
    /// forges refuse that, as they refuse creating a duplicate.
    pub(crate) fn reopen_blocked_by(&self, all: &[SimMergeRequest]) -> Option<u64> {
        if self.state != SimMrState::Closed {
            return None;
        }
        all.iter()
            .find(|m| {
                m.iid != self.iid && m.is_open_between(&self.source_branch, &self.target_branch)
            })
            .map(|m| m.iid)
    }

    /// Whether this is an open merge request from `source` into `target`.
    pub(crate) fn is_open_between(&self, source: &str, target: &str) -> bool {
        self.state == SimMrState::Opened
            && self.source_branch == source
            && self.target_branch == target
    }

    /// Moves to state `to` if asked (closing an open merge request or
    /// reopening a closed one; a merged one stays merged), stamps
    /// `updated_at` with `now` and returns the merge request as it now is.
    pub(crate) fn updated(&mut self, to: Option<SimMrState>, now: String) -> Self {
        match (to, self.state) {
            (Some(SimMrState::Closed), SimMrState::Opened) => {
                self.state = SimMrState::Closed;
                self.closed_at = Some(now.clone());
                self.armed = None;
            }
            (Some(SimMrState::Opened), SimMrState::Closed) => {
                self.state = SimMrState::Opened;
                self.closed_at = None;
            }
            _ => {}
        }
        self.updated_at = now;
        self.clone()
    }
}
