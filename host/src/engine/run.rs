//! The run loop: events -> policy -> guardrails -> actions -> gates ->
//! follow-up decisions, until the policy stops asking for actions.
//!
//! One command (`promote`, `advance`, `rollback`) becomes a list of events.
//! Each event is decided; the decision is checked as a whole before any of
//! it runs (guardrails, and that the systems it needs are configured), then
//! its actions run in order. `await-health` starts a gate whose counted
//! observations go back to the policy as `health-observed` events: an empty
//! answer keeps waiting, anything else ends the gate and runs next; a
//! timeout becomes a `gate-timeout` event. `hold` ends the event's chain,
//! `fail` ends the run. Everything lands in the [`AuditRecord`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::watch;

use super::audit::{
    ActionRecord, ActionStatus, AuditRecord, ConfigInfo, DecisionRecord, GateRecord, OutcomeRecord,
    PolicyInfo, RepoInfo, SCHEMA, Status,
};
use super::guardrails::{self, Guardrails};
use super::trigger::Trigger;
use super::world::{Clock, LiveStage, LiveWorld};
use crate::capabilities::argocd::ArgoCdClient;
use crate::capabilities::argocd::time::format_rfc3339;
use crate::capabilities::forge::Forge;
use crate::capabilities::forge::content::{CiEnv, TitleTemplates};
use crate::capabilities::git::{CommitSettings, EnvRepo, StageField};
pub(super) use crate::report::error_chain;
use crate::runtime::{Action, Channel, Context, Decision, Event, LoadedPolicy};

/// One stage of the app, resolved from `baton.yaml`.
#[derive(Debug, Clone)]
pub struct EngineStage {
    /// Stage name.
    pub name: String,
    /// Where its version lives in the env repo.
    pub location: StageField,
    /// The Argo CD application deploying it.
    pub argocd_app: String,
}

/// Where gate progress lines go.
pub type Progress = Arc<dyn Fn(&str) + Send + Sync>;

/// Everything a run needs, resolved from `baton.yaml` and the command line.
pub struct Engine {
    /// The application.
    pub app: String,
    /// Its stages in promotion order.
    pub stages: Vec<EngineStage>,
    /// The context every decide call receives.
    pub context: Context,
    /// The loaded policy.
    pub policy: Arc<LoadedPolicy>,
    /// The policy, for the audit record.
    pub policy_info: PolicyInfo,
    /// The configuration, for the audit record.
    pub config_info: ConfigInfo,
    /// The host's guardrails.
    pub guardrails: Guardrails,
    /// The env repo cache (fetched at the start of the run).
    pub repo: Arc<Mutex<EnvRepo>>,
    /// Argo CD, when configured.
    pub argocd: Option<Arc<ArgoCdClient>>,
    /// The forge, when configured.
    pub forge: Option<Arc<dyn Forge>>,
    /// How commits are written.
    pub commit: CommitSettings,
    /// Merge request title templates.
    pub titles: TitleTemplates,
    /// The CI job running Baton (linked from MRs).
    pub ci: CiEnv,
    /// Plan only.
    pub dry_run: bool,
    /// The clock policies read.
    pub clock: Arc<dyn Fn() -> i64 + Send + Sync>,
    /// Minimum interval between gate progress lines.
    pub progress_every: Duration,
    /// Gate progress lines.
    pub progress: Progress,
    /// Flips to `true` when the run must stop (SIGTERM, Ctrl-C).
    pub cancel: watch::Receiver<bool>,
}

/// Why a run stopped early.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Stop {
    /// The policy said fail.
    Failed(String),
    /// Anything else that ends the run: its status and message.
    Error(Status, String),
}

impl Stop {
    pub(super) fn usage(message: impl Into<String>) -> Self {
        Self::Error(Status::UsageError, message.into())
    }
    pub(super) fn policy(message: impl Into<String>) -> Self {
        Self::Error(Status::PolicyError, message.into())
    }
    pub(super) fn external(message: impl Into<String>) -> Self {
        Self::Error(Status::ExternalError, message.into())
    }
    /// The sentence for people.
    pub(super) fn message(&self) -> &str {
        match self {
            Self::Failed(m) | Self::Error(_, m) => m,
        }
    }
}

