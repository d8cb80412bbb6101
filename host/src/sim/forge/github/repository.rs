//! The repository itself: `GET /repos/{o}/{r}` (PyGithub's `get_repo()`
//! reads it before anything else), its branches (`GET …/branches`,
//! `GET …/branches/{b}`, with `protected` from branch protection), its refs
//! (`GET …/git/matching-refs/{ref}`) and
//! commits (`GET …/commits/{ref}`), in the shapes of GitHub's repository,
//! branch and commit objects. The owner is the one in the repository's
//! path (`acme` for `acme/gitops-env`).

use super::*;
use crate::sim::forge::CommitInfo;

pub(super) async fn show(
    State(gh): State<Arc<Gh>>,
    Path((owner, repo)): Path<(String, String)>,
) -> Response {
    if !gh.repo_matches(&owner, &repo) {
        return not_found();
    }
    let mut v = gh.repo_json();
    let default_branch = gh.shared.repo.default_branch().await;
    let extra = json!({
        "default_branch": default_branch,
        "allow_merge_commit": true, "allow_squash_merge": true, "allow_rebase_merge": true,
        "allow_auto_merge": true, "delete_branch_on_merge": false,
        "permissions": { "admin": true, "maintain": true, "push": true, "triage": true, "pull": true },
        "archived": false, "disabled": false, "has_issues": true,
        "pulls_url": format!("{}/pulls{{/number}}", gh.api()),
        "branches_url": format!("{}/branches{{/branch}}", gh.api()),
        "statuses_url": format!("{}/statuses/{{sha}}", gh.api()),
    });
    if let (Some(obj), Value::Object(extra)) = (v.as_object_mut(), extra) {
        obj.extend(extra);
    }
    Json(v).into_response()
}

pub(super) async fn branches(
    State(gh): State<Arc<Gh>>,
    Path((owner, repo)): Path<(String, String)>,
    uri: Uri,
) -> Response {
    let p = match repo_params(&gh, &owner, &repo, &uri, &Bytes::new()) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let all = match gh.shared.repo.branches().await {
        Ok(all) => all,
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string(), DOCS),
    };
    let (page, per_page) = page_params(&p, 30);
    let items: Vec<Value> = all
        .iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .map(|(name, sha)| {
            json!({
                "name": name,
                "commit": { "sha": sha, "url": format!("{}/commits/{sha}", gh.api()) },
                "protected": !gh.required_checks(name).is_empty() || gh.is_protected(name),
            })
        })
        .collect();
    let headers = gh.page_links(&uri, page, all.len().div_ceil(per_page).max(1));
    (StatusCode::OK, headers, Json(Value::Array(items))).into_response()
}

/// `GET …/git/matching-refs/{ref}`: every branch and tag whose name starts
/// with `refs/{ref}` (`heads/release` matches `heads/release-1` too), as
/// GitHub's git reference objects; an empty array when none does.
pub(super) async fn matching_refs(
    State(gh): State<Arc<Gh>>,
    Path((owner, repo, name)): Path<(String, String, String)>,
) -> Response {
    if !gh.repo_matches(&owner, &repo) {
        return not_found();
    }
    let refs = match gh.shared.repo.refs_starting(&format!("refs/{name}")).await {
        Ok(refs) => refs,
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string(), DOCS),
    };
    let items: Vec<Value> = refs
        .iter()
        .map(|(full, sha, kind)| {
            let plural = if kind == "tag" { "tags" } else { "commits" };
            json!({
                "ref": full,
                // Opaque, one per ref.
                "node_id": format!(
                    "REF_sim{}",
                    full.bytes().map(|b| format!("{b:02x}")).collect::<String>()
                ),
                "url": format!("{}/git/{full}", gh.api()),
                "object": {
                    "type": kind,
                    "sha": sha,
                    "url": format!("{}/git/{plural}/{sha}", gh.api()),
                },
            })
        })
        .collect();
    Json(Value::Array(items)).into_response()
}

/// `DELETE …/git/refs/{ref}`: deletes branch `heads/<name>` (204);
/// GitHub's 422 `Reference does not exist` for a branch or ref that is not
/// there.
pub(super) async fn delete_ref(
    State(gh): State<Arc<Gh>>,
    Path((owner, repo, name)): Path<(String, String, String)>,
) -> Response {
    if !gh.repo_matches(&owner, &repo) {
        return not_found();
    }
    let gone = || {
        error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Reference does not exist",
            "https://docs.github.com/rest/git/refs#delete-a-reference",
        )
    };
    let Some(branch) = name.strip_prefix("heads/") else {
        return gone();
    };
    let Ok(Some(sha)) = gh.shared.repo.head(branch).await else {
        return gone();
    };
    match gh.shared.repo.delete_branch(branch, &sha).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string(), DOCS),
    }
}

