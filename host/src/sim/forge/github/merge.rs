//! `PUT /repos/{owner}/{repo}/pulls/{number}/merge`: lands the pull request
//! on its base branch in the bare repository (`merge`, `squash` or `rebase`),
//! with GitHub's 405 / 409 / 422 answers when it cannot.
//!
//! The commit messages are GitHub's defaults: a merge commit says `Merge
//! pull request #N from owner/branch` over the PR title; a squash commit
//! follows the repository defaults `COMMIT_OR_PR_TITLE` and
//! `COMMIT_MESSAGES` (one commit: its own subject and body; several: the
//! PR title and each commit's message as a `* ` item), with ` (#N)` after
//! the title; `commit_title` and `commit_message` replace either part. A
//! rebase replays every commit with its own message and author.
//!
//! A draft answers 405 `Pull Request is still a draft`, a pull request
//! whose required checks are not green 405 with the check's name (see
//! `checks`); an armed auto-merge lands through [`Gh::land`] as well.

use super::checks::MergeState;
use super::*;
use crate::sim::forge::{LandFailure, Landing};

pub(super) async fn merge(
    State(gh): State<Arc<Gh>>,
    Path((owner, repo, number)): Path<(String, String, String)>,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Response {
    let (pr, p) = match find_with_params(&gh, &owner, &repo, &number, &uri, &body).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    let strategy = match p_str(&p, "merge_method").as_deref() {
        None | Some("merge") => Strategy::MergeCommit,
        Some("squash") => Strategy::Squash,
        Some("rebase") => Strategy::Rebase,
        Some(other) => {
            let errors = json!([{ "resource": "PullRequest", "field": "merge_method", "code": "invalid", "value": other }]);
            let body = json!({ "message": "Validation Failed", "errors": errors, "documentation_url": DOC_MERGE });
            return (StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response();
        }
    };
    let not_mergeable = |message: &str| error(StatusCode::METHOD_NOT_ALLOWED, message, DOC_MERGE);
    let mut store = gh.shared.store.lock().await;
    let Some(m) = store.iter_mut().find(|m| m.iid == pr.iid) else {
        return not_found();
    };
    if m.state != SimMrState::Opened {
        return not_mergeable("Pull Request is not mergeable");
    }
    match gh.merge_state_now(m).await {
        MergeState::Draft => return not_mergeable("Pull Request is still a draft"),
        MergeState::Blocked(why) => return not_mergeable(&why),
        _ => {}
    }
    let by = acting_user(&headers, reviews::USER_HEADER);
    let landed = gh
        .land(
            m,
            strategy,
            p_str(&p, "commit_title"),
            p_str(&p, "commit_message"),
            p_str(&p, "sha"),
            by,
        )
        .await;
    drop(store);
    match landed {
        Ok(sha) => Json(
            json!({ "sha": sha, "merged": true, "message": "Pull Request successfully merged" }),
        )
        .into_response(),
        Err(failure) => land_failure(failure),
    }
}

/// `GET /repos/{owner}/{repo}/pulls/{number}/merge`: 204 when the pull
/// request was merged, else 404 (PyGithub's `is_merged()`).
pub(super) async fn is_merged(
    State(gh): State<Arc<Gh>>,
    Path((owner, repo, number)): Path<(String, String, String)>,
) -> Response {
    match find(&gh, &owner, &repo, &number).await {
        Ok(pr) if pr.state == SimMrState::Merged => StatusCode::NO_CONTENT.into_response(),
        Ok(_) => error(
            StatusCode::NOT_FOUND,
            "Not Found",
            "https://docs.github.com/rest/pulls/pulls#check-if-a-pull-request-has-been-merged",
        ),
        Err(r) => r,
    }
}

impl Gh {
    /// Lands open pull request `m` (whose store lock the caller holds) by
    /// `strategy` with GitHub's default commit title and body unless
    /// given, as `by`; marks it merged and returns the base's new head.
    pub(super) async fn land(
        &self,
        m: &mut SimMergeRequest,
        strategy: Strategy,
        commit_title: Option<String>,
        commit_message: Option<String>,
        expected_sha: Option<String>,
        by: String,
    ) -> Result<String, LandFailure> {
        let (default_title, default_body) = if strategy == Strategy::Squash {
            squash_defaults(&self.shared.repo, m)
                .await
                .map_err(|e| LandFailure::Merge(MergeFailure::Git(e)))?
        } else {
            (
                format!(
                    "Merge pull request #{} from {}/{}",
                    m.iid, self.owner, m.source_branch
                ),
                m.title.clone(),
            )
        };
        let title = commit_title.unwrap_or(default_title);
        let body = commit_message.unwrap_or(default_body);
        let message = if body.trim().is_empty() {
            title
        } else {
            format!("{title}\n\n{body}")
        };
        let landing = Landing {
            source_branch: &m.source_branch,
            target_branch: &m.target_branch,
            expected_sha: expected_sha.as_deref(),
            strategy,
            squash_first: None,
            message: &message,
        };
        let landed = self.shared.repo.land(&landing).await?;
        let now = now_rfc3339(false);
        m.state = SimMrState::Merged;
        m.merged_at = Some(now.clone());
        m.closed_at = Some(now.clone());
        m.updated_at = now;
        m.merged_sha = Some(landed.source);
        m.merged_by = Some(by);
        m.merge_commit_sha = Some(landed.head.clone());
        m.armed = None;
        Ok(landed.head)
    }
}

/// The default title and body of a squash commit (`COMMIT_OR_PR_TITLE`,
/// `COMMIT_MESSAGES`): one commit gives its own subject and body, several
/// give the PR title and a `* ` item per commit message.
async fn squash_defaults(
    repo: &crate::sim::forge::Repo,
    pr: &SimMergeRequest,
) -> Result<(String, String), SimError> {
    let missing = || SimError::Git {
        args: format!("rev-parse {} {}", pr.source_branch, pr.target_branch),
        status: 1,
        stderr: "branch missing".into(),
    };
    let source = repo.head(&pr.source_branch).await?.ok_or_else(missing)?;
    let target = repo.head(&pr.target_branch).await?.ok_or_else(missing)?;
    let commits = repo.commits_between(&target, &source).await?;
    let mut messages = Vec::with_capacity(commits.len());
    for commit in &commits {
        messages.push(repo.message(commit).await?);
    }
    Ok(match messages.as_slice() {
        [one] => {
            let (subject, body) = one.split_once('\n').unwrap_or((one.as_str(), ""));
            (format!("{subject} (#{})", pr.iid), body.trim().to_owned())
        }
        many => (
            format!("{} (#{})", pr.title, pr.iid),
            many.iter()
                .map(|m| format!("* {m}"))
                .collect::<Vec<_>>()
                .join("\n\n"),
        ),
    })
}

/// GitHub's answer when a pull request cannot land.
fn land_failure(failure: LandFailure) -> Response {
    match failure {
        LandFailure::BranchMissing
        | LandFailure::Merge(MergeFailure::Conflict | MergeFailure::NotFastForward) => error(
            StatusCode::METHOD_NOT_ALLOWED,
            "Pull Request is not mergeable",
            DOC_MERGE,
        ),
        LandFailure::ShaMismatch => error(
            StatusCode::CONFLICT,
            "Head branch was modified. Review and try the merge again.",
            DOC_MERGE,
        ),
        LandFailure::Merge(MergeFailure::TargetMoved) => error(
            StatusCode::CONFLICT,
            "Base branch was modified. Review and try the merge again.",
            DOC_MERGE,
        ),
        LandFailure::Merge(MergeFailure::Git(e)) => {
            error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string(), DOCS)
        }
    }
}
