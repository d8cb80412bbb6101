//! The merge request of a write: Baton's title, labels and description
//! (reasons, versions, policy digest, run id, CI job), opened or reused on
//! the forge, and merged at once when the policy asked for auto-merge.
//!
//! A new merge request supersedes the older open Baton merge requests for
//! the same app and stage (source branches `baton/<app>/<stage>/*` into the
//! same branch, opened before it): each gets a note linking the new one and
//! is closed and its branch deleted, so only one change per stage waits for
//! review and the stage's branches do not pile up. A failure to close one
//! (or delete its branch) is reported in the action's detail; the new
//! request stands.

use super::Write;
use super::plan::Plan;
use crate::capabilities::forge::content::{self, MrFacts};
use crate::capabilities::forge::{
    Forge, ForgeError, MergeOptions, MergeRequest, MrState, NewMergeRequest,
};
use crate::engine::audit::{ActionRecord, ActionStatus, MergeRequestRef, Status, SupersededMr};
use crate::engine::state::{Engine, Stop};
use crate::report::error_chain;
use crate::runtime::MergeRequestOptions;

impl Engine {
    /// Opens (or reuses) the merge request for a pushed MR branch whose tip
    /// is `sha`, and merges it when asked; fills in `rec`.
    pub(super) async fn merge_request(
        &self,
        plan: &Plan,
        w: &Write<'_>,
        options: &MergeRequestOptions,
        sha: &str,
        reused_branch: bool,
        rec: &mut ActionRecord,
    ) -> Result<(), Stop> {
        let Some(forge) = self.systems.forge.clone() else {
            // `admit` refuses merge requests without a forge.
            return Err(Stop::usage("no forge: section for a merge request"));
        };
        let new = self.new_merge_request(plan, w, options)?;
        let opened = forge
            .create_or_reuse(&new)
            .await
            .map_err(|e| open_failed(plan, &e, rec))?;
        let mut mr = MergeRequestRef {
            number: opened.merge_request.iid,
            url: opened.merge_request.web_url.clone(),
            source_branch: plan.mr_branch.clone(),
            reused: opened.reused,
            merged: false,
            auto_merge_armed: false,
            superseded: Vec::new(),
        };
        let verb = if opened.reused { "reused" } else { "opened" };
        rec.detail = plan.opened(w, verb, mr.number, &mr.url);
        let (closed, problems) = self
            .close_superseded(forge.as_ref(), plan, w, &opened.merge_request)
            .await;
        rec.detail.push_str(&superseded_detail(&closed, &problems));
        mr.superseded = closed;
        if options.auto_merge
            && let Err(stop) = merge_now(forge.as_ref(), sha, &mut mr, rec).await
        {
            rec.merge_request = Some(mr);
            return Err(stop);
        }
        rec.status = if mr.reused && reused_branch && mr.superseded.is_empty() {
            ActionStatus::Unchanged
        } else {
            ActionStatus::Done
        };
        rec.merge_request = Some(mr);
        Ok(())
    }

    /// The open Baton merge requests for `w`'s stage into the tracked
    /// branch other than the one for this change and, when `newer_than` is
    /// given, opened before it (a lower number).
    pub(super) async fn superseded_by(
        &self,
        forge: &dyn Forge,
        plan: &Plan,
        newer_than: Option<u64>,
    ) -> Result<Vec<MergeRequest>, Stop> {
        let prefix = self.superseded_prefix(plan);
        let open = forge
            .list_open_under(&prefix, &plan.branch)
            .await
            .map_err(|e| Stop::caused(Status::ExternalError, &e))?;
        let mut older: Vec<MergeRequest> = open
            .into_iter()
            .filter(|m| m.source_branch != plan.mr_branch)
            .filter(|m| newer_than.is_none_or(|n| m.iid < n))
            .collect();
        older.sort_by_key(|m| m.iid);
        Ok(older)
    }

    /// The source branches of the stage's merge requests:
    /// `baton/<app>/<stage>/`.
    fn superseded_prefix(&self, plan: &Plan) -> String {
        format!("baton/{}/{}/", self.app, plan.stage.name)
    }

