//! Pull request reviews: `POST /repos/{o}/{r}/pulls/{n}/reviews` submits a
//! review (`event`: `APPROVE`, `REQUEST_CHANGES` or `COMMENT`) and `GET`
//! lists them in chronological order, in the shape of GitHub's review
//! object. The reviewer is the acting user: GitHub knows it from the token;
//! the simulator, which has one token, reads the `X-Baton-Sim-User` header
//! (a simulator extension), else the token's user `baton`. As on GitHub,
//! the author (`baton`) cannot approve its own pull request.

use super::*;
use crate::sim::forge::{SimReview, acting_user};

/// The simulator's header naming the acting user.
pub(super) const USER_HEADER: &str = "x-baton-sim-user";

const DOC_REVIEW: &str =
    "https://docs.github.com/rest/pulls/reviews#create-a-review-for-a-pull-request";

pub(super) async fn create(
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
    let state = match p_str(&p, "event").as_deref() {
        Some("APPROVE") => "APPROVED",
        Some("REQUEST_CHANGES") => "CHANGES_REQUESTED",
        Some("COMMENT") => "COMMENTED",
        _ => {
            let body = json!({
                "message": "Unprocessable Entity",
                "errors": ["Review event must be APPROVE, REQUEST_CHANGES or COMMENT"],
                "documentation_url": DOC_REVIEW,
            });
            return (StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response();
        }
    };
    let user = acting_user(&headers, USER_HEADER);
    if user == "baton" && state != "COMMENTED" {
        let body = json!({
            "message": "Unprocessable Entity",
            "errors": ["Can not approve your own pull request"],
            "documentation_url": DOC_REVIEW,
        });
        return (StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response();
    }
    let head = gh.shared.repo.head(&pr.source_branch).await.ok().flatten();
    let review = SimReview {
        id: gh.shared.note_id(),
        user,
        state: state.into(),
        commit: head,
        at: now_rfc3339(false),
    };
    let stored = review.clone();
    let Some(()) = gh
        .shared
        .modify(pr.iid, move |m| m.reviews.push(stored))
        .await
    else {
        return not_found();
    };
    Json(gh.review_json(pr.iid, &review)).into_response()
}

pub(super) async fn list(
    State(gh): State<Arc<Gh>>,
    Path((owner, repo, number)): Path<(String, String, String)>,
) -> Response {
    match find(&gh, &owner, &repo, &number).await {
        Ok(pr) => Json(
            pr.reviews
                .iter()
                .map(|r| gh.review_json(pr.iid, r))
                .collect::<Vec<_>>(),
        )
        .into_response(),
        Err(r) => r,
    }
}

impl Gh {
    fn review_json(&self, number: u64, review: &SimReview) -> Value {
        let html = format!(
            "{}/pull/{number}#pullrequestreview-{}",
            self.html(),
            review.id
        );
        json!({
            "id": review.id,
            "node_id": format!("PRR_sim{}", review.id),
            "user": self.user_named(&review.user),
            "body": "",
            "state": review.state,
            "html_url": html,
            "pull_request_url": format!("{}/pulls/{number}", self.api()),
            "author_association": "COLLABORATOR",
            "_links": {
                "html": { "href": html },
                "pull_request": { "href": format!("{}/pulls/{number}", self.api()) },
            },
            "submitted_at": review.at,
            "commit_id": review.commit,
        })
    }
}
