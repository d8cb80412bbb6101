//! GitHub pull request simulator (`baton sim github`): the REST endpoints
//! Baton uses under `/repos/{owner}/{repo}` (pulls, merge, issue labels and
//! comments), with GitHub's status codes and error bodies, pull request
//! objects with go-github's field names and types, and `Link` pagination.

use std::path::PathBuf;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use serde_json::{Map, Value, json};
use tokio::net::TcpListener;

use super::repo::Strategy;
use super::{
    MergeFailure, Shared, SimError, SimHandle, SimMergeRequest, SimMrState, bind_loopback,
    listener_url, now_rfc3339, p_labels, p_str, page_params, params, record, start, with_page,
};
use crate::secret::Secret;

mod merge;
mod payload;
mod reviews;

const DOCS: &str = "https://docs.github.com/rest";
const DOC_CREATE: &str = "https://docs.github.com/rest/pulls/pulls#create-a-pull-request";
const DOC_MERGE: &str = "https://docs.github.com/rest/pulls/pulls#merge-a-pull-request";

/// Settings of `baton sim github`.
#[derive(Debug, Clone)]
pub struct GitHubSimConfig {
    /// The bare repository the branches live in.
    pub repo: PathBuf,
    /// Repository owner as it appears in URLs.
    pub owner: String,
    /// Repository name.
    pub name: String,
    /// When set, every request must carry `Authorization: Bearer|token <it>`.
    pub token: Option<Secret>,
}

struct Gh {
    shared: Arc<Shared>,
    owner: String,
    name: String,
}

/// Starts the simulator on `127.0.0.1:0`; its API root is the base URL.
pub async fn spawn(config: GitHubSimConfig) -> Result<SimHandle, SimError> {
    let (listener, base) = bind_loopback().await?;
    let (router, shared) = router(config, base.clone()).await?;
    start(listener, router, shared, base)
}

/// Serves on `listener` until the process ends (for `baton sim github`).
pub async fn serve(config: GitHubSimConfig, listener: TcpListener) -> Result<(), SimError> {
    let base = listener_url(&listener)?;
    let (router, _) = router(config, base).await?;
    axum::serve(listener, router)
        .await
        .map_err(|source| SimError::Serve { source })
}

async fn router(config: GitHubSimConfig, base: String) -> Result<(Router, Arc<Shared>), SimError> {
    let shared = Shared::new(config.repo, config.token, base).await?;
    let gh = Arc::new(Gh {
        shared: shared.clone(),
        owner: config.owner,
        name: config.name,
    });
    let router = Router::new()
        .route("/repos/{owner}/{repo}/pulls", get(list).post(create))
        .route(
            "/repos/{owner}/{repo}/pulls/{number}",
            get(show).patch(update),
        )
        .route(
            "/repos/{owner}/{repo}/pulls/{number}/merge",
            put(merge::merge),
        )
        .route(
            "/repos/{owner}/{repo}/pulls/{number}/reviews",
            get(reviews::list).post(reviews::create),
        )
        .route(
            "/repos/{owner}/{repo}/issues/{number}/labels",
            post(add_labels),
        )
        .route(
            "/repos/{owner}/{repo}/issues/{number}/comments",
            post(comment),
        )
        .route(
            "/repos/{owner}/{repo}/commits/{sha}/pulls",
            get(commit_pulls),
        )
        .fallback(|| async { error(StatusCode::NOT_FOUND, "Not Found", DOCS) })
        .layer(middleware::from_fn_with_state(gh.clone(), auth))
        .layer(middleware::from_fn_with_state(shared.clone(), record))
        .with_state(gh);
    Ok((router, shared))
}

fn error(status: StatusCode, message: &str, doc: &str) -> Response {
    (
        status,
        Json(json!({ "message": message, "documentation_url": doc })),
    )
        .into_response()
}

fn validation(errors: Value) -> Response {
    let body = json!({ "message": "Validation Failed", "errors": errors, "documentation_url": DOC_CREATE });
    (StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response()
}

async fn auth(State(gh): State<Arc<Gh>>, request: Request, next: Next) -> Response {
    if let Some(token) = &gh.shared.token {
        let presented = request
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok());
        let Some(presented) = presented else {
            return error(StatusCode::UNAUTHORIZED, "Requires authentication", DOCS);
        };
        let value = presented
            .strip_prefix("Bearer ")
            .or_else(|| presented.strip_prefix("token "));
        if value != Some(token.expose()) {
            return error(StatusCode::UNAUTHORIZED, "Bad credentials", DOCS);
        }
    }
    next.run(request).await
}

type Params = Map<String, Value>;

impl Gh {
    fn api(&self) -> String {
        format!(
            "{}/repos/{}/{}",
            self.shared.base_url, self.owner, self.name
        )
    }

