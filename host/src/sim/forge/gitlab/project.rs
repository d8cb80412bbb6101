//! The project itself: `GET /projects/:id` (python-gitlab's
//! `projects.get(path)` reads it and then addresses everything by its
//! numeric `id`), its branches (`GET /projects/:id/repository/branches`,
//! paginated, and `…/branches/:branch`) and commits
//! (`GET /projects/:id/repository/commits/:sha`), in the shapes of
//! GitLab's project, branch and commit entities.

use super::*;
use crate::sim::forge::CommitInfo;

pub(super) async fn show(State(gl): State<Arc<Gl>>, Path(id): Path<String>) -> Response {
    if !gl.project_matches(&id) {
        return project_404();
    }
    let base = &gl.shared.base_url;
    let path = &gl.project_path;
    let (namespace, name) = path.rsplit_once('/').unwrap_or(("", path.as_str()));
    let default_branch = gl.shared.repo.default_branch().await;
    Json(json!({
        "id": gl.project_id,
        "description": null,
        "name": name,
        "name_with_namespace": path.replace('/', " / "),
        "path": name,
        "path_with_namespace": path,
        "created_at": "2024-01-01T00:00:00.000Z",
        "default_branch": default_branch,
        "tag_list": [],
        "topics": [],
        "ssh_url_to_repo": format!("git@127.0.0.1:{path}.git"),
        "http_url_to_repo": format!("{base}/{path}.git"),
        "web_url": format!("{base}/{path}"),
        "readme_url": null,
        "avatar_url": null,
        "forks_count": 0,
        "star_count": 0,
        "last_activity_at": now_rfc3339(true),
        "namespace": {
            "id": 1, "name": namespace, "path": namespace, "kind": "group",
            "full_path": namespace, "parent_id": null, "avatar_url": null,
            "web_url": format!("{base}/groups/{namespace}"),
        },
        "visibility": "private",
        "archived": false,
        "empty_repo": false,
        "merge_requests_enabled": true,
        "merge_method": match gl.strategy {
            Strategy::FastForward => "ff",
            _ => "merge",
        },
        "squash_option": "default_off",
        "only_allow_merge_if_pipeline_succeeds": false,
        "allow_merge_on_skipped_pipeline": false,
        "only_allow_merge_if_all_discussions_are_resolved": false,
        "remove_source_branch_after_merge": true,
        "permissions": { "project_access": { "access_level": 40, "notification_level": 3 }, "group_access": null },
    }))
    .into_response()
}

pub(super) async fn branches(
    State(gl): State<Arc<Gl>>,
    Path(id): Path<String>,
    uri: Uri,
) -> Response {
    let p = match project_params(&gl, &id, &uri, &Bytes::new()) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let mut all = match gl.shared.repo.branches().await {
        Ok(all) => all,
        Err(e) => return message(StatusCode::INTERNAL_SERVER_ERROR, json!(e.to_string())),
    };
    if let Some(search) = p_str(&p, "search") {
        search_branches(&mut all, &search);
    }
    let (page, per_page) = page_params(&p, 20);
    let mut items = Vec::new();
    for (name, sha) in all.iter().skip((page - 1) * per_page).take(per_page) {
        items.push(gl.branch_json(name, sha).await);
    }
    let headers = gl.page_headers(&uri, page, per_page, all.len());
    (StatusCode::OK, headers, Json(Value::Array(items))).into_response()
}

/// GitLab's branch search (`GitRefsFinder#by_search`), ignoring case:
/// `^term` keeps the names starting with `term`, `term$` those ending with
/// it, anything else those containing it, an exact match first.
fn search_branches(all: &mut Vec<(String, String)>, search: &str) {
    let lower = |s: &str| s.to_lowercase();
    if let Some(prefix) = search.strip_prefix('^') {
        let prefix = lower(prefix);
        all.retain(|(name, _)| lower(name).starts_with(&prefix));
    } else if let Some(suffix) = search.strip_suffix('$') {
        let suffix = lower(suffix);
        all.retain(|(name, _)| lower(name).ends_with(&suffix));
    } else {
        let term = lower(search);
        all.retain(|(name, _)| lower(name).contains(&term));
        if let Some(exact) = all.iter().position(|(name, _)| lower(name) == term) {
            let found = all.remove(exact);
            all.insert(0, found);
        }
    }
}

