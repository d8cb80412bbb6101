//! Forge-neutral data: the merge request as Baton sees it, and the inputs
//! of the calls that change one. GitLab calls it `iid`, GitHub `number`; both
//! are [`MergeRequest::iid`] here.

use serde::{Deserialize, Serialize};

/// State of a merge request, in GitLab's vocabulary (GitHub's `open`, and
/// `closed` with `merged: true`, map onto it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MrState {
    /// Open for review.
    Opened,
    /// Closed without merging.
    Closed,
    /// Merged into the target branch.
    Merged,
    /// Locked (GitLab only, transient while merging).
    Locked,
}

/// A merge request (GitLab) or pull request (GitHub).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MergeRequest {
    /// Project-scoped number: GitLab `iid`, GitHub `number`.
    pub iid: u64,
    /// Link for people (`web_url` / `html_url`).
    pub web_url: String,
    /// Title.
    pub title: String,
    /// Description (GitHub: body); empty when the forge sends `null`.
    pub description: String,
    /// Open, closed, merged or locked.
    pub state: MrState,
    /// Branch with the change.
    pub source_branch: String,
    /// Branch the change goes into.
    pub target_branch: String,
    /// Label names.
    pub labels: Vec<String>,
    /// GitLab `detailed_merge_status`; on GitHub the `mergeable_state`
    /// mapped onto GitLab's words (`clean` -> `mergeable`, `dirty` ->
    /// `conflict`, …). `None` when the forge has not computed it yet.
    pub detailed_merge_status: Option<String>,
    /// Head commit of the source branch.
    pub sha: Option<String>,
    /// The merge commit once merged (or the fast-forwarded head).
    pub merge_commit_sha: Option<String>,
}

/// What Baton asks to open.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NewMergeRequest {
    /// Branch with the change (must exist on the forge).
    pub source_branch: String,
    /// Branch the change goes into.
    pub target_branch: String,
    /// Title (see [`crate::capabilities::forge::content`]).
    pub title: String,
    /// Description in Markdown.
    pub description: String,
    /// Label names.
    pub labels: Vec<String>,
    /// Delete the source branch after merge (GitLab
    /// `remove_source_branch`; GitHub has no per-PR switch, ignored there).
    pub remove_source_branch: bool,
}

/// The result of [`crate::capabilities::forge::Forge::create_or_reuse`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened {
    /// The merge request as it now stands.
    pub merge_request: MergeRequest,
    /// True when an existing open MR was reused instead of created.
    pub reused: bool,
}

/// How to merge.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MergeOptions {
    /// Merge when the checks pass (GitLab `auto_merge=true`, GitHub's
    /// GraphQL `enablePullRequestAutoMerge`); one that can merge now is
    /// merged now.
    pub auto_merge: bool,
    /// Only merge if the source branch head is still this commit.
    pub sha: Option<String>,
    /// Merge commit message; the forge's default when `None`.
    pub commit_message: Option<String>,
}

/// Who approved and who merged a merge request, as the forge reports it.
/// Times are RFC 3339, UTC, milliseconds.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Review {
    /// Link for people.
    pub web_url: String,
    /// Login of who merged it (GitLab `merge_user`, else `merged_by`;
    /// GitHub `merged_by`).
    pub merged_by: Option<String>,
    /// When it was merged.
    pub merged_at: Option<String>,
    /// The approvals standing (GitLab approvals; GitHub each reviewer's
    /// latest review, when it approves).
    pub approvals: Vec<ReviewApproval>,
}

/// One approval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewApproval {
    /// The approver's login.
    pub user: String,
    /// When, if the forge says (GitLab before 17.x does not).
    pub at: Option<String>,
}

/// A forge timestamp in the record's form (milliseconds, UTC); `None`
/// when it does not parse.
pub(crate) fn normalize_time(text: Option<&str>) -> Option<String> {
    text.and_then(crate::time::parse_rfc3339)
        .map(crate::time::format_rfc3339_millis)
}
