//! `PUT /projects/:id/merge_requests/:iid/merge`: lands the MR on its
//! target branch in the bare repository (merge commit or fast-forward, the
//! project's method), with GitLab's 405 / 409 answers when it cannot.
//!
//! `squash=true` squashes first, as GitLab does: one commit whose message
//! is `squash_commit_message`, else the MR title (GitLab's default squash
//! template `%{title}`), then the merge commit on top of it (merge commit
//! method, `merge_commit_sha` and `squash_commit_sha` both set) or the
//! squash commit alone (fast-forward method, `merge_commit_sha` null).
//! Without `squash`, the MR's own `squash` attribute decides. A draft
//! cannot be merged (405).
//!
//! `auto_merge=true` (or the older `merge_when_pipeline_succeeds=true`)
//! while the head pipeline is pending or running arms the merge instead:
//! the MR stays open with `merge_when_pipeline_succeeds: true` and lands,
//! with what the call asked, when the pipeline succeeds (see
//! `pipelines`). With no pipeline, or a finished one, it merges now.

use super::*;
use crate::sim::forge::{LandFailure, Landing, SimAutoMerge, acting_user};

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
    if m.state != SimMrState::Opened || m.draft {
        return not_allowed();
    }
    let user = acting_user(&headers, "sudo");
    let auto_merge = p_bool(&p, "auto_merge")
        .or_else(|| p_bool(&p, "merge_when_pipeline_succeeds"))
        .unwrap_or(false);
    let order = MergeOrder {
        squash: p_bool(&p, "squash").unwrap_or(m.squash),
        merge_commit_message: p_str(&p, "merge_commit_message"),
        squash_commit_message: p_str(&p, "squash_commit_message"),
        remove_source_branch: p_bool(&p, "should_remove_source_branch"),
    };
    let expected_sha = p_str(&p, "sha");
    if auto_merge && let Ok(Some(head)) = gl.shared.repo.head(&m.source_branch).await {
        if expected_sha.as_ref().is_some_and(|sha| *sha != head) {
            return message(
                StatusCode::CONFLICT,
                json!("SHA does not match HEAD of source branch"),
            );
        }
        if gl.pipeline_of(&head).is_some_and(|p| p.active()) {
            // GitLab arms auto-merge while the head pipeline runs.
            m.auto_merge = true;
            m.armed = Some(order.armed(user, now_rfc3339(true)));
            m.updated_at = now_rfc3339(true);
            let armed = m.clone();
            drop(store);
            return Json(gl.mr_json(&armed, true).await).into_response();
        }
    }
    if let Err(failure) = gl.land(m, &order, expected_sha, user).await {
        return land_failure(failure);
    }
    m.auto_merge = auto_merge;
    let merged = m.clone();
    drop(store);
    Json(gl.mr_json(&merged, true).await).into_response()
}

/// What a merge call asks besides the merge itself.
#[derive(Debug, Clone)]
pub(super) struct MergeOrder {
    /// Squash first.
    pub squash: bool,
    /// The merge commit's message; GitLab's default when `None`.
    pub merge_commit_message: Option<String>,
    /// The squash commit's message; the title when `None`.
    pub squash_commit_message: Option<String>,
    /// `should_remove_source_branch`; the MR's own setting when `None`.
    pub remove_source_branch: Option<bool>,
}

impl MergeOrder {
    fn armed(self, user: String, now: String) -> SimAutoMerge {
        SimAutoMerge {
            enabled_by: user,
            enabled_at: now,
            strategy: Strategy::MergeCommit,
            squash: self.squash,
            commit_title: self.merge_commit_message,
            commit_body: self.squash_commit_message,
            remove_source_branch: self.remove_source_branch,
        }
    }

    /// The order an armed merge request was armed with.
    pub(super) fn from_armed(armed: &SimAutoMerge) -> Self {
        Self {
            squash: armed.squash,
            merge_commit_message: armed.commit_title.clone(),
            squash_commit_message: armed.commit_body.clone(),
            remove_source_branch: armed.remove_source_branch,
        }
    }
}

impl Gl {
    /// Lands open merge request `m` (whose store lock the caller holds)
    /// by the project's method as `by`, and marks it merged.
    pub(super) async fn land(
        &self,
        m: &mut SimMergeRequest,
        order: &MergeOrder,
        expected_sha: Option<String>,
        by: String,
    ) -> Result<(), LandFailure> {
        let repo = &self.shared.repo;
        let message_text = order.merge_commit_message.clone().unwrap_or_else(|| {
            format!(
                "Merge branch '{}' into '{}'\n\n{}\n\nSee merge request {}!{}",
                m.source_branch, m.target_branch, m.title, self.project_path, m.iid
            )
        });
        let squash_text = order.squash.then(|| {
            order
                .squash_commit_message
                .clone()
                .filter(|t| !t.trim().is_empty())
                .unwrap_or_else(|| m.title.clone())
        });
        let landing = Landing {
            source_branch: &m.source_branch,
            target_branch: &m.target_branch,
            expected_sha: expected_sha.as_deref(),
            strategy: self.strategy,
            squash_first: squash_text.as_deref(),
            message: &message_text,
        };
        let landed = repo.land(&landing).await?;
        let source_sha = landed.source;
        let now = now_rfc3339(true);
        m.state = SimMrState::Merged;
        m.merged_at = Some(now.clone());
        m.updated_at = now;
        m.merged_sha = Some(source_sha.clone());
        m.merged_by = Some(by);
        m.merge_commit_sha = Some(landed.head);
        m.squash_commit_sha = landed.squash;
        m.squash = order.squash;
        m.armed = None;
        let remove = order.remove_source_branch.unwrap_or(m.remove_source_branch);
        if remove && let Err(e) = repo.delete_branch(&m.source_branch, &source_sha).await {
            tracing::warn!(error = %e, branch = %m.source_branch, "could not remove the source branch");
        }
        Ok(())
    }
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
