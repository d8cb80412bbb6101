//! Check before writing: before the first write of a run, the systems the
//! run will need are checked reachable and authorized, so a run never
//! leaves a stage changed and ungated because Argo CD or the forge turned
//! out to be unusable. The Argo CD application of every target of every
//! stage the decision gates or commits to directly must exist and be
//! readable; when the app has stages that change by merge request, the
//! forge token must be able to list the project's merge requests; when the
//! policy reads metrics, the metrics server must answer a query. A failure
//! is exit 4 with nothing written.

use super::audit::{ActionStatus, Status};
use super::state::{Engine, RunState, Slot, Stop};
use crate::capabilities::argocd::AppRef;
use crate::capabilities::metrics::ErrorKind;
use crate::report::error_chain;
use crate::runtime::{Action, Channel, Decision};

impl Engine {
    /// Runs the checks once per run, before the first decision that writes.
    pub(super) async fn preflight(
        &self,
        st: &mut RunState,
        seq: u32,
        decision: &Decision,
    ) -> Result<(), Stop> {
        if self.options.dry_run || st.preflighted || !writes(decision) {
            return Ok(());
        }
        st.preflighted = true;
        let Err(problem) = self.check_systems(decision).await else {
            return Ok(());
        };
        let message = format!("before writing anything: {problem}");
        for (i, action) in decision.actions.iter().enumerate() {
            st.record(
                Slot::of(seq, i),
                action,
                ActionStatus::Refused,
                message.clone(),
            );
        }
        Err(Stop::Error(Status::ExternalError, message))
    }

    async fn check_systems(&self, decision: &Decision) -> Result<(), String> {
        if let Some(argocd) = &self.systems.argocd {
            for stage in self.gated_stages(decision) {
                let stage = self.stage(stage).map_err(|s| s.message().to_owned())?;
                for app in stage.argocd_apps() {
                    argocd
                        .get_application(&AppRef::named(app), false)
                        .await
                        .map_err(|e| {
                            format!(
                                "the Argo CD application {app} of stage {} cannot be read: {}",
                                stage.name,
                                error_chain(&e)
                            )
                        })?;
                }
            }
        }
        if let Some(metrics) = &self.systems.metrics
            && self.policy.interfaces.baton_import("metrics").is_some()
        {
            // Any answer of the API (an error about the query included)
            // shows it reachable and the token accepted.
            match metrics.query("vector(1)", (self.options.clock)()).await {
                Err(e) if e.kind() != ErrorKind::BadQuery => {
                    return Err(format!(
                        "the metrics server cannot answer: {}",
                        error_chain(&e)
                    ));
                }
                _ => {}
            }
        }
        let merge_requests_follow = self.context.stages.iter().any(|s| !s.direct_commit_allowed);
        if let Some(forge) = &self.systems.forge
            && merge_requests_follow
        {
            let probe = format!("baton/{}/preflight", self.app);
            forge.find_open(&probe).await.map_err(|e| {
                format!("the forge cannot list merge requests: {}", error_chain(&e))
            })?;
        }
        Ok(())
    }

    /// The stages the decision gates or changes by direct commit, once each.
    fn gated_stages<'d>(&self, decision: &'d Decision) -> Vec<&'d str> {
        let mut stages: Vec<&str> = Vec::new();
        for action in &decision.actions {
            let stage = match action {
                Action::AwaitHealth(a) => &a.stage,
                Action::SetVersion(s) if s.channel == Channel::DirectCommit => &s.stage,
                Action::Rollback(r) if r.channel == Channel::DirectCommit => &r.stage,
                _ => continue,
            };
            if !stages.contains(&stage.as_str()) {
                stages.push(stage);
            }
        }
        stages
    }
}

/// Does the decision change the env repo?
fn writes(decision: &Decision) -> bool {
    decision
        .actions
        .iter()
        .any(|a| matches!(a, Action::SetVersion(_) | Action::Rollback(_)))
}
