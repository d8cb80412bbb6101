//! GitHub's JSON objects as the simulator renders them: the pull request
//! (list form, and the single-PR form with mergeability and counts), its
//! `head`/`base` refs, labels and users, with go-github's field names and
//! JSON types.

use super::checks::MergeState;
use super::*;

impl Gh {
    pub(super) fn user(&self) -> Value {
        self.user_named("baton")
    }

    /// A user object for `login` (id 1 is `baton`, the token's user).
    pub(super) fn user_named(&self, login: &str) -> Value {
        let base = &self.shared.base_url;
        let id = if login == "baton" {
            1
        } else {
            1000 + login.bytes().map(u64::from).sum::<u64>()
        };
        json!({
            "login": login, "id": id, "node_id": format!("U_sim{id}"),
            "avatar_url": format!("{base}/avatars/u/{id}?v=4"), "gravatar_id": "",
            "url": format!("{base}/users/{login}"), "html_url": format!("{base}/{login}"),
            "type": "User", "site_admin": false,
        })
    }

    /// The repository's owner: the user or organisation of its path.
    pub(super) fn owner_json(&self) -> Value {
        self.user_named(&self.owner)
    }

    pub(super) fn repo_json(&self) -> Value {
        json!({
            "id": 1296269, "node_id": "MDEwOlJlcG9zaXRvcnkxMjk2MjY5", "name": self.name,
            "full_name": format!("{}/{}", self.owner, self.name), "private": true, "owner": self.owner_json(),
            "html_url": self.html(), "description": null, "fork": false, "url": self.api(),
            "default_branch": "main", "visibility": "private",
        })
    }

    pub(super) fn branch_json(&self, branch: &str, sha: &str) -> Value {
        json!({
            "label": format!("{}:{branch}", self.owner), "ref": branch, "sha": sha,
            "user": self.owner_json(), "repo": self.repo_json(),
        })
    }

    pub(super) fn label_json(&self, name: &str) -> Value {
        json!({
            "id": 208045946, "node_id": "MDU6TGFiZWwyMDgwNDU5NDY=",
            "url": format!("{}/labels/{name}", self.api()), "name": name,
            "description": null, "color": "ededed", "default": false,
        })
    }

    /// The pull request; `single` adds the fields only `GET …/{n}` has.
    pub(super) async fn pr_json(&self, pr: &SimMergeRequest, single: bool) -> Value {
        let repo = &self.shared.repo;
        let open = pr.state == SimMrState::Opened;
        let merged = pr.state == SimMrState::Merged;
        let head_sha = if open {
            repo.head(&pr.source_branch).await.ok().flatten()
        } else {
            pr.merged_sha.clone()
        };
        let base_sha = repo.head(&pr.target_branch).await.ok().flatten();
        let head_sha = head_sha.unwrap_or_default();
        let base_sha = base_sha.unwrap_or_default();
        let state = self.merge_state(pr, &head_sha, &base_sha).await;
        let mergeable = match state {
            MergeState::Unknown => Value::Null,
            MergeState::Dirty => json!(false),
            _ => json!(true),
        };
        let mergeable_state = state.word();
        let auto_merge = pr.armed.as_ref().map_or(Value::Null, |a| {
            json!({
                "enabled_by": self.user_named(&a.enabled_by),
                "merge_method": match a.strategy {
                    Strategy::Squash => "squash",
                    Strategy::Rebase => "rebase",
                    _ => "merge",
                },
                "commit_title": a.commit_title,
                "commit_message": a.commit_body,
            })
        });
        let n = pr.iid;
        let api = self.api();
        let url = format!("{api}/pulls/{n}");
        let html_url = format!("{}/pull/{n}", self.html());
        let links = json!({
            "self": { "href": url },
            "html": { "href": html_url },
            "issue": { "href": format!("{api}/issues/{n}") },
            "comments": { "href": format!("{api}/issues/{n}/comments") },
            "review_comments": { "href": format!("{url}/comments") },
            "review_comment": { "href": format!("{api}/pulls/comments{{/number}}") },
            "commits": { "href": format!("{url}/commits") },
            "statuses": { "href": format!("{api}/statuses/{head_sha}") },
        });
        let mut v = json!({
            "url": url,
            "id": 100_000 + n,
            "node_id": format!("PR_kwDOsim{n}"),
            "html_url": html_url,
            "diff_url": format!("{html_url}.diff"),
            "patch_url": format!("{html_url}.patch"),
            "issue_url": format!("{api}/issues/{n}"),
            "commits_url": format!("{url}/commits"),
            "review_comments_url": format!("{url}/comments"),
            "review_comment_url": format!("{api}/pulls/comments{{/number}}"),
            "comments_url": format!("{api}/issues/{n}/comments"),
            "statuses_url": format!("{api}/statuses/{head_sha}"),
            "number": n,
            "state": if open { "open" } else { "closed" },
            "locked": false,
            "title": pr.title,
            "user": self.user(),
            "body": if pr.description.is_empty() { Value::Null } else { json!(pr.description) },
            "labels": pr.labels.iter().map(|l| self.label_json(l)).collect::<Vec<_>>(),
            "milestone": null,
            "active_lock_reason": null,
            "created_at": pr.created_at,
            "updated_at": pr.updated_at,
            "closed_at": pr.closed_at,
            "merged_at": pr.merged_at,
            "merge_commit_sha": pr.merge_commit_sha,
            "assignee": null,
            "assignees": [],
            "requested_reviewers": [],
            "requested_teams": [],
            "head": self.branch_json(&pr.source_branch, &head_sha),
            "base": self.branch_json(&pr.target_branch, &base_sha),
            "_links": links,
            "author_association": "OWNER",
            "auto_merge": auto_merge,
            "draft": pr.draft,
        });
        if single && let Some(obj) = v.as_object_mut() {
            let extra = json!({
                "merged": merged,
                "mergeable": mergeable,
                "rebaseable": mergeable,
                "mergeable_state": mergeable_state,
                "merged_by": if merged { self.user_named(pr.merged_by.as_deref().unwrap_or("baton")) } else { Value::Null },
                "comments": pr.notes.len(),
                "review_comments": 0,
                "maintainer_can_modify": false,
                "commits": 1,
                "additions": 1,
                "deletions": 1,
                "changed_files": 1,
            });
            if let Value::Object(extra) = extra {
                obj.extend(extra);
            }
        }
        v
    }
}