    fn html(&self) -> String {
        format!("{}/{}/{}", self.shared.base_url, self.owner, self.name)
    }

    fn repo_matches(&self, owner: &str, repo: &str) -> bool {
        owner.eq_ignore_ascii_case(&self.owner) && repo.eq_ignore_ascii_case(&self.name)
    }
}

#[expect(
    clippy::result_large_err,
    reason = "the error is the early HTTP answer, built at most once per request"
)]
fn parse(uri: &Uri, body: &Bytes) -> Result<Params, Response> {
    params(uri.query(), body).map_err(|e| error(StatusCode::BAD_REQUEST, &e, DOCS))
}

fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "Not Found", DOCS)
}

/// The pull request a request names, with the request's parameters.
async fn find_with_params(
    gh: &Gh,
    owner: &str,
    repo: &str,
    number: &str,
    uri: &Uri,
    body: &Bytes,
) -> Result<(SimMergeRequest, Params), Response> {
    let pr = find(gh, owner, repo, number).await?;
    Ok((pr, parse(uri, body)?))
}

async fn find(gh: &Gh, owner: &str, repo: &str, number: &str) -> Result<SimMergeRequest, Response> {
    if !gh.repo_matches(owner, repo) {
        return Err(not_found());
    }
    let n: u64 = number.parse().map_err(|_| not_found())?;
    gh.shared
        .store
        .lock()
        .await
        .iter()
        .find(|m| m.iid == n)
        .cloned()
        .ok_or_else(not_found)
}

async fn create(
    State(gh): State<Arc<Gh>>,
    Path((owner, repo)): Path<(String, String)>,
    uri: Uri,
    body: Bytes,
) -> Response {
    if !gh.repo_matches(&owner, &repo) {
        return not_found();
    }
    let p = match parse(&uri, &body) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let missing: Vec<Value> = ["head", "base", "title"]
        .into_iter()
        .filter(|k| p_str(&p, k).is_none())
        .map(|k| json!({ "resource": "PullRequest", "field": k, "code": "missing_field" }))
        .collect();
    if !missing.is_empty() {
        return validation(json!(missing));
    }
    let head_param = p_str(&p, "head").unwrap_or_default();
    // `owner:branch` names the head's repository; only this one exists here.
    let head = match head_param.split_once(':') {
        Some((o, b)) if o.eq_ignore_ascii_case(&gh.owner) => b.to_owned(),
        Some(_) => {
            return validation(
                json!([{ "resource": "PullRequest", "field": "head", "code": "invalid" }]),
            );
        }
        None => head_param,
    };
    let base = p_str(&p, "base").unwrap_or_default();
    let repo_ = &gh.shared.repo;
    let Ok(Some(head_sha)) = repo_.head(&head).await else {
        return validation(
            json!([{ "resource": "PullRequest", "field": "head", "code": "invalid" }]),
        );
    };
    let Ok(Some(base_sha)) = repo_.head(&base).await else {
        return validation(
            json!([{ "resource": "PullRequest", "field": "base", "code": "invalid" }]),
        );
    };
    let mut store = gh.shared.store.lock().await;
    if store.iter().any(|m| m.is_open_between(&head, &base)) {
        let message = format!("A pull request already exists for {}:{head}.", gh.owner);
        return validation(
            json!([{ "resource": "PullRequest", "code": "custom", "message": message }]),
        );
    }
    if repo_
        .is_ancestor(&head_sha, &base_sha)
        .await
        .unwrap_or(false)
    {
        let message = format!("No commits between {base} and {head}");
        return validation(
            json!([{ "resource": "PullRequest", "code": "custom", "message": message }]),
        );
    }
    let pr = SimMergeRequest::opened(
        store.len() as u64 + 1,
        head,
        base,
        p_str(&p, "title").unwrap_or_default(),
        p_str(&p, "body").unwrap_or_default(),
        now_rfc3339(false),
    );
    store.push(pr.clone());
    drop(store);
    (StatusCode::CREATED, Json(gh.pr_json(&pr, true).await)).into_response()
}

