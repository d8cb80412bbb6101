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
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::watch;

use super::audit::{
    ActionRecord, ActionStatus, AuditRecord, CommandInfo, ConfigInfo, DecisionRecord, GateRecord,
    GateResult, OutcomeRecord, PolicyInfo, RepoInfo, SCHEMA, Status,
};
use super::gate::{self, GateOutcome, GateSpec, ProgressSink, Verdict};
use super::guardrails::{self, Guardrails};
use super::world::{self, Clock, LiveStage, LiveWorld};
use crate::capabilities::argocd::time::format_rfc3339;
use crate::capabilities::argocd::{AppRef, ArgoCdClient};
use crate::capabilities::forge::Forge;
use crate::capabilities::forge::content::{CiEnv, TitleTemplates};
use crate::capabilities::git::{CommitSettings, EnvRepo, ROLLBACK_OF, StageField};
use crate::runtime::{
    Action, AwaitHealth, Channel, Context, Decision, Event, GateTimeout, HealthObserved,
    LoadedPolicy, NewVersion, RollbackRequested, StageChanged,
};

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

/// What started the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    /// `baton promote --tag`.
    Promote {
        /// The version.
        tag: String,
    },
    /// `baton advance [--since]`.
    Advance {
        /// Compare against this revision (default: see [`Engine::events`]).
        since: Option<String>,
    },
    /// `baton rollback --stage [--to]`.
    Rollback {
        /// The stage.
        stage: String,
        /// The target; the policy chooses when absent.
        to: Option<String>,
        /// Why.
        reason: String,
    },
}

