//! `await-health`: the gate as the engine runs it. Which commit to wait
//! for, the guardrail's cap on the wait, one read of every target's Argo CD
//! application before watching them all (one merged source), every
//! counted observation handed to the policy as *health observed* with each
//! target's latest counted observation (an empty answer keeps waiting), a
//! timeout handed over as *gate timeout*, and a cancelled run recorded as
//! such. The policy decides when the targets together pass.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::watch;

use super::audit::{ActionStatus, GateRecord, GateResult, GuardrailNote, Status};
use super::gate::{self, GateError, GateOutcome, GateSpec, ProgressSink, Verdict};
use super::repo::SharedRepo;
use super::state::{Engine, Progress, RunState, Slot, Stop, human_ms, millis};
use super::world;
use crate::capabilities::argocd::{AppRef, ArgoCdClient};
use crate::config::StageConfig;
use crate::report::error_chain;
use crate::retry::Deadline;
use crate::runtime::{
    Action, AppStatus, AwaitHealth, Decision, Event, GateTimeout, HealthObserved, TargetStatus,
};

/// A gate's answer for the run loop: the decision that ended it, if any.
type Decided = Result<Option<(u32, Decision)>, Stop>;

/// How a watch ended: `None` when the run was cancelled.
type Watched = Option<Result<GateOutcome<Result<(u32, Decision), Stop>>, GateError>>;

/// One gate in progress: what it waits for and its record.
struct Gate<'a> {
    slot: Slot,
    action: &'a Action,
    wait: &'a AwaitHealth,
    stage: StageConfig,
    timeout: Duration,
    record: GateRecord,
}

impl Engine {
    /// The wait a gate really gets: the policy's timeout capped by the
    /// guardrail.
    pub(super) fn gate_timeout(&self, wait: &AwaitHealth) -> Duration {
        Duration::from_millis(wait.timeout).min(self.guardrails.max_health_wait)
    }

