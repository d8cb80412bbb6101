//! A pull request's conversation is its issue's: labels
//! (`GET|POST /repos/{o}/{r}/issues/{n}/labels`, `DELETE …/labels/{name}`)
//! and comments (`GET|POST /repos/{o}/{r}/issues/{n}/comments`), in the
//! shapes of GitHub's label and issue comment objects. `POST …/labels`
//! takes `{"labels": [...]}` or a bare array (PyGithub sends the latter).

use super::*;
use crate::sim::forge::SimNote;

pub(super) async fn add_labels(
    State(gh): State<Arc<Gh>>,
    Path((owner, repo, number)): Path<(String, String, String)>,
    uri: Uri,
    body: Bytes,
) -> Response {
    let (pr, p) = match find_with_params(&gh, &owner, &repo, &number, &uri, &body).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    let new = p_labels(p.get("labels").or_else(|| p.get("_body")));
    let add = |m: &mut SimMergeRequest| {
        for l in new {
            if !m.labels.contains(&l) {
                m.labels.push(l);
            }
        }
        m.labels.clone()
    };
    let Some(labels) = gh.shared.modify(pr.iid, add).await else {
        return not_found();
    };
    Json(labels.iter().map(|l| gh.label_json(l)).collect::<Vec<_>>()).into_response()
}

pub(super) async fn labels(
    State(gh): State<Arc<Gh>>,
    Path((owner, repo, number)): Path<(String, String, String)>,
) -> Response {
    match find(&gh, &owner, &repo, &number).await {
        Ok(pr) => Json(
            pr.labels
                .iter()
                .map(|l| gh.label_json(l))
                .collect::<Vec<_>>(),
        )
        .into_response(),
        Err(r) => r,
    }
}

/// Removes one label; 404 `Label does not exist` when the pull request
/// does not carry it. Answers the labels left.
pub(super) async fn remove_label(
    State(gh): State<Arc<Gh>>,
    Path((owner, repo, number, name)): Path<(String, String, String, String)>,
) -> Response {
    let pr = match find(&gh, &owner, &repo, &number).await {
        Ok(pr) => pr,
        Err(r) => return r,
    };
    let remove = |m: &mut SimMergeRequest| {
        let before = m.labels.len();
        m.labels.retain(|l| *l != name);
        (before != m.labels.len()).then(|| m.labels.clone())
    };
    match gh.shared.modify(pr.iid, remove).await {
        Some(Some(left)) => {
            Json(left.iter().map(|l| gh.label_json(l)).collect::<Vec<_>>()).into_response()
        }
        Some(None) => error(
            StatusCode::NOT_FOUND,
            "Label does not exist",
            "https://docs.github.com/rest/issues/labels#remove-a-label-from-an-issue",
        ),
        None => not_found(),
    }
}

pub(super) async fn comment(
    State(gh): State<Arc<Gh>>,
    Path((owner, repo, number)): Path<(String, String, String)>,
    uri: Uri,
    body: Bytes,
) -> Response {
    let (pr, p) = match find_with_params(&gh, &owner, &repo, &number, &uri, &body).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    let Some(text) = p_str(&p, "body").filter(|b| !b.is_empty()) else {
        return validation(
            json!([{ "resource": "IssueComment", "field": "body", "code": "missing_field" }]),
        );
    };
    let Some((note, _)) = gh.shared.add_note(pr.iid, text, now_rfc3339(false)).await else {
        return not_found();
    };
    (StatusCode::CREATED, Json(gh.comment_json(pr.iid, &note))).into_response()
}

/// The comments, oldest first, one page (`per_page`, `page`) with `Link`.
pub(super) async fn comments(
    State(gh): State<Arc<Gh>>,
    Path((owner, repo, number)): Path<(String, String, String)>,
    uri: Uri,
) -> Response {
    let (pr, p) = match find_with_params(&gh, &owner, &repo, &number, &uri, &Bytes::new()).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    let (page, per_page) = page_params(&p, 30);
    let items: Vec<Value> = pr
        .notes
        .iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .map(|n| gh.comment_json(pr.iid, n))
        .collect();
    let headers = gh.page_links(&uri, page, pr.notes.len().div_ceil(per_page).max(1));
    (StatusCode::OK, headers, Json(Value::Array(items))).into_response()
}

impl Gh {
    fn comment_json(&self, number: u64, note: &SimNote) -> Value {
        let api = self.api();
        json!({
            "id": note.id, "node_id": format!("IC_kwDOsim{}", note.id),
            "url": format!("{api}/issues/comments/{}", note.id),
            "html_url": format!("{}/pull/{number}#issuecomment-{}", self.html(), note.id),
            "body": note.body, "user": self.user(), "created_at": note.created_at, "updated_at": note.created_at,
            "issue_url": format!("{api}/issues/{number}"), "author_association": "OWNER",
            "performed_via_github_app": null,
        })
    }
}