/// A commit this run pushed for a stage.
#[derive(Debug, Clone)]
pub(super) struct Pushed {
    pub version: String,
    pub commit: String,
    pub at: SystemTime,
}

/// What a run accumulates.
#[derive(Default)]
pub(super) struct RunState {
    pub decisions: Vec<DecisionRecord>,
    pub actions: Vec<ActionRecord>,
    pub gates: Vec<GateRecord>,
    pub pushed: HashMap<String, Pushed>,
    pub rolled_back: bool,
}

/// Where an action sits: decision seq and 1-based index.
#[derive(Debug, Clone, Copy)]
pub(super) struct Slot {
    pub decision: u32,
    pub index: u32,
}

impl Engine {
    /// Runs `trigger` to the end and returns the audit record (the caller
    /// writes it). Never panics on outside failures: they end the run with
    /// the matching status.
    pub async fn run(&self, trigger: &Trigger) -> AuditRecord {
        let started = SystemTime::now();
        let clock = Instant::now();
        let mut st = RunState::default();
        let tip = self.tip().unwrap_or_default();
        // A context the policy's contract version cannot express (a
        // multi-target stage for a 0.1 policy) is a configuration error.
        let checked = self
            .policy
            .check_context(&self.context)
            .map_err(|e| Stop::usage(format!("policy {}: {e}", self.policy_info.source)));
        let result = match checked.and_then(|()| self.events(trigger)) {
            Ok(events) => self.handle_all(&mut st, events).await,
            Err(stop) => Err(stop),
        };
        // The policy's holds, in order, as recorded.
        let holds: Vec<&str> = st
            .actions
            .iter()
            .filter_map(|a| match &a.action {
                Action::Hold(reason) if a.status == ActionStatus::Done => Some(reason.as_str()),
                _ => None,
            })
            .collect();
        let (status, message) = match result {
            Err(Stop::Failed(reason)) => (Status::Failed, reason),
            Err(Stop::Error(status, message)) => (status, message),
            Ok(()) if self.dry_run => (Status::Planned, "planned only (--dry-run)".to_owned()),
            Ok(()) if !holds.is_empty() => (Status::Held, holds.join("; ")),
            Ok(()) if st.actions.is_empty() => (Status::Done, "nothing to do".to_owned()),
            Ok(()) => (Status::Done, "done".to_owned()),
        };
        AuditRecord {
            schema: SCHEMA.into(),
            run_id: self.context.run_id.clone(),
            baton_version: env!("CARGO_PKG_VERSION").into(),
            command: trigger.command(&self.app),
            started_at: format_rfc3339(started),
            finished_at: format_rfc3339(SystemTime::now()),
            duration_ms: u64::try_from(clock.elapsed().as_millis()).unwrap_or(u64::MAX),
            dry_run: self.dry_run,
            policy: self.policy_info.clone(),
            config: self.config_info.clone(),
            env_repo: self.repo_info(tip),
            context: self.context.clone(),
            decisions: st.decisions,
            actions: st.actions,
            gates: st.gates,
            outcome: OutcomeRecord {
                status,
                exit_code: status.exit_code(),
                message,
                rolled_back: st.rolled_back,
            },
        }
    }

    fn repo_info(&self, tip: String) -> RepoInfo {
        let (url, branch) = self
            .repo
            .lock()
            .map(|r| (r.url().to_owned(), r.branch().to_owned()))
            .unwrap_or_default();
        RepoInfo {
            url: strip_credentials(&url),
            branch,
            tip_at_start: tip,
        }
    }

