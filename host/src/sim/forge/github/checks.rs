//! Checks and branch protection: what decides whether a pull request can
//! merge now, and what an armed auto-merge waits for.
//!
//! - `POST /repos/{o}/{r}/statuses/{sha}` reports a commit status (`state`
//!   `pending|success|failure|error`, `context` default `default`) and
//!   `GET /repos/{o}/{r}/commits/{ref}/status` combines the latest per
//!   context, as GitHub's statuses API does. Tests and clients set a pull
//!   request's checks this way (PyGithub: `commit.create_status`).
//! - `PUT /repos/{o}/{r}/branches/{b}/protection` with
//!   `required_status_checks.contexts` (or `.checks[].context`) names the
//!   checks a pull request into `b` needs; `null` requires none. `GET`
//!   shows it, `DELETE` removes it.
//!
//! From both follows GitHub's `mergeable_state`: `dirty` (conflicts),
//! `draft`, `blocked` (a required check missing, pending or failing),
//! `unstable` (another check not green), else `clean`. Every change of a
//! status or of protection lands the armed pull requests whose required
//! checks now pass, before the response is sent.

use std::collections::BTreeMap;

use super::*;
use crate::sim::forge::SimStatus;

const DOC_STATUS: &str = "https://docs.github.com/rest/commits/statuses#create-a-commit-status";
const DOC_PROTECTION: &str =
    "https://docs.github.com/rest/branches/branch-protection#update-branch-protection";

/// GitHub's `mergeable_state` of an open pull request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum MergeState {
    /// Mergeable, every check green.
    Clean,
    /// Mergeable, a check that is not required is pending or failing.
    Unstable,
    /// A required check is missing, pending or failing: the REST merge's
    /// 405 message says which.
    Blocked(String),
    /// The branches conflict.
    Dirty,
    /// A draft.
    Draft,
    /// A branch is missing, or the pull request is not open.
    Unknown,
}

impl MergeState {
    /// The REST word.
    pub(super) fn word(&self) -> &'static str {
        match self {
            Self::Clean => "clean",
            Self::Unstable => "unstable",
            Self::Blocked(_) => "blocked",
            Self::Dirty => "dirty",
            Self::Draft => "draft",
            Self::Unknown => "unknown",
        }
    }

    /// Whether the checks let an armed auto-merge land.
    pub(super) fn lands(&self) -> bool {
        matches!(self, Self::Clean | Self::Unstable)
    }
}

impl Gh {
    /// The contexts a pull request into `branch` must have green.
    pub(super) fn required_checks(&self, branch: &str) -> Vec<String> {
        self.protection
            .lock()
            .ok()
            .and_then(|p| p.get(branch).cloned())
            .unwrap_or_default()
    }

    /// The mergeable state of `pr` (open) with heads `head` and `base`.
    pub(super) async fn merge_state(
        &self,
        pr: &SimMergeRequest,
        head: &str,
        base: &str,
    ) -> MergeState {
        if pr.state != SimMrState::Opened || head.is_empty() || base.is_empty() {
            return MergeState::Unknown;
        }
        if self.shared.repo.conflicts(base, head).await.unwrap_or(true) {
            return MergeState::Dirty;
        }
        if pr.draft {
            return MergeState::Draft;
        }
        let latest = self.shared.latest_statuses(head);
        let required = self.required_checks(&pr.target_branch);
        for context in &required {
            let reason = match latest.iter().find(|s| s.context == *context) {
                None => "is expected",
                Some(s) if s.state == "success" => continue,
                Some(s) if s.state == "pending" => "is in progress",
                Some(_) => "is failing",
            };
            return MergeState::Blocked(format!("Required status check \"{context}\" {reason}."));
        }
        if latest.iter().any(|s| s.state != "success") {
            MergeState::Unstable
        } else {
            MergeState::Clean
        }
    }

