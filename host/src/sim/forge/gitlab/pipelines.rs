//! Commit statuses and the pipelines they make, which is how anything
//! outside GitLab CI reports checks to GitLab (and how tests set an MR's
//! checks): `POST /projects/:id/statuses/:sha` (`state`
//! `pending|running|success|failed|canceled|skipped`, `name` or `context`,
//! default `default`) adds a job to the commit's external pipeline, and
//! `GET /projects/:id/repository/commits/:sha/statuses` lists them.
//!
//! A pipeline's status follows its jobs' latest states: `failed` if one
//! failed, else `running`, `pending`, `canceled`, else `success`. An MR
//! shows the pipeline of its source head as `head_pipeline`. When a
//! pipeline succeeds, every MR armed with auto-merge on that head lands;
//! when it fails or is canceled, auto-merge is cancelled. (The simulated
//! project does not require pipelines to pass: a plain merge lands
//! whatever the pipeline says.)

use super::*;
use crate::sim::forge::{SimStatus, acting_user};
use merge::MergeOrder;

const STATES: [&str; 6] = [
    "pending", "running", "success", "failed", "canceled", "skipped",
];

/// The external pipeline of one commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Pipeline {
    /// Pipeline id (the id of its first job).
    pub id: u64,
    /// The commit.
    pub sha: String,
    /// The ref its first job named.
    pub git_ref: String,
    /// `pending`, `running`, `success`, `failed` or `canceled`.
    pub status: &'static str,
    /// First job's creation time.
    pub created_at: String,
    /// Last job's time.
    pub updated_at: String,
}

impl Pipeline {
    /// Whether it has not finished.
    pub(super) fn active(&self) -> bool {
        matches!(self.status, "pending" | "running")
    }
}

impl Gl {
    /// The pipeline of commit `sha`, if any status was reported for it.
    pub(super) fn pipeline_of(&self, sha: &str) -> Option<Pipeline> {
        let all = self.shared.statuses_of(sha);
        let first = all.last()?;
        let newest = all.first()?;
        let latest = self.shared.latest_statuses(sha);
        let has = |state: &str| latest.iter().any(|s| s.state == state);
        let status = if has("failed") {
            "failed"
        } else if has("running") {
            "running"
        } else if has("pending") {
            "pending"
        } else if has("canceled") {
            "canceled"
        } else {
            "success"
        };
        Some(Pipeline {
            id: first.id,
            sha: sha.to_owned(),
            git_ref: first.git_ref.clone().unwrap_or_default(),
            status,
            created_at: first.created_at.clone(),
            updated_at: newest.created_at.clone(),
        })
    }

    pub(super) fn pipeline_json(&self, p: &Pipeline) -> Value {
        json!({
            "id": p.id, "iid": p.id, "project_id": self.project_id, "sha": p.sha, "ref": p.git_ref,
            "status": p.status, "source": "external", "created_at": p.created_at,
            "updated_at": p.updated_at,
            "web_url": format!("{}/{}/-/pipelines/{}", self.shared.base_url, self.project_path, p.id),
        })
    }

    fn status_json(&self, s: &SimStatus, pipeline_id: u64) -> Value {
        let finished = !matches!(s.state.as_str(), "pending" | "running");
        json!({
            "id": s.id, "sha": s.sha, "ref": s.git_ref, "status": s.state, "name": s.context,
            "target_url": s.target_url, "description": s.description, "created_at": s.created_at,
            "started_at": if s.state == "pending" { Value::Null } else { json!(s.created_at) },
            "finished_at": if finished { json!(s.created_at) } else { Value::Null },
            "allow_failure": false, "coverage": null, "pipeline_id": pipeline_id,
            "author": self.user_named(&s.creator),
        })
    }

    /// Lands the armed MRs whose head pipeline succeeded; cancels
    /// auto-merge where it failed or was canceled.
    async fn settle(&self) {
        let mut store = self.shared.store.lock().await;
        for m in store.iter_mut() {
            let Some(armed) = m.armed.clone() else {
                continue;
            };
            let Ok(Some(head)) = self.shared.repo.head(&m.source_branch).await else {
                continue;
            };
            match self.pipeline_of(&head).map(|p| p.status) {
                Some("success") => {
                    let order = MergeOrder::from_armed(&armed);
                    if let Err(failure) = self.land(m, &order, None, armed.enabled_by).await {
                        tracing::warn!(iid = m.iid, ?failure, "armed merge request did not land");
                    }
                }
                Some("failed" | "canceled") => {
                    m.armed = None;
                    m.auto_merge = false;
                    m.updated_at = now_rfc3339(true);
                }
                _ => {}
            }
        }
    }
}

/// `POST /projects/:id/statuses/:sha`.
pub(super) async fn create_status(
    State(gl): State<Arc<Gl>>,
    Path((id, sha)): Path<(String, String)>,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Response {
    let p = match project_params(&gl, &id, &uri, &body) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let state = p_str(&p, "state").unwrap_or_default();
    if !STATES.contains(&state.as_str()) {
        let text = if state.is_empty() {
            "state is missing, state does not have a valid value"
        } else {
            "state does not have a valid value"
        };
        return (StatusCode::BAD_REQUEST, Json(json!({ "error": text }))).into_response();
    }
    let Ok(Some(sha)) = gl.shared.repo.resolve(&sha).await else {
        return message(StatusCode::NOT_FOUND, json!("404 Commit Not Found"));
    };
    let git_ref = match p_str(&p, "ref") {
        Some(r) => r,
        None => gl.branch_at(&sha).await,
    };
    let status = gl.shared.add_status(SimStatus {
        id: 0,
        sha: sha.clone(),
        context: p_str(&p, "name")
            .or_else(|| p_str(&p, "context"))
            .unwrap_or_else(|| "default".into()),
        state,
        description: p_str(&p, "description"),
        target_url: p_str(&p, "target_url"),
        git_ref: Some(git_ref),
        created_at: now_rfc3339(true),
        creator: acting_user(&headers, "sudo"),
    });
    gl.settle().await;
    let pipeline = gl.pipeline_of(&sha).map_or(status.id, |p| p.id);
    (StatusCode::CREATED, Json(gl.status_json(&status, pipeline))).into_response()
}

/// `GET /projects/:id/repository/commits/:sha/statuses`: every job
/// reported for the commit, newest first.
pub(super) async fn statuses(
    State(gl): State<Arc<Gl>>,
    Path((id, sha)): Path<(String, String)>,
) -> Response {
    let sha = match project_commit(&gl, &id, &sha).await {
        Ok(sha) => sha,
        Err(r) => return r,
    };
    let pipeline = gl.pipeline_of(&sha).map_or(0, |p| p.id);
    let items: Vec<Value> = gl
        .shared
        .statuses_of(&sha)
        .iter()
        .map(|s| gl.status_json(s, pipeline))
        .collect();
    Json(Value::Array(items)).into_response()
}
