//! The run loop: events -> policy -> guardrails -> actions -> gates ->
//! follow-up decisions, until the policy stops asking for actions.
//!
//! One command (`promote`, `advance`, `reconcile`, `rollback`) becomes a list of events
//! ([`super::trigger`]). Each event is decided and admitted whole
//! ([`super::decide`]), then its actions run in order ([`super::execute`]
//! for writes, [`super::await_health`] for gates). A gate's counted
//! observations go back to the policy: an empty answer keeps waiting,
//! anything else ends the gate and runs next; a timeout becomes a
//! `gate-timeout` event. `hold` ends the event's chain, `fail` ends the run.
//! Everything lands in the [`AuditRecord`].

use std::time::{Instant, SystemTime};

use super::audit::{
    ActionStatus, AuditRecord, CiInfo, CommandInfo, ConfigInfo, GuardrailNote, OutcomeRecord,
    PolicyInfo, RepoInfo, SCHEMA, Status,
};
use super::execute::Write;
use super::state::{Engine, RunState, Slot, Stop, human_ms, strip_credentials};
use super::trigger::Trigger;
use crate::runtime::{Action, Context, Decision};
use crate::time::format_rfc3339_millis;

/// The actions of one decision still to run, with their decision's seq.
type Pending = (u32, std::iter::Enumerate<std::vec::IntoIter<Action>>);

/// What running one action leads to.
enum Next {
    /// Go on with the next action.
    Continue,
    /// A gate's decision: run it before the rest of the current one.
    Decision(u32, Decision),
    /// The run ends here (`Ok` for a hold).
    End(Result<(), Stop>),
}

impl Engine {
    /// Runs `trigger` to the end and returns the audit record (the caller
    /// writes it). Never panics on outside failures: they end the run with
    /// the matching status.
    pub async fn run(&self, trigger: &Trigger) -> AuditRecord {
        let started = SystemTime::now();
        let clock = Instant::now();
        let mut st = RunState::default();
        if let Trigger::Rollback {
            stage,
            to: Some(to),
            ..
        } = trigger
        {
            st.operator_target = Some((stage.clone(), to.clone()));
        }
        let tip = self.tip().unwrap_or_default();
        // A context the policy's contract version cannot express (a
        // multi-target stage for a 0.1 policy) is a configuration error.
        let checked = self
            .policy
            .check_context(&self.context)
            .map_err(|e| Stop::usage(format!("policy {}: {e}", self.policy_info.source)));
        let result = match checked.and_then(|()| self.events(trigger)) {
            Ok(events) => match self.check_arrivals(&mut st, events).await {
                Ok(events) => self.handle_all(&mut st, events).await,
                Err(stop) => Err(stop),
            },
            Err(stop) => Err(stop),
        };
        let (status, message) = self.outcome(&st, result);
        // A run cancelled mid-request ends with that request's error: it is
        // still a cancelled run, which re-running continues.
        let (status, message) = if crate::retry::cancelled()
            && matches!(
                status,
                Status::ExternalError | Status::Failed | Status::PolicyError
            ) {
            (
                Status::Cancelled,
                format!("cancelled ({message}); run the same command again to continue"),
            )
        } else {
            (status, message)
        };
        attach_exemptions(&mut st);
        let header = Header {
            command: trigger.command(&self.app),
            started,
            clock,
            dry_run: self.options.dry_run,
            policy: self.policy_info.clone(),
            config: self.config_info.clone(),
            env_repo: RepoInfo {
                url: strip_credentials(&self.systems.repo.url()),
                branch: self.systems.repo.branch(),
                tip_at_start: tip,
            },
            context: self.context.clone(),
            commit_author: Some(format!(
                "{} <{}>",
                self.commit.identity.name, self.commit.identity.email
            )),
        };
        header.record(st, status, message)
    }

    /// How the run ended: a stop, a plan, the policy's holds in order, or
    /// done.
    fn outcome(&self, st: &RunState, result: Result<(), Stop>) -> (Status, String) {
        let holds: Vec<&str> = st
            .actions
            .iter()
            .filter_map(|a| match &a.action {
                Action::Hold(reason) if a.status == ActionStatus::Done => Some(reason.as_str()),
                _ => None,
            })
            .collect();
        match result {
            Err(Stop::Failed(reason)) => (Status::Failed, reason),
            Err(Stop::Error(status, message)) => (status, message),
            Ok(()) if self.options.dry_run => {
                (Status::Planned, "planned only (--dry-run)".to_owned())
            }
            Ok(()) if !holds.is_empty() => (Status::Held, holds.join("; ")),
            Ok(()) if st.actions.is_empty() => (Status::Done, "nothing to do".to_owned()),
            Ok(()) => (Status::Done, "done".to_owned()),
        }
    }

    async fn handle_all(
        &self,
        st: &mut RunState,
        events: Vec<crate::runtime::Event>,
    ) -> Result<(), Stop> {
        for event in events {
            self.handle(st, event).await?;
        }
        Ok(())
    }

