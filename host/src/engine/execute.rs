//! Executing `set-version` and `rollback`: the commit (to the branch, or
//! to a merge-request branch), the merge request itself, and the optional
//! merge. Idempotent end to end: a stage already at the version writes
//! nothing, an existing MR branch and an open MR for the same change are
//! reused. Under `--dry-run` only the plan is recorded.

use std::time::SystemTime;

use super::audit::{ActionStatus, MergeRequestRef};
use super::run::{Engine, Pushed, RunState, Slot, Stop, error_chain};
use crate::capabilities::forge::content::{self, MrFacts};
use crate::capabilities::forge::{MergeOptions, NewMergeRequest};
use crate::capabilities::git::{
    CommitSettings, Provenance, Target, WriteError, WriteOutcome, WriteRequest, mr_branch_name,
};
use crate::runtime::{Action, Channel};

/// One stage write, from a `set-version` or a `rollback` action.
pub(super) struct Write<'a> {
    pub stage: &'a str,
    pub version: &'a str,
    pub channel: &'a Channel,
    pub reason: &'a str,
    /// Set for a rollback: the version being rolled back.
    pub rollback_of: Option<&'a str>,
}

impl Engine {
    /// Runs one write and records it.
    pub(super) async fn write(
        &self,
        st: &mut RunState,
        slot: Slot,
        action: &Action,
        w: &Write<'_>,
    ) -> Result<(), Stop> {
        let stage = self.stage(w.stage)?.clone();
        let tip = self.tip()?;
        let previous = tokio::task::block_in_place(|| {
            self.lock_repo()?
                .read_version(&tip, &stage.location)
                .map(Some)
                .or_else(|e| match e {
                    crate::capabilities::git::ReadError::FileMissing { .. } => Ok(None),
                    e => Err(Stop::usage(error_chain(&e))),
                })
        })?;
        let from = previous.as_deref().unwrap_or("(none)");
        let branch = self
            .repo
            .lock()
            .map(|r| r.branch().to_owned())
            .unwrap_or_default();
        let mr_branch = mr_branch_name(&self.app, w.stage, w.version);
        let mut rec = super::audit::ActionRecord {
            decision: slot.decision,
            index: slot.index,
            action: action.clone(),
            status: ActionStatus::Planned,
            previous: previous.clone(),
            commit: None,
            branch: None,
            merge_request: None,
            detail: String::new(),
        };

        if previous.as_deref() == Some(w.version) {
            rec.status = if self.dry_run {
                ActionStatus::Planned
            } else {
                ActionStatus::Unchanged
            };
            rec.commit = Some(tip);
            rec.detail = format!("{} is already at {} on {branch}", w.stage, w.version);
            st.actions.push(rec);
            return Ok(());
        }
        if self.dry_run {
            rec.detail = match w.channel {
                Channel::DirectCommit => format!(
                    "would commit {} {from} -> {} ({} {}) to {branch}",
                    w.stage, w.version, stage.location.file, stage.location.field
                ),
                Channel::MergeRequest(o) => format!(
                    "would push {mr_branch} ({} {from} -> {}) and open a merge request into \
                     {branch}{}",
                    w.stage,
                    w.version,
                    if o.auto_merge { ", merged at once" } else { "" }
                ),
            };
            st.actions.push(rec);
            return Ok(());
        }

        let request = WriteRequest {
            app: self.app.clone(),
            stage: w.stage.to_owned(),
            location: stage.location.clone(),
            version: w.version.to_owned(),
            target: match w.channel {
                Channel::DirectCommit => Target::Branch,
                Channel::MergeRequest(_) => Target::MergeRequest,
            },
            provenance: Provenance {
                policy_digest: Some(self.policy_info.digest.clone()),
                run_id: Some(self.context.run_id.clone()),
                rollback_of: w.rollback_of.map(str::to_owned),
            },
        };
        let rollback_settings;
        let settings = match w.rollback_of {
            // A rollback says so in its subject, unless the template
            // already mentions what it rolls back.
            Some(_) if !self.commit.template.contains("{rollback_of}") => {
                rollback_settings = CommitSettings {
                    template: format!("rollback {}", self.commit.template),
                    ..self.commit.clone()
                };
                &rollback_settings
            }
            _ => &self.commit,
        };
        let written = tokio::task::block_in_place(|| {
            self.lock_repo()?
                .write_version(&request, settings)
                .map_err(|e| {
                    let message = error_chain(&e);
                    match e {
                        WriteError::Edit { .. } | WriteError::BranchDiverged { .. } => {
                            Stop::usage(message)
                        }
                        _ => Stop::external(message),
                    }
                })
        });
        let written = match written {
            Ok(w) => w,
            Err(stop) => {
                rec.status = ActionStatus::Failed;
                rec.detail = stop.message().to_owned();
                st.actions.push(rec);
                return Err(stop);
            }
        };
        let (sha, pushed_to) = match &written {
            WriteOutcome::Committed { sha, branch, .. }
            | WriteOutcome::Unchanged { sha, branch }
            | WriteOutcome::ReusedBranch { sha, branch } => (sha.clone(), branch.clone()),
        };
        rec.commit = Some(sha.clone());
        rec.branch = Some(pushed_to.clone());
        if w.rollback_of.is_some() && !matches!(written, WriteOutcome::Unchanged { .. }) {
            st.rolled_back = true;
        }

        let options = match w.channel {
            Channel::DirectCommit => {
                match written {
                    WriteOutcome::Unchanged { .. } => {
                        rec.status = ActionStatus::Unchanged;
                        rec.detail = format!("{} is already at {} on {branch}", w.stage, w.version);
                    }
                    _ => {
                        rec.status = ActionStatus::Done;
                        rec.detail = format!(
                            "committed {} to {branch}: {} {from} -> {}",
                            short(&sha),
                            w.stage,
                            w.version
                        );
                        st.pushed.insert(
                            w.stage.to_owned(),
                            Pushed {
                                version: w.version.to_owned(),
                                commit: sha,
                                at: SystemTime::now(),
                            },
                        );
                    }
                }
                st.actions.push(rec);
                return Ok(());
            }
            Channel::MergeRequest(o) => o,
        };
        if let WriteOutcome::Unchanged { .. } = written {
            rec.status = ActionStatus::Unchanged;
            rec.detail = format!("{} is already at {} on {branch}", w.stage, w.version);
            st.actions.push(rec);
            return Ok(());
        }

        let Some(forge) = self.forge.clone() else {
            // `admit` refuses merge requests without a forge; unreachable.
            return Err(Stop::usage("no forge: section for a merge request"));
        };
        let mut reasons = vec![w.reason.to_owned()];
        if !options.description.trim().is_empty() && options.description != w.reason {
            reasons.push(options.description.clone());
        }
        let facts = MrFacts {
            app: self.app.clone(),
            stage: w.stage.to_owned(),
            from_version: previous.clone(),
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
        let new = NewMergeRequest {
            source_branch: mr_branch.clone(),
            target_branch: branch.clone(),
            title,
            description: content::description(&facts),
            labels: options.labels.clone(),
            remove_source_branch: true,
        };
        let opened = match forge.create_or_reuse(&new).await {
            Ok(o) => o,
            Err(e) => {
                let stop = Stop::external(error_chain(&e));
                rec.status = ActionStatus::Failed;
                rec.detail = format!(
                    "pushed {mr_branch} but could not open its merge request: {}",
                    stop.message()
                );
                st.actions.push(rec);
                return Err(stop);
            }
        };
        let mut mr = MergeRequestRef {
            number: opened.merge_request.iid,
            url: opened.merge_request.web_url.clone(),
            source_branch: mr_branch.clone(),
            reused: opened.reused,
            merged: false,
        };
        let verb = if opened.reused { "reused" } else { "opened" };
        rec.detail = format!(
            "{verb} merge request #{} {} ({} {from} -> {})",
            mr.number, mr.url, w.stage, w.version
        );
        if options.auto_merge {
            let merge = MergeOptions {
                auto_merge: true,
                sha: Some(sha.clone()),
                commit_message: None,
            };
            match forge.merge(mr.number, &merge).await {
                Ok(_) => {
                    mr.merged = true;
                    rec.detail.push_str("; auto-merge requested");
                }
                Err(e) => {
                    let stop = Stop::external(error_chain(&e));
                    rec.status = ActionStatus::Failed;
                    rec.detail
                        .push_str(&format!("; merging failed: {}", stop.message()));
                    rec.merge_request = Some(mr);
                    st.actions.push(rec);
                    return Err(stop);
                }
            }
        }
        rec.status = if mr.reused && matches!(written, WriteOutcome::ReusedBranch { .. }) {
            ActionStatus::Unchanged
        } else {
            ActionStatus::Done
        };
        rec.merge_request = Some(mr);
        st.actions.push(rec);
        Ok(())
    }
}

fn short(sha: &str) -> &str {
    &sha[..sha.len().min(12)]
}