async fn list(
    State(gh): State<Arc<Gh>>,
    Path((owner, repo)): Path<(String, String)>,
    uri: Uri,
) -> Response {
    if !gh.repo_matches(&owner, &repo) {
        return not_found();
    }
    let p = match parse(&uri, &Bytes::new()) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let state = p_str(&p, "state").unwrap_or_else(|| "open".into());
    let head = p_str(&p, "head").map(|h| match h.split_once(':') {
        Some((o, b)) => (Some(o.to_owned()), b.to_owned()),
        None => (None, h),
    });
    let (page, per_page) = page_params(&p, 30);
    let mut matching: Vec<SimMergeRequest> = gh
        .shared
        .store
        .lock()
        .await
        .iter()
        .filter(|m| match state.as_str() {
            "all" => true,
            "closed" => m.state != SimMrState::Opened,
            _ => m.state == SimMrState::Opened,
        })
        .filter(|m| match &head {
            None => true,
            Some((owner, branch)) => {
                owner
                    .as_deref()
                    .is_none_or(|o| o.eq_ignore_ascii_case(&gh.owner))
                    && *branch == m.source_branch
            }
        })
        .filter(|m| p_str(&p, "base").is_none_or(|b| b == m.target_branch))
        .cloned()
        .collect();
    // GitHub's default: sort=created, direction=desc.
    matching.reverse();
    let pages = matching.len().div_ceil(per_page).max(1);
    let mut items = Vec::new();
    for pr in matching.iter().skip((page - 1) * per_page).take(per_page) {
        items.push(gh.pr_json(pr, false).await);
    }
    let mut headers = HeaderMap::new();
    let link = |n: usize, rel: &str| {
        format!(
            "<{}>; rel=\"{rel}\"",
            with_page(&gh.shared.base_url, uri.path(), uri.query(), n)
        )
    };
    let mut links = Vec::new();
    if page > 1 {
        links.push(link(page - 1, "prev"));
    }
    if page < pages {
        links.push(link(page + 1, "next"));
        links.push(link(pages, "last"));
    }
    if page > 1 {
        links.push(link(1, "first"));
    }
    if !links.is_empty()
        && let Ok(v) = HeaderValue::from_str(&links.join(", "))
    {
        headers.insert("link", v);
    }
    (StatusCode::OK, headers, Json(Value::Array(items))).into_response()
}

async fn show(
    State(gh): State<Arc<Gh>>,
    Path((owner, repo, number)): Path<(String, String, String)>,
) -> Response {
    match find(&gh, &owner, &repo, &number).await {
        Ok(pr) => Json(gh.pr_json(&pr, true).await).into_response(),
        Err(r) => r,
    }
}

async fn update(
    State(gh): State<Arc<Gh>>,
    Path((owner, repo, number)): Path<(String, String, String)>,
    uri: Uri,
    body: Bytes,
) -> Response {
    let (pr, p) = match find_with_params(&gh, &owner, &repo, &number, &uri, &body).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    let change = |m: &mut SimMergeRequest| {
        if let Some(t) = p_str(&p, "title") {
            m.title = t;
        }
        if p.contains_key("body") {
            m.description = p_str(&p, "body").unwrap_or_default();
        }
        let to = match p_str(&p, "state").as_deref() {
            Some("closed") => Some(SimMrState::Closed),
            Some("open") => Some(SimMrState::Opened),
            _ => None,
        };
        m.updated(to, now_rfc3339(false))
    };
    let Some(updated) = gh.shared.modify(pr.iid, change).await else {
        return not_found();
    };
    Json(gh.pr_json(&updated, true).await).into_response()
}

async fn add_labels(
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

async fn comment(
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
    let api = gh.api();
    let body = json!({
        "id": note.id, "node_id": format!("IC_kwDOsim{}", note.id),
        "url": format!("{api}/issues/comments/{}", note.id),
        "html_url": format!("{}/pull/{}#issuecomment-{}", gh.html(), pr.iid, note.id),
        "body": note.body, "user": gh.user(), "created_at": note.created_at, "updated_at": note.created_at,
        "issue_url": format!("{api}/issues/{}", pr.iid), "author_association": "OWNER",
        "performed_via_github_app": null,
    });
    (StatusCode::CREATED, Json(body)).into_response()
}

/// `GET /repos/{owner}/{repo}/commits/{sha}/pulls`: the merged pull request
/// that brought the commit to its base branch (by merge, squash or rebase
/// commit, or its merged head), else the open ones whose head it is; 422
/// `No commit found for SHA` for a commit the repository does not have.
async fn commit_pulls(
    State(gh): State<Arc<Gh>>,
    Path((owner, repo, sha)): Path<(String, String, String)>,
) -> Response {
    if !gh.repo_matches(&owner, &repo) {
        return not_found();
    }
    if !gh.shared.repo.has_commit(&sha).await.unwrap_or(false) {
        let message = format!("No commit found for SHA: {sha}");
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            &message,
            "https://docs.github.com/rest/commits/commits#list-pull-requests-associated-with-a-commit",
        );
    }
    let related = gh.shared.related_to_commit(&sha).await;
    let merged: Vec<&SimMergeRequest> = related
        .iter()
        .filter(|m| m.state == SimMrState::Merged)
        .collect();
    let chosen: Vec<&SimMergeRequest> = if merged.is_empty() {
        related
            .iter()
            .filter(|m| m.state == SimMrState::Opened)
            .collect()
    } else {
        merged
    };
    let mut items = Vec::new();
    for pr in chosen {
        items.push(gh.pr_json(pr, false).await);
    }
    Json(Value::Array(items)).into_response()
}
