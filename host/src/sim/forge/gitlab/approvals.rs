//! Merge request approvals: `POST …/merge_requests/:iid/approve` approves as
//! the acting user (the `Sudo: <username>` header, as an administrator's
//! token may send it; else the token's user `baton`), and `GET
//! …/merge_requests/:iid/approvals` lists them in the shape of GitLab's
//! `MergeRequestApprovals` entity, `approved_at` included as GitLab 17.x
//! sends it.

use super::*;
use crate::sim::forge::{SimReview, acting_user};

pub(super) async fn approve(
    State(gl): State<Arc<Gl>>,
    Path((id, iid)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let mr = match find(&gl, &id, &iid).await {
        Ok(mr) => mr,
        Err(r) => return r,
    };
    if mr.state != SimMrState::Opened {
        return message(StatusCode::UNAUTHORIZED, json!("401 Unauthorized"));
    }
    let user = acting_user(&headers, "sudo");
    let now = now_rfc3339(true);
    let id = gl.shared.note_id();
    let approve = |m: &mut SimMergeRequest| {
        if !m
            .reviews
            .iter()
            .any(|r| r.user == user && r.state == "APPROVED")
        {
            m.reviews.push(SimReview {
                id,
                user: user.clone(),
                state: "APPROVED".into(),
                commit: m.merged_sha.clone(),
                at: now,
            });
        }
        m.clone()
    };
    let Some(updated) = gl.shared.modify(mr.iid, approve).await else {
        return mr_404();
    };
    (StatusCode::CREATED, Json(gl.approvals_json(&updated))).into_response()
}

pub(super) async fn approvals(
    State(gl): State<Arc<Gl>>,
    Path((id, iid)): Path<(String, String)>,
) -> Response {
    match find(&gl, &id, &iid).await {
        Ok(mr) => Json(gl.approvals_json(&mr)).into_response(),
        Err(r) => r,
    }
}

impl Gl {
    fn approvals_json(&self, mr: &SimMergeRequest) -> Value {
        let approved_by: Vec<Value> = mr
            .reviews
            .iter()
            .filter(|r| r.state == "APPROVED")
            .map(|r| json!({ "user": self.user_named(&r.user), "approved_at": r.at }))
            .collect();
        json!({
            "id": 1000 + mr.iid,
            "iid": mr.iid,
            "project_id": self.project_id,
            "title": mr.title,
            "description": mr.description,
            "state": mr.state,
            "created_at": mr.created_at,
            "updated_at": mr.updated_at,
            "merge_status": "can_be_merged",
            "approved": !approved_by.is_empty(),
            "approvals_required": 0,
            "approvals_left": 0,
            "user_has_approved": false,
            "user_can_approve": mr.state == SimMrState::Opened,
            "approved_by": approved_by,
            "suggested_approvers": [],
            "approvers": [],
            "approver_groups": [],
        })
    }
}
