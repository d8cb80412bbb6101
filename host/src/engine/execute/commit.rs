//! The commit of a write: the edit, its provenance trailers and the push,
//! to the tracked branch (direct commit) or to the merge-request branch.

use super::Write;
use super::plan::Plan;
use crate::capabilities::git::{
    CommitSettings, Provenance, Target, WriteError, WriteOutcome, WriteRequest,
};
use crate::engine::audit::Status;
use crate::engine::state::{Engine, Stop};
use crate::runtime::Channel;

impl Engine {
    /// Edits, commits and pushes `w`.
    pub(super) fn commit(&self, plan: &Plan, w: &Write<'_>) -> Result<WriteOutcome, Stop> {
        let request = WriteRequest {
            app: self.app.clone(),
            stage: w.stage.to_owned(),
            location: plan.stage.location.clone(),
            further: plan
                .stage
                .further_targets()
                .iter()
                .map(|t| t.location.clone())
                .collect(),
            version: w.version.to_owned(),
            target: match w.channel {
                Channel::DirectCommit => Target::Branch,
                Channel::MergeRequest(_) => Target::MergeRequest,
            },
            provenance: Provenance {
                policy_digest: Some(self.policy_info.digest.clone()),
                run_id: Some(self.context.run_id.clone()),
                rollback_of: w.rollback_of.map(str::to_owned),
                digest: plan.digest.clone(),
            },
        };
        let settings = self.commit_settings(w);
        self.systems.repo.with(|repo| {
            repo.write_version(&request, &settings).map_err(|e| {
                let status = match e {
                    WriteError::Edit { .. } | WriteError::BranchDiverged { .. } => {
                        Status::UsageError
                    }
                    _ => Status::ExternalError,
                };
                Stop::caused(status, &e)
            })
        })
    }

    /// A rollback says so in its subject, unless the template already
    /// mentions what it rolls back.
    fn commit_settings(&self, w: &Write<'_>) -> CommitSettings {
        match w.rollback_of {
            Some(_) if !self.commit.template.contains("{rollback_of}") => CommitSettings {
                template: format!("rollback {}", self.commit.template),
                ..self.commit.clone()
            },
            _ => self.commit.clone(),
        }
    }
}
