//! `PUT /projects/:id/merge_requests/:iid/merge`: lands the MR on its
//! target branch in the bare repository (merge commit or fast-forward, the
//! project's method), with GitLab's 405 / 409 answers when it cannot.
//!
//! `squash=true` squashes first, as GitLab does: one commit whose message
//! is `squash_commit_message`, else the MR title (GitLab's default squash
//! template `%{title}`), then the merge commit on top of it (merge commit
//! method, `merge_commit_sha` and `squash_commit_sha` both set) or the
//! squash commit alone (fast-forward method, `merge_commit_sha` null).

use super::*;
use crate::sim::forge::{LandFailure, Landing};

pub(super) async fn merge(
    State(gl): State<Arc<Gl>>,
    Path((id, iid)): Path<(String, String)>,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Response {
    let (mr, p) = match find_with_params(&gl, &id, &iid, &uri, &body).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    let not_allowed = || {
        message(
            StatusCode::METHOD_NOT_ALLOWED,
            json!("405 Method Not Allowed"),
        )
    };
    // One merge at a time: the store lock also serialises the git work.
    let mut store = gl.shared.store.lock().await;
    let Some(m) = store.iter_mut().find(|m| m.iid == mr.iid) else {
        return mr_404();
    };
    if m.state != SimMrState::Opened {
        return not_allowed();
    }
    let repo = &gl.shared.repo;
    let squash = p_bool(&p, "squash").unwrap_or(false);
    let message_text = p_str(&p, "merge_commit_message").unwrap_or_else(|| {
        format!(
            "Merge branch '{}' into '{}'\n\n{}\n\nSee merge request {}!{}",
            m.source_branch, m.target_branch, m.title, gl.project_path, m.iid
        )
    });
    let squash_text = squash.then(|| {
        p_str(&p, "squash_commit_message")
            .filter(|t| !t.trim().is_empty())
            .unwrap_or_else(|| m.title.clone())
    });
    let expected_sha = p_str(&p, "sha");
    let landing = Landing {
        source_branch: &m.source_branch,
        target_branch: &m.target_branch,
        expected_sha: expected_sha.as_deref(),
        strategy: gl.strategy,
        squash_first: squash_text.as_deref(),
        message: &message_text,
    };
    let landed = match repo.land(&landing).await {
        Ok(landed) => landed,
        Err(failure) => return land_failure(failure),
    };
    let (source_sha, new_head) = (landed.source, landed.head);
    let now = now_rfc3339(true);
    m.state = SimMrState::Merged;
    m.merged_at = Some(now.clone());
    m.updated_at = now;
    m.merged_sha = Some(source_sha.clone());
    m.merged_by = Some(crate::sim::forge::acting_user(&headers, "sudo"));
    m.merge_commit_sha = Some(new_head);
    m.squash_commit_sha = landed.squash;
    m.auto_merge = p_bool(&p, "auto_merge")
        .or_else(|| p_bool(&p, "merge_when_pipeline_succeeds"))
        .unwrap_or(false);
    let remove = p_bool(&p, "should_remove_source_branch").unwrap_or(m.remove_source_branch);
    if remove && let Err(e) = repo.delete_branch(&m.source_branch, &source_sha).await {
        tracing::warn!(error = %e, branch = %m.source_branch, "could not remove the source branch");
    }
    let merged = m.clone();
    drop(store);
    Json(gl.mr_json(&merged, true).await).into_response()
}

/// GitLab's answer when a merge request cannot land.
fn land_failure(failure: LandFailure) -> Response {
    match failure {
        LandFailure::BranchMissing
        | LandFailure::Merge(MergeFailure::Conflict | MergeFailure::NotFastForward) => message(
            StatusCode::METHOD_NOT_ALLOWED,
            json!("405 Method Not Allowed"),
        ),
        LandFailure::ShaMismatch => message(
            StatusCode::CONFLICT,
            json!("SHA does not match HEAD of source branch"),
        ),
        LandFailure::Merge(MergeFailure::TargetMoved) => message(
            StatusCode::CONFLICT,
            json!("Target branch was updated during the merge, try again"),
        ),
        LandFailure::Merge(MergeFailure::Git(e)) => {
            message(StatusCode::INTERNAL_SERVER_ERROR, json!(e.to_string()))
        }
    }
}