    /// The mergeable state of `pr` as it stands now.
    pub(super) async fn merge_state_now(&self, pr: &SimMergeRequest) -> MergeState {
        let repo = &self.shared.repo;
        let head = repo.head(&pr.source_branch).await.ok().flatten();
        let base = repo.head(&pr.target_branch).await.ok().flatten();
        match (head, base) {
            (Some(h), Some(b)) => self.merge_state(pr, &h, &b).await,
            _ => MergeState::Unknown,
        }
    }

    /// Lands every armed pull request whose checks now pass, with what it
    /// was armed with; one that cannot land (conflict, a moved head) stays
    /// armed, as on GitHub.
    pub(super) async fn settle(&self) {
        let mut store = self.shared.store.lock().await;
        for m in store.iter_mut() {
            let Some(armed) = m.armed.clone() else {
                continue;
            };
            if m.state != SimMrState::Opened || !self.merge_state_now(m).await.lands() {
                continue;
            }
            let outcome = self
                .land(
                    m,
                    armed.strategy,
                    armed.commit_title,
                    armed.commit_body,
                    None,
                    armed.enabled_by,
                )
                .await;
            if let Err(e) = outcome {
                tracing::warn!(number = m.iid, failure = ?e, "armed pull request did not land");
            }
        }
    }

    fn status_json(&self, s: &SimStatus) -> Value {
        json!({
            "url": format!("{}/statuses/{}", self.api(), s.sha),
            "avatar_url": null,
            "id": s.id,
            "node_id": format!("SC_sim{}", s.id),
            "state": s.state,
            "description": s.description,
            "target_url": s.target_url,
            "context": s.context,
            "created_at": s.created_at,
            "updated_at": s.created_at,
            "creator": self.user_named(&s.creator),
        })
    }

    fn protection_json(&self, branch: &str, contexts: &[String]) -> Value {
        let url = format!("{}/branches/{branch}/protection", self.api());
        json!({
            "url": url,
            "required_status_checks": {
                "url": format!("{url}/required_status_checks"),
                "strict": false,
                "contexts": contexts,
                "checks": contexts.iter().map(|c| json!({ "context": c, "app_id": null })).collect::<Vec<_>>(),
                "contexts_url": format!("{url}/required_status_checks/contexts"),
            },
            "enforce_admins": { "url": format!("{url}/enforce_admins"), "enabled": false },
        })
    }
}