    pub(super) fn lock_repo(&self) -> Result<std::sync::MutexGuard<'_, EnvRepo>, Stop> {
        self.repo.lock().map_err(|_| {
            Stop::Error(
                Status::ExternalError,
                "the env repo lock is poisoned".into(),
            )
        })
    }

    pub(super) fn branch(&self) -> String {
        self.repo
            .lock()
            .map(|r| r.branch().to_owned())
            .unwrap_or_default()
    }

    /// The fetched tip of the tracked branch.
    pub(super) fn tip(&self) -> Result<String, Stop> {
        let repo = self.lock_repo()?;
        let branch = repo.branch().to_owned();
        repo.resolve(&branch)
            .map(|id| id.to_string())
            .map_err(|e| Stop::external(error_chain(&e)))
    }

    pub(super) fn stage(&self, name: &str) -> Result<&EngineStage, Stop> {
        self.stages.iter().find(|s| s.name == name).ok_or_else(|| {
            Stop::usage(format!(
                "app {} has no stage {name:?} (stages: {})",
                self.app,
                self.stage_names()
            ))
        })
    }

    pub(super) fn stage_names(&self) -> String {
        self.stages
            .iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }

    async fn handle_all(&self, st: &mut RunState, events: Vec<Event>) -> Result<(), Stop> {
        for event in events {
            self.handle(st, event).await?;
        }
        Ok(())
    }

    /// One event's chain: decide, check, run the actions; a gate's decision
    /// runs before the rest of the decision that started it.
    async fn handle(&self, st: &mut RunState, event: Event) -> Result<(), Stop> {
        let (seq, decision) = self.decide(st, event)?;
        self.admit(st, seq, &decision)?;
        let mut stack = vec![(seq, decision.actions.into_iter().enumerate())];
        while let Some((seq, actions)) = stack.last_mut() {
            let seq = *seq;
            let Some((i, action)) = actions.next() else {
                stack.pop();
                continue;
            };
            let slot = Slot {
                decision: seq,
                index: u32::try_from(i + 1).unwrap_or(u32::MAX),
            };
            let ended = match &action {
                Action::Hold(reason) => {
                    self.record(st, slot, &action, ActionStatus::Done, reason.clone());
                    Some(Ok(()))
                }
                Action::Fail(reason) => {
                    self.record(st, slot, &action, ActionStatus::Done, reason.clone());
                    Some(Err(Stop::Failed(reason.clone())))
                }
                Action::SetVersion(set) => {
                    let write = super::execute::Write {
                        stage: &set.stage,
                        version: &set.version,
                        channel: &set.channel,
                        reason: &set.reason,
                        rollback_of: None,
                    };
                    self.write(st, slot, &action, &write).await.err().map(Err)
                }
                Action::Rollback(rollback) => {
                    let write = super::execute::Write {
                        stage: &rollback.stage,
                        version: &rollback.to_version,
                        channel: &rollback.channel,
                        reason: &rollback.reason,
                        rollback_of: Some(&rollback.rollback_of),
                    };
                    self.write(st, slot, &action, &write).await.err().map(Err)
                }
                Action::AwaitHealth(wait) => {
                    if self.dry_run {
                        let detail = format!(
                            "would wait up to {} for {} to be healthy at {}; the plan ends here",
                            human_ms(self.gate_timeout(wait).as_millis()),
                            self.stage(&wait.stage)?.argocd_app,
                            wait.version
                        );
                        self.record(st, slot, &action, ActionStatus::Planned, detail);
                        Some(Ok(()))
                    } else {
                        match self.gate(st, slot, &action, wait).await {
                            Ok(Some((next_seq, next))) => {
                                self.admit(st, next_seq, &next)?;
                                stack.push((next_seq, next.actions.into_iter().enumerate()));
                                None
                            }
                            Ok(None) => None,
                            Err(stop) => Some(Err(stop)),
                        }
                    }
                }
            };
            if let Some(end) = ended {
                // Whatever is left of every open decision is not run.
                for (seq, rest) in stack.iter_mut().rev() {
                    for (i, action) in rest {
                        let slot = Slot {
                            decision: *seq,
                            index: u32::try_from(i + 1).unwrap_or(u32::MAX),
                        };
                        self.record(
                            st,
                            slot,
                            &action,
                            ActionStatus::Skipped,
                            "not run: an earlier action ended the run".into(),
                        );
                    }
                }
                return end;
            }
        }
        Ok(())
    }

    /// Calls the policy and records the call.
    pub(super) fn decide(&self, st: &mut RunState, event: Event) -> Result<(u32, Decision), Stop> {
        let world = self.live_world()?;
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

    fn live_world(&self) -> Result<LiveWorld, Stop> {
        let tip = self.tip()?;
        let stages = self
            .stages
            .iter()
            .map(|s| LiveStage {
                name: s.name.clone(),
                field: s.location.clone(),
            })
            .collect();
        let clock = self.clock.clone();
        let clock: Clock = Box::new(move || clock());
        let handle = tokio::runtime::Handle::current();
        let mut world = LiveWorld::new(self.repo.clone(), tip, stages, clock);
        if let Some(argocd) = &self.argocd {
            world = world.with_argocd(argocd.clone(), handle.clone());
        }
        if let Some(forge) = &self.forge {
            world = world.with_forge(forge.clone(), handle);
        }
        Ok(world)
    }

    /// Checks a whole decision before any of it runs: guardrails, and that
    /// the systems its actions need are configured.
    fn admit(&self, st: &mut RunState, seq: u32, decision: &Decision) -> Result<(), Stop> {
        let refusal = guardrails::check(decision, &self.context, &self.guardrails)
            .map_err(|r| {
                let status = if r.is_guardrail() {
                    Status::Refused
                } else {
                    Status::PolicyError
                };
                (r.to_string(), status)
            })
            .err()
            .or_else(|| {
                self.missing_system(decision)
                    .map(|m| (m, Status::UsageError))
            });
        let Some((message, status)) = refusal else {
            return Ok(());
        };
        for (i, action) in decision.actions.iter().enumerate() {
            let slot = Slot {
                decision: seq,
                index: u32::try_from(i + 1).unwrap_or(u32::MAX),
            };
            self.record(st, slot, action, ActionStatus::Refused, message.clone());
        }
        Err(Stop::Error(status, message))
    }

    fn missing_system(&self, decision: &Decision) -> Option<String> {
        decision.actions.iter().enumerate().find_map(|(i, a)| {
            let needs_forge = match a {
                Action::SetVersion(s) => matches!(s.channel, Channel::MergeRequest(_)),
                Action::Rollback(r) => matches!(r.channel, Channel::MergeRequest(_)),
                _ => false,
            };
            if needs_forge && self.forge.is_none() {
                return Some(format!(
                    "action {} ({a}) needs a merge request, but baton.yaml has no forge: section",
                    i + 1
                ));
            }
            if matches!(a, Action::AwaitHealth(_)) && self.argocd.is_none() && !self.dry_run {
                return Some(format!(
                    "action {} ({a}) needs Argo CD, but baton.yaml has no argocd: section",
                    i + 1
                ));
            }
            None
        })
    }

    pub(super) fn record(
        &self,
        st: &mut RunState,
        slot: Slot,
        action: &Action,
        status: ActionStatus,
        detail: String,
    ) {
        st.actions.push(ActionRecord {
            decision: slot.decision,
            index: slot.index,
            action: action.clone(),
            status,
            previous: None,
            commit: None,
            branch: None,
            merge_request: None,
            detail,
        });
    }
}

