//! GitHub pull request simulator (`baton sim github`): the REST endpoints
//! Baton and PyGithub use under `/repos/{owner}/{repo}` (the repository,
//! branches and commits, pulls, merge, issue labels and comments, commit
//! statuses, branch protection) and the auto-merge mutations of
//! `POST /graphql`, with GitHub's status codes and error bodies, objects
//! with go-github's field names and types, and `Link` pagination.
//!
//! Files: `repository` (repository, branches, commits), `issues` (labels
//! and comments), `merge` (the merge call and landing), `checks`
//! (statuses, protection, mergeability, armed auto-merges), `mutations`
//! over `graphql` (the GraphQL endpoint), `reviews`, `payload` (JSON).

use std::path::PathBuf;
use std::sync::{Arc, Mutex as StdMutex};

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Map, Value, json};
use tokio::net::TcpListener;

use super::repo::Strategy;
use super::{
    MergeFailure, Shared, SimError, SimHandle, SimMergeRequest, SimMrState, acting_user,
    bind_loopback, listener_url, now_rfc3339, p_bool, p_labels, p_str, page_link, page_params,
    params, record, start,
};
use crate::secret::Secret;

mod checks;
mod graphql;
mod issues;
mod merge;
mod mutations;
mod payload;
mod repository;
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
    /// Required status checks per protected branch.
    protection: checks::Protection,
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
        protection: StdMutex::new(std::collections::BTreeMap::new()),
    });
    let router = Router::new()
        .route("/graphql", post(mutations::graphql))
        .route("/repos/{owner}/{repo}", get(repository::show))
        .route("/repos/{owner}/{repo}/branches", get(repository::branches))
        .route(
            "/repos/{owner}/{repo}/branches/{branch}",
            get(repository::branch),
        )
        .route(
            "/repos/{owner}/{repo}/branches/{branch}/protection",
            get(checks::protection)
                .put(checks::protection)
                .delete(checks::protection),
        )
        .route(
            "/repos/{owner}/{repo}/git/matching-refs/{*ref}",
            get(repository::matching_refs),
        )
        .route(
            "/repos/{owner}/{repo}/git/refs/{*ref}",
            axum::routing::delete(repository::delete_ref),
        )
        .route(
            "/repos/{owner}/{repo}/commits/{sha}",
            get(repository::commit),
        )
        .route(
            "/repos/{owner}/{repo}/commits/{sha}/status",
            get(checks::combined_status),
        )
        .route(
            "/repos/{owner}/{repo}/statuses/{sha}",
            post(checks::create_status),
        )
        .route("/repos/{owner}/{repo}/pulls", get(list).post(create))
        .route(
            "/repos/{owner}/{repo}/pulls/{number}",
            get(show).patch(update),
        )
        .route(
            "/repos/{owner}/{repo}/pulls/{number}/merge",
            get(merge::is_merged).put(merge::merge),
        )
        .route(
            "/repos/{owner}/{repo}/pulls/{number}/reviews",
            get(reviews::list).post(reviews::create),
        )
        .route(
            "/repos/{owner}/{repo}/issues/{number}/labels",
            get(issues::labels).post(issues::add_labels),
        )
        .route(
            "/repos/{owner}/{repo}/issues/{number}/labels/{name}",
            axum::routing::delete(issues::remove_label),
        )
        .route(
            "/repos/{owner}/{repo}/issues/{number}/comments",
            get(issues::comments).post(issues::comment),
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

/// The parameters of a request on the simulated repository; 404 for
/// another repository.
#[expect(
    clippy::result_large_err,
    reason = "the error is the early HTTP answer, built at most once per request"
)]
fn repo_params(
    gh: &Gh,
    owner: &str,
    repo: &str,
    uri: &Uri,
    body: &Bytes,
) -> Result<Params, Response> {
    if !gh.repo_matches(owner, repo) {
        return Err(not_found());
    }
    parse(uri, body)
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
    let p = match repo_params(&gh, &owner, &repo, &uri, &body) {
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
    let pr = SimMergeRequest {
        draft: p_bool(&p, "draft").unwrap_or(false),
        ..SimMergeRequest::opened(
            store.len() as u64 + 1,
            head,
            base,
            p_str(&p, "title").unwrap_or_default(),
            p_str(&p, "body").unwrap_or_default(),
            now_rfc3339(false),
        )
    };
    store.push(pr.clone());
    drop(store);
    (StatusCode::CREATED, Json(gh.pr_json(&pr, true).await)).into_response()
}

async fn list(
    State(gh): State<Arc<Gh>>,
    Path((owner, repo)): Path<(String, String)>,
    uri: Uri,
) -> Response {
    let p = match repo_params(&gh, &owner, &repo, &uri, &Bytes::new()) {
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
    // `sort` (default `created`), then `direction`: `desc` by default
    // for `created`, `asc` for the others. The store is in creation order;
    // popularity counts comments, long-running is age (creation order).
    let sort = p_str(&p, "sort").unwrap_or_else(|| "created".into());
    match sort.as_str() {
        "updated" => matching.sort_by(|a, b| a.updated_at.cmp(&b.updated_at)),
        "popularity" => matching.sort_by_key(|m| m.notes.len()),
        _ => {}
    }
    let default_direction = if sort == "created" { "desc" } else { "asc" };
    if p_str(&p, "direction")
        .as_deref()
        .unwrap_or(default_direction)
        == "desc"
    {
        matching.reverse();
    }
    let pages = matching.len().div_ceil(per_page).max(1);
    let mut items = Vec::new();
    for pr in matching.iter().skip((page - 1) * per_page).take(per_page) {
        items.push(gh.pr_json(pr, false).await);
    }
    let headers = gh.page_links(&uri, page, pages);
    (StatusCode::OK, headers, Json(Value::Array(items))).into_response()
}

impl Gh {
    /// GitHub's `Link` header for page `page` of `pages` of the list at
    /// `uri`: `prev`, `next`, `last`, `first` as they apply.
    fn page_links(&self, uri: &Uri, page: usize, pages: usize) -> HeaderMap {
        let mut headers = HeaderMap::new();
        let link =
            |n: usize, rel: &str| page_link(&self.shared.base_url, uri.path(), uri.query(), n, rel);
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
        headers
    }
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
    let to = match p_str(&p, "state").as_deref() {
        Some("closed") => Some(SimMrState::Closed),
        Some("open") => Some(SimMrState::Opened),
        _ => None,
    };
    let mut store = gh.shared.store.lock().await;
    if to == Some(SimMrState::Opened)
        && let Some(open) = store
            .iter()
            .find(|m| m.iid == pr.iid)
            .and_then(|m| m.reopen_blocked_by(&store))
    {
        tracing::debug!(
            number = pr.iid,
            open,
            "reopen refused: another open pull request"
        );
        let message = format!(
            "A pull request already exists for {}:{}.",
            gh.owner, pr.source_branch
        );
        return validation(
            json!([{ "resource": "PullRequest", "code": "custom", "message": message }]),
        );
    }
    let Some(m) = store.iter_mut().find(|m| m.iid == pr.iid) else {
        return not_found();
    };
    if let Some(t) = p_str(&p, "title") {
        m.title = t;
    }
    if p.contains_key("body") {
        m.description = p_str(&p, "body").unwrap_or_default();
    }
    let updated = m.updated(to, now_rfc3339(false));
    drop(store);
    Json(gh.pr_json(&updated, true).await).into_response()
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
