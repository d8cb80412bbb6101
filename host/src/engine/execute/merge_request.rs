//! The merge request of a write: Baton's title, labels and description
//! (reasons, versions, policy digest, run id, CI job), opened or reused on
//! the forge, and merged at once when the policy asked for auto-merge.

use super::Write;
use super::plan::Plan;
use crate::capabilities::forge::content::{self, MrFacts};
use crate::capabilities::forge::{MergeOptions, NewMergeRequest};
use crate::engine::audit::{ActionRecord, ActionStatus, MergeRequestRef, Status};
use crate::engine::state::{Engine, Stop};
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
        let opened = match forge.create_or_reuse(&new).await {
            Ok(o) => o,
            Err(e) => {
                let stop = Stop::caused(Status::ExternalError, &e);
                rec.status = ActionStatus::Failed;
                rec.detail = format!(
                    "pushed {} but could not open its merge request: {}",
                    plan.mr_branch,
                    stop.message()
                );
                return Err(stop);
            }
        };
        let mut mr = MergeRequestRef {
            number: opened.merge_request.iid,
            url: opened.merge_request.web_url.clone(),
            source_branch: plan.mr_branch.clone(),
            reused: opened.reused,
            merged: false,
        };
        let verb = if opened.reused { "reused" } else { "opened" };
        rec.detail = plan.opened(w, verb, mr.number, &mr.url);
        if options.auto_merge {
            let merge = MergeOptions {
                auto_merge: true,
                sha: Some(sha.to_owned()),
                commit_message: None,
            };
            if let Err(e) = forge.merge(mr.number, &merge).await {
                let stop = Stop::caused(Status::ExternalError, &e);
                rec.status = ActionStatus::Failed;
                rec.detail
                    .push_str(&format!("; merging failed: {}", stop.message()));
                rec.merge_request = Some(mr);
                return Err(stop);
            }
            mr.merged = true;
            rec.detail.push_str("; auto-merge requested");
        }
        rec.status = if mr.reused && reused_branch {
            ActionStatus::Unchanged
        } else {
            ActionStatus::Done
        };
        rec.merge_request = Some(mr);
        Ok(())
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