    /// The commit that brought `stage` to `version`: the one this run
    /// pushed, else the newest commit on the branch that set it.
    fn gate_commit(
        &self,
        st: &RunState,
        stage: &StageConfig,
        version: &str,
    ) -> Result<(String, SystemTime), Stop> {
        if let Some(p) = st.pushed.get(&stage.name).filter(|p| p.version == version) {
            return Ok((p.commit.clone(), p.at));
        }
        let tip = self.tip()?;
        let history = self.systems.repo.with(|repo| {
            repo.history(&tip, &stage.location, Some(1))
                .map_err(|e| Stop::caused(Status::ExternalError, &e))
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
                self.systems.repo.branch(),
                other
                    .and_then(|e| e.new.clone())
                    .unwrap_or_else(|| "no version".into()),
                stage.name
            ))),
        }
    }

    /// The guardrail's note when it caps the wait the policy asked for.
    pub(super) fn gate_cap(&self, wait: &AwaitHealth) -> Option<GuardrailNote> {
        let applied = self.gate_timeout(wait);
        (u128::from(wait.timeout) > applied.as_millis()).then(|| GuardrailNote {
            rule: "max_health_wait".into(),
            effect: "capped".into(),
            detail: format!(
                "the policy asked to wait up to {}; guardrails.max_health_wait allows {}",
                human_ms(u128::from(wait.timeout)),
                human_ms(applied.as_millis())
            ),
        })
    }

    /// Runs one health gate; returns the decision that ended it, if any
    /// remains to run. A wait the guardrail capped is noted on the gate's
    /// action and its record.
    pub(super) async fn gate(
        &self,
        st: &mut RunState,
        slot: Slot,
        action: &Action,
        wait: &AwaitHealth,
    ) -> Decided {
        let decided = self.run_gate(st, slot, action, wait).await;
        if let Some(note) = self.gate_cap(wait)
            && let Some(record) = st
                .actions
                .iter_mut()
                .rev()
                .find(|a| a.decision == slot.decision && a.index == slot.index)
        {
            record.guardrails.push(note);
        }
        decided
    }

    async fn run_gate(
        &self,
        st: &mut RunState,
        slot: Slot,
        action: &Action,
        wait: &AwaitHealth,
    ) -> Decided {
        let stage = self.stage(&wait.stage)?.clone();
        let Some(client) = self.systems.argocd.clone() else {
            return Err(Stop::usage("await-health needs an argocd: section"));
        };
        let (commit, pushed_at) = self.gate_commit(st, &stage, &wait.version)?;
        let timeout = self.gate_timeout(wait);
        // One deadline for the whole gate: the first read, every request,
        // retry and reconnect of the watch end by it.
        let started = Instant::now();
        let deadline = started + timeout;
        let client = client.until(Deadline::at(deadline));
        let mut gate = Gate {
            slot,
            action,
            wait,
            record: GateRecord {
                decision: slot.decision,
                stage: stage.name.clone(),
                argocd_app: stage.argocd_app.clone(),
                version: wait.version.clone(),
                commit,
                timeout_ms: millis(timeout),
                requested_timeout_ms: (u128::from(wait.timeout) > timeout.as_millis())
                    .then_some(wait.timeout),
                result: GateResult::Decided,
                elapsed_ms: 0,
                observations: 0,
                last: None,
                targets: stage
                    .targets
                    .iter()
                    .map(|t| TargetStatus {
                        label: t.label.clone(),
                        argocd_app: t.argocd_app.clone(),
                        status: None,
                    })
                    .collect(),
            },
            stage,
            timeout,
        };
        // One read of every application first (with the client's
        // retries): an Argo CD that never answers, or an app it does not
        // know, fails the run now instead of waiting out the whole gate.
        if let Err(e) = first_read(&client, &gate.stage).await {
            if Instant::now() >= deadline && !crate::retry::cancelled() {
                // Argo CD did not answer within the whole gate.
                gate.record.result = GateResult::TimedOut;
                gate.record.elapsed_ms = millis(started.elapsed());
                return self.timed_out(st, gate, started.elapsed());
            }
            let message = format!("health gate for {}: {}", gate.stage.name, error_chain(&e));
            gate.record.result = GateResult::Error;
            return gate.fail(st, Stop::external(message));
        }
        let spec = GateSpec {
            label: gate.apps(),
            expected_commit: gate.record.commit.clone(),
            pushed_at,
            max_wait: deadline.saturating_duration_since(Instant::now()),
            progress_every: self.options.progress_every,
        };
        let mut source = client.watch_all(gate.stage.argocd_apps());
        let outcome = self.watch(st, &mut gate, &spec, &mut source).await;
        gate.record.elapsed_ms = millis(started.elapsed());
        self.finish(st, gate, outcome)
    }

    /// Records how the watch ended and hands over what follows.
    fn finish(&self, st: &mut RunState, mut gate: Gate<'_>, outcome: Watched) -> Decided {
        match outcome {
            None => self.cancelled(st, gate),
            Some(Err(e)) => {
                gate.record.result = GateResult::Error;
                gate.fail(st, Stop::caused(Status::ExternalError, &e))
            }
            Some(Ok(GateOutcome::Decided { value, last })) => {
                gate.record.last = Some(world::app_status(&last.status));
                let app = if gate.stage.is_multi_target() {
                    last.status.name.clone()
                } else {
                    gate.apps()
                };
                let detail = format!(
                    "{app} observed after {}s: {} / {}",
                    last.elapsed.as_secs(),
                    last.status.health.status,
                    last.status.sync.status
                );
                gate.done(st, detail, value.map(Some))
            }
            Some(Ok(GateOutcome::TimedOut { last, .. })) => {
                gate.record.result = GateResult::TimedOut;
                gate.record.last = last.as_ref().map(|l| world::app_status(&l.status));
                // The whole gate's time, its first read included.
                let waited = Duration::from_millis(gate.record.elapsed_ms);
                self.timed_out(st, gate, waited)
            }
        }
    }

    /// Watches until the policy decides, the gate times out, or the run is
    /// cancelled (`None`); every counted observation goes to the policy.
    async fn watch(
        &self,
        st: &mut RunState,
        gate: &mut Gate<'_>,
        spec: &GateSpec,
        source: &mut impl crate::capabilities::argocd::StatusSource,
    ) -> Watched {
        let repo = self.systems.repo.clone();
        let commit = gate.record.commit.clone();
        let observations = &mut gate.record.observations;
        let targets = &mut gate.record.targets;
        let (stage, version) = (gate.stage.name.clone(), gate.wait.version.clone());
        let mut sink = ProgressFn(self.options.progress.clone());
        let mut cancel = self.options.cancel.clone();
        // The policy's capability calls during the gate share its deadline.
        let calls = Deadline::after(spec.max_wait);
        let wait = gate::wait_for_health(
            source,
            spec,
            |rev| contains(&repo, rev, &commit),
            |obs| {
                *observations += 1;
                let status = world::app_status(&obs.status);
                observed(targets, &obs.status.name, &status);
                let event = Event::HealthObserved(HealthObserved {
                    stage: stage.clone(),
                    version: version.clone(),
                    commit: commit.clone(),
                    elapsed: millis(obs.elapsed),
                    targets: targets.clone(),
                    status,
                });
                match self.decide_within(st, event, calls) {
                    Ok((_, d)) if d.actions.is_empty() => match d.recheck_after {
                        Some(ms) => Verdict::RecheckAfter(Duration::from_millis(ms)),
                        None => Verdict::KeepWaiting,
                    },
                    other => Verdict::Done(other),
                }
            },
            &mut sink,
        );
        tokio::select! {
            r = wait => Some(r),
            () = cancelled(&mut cancel) => None,
        }
    }

    /// The gate's wait ran out: the policy gets *gate timeout*.
    fn timed_out(&self, st: &mut RunState, gate: Gate<'_>, waited: Duration) -> Decided {
        let event = Event::GateTimeout(GateTimeout {
            stage: gate.stage.name.clone(),
            version: gate.wait.version.clone(),
            commit: gate.record.commit.clone(),
            elapsed: millis(waited),
            last_status: gate.record.last.clone(),
            targets: gate.record.targets.clone(),
        });
        let timeout = human_ms(gate.timeout.as_millis());
        let detail = format!("{} not decided within {timeout}", gate.apps());
        let next = match self.decide(st, event) {
            Ok((_, d)) if d.actions.is_empty() => Err(Stop::Failed(format!(
                "{} was not healthy at {} within {timeout} (the policy decided nothing on the \
                 timeout)",
                gate.stage.name, gate.wait.version
            ))),
            other => other.map(Some),
        };
        gate.done(st, detail, next)
    }

    /// The run was cancelled while the gate waited.
    fn cancelled(&self, st: &mut RunState, mut gate: Gate<'_>) -> Decided {
        gate.record.result = GateResult::Cancelled;
        let app = gate.apps();
        st.gates.push(gate.record);
        st.record(
            gate.slot,
            gate.action,
            ActionStatus::Failed,
            "cancelled while waiting".into(),
        );
        Err(Stop::Error(
            Status::Cancelled,
            format!("cancelled while waiting for {app}; run the same command again to continue"),
        ))
    }
}