pub(super) async fn branch(
    State(gl): State<Arc<Gl>>,
    Path((id, branch)): Path<(String, String)>,
) -> Response {
    if !gl.project_matches(&id) {
        return project_404();
    }
    match gl.shared.repo.head(&branch).await {
        Ok(Some(sha)) => Json(gl.branch_json(&branch, &sha).await).into_response(),
        _ => message(StatusCode::NOT_FOUND, json!("404 Branch Not Found")),
    }
}

/// `DELETE …/repository/branches/:branch`: 204, or GitLab's 404 `Branch
/// Not Found` (`find_branch!`) for a branch that is not there.
pub(super) async fn delete_branch(
    State(gl): State<Arc<Gl>>,
    Path((id, branch)): Path<(String, String)>,
) -> Response {
    if !gl.project_matches(&id) {
        return project_404();
    }
    let Ok(Some(sha)) = gl.shared.repo.head(&branch).await else {
        return message(StatusCode::NOT_FOUND, json!("404 Branch Not Found"));
    };
    match gl.shared.repo.delete_branch(&branch, &sha).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        // `Branches::DeleteService`: a failed removal is a 400.
        Err(e) => message(StatusCode::BAD_REQUEST, json!(e.to_string())),
    }
}

pub(super) async fn commit(
    State(gl): State<Arc<Gl>>,
    Path((id, sha)): Path<(String, String)>,
) -> Response {
    let sha = match project_commit(&gl, &id, &sha).await {
        Ok(sha) => sha,
        Err(r) => return r,
    };
    match gl.shared.repo.commit_info(&sha).await {
        Ok(c) => {
            let mut v = gl.commit_json(&c);
            v["last_pipeline"] = gl
                .pipeline_of(&sha)
                .map_or(Value::Null, |p| gl.pipeline_json(&p));
            v["status"] = gl
                .pipeline_of(&sha)
                .map_or(Value::Null, |p| json!(p.status));
            Json(v).into_response()
        }
        Err(e) => message(StatusCode::INTERNAL_SERVER_ERROR, json!(e.to_string())),
    }
}

impl Gl {
    /// A branch whose head is `sha`, else the default branch.
    pub(super) async fn branch_at(&self, sha: &str) -> String {
        let branches = self.shared.repo.branches().await.unwrap_or_default();
        match branches.into_iter().find(|(_, head)| head == sha) {
            Some((name, _)) => name,
            None => self.shared.repo.default_branch().await,
        }
    }

    async fn branch_json(&self, name: &str, sha: &str) -> Value {
        let repo = &self.shared.repo;
        let default = repo.default_branch().await;
        let merged = name != default
            && match repo.head(&default).await {
                Ok(Some(d)) => repo.is_ancestor(sha, &d).await.unwrap_or(false),
                _ => false,
            };
        let commit = match repo.commit_info(sha).await {
            Ok(c) => self.commit_json(&c),
            Err(_) => json!({ "id": sha }),
        };
        json!({
            "name": name,
            "merged": merged,
            "protected": name == default,
            "default": name == default,
            "developers_can_push": false,
            "developers_can_merge": false,
            "can_push": true,
            "web_url": format!("{}/{}/-/tree/{name}", self.shared.base_url, self.project_path),
            "commit": commit,
        })
    }

    fn commit_json(&self, c: &CommitInfo) -> Value {
        let title = c.message.lines().next().unwrap_or_default();
        json!({
            "id": c.sha,
            "short_id": &c.sha[..c.sha.len().min(8)],
            "created_at": c.committed_at,
            "parent_ids": c.parents,
            "title": title,
            "message": c.message,
            "author_name": c.author_name,
            "author_email": c.author_email,
            "authored_date": c.authored_at,
            "committer_name": c.committer_name,
            "committer_email": c.committer_email,
            "committed_date": c.committed_at,
            "trailers": {},
            "extended_trailers": {},
            "web_url": format!("{}/{}/-/commit/{}", self.shared.base_url, self.project_path, c.sha),
        })
    }
}
