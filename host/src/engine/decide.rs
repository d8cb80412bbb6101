//! Asking the policy and admitting its answer: one decide call against the
//! live world, recorded for the audit record; then the whole decision
//! checked (guardrails, and that the systems it needs are configured)
//! before any of it runs, so a refusal never leaves half a decision in git.

use super::arrival::Attribution;
use super::audit::{ActionStatus, DecisionRecord, Status};
use super::guardrails::{self, Held, HistoryCheck, HistoryError, StageHistory};
use super::state::{Engine, RunState, Slot, Stop};
use super::world::{HOST_CALL_BOUND, LiveStage, LiveTarget, LiveWorld};
use crate::capabilities::git::{DeploymentState, ReadError};
use crate::report::error_chain;
use crate::retry::Deadline;
use crate::runtime::{Action, Channel, Decision, Event};

impl Engine {
    /// Calls the policy and records the call; its capability calls may take
    /// [`HOST_CALL_BOUND`] in all.
    pub(super) fn decide(&self, st: &mut RunState, event: Event) -> Result<(u32, Decision), Stop> {
        self.decide_within(st, event, Deadline::NONE)
    }

    /// [`Self::decide`] whose capability calls must also end by `deadline`
    /// (a gate's).
    pub(super) fn decide_within(
        &self,
        st: &mut RunState,
        event: Event,
        deadline: Deadline,
    ) -> Result<(u32, Decision), Stop> {
        let bound = Deadline::after(HOST_CALL_BOUND);
        let calls = match (deadline.instant(), bound.instant()) {
            (Some(a), Some(b)) => Deadline::at(a.min(b)),
            (Some(_), None) => deadline,
            (None, _) => bound,
        };
        let world = self.live_world()?.with_deadline(calls);
        let (decided, _) = tokio::task::block_in_place(|| {
            self.policy.decide(Box::new(world), &self.context, &event)
        });
        let seq = u32::try_from(st.decisions.len() + 1).unwrap_or(u32::MAX);
        st.decisions.push(DecisionRecord::new(seq, event, &decided));
        match decided.result {
            Ok(Ok(decision)) => {
                for log in &decided.logs {
                    tracing::debug!(target: "baton::policy", "[{}] {}", log.level, log.message);
                }
                Ok((seq, decision))
            }
            Ok(Err(e)) => Err(Stop::policy(format!("the policy returned an error: {e:?}"))),
            Err(e) => Err(Stop::policy(format!(
                "the policy failed: {}",
                error_chain(&e)
            ))),
        }
    }

    /// The world a decide call reads: the env repo at the tip fetched for
    /// this run, and the configured Argo CD, forge and metrics server.
    fn live_world(&self) -> Result<LiveWorld, Stop> {
        let tip = self.tip()?;
        let stages = self
            .stages
            .iter()
            .map(|s| LiveStage {
                name: s.name.clone(),
                field: s.location.clone(),
                targets: if s.is_multi_target() {
                    s.targets
                        .iter()
                        .map(|t| LiveTarget {
                            label: t.label.clone(),
                            field: t.location.clone(),
                        })
                        .collect()
                } else {
                    Vec::new()
                },
            })
            .collect();
        let clock = self.options.clock.clone();
        let handle = tokio::runtime::Handle::current();
        let mut world = LiveWorld::new(
            self.systems.repo.clone(),
            tip,
            stages,
            Box::new(move || clock()),
        );
        if let Some(argocd) = &self.systems.argocd {
            world = world.with_argocd(argocd.clone(), handle.clone());
        }
        if let Some(forge) = &self.systems.forge {
            world = world.with_forge(forge.clone(), handle.clone());
        }
        if let Some(metrics) = &self.systems.metrics {
            world = world.with_metrics(metrics.clone(), handle);
        }
        Ok(world.with_attribution(self.attribution()))
    }