    /// What `--dry-run` says about the merge requests a new one would
    /// supersede: `; would close superseded merge request #N (branch)`, or
    /// nothing.
    pub(super) async fn would_supersede(&self, plan: &Plan) -> String {
        let Some(forge) = self.systems.forge.clone() else {
            return String::new();
        };
        match self.superseded_by(forge.as_ref(), plan, None).await {
            Ok(older) if older.is_empty() => String::new(),
            Ok(older) => format!(
                "; would close superseded merge request{} {}",
                if older.len() == 1 { "" } else { "s" },
                older
                    .iter()
                    .map(|m| format!("#{} ({})", m.iid, m.source_branch))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Err(stop) => format!(
                "; could not look for superseded merge requests: {}",
                stop.message()
            ),
        }
    }

    /// Closes the older open Baton merge requests `new` supersedes, each
    /// after a note linking `new`; returns those closed and what failed.
    async fn close_superseded(
        &self,
        forge: &dyn Forge,
        plan: &Plan,
        w: &Write<'_>,
        new: &MergeRequest,
    ) -> (Vec<SupersededMr>, Vec<String>) {
        let older = match self.superseded_by(forge, plan, Some(new.iid)).await {
            Ok(older) => older,
            Err(stop) => {
                let problem = format!(
                    "could not look for superseded merge requests: {}",
                    stop.message()
                );
                tracing::warn!("{problem}");
                return (Vec::new(), vec![problem]);
            }
        };
        let what = if w.rollback_of.is_some() {
            "rolls back"
        } else {
            "sets"
        };
        // The link, not `#N`: GitLab would link `#N` to an issue.
        let note = format!(
            "Superseded by {}, which {what} `{}` of `{}` to `{}`. Closed by Baton (run `{}`).",
            new.web_url, w.stage, self.app, w.version, self.context.run_id
        );
        let mut closed = Vec::new();
        let mut problems = Vec::new();
        // A branch is deleted only under the stage's own prefix, whatever
        // the forge answered.
        let prefix = self.superseded_prefix(plan);
        for old in older {
            let result = match forge.comment(old.iid, &note).await {
                Ok(()) => forge.close(old.iid).await.map(|_| ()),
                Err(e) => Err(e),
            };
            match result {
                Ok(()) => {
                    // Closed, its branch only keeps the stage's branch list
                    // growing (and with it every later lookup of superseded
                    // requests); the forge keeps the request's commits.
                    if old.source_branch.starts_with(&prefix)
                        && let Err(e) = forge.delete_branch(&old.source_branch).await
                    {
                        let problem = format!(
                            "could not delete the branch {} of closed merge request #{}: {}",
                            old.source_branch,
                            old.iid,
                            error_chain(&e)
                        );
                        tracing::warn!("{problem}");
                        problems.push(problem);
                    }
                    closed.push(SupersededMr {
                        number: old.iid,
                        url: old.web_url,
                        source_branch: old.source_branch,
                    });
                }
                Err(e) => {
                    let problem = format!(
                        "could not close superseded merge request #{}: {}",
                        old.iid,
                        error_chain(&e)
                    );
                    tracing::warn!("{problem}");
                    problems.push(problem);
                }
            }
        }
        (closed, problems)
    }

    /// The merge request's title, description and labels.
    fn new_merge_request(
        &self,
        plan: &Plan,
        w: &Write<'_>,
        options: &MergeRequestOptions,
    ) -> Result<NewMergeRequest, Stop> {
        let mut reasons = vec![w.reason.to_owned()];
        if !options.description.trim().is_empty() && options.description != w.reason {
            reasons.push(options.description.clone());
        }
        let facts = MrFacts {
            app: self.app.clone(),
            stage: w.stage.to_owned(),
            from_version: plan.previous.clone(),
            to_version: w.version.to_owned(),
            rollback_of: w.rollback_of.map(str::to_owned),
            reasons,
            policy_digest: self.policy_info.digest.clone(),
            audit_record_id: self.context.run_id.clone(),
            ci_job_url: self.ci.job_url(),
        };
        let title = match &options.title {
            Some(t) => t.clone(),
            None => content::title(&self.titles, &facts)
                .map_err(|e| Stop::usage(format!("merge request title: {e}")))?,
        };
        Ok(NewMergeRequest {
            source_branch: plan.mr_branch.clone(),
            target_branch: plan.branch.clone(),
            title,
            description: content::description(&facts),
            labels: options.labels.clone(),
            remove_source_branch: true,
        })
    }
}

/// The stop for a merge request the forge would not open, after `rec`
/// says the branch was pushed but has no merge request.
fn open_failed(plan: &Plan, error: &ForgeError, rec: &mut ActionRecord) -> Stop {
    let stop = Stop::caused(Status::ExternalError, error);
    rec.status = ActionStatus::Failed;
    rec.detail = format!(
        "pushed {} but could not open its merge request: {}",
        plan.mr_branch,
        stop.message()
    );
    stop
}

/// What the action's detail adds about superseded merge requests: those
/// `closed`, then the `problems` closing others.
fn superseded_detail(closed: &[SupersededMr], problems: &[String]) -> String {
    let mut detail = String::new();
    if !closed.is_empty() {
        detail.push_str(&format!(
            "; closed superseded merge request{} {}",
            if closed.len() == 1 { "" } else { "s" },
            closed
                .iter()
                .map(|c| format!("#{} ({})", c.number, c.source_branch))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    for problem in problems {
        detail.push_str(&format!("; {problem}"));
    }
    detail
}

/// Merges `mr` at `sha` with auto-merge: the forge either merges at once
/// or arms auto-merge for when the pipeline or required checks pass, and
/// `mr` and `rec` say which. A failure is in `rec` as well.
async fn merge_now(
    forge: &dyn Forge,
    sha: &str,
    mr: &mut MergeRequestRef,
    rec: &mut ActionRecord,
) -> Result<(), Stop> {
    let merge = MergeOptions {
        auto_merge: true,
        sha: Some(sha.to_owned()),
        commit_message: None,
    };
    let merged = match forge.merge(mr.number, &merge).await {
        Ok(m) => m,
        Err(e) => {
            let stop = Stop::caused(Status::ExternalError, &e);
            rec.status = ActionStatus::Failed;
            rec.detail
                .push_str(&format!("; merging failed: {}", stop.message()));
            return Err(stop);
        }
    };
    if merged.state == MrState::Merged {
        mr.merged = true;
        rec.detail.push_str("; merged (auto-merge)");
    } else {
        mr.auto_merge_armed = true;
        rec.detail
            .push_str("; auto-merge armed: the forge merges it when its checks pass");
    }
    Ok(())
}