/// `POST /repos/{o}/{r}/statuses/{sha}`.
pub(super) async fn create_status(
    State(gh): State<Arc<Gh>>,
    Path((owner, repo, sha)): Path<(String, String, String)>,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Response {
    let p = match repo_params(&gh, &owner, &repo, &uri, &body) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let state = p_str(&p, "state").unwrap_or_default();
    if !["pending", "success", "failure", "error"].contains(&state.as_str()) {
        let errors = json!([{ "resource": "Status", "field": "state", "code": "invalid" }]);
        let body = json!({ "message": "Validation Failed", "errors": errors, "documentation_url": DOC_STATUS });
        return (StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response();
    }
    if !gh.shared.repo.has_commit(&sha).await.unwrap_or(false) {
        let message = format!("No commit found for SHA: {sha}");
        return error(StatusCode::UNPROCESSABLE_ENTITY, &message, DOC_STATUS);
    }
    let status = gh.shared.add_status(SimStatus {
        id: 0,
        sha,
        context: p_str(&p, "context").unwrap_or_else(|| "default".into()),
        state,
        description: p_str(&p, "description"),
        target_url: p_str(&p, "target_url"),
        git_ref: None,
        created_at: now_rfc3339(false),
        creator: acting_user(&headers, reviews::USER_HEADER),
    });
    gh.settle().await;
    (StatusCode::CREATED, Json(gh.status_json(&status))).into_response()
}

/// `GET /repos/{o}/{r}/commits/{ref}/status`: the combined status.
pub(super) async fn combined_status(
    State(gh): State<Arc<Gh>>,
    Path((owner, repo, reference)): Path<(String, String, String)>,
) -> Response {
    let sha = match gh.repo_commit(&owner, &repo, &reference, DOCS).await {
        Ok(sha) => sha,
        Err(r) => return r,
    };
    let latest = gh.shared.latest_statuses(&sha);
    let state = if latest
        .iter()
        .any(|s| s.state == "failure" || s.state == "error")
    {
        "failure"
    } else if latest.is_empty() || latest.iter().any(|s| s.state == "pending") {
        "pending"
    } else {
        "success"
    };
    Json(json!({
        "state": state,
        "statuses": latest.iter().map(|s| gh.status_json(s)).collect::<Vec<_>>(),
        "sha": sha,
        "total_count": latest.len(),
        "repository": gh.repo_json(),
        "commit_url": format!("{}/commits/{sha}", gh.api()),
        "url": format!("{}/commits/{sha}/status", gh.api()),
    }))
    .into_response()
}

/// `GET|PUT|DELETE /repos/{o}/{r}/branches/{b}/protection`.
pub(super) async fn protection(
    State(gh): State<Arc<Gh>>,
    Path((owner, repo, branch)): Path<(String, String, String)>,
    method: axum::http::Method,
    uri: Uri,
    body: Bytes,
) -> Response {
    if !gh.repo_matches(&owner, &repo) {
        return not_found();
    }
    if gh.shared.repo.head(&branch).await.ok().flatten().is_none() {
        return error(StatusCode::NOT_FOUND, "Branch not found", DOC_PROTECTION);
    }
    let not_protected = || {
        error(
            StatusCode::NOT_FOUND,
            "Branch not protected",
            DOC_PROTECTION,
        )
    };
    match method {
        axum::http::Method::GET => match gh
            .protection
            .lock()
            .ok()
            .and_then(|p| p.get(&branch).cloned())
        {
            Some(contexts) => Json(gh.protection_json(&branch, &contexts)).into_response(),
            None => not_protected(),
        },
        axum::http::Method::DELETE => {
            let removed = gh
                .protection
                .lock()
                .map(|mut p| p.remove(&branch).is_some())
                .unwrap_or(false);
            if !removed {
                return not_protected();
            }
            gh.settle().await;
            StatusCode::NO_CONTENT.into_response()
        }
        _ => {
            let p = match parse(&uri, &body) {
                Ok(p) => p,
                Err(r) => return r,
            };
            let Some(checks) = p.get("required_status_checks") else {
                let message = "Invalid request.\n\n\"required_status_checks\" wasn't supplied.";
                return error(StatusCode::UNPROCESSABLE_ENTITY, message, DOC_PROTECTION);
            };
            let contexts = required_contexts(checks);
            if let Ok(mut all) = gh.protection.lock() {
                all.insert(branch.clone(), contexts.clone());
            }
            gh.settle().await;
            Json(gh.protection_json(&branch, &contexts)).into_response()
        }
    }
}

/// `required_status_checks`: `contexts` (names) or `checks` (objects with
/// a `context`), deduplicated; `null` requires none.
fn required_contexts(checks: &Value) -> Vec<String> {
    let from_contexts = checks["contexts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str);
    let from_checks = checks["checks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["context"].as_str());
    let mut out: Vec<String> = Vec::new();
    for c in from_contexts.chain(from_checks) {
        if !out.iter().any(|o| o == c) {
            out.push(c.to_owned());
        }
    }
    out
}

/// Required contexts per protected branch.
pub(super) type Protection = StdMutex<BTreeMap<String, Vec<String>>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn required_contexts_read_both_spellings() {
        let checks = json!({ "strict": true, "contexts": ["ci"], "checks": [{ "context": "lint" }, { "context": "ci" }] });
        assert_eq!(required_contexts(&checks), ["ci", "lint"]);
        assert!(required_contexts(&Value::Null).is_empty());
    }
}
