//! The `forge` capability: merge requests on GitLab and pull requests on
//! GitHub behind one object-safe trait, [`Forge`], so the engine (and the
//! policy's `forge` import) never knows which forge it talks to.
//!
//! - [`model`]: the forge-neutral merge request and the inputs of each call;
//! - [`gitlab`] / [`github`]: the real REST clients (reqwest + rustls);
//! - [`http`]: the shared transport (auth header, timeouts, retries, pages);
//! - [`content`]: the title and description Baton writes into an MR.
//!
//! The trait uses `#[async_trait]` (boxed `Send` futures) because the engine
//! holds the forge as `Arc<dyn Forge>` chosen at run time from `baton.yaml`:
//! native `async fn` in traits is not dyn-compatible, and the crate is already
//! in the dependency tree (wasmtime's async host bindings use it), so it adds
//! nothing to the build while keeping the signatures readable.

pub mod content;
pub mod error;
pub mod github;
pub mod gitlab;
pub mod http;
pub mod model;

pub use error::ForgeError;
pub use github::{GitHub, GitHubConfig, GitHubMergeMethod};
pub use gitlab::{GitLab, GitLabAuth, GitLabConfig};
pub use http::HttpConfig;
pub use model::{
    MergeOptions, MergeRequest, MrState, NewMergeRequest, Opened, Review, ReviewApproval,
};

use async_trait::async_trait;

/// A code forge that hosts the env repo: the operations Baton needs on
/// merge requests (GitLab) or pull requests (GitHub).
#[async_trait]
pub trait Forge: Send + Sync {
    /// Opens a merge request, or reuses the open one for the same source
    /// branch (updating its description when it differs). Never creates a
    /// second open MR for one source branch.
    async fn create_or_reuse(&self, request: &NewMergeRequest) -> Result<Opened, ForgeError>;

    /// Every open merge request whose source branch is `source_branch`,
    /// across all result pages.
    async fn list_open(&self, source_branch: &str) -> Result<Vec<MergeRequest>, ForgeError>;

    /// The open merge request for `source_branch`, if any (the lowest
    /// number when several target different branches).
    async fn find_open(&self, source_branch: &str) -> Result<Option<MergeRequest>, ForgeError> {
        let mut all = self.list_open(source_branch).await?;
        all.sort_by_key(|mr| mr.iid);
        Ok(all.into_iter().next())
    }

    /// The merge request with this iid (GitLab) or number (GitHub).
    async fn get(&self, iid: u64) -> Result<MergeRequest, ForgeError>;

    /// Replaces the description (body) of a merge request.
    async fn update_description(
        &self,
        iid: u64,
        description: &str,
    ) -> Result<MergeRequest, ForgeError>;

    /// Merges the merge request, or with `auto_merge` arms the forge's
    /// auto-merge (it stays open until its checks pass; one that can
    /// merge now is merged), and returns it as the forge reports it
    /// afterwards: merged, or open and armed.
    async fn merge(&self, iid: u64, options: &MergeOptions) -> Result<MergeRequest, ForgeError>;

    /// Who approved merge request `iid` and who merged it, with times
    /// (GitLab: the MR and `GET …/approvals`; GitHub: the pull request and
    /// its reviews). For the audit record.
    async fn review(&self, iid: u64) -> Result<Review, ForgeError>;

    // Superseded merge requests: found among the open ones into a branch,
    // closed with a comment saying what replaced them.

    /// Every open merge request whose target branch is `target_branch`,
    /// across all result pages.
    async fn list_open_into(&self, target_branch: &str) -> Result<Vec<MergeRequest>, ForgeError>;

    /// The open merge requests into `target_branch` whose source branch
    /// starts with `prefix` (a stage's `baton/<app>/<stage>/`). Here every
    /// open request into the branch is read; GitLab and GitHub ask for the
    /// branches under the prefix first ([`open_from_branches`]), so the
    /// work follows the stage's own branches, not every open request of a
    /// busy project.
    async fn list_open_under(
        &self,
        prefix: &str,
        target_branch: &str,
    ) -> Result<Vec<MergeRequest>, ForgeError> {
        open_into_under(self, prefix, target_branch).await
    }

    /// Adds a comment (GitLab note, GitHub issue comment) to a merge request.
    async fn comment(&self, iid: u64, body: &str) -> Result<(), ForgeError>;

    /// Closes a merge request without merging it and returns it as the
    /// forge reports it afterwards.
    async fn close(&self, iid: u64) -> Result<MergeRequest, ForgeError>;

    /// Deletes `branch` (the source branch of a superseded request, once
    /// closed: the forge keeps the request's commits under its own ref). A
    /// branch already gone is not an error.
    async fn delete_branch(&self, branch: &str) -> Result<(), ForgeError>;

    // Attribution: which merge request brought a commit to the branch.

    /// The most recent merged merge requests into `target_branch`: one
    /// page of up to 100, newest first (what history attribution reads
    /// first, in one request).
    async fn recent_merged_into(
        &self,
        target_branch: &str,
    ) -> Result<Vec<MergeRequest>, ForgeError>;

    /// The merge requests the forge associates with commit `sha`, across
    /// all result pages: on GitLab those whose commits, merge commit or
    /// squash commit it is; on GitHub the merged pull request that brought
    /// it to the default branch (or open ones whose head it is).
    async fn merge_requests_of_commit(&self, sha: &str) -> Result<Vec<MergeRequest>, ForgeError>;
}

/// The most branches under a prefix whose open merge requests are asked for
/// one branch at a time; past it, every open request into the target
/// branch is read once instead.
pub(crate) const MANY_BRANCHES: usize = 20;

/// [`Forge::list_open_under`] from every open request into `target_branch`.
async fn open_into_under<F: Forge + ?Sized>(
    forge: &F,
    prefix: &str,
    target_branch: &str,
) -> Result<Vec<MergeRequest>, ForgeError> {
    let open = forge.list_open_into(target_branch).await?;
    Ok(open
        .into_iter()
        .filter(|m| m.source_branch.starts_with(prefix))
        .collect())
}

/// [`Forge::list_open_under`] from `branches`, the forge's answer to which
/// branches start with `prefix` (its search may match more loosely: only
/// names with the exact prefix are kept): each one's open requests into
/// `target_branch`, or, past [`MANY_BRANCHES`], every open request into it.
pub(crate) async fn open_from_branches<F: Forge + ?Sized>(
    forge: &F,
    branches: Vec<String>,
    prefix: &str,
    target_branch: &str,
) -> Result<Vec<MergeRequest>, ForgeError> {
    let mut branches: Vec<String> = branches
        .into_iter()
        .filter(|b| b.starts_with(prefix))
        .collect();
    branches.sort();
    branches.dedup();
    if branches.len() > MANY_BRANCHES {
        return open_into_under(forge, prefix, target_branch).await;
    }
    let mut open = Vec::new();
    for branch in &branches {
        open.extend(
            forge
                .list_open(branch)
                .await?
                .into_iter()
                .filter(|m| m.target_branch == target_branch && m.source_branch == *branch),
        );
    }
    Ok(open)
}

/// An open merge request reused for `request` (the forge said one exists
/// for its source branch): as it stands when its description already
/// matches, else with the description updated.
pub(crate) async fn reuse<F: Forge + ?Sized>(
    forge: &F,
    existing: MergeRequest,
    request: &NewMergeRequest,
) -> Result<Opened, ForgeError> {
    let merge_request = if existing.description == request.description {
        existing
    } else {
        forge
            .update_description(existing.iid, &request.description)
            .await?
    };
    Ok(Opened {
        merge_request,
        reused: true,
    })
}