    /// Checks a whole decision before any of it runs: its validity, the
    /// guardrails (including those read from the env repo's history), and
    /// that the systems its actions need are configured. On a refusal
    /// every action of the decision is recorded as refused.
    pub(super) fn admit(
        &self,
        st: &mut RunState,
        seq: u32,
        decision: &Decision,
    ) -> Result<(), Stop> {
        let refusal =
            match guardrails::check_with(decision, &self.context, &self.guardrails, &self.limits) {
                Err(r) if r.is_guardrail() => Some((r.to_string(), Status::Refused)),
                Err(r) => Some((r.to_string(), Status::PolicyError)),
                Ok(()) => self
                    .missing_system(decision)
                    .map(|m| (m, Status::UsageError)),
            };
        let refusal = match refusal {
            Some(refusal) => Some(refusal),
            None => self
                .check_values(st, decision)?
                .map(|m| (m, Status::PolicyError)),
        };
        let refusal = match refusal {
            Some(refusal) => Some(refusal),
            None => self.check_history(st, seq, decision)?,
        };
        let Some((message, status)) = refusal else {
            return Ok(());
        };
        // An oversized decision is summarised by its message; only the
        // actions within the limit are listed.
        for (i, action) in decision
            .actions
            .iter()
            .enumerate()
            .take(self.limits.max_actions)
        {
            st.record(
                Slot::of(seq, i),
                action,
                ActionStatus::Refused,
                message.clone(),
            );
        }
        Err(Stop::Error(status, message))
    }

    /// The guardrails read from history; exemptions are kept for the
    /// record.
    fn check_history(
        &self,
        st: &mut RunState,
        seq: u32,
        decision: &Decision,
    ) -> Result<Option<(String, Status)>, Stop> {
        let check = HistoryCheck {
            ctx: &self.context,
            guardrails: &self.guardrails,
            operator_target: st
                .operator_target
                .as_ref()
                .map(|(s, v)| (s.as_str(), v.as_str())),
        };
        let mut history = RepoHistory {
            engine: self,
            tip: self.tip()?,
            attribution: self.attribution(),
        };
        match check.check(decision, &mut history) {
            Ok(exemptions) => {
                st.exemptions
                    .extend(exemptions.into_iter().map(|e| (seq, e)));
                Ok(None)
            }
            Err(HistoryError::Refused(r)) => Ok(Some((r.to_string(), Status::Refused))),
            Err(HistoryError::Read(e)) => Err(Stop::external(e)),
        }
    }

    /// The first action that needs a system `baton.yaml` does not configure.
    fn missing_system(&self, decision: &Decision) -> Option<String> {
        decision.actions.iter().enumerate().find_map(|(i, a)| {
            let needs_forge = match a {
                Action::SetVersion(s) => matches!(s.channel, Channel::MergeRequest(_)),
                Action::Rollback(r) => matches!(r.channel, Channel::MergeRequest(_)),
                _ => false,
            };
            if needs_forge && self.systems.forge.is_none() {
                return Some(format!(
                    "action {} ({a}) needs a merge request, but baton.yaml has no forge: section",
                    i + 1
                ));
            }
            let needs_argocd = matches!(a, Action::AwaitHealth(_)) && !self.options.dry_run;
            if needs_argocd && self.systems.argocd.is_none() {
                return Some(format!(
                    "action {} ({a}) needs Argo CD, but baton.yaml has no argocd: section",
                    i + 1
                ));
            }
            None
        })
    }
}

/// Stage histories read from the env repo at the run's tip, attributed
/// like `stage-history` (a rollback merged through a merge request counts).
struct RepoHistory<'a> {
    engine: &'a Engine,
    tip: String,
    attribution: Attribution,
}

impl StageHistory for RepoHistory<'_> {
    fn holds_now(&mut self, stage: &str, version: &str) -> Result<bool, String> {
        let stage = self
            .engine
            .stage(stage)
            .map_err(|s| s.message().to_owned())?;
        // The newest deployment set what the stage holds at the tip: no
        // history needs reading.
        let current = self
            .engine
            .systems
            .repo
            .with(|repo| repo.read_version(&self.tip, &stage.location));
        match current {
            Ok(current) => Ok(current == version),
            Err(ReadError::FileMissing { .. } | ReadError::Field(_)) => Ok(false),
            Err(e) => Err(error_chain(&e)),
        }
    }

    fn held(&mut self, stage: &str, version: &str) -> Result<Held, String> {
        let stage = self
            .engine
            .stage(stage)
            .map_err(|s| s.message().to_owned())?;
        let state = self
            .attribution
            .deployment_state(
                &self.engine.systems.repo,
                &self.tip,
                &stage.name,
                &stage.location,
                version,
            )
            .map_err(|e| error_chain(&e))?;
        Ok(match state {
            DeploymentState::Now => Held::Now,
            DeploymentState::Before => Held::Before,
            DeploymentState::RolledBack => Held::RolledBack,
            DeploymentState::Never => Held::Never,
        })
    }
}