    /// One event's chain: decide, admit, run the actions; a gate's decision
    /// runs before the rest of the decision that started it.
    async fn handle(&self, st: &mut RunState, event: crate::runtime::Event) -> Result<(), Stop> {
        let (seq, decision) = self.decide(st, event)?;
        self.admit(st, seq, &decision)?;
        self.preflight(st, seq, &decision).await?;
        let mut stack: Vec<Pending> = vec![(seq, decision.actions.into_iter().enumerate())];
        while let Some((seq, actions)) = stack.last_mut() {
            let seq = *seq;
            let Some((i, action)) = actions.next() else {
                stack.pop();
                continue;
            };
            if crate::retry::cancelled() {
                st.record(
                    Slot::of(seq, i),
                    &action,
                    ActionStatus::Skipped,
                    "not run: the run was cancelled".into(),
                );
                skip_rest(st, &mut stack);
                return Err(Stop::Error(
                    Status::Cancelled,
                    "cancelled; run the same command again to continue".into(),
                ));
            }
            match self.run_action(st, Slot::of(seq, i), &action).await? {
                Next::Continue => {}
                Next::Decision(next_seq, next) => {
                    self.admit(st, next_seq, &next)?;
                    self.preflight(st, next_seq, &next).await?;
                    stack.push((next_seq, next.actions.into_iter().enumerate()));
                }
                Next::End(end) => {
                    skip_rest(st, &mut stack);
                    return end;
                }
            }
        }
        Ok(())
    }

    /// Runs one action. An `Err` is a stop before the action could be
    /// recorded (an unknown stage); every other ending is a [`Next::End`].
    async fn run_action(
        &self,
        st: &mut RunState,
        slot: Slot,
        action: &Action,
    ) -> Result<Next, Stop> {
        let write = match action {
            Action::Hold(reason) => {
                // A plan's hold is where the plan stops, not something done.
                let status = if self.options.dry_run {
                    ActionStatus::Planned
                } else {
                    ActionStatus::Done
                };
                st.record(slot, action, status, reason.clone());
                return Ok(Next::End(Ok(())));
            }
            Action::Fail(reason) => {
                st.record(slot, action, ActionStatus::Done, reason.clone());
                return Ok(Next::End(Err(Stop::Failed(reason.clone()))));
            }
            Action::AwaitHealth(wait) if self.options.dry_run => {
                let detail = format!(
                    "would wait up to {} for {} to be healthy at {}; the plan ends here",
                    human_ms(self.gate_timeout(wait).as_millis()),
                    self.stage(&wait.stage)?.argocd_apps().join(", "),
                    wait.version
                );
                st.record(slot, action, ActionStatus::Planned, detail);
                if let (Some(note), Some(record)) = (self.gate_cap(wait), st.actions.last_mut()) {
                    record.guardrails.push(note);
                }
                return Ok(Next::End(Ok(())));
            }
            Action::AwaitHealth(wait) => {
                return Ok(match self.gate(st, slot, action, wait).await {
                    Ok(Some((seq, next))) => Next::Decision(seq, next),
                    Ok(None) => Next::Continue,
                    Err(stop) => Next::End(Err(stop)),
                });
            }
            Action::SetVersion(set) => Write {
                stage: &set.stage,
                version: &set.version,
                channel: &set.channel,
                reason: &set.reason,
                rollback_of: None,
            },
            Action::Rollback(rollback) => Write {
                stage: &rollback.stage,
                version: &rollback.to_version,
                channel: &rollback.channel,
                reason: &rollback.reason,
                rollback_of: Some(&rollback.rollback_of),
            },
        };
        Ok(match self.write(st, slot, action, &write).await {
            Ok(()) => Next::Continue,
            Err(stop) => Next::End(Err(stop)),
        })
    }
}

/// What a record says about its run besides what the run did; a run that
/// could not open its systems has nothing else to say.
pub(super) struct Header {
    pub command: CommandInfo,
    pub started: SystemTime,
    pub clock: Instant,
    pub dry_run: bool,
    pub policy: PolicyInfo,
    pub config: ConfigInfo,
    pub env_repo: RepoInfo,
    pub context: Context,
    pub commit_author: Option<String>,
}

impl Header {
    /// The audit record of a run that ended with `status` and `message`
    /// after doing what `st` holds.
    pub(super) fn record(self, st: RunState, status: Status, message: String) -> AuditRecord {
        AuditRecord {
            schema: SCHEMA.into(),
            run_id: self.context.run_id.clone(),
            baton_version: env!("CARGO_PKG_VERSION").into(),
            command: self.command,
            started_at: format_rfc3339_millis(self.started),
            finished_at: format_rfc3339_millis(SystemTime::now()),
            duration_ms: u64::try_from(self.clock.elapsed().as_millis()).unwrap_or(u64::MAX),
            dry_run: self.dry_run,
            policy: self.policy,
            config: self.config,
            env_repo: self.env_repo,
            context: self.context,
            decisions: st.decisions,
            actions: st.actions,
            gates: st.gates,
            outcome: OutcomeRecord {
                status,
                exit_code: status.exit_kind().code(),
                message,
                rolled_back: st.rolled_back,
            },
            ci: CiInfo::detect(|k| std::env::var(k).ok()),
            commit_author: self.commit_author,
            arrivals: st.arrivals,
            merge_requests: st.merge_requests,
            integrity: None,
        }
    }
}

/// Records whatever is left of every open decision as not run.
fn skip_rest(st: &mut RunState, stack: &mut [Pending]) {
    for (seq, rest) in stack.iter_mut().rev() {
        for (i, action) in rest {
            st.record(
                Slot::of(*seq, i),
                &action,
                ActionStatus::Skipped,
                "not run: an earlier action ended the run".into(),
            );
        }
    }
}

/// Each exemption goes to the record of the action it let through.
fn attach_exemptions(st: &mut RunState) {
    for (seq, exemption) in std::mem::take(&mut st.exemptions) {
        let index = u32::try_from(exemption.index).unwrap_or(u32::MAX);
        if let Some(record) = st
            .actions
            .iter_mut()
            .find(|a| a.decision == seq && a.index == index)
        {
            record.guardrails.push(GuardrailNote {
                rule: exemption.rule.to_owned(),
                effect: "exempt".to_owned(),
                detail: exemption.detail,
            });
        }
    }
}
