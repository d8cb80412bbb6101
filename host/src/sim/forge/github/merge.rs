//! `PUT /repos/{owner}/{repo}/pulls/{number}/merge`: lands the pull request
//! on its base branch in the bare repository (`merge`, `squash` or `rebase`),
//! with GitHub's 405 / 409 / 422 answers when it cannot.

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
        Some("rebase") => Strategy::FastForward,
        Some(other) => {
            let errors = json!([{ "resource": "PullRequest", "field": "merge_method", "code": "invalid", "value": other }]);
            let body = json!({ "message": "Validation Failed", "errors": errors, "documentation_url": DOC_MERGE });
            return (StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response();
        }
    };
    let not_mergeable = || {
        error(
            StatusCode::METHOD_NOT_ALLOWED,
            "Pull Request is not mergeable",
            DOC_MERGE,
        )
    };
    let mut store = gh.shared.store.lock().await;
    let Some(m) = store.iter_mut().find(|m| m.iid == pr.iid) else {
        return not_found();
    };
    if m.state != SimMrState::Opened {
        return not_mergeable();
    }
    let title = p_str(&p, "commit_title").unwrap_or_else(|| {
        format!(
            "Merge pull request #{} from {}/{}",
            m.iid, gh.owner, m.source_branch
        )
    });
    let message = match p_str(&p, "commit_message") {
        Some(body) => format!("{title}\n\n{body}"),
        None => format!("{title}\n\n{}", m.title),
    };
    let expected_sha = p_str(&p, "sha");
    // `rebase` replays onto the base: a fast-forward when possible, else
    // (approximation) one commit carrying the merged tree.
    let landing = Landing {
        source_branch: &m.source_branch,
        target_branch: &m.target_branch,
        expected_sha: expected_sha.as_deref(),
        strategy,
        squash_unless_ff: true,
        message: &message,
    };
    let landed = match gh.shared.repo.land(&landing).await {
        Ok(landed) => landed,
        Err(failure) => return land_failure(failure),
    };
    let (source_sha, new_head) = (landed.source, landed.head);
    let now = now_rfc3339(false);
    m.state = SimMrState::Merged;
    m.merged_at = Some(now.clone());
    m.closed_at = Some(now.clone());
    m.updated_at = now;
    m.merged_sha = Some(source_sha);
    m.merged_by = Some(crate::sim::forge::acting_user(
        &headers,
        reviews::USER_HEADER,
    ));
    m.merge_commit_sha = Some(new_head.clone());
    drop(store);
    Json(json!({ "sha": new_head, "merged": true, "message": "Pull Request successfully merged" }))
        .into_response()
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