impl Trigger {
    /// The command name and its arguments, for the audit record.
    pub fn command(&self, app: &str) -> CommandInfo {
        let mut args = serde_json::Map::new();
        let name = match self {
            Self::Promote { tag } => {
                args.insert("tag".into(), tag.clone().into());
                "promote"
            }
            Self::Advance { since } => {
                args.insert("since".into(), since.clone().into());
                "advance"
            }
            Self::Rollback { stage, to, reason } => {
                args.insert("stage".into(), stage.clone().into());
                args.insert("to".into(), to.clone().into());
                args.insert("reason".into(), reason.clone().into());
                "rollback"
            }
        };
        CommandInfo {
            name: name.into(),
            app: app.into(),
            args,
        }
    }
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
    pub holds: Vec<String>,
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
        let result = match self.events(trigger) {
            Ok(events) => self.handle_all(&mut st, events).await,
            Err(stop) => Err(stop),
        };
        let (status, message) = match result {
            Err(Stop::Failed(reason)) => (Status::Failed, reason),
            Err(Stop::Error(status, message)) => (status, message),
            Ok(()) if self.dry_run => (Status::Planned, "planned only (--dry-run)".to_owned()),
            Ok(()) if !st.holds.is_empty() => (Status::Held, st.holds.join("; ")),
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

    fn branch(&self) -> String {
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

    fn stage_names(&self) -> String {
        self.stages
            .iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The events a trigger sends to the policy.
    ///
    /// For `advance`, the stages that changed between `since` and the branch
    /// tip. `since` defaults to `CI_COMMIT_BEFORE_SHA` when it names a
    /// commit of the repository (GitLab sets it to zeros for a new branch),
    /// else to the tip's first parent.
    pub(super) fn events(&self, trigger: &Trigger) -> Result<Vec<Event>, Stop> {
        match trigger {
            Trigger::Promote { tag } => {
                check_version(tag)?;
                Ok(vec![Event::NewVersion(NewVersion {
                    version: tag.clone(),
                })])
            }
            Trigger::Rollback { stage, to, reason } => {
                self.stage(stage)?;
                if let Some(v) = to {
                    check_version(v)?;
                }
                Ok(vec![Event::RollbackRequested(RollbackRequested {
                    stage: stage.clone(),
                    to_version: to.clone(),
                    reason: reason.clone(),
                })])
            }
            Trigger::Advance { since } => self.advance_events(since.as_deref()),
        }
    }

    fn advance_events(&self, since: Option<&str>) -> Result<Vec<Event>, Stop> {
        let tip = self.tip()?;
        let mut repo = self.lock_repo()?;
        let since = match since {
            Some(s) => s.to_owned(),
            None => {
                let before = std::env::var("CI_COMMIT_BEFORE_SHA")
                    .ok()
                    .filter(|s| !s.is_empty() && s.chars().any(|c| c != '0'))
                    .filter(|s| repo.resolve(s).is_ok());
                match before {
                    Some(b) => b,
                    None => match repo.resolve(&format!("{tip}~1")) {
                        Ok(parent) => parent.to_string(),
                        Err(_) => {
                            tracing::info!("{tip} has no parent: nothing to compare against");
                            return Ok(Vec::new());
                        }
                    },
                }
            }
        };
        let fields: Vec<StageField> = self.stages.iter().map(|s| s.location.clone()).collect();
        let changes = repo
            .changed_stages(&since, &tip, &fields)
            .map_err(|e| match e {
                crate::capabilities::git::ReadError::Revision { .. } => Stop::usage(format!(
                    "--since: {}; give a commit of the env repo",
                    error_chain(&e)
                )),
                _ => Stop::external(error_chain(&e)),
            })?;
        let mut events = Vec::new();
        for change in changes {
            let stage = &self.stages[change.index];
            let Some(to) = change.to else {
                tracing::warn!("{}: the version field was removed; not gating", stage.name);
                continue;
            };
            let last = repo
                .history(&tip, &stage.location, Some(1))
                .map_err(|e| Stop::external(error_chain(&e)))?;
            let (commit, is_rollback) = match last.first() {
                Some(entry) => (entry.commit.clone(), entry.trailer(ROLLBACK_OF).is_some()),
                None => (tip.clone(), false),
            };
            events.push(Event::StageChanged(StageChanged {
                stage: stage.name.clone(),
                from_version: change.from,
                to_version: to,
                commit,
                is_rollback,
            }));
        }
        Ok(events)
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
                    st.holds.push(reason.clone());
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

    fn gate_timeout(&self, wait: &AwaitHealth) -> Duration {
        Duration::from_millis(wait.timeout).min(self.guardrails.max_health_wait)
    }

    /// The commit that brought `stage` to `version`: the one this run
    /// pushed, else the newest commit on the branch that set it.
    fn gate_commit(
        &self,
        st: &RunState,
        stage: &EngineStage,
        version: &str,
    ) -> Result<(String, SystemTime), Stop> {
        if let Some(p) = st.pushed.get(&stage.name).filter(|p| p.version == version) {
            return Ok((p.commit.clone(), p.at));
        }
        let tip = self.tip()?;
        let history = tokio::task::block_in_place(|| {
            self.lock_repo()?
                .history(&tip, &stage.location, Some(1))
                .map_err(|e| Stop::external(error_chain(&e)))
        })?;
        match history.first() {
            Some(entry) if entry.new.as_deref() == Some(version) => Ok((
                entry.commit.clone(),
                UNIX_EPOCH + Duration::from_secs(u64::try_from(entry.time).unwrap_or(0)),
            )),
            other => Err(Stop::policy(format!(
                "await-health {} {version}: the env repo's {} has {} for {}, so there is nothing \
                 to gate (is its merge request still open?)",
                stage.name,
                self.branch(),
                other
                    .and_then(|e| e.new.clone())
                    .unwrap_or_else(|| "no version".into()),
                stage.name
            ))),
        }
    }

    /// Runs one health gate; returns the decision that ended it, if any
    /// remains to run.
    async fn gate(
        &self,
        st: &mut RunState,
        slot: Slot,
        action: &Action,
        wait: &AwaitHealth,
    ) -> Result<Option<(u32, Decision)>, Stop> {
        let stage = self.stage(&wait.stage)?.clone();
        let Some(client) = self.argocd.clone() else {
            return Err(Stop::usage("await-health needs an argocd: section"));
        };
        let (commit, pushed_at) = self.gate_commit(st, &stage, &wait.version)?;
        let timeout = self.gate_timeout(wait);
        let spec = GateSpec {
            label: stage.argocd_app.clone(),
            expected_commit: commit.clone(),
            pushed_at,
            max_wait: timeout,
            progress_every: self.progress_every,
        };
        // One read first (with the client's retries): an Argo CD that never
        // answers, or an app it does not know, fails the run now instead of
        // waiting out the whole gate.
        if let Err(e) = client
            .get_application(&AppRef::named(&stage.argocd_app), false)
            .await
        {
            let message = format!("health gate for {}: {}", stage.name, error_chain(&e));
            st.gates.push(GateRecord {
                decision: slot.decision,
                stage: stage.name.clone(),
                argocd_app: stage.argocd_app.clone(),
                version: wait.version.clone(),
                commit,
                timeout_ms: millis(timeout),
                result: GateResult::Error,
                elapsed_ms: 0,
                observations: 0,
                last: None,
            });
            self.record(st, slot, action, ActionStatus::Failed, message.clone());
            return Err(Stop::external(message));
        }
        let mut source = client.watch(AppRef::named(&stage.argocd_app));
        let repo = self.repo.clone();
        let mut observations = 0u32;
        let mut sink = ProgressFn(self.progress.clone());
        let mut cancel = self.cancel.clone();
        let started = Instant::now();
        let outcome = {
            let st = &mut *st;
            let observations = &mut observations;
            let gate = gate::wait_for_health(
                &mut source,
                &spec,
                |rev| contains(&repo, rev, &commit),
                |obs| {
                    *observations += 1;
                    let event = Event::HealthObserved(HealthObserved {
                        stage: stage.name.clone(),
                        version: wait.version.clone(),
                        commit: commit.clone(),
                        elapsed: millis(obs.elapsed),
                        status: world::app_status(&obs.status),
                    });
                    match self.decide(st, event) {
                        Ok((_, d)) if d.actions.is_empty() => Verdict::KeepWaiting,
                        other => Verdict::Done(other),
                    }
                },
                &mut sink,
            );
            tokio::select! {
                r = gate => Some(r),
                () = cancelled(&mut cancel) => None,
            }
        };
        let mut record = GateRecord {
            decision: slot.decision,
            stage: stage.name.clone(),
            argocd_app: stage.argocd_app.clone(),
            version: wait.version.clone(),
            commit: commit.clone(),
            timeout_ms: millis(timeout),
            result: GateResult::Decided,
            elapsed_ms: millis(started.elapsed()),
            observations,
            last: None,
        };
        let (result, next) = match outcome {
            None => {
                record.result = GateResult::Cancelled;
                st.gates.push(record);
                self.record(
                    st,
                    slot,
                    action,
                    ActionStatus::Failed,
                    "cancelled while waiting".into(),
                );
                return Err(Stop::Error(
                    Status::Cancelled,
                    format!(
                        "cancelled while waiting for {}; run the same command again to continue",
                        stage.argocd_app
                    ),
                ));
            }
            Some(Err(e)) => {
                record.result = GateResult::Error;
                st.gates.push(record);
                let message = error_chain(&e);
                self.record(st, slot, action, ActionStatus::Failed, message.clone());
                return Err(Stop::external(message));
            }
            Some(Ok(GateOutcome::Decided { value, last })) => {
                record.last = Some(world::app_status(&last.status));
                let detail = format!(
                    "{} observed after {}s: {} / {}",
                    stage.argocd_app,
                    last.elapsed.as_secs(),
                    last.status.health.status,
                    last.status.sync.status
                );
                (detail, value.map(Some))
            }
            Some(Ok(GateOutcome::TimedOut { waited, last })) => {
                record.result = GateResult::TimedOut;
                record.last = last.as_ref().map(|l| world::app_status(&l.status));
                let event = Event::GateTimeout(GateTimeout {
                    stage: stage.name.clone(),
                    version: wait.version.clone(),
                    commit: commit.clone(),
                    elapsed: millis(waited),
                    last_status: record.last.clone(),
                });
                let detail = format!(
                    "{} not decided within {}",
                    stage.argocd_app,
                    human_ms(timeout.as_millis())
                );
                let next = match self.decide(st, event) {
                    Ok((_, d)) if d.actions.is_empty() => Err(Stop::Failed(format!(
                        "{} was not healthy at {} within {} (the policy decided nothing on the timeout)",
                        stage.name,
                        wait.version,
                        human_ms(timeout.as_millis())
                    ))),
                    other => other.map(Some),
                };
                (detail, next)
            }
        };
        st.gates.push(record);
        self.record(st, slot, action, ActionStatus::Done, result);
        next
    }
}

/// Gate progress through the engine's progress function.
struct ProgressFn(Progress);

impl ProgressSink for ProgressFn {
    fn line(&mut self, line: &str) {
        (self.0)(line);
    }
}

async fn cancelled(cancel: &mut watch::Receiver<bool>) {
    if cancel.wait_for(|c| *c).await.is_err() {
        // The sender is gone: nobody can cancel any more.
        std::future::pending::<()>().await;
    }
}

/// Does `rev` contain `commit` (is `commit` an ancestor of or equal to it)?
/// A revision the cache does not have yet is fetched once.
fn contains(repo: &Arc<Mutex<EnvRepo>>, rev: &str, commit: &str) -> bool {
    tokio::task::block_in_place(|| {
        let Ok(mut repo) = repo.lock() else {
            return false;
        };
        match repo.is_ancestor(commit, rev) {
            Some(answer) => answer,
            None => repo.refresh().is_ok() && repo.is_ancestor(commit, rev).unwrap_or(false),
        }
    })
}

/// Milliseconds, saturating.
pub(super) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// `90s`, `10m`, `1h30m`.
pub(super) fn human_ms(ms: u128) -> String {
    let secs = ms / 1000;
    match (secs / 3600, secs % 3600 / 60, secs % 60) {
        (0, 0, s) if ms % 1000 == 0 || secs > 0 => format!("{s}s"),
        (0, 0, _) => format!("{ms}ms"),
        (0, m, 0) => format!("{m}m"),
        (0, m, s) => format!("{m}m{s}s"),
        (h, 0, 0) => format!("{h}h"),
        (h, m, _) => format!("{h}h{m}m"),
    }
}

/// A version must be usable in a branch name and a commit subject.
fn check_version(version: &str) -> Result<(), Stop> {
    let bad = version.is_empty()
        || version.len() > 128
        || version.starts_with(['-', '.', '/'])
        || version.ends_with(['.', '/'])
        || version.ends_with(".lock")
        || version.contains("..")
        || version.contains("//")
        || version.contains("@{")
        || version
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || "~^:?*[\\\"'".contains(c));
    if bad {
        return Err(Stop::usage(format!(
            "{version:?} is not a usable version: it must be a git ref component \
             (no spaces, quotes, `..`, `~^:?*[\\`), e.g. v1.2.3"
        )));
    }
    Ok(())
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

/// An error and its causes on one line.
pub(super) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_must_be_ref_safe() {
        for good in ["v1.2.3", "1.0.0-rc.1", "release/2024.1", "v1+build.5"] {
            assert!(check_version(good).is_ok(), "{good}");
        }
        for bad in [
            "", "v1 2", "v1..2", "-v1", "v1.lock", "v1~1", "a:b", "v1\n", "x/", "\"v1\"",
        ] {
            assert!(check_version(bad).is_err(), "{bad:?}");
        }
    }

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
