//! GitLab's JSON objects as the simulator renders them: the merge request
//! (list form, and the single-MR form with its extra fields), the note and
//! the user, with the field names and JSON types of GitLab's payloads.

use super::*;

impl Gl {
    pub(super) fn user(&self) -> Value {
        self.user_named("baton")
    }

    /// A user object for `login` (id 1 is `baton`, the token's user).
    pub(super) fn user_named(&self, login: &str) -> Value {
        let id = if login == "baton" {
            1
        } else {
            1000 + login.bytes().map(u64::from).sum::<u64>()
        };
        let base = &self.shared.base_url;
        json!({
            "id": id, "username": login, "name": login, "state": "active", "locked": false,
            "avatar_url": format!("{base}/uploads/-/system/user/avatar/{id}/avatar.png"),
            "web_url": format!("{base}/{login}"),
        })
    }

    /// What GitLab computes about an MR's branches: the source head, the
    /// merge base, conflicts, `detailed_merge_status` and the files changed.
    async fn mergeability(&self, mr: &SimMergeRequest, heads: Option<&Heads>) -> Mergeability {
        let repo = &self.shared.repo;
        let mut m = Mergeability {
            sha: mr.merged_sha.clone(),
            base_sha: None,
            conflicts: false,
            detailed: "not_open",
            changes: 0,
        };
        if mr.state != SimMrState::Opened {
            return m;
        }
        let (source, target) = match heads {
            Some(heads) => (
                heads.get(&mr.source_branch).cloned(),
                heads.get(&mr.target_branch).cloned(),
            ),
            None => (
                repo.head(&mr.source_branch).await.ok().flatten(),
                repo.head(&mr.target_branch).await.ok().flatten(),
            ),
        };
        m.sha = source.clone();
        m.detailed = "broken_status";
        if let (Some(s), Some(t)) = (source, target) {
            let pair = self.pair(&t, &s).await;
            m.conflicts = pair.conflicts;
            m.detailed = if mr.draft {
                "draft_status"
            } else if pair.conflicts {
                "conflict"
            } else if self.strategy == Strategy::FastForward && !pair.fast_forward {
                "need_rebase"
            } else {
                "mergeable"
            };
            m.base_sha = pair.base;
            m.changes = pair.changes;
        }
        m
    }

    /// What merging source commit `s` into target commit `t` would give.
    async fn pair(&self, t: &str, s: &str) -> BranchPair {
        let key = (t.to_owned(), s.to_owned());
        if let Some(known) = self.pairs.lock().ok().and_then(|p| p.get(&key).cloned()) {
            return known;
        }
        let repo = &self.shared.repo;
        let base = repo.merge_base(t, s).await.ok();
        // The target is an ancestor of the source exactly when it is their
        // merge base; a fast-forward cannot conflict.
        let fast_forward = base.as_deref() == Some(t);
        let pair = BranchPair {
            conflicts: !fast_forward && repo.conflicts(t, s).await.unwrap_or(false),
            fast_forward,
            changes: match &base {
                Some(base) => repo.changes_since(base, s).await.unwrap_or(0),
                None => 0,
            },
            base,
        };
        if let Ok(mut pairs) = self.pairs.lock() {
            pairs.insert(key, pair.clone());
        }
        pair
    }

    /// The MR object; `single` adds the fields only `GET …/:iid` carries.
    pub(super) async fn mr_json(&self, mr: &SimMergeRequest, single: bool) -> Value {
        self.mr_json_at(mr, single, None).await
    }