impl Gate<'_> {
    /// Records the gate and its action as done; `next` is what follows.
    fn done(self, st: &mut RunState, detail: String, next: Decided) -> Decided {
        st.gates.push(self.record);
        st.record(self.slot, self.action, ActionStatus::Done, detail);
        next
    }

    /// Records the gate and its action as failed with `stop`'s message.
    fn fail(self, st: &mut RunState, stop: Stop) -> Decided {
        st.gates.push(self.record);
        st.record(
            self.slot,
            self.action,
            ActionStatus::Failed,
            stop.message().to_owned(),
        );
        Err(stop)
    }
}

impl Gate<'_> {
    /// The applications the gate watches: `payments-prod-eu,
    /// payments-prod-us`.
    fn apps(&self) -> String {
        self.stage.argocd_apps().join(", ")
    }
}

/// Reads every application of `stage` once.
async fn first_read(
    client: &ArgoCdClient,
    stage: &StageConfig,
) -> Result<(), crate::capabilities::argocd::RequestError> {
    for app in stage.argocd_apps() {
        client.get_application(&AppRef::named(app), false).await?;
    }
    Ok(())
}

/// Makes `status`, a counted observation of `app`, its targets' latest. A
/// stage's only target takes every observation of its gate.
fn observed(targets: &mut [TargetStatus], app: &str, status: &AppStatus) {
    if let [only] = targets {
        only.status = Some(status.clone());
        return;
    }
    let mut matched = false;
    for target in targets.iter_mut().filter(|t| t.argocd_app == app) {
        target.status = Some(status.clone());
        matched = true;
    }
    if !matched {
        tracing::debug!(%app, "an observation of an application no target names");
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
fn contains(repo: &SharedRepo, rev: &str, commit: &str) -> bool {
    repo.with(|repo| match repo.is_ancestor(commit, rev) {
        Some(answer) => answer,
        None => repo.refresh().is_ok() && repo.is_ancestor(commit, rev).unwrap_or(false),
    })
}
