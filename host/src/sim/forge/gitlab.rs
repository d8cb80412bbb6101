//! GitLab v4 merge request simulator (`baton sim gitlab`): the endpoints
//! Baton and python-gitlab use under `/api/v4/projects/:id` (the project,
//! branches and commits, merge requests with their list filters, notes,
//! approvals and merge, commit statuses and their pipelines), with
//! GitLab's status codes and bodies (see the fact sheet copied in
//! `tests/fixtures/forge/`), objects with the field names and JSON types
//! of GitLab's own payloads, and `X-*`/`Link` pagination headers.
//!
//! Files: `project` (project, branches, commits), `list`, `merge`, `pipelines`
//! (statuses, pipelines, armed auto-merges), `approvals`, `payload` (JSON).

use std::path::PathBuf;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use serde_json::{Map, Value, json};
use tokio::net::TcpListener;

use super::repo::Strategy;
use super::{
    MergeFailure, Shared, SimError, SimHandle, SimMergeRequest, SimMrState, SimNote, bind_loopback,
    listener_url, now_rfc3339, p_bool, p_labels, p_str, page_link, page_params, params, record,
    start,
};
use crate::secret::Secret;

mod approvals;
mod list;
mod merge;
mod payload;
mod pipelines;
mod project;

/// Settings of `baton sim gitlab`.
#[derive(Debug, Clone)]
pub struct GitLabSimConfig {
    /// The bare repository the project's branches live in.
    pub repo: PathBuf,
    /// Project path, e.g. `group/env-repo` (also accepted URL-encoded as `:id`).
    pub project_path: String,
    /// Numeric project id (also accepted as `:id`).
    pub project_id: u64,
    /// When set, every request must carry it (`PRIVATE-TOKEN`, `JOB-TOKEN`
    /// or `Authorization: Bearer`), else 401.
    pub token: Option<Secret>,
    /// The project's merge method: merge commit or fast-forward only.
    pub merge_method: Strategy,
}

struct Gl {
    shared: Arc<Shared>,
    project_path: String,
    project_id: u64,
    strategy: Strategy,
    /// What GitLab works out about a (target, source) pair of commits, by
    /// their ids: immutable, so kept (GitLab stores it too, and recomputes
    /// it only when a branch moves), instead of running git for every MR
    /// of every list.
    pairs: std::sync::Mutex<std::collections::HashMap<(String, String), payload::BranchPair>>,
}

/// Starts the simulator on `127.0.0.1:0`.
pub async fn spawn(config: GitLabSimConfig) -> Result<SimHandle, SimError> {
    let (listener, base) = bind_loopback().await?;
    let (router, shared) = router(config, base.clone()).await?;
    start(listener, router, shared, format!("{base}/api/v4"))
}

/// Serves on `listener` until the process ends (for `baton sim gitlab`).
pub async fn serve(config: GitLabSimConfig, listener: TcpListener) -> Result<(), SimError> {
    let base = listener_url(&listener)?;
    let (router, _) = router(config, base).await?;
    axum::serve(listener, router)
        .await
        .map_err(|source| SimError::Serve { source })
}

async fn router(config: GitLabSimConfig, base: String) -> Result<(Router, Arc<Shared>), SimError> {
    let shared = Shared::new(config.repo, config.token, base).await?;
    let gl = Arc::new(Gl {
        shared: shared.clone(),
        project_path: config.project_path,
        project_id: config.project_id,
        strategy: config.merge_method,
        pairs: Default::default(),
    });
    let mrs = "/api/v4/projects/{id}/merge_requests";
    let router = Router::new()
        .route("/api/v4/projects/{id}", get(project::show))
        .route(
            "/api/v4/projects/{id}/repository/branches",
            get(project::branches),
        )
        .route(
            "/api/v4/projects/{id}/repository/branches/{branch}",
            get(project::branch).delete(project::delete_branch),
        )
        .route(
            "/api/v4/projects/{id}/repository/commits/{sha}",
            get(project::commit),
        )
        .route(
            "/api/v4/projects/{id}/repository/commits/{sha}/statuses",
            get(pipelines::statuses),
        )
        .route(
            "/api/v4/projects/{id}/statuses/{sha}",
            axum::routing::post(pipelines::create_status),
        )
        .route(mrs, get(list::list).post(create))
        .route(&format!("{mrs}/{{iid}}"), get(show).put(update))
        .route(&format!("{mrs}/{{iid}}/merge"), put(merge::merge))
        .route(&format!("{mrs}/{{iid}}/notes"), get(notes).post(add_note))
        .route(
            &format!("{mrs}/{{iid}}/approve"),
            axum::routing::post(approvals::approve),
        )
        .route(
            &format!("{mrs}/{{iid}}/approvals"),
            get(approvals::approvals),
        )
        .route(
            "/api/v4/projects/{id}/repository/commits/{sha}/merge_requests",
            get(commit_merge_requests),
        )
        .fallback(|| async { message(StatusCode::NOT_FOUND, json!("404 Not Found")) })
        .layer(middleware::from_fn_with_state(gl.clone(), auth))
        .layer(middleware::from_fn_with_state(shared.clone(), record))
        .with_state(gl);
    Ok((router, shared))
}