    /// [`Self::mr_json`] with the branch heads read once for a whole list
    /// (`None`: read them now).
    pub(super) async fn mr_json_at(
        &self,
        mr: &SimMergeRequest,
        single: bool,
        heads: Option<&Heads>,
    ) -> Value {
        let Mergeability {
            sha,
            base_sha,
            conflicts,
            detailed,
            changes,
        } = self.mergeability(mr, heads).await;
        let merge_status = match detailed {
            "mergeable" => "can_be_merged",
            "not_open" => "unchecked",
            _ => "cannot_be_merged",
        };
        let merged = mr.state == SimMrState::Merged;
        let web = format!(
            "{}/{}/-/merge_requests/{}",
            self.shared.base_url, self.project_path, mr.iid
        );
        let short = format!("!{}", mr.iid);
        let squash_commit_sha = match (merged, &mr.squash_commit_sha) {
            (true, Some(s)) => json!(s),
            _ => Value::Null,
        };
        let merge_commit_sha = match (merged, &mr.merge_commit_sha) {
            // A fast-forward (of the source, or of its squash commit) makes
            // no merge commit: GitLab leaves it null.
            (true, Some(c))
                if Some(c) == mr.merged_sha.as_ref()
                    || Some(c) == mr.squash_commit_sha.as_ref() =>
            {
                Value::Null
            }
            (true, Some(c)) => json!(c),
            _ => Value::Null,
        };
        let mut v = json!({
            "id": 1000 + mr.iid,
            "iid": mr.iid,
            "project_id": self.project_id,
            "title": mr.title,
            "description": mr.description,
            "state": mr.state,
            "created_at": mr.created_at,
            "updated_at": mr.updated_at,
            "merged_by": if merged { self.user_named(mr.merged_by.as_deref().unwrap_or("baton")) } else { Value::Null },
            // Who merged it, or who set it to merge automatically.
            "merge_user": match (&mr.armed, merged) {
                (Some(armed), _) => self.user_named(&armed.enabled_by),
                (None, true) => self.user_named(mr.merged_by.as_deref().unwrap_or("baton")),
                (None, false) => Value::Null,
            },
            "merged_at": mr.merged_at,
            "merge_after": null,
            "prepared_at": mr.created_at,
            "closed_by": if mr.state == SimMrState::Closed { self.user() } else { Value::Null },
            "closed_at": if mr.state == SimMrState::Closed { json!(mr.closed_at) } else { Value::Null },
        });
        let rest = json!({
            "target_branch": mr.target_branch,
            "source_branch": mr.source_branch,
            "user_notes_count": mr.notes.len(),
            "upvotes": 0,
            "downvotes": 0,
            "author": self.user(),
            "assignee": null,
            "assignees": [],
            "reviewers": [],
            "source_project_id": self.project_id,
            "target_project_id": self.project_id,
            "labels": mr.labels,
            "draft": mr.draft,
            "imported": false,
            "imported_from": "none",
            "work_in_progress": mr.draft,
            "milestone": null,
            "merge_when_pipeline_succeeds": mr.auto_merge,
            "merge_status": merge_status,
            "detailed_merge_status": detailed,
            "merge_error": null,
            "sha": sha,
            "merge_commit_sha": merge_commit_sha,
            "squash_commit_sha": squash_commit_sha,
            "discussion_locked": null,
            "should_remove_source_branch": null,
            "force_remove_source_branch": mr.remove_source_branch,
            "allow_collaboration": false,
            "allow_maintainer_to_push": false,
            "reference": short,
            "references": {
                "short": short,
                "relative": short,
                "full": format!("{}!{}", self.project_path, mr.iid),
            },
            "web_url": web,
            "time_stats": {
                "time_estimate": 0, "total_time_spent": 0,
                "human_time_estimate": null, "human_total_time_spent": null,
            },
            "squash": mr.squash,
            "squash_on_merge": mr.squash,
            "task_completion_status": { "count": 0, "completed_count": 0 },
            "has_conflicts": conflicts,
            "blocking_discussions_resolved": true,
            "approvals_before_merge": null,
        });
        if let (Some(obj), Value::Object(rest)) = (v.as_object_mut(), rest) {
            obj.extend(rest);
        }
        if single && let Some(obj) = v.as_object_mut() {
            let head = obj.get("sha").and_then(Value::as_str).unwrap_or_default();
            let pipeline = self
                .pipeline_of(head)
                .map_or(Value::Null, |p| self.pipeline_json(&p));
            let extra = json!({
                "subscribed": false,
                "changes_count": changes.to_string(),
                "latest_build_started_at": null,
                "latest_build_finished_at": null,
                "first_deployed_to_production_at": null,
                "pipeline": pipeline.clone(),
                "head_pipeline": pipeline,
                "diff_refs": {
                    "base_sha": base_sha, "head_sha": obj.get("sha").cloned().unwrap_or(Value::Null),
                    "start_sha": base_sha,
                },
                "diverged_commits_count": 0,
                "rebase_in_progress": false,
                "first_contribution": false,
                "user": { "can_merge": mr.state == SimMrState::Opened },
            });
            if let Value::Object(extra) = extra {
                obj.extend(extra);
            }
        }
        v
    }

    pub(super) fn note_json(&self, mr: &SimMergeRequest, note: &SimNote) -> Value {
        json!({
            "id": note.id, "type": null, "body": note.body, "attachment": null,
            "author": self.user(), "created_at": note.created_at, "updated_at": note.created_at,
            "system": false, "noteable_id": 1000 + mr.iid, "noteable_type": "MergeRequest",
            "project_id": self.project_id, "resolvable": false, "confidential": false, "internal": false,
            "noteable_iid": mr.iid, "commands_changes": {},
        })
    }
}

/// Branch heads by branch name.
pub(super) type Heads = std::collections::HashMap<String, String>;

/// See [`Gl::pair`].
#[derive(Debug, Clone)]
pub(super) struct BranchPair {
    conflicts: bool,
    fast_forward: bool,
    base: Option<String>,
    changes: usize,
}

/// See [`Gl::mergeability`].
struct Mergeability {
    sha: Option<String>,
    base_sha: Option<String>,
    conflicts: bool,
    detailed: &'static str,
    changes: usize,
}