pub(super) async fn branch(
    State(gh): State<Arc<Gh>>,
    Path((owner, repo, branch)): Path<(String, String, String)>,
) -> Response {
    if !gh.repo_matches(&owner, &repo) {
        return not_found();
    }
    let Ok(Some(sha)) = gh.shared.repo.head(&branch).await else {
        return error(
            StatusCode::NOT_FOUND,
            "Branch not found",
            "https://docs.github.com/rest/branches/branches#get-a-branch",
        );
    };
    let commit = match gh.shared.repo.commit_info(&sha).await {
        Ok(c) => gh.commit_json(&c),
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string(), DOCS),
    };
    let url = format!("{}/branches/{branch}", gh.api());
    Json(json!({
        "name": branch,
        "commit": commit,
        "_links": { "self": url, "html": format!("{}/tree/{branch}", gh.html()) },
        "protected": gh.is_protected(&branch),
        "protection_url": format!("{url}/protection"),
        "protection": {
            "enabled": gh.is_protected(&branch),
            "required_status_checks": {
                "enforcement_level": if gh.is_protected(&branch) { "non_admins" } else { "off" },
                "contexts": gh.required_checks(&branch),
                "checks": gh.required_checks(&branch).iter().map(|c| json!({ "context": c, "app_id": null })).collect::<Vec<_>>(),
            },
        },
    }))
    .into_response()
}

/// `GET /repos/{o}/{r}/commits/{ref}`: 422 `No commit found for SHA` for
/// a ref that names no commit.
pub(super) async fn commit(
    State(gh): State<Arc<Gh>>,
    Path((owner, repo, reference)): Path<(String, String, String)>,
) -> Response {
    let doc = "https://docs.github.com/rest/commits/commits#get-a-commit";
    let sha = match gh.repo_commit(&owner, &repo, &reference, doc).await {
        Ok(sha) => sha,
        Err(r) => return r,
    };
    match gh.shared.repo.commit_info(&sha).await {
        Ok(c) => Json(gh.commit_json(&c)).into_response(),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string(), DOCS),
    }
}

impl Gh {
    /// Whether `branch` has protection (even requiring no checks).
    pub(super) fn is_protected(&self, branch: &str) -> bool {
        self.protection.lock().is_ok_and(|p| p.contains_key(branch))
    }

    /// The full id of the commit `reference` names in the simulated
    /// repository: 404 for another repository, 422 `No commit found for
    /// SHA` (pointing at `doc`) for a name of no commit. The name is a
    /// branch name or a full or short commit id.
    pub(super) async fn repo_commit(
        &self,
        owner: &str,
        repo: &str,
        reference: &str,
        doc: &str,
    ) -> Result<String, Response> {
        if !self.repo_matches(owner, repo) {
            return Err(not_found());
        }
        match self.shared.repo.resolve(reference).await {
            Ok(Some(sha)) => Ok(sha),
            _ => Err(error(
                StatusCode::UNPROCESSABLE_ENTITY,
                &format!("No commit found for SHA: {reference}"),
                doc,
            )),
        }
    }

    fn commit_json(&self, c: &CommitInfo) -> Value {
        let api = self.api();
        let person = |name: &str, email: &str, date: &str| {
            let date = crate::time::parse_rfc3339(date)
                .map_or_else(|| date.to_owned(), crate::time::format_rfc3339);
            json!({ "name": name, "email": email, "date": date })
        };
        json!({
            "sha": c.sha,
            "node_id": format!("C_sim{}", &c.sha[..c.sha.len().min(12)]),
            "url": format!("{api}/commits/{}", c.sha),
            "html_url": format!("{}/commit/{}", self.html(), c.sha),
            "comments_url": format!("{api}/commits/{}/comments", c.sha),
            "commit": {
                "url": format!("{api}/git/commits/{}", c.sha),
                "author": person(&c.author_name, &c.author_email, &c.authored_at),
                "committer": person(&c.committer_name, &c.committer_email, &c.committed_at),
                "message": c.message,
                "tree": { "sha": c.tree, "url": format!("{api}/git/trees/{}", c.tree) },
                "comment_count": 0,
                "verification": { "verified": false, "reason": "unsigned", "signature": null, "payload": null },
            },
            "author": null,
            "committer": null,
            "parents": c.parents.iter().map(|p| json!({
                "sha": p, "url": format!("{api}/commits/{p}"), "html_url": format!("{}/commit/{p}", self.html()),
            })).collect::<Vec<_>>(),
            "files": [],
        })
    }
}