fn message(status: StatusCode, message: Value) -> Response {
    (status, Json(json!({ "message": message }))).into_response()
}

async fn auth(State(gl): State<Arc<Gl>>, request: Request, next: Next) -> Response {
    if let Some(token) = &gl.shared.token {
        let h = request.headers();
        let header = |name: &str| h.get(name).and_then(|v| v.to_str().ok());
        let presented = header("private-token")
            .or_else(|| header("job-token"))
            .or_else(|| header("authorization").and_then(|a| a.strip_prefix("Bearer ")));
        if presented != Some(token.expose()) {
            return message(StatusCode::UNAUTHORIZED, json!("401 Unauthorized"));
        }
    }
    next.run(request).await
}

impl Gl {
    fn project_matches(&self, id: &str) -> bool {
        id == self.project_path || id == self.project_id.to_string()
    }
}

type Params = Map<String, Value>;

#[expect(
    clippy::result_large_err,
    reason = "the error is the early HTTP answer, built at most once per request"
)]
fn parse(uri: &Uri, body: &Bytes) -> Result<Params, Response> {
    params(uri.query(), body)
        .map_err(|e| (StatusCode::BAD_REQUEST, Json(json!({ "error": e }))).into_response())
}

/// The parameters of a request on the simulated project; 404 for another
/// project.
#[expect(
    clippy::result_large_err,
    reason = "the error is the early HTTP answer, built at most once per request"
)]
fn project_params(gl: &Gl, id: &str, uri: &Uri, body: &Bytes) -> Result<Params, Response> {
    if !gl.project_matches(id) {
        return Err(project_404());
    }
    parse(uri, body)
}

/// The full id of the commit `rev` names in the simulated project; 404
/// for another project or a name of no commit.
async fn project_commit(gl: &Gl, id: &str, rev: &str) -> Result<String, Response> {
    if !gl.project_matches(id) {
        return Err(project_404());
    }
    match gl.shared.repo.resolve(rev).await {
        Ok(Some(sha)) => Ok(sha),
        _ => Err(message(
            StatusCode::NOT_FOUND,
            json!("404 Commit Not Found"),
        )),
    }
}

fn project_404() -> Response {
    message(StatusCode::NOT_FOUND, json!("404 Project Not Found"))
}

fn mr_404() -> Response {
    message(StatusCode::NOT_FOUND, json!("404 Not found"))
}

async fn create(
    State(gl): State<Arc<Gl>>,
    Path(id): Path<String>,
    uri: Uri,
    body: Bytes,
) -> Response {
    let p = match project_params(&gl, &id, &uri, &body) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let missing: Vec<&str> = ["source_branch", "target_branch", "title"]
        .into_iter()
        .filter(|k| p_str(&p, k).is_none())
        .collect();
    if !missing.is_empty() {
        let text = missing
            .iter()
            .map(|k| format!("{k} is missing"))
            .collect::<Vec<_>>()
            .join(", ");
        return (StatusCode::BAD_REQUEST, Json(json!({ "error": text }))).into_response();
    }
    let (source, target, title) = (
        p_str(&p, "source_branch").unwrap_or_default(),
        p_str(&p, "target_branch").unwrap_or_default(),
        p_str(&p, "title").unwrap_or_default(),
    );
    if source == target {
        return message(
            StatusCode::UNPROCESSABLE_ENTITY,
            json!(["You can't use same project/branch for source and target"]),
        );
    }
    let mut errors = Vec::new();
    for (kind, branch) in [("Source", &source), ("Target", &target)] {
        if gl.shared.repo.head(branch).await.ok().flatten().is_none() {
            errors.push(format!("{kind} branch \"{branch}\" does not exist"));
        }
    }
    if !errors.is_empty() {
        return message(StatusCode::UNPROCESSABLE_ENTITY, json!(errors));
    }
    let mut store = gl.shared.store.lock().await;
    if let Some(open) = store.iter().find(|m| m.is_open_between(&source, &target)) {
        return message(
            StatusCode::CONFLICT,
            json!([format!(
                "Another open merge request already exists for this source branch: !{}",
                open.iid
            )]),
        );
    }
    let mr = SimMergeRequest {
        labels: p_labels(p.get("labels")),
        remove_source_branch: p_bool(&p, "remove_source_branch").unwrap_or(false),
        squash: p_bool(&p, "squash").unwrap_or(false),
        draft: is_draft_title(&title),
        ..SimMergeRequest::opened(
            store.len() as u64 + 1,
            source,
            target,
            title,
            p_str(&p, "description").unwrap_or_default(),
            now_rfc3339(true),
        )
    };
    store.push(mr.clone());
    drop(store);
    (StatusCode::CREATED, Json(gl.mr_json(&mr, true).await)).into_response()
}

/// Whether GitLab reads `title` as a draft's: it starts with `Draft:`,
/// `[Draft]` or `(Draft)`, in any case.
fn is_draft_title(title: &str) -> bool {
    let t = title.trim_start().to_ascii_lowercase();
    ["draft:", "[draft]", "(draft)"]
        .iter()
        .any(|prefix| t.starts_with(prefix))
}