/// Milliseconds, saturating.
pub(super) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// `90s`, `10m`, `1h30m`.
pub(super) fn human_ms(ms: u128) -> String {
    let secs = ms / 1000;
    match (secs / 3600, secs % 3600 / 60, secs % 60) {
        (0, 0, s) if secs > 0 || ms.is_multiple_of(1000) => format!("{s}s"),
        (0, 0, _) => format!("{ms}ms"),
        (0, m, 0) => format!("{m}m"),
        (0, m, s) => format!("{m}m{s}s"),
        (h, 0, 0) => format!("{h}h"),
        (h, m, _) => format!("{h}h{m}m"),
    }
}

/// `https://user:pass@host/x` -> `https://host/x`.
pub(super) fn strip_credentials(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if !u.username().is_empty() || u.password().is_some() => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.to_string()
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_config() {
        assert_eq!(human_ms(90_000), "1m30s");
        assert_eq!(human_ms(600_000), "10m");
        assert_eq!(human_ms(5_400_000), "1h30m");
        assert_eq!(human_ms(2_000), "2s");
        assert_eq!(human_ms(250), "250ms");
    }

    #[test]
    fn credentials_never_reach_the_record() {
        assert_eq!(
            strip_credentials("https://oauth2:glpat-xyz@gitlab.example.com/acme/env.git"),
            "https://gitlab.example.com/acme/env.git"
        );
        assert_eq!(strip_credentials("/srv/env.git"), "/srv/env.git");
    }
}
