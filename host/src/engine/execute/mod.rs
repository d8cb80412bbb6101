//! Executing `set-version` and `rollback`: check that every write of a
//! decision fits its stage's field, with the digest it carries ([`value`]),
//! plan the write ([`plan`]), commit it to the branch or to a
//! merge-request branch ([`commit`]), and for a merge request open (or
//! reuse) it and merge it when asked ([`merge_request`]). Idempotent end
//! to end: a stage already at the version (and digest) writes nothing, an
//! existing MR branch and an open MR for the same change are reused. Under
//! `--dry-run` only the plan is recorded.

mod commit;
mod merge_request;
mod plan;
mod value;

use std::time::SystemTime;

use super::audit::ActionStatus;
use super::state::{Engine, Pushed, RunState, Slot, Stop};
use crate::capabilities::git::WriteOutcome;
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
        let plan = self.plan(st, w, value::given_digest(action))?;
        let mut rec = slot.record(action, ActionStatus::Planned, String::new());
        rec.previous = plan.previous.clone();
        if plan.unchanged(w) {
            rec.status = if self.options.dry_run {
                ActionStatus::Planned
            } else {
                ActionStatus::Unchanged
            };
            rec.commit = Some(plan.tip.clone());
            rec.detail = plan.already_there(w);
            st.actions.push(rec);
            return Ok(());
        }
        if self.options.dry_run {
            rec.detail = plan.would(w);
            if matches!(w.channel, Channel::MergeRequest(_)) {
                rec.detail.push_str(&self.would_supersede(&plan).await);
            }
            st.actions.push(rec);
            return Ok(());
        }

        // Before the write: Argo CD may reconcile the new commit before
        // the push returns (a webhook, a post-receive hook on the server),
        // and a gate counts only statuses reconciled after this time.
        let writing_since = SystemTime::now();
        let written = match self.commit(&plan, w) {
            Ok(written) => written,
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
        rec.branch = Some(pushed_to);
        let unchanged = matches!(written, WriteOutcome::Unchanged { .. });
        if w.rollback_of.is_some() && !unchanged {
            st.rolled_back = true;
        }
        if unchanged {
            rec.status = ActionStatus::Unchanged;
            rec.detail = plan.already_there(w);
            st.actions.push(rec);
            return Ok(());
        }
        let options = match w.channel {
            Channel::DirectCommit => {
                rec.status = ActionStatus::Done;
                rec.detail = plan.committed(w, &sha);
                st.pushed.insert(
                    w.stage.to_owned(),
                    Pushed {
                        version: w.version.to_owned(),
                        commit: sha,
                        at: writing_since,
                    },
                );
                st.actions.push(rec);
                return Ok(());
            }
            Channel::MergeRequest(options) => options,
        };
        let reused_branch = matches!(written, WriteOutcome::ReusedBranch { .. });
        let result = self
            .merge_request(&plan, w, options, &sha, reused_branch, &mut rec)
            .await;
        st.actions.push(rec);
        result
    }
}