/// The merge request a request names, with the request's parameters.
async fn find_with_params(
    gl: &Gl,
    id: &str,
    iid: &str,
    uri: &Uri,
    body: &Bytes,
) -> Result<(SimMergeRequest, Params), Response> {
    let mr = find(gl, id, iid).await?;
    Ok((mr, parse(uri, body)?))
}

async fn find(gl: &Gl, id: &str, iid: &str) -> Result<SimMergeRequest, Response> {
    if !gl.project_matches(id) {
        return Err(project_404());
    }
    let iid: u64 = iid.parse().map_err(|_| mr_404())?;
    gl.shared
        .store
        .lock()
        .await
        .iter()
        .find(|m| m.iid == iid)
        .cloned()
        .ok_or_else(mr_404)
}

async fn show(State(gl): State<Arc<Gl>>, Path((id, iid)): Path<(String, String)>) -> Response {
    match find(&gl, &id, &iid).await {
        Ok(mr) => Json(gl.mr_json(&mr, true).await).into_response(),
        Err(r) => r,
    }
}

async fn update(
    State(gl): State<Arc<Gl>>,
    Path((id, iid)): Path<(String, String)>,
    uri: Uri,
    body: Bytes,
) -> Response {
    let (mr, p) = match find_with_params(&gl, &id, &iid, &uri, &body).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    let to = match p_str(&p, "state_event").as_deref() {
        Some("close") => Some(SimMrState::Closed),
        Some("reopen") => Some(SimMrState::Opened),
        _ => None,
    };
    let mut store = gl.shared.store.lock().await;
    if to == Some(SimMrState::Opened)
        && let Some(open) = store
            .iter()
            .find(|m| m.iid == mr.iid)
            .and_then(|m| m.reopen_blocked_by(&store))
    {
        return message(
            StatusCode::CONFLICT,
            json!([format!(
                "Another open merge request already exists for this source branch: !{open}"
            )]),
        );
    }
    let Some(m) = store.iter_mut().find(|m| m.iid == mr.iid) else {
        return mr_404();
    };
    if let Some(t) = p_str(&p, "title") {
        m.draft = is_draft_title(&t);
        m.title = t;
    }
    if let Some(d) = p_str(&p, "description") {
        m.description = d;
    }
    if p.contains_key("labels") {
        m.labels = p_labels(p.get("labels"));
    }
    for label in p_labels(p.get("add_labels")) {
        if !m.labels.contains(&label) {
            m.labels.push(label);
        }
    }
    let removed = p_labels(p.get("remove_labels"));
    m.labels.retain(|l| !removed.contains(l));
    if let Some(r) = p_bool(&p, "remove_source_branch") {
        m.remove_source_branch = r;
    }
    if let Some(squash) = p_bool(&p, "squash") {
        m.squash = squash;
    }
    let updated = m.updated(to, now_rfc3339(true));
    drop(store);
    Json(gl.mr_json(&updated, true).await).into_response()
}

async fn add_note(
    State(gl): State<Arc<Gl>>,
    Path((id, iid)): Path<(String, String)>,
    uri: Uri,
    body: Bytes,
) -> Response {
    let (mr, p) = match find_with_params(&gl, &id, &iid, &uri, &body).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    let Some(text) = p_str(&p, "body").filter(|b| !b.is_empty()) else {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({ "error": "body is missing" })),
        )
            .into_response();
    };
    let Some((note, mr)) = gl.shared.add_note(mr.iid, text, now_rfc3339(true)).await else {
        return mr_404();
    };
    (StatusCode::CREATED, Json(gl.note_json(&mr, &note))).into_response()
}

async fn notes(State(gl): State<Arc<Gl>>, Path((id, iid)): Path<(String, String)>) -> Response {
    match find(&gl, &id, &iid).await {
        Ok(mr) => Json(
            mr.notes
                .iter()
                .rev()
                .map(|n| gl.note_json(&mr, n))
                .collect::<Vec<_>>(),
        )
        .into_response(),
        Err(r) => r,
    }
}

/// `GET /projects/:id/repository/commits/:sha/merge_requests`: the merge
/// requests the commit relates to (GitLab's
/// `MergeRequest.by_related_commit_sha`: a commit of the MR, its merge
/// commit or its squash commit), newest first; `404 Commit Not Found` for
/// a commit the repository does not have.
async fn commit_merge_requests(
    State(gl): State<Arc<Gl>>,
    Path((id, sha)): Path<(String, String)>,
) -> Response {
    if !gl.project_matches(&id) {
        return project_404();
    }
    if !gl.shared.repo.has_commit(&sha).await.unwrap_or(false) {
        return message(StatusCode::NOT_FOUND, json!("404 Commit Not Found"));
    }
    let mut items = Vec::new();
    for mr in gl.shared.related_to_commit(&sha).await {
        items.push(gl.mr_json(&mr, false).await);
    }
    Json(Value::Array(items)).into_response()
}
